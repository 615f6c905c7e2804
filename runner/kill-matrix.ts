// The kill run: every mutant, each one bug in an otherwise conforming model, is run through
// the suite with a fixed seed and a budget counted in sequences until a finding names one of
// its rules. Its own family goes first; the others are tried only if it survives that one.
// Rounds go as in runFamily (a finding of another rule is set aside and the search goes on
// with the next round's seed), but the run stops at the first kill, so what is measured is the
// time the suite takes to report this bug.

import { writeFileSync } from 'node:fs';
import { makeDir } from './make-dir.ts';
import { join } from 'node:path';
import { ConfigError, type Outcome, formatCall, formatOp, resolvePolicies } from '../spec/index.ts';
import { FAMILIES_OF_PROPERTIES, type PropertyFamily, familyById } from '../properties/families.ts';
import { type AdapterContext, type Finding, runFamily } from '../properties/property.ts';
import type { MutantEntry } from './mutant-entries.ts';

export interface KillOptions {
  seed: number;
  /** Sequences per family (a family's budgetShare applies, as in a suite run). */
  runs: number;
  maxSteps: number;
  /** Swarm generation (properties/swarm.ts), off unless true. */
  swarm?: boolean;
  /** Each mutant's result as soon as it is known. */
  onMutant?: (r: KillResult) => void;
}

export interface KillResult {
  id: string;
  description: string;
  bugClass: string;
  source?: string;
  rules: string[];
  killed: boolean;
  /** Sequences generated up to and including the first that broke one of its rules (shrinking not counted). */
  runsToFailure: number | null;
  /** Wall time from making the model to the shrunk finding (every family and round before it included). */
  secondsToFailure: number | null;
  /** The same span in CPU time of this process: what a shared, busy machine stretches less. */
  cpuSecondsToFailure: number | null;
  /** Ops of the minimal trace the suite drew (probes left out; an op that threw counted). */
  traceLength: number | null;
  reportedRule: string | null;
  /** The family whose run killed it. */
  family: string | null;
  /** The minimal trace as readable calls, probes left out except a final one that disagreed; an op that threw last. */
  trace: string[];
  /** Sequences generated in all (the whole budget of every family tried, for a survivor). */
  sequences: number;
}

export interface KillReport {
  mutants: KillResult[];
  summary: {
    total: number;
    killed: number;
    medianSecondsToKill: number | null;
    p95SecondsToKill: number | null;
    medianRunsToFailure: number | null;
    medianCpuSecondsToKill: number | null;
    p95CpuSecondsToKill: number | null;
  };
  seed: number;
  budget: { runsPerFamily: number; maxSteps: number; swarm: boolean };
}

/** Rounds per family: each costs a shrink, and a mutant breaking that many other rules first is its own finding. */
const MAX_ROUNDS = 8;
/** runFamily's seed step between rounds, so a round here draws what a suite round would. */
const ROUND_SEED_STEP = 7919;

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile: a value that was measured, never an interpolation. */
function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** An op that threw never got a reply, so it is not in the trace; it still belongs to the counterexample. */
function unanswered(f: Finding): boolean {
  return f.op !== null && f.trace[f.trace.length - 1]?.op !== f.op;
}

function minimalTrace(f: Finding): string[] {
  const threw = unanswered(f);
  // The last probe stays when it is the one that disagreed.
  const calls = f.trace.filter((e, i) => !e.probe || (i === f.trace.length - 1 && !threw)).map((e) => formatCall(e.op, e.outcome as Outcome));
  return threw ? [...calls, `${formatOp(f.op!)} -> ${f.observed}`] : calls;
}

/** Ops the generator drew for the minimal counterexample: probes left out, an op that threw counted. */
export function traceLength(f: Finding): number {
  return f.trace.filter((e) => !e.probe).length + (unanswered(f) ? 1 : 0);
}

async function killOne(entry: MutantEntry, opts: KillOptions): Promise<KillResult> {
  const own = familyById(entry.family);
  if (!own) throw new ConfigError(`mutant ${entry.id}: unknown family '${entry.family}'`);
  const started = performance.now();
  const cpuStarted = cpuSeconds();
  const adapter = entry.create();
  const info = await adapter.hello();
  const profile = info.profile ?? 'linux';
  const ctx: AdapterContext = {
    adapter, profile, policies: resolvePolicies(profile, info.policies ?? {}), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any',
  };
  const families = [own, ...FAMILIES_OF_PROPERTIES.filter((f) => f !== own)]
    .filter((f) => (f.requires ?? []).every((c) => ctx.capabilities[c]));
  const base = { id: entry.id, description: entry.description, bugClass: entry.bugClass, ...(entry.source !== undefined ? { source: entry.source } : {}), rules: [...entry.rules] };
  let sequences = 0;
  try {
    for (const fam of families) {
      const hit = await killInFamily(ctx, fam, entry.rules, opts, (n) => (sequences += n));
      if (!hit) continue;
      return {
        ...base, killed: true, runsToFailure: sequences,
        secondsToFailure: Number(((performance.now() - started) / 1000).toFixed(3)), cpuSecondsToFailure: Number((cpuSeconds() - cpuStarted).toFixed(3)),
        traceLength: traceLength(hit), reportedRule: hit.rule, family: fam.id, trace: minimalTrace(hit), sequences,
      };
    }
  } finally {
    await adapter.close?.();
  }
  return { ...base, killed: false, runsToFailure: null, secondsToFailure: null, cpuSecondsToFailure: null, traceLength: null, reportedRule: null, family: null, trace: [], sequences };
}

/** One family's budget, round by round, until a finding names one of `rules`; `spent` gets each round's sequences. */
async function killInFamily(ctx: AdapterContext, fam: PropertyFamily, rules: readonly string[], opts: KillOptions, spent: (n: number) => void): Promise<Finding | null> {
  let left = Math.max(1, Math.round(opts.runs * (fam.budgetShare ?? 1)));
  // The share is applied above; each round gets exactly what is left.
  const whole: PropertyFamily = { ...fam, budgetShare: 1 };
  const ignore: string[] = [];
  for (let round = 0; round < MAX_ROUNDS && left > 0; round++) {
    const r = await runFamily(ctx, whole, { seed: opts.seed + round * ROUND_SEED_STEP, runs: left, maxSteps: opts.maxSteps, swarm: opts.swarm, ignore, maxFindings: 1 });
    spent(r.runs);
    left -= r.runs;
    const f = r.findings[0];
    if (!f) return null;
    if (rules.includes(f.rule)) return f;
    ignore.push(f.rule);
  }
  return null;
}

export async function killRun(entries: readonly MutantEntry[], opts: KillOptions): Promise<KillReport> {
  const mutants: KillResult[] = [];
  for (const e of entries) {
    const r = await killOne(e, opts);
    mutants.push(r);
    opts.onMutant?.(r);
  }
  const killed = mutants.filter((m) => m.killed);
  const seconds = killed.map((m) => m.secondsToFailure!);
  const cpu = killed.map((m) => m.cpuSecondsToFailure!);
  return {
    mutants,
    summary: {
      total: mutants.length,
      killed: killed.length,
      medianSecondsToKill: median(seconds),
      p95SecondsToKill: percentile(seconds, 95),
      medianRunsToFailure: median(killed.map((m) => m.runsToFailure!)),
      medianCpuSecondsToKill: median(cpu),
      p95CpuSecondsToKill: percentile(cpu, 95),
    },
    seed: opts.seed,
    budget: { runsPerFamily: opts.runs, maxSteps: opts.maxSteps, swarm: opts.swarm === true },
  };
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** Longest counterexamples first (the bugs that need the deepest sequences); survivors last. */
export function killMarkdown(r: KillReport): string {
  const s = r.summary;
  const rows = [...r.mutants].sort((a, b) => (b.traceLength ?? -1) - (a.traceLength ?? -1) || a.id.localeCompare(b.id));
  const out = [
    '# Mutant kill report',
    '',
    `${s.killed} of ${s.total} mutants killed (seed ${r.seed}, ${r.budget.runsPerFamily} sequences of at most ${r.budget.maxSteps} steps per family, swarm generation ${r.budget.swarm ? 'on' : 'off'}).`,
    s.killed > 0
      ? `Time to kill: median ${s.medianSecondsToKill} s, p95 ${s.p95SecondsToKill} s (CPU: median ${s.medianCpuSecondsToKill} s, p95 ${s.p95CpuSecondsToKill} s); median ${s.medianRunsToFailure} sequences to the first failure.`
      : 'Nothing was killed.',
    '',
    '| mutant | bug class | killed by | family | trace ops | sequences | seconds |',
    '|---|---|---|---|---:|---:|---:|',
    ...rows.map((m) => m.killed
      ? `| ${m.id} | ${cell(m.bugClass)} | ${m.reportedRule} | ${m.family} | ${m.traceLength} | ${m.runsToFailure} | ${m.secondsToFailure} |`
      : `| ${m.id} | ${cell(m.bugClass)} | **survived** | — | — | ${m.sequences} | — |`),
    '',
    '## Minimal traces',
    '',
  ];
  for (const m of rows.filter((x) => x.killed)) out.push(`### ${m.id} (${m.reportedRule})`, '', m.description, '', '```', ...m.trace, '```', '');
  return out.join('\n');
}

export interface WriteKillOptions extends Partial<KillOptions> {
  /** Where mutants.json and mutants.md go (default reports/). */
  reportDir?: string;
}

export const KILL_DEFAULTS = { seed: 1, runs: 400, maxSteps: 40 } as const;

/** Runs the kill matrix and writes `mutants.json` and `mutants.md`. */
export async function writeKillReport(entries: readonly MutantEntry[], opts: WriteKillOptions = {}): Promise<KillReport> {
  const report = await killRun(entries, {
    seed: opts.seed ?? KILL_DEFAULTS.seed, runs: opts.runs ?? KILL_DEFAULTS.runs, maxSteps: opts.maxSteps ?? KILL_DEFAULTS.maxSteps, swarm: opts.swarm, onMutant: opts.onMutant,
  });
  const dir = opts.reportDir ?? 'reports';
  makeDir(dir);
  writeFileSync(join(dir, 'mutants.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(dir, 'mutants.md'), killMarkdown(report));
  return report;
}
