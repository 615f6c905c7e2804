// The kill run over a small catalogue: four real mutants of the Arm model must be killed by a
// rule of their own, with counts that agree with a plain family run, and the conforming model
// must come out alive after every family's whole budget. Timing is recorded, never asserted.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ConfigError, RULES, resolvePolicies } from '../spec/index.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { ARM_MUTANTS } from '../impl/models/arm-smmu/mutants.ts';
import { FAMILIES_OF_PROPERTIES, familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { type KillReport, killRun, traceLength, writeKillReport } from '../runner/kill-matrix.ts';
import { ARM_MUTANT_ENTRIES, type MutantEntry } from '../runner/mutant-entries.ts';

const OPTS = { seed: 1, runs: 100, maxSteps: 40 };
// align-ignores-paddr makes the model throw: its counterexample ends in an op with no reply.
const PICKED = ['attach-replaces', 'free-attached', 'ro-writable', 'align-ignores-paddr'];
const CONFORMING: MutantEntry = {
  id: 'conforming',
  description: 'the Arm model with no bug switched on',
  // Every rule: any finding at all would kill it.
  rules: RULES.map((r) => r.id),
  family: 'attach',
  bugClass: 'none',
  create: () => new ArmSmmuModel(),
};
const entries = [...ARM_MUTANT_ENTRIES.filter((e) => PICKED.includes(e.id)), CONFORMING];
const dir = mkdtempSync(join(tmpdir(), 'kill-matrix-'));
let r: KillReport;

beforeAll(async () => {
  r = await writeKillReport(entries, { ...OPTS, reportDir: dir });
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

test('the entries are the Arm catalogue, one model per mutant with its bug on', async () => {
  expect(ARM_MUTANT_ENTRIES.map((e) => [e.id, e.rules, e.family])).toEqual(ARM_MUTANTS.map((m) => [m.id, m.rules, m.family]));
  for (const e of ARM_MUTANT_ENTRIES.slice(0, 3)) expect((await e.create().hello()).name).toContain(e.id);
});

test('each mutant is killed by one of its rules, and its count agrees with a plain family run', async () => {
  expect(r.mutants.map((m) => m.id)).toEqual(entries.map((e) => e.id));
  expect(entries.length).toBe(PICKED.length + 1);
  for (const m of r.mutants.filter((x) => PICKED.includes(x.id))) {
    const entry = entries.find((e) => e.id === m.id)!;
    expect(m.killed, m.id).toBe(true);
    expect(entry.rules).toContain(m.reportedRule);
    expect(familyById(m.family!), m.id).toBeDefined();
    expect(Number.isInteger(m.runsToFailure) && m.runsToFailure! >= 1 && m.runsToFailure! <= m.sequences, m.id).toBe(true);
    expect(m.traceLength!, m.id).toBeGreaterThanOrEqual(1);
    expect(m.trace.length, m.id).toBeGreaterThanOrEqual(m.traceLength!);
    expect(typeof m.secondsToFailure).toBe('number');
    expect(typeof m.cpuSecondsToFailure).toBe('number');
    expect(m.bugClass).toBe(entry.bugClass);

    // The same seed through runFamily directly: a first-round kill in its own family must
    // report the same number of sequences and the same minimal trace.
    const adapter = entry.create();
    const info = await adapter.hello();
    const direct = await runFamily(
      { adapter, profile: 'linux', policies: resolvePolicies('linux', info.policies), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any' },
      familyById(entry.family)!,
      { ...OPTS, maxFindings: 1 },
    );
    const f = direct.findings[0];
    if (m.reportedRule === 'ADAPTER-REPLY') {
      expect(m.trace[m.trace.length - 1]).toMatch(/^map\(.* -> threw: /);
    }
    if (f && entry.rules.includes(f.rule)) {
      expect(m.family).toBe(entry.family);
      expect(m.runsToFailure, m.id).toBe(f.runsToFailure);
      expect(m.traceLength, m.id).toBe(traceLength(f));
      // The op that threw has no reply in the trace and is counted all the same.
      expect(m.traceLength, m.id).toBe(f.trace.filter((e) => !e.probe).length + (f.rule === 'ADAPTER-REPLY' ? 1 : 0));
    }
  }
});

test('the conforming model survives every family it can be run in, whole budget spent', async () => {
  const c = r.mutants.find((m) => m.id === 'conforming')!;
  expect(c).toMatchObject({ killed: false, runsToFailure: null, secondsToFailure: null, cpuSecondsToFailure: null, traceLength: null, reportedRule: null, family: null, trace: [] });
  const caps = (await new ArmSmmuModel().hello()).capabilities ?? {};
  const budget = FAMILIES_OF_PROPERTIES.filter((f) => (f.requires ?? []).every((k) => caps[k]))
    .reduce((n, f) => n + Math.max(1, Math.round(OPTS.runs * (f.budgetShare ?? 1))), 0);
  expect(c.sequences).toBe(budget);
});

test('the summary is computed from the kills; mutants.json holds the report', async () => {
  const killed = r.mutants.filter((m) => m.killed);
  const seconds = killed.map((m) => m.secondsToFailure!);
  const cpu = killed.map((m) => m.cpuSecondsToFailure!);
  expect(r.summary).toEqual({
    total: PICKED.length + 1,
    killed: PICKED.length,
    medianSecondsToKill: median(seconds),
    p95SecondsToKill: Math.max(...seconds), // nearest rank of 4 values
    medianRunsToFailure: median(killed.map((m) => m.runsToFailure!)),
    medianCpuSecondsToKill: median(cpu),
    p95CpuSecondsToKill: Math.max(...cpu),
  });
  expect(r.seed).toBe(OPTS.seed);
  expect(r.budget).toEqual({ runsPerFamily: OPTS.runs, maxSteps: OPTS.maxSteps, swarm: false });
  expect(JSON.parse(readFileSync(join(dir, 'mutants.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
});

test('mutants.md lists the longest counterexamples first and the survivor last', async () => {
  const md = readFileSync(join(dir, 'mutants.md'), 'utf8');
  expect(md).toContain(`${PICKED.length} of ${PICKED.length + 1} mutants killed`);
  const rows = md.split('\n').filter((l) => /^\| [a-z-]+ \|/.test(l) && !l.startsWith('| mutant |'));
  const ids = rows.map((l) => l.split('|')[1]!.trim());
  const byLength = r.mutants.filter((m) => m.killed).sort((a, b) => b.traceLength! - a.traceLength! || a.id.localeCompare(b.id)).map((m) => m.id);
  expect(ids).toEqual([...byLength, 'conforming']);
  expect(rows[rows.length - 1]).toContain('**survived**');
  for (const m of r.mutants.filter((x) => x.killed)) expect(rows.find((l) => l.includes(`| ${m.id} |`))).toContain(`| ${m.bugClass} |`);
});

test('an entry naming an unknown family is a configuration error', async () => {
  await expect(killRun([{ ...CONFORMING, family: 'no-such-family' }], OPTS)).rejects.toThrow(ConfigError);
});
