// The kernel's own io-pgtable-arm selftests, built in userspace per Debian suite
// (scripts/build-linux-selftest.sh): the baseline of the mutant kill matrix
// (`mutants --run --kernel`, runner/kernel-mutants.ts), where a mutant is run through them and through the suite.
// 6.1 and 6.12 run arm_lpae_do_selftests() (18 configurations), 7.2 its KUnit suite under our
// shim (63: every IAS up to each OAS).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { SUITES, type DebianSuite } from '../impl/targets/qemu/common/machine.ts';
import { unavailableTarget } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const UNAVAILABLE = 3;
const CONFIGS: Record<DebianSuite, number> = { bookworm: 18, trixie: 18, sid: 63 };

/** Builds the selftest program (of a mutant, if named) and runs it: its exit status and stderr. */
function selftest(ctx: { skip: (note?: string) => never }, suite: DebianSuite, mutant?: string): { status: number | null; log: string } {
  const b = spawnSync('bash', [join(ROOT, 'scripts/build-linux-selftest.sh'), suite, ...(mutant ? [mutant] : [])], { encoding: 'utf8', timeout: 300_000 });
  if (b.status === UNAVAILABLE) unavailableTarget(ctx, `the Linux io-pgtable-arm selftests (${suite})`, b.stderr.trim());
  expect(b.status, b.stderr).toBe(0);
  const r = spawnSync(b.stdout.trim().split('\n').at(-1)!, [], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, log: r.stderr };
}

describe.each(SUITES)('the kernel selftests of %s', (suite) => {
  test('pass on the unmodified kernel file: the baseline', { timeout: 300_000 }, (ctx) => {
    const r = selftest(ctx, suite);
    expect(r.log).toContain(`completed with ${CONFIGS[suite]} PASS 0 FAIL`);
    expect(r.status).toBe(0);
  });

  test('fail on a mutant they cover (leaf-overmap: no -EEXIST over a live leaf)', { timeout: 300_000 }, (ctx) => {
    const r = selftest(ctx, suite, 'leaf-overmap');
    expect(r.log).toContain(`completed with 0 PASS ${CONFIGS[suite]} FAIL`);
    expect(r.status).toBe(1);
  });

  test('pass on a mutant they do not look at (ap-rdonly-dropped: read-only mappings writable), which a device write shows', { timeout: 300_000 }, (ctx) => {
    expect(selftest(ctx, suite, 'ap-rdonly-dropped').status).toBe(0);
    // The same mutant in the adapter: a write through a read-only mapping goes through.
    const writes = (mutant?: string) => {
      const b = spawnSync('bash', [join(ROOT, 'scripts/build-linux-target.sh'), suite, ...(mutant ? [mutant] : [])], { encoding: 'utf8', timeout: 300_000 });
      expect(b.status, b.stderr).toBe(0);
      const bin = b.stdout.trim().split('\n').at(-1)!;
      const hello = JSON.parse(spawnSync(bin, [], { input: '{"id":0,"op":"hello","protocol":1}\n', encoding: 'utf8' }).stdout) as { ok: { topologies: object[] } };
      const input = [
        { op: 'hello', protocol: 1 },
        { op: 'reset', topology: hello.ok.topologies[0] },
        { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev1' },
        { op: 'attach', dev: 'dev1', domain: 'd1' },
        { op: 'map', domain: 'd1', iova: '0x5000', paddr: '0x80005000', size: '0x1000', prot: 1 },
        { op: 'dma', dev: 'dev1', iova: '0x5008', access: 'w' },
      ].map((q, id) => JSON.stringify({ id, ...q })).join('\n') + '\n';
      return JSON.parse(spawnSync(bin, [], { input, encoding: 'utf8' }).stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    };
    expect(writes()).toMatchObject({ err: 'FAULT' });
    expect(writes('ap-rdonly-dropped')).toMatchObject({ ok: { phys: '0x80005008' } });
  });
});
