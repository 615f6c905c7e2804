// iommu_pgsize() as the reference reproduces it: the Linux KUnit cases, the 2M+4K shape,
// co-alignment, and ranges that end exactly at 2^64.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type LeafRun, U64_LIMIT, pageSizes } from '../spec/index.ts';
import { greedyRuns, iommuPgsize, leafCount, normalizeRuns, runsEqual } from '../impl/reference/pgsize.ts';
import { PGSIZE_SETS } from '../properties/topologies.ts';
import { PG_4K_2M_1G, SZ_1G, SZ_2M, SZ_4K } from './helpers.ts';

const run = (iova: bigint, pgsize: bigint, count: bigint): LeafRun => ({ iova, pgsize, count });

/** The leaves must tile [iova, iova + size): contiguous, aligned in both spaces, sizes from the bitmap. */
function expectTiling(runs: LeafRun[], bitmap: bigint, iova: bigint, paddr: bigint, size: bigint): void {
  let cursor = iova;
  for (const r of runs) {
    expect(r.iova).toBe(cursor);
    expect(r.pgsize & bitmap).toBe(r.pgsize);
    expect(r.count > 0n).toBe(true);
    expect(r.iova % r.pgsize).toBe(0n);
    expect((paddr + (r.iova - iova)) % r.pgsize).toBe(0n);
    cursor += r.pgsize * r.count;
  }
  expect(cursor).toBe(iova + size);
}

test('test_mixed: [0x3fe400<<12, 0x4c0600<<12) with iova == paddr is 20 leaves, 14 2M, 3 1G, 3 2M', () => {
  const start = 0x3fe400n << 12n;
  const end = 0x4c0600n << 12n;
  const runs = greedyRuns(PG_4K_2M_1G, start, start, end - start);
  expect(leafCount(runs)).toBe(20n);
  expect(runs).toEqual([
    run(start, SZ_2M, 14n), // up to the 1G boundary at 0x400000000
    run(0x400000000n, SZ_1G, 3n), // 0x400000000 .. 0x4c0000000
    run(0x4c0000000n, SZ_2M, 3n), // the 6M tail
  ]);
  expectTiling(runs, PG_4K_2M_1G, start, start, end - start);
});

test('test_mixed: the first chunk is cut at the 1G boundary, exactly as iommu_pgsize() counts', () => {
  const start = 0x3fe400n << 12n;
  const size = (0x4c0600n << 12n) - start;
  // Largest fitting size is 2M (start is only 2M-aligned); a whole 1G page fits after the next
  // 1G boundary, so the run stops there: 14 pages, not size >> 21.
  expect(iommuPgsize(PG_4K_2M_1G, start, start, size)).toEqual({ pgsize: SZ_2M, count: 14n });
  // From the boundary on, 1G pages; the run is not cut because there is no larger size.
  expect(iommuPgsize(PG_4K_2M_1G, 0x400000000n, 0x400000000n, size - 14n * SZ_2M)).toEqual({ pgsize: SZ_1G, count: 3n });
});

test('test_pgsize_boundary: map 0xfef80000 len 0x20000 -> PA 0x208b95d000 is 32 4K leaves', () => {
  const iova = 0xfef80000n;
  const paddr = 0x208b95d000n;
  const size = 0x20000n;
  // iommu_pgsize(): GENMASK(__fls(0x20000) = 17, 0) keeps only 4K of the bitmap, so the length
  // alone rules out 2M and 1G; __ffs(iova | paddr) = 12 (the PA is 4K-aligned only) agrees.
  // The next size up, 2M, is not co-aligned ((iova ^ paddr) & (2M - 1) = 0x1d000 != 0), so the
  // run is not cut at a boundary: the whole range is one chunk of 32 4K pages.
  expect(((iova ^ paddr) & (SZ_2M - 1n)) !== 0n).toBe(true);
  expect(iommuPgsize(PG_4K_2M_1G, iova, paddr, size)).toEqual({ pgsize: SZ_4K, count: 32n });
  const runs = greedyRuns(PG_4K_2M_1G, iova, paddr, size);
  expect(runs).toEqual([run(iova, SZ_4K, 32n)]);
  expectTiling(runs, PG_4K_2M_1G, iova, paddr, size);
});

test('2M + 4K at a 2M-aligned iova and paddr is one 2M leaf and one 4K leaf', () => {
  const runs = greedyRuns(PG_4K_2M_1G, 0x200000n, 0x80000000n, SZ_2M + SZ_4K);
  expect(runs).toEqual([run(0x200000n, SZ_2M, 1n), run(0x400000n, SZ_4K, 1n)]);
  // The same length 4K before a 2M boundary: one 4K leaf, then the 2M one.
  expect(greedyRuns(PG_4K_2M_1G, 0x1ff000n, 0x801ff000n, SZ_2M + SZ_4K)).toEqual([run(0x1ff000n, SZ_4K, 1n), run(0x200000n, SZ_2M, 1n)]);
});

test('iova and paddr not co-aligned: no large pages, however long the range', () => {
  // paddr only 4K-aligned.
  expect(greedyRuns(PG_4K_2M_1G, 0x200000n, 0x80001000n, 2n * SZ_2M)).toEqual([run(0x200000n, SZ_4K, 1024n)]);
  // paddr 1M-aligned: still not a 2M multiple apart.
  expect(greedyRuns(PG_4K_2M_1G, 0x200000n, 0x80100000n, 2n * SZ_2M)).toEqual([run(0x200000n, SZ_4K, 1024n)]);
  // Co-aligned at 2M but not at 1G: 2M leaves only, even across a 1G-aligned iova range.
  expect(greedyRuns(PG_4K_2M_1G, SZ_1G, 0x80200000n, 2n * SZ_1G)).toEqual([run(SZ_1G, SZ_2M, 1024n)]);
  // Different addresses, same offset modulo 2M: 2M leaves are fine.
  expect(greedyRuns(PG_4K_2M_1G, 0x200000n, 0x40400000n, 2n * SZ_2M)).toEqual([run(0x200000n, SZ_2M, 2n)]);
});

test('a map ending exactly at 2^64 (IAS 64) decomposes without overflow', () => {
  const size = SZ_1G + SZ_2M + SZ_4K;
  const iova = U64_LIMIT - size;
  const runs = greedyRuns(PG_4K_2M_1G, iova, iova, size);
  expect(runs).toEqual([run(iova, SZ_4K, 1n), run(iova + SZ_4K, SZ_2M, 1n), run(U64_LIMIT - SZ_1G, SZ_1G, 1n)]);
  expectTiling(runs, PG_4K_2M_1G, iova, iova, size);
  // The last 2G of the space in 1G pages.
  expect(greedyRuns(PG_4K_2M_1G, U64_LIMIT - 2n * SZ_1G, SZ_1G, 2n * SZ_1G)).toEqual([run(U64_LIMIT - 2n * SZ_1G, SZ_1G, 2n)]);
});

test('the check_add_overflow guard: offset + next page reaching 2^64 does not cut the run', () => {
  // With a 2^63 page size, the distance to the next boundary from 0 is 2^63 and offset + next is
  // 2^64: a wrapping size_t would give 0 <= size and cut the run to 2^63 bytes (count 2^51).
  const bitmap = SZ_4K | (1n << 63n);
  expect(iommuPgsize(bitmap, 0n, 0n, 3n * SZ_4K)).toEqual({ pgsize: SZ_4K, count: 3n });
  expect(greedyRuns(bitmap, 0n, 0n, 3n * SZ_4K)).toEqual([run(0n, SZ_4K, 3n)]);
});

test('iommuPgsize refuses a chunk no page size fits', () => {
  expect(() => iommuPgsize(SZ_2M | SZ_1G, 0x1000n, 0x1000n, SZ_2M)).toThrow(RangeError);
});

test('normalizeRuns merges adjacent runs of one size and drops empty ones; runsEqual compares them', () => {
  const merged = normalizeRuns([run(0n, SZ_4K, 2n), run(2n * SZ_4K, SZ_4K, 0n), run(2n * SZ_4K, SZ_4K, 3n), run(5n * SZ_4K, SZ_2M, 1n)]);
  expect(merged).toEqual([run(0n, SZ_4K, 5n), run(5n * SZ_4K, SZ_2M, 1n)]);
  expect(runsEqual(merged, [run(0n, SZ_4K, 5n), run(5n * SZ_4K, SZ_2M, 1n)])).toBe(true);
  expect(runsEqual(merged, [run(0n, SZ_4K, 5n)])).toBe(false);
});

test('property: greedy leaves always tile the range, and the largest possible leaf is used', () => {
  const arb = fc
    .record({ set: fc.nat({ max: PGSIZE_SETS.length - 1 }), a: fc.nat({ max: 1 << 20 }), b: fc.nat({ max: 1 << 20 }), n: fc.integer({ min: 1, max: 1 << 19 }), top: fc.boolean() })
    .map(({ set, a, b, n, top }) => {
      const bitmap = PGSIZE_SETS[set]!;
      const min = pageSizes(bitmap)[0]!;
      const size = BigInt(n) * min;
      // Near the top of 64 bits as well as near 0.
      const iova = top ? U64_LIMIT - size - BigInt(a) * min : BigInt(a) * min;
      return { bitmap, iova, paddr: BigInt(b) * min, size };
    });
  fc.assert(
    fc.property(arb, ({ bitmap, iova, paddr, size }) => {
      const runs = greedyRuns(bitmap, iova, paddr, size);
      expectTiling(runs, bitmap, iova, paddr, size);
      // No leaf could have been one size larger at its own position (greedy, not merely valid)
      // unless the run was cut at a boundary: check the first leaf only, which is never cut.
      const first = runs[0]!;
      const bigger = pageSizes(bitmap).find((s) => s > first.pgsize);
      if (bigger !== undefined) {
        const fits = iova % bigger === 0n && paddr % bigger === 0n && size >= bigger;
        expect(fits).toBe(false);
      }
    }),
    { seed: 2024, numRuns: 300 },
  );
});
