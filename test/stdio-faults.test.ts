// Deliberately broken stdio adapters, run through the real command line: each breach of the
// protocol is one finding with the right rule and status, the run completes and writes its
// reports, and nothing hangs. The fixtures (test/fixtures/stdio/) wrap the conforming C example,
// so the breach is the only thing wrong.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { beforeAll, expect, test } from 'vitest';
import type { Report } from '../runner/suite.ts';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'impl', 'c', 'build', 'fixtures');

beforeAll(() => {
  const b = spawnSync('bash', [join(ROOT, 'scripts', 'build-c.sh')], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
});

function run(command: string, extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'stdio-faults-'));
  const r = spawnSync(process.execPath, [
    join(ROOT, 'bin', 'iommu-conformance.js'), 'run', '--adapter-cmd', command, '--family', 'symmetric-unmap', '--runs', '40', '--workers', '1',
    '--timeout', '400ms', '--report-dir', dir, '--format', 'json,junit,md,html', '--no-corpus', '--quiet', ...extra,
  ], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const report = () => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  return { ...r, dir, report };
}

test.each([
  ['broken-stream bad-json 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /stdout line is not JSON/],
  ['broken-stream stray-stdout 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /stdout line is not JSON/],
  ['broken-stream wrong-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /before reply #\d+ \(replies must come in request order\)|never sent/],
  ['broken-stream repeat-id 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /a second reply to request #\d+/],
  ['broken-stream extra-reply 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /which was never sent|unsolicited reply/],
  ['broken-stream missing-ok 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /ok\.\w+ missing/],
  ['broken-stream flood 5', 'ADAPTER-REPLY', 'ADAPTER_ERROR', /exceeded \d+ bytes without a newline/],
  ['faulty-model crash 6', 'ADAPTER-CRASH', 'CRASH', /died \((killed by SIGABRT|exit code 134 \(SIGABRT\))\).*stderr: .+/],
  ['faulty-model hang 6', 'ADAPTER-TIMEOUT', 'TIMEOUT', /no reply to request #\d+ \(\w+\) within 400 ms/],
])('%s: one %s finding, the run completes with its reports', { timeout: 120_000 }, (fixture, rule, status, observed) => {
  const r = run(join(FIXTURES, fixture.split(' ')[0]!) + ' ' + fixture.split(' ').slice(1).join(' '));
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  const report = r.report();
  const hits = report.findings.filter((f) => f.rule === rule);
  expect(hits.map((f) => f.status), JSON.stringify(report.findings.map((f) => [f.rule, f.observed]))).toEqual([status]);
  expect(hits[0]!.observed).toMatch(observed);
  // missing-ok damages one reply in a process's life, so its minimal case cannot fail again:
  // it is reported as first seen, never dropped.
  if (fixture.includes('missing-ok')) expect(hits[0]!.message).toMatch(/did not fail again when rerun/);
  expect(report.rules.find((x) => x.id === rule)!.status).toBe(status);
  // Every other rule was still judged: the breach ended one test case, not the run.
  expect(report.rules.filter((x) => x.status === 'PASS').length).toBeGreaterThan(5);
  const junit = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(join(r.dir, 'junit.xml'), 'utf8')) as object;
  expect(JSON.stringify(junit)).toContain(rule);
  expect(readFileSync(join(r.dir, 'report.html'), 'utf8')).toContain(rule);
  expect(readFileSync(join(r.dir, 'findings.jsonl'), 'utf8')).toContain(`"rule":"${rule}"`);
});

test('slow but correct replies pass, and the process rules are checked rather than skipped', { timeout: 120_000 }, () => {
  // A small budget leaves some rules of the family unexercised (UNCHECKED), hence no exit-0 check.
  const r = run(`${join(FIXTURES, 'faulty-model')} slow 1`, ['--runs', '15', '--min-ops', '0', '--timeout', '20s']);
  expect(r.report().findings, r.stdout + r.stderr).toEqual([]);
  const rules = r.report().rules;
  for (const id of ['ADAPTER-REPLY', 'ADAPTER-CRASH', 'ADAPTER-TIMEOUT']) expect(rules.find((x) => x.id === id)!.status, id).toBe('PASS');
});

test('a protocol version mismatch ends the run before any test: one line, exit 2', () => {
  const r = run(`${join(FIXTURES, 'broken-stream')} protocol 2`);
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/speaks protocol 2, this suite speaks 1/);
});
