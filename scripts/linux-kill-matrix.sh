#!/usr/bin/env bash
# The kill matrix of Linux io-pgtable-arm mutants (impl/targets/linux/io-pgtable-arm/mutants/,
# our patches applied to a copy of the kernel file) across kernel versions: for each mutant and
# suite, the kernel's own selftests (scripts/build-linux-selftest.sh) and the conformance suite
# at stage 1 (seed 1, RUNS sequences per family, default the expectations' 20). The suite kills a
# mutant when its findings stop matching the unmutated version's judged expectations (a new rule,
# or a required one gone) -- the same comparison `targets` makes.
#   scripts/linux-kill-matrix.sh [mutant ids...]     RUNS=20 SUITES="bookworm trixie sid"
# Prints a Markdown table on stdout; exits 1 when a build fails.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/impl/targets/linux/io-pgtable-arm"
runs="${RUNS:-20}"
read -r -a suites <<<"${SUITES:-bookworm trixie sid}"
mutants=("$@")
if [ "${#mutants[@]}" -eq 0 ]; then
  for p in "$here"/mutants/*.patch; do
    id="$(basename "$p" .patch)"
    id="${id%@*}"
    [[ " ${mutants[*]-} " == *" $id "* ]] || mutants+=("$id")
  done
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# unexpected/vanished rules of a report against a version's expectations, as one word each.
verdict() { # <report.json> <expectations.json>
  node -e '
    const [r, e] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
    const found = [...r.findings, ...(r.quality ?? [])].map((f) => f.rule);
    const known = new Set(e.expected.map((x) => x.rule));
    const fresh = [...new Set(found.filter((x) => !known.has(x)))];
    const gone = e.expected.filter((x) => x.required && !found.includes(x.rule)).map((x) => x.rule);
    const broken = r.rules.filter((x) => ["ADAPTER_ERROR", "CRASH", "TIMEOUT"].includes(x.status)).map((x) => x.id + ":" + x.status);
    const what = [...fresh.map((x) => "+" + x), ...gone.map((x) => "-" + x), ...broken];
    console.log(what.length ? "killed (" + what.join(" ") + ")" : "survived");
  ' "$1" "$2"
}

echo "| mutant | suite | kernel selftest | conformance suite ($runs sequences per family, seed 1) |"
echo "|---|---|---|---|"
for m in "${mutants[@]}"; do
  for s in "${suites[@]}"; do
    st="$(bash "$root/scripts/build-linux-selftest.sh" "$s" "$m" 2>"$tmp/err")" || { cat "$tmp/err" >&2; exit 1; }
    if "$st" >"$tmp/st.out" 2>"$tmp/st.err"; then kst=survived; else kst="killed ($(grep -o '[0-9]* PASS [0-9]* FAIL' "$tmp/st.err" | tail -n 1))"; fi
    ad="$(bash "$root/scripts/build-linux-target.sh" "$s" "$m" 2>"$tmp/err")" || { cat "$tmp/err" >&2; exit 1; }
    rm -rf "$tmp/run"
    node "$root/bin/iommu-conformance.js" run --adapter-cmd "'$ad'" --seed 1 --runs "$runs" --workers 1 --report-dir "$tmp/run" --no-corpus --quiet >/dev/null 2>&1 || true
    echo "| $m | $s | $kst | $(verdict "$tmp/run/report.json" "$here/expectations/$s.json") |"
  done
done
