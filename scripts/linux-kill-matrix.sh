#!/usr/bin/env bash
# The kill matrix of Linux io-pgtable-arm mutants (impl/targets/linux/io-pgtable-arm/mutants/,
# our patches applied to a copy of the kernel file) across kernel versions: for each mutant and
# suite, the kernel's own selftests (scripts/build-linux-selftest.sh) and the conformance suite
# at stage 1 (seed 1, RUNS sequences per family, default the expectations' 20). The suite kills a
# mutant when its findings differ from those of the unmodified kernel of that version at the same
# seed and budget: a rule found that was not (+RULE), one no longer found (-RULE), or a rule found
# on another minimal trace (~RULE). A rule-level comparison alone would miss a mutant whose bug
# falls under a rule the kernel already breaks (the unmodified 6.1 fails UNMAP-STRICT and
# MAP-OVERLAP for other reasons), hence the traces.
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

# How a mutant's report differs from the unmodified kernel's, or "survived".
verdict() { # <mutant report.json> <baseline report.json>
  node -e '
    const [m, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
    const byRule = (r) => new Map([...r.findings, ...(r.quality ?? [])].map((f) => [f.rule, f.trace.join("\n")]));
    const [fm, fb] = [byRule(m), byRule(b)];
    const what = [
      ...[...fm.keys()].filter((x) => !fb.has(x)).map((x) => "+" + x),
      ...[...fb.keys()].filter((x) => !fm.has(x)).map((x) => "-" + x),
      ...[...fm.keys()].filter((x) => fb.has(x) && fb.get(x) !== fm.get(x)).map((x) => "~" + x),
      ...m.rules.filter((x) => ["ADAPTER_ERROR", "CRASH", "TIMEOUT"].includes(x.status)).map((x) => x.id + ":" + x.status),
    ];
    console.log(what.length ? "killed (" + what.join(" ") + ")" : "survived");
  ' "$1" "$2"
}

# The suite's report on the adapter <binary> into <dir>.
suite_run() { # <binary> <dir>
  rm -rf "$2"
  node "$root/bin/iommu-conformance.js" run --adapter-cmd "'$1'" --seed 1 --runs "$runs" --workers 1 --report-dir "$2" --no-corpus --quiet >/dev/null 2>&1 || true
  [ -f "$2/report.json" ] || { echo "no report from $1" >&2; exit 1; }
}

for s in "${suites[@]}"; do
  ad="$(bash "$root/scripts/build-linux-target.sh" "$s" 2>"$tmp/err")" || { cat "$tmp/err" >&2; exit 1; }
  suite_run "$ad" "$tmp/base-$s"
done

echo "| mutant | suite | kernel selftest | conformance suite ($runs sequences per family, seed 1) |"
echo "|---|---|---|---|"
for m in "${mutants[@]}"; do
  for s in "${suites[@]}"; do
    st="$(bash "$root/scripts/build-linux-selftest.sh" "$s" "$m" 2>"$tmp/err")" || { cat "$tmp/err" >&2; exit 1; }
    if "$st" >"$tmp/st.out" 2>"$tmp/st.err"; then kst=survived; else kst="killed ($(grep -o '[0-9]* PASS [0-9]* FAIL' "$tmp/st.err" | tail -n 1))"; fi
    ad="$(bash "$root/scripts/build-linux-target.sh" "$s" "$m" 2>"$tmp/err")" || { cat "$tmp/err" >&2; exit 1; }
    suite_run "$ad" "$tmp/run"
    echo "| $m | $s | $kst | $(verdict "$tmp/run/report.json" "$tmp/base-$s/report.json") |"
  done
done
