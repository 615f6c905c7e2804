// Runs every property family against one adapter and turns the results into a report: a
// status per rule, every finding with its minimal trace and replay line, coverage, and the
// coverage gate.

import { createRequire } from 'node:module';
import {
  type Adapter, AdapterFault, type AdapterInfo, type Capabilities, ConfigError, type KitInfo, type Op, type Outcome, RULES, RunInterrupted, type Status,
  OP_FIELDS, type OpKind, type Topology, adapterText, encodeOp, encodeOutcome, formatOp, resolveCapabilities, resolvePolicies, validateTopology,
} from '../spec/index.ts';
import { Coverage, type CoverageReport } from '../properties/coverage.ts';
import { FAMILIES_OF_PROPERTIES, type PropertyFamily } from '../properties/families.ts';
import { type FamilyResult, type Finding, runFamily } from '../properties/property.ts';
import type { TraceEntry, Violation } from '../properties/checker.ts';
import { type SetAsideBy, failureShape, recordedKey } from '../properties/shape.ts';
import { type AdapterOptions, PROCESS_PREFIX } from './adapters.ts';
import { type Corpus, findingKey, replayCorpus } from './corpus.ts';
import { readableHistory, readableTrace } from './readable-trace.ts';
import { type SameCause, groupByCause } from './root-cause.ts';
import { runUnits } from './parallel.ts';
import { type Shard, planSlices, sliceSeed } from './slices.ts';
import type { Unit, UnitResult } from './worker-task.ts';
import { type FamilyLine, type RuleRow, familyRows, ruleVerdicts, summarize } from './verdict.ts';

export type { FamilyLine, RuleRow } from './verdict.ts';

export const SUITE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
export const REPORT_SCHEMA = 1;

export interface SuiteOptions {
  adapterSpec: string;
  seed: number;
  runs: number;
  maxSteps: number;
  /** Swarm generation (properties/swarm.ts), off unless true. */
  swarm?: boolean;
  families?: readonly string[];
  path?: string;
  ignore?: readonly string[];
  /** After a finding, set aside its rule (the default: one finding per rule) or only failures of its shape (properties/shape.ts). */
  setAsideBy?: SetAsideBy;
  /** Minimum generated ops per op kind a family draws (the coverage gate). */
  minOpsPerKind: number;
  /** Highest tolerated share of skipped steps. */
  maxSkipRate: number;
  /** The failure database: its open findings are replayed first, new ones stored at the end. */
  corpus?: Corpus;
  /** Every finding as soon as it is known (replayed or shrunk), e.g. to append to findings.jsonl. */
  onFinding?: (f: ReportFinding) => void;
  /** Worker threads; above 1 each family is cut into seeded slices (runner/slices.ts planSlices) run in parallel. */
  workers?: number;
  /** How the adapter was made, so each worker can make its own (needed for workers > 1). */
  adapterOptions?: AdapterOptions;
  /** This run is shard `index` of `count` (from 0): its slices take their own seeds. */
  shard?: Shard;
  /** Wall-clock budget: run until it is spent (then --runs is ignored) and bound shrinking by it. */
  timeMs?: number;
  /**
   * Stops the run (SIGINT, SIGTERM): the case in flight is abandoned, what finished is reported,
   * rules nothing reached are INTERRUPTED. Workers get a grace period to hand back their results.
   */
  signal?: AbortSignal;
  /** Stops at once, without the grace period (a second signal). */
  hardSignal?: AbortSignal;
  /** Sequences drawn so far across every family (for progress bars and status lines). */
  onProgress?: (p: { sequences: number; findings: number }) => void;
}

/** Who a finding is about: enough to replay it with nothing else at hand. */
export interface FindingAdapter {
  name: string;
  version: string;
  spec: string;
  profile: string;
  policies: Record<string, string>;
  capabilities: Capabilities;
  /** The options the adapter was made with (a builtin's --profile and --policy), when known. */
  options?: AdapterOptions;
}

/** One trace entry as reports store it (64-bit values as hex strings). */
export interface WireEntry {
  op: Record<string, unknown>;
  outcome: Record<string, unknown>;
  probe: boolean;
}

export interface ReportFinding {
  /** Stable identity: rule, adapter and the shape of the minimal trace (see corpus.ts). */
  id: string;
  rule: string;
  title: string;
  status: Status;
  family: string;
  op: string | null;
  expected: string[];
  observed: string;
  message?: string;
  /** The topology in one line, then the minimal trace as readable calls (runner/readable-trace.ts: probes that fed no verdict are left out). */
  trace: string[];
  /** The complete trace, replayable as data. */
  ops: WireEntry[];
  /**
   * Cases the same adapter process ran before, each after a reset to its topology, without
   * which the failure does not happen (a crash after a leak across resets). Replay runs them
   * first; the seed and path alone do not reproduce such a finding.
   */
  earlierCases?: { topology: unknown; ops: WireEntry[] }[];
  /** Ops sent and never answered (the one a process died or hung on, the one whose reply broke the protocol): a replay sends them after `ops`. */
  unanswered?: Record<string, unknown>[];
  seed: number;
  path: string;
  ignored: string[];
  /** What the failure looks like (properties/shape.ts): what a judged cause is matched on. */
  shape: string;
  runsToFailure: number;
  shrinks: number;
  /** Drawn ops the post-shrink pass deleted after shrinking. */
  pruned: number;
  topology: unknown;
  replay: string;
  adapter: FindingAdapter;
  /** Listed under another finding: its trace replays as that one's failure (root-cause.ts). */
  sameCauseAs?: SameCause;
}

export interface Report {
  schema: number;
  suiteVersion: string;
  startedAt: string;
  durationMs: number;
  adapter: { name: string; version: string; profile: string; policies: Record<string, string>; capabilities: Capabilities; spec: string; kit?: KitInfo };
  /** setAsideBy: how findings were set aside (properties/shape.ts); absent in reports from before it existed (by rule). */
  budget: { seed: number; runs: number; maxSteps: number; timeMs: number | null; workers: number; shard: { index: number; count: number }; setAsideBy?: SetAsideBy };
  /** A time budget ended some family before its runs were spent (expected under --time). */
  interrupted: boolean;
  rules: RuleRow[];
  families: FamilyLine[];
  findings: ReportFinding[];
  quality: ReportFinding[];
  coverage: CoverageReport & { skipRate: number };
  gate: { ok: boolean; problems: string[] };
  /** Stored findings replayed before the run: how many still fail, how many are now fixed. */
  corpus: { dir: string; replayed: number; reproduced: number; fixed: number } | null;
  /** For a report made by `merge`: the reports it combines. */
  merged: string[] | null;
  summary: Record<Status, number> & { exitCode: number };
}

/** Longest text field of a finding (observed, a trace line): a leaves list can be long, a message need not be. */
const REPORT_TEXT_MAX = 4000;

/** The wire form of an outcome, its free-text `msg` bounded. */
function boundedOutcome(op: Op, o: Outcome): Record<string, unknown> {
  const wire = encodeOutcome(op, o);
  return typeof wire.msg === 'string' ? { ...wire, msg: adapterText(wire.msg) } : wire;
}

/** A word as a POSIX shell reads it back unchanged: bare when safe, else single-quoted. */
export function shellWord(w: string): string {
  return /^[\w./:@%+=,-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

function replayLine(opts: SuiteOptions, f: Finding): string {
  const ign = f.ignored.length > 0 ? ` --ignore ${shellWord(f.ignored.join(','))}` : '';
  const by = opts.setAsideBy === 'shape' ? ' --set-aside shape' : '';
  // The options the adapter was made with (a builtin's profile, policies, mutant) come along.
  const made = opts.adapterOptions;
  const profile = made?.profile ? ` --profile ${shellWord(made.profile)}` : '';
  const policies = Object.entries(made?.policies ?? {}).map(([k, v]) => ` --policy ${shellWord(`${k}=${v}`)}`).join('');
  const adapter = opts.adapterSpec.startsWith(PROCESS_PREFIX) ? `--adapter-cmd ${shellWord(opts.adapterSpec.slice(PROCESS_PREFIX.length))}` : `--adapter ${shellWord(opts.adapterSpec)}`;
  return `npx iommu-conformance run ${adapter}${profile}${policies} --family ${f.family} --seed ${f.seed} --path "${f.path}" --max-steps ${opts.maxSteps}${opts.swarm === true ? ' --swarm' : ''}${by}${ign}`;
}

function wireEntries(trace: readonly TraceEntry[]): WireEntry[] {
  return trace.map((e) => ({ op: encodeOp(e.op), outcome: boundedOutcome(e.op, e.outcome), probe: e.probe }));
}

function wireTopology(t: Topology): unknown {
  return JSON.parse(JSON.stringify(t, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x)));
}

function toReportFinding(v: Violation & Partial<Finding>, opts: SuiteOptions, status: Status, adapter: FindingAdapter): ReportFinding {
  const rule = RULES.find((r) => r.id === v.rule);
  const f: Omit<ReportFinding, 'id'> = {
    rule: v.rule,
    title: rule?.title ?? v.rule,
    status,
    family: v.family ?? '',
    op: v.op ? formatOp(v.op) : null,
    // The last bound on adapter text (see spec/text.ts): whatever a reply carried, a report
    // holds a few KiB of it per field, printable.
    expected: v.expected.map((e) => adapterText(e, REPORT_TEXT_MAX)),
    observed: adapterText(v.observed, REPORT_TEXT_MAX),
    ...(v.message !== undefined ? { message: adapterText(v.message, REPORT_TEXT_MAX) } : {}),
    trace: [
      ...(v.earlierCases?.length ? readableHistory(v.earlierCases, v.trace, v.topology) : readableTrace(v.trace, v.topology)),
      ...(v.unanswered ?? []).map((op) => `${formatOp(op)} -> no reply (${status})`),
    ].map((l) => adapterText(l, REPORT_TEXT_MAX)),
    ops: wireEntries(v.trace),
    ...(v.unanswered?.length ? { unanswered: v.unanswered.map(encodeOp) } : {}),
    ...(v.earlierCases?.length ? { earlierCases: v.earlierCases.map((c) => ({ topology: wireTopology(c.topology), ops: wireEntries(c.trace) })) } : {}),
    seed: v.seed ?? opts.seed,
    path: v.path ?? '',
    ignored: v.ignored ?? [],
    shape: v.shape ?? failureShape(v),
    runsToFailure: v.runsToFailure ?? 0,
    shrinks: v.shrinks ?? 0,
    pruned: v.pruned ?? 0,
    topology: v.topology ? wireTopology(v.topology) : null,
    replay: v.seed !== undefined ? replayLine(opts, v as Finding) : '',
    adapter,
  };
  const id = findingKey({ ...f, status }, adapter.name);
  // Its earlier cases are data the seed and path cannot regenerate: only the stored trace replays it.
  return { id, ...f, ...(f.earlierCases ? { replay: `npx iommu-conformance replay ${id}` } : {}) };
}

/** One family's slices as if they were one run: first finding per rule (or shape) in slice order. */
function mergeSlices(family: string, slices: UnitResult[], keyOf: (f: Finding) => string): FamilyResult {
  const ordered = [...slices].sort((a, b) => a.slice - b.slice);
  const coverage = new Coverage();
  const findings: Finding[] = [];
  const quality: Violation[] = [];
  const cutShort: Record<string, number> = {};
  for (const s of ordered) {
    coverage.merge(Coverage.fromJSON(s.coverage));
    for (const f of s.findings) if (!findings.some((x) => keyOf(x) === keyOf(f))) findings.push(f);
    for (const q of s.quality) if (!quality.some((x) => x.rule === q.rule)) quality.push(q);
    for (const [id, n] of Object.entries(s.cutShort)) cutShort[id] = (cutShort[id] ?? 0) + n;
  }
  const stopped = ordered.find((s) => s.stopped)?.stopped;
  return {
    family, findings, quality, coverage, cutShort,
    runs: ordered.reduce((n, s) => n + s.runs, 0),
    ms: Math.max(0, ...ordered.map((s) => s.ms)),
    interrupted: ordered.some((s) => s.interrupted),
    ...(stopped !== undefined ? { stopped } : {}),
  };
}

/** The report of a run in which no test ran: the adapter failed its hello, or the run was stopped during it. */
function noTestRan(opts: SuiteOptions, why: AdapterFault | RunInterrupted, started: number, families: readonly PropertyFamily[]): Report {
  const policies = resolvePolicies('linux', {});
  const who: FindingAdapter = { name: opts.adapterSpec, version: 'unknown', spec: opts.adapterSpec, profile: 'linux', policies: { ...policies }, capabilities: {} };
  const fault = why instanceof AdapterFault ? why : null;
  const finding = fault && toReportFinding({ rule: fault.rule, status: fault.status, op: null, expected: ['a hello reply'], observed: fault.message, trace: [], message: 'the adapter failed its hello: no test could run' }, opts, fault.status, who);
  if (finding) opts.onFinding?.(finding);
  const reason = fault ? `no test ran: the adapter failed its hello (${fault.rule})` : 'the run was stopped during the hello, before any test';
  const rules: RuleRow[] = RULES.map((r) => ({
    id: r.id, family: r.family, level: r.level, title: r.title, checks: 0,
    ...(r.id === fault?.rule ? { status: fault.status } : { status: (fault ? 'UNCHECKED' : 'INTERRUPTED') as Status, reason }),
  }));
  return {
    schema: REPORT_SCHEMA, suiteVersion: SUITE_VERSION, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started,
    adapter: { name: who.name, version: who.version, profile: who.profile, policies: who.policies, capabilities: {}, spec: opts.adapterSpec },
    budget: budgetOf(opts), interrupted: !fault, rules, families: familyRows(families, new Map(), rules), findings: finding ? [finding] : [], quality: [],
    coverage: { ...new Coverage().toJSON(), skipRate: 0 }, gate: { ok: true, problems: [] }, corpus: null, merged: null,
    summary: summarize(rules, false),
  };
}

const budgetOf = (opts: SuiteOptions): Report['budget'] => ({
  seed: opts.seed, runs: opts.runs, maxSteps: opts.maxSteps, timeMs: opts.timeMs ?? null, workers: opts.workers ?? 1, shard: opts.shard ?? { index: 0, count: 1 },
  setAsideBy: opts.setAsideBy ?? 'rule',
});

/** After the first signal (or the end of a time budget), how long workers get to finish the case in flight. */
const GRACE_MS = 15_000;

export async function runSuite(adapter: Adapter, opts: SuiteOptions): Promise<Report> {
  const started = Date.now();
  const families: PropertyFamily[] = opts.families?.length
    ? opts.families.map((id) => {
      const f = FAMILIES_OF_PROPERTIES.find((x) => x.id === id);
      if (!f) throw new ConfigError(`unknown family '${id}' (known: ${FAMILIES_OF_PROPERTIES.map((x) => x.id).join(', ')})`);
      return f;
    })
    : [...FAMILIES_OF_PROPERTIES];
  let info: AdapterInfo;
  // A hello can take long (a model loading, an emulator booting): a signal does not wait for it.
  const giveUp = () => adapter.interrupt?.();
  opts.signal?.addEventListener('abort', giveUp, { once: true });
  try {
    if (opts.signal?.aborted) throw new RunInterrupted();
    info = await adapter.hello();
  } catch (e) {
    // An adapter that cannot say what it is has failed the first request: a finding, not a crash.
    if (e instanceof AdapterFault || e instanceof RunInterrupted) return noTestRan(opts, e, started, families);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', giveUp);
  }
  if (!info || typeof info.name !== 'string') throw new ConfigError(`${opts.adapterSpec}: hello() did not return {name, version, profile, …}`);
  const profile = info.profile ?? 'linux';
  const policies = resolvePolicies(profile, info.policies ?? {});
  const capabilities = resolveCapabilities(profile, info.capabilities);
  const who: FindingAdapter = {
    name: adapterText(info.name, 100, true), version: adapterText(info.version, 100, true), spec: opts.adapterSpec, profile, policies: { ...policies }, capabilities,
    ...(opts.adapterOptions ? { options: opts.adapterOptions } : {}),
  };
  const asReport = (v: Violation & Partial<Finding>, status: Status) => toReportFinding(v, opts, status, who);
  const topologies: 'any' | Topology[] = info.topologies ?? 'any';
  if (topologies !== 'any') {
    for (const t of topologies) {
      const problems = validateTopology(t);
      if (problems.length > 0) throw new ConfigError(`${opts.adapterSpec}: declared topology is invalid: ${problems[0]}`);
    }
  }

  const coverage = new Coverage();
  const findings: ReportFinding[] = [];
  const quality: ReportFinding[] = [];
  const gateProblems: string[] = [];
  // A rule broken in one family is set aside in the next: one finding per rule, and the
  // budget goes to finding other bugs.
  const found = new Set(opts.ignore ?? []);
  const by = opts.setAsideBy ?? 'rule';
  const keyOf = (f: { rule: string; shape?: string }) => recordedKey(f, by);
  const supervised = typeof adapter.interrupt === 'function';
  const ctx = { profile, policies, capabilities, topologies, ...(info.kit ? { kitOps: info.kit.ops } : {}) };
  const corpusReplay = { replayed: 0, reproduced: 0, fixed: 0 };
  if (opts.corpus && opts.path === undefined) {
    // Known bugs first: each stored case runs once, exactly as found; one that still fails is
    // reported now and its rule set aside for the rest of the run.
    for (const r of await replayCorpus(opts.corpus, adapter, ctx, info.name, opts.signal)) {
      corpusReplay.replayed++;
      if (!r.reproduced) {
        corpusReplay.fixed++;
        continue;
      }
      corpusReplay.reproduced++;
      const rf = r.stored ?? asReport(r.finding!, r.finding!.status);
      found.add(keyOf(rf));
      findings.push(rf);
      opts.corpus.record(rf, info.name, opts.maxSteps, undefined, r.entry.swarm === true); // refreshes lastSeen
      opts.onFinding?.(rf);
    }
  }
  /** Folds one family's result into the report: findings, quality, coverage, the gate. */
  const account = (fam: PropertyFamily, r: FamilyResult) => {
    const fresh = r.findings.filter((f, i) => !findings.some((x) => keyOf(x) === keyOf(f)) && r.findings.findIndex((y) => keyOf(y) === keyOf(f)) === i);
    for (const f of fresh) found.add(keyOf(f));
    coverage.merge(r.coverage);
    for (const f of fresh) findings.push(asReport(f, f.status));
    for (const q of r.quality) if (!quality.some((x) => x.rule === q.rule)) quality.push(asReport({ ...q, family: fam.id }, 'QUALITY_WARNING'));
    if (opts.path === undefined && r.findings.length === 0 && !r.interrupted && r.stopped === undefined) {
      for (const [kind, w] of Object.entries(fam.weights)) {
        // An op whose capability the adapter lacks is never drawn; that is not a coverage hole.
        const cap = OP_FIELDS[kind as OpKind].capability;
        if (!w || (cap && !capabilities[cap])) continue;
        const drawn = r.coverage.drawn(kind as Op['op']);
        if (drawn < opts.minOpsPerKind) gateProblems.push(`${fam.id}: ${kind} drawn ${drawn} times (< ${opts.minOpsPerKind}; a small --runs draws few: raise it or lower --min-ops)`);
      }
      if (r.coverage.skipRate > opts.maxSkipRate) gateProblems.push(`${fam.id}: ${(r.coverage.skipRate * 100).toFixed(1)}% of drawn steps skipped (> ${opts.maxSkipRate * 100}%)`);
    }
  };
  const runnable = families.filter((fam) => (fam.requires ?? []).every((c) => capabilities[c]));
  const shard = opts.shard ?? { index: 0, count: 1 };
  const deadline = opts.timeMs === undefined ? undefined : started + opts.timeMs;
  // Under a time budget each family gets an equal share of what the hello left of the wall clock.
  const testing = Date.now();
  const familyDeadline = (i: number) => (deadline === undefined ? undefined : testing + Math.round(((deadline - testing) * (i + 1)) / runnable.length));
  const runs = opts.timeMs === undefined ? opts.runs : Number.MAX_SAFE_INTEGER;
  const storeAtOnce = (f: Finding) => {
    const rf = asReport(f, f.status);
    // Stored at once, corpus first: once findings.jsonl shows a finding, the database holds it
    // too, so a run killed at any point after that keeps it in both.
    opts.corpus?.record(rf, info.name, opts.maxSteps, undefined, opts.swarm === true);
    opts.onFinding?.(rf);
  };

  const results = new Map<string, FamilyResult>();
  const workers = opts.workers ?? 1;
  if (workers > 1 && opts.path === undefined && opts.adapterOptions !== undefined) {
    // Every family cut into seeded slices (planSlices: more slices than workers, dearest
    // first, so no worker idles long at the end); the pool runs them all. Rules found in one
    // family are not set aside in the others (they run at the same time); the report keeps
    // one finding per rule.
    const units: Unit[] = planSlices(runnable, runs, workers, opts.timeMs !== undefined).map((p) => ({
      adapterSpec: opts.adapterSpec, adapterOptions: opts.adapterOptions!, ...ctx, capabilities: capabilities as Record<string, boolean>,
      family: p.family, slice: p.slice, seed: sliceSeed(opts.seed, shard, p.slice), runs: p.runs, maxSteps: opts.maxSteps, swarm: opts.swarm, ignore: [...found], setAsideBy: by,
      ...(deadline !== undefined ? { deadline: familyDeadline(p.familyIndex) } : {}),
    }));
    const finished = new Map<string, UnitResult[]>();
    // Findings come as they are made, so a worker stopped mid-family loses none of them.
    const streamed = units.map((): Finding[] => []);
    const drawn = new Array<number>(units.length).fill(0);
    const done = new Set<number>();
    await runUnits(units, workers, {
      onResult: (i, u) => {
        done.add(i);
        finished.set(u.family, [...(finished.get(u.family) ?? []), u]);
      },
      onFinding: (i, f) => {
        streamed[i]!.push(f);
        storeAtOnce(f);
      },
      onProgress: (i, n) => {
        drawn[i] = n;
        opts.onProgress?.({ sequences: drawn.reduce((a, b) => a + b, 0), findings: streamed.reduce((a, b) => a + b.length, findings.length) });
      },
    }, {
      signal: opts.signal, hardSignal: opts.hardSignal, graceMs: GRACE_MS,
      ...(deadline !== undefined ? { hardDeadline: deadline + GRACE_MS } : {}),
    });
    for (const fam of runnable) {
      const slices = [...(finished.get(fam.id) ?? [])];
      // A slice that never finished still counts with what it streamed: its findings.
      units.forEach((u, i) => {
        if (u.family === fam.id && !done.has(i) && streamed[i]!.length > 0) {
          slices.push({ family: fam.id, slice: u.slice, findings: streamed[i]!, quality: [], coverage: new Coverage().toJSON(), runs: 0, ms: 0, interrupted: true, cutShort: {} });
        }
      });
      const complete = units.every((u, i) => u.family !== fam.id || done.has(i));
      if (slices.length === 0) continue;
      const merged = mergeSlices(fam.id, slices, keyOf);
      results.set(fam.id, complete ? merged : { ...merged, interrupted: true });
      account(fam, results.get(fam.id)!);
    }
  } else {
    let before = 0;
    for (const [fi, fam] of runnable.entries()) {
      if (opts.signal?.aborted) break;
      const r = await runFamily({ adapter, ...ctx }, fam, {
        seed: sliceSeed(opts.seed, shard, 0), runs, maxSteps: opts.maxSteps, swarm: opts.swarm, path: opts.path, ignore: [...found], setAsideBy: by, onFinding: storeAtOnce,
        onProgress: (n) => opts.onProgress?.({ sequences: before + n, findings: findings.length }),
        signal: opts.signal,
        ...(deadline !== undefined ? { deadline: familyDeadline(fi) } : {}),
      });
      results.set(fam.id, r);
      account(fam, r);
      before += r.coverage.sequences;
    }
  }
  const stopped = opts.signal?.aborted === true;
  if (!stopped && opts.path === undefined) findings.splice(0, findings.length, ...await groupByCause(adapter, findings, () => opts.signal?.aborted === true));
  const interrupted = stopped || [...results.values()].some((r) => r.interrupted);
  const rules = ruleVerdicts({
    families, runnable, results, findings, quality, ruleChecks: coverage.rules, kitChecks: coverage.kitRules, ...(info.kit ? { kit: info.kit } : {}),
    steps: coverage.steps, sequences: coverage.sequences, capabilities, policies, supervised, stopped, replay: opts.path !== undefined,
  });
  return {
    schema: REPORT_SCHEMA,
    suiteVersion: SUITE_VERSION,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    adapter: { name: who.name, version: who.version, profile, policies: { ...policies }, capabilities, spec: opts.adapterSpec, ...(info.kit ? { kit: info.kit } : {}) },
    budget: { ...budgetOf(opts), workers, shard },
    interrupted,
    rules,
    families: familyRows(families, results, rules),
    findings,
    quality,
    coverage: { ...coverage.toJSON(), skipRate: coverage.skipRate },
    gate: { ok: gateProblems.length === 0, problems: gateProblems },
    corpus: opts.corpus ? { dir: opts.corpus.dir, ...corpusReplay } : null,
    merged: null,
    summary: summarize(rules, gateProblems.length > 0),
  };
}
