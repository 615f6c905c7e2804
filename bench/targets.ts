// What the suite costs on a real target: checked ops per second (generation, the reference
// judging every reply, probes) against a raw replay of the very same recorded op stream on a
// fresh adapter of the target, with nothing in between, as a ratio. One row per QEMU target and
// Debian suite whose QEMU is in .cache (scripts/fetch-qemu-suite.sh); the others say so. The
// adapters run in this process, so the transport is not counted on either side. Merges
// `targets: {<target@suite>: {...}}` into reports/bench.json.

import { encodeOutcome } from '../spec/index.ts';
import { findQemu } from '../impl/targets/qemu/common/machine.ts';
import { loadInProcessAdapter } from '../runner/adapters.ts';
import { runSuite } from '../runner/suite.ts';
import { TARGETS, type Target, readExpectations } from '../runner/targets.ts';
import { mergeBench, table } from './bench-json.ts';
import { RecordingAdapter, type StreamEvent } from './recording-adapter.ts';

const RUNS = Number(process.env.BENCH_TARGET_RUNS ?? 20);
const FAMILIES = ['symmetric-unmap', 'iotlb', 'attach'];

async function withEnv<T>(t: Target, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(t.env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, t.env);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function measure(t: Target) {
  const seed = readExpectations(t.expectations).run.seed;
  const recorder = new RecordingAdapter(await loadInProcessAdapter(t.adapter, { profile: t.profile }));
  const started = performance.now();
  const r = await runSuite(recorder, { adapterSpec: t.adapter, seed, runs: RUNS, maxSteps: 60, minOpsPerKind: 0, maxSkipRate: 1, workers: 1, families: FAMILIES });
  const checkedMs = performance.now() - started;
  await recorder.close();
  const raw = await replay(t, recorder.events);
  return {
    qemu: r.adapter.version, findings: r.findings.length, ops: recorder.ops,
    checkedOpsPerSec: Math.round(recorder.ops / (checkedMs / 1000)), rawOpsPerSec: Math.round(recorder.ops / (raw.ms / 1000)),
    ratio: Number((raw.ms / checkedMs).toFixed(3)), replayDiverged: raw.diverged,
  };
}

/** The recorded stream on a fresh adapter, timed; counts replies that differ (shrinking's cases included). */
async function replay(t: Target, events: readonly StreamEvent[]): Promise<{ ms: number; diverged: number }> {
  const a = await loadInProcessAdapter(t.adapter, { profile: t.profile });
  await a.hello();
  let diverged = 0;
  const started = performance.now();
  for (const e of events) {
    if ('reset' in e) {
      await a.reset(e.reset);
      continue;
    }
    const out = await a.exec(e.op);
    if (JSON.stringify(encodeOutcome(e.op, out)) !== JSON.stringify(encodeOutcome(e.op, e.outcome))) diverged++;
  }
  const ms = performance.now() - started;
  await a.close?.();
  return { ms, diverged };
}

const rows: (string | number)[][] = [['target', 'QEMU', 'ops', 'checked ops/s', 'raw replay ops/s', 'checked/raw']];
const results: Record<string, unknown> = {};
for (const t of TARGETS.filter((x) => x.matrix?.startsWith('qemu-'))) {
  const q = findQemu(t.suite!, t.arch);
  if (typeof q === 'string') {
    rows.push([t.id, 'not fetched', '', '', '', '']);
    results[t.id] = { unavailable: q };
    continue;
  }
  const m = await withEnv(t, () => measure(t));
  results[t.id] = { ...m, runsPerFamily: RUNS, families: FAMILIES, measuredAt: new Date().toISOString() };
  rows.push([t.id, m.qemu.split(' ')[0]!, m.ops, m.checkedOpsPerSec, m.rawOpsPerSec, m.ratio]);
}
console.log(table(rows));
mergeBench('targets', results);
