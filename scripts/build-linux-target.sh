#!/usr/bin/env bash
# Builds real target 1: Linux's io-pgtable-arm of one Debian suite (bookworm 6.1, trixie 6.12,
# sid 7.2; default bookworm), with io-pgtable-arm-v7s and io-pgtable-dart beside it (the
# adapter's --format=v7s and --format=dart), compiled unchanged in userspace against the
# project's stub header, under the project's core layer and C SDK, as a stdio adapter:
#   impl/targets/linux/io-pgtable-arm/build/<suite>/io-pgtable-arm-adapter
#   scripts/build-linux-target.sh [suite] [mutant id]
# With a mutant (impl/targets/linux/io-pgtable-arm/mutants{,-v7s,-dart}/), a patched copy of the kernel files
# is built instead, into build/<suite>/mutant-<id>/: the suite measured on a mutant.
# Fetches the kernel files first (scripts/fetch-linux.sh). Does nothing when the binary is
# newer than every input. Prints the binary's path on stdout.
# Exit status: 0 built, 3 the Linux package cannot be fetched here, 1 anything else.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/io-pgtable-arm"
sdk="$root/impl/sdk/c/sdk"
suite="${1:-bookworm}"
case "$suite" in bookworm | trixie | sid) ;; *) echo "build-linux-target: unknown suite '$suite'" >&2; exit 1 ;; esac
mutant="${2:-}"
ksrc="$root/.cache/linux/$suite/src"
out="$here/build/$suite${mutant:+/mutant-$mutant}"
bin="$out/io-pgtable-arm-adapter"

fail() {
  echo "build-linux-target: $*" >&2
  exit 1
}

command -v gcc >/dev/null || fail "gcc not found"
rc=0
"$root/scripts/fetch-linux.sh" "$suite" >&2 || rc=$?
[ "$rc" -eq 3 ] && exit 3
[ "$rc" -eq 0 ] || fail "fetching the Linux sources failed"
[ -f "$sdk/iommu_sdk.h" ] || fail "the C SDK is missing ($sdk/iommu_sdk.h)"

inputs=("$here"/mutants "$here"/mutants-v7s "$here"/mutants-dart "$here"/*.c "$here"/*.h "$here"/topologies*.json "$here"/stubs "$sdk"/*.c "$sdk"/*.h "$ksrc" "$0")
if [ -x "$bin" ] && [ -z "$(find "${inputs[@]}" -newer "$bin" -print -quit)" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$out/obj"
rm -f "$bin"
tree="$ksrc"
if [ -n "$mutant" ]; then
  # shellcheck source=lib/linux-mutant.sh
  . "$root/scripts/lib/linux-mutant.sh"
  linux_mutant_tree io-pgtable-arm "$ksrc" "$suite" "$mutant" "$out/tree" || fail "mutant $mutant: no tree"
  tree="$out/tree"
fi

# topologies*.json (stage 1, stage 2, v7s, DART) as bodies of C string literals.
for t in topologies topologies-s2 topologies-v7s topologies-dart; do
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$here/$t.json" >"$out/$t.inc"
done

version="$(cut -d' ' -f2 "$ksrc/VERSION")"
# The kernel's major.minor as one number (601, 612, 702): the stubs' only version switch.
IFS=. read -r kmaj kmin _ <<<"$version"
kv=$((kmaj * 100 + kmin))
common=(-std=gnu11 -O2 -g -fno-strict-aliasing)
# The formats io-pgtable.c registers; phys_addr_t is 64-bit as on arm64.
configs=(-DCONFIG_IOMMU_IO_PGTABLE_LPAE -DCONFIG_IOMMU_IO_PGTABLE_ARMV7S -DCONFIG_IOMMU_IO_PGTABLE_DART -DCONFIG_PHYS_ADDR_T_64BIT=1)
# The kernel's own files: its warnings are not ours to fix.
kflags=("${common[@]}" -fno-strict-overflow -Wall -Wno-unused-function -Werror=implicit-function-declaration -DKSTUB_LINUX="$kv" "${configs[@]}" -I"$here/stubs" -I"$ksrc/include" -I"$tree")
# The project's files: no warning allowed.
ours=("${common[@]}" -Wall -Wextra -Werror)

objs=()
compile() { # <output name> <flags...> -- <source>
  local name="$1"
  shift
  local flags=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  gcc "${flags[@]}" -c "$2" -o "$out/obj/$name.o" || fail "compiling $2 failed"
  objs+=("$out/obj/$name.o")
}

compile io-pgtable "${kflags[@]}" -- "$tree/drivers/iommu/io-pgtable.c"
# Each format's walker unit includes the kernel's format file: the one place it is compiled.
for f in lpae-walk v7s-walk dart-walk; do
  compile "$f" "${kflags[@]}" -- "$here/$f.c"
done
for f in kernel-env tlb tlb-cache core formats; do
  compile "$f" "${ours[@]}" -Wno-unused-parameter -DKSTUB_LINUX="$kv" "${configs[@]}" -I"$here/stubs" -I"$ksrc/include" -- "$here/$f.c"
done
for f in system lx-callbacks adapter; do
  compile "$f" "${ours[@]}" -I"$sdk" -I"$out" -DKSTUB_LINUX="$kv" -DLINUX_SOURCE_VERSION="\"$version\"" -- "$here/$f.c"
done
for f in "$sdk"/*.c; do
  compile "sdk-$(basename "$f" .c)" "${common[@]}" -std=c11 -Wall -- "$f"
done

gcc -o "$bin" "${objs[@]}" || fail "linking $bin failed"
echo "$bin"
