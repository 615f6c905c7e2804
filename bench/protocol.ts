// The stdio protocol's cost, against the C example model (impl/sdk/c, built by scripts/build-c.sh).
// First the suite runs against it through the transport and the op stream of every test case is
// recorded; then exactly that stream is sent again with nothing but the transport in between,
// once pipelined (a whole case written before its replies are read) and once in lockstep (each
// reply awaited before the next request). The end-to-end rates of the checked run, pipelined and
// lockstep, are printed too. Merges `protocol: {pipelinedOpsPerSec, lockstepOpsPerSec, …}`.

import { execFileSync } from 'node:child_process';
import { type Adapter, type Op, type Topology, resolvePolicies } from '../spec/index.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { lockstep } from '../runner/adapters.ts';
import { ProcessAdapter } from '../runner/stdio/adapter.ts';
import { mergeBench, table } from './bench-json.ts';

const MODEL = 'impl/sdk/c/build/example-model';
const RUNS = Number(process.env.BENCH_RUNS ?? 400);
const FAMILIES = ['symmetric-unmap', 'page-size-alignment', 'attach', 'iotlb'];

interface Case { topology: Topology; ops: Op[] }

/** Passes everything to the process adapter and keeps each case's ops. */
function recording(inner: ProcessAdapter, cases: Case[]): Adapter {
  return {
    hello: () => inner.hello(),
    reset: async (t) => {
      cases.push({ topology: t, ops: [] });
      await inner.reset(t);
    },
    exec: (op) => {
      cases.at(-1)!.ops.push(op);
      return inner.exec(op);
    },
    pipeline: (ops) => {
      cases.at(-1)!.ops.push(...ops);
      return inner.pipeline(ops);
    },
  };
}

async function checked(adapter: Adapter): Promise<{ ops: number; ms: number }> {
  const info = await adapter.hello();
  const ctx = { adapter, profile: info.profile, policies: resolvePolicies(info.profile, info.policies), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any' };
  const started = performance.now();
  let ops = 0;
  for (const id of FAMILIES) {
    const r = await runFamily(ctx, familyById(id)!, { seed: 1, runs: RUNS, maxSteps: 60 });
    if (r.findings.length > 0) throw new Error(`the C example failed ${r.findings[0]!.rule}`);
    ops += Object.values(r.coverage.toJSON().ops).reduce((n, o) => n + o.total, 0);
  }
  return { ops, ms: performance.now() - started };
}

async function replay(cases: readonly Case[], mode: 'pipelined' | 'lockstep'): Promise<number> {
  const a = new ProcessAdapter({ command: MODEL });
  await a.hello();
  const started = performance.now();
  for (const c of cases) {
    await a.reset(c.topology);
    if (mode === 'pipelined') await Promise.all(a.pipeline(c.ops));
    else for (const op of c.ops) await a.exec(op);
  }
  const ms = performance.now() - started;
  await a.close();
  return ms;
}

execFileSync('bash', ['scripts/build-c.sh'], { stdio: 'inherit' });

const cases: Case[] = [];
const recorder = new ProcessAdapter({ command: MODEL });
const piped = await checked(recording(recorder, cases));
await recorder.close();
const stepper = new ProcessAdapter({ command: MODEL });
const stepped = await checked(lockstep(stepper));
await stepper.close();

const sent = cases.reduce((n, c) => n + c.ops.length, 0);
await replay(cases.slice(0, 200), 'pipelined'); // warm up
const pipelinedMs = await replay(cases, 'pipelined');
const lockstepMs = await replay(cases, 'lockstep');
const rate = (ops: number, ms: number) => Math.round(ops / (ms / 1000));
const pipelinedOpsPerSec = rate(sent, pipelinedMs);
const lockstepOpsPerSec = rate(sent, lockstepMs);
const ratio = Number((pipelinedOpsPerSec / lockstepOpsPerSec).toFixed(2));

console.log(table([
  ['protocol (C example)', 'ops', 'cases', 'ms', 'ops/s'],
  ['transport, pipelined', sent, cases.length, Math.round(pipelinedMs), pipelinedOpsPerSec],
  ['transport, lockstep', sent, cases.length, Math.round(lockstepMs), lockstepOpsPerSec],
  ['suite checking it, pipelined', piped.ops, '', Math.round(piped.ms), rate(piped.ops, piped.ms)],
  ['suite checking it, lockstep', stepped.ops, '', Math.round(stepped.ms), rate(stepped.ops, stepped.ms)],
]));
console.log(`pipelined/lockstep: ${ratio}x (targets: pipelined >= 100000 ops/s, >= 6x lockstep)`);
mergeBench('protocol', {
  pipelinedOpsPerSec, lockstepOpsPerSec, ratio,
  checkedPipelinedOpsPerSec: rate(piped.ops, piped.ms), checkedLockstepOpsPerSec: rate(stepped.ops, stepped.ms),
  ops: sent, cases: cases.length, runsPerFamily: RUNS, families: FAMILIES, measuredAt: new Date().toISOString(),
});
