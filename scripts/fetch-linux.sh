#!/usr/bin/env bash
# Fetches the few Linux 6.1 files the io-pgtable-arm target compiles, from Debian's
# linux-source-6.1 package, into the gitignored .cache/linux/src/. Nothing of the kernel is
# ever committed (GPL-2.0 code, built at test time only).
# Idempotent: does nothing when the files are already there.
# Exit status: 0 done, 3 the package cannot be had here (no apt, no network, no such package),
# 1 anything else.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/linux"
src="$cache/src"
pkg=linux-source-6.1
# What the target compiles: io-pgtable-arm.c, its register header, the io-pgtable API and
# io-pgtable.c (alloc_io_pgtable_ops() sets iop->fmt, free_io_pgtable_ops() flushes the TLB).
# Plus the 6.1 core layer iommu.c: never compiled, only read to check
# impl/targets/linux/io-pgtable-arm/core.c against it.
files=(
  drivers/iommu/io-pgtable-arm.c
  drivers/iommu/io-pgtable-arm.h
  drivers/iommu/io-pgtable.c
  include/linux/io-pgtable.h
  drivers/iommu/iommu.c
)

fail() {
  echo "fetch-linux: $*" >&2
  exit 1
}

unavailable() {
  echo "fetch-linux: $*" >&2
  exit 3
}

have_all() {
  local f
  for f in "${files[@]}"; do [ -s "$src/$f" ] || return 1; done
  [ -s "$src/VERSION" ]
}

if have_all; then
  echo "fetch-linux: already present: $(cat "$src/VERSION") in $src"
  exit 0
fi

command -v apt-get >/dev/null || unavailable "apt-get not found (a Debian system is needed)"
command -v dpkg-deb >/dev/null || unavailable "dpkg-deb not found (a Debian system is needed)"
mkdir -p "$cache"
cd "$cache"

deb="$(ls -1 ${pkg}_*.deb 2>/dev/null | tail -n 1 || true)"
if [ -z "$deb" ]; then
  # apt-get download needs the package lists; refresh them once if it cannot find the package.
  if ! apt-get download "$pkg" >/dev/null 2>"$cache/apt.err"; then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -q >/dev/null 2>>"$cache/apt.err" || unavailable "apt-get update failed: $(grep -m1 '^E:' "$cache/apt.err" || echo "see $cache/apt.err")"
    fi
    apt-get download "$pkg" >/dev/null 2>>"$cache/apt.err" ||
      unavailable "cannot download $pkg: $(grep -m1 '^E:' "$cache/apt.err" || echo "see $cache/apt.err")"
  fi
  deb="$(ls -1 ${pkg}_*.deb 2>/dev/null | tail -n 1 || true)"
  [ -n "$deb" ] || fail "apt-get download $pkg produced no .deb"
fi
version="$(dpkg-deb -f "$deb" Version)" || fail "$deb is not a readable Debian package"

# The kernel tree is one tarball inside the package; unpack the package, then only our files.
rm -rf "$cache/pkg"
dpkg-deb -x "$deb" "$cache/pkg" || fail "dpkg -x $deb failed"
tarball="$(ls -1 "$cache"/pkg/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1 || true)"
[ -n "$tarball" ] || fail "$deb holds no usr/src/linux-source-*.tar.xz"
top="$(basename "$tarball" .tar.xz)"

rm -rf "$src.tmp"
mkdir -p "$src.tmp"
members=()
for f in "${files[@]}"; do members+=("$top/$f"); done
tar -xJf "$tarball" -C "$src.tmp" --strip-components=1 "${members[@]}" ||
  fail "could not extract ${files[*]} from $tarball"
echo "$pkg $version" >"$src.tmp/VERSION"
rm -rf "$src" "$cache/pkg" "$cache/apt.err"
mv "$src.tmp" "$src"

echo "fetch-linux: $pkg $version -> $src"
for f in "${files[@]}"; do echo "  $f ($(wc -l <"$src/$f") lines)"; done
