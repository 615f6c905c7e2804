// Pipelining for adapters behind a latency (a child process, an emulator). The ops of a
// sequence depend on earlier replies, so they cannot simply be sent ahead. But a conforming
// adapter mostly answers what the reference would, so the reference predicts the whole stream:
// the checker sends it at once and then walks the real sequence, consuming replies while the
// op it wants is the op that was sent. At the first op that differs (an adapter chose another
// legal outcome, or broke a rule), the adapter is reset, the real prefix is replayed, and the
// rest of the sequence goes one op at a time.

import { type Adapter, type Op, type Outcome, encodeOp, isThenable } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { type CheckerConfig, type SequenceResult, type TraceEntry, adapterThrew, runSequence, sequence } from './checker.ts';
import { Coverage } from './coverage.ts';
import type { RawStep } from './steps.ts';

export type PipelinedAdapter = Adapter & Required<Pick<Adapter, 'pipeline'>>;

const key = (op: Op) => JSON.stringify(encodeOp(op));

/** The ops the checker would send to an adapter that answers exactly as the reference does. */
export function predictOps(steps: readonly RawStep[], cfg: CheckerConfig): Op[] {
  const reference = new ReferenceAdapter({ policies: cfg.policies, capabilities: cfg.capabilities });
  const ops: Op[] = [];
  const recorder: Adapter = {
    hello: () => reference.hello(),
    reset: (t) => reference.reset(t),
    exec: (op) => {
      ops.push(op);
      return reference.exec(op);
    },
  };
  // The reference answers synchronously, so this runs to the end before returning.
  const done = runSequence(recorder, steps, { ...cfg, coverage: new Coverage(), ignore: new Set() });
  if (isThenable(done)) throw new Error('the reference answered asynchronously');
  return ops;
}

export async function runPipelined(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig): Promise<SequenceResult> {
  const predicted = predictOps(steps, cfg);
  const keys = predicted.map(key);
  const trace: TraceEntry[] = [];
  const fail = (op: Op | null, e: unknown) => adapterThrew(op, e, trace);

  try {
    await adapter.reset(cfg.topology);
  } catch (e) {
    return fail(null, e);
  }
  let inflight: Promise<Outcome>[];
  try {
    inflight = adapter.pipeline(predicted);
  } catch (e) {
    return fail(predicted[0] ?? null, e);
  }
  // Replies nobody waits for (after a divergence or a violation) must not surface as unhandled.
  for (const p of inflight) p.catch(() => {});

  const gen = sequence(steps, cfg, trace);
  let next = gen.next();
  let i = 0;
  let lockstep = false;
  while (!next.done) {
    const op = next.value;
    let out: Outcome;
    try {
      if (!lockstep && i < predicted.length && key(op) === keys[i]) {
        out = await inflight[i]!;
      } else {
        if (!lockstep && i < predicted.length) {
          const problem = await rebuild(adapter, cfg, trace);
          if (problem) return problem;
        }
        lockstep = true;
        out = await adapter.exec(op);
      }
    } catch (e) {
      return fail(op, e);
    }
    i++;
    next = gen.next(out);
  }
  return next.value;
}

/**
 * The adapter ran predicted ops the real sequence does not want: bring it back to the state
 * after the real prefix. A deterministic adapter answers the replay exactly as before.
 */
async function rebuild(adapter: PipelinedAdapter, cfg: CheckerConfig, trace: TraceEntry[]): Promise<SequenceResult | null> {
  await adapter.reset(cfg.topology);
  const again = await Promise.all(adapter.pipeline(trace.map((t) => t.op)));
  const differs = trace.findIndex((t, j) => JSON.stringify(t.outcome, big) !== JSON.stringify(again[j], big));
  if (differs === -1) return null;
  const t = trace[differs]!;
  return {
    violation: {
      rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op: t.op, expected: [JSON.stringify(t.outcome, big)],
      observed: `${JSON.stringify(again[differs], big)} when the same requests were replayed after reset (the adapter is not deterministic)`,
      trace: trace.slice(0, differs + 1),
    },
    quality: [], ops: trace.length, fired: false,
  };
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v);
