#!/usr/bin/env bash
# Builds real target 1: Linux 6.1's io-pgtable-arm, compiled in userspace against the project's
# stub header, under the project's core layer and C SDK, as a stdio adapter:
#   impl/targets/linux/io-pgtable-arm/build/io-pgtable-arm-adapter
# Fetches the kernel files first (scripts/fetch-linux.sh). Does nothing when the binary is
# newer than every input. Prints the binary's path on stdout.
# Exit status: 0 built, 3 the Linux package cannot be fetched here, 1 anything else.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/io-pgtable-arm"
sdk="$root/impl/sdk/c/sdk"
suite=bookworm
ksrc="$root/.cache/linux/$suite/src"
out="$here/build"
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

inputs=("$here"/*.c "$here"/*.h "$here"/topologies.json "$here"/stubs "$sdk"/*.c "$sdk"/*.h "$ksrc" "$0")
if [ -x "$bin" ] && [ -z "$(find "${inputs[@]}" -newer "$bin" -print -quit)" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$out/obj"
rm -f "$bin"

# topologies.json as the body of a C string literal.
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$here/topologies.json" >"$out/topologies.inc"

version="$(cut -d' ' -f2 "$ksrc/VERSION")"
common=(-std=gnu11 -O2 -g -fno-strict-aliasing)
# The kernel's own files: its warnings are not ours to fix.
kflags=("${common[@]}" -fno-strict-overflow -Wall -Wno-unused-function -DCONFIG_IOMMU_IO_PGTABLE_LPAE -I"$here/stubs" -I"$ksrc/include" -I"$ksrc")
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

compile io-pgtable "${kflags[@]}" -- "$ksrc/drivers/iommu/io-pgtable.c"
compile lpae-walk "${kflags[@]}" -- "$here/lpae-walk.c"
for f in kernel-env tlb tlb-cache core; do
  compile "$f" "${ours[@]}" -Wno-unused-parameter -DCONFIG_IOMMU_IO_PGTABLE_LPAE -I"$here/stubs" -I"$ksrc/include" -- "$here/$f.c"
done
for f in system adapter; do
  compile "$f" "${ours[@]}" -I"$sdk" -I"$out" -DLINUX_SOURCE_VERSION="\"$version\"" -- "$here/$f.c"
done
for f in "$sdk"/*.c; do
  compile "sdk-$(basename "$f" .c)" "${common[@]}" -std=c11 -Wall -- "$f"
done

gcc -o "$bin" "${objs[@]}" || fail "linking $bin failed"
echo "$bin"
