// Runs every property family against one adapter and turns the results into a report: a
// status per rule, every finding with its minimal trace and replay line, coverage, and the
// coverage gate.

import { createRequire } from 'node:module';
import {
  type Adapter, type AdapterInfo, type Capabilities, ConfigError, FAILING, type Op, type Outcome, type Rule, RULES, type Status,
  OP_FIELDS, type OpKind, type Policies, type Topology, encodeOp, ruleById, encodeOutcome, formatCall, formatOp, policyDef, resolveCapabilities, resolvePolicies, validateTopology, worst,
} from '../spec/index.ts';
import { Coverage, type CoverageReport } from '../properties/coverage.ts';
import { FAMILIES_OF_PROPERTIES, type PropertyFamily } from '../properties/families.ts';
import { type FamilyResult, type Finding, runFamily } from '../properties/property.ts';
import type { TraceEntry, Violation } from '../properties/checker.ts';
import { type AdapterOptions, PROCESS_PREFIX } from './adapters.ts';
import { type Corpus, findingKey, replayCorpus } from './corpus.ts';
import { runUnits } from './parallel.ts';
import { type Shard, sliceSeed, splitRuns } from './slices.ts';
import type { Unit, UnitResult } from './worker-task.ts';

export const SUITE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
export const REPORT_SCHEMA = 1;

export interface SuiteOptions {
  adapterSpec: string;
  seed: number;
  runs: number;
  maxSteps: number;
  families?: readonly string[];
  path?: string;
  ignore?: readonly string[];
  /** Minimum generated ops per op kind a family draws (the coverage gate). */
  minOpsPerKind: number;
  /** Highest tolerated share of skipped steps. */
  maxSkipRate: number;
  onFamily?: (f: FamilyLine) => void;
  /** The failure database: its open findings are replayed first, new ones stored at the end. */
  corpus?: Corpus;
  /** Every finding as soon as it is known (replayed or shrunk), e.g. to append to findings.jsonl. */
  onFinding?: (f: ReportFinding) => void;
  /** Worker threads; above 1 each family is cut into that many seeded slices run in parallel. */
  workers?: number;
  /** How the adapter was made, so each worker can make its own (needed for workers > 1). */
  adapterOptions?: AdapterOptions;
  /** This run is shard `index` of `count` (from 0): its slices take their own seeds. */
  shard?: Shard;
  /** Wall-clock budget: run until it is spent (then --runs is ignored) and bound shrinking by it. */
  timeMs?: number;
  /** Stops a parallel run at once (SIGINT, SIGTERM); what finished is reported, the rest INTERRUPTED. */
  signal?: AbortSignal;
  /** Sequences drawn so far across every family (for progress bars and status lines). */
  onProgress?: (p: { sequences: number; findings: number }) => void;
}

export interface FamilyLine {
  id: string;
  title: string;
  runs: number;
  ms: number;
  ops: number;
  counts: Record<Status, number>;
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
  /** The minimal trace as readable calls; probes that agreed are left out. */
  trace: string[];
  /** The complete trace, replayable as data. */
  ops: { op: Record<string, unknown>; outcome: Record<string, unknown>; probe: boolean }[];
  seed: number;
  path: string;
  ignored: string[];
  runsToFailure: number;
  shrinks: number;
  topology: unknown;
  replay: string;
  adapter: FindingAdapter;
}

export interface Report {
  schema: number;
  suiteVersion: string;
  startedAt: string;
  durationMs: number;
  adapter: { name: string; version: string; profile: string; policies: Record<string, string>; capabilities: Capabilities; spec: string };
  budget: { seed: number; runs: number; maxSteps: number; timeMs: number | null; workers: number; shard: { index: number; count: number } };
  /** A time budget ended some family before its runs were spent (expected under --time). */
  interrupted: boolean;
  rules: { id: string; family: string; level: string; title: string; status: Status; checks: number; reason?: string }[];
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

const emptyCounts = (): Record<Status, number> => ({ PASS: 0, FAIL: 0, NOT_SUPPORTED: 0, QUALITY_WARNING: 0, ADAPTER_ERROR: 0, TIMEOUT: 0, CRASH: 0, INTERRUPTED: 0, UNCHECKED: 0 });

function readableTrace(trace: readonly TraceEntry[]): string[] {
  const out: string[] = [];
  let skipped = 0;
  trace.forEach((e, i) => {
    const last = i === trace.length - 1;
    if (e.probe && !last) {
      skipped++;
      return;
    }
    out.push(formatCall(e.op, e.outcome));
  });
  if (skipped > 0) out.push(`(${skipped} agreeing probe${skipped === 1 ? '' : 's'} not shown)`);
  return out;
}

/** A word as a POSIX shell reads it back unchanged: bare when safe, else single-quoted. */
export function shellWord(w: string): string {
  return /^[\w./:@%+=,-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

function replayLine(opts: SuiteOptions, f: Finding): string {
  const ign = f.ignored.length > 0 ? ` --ignore ${f.ignored.join(',')}` : '';
  // The options the adapter was made with (a builtin's profile, policies, mutant) come along.
  const made = opts.adapterOptions;
  const profile = made?.profile ? ` --profile ${shellWord(made.profile)}` : '';
  const policies = Object.entries(made?.policies ?? {}).map(([k, v]) => ` --policy ${shellWord(`${k}=${v}`)}`).join('');
  const adapter = opts.adapterSpec.startsWith(PROCESS_PREFIX) ? `--adapter-cmd ${shellWord(opts.adapterSpec.slice(PROCESS_PREFIX.length))}` : `--adapter ${shellWord(opts.adapterSpec)}`;
  return `npx iommu-conformance run ${adapter}${profile}${policies} --family ${f.family} --seed ${f.seed} --path "${f.path}" --max-steps ${opts.maxSteps}${ign}`;
}

function toReportFinding(v: Violation & Partial<Finding>, opts: SuiteOptions, status: Status, adapter: FindingAdapter): ReportFinding {
  const rule = RULES.find((r) => r.id === v.rule);
  const f: Omit<ReportFinding, 'id'> = {
    rule: v.rule,
    title: rule?.title ?? v.rule,
    status,
    family: v.family ?? '',
    op: v.op ? formatOp(v.op) : null,
    expected: v.expected,
    observed: v.observed,
    message: v.message,
    trace: readableTrace(v.trace),
    ops: v.trace.map((e) => ({ op: encodeOp(e.op), outcome: encodeOutcome(e.op, e.outcome as Outcome), probe: e.probe })),
    seed: v.seed ?? opts.seed,
    path: v.path ?? '',
    ignored: v.ignored ?? [],
    runsToFailure: v.runsToFailure ?? 0,
    shrinks: v.shrinks ?? 0,
    topology: v.topology ? JSON.parse(JSON.stringify(v.topology, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x))) : null,
    replay: v.seed !== undefined ? replayLine(opts, v as Finding) : '',
    adapter,
  };
  return { id: findingKey({ ...f, status }, adapter.name), ...f };
}

/** Rules a run cannot judge for this adapter, with the reason. */
function notSupported(rule: Rule, caps: Capabilities, policies: Policies, inProcess: boolean): string | null {
  const missing = rule.capabilities.filter((c) => !caps[c]);
  if (missing.length > 0) return `capability ${missing.join(', ')} not declared`;
  for (const key of rule.policies) {
    const why = policyDef(key)?.inapplicable?.[policies[key]];
    if (why) return `${key}=${policies[key]}: ${why}`;
  }
  if (inProcess && (rule.id === 'ADAPTER-CRASH' || rule.id === 'ADAPTER-TIMEOUT')) return 'in-process adapter: no process to crash or time out';
  return null;
}

/** One family's slices as if they were one run: first finding per rule in slice order. */
function mergeSlices(family: string, slices: UnitResult[]): FamilyResult {
  const ordered = [...slices].sort((a, b) => a.slice - b.slice);
  const coverage = new Coverage();
  const findings: Finding[] = [];
  const quality: Violation[] = [];
  for (const s of ordered) {
    coverage.merge(Coverage.fromJSON(s.coverage));
    for (const f of s.findings) if (!findings.some((x) => x.rule === f.rule)) findings.push(f);
    for (const q of s.quality) if (!quality.some((x) => x.rule === q.rule)) quality.push(q);
  }
  return {
    family, findings, quality, coverage,
    runs: ordered.reduce((n, s) => n + s.runs, 0),
    ms: Math.max(...ordered.map((s) => s.ms)),
    interrupted: ordered.some((s) => s.interrupted),
  };
}

export async function runSuite(adapter: Adapter, opts: SuiteOptions): Promise<Report> {
  const started = Date.now();
  const info: AdapterInfo = await adapter.hello();
  if (!info || typeof info.name !== 'string') throw new ConfigError(`${opts.adapterSpec}: hello() did not return {name, version, profile, …}`);
  const policies = resolvePolicies(info.profile ?? 'linux', info.policies ?? {});
  const capabilities = resolveCapabilities(info.profile ?? 'linux', info.capabilities);
  const who: FindingAdapter = {
    name: info.name, version: info.version, spec: opts.adapterSpec, profile: info.profile ?? 'linux', policies: { ...policies }, capabilities,
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
  const families: PropertyFamily[] = opts.families?.length
    ? opts.families.map((id) => {
      const f = FAMILIES_OF_PROPERTIES.find((x) => x.id === id);
      if (!f) throw new ConfigError(`unknown family '${id}' (known: ${FAMILIES_OF_PROPERTIES.map((x) => x.id).join(', ')})`);
      return f;
    })
    : [...FAMILIES_OF_PROPERTIES];

  const coverage = new Coverage();
  const findings: ReportFinding[] = [];
  const quality: ReportFinding[] = [];
  const familyLines: FamilyLine[] = [];
  const gateProblems: string[] = [];
  // A rule broken in one family is set aside in the next: one finding per rule, and the
  // budget goes to finding other bugs.
  const found = new Set(opts.ignore ?? []);
  const inProcess = !opts.adapterSpec.startsWith(PROCESS_PREFIX);
  const corpusReplay = { replayed: 0, reproduced: 0, fixed: 0 };
  if (opts.corpus && opts.path === undefined) {
    // Known bugs first: each stored case runs once, exactly as found; one that still fails is
    // reported now and its rule set aside for the rest of the run.
    for (const r of await replayCorpus(opts.corpus, adapter, { profile: info.profile ?? 'linux', policies, capabilities, topologies }, info.name)) {
      corpusReplay.replayed++;
      if (!r.reproduced) {
        corpusReplay.fixed++;
        continue;
      }
      corpusReplay.reproduced++;
      found.add(r.finding!.rule);
      const rf = asReport(r.finding!, r.finding!.status);
      findings.push(rf);
      opts.corpus.record(rf, info.name, opts.maxSteps); // refreshes lastSeen
      opts.onFinding?.(rf);
    }
  }
  const lines = new Map<string, FamilyLine>();
  /** Folds one family's result into the report: findings, quality, coverage, its line, the gate. */
  const account = (fam: PropertyFamily, r: FamilyResult) => {
    const fresh = r.findings.filter((f) => !findings.some((x) => x.rule === f.rule));
    for (const f of fresh) found.add(f.rule);
    coverage.merge(r.coverage);
    for (const f of fresh) findings.push(asReport(f, f.status));
    for (const q of r.quality) if (!quality.some((x) => x.rule === q.rule)) quality.push(asReport({ ...q, family: fam.id }, 'QUALITY_WARNING'));
    const counts = emptyCounts();
    for (const id of fam.rules) {
      const bad = r.findings.find((f) => f.rule === id);
      const rule = ruleById(id)!;
      counts[bad ? bad.status : r.quality.some((q) => q.rule === id) ? 'QUALITY_WARNING' : notSupported(rule, capabilities, policies, inProcess) ? 'NOT_SUPPORTED' : 'PASS']++;
    }
    const ops = [...r.coverage.ops.values()].reduce((s, o) => s + o.total, 0);
    const line = { id: fam.id, title: fam.title, runs: r.runs, ms: r.ms, ops, counts };
    lines.set(fam.id, line);
    opts.onFamily?.(line);
    if (opts.path === undefined && r.findings.length === 0 && !r.interrupted) {
      for (const [kind, w] of Object.entries(fam.weights)) {
        // An op whose capability the adapter lacks is never drawn; that is not a coverage hole.
        const cap = OP_FIELDS[kind as OpKind].capability;
        if (!w || (cap && !capabilities[cap])) continue;
        const drawn = r.coverage.drawn(kind as Op['op']);
        if (drawn < opts.minOpsPerKind) gateProblems.push(`${fam.id}: ${kind} drawn ${drawn} times (< ${opts.minOpsPerKind})`);
      }
      if (r.coverage.skipRate > opts.maxSkipRate) gateProblems.push(`${fam.id}: ${(r.coverage.skipRate * 100).toFixed(1)}% of drawn steps skipped (> ${opts.maxSkipRate * 100}%)`);
    }
  };
  const ctx = { profile: info.profile ?? 'linux', policies, capabilities, topologies };
  const runnable = families.filter((fam) => (fam.requires ?? []).every((c) => capabilities[c]));
  const shard = opts.shard ?? { index: 0, count: 1 };
  const deadline = opts.timeMs === undefined ? undefined : started + opts.timeMs;
  // Under a time budget each family gets an equal share of the wall clock.
  const familyDeadline = (i: number) => (deadline === undefined ? undefined : started + Math.round((opts.timeMs! * (i + 1)) / runnable.length));
  const runs = opts.timeMs === undefined ? opts.runs : Number.MAX_SAFE_INTEGER;
  const storeAtOnce = (f: Finding) => {
    const rf = asReport(f, f.status);
    // Stored at once, corpus first: once findings.jsonl shows a finding, the database holds it
    // too, so a run killed at any point after that keeps it in both.
    opts.corpus?.record(rf, info.name, opts.maxSteps);
    opts.onFinding?.(rf);
  };

  const results = new Map<string, FamilyResult>();
  const workers = opts.workers ?? 1;
  if (workers > 1 && opts.path === undefined && opts.adapterOptions !== undefined) {
    // Every family cut into one slice per worker, each slice with its own seed; the pool runs
    // them all. Rules found in one family are not set aside in the others (they run at the
    // same time); the report keeps one finding per rule.
    const perSlice = opts.timeMs === undefined ? splitRuns(runs, workers) : Array.from({ length: workers }, () => runs);
    const units: Unit[] = runnable.flatMap((fam, fi) => perSlice.map((n, slice) => ({
      adapterSpec: opts.adapterSpec, adapterOptions: opts.adapterOptions!, ...ctx, capabilities: capabilities as Record<string, boolean>,
      family: fam.id, slice, seed: sliceSeed(opts.seed, shard, slice), runs: n, maxSteps: opts.maxSteps, ignore: [...found],
      ...(deadline !== undefined ? { deadline: familyDeadline(fi) } : {}),
    })));
    const byFamily = new Map<string, UnitResult[]>();
    const drawn = new Array<number>(units.length).fill(0);
    const progress = (i: number, n: number) => {
      drawn[i] = n;
      opts.onProgress?.({ sequences: drawn.reduce((a, b) => a + b, 0), findings: findings.length });
    };
    await runUnits(units, workers, (u) => {
      for (const f of u.findings) storeAtOnce(f);
      byFamily.set(u.family, [...(byFamily.get(u.family) ?? []), u]);
      const fam = runnable.find((x) => x.id === u.family)!;
      if (byFamily.get(u.family)!.length === units.filter((x) => x.family === u.family).length) {
        results.set(u.family, mergeSlices(fam.id, byFamily.get(u.family)!));
        account(fam, results.get(u.family)!);
      }
    }, opts.signal, progress);
  } else {
    let before = 0;
    for (const [fi, fam] of runnable.entries()) {
      // A signal lands between families here (a synchronous adapter holds the thread within one).
      if (opts.signal?.aborted) break;
      const r = await runFamily({ adapter, ...ctx }, fam, {
        seed: sliceSeed(opts.seed, shard, 0), runs, maxSteps: opts.maxSteps, path: opts.path, ignore: [...found], onFinding: storeAtOnce,
        onProgress: (n) => opts.onProgress?.({ sequences: before + n, findings: findings.length }),
        ...(deadline !== undefined ? { deadline: familyDeadline(fi) } : {}),
      });
      results.set(fam.id, r);
      account(fam, r);
      before += r.coverage.sequences;
    }
  }
  // Family lines in catalogue order, whatever order the workers finished in.
  for (const fam of families) {
    const r = results.get(fam.id);
    if (r) familyLines.push(lines.get(fam.id)!);
    else {
      const counts = emptyCounts();
      counts[runnable.includes(fam) ? 'INTERRUPTED' : 'NOT_SUPPORTED'] = fam.rules.length;
      const line = { id: fam.id, title: fam.title, runs: 0, ms: 0, ops: 0, counts };
      familyLines.push(line);
      opts.onFamily?.(line);
    }
  }
  const stopped = opts.signal?.aborted === true;
  const interrupted = stopped || [...results.values()].some((r) => r.interrupted);
  /** Rules whose every family was cut short by a signal: nothing can be said of them. */
  const unfinished = new Set(stopped ? runnable.filter((f) => !results.has(f.id)).flatMap((f) => f.rules) : []);
  for (const f of results.values()) for (const fam of runnable) if (fam.id === f.family) for (const id of fam.rules) unfinished.delete(id);

  const rules: Report['rules'] = RULES.map((rule) => {
    let status: Status = 'PASS';
    let reason: string | undefined;
    for (const f of findings) if (f.rule === rule.id) status = worst(status, f.status);
    if (status === 'PASS' && quality.some((q) => q.rule === rule.id)) status = 'QUALITY_WARNING';
    // Every reply checks its shape; every test case a process survives in time checks the other two.
    const checks = coverage.rules.get(rule.id) ?? (rule.id === 'ADAPTER-REPLY' ? coverage.steps : rule.family === 'adapter' && !inProcess ? coverage.sequences : 0);
    if (status === 'PASS') {
      const ns = notSupported(rule, capabilities, policies, inProcess);
      if (ns) {
        status = 'NOT_SUPPORTED';
        reason = ns;
      } else if (unfinished.has(rule.id)) {
        status = 'INTERRUPTED';
        reason = 'the run was stopped before a family checking it finished';
      } else if (checks === 0 && opts.path === undefined && findings.length === 0 && !stopped) {
        status = 'UNCHECKED';
        // Not a gate failure: a fixed topology can make a rule unreachable (one IOMMU cannot
        // be incompatible with itself). It is shown, never counted as a pass.
        reason = 'no generated case exercised it';
      }
    }
    return { id: rule.id, family: rule.family, level: rule.level, title: rule.title, status, checks, ...(reason ? { reason } : {}) };
  });

  const summary = { ...emptyCounts(), exitCode: 0 };
  for (const r of rules) summary[r.status]++;
  const failed = rules.some((r) => FAILING.has(r.status));
  summary.exitCode = failed || gateProblems.length > 0 ? 1 : 0;
  return {
    schema: REPORT_SCHEMA,
    suiteVersion: SUITE_VERSION,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    adapter: { name: info.name, version: info.version, profile: info.profile ?? 'linux', policies: { ...policies }, capabilities, spec: opts.adapterSpec },
    budget: { seed: opts.seed, runs: opts.runs, maxSteps: opts.maxSteps, timeMs: opts.timeMs ?? null, workers, shard },
    interrupted,
    rules,
    families: familyLines,
    findings,
    quality,
    coverage: { ...coverage.toJSON(), skipRate: coverage.skipRate },
    gate: { ok: gateProblems.length === 0, problems: gateProblems },
    corpus: opts.corpus ? { dir: opts.corpus.dir, ...corpusReplay } : null,
    merged: null,
    summary,
  };
}
