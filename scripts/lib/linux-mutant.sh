# Sourced by the Linux build scripts: a copy of the kernel's drivers/iommu page-table files with
# one of our mutants applied, the fetched tree never touched. Two families, one logic:
#   io-pgtable-arm  impl/targets/linux/io-pgtable-arm/mutants/<id>[@<suite>].patch
#                   over io-pgtable-arm*.[ch], io-pgtable.c (and 6.12+'s iommu-pages.h)
#   generic_pt      impl/targets/linux/genpt/mutants/<id>[@<suite>].patch
#                   over generic_pt/ (iommu_pt.h, pt_*.h, fmt/) and iommu-pages.h
# The @<suite> variant is for a version whose code differs.
#   linux_mutant_tree <family> <ksrc> <suite> <mutant id> <dest>   -> <dest>/drivers/iommu/...
linux_mutant_tree() {
  local family="$1" ksrc="$2" suite="$3" id="$4" dest="$5"
  local root dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  case "$family" in
    io-pgtable-arm) dir="$root/impl/targets/linux/io-pgtable-arm/mutants" ;;
    generic_pt) dir="$root/impl/targets/linux/genpt/mutants" ;;
    *) echo "unknown mutant family '$family' (io-pgtable-arm or generic_pt)" >&2; return 1 ;;
  esac
  local patch="$dir/$id@$suite.patch"
  [ -f "$patch" ] || patch="$dir/$id.patch"
  [ -f "$patch" ] || { echo "no mutant '$id' in $dir" >&2; return 1; }
  rm -rf "$dest"
  mkdir -p "$dest/drivers/iommu"
  if [ "$family" = generic_pt ]; then
    cp -r "$ksrc/drivers/iommu/generic_pt" "$dest/drivers/iommu/"
  else
    cp "$ksrc"/drivers/iommu/io-pgtable-arm*.[ch] "$ksrc/drivers/iommu/io-pgtable-dart.c" "$ksrc/drivers/iommu/io-pgtable.c" "$dest/drivers/iommu/"
  fi
  if [ -f "$ksrc/drivers/iommu/iommu-pages.h" ]; then cp "$ksrc/drivers/iommu/iommu-pages.h" "$dest/drivers/iommu/"; fi
  patch -s -p1 -d "$dest" <"$patch" >&2 || { echo "$patch does not apply to $suite" >&2; return 1; }
}
