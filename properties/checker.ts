// The checker: runs one interpreted sequence on an adapter and judges every reply against the
// reference. After each mutating op it looks at the translation through the adapter itself —
// iova_to_phys and device accesses at the first and last byte of the touched range and just
// outside it — so a wrong state is caught where it was made, not ops later.
//
// The sequence logic is a generator that yields ops and receives outcomes; a sync driver runs
// it without a single microtask for in-process models, an async one for everything else.

import {
  type Adapter, type Capabilities, type Op, type Outcome, type Policies, type Topology, U64_LIMIT,
  formatCall, isFailure, isThenable, outcomeShapeProblem, OP_FIELDS,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { Coverage } from './coverage.ts';
import { Interpreter, type RawStep, type Weights } from './steps.ts';

export interface TraceEntry {
  op: Op;
  outcome: Outcome;
  /** Issued by the checker to observe state, not drawn by the generator. */
  probe: boolean;
}

export interface Violation {
  rule: string;
  status: 'FAIL' | 'QUALITY_WARNING' | 'ADAPTER_ERROR';
  /** The op whose reply broke the rule; null when reset itself failed. */
  op: Op | null;
  expected: string[];
  observed: string;
  trace: TraceEntry[];
  message?: string;
}

export interface SequenceResult {
  violation: Violation | null;
  quality: Violation[];
  ops: number;
}

export interface CheckerConfig {
  topology: Topology;
  policies: Policies;
  capabilities: Capabilities;
  weights: Weights;
  /** Rules already reported this run: a sequence that breaks only these ends quietly. */
  ignore: ReadonlySet<string>;
  coverage: Coverage;
}

type Step = Generator<Op, SequenceResult, Outcome>;

function* sequence(steps: readonly RawStep[], cfg: CheckerConfig, trace: TraceEntry[]): Step {
  const model = new ReferenceModel(cfg.topology, cfg.policies, cfg.capabilities);
  const weights = Object.entries(cfg.weights).filter(([k, w]) => w! > 0 && (OP_FIELDS[k as keyof typeof OP_FIELDS].capability === undefined || cfg.capabilities[OP_FIELDS[k as keyof typeof OP_FIELDS].capability!])) as [Op['op'], number][];
  const interp = new Interpreter(model, weights, cfg.capabilities);
  const quality: Violation[] = [];
  const cov = cfg.coverage;

  /** Sends one op and judges it; returns a violation that ends the sequence, or null. */
  function* one(op: Op, probe: boolean, blame?: string): Generator<Op, Violation | 'stop' | { post?: string } , Outcome> {
    const outcome = yield op;
    trace.push({ op, outcome, probe });
    const shape = outcomeShapeProblem(op, outcome);
    if (shape) {
      if (cfg.ignore.has('ADAPTER-REPLY')) return 'stop';
      return { rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op, expected: ['a well-formed reply'], observed: shape, trace };
    }
    cov.op(op, outcome, probe);
    const j = model.judge(op, outcome);
    if (!j.ok) {
      const rule = j.rule === 'XLATE-PERM' ? j.rule : (blame ?? j.rule);
      if (cfg.ignore.has(rule)) return 'stop';
      return { rule, status: 'FAIL', op, expected: j.expected, observed: j.observed, trace };
    }
    cov.credit(j.rules);
    if (j.quality && !cfg.ignore.has(j.quality.rule)) {
      quality.push({ rule: j.quality.rule, status: 'QUALITY_WARNING', op, expected: [], observed: formatCall(op, outcome), trace: [...trace], message: j.quality.message });
    }
    return { post: j.post };
  }

  for (const step of steps) {
    const op = interp.next(step);
    const r = yield* one(op, false);
    if (r === 'stop') return { violation: null, quality, ops: trace.length };
    if ('rule' in r) return { violation: r, quality, ops: trace.length };
    if (!OP_FIELDS[op.op].mutates) continue;
    for (const p of probesAfter(op, trace[trace.length - 1]!.outcome, model, cfg.capabilities)) {
      const pr = yield* one(p.op, true, p.credit === 'ISOLATION' ? 'ISOLATION' : r.post);
      if (pr === 'stop') return { violation: null, quality, ops: trace.length };
      if ('rule' in pr) return { violation: pr, quality, ops: trace.length };
      if (p.credit) cov.credit([p.credit]);
    }
    // Every look at the state this op left agreed with the reference.
    if (r.post) cov.credit([r.post]);
  }
  return { violation: null, quality, ops: trace.length };
}

/**
 * What to look at after a mutating op: the edges of the range it touched in the domain, through
 * iova_to_phys and through a device of every group that translates via that domain, plus one
 * device that does not (isolation).
 */
export interface Probe {
  op: Op;
  /** A rule this probe exercises beyond the op's own (credited when it agrees). */
  credit?: string;
}

export function probesAfter(op: Op, outcome: Outcome, model: ReferenceModel, caps: Capabilities): Probe[] {
  const out: Probe[] = [];
  const strictAfterUnmap = op.op === 'unmap' && !isFailure(outcome) ? 'UNMAP-STRICT' : undefined;
  const edges = (iova: bigint, size: bigint): bigint[] => {
    const pts = size === 0n ? [iova] : [iova - 1n, iova, iova + size - 1n, iova + size];
    return [...new Set(pts)].filter((p) => p >= 0n && p < U64_LIMIT);
  };
  const viaDomain = (domain: string, points: bigint[]) => {
    const d = model.domain(domain);
    if (!d) return;
    if (d.mappings) for (const p of points) out.push({ op: { op: 'iova_to_phys', domain, iova: p } });
    const groups = [...d.groups].slice(0, 2);
    points.forEach((p, i) => {
      for (const g of groups) out.push({ op: { op: 'dma', dev: g.devices[i % g.devices.length]!.spec.name, iova: p, access: i % 2 === 0 ? 'r' : 'w' }, credit: strictAfterUnmap });
    });
    const outsider = [...model.devices.values()].find((x) => x.group.current !== d);
    if (outsider && points.length > 0) out.push({ op: { op: 'dma', dev: outsider.spec.name, iova: points[Math.min(1, points.length - 1)]!, access: 'r' }, credit: 'ISOLATION' });
    for (const g of model.groups.values()) {
      for (const [pasid, pd] of g.pasids) if (pd === d && points[1] !== undefined) out.push({ op: { op: 'dma', dev: g.devices[0]!.spec.name, iova: points[1], access: 'w', pasid } });
    }
  };
  switch (op.op) {
    case 'map':
    case 'unmap':
      viaDomain(op.domain, edges(op.iova, op.size));
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
          out.push({ op: { op: 'dma', dev: g.devices[0]!.spec.name, iova: m.iova, access: 'r' }, credit: 'ISOLATION' });
          break;
        }
      }
      break;
    }
    case 'attach_pasid':
    case 'detach_pasid': {
      out.push({ op: { op: 'dma', dev: op.dev, iova: 0n, access: 'r', pasid: op.pasid } });
      break;
    }
    default:
      break;
  }
  if (caps.leaves && op.op === 'map' && !isFailure(outcome) && op.size > 0n) out.push({ op: { op: 'leaves', domain: op.domain, iova: op.iova, size: op.size } });
  return out;
}

function adapterThrew(op: Op | null, e: unknown, trace: TraceEntry[]): SequenceResult {
  const msg = e instanceof Error ? e.message : String(e);
  return { violation: { rule: 'ADAPTER-REPLY', status: 'ADAPTER_ERROR', op, expected: ['a reply'], observed: `threw: ${msg}`, trace }, quality: [], ops: trace.length };
}

/**
 * Runs one sequence from a fresh reset. Returns synchronously when the adapter answers
 * synchronously; otherwise a promise.
 */
export function runSequence(adapter: Adapter, steps: readonly RawStep[], cfg: CheckerConfig): SequenceResult | Promise<SequenceResult> {
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
