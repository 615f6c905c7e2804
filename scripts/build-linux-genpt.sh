#!/usr/bin/env bash
# Builds a generic_pt ("iommupt") target: one format of Linux 7.2's drivers/iommu/generic_pt
# (Debian sid's linux-source), compiled unchanged in userspace against the project's stub
# headers (impl/targets/linux/genpt/), under the project's 7.2 core layer and C SDK, as a
# stdio adapter:
#   impl/targets/linux/genpt/build/genpt-<fmt>-adapter
# Usage: scripts/build-linux-genpt.sh <fmt> [mutant id]   (amdv1, x86_64, vtdss or riscv64)
# With a mutant (impl/targets/linux/genpt/mutants/<id>.patch), a patched copy of generic_pt is
# built instead, into build/mutant-<id>/genpt-<fmt>-adapter: the suite measured on a mutant.
# Fetches the kernel files first (scripts/fetch-linux.sh sid). Does nothing when the binary is
# newer than every input. Prints the binary's path on stdout.
# Exit status: 0 built, 3 the Linux package cannot be fetched here, 1 anything else.
set -euo pipefail

fmt="${1:-}"
case "$fmt" in amdv1 | x86_64 | vtdss | riscv64) ;; *) echo "build-linux-genpt: unknown format '$fmt' (usage: build-linux-genpt.sh amdv1|x86_64|vtdss|riscv64)" >&2; exit 1 ;; esac

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/genpt"
arm="$root/impl/targets/linux/io-pgtable-arm"
sdk="$root/impl/sdk/c/sdk"
mutant="${2:-}"
suite=sid
ksrc="$root/.cache/linux/$suite/src"
build="$here/build${mutant:+/mutant-$mutant}"
out="$build/$fmt"
bin="$build/genpt-$fmt-adapter"

fail() {
  echo "build-linux-genpt: $*" >&2
  exit 1
}

command -v gcc >/dev/null || fail "gcc not found"
rc=0
"$root/scripts/fetch-linux.sh" "$suite" >&2 || rc=$?
[ "$rc" -eq 3 ] && exit 3
[ "$rc" -eq 0 ] || fail "fetching the Linux sources failed"
[ -f "$ksrc/drivers/iommu/generic_pt/fmt/iommu_$fmt.c" ] || fail "$(cat "$ksrc/VERSION") has no generic_pt format $fmt"
[ -f "$sdk/iommu_sdk.h" ] || fail "the C SDK is missing ($sdk/iommu_sdk.h)"

# What is shared with io-pgtable-arm: the lx_* interface, the groups, the model TLB's cache.
shared=("$arm/core.h" "$arm/system.c" "$arm/system.h" "$arm/lx-callbacks.c" "$arm/lx-callbacks.h" "$arm/tlb.h" "$arm/tlb-cache.c")
inputs=("$here"/mutants "$here"/*.c "$here"/*.h "$here/topologies-$fmt.json" "$here"/stubs "${shared[@]}" "$sdk"/*.c "$sdk"/*.h "$ksrc" "$0")
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
  linux_mutant_tree generic_pt "$ksrc" "$suite" "$mutant" "$out/tree" || fail "mutant $mutant: no tree"
  tree="$out/tree"
fi

# topologies-<fmt>.json as the body of a C string literal.
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$here/topologies-$fmt.json" >"$out/topologies.inc"

version="$(cut -d' ' -f2 "$ksrc/VERSION")"
common=(-std=gnu11 -O2 -g -fno-strict-aliasing)
# The kernel's own files (the format unit includes them): their warnings are not ours to fix.
kflags=("${common[@]}" -fno-strict-overflow -Wall -Wno-unused-function -Wno-maybe-uninitialized -I"$here/stubs" -I"$ksrc/include" -I"$tree/drivers/iommu/generic_pt")
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

compile "fmt-$fmt" "${kflags[@]}" -- "$here/fmt-$fmt.c"
compile genpt-env "${ours[@]}" -I"$here/stubs" -- "$here/genpt-env.c"
compile core "${ours[@]}" -I"$here/stubs" -I"$ksrc/include" -I"$arm" -- "$here/core.c"
compile tlb-cache "${ours[@]}" -- "$arm/tlb-cache.c"
compile system "${ours[@]}" -I"$sdk" -I"$arm" -- "$arm/system.c"
compile lx-callbacks "${ours[@]}" -I"$sdk" -I"$arm" -- "$arm/lx-callbacks.c"
compile adapter "${ours[@]}" -I"$sdk" -I"$arm" -I"$out" -DLINUX_SOURCE_VERSION="\"$version\"" -- "$here/adapter.c"
for f in "$sdk"/*.c; do
  compile "sdk-$(basename "$f" .c)" "${common[@]}" -std=c11 -Wall -- "$f"
done

gcc -o "$bin" "${objs[@]}" || fail "linking $bin failed"
echo "$bin"
