// The kill matrix of our mutants of the real kernel page-table code: small patches of Linux's
// io-pgtable-arm.c (impl/targets/linux/io-pgtable-arm/mutants/), io-pgtable-arm-v7s.c
// (mutants-v7s/), io-pgtable-dart.c (mutants-dart/) and of 7.2's generic_pt
// (impl/targets/linux/genpt/mutants/), applied at build time to a copy of the fetched kernel
// files (scripts/lib/linux-mutant.sh). Each mutant × Debian suite goes through
//   - the kernel's own tests: io-pgtable-arm's and io-pgtable-arm-v7s's selftests
//     (scripts/build-linux-selftest.sh), generic_pt's KUnit suites (scripts/run-genpt-kunit.sh),
//     killed when one fails; io-pgtable-dart.c has none (verdict 'no-kernel-test', not a kill);
//   - the suite at the target's CI budget (its expectations' seed and runs, one worker), killed
//     when its findings differ from those of the unmodified kernel at the same seed and budget.
// Findings are compared by rule and by minimal trace: `+RULE` found only on the mutant, `-RULE`
// no longer found, `~RULE` found on another minimal trace, `RULE:CRASH` (or TIMEOUT,
// ADAPTER_ERROR) a rule whose status became one. A rule-level comparison alone would miss a
// mutant whose bug falls under a rule the kernel already breaks (the unmodified kernels fail
// XLATE-I2P, MAP-OVERLAP, ADAPTER-CRASH for other reasons), hence the traces. A `~` alone is
// weaker evidence: another finding of the same family changes the search.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../spec/index.ts';
import { makeDir } from './make-dir.ts';
import { TARGETS, type Target, checkTarget, readExpectations } from './targets.ts';
import type { Report } from './suite.ts';

export const KERNEL_FAMILIES = ['io-pgtable-arm', 'io-pgtable-v7s', 'io-pgtable-dart', 'generic_pt'] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

const KERNEL_SUITES = ['bookworm', 'trixie', 'sid'] as const;
type KernelSuite = (typeof KERNEL_SUITES)[number];

/** generic_pt's formats with an adapter; a mutant runs against the format its patch touches. */
const GENPT_FORMATS = ['amdv1', 'x86_64', 'vtdss', 'riscv64'] as const;
/** The format a mutant of the formats' common code (iommu_pt.h, pt_iter.h, ...) runs against: the one with DYNAMIC_TOP. */
const GENPT_CORE_FORMAT = 'amdv1';

/** How a family is built, run and tested. */
interface FamilySpec {
  /** Its patches. */
  dir: string;
  /** The target whose budget, seed and expectations a cell's suite run takes. */
  target: (cell: KernelCell) => string;
  /** The adapter's build script and its arguments before the mutant id. */
  adapter: (cell: KernelCell) => string[];
  /** The kernel's own tests: a selftest binary built with these arguments (then the mutant id), KUnit, or none. */
  tests: { selftest: (cell: KernelCell) => string[] } | 'kunit' | 'none';
  /** Suites whose kernel has the family's code. */
  suites: readonly KernelSuite[];
}

const IO_PGTABLE = 'impl/targets/linux/io-pgtable-arm';
/** io-pgtable-arm, -v7s and -dart: one copy of the kernel files, one adapter binary (--format=). */
const ioPgtable = (dir: string, matrix: string, selftest: string[] | null): FamilySpec => ({
  dir: `${IO_PGTABLE}/${dir}`,
  target: (c) => `${matrix}@${c.suite}`,
  adapter: (c) => ['scripts/build-linux-target.sh', c.suite],
  tests: selftest ? { selftest: (c) => ['scripts/build-linux-selftest.sh', ...selftest, c.suite] } : 'none',
  suites: KERNEL_SUITES,
});

const FAMILIES: Record<KernelFamily, FamilySpec> = {
  'io-pgtable-arm': ioPgtable('mutants', 'linux-io-pgtable-arm', []),
  'io-pgtable-v7s': ioPgtable('mutants-v7s', 'linux-io-pgtable-v7s', ['--format=v7s']),
  'io-pgtable-dart': ioPgtable('mutants-dart', 'linux-io-pgtable-dart', null),
  generic_pt: {
    dir: 'impl/targets/linux/genpt/mutants',
    target: (c) => `linux-genpt-${c.format}@${c.suite}`,
    adapter: (c) => ['scripts/build-linux-genpt.sh', c.format!],
    tests: 'kunit',
    suites: ['sid'],
  },
};

/** The build scripts' exit status when the kernel package cannot be fetched here. */
const UNAVAILABLE = 3;

export interface KernelMutant {
  family: KernelFamily;
  id: string;
  /** The patch's header line: the bug it models. */
  description: string;
  /** Kernel files the patch touches (drivers/iommu/...). */
  files: string[];
  /** Suites with a variant of their own (`<id>@<suite>.patch`). */
  variants: string[];
}

/** One cell of the matrix: a mutant on one suite's kernel (and, for generic_pt, one format). */
export interface KernelCell {
  family: KernelFamily;
  mutant: string;
  suite: KernelSuite;
  format?: string;
}

/** The kernel's own tests on a mutant. */
export interface KernelTestsVerdict {
  /** 'no-kernel-test': the kernel has no test of this code (io-pgtable-dart.c), counted as not killed. */
  verdict: 'killed' | 'survived' | 'build-failed' | 'no-kernel-test';
  passed: number | null;
  failed: number | null;
  skipped?: number | null;
  /** Why it was killed beyond the counts (a crash, a timeout), or why it did not build. */
  detail?: string;
  seconds: number;
}

/** The suite on a mutant, against the unmodified kernel's findings. */
export interface SuiteVerdict {
  verdict: 'killed' | 'survived' | 'build-failed' | 'crash';
  /** `+RULE`, `-RULE`, `~RULE`, `RULE:CRASH`: how the findings differ from the unmodified kernel's. */
  diff: string[];
  detail?: string;
  seconds: number;
}

export interface KernelCellResult extends KernelCell {
  description: string;
  kernelTests: KernelTestsVerdict;
  conformance: SuiteVerdict;
}

export interface KillRate {
  killed: number;
  /** Cells whose mutant built for this side (the kernel's tests, or the adapter). */
  of: number;
}

export interface KernelMutantReport {
  budget: { seed: number; runsPerFamily: number | 'expectations'; workers: 1 };
  summary: { cells: number; kernelTests: KillRate; conformance: KillRate; byFamily: Record<string, { kernelTests: KillRate; conformance: KillRate }>; buildFailed: number; seconds: number };
  cells: KernelCellResult[];
}

/** The patches of a family, one entry per mutant (its @<suite> variants folded in). */
export function kernelCatalogue(family: KernelFamily, root = process.cwd()): KernelMutant[] {
  const dir = join(root, FAMILIES[family].dir);
  if (!existsSync(dir)) return [];
  const byId = new Map<string, KernelMutant>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.patch')).sort()) {
    const [id, suite] = name.slice(0, -'.patch'.length).split('@') as [string, string | undefined];
    const text = readFileSync(join(dir, name), 'utf8');
    const files = [...text.matchAll(/^\+\+\+ b\/(\S+)/gm)].map((m) => m[1]!);
    const entry = byId.get(id) ?? { family, id, description: '', files: [], variants: [] };
    if (suite) entry.variants.push(suite);
    else entry.description = text.split('\n')[0]!.replace(/^Mutant [^:]+: /, '');
    entry.files = [...new Set([...entry.files, ...files])];
    byId.set(id, entry);
  }
  return [...byId.values()];
}

/** The generic_pt format a mutant runs against: the one whose fmt/<name>.h it patches, else the core's. */
export function genptFormatOf(m: Pick<KernelMutant, 'files'>): string {
  for (const f of m.files) {
    const hit = /generic_pt\/fmt\/(?:iommu_)?([a-z0-9_]+)\.[ch]$/.exec(f)?.[1];
    const fmt = hit === 'riscv' ? 'riscv64' : hit;
    if (fmt && (GENPT_FORMATS as readonly string[]).includes(fmt)) return fmt;
  }
  return GENPT_CORE_FORMAT;
}

/**
 * What a report's findings are compared by: each rule with its minimal trace, and each rule's
 * status. A trace is compared by its ops (what the search drew and shrank to), not by the
 * answers: the unmodified kernel's own answers are not all deterministic (7.2's
 * arm_lpae_iova_to_phys(ULONG_MAX) returns uninitialised stack, which differs from one build
 * to the next), so a difference in answers alone is no evidence.
 */
export interface FindingsDigest {
  findings: readonly { rule: string; shape?: string; trace: readonly string[]; ops?: readonly { op: unknown }[] }[];
  rules: readonly { id: string; status: string }[];
}

const SEVERE = ['CRASH', 'TIMEOUT', 'ADAPTER_ERROR'];

/**
 * How a mutant's findings differ from the unmodified kernel's: `+RULE` only on the mutant,
 * `-RULE` only on the kernel, `~RULE` on both but with another minimal trace (other ops), `RULE:STATUS`
 * a rule that crashed, timed out or broke the protocol on the mutant but not on the kernel.
 * Empty: the mutant survived.
 */
export function findingsDiff(mutant: FindingsDigest, baseline: FindingsDigest): string[] {
  const opsOf = (f: FindingsDigest['findings'][number]) => (f.ops ? f.ops.map((o) => JSON.stringify(o.op)) : f.trace).join('\n');
  // A target run by shape may report one rule in several shapes: each is its own finding. A
  // shape is named after its rule, `RULE[what it looked like]`, where the rule alone is ambiguous.
  const shaped = (d: FindingsDigest) => new Set(d.findings.filter((f, i) => d.findings.some((g, j) => j !== i && g.rule === f.rule)).map((f) => f.rule));
  const ambiguous = new Set([...shaped(mutant), ...shaped(baseline)]);
  const key = (f: FindingsDigest['findings'][number]) => (ambiguous.has(f.rule) && f.shape ? `${f.rule}[${f.shape.slice(f.rule.length + 2)}]` : f.rule);
  const byRule = (d: FindingsDigest) => new Map(d.findings.map((f) => [key(f), opsOf(f)]));
  const [m, b] = [byRule(mutant), byRule(baseline)];
  const baseStatus = new Map(baseline.rules.map((r) => [r.id, r.status]));
  return [
    ...[...m.keys()].filter((r) => !b.has(r)).map((r) => `+${r}`),
    ...[...b.keys()].filter((r) => !m.has(r)).map((r) => `-${r}`),
    ...[...m.keys()].filter((r) => b.has(r) && b.get(r) !== m.get(r)).map((r) => `~${r}`),
    ...mutant.rules.filter((r) => SEVERE.includes(r.status) && baseStatus.get(r.id) !== r.status).map((r) => `${r.id}:${r.status}`),
  ];
}

function digest(r: Report): FindingsDigest {
  return { findings: [...r.findings, ...(r.quality ?? [])], rules: r.rules };
}

/** A script's run: its status, the last line of stdout (a built binary's path), why it failed. */
function script(root: string, args: string[], timeoutMs = 20 * 60_000): { status: number | null; out: string; why: string } {
  const r = spawnSync('bash', args.map((a, i) => (i === 0 ? join(root, a) : a)), { cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const why = r.stderr?.trim().split('\n').filter(Boolean).pop() ?? r.error?.message ?? '';
  return { status: r.status, out: r.stdout?.trim() ?? '', why };
}

class KernelUnavailable extends Error {}

/** Builds with a script (its binary's path on the last line), or why it does not build. */
function build(root: string, args: string[]): { bin: string } | { failed: string } {
  const r = script(root, args);
  if (r.status === UNAVAILABLE) throw new KernelUnavailable(r.why);
  if (r.status !== 0) return { failed: r.why || `${args[0]} exited ${r.status}` };
  return { bin: r.out.split('\n').pop()! };
}

const seconds = (since: number) => Number(((performance.now() - since) / 1000).toFixed(1));

/** How a test program ended when its counts do not say it all: it hung, or died by a signal. */
function abnormalEnd(r: ReturnType<typeof spawnSync>): string | undefined {
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') return 'TIMEOUT';
  return r.signal ? `CRASH (${r.signal})` : undefined;
}

/** The verdict of a test program that ran: killed when it exits non-zero, dies or hangs. */
function testsVerdict(r: ReturnType<typeof spawnSync>, counts: Pick<KernelTestsVerdict, 'passed' | 'failed' | 'skipped'>, started: number): KernelTestsVerdict {
  const detail = abnormalEnd(r) ?? (counts.passed === null && r.status !== 0 ? 'died before its summary line' : undefined);
  return { verdict: r.status === 0 ? 'survived' : 'killed', ...counts, ...(detail ? { detail } : {}), seconds: seconds(started) };
}

function kernelTests(root: string, cell: KernelCell): KernelTestsVerdict {
  const started = performance.now();
  const tests = FAMILIES[cell.family].tests;
  if (tests === 'none') return { verdict: 'no-kernel-test', passed: null, failed: null, seconds: 0 };
  if (tests !== 'kunit') {
    const b = build(root, [...tests.selftest(cell), cell.mutant]);
    if ('failed' in b) return { verdict: 'build-failed', passed: null, failed: null, detail: b.failed, seconds: seconds(started) };
    const r = spawnSync(b.bin, [], { encoding: 'utf8', timeout: 5 * 60_000, maxBuffer: 64 << 20 });
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    // io-pgtable-arm's selftests count their cases; v7s's is one test that says PASS or FAIL.
    const m = [...out.matchAll(/(\d+) PASS (\d+) FAIL/g)].pop();
    const one = /io-pgtable-arm-v7s selftest: (PASS|FAIL)/.exec(out)?.[1];
    const counts = m ? { passed: Number(m[1]), failed: Number(m[2]) } : one ? { passed: one === 'PASS' ? 1 : 0, failed: one === 'FAIL' ? 1 : 0 } : { passed: null, failed: null };
    return testsVerdict(r, counts, started);
  }
  // run-genpt-kunit.sh builds and runs in one: a build failure is its exit 1 before any case ran.
  const r = spawnSync('bash', [join(root, 'scripts/run-genpt-kunit.sh'), cell.format!, cell.mutant], { cwd: root, encoding: 'utf8', timeout: 10 * 60_000, maxBuffer: 64 << 20 });
  if (r.status === UNAVAILABLE) throw new KernelUnavailable(r.stderr.trim().split('\n').pop() ?? '');
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  if (/run-genpt-kunit: (compiling|linking|mutant)/.test(out)) {
    return { verdict: 'build-failed', passed: null, failed: null, detail: out.trim().split('\n').pop(), seconds: seconds(started) };
  }
  const m = /kunit: \S+: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(out);
  return testsVerdict(r, { passed: m ? Number(m[1]) : null, failed: m ? Number(m[2]) : null, skipped: m ? Number(m[3]) : null }, started);
}

/** The target whose budget, seed and expectations a cell's suite run takes. */
function targetOf(cell: KernelCell): Target {
  const id = FAMILIES[cell.family].target(cell);
  const t = TARGETS.find((x) => x.id === id);
  if (!t) throw new ConfigError(`no target ${id}`);
  return t;
}

function adapterBuild(cell: KernelCell, mutant?: string): string[] {
  return [...FAMILIES[cell.family].adapter(cell), ...(mutant ? [mutant] : [])];
}

export interface KernelRunOptions {
  /** Sequences per family; default each target's expectations (the CI budget). */
  runs?: number;
  root?: string;
  onCell?: (r: KernelCellResult) => void;
  onBaseline?: (what: string, s: number) => void;
}

/** The suite's report on a built adapter, at the target's CI budget (or `runs`). */
async function suiteReport(t: Target, bin: string, runs: number | undefined): Promise<Report> {
  // The built binary in place of the target's, with the target's arguments (--format=v7s, --stage=2).
  const outcome = await checkTarget({ ...t, adapter: t.adapter.replace(/^cmd:\S+/, `cmd:${bin}`) }, { runs: runs ?? readExpectations(t.expectations).run.runs });
  return outcome.report!;
}

/** Each side's kill rate over the cells that built for it; a crash of the suite's run counts as a kill. */
function killRates(cells: readonly KernelCellResult[]): { kernelTests: KillRate; conformance: KillRate } {
  const tested = cells.filter((r) => r.kernelTests.verdict !== 'build-failed');
  const run = cells.filter((r) => r.conformance.verdict !== 'build-failed');
  return {
    kernelTests: { killed: tested.filter((r) => r.kernelTests.verdict === 'killed').length, of: tested.length },
    conformance: { killed: run.filter((r) => r.conformance.verdict === 'killed' || r.conformance.verdict === 'crash').length, of: run.length },
  };
}

/** Every cell, one after another (the suite runs with one worker: the budget is deterministic). */
export async function runKernelMutants(cells: readonly KernelCell[], opts: KernelRunOptions = {}): Promise<KernelMutantReport> {
  const root = opts.root ?? process.cwd();
  const started = performance.now();
  const baselines = new Map<string, Report>();
  const catalogue = new Map(KERNEL_FAMILIES.flatMap((f) => kernelCatalogue(f, root)).map((m) => [`${m.family}/${m.id}`, m]));
  const results: KernelCellResult[] = [];
  for (const cell of cells) {
    const t = targetOf(cell);
    const key = t.id;
    if (!baselines.has(key)) {
      const since = performance.now();
      const b = build(root, adapterBuild(cell));
      if ('failed' in b) throw new ConfigError(`the unmodified ${key} does not build: ${b.failed}`);
      baselines.set(key, await suiteReport(t, b.bin, opts.runs));
      opts.onBaseline?.(key, seconds(since));
    }
    const kt = kernelTests(root, cell);
    const since = performance.now();
    let conformance: SuiteVerdict;
    const b = build(root, adapterBuild(cell, cell.mutant));
    if ('failed' in b) conformance = { verdict: 'build-failed', diff: [], detail: b.failed, seconds: seconds(since) };
    else {
      try {
        const diff = findingsDiff(digest(await suiteReport(t, b.bin, opts.runs)), digest(baselines.get(key)!));
        conformance = { verdict: diff.length > 0 ? 'killed' : 'survived', diff, seconds: seconds(since) };
      } catch (e) {
        conformance = { verdict: 'crash', diff: [], detail: (e as Error).message.split('\n')[0], seconds: seconds(since) };
      }
    }
    const r: KernelCellResult = { ...cell, description: catalogue.get(`${cell.family}/${cell.mutant}`)?.description ?? '', kernelTests: kt, conformance };
    results.push(r);
    opts.onCell?.(r);
  }
  const families = [...new Set(results.map((r) => r.family))];
  return {
    budget: { seed: 1, runsPerFamily: opts.runs ?? 'expectations', workers: 1 },
    summary: {
      cells: results.length,
      ...killRates(results),
      byFamily: Object.fromEntries(families.map((f) => [f, killRates(results.filter((r) => r.family === f))])),
      buildFailed: results.filter((r) => r.kernelTests.verdict === 'build-failed' || r.conformance.verdict === 'build-failed').length,
      seconds: seconds(started),
    },
    cells: results,
  };
}

export interface KernelSelection {
  families?: readonly string[];
  suites?: readonly string[];
  only?: readonly string[];
}

/**
 * The cells asked for: every mutant of the chosen families (default all) on each chosen suite
 * (default sid). generic_pt exists only in sid's kernel (7.2); an io-pgtable-arm mutant whose
 * patch does not fit an older kernel is still a cell there, reported as not building.
 */
export function selectCells(sel: KernelSelection, root = process.cwd()): KernelCell[] {
  const families = sel.families?.length ? sel.families : KERNEL_FAMILIES;
  for (const f of families) if (!(KERNEL_FAMILIES as readonly string[]).includes(f)) throw new ConfigError(`--family: '${f}' is not one of ${KERNEL_FAMILIES.join(', ')}`);
  const suites = sel.suites?.length ? sel.suites : ['sid'];
  for (const s of suites) if (!(KERNEL_SUITES as readonly string[]).includes(s)) throw new ConfigError(`--suite: '${s}' is not one of ${KERNEL_SUITES.join(', ')}`);
  const mutants = (families as KernelFamily[]).flatMap((f) => kernelCatalogue(f, root));
  const only = sel.only ?? [];
  const unknown = only.filter((id) => !mutants.some((m) => m.id === id || `${m.family}/${m.id}` === id));
  if (unknown.length > 0) throw new ConfigError(`--only: no kernel mutant ${unknown.map((u) => `'${u}'`).join(', ')} (see mutants --kernel)`);
  const chosen = only.length ? mutants.filter((m) => only.includes(m.id) || only.includes(`${m.family}/${m.id}`)) : mutants;
  const cells: KernelCell[] = [];
  for (const m of chosen) {
    for (const suite of suites as KernelSuite[]) {
      if (!FAMILIES[m.family].suites.includes(suite)) {
        if (sel.suites?.length && !FAMILIES[m.family].suites.some((s) => suites.includes(s))) throw new ConfigError(`--suite ${suite}: ${m.family} is in ${FAMILIES[m.family].suites.join(', ')}'s kernel only`);
        continue;
      }
      cells.push({ family: m.family, mutant: m.id, suite, ...(m.family === 'generic_pt' ? { format: genptFormatOf(m) } : {}) });
    }
  }
  if (cells.length === 0) throw new ConfigError('no kernel mutant matches --family, --suite and --only');
  return cells;
}

const rate = (r: KillRate) => `${r.killed} of ${r.of}${r.of > 0 ? ` (${Math.round((100 * r.killed) / r.of)}%)` : ''}`;

export function kernelTestsCell(k: KernelTestsVerdict): string {
  if (k.verdict === 'build-failed') return `does not build: ${k.detail ?? ''}`;
  if (k.verdict === 'no-kernel-test') return 'no kernel test (not killed)';
  const counts = k.passed === null ? '' : `${k.passed} pass, ${k.failed} fail${k.skipped !== undefined && k.skipped !== null ? `, ${k.skipped} skip` : ''}`;
  const what = [counts, k.detail].filter(Boolean).join('; ');
  return k.verdict === 'killed' ? `killed (${what})` : `survived${counts ? ` (${counts})` : ''}`;
}

export function conformanceCell(c: SuiteVerdict): string {
  if (c.verdict === 'build-failed') return `does not build: ${c.detail ?? ''}`;
  if (c.verdict === 'crash') return `CRASH of the run: ${c.detail ?? ''}`;
  return c.verdict === 'killed' ? `killed (${c.diff.join(' ')})` : '**survived**';
}

const pipe = (s: string) => s.replace(/\|/g, '\\|');

/** The matrix as Markdown: the two kill rates first, then one row per mutant × suite. */
export function kernelMutantsMarkdown(r: KernelMutantReport): string {
  const s = r.summary;
  const budget = r.budget.runsPerFamily === 'expectations' ? "at each target's CI budget: its expectations' runs per family" : `${r.budget.runsPerFamily} sequences per family`;
  const families = Object.entries(s.byFamily);
  const untested = r.cells.filter((c) => c.kernelTests.verdict === 'no-kernel-test').length;
  return [
    '# Kernel mutant kill matrix',
    '',
    `- kernel's own tests (selftests, KUnit): **${rate(s.kernelTests)}** killed`,
    `- conformance suite (${budget}, seed ${r.budget.seed}, one worker): **${rate(s.conformance)}** killed`,
    ...(families.length > 1 ? families.map(([f, k]) => `- ${f}: kernel's tests ${rate(k.kernelTests)}, the suite ${rate(k.conformance)}`) : []),
    ...(s.buildFailed > 0 ? [`- ${s.buildFailed} cell(s) did not build`] : []),
    ...(untested > 0 ? [`- ${untested} cell(s) with no kernel test (io-pgtable-dart.c has none): counted as not killed by the kernel's tests`] : []),
    `- ${s.cells} cells in ${s.seconds} s`,
    '',
    'The suite kills a mutant when its findings differ from the unmodified kernel\'s at the same seed and budget: `+RULE` found only on the mutant, `-RULE` no longer found, `~RULE` on another minimal trace, `RULE:CRASH` a rule that crashed only on the mutant.',
    '',
    '| family | mutant | suite | format | kernel tests | s | conformance suite | s |',
    '|---|---|---|---|---|---:|---|---:|',
    ...r.cells.map((c) => `| ${c.family} | ${c.mutant} | ${c.suite} | ${c.format ?? '—'} | ${pipe(kernelTestsCell(c.kernelTests))} | ${c.kernelTests.seconds} | ${pipe(conformanceCell(c.conformance))} | ${c.conformance.seconds} |`),
    '',
    '## The mutants',
    '',
    ...[...new Map(r.cells.map((c) => [`${c.family}/${c.mutant}`, c])).values()].map((c) => `- **${c.mutant}** (${c.family}): ${c.description}`),
    '',
  ].join('\n');
}

/** Runs the matrix and writes kernel-mutants.json and kernel-mutants.md into `reportDir`. */
export async function writeKernelMutantReport(cells: readonly KernelCell[], opts: KernelRunOptions & { reportDir: string }): Promise<KernelMutantReport | { unavailable: string }> {
  try {
    makeDir(opts.reportDir);
  } catch (e) {
    throw new ConfigError(`cannot write reports to ${opts.reportDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let report: KernelMutantReport;
  try {
    report = await runKernelMutants(cells, opts);
  } catch (e) {
    if (e instanceof KernelUnavailable) return { unavailable: e.message };
    throw e;
  }
  writeFileSync(join(opts.reportDir, 'kernel-mutants.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(opts.reportDir, 'kernel-mutants.md'), kernelMutantsMarkdown(report));
  return report;
}
