// Real third-party IOMMU models, checked with a documented budget. Each target is obtained and
// built by the project's own scripts (Debian packages into .cache/), run through the suite,
// and its findings compared with the target's expectations file: every divergence we know of
// carries a judgement written after reading its trace. A new divergence, or an expected one
// that no longer shows, fails the comparison — either way a human has to look.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { makeDir } from './make-dir.ts';
import { dirname, join } from 'node:path';
import { ConfigError, ruleById } from '../spec/index.ts';
import { type DebianSuite, type QemuArch, SUITES, findQemu, qemuHasDevice } from '../impl/targets/qemu/common/machine.ts';
import { SUITE_ENV, deviceAbsent } from '../impl/targets/qemu/common/suite-choice.ts';
import { loadAdapter } from './adapters.ts';
import { findingText } from './report-text.ts';
import { writeMatrices } from './target-matrix.ts';
import { writeReproducers } from './reproduce.ts';
import { type Report, type ReportFinding, runSuite } from './suite.ts';
import type { SetAsideBy } from '../properties/shape.ts';

export interface Target {
  /** `linux-io-pgtable-arm`, or `qemu-intel-iommu@trixie` for one version of a matrix. */
  id: string;
  /** The matrix this target is a version of (`qemu-intel-iommu`), when it is one. */
  matrix?: string;
  /** The Debian suite the version comes from, and the emulator it runs. */
  suite?: DebianSuite;
  arch?: QemuArch;
  /** The QEMU `-device` the target drives: a version without it is reported as such, never run. */
  device?: string;
  title: string;
  /** Scripts (project-relative, with their arguments) that fetch and build it; each exits non-zero with one line on failure. */
  prepare: string[];
  /** How the suite reaches it: `cmd:<command>` or a module path. */
  adapter: string;
  /** Environment the adapter's process gets (which QEMU it runs). */
  env?: Record<string, string>;
  profile: string;
  /** The documented budget: sequences per family and the longest sequence (the seed is the expectations file's). */
  runs: number;
  maxSteps: number;
  expectations: string;
}

/** One target per Debian suite: the same adapter module on bookworm's, trixie's and sid's QEMU. */
function qemuMatrix(matrix: string, what: string, dir: string, runs: number, arch: QemuArch = 'x86_64', device?: string): Target[] {
  return SUITES.map((suite) => ({
    id: `${matrix}@${suite}`, matrix, suite, arch, ...(device ? { device } : {}),
    title: `${what} in Debian ${suite}'s QEMU (qemu-system-${arch}), driven over qtest`,
    prepare: [`scripts/fetch-qemu-suite.sh ${suite} ${arch}`],
    adapter: `${dir}/module.ts`,
    env: { [SUITE_ENV]: suite },
    profile: 'linux',
    runs,
    maxSteps: 60,
    expectations: `${dir}/expectations/${suite}.json`,
  }));
}

/** Linux's kernel release in each Debian suite (scripts/fetch-linux.sh), for titles only. */
const LINUX_RELEASE: Record<DebianSuite, string> = { bookworm: '6.1', trixie: '6.12', sid: '7.2' };

/**
 * One target per Debian suite: Linux's io-pgtable-arm of that suite's linux-source, built by
 * scripts/build-linux-target.sh <suite> and run at stage 1, or stage 2 (`--stage=2`); the same
 * binary drives io-pgtable-arm-v7s (`--format=v7s`) and io-pgtable-dart (`--format=dart`).
 * Each version has its own expectations (`<prefix><suite>.json`); the causes are judged once,
 * in expectations/causes.json.
 */
function linuxMatrix(matrix: string, what: string, args: string, prefix: string, runs = 2000): Target[] {
  const dir = 'impl/targets/linux/io-pgtable-arm';
  return SUITES.map((suite) => ({
    id: `${matrix}@${suite}`, matrix, suite,
    title: `Linux ${LINUX_RELEASE[suite]}'s ${what} (Debian ${suite}, linux-source-${LINUX_RELEASE[suite]}), under a core layer written from the rules`,
    prepare: [`scripts/fetch-linux.sh ${suite}`, `scripts/build-linux-target.sh ${suite}`],
    adapter: `cmd:${dir}/build/${suite}/io-pgtable-arm-adapter${args}`,
    profile: 'linux',
    runs,
    maxSteps: 60,
    expectations: `${dir}/expectations/${prefix}${suite}.json`,
  }));
}

/**
 * One format of Linux's generic page table ("iommupt", drivers/iommu/generic_pt, 6.19+), built
 * unchanged in userspace from the suite's linux-source: only sid has it today, so the matrix has
 * one version until trixie's successor does.
 */
function genptMatrix(fmt: string, what: string, runs: number): Target[] {
  const matrix = `linux-genpt-${fmt}`;
  return (['sid'] as const).map((suite) => ({
    id: `${matrix}@${suite}`, matrix, suite,
    title: `Linux's generic_pt ${fmt} format, ${what}, from Debian ${suite}'s linux-source, under a 7.2 core layer written from the rules`,
    prepare: [`scripts/fetch-linux.sh ${suite}`, `scripts/build-linux-genpt.sh ${fmt}`],
    adapter: `cmd:impl/targets/linux/genpt/build/genpt-${fmt}-adapter`,
    profile: 'linux',
    runs,
    maxSteps: 60,
    expectations: `impl/targets/linux/genpt/expectations/${fmt}.json`,
  }));
}

export const TARGETS: readonly Target[] = [
  ...linuxMatrix('linux-io-pgtable-arm', 'io-pgtable-arm ARM_64_LPAE_S1', '', ''),
  ...linuxMatrix('linux-io-pgtable-arm-s2', 'io-pgtable-arm ARM_64_LPAE_S2', ' --stage=2', 's2-'),
  ...linuxMatrix('linux-io-pgtable-v7s', 'io-pgtable-arm-v7s ARM_V7S (Arm short descriptor)', ' --format=v7s', 'v7s-', 300),
  ...linuxMatrix('linux-io-pgtable-dart', 'io-pgtable-dart APPLE_DART and APPLE_DART2', ' --format=dart', 'dart-', 300),
  ...genptMatrix('amdv1', "AMD IOMMU v1 host tables (amd/iommu.c's configuration)", 300),
  ...genptMatrix('x86_64', "AMD IOMMU v2 tables (amd/iommu.c's configuration)", 300),
  ...genptMatrix('vtdss', "VT-d second stage (intel/iommu.c's configuration)", 300),
  ...genptMatrix('riscv64', "RISC-V IOMMU Sv39/48/57 (riscv/iommu.c's configuration)", 300),
  ...qemuMatrix('qemu-virtio-iommu', 'The virtio-iommu device', 'impl/targets/qemu/virtio-iommu', 600).map((t) => ({ ...t, profile: 'virtio-iommu' })),
  ...qemuMatrix('qemu-intel-iommu', "intel-iommu (VT-d, legacy mode) under the project's guest-driver kit", 'impl/targets/qemu/intel-iommu', 100),
  ...qemuMatrix('qemu-smmuv3', "SMMUv3 (stage 1, virt) under the project's guest-driver kit", 'impl/targets/qemu/smmuv3', 100, 'aarch64'),
  ...qemuMatrix('qemu-riscv-iommu', "RISC-V IOMMU (riscv-iommu-pci, first stage, virt) under the project's guest-driver kit", 'impl/targets/qemu/riscv-iommu', 100, 'riscv64', 'riscv-iommu-pci'),
  ...qemuMatrix('qemu-amd-iommu', "amd-iommu (AMD-Vi, v1 host tables, q35) under the project's guest-driver kit", 'impl/targets/qemu/amd-iommu', 100, 'x86_64', 'amd-iommu'),
];

/** Why a target departs from a rule, judged once after reading the traces it causes. */
export interface Cause {
  /**
   * The target breaks its sources, the sources allow more than one reading, or (a guest-driver
   * kit's target) the kit, not the model, is at fault and the kit is to be fixed.
   */
  verdict: 'divergence' | 'spec-ambiguity' | 'kit-limitation';
  judgement: string;
  source?: string;
  /** Gone in a later version: where, and the upstream change that fixed it when it is known. */
  fixed?: { in: string; by?: string };
}

/** A rule the suite finds broken in the target, and the causes behind it. */
export interface Expectation {
  rule: string;
  /**
   * The judged failure's shape (properties/shape.ts), in a target whose run sets findings aside
   * by shape: a finding of the rule in another shape is not this one. Absent: any failure of the
   * rule (a target run by rule, or an entry seen before shapes were recorded).
   */
  shape?: string;
  status: string;
  causes: string[];
  /** Found at the test's budget; the others were seen only in longer runs. */
  required: boolean;
  judgement: string;
}

export interface Expectations {
  target: string;
  /** The budget the target's test runs with (workers 1, so the same everywhere). */
  /** swarm: the expectations were recorded with swarm generation (properties/swarm.ts); without the field, they were not. */
  /** setAside: 'shape' sets aside only a found failure's shape, so a new bug under a rule already found is still reported (properties/shape.ts); default 'rule'. */
  run: { seed: number; runs: number; maxSteps?: number; swarm?: boolean; setAside?: SetAsideBy };
  causes: Record<string, Cause>;
  expected: Expectation[];
}

type Judged = Pick<ReportFinding, 'rule' | 'status' | 'title' | 'trace' | 'expected' | 'observed' | 'replay'> & Partial<Pick<ReportFinding, 'ops' | 'topology'>> & {
  statement: string;
  sources: string[];
  shape?: string;
  expectation?: Expectation;
  causes: (Cause & { id: string })[];
};

export interface TargetOutcome {
  target: string;
  available: boolean;
  /** Why it could not be obtained or built (only when !available). */
  unavailable?: string;
  /** The version was obtained but has no such device: nothing to run, and nothing failed. */
  absent?: string;
  report?: Report;
  opsPerSec?: number;
  findings: Judged[];
  unexpected: string[];
  vanished: string[];
  ok: boolean;
}

/**
 * A target's expectations. `causes` may name a file beside it instead (the causes every version
 * of a matrix shares, each judged once), e.g. `"causes": "../causes.json"`.
 */
export function readExpectations(file: string): Expectations {
  let raw: Partial<Expectations>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Expectations>;
    if (typeof raw.causes === 'string') raw.causes = JSON.parse(readFileSync(join(dirname(file), raw.causes), 'utf8')) as Record<string, Cause>;
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new ConfigError(`${file}: ${what}`);
  };
  if (typeof raw.causes !== 'object' || raw.causes === null) bad('expected "causes": {id: {verdict, judgement}}');
  for (const [id, c] of Object.entries(raw.causes!)) {
    if (!['divergence', 'spec-ambiguity', 'kit-limitation'].includes(c.verdict)) bad(`causes.${id}.verdict must be 'divergence', 'spec-ambiguity' or 'kit-limitation'`);
    if (typeof c.judgement !== 'string' || c.judgement.length < 40) bad(`causes.${id}.judgement must say why, after reading the traces`);
  }
  if (!Array.isArray(raw.expected)) bad('expected "expected": [{rule, status, causes, required, judgement}]');
  raw.expected!.forEach((e, i) => {
    if (!ruleById(e.rule)) bad(`expected[${i}].rule '${e.rule}' is not a rule ID`);
    if (!Array.isArray(e.causes) || e.causes.length === 0 || e.causes.some((c) => !raw.causes![c])) bad(`expected[${i}].causes must name causes of this file`);
    if (typeof e.required !== 'boolean') bad(`expected[${i}].required must be true or false`);
  });
  if (typeof raw.run?.seed !== 'number' || typeof raw.run.runs !== 'number') bad('expected "run": {seed, runs}');
  if (raw.run!.setAside !== undefined && raw.run!.setAside !== 'rule' && raw.run!.setAside !== 'shape') bad('run.setAside must be "rule" or "shape"');
  raw.expected!.forEach((e, i) => {
    if (e.shape !== undefined && (typeof e.shape !== 'string' || !e.shape.startsWith(`${e.rule}: `))) bad(`expected[${i}].shape must be a shape of ${e.rule} (a finding's "shape")`);
  });
  return raw as Expectations;
}

/** Runs the target's scripts; returns why it is unavailable, or null when it is ready. */
export function prepareTarget(t: Target, root = process.cwd()): string | null {
  for (const line of t.prepare) {
    const [script, ...args] = line.split(' ');
    try {
      execFileSync('bash', [join(root, script!), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60_000 });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      const line = err.stderr?.toString().trim().split('\n').pop() || err.message.split('\n')[0];
      return `${script}: ${line}`;
    }
  }
  return null;
}

/** Why a prepared matrix version cannot run the target at all (its QEMU lacks the device), or null. */
export function absentDevice(t: Target): string | null {
  if (!t.device || !t.suite) return null;
  const q = findQemu(t.suite, t.arch);
  if (typeof q === 'string') return null; // prepareTarget already said why
  const has = qemuHasDevice(q, t.device);
  if (typeof has === 'string') throw new ConfigError(`${t.id}: ${has}`);
  return has ? null : deviceAbsent(q, t.device);
}

/** A longer run with the expectations' seed draws the test's sequences first, so its required findings recur. */
export async function checkTarget(t: Target, budget: Partial<Pick<Target, 'runs' | 'maxSteps'>> = {}): Promise<TargetOutcome> {
  const known = readExpectations(t.expectations);
  // The adapter's process (and any restart of it) inherits the target's environment.
  const saved = Object.fromEntries(Object.keys(t.env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, t.env);
  const runs = budget.runs ?? t.runs;
  let report: Report;
  let adapter: Awaited<ReturnType<typeof loadAdapter>> | undefined;
  try {
    adapter = await loadAdapter(t.adapter, { profile: t.profile });
    report = await runSuite(adapter, {
      adapterSpec: t.adapter, adapterOptions: { profile: t.profile }, seed: known.run.seed, runs, maxSteps: budget.maxSteps ?? t.maxSteps, swarm: known.run.swarm === true,
      setAsideBy: known.run.setAside ?? 'rule', minOpsPerKind: 0, maxSkipRate: 1, workers: 1,
    });
  } finally {
    await adapter?.close?.();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const ops = Object.values(report.coverage.ops).reduce((n, o) => n + o.total, 0);
  const findings = [...report.findings, ...report.quality].map((f): Judged => {
    const rule = ruleById(f.rule);
    const expectation = judgedAs(known.expected, f);
    return {
      rule: f.rule, status: f.status, title: f.title, trace: f.trace, expected: f.expected, observed: f.observed, replay: `${envPrefix(t)}${f.replay}`,
      // The trace as data too: `reproduce` exports it as a qtest script.
      ops: f.ops, topology: f.topology,
      statement: rule?.statement ?? '', sources: rule?.sources ? [...rule.sources] : [], shape: f.shape,
      ...(expectation ? { expectation } : {}),
      causes: (expectation?.causes ?? []).map((id) => ({ id, ...known.causes[id]! })),
    };
  });
  const byShape = known.run.setAside === 'shape';
  const named = (x: { rule: string; shape?: string }) => (byShape && x.shape ? `${x.rule} [${x.shape.slice(x.rule.length + 2)}]` : x.rule);
  const unexpected = findings.filter((f) => !f.expectation).map(named);
  // Entries seen only in longer runs may be missing from a shorter one.
  const vanished = known.expected.filter((e) => e.required && !findings.some((f) => f.expectation === e)).map(named);
  return {
    target: t.id, available: true, report, opsPerSec: Math.round(ops / (report.durationMs / 1000)),
    findings, unexpected, vanished, ok: unexpected.length === 0 && vanished.length === 0,
  };
}

/**
 * The judged entry a finding is: the one of its rule and shape, else the one of its rule that
 * names no shape (judged by rule only). Quality warnings are judged by rule.
 */
export function judgedAs(expected: readonly Expectation[], f: { rule: string; shape?: string }): Expectation | undefined {
  const ofRule = expected.filter((e) => e.rule === f.rule);
  return ofRule.find((e) => e.shape !== undefined && e.shape === f.shape) ?? ofRule.find((e) => e.shape === undefined);
}

/** `IOMMU_CONFORMANCE_QEMU_SUITE=trixie ` before a replay line, so it runs on the same version. */
function envPrefix(t: Target): string {
  return Object.entries(t.env ?? {}).map(([k, v]) => `${k}=${v} `).join('');
}

/** A matrix version's report is named by the release it ran (`qemu-intel-iommu@10.0`), else by its suite. */
export function reportName(t: Target, o: TargetOutcome): string {
  if (!t.matrix) return t.id;
  const release = /^(\d+\.\d+)/.exec(o.report?.adapter.version ?? '')?.[1];
  return `${t.matrix}@${release ?? t.suite}`;
}

export function writeTargetReport(t: Target, o: TargetOutcome, dir = 'reports/third-party'): string[] {
  makeDir(dir);
  const name = reportName(t, o);
  const json = join(dir, `${name}.json`);
  const md = join(dir, `${name}.md`);
  const { report, ...rest } = o;
  const summary = report ? { durationMs: report.durationMs, budget: report.budget, adapter: report.adapter, summary: report.summary, sequences: report.coverage.sequences } : null;
  writeFileSync(json, JSON.stringify({ title: t.title, ...rest, run: summary }, null, 2) + '\n');
  writeFileSync(md, targetMarkdown(t, o));
  return [json, md];
}

function targetMarkdown(t: Target, o: TargetOutcome): string {
  const lines = [`# ${t.title}`, ''];
  if (o.absent) return [...lines, `Not applicable: ${o.absent}.`, ''].join('\n');
  if (!o.available) return [...lines, `Not run: ${o.unavailable}`, ''].join('\n');
  const r = o.report!;
  lines.push(
    `Adapter \`${r.adapter.name} ${r.adapter.version}\`, profile \`${r.adapter.profile}\`; budget ${r.budget.runs} sequences per family, at most ${r.budget.maxSteps} steps, seed ${r.budget.seed}.`,
    `${r.coverage.sequences} sequences in ${(r.durationMs / 1000).toFixed(1)} s, ${o.opsPerSec} checked ops/s. Result: ${r.summary.PASS} PASS, ${r.summary.FAIL} FAIL, ${r.summary.NOT_SUPPORTED} NOT_SUPPORTED, ${r.summary.UNCHECKED} UNCHECKED.`,
    '',
    o.ok ? 'Every finding is a known, judged one.' : `**Expectations do not match**: new ${o.unexpected.join(', ') || 'none'}; vanished ${o.vanished.join(', ') || 'none'}.`,
    '',
  );
  for (const f of o.findings) {
    lines.push(`## ${f.rule}: ${f.title}`, '', `Shape: \`${f.shape}\``, '');
    if (!f.expectation) lines.push('**Not yet judged** (new divergence).', '');
    else if (r.budget.setAsideBy === 'shape' && f.expectation.shape === undefined && f.status !== 'QUALITY_WARNING') lines.push('**Judged by its rule only**: this shape was never judged on its own.', '');
    else lines.push(`${f.expectation.judgement}.`, '', ...f.causes.map((c) => `- **${c.verdict}** (${c.id}): ${c.judgement}${c.source ? ` Source: ${c.source}` : ''}`), '');
    lines.push(`Rule: ${f.statement}`, '', `Sources: ${f.sources.join('; ')}`, '', '```', findingText({ ...f, family: '', message: undefined, op: null } as unknown as ReportFinding), '```', '');
  }
  return lines.join('\n');
}

/** `npm run targets`: every target, or those named (a matrix name takes all its versions); exit 1 when any comparison fails. */
export async function runTargets(ids: string[], opts: { required: boolean }): Promise<number> {
  const chosen = ids.length === 0 ? TARGETS : ids.flatMap((id) => {
    const hits = TARGETS.filter((t) => t.id === id || t.matrix === id);
    return hits.length > 0 ? hits : fail(id);
  });
  let code = 0;
  const outcomes: [Target, TargetOutcome][] = [];
  for (const t of chosen) {
    const outcome = await outcomeOf(t, opts.required);
    outcomes.push([t, outcome]);
    const files = writeTargetReport(t, outcome);
    if (outcome.absent) console.log(`${t.id}: not applicable — ${outcome.absent}`);
    else if (!outcome.available) console.error(`${t.id}: NOT RUN — ${outcome.unavailable}${opts.required ? '' : ' (skipped; set CI=true to make this an error)'}`);
    else console.log(`${reportName(t, outcome)}: ${outcome.findings.length} finding(s) [${outcome.findings.map((f) => f.rule).join(', ')}], ${outcome.opsPerSec} ops/s; expectations ${outcome.ok ? 'match' : `DO NOT match (new: ${outcome.unexpected.join(', ') || '-'}; vanished: ${outcome.vanished.join(', ') || '-'})`}`);
    console.log(`  ${files.join(', ')}`);
    if (!outcome.ok) code = 1;
  }
  for (const file of writeMatrices(outcomes)) console.log(`  ${file}`);
  // One qtest reproducer per finding of a QEMU target, recorded on the version that found it.
  const versions = outcomes.filter(([t, o]) => t.matrix && t.suite && o.available).map(([t, o]) => ({
    name: reportName(t, o), matrix: t.matrix!, suite: t.suite!, release: reportName(t, o).split('@')[1]!, findings: o.findings,
  }));
  for (const line of await writeReproducers(versions)) console.log(`  ${line}`);
  return code;
}

/**
 * One target's outcome: prepared first (a matrix version's QEMU is fetched before its device list
 * can be read), then not applicable when its QEMU has no such device, else checked against its
 * expectations. Unobtainable is an error only when required (CI).
 */
async function outcomeOf(t: Target, required: boolean): Promise<TargetOutcome> {
  const none = { target: t.id, available: false, findings: [], unexpected: [], vanished: [] };
  const why = prepareTarget(t);
  if (why) return { ...none, unavailable: why, ok: !required };
  const absent = absentDevice(t);
  if (absent) return { ...none, absent, ok: true };
  if (!existsSync(t.expectations)) return { ...none, unavailable: `${t.expectations} is missing`, ok: !required };
  return checkTarget(t);
}

function fail(id: string): never {
  throw new ConfigError(`unknown target '${id}' (known: ${TARGETS.map((t) => t.id).join(', ')})`);
}
