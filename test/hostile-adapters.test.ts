// The adversarial corpus, in-process side: adapter modules that exit, abort, throw, hang,
// return garbage or fail their hello (test/fixtures/hostile.ts), run through the real command
// line. Whatever they do, the run ends with the right classification, writes its report in
// every format, exits with the documented code, prints no stack trace or raw control byte, and
// leaves no process behind. Timeouts guard hangs only: they come from the budget, in sequences.

import { expect, test } from 'vitest';
import type { Report } from '../runner/suite.ts';
import { ROOT, expectCleanRun, runCli, waitUntil } from './cli-run.ts';
import { hangGuardMs } from './helpers.ts';
import { join } from 'node:path';

const HOSTILE = join(ROOT, 'test', 'fixtures', 'hostile.ts');
const ALL_FORMATS = ['report.json', 'report.md', 'junit.xml', 'report.html'];
/** A small budget: one family rich in unmaps, few sequences. */
const RUNS = 30;
const args = (extra: string[] = []) => ['run', '--adapter', HOSTILE, '--family', 'symmetric-unmap', '--runs', String(RUNS), '--workers', '1',
  '--timeout', '2s', '--no-corpus', '--quiet', '--format', 'json,junit,md,html', ...extra];
// (a later --timeout in `extra` wins over the 2 s here)

const finding = (r: Report, rule: string) => r.findings.find((f) => f.rule === rule);

/** No rule anywhere in the report is a PASS that nothing exercised. */
function expectNoEmptyPass(r: Report): void {
  for (const rule of r.rules) if (rule.checks === 0) expect(rule.status, `${rule.id}: ${rule.status} with 0 checks`).not.toBe('PASS');
}

test.each([
  // mode, rule, status, what the finding observed
  ['exit', 'ADAPTER-CRASH', 'CRASH', /died \(exit code 0\) with request #\d+ \(unmap\) unanswered/],
  ['abort', 'ADAPTER-CRASH', 'CRASH', /died \((killed by SIGABRT|exit code 134 \(SIGABRT\))\) with request #\d+ \(unmap\) unanswered/],
  ['never-settles', 'ADAPTER-TIMEOUT', 'TIMEOUT', /no reply to request #\d+ \(unmap\) within 1000 ms/],
  ['never-settles-timer', 'ADAPTER-TIMEOUT', 'TIMEOUT', /no reply to request #\d+ \(unmap\) within 1000 ms/],
  ['sync-loop', 'ADAPTER-TIMEOUT', 'TIMEOUT', /no reply to request #\d+ \(unmap\) within 1000 ms/],
  ['throw', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /^threw: exec always throws$/],
  ['null', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /reply to unmap is null, not \{ok\} or \{err\}/],
  ['undefined', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /reply to unmap is undefined, not \{ok\} or \{err\}/],
  ['number', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /ok\.unmapped is number, expected bigint/],
  ['throw-outside', 'ADAPTER-CRASH', 'CRASH', /uncaught exception outside any request: a timer threw outside any request/],
  ['reject-outside', 'ADAPTER-CRASH', 'CRASH', /unhandled promise rejection outside any request: a rejection nobody handled/],
] as const)('%s: %s %s, exit 1, a full report, nothing left running', { timeout: hangGuardMs(RUNS, 40) }, async (mode, rule, status, observed) => {
  // A reply from the reference takes microseconds: 1 s is generous even on a loaded machine, and
  // a hang costs one timeout per attempt. The others get 30 s, so none is ever taken for a hang.
  const r = await runCli(args(['--timeout', mode.startsWith('never') || mode === 'sync-loop' ? '1s' : '30s']), { env: { HOSTILE: mode }, guardMs: hangGuardMs(RUNS, 40) });
  expectCleanRun(r, ALL_FORMATS);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const report = r.report();
  const f = finding(report, rule);
  expect(f, JSON.stringify(report.findings.map((x) => [x.rule, x.observed]))).toBeDefined();
  expect(f!.status).toBe(status);
  expect(f!.observed).toMatch(observed);
  expect(report.rules.find((x) => x.id === rule)!.status).toBe(status);
  // The terminal says what the report says, and how to replay it.
  expect(r.stdout).toContain(`${status} ${rule}`);
  expect(r.stdout).toContain(`finding id: ${f!.id}`);
  expectNoEmptyPass(report);
});

test('a crash is reported with the ops before it: the minimal case is run again one request at a time', { timeout: hangGuardMs(RUNS, 40) }, async () => {
  const r = await runCli(args(), { env: { HOSTILE: 'exit' }, guardMs: hangGuardMs(RUNS, 40) });
  const f = finding(r.report(), 'ADAPTER-CRASH')!;
  expect(f.op).toMatch(/^unmap\(/);
  // Something was answered before the unmap that killed it: the trace shows it.
  // The topology line first, then the calls.
  expect(f.trace.length).toBeGreaterThan(1);
  expect(f.trace[0]).toMatch(/^topology: /);
  expect(f.trace[1]).toMatch(/^domain_alloc\(.*-> ok/);
});

test('an adapter that always throws: every rule it kept from being exercised is UNCHECKED with the reason, never PASS', { timeout: hangGuardMs(RUNS) }, async () => {
  // Not --quiet: the terminal table is checked too.
  const r = await runCli(args(['--family', 'symmetric-unmap,page-size-alignment']).filter((a) => a !== '--quiet'), { env: { HOSTILE: 'throw' }, guardMs: hangGuardMs(2 * RUNS) });
  expectCleanRun(r, ALL_FORMATS);
  const report = r.report();
  const mapOk = report.rules.find((x) => x.id === 'MAP-OK')!;
  expect(mapOk.status).toBe('UNCHECKED');
  expect(mapOk.reason).toMatch(/set aside after an earlier finding: sequences ended at rules already reported \(ADAPTER-REPLY in \d+/);
  // Table and summary count the same thing: every rule once.
  for (const s of Object.keys(report.summary).filter((k) => k !== 'exitCode') as (keyof Report['summary'])[]) {
    expect(report.families.reduce((n, fam) => n + fam.counts[s as Exclude<typeof s, 'exitCode'>], 0), s).toBe(report.summary[s]);
  }
  expect(report.families.flatMap((fam) => fam.rules).sort()).toEqual(report.rules.map((x) => x.id).sort());
  const allRules = /^all rules\s+((\s+\d+)+)$/m.exec(r.stdout)?.[1]?.trim().split(/\s+/).map(Number);
  expect(allRules, r.stdout).toEqual([report.summary.PASS, report.summary.FAIL, report.summary.ADAPTER_ERROR, report.summary.CRASH, report.summary.TIMEOUT,
    report.summary.QUALITY_WARNING, report.summary.NOT_SUPPORTED, report.summary.UNCHECKED, report.summary.INTERRUPTED]);
  expectNoEmptyPass(report);
});

test('a hello that throws, with control bytes in its message: a finding, a report, exit 1, a clean terminal', { timeout: hangGuardMs(0, 2) }, async () => {
  const r = await runCli(args(), { env: { HOSTILE: 'hello-throws' }, guardMs: hangGuardMs(0, 2) });
  expectCleanRun(r, ALL_FORMATS);
  expect(r.code).toBe(1);
  const report = r.report();
  expect(report.findings.map((f) => [f.rule, f.status])).toEqual([['ADAPTER-REPLY', 'ADAPTER_ERROR']]);
  expect(report.findings[0]!.observed).toMatch(/^threw: hello failed: \\x1b\[31mred\\x07\\x00<script>/);
  expect(report.rules.filter((x) => x.id !== 'ADAPTER-REPLY').every((x) => x.status === 'UNCHECKED' && /no test ran/.test(x.reason!))).toBe(true);
  expect(r.written('report.md')).not.toContain('<script>');
});

test('a hello that exits: ADAPTER-CRASH, exit 1', { timeout: hangGuardMs(0, 2) }, async () => {
  const r = await runCli(args(), { env: { HOSTILE: 'hello-exits' }, guardMs: hangGuardMs(0, 2) });
  expectCleanRun(r, ALL_FORMATS);
  expect(r.code).toBe(1);
  expect(r.report().findings[0]!.observed).toMatch(/died \(exit code 3\) with request #0 \(hello\) unanswered/);
});

test('a slow hello has its own timeout: 3 s to start, replies within 1 s, no finding', { timeout: hangGuardMs(10, 2) }, async () => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--family', 'symmetric-unmap', '--runs', '10', '--workers', '1', '--timeout', '1s', '--no-corpus', '--quiet', '--min-ops', '0'],
    { env: { HOSTILE: 'slow-hello', HOSTILE_MS: '3000' }, guardMs: hangGuardMs(10, 2) });
  expectCleanRun(r);
  expect(r.report().findings).toEqual([]);
  expect(r.code).toBe(0);
});

test('a 1 MB error message is cut (in the finding, in every format) and markup in it is escaped', { timeout: hangGuardMs(RUNS, 4) }, async () => {
  const r = await runCli(args(), { env: { HOSTILE: 'huge-message' }, guardMs: hangGuardMs(RUNS, 4) });
  expectCleanRun(r, ALL_FORMATS);
  const f = finding(r.report(), 'ADAPTER-REPLY')!;
  expect(f.observed.length).toBeLessThan(1000);
  expect(f.observed).toMatch(/more characters cut\)$/);
  for (const name of ALL_FORMATS) expect(r.written(name)!.length, name).toBeLessThan(400_000);
  expect(r.written('report.md')).not.toContain('<script>');
  expect(r.written('report.md')).toContain('&lt;script&gt;');
  expect(r.written('report.html')).not.toContain('<script>');
  expect(r.stdout.length).toBeLessThan(20_000);
});

test('an adapter that writes to stdout (console.log) does not break the protocol: its output goes to stderr', { timeout: hangGuardMs(RUNS, 2) }, async () => {
  const r = await runCli(args(['--min-ops', '0']), { env: { HOSTILE: 'log' }, guardMs: hangGuardMs(RUNS, 2) });
  expectCleanRun(r);
  expect(r.report().findings).toEqual([]);
});

test('--workers 2: a synchronous endless loop is a TIMEOUT in a worker too', { timeout: hangGuardMs(RUNS, 40) }, async () => {
  const r = await runCli(args(['--workers', '2', '--timeout', '1s']), { env: { HOSTILE: 'sync-loop' }, guardMs: hangGuardMs(RUNS, 40) });
  expectCleanRun(r, ALL_FORMATS);
  expect(r.code).toBe(1);
  expect(finding(r.report(), 'ADAPTER-TIMEOUT')?.status).toBe('TIMEOUT');
});

test.each([['1'], ['2']])('--time ends a run whose adapter hangs in a synchronous loop (--workers %s), with the full report', { timeout: hangGuardMs(0, 20) }, async (workers) => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--family', 'symmetric-unmap,attach', '--time', '10s', '--workers', workers, '--timeout', '1s', '--no-corpus', '--quiet'],
    { env: { HOSTILE: 'sync-loop' }, guardMs: hangGuardMs(0, 20) });
  expectCleanRun(r);
  const report = r.report();
  expect(report.interrupted).toBe(true);
  expect(r.code).toBe(1);
  expect(finding(report, 'ADAPTER-TIMEOUT')?.status).toBe('TIMEOUT');
  expectNoEmptyPass(report);
});

test.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s while the adapter hangs with a live timer: exit %i, the whole report', { timeout: hangGuardMs(0, 4) }, async (sig, code) => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--runs', '100000', '--workers', '1', '--timeout', '60s', '--no-corpus', '--quiet'], {
    env: { HOSTILE: 'never-settles-timer' }, guardMs: hangGuardMs(0, 4),
    // Well into the run: the adapter's process is up and a case waits on the hung unmap.
    during: async (child, _out, running) => {
      await waitUntil(() => running().some((c) => c.includes('host.js')), hangGuardMs(0, 2));
      await new Promise((res) => setTimeout(res, 2000));
      child.kill(sig);
    },
  });
  expectCleanRun(r);
  expect(r.code).toBe(code);
  const report = r.report();
  expect(report.interrupted).toBe(true);
  expect(report.summary.INTERRUPTED).toBeGreaterThan(0);
  expect(r.stdout).toMatch(new RegExp(`stopped by ${sig}`));
  expectNoEmptyPass(report);
});

test('a second SIGINT still writes the report (workers are terminated rather than waited for)', { timeout: hangGuardMs(0, 8) }, async () => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--runs', '100000', '--workers', '2', '--timeout', '60s', '--no-corpus', '--quiet'], {
    env: { HOSTILE: 'never-settles-timer' }, guardMs: hangGuardMs(0, 8),
    during: async (child, _out, running) => {
      await waitUntil(() => running().some((c) => c.includes('host.js')), hangGuardMs(0, 2));
      await new Promise((res) => setTimeout(res, 2000));
      child.kill('SIGINT');
      await new Promise((res) => setTimeout(res, 100));
      child.kill('SIGINT');
    },
  });
  expectCleanRun(r);
  expect(r.code).toBe(130);
  expect(r.report().interrupted).toBe(true);
});

test('an unwritable --report-dir is one line and exit 2, before any adapter starts', { timeout: 60_000 }, async () => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--report-dir', '/proc/nope'], { env: { HOSTILE: 'sync-loop' }, guardMs: 60_000, noReportDir: true });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/cannot write reports to \/proc\/nope: ENOENT/);
  expect(r.leftovers()).toEqual([]);
});

test('a module outside the project loads, and a syntax error names its line and column', { timeout: 60_000 }, async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'outside-'));
  writeFileSync(join(dir, 'adapter.ts'), `export default function () {
  return { hello: () => ({ name: 'outside', version: '1', profile: 'linux', capabilities: {}, topologies: 'any' }), reset: () => {}, exec: () => ({ err: 'ENOSYS' as const }) };
}\n`);
  const ok = await runCli(['run', '--adapter', join(dir, 'adapter.ts'), '--family', 'attach', '--runs', '5', '--workers', '1', '--no-corpus', '--quiet'], { guardMs: 60_000 });
  expectCleanRun(ok);
  expect(ok.report().adapter.name).toBe('outside');
  writeFileSync(join(dir, 'broken.ts'), 'export default function () {\n  return 1 +;\n}\n');
  const bad = await runCli(['run', '--adapter', join(dir, 'broken.ts')], { guardMs: 60_000 });
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toMatch(/broken\.ts:2:\d+/);
});

test('a signal while the suite itself is still starting: the run stops cleanly, with its report', { timeout: hangGuardMs(0, 2) }, async () => {
  const r = await runCli(['run', '--adapter', HOSTILE, '--runs', '100000', '--workers', '1', '--no-corpus', '--quiet'], {
    env: { HOSTILE: 'log' }, guardMs: hangGuardMs(0, 2),
    // While the suite loads (about a second), after the entry point's first lines (tens of ms;
    // no program can handle a signal that comes before its first line runs).
    during: async (child) => {
      await new Promise((res) => setTimeout(res, 800));
      child.kill('SIGINT');
    },
  });
  expectCleanRun(r);
  expect(r.code).toBe(130);
  expect(r.report().interrupted).toBe(true);
});
