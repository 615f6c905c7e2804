// A crash or a hang that needs more than its own case: a process that died only after earlier
// cases left something behind (a leak across resets, a corrupted allocator). Replayed alone in a
// fresh process, the case passes, so it cannot be shrunk like other findings. What the process
// was sent since it started (the transport's SentLog) is replayed on a fresh process instead and
// shrunk with delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
// Failure-Inducing Input", 2002): whole cases first, then single requests, then cases left empty.

import { type Adapter, AdapterFault, type Op, type Outcome, RunInterrupted, type SentCase, type SentLog, type Topology, isThenable } from '../spec/index.ts';
import { type TraceEntry, type Violation, adapterThrew } from './checker.ts';

/** Where a replay of a log failed the same way: case `at`, its op `op` (-1: at the reset). */
interface Reproduced {
  at: number;
  op: number;
  fault: AdapterFault;
  /** The replies of every case up to the failure, the last one's up to the failing op. */
  replies: Outcome[][];
}

export interface HistoryLimits {
  /** Ops replayed in all, counting every attempt. */
  opsBudget: number;
  /** Replays in all (each starts a fresh process). */
  maxReplays: number;
  /** Attempts that hang cost a whole timeout each: at most this many. */
  maxTimeouts: number;
  stopping: () => boolean;
}

export interface ShrunkHistory {
  violation: Violation;
  /** The topology of the case the process failed in. */
  topology: Topology;
  /** Cases in the log before shrinking and after, and replays it took. */
  cases: { before: number; after: number };
  ops: { before: number; after: number };
  replays: number;
}

const opsIn = (cases: readonly SentCase[]) => cases.reduce((n, c) => n + c.ops.length, 0);

/**
 * Runs `cases` on a fresh process, each after its reset, every op sent as it was (replies are not
 * judged: the first run did not judge the ops it sent ahead either). Null unless the process
 * fails with `rule`.
 */
async function replayLog(adapter: Adapter, cases: readonly SentCase[], rule: string): Promise<Reproduced | null> {
  adapter.restart?.();
  const replies: Outcome[][] = [];
  for (let at = 0; at < cases.length; at++) {
    const c = cases[at]!;
    const got: Outcome[] = [];
    replies.push(got);
    let op = -1;
    try {
      const reset = adapter.reset(c.topology);
      // Queued behind the reset when the transport pipelines: as fast as the first run sent them.
      const pending = adapter.pipeline?.(c.ops);
      pending?.forEach((p) => p.catch(() => {}));
      if (isThenable(reset)) await reset;
      for (op = 0; op < c.ops.length; op++) {
        const out = pending ? pending[op]! : adapter.exec(c.ops[op]!);
        got.push(isThenable(out) ? await out : out);
      }
    } catch (e) {
      // Stopped (a signal, the end of a time budget): proves nothing, and shrinking ends there.
      if (e instanceof RunInterrupted) return null;
      if (!(e instanceof AdapterFault)) throw e;
      return e.rule === rule ? { at, op, fault: e, replies } : null;
    }
  }
  return null;
}

/**
 * The log cut after the case that failed: nothing later can have caused it. The failing case is
 * kept whole: its ops were all sent at once, and a process that buffers its replies dies with
 * earlier ones unwritten, so the oldest unanswered request need not be the one it died on.
 */
function cutAt(cases: readonly SentCase[], r: Reproduced): SentCase[] {
  return cases.slice(0, r.at + 1);
}

/**
 * Delta debugging's minimising loop over `items`: drop one of n chunks while the failure stays,
 * refine the chunks when none can go. `fails` answers the failing (possibly shorter) list or null.
 */
async function ddmin<T>(items: T[], fails: (xs: T[]) => Promise<T[] | null>, spent: () => boolean): Promise<T[]> {
  let xs = items;
  let n = 2;
  while (xs.length >= 2 && !spent()) {
    const size = Math.ceil(xs.length / n);
    let cut = false;
    for (let s = 0; s < xs.length && !spent(); s += size) {
      const r = await fails([...xs.slice(0, s), ...xs.slice(s + size)]);
      if (r) {
        xs = r;
        n = Math.max(n - 1, 2);
        cut = true;
        break;
      }
    }
    if (!cut) {
      if (size === 1) break;
      n = Math.min(xs.length, n * 2);
    }
  }
  return xs;
}

/** One op of the log, with the case it was sent in. */
interface Sent {
  c: number;
  op: Op;
}

/**
 * Replays and shrinks the log of the process that failed with `seen` (a CRASH or TIMEOUT whose
 * case passed alone). Null when the log does not fail again on a fresh process (the adapter
 * depends on more than what it was sent: time, randomness) or the budget ran out first.
 */
export async function shrinkHistory(adapter: Adapter, seen: Violation & { sent: SentLog }, limits: HistoryLimits): Promise<ShrunkHistory | null> {
  const rule = seen.rule;
  let spentOps = 0;
  let timeouts = 0;
  let replays = 0;
  const spent = () => limits.stopping() || spentOps >= limits.opsBudget || replays >= limits.maxReplays || timeouts >= limits.maxTimeouts;
  /** The cases of the last attempt that failed (ddmin keeps every one that does). */
  let kept = 0;
  const attempt = async (cases: SentCase[]): Promise<SentCase[] | null> => {
    if (spent()) return null;
    replays++;
    spentOps += opsIn(cases) + cases.length;
    const r = await replayLog(adapter, cases, rule);
    if (r?.fault.rule === 'ADAPTER-TIMEOUT') timeouts++;
    if (!r) return null;
    const cut = cutAt(cases, r);
    kept = cut.length;
    return cut;
  };

  const original = seen.sent.cases;
  const first = await attempt(original);
  if (!first) return null;
  // Whole cases; then every op of one kind at once (the checker's probes are most of a log and
  // rarely matter), then single ops (a case may end up empty: its reset alone may matter); then
  // cases again.
  let cases = await ddmin(first, attempt, spent);
  const flat = (cs: SentCase[]): Sent[] => cs.flatMap((c, i) => c.ops.map((op) => ({ c: i, op })));
  const shape = cases.map((c) => c.topology);
  const unflat = (xs: Sent[]): SentCase[] => shape.map((topology, i) => ({ topology, ops: xs.filter((x) => x.c === i).map((x) => x.op) }));
  const fails = async (xs: Sent[]) => {
    const r = await attempt(unflat(xs));
    return r ? flat(r) : null;
  };
  let ops = flat(cases);
  for (const kind of [...new Set(ops.map((x) => x.op.op))]) {
    if (spent()) break;
    const without = ops.filter((x) => x.op.op !== kind);
    if (without.length < ops.length) ops = (await fails(without)) ?? ops;
  }
  const byOps = await ddmin(ops, fails, spent);
  cases = unflat(byOps).slice(0, kept);
  cases = await ddmin(cases, attempt, spent);
  // The reported run: the minimal log once more, on a fresh process, as a replay will see it.
  const final = await replayLog(adapter, cases, rule);
  if (!final) return null;
  const done = cutAt(cases, final);
  const traces: TraceEntry[][] = done.map((c, i) => final.replies[i]!.map((outcome, j) => ({ op: c.ops[j]!, outcome, probe: false })));
  const failing = done[final.at]!;
  const failingOp = final.op >= 0 ? failing.ops[final.op]! : null;
  const v = adapterThrew(failingOp, final.fault, traces[final.at]!).violation!;
  const { sent: _sent, ...violation } = v;
  violation.unanswered = failing.ops.slice(Math.max(0, final.op));
  return {
    violation: {
      ...violation,
      message: `the process died or hung only after ${done.length - 1} earlier case${done.length === 2 ? '' : 's'} in the same process (each after its own reset):`
        + ` its case alone passes; shrunk from ${original.length} cases and ${opsIn(original)} ops to ${done.length} and ${opsIn(done)} in ${replays + 1} replays on fresh processes`
        + (seen.sent.dropped > 0 ? ` (the ${seen.sent.dropped} oldest cases of the log were not kept)` : ''),
      earlierCases: done.slice(0, -1).map((c, i) => ({ topology: c.topology, trace: traces[i]! })),
    },
    topology: failing.topology,
    cases: { before: original.length, after: done.length },
    ops: { before: opsIn(original), after: opsIn(done) },
    replays,
  };
}
