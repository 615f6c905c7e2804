// Worker scaling: the same suite budget against the bundled reference with one worker thread
// and with two. Prints the ratio and merges `workers: {one, two}` (checked ops per second)
// into reports/bench.json. Not a test: the machines are shared and timing is noisy.

import { loadAdapter } from '../runner/adapters.ts';
import { runSuite } from '../runner/suite.ts';
import { mergeBench } from './bench-json.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 4000);

async function opsPerSecond(workers: number): Promise<{ opsPerSec: number; ms: number; ops: number }> {
  const adapter = await loadAdapter('builtin:reference', {});
  const started = performance.now();
  const r = await runSuite(adapter, {
    adapterSpec: 'builtin:reference', adapterOptions: {}, seed: 1, runs: RUNS, maxSteps: 60, minOpsPerKind: 0, maxSkipRate: 1, workers,
  }).finally(() => adapter.close?.());
  const ms = performance.now() - started;
  const ops = Object.values(r.coverage.ops).reduce((n, o) => n + o.total, 0);
  if (r.findings.length > 0) throw new Error(`the reference failed: ${r.findings[0]!.rule}`);
  return { opsPerSec: Math.round(ops / (ms / 1000)), ms: Math.round(ms), ops };
}

const one = await opsPerSecond(1);
const two = await opsPerSecond(2);
const ratio = two.opsPerSec / one.opsPerSec;
console.log(`workers: one ${one.opsPerSec} ops/s (${one.ops} ops, ${one.ms} ms), two ${two.opsPerSec} ops/s (${two.ops} ops, ${two.ms} ms): ${ratio.toFixed(2)}x`);

mergeBench('workers', { one: one.opsPerSec, two: two.opsPerSec, ratio: Number(ratio.toFixed(3)), runsPerFamily: RUNS, measuredAt: new Date().toISOString() });
