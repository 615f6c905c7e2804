# Sourced by the Linux build scripts: a copy of the kernel's drivers/iommu page-table files with
# one of our mutants applied (impl/targets/linux/io-pgtable-arm/mutants/<id>[@<suite>].patch,
# the @<suite> variant where a version's code differs). The fetched tree is never touched.
#   linux_mutant_tree <ksrc> <suite> <mutant id> <dest>   -> <dest>/drivers/iommu/...
linux_mutant_tree() {
  local ksrc="$1" suite="$2" id="$3" dest="$4"
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/impl/targets/linux/io-pgtable-arm/mutants"
  local patch="$dir/$id@$suite.patch"
  [ -f "$patch" ] || patch="$dir/$id.patch"
  [ -f "$patch" ] || { echo "no mutant '$id' in $dir" >&2; return 1; }
  rm -rf "$dest"
  mkdir -p "$dest/drivers/iommu"
  cp "$ksrc"/drivers/iommu/io-pgtable-arm*.[ch] "$ksrc/drivers/iommu/io-pgtable-dart.c" "$ksrc/drivers/iommu/io-pgtable.c" "$dest/drivers/iommu/"
  if [ -f "$ksrc/drivers/iommu/iommu-pages.h" ]; then cp "$ksrc/drivers/iommu/iommu-pages.h" "$dest/drivers/iommu/"; fi
  patch -s -p1 -d "$dest" <"$patch" >&2 || { echo "$patch does not apply to $suite" >&2; return 1; }
}
