#!/usr/bin/env bash
# Builds and runs Linux 7.2's own KUnit suites for one generic_pt format in userspace
# (kunit_generic_pt.h and kunit_iommu_pt.h, compiled unchanged with -DGENERIC_PT_KUNIT and
# CONFIG_DEBUG_GENERIC_PT, as drivers/iommu/generic_pt/.kunitconfig builds them) under the
# project's KUnit shim (impl/targets/linux/genpt/kunit-shim.h, kunit-main.c): the baseline the
# kernel's authors check the format with. Prints one line per case, then
#   kunit: <fmt>: P passed, F failed, S skipped
# Usage: scripts/run-genpt-kunit.sh <fmt> [mutant id]   (amdv1, x86_64, vtdss or riscv64)
# With a mutant (impl/targets/linux/genpt/mutants/<id>.patch), the suites run on a patched copy
# of generic_pt: the kernel's own tests measured on a mutant.
# Exit status: 0 every case passed or skipped, 3 the Linux package cannot be fetched here,
# 1 a case failed or anything else.
set -euo pipefail

fmt="${1:-}"
case "$fmt" in amdv1 | x86_64 | vtdss | riscv64) ;; *) echo "run-genpt-kunit: unknown format '$fmt' (usage: run-genpt-kunit.sh amdv1|x86_64|vtdss|riscv64)" >&2; exit 1 ;; esac

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/genpt"
mutant="${2:-}"
ksrc="$root/.cache/linux/sid/src"
out="$here/build/kunit-$fmt${mutant:+-$mutant}"

fail() {
  echo "run-genpt-kunit: $*" >&2
  exit 1
}

command -v gcc >/dev/null || fail "gcc not found"
rc=0
"$root/scripts/fetch-linux.sh" sid >&2 || rc=$?
[ "$rc" -eq 3 ] && exit 3
[ "$rc" -eq 0 ] || fail "fetching the Linux sources failed"
[ -f "$ksrc/drivers/iommu/generic_pt/fmt/iommu_$fmt.c" ] || fail "$(cat "$ksrc/VERSION") has no generic_pt format $fmt"

mkdir -p "$out"
tree="$ksrc"
if [ -n "$mutant" ]; then
  # shellcheck source=lib/linux-mutant.sh
  . "$root/scripts/lib/linux-mutant.sh"
  linux_mutant_tree generic_pt "$ksrc" sid "$mutant" "$out/tree" || fail "mutant $mutant: no tree"
  tree="$out/tree"
fi
src="$tree/drivers/iommu/generic_pt/fmt/iommu_$fmt.c"
common=(-std=gnu11 -O1 -g -fno-strict-aliasing -DCONFIG_DEBUG_GENERIC_PT=1)
# The kernel's files: their warnings are not ours to fix. -O1 at least: BUILD_BUG() and the
# formats' missing software bits are calls the optimiser must prove dead.
kflags=("${common[@]}" -Wall -Wno-unused-function -Wno-maybe-uninitialized -I"$here/stubs" -I"$ksrc/include" -I"$tree/drivers/iommu/generic_pt")
ours=("${common[@]}" -Wall -Wextra -Werror -I"$here/stubs")

gcc "${kflags[@]}" -c "$src" -o "$out/fmt.o" || fail "compiling $src failed"
gcc "${kflags[@]}" -DGENERIC_PT_KUNIT=1 -c "$src" -o "$out/kunit.o" || fail "compiling the KUnit suites of $fmt failed"
gcc "${ours[@]}" -I"$ksrc/include" -c "$here/kunit-main.c" -o "$out/kunit-main.o" || fail "compiling kunit-main.c failed"
gcc "${ours[@]}" -c "$here/genpt-env.c" -o "$out/genpt-env.o" || fail "compiling genpt-env.c failed"
gcc -o "$out/kunit" "$out/fmt.o" "$out/kunit.o" "$out/kunit-main.o" "$out/genpt-env.o" || fail "linking the KUnit runner failed"
exec "$out/kunit" "$fmt"
