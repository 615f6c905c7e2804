// Rule-level tests of the reference model on known cases: each rule's canonical outcome, the
// state it leaves behind, and the rule judge() names when an implementation answers otherwise.
// Everything runs on the fixed topology of helpers.ts (m0: 4K|2M|1G, 48 bits, 3 contexts).

import { describe, expect, test } from 'vitest';
import { type Errno, type Op, type Outcome, PROT, U64_LIMIT, validateTopology } from '../spec/index.ts';
import type { ReferenceModel } from '../impl/reference/model.ts';
import {
  PG_4K_2M_1G, RW, SZ_1G, SZ_2M, SZ_4K, alloc, dma, fixedTopology, map, ok, phys, refModel, unmap,
} from './helpers.ts';

const PARTIAL = ['split', 'refuse', 'whole-leaf', 'reject-range'] as const;
const HOLES = ['stop', 'skip'] as const;
const unmapped = (n: bigint): Outcome => ({ ok: { unmapped: n } });

/** A model with one paging domain d1 on dev0's IOMMU. */
function withDomain(declared: Partial<Record<string, string>> = {}, opts: { ias?: number; oas?: number } = {}): ReferenceModel {
  const m = refModel(declared, fixedTopology(opts));
  alloc(m, 'd1');
  return m;
}

function judgeRule(m: ReferenceModel, op: Op, observed: Outcome): string {
  const j = m.judge(op, observed);
  if (j.ok) expect.fail(`judge accepted ${JSON.stringify(observed, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`);
  return j.rule;
}

test('the fixed topology is well formed', () => {
  expect(validateTopology(fixedTopology())).toEqual([]);
  expect(validateTopology(fixedTopology({ ias: 64, oas: 64 }))).toEqual([]);
});

// ---- partial unmap ------------------------------------------------------------------------

describe('UNMAP-PARTIAL: a 2M block at 0x200000 -> 0x80000000', () => {
  const setup = (partial: string) => {
    const m = withDomain({ partial_unmap: partial });
    expect(map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M)).toEqual({ ok: {} });
    return m;
  };

  test.each([
    // policy, reply, then what iova_to_phys says at the first page, the second page and the last byte
    ['split', unmapped(SZ_4K), [0n, 0x80001000n, 0x801fffffn]],
    ['refuse', unmapped(0n), [0x80000000n, 0x80001000n, 0x801fffffn]],
    ['whole-leaf', unmapped(SZ_2M), [0n, 0n, 0n]],
    ['reject-range', { err: 'ERANGE' }, [0x80000000n, 0x80001000n, 0x801fffffn]],
  ] as const)('unmap of the first 4K under %s', (partial, reply, after) => {
    const m = setup(partial);
    expect(unmap(m, 'd1', 0x200000n, SZ_4K)).toEqual(reply);
    expect([phys(m, 'd1', 0x200000n), phys(m, 'd1', 0x201000n), phys(m, 'd1', 0x3fffffn)]).toEqual(after);
  });

  test.each([
    // unmap [0x201000, 0x400000): starts inside the leaf, ends at its end
    ['split', unmapped(SZ_2M - SZ_4K), [0x80000000n, 0n, 0n]],
    ['refuse', unmapped(0n), [0x80000000n, 0x80001000n, 0x801fffffn]],
    // iommupt: an iova in the middle of a leaf is refused, nothing is removed
    ['whole-leaf', unmapped(0n), [0x80000000n, 0x80001000n, 0x801fffffn]],
    ['reject-range', { err: 'ERANGE' }, [0x80000000n, 0x80001000n, 0x801fffffn]],
  ] as const)('unmap starting inside the leaf under %s', (partial, reply, after) => {
    const m = setup(partial);
    expect(unmap(m, 'd1', 0x201000n, SZ_2M - SZ_4K)).toEqual(reply);
    expect([phys(m, 'd1', 0x200000n), phys(m, 'd1', 0x201000n), phys(m, 'd1', 0x3fffffn)]).toEqual(after);
  });

  test.each([
    ['split', unmapped(SZ_4K)],
    ['refuse', unmapped(0n)],
    ['whole-leaf', unmapped(0n)],
    ['reject-range', { err: 'ERANGE' }],
  ] as const)('unmap of one 4K page in the middle under %s', (partial, reply) => {
    const m = setup(partial);
    expect(unmap(m, 'd1', 0x300000n, SZ_4K)).toEqual(reply);
    expect(phys(m, 'd1', 0x300000n)).toBe(partial === 'split' ? 0n : 0x80100000n);
    expect(phys(m, 'd1', 0x301000n)).toBe(0x80101000n);
  });

  test.each([
    // A 4K map at 0x1ff000 right before the block; unmap [0x1ff000, 0x201000) covers it and cuts the block.
    ['split', unmapped(2n * SZ_4K), [0n, 0n, 0x80001000n]],
    // refuse stops in front of the leaf holding the last requested byte
    ['refuse', unmapped(SZ_4K), [0n, 0x80000000n, 0x80001000n]],
    // whole-leaf removes that leaf in full: more than requested
    ['whole-leaf', unmapped(SZ_4K + SZ_2M), [0n, 0n, 0n]],
    // reject-range: all or nothing, the 4K map survives too
    ['reject-range', { err: 'ERANGE' }, [0x7ffff000n, 0x80000000n, 0x80001000n]],
  ] as const)('unmap that removes a whole map and cuts the next, under %s', (partial, reply, after) => {
    const m = setup(partial);
    expect(map(m, 'd1', 0x1ff000n, 0x7ffff000n, SZ_4K)).toEqual({ ok: {} });
    expect(unmap(m, 'd1', 0x1ff000n, 2n * SZ_4K)).toEqual(reply);
    expect([phys(m, 'd1', 0x1ff000n), phys(m, 'd1', 0x200000n), phys(m, 'd1', 0x201000n)]).toEqual(after);
  });

  test('a request cutting only 4K leaves is no partial unmap under whole-leaf, but is under reject-range', () => {
    for (const [partial, reply] of [['whole-leaf', unmapped(SZ_4K)], ['reject-range', { err: 'ERANGE' }]] as const) {
      const m = withDomain({ partial_unmap: partial });
      map(m, 'd1', 0x1000n, 0x80001000n, 4n * SZ_4K); // four 4K leaves
      expect(unmap(m, 'd1', 0x2000n, SZ_4K)).toEqual(reply);
    }
  });
});

// ---- holes --------------------------------------------------------------------------------

describe('UNMAP-HOLE: A = [0, 0x2000), a 4K hole, B = [0x3000, 0x5000)', () => {
  const setup = (hole: string) => {
    const m = withDomain({ unmap_hole: hole });
    map(m, 'd1', 0n, 0x80000000n, 0x2000n);
    map(m, 'd1', 0x3000n, 0x80003000n, 0x2000n);
    return m;
  };
  test('stop: unmap [0, 0x5000) returns the mapped prefix and leaves B', () => {
    const m = setup('stop');
    expect(unmap(m, 'd1', 0n, 0x5000n)).toEqual(unmapped(0x2000n));
    expect(phys(m, 'd1', 0x1000n)).toBe(0n);
    expect(phys(m, 'd1', 0x3000n)).toBe(0x80003000n);
  });
  test('skip: unmap [0, 0x5000) removes both and counts both', () => {
    const m = setup('skip');
    expect(unmap(m, 'd1', 0n, 0x5000n)).toEqual(unmapped(0x4000n));
    expect(phys(m, 'd1', 0x3000n)).toBe(0n);
    expect(phys(m, 'd1', 0x4fffn)).toBe(0n);
  });
  test('an unmap starting in the hole: 0 under stop, B under skip', () => {
    const stop = setup('stop');
    expect(unmap(stop, 'd1', 0x2000n, 0x3000n)).toEqual(unmapped(0n));
    expect(phys(stop, 'd1', 0x3000n)).toBe(0x80003000n);
    const skip = setup('skip');
    expect(unmap(skip, 'd1', 0x2000n, 0x3000n)).toEqual(unmapped(0x2000n));
    expect(phys(skip, 'd1', 0x3000n)).toBe(0n);
    expect(phys(skip, 'd1', 0x1000n)).toBe(0x80001000n);
  });
  test('judge names UNMAP-HOLE for a count that ignores the declared hole policy', () => {
    const m = setup('stop');
    expect(judgeRule(m, { op: 'unmap', domain: 'd1', iova: 0n, size: 0x5000n }, unmapped(0x4000n))).toBe('UNMAP-HOLE');
    const s = setup('skip');
    expect(judgeRule(s, { op: 'unmap', domain: 'd1', iova: 0x2000n, size: 0x3000n }, unmapped(0n))).toBe('UNMAP-HOLE');
  });
});

describe('the normative virtio UNMAP examples, one 4K page per unit', () => {
  // map(a, b) / unmap(a, b) are inclusive page ranges, as in the virtio spec.
  interface Example { n: number; maps: [number, number][]; unmap: [number, number]; reply: Outcome; left: [number, number][] }
  const pages = (a: number, b: number) => ({ iova: BigInt(a) * SZ_4K, size: BigInt(b - a + 1) * SZ_4K });
  const EXAMPLES: Example[] = [
    { n: 1, maps: [], unmap: [0, 4], reply: unmapped(0n), left: [] }, // empty: succeeds, unmaps nothing
    { n: 2, maps: [[0, 9]], unmap: [0, 9], reply: unmapped(10n * SZ_4K), left: [] }, // unmaps a
    { n: 3, maps: [[0, 4], [5, 9]], unmap: [0, 9], reply: unmapped(10n * SZ_4K), left: [] }, // unmaps a and b
    { n: 4, maps: [[0, 9]], unmap: [0, 4], reply: { err: 'ERANGE' }, left: [[0, 9]] }, // fails, unmaps nothing
    { n: 5, maps: [[0, 4], [5, 9]], unmap: [0, 4], reply: unmapped(5n * SZ_4K), left: [[5, 9]] }, // unmaps a only
    { n: 6, maps: [[0, 4]], unmap: [0, 9], reply: unmapped(5n * SZ_4K), left: [] }, // unmaps a
    { n: 7, maps: [[0, 4], [10, 14]], unmap: [0, 14], reply: unmapped(10n * SZ_4K), left: [] }, // unmaps a and b
  ];

  test.each(EXAMPLES)('example $n under partial_unmap=reject-range, unmap_hole=skip', (ex) => {
    const m = withDomain({ partial_unmap: 'reject-range', unmap_hole: 'skip' });
    for (const [a, b] of ex.maps) {
      const { iova, size } = pages(a, b);
      expect(map(m, 'd1', iova, 0x80000000n + iova, size)).toEqual({ ok: {} });
    }
    const { iova, size } = pages(...ex.unmap);
    expect(unmap(m, 'd1', iova, size)).toEqual(ex.reply);
    for (let p = 0; p < 16; p++) {
      const at = BigInt(p) * SZ_4K;
      const live = ex.left.some(([a, b]) => p >= a && p <= b);
      expect(phys(m, 'd1', at), `page ${p}`).toBe(live ? 0x80000000n + at : 0n);
    }
  });

  test('Linux defaults differ where virtio is all-or-nothing or skips holes (examples 4 and 7)', () => {
    // Example 4 with 4K leaves cuts no leaf: Linux whole-leaf removes exactly the 5 pages.
    const four = withDomain();
    map(four, 'd1', 0n, 0x80000000n, 10n * SZ_4K);
    expect(unmap(four, 'd1', 0n, 5n * SZ_4K)).toEqual(unmapped(5n * SZ_4K));
    expect(phys(four, 'd1', 5n * SZ_4K)).toBe(0x80005000n);
    // Example 7: unmap_hole=stop ends at the first hole.
    const seven = withDomain();
    map(seven, 'd1', 0n, 0x80000000n, 5n * SZ_4K);
    map(seven, 'd1', 10n * SZ_4K, 0x8000a000n, 5n * SZ_4K);
    expect(unmap(seven, 'd1', 0n, 15n * SZ_4K)).toEqual(unmapped(5n * SZ_4K));
    expect(phys(seven, 'd1', 10n * SZ_4K)).toBe(0x8000a000n);
  });
});

// ---- symmetric and aggregated unmap ------------------------------------------------------

describe('UNMAP-SYM: whole earlier maps come back exactly, under every partial and hole policy', () => {
  const combos = PARTIAL.flatMap((p) => HOLES.map((h) => [p, h] as const));
  // Three adjacent maps of different shapes: a 2M block, 2M+4K (2M leaf + 4K leaf), 3 4K pages.
  const setup = (p: string, h: string) => {
    const m = withDomain({ partial_unmap: p, unmap_hole: h });
    map(m, 'd1', 0x200000n, 0x80200000n, SZ_2M);
    map(m, 'd1', 0x400000n, 0x80400000n, SZ_2M + SZ_4K);
    map(m, 'd1', 0x601000n, 0x90000000n, 3n * SZ_4K);
    map(m, 'd1', 0x40000000n, 0xc0000000n, SZ_1G); // far away, must survive
    return m;
  };
  test.each(combos)('symmetric unmap of the middle map under %s/%s', (p, h) => {
    const m = setup(p, h);
    expect(unmap(m, 'd1', 0x400000n, SZ_2M + SZ_4K)).toEqual(unmapped(SZ_2M + SZ_4K));
    expect(phys(m, 'd1', 0x3fffffn)).toBe(0x803fffffn);
    expect(phys(m, 'd1', 0x400000n)).toBe(0n);
    expect(phys(m, 'd1', 0x600fffn)).toBe(0n);
    expect(phys(m, 'd1', 0x601000n)).toBe(0x90000000n);
  });
  test.each(combos)('aggregated unmap of all three under %s/%s', (p, h) => {
    const m = setup(p, h);
    const size = 0x604000n - 0x200000n;
    expect(unmap(m, 'd1', 0x200000n, size)).toEqual(unmapped(size));
    for (const at of [0x200000n, 0x3fffffn, 0x400000n, 0x600000n, 0x603fffn]) expect(phys(m, 'd1', at)).toBe(0n);
    expect(phys(m, 'd1', 0x40000000n)).toBe(0xc0000000n);
    expect(m.mappingsOf('d1')!.size).toBe(1);
  });
  test('judge names UNMAP-SYM for a symmetric unmap returning anything but size', () => {
    const m = setup('whole-leaf', 'stop');
    expect(judgeRule(m, { op: 'unmap', domain: 'd1', iova: 0x200000n, size: SZ_2M }, unmapped(SZ_4K))).toBe('UNMAP-SYM');
    expect(judgeRule(m, { op: 'unmap', domain: 'd1', iova: 0x200000n, size: SZ_2M }, { err: 'EINVAL' })).toBe('UNMAP-RET');
  });
});

// ---- misaligned, zero and wrapping unmaps -------------------------------------------------

describe('UNMAP-ALIGN, UNMAP-ZERO, UNMAP-OVERFLOW', () => {
  const cases: [string, bigint, bigint][] = [
    ['iova', 0x200800n, SZ_4K],
    ['size', 0x200000n, 0x1800n],
  ];
  test.each(cases)('misaligned %s: 0 under misaligned_unmap=zero, EINVAL under EINVAL; nothing removed', (_what, iova, size) => {
    for (const [policy, reply] of [['zero', unmapped(0n)], ['EINVAL', { err: 'EINVAL' }]] as const) {
      const m = withDomain({ misaligned_unmap: policy });
      map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
      expect(unmap(m, 'd1', iova, size)).toEqual(reply);
      expect(phys(m, 'd1', 0x200000n)).toBe(0x80000000n);
      expect(judgeRule(m, { op: 'unmap', domain: 'd1', iova, size }, unmapped(size))).toBe('UNMAP-ALIGN');
    }
  });
  test('alignment is to the domain\'s smallest page, not the IOMMU\'s', () => {
    const m = refModel();
    alloc(m, 'd2', 'dev0', 'paging', { pgsizes: SZ_2M | SZ_1G });
    map(m, 'd2', 0x200000n, 0x80000000n, SZ_2M);
    expect(unmap(m, 'd2', 0x200000n, SZ_4K)).toEqual(unmapped(0n));
    expect(phys(m, 'd2', 0x200000n)).toBe(0x80000000n);
  });
  test('size 0 removes nothing and returns 0', () => {
    const m = withDomain();
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
    expect(unmap(m, 'd1', 0x200000n, 0n)).toEqual(unmapped(0n));
    expect(phys(m, 'd1', 0x200000n)).toBe(0x80000000n);
  });
  test('a range wrapping past 2^64 removes nothing: 0, or EINVAL/ERANGE/EOVERFLOW', () => {
    const m = withDomain({}, { ias: 64, oas: 64 });
    map(m, 'd1', U64_LIMIT - SZ_4K, 0x80000000n, SZ_4K);
    const op: Op = { op: 'unmap', domain: 'd1', iova: U64_LIMIT - SZ_4K, size: 2n * SZ_4K };
    for (const e of ['EINVAL', 'ERANGE', 'EOVERFLOW'] as Errno[]) expect(m.judge(op, { err: e }).ok).toBe(true);
    expect(judgeRule(m, op, unmapped(SZ_4K))).toBe('UNMAP-OVERFLOW');
    expect(m.act(op)).toEqual(unmapped(0n));
    expect(phys(m, 'd1', U64_LIMIT - 1n)).toBe(0x80000fffn);
    // Ending exactly at 2^64 is no wrap.
    expect(unmap(m, 'd1', U64_LIMIT - SZ_4K, SZ_4K)).toEqual(unmapped(SZ_4K));
  });
});

// ---- map ----------------------------------------------------------------------------------

describe('map rules', () => {
  test.each([
    ['iova', 0x200800n, 0x80000000n, SZ_4K],
    ['paddr', 0x200000n, 0x80000800n, SZ_4K],
    ['size', 0x200000n, 0x80000000n, 0x1800n],
  ])('MAP-ALIGN: a misaligned %s fails EINVAL and changes nothing', (_what, iova, paddr, size) => {
    const m = withDomain();
    expect(map(m, 'd1', iova, paddr, size)).toEqual({ err: 'EINVAL' });
    expect(m.mappingsOf('d1')!.size).toBe(0);
    expect(judgeRule(m, { op: 'map', domain: 'd1', iova, paddr, size, prot: RW }, { ok: {} })).toBe('MAP-ALIGN');
  });

  test('MAP-ALIGN follows the domain bitmap: a 2M|1G domain refuses 4K-aligned maps (seed 000)', () => {
    const m = refModel();
    alloc(m, 'd2', 'dev0', 'paging', { pgsizes: SZ_2M | SZ_1G });
    expect(map(m, 'd2', 0x201000n, 0x80001000n, SZ_2M)).toEqual({ err: 'EINVAL' });
    expect(map(m, 'd2', 0x200000n, 0x80000000n, SZ_2M)).toEqual({ ok: {} });
  });

  test('MAP-PROT: no READ and no WRITE fails EINVAL whatever else is set; WRITE alone is fine', () => {
    const m = withDomain();
    expect(map(m, 'd1', 0n, 0x80000000n, SZ_4K, 0)).toEqual({ err: 'EINVAL' });
    expect(map(m, 'd1', 0n, 0x80000000n, SZ_4K, PROT.CACHE | PROT.NOEXEC | PROT.MMIO | PROT.PRIV)).toEqual({ err: 'EINVAL' });
    expect(judgeRule(m, { op: 'map', domain: 'd1', iova: 0n, paddr: 0x80000000n, size: SZ_4K, prot: 0 }, { ok: {} })).toBe('MAP-PROT');
    expect(map(m, 'd1', 0n, 0x80000000n, SZ_4K, PROT.WRITE)).toEqual({ ok: {} });
  });

  test.each(['EEXIST', 'EADDRINUSE', 'EINVAL'] as const)('MAP-OVERLAP: overmap fails %s when declared, old translation intact', (errno) => {
    const m = withDomain({ overmap_errno: errno });
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
    // Partial overlaps at either end, a containing range and an identical one.
    for (const [iova, size] of [[0x1ff000n, 0x2000n], [0x3ff000n, 0x2000n], [0n, SZ_1G], [0x200000n, SZ_2M]] as const) {
      expect(map(m, 'd1', iova, 0x90000000n + iova, size)).toEqual({ err: errno });
    }
    expect(phys(m, 'd1', 0x200000n)).toBe(0x80000000n);
    expect(phys(m, 'd1', 0x1ff000n)).toBe(0n);
    // The neighbours themselves are free.
    expect(map(m, 'd1', 0x1ff000n, 0x7ffff000n, SZ_4K)).toEqual({ ok: {} });
    expect(map(m, 'd1', 0x400000n, 0x80200000n, SZ_4K)).toEqual({ ok: {} });
  });

  test.each(['ERANGE', 'EFAULT', 'EINVAL'] as const)('MAP-RANGE at exactly 2^IAS and 2^OAS, range_errno=%s', (errno) => {
    // m0 with IAS 40, OAS 36: different widths, so the two checks cannot stand in for each other.
    const m = withDomain({ range_errno: errno }, { ias: 40, oas: 36 });
    const ias = 1n << 40n;
    const oas = 1n << 36n;
    expect(map(m, 'd1', ias - SZ_4K, 0x80000000n, SZ_4K)).toEqual({ ok: {} }); // last page below 2^IAS
    expect(map(m, 'd1', ias, 0x80000000n, SZ_4K)).toEqual({ err: errno }); // first page at 2^IAS
    expect(map(m, 'd1', ias - SZ_2M, 0x80000000n, SZ_2M + SZ_4K)).toEqual({ err: errno }); // straddles it
    expect(map(m, 'd1', 0n, oas - SZ_4K, SZ_4K)).toEqual({ ok: {} }); // last page below 2^OAS
    expect(map(m, 'd1', SZ_1G, oas, SZ_4K)).toEqual({ err: errno });
    expect(map(m, 'd1', SZ_1G, oas - SZ_4K, 2n * SZ_4K)).toEqual({ err: errno });
    expect(m.mappingsOf('d1')!.size).toBe(2);
    const other = errno === 'ERANGE' ? 'EFAULT' : 'ERANGE';
    expect(judgeRule(m, { op: 'map', domain: 'd1', iova: ias, paddr: 0n, size: SZ_4K, prot: RW }, { err: other })).toBe('MAP-RANGE');
  });

  test('MAP-OVERFLOW: a range wrapping past 2^64 fails, ending exactly at 2^64 does not (IAS 64)', () => {
    const m = withDomain({ range_errno: 'EFAULT' }, { ias: 64, oas: 64 });
    const top = U64_LIMIT - SZ_4K;
    const wrapIova: Op = { op: 'map', domain: 'd1', iova: top, paddr: 0x80000000n, size: 2n * SZ_4K, prot: RW };
    const wrapPaddr: Op = { op: 'map', domain: 'd1', iova: 0n, paddr: top, size: 2n * SZ_4K, prot: RW };
    for (const op of [wrapIova, wrapPaddr]) {
      for (const e of ['EINVAL', 'ERANGE', 'EOVERFLOW', 'EFAULT'] as Errno[]) expect(m.judge(op, { err: e }).ok).toBe(true);
      expect(judgeRule(m, op, { ok: {} })).toBe('MAP-OVERFLOW');
      expect(judgeRule(m, op, { err: 'EEXIST' })).toBe('MAP-OVERFLOW');
    }
    expect(m.act(wrapIova)).toEqual({ err: 'EINVAL' });
    expect(m.mappingsOf('d1')!.size).toBe(0);
    expect(map(m, 'd1', top, top, SZ_4K)).toEqual({ ok: {} });
    expect(phys(m, 'd1', U64_LIMIT - 1n)).toBe(U64_LIMIT - 1n);
    // At 48 bits the wrap is still MAP-OVERFLOW, not MAP-RANGE.
    const n = withDomain();
    expect(judgeRule(n, wrapIova, { ok: {} })).toBe('MAP-OVERFLOW');
  });

  test.each([
    ['ok', { ok: {} }],
    ['EINVAL', { err: 'EINVAL' }],
  ] as const)('MAP-ZERO: size 0 under zero_size_map=%s, no translation either way', (policy, reply) => {
    const m = withDomain({ zero_size_map: policy });
    expect(map(m, 'd1', 0x200000n, 0x80000000n, 0n)).toEqual(reply);
    expect(m.mappingsOf('d1')!.size).toBe(0);
    const wrong: Outcome = policy === 'ok' ? { err: 'EINVAL' } : { ok: {} };
    expect(judgeRule(m, { op: 'map', domain: 'd1', iova: 0x200000n, paddr: 0x80000000n, size: 0n, prot: RW }, wrong)).toBe('MAP-ZERO');
    // A misaligned zero-size map is an alignment error under both policies.
    expect(map(m, 'd1', 0x200800n, 0x80000000n, 0n)).toEqual({ err: 'EINVAL' });
  });

  test('MAP-XLATE: every byte of a mapping translates, and a 1 GiB mapping is one record', () => {
    const m = withDomain();
    expect(map(m, 'd1', SZ_1G, 0x140000000n, SZ_1G)).toEqual({ ok: {} });
    expect(m.mappingsOf('d1')!.size).toBe(1);
    for (const off of [0n, 1n, SZ_4K + 5n, SZ_2M, SZ_1G - 1n]) expect(phys(m, 'd1', SZ_1G + off)).toBe(0x140000000n + off);
    expect(phys(m, 'd1', SZ_1G - 1n)).toBe(0n);
    expect(phys(m, 'd1', 2n * SZ_1G)).toBe(0n);
    expect(ok(m, { op: 'leaves', domain: 'd1', iova: SZ_1G, size: SZ_1G })).toEqual({ leaves: [{ iova: SZ_1G, pgsize: SZ_1G, count: 1n }] });
  });
});

// ---- domain types --------------------------------------------------------------------------

describe('domain types (DOM-OPS, MAP-DOMTYPE, UNMAP-DOMTYPE, XLATE-I2P)', () => {
  test.each(['identity', 'blocked', 'sva', 'nested'] as const)('%s: map fails EINVAL, unmap returns 0', (type) => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'dx', 'dev0', type, type === 'nested' ? { parent: 'd1' } : {});
    expect(map(m, 'dx', 0n, 0x80000000n, SZ_4K)).toEqual({ err: 'EINVAL' });
    expect(judgeRule(m, { op: 'map', domain: 'dx', iova: 0n, paddr: 0x80000000n, size: SZ_4K, prot: RW }, { ok: {} })).toBe('MAP-DOMTYPE');
    expect(unmap(m, 'dx', 0n, SZ_4K)).toEqual(unmapped(0n));
    expect(judgeRule(m, { op: 'unmap', domain: 'dx', iova: 0n, size: SZ_4K }, { err: 'EINVAL' })).toBe('UNMAP-DOMTYPE');
    // Even a misaligned map is MAP-DOMTYPE's, not MAP-ALIGN's.
    expect(judgeRule(m, { op: 'map', domain: 'dx', iova: 1n, paddr: 0n, size: SZ_4K, prot: RW }, { ok: {} })).toBe('MAP-DOMTYPE');
  });

  test('iova_to_phys: identity returns the iova, blocked 0, sva/nested 0 or an errno', () => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'did', 'dev0', 'identity');
    alloc(m, 'dbl', 'dev0', 'blocked');
    alloc(m, 'dsva', 'dev0', 'sva');
    alloc(m, 'dn', 'dev0', 'nested', { parent: 'd1' });
    expect(phys(m, 'did', 0x12345678n)).toBe(0x12345678n);
    expect(phys(m, 'dbl', 0x12345678n)).toBe(0n);
    for (const d of ['dsva', 'dn']) {
      const op: Op = { op: 'iova_to_phys', domain: d, iova: 0x1000n };
      expect(m.judge(op, { ok: { phys: 0n } }).ok).toBe(true);
      expect(m.judge(op, { err: 'EOPNOTSUPP' }).ok).toBe(true);
      expect(judgeRule(m, op, { ok: { phys: 0x1000n } })).toBe('DOM-OPS');
    }
    expect(judgeRule(m, { op: 'iova_to_phys', domain: 'did', iova: 0x1000n }, { ok: { phys: 0n } })).toBe('XLATE-I2P');
  });

  test('an sva domain cannot be attached to a whole device; identity and blocked not at a PASID', () => {
    const m = refModel();
    alloc(m, 'dsva', 'dev0', 'sva');
    alloc(m, 'did', 'dev0', 'identity');
    alloc(m, 'dbl', 'dev0', 'blocked');
    const att: Op = { op: 'attach', dev: 'dev0', domain: 'dsva' };
    for (const e of ['ENODEV', 'EINVAL', 'EOPNOTSUPP'] as Errno[]) expect(m.judge(att, { err: e }).ok).toBe(true);
    expect(judgeRule(m, att, { ok: {} })).toBe('DOM-OPS');
    for (const d of ['did', 'dbl']) {
      expect(m.act({ op: 'attach_pasid', dev: 'dev0', domain: d, pasid: 1 })).toEqual({ err: 'EINVAL' });
    }
  });

  test('DOM-ALLOC: unknown device ENODEV, unsupported type EOPNOTSUPP, bad pgsizes or parent EINVAL', () => {
    const m = refModel();
    expect(m.act({ op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'nodev' })).toEqual({ err: 'ENODEV' });
    expect(m.act({ op: 'domain_alloc', domain: 'd1', type: 'sva', dev: 'dev3' })).toEqual({ err: 'EOPNOTSUPP' });
    expect(m.act({ op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0', pgsizes: 0n })).toEqual({ err: 'EINVAL' });
    expect(m.act({ op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0', pgsizes: 1n << 13n })).toEqual({ err: 'EINVAL' });
    expect(m.act({ op: 'domain_alloc', domain: 'd1', type: 'nested', dev: 'dev0' })).toEqual({ err: 'EINVAL' });
    alloc(m, 'd2', 'dev4'); // amdv1
    expect(m.act({ op: 'domain_alloc', domain: 'd3', type: 'nested', dev: 'dev0', parent: 'd2' })).toEqual({ err: 'EINVAL' });
    // A domain may report any non-empty subset of what it asked for, never more.
    const op: Op = { op: 'domain_alloc', domain: 'd4', type: 'paging', dev: 'dev0', pgsizes: SZ_4K | SZ_2M };
    expect(m.judge(op, { ok: { pgsizes: SZ_4K } }).ok).toBe(true);
    const n = refModel();
    expect(judgeRule(n, op, { ok: { pgsizes: PG_4K_2M_1G } })).toBe('DOM-PGSIZE');
    expect(judgeRule(n, op, { ok: { pgsizes: 0n } })).toBe('DOM-PGSIZE');
  });
});

// ---- domain lifetime -------------------------------------------------------------------------

describe('DOM-FREE, DOM-STALE, DOM-LIFETIME', () => {
  test('freeing fails EBUSY while attached, at a PASID, or parent of a nested domain', () => {
    const m = refModel();
    alloc(m, 'd1');
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    expect(m.act({ op: 'domain_free', domain: 'd1' })).toEqual({ err: 'EBUSY' });
    expect(judgeRule(m, { op: 'domain_free', domain: 'd1' }, { ok: {} })).toBe('DOM-FREE');
    ok(m, { op: 'detach', dev: 'dev0', domain: 'd1' });
    ok(m, { op: 'attach_pasid', dev: 'dev1', domain: 'd1', pasid: 7 });
    expect(m.act({ op: 'domain_free', domain: 'd1' })).toEqual({ err: 'EBUSY' });
    ok(m, { op: 'detach_pasid', dev: 'dev1', pasid: 7 });
    alloc(m, 'dn', 'dev0', 'nested', { parent: 'd1' });
    expect(m.act({ op: 'domain_free', domain: 'd1' })).toEqual({ err: 'EBUSY' });
    ok(m, { op: 'domain_free', domain: 'dn' });
    ok(m, { op: 'domain_free', domain: 'd1' });
  });

  test('every op naming a freed domain fails ENOENT; detach may also be a no-op', () => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'd2');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    ok(m, { op: 'domain_free', domain: 'd1' });
    const ops: Op[] = [
      { op: 'map', domain: 'd1', iova: SZ_4K, paddr: 0x80001000n, size: SZ_4K, prot: RW },
      { op: 'unmap', domain: 'd1', iova: 0n, size: SZ_4K },
      { op: 'iova_to_phys', domain: 'd1', iova: 0n },
      { op: 'attach', dev: 'dev0', domain: 'd1' },
      { op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: 1 },
      { op: 'domain_free', domain: 'd1' },
    ];
    for (const op of ops) {
      expect(m.act(op)).toEqual({ err: 'ENOENT' });
      expect(judgeRule(m, op, { err: 'EINVAL' })).toBe('DOM-STALE');
    }
    const det: Op = { op: 'detach', dev: 'dev0', domain: 'd1' };
    for (const o of [{ ok: {} }, { err: 'ENOENT' }, { err: 'EINVAL' }] as Outcome[]) expect(m.judge(det, o).ok).toBe(true);
    // The device never reaches the freed domain's old mapping.
    expect(dma(m, 'dev0', 0n)).toBe('FAULT');
  });

  test('domain_lifetime=last-detach: the last detach ends the domain, later ops fail ENOENT', () => {
    const m = refModel({ domain_lifetime: 'last-detach' });
    alloc(m, 'd1');
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    ok(m, { op: 'attach', dev: 'dev1', domain: 'd1' });
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    ok(m, { op: 'detach', dev: 'dev0', domain: 'd1' });
    expect(phys(m, 'd1', 0n)).toBe(0x80000000n); // dev1 still holds it
    ok(m, { op: 'detach', dev: 'dev1', domain: 'd1' });
    expect(map(m, 'd1', SZ_4K, 0x80001000n, SZ_4K)).toEqual({ err: 'ENOENT' });
    expect(m.act({ op: 'iova_to_phys', domain: 'd1', iova: 0n })).toEqual({ err: 'ENOENT' });
    // Under persist the domain and its mapping outlive the detach.
    const p = refModel();
    alloc(p, 'd1');
    ok(p, { op: 'attach', dev: 'dev0', domain: 'd1' });
    map(p, 'd1', 0n, 0x80000000n, SZ_4K);
    ok(p, { op: 'detach', dev: 'dev0', domain: 'd1' });
    expect(phys(p, 'd1', 0n)).toBe(0x80000000n);
    expect(map(p, 'd1', SZ_4K, 0x80001000n, SZ_4K)).toEqual({ ok: {} });
  });

  test('domain_lifetime=last-detach counts PASID attachments as users', () => {
    const m = refModel({ domain_lifetime: 'last-detach' });
    alloc(m, 'd1');
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    ok(m, { op: 'attach_pasid', dev: 'dev1', domain: 'd1', pasid: 3 });
    ok(m, { op: 'detach', dev: 'dev0', domain: 'd1' });
    expect(map(m, 'd1', 0n, 0x80000000n, SZ_4K)).toEqual({ ok: {} });
    ok(m, { op: 'detach_pasid', dev: 'dev1', pasid: 3 });
    expect(map(m, 'd1', SZ_4K, 0x80001000n, SZ_4K)).toEqual({ err: 'ENOENT' });
  });
});

// ---- attach ----------------------------------------------------------------------------------

describe('attach rules', () => {
  test('ATT-DEFAULT: a dma default faults, an identity default passes through', () => {
    const m = refModel();
    expect(dma(m, 'dev0', 0x1000n)).toBe('FAULT');
    expect(dma(m, 'dev1', 0x1000n)).toBe(0x1000n);
    expect(dma(m, 'dev1', 0x1000n, 'w')).toBe(0x1000n);
  });

  test('ATT-GROUP and XLATE-DMA: attaching through one device moves its whole group', () => {
    const m = refModel();
    alloc(m, 'd1');
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M, PROT.READ);
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    expect(dma(m, 'dev0b', 0x200123n)).toBe(0x80000123n);
    expect(dma(m, 'dev0b', 0x200123n, 'w')).toBe('FAULT'); // XLATE-PERM: read-only
    expect(dma(m, 'dev1', 0x200123n)).toBe(0x200123n); // g1 stays in its identity default
  });

  test('ATT-ONE: attach while attached is EBUSY, the same domain included, and changes nothing', () => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'd2');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'd2' })).toEqual({ err: 'EBUSY' });
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'd1' })).toEqual({ err: 'EBUSY' });
    expect(m.act({ op: 'attach', dev: 'dev0b', domain: 'd1' })).toEqual({ err: 'EBUSY' });
    expect(judgeRule(m, { op: 'attach', dev: 'dev0', domain: 'd2' }, { ok: {} })).toBe('ATT-ONE');
    expect(dma(m, 'dev0', 0n)).toBe(0x80000000n);
  });

  test('ATT-COMPAT: another format, or a bitmap not a subset of the target IOMMU\'s, is EINVAL (seed 000)', () => {
    const m = refModel();
    alloc(m, 'damd', 'dev4'); // amdv1
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'damd' })).toEqual({ err: 'EINVAL' });
    expect(judgeRule(m, { op: 'attach', dev: 'dev0', domain: 'damd' }, { ok: {} })).toBe('ATT-COMPAT');
    // Same format (lpae), but m1 has no 1G pages.
    alloc(m, 'dbig', 'dev0');
    expect(m.act({ op: 'attach', dev: 'dev3', domain: 'dbig' })).toEqual({ err: 'EINVAL' });
    expect(dma(m, 'dev3', 0n)).toBe('FAULT'); // still in its default
    // The same IOMMU with a domain restricted to 4K|2M fits m1; m1's narrower widths narrow it.
    alloc(m, 'dsmall', 'dev0', 'paging', { pgsizes: SZ_4K | SZ_2M });
    const att: Op = { op: 'attach', dev: 'dev3', domain: 'dsmall' };
    expect(m.judge(att, { err: 'EINVAL' }).ok).toBe(true); // refusing a narrower IOMMU is legal too
    expect(m.act(att)).toEqual({ ok: {} });
    expect(map(m, 'dsmall', (1n << 39n) - SZ_4K, 0x80000000n, SZ_4K)).toEqual({ ok: {} });
    expect(map(m, 'dsmall', 1n << 39n, 0x80000000n, SZ_4K)).toEqual({ err: 'ERANGE' });
    expect(map(m, 'dsmall', 0n, 1n << 40n, SZ_4K)).toEqual({ err: 'ERANGE' });
  });

  test('ATT-COMPAT: a domain holding a mapping above the target\'s IAS cannot be attached there', () => {
    const m = refModel();
    alloc(m, 'd1', 'dev0', 'paging', { pgsizes: SZ_4K | SZ_2M });
    map(m, 'd1', 1n << 39n, 0x80000000n, SZ_4K);
    expect(m.act({ op: 'attach', dev: 'dev3', domain: 'd1' })).toEqual({ err: 'EINVAL' });
  });

  test('ATT-SPACE: the fourth address space on a 3-context IOMMU is ENOSPC (seed 001)', () => {
    const m = refModel();
    for (const d of ['d1', 'd2', 'd3']) alloc(m, d);
    // g0's dma default holds one context; d1 and d2 take the other two.
    ok(m, { op: 'attach', dev: 'dev1', domain: 'd1' });
    ok(m, { op: 'attach', dev: 'dev2', domain: 'd2' });
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'd3' })).toEqual({ err: 'ENOSPC' });
    expect(judgeRule(m, { op: 'attach', dev: 'dev0', domain: 'd3' }, { ok: {} })).toBe('ATT-SPACE');
    expect(dma(m, 'dev0', 0n)).toBe('FAULT');
    // A domain that already holds a context needs none more.
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'd1' })).toEqual({ ok: {} });
    // Identity and blocked domains need no context; PASID attachments do not count.
    alloc(m, 'did', 'dev0', 'identity');
    ok(m, { op: 'attach_pasid', dev: 'dev1', domain: 'd3', pasid: 9 });
    ok(m, { op: 'detach', dev: 'dev2', domain: 'd2' });
    expect(m.act({ op: 'attach', dev: 'dev2', domain: 'did' })).toEqual({ ok: {} });
    // Freeing the context (d2 detached) lets d3 in.
    ok(m, { op: 'detach', dev: 'dev0', domain: 'd1' });
    expect(m.act({ op: 'attach', dev: 'dev0', domain: 'd3' })).toEqual({ ok: {} });
  });

  test('ATT-DETACH: detach returns a dma-default group to FAULT and an identity-default group to passthrough', () => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'd2');
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
    map(m, 'd2', 0x200000n, 0x90000000n, SZ_2M);
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    ok(m, { op: 'attach', dev: 'dev1', domain: 'd2' });
    expect(dma(m, 'dev0', 0x200000n)).toBe(0x80000000n);
    expect(dma(m, 'dev1', 0x200000n)).toBe(0x90000000n);
    ok(m, { op: 'detach', dev: 'dev0b', domain: 'd1' }); // through the other device of g0
    ok(m, { op: 'detach', dev: 'dev1', domain: 'd2' });
    expect(dma(m, 'dev0', 0x200000n)).toBe('FAULT');
    expect(dma(m, 'dev1', 0x200000n)).toBe(0x200000n);
    // The detached domains keep their mappings.
    expect(phys(m, 'd1', 0x200000n)).toBe(0x80000000n);
    // A detach of a domain that is not current changes nothing and may fail.
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    const det: Op = { op: 'detach', dev: 'dev0', domain: 'd2' };
    for (const o of [{ ok: {} }, { err: 'EINVAL' }, { err: 'ENOENT' }] as Outcome[]) expect(m.judge(det, o).ok).toBe(true);
    expect(dma(m, 'dev0', 0x200000n)).toBe(0x80000000n);
  });

  test('ATT-PASID: 0 and >= maxPasids are EINVAL, an occupied PASID is EBUSY group-wide', () => {
    const m = refModel();
    alloc(m, 'd1');
    alloc(m, 'd2');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    const at = (dev: string, domain: string, pasid: number): Outcome => m.act({ op: 'attach_pasid', dev, domain, pasid });
    expect(at('dev0', 'd1', 0)).toEqual({ err: 'EINVAL' });
    expect(at('dev0', 'd1', 16)).toEqual({ err: 'EINVAL' }); // dev0 has 16 PASIDs: 1..15
    expect(at('dev0', 'd1', 1 << 20)).toEqual({ err: 'EINVAL' });
    expect(judgeRule(m, { op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: 0 }, { ok: {} })).toBe('ATT-PASID');
    expect(at('dev0', 'd1', 15)).toEqual({ ok: {} });
    expect(at('dev0', 'd2', 15)).toEqual({ err: 'EBUSY' });
    expect(at('dev0b', 'd2', 15)).toEqual({ err: 'EBUSY' }); // same group
    expect(at('dev1', 'd2', 15)).toEqual({ ok: {} }); // another group
    // A device without PASIDs: EINVAL (or EOPNOTSUPP).
    alloc(m, 'd3', 'dev3');
    const op: Op = { op: 'attach_pasid', dev: 'dev3', domain: 'd3', pasid: 1 };
    expect(m.judge(op, { err: 'EOPNOTSUPP' }).ok).toBe(true);
    expect(m.act(op)).toEqual({ err: 'EINVAL' });
    // Accesses with the PASID reach its domain; without it, the group's current domain.
    expect(dma(m, 'dev0', 0n, 'r', 15)).toBe(0x80000000n);
    expect(dma(m, 'dev0', 0n)).toBe('FAULT');
    ok(m, { op: 'detach_pasid', dev: 'dev0', pasid: 15 });
    expect(dma(m, 'dev0', 0n, 'r', 15)).toBe('FAULT');
    // Detaching an empty PASID changes nothing: ok, EINVAL or ENOENT.
    for (const o of [{ ok: {} }, { err: 'EINVAL' }, { err: 'ENOENT' }] as Outcome[]) {
      expect(m.judge({ op: 'detach_pasid', dev: 'dev0', pasid: 15 }, o).ok).toBe(true);
    }
  });
});

// ---- translation and permissions -------------------------------------------------------------

describe('XLATE-PERM and write_only_read', () => {
  test.each([
    ['fault', 'FAULT'],
    ['allow', 0x80000000n],
  ] as const)('a read through a write-only mapping under write_only_read=%s', (policy, read) => {
    const m = refModel({ write_only_read: policy });
    alloc(m, 'd1');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K, PROT.WRITE);
    map(m, 'd1', SZ_4K, 0x80001000n, SZ_4K, PROT.READ);
    ok(m, { op: 'attach', dev: 'dev0', domain: 'd1' });
    expect(dma(m, 'dev0', 0n, 'w')).toBe(0x80000000n);
    expect(dma(m, 'dev0', 0n, 'r')).toBe(read);
    expect(dma(m, 'dev0', SZ_4K, 'w')).toBe('FAULT');
    expect(judgeRule(m, { op: 'dma', dev: 'dev0', iova: SZ_4K, access: 'w' }, { ok: { phys: 0x80001000n } })).toBe('XLATE-PERM');
  });
});

// ---- judge() names the right rule -----------------------------------------------------------

describe('judge() names the rule an implementation broke', () => {
  test('unmap returning the requested 4K of a 2M block under refuse: accepted while the layout is only predicted', () => {
    const m = withDomain({ partial_unmap: 'refuse' });
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
    const op: Op = { op: 'unmap', domain: 'd1', iova: 0x200000n, size: SZ_4K };
    // Until the layout is observed, 4K leaves are legal and the request cuts no leaf: accepted,
    // with a quality warning that the leaves are not iommu_pgsize()'s.
    const before = m.judge(op, unmapped(SZ_4K));
    expect(before.ok).toBe(true);
    if (before.ok) expect(before.quality?.rule).toBe('MAP-PGSIZE-GREEDY');
  });

  test('once `leaves` has shown one 2M leaf, the same reply breaks UNMAP-PARTIAL', () => {
    const m = withDomain({ partial_unmap: 'refuse' });
    map(m, 'd1', 0x200000n, 0x80000000n, SZ_2M);
    expect(ok(m, { op: 'leaves', domain: 'd1', iova: 0x200000n, size: SZ_2M })).toEqual({ leaves: [{ iova: 0x200000n, pgsize: SZ_2M, count: 1n }] });
    const op: Op = { op: 'unmap', domain: 'd1', iova: 0x200000n, size: SZ_4K };
    const j = m.judge(op, unmapped(SZ_4K));
    expect(j).toMatchObject({ ok: false, rule: 'UNMAP-PARTIAL', expected: ['ok unmapped=0x0'], observed: 'ok unmapped=0x1000' });
    expect(judgeRule(m, op, unmapped(SZ_2M))).toBe('UNMAP-PARTIAL');
    expect(judgeRule(m, op, { err: 'ERANGE' })).toBe('UNMAP-RET');
  });

  test('EEXIST where EADDRINUSE is declared: MAP-OVERLAP', () => {
    const m = withDomain({ overmap_errno: 'EADDRINUSE' });
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    const op: Op = { op: 'map', domain: 'd1', iova: 0n, paddr: 0x80000000n, size: SZ_4K, prot: RW };
    const j = m.judge(op, { err: 'EEXIST' });
    expect(j).toMatchObject({ ok: false, rule: 'MAP-OVERLAP', expected: ['EADDRINUSE'], observed: 'EEXIST' });
    // Several broken preconditions: any of their errnos is legal, the first check is named.
    const both: Op = { ...op, prot: 0 };
    expect(m.judge(both, { err: 'EINVAL' }).ok).toBe(true);
    expect(m.judge(both, { err: 'EADDRINUSE' }).ok).toBe(true);
    expect(judgeRule(m, both, { err: 'EEXIST' })).toBe('MAP-PROT');
  });

  test('a device reaching a domain it is not attached to: ISOLATION', () => {
    const m = refModel();
    alloc(m, 'd1');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K);
    expect(judgeRule(m, { op: 'dma', dev: 'dev0', iova: 0n, access: 'r' }, { ok: { phys: 0x80000000n } })).toBe('ISOLATION');
    // dev1's identity default should pass 0 through; reaching d1's page instead is a leak too.
    expect(judgeRule(m, { op: 'dma', dev: 'dev1', iova: 0n, access: 'r' }, { ok: { phys: 0x80000000n } })).toBe('ISOLATION');
    // A wrong address that is no other domain's: the rule of the path taken.
    expect(judgeRule(m, { op: 'dma', dev: 'dev1', iova: 0n, access: 'r' }, { ok: { phys: 0x1000n } })).toBe('ATT-DEFAULT');
  });

  test('a write through a read-only mapping at a PASID: XLATE-PERM, not ISOLATION', () => {
    const m = refModel();
    alloc(m, 'd1');
    map(m, 'd1', 0n, 0x80000000n, SZ_4K, PROT.READ);
    ok(m, { op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: 1 });
    expect(judgeRule(m, { op: 'dma', dev: 'dev0', iova: 0n, access: 'w', pasid: 1 }, { ok: { phys: 0x80000000n } })).toBe('XLATE-PERM');
  });
});

// ---- scale ----------------------------------------------------------------------------------

test('scale: 100k 4K mappings are 100k records and every lookup is right', () => {
  const m = withDomain();
  const N = 100_000;
  // Every other page, so each lookup between two mappings must find nothing.
  for (let i = 0; i < N; i++) {
    const iova = BigInt(i) * 2n * SZ_4K;
    const o = map(m, 'd1', iova, 0x100000000n + iova, SZ_4K);
    if ('err' in o) expect.fail(`map ${i} failed: ${o.err}`);
  }
  const store = m.mappingsOf('d1')!;
  expect(store.size).toBe(N);
  let wrong = 0;
  for (let i = 0; i < N; i++) {
    const iova = BigInt(i) * 2n * SZ_4K;
    if (phys(m, 'd1', iova + 0x123n) !== 0x100000000n + iova + 0x123n) wrong++;
    if (phys(m, 'd1', iova + SZ_4K) !== 0n) wrong++;
  }
  expect(wrong).toBe(0);
  // An overmap in the middle still finds its neighbour; an unmap over a stretch counts only pages.
  expect(map(m, 'd1', 1000n * 2n * SZ_4K, 0n, SZ_4K)).toEqual({ err: 'EADDRINUSE' });
  const m2 = withDomain({ unmap_hole: 'skip' });
  for (let i = 0; i < 1000; i++) map(m2, 'd1', BigInt(i) * 2n * SZ_4K, 0x100000000n, SZ_4K);
  expect(unmap(m2, 'd1', 0n, 2000n * SZ_4K)).toEqual(unmapped(1000n * SZ_4K));
  expect(m2.mappingsOf('d1')!.size).toBe(0);
});

test('scale: one 1 GiB mapping is one record; 57- and 64-bit address spaces work', () => {
  for (const ias of [57, 64]) {
    const m = withDomain({}, { ias, oas: 52 });
    const top = 1n << BigInt(ias);
    expect(map(m, 'd1', top - SZ_1G, 0x40000000n, SZ_1G)).toEqual({ ok: {} });
    expect(m.mappingsOf('d1')!.size).toBe(1);
    expect(phys(m, 'd1', top - 1n)).toBe(0x7fffffffn);
    expect(unmap(m, 'd1', top - SZ_1G, SZ_1G)).toEqual(unmapped(SZ_1G));
    expect(m.mappingsOf('d1')!.size).toBe(0);
  }
});
