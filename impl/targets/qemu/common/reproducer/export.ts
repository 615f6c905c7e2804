// Exports a finding on a QEMU target as a standalone reproducer: its minimal trace replayed on
// the target's adapter (one fresh QEMU) with a transcript recording every qtest command, the
// reference judging each op as a replay does, and the last op's assertions made from what the
// reference expects of it. The directory it writes needs nothing of this suite: the script,
// the python runner, a README and the trace as data (to export it again on another version).

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Adapter, ConfigError, type Op, type Outcome, type Topology, encodeOp, encodeTopology, formatCall, formatOp, formatOutcome,
  resolveCapabilities, resolvePolicies, ruleById,
} from '../../../../../spec/index.ts';
import { ReferenceModel } from '../../../../reference/model.ts';
import type { QemuArch, QemuInstall } from '../machine.ts';
import { type Label, Transcript } from '../transcript.ts';
import { type Assertion, renderScript } from './script.ts';

export const RUNNER = join(import.meta.dirname, 'run-qtest.py');
export const SCRIPT_FILE = 'reproducer.qtest';

/** What the reads recorded so far tell a target's assertions. */
export interface ReadContext {
  /** The labelled reads the op made, in order. */
  inOp: readonly Label[];
  /** Every name bound by a labelled read so far (the op's included). */
  bound: ReadonlySet<string>;
  topology: Topology;
}

/** One QEMU target as a reproducer source (each target's reproducer.ts). */
export interface ReproducerKit {
  /** The adapter's name in hello, as reports carry it. */
  target: string;
  arch: QemuArch;
  /** The document the device is judged by, for the README. */
  specification: string;
  create(install: QemuInstall, recorder: Transcript): Adapter & { close(): Promise<void> };
  /** Assertions that hold exactly when `op` had the outcome `expected`, or why there can be none. */
  assertions(op: Op, expected: Outcome, reads: ReadContext): Assertion[] | string;
}

export interface TraceToExport {
  /** The rule the finding broke; the last op's own when absent. */
  rule?: string;
  topology: Topology;
  ops: readonly Op[];
}

export interface ExportResult {
  dir: string;
  rule: string;
  /** Did the last op diverge on the QEMU recorded on? */
  diverged: boolean;
  expected: string[];
  observed: string;
}

/** The last op as recorded: what it gave, what the reference expects, and the assertions saying so. */
interface LastOp {
  op: Op;
  out: Outcome;
  expected: string[];
  /** Alternatives, one per outcome the reference allows. */
  assertions: Assertion[][];
  diverged: boolean;
  rule: string | null;
}

interface Recording {
  transcript: Transcript;
  opTexts: Map<number, string>;
  last: LastOp;
}

/** Replays `trace` on `install` with recording on and writes the reproducer directory `outDir`. */
export async function exportReproducer(kit: ReproducerKit, install: QemuInstall, trace: TraceToExport, outDir: string, seenOn: readonly string[] = []): Promise<ExportResult> {
  const { transcript, opTexts, last } = await record(kit, install, trace);
  const rule = trace.rule ?? last.rule;
  if (!rule) throw new ConfigError('the trace names no rule and its last op embodies none');
  const observed = formatOutcome(last.op, last.out);
  const verdict = last.diverged ? `the last op gave ${observed}, expected ${last.expected.join(' | ')} (the divergence)` : `the last op gave ${observed}, as expected (no divergence there)`;
  const script = renderScript({
    rule, ruleTitle: ruleById(rule)?.title ?? rule, target: kit.target, arch: kit.arch, recordedOn: install.version, verdict, transcript, opTexts, assertions: last.assertions,
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, SCRIPT_FILE), script);
  copyFileSync(RUNNER, join(outDir, 'run-qtest.py'));
  writeFileSync(join(outDir, 'README.md'), readme(kit, install, rule, verdict, seenOn));
  writeFileSync(join(outDir, 'trace.json'), JSON.stringify({
    rule, adapter: { name: kit.target, version: install.version }, topology: encodeTopology(trace.topology), ops: trace.ops.map((op) => ({ op: encodeOp(op) })),
  }, null, 2) + '\n');
  return { dir: outDir, rule, diverged: last.diverged, expected: last.expected, observed };
}

/** The trace replayed on a fresh QEMU, judged op by op as a replay is; every qtest command recorded. */
async function record(kit: ReproducerKit, install: QemuInstall, trace: TraceToExport): Promise<Recording> {
  if (trace.ops.length === 0) throw new ConfigError('the trace has no ops');
  const transcript = new Transcript();
  const adapter = kit.create(install, transcript);
  const opTexts = new Map<number, string>();
  const on = `on QEMU ${install.version}`;
  try {
    const info = await guard(() => adapter.hello(), `${kit.target} ${on} did not start`);
    transcript.comment(`bring-up, and the reset to the trace's topology: ${describeTopology(trace.topology)}`);
    await guard(() => adapter.reset(trace.topology), `${kit.target} ${on} cannot be reset to the trace's topology`);
    const model = new ReferenceModel(trace.topology, resolvePolicies(info.profile, info.policies), resolveCapabilities(info.profile, info.capabilities));
    const setup = trace.ops.slice(0, -1);
    for (const [i, op] of setup.entries()) {
      transcript.op(i + 1);
      const out = await guard(() => adapter.exec(op), `op ${i + 1} ${formatOp(op)} ${on}`);
      const j = model.judge(op, out);
      if (!j.ok) throw new ConfigError(`op ${i + 1} already diverges ${on} (${formatCall(op, out)}, expected ${j.expected.join(' | ')}): export the trace up to it`);
      opTexts.set(i + 1, formatCall(op, out));
    }
    const n = trace.ops.length;
    const op = trace.ops[n - 1]!;
    transcript.op(n);
    const mark = transcript.entries.length;
    // What the reference expects is fixed before the op runs: the assertions never follow QEMU.
    const expected = model.expect(op);
    const out = await guard(() => adapter.exec(op), `op ${n} ${formatOp(op)} ${on}`);
    const reads = { inOp: transcript.labelsSince(mark), bound: new Set(transcript.labelsSince(0).map((l) => l.name)), topology: trace.topology };
    const assertions = expected.map((e) => {
      if (!e.canonical) throw new ConfigError(`op ${n} ${formatOp(op)}: the reference's outcome '${e.describe}' has no canonical form to assert`);
      const a = kit.assertions(op, e.canonical, reads);
      if (typeof a === 'string') throw new ConfigError(`no reproducer for ${formatOp(op)} on ${kit.target}: ${a}`);
      return a;
    });
    const j = model.judge(op, out);
    opTexts.set(n, `${formatOp(op)}, expected ${expected.map((e) => e.describe).join(' | ')}`);
    const last = { op, out, expected: expected.map((e) => e.describe), assertions: distinct(assertions), diverged: !j.ok, rule: j.ok ? (j.rules[0] ?? null) : j.rule };
    return { transcript, opTexts, last };
  } finally {
    await adapter.close();
  }
}

/** An adapter's failure as one line of bad input (the trace does not fit this version). */
async function guard<T>(f: () => T | Promise<T>, what: string): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new ConfigError(`${what}: ${(e as Error).message}`);
  }
}

function distinct(alternatives: Assertion[][]): Assertion[][] {
  const seen = new Map<string, Assertion[]>();
  for (const a of alternatives) seen.set(JSON.stringify(a), a);
  return [...seen.values()];
}

function describeTopology(t: Topology): string {
  const defaults = [...new Set(t.groups.map((g) => g.defaultDomain))].join('/');
  return `${t.devices.length} device(s), ${defaults} while unattached, ${t.iommus.map((m) => `${m.ias}-bit input`).join(', ')}`;
}

function readme(kit: ReproducerKit, install: QemuInstall, rule: string, verdict: string, seenOn: readonly string[]): string {
  const r = ruleById(rule);
  return [
    `# ${rule} on ${kit.target}: ${r?.title ?? rule}`,
    '',
    `\`${SCRIPT_FILE}\` is the suite's minimal trace as qtest commands; \`run-qtest.py\` (python3, nothing else) runs it against a QEMU build:`,
    '',
    `    python3 run-qtest.py ${SCRIPT_FILE} /path/to/qemu-system-${kit.arch}`,
    '',
    'Exit 0: QEMU does what the rule requires. 1: the divergence reproduced (one line names the op, expected and observed). 2: the script could not run.',
    '',
    `Rule ${rule}${r ? ` (${r.level}): ${r.statement}` : ''}${r?.sources.length ? ` Sources: ${r.sources.join('; ')}.` : ''} The device is judged by ${kit.specification}.`,
    '',
    `Recorded on QEMU ${install.version}: ${verdict}.${seenOn.length ? ` Seen on QEMU ${seenOn.join(', ')}.` : ''} \`trace.json\` is the trace as data (\`npx iommu-conformance reproduce --report trace.json --suite <suite> --out <dir>\` records it again).`,
    '',
  ].join('\n');
}
