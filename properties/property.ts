// One property family run through fast-check: draw (topology, raw steps), run the sequence on
// the adapter, judge it, shrink any failure to a minimal trace. A failure pins its rule so
// shrinking cannot slip to another bug; then the run goes on with that rule set aside, so one
// run reports several distinct bugs (Hypothesis's report_multiple_bugs).

import fc from 'fast-check';
import { type Adapter, type Capabilities, type OpKind, type Policies, type Topology, findProfile, formatCall, isThenable, resolveCapabilities } from '../spec/index.ts';
import { type CheckerConfig, type SequenceResult, type Violation, runOps, runSequence } from './checker.ts';
import { drawnOps, pruneSteps } from './prune.ts';
import { shrinkHistory } from './history.ts';
import { type PipelinedAdapter, runBatch } from './pipelined.ts';
import { Coverage } from './coverage.ts';
import type { PropertyFamily } from './families.ts';
import { type RawStep, rawStepArb } from './steps.ts';
import { FULL_SWARM, type Swarm, swarmArb, swarmWeights } from './swarm.ts';
import { topologyArbFor } from './topologies.ts';
import { type SetAsideBy, failureShape, isSetAside, setAsideKey } from './shape.ts';

export interface FamilyRunOptions {
  seed: number;
  /** Sequences to draw (the budget is counted in sequences, never seconds). */
  runs: number;
  /** Longest sequence, in drawn steps. */
  maxSteps: number;
  /**
   * Swarm generation (swarm.ts): each sequence switches off some of the family's op kinds.
   * Off unless true (on the mutant catalogue it did not measure better: see swarm.ts); a path
   * found with it replays only with it, and one found without it only without.
   */
  swarm?: boolean;
  /** Replay one case: fast-check's path from a finding. */
  path?: string;
  /** Rules and failure shapes to set aside from the start (a replay passes the finding's). */
  ignore?: readonly string[];
  /** After a finding, set aside its rule (the default) or only failures of its shape (shape.ts). */
  setAsideBy?: SetAsideBy;
  /** Distinct failures to look for before stopping (by rule 4; by shape, as many as the runs meet). */
  maxFindings?: number;
  /** Called as soon as a finding is shrunk, before the run goes on (so nothing found is lost). */
  onFinding?: (f: Finding) => void;
  /** Wall-clock end (epoch ms): no sequence starts after it, and shrinking stops there too. */
  deadline?: number;
  /** Sequences drawn so far (not shrinking), reported every few dozen. */
  onProgress?: (sequences: number) => void;
  /** Stops the family at once (a signal): the case in flight is abandoned, nothing is judged. */
  signal?: AbortSignal;
}

export interface Finding extends Violation {
  family: string;
  seed: number;
  path: string;
  /** Rules and shapes set aside when this was found; replay needs the same. */
  ignored: string[];
  /** What it looks like (shape.ts): what a known cause is matched on. */
  shape: string;
  runsToFailure: number;
  shrinks: number;
  /** Drawn ops the post-shrink pass deleted (prune.ts). */
  pruned: number;
  topology: Topology;
}

export interface FamilyResult {
  family: string;
  findings: Finding[];
  quality: Violation[];
  coverage: Coverage;
  runs: number;
  ms: number;
  /** The deadline or a signal came before the budget of runs was spent. */
  interrupted: boolean;
  /** Why the family stopped running cases before its budget (an adapter that keeps hanging). */
  stopped?: string;
  /** Sequences that ended early at a rule already reported, by rule: what they did not reach is unchecked. */
  cutShort: Record<string, number>;
}

/** One drawn case beside its topology: the swarm configuration and the raw steps. */
export interface DrawnCase {
  swarm: Swarm;
  steps: RawStep[];
}

export interface AdapterContext {
  adapter: Adapter;
  /** Profile whose topology constraints apply when the suite generates topologies (default linux). */
  profile?: string;
  policies: Policies;
  capabilities: Capabilities;
  /** Topologies the adapter supports; 'any' lets the suite generate them. */
  topologies: 'any' | Topology[];
  /** Ops a guest-driver kit answers from its own software (AdapterInfo.kit). */
  kitOps?: readonly OpKind[];
}

function maybeThen<T, R>(v: T | Promise<T>, f: (t: T) => R | Promise<R>): R | Promise<R> {
  return isThenable(v) ? v.then(f) : f(v);
}

/** iommufd's fail_nth selftest bounds its sweep at 400; sequences here are shorter. */
const MAX_INJECTION_POINTS = 64;
/** Shrink attempts that hang (a timeout each) or crash (a process restart each) before shrinking stops. */
const MAX_TIMEOUTS_SHRINKING = 8;
const MAX_CRASHES_SHRINKING = 15;
/**
 * Shrinking a crash that needs the process's history: ops replayed per op of the log (at least
 * HISTORY_MIN_OPS), and replays in all (each a fresh process).
 */
const HISTORY_REPLAYS_PER_OP = 40;
const HISTORY_MIN_OPS = 50_000;
const HISTORY_MAX_REPLAYS = 400;
/** Cases per round trip to a process (see runBatch): a round trip costs about what a case does. */
const BATCH = 16;
/** Each further hang costs a whole timeout; each further crash a process restart. */
const MAX_HANGS_AFTER_REPORT = 3;
const MAX_CRASHES_AFTER_REPORT = 10;
const MAX_CRASHES_IN_A_ROW = 5;
/** Candidate runs of the post-shrink pass, per drawn op of the shrunk trace. */
const PRUNE_RUNS_PER_OP = 4;

export async function runFamily(ctx: AdapterContext, family: PropertyFamily, opts: FamilyRunOptions): Promise<FamilyResult> {
  const started = Date.now();
  const coverage = new Coverage();
  const ignore = new Set(opts.ignore ?? []);
  const findings: Finding[] = [];
  const quality = new Map<string, Violation>();
  const topoArb = ctx.topologies === 'any' ? topologyArbFor(findProfile(ctx.profile ?? 'linux')?.topology) : fc.constantFrom(...ctx.topologies);
  // size 'max': the default size would keep sequences near 5 steps whatever maxSteps says.
  const stepsArb = fc.array(rawStepArb, { minLength: 1, maxLength: Math.min(opts.maxSteps, family.maxSteps ?? Infinity), size: 'max' });
  // Without swarm the case is the steps alone, as before swarm existed, so older paths replay.
  const caseArb: fc.Arbitrary<DrawnCase> = opts.swarm !== true
    ? stepsArb.map((steps) => ({ swarm: FULL_SWARM, steps }))
    : fc.tuple(swarmArb(family), stepsArb).map(([swarm, steps]) => ({ swarm, steps }));
  let runsLeft = Math.max(1, Math.round(opts.runs * (family.budgetShare ?? 1)));
  let totalRuns = 0;

  // Capabilities the profile's interface has and the adapter did not mention still apply.
  const capabilities = resolveCapabilities(ctx.profile ?? 'linux', ctx.capabilities);
  const kitOps = ctx.kitOps && ctx.kitOps.length > 0 ? new Set(ctx.kitOps) : undefined;
  const config = (topology: Topology, swarm: Swarm, cov: Coverage, lockstep: boolean, failNth?: number): CheckerConfig => ({
    topology, policies: ctx.policies, capabilities, weights: swarmWeights(family.weights, swarm), bias: family.bias, ignore, coverage: cov, failNth, lockstep, kitOps,
  });
  const run = (topology: Topology, c: DrawnCase, cov: Coverage, lockstep: boolean, failNth?: number) =>
    runSequence(ctx.adapter, c.steps, config(topology, c.swarm, cov, lockstep, failNth));
  // A sweep moves the injection point along the sequence until a run no longer hits it.
  const sweep = (topology: Topology, c: DrawnCase, cov: Coverage, lockstep: boolean, n: number): SequenceResult | Promise<SequenceResult> =>
    maybeThen(run(topology, c, cov, lockstep, n), (r) => (r.violation
      ? blameInjection(r, topology, c, lockstep, n)
      : !r.fired || n >= MAX_INJECTION_POINTS ? r : sweep(topology, c, cov, lockstep, n + 1)));
  // An op that failed with the injected ENOMEM must change nothing: the ops after it behave as
  // if it had never been issued. Its damage may show only in a later reply, judged under that
  // reply's rule; if the ops pass with the failed op (and the injection) left out, the failed op
  // is the cause: the finding is FAIL-ATOMIC, and says which rule the damage surfaced under.
  const blameInjection = (r: SequenceResult, topology: Topology, c: DrawnCase, lockstep: boolean, n: number): SequenceResult | Promise<SequenceResult> => {
    const v = r.violation!;
    if (!r.fired || v.status !== 'FAIL' || v.rule === 'FAIL-ATOMIC') return r;
    const drawn = v.trace.filter((e) => !e.probe);
    const failed = drawn.filter((e) => e.op.op !== 'fail_nth' && 'err' in e.outcome && e.outcome.err === 'ENOMEM');
    if (failed.length === 0 || drawn.at(-1) === failed.at(-1)) return r;
    const without = drawn.filter((e) => e.op.op !== 'fail_nth' && !failed.includes(e)).map((e) => e.op);
    const clean = runOps(ctx.adapter, without, { ...config(topology, c.swarm, new Coverage(), lockstep), ignore: new Set() });
    return maybeThen(clean, (k) => {
      if (k.violation !== null || k.interrupted) return r;
      const why = `FAIL-ATOMIC suspected: ${failed.map((e) => formatCall(e.op, e.outcome)).join(', ')} failed under fail_nth(${n}), and the ops after it pass when it is left out,`
        + ` so it changed something; the damage showed as ${v.rule}`;
      return { ...r, violation: { ...v, rule: 'FAIL-ATOMIC', message: v.message ? `${why}; ${v.message}` : why } };
    });
  };
  // The reported case is run once more one request at a time: an adapter process that dies or
  // hangs then has answered everything before the request that killed it, and the trace shows it.
  const once = (topology: Topology, c: DrawnCase, cov: Coverage, lockstep = false) =>
    family.sweep === 'fail_nth' ? sweep(topology, c, cov, lockstep, 1) : run(topology, c, cov, lockstep);

  const timeLeft = () => (opts.deadline === undefined ? Infinity : opts.deadline - Date.now());
  // One way to stop, whatever asks for it: a signal or the deadline. A supervised adapter gives up
  // on what is outstanding, so a hung request cannot hold the run past either.
  const stop = new AbortController();
  const halt = () => {
    if (stop.signal.aborted) return;
    stop.abort();
    ctx.adapter.interrupt?.();
  };
  if (opts.signal?.aborted) halt();
  opts.signal?.addEventListener('abort', halt, { once: true });
  const deadlineTimer = opts.deadline === undefined ? null : setTimeout(halt, Math.max(0, timeLeft()));
  const stopping = () => stop.signal.aborted || timeLeft() <= 0;
  const cutShort: Record<string, number> = {};
  let hangsAfterReport = 0;
  let crashesAfterReport = 0;
  let crashesInARow = 0;
  let stopped: string | undefined;
  try {
    const by = opts.setAsideBy ?? 'rule';
    const maxFindings = opts.maxFindings ?? (by === 'shape' ? Infinity : 4);
    for (let round = 0; round < maxFindings && runsLeft > 0 && !stopping() && stopped === undefined; round++) {
      let target: string | null = null;
      let first: { violation: Violation; topology: Topology } | null = null;
      let current: Topology | null = null;
      let timeoutsWhileShrinking = 0;
      let crashesWhileShrinking = 0;
      const shrinkSpent = () => timeoutsWhileShrinking >= MAX_TIMEOUTS_SHRINKING || crashesWhileShrinking >= MAX_CRASHES_SHRINKING;
      // Only the first, unshrunk pass counts toward coverage.
      const judge = (r: SequenceResult, cov: Coverage): boolean => {
        // Stopped mid-case: neither a pass nor a failure; fast-check ends the run here.
        if (r.interrupted) throw new fc.PreconditionFailure(true);
        const v = r.violation;
        if (target === null) {
          coverage.merge(cov);
          if (++coverage.sequences % 32 === 0) opts.onProgress?.(coverage.sequences);
          for (const q of r.quality) if (!quality.has(q.rule)) quality.set(q.rule, q);
          if (v && isSetAside(ignore, v)) cutShort[v.rule] = (cutShort[v.rule] ?? 0) + 1;
          // A crash before anything was answered (at reset, say) is a case that checked nothing.
          crashesInARow = v?.status === 'CRASH' && v.trace.length === 0 ? crashesInARow + 1 : 0;
        }
        // A process that keeps hanging or dying makes every case cost a timeout or a restart:
        // after a few more than the one reported, the family stops (its rules show as unchecked).
        if (v && isSetAside(ignore, v)) {
          if (v.status === 'TIMEOUT' && ++hangsAfterReport >= MAX_HANGS_AFTER_REPORT) stopped = `the adapter timed out ${hangsAfterReport} more times after ${v.rule} was reported`;
          if (v.status === 'CRASH' && (++crashesAfterReport >= MAX_CRASHES_AFTER_REPORT || crashesInARow >= MAX_CRASHES_IN_A_ROW)) stopped = `the adapter kept crashing after ${v.rule} was reported (${crashesAfterReport} more crashes)`;
        }
        // A rule already reported is set aside whatever produced it (a throw ends up here too).
        if (!v || isSetAside(ignore, v)) return true;
        if (target === null) {
          target = setAsideKey(v, by);
          first = { violation: v, topology: current! };
        }
        // Each shrink attempt that hangs costs a whole timeout, one that crashes a restart: after
        // a few, stop shrinking (the smallest case found so far is reported).
        else {
          if (v.status === 'TIMEOUT') timeoutsWhileShrinking++;
          if (v.status === 'CRASH') crashesWhileShrinking++;
          if (shrinkSpent()) return true;
        }
        return setAsideKey(v, by) !== target;
      };
      // A transport (a process) is asynchronous, and its first case must be judged like any other
      // (an adapter may break only once in a process's life). An adapter object is tried on one
      // case to see whether it answers synchronously, which fast-check then runs without a promise.
      let isAsync = typeof ctx.adapter.pipeline === 'function' || typeof ctx.adapter.interrupt === 'function';
      if (!isAsync) {
        const probe = once(fc.sample(topoArb, { seed: opts.seed, numRuns: 1 })[0]!, { swarm: FULL_SWARM, steps: [[0, 0, 0, 0, 0, 0]] }, new Coverage());
        isAsync = isThenable(probe);
        if (isAsync) await probe;
      }
      const params: fc.Parameters<[Topology, DrawnCase]> = {
        seed: opts.seed + round * 7919,
        numRuns: runsLeft,
        ...(opts.path !== undefined ? { path: opts.path, endOnFailure: true } : {}),
        ...(opts.deadline !== undefined ? { interruptAfterTimeLimit: Math.max(1, timeLeft()) } : {}),
      };
      // The search over a process goes BATCH cases per round trip (see runBatch). fast-check is
      // told a case passed when it is queued; the batch is judged in order when it is full, and
      // at the first failure the search stops there. fast-check then replays that very case
      // (its path is its index) and shrinks it one case at a time, as without batches: the same
      // seed finds the same case, the same minimal trace and the same coverage either way.
      const batchable = isAsync && typeof ctx.adapter.pipeline === 'function' && opts.path === undefined && family.sweep === undefined;
      const queued: { topology: Topology; drawn: DrawnCase; cov: Coverage; index: number }[] = [];
      let searched = 0;
      let failedAt: number | null = null;
      const judgeBatch = async (): Promise<boolean> => {
        const batch = queued.splice(0);
        await runBatch(ctx.adapter as PipelinedAdapter, batch.map((b) => ({ steps: b.drawn.steps, cfg: config(b.topology, b.drawn.swarm, b.cov, false) })), (r, j) => {
          current = batch[j]!.topology;
          if (!judge(r, batch[j]!.cov)) failedAt = batch[j]!.index;
          return failedAt === null && stopped === undefined;
        });
        // A failure ends the search here; so does a family given up on. Not a failure as
        // fast-check sees it (the failing case passed long ago as far as it knows).
        if (failedAt !== null || stopped !== undefined) throw new fc.PreconditionFailure(true);
        return true;
      };
      const predicate = (topology: Topology, drawn: DrawnCase) => {
        // Stopped, or given up on: fast-check ends the run (keeping any failure it was shrinking).
        if (stopping() || stopped !== undefined) throw new fc.PreconditionFailure(true);
        // Not run at all: shrinking a hang or a crash past its budget.
        if (target !== null && shrinkSpent()) return true;
        const cov = new Coverage();
        if (batchable && target === null) {
          const index = searched++;
          queued.push({ topology, drawn, cov, index });
          return queued.length >= BATCH || index === params.numRuns! - 1 ? judgeBatch() : true;
        }
        current = topology;
        return maybeThen(once(topology, drawn, cov), (r) => judge(r, cov));
      };
      const property = (p: fc.Parameters<[Topology, DrawnCase]>) => (isAsync
        ? fc.check(fc.asyncProperty(topoArb, caseArb, async (t, c) => predicate(t, c)), p)
        : fc.check(fc.property(topoArb, caseArb, (t, c) => predicate(t, c) as boolean), p));
      let details = await property(params);
      if (failedAt !== null) {
        // The batch's failure, replayed alone and shrunk; its runs are those up to it.
        const searchedRuns: number = failedAt + 1;
        // In a fresh process, as the case met one (or nearly: a process answers a batch in a row).
        ctx.adapter.restart?.();
        details = await property({ ...params, numRuns: searchedRuns, path: String(failedAt) });
        details = { ...details, numRuns: searchedRuns };
      }
      totalRuns += details.numRuns;
      runsLeft -= details.numRuns;
      if (first === null) break;
      const seen: { violation: Violation; topology: Topology } = first;
      // The minimal case fast-check shrank to; none when a batch's failing case, replayed alone,
      // did not fail again.
      const shrunk = details.failed ? details.counterexample : null;
      // Run again as a replay would run it: a fresh process, one request at a time. Stopped
      // while shrinking, the case cannot be run again, so it is reported as first seen.
      ctx.adapter.restart?.();
      const again = stopping() || !shrunk ? null : await once(shrunk[0], shrunk[1], new Coverage(), true);
      // What was seen is never dropped: if the minimal case does not fail the same way again (an
      // adapter whose answers depend on its history), the case as first seen is reported.
      const reproduced = again?.violation ? setAsideKey(again.violation, by) === target : false;
      const why = !shrunk && !stopping()
        ? "did not fail again when replayed alone (the adapter's answers depend on more than the trace): this is the case as first seen"
        : again === null ? 'the run was stopped while shrinking: this is the case as first seen'
          : "did not fail again when rerun (the adapter's answers depend on more than the trace): this is the case as first seen";
      let violation = reproduced ? again!.violation! : { ...seen.violation, message: `${why}${seen.violation.message ? `; ${seen.violation.message}` : ''}` };
      let topology = reproduced ? shrunk![0] : seen.topology;
      // A process that died or hung only after earlier cases: its whole life is replayed and shrunk.
      const sent = seen.violation.sent;
      if (!reproduced && sent && (seen.violation.status === 'CRASH' || seen.violation.status === 'TIMEOUT') && !stopping()) {
        const ops = sent.cases.reduce((n, c) => n + c.ops.length + 1, 0);
        const h = await shrinkHistory(ctx.adapter, { ...seen.violation, sent }, { opsBudget: Math.max(HISTORY_MIN_OPS, HISTORY_REPLAYS_PER_OP * ops), maxReplays: HISTORY_MAX_REPLAYS, maxTimeouts: MAX_TIMEOUTS_SHRINKING, stopping });
        if (h) {
          violation = h.violation;
          topology = h.topology;
        }
      }
      let pruned = 0;
      const sameFailure = (x: Violation, y: Violation) => setAsideKey(x, by) === setAsideKey(y, by) && x.status === y.status;
      // A FAIL is pruned as concrete ops (a sweep's injection point and a crash's or hang's
      // restarts would not survive a deletion); kept only if it fails again in a fresh process.
      if (reproduced && violation.status === 'FAIL' && family.sweep === undefined && !stopping()) {
        const cfg = () => config(topology, shrunk![1].swarm, new Coverage(), true);
        const p = await pruneSteps(violation, (ops) => runOps(ctx.adapter, ops, cfg()), PRUNE_RUNS_PER_OP * drawnOps(violation).length, stopping, sameFailure);
        if (p.removed > 0) {
          ctx.adapter.restart?.();
          const check = stopping() ? null : (await runOps(ctx.adapter, drawnOps(p.violation), cfg())).violation;
          if (check && sameFailure(check, violation)) {
            violation = check;
            pruned = p.removed;
          }
        }
      }
      const path = details.counterexamplePath ?? String(failedAt ?? 0);
      // The log itself stays here: a finding carries only its shrunk earlier cases.
      const { sent: _sent, ...kept } = violation;
      findings.push({
        ...kept,
        family: family.id,
        seed: params.seed!,
        path: reproduced ? path : path.split(':')[0]!,
        ignored: [...ignore],
        shape: failureShape(violation),
        runsToFailure: details.numRuns,
        shrinks: details.numShrinks,
        pruned,
        topology,
      });
      opts.onFinding?.(findings[findings.length - 1]!);
      // The shape first seen too: a crash shrunk through its history may end on another op, and
      // the raw failure would otherwise be met (and reported) again in every later round.
      ignore.add(setAsideKey(violation, by));
      ignore.add(setAsideKey(seen.violation, by));
      if (opts.path !== undefined) break;
    }
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    opts.signal?.removeEventListener('abort', halt);
  }
  const interrupted = runsLeft > 0 && stopped === undefined && stopping();
  return {
    family: family.id, findings, quality: [...quality.values()], coverage, runs: totalRuns, ms: Date.now() - started, interrupted, cutShort,
    ...(stopped !== undefined ? { stopped } : {}),
  };
}
