// Deliberately broken stdio adapters, run through the real command line: each breach of the
// protocol is one finding with the right rule and status, the run completes and writes its
// reports, and nothing hangs. The fixtures (test/fixtures/stdio/) wrap the conforming C example,
// so the breach is the only thing wrong.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { beforeAll, expect, test } from 'vitest';
import { ROOT, expectCleanRun, runCli } from './cli-run.ts';
import { hangGuardMs } from './helpers.ts';

const FIXTURES = join(ROOT, 'impl', 'sdk', 'c', 'build', 'fixtures');

beforeAll(() => {
  const b = spawnSync('bash', [join(ROOT, 'scripts', 'build-c.sh')], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
});

/** A budget of 40 sequences of one family; a breach restarts the (C, fast) process. */
const RUNS = 40;
const GUARD = hangGuardMs(RUNS, 40);
const ALL_FORMATS = ['report.json', 'report.md', 'junit.xml', 'report.html'];

function run(command: string, extra: string[] = [], timeout = '30s') {
  return runCli(['run', '--adapter-cmd', command, '--family', 'symmetric-unmap', '--runs', String(RUNS), '--workers', '1',
    '--timeout', timeout, '--format', 'json,junit,md,html', '--no-corpus', '--quiet', ...extra], { guardMs: GUARD });
}

test.each([
  ['broken-stream bad-json 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /stdout line is not JSON/],
  ['broken-stream stray-stdout 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /stdout line is not JSON/],
  ['broken-stream wrong-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /before reply #\d+ \(replies must come in request order\)|never sent/],
  ['broken-stream repeat-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /a second reply to request #\d+/],
  ['broken-stream extra-reply 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /which was never sent/],
  ['broken-stream missing-ok 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /ok\.\w+ missing/],
  ['broken-stream flood 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /exceeded \d+ bytes without a newline/],
  ['broken-stream flood-stall 2', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /exceeded \d+ bytes without a newline/],
  ['broken-stream nan-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /stdout line is not JSON: "\{\\"id\\":NaN/],
  ['broken-stream huge-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /not a reply with an integer id: "\{\\"id\\":1e400/],
  ['broken-stream ok-and-err 3', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /both ok and err/],
  ['broken-stream close-stdout 5', 'ADAPTER-CRASH', 'CRASH', /closed its stdout while still running/],
  ['broken-stream orphan 5', 'ADAPTER-CRASH', 'CRASH', /died \(exit code 0\) with request #\d+ \(\w+\) unanswered/],
  ['broken-stream setsid-orphan 5', 'ADAPTER-CRASH', 'CRASH', /died \(exit code 0\) with request #\d+ \(\w+\) unanswered/],
  ['faulty-model crash 6', 'ADAPTER-CRASH', 'CRASH', /died \((killed by SIGABRT|exit code 134 \(SIGABRT\))\).*stderr: .+/],
  ['faulty-model hang 6', 'ADAPTER-TIMEOUT', 'TIMEOUT', /no reply to request #\d+ \(\w+\) within 1000 ms/],
])('%s: one %s finding, the run completes with its reports, nothing left running', { timeout: GUARD }, async (fixture, rule, status, observed) => {
  const [name, ...rest] = fixture.split(' ');
  // Only the hang waits out its timeout; the others must never be mistaken for one.
  const r = await run(`${join(FIXTURES, name!)} ${rest.join(' ')}`, [], fixture.includes('hang') ? '1s' : '30s');
  expectCleanRun(r, ALL_FORMATS);
  expect(r.code, r.stderr).toBe(1);
  const report = r.report();
  const hits = report.findings.filter((f) => f.rule === rule);
  expect(hits.map((f) => f.status), JSON.stringify(report.findings.map((f) => [f.rule, f.observed]))).toEqual([status]);
  expect(hits[0]!.observed).toMatch(observed);
  // Each of these strikes once per process; the reported case is run again in a fresh one, so it
  // reproduces and carries the path of the minimal case.
  expect(hits[0]!.message ?? '').not.toMatch(/did not fail again/);
  expect(report.rules.find((x) => x.id === rule)!.status).toBe(status);
  // The breach ended test cases, not the run; what the cases reached was judged, and nothing
  // they did not reach is a pass.
  expect(report.coverage.sequences).toBeGreaterThan(1);
  expect(report.rules.some((x) => x.status === 'PASS' && x.checks > 0)).toBe(true);
  for (const x of report.rules) if (x.checks === 0) expect(x.status, x.id).not.toBe('PASS');
  const junit = new XMLParser({ ignoreAttributes: false }).parse(r.written('junit.xml')!) as object;
  expect(JSON.stringify(junit)).toContain(rule);
  expect(r.written('report.html')).toContain(rule);
  expect(r.written('findings.jsonl')).toContain(`"rule":"${rule}"`);
});

test('slow but correct replies pass, and the process rules are checked rather than skipped', { timeout: hangGuardMs(15) }, async () => {
  // A small budget leaves some rules of the family unexercised (UNCHECKED), hence no exit-0 check.
  const r = await run(`${join(FIXTURES, 'faulty-model')} slow 1`, ['--runs', '15', '--min-ops', '0']);
  expectCleanRun(r);
  expect(r.report().findings, r.stdout + r.stderr).toEqual([]);
  const rules = r.report().rules;
  for (const id of ['ADAPTER-REPLY', 'ADAPTER-CRASH', 'ADAPTER-TIMEOUT']) expect(rules.find((x) => x.id === id)!.status, id).toBe('PASS');
});

test('a model that takes 3 s to start is not a timeout: the hello has its own (--hello-timeout), replies keep theirs', { timeout: hangGuardMs(15, 2) }, async () => {
  const r = await run(`sleep 3; exec ${join(ROOT, 'impl', 'sdk', 'c', 'build', 'example-model')}`, ['--runs', '15', '--min-ops', '0'], '1s');
  expectCleanRun(r);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.report().findings).toEqual([]);
});

test('a protocol version mismatch ends the run before any test: one line, exit 2', { timeout: hangGuardMs(0, 1) }, async () => {
  const r = await run(`${join(FIXTURES, 'broken-stream')} protocol 2`);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/speaks protocol 2, this suite speaks 1/);
  expect(r.leftovers()).toEqual([]);
});
