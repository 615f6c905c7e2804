// `replay --emit-test F.ndjson` (issue 15, item 7): a finding as a script the C SDK's
// iommu-replay runs against any stdio adapter without Node. It exits 1 while the adapter still
// gives the finding's reply (or dies on its op), 0 against one that answers as the reference
// accepts, 2 when it cannot be used. Real processes throughout: the suite's host serving a
// bundled model and its mutant, the C fixtures.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { ROOT, runCli } from './cli-run.ts';
import { hangGuardMs } from './helpers.ts';

const C = join(ROOT, 'impl', 'sdk', 'c', 'build');
const REPLAY = join(C, 'iommu-replay');
const HOST = `${process.execPath} ${join(ROOT, 'runner', 'stdio', 'host.js')}`;
const RUNS = 200;
const GUARD = hangGuardMs(RUNS, 10);

beforeAll(() => {
  const b = spawnSync('bash', [join(ROOT, 'scripts', 'build-c.sh')], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(b.stderr);
});

function replay(script: string, command: string) {
  return spawnSync(REPLAY, ['--timeout-ms', '20000', script, command], { encoding: 'utf8', timeout: GUARD });
}

/** Runs `args`, then writes its one finding of `rule` as a script; returns the script's path and lines. */
async function scriptOf(args: string[], rule: string) {
  const r = await runCli(['run', ...args, '--workers', '1', '--no-corpus', '--quiet'], { guardMs: GUARD });
  const f = r.report().findings.find((x) => x.rule === rule);
  expect(f, JSON.stringify(r.report().findings.map((x) => x.rule))).toBeDefined();
  const file = join(r.dir, 'finding.ndjson');
  const w = await runCli(['replay', f!.id, '--report-dir', r.dir, '--corpus', join(r.dir, 'none'), '--emit-test', file], { guardMs: GUARD, noReportDir: true });
  expect(w.stdout).toContain(`wrote ${file}`);
  return { file, lines: readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('a wrong reply: exit 1 naming the op while the bug is there, 0 on the conforming model', { timeout: GUARD * 2 }, async () => {
  const { file, lines } = await scriptOf(['--adapter', 'builtin:mutant/free-attached', '--family', 'domain-types', '--runs', String(RUNS)], 'DOM-FREE');
  expect(lines[0]).toMatchObject({ replay: 1, rule: 'DOM-FREE' });
  expect(lines.at(-1)).toMatchObject({ request: { op: 'domain_free' }, expect: [{ err: 'EBUSY' }], last: true });
  const buggy = replay(file, `${HOST} builtin:mutant/free-attached '{}'`);
  expect(buggy.status, buggy.stdout + buggy.stderr).toBe(1);
  expect(buggy.stdout).toMatch(/^FAIL: domain_free\(d\d+\) -> \{"id":\d+,"ok":\{\}\}, expected one of \[\{"err":"EBUSY"\}\]$/m);
  const fixed = replay(file, `${HOST} builtin:arm-smmu '{}'`);
  expect(fixed.status, fixed.stdout + fixed.stderr).toBe(0);
  expect(fixed.stdout).toMatch(/^PASS: /m);
});

test('a crash: the script ends with the op the process died on', { timeout: GUARD * 2 }, async () => {
  const { file, lines } = await scriptOf(['--adapter-cmd', `${join(C, 'fixtures', 'faulty-model')} crash 6`, '--family', 'symmetric-unmap', '--runs', '40'], 'ADAPTER-CRASH');
  expect(lines.at(-1)).toMatchObject({ last: true });
  const crashing = replay(file, `${join(C, 'fixtures', 'faulty-model')} crash 6`);
  expect(crashing.status, crashing.stdout + crashing.stderr).toBe(1);
  expect(crashing.stdout).toMatch(/^FAIL: the adapter died \(its stdout closed\) with request #\d+ .* unanswered$/m);
  const fine = replay(file, join(C, 'example-model'));
  expect(fine.status, fine.stdout + fine.stderr).toBe(0);
});

test('bad input: one line and exit 2, from the command line and from iommu-replay', async () => {
  const dir = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
  const notScript = join(dir, 'x.ndjson');
  writeFileSync(notScript, '{"request":{"op":"hello"}}\n');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.ndjson'), 'true'], /cannot read .*missing\.ndjson/],
    [[notScript, 'true'], /is not a replay script of version 1/],
    [['--timeout-ms', 'soon', notScript, 'true'], /--timeout-ms needs a positive number/],
    [[notScript], /^usage: iommu-replay/],
  ];
  for (const [args, message] of cases) {
    const x = spawnSync(REPLAY, args, { encoding: 'utf8' });
    expect(x.status, args.join(' ')).toBe(2);
    expect(x.stderr.trim().split('\n')).toHaveLength(1);
    expect(x.stderr).toMatch(message);
  }
});

test('an adapter that never gets through its hello cannot replay anything: exit 2, not a reproduction; a script needs a known extension', { timeout: GUARD }, async () => {
  const { file } = await scriptOf(['--adapter', 'builtin:mutant/free-attached', '--family', 'domain-types', '--runs', String(RUNS)], 'DOM-FREE');
  // One that exits at once (its stdout closes), one that closes its stdin and lives on (the hello
  // cannot even be written): both name the hello.
  for (const command of ['exit 0', 'exec 0<&-; sleep 2']) {
    const x = replay(file, command);
    expect(x.status, command + ': ' + x.stdout + x.stderr).toBe(2);
    expect(x.stderr, command).toMatch(/request #0 hello/);
  }
  const id = (JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as { finding: string }).finding;
  const r = await runCli(['replay', id, '--report-dir', join(file, '..'), '--corpus', join(file, '..', 'none'), '--emit-test', join(file, '..', 'finding.txt')], { guardMs: GUARD, noReportDir: true });
  expect(r.code).toBe(2);
  expect(r.stderr.trim()).toMatch(/^iommu-conformance: --emit-test .*finding\.txt: name a \.ts file/);
});
