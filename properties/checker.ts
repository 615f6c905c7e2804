// The checker: runs one interpreted sequence on an adapter and judges every reply against the
// reference. After each mutating op it looks at the translation through the adapter itself —
// iova_to_phys and device accesses at the first and last byte of the touched range and just
// outside it — so a wrong state is caught where it was made, not ops later.
//
// The sequence logic is a generator that yields ops and receives outcomes; a sync driver runs
// it without a single microtask for in-process models, an async one for everything else.

import {
  type Adapter, AdapterFault, type Capabilities, type Op, type OpKind, type Outcome, type Policies, RunInterrupted, type SentLog, type Topology, U64_LIMIT,
  adapterText, formatCall, isFailure, isThenable, outcomeShapeProblem, OP_FIELDS,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import type { DomainState } from '../impl/reference/state.ts';
import { Coverage } from './coverage.ts';
import { isSetAside } from './shape.ts';
import { type Bias, Interpreter, type RawStep, type Weights } from './steps.ts';
import { type PipelinedAdapter, runPipelined } from './pipelined.ts';

export interface TraceEntry {
  op: Op;
  outcome: Outcome;
  /** Issued by the checker to observe state, not drawn by the generator. */
  probe: boolean;
}

export interface Violation {
  rule: string;
  status: 'FAIL' | 'QUALITY_WARNING' | 'ADAPTER_ERROR' | 'CRASH' | 'TIMEOUT';
  /** The op whose reply broke the rule; null when reset itself failed. */
  op: Op | null;
  expected: string[];
  observed: string;
  trace: TraceEntry[];
  message?: string;
  /**
   * Sent and never answered, oldest first: the op a process died or hung on (and any sent after
   * it), the op whose reply broke the protocol. A replay sends them after the trace.
   */
  unanswered?: Op[];
  /** A process that died or hung: everything it was sent since it started (history.ts replays it). */
  sent?: SentLog;
  /**
   * Cases the same process ran before this one, each after its own reset: a crash or hang that
   * needs them (a leak across resets) is reported with them, shrunk (history.ts).
   */
  earlierCases?: { topology: Topology; trace: TraceEntry[] }[];
}

export interface SequenceResult {
  violation: Violation | null;
  quality: Violation[];
  ops: number;
  /** An injected allocation failure was observed (fail_nth sweeps stop when none is). */
  fired: boolean;
  /** The run was stopped mid-case (a signal, the end of a time budget): nothing was judged. */
  interrupted?: boolean;
}

export interface CheckerConfig {
  topology: Topology;
  policies: Policies;
  capabilities: Capabilities;
  weights: Weights;
  bias?: Bias;
  /** Arm fault injection before the first step: the n-th allocation fails. */
  failNth?: number;
  /**
   * The reference answers its own ops and nothing is judged: the op stream a conforming adapter
   * that chose every canonical outcome would be sent (pipelining predicts with it).
   */
  selfPlay?: boolean;
  /**
   * With selfPlay: the outcomes the adapter really gave for the first ops, taken as given (they
   * were judged legal), so the prediction of the rest follows the adapter's choices.
   */
  forced?: readonly Outcome[];
  /** One request at a time even when the adapter can pipeline. */
  lockstep?: boolean;
  /** Rules and failure shapes already reported this run (shape.ts): a sequence that breaks only these ends quietly. */
  ignore: ReadonlySet<string>;
  coverage: Coverage;
  /** Ops a guest-driver kit answers from its own software (AdapterInfo.kit): their checks are not the model's. */
  kitOps?: ReadonlySet<OpKind>;
}

export type Step = Generator<Op, SequenceResult, Outcome>;

/** A step as drawn (interpreted against the reference's state) or as a concrete op (a pruned trace). */
export type DrawnStep = RawStep | Op;

export function* sequence(steps: readonly DrawnStep[], cfg: CheckerConfig, trace: TraceEntry[]): Step {
  const model = new ReferenceModel(cfg.topology, cfg.policies, cfg.capabilities);
  const weights = Object.entries(cfg.weights).filter(([k, w]) => w! > 0 && (OP_FIELDS[k as keyof typeof OP_FIELDS].capability === undefined || cfg.capabilities[OP_FIELDS[k as keyof typeof OP_FIELDS].capability!])) as [Op['op'], number][];
  const interp = new Interpreter(model, weights, cfg.capabilities, cfg.bias);
  const quality: Violation[] = [];
  const cov = cfg.coverage;
  /** Did the model (not a kit) answer the current step or one of its probes? */
  const answered = { byModel: false };
  const done = (violation: Violation | null): SequenceResult => ({ violation, quality, ops: trace.length, fired: model.injectionFired });

  /** Sends one op and judges it; returns a violation that ends the sequence, or null. */
  function* one(op: Op, probe: boolean, blame?: string): Generator<Op, Violation | 'stop' | { post?: string } , Outcome> {
    if (cfg.selfPlay) {
      const given = cfg.forced?.[trace.length];
      if (given !== undefined) model.judge(op, given);
      trace.push({ op, outcome: given ?? model.act(op), probe });
      return {};
    }
    const outcome = yield op;
    trace.push({ op, outcome, probe });
    const shape = outcomeShapeProblem(op, outcome, cfg.capabilities);
    if (shape) {
      const v: Violation = { rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op, expected: ['a well-formed reply'], observed: shape, trace };
      return isSetAside(cfg.ignore, v) ? 'stop' : v;
    }
    cov.op(op, outcome, probe);
    const j = model.judge(op, outcome);
    if (!j.ok) {
      const rule = j.intrinsic ? j.rule : (blame ?? j.rule);
      const v: Violation = { rule, status: 'FAIL', op, expected: j.expected, observed: j.observed, trace };
      return isSetAside(cfg.ignore, v) ? 'stop' : v;
    }
    if (cfg.kitOps?.has(op.op)) cov.creditKit(j.rules);
    else {
      cov.credit(j.rules);
      answered.byModel = true;
    }
    if (j.quality && !cfg.ignore.has(j.quality.rule)) {
      quality.push({ rule: j.quality.rule, status: 'QUALITY_WARNING', op, expected: [], observed: formatCall(op, outcome), trace: [...trace], message: j.quality.message });
    }
    return { post: j.post };
  }

  if (cfg.failNth !== undefined) {
    const r = yield* one({ op: 'fail_nth', n: cfg.failNth }, false);
    if (r === 'stop') return done(null);
    if ('rule' in r) return done(r);
  }
  for (const step of steps) {
    const op = isRawStep(step) ? interp.next(step) : step;
    answered.byModel = false;
    const r = yield* one(op, false);
    if (r === 'stop') return done(null);
    if ('rule' in r) return done(r);
    if (!OP_FIELDS[op.op].mutates) continue;
    for (const p of probesAfter(op, trace[trace.length - 1]!.outcome, model, cfg.capabilities)) {
      const pr = yield* one(p.op, true, p.own ? undefined : r.post);
      if (pr === 'stop') return done(null);
      if ('rule' in pr) return done(pr);
      if (p.credit && cfg.kitOps?.has(p.op.op)) cov.creditKit([p.credit]);
      else if (p.credit) cov.credit([p.credit]);
    }
    // Every look at the state this op left agreed with the reference; the model's, if the model answered any of them.
    if (r.post) {
      if (answered.byModel) cov.credit([r.post]);
      else cov.creditKit([r.post]);
    }
  }
  return done(null);
}

/**
 * What to look at after a mutating op: the edges of the range it touched in the domain, through
 * iova_to_phys and through a device of every group that translates via that domain, plus one
 * device that does not (isolation); for SVA, the bound devices through the mm's PASID; for
 * allocators, a find.
 */
export interface Probe {
  op: Op;
  /** A rule this probe exercises beyond the op's own (credited when it agrees). */
  credit?: string;
  /** A disagreement names the probe's own rule, not the rule of the op it follows. */
  own?: boolean;
}

const edges = (iova: bigint, size: bigint): bigint[] => {
  const pts = size === 0n ? [iova] : [iova - 1n, iova, iova + size - 1n, iova + size];
  return [...new Set(pts)].filter((p) => p >= 0n && p < U64_LIMIT);
};

export function probesAfter(op: Op, outcome: Outcome, model: ReferenceModel, caps: Capabilities): Probe[] {
  const out: Probe[] = [];
  const failed = isFailure(outcome);
  const dmaVia = (d: DomainState, points: bigint[], credit?: string) => {
    const groups = [...d.groups].slice(0, 2);
    points.forEach((p, i) => {
      for (const g of groups) out.push({ op: { op: 'dma', dev: g.devices[i % g.devices.length]!.spec.name, iova: p, access: i % 2 === 0 ? 'r' : 'w' }, credit });
    });
  };
  const viaDomain = (domain: string, points: bigint[], credit?: string) => {
    const d = model.domain(domain);
    if (!d) return;
    if (d.mappings && caps.iova_to_phys) for (const p of points) out.push({ op: { op: 'iova_to_phys', domain, iova: p } });
    dmaVia(d, points, credit);
    const outsider = [...model.devices.values()].find((x) => x.group.current !== d);
    if (outsider && points.length > 0) out.push({ op: { op: 'dma', dev: outsider.spec.name, iova: points[Math.min(1, points.length - 1)]!, access: 'r' }, credit: 'ISOLATION', own: true });
    for (const g of model.groups.values()) {
      for (const [pasid, pd] of g.pasids) if (pd === d && points[1] !== undefined) out.push({ op: { op: 'dma', dev: g.devices[0]!.spec.name, iova: points[1], access: 'w', pasid } });
    }
  };
  const viaMm = (mm: string, points: bigint[]) => {
    const m = model.sva.mms.get(mm);
    if (!m) return;
    for (const b of m.bonds) {
      for (const [i, p] of points.entries()) out.push({ op: { op: 'dma', dev: b.group.devices[i % b.group.devices.length]!.spec.name, iova: p, access: i % 2 === 0 ? 'r' : 'w', pasidOf: mm }, credit: 'SVA-COHERENT' });
    }
  };
  const firstMmPoints = (mm: string): bigint[] => {
    const first = model.sva.mms.get(mm)?.table.intersecting(0n, U64_LIMIT)[0];
    return first ? [first.iova, first.iova + first.size - 1n] : [0n];
  };
  switch (op.op) {
    case 'map':
      viaDomain(op.domain, edges(op.iova, op.size));
      break;
    case 'unmap': {
      const strictAfterUnmap = failed ? undefined : 'UNMAP-STRICT';
      viaDomain(op.domain, edges(op.iova, op.size), strictAfterUnmap);
      const d = model.domain(op.domain);
      if (!d || failed) break;
      // What whole-leaf removal took beyond the request must be gone from the IOTLB too.
      if (!d.removed.lazy) for (const r of d.removed.pending.filter((x) => !x.requested).slice(0, 2)) dmaVia(d, [r.iova, r.end - 1n], 'TLB-REMOVED');
      if (caps.pt_pages && d.mappings?.size === 0) out.push({ op: { op: 'pt_pages', domain: op.domain } });
      break;
    }
    case 'flush': {
      const d = model.domain(op.domain);
      if (d && !failed) for (const r of d.removed.flushed.slice(-2)) dmaVia(d, [r.iova, r.end - 1n], 'TLB-FLUSH');
      break;
    }
    case 'domain_alloc':
      if (caps.pt_pages && !failed && model.domain(op.domain)?.mappings) out.push({ op: { op: 'pt_pages', domain: op.domain } });
      // A refused allocation must leave no domain behind under that handle.
      if (failed && caps.iova_to_phys) out.push({ op: { op: 'iova_to_phys', domain: op.domain, iova: 0n } });
      break;
    case 'attach':
    case 'detach': {
      const g = model.devices.get(op.dev)!.group;
      const d = model.domain(op.domain);
      const first = d?.mappings?.intersecting(0n, U64_LIMIT)[0];
      const points = first ? [first.iova, first.iova + first.size - 1n] : [0n];
      for (const dev of g.devices) for (const p of points) out.push({ op: { op: 'dma', dev: dev.spec.name, iova: p, access: 'r' } });
      // The domain the group left (or was refused) must not be reachable from it any more.
      for (const other of model.domains.values()) {
        const m = other !== g.current ? other.mappings?.intersecting(0n, U64_LIMIT)[0] : undefined;
        if (m) {
          out.push({ op: { op: 'dma', dev: g.devices[0]!.spec.name, iova: m.iova, access: 'r' }, credit: 'ISOLATION', own: true });
          break;
        }
      }
      break;
    }
    case 'attach_pasid':
    case 'detach_pasid':
      out.push({ op: { op: 'dma', dev: op.dev, iova: 0n, access: 'r', pasid: op.pasid } });
      break;
    case 'sva_bind':
      for (const p of firstMmPoints(op.mm)) out.push({ op: { op: 'dma', dev: op.dev, iova: p, access: 'r', pasidOf: op.mm } });
      break;
    case 'sva_unbind': {
      const was = model.sva.history.get(op.bond);
      if (was) for (const p of firstMmPoints(was.mm)) out.push({ op: { op: 'dma', dev: was.dev, iova: p, access: 'r', pasidOf: was.mm } });
      break;
    }
    case 'mm_map':
    case 'mm_unmap':
      viaMm(op.mm, edges(op.va, op.size));
      break;
    case 'mm_exit': {
      const m = model.sva.mms.get(op.mm);
      const gone = m && [...m.bonds][0]?.domain.removed.pending[0];
      if (gone) viaMm(op.mm, [gone.iova, gone.end - 1n]);
      break;
    }
    case 'pasid_alloc':
    case 'pasid_get':
    case 'pasid_put':
      out.push({ op: { op: 'pasid_find', pasid: op.pasid } });
      break;
    default:
      break;
  }
  if (caps.leaves && op.op === 'map' && !failed && op.size > 0n) out.push({ op: { op: 'leaves', domain: op.domain, iova: op.iova, size: op.size } });
  return out;
}

export function adapterThrew(op: Op | null, e: unknown, trace: TraceEntry[]): SequenceResult {
  if (e instanceof RunInterrupted) return { violation: null, quality: [], ops: trace.length, fired: false, interrupted: true };
  // A transport names the protocol rule it saw broken; anything else thrown is a broken reply.
  const violation: Violation = e instanceof AdapterFault
    ? { rule: e.rule, status: e.status, op, expected: ['a reply'], observed: e.message, trace, ...(op ? { unanswered: [op] } : {}), ...(e.sent ? { sent: e.sent } : {}) }
    : { rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op, expected: ['a reply'], observed: `threw: ${adapterText(e instanceof Error ? e.message : String(e))}`, trace, ...(op ? { unanswered: [op] } : {}) };
  return { violation, quality: [], ops: trace.length, fired: false };
}

function isRawStep(step: DrawnStep): step is RawStep {
  return Array.isArray(step);
}

/**
 * Runs one sequence from a fresh reset. Returns synchronously when the adapter answers
 * synchronously; otherwise a promise.
 */
export function runSequence(adapter: Adapter, steps: readonly RawStep[], cfg: CheckerConfig): SequenceResult | Promise<SequenceResult> {
  if (adapter.pipeline && !cfg.lockstep) return runPipelined(adapter as PipelinedAdapter, steps, cfg);
  return runLockstep(adapter, steps, cfg);
}

/** Runs concrete ops (each followed by the usual probes) from a fresh reset, one request at a time. */
export function runOps(adapter: Adapter, ops: readonly Op[], cfg: CheckerConfig): SequenceResult | Promise<SequenceResult> {
  return runLockstep(adapter, ops, cfg);
}

function runLockstep(adapter: Adapter, steps: readonly DrawnStep[], cfg: CheckerConfig): SequenceResult | Promise<SequenceResult> {
  const trace: TraceEntry[] = [];
  const gen = sequence(steps, cfg, trace);
  const fail = (op: Op | null, e: unknown) => adapterThrew(op, e, trace);

  const resumeAsync = async (pending: Promise<Outcome>, op: Op): Promise<SequenceResult> => {
    let next: IteratorResult<Op, SequenceResult>;
    try {
      next = gen.next(await pending);
    } catch (e) {
      return fail(op, e);
    }
    while (!next.done) {
      const cur = next.value;
      let out: Outcome;
      try {
        out = await adapter.exec(cur);
      } catch (e) {
        return fail(cur, e);
      }
      next = gen.next(out);
    }
    return next.value;
  };

  const drive = (): SequenceResult | Promise<SequenceResult> => {
    let next = gen.next();
    while (!next.done) {
      const op = next.value;
      let out: Outcome | Promise<Outcome>;
      try {
        out = adapter.exec(op);
      } catch (e) {
        return fail(op, e);
      }
      if (isThenable(out)) return resumeAsync(out, op);
      next = gen.next(out);
    }
    return next.value;
  };

  let reset: void | Promise<void>;
  try {
    reset = adapter.reset(cfg.topology);
  } catch (e) {
    return fail(null, new Error(`reset threw: ${e instanceof Error ? e.message : String(e)}`));
  }
  return isThenable(reset) ? reset.then(drive, (e: unknown) => fail(null, e)) : drive();
}
