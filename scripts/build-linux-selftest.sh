#!/usr/bin/env bash
# Builds the kernel's own io-pgtable-arm selftests of one Debian suite's Linux as a userspace
# program (impl/targets/linux/io-pgtable-arm/selftest/main.c): 6.1 and 6.12's
# arm_lpae_do_selftests(), 7.x's KUnit suite io-pgtable-arm-selftests.c under a shim. With
# --format=v7s first, io-pgtable-arm-v7s.c's arm_v7s_do_selftests() instead
# (selftest/v7s-main.c; every version has it). io-pgtable-dart.c has no selftest.
#   scripts/build-linux-selftest.sh [--format=v7s] [suite] [mutant id]
# With a mutant (ours: impl/targets/linux/io-pgtable-arm/mutants/, mutants-v7s/ for --format=v7s), a patched copy of the kernel
# files is built instead: the kernel's tests measured on a mutant. Prints the binary's path.
# Exit status: 0 built, 3 the Linux package cannot be fetched here, 1 anything else.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/io-pgtable-arm"
fmt=arm
if [ "${1:-}" = "--format=v7s" ]; then
  fmt=v7s
  shift
fi
suite="${1:-bookworm}"
mutant="${2:-}"
case "$suite" in bookworm | trixie | sid) ;; *) echo "build-linux-selftest: unknown suite '$suite'" >&2; exit 1 ;; esac
ksrc="$root/.cache/linux/$suite/src"
if [ "$fmt" = v7s ]; then
  out="$here/build/$suite/selftest-v7s${mutant:+-$mutant}"
  bin="$out/io-pgtable-v7s-selftest"
else
  out="$here/build/$suite/selftest${mutant:+-$mutant}"
  bin="$out/io-pgtable-arm-selftest"
fi

fail() {
  echo "build-linux-selftest: $*" >&2
  exit 1
}

rc=0
"$root/scripts/fetch-linux.sh" "$suite" >&2 || rc=$?
[ "$rc" -eq 3 ] && exit 3
[ "$rc" -eq 0 ] || fail "fetching the Linux sources failed"

rm -rf "$out"
mkdir -p "$out"
tree="$ksrc"
if [ -n "$mutant" ]; then
  # shellcheck source=lib/linux-mutant.sh
  . "$root/scripts/lib/linux-mutant.sh"
  linux_mutant_tree io-pgtable-arm "$ksrc" "$suite" "$mutant" "$out/tree" || fail "mutant $mutant: no tree"
  tree="$out/tree"
fi

version="$(cut -d' ' -f2 "$ksrc/VERSION")"
IFS=. read -r kmaj kmin _ <<<"$version"
kv=$((kmaj * 100 + kmin))
config=-DCONFIG_IOMMU_IO_PGTABLE_LPAE
[ "$fmt" = v7s ] && config=-DCONFIG_IOMMU_IO_PGTABLE_ARMV7S
common=(-std=gnu11 -O2 -g -fno-strict-aliasing -DKSTUB_LINUX="$kv" -DKSTUB_PR_INFO "$config")
kflags=("${common[@]}" -fno-strict-overflow -Wall -Wno-unused-function -Werror=implicit-function-declaration -I"$here/stubs" -I"$ksrc/include" -I"$tree")
if [ "$fmt" = v7s ]; then
  srcs=("$here/selftest/v7s-main.c" "$tree/drivers/iommu/io-pgtable.c")
else
  srcs=("$here/selftest/main.c" "$tree/drivers/iommu/io-pgtable.c")
  # 7.x: io-pgtable-arm.c and its KUnit suite are units of their own; 6.x's main.c includes the former.
  [ "$kv" -ge 700 ] && srcs+=("$tree/drivers/iommu/io-pgtable-arm.c" "$tree/drivers/iommu/io-pgtable-arm-selftests.c")
fi
objs=()
for s in "${srcs[@]}"; do
  o="$out/$(basename "$s" .c).o"
  gcc "${kflags[@]}" -c "$s" -o "$o" || fail "compiling $s failed"
  objs+=("$o")
done
gcc "${common[@]}" -Wall -Wextra -Werror -Wno-unused-parameter -I"$here/stubs" -I"$ksrc/include" -c "$here/kernel-env.c" -o "$out/kernel-env.o" || fail "compiling kernel-env.c failed"
gcc -o "$bin" "${objs[@]}" "$out/kernel-env.o" || fail "linking $bin failed"
echo "$bin"
