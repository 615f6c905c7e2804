// A crash that needs more than its own case (issue 15, item 1): the process dies only after
// earlier cases leaked something, so its case replayed alone passes. The suite replays what the
// process was sent since it started, shrinks it, and reports the minimal cases with a replay
// that reproduces it; before, such a finding had no ops and a replay line that passed.
// A crash finding's replay also sends the op the process died on (before, it stopped short of
// it and said "passes now").

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { ROOT, expectCleanRun, runCli } from './cli-run.ts';
import { hangGuardMs } from './helpers.ts';

const FIXTURES = join(ROOT, 'impl', 'sdk', 'c', 'build', 'fixtures');
const EXAMPLE = join(ROOT, 'impl', 'sdk', 'c', 'build', 'example-model');
const SLOTS = 12;
const LEAKY = `${join(FIXTURES, 'faulty-model')} leak ${SLOTS}`;
/** 80 sequences; shrinking the history replays it on fresh (C, fast) processes, at most 400 times. */
const RUNS = 80;
const GUARD = hangGuardMs(RUNS, 40);

beforeAll(() => {
  const b = spawnSync('bash', [join(ROOT, 'scripts', 'build-c.sh')], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
});

/** At most 4 steps a case: no case alone reaches the 12th allocation. */
function run(command: string, extra: string[] = []) {
  return runCli(['run', '--adapter-cmd', command, '--family', 'attach', '--runs', String(RUNS), '--max-steps', '4', '--workers', '1', '--quiet', ...extra], { guardMs: GUARD });
}

test('a crash after a leak across resets is shrunk to the cases it needs, and its replay reproduces it', { timeout: GUARD * 3 }, async () => {
  const r = await run(LEAKY, ['--no-corpus']);
  expectCleanRun(r);
  expect(r.code, r.stderr).toBe(1);
  const crash = r.report().findings.filter((f) => f.rule === 'ADAPTER-CRASH');
  expect(crash).toHaveLength(1);
  const f = crash[0]!;
  expect(f.message).toMatch(/only after \d+ earlier cases in the same process/);
  // Minimal: every op kept is an allocation, and there are exactly as many as the leak needs.
  const earlier = f.earlierCases ?? [];
  expect(earlier.length).toBeGreaterThanOrEqual(Math.ceil((SLOTS - 1) / 4));
  const kept = [...earlier.flatMap((c) => c.ops.map((e) => e.op)), ...f.ops.map((e) => e.op), ...(f.unanswered ?? [])];
  expect(kept.map((o) => o.op)).toEqual(Array(SLOTS).fill('domain_alloc'));
  expect(f.trace[0]).toMatch(/^case 1 of \d+ in one process, after a reset to: iommu0/);
  expect(f.trace.at(-1)).toMatch(/^domain_alloc\(.*\) -> no reply \(CRASH\)$/);
  expect(f.replay).toBe(`npx iommu-conformance replay ${f.id}`);

  const again = await runCli(['replay', f.id, '--report-dir', r.dir, '--corpus', join(r.dir, 'no-corpus')], { guardMs: GUARD, noReportDir: true });
  expect(again.code, again.stdout + again.stderr).toBe(1);
  expect(again.stdout).toMatch(/still fails/);
  // The same cases against the conforming example: it answers every one, so the replay passes.
  const fixed = await runCli(['replay', f.id, '--report-dir', r.dir, '--corpus', join(r.dir, 'no-corpus'), '--adapter', `cmd:${EXAMPLE}`], { guardMs: GUARD, noReportDir: true });
  expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
  expect(fixed.stdout).toMatch(/passes now/);
  // The same as a script for the C SDK's iommu-replay: the earlier cases, then the dying op.
  const script = join(r.dir, 'history.ndjson');
  await runCli(['replay', f.id, '--report-dir', r.dir, '--corpus', join(r.dir, 'no-corpus'), '--emit-test', script], { guardMs: GUARD, noReportDir: true });
  const runner = join(ROOT, 'impl', 'sdk', 'c', 'build', 'iommu-replay');
  const leaks = spawnSync(runner, [script, LEAKY], { encoding: 'utf8', timeout: GUARD });
  expect(leaks.status, leaks.stdout + leaks.stderr).toBe(1);
  expect(leaks.stdout).toMatch(/^FAIL: the adapter died/m);
  expect(spawnSync(runner, [script, EXAMPLE], { encoding: 'utf8', timeout: GUARD }).status).toBe(0);
});

test('the failure database keeps a history crash open: the next run replays its cases, not its seed', { timeout: GUARD * 3 }, async () => {
  const corpus = ['--corpus', join(mkdtempSync(join(tmpdir(), 'history-corpus-')), 'db')];
  const first = await run(LEAKY, corpus);
  expect(first.report().findings.some((f) => f.rule === 'ADAPTER-CRASH' && f.earlierCases)).toBe(true);
  const second = await run(LEAKY, [...corpus, '--seed', '7']);
  expect(second.report().corpus).toMatchObject({ reproduced: 1, fixed: 0 });
  expect(second.report().findings.find((f) => f.rule === 'ADAPTER-CRASH')?.earlierCases).toBeDefined();
});

test('a crash finding replays the op the process died on', { timeout: GUARD }, async () => {
  const r = await runCli(['run', '--adapter-cmd', `${join(FIXTURES, 'faulty-model')} crash 6`, '--family', 'symmetric-unmap', '--runs', '40', '--workers', '1', '--no-corpus', '--quiet'], { guardMs: GUARD });
  const f = r.report().findings.find((x) => x.rule === 'ADAPTER-CRASH')!;
  expect(f.unanswered?.map((o) => o.op)).toHaveLength(1);
  const again = await runCli(['replay', f.id, '--report-dir', r.dir, '--corpus', join(r.dir, 'no-corpus')], { guardMs: GUARD, noReportDir: true });
  expect(again.code, again.stdout).toBe(1);
  expect(again.stdout).toMatch(/-> \(CRASH\)\nstill fails/);
});
