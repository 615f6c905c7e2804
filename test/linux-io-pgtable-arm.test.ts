// Real target 1: Linux's io-pgtable-arm of each Debian suite (bookworm 6.1, trixie 6.12, sid
// 7.2), fetched from Debian's linux-source and built in userspace (scripts/build-linux-target.sh
// <suite>), driven over the stdio protocol at stage 1 and at stage 2 (--stage=2). Each version's
// findings must be exactly the judged ones of its expectations file
// (impl/targets/linux/io-pgtable-arm/expectations/[s2-]<suite>.json): a new divergence, or an
// expected one that vanished, fails. Without the package (no apt, no network) the tests warn
// loudly and skip, except under CI=true, where that is a failure.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { unavailableTarget } from './helpers.ts';
import { beforeAll, describe, expect, test } from 'vitest';
import { SUITES, type DebianSuite } from '../impl/targets/qemu/common/machine.ts';
import { decodeHello, resolvePolicies, validateTopology } from '../spec/index.ts';
import { expectJudged, matrixTarget } from './qemu-matrix.ts';

const ROOT = join(import.meta.dirname, '..');
/** build-linux-target.sh: the package cannot be fetched on this machine. */
const UNAVAILABLE = 3;
const RELEASE: Record<DebianSuite, string> = { bookworm: '6.1', trixie: '6.12', sid: '7.2' };

/** Per suite: the binary, or why the package is out of reach. */
const built = new Map<DebianSuite, { binary: string } | { unavailable: string }>();

beforeAll(() => {
  for (const suite of SUITES) {
    const r = spawnSync('bash', [join(ROOT, 'scripts/build-linux-target.sh'), suite], { encoding: 'utf8', timeout: 600_000 });
    if (r.status === 0) built.set(suite, { binary: r.stdout.trim().split('\n').at(-1)! });
    else if (r.status === UNAVAILABLE) built.set(suite, { unavailable: r.stderr.trim() });
    else throw new Error(`build-linux-target.sh ${suite} failed (status ${r.status}): ${r.stderr.trim()}`);
  }
}, 900_000);

/** The suite's binary, or a loud skip (a failure under CI=true) when the kernel package is out of reach. */
function target(ctx: { skip: (note?: string) => never }, suite: DebianSuite): string {
  const b = built.get(suite)!;
  return 'binary' in b ? b.binary : unavailableTarget(ctx, `the Linux io-pgtable-arm target (linux-source-${RELEASE[suite]})`, b.unavailable);
}

/** Sends request lines to a fresh adapter process (with `args`); its replies by id. */
function converse(bin: string, requests: object[], args: string[] = []): Map<number, Record<string, unknown>> {
  const input = requests.map((q, id) => JSON.stringify({ id, ...q })).join('\n') + '\n';
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(replies.map((x) => x.id)).toEqual(requests.map((_, id) => id));
  return new Map(replies.map((x) => [x.id as number, x]));
}

/** The hello as sent (topologies as wire JSON, to be sent back in a reset). */
function rawHello(bin: string, args: string[] = []): { topologies: { iommus: { ias: number }[] }[] } {
  return converse(bin, [{ op: 'hello', protocol: 1 }], args).get(0)!.ok as { topologies: { iommus: { ias: number }[] }[] };
}

function helloOf(bin: string, args: string[] = []) {
  return decodeHello(rawHello(bin, args));
}

describe.each(SUITES)('Linux io-pgtable-arm of %s', (suite) => {
  // Split on unmap was removed in v6.13 (33729a5fc0ca): 7.2 refuses a partial unmap of a block.
  const partial = RELEASE[suite] === '7.2' ? 'refuse' : 'split';

  test('hello: the linux profile with this version\'s policies, and topologies the suite accepts', (ctx) => {
    const hello = helloOf(target(ctx, suite));
    expect(hello.profile).toBe('linux');
    expect(hello.version.startsWith(`${RELEASE[suite]}.`)).toBe(true);
    const p = resolvePolicies(hello.profile, hello.policies);
    expect([p.partial_unmap, p.overmap_errno, p.range_errno, p.unmap_hole, p.write_only_read]).toEqual([partial, 'EEXIST', 'ERANGE', 'stop', 'allow']);
    const topologies = hello.topologies as Exclude<typeof hello.topologies, 'any' | undefined>;
    // 4K granule at 48 and 39 bits, 16K and 64K granules.
    expect(new Set(topologies.flatMap((t) => t.iommus.map((m) => `${m.format} ${m.pgsizes.toString(16)}/${m.ias}`))))
      .toEqual(new Set(['40201000/48', '40201000/39', '2004000/48', '2004000/36', '20010000/48'].map((x) => `arm-lpae-s1 ${x}`)));
    for (const t of topologies) expect(validateTopology(t)).toEqual([]);
  });

  test('hello --stage=2: stage-2 SMMUs at every granule, concatenated roots included, and a true write-only permission', (ctx) => {
    const hello = helloOf(target(ctx, suite), ['--stage=2']);
    const p = resolvePolicies(hello.profile, hello.policies);
    expect([p.partial_unmap, p.write_only_read]).toEqual([partial, 'fault']);
    const topologies = hello.topologies as Exclude<typeof hello.topologies, 'any' | undefined>;
    expect(new Set(topologies.flatMap((t) => t.iommus.map((m) => `${m.format} ${m.pgsizes.toString(16)}/${m.ias}`))))
      .toEqual(new Set(['40201000/48', '40201000/40', '40201000/42', '2004000/48', '2004000/36', '20010000/48'].map((x) => `arm-lpae-s2 ${x}`)));
    for (const t of topologies) expect(validateTopology(t)).toEqual([]);
  });

  test('stage 2: S2AP read and write are separate bits; a 40-bit IPA space (concatenated level-1 root) maps its top', (ctx) => {
    const bin = target(ctx, suite);
    const r = converse(bin, [
      { op: 'hello', protocol: 1 },
      { op: 'reset', topology: rawHello(bin, ['--stage=2']).topologies.find((t) => t.iommus[0]!.ias === 40) },
      { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
      { op: 'attach', dev: 'dev0', domain: 'd1' },
      { op: 'map', domain: 'd1', iova: '0x5000', paddr: '0x80005000', size: '0x1000', prot: 2 }, // 4: write-only
      { op: 'dma', dev: 'dev0', iova: '0x5008', access: 'r' },
      { op: 'dma', dev: 'dev0', iova: '0x5008', access: 'w' },
      { op: 'map', domain: 'd1', iova: '0xffffe00000', paddr: '0x80200000', size: '0x200000', prot: 1 }, // 7: read-only block, top of 2^40
      { op: 'dma', dev: 'dev0', iova: '0xffffe00010', access: 'r' },
      { op: 'dma', dev: 'dev0', iova: '0xffffe00010', access: 'w' },
      { op: 'iova_to_phys', domain: 'd1', iova: '0xfffffff000' },
    ], ['--stage=2']);
    expect(r.get(4)).toMatchObject({ ok: {} });
    expect(r.get(5)).toMatchObject({ err: 'FAULT' });
    expect(r.get(6)).toMatchObject({ ok: { phys: '0x80005008' } });
    expect(r.get(7)).toMatchObject({ ok: {} });
    expect(r.get(8)).toMatchObject({ ok: { phys: '0x80200010' } });
    expect(r.get(9)).toMatchObject({ err: 'FAULT' });
    expect(r.get(10)).toMatchObject({ ok: { phys: '0x803ff000' } });
  });

  test('the model TLB keeps what is not invalidated: strict unmap faults at once, dma_fq only after flush', (ctx) => {
    const bin = target(ctx, suite);
    const topology = rawHello(bin).topologies[0]!;
    const session = (type: string) => converse(bin, [
      { op: 'hello', protocol: 1 },
      { op: 'reset', topology },
      { op: 'domain_alloc', domain: 'd1', type, dev: 'dev1' },
      { op: 'attach', dev: 'dev1', domain: 'd1' },
      { op: 'map', domain: 'd1', iova: '0x5000', paddr: '0x80005000', size: '0x1000', prot: 3 },
      { op: 'dma', dev: 'dev1', iova: '0x5008', access: 'r' }, // 5: fills the TLB
      { op: 'unmap', domain: 'd1', iova: '0x5000', size: '0x1000' },
      { op: 'iova_to_phys', domain: 'd1', iova: '0x5008' }, // 7: the table is already empty
      { op: 'dma', dev: 'dev1', iova: '0x5008', access: 'r' }, // 8
      { op: 'flush', domain: 'd1' },
      { op: 'dma', dev: 'dev1', iova: '0x5008', access: 'r' }, // 10
    ]);
    const strict = session('paging');
    expect(strict.get(5)).toMatchObject({ ok: { phys: '0x80005008' } });
    expect(strict.get(6)).toMatchObject({ ok: { unmapped: '0x1000' } });
    expect(strict.get(7)).toMatchObject({ ok: { phys: '0x0' } });
    expect(strict.get(8)).toMatchObject({ err: 'FAULT' });
    const lazy = session('dma_fq');
    expect(lazy.get(7)).toMatchObject({ ok: { phys: '0x0' } });
    expect(lazy.get(8)).toMatchObject({ ok: { phys: '0x80005008' } }); // the queued gather left it cached
    expect(lazy.get(10)).toMatchObject({ err: 'FAULT' }); // tlb_flush_all
  });

  test.for(['linux-io-pgtable-arm', 'linux-io-pgtable-arm-s2'])('a bounded run of %s finds exactly the judged divergences of its expectations', { timeout: 600_000 }, async (matrix, ctx) => {
    target(ctx, suite);
    await expectJudged(matrixTarget(matrix, suite));
  });
});
