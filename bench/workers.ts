// Worker scaling: the same suite budget against the bundled reference with one worker thread
// and with two, and the ceiling two workers could reach on this machine: two independent
// processes each running the one-worker suite at the same time (two cores are rarely twice
// one: shared caches, turbo, hyperthreads). Prints one line and merges
// `workers: {one, two, ceiling, efficiency}` (checked ops per second; efficiency = two / ceiling)
// into reports/bench.json. Not a test: the machines are shared and timing is noisy.
//
// `bench/workers.ts --one-process` is one side of the ceiling: it loads everything, says
// "ready", waits for a line on stdin, runs the one-worker suite and prints {ops, startedAt, endedAt}.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadAdapter } from '../runner/adapters.ts';
import { runSuite } from '../runner/suite.ts';
import { mergeBench } from './bench-json.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 4000);

interface Timed { ops: number; startedAt: number; endedAt: number }

async function suiteRun(workers: number, beforeStart?: () => Promise<void>): Promise<Timed> {
  const adapter = await loadAdapter('builtin:reference', {});
  await beforeStart?.();
  const startedAt = performance.timeOrigin + performance.now();
  const r = await runSuite(adapter, {
    adapterSpec: 'builtin:reference', adapterOptions: {}, seed: 1, runs: RUNS, maxSteps: 60, minOpsPerKind: 0, maxSkipRate: 1, workers,
  }).finally(() => adapter.close?.());
  const endedAt = performance.timeOrigin + performance.now();
  if (r.findings.length > 0) throw new Error(`the reference failed: ${r.findings[0]!.rule}`);
  return { ops: Object.values(r.coverage.ops).reduce((n, o) => n + o.total, 0), startedAt, endedAt };
}

/** Two processes of the one-worker run, started together once both have loaded: their total ops over the wall time they spanned. */
async function twoProcesses(): Promise<{ ops: number; ms: number }> {
  const script = fileURLToPath(import.meta.url);
  const children = [0, 1].map(() => spawn(process.execPath, ['--import', 'tsx', script, '--one-process'], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = children.map((c) => createInterface({ input: c.stdout })[Symbol.asyncIterator]());
  const next = async (i: number): Promise<string> => {
    const l = await lines[i]!.next();
    if (l.done) throw new Error(`ceiling process ${i} ended early`);
    return l.value;
  };
  await Promise.all([0, 1].map(next)); // "ready"
  for (const c of children) c.stdin.write('go\n');
  const runs = (await Promise.all([0, 1].map(next))).map((l) => JSON.parse(l) as Timed);
  const ms = Math.max(...runs.map((r) => r.endedAt)) - Math.min(...runs.map((r) => r.startedAt));
  return { ops: runs.reduce((n, r) => n + r.ops, 0), ms };
}

if (process.argv.includes('--one-process')) {
  const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const r = await suiteRun(1, async () => {
    console.log('ready');
    await stdin.next();
  });
  console.log(JSON.stringify(r));
  process.exit(0);
}

// On a shared machine the load changes from minute to minute: BENCH_ROUNDS > 1 measures the
// three in turn that many times, each round in another order, and adds up ops and time.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const measures: Record<'one' | 'two' | 'ceiling', () => Promise<{ ops: number; ms: number }>> = {
  one: async () => spanned(await suiteRun(1)),
  two: async () => spanned(await suiteRun(2)),
  ceiling: twoProcesses,
};
function spanned(r: Timed): { ops: number; ms: number } {
  return { ops: r.ops, ms: r.endedAt - r.startedAt };
}
const totals = { one: { ops: 0, ms: 0 }, two: { ops: 0, ms: 0 }, ceiling: { ops: 0, ms: 0 } };
const order = ['one', 'two', 'ceiling'] as const;
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < order.length; k++) {
    const name = order[(k + round) % order.length]!;
    const r = await measures[name]();
    totals[name].ops += r.ops;
    totals[name].ms += r.ms;
  }
}
const perSecond = (t: { ops: number; ms: number }) => Math.round(t.ops / (t.ms / 1000));
const one = perSecond(totals.one);
const two = perSecond(totals.two);
const ceiling = perSecond(totals.ceiling);
const efficiency = two / ceiling;
console.log(
  `workers (${RUNS} runs per family${ROUNDS > 1 ? `, ${ROUNDS} rounds` : ''}): one ${one} ops/s, two ${two} ops/s (${(two / one).toFixed(2)}x), `
  + `two processes ${ceiling} ops/s (${(ceiling / one).toFixed(2)}x): efficiency ${efficiency.toFixed(2)}`,
);

mergeBench('workers', {
  one, two, ceiling, efficiency: Number(efficiency.toFixed(3)), ratio: Number((two / one).toFixed(3)), runsPerFamily: RUNS, rounds: ROUNDS, measuredAt: new Date().toISOString(),
});
