#!/usr/bin/env bash
# The kill matrix of the Linux io-pgtable-arm mutants across kernel versions, as before: a thin
# wrapper of `iommu-conformance mutants --run --kernel` (runner/kernel-mutants.ts), which holds
# the logic and writes reports/kernel-mutants.{json,md}.
#   scripts/linux-kill-matrix.sh [mutant ids...]     RUNS=<n> SUITES="bookworm trixie sid"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
args=(mutants --run --kernel --family io-pgtable-arm --suite "$(echo "${SUITES:-bookworm trixie sid}" | tr ' ' ',')")
[ -n "${RUNS:-}" ] && args+=(--runs "$RUNS")
[ "$#" -gt 0 ] && args+=(--only "$(IFS=,; echo "$*")")
cd "$root"
exec node bin/iommu-conformance.js "${args[@]}"
