// Pipelining for adapters behind a latency (a child process, an emulator). The ops of a
// sequence depend on earlier replies, so they cannot simply be sent ahead. But a conforming
// adapter mostly answers what the reference would, so the reference predicts the whole stream:
// the checker sends it at once and then walks the real sequence, consuming replies while the
// op it wants is the op that was sent. At the first op that differs (an adapter chose another
// legal outcome, or broke a rule), the adapter is reset, the real prefix is replayed, and the
// rest of the sequence goes one op at a time.

import { type Adapter, type Op, type Outcome, encodeOp } from '../spec/index.ts';
import { type CheckerConfig, type SequenceResult, type TraceEntry, adapterThrew, sequence } from './checker.ts';
import { Coverage } from './coverage.ts';
import type { RawStep } from './steps.ts';

export type PipelinedAdapter = Adapter & Required<Pick<Adapter, 'pipeline'>>;

const key = (op: Op) => JSON.stringify(encodeOp(op));

/** Credits of predictions, which nobody reads. */
const UNCOUNTED = new Coverage();

/** The ops the checker would send to an adapter that answers exactly as the reference does. */
export function predictOps(steps: readonly RawStep[], cfg: CheckerConfig): Op[] {
  const trace: TraceEntry[] = [];
  // Self-play never yields: the first step runs the whole sequence.
  sequence(steps, { ...cfg, selfPlay: true, coverage: UNCOUNTED, ignore: new Set() }, trace).next();
  return trace.map((t) => t.op);
}

export async function runPipelined(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig): Promise<SequenceResult> {
  const predicted = predictOps(steps, cfg);
  const keys = predicted.map(key);
  const trace: TraceEntry[] = [];
  const fail = (op: Op | null, e: unknown) => adapterThrew(op, e, trace);

  // The reset and the whole predicted case go out together: one round trip per case.
  let reset: Promise<void>;
  let inflight: Promise<Outcome>[];
  try {
    reset = Promise.resolve(adapter.reset(cfg.topology));
    reset.catch(() => {});
    inflight = adapter.pipeline(predicted);
  } catch (e) {
    return fail(null, e);
  }
  // Replies nobody waits for (after a divergence or a violation) must not surface as unhandled.
  for (const p of inflight) p.catch(() => {});
  try {
    await reset;
  } catch (e) {
    return fail(null, e);
  }

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
