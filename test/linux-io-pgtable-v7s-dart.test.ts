// Linux's io-pgtable-arm-v7s (Arm short descriptor) and io-pgtable-dart (Apple DART) of each
// Debian suite (bookworm 6.1, trixie 6.12, sid 7.2), built into the io-pgtable-arm adapter by
// scripts/build-linux-target.sh <suite> and driven with --format=v7s and --format=dart. Each
// version's findings must be exactly the judged ones of its expectations file
// (impl/targets/linux/io-pgtable-arm/expectations/{v7s,dart}-<suite>.json), and the kernel's own
// v7s selftest (arm_v7s_do_selftests()) must pass. Without the package the tests warn loudly and
// skip, except under CI=true.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { SUITES, type DebianSuite } from '../impl/targets/qemu/common/machine.ts';
import { decodeHello, resolvePolicies, validateTopology } from '../spec/index.ts';
import { unavailableTarget } from './helpers.ts';
import { expectJudged, matrixTarget } from './qemu-matrix.ts';

const ROOT = join(import.meta.dirname, '..');
/** The build scripts' status when the package cannot be fetched on this machine. */
const UNAVAILABLE = 3;
const RELEASE: Record<DebianSuite, string> = { bookworm: '6.1', trixie: '6.12', sid: '7.2' };

type Built = { binary: string } | { unavailable: string };
const adapters = new Map<DebianSuite, Built>();
const selftests = new Map<DebianSuite, Built>();

function build(script: string, args: string[]): Built {
  const r = spawnSync('bash', [join(ROOT, script), ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0) return { binary: r.stdout.trim().split('\n').at(-1)! };
  if (r.status === UNAVAILABLE) return { unavailable: r.stderr.trim() };
  throw new Error(`${script} ${args.join(' ')} failed (status ${r.status}): ${r.stderr.trim()}`);
}

beforeAll(() => {
  for (const suite of SUITES) {
    adapters.set(suite, build('scripts/build-linux-target.sh', [suite]));
    selftests.set(suite, build('scripts/build-linux-selftest.sh', ['--format=v7s', suite]));
  }
}, 900_000);

function binary(ctx: { skip: (note?: string) => never }, built: Map<DebianSuite, Built>, suite: DebianSuite): string {
  const b = built.get(suite)!;
  return 'binary' in b ? b.binary : unavailableTarget(ctx, `the Linux io-pgtable targets (linux-source-${RELEASE[suite]})`, b.unavailable);
}

/** Sends request lines to a fresh adapter process; its replies by id. */
function converse(bin: string, args: string[], requests: object[]): Map<number, Record<string, unknown>> {
  const input = requests.map((q, id) => JSON.stringify({ id, ...q })).join('\n') + '\n';
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return new Map(replies.map((x) => [x.id as number, x]));
}

type WireTopology = { iommus: { format: string; pgsizes: string }[] };
function topologies(bin: string, args: string[]): WireTopology[] {
  return (converse(bin, args, [{ op: 'hello', protocol: 1 }]).get(0)!.ok as { topologies: WireTopology[] }).topologies;
}

describe.each(SUITES)('Linux io-pgtable-arm-v7s and io-pgtable-dart of %s', (suite) => {
  const old = RELEASE[suite] !== '7.2';

  test('hello: each format\'s policies and topologies, which the suite accepts', (ctx) => {
    const bin = binary(ctx, adapters, suite);
    for (const [args, name, formats, policies] of [
      // 7.2 removed the v7s split (arm_v7s_split_blk_unmap(), arm_v7s_split_cont()).
      ['--format=v7s', 'linux-io-pgtable-v7s', ['arm-v7s 1111000', 'arm-v7s 111000'], [old ? 'split' : 'refuse', 'allow', 'ERANGE']],
      ['--format=dart', 'linux-io-pgtable-dart', ['apple-dart 4000', 'apple-dart2 4000', 'apple-dart 1000'], ['whole-leaf', 'fault', 'ERANGE']],
    ] as const) {
      const hello = decodeHello(converse(bin, [args], [{ op: 'hello', protocol: 1 }]).get(0)!.ok);
      expect(hello.name).toBe(name);
      expect(hello.version.startsWith(`${RELEASE[suite]}.`)).toBe(true);
      const p = resolvePolicies(hello.profile, hello.policies);
      expect([p.partial_unmap, p.write_only_read, p.range_errno]).toEqual([...policies]);
      const topos = hello.topologies as Exclude<typeof hello.topologies, 'any' | undefined>;
      expect(new Set(topos.flatMap((t) => t.iommus.map((m) => `${m.format} ${m.pgsizes.toString(16)}`)))).toEqual(new Set(formats));
      for (const t of topos) expect(validateTopology(t)).toEqual([]);
    }
  });

  test('v7s: a 64K large page and a 16M supersection translate; a read-only leaf faults a write', (ctx) => {
    const bin = binary(ctx, adapters, suite);
    const r = converse(bin, ['--format=v7s'], [
      { op: 'hello', protocol: 1 },
      { op: 'reset', topology: topologies(bin, ['--format=v7s'])[0] },
      { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev1' },
      { op: 'attach', dev: 'dev1', domain: 'd1' },
      { op: 'map', domain: 'd1', iova: '0x10000', paddr: '0x80010000', size: '0x10000', prot: 1 },
      { op: 'dma', dev: 'dev1', iova: '0x1f008', access: 'r' }, // 5
      { op: 'dma', dev: 'dev1', iova: '0x1f008', access: 'w' }, // 6: AP[2]
      { op: 'map', domain: 'd1', iova: '0x1000000', paddr: '0x81000000', size: '0x1000000', prot: 3 },
      { op: 'leaves', domain: 'd1', iova: '0x0', size: '0x2000000' }, // 8
      { op: 'dma', dev: 'dev1', iova: '0x1ffff08', access: 'w' }, // 9
    ]);
    expect(r.get(5)).toMatchObject({ ok: { phys: '0x8001f008' } });
    expect(r.get(6)).toMatchObject({ err: 'FAULT' });
    expect(JSON.stringify(r.get(8))).toContain('0x1000000');
    expect(r.get(9)).toMatchObject({ ok: { phys: '0x81ffff08' } });
  });

  test('DART: NO_READ makes a write-only page; iotlb_sync flushes the stream', (ctx) => {
    const bin = binary(ctx, adapters, suite);
    const r = converse(bin, ['--format=dart'], [
      { op: 'hello', protocol: 1 },
      { op: 'reset', topology: topologies(bin, ['--format=dart'])[0] },
      { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev1' },
      { op: 'attach', dev: 'dev1', domain: 'd1' },
      { op: 'map', domain: 'd1', iova: '0x4000', paddr: '0x80004000', size: '0x4000', prot: 2 },
      { op: 'dma', dev: 'dev1', iova: '0x4008', access: 'r' }, // 5
      { op: 'dma', dev: 'dev1', iova: '0x4008', access: 'w' }, // 6
      { op: 'unmap', domain: 'd1', iova: '0x4000', size: '0x4000' },
      { op: 'dma', dev: 'dev1', iova: '0x4008', access: 'w' }, // 8
    ]);
    expect(r.get(5)).toMatchObject({ err: 'FAULT' });
    expect(r.get(6)).toMatchObject({ ok: { phys: '0x80004008' } });
    expect(r.get(8)).toMatchObject({ err: 'FAULT' });
  });

  test('the kernel\'s own v7s selftest passes', (ctx) => {
    const r = spawnSync(binary(ctx, selftests, suite), [], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('io-pgtable-arm-v7s selftest: PASS');
    expect(r.stderr).toContain('self test ok');
  });

  test.for(['linux-io-pgtable-v7s', 'linux-io-pgtable-dart'])('a bounded run of %s finds exactly the judged divergences of its expectations', { timeout: 600_000 }, async (matrix, ctx) => {
    binary(ctx, adapters, suite);
    await expectJudged(matrixTarget(matrix, suite));
  });
});
