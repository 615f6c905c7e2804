#!/usr/bin/env bash
# Fetches Debian's QEMU 7.2 (qemu-system-x86, which holds the virtio-iommu device model) and
# the libraries it needs into the gitignored .cache/qemu/: the .debs in debs/, unpacked with
# dpkg-deb -x into root/ (never installed: the system's packages are not touched), plus
# hlt.bin, a 64 KiB BIOS of HLT instructions so the guest CPU idles while the tests drive
# the devices over qtest. Idempotent: does nothing when QEMU already runs from the cache.
# Prints one line with the version; on failure one line on stderr and exit 1.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/qemu"
debs="$cache/debs"
tree="$cache/root"
qemu="$tree/usr/bin/qemu-system-x86_64"

# The emulator, its firmware data, and the shared libraries a stock bookworm may lack.
packages=(
  qemu-system-x86 qemu-system-common qemu-system-data seabios
  libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 liburing2
  libfuse3-3 libaio1 libndctl6 libdaxctl1 libnl-3-200 libnl-route-3-200
)

fail() {
  echo "fetch-qemu: $*" >&2
  exit 1
}

libpath="$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu"

run_qemu() {
  LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    QEMU_MODULE_DIR="$tree/usr/lib/x86_64-linux-gnu/qemu" "$qemu" "$@"
}

write_hlt_bios() {
  # 0xf4 is HLT: the CPU starts at 0xfffffff0, halts, and never runs anything else.
  head -c 65536 /dev/zero | tr '\0' '\364' >"$cache/hlt.bin.tmp"
  mv "$cache/hlt.bin.tmp" "$cache/hlt.bin"
}

# The first line of --version; empty if it does not run.
version_line() {
  run_qemu --version 2>/dev/null | head -n 1
}

if [ -x "$qemu" ] && [ -s "$cache/hlt.bin" ] && v="$(version_line)" && [ -n "$v" ]; then
  echo "fetch-qemu: already present: $v ($qemu)"
  exit 0
fi

command -v apt-get >/dev/null || fail "apt-get not found (a Debian system is needed)"
command -v dpkg-deb >/dev/null || fail "dpkg-deb not found (a Debian system is needed)"
mkdir -p "$debs"
cd "$debs"

have_deb() { compgen -G "${1}_*.deb" >/dev/null; }

# apt-get download needs the package lists; refresh them once (root only) if a download fails.
refreshed=no
download() {
  local pkg="$1"
  have_deb "$pkg" && return 0
  if apt-get download "$pkg" >/dev/null 2>>"$cache/apt.err"; then return 0; fi
  if [ "$refreshed" = no ] && [ "$(id -u)" -eq 0 ]; then
    refreshed=yes
    apt-get update -q >/dev/null 2>>"$cache/apt.err" || fail "apt-get update failed (see $cache/apt.err)"
    apt-get download "$pkg" >/dev/null 2>>"$cache/apt.err" && return 0
  fi
  fail "cannot download $pkg: $(grep -m1 -E '^(E|W):' "$cache/apt.err" || echo "see $cache/apt.err")"
}

: >"$cache/apt.err"
for p in "${packages[@]}"; do download "$p"; done

unpack() {
  rm -rf "$tree.tmp"
  mkdir -p "$tree.tmp"
  local f
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$tree.tmp" || fail "dpkg-deb -x $f failed"; done
  rm -rf "$tree"
  mv "$tree.tmp" "$tree"
}
unpack
[ -x "$qemu" ] || fail "qemu-system-x86 unpacked but $qemu is missing"

# A machine with fewer libraries installed than ours: fetch the direct dependencies of the
# emulator packages that the system does not have, then unpack again.
if LD_LIBRARY_PATH="$libpath" ldd "$qemu" | grep -q 'not found'; then
  for d in qemu-system-x86 qemu-system-common; do
    deb="$(ls -1 "${d}"_*.deb | tail -n 1)"
    for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/ //g' | grep -v '^$'); do
      dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' && continue
      download "$dep"
    done
  done
  unpack
  missing="$(LD_LIBRARY_PATH="$libpath" ldd "$qemu" | grep 'not found' | awk '{print $1}' | tr '\n' ' ' || true)"
  [ -z "$missing" ] || fail "qemu-system-x86_64 still lacks shared libraries: $missing"
fi

write_hlt_bios
v="$(version_line || true)"
[ -n "$v" ] || fail "qemu-system-x86_64 --version does not run: $(run_qemu --version 2>&1 | head -n 1)"
rm -f "$cache/apt.err"
echo "fetch-qemu: $v ($qemu)"
