#!/usr/bin/env bash
# Fetches the QEMU system emulators of one Debian suite (bookworm, trixie or sid) into the
# gitignored .cache/qemu/<suite>/, so the tests can run against several QEMU releases on
# one machine. Usage: bash scripts/fetch-qemu-suite.sh <suite> [x86_64|aarch64|riscv64...]
# (default: all three). Nothing is installed and the system's apt sources, lists and dpkg
# state are not touched: apt runs with a private configuration under <suite>/apt/, the .debs
# land in <suite>/debs/ and are unpacked with dpkg-deb -x into <suite>/root/. Newer suites
# need a newer glibc than the host's, so the emulator's whole shared-library closure comes
# from the same suite, and bin/qemu-system-<arch> runs it through that suite's own loader.
# Also writes a halting firmware per architecture (hlt.bin, wfi-aarch64.bin, wfi-riscv64.bin) and manifest.json (suite, package
# versions, per-arch --version). Idempotent: does nothing when the wrappers already run.
# Prints one line with the versions; on failure one line on stderr and exit 1.
set -euo pipefail

fail() {
  echo "fetch-qemu-suite: $*" >&2
  exit 1
}

usage="usage: fetch-qemu-suite.sh <bookworm|trixie|sid> [x86_64|aarch64|riscv64...]"
[ $# -ge 1 ] || fail "$usage"
suite="$1"
shift
case "$suite" in bookworm | trixie | sid) ;; *) fail "unknown suite '$suite' ($usage)" ;; esac
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64 riscv64)
for a in "${arches[@]}"; do
  case "$a" in x86_64 | aarch64 | riscv64) ;; *) fail "unknown arch '$a' ($usage)" ;; esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/qemu/$suite"
aptdir="$cache/apt"
debs="$cache/debs"
tree="$cache/root"
bin="$cache/bin"
manifest="$cache/manifest.json"

# shellcheck source=lib/private-apt.sh
source "$root/scripts/lib/private-apt.sh"
mirror="$PRIVATE_APT_MIRROR"

# The wrapper of every requested arch answers --version, and the manifest is written.
present() {
  [ -s "$manifest" ] || return 1
  local a
  for a in "${arches[@]}"; do
    "$bin/qemu-system-$a" --version 2>/dev/null | grep -q '^QEMU emulator version' || return 1
  done
}

# "1:10.0.13+ds-0+deb13u1 (x86_64 aarch64)": the emulator package versions, from the manifest.
summary() {
  sed -n 's/^ *"package_version": "\(.*\)",*$/\1/p' "$manifest" | sort -u | tr '\n' ' ' | sed 's/ $//'
  echo " (${arches[*]})"
}

# The firmware each machine boots, 64 KiB that only halts, so the CPU idles (and virtual time
# runs to the next timer) while the test drives the devices over qtest.
# - x86: 0xf4 (HLT) everywhere; the CPU starts at 0xfffffff0, halts, and runs nothing else.
# - aarch64: "1: wfi; b 1b" (0xd503207f, 0x17ffffff, little-endian) at the reset address.
# - riscv64: "1: wfi; j 1b" (0x10500073, 0xffdff06f).
firmware() { # <file> <octal escapes of the first bytes>
  [ -s "$cache/$1" ] && return
  mkdir -p "$cache"
  { printf "$2"; head -c $((65536 - $(printf "$2" | wc -c))) /dev/zero; } >"$cache/$1.tmp"
  mv "$cache/$1.tmp" "$cache/$1"
}
mkdir -p "$cache"
# One fetch of a suite at a time: test files run in parallel and may ask for the same suite.
exec 9>"$cache/.lock"
flock 9
[ -s "$cache/hlt.bin" ] || { head -c 65536 /dev/zero | tr '\0' '\364' >"$cache/hlt.bin.tmp" && mv "$cache/hlt.bin.tmp" "$cache/hlt.bin"; }
firmware wfi-aarch64.bin '\177\040\003\325\377\377\377\027'
firmware wfi-riscv64.bin '\163\000\120\020\157\360\337\377'

if present; then
  echo "fetch-qemu-suite: $suite already present: $(summary)"
  exit 0
fi

# The manifest describes every emulator in the cache: keep the ones fetched before (resolved
# again, so they move with the suite too).
for a in x86_64 aarch64 riscv64; do
  if [ -x "$bin/qemu-system-$a" ] && [[ " ${arches[*]} " != *" $a "* ]]; then arches+=("$a"); fi
done

mkdir -p "$debs"
err="$cache/apt.err"
private_apt "$suite" "$aptdir" "$err"

declare -A real=()
while read -r n; do real[$n]=1; done < <(apt_cache pkgnames 2>>"$err")
[ ${#real[@]} -gt 0 ] || fail "no package lists for $suite (see $err)"

# trixie and later split riscv64 out of qemu-system-misc (which then drags in every other
# target); bookworm has it in misc.
declare -A emulator=([x86_64]=qemu-system-x86 [aarch64]=qemu-system-arm [riscv64]=qemu-system-misc)
[ -n "${real[qemu-system-riscv]:-}" ] && emulator[riscv64]=qemu-system-riscv
wanted=(qemu-system-common qemu-system-data)
for a in "${arches[@]}"; do wanted+=("${emulator[$a]}"); done
# The one firmware kept: riscv64 virt loads OpenSBI when given no -bios (trixie's
# qemu-system-riscv depends on the opensbi package; bookworm's qemu-system-data holds a copy).
# x86 needs none with our -bios and -nodefaults (kvmvapic.bin and friends are in
# qemu-system-data), aarch64 none.
case " ${arches[*]} " in *" riscv64 "*) [ "${emulator[riscv64]}" = qemu-system-misc ] || wanted+=(opensbi) ;; esac

# The library closure, from this suite's own lists: follow Depends and Pre-Depends, taking the
# first alternative that is a real package, and keep what Debian files under Section libs
# (libc6 and zlib1g included: newer suites need a newer glibc than the host's). Firmware and
# the rest (seabios, ipxe-qemu, debconf, the other qemu-system-* targets) are left out.
declare -A seen=() initial=()
for p in "${wanted[@]}"; do seen[$p]=1 initial[$p]=1; done
packages=()
level=("${wanted[@]}")
while [ ${#level[@]} -gt 0 ]; do
  next=()
  follow=no
  while read -r kind rest; do
    if [ "$kind" = P ]; then
      # "P <package> <section>": a record of this level.
      follow=no
      name="${rest%% *}"
      if [ -n "${initial[$name]:-}" ] || [[ "${rest#* }" =~ ^(libs|oldlibs)$ ]]; then
        follow=yes
        packages+=("$name")
      fi
      continue
    fi
    [ "$follow" = yes ] || continue
    # "D <alt>|<alt>...": one dependency of a kept record.
    for alt in ${rest//|/ }; do
      [ -n "${real[$alt]:-}" ] || continue
      if [ -z "${seen[$alt]:-}" ]; then
        seen[$alt]=1
        next+=("$alt")
      fi
      break
    done
  done < <(apt_cache show --no-all-versions "${level[@]}" 2>>"$err" | awk '
    function flush() { if (pkg != "") { print "P", pkg, sec; printf "%s", deps }; pkg = ""; sec = "?"; deps = "" }
    /^$/ { flush(); next }
    /^Package: / { pkg = $2; next }
    /^Section: / { sec = $2; next }
    /^(Pre-)?Depends: / {
      sub(/^[^:]*: /, "")
      n = split($0, d, ",")
      for (i = 1; i <= n; i++) {
        x = d[i]; gsub(/\([^)]*\)/, "", x); gsub(/:any/, "", x); gsub(/[ \t]/, "", x)
        if (x != "") deps = deps "D " x "\n"
      }
    }
    END { flush() }')
  level=("${next[@]+"${next[@]}"}")
done

# apt-get download verifies each .deb against the signed lists. Only what is missing is
# downloaded; a deb of another version (sid moved on) is removed.
# (--print-uris leaves out what the current directory already holds: ask from an empty one.)
rm -rf "$aptdir/empty" && mkdir -p "$aptdir/empty"
mapfile -t files < <(cd "$aptdir/empty" && apt_get download --print-uris "${packages[@]}" 2>>"$err" | awk '{print $2}')
[ ${#files[@]} -eq ${#packages[@]} ] || fail "cannot resolve all packages in $suite: $(grep -m1 -E '^(E|W):' "$err" || echo "see $err")"
declare -A keep=()
missing=()
for i in "${!files[@]}"; do
  keep[${files[$i]}]=1
  [ -s "$debs/${files[$i]}" ] || missing+=("${files[$i]%%_*}")
done
for f in "$debs"/*.deb; do
  if [ -e "$f" ] && [ -z "${keep[$(basename "$f")]:-}" ]; then rm -f "$f"; fi
done
if [ ${#missing[@]} -gt 0 ]; then
  (cd "$debs" && apt_get download "${missing[@]}" >/dev/null 2>>"$err") ||
    fail "download from $suite failed: $(grep -m1 -E '^(E|W):' "$err" || echo "see $err")"
fi

rm -rf "$tree.tmp"
mkdir -p "$tree.tmp"
for f in "${files[@]}"; do dpkg-deb -x "$debs/$f" "$tree.tmp" || fail "dpkg-deb -x $f failed"; done
# Absolute symlinks (bookworm's /lib64/ld-linux-x86-64.so.2, the firmware links in
# /usr/share/qemu) would point into the host: make them point into the tree.
while IFS= read -r -d '' l; do
  t="$(readlink "$l")"
  case "$t" in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$tree.tmp$t")" "$l" ;; esac
done < <(find "$tree.tmp" -type l -print0)
rm -rf "$tree"
mv "$tree.tmp" "$tree"

# The suite's own loader, copied to one path for every suite (bookworm keeps it in /lib,
# trixie in /usr/lib). Debian's QEMU is not relocatable: its data and module directories are
# the absolute /usr/share/qemu and /usr/lib/x86_64-linux-gnu/qemu, so the wrapper points it at
# the tree's (QEMU_MODULE_DIR, and a -L after the caller's own -L options, which stay first).
loader="$(find "$tree/lib/" "$tree/usr/lib/" -name ld-linux-x86-64.so.2 -type f 2>/dev/null | head -n 1 || true)"
[ -n "$loader" ] || fail "no ld-linux-x86-64.so.2 in the unpacked $suite libc6"
cp "$loader" "$tree/usr/bin/ld-linux-x86-64.so.2"
moddir="$tree/usr/lib/x86_64-linux-gnu/qemu"
libpath="$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu"

# Every library of the emulators and their modules (TCG is one in some versions) must resolve
# inside the tree: the loader would otherwise quietly fall back to the host's /lib.
for a in "${arches[@]}"; do
  [ -x "$tree/usr/bin/qemu-system-$a" ] || fail "${emulator[$a]} unpacked but usr/bin/qemu-system-$a is missing"
  for obj in "$tree/usr/bin/qemu-system-$a" "$moddir"/*.so; do
    [ -e "$obj" ] || continue
    out="$("$tree/usr/bin/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$libpath" --list "$obj" 2>&1)" ||
      fail "cannot list the libraries of ${obj#"$cache"/}: $(echo "$out" | head -n 1)"
    bad="$(echo "$out" | grep '=>' | grep -v -F "=> $tree/" | grep -v 'linux-vdso' | awk '{print $1}' | tr '\n' ' ' || true)"
    [ -z "$bad" ] || fail "${obj#"$cache"/} needs libraries not fetched from $suite: $bad"
  done
done

rm -rf "$bin"
mkdir -p "$bin"
for a in "${arches[@]}"; do
  cat >"$bin/qemu-system-$a" <<EOF
#!/bin/sh
# Written by scripts/fetch-qemu-suite.sh: Debian $suite's qemu-system-$a with its own
# libraries and loader (the host's glibc may be older). Relative, so the cache can move.
root="\$(cd "\$(dirname "\$0")/../root" && pwd)"
QEMU_MODULE_DIR="\$root/usr/lib/x86_64-linux-gnu/qemu" exec "\$root/usr/bin/ld-linux-x86-64.so.2" \\
  --inhibit-cache --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/lib/x86_64-linux-gnu" \\
  --argv0 qemu-system-$a "\$root/usr/bin/qemu-system-$a" "\$@" -L "\$root/usr/share/qemu"
EOF
  chmod +x "$bin/qemu-system-$a"
done


json() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }
declare -A verline=()
for a in "${arches[@]}"; do
  verline[$a]="$("$bin/qemu-system-$a" --version 2>&1 | head -n 1 || true)"
  [[ "${verline[$a]}" == "QEMU emulator version"* ]] || fail "qemu-system-$a of $suite does not run: ${verline[$a]}"
  # Debian builds TCG as a module in some versions: make sure it loads.
  out="$(echo quit | timeout 60 "$bin/qemu-system-$a" -M none -accel tcg -nodefaults -display none -S -monitor stdio 2>&1)" ||
    fail "qemu-system-$a of $suite cannot start TCG: $(echo "$out" | grep -v -E '^(QEMU .* monitor|\(qemu\))' | head -n 1)"
done
{
  echo "{"
  echo "  \"suite\": $(json "$suite"),"
  echo "  \"mirror\": $(json "$mirror"),"
  echo "  \"fetched\": $(json "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
  echo "  \"arches\": {"
  n=0
  for a in "${arches[@]}"; do
    n=$((n + 1))
    v="$(dpkg-deb -f "$debs/$(printf '%s\n' "${files[@]}" | grep "^${emulator[$a]}_")" Version)"
    echo "    $(json "$a"): {"
    echo "      \"package\": $(json "${emulator[$a]}"),"
    echo "      \"package_version\": $(json "$v"),"
    echo "      \"version\": $(json "${verline[$a]}"),"
    echo "      \"wrapper\": $(json "bin/qemu-system-$a")"
    [ $n -lt ${#arches[@]} ] && echo "    }," || echo "    }"
  done
  echo "  },"
  echo "  \"packages\": {"
  mapfile -t lines < <(for f in "${files[@]}"; do dpkg-deb -W --showformat='${Package} ${Version}\n' "$debs/$f"; done | sort)
  for i in "${!lines[@]}"; do
    sep=","
    [ "$i" -eq $((${#lines[@]} - 1)) ] && sep=""
    echo "    $(json "${lines[$i]%% *}"): $(json "${lines[$i]#* }")$sep"
  done
  echo "  }"
  echo "}"
} >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"

# What the tests can pick from: each emulator's device list, the options of its IOMMU models,
# and its machine's (smmuv3 is a machine option of aarch64 virt).
rm -rf "$cache/device-help"
mkdir -p "$cache/device-help"
declare -A machine=([x86_64]=q35 [aarch64]=virt [riscv64]=virt)
for a in "${arches[@]}"; do
  w="$bin/qemu-system-$a"
  "$w" -device help >"$cache/device-help/$a-devices.txt" 2>&1 || fail "qemu-system-$a -device help failed"
  for d in $(sed -n -E 's/^name "([^"]*(iommu|smmu)[^"]*)".*/\1/Ip' "$cache/device-help/$a-devices.txt"); do
    "$w" -M "${machine[$a]}" -device "$d,help" >"$cache/device-help/$a-$d.txt" 2>&1 || true
  done
  "$w" -M "${machine[$a]},help" >"$cache/device-help/$a-machine-${machine[$a]}.txt" 2>&1 || true
done
rm -rf "$aptdir/empty" "$aptdir"/cache/*.bin
rm -f "$err"
echo "fetch-qemu-suite: $suite: $(summary) in ${bin#"$root"/}"
