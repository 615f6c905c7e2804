// Time to kill: the kill run over every bundled mutant catalogue (runner/kill-matrix.ts), which
// also writes reports/mutants.{json,md}. Prints the slowest kills and merges
// `mutants: {medianSecondsToKill, p95SecondsToKill, killed, total}` into reports/bench.json.

import { writeKillReport } from '../runner/kill-matrix.ts';
import { MUTANT_ENTRIES } from '../runner/mutant-entries.ts';
import { mergeBench, table } from './bench-json.ts';

const runs = process.env.BENCH_MUTANT_RUNS ? Number(process.env.BENCH_MUTANT_RUNS) : undefined;
const r = await writeKillReport(MUTANT_ENTRIES, {
  ...(runs !== undefined ? { runs } : {}),
  onMutant: (m) => process.stderr.write(`  ${m.id}: ${m.killed ? `${m.reportedRule} after ${m.runsToFailure} sequences, ${m.secondsToFailure} s` : 'survived'}\n`),
});
const s = r.summary;
const slowest = r.mutants.filter((m) => m.killed).sort((a, b) => b.secondsToFailure! - a.secondsToFailure!).slice(0, 5);
console.log(table([
  ['slowest kills', 'rule', 'sequences', 'trace ops', 'seconds', 'CPU seconds'],
  ...slowest.map((m) => [m.id, m.reportedRule!, m.runsToFailure!, m.traceLength!, m.secondsToFailure!, m.cpuSecondsToFailure!]),
]));
console.log(`killed ${s.killed} of ${s.total}; seconds to kill: median ${s.medianSecondsToKill} (target < 1), p95 ${s.p95SecondsToKill} (target < 10); in CPU time median ${s.medianCpuSecondsToKill}, p95 ${s.p95CpuSecondsToKill}; median ${s.medianRunsToFailure} sequences to the first failure`);
console.log('reports/mutants.json, reports/mutants.md written');
mergeBench('mutants', {
  medianSecondsToKill: s.medianSecondsToKill, p95SecondsToKill: s.p95SecondsToKill, killed: s.killed, total: s.total,
  medianCpuSecondsToKill: s.medianCpuSecondsToKill, p95CpuSecondsToKill: s.p95CpuSecondsToKill, medianRunsToFailure: s.medianRunsToFailure, seed: r.seed, runsPerFamily: r.budget.runsPerFamily, maxSteps: r.budget.maxSteps, measuredAt: new Date().toISOString(),
});
if (s.killed < s.total) process.exitCode = 1; // a survivor is a hole in the suite, not just a slow number
