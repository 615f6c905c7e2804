#!/usr/bin/env bash
# Fetches the IOMMU page-table code of one Debian suite's kernel source (bookworm: 6.1,
# trixie: 6.12, sid: whatever linux-source depends on today) into the gitignored
# .cache/linux/<suite>/src/. Usage: bash scripts/fetch-linux.sh [bookworm|trixie|sid]
# (default bookworm). The package is resolved at fetch time from the suite's `linux-source`
# meta package through a private apt with the suite's security updates (the kernel Debian's
# users run; scripts/lib/private-apt.sh: the system's sources, lists and dpkg state are never
# touched), and recorded in src/VERSION ("linux-source-6.12 6.12.117-1").
# Nothing of the kernel is ever committed (GPL-2.0 code, built at test time only): only
# drivers/iommu/ and the headers the targets compile against are unpacked.
# Idempotent: does nothing when the files are already there (remove the suite's directory to
# move to a newer upload).
# Exit status: 0 done, 3 the package cannot be had here (no apt, no network, no such package),
# 1 anything else.
set -euo pipefail

suite="${1:-bookworm}"
case "$suite" in bookworm | trixie | sid) ;; *) echo "fetch-linux: unknown suite '$suite' (usage: fetch-linux.sh [bookworm|trixie|sid])" >&2; exit 1 ;; esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/linux/$suite"
src="$cache/src"
# Unpacked from the kernel tree: the IOMMU drivers (io-pgtable-*.c, generic_pt/, the core
# iommu.c read to check our core layer against it), and the headers of the page-table APIs
# (include/linux/iommu.h: the gather and iommu_iotlb_sync() the generic_pt targets model).
# Optional members are absent in older kernels (generic_pt is 6.19+).
members=(drivers/iommu include/linux/io-pgtable.h include/linux/generic_pt include/linux/iommu.h)
# What every version must have.
required=(drivers/iommu/io-pgtable-arm.c drivers/iommu/io-pgtable.c include/linux/io-pgtable.h drivers/iommu/iommu.c)

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
  for f in "${required[@]}"; do [ -s "$src/$f" ] || return 1; done
  [ -s "$src/VERSION" ]
}

if have_all; then
  echo "fetch-linux: already present: $(cat "$src/VERSION") in $src"
  exit 0
fi

command -v apt-get >/dev/null || unavailable "apt-get not found (a Debian system is needed)"
command -v dpkg-deb >/dev/null || unavailable "dpkg-deb not found (a Debian system is needed)"
mkdir -p "$cache"
# One fetch of a suite at a time: test files run in parallel and may ask for the same suite.
exec 9>"$cache/.lock"
flock 9
if have_all; then
  echo "fetch-linux: already present: $(cat "$src/VERSION") in $src"
  exit 0
fi

# shellcheck source=lib/private-apt.sh
source "$root/scripts/lib/private-apt.sh"
err="$cache/apt.err"
# A failed update here means no network or no mirror: the package cannot be had (exit 3).
( fail() { echo "$*" >&2; exit 3; }; private_apt "$suite" "$cache/apt" "$err" security ) || unavailable "$(tail -n 1 "$err" 2>/dev/null || echo "apt-get update of $suite failed")"
PRIVATE_APT_DIR="$cache/apt"
PRIVATE_APT_ERR="$err"

# linux-source depends on the suite's linux-source-X.Y: that is the kernel of the suite today.
pkg="$(apt_cache show --no-all-versions linux-source 2>>"$err" | sed -n 's/^Depends: *\(linux-source-[0-9.]*\).*/\1/p' | head -n 1)"
[ -n "$pkg" ] || unavailable "$suite has no linux-source package depending on a linux-source-X.Y (see $err)"

debs="$cache/debs"
mkdir -p "$debs"
rm -rf "$cache/apt/empty" && mkdir -p "$cache/apt/empty"
file="$(cd "$cache/apt/empty" && apt_get download --print-uris "$pkg" 2>>"$err" | awk '{print $2}' | tr -d "'")"
[ -n "$file" ] || unavailable "cannot resolve $pkg in $suite (see $err)"
deb="$debs/$file"
if [ ! -s "$deb" ]; then
  rm -f "$debs"/*.deb
  (cd "$debs" && apt_get download "$pkg" >/dev/null 2>>"$err") ||
    unavailable "cannot download $pkg from $suite: $(grep -m1 -E '^(E|W):' "$err" || echo "see $err")"
fi
[ -s "$deb" ] || fail "apt-get download $pkg did not write $file"
version="$(dpkg-deb -f "$deb" Version)" || fail "$deb is not a readable Debian package"

# The kernel tree is one tarball inside the package: unpack the package, then only our files.
rm -rf "$cache/pkg"
dpkg-deb -x "$deb" "$cache/pkg" || fail "dpkg-deb -x $deb failed"
tarball="$(ls -1 "$cache"/pkg/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1 || true)"
[ -n "$tarball" ] || fail "$deb holds no usr/src/linux-source-*.tar.xz"
top="$(basename "$tarball" .tar.xz)"

rm -rf "$src.tmp"
mkdir -p "$src.tmp"
patterns=()
for m in "${members[@]}"; do patterns+=("$top/$m" "$top/$m/*"); done
# Members a version lacks are not an error (tar says "Not found"); the required ones are checked.
tar -xJf "$tarball" -C "$src.tmp" --strip-components=1 --wildcards "${patterns[@]}" 2>"$cache/tar.err" || true
for f in "${required[@]}"; do
  [ -s "$src.tmp/$f" ] || fail "$pkg $version: $f missing from $tarball ($(head -n 1 "$cache/tar.err"))"
done
echo "$pkg $version" >"$src.tmp/VERSION"
rm -rf "$src" "$cache/pkg" "$cache/tar.err"
mv "$src.tmp" "$src"

echo "fetch-linux: $suite: $pkg $version -> $src"
for f in "${required[@]}"; do echo "  $f ($(wc -l <"$src/$f") lines)"; done
[ -d "$src/drivers/iommu/generic_pt" ] && echo "  drivers/iommu/generic_pt/ ($(find "$src/drivers/iommu/generic_pt" -type f | wc -l) files)"
exit 0
