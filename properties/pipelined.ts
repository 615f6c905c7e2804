// Pipelining for adapters behind a latency (a child process, an emulator). The ops of a
// sequence depend on earlier replies, so they cannot simply be sent ahead. But a conforming
// adapter mostly answers what the reference would, so the reference predicts the whole stream:
// the checker sends it at once and then walks the real sequence, consuming replies while the
// op it wants is the op that was sent. At the first op that differs (the adapter chose another
// legal outcome, or broke a rule), the adapter is reset, and the real prefix is sent again
// together with a new prediction of the rest that takes the adapter's real answers as given:
// one round trip per divergence, not one per op after it.

import { type Adapter, AdapterFault, type Op, type Outcome, encodeOp } from '../spec/index.ts';
import { type CheckerConfig, type SequenceResult, type TraceEntry, adapterThrew, sequence } from './checker.ts';
import { Coverage } from './coverage.ts';
import type { RawStep } from './steps.ts';

export type PipelinedAdapter = Adapter & Required<Pick<Adapter, 'pipeline'>>;

const key = (op: Op) => JSON.stringify(encodeOp(op));

/** Credits of predictions, which nobody reads. */
const UNCOUNTED = new Coverage();

/**
 * The ops the checker would send to an adapter that answers exactly as the reference does —
 * after giving the `forced` outcomes to the first ops, when there are any.
 */
export function predictOps(steps: readonly RawStep[], cfg: CheckerConfig, forced: readonly Outcome[] = []): Op[] {
  const trace: TraceEntry[] = [];
  // Self-play never yields: the first step runs the whole sequence.
  sequence(steps, { ...cfg, selfPlay: true, forced, coverage: UNCOUNTED, ignore: new Set() }, trace).next();
  return trace.map((t) => t.op);
}

/** Predicted ops in flight: each with the promise of its reply, `from` the index of the first. */
interface Flight {
  from: number;
  keys: string[];
  replies: Promise<Outcome>[];
}

function send(adapter: PipelinedAdapter, ops: readonly Op[], from: number): Flight {
  const replies = adapter.pipeline(ops);
  // Replies nobody waits for (after a divergence or a violation) must not surface as unhandled.
  for (const p of replies) p.catch(() => {});
  return { from, keys: ops.map(key), replies };
}

/** A case sent: its reset and its predicted ops in flight (or what went wrong sending them). */
interface Sent {
  reset: Promise<void>;
  flight: Flight;
}

/** Queues the reset and the whole predicted case: they go out in one write with whatever else is queued. */
function sendCase(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig): Sent | { error: unknown } {
  try {
    const reset = Promise.resolve(adapter.reset(cfg.topology));
    reset.catch(() => {});
    return { reset, flight: send(adapter, predictOps(steps, cfg), 0) };
  } catch (e) {
    return { error: e };
  }
}

export async function runPipelined(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig): Promise<SequenceResult> {
  return judgeSent(adapter, steps, cfg, sendCase(adapter, steps, cfg));
}

export interface BatchCase {
  steps: readonly RawStep[];
  cfg: CheckerConfig;
}

/**
 * Several cases in one round trip: every reset and predicted case written at once, then each
 * judged in order and handed to `onResult`, until it returns false. Each case starts with its
 * own reset, so what the adapter did for one cannot touch the next. A case that needs more (a
 * divergence) queues its rebuild behind the batch. After a case the adapter broke (a crash, a
 * hang, a bad reply), the rest are run again one by one, in fresh processes: they were not at
 * fault.
 */
export async function runBatch(adapter: PipelinedAdapter, cases: readonly BatchCase[], onResult: (r: SequenceResult, k: number) => boolean): Promise<void> {
  const sent = cases.map((c) => sendCase(adapter, c.steps, c.cfg));
  let tainted = false;
  for (const [k, c] of cases.entries()) {
    const r = tainted ? await runPipelined(adapter, c.steps, c.cfg) : await judgeSent(adapter, c.steps, c.cfg, sent[k]!);
    if (r.violation && r.violation.status !== 'FAIL' && r.violation.status !== 'QUALITY_WARNING') tainted = true;
    // The caller has what it needs (a new finding, a stop): the rest need not be run again.
    if (!onResult(r, k)) return;
  }
}

async function judgeSent(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig, sent: Sent | { error: unknown }): Promise<SequenceResult> {
  const trace: TraceEntry[] = [];
  const fail = (op: Op | null, e: unknown) => adapterThrew(op, e, trace);
  if ('error' in sent) return fail(null, sent.error);
  let flight = sent.flight;
  try {
    await sent.reset;
  } catch (e) {
    return fail(null, e);
  }

  const gen = sequence(steps, cfg, trace);
  let next = gen.next();
  let i = 0;
  while (!next.done) {
    const op = next.value;
    let out: Outcome;
    try {
      const k = i - flight.from;
      if (k >= flight.keys.length || key(op) !== flight.keys[k]) {
        // Ran out of prediction, or it went another way: start again from the real prefix.
        const rebuilt = await rebuild(adapter, steps, cfg, trace, flight, k);
        if ('violation' in rebuilt) return rebuilt;
        flight = rebuilt;
        if (key(op) !== flight.keys[0]) throw new Error(`the prediction after op #${i} does not start with ${key(op)}`);
      }
      out = await flight.replies[i - flight.from]!;
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
 * after the real prefix, and send a new prediction of the rest behind it. A deterministic
 * adapter answers the replayed prefix exactly as before.
 */
async function rebuild(adapter: PipelinedAdapter, steps: readonly RawStep[], cfg: CheckerConfig, trace: TraceEntry[], old: Flight, used: number): Promise<Flight | SequenceResult> {
  const reset = Promise.resolve(adapter.reset(cfg.topology));
  reset.catch(() => {});
  const all = predictOps(steps, cfg, trace.map((t) => t.outcome));
  const prefix = send(adapter, trace.map((t) => t.op), 0);
  const rest = send(adapter, all.slice(trace.length), trace.length);
  await reset;
  // Replies come in request order, so every reply to the abandoned prediction is in by now. One
  // the case did not need is still the adapter's answer: a malformed one is a finding too.
  const unused = await Promise.allSettled(old.replies.slice(used));
  const broken = unused.findIndex((r) => r.status === 'rejected' && r.reason instanceof AdapterFault && r.reason.rule === 'ADAPTER-REPLY');
  if (broken !== -1) {
    const fault = (unused[broken] as PromiseRejectedResult).reason as AdapterFault;
    return {
      violation: {
        rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op: null, expected: ['a well-formed reply'], trace: [...trace],
        observed: `${fault.message} (a reply to a request sent ahead of the case, which then went another way)`,
      },
      quality: [], ops: trace.length, fired: false,
    };
  }
  const again = await Promise.all(prefix.replies);
  const differs = trace.findIndex((t, j) => JSON.stringify(t.outcome, big) !== JSON.stringify(again[j], big));
  if (differs === -1) return rest;
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
