// One property family run through fast-check: draw (topology, raw steps), run the sequence on
// the adapter, judge it, shrink any failure to a minimal trace. A failure pins its rule so
// shrinking cannot slip to another bug; then the run goes on with that rule set aside, so one
// run reports several distinct bugs (Hypothesis's report_multiple_bugs).

import fc from 'fast-check';
import { type Adapter, type Capabilities, type Policies, type Topology, findProfile, isThenable, resolveCapabilities } from '../spec/index.ts';
import { type CheckerConfig, type SequenceResult, type Violation, runSequence } from './checker.ts';
import { Coverage } from './coverage.ts';
import type { PropertyFamily } from './families.ts';
import { type RawStep, rawStepArb } from './steps.ts';
import { topologyArbFor } from './topologies.ts';

export interface FamilyRunOptions {
  seed: number;
  /** Sequences to draw (the budget is counted in sequences, never seconds). */
  runs: number;
  /** Longest sequence, in drawn steps. */
  maxSteps: number;
  /** Replay one case: fast-check's path from a finding. */
  path?: string;
  /** Rules to set aside from the start (a replay passes the finding's). */
  ignore?: readonly string[];
  /** Distinct failures to look for before stopping. */
  maxFindings?: number;
  /** Called as soon as a finding is shrunk, before the run goes on (so nothing found is lost). */
  onFinding?: (f: Finding) => void;
  /** Wall-clock end (epoch ms): no sequence starts after it, and shrinking stops there too. */
  deadline?: number;
  /** Sequences drawn so far (not shrinking), reported every few dozen. */
  onProgress?: (sequences: number) => void;
}

export interface Finding extends Violation {
  family: string;
  seed: number;
  path: string;
  /** Rules set aside when this was found; replay needs the same. */
  ignored: string[];
  runsToFailure: number;
  shrinks: number;
  topology: Topology;
}

export interface FamilyResult {
  family: string;
  findings: Finding[];
  quality: Violation[];
  coverage: Coverage;
  runs: number;
  ms: number;
  /** The deadline came before the budget of runs was spent. */
  interrupted: boolean;
}

export interface AdapterContext {
  adapter: Adapter;
  /** Profile whose topology constraints apply when the suite generates topologies (default linux). */
  profile?: string;
  policies: Policies;
  capabilities: Capabilities;
  /** Topologies the adapter supports; 'any' lets the suite generate them. */
  topologies: 'any' | Topology[];
}

function maybeThen<T, R>(v: T | Promise<T>, f: (t: T) => R | Promise<R>): R | Promise<R> {
  return isThenable(v) ? v.then(f) : f(v);
}

/** iommufd's fail_nth selftest bounds its sweep at 400; sequences here are shorter. */
const MAX_INJECTION_POINTS = 64;
const MAX_TIMEOUTS_SHRINKING = 8;
const MAX_HANGS_AFTER_REPORT = 3;

export async function runFamily(ctx: AdapterContext, family: PropertyFamily, opts: FamilyRunOptions): Promise<FamilyResult> {
  const started = Date.now();
  const coverage = new Coverage();
  const ignore = new Set(opts.ignore ?? []);
  const findings: Finding[] = [];
  const quality = new Map<string, Violation>();
  const topoArb = ctx.topologies === 'any' ? topologyArbFor(findProfile(ctx.profile ?? 'linux')?.topology) : fc.constantFrom(...ctx.topologies);
  // size 'max': the default size would keep sequences near 5 steps whatever maxSteps says.
  const stepsArb = fc.array(rawStepArb, { minLength: 1, maxLength: Math.min(opts.maxSteps, family.maxSteps ?? Infinity), size: 'max' });
  let runsLeft = Math.max(1, Math.round(opts.runs * (family.budgetShare ?? 1)));
  let totalRuns = 0;

  // Capabilities the profile's interface has and the adapter did not mention still apply.
  const capabilities = resolveCapabilities(ctx.profile ?? 'linux', ctx.capabilities);
  const config = (topology: Topology, cov: Coverage, failNth?: number): CheckerConfig => ({
    topology, policies: ctx.policies, capabilities, weights: family.weights, bias: family.bias, ignore, coverage: cov, failNth,
  });
  const run = (topology: Topology, steps: readonly RawStep[], cov: Coverage, failNth?: number) => runSequence(ctx.adapter, steps, config(topology, cov, failNth));
  // A sweep moves the injection point along the sequence until a run no longer hits it.
  const sweep = (topology: Topology, steps: readonly RawStep[], cov: Coverage, n: number): SequenceResult | Promise<SequenceResult> =>
    maybeThen(run(topology, steps, cov, n), (r) => (r.violation || !r.fired || n >= MAX_INJECTION_POINTS ? r : sweep(topology, steps, cov, n + 1)));
  const once = (topology: Topology, steps: readonly RawStep[], cov: Coverage) =>
    family.sweep === 'fail_nth' ? sweep(topology, steps, cov, 1) : run(topology, steps, cov);

  const timeLeft = () => (opts.deadline === undefined ? Infinity : opts.deadline - Date.now());
  let hangsAfterReport = 0;
  let hopeless = false;
  for (let round = 0; round < (opts.maxFindings ?? 4) && runsLeft > 0 && timeLeft() > 0; round++) {
    let target: string | null = null;
    let first: { violation: Violation; topology: Topology } | null = null;
    let current: Topology | null = null;
    let timeoutsWhileShrinking = 0;
    // Only the first, unshrunk pass counts toward coverage.
    const judge = (r: SequenceResult, cov: Coverage): boolean => {
      if (target === null) {
        coverage.merge(cov);
        if (++coverage.sequences % 32 === 0) opts.onProgress?.(coverage.sequences);
        for (const q of r.quality) if (!quality.has(q.rule)) quality.set(q.rule, q);
      }
      // A process that keeps hanging makes every case cost a whole timeout: after a few more
      // than the one reported, the family stops running cases (its rules show as unchecked).
      if (r.violation?.status === 'TIMEOUT' && ignore.has(r.violation.rule) && ++hangsAfterReport >= MAX_HANGS_AFTER_REPORT) hopeless = true;
      // A rule already reported is set aside whatever produced it (a throw ends up here too).
      if (!r.violation || ignore.has(r.violation.rule)) return true;
      if (target === null) {
        target = r.violation.rule;
        first = { violation: r.violation, topology: current! };
      }
      // Each shrink attempt that hangs costs a whole timeout: after a few, stop shrinking.
      else if (r.violation.status === 'TIMEOUT' && ++timeoutsWhileShrinking >= MAX_TIMEOUTS_SHRINKING) return true;
      return r.violation.rule !== target;
    };
    const predicate = (topology: Topology, steps: RawStep[]) => {
      // Not run at all: shrinking a hang past its budget, or a family given up on hangs.
      if (hopeless || (target !== null && timeoutsWhileShrinking >= MAX_TIMEOUTS_SHRINKING)) return true;
      const cov = new Coverage();
      current = topology;
      return maybeThen(once(topology, steps, cov), (r) => judge(r, cov));
    };
    const probe = once(fc.sample(topoArb, { seed: opts.seed, numRuns: 1 })[0]!, [[0, 0, 0, 0, 0, 0]], new Coverage());
    const isAsync = isThenable(probe);
    if (isAsync) await probe;
    const params: fc.Parameters<[Topology, RawStep[]]> = {
      seed: opts.seed + round * 7919,
      numRuns: runsLeft,
      ...(opts.path !== undefined ? { path: opts.path, endOnFailure: true } : {}),
      ...(opts.deadline !== undefined ? { interruptAfterTimeLimit: Math.max(1, timeLeft()) } : {}),
    };
    const details = isAsync
      ? await fc.check(fc.asyncProperty(topoArb, stepsArb, async (t, s) => predicate(t, s)), params)
      : fc.check(fc.property(topoArb, stepsArb, (t, s) => predicate(t, s) as boolean), params);
    totalRuns += details.numRuns;
    runsLeft -= details.numRuns;
    if (!details.failed || !details.counterexample) break;
    const [shrunkTopology, steps] = details.counterexample;
    const again = await once(shrunkTopology, steps, new Coverage());
    // What was seen is never dropped: if the minimal case does not fail the same way again (an
    // adapter whose answers depend on its history), the case as first seen is reported.
    const reproduced = again.violation?.rule === target;
    const violation = reproduced ? again.violation! : { ...first!.violation, message: `did not fail again when rerun (the adapter's answers depend on more than the trace): this is the case as first seen${first!.violation.message ? `; ${first!.violation.message}` : ''}` };
    const topology = reproduced ? shrunkTopology : first!.topology;
    findings.push({
      ...violation,
      family: family.id,
      seed: params.seed!,
      path: reproduced ? details.counterexamplePath ?? '' : (details.counterexamplePath ?? '').split(':')[0]!,
      ignored: [...ignore],
      runsToFailure: details.numRuns,
      shrinks: details.numShrinks,
      topology,
    });
    opts.onFinding?.(findings[findings.length - 1]!);
    ignore.add(violation.rule);
    if (opts.path !== undefined) break;
  }
  const interrupted = runsLeft > 0 && timeLeft() <= 0;
  return { family: family.id, findings, quality: [...quality.values()], coverage, runs: totalRuns, ms: Date.now() - started, interrupted };
}
