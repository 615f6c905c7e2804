# Sourced by the Linux build scripts: a copy of the kernel's drivers/iommu page-table files with
# one of our mutants applied, the fetched tree never touched. Two trees, one logic:
#   io-pgtable-arm  impl/targets/linux/io-pgtable-arm/mutants/<id>[@<suite>].patch, and the
#                   families io-pgtable-v7s (mutants-v7s/) and io-pgtable-dart (mutants-dart/),
#                   over io-pgtable-arm*.[ch], io-pgtable-dart.c, io-pgtable.c (and 6.12+'s
#                   iommu-pages.h): one copy, one adapter; a mutant id is unique across the three
#   generic_pt      impl/targets/linux/genpt/mutants/<id>[@<suite>].patch
#                   over generic_pt/ (iommu_pt.h, pt_*.h, fmt/) and iommu-pages.h
# The @<suite> variant is for a version whose code differs.
#   linux_mutant_tree <family> <ksrc> <suite> <mutant id> <dest>   -> <dest>/drivers/iommu/...
linux_mutant_tree() {
  local family="$1" ksrc="$2" suite="$3" id="$4" dest="$5"
  local root dir d patch=""
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  local dirs=()
  case "$family" in
    io-pgtable-arm | io-pgtable-v7s | io-pgtable-dart)
      family=io-pgtable-arm
      for d in mutants mutants-v7s mutants-dart; do dirs+=("$root/impl/targets/linux/io-pgtable-arm/$d"); done ;;
    generic_pt) dirs=("$root/impl/targets/linux/genpt/mutants") ;;
    *) echo "unknown mutant family '$family' (io-pgtable-arm, io-pgtable-v7s, io-pgtable-dart or generic_pt)" >&2; return 1 ;;
  esac
  for dir in "${dirs[@]}"; do
    if [ -f "$dir/$id@$suite.patch" ]; then patch="$dir/$id@$suite.patch"; break; fi
    if [ -f "$dir/$id.patch" ]; then patch="$dir/$id.patch"; break; fi
  done
  [ -n "$patch" ] || { echo "no mutant '$id' in ${dirs[*]}" >&2; return 1; }
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
