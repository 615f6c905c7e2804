// The reproducer's script format and its python runner, without QEMU: a transcript rendered as
// a script (polls as one construct, labelled reads as @let, the last op's assertions), and the
// runner against a stand-in emulator that answers qtest lines from a table, so each exit
// status is reached on purpose: 0 the assertions hold, 1 one fails, 2 the script cannot run.

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { RUNNER, SCRIPT_FILE } from '../impl/targets/qemu/common/reproducer/export.ts';
import { FIRMWARE, renderScript } from '../impl/targets/qemu/common/reproducer/script.ts';
import { Transcript, pollConditionText, pollMet } from '../impl/targets/qemu/common/transcript.ts';

/**
 * Stands in for QEMU: checks it was given -qtest stdio and a firmware image of the right size,
 * then answers from a table. `readq 0x98` is a copy that finishes on the third poll; `readq
 * 0x99` one that never does; `readq 0x9a` one that finishes after 0.5 s, however many polls.
 */
const FAKE_QEMU = `#!/usr/bin/env python3
import os, sys, time
started = time.monotonic()
args = sys.argv[1:]
if args[-2:] != ["-qtest", "stdio"]: sys.exit("no -qtest stdio: %r" % args)
if "-bios" in args and os.path.getsize(args[args.index("-bios") + 1]) != ${FIRMWARE.size}: sys.exit("bad firmware")
if "-die" in args: sys.exit("qemu: -die: invalid option")
polls = 0
for line in sys.stdin:
    cmd = line.split()
    if cmd[:2] == ["readq", "0x98"]:
        polls += 1
        reply = "OK 0x1" if polls < 3 else "OK 0x0"
    elif cmd[:2] == ["readq", "0x99"]: reply = "OK 0x1"
    elif cmd[:2] == ["readq", "0x9a"]: reply = "OK 0x1" if time.monotonic() - started < 0.5 else "OK 0x0"
    elif cmd[:2] == ["readl", "0x10"]: reply = "OK 0x7f"
    elif cmd[:3] == ["read", "0x20", "4"]: reply = "OK 0x05000000"
    elif cmd[0] in ("writeb", "writeq"): reply = "OK"
    else: reply = "FAIL Unknown command '%s'" % cmd[0]
    print("IRQ raise 1" if cmd[0] == "writeq" else "", end="\\n" if cmd[0] == "writeq" else "")
    print(reply, flush=True)
`;

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function setUp(body: string[], options: string[] = []): { dir: string; run: (...extra: string[]) => { code: number | null; out: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'reproducer-format-'));
  made.push(dir);
  const fake = join(dir, 'fake-qemu');
  writeFileSync(fake, FAKE_QEMU);
  chmodSync(fake, 0o755);
  copyFileSync(RUNNER, join(dir, 'run-qtest.py'));
  writeFileSync(join(dir, SCRIPT_FILE), [`# qemu-args: -machine q35 -bios ${FIRMWARE.name}`, `# firmware: ${FIRMWARE.name} ${FIRMWARE.size} 0xf4`, '@rule TEST-RULE', ...body].join('\n'));
  return {
    dir,
    run: (...extra) => {
      const r = spawnSync('python3', [join(dir, 'run-qtest.py'), ...options, join(dir, SCRIPT_FILE), fake, ...(extra.length ? ['--', ...extra] : [])], { encoding: 'utf8', timeout: 30_000 });
      return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
    },
  };
}

test('a transcript renders as the script: polls once with their condition, labelled reads as @let, the assertions last', () => {
  const t = new Transcript();
  t.qemuArgs = ['-machine', 'q35', '-bios', '/somewhere/.cache/qemu/sid/hlt.bin', '-device', 'x,a=b c'];
  t.comment('bring-up');
  t.command('writeq 0x98 0x1');
  const until = [{ reply: 0, mask: 1n, op: '==', value: 0n }] as const;
  t.poll(['readq 0x98'], until, 100);
  t.op(1);
  t.command('readl 0x10', { name: 'status' });
  expect(t.labelsSince(0)).toEqual([{ name: 'status' }]);
  expect(() => t.command('readl 0x10', { name: 'Bad Name' })).toThrow(/not a script name/);
  const text = renderScript({
    rule: 'TEST-RULE', ruleTitle: 'a title', target: 'qemu-x', arch: 'x86_64', recordedOn: '1.0', verdict: 'it diverged', transcript: t,
    opTexts: new Map([[1, 'map(d1), expected ERANGE']]),
    assertions: [[{ what: 'status is 5', expr: 'status == 0x5' }], [{ what: 'status is 0', expr: 'status == 0x0' }, { what: 'x', expr: 'status < 2' }]],
  });
  expect(text).toContain(`# qemu-args: -machine q35 -bios hlt.bin -device 'x,a=b c'\n# firmware: hlt.bin 65536 0xf4`);
  expect(text).toContain('\n@rule TEST-RULE\n# bring-up\nwriteq 0x98 0x1\n@poll 100 until (r0 & 0x1) == 0x0: readq 0x98\n\n@op 1 map(d1), expected ERANGE\n@let status = readl 0x10\n');
  expect(text.trim().split('\n').at(-1)).toBe('@expect "status is 5, or status is 0 and x" ((status == 0x5)) or ((status == 0x0) and (status < 2))');
  expect(pollConditionText(until)).toBe('(r0 & 0x1) == 0x0');
  expect(pollMet(['0x3'], until)).toBe(false);
  expect(pollMet(['0x2'], until)).toBe(true);
});

test('the runner: polls until their condition, binds replies (read: little-endian), exits 0 when every assertion holds', () => {
  const { run } = setUp([
    'writeq 0x98 0x1',
    '@poll 10 until (r0 & 0x1) == 0x0: readq 0x98',
    '@op 1 map(d1), expected ERANGE',
    '@let status = read 0x20 4',
    '@let end_hi = readl 0x10',
    '@expect "the status is S_RANGE" (status & 0xff) == 0x5 and ((end_hi << 32) | 0xffffffff) >= 0x7fffffffff',
  ]);
  expect(run()).toEqual({ code: 0, out: 'PASS TEST-RULE: every assertion holds (the last op was 1 map(d1), expected ERANGE)' });
});

test('the runner: a failing assertion exits 1 with one line naming the rule, the op, expected and observed', () => {
  const { run } = setUp(['@op 2 dma(dev0, iova=0x0, w), expected FAULT', '@let fault_hi = readl 0x10', '@expect "a fault is recorded" ((fault_hi >> 63) & 0x1) == 0x1']);
  expect(run()).toEqual({ code: 1, out: 'REPRODUCED TEST-RULE at op 2 dma(dev0, iova=0x0, w), expected FAULT: a fault is recorded does not hold [((fault_hi >> 63) & 0x1) == 0x1]: observed fault_hi=0x7f' });
});

test('the runner: a poll gives up only after its rounds and a wall-clock floor (a loaded machine runs a device timer late)', () => {
  // Five rounds are over in milliseconds; the copy finishes at 0.5 s, inside the 10 s floor.
  const { run } = setUp(['@poll 5 until (r0 & 0x1) == 0x0: readq 0x9a', '@op 1 late copy', '@let status = readl 0x10', '@expect "x" status == 0x7f']);
  expect(run()).toEqual({ code: 0, out: 'PASS TEST-RULE: every assertion holds (the last op was 1 late copy)' });
  const never = setUp(['@poll 5 until (r0 & 0x1) == 0x0: readq 0x99'], ['--poll-seconds', '0.3']).run();
  expect(never.code, never.out).toBe(2);
  expect(never.out).toMatch(/the poll never finished after \d+ rounds and 0\.[3-9] s$/);
});

test.each([
  [['frobnicate 0x0'], [], /^CANNOT RUN .*line 4 \(op \(before the first op\)\): qtest refused 'frobnicate 0x0': FAIL Unknown command/],
  [['@expect "x" nobody == 0x1'], [], /names 'nobody', which no @let or @poll bound/],
  [['@frob 1'], [], /unknown directive '@frob'/],
  [['readl 0x10'], ['-die'], /^CANNOT RUN .*QEMU exited with code 1 .*invalid option/],
])('the runner: %j (QEMU args %j) cannot run: exit 2', (body, extra, message) => {
  const { run } = setUp(body);
  const r = run(...extra);
  expect(r.code, r.out).toBe(2);
  expect(r.out.split('\n')).toHaveLength(1);
  expect(r.out).toMatch(message);
});
