#!/usr/bin/env bash
# Builds the C SDK, the example C model and the stdio test fixtures (impl/sdk/c/build/) with make
# and the system C compiler. Quiet when it works; on failure one line on stderr naming the
# first compiler error, and make's whole output in impl/sdk/c/build/make.log.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in make "${CC:-cc}"; do
  if ! command -v "$tool" > /dev/null; then
    echo "build-c: '$tool' is not installed (Debian: apt-get install build-essential)" >&2
    exit 1
  fi
done
mkdir -p "$root/impl/sdk/c/build"
# Test files run in parallel and may each build first: one make at a time in this tree.
if command -v flock > /dev/null; then
  exec 9> "$root/impl/sdk/c/build/.lock"
  flock 9
fi
log="$root/impl/sdk/c/build/make.log"
if ! make -C "$root/impl/sdk/c" --no-print-directory > "$log" 2>&1; then
  first="$(grep -m1 -E ': (fatal )?error:|\*\*\*' "$log" || tail -n1 "$log")"
  echo "build-c: make -C impl/sdk/c failed: ${first} (full output: impl/sdk/c/build/make.log)" >&2
  exit 1
fi
