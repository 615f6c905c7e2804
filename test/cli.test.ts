// The command line as users meet it: real child processes. Bad input is one line and exit 2;
// SIGINT still writes the report; SIGKILL loses no finding already made.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'iommu-conformance.js');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'overmap-replaces.ts');

/** The command line, killed after `guardMs` (a hang guard: see hangGuardMs). */
function cli(args: string[], guardMs = hangGuardMs(0, 1)) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: guardMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.each([
  [['run'], /give exactly one of --adapter <spec> and --adapter-cmd <command>/],
  [['run', '--adapter', 'builtin:reference', '--adapter-cmd', 'x'], /give exactly one of/],
  [['run', '--adapter', 'builtin:nope'], /unknown builtin adapter 'nope'/],
  [['run', '--adapter', './no/such/adapter.ts'], /adapter module not found/],
  [['run', '--adapter', 'package.json'], /not an adapter module|cannot load adapter module/],
  [['run', '--adapter', 'builtin:reference', '--shard', '3/2'], /--shard must be i\/n/],
  [['run', '--adapter', 'builtin:reference', '--time', 'soon'], /expected a duration/],
  [['run', '--adapter', 'builtin:reference', '--workers', '0'], /--workers must be an integer >= 1/],
  [['run', '--adapter', 'builtin:reference', '--policy', 'partial_unmap=sometimes'], /partial_unmap=sometimes is not one of/],
  [['run', '--adapter', 'builtin:reference', '--family', 'nope'], /unknown family 'nope'/],
  [['frobnicate'], /unknown command/],
  [['run', '--adapter', 'builtin:reference', '--profile', 'windows'], /unknown profile 'windows'/],
  [['run', '--adapter', 'builtin:reference', '--format', 'pdf'], /formats are json, junit, md, html/],
  [['run', '--adapter', 'builtin:reference', '--corpus', 'test/fixtures/corrupt-corpus'], /corrupt-corpus\/.*is corrupt/],
  [['merge', 'test/fixtures/corrupt-report', '--report-dir', '/tmp/never'], /report\.json: not JSON/],
  [['replay', 'test/fixtures/corrupt-report/report.json'], /not JSON/],
  [['reproduce', '--report', 'test/fixtures/corrupt-report/report.json', '--out', '/tmp/never'], /not JSON/],
  [['reproduce', '--report', 'package.json', '--out', '/tmp/never'], /holds no finding/],
  [['reproduce', '--report', 'no/such/report.json', '--out', '/tmp/never'], /no such file/],
] as const)('bad input %j: one line, exit 2', (args, message) => {
  const r = cli([...args]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
});

/** Resolves once `pred` holds for what the child has printed (or rejects at its exit). */
function waitFor(child: ChildProcess, pred: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (pred()) {
        clearInterval(t);
        resolve();
      }
    }, 50);
    setTimeout(() => {
      clearInterval(t);
      reject(new Error('timed out waiting for the child'));
    }, ms);
  });
}

function exit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

test('SIGINT stops a run and still writes the whole report, unfinished rules INTERRUPTED', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const child = spawn(process.execPath, [BIN, 'run', '--adapter', 'builtin:reference', '--runs', '1000000', '--report-dir', dir, '--no-corpus', '--workers', '2']);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = exit(child);
  // Away from a terminal the run says how far it is every few seconds: it is well under way.
  await waitFor(child, () => err.includes('progress: '), 30_000);
  child.kill('SIGINT');
  const { code } = await done;
  expect(code, out).toBe(130);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { interrupted: boolean; summary: Record<string, number>; rules: { status: string }[] };
  expect(report.interrupted).toBe(true);
  expect(report.summary.INTERRUPTED).toBeGreaterThan(0);
  expect(report.summary.FAIL).toBe(0);
  expect(out).toMatch(/stopped by SIGINT/);
  expect(err).toMatch(/^progress: \d+ sequences \(\d+%\), 0 finding\(s\), \d+ s$/m);
});

test('SIGKILL loses nothing already found: findings.jsonl and the corpus hold it', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const corpus = join(dir, 'corpus');
  const child = spawn(process.execPath, [BIN, 'run', '--adapter', FIXTURE, '--family', 'page-size-alignment,symmetric-unmap', '--runs', '5000000',
    '--report-dir', dir, '--corpus', corpus, '--workers', '1', '--quiet']);
  const done = exit(child);
  const jsonl = join(dir, 'findings.jsonl');
  await waitFor(child, () => existsSync(jsonl) && readFileSync(jsonl, 'utf8').includes('MAP-OVERLAP'), 60_000);
  child.kill('SIGKILL');
  expect((await done).signal).toBe('SIGKILL');
  const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: string; replay: string });
  expect(lines.map((l) => l.rule)).toContain('MAP-OVERLAP');
  expect(lines[0]!.replay).toMatch(/--seed \d+ --path "/);
  expect(readdirSync(corpus).some((n) => n.startsWith('MAP-OVERLAP-'))).toBe(true);
  expect(existsSync(join(dir, 'report.json'))).toBe(false); // killed before any report: only the stream survives
});

test('replay re-runs a finding by id; --emit-test writes a vitest test that fails while the bug is there', { timeout: hangGuardMs(300 + SHRINK_RUNS, 12) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const run = cli(['run', '--adapter', FIXTURE, '--family', 'page-size-alignment', '--runs', '300', '--report-dir', dir, '--corpus', join(dir, 'corpus'), '--quiet'], hangGuardMs(300 + SHRINK_RUNS, 2));
  expect(run.code).toBe(1);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { findings: { id: string; rule: string }[] };
  const { id } = report.findings.find((f) => f.rule === 'MAP-OVERLAP')!;

  const still = cli(['replay', id, '--report-dir', dir]);
  expect(still.code, still.stderr).toBe(1);
  expect(still.stdout).toMatch(/still fails\n {2}expected: EADDRINUSE\n {2}observed: ok/);
  // Against a conforming model the same trace passes.
  const fixed = cli(['replay', id, '--report-dir', dir, '--adapter', 'builtin:reference']);
  expect(fixed.code).toBe(0);
  expect(fixed.stdout).toMatch(/passes now/);
  // Found in the corpus alone, too.
  expect(cli(['replay', id, '--report-dir', join(dir, 'empty'), '--corpus', join(dir, 'corpus')]).code).toBe(1);
  expect(cli(['replay', 'no-such-id', '--report-dir', dir]).code).toBe(2);

  // The emitted test lives inside the checkout (it imports the suite by relative path).
  const root = join(import.meta.dirname, '..', '.cache', `emitted-${process.pid}`);
  // The project's vitest config includes test/**, relative to --root.
  const file = join(root, 'test', 'overlap.test.ts');
  mkdirSync(join(root, 'test'), { recursive: true });
  try {
    expect(cli(['replay', id, '--report-dir', dir, '--emit-test', file]).code).toBe(1);
    const vitest = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', root], { encoding: 'utf8', timeout: 60_000 });
    expect(vitest.status, vitest.stdout + vitest.stderr).toBe(1);
    expect(vitest.stdout + vitest.stderr).toMatch(/MAP-OVERLAP/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('merge: shards of one seed combine into one report; a failure anywhere is a failure; junk is exit 2', { timeout: hangGuardMs(4 * 2 * 150 + 4 * SHRINK_RUNS, 16) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const shard = (i: number, adapter: string) => {
    const out = join(dir, `${adapter === FIXTURE ? 'bug' : 'ok'}-${i}`);
    const r = cli(['run', '--adapter', adapter, '--family', 'page-size-alignment,attach', '--runs', '150', '--shard', `${i}/2`, '--report-dir', out, '--no-corpus', '--quiet', '--min-ops', '0'], hangGuardMs(2 * 150 + SHRINK_RUNS, 4));
    expect(r.code, r.stderr).toBeLessThan(2);
    return out;
  };
  const [a, b] = [shard(1, 'builtin:reference'), shard(2, 'builtin:reference')];
  const out = join(dir, 'merged');
  const merged = cli(['merge', a, b, '--report-dir', out, '--format', 'json,junit,md,html']);
  expect(merged.code, merged.stdout + merged.stderr).toBe(0);
  const m = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { coverage: { sequences: number }; merged: string[]; summary: { FAIL: number } };
  const one = JSON.parse(readFileSync(join(a, 'report.json'), 'utf8')) as { coverage: { sequences: number }; budget: { shard: { index: number; count: number } } };
  expect(one.budget.shard).toEqual({ index: 0, count: 2 });
  expect(m.coverage.sequences).toBe(2 * one.coverage.sequences);
  expect(m.merged).toEqual([a, b]);
  expect(readdirSync(out).sort()).toEqual(['junit.xml', 'report.html', 'report.json', 'report.md']);

  const [x, y] = [shard(1, FIXTURE), shard(2, FIXTURE)];
  const bad = cli(['merge', x, y, '--report-dir', join(dir, 'merged-bug')]);
  expect(bad.code).toBe(1);
  const mb = JSON.parse(readFileSync(join(dir, 'merged-bug', 'report.json'), 'utf8')) as { findings: { id: string; rule: string }[] };
  expect(mb.findings.map((f) => f.rule)).toContain('MAP-OVERLAP');
  expect(new Set(mb.findings.map((f) => f.id)).size).toBe(mb.findings.length);
  // Different adapters do not merge; a directory without a report is bad input.
  expect(cli(['merge', a, x, '--report-dir', join(dir, 'mixed')]).code).toBe(2);
  expect(cli(['merge', join(dir, 'nothing'), '--report-dir', join(dir, 'none')]).code).toBe(2);
});

test('mutants lists the catalogue; a mutant runs through --policy mutant=<id> and its replay line carries it', { timeout: hangGuardMs(200 + SHRINK_RUNS, 4) }, () => {
  const list = cli(['mutants', '--json']);
  expect(list.code).toBe(0);
  const mutants = JSON.parse(list.stdout) as { id: string }[];
  expect(mutants.map((m) => m.id)).toContain('ro-writable');
  expect(cli(['run', '--adapter', 'builtin:arm-smmu', '--policy', 'mutant=no-such-bug']).stderr).toMatch(/no mutant 'no-such-bug'/);
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const run = cli(['run', '--adapter', 'builtin:arm-smmu', '--policy', 'mutant=ro-writable', '--family', 'attach', '--runs', '200', '--report-dir', dir, '--no-corpus', '--quiet'], hangGuardMs(200 + SHRINK_RUNS, 2));
  expect(run.code).toBe(1);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { findings: { id: string; rule: string; replay: string }[] };
  const f = report.findings.find((x) => x.rule === 'XLATE-PERM')!;
  expect(f.replay).toContain('--policy mutant=ro-writable');
  expect(cli(['replay', f.id, '--report-dir', dir]).code).toBe(1);
});
