// Linux's page-size choice, exactly as iommu_pgsize() in drivers/iommu/iommu.c makes it:
// the biggest supported size that fits the remaining length and the alignment of iova|paddr,
// issued `count` times, but cut at the next larger page boundary when a whole larger page
// would fit after it. A mapping's greedy layout is the run list this loop produces.

import { type LeafRun, U64_LIMIT, ffs, fls, genmask } from '../../spec/index.ts';

export interface Chunk {
  pgsize: bigint;
  count: bigint;
}

export function iommuPgsize(bitmap: bigint, iova: bigint, paddr: bigint, size: bigint): Chunk {
  const addrMerge = paddr | iova;
  let pgsizes = bitmap & genmask(fls(size), 0);
  if (addrMerge !== 0n) pgsizes &= genmask(ffs(addrMerge), 0);
  if (pgsizes === 0n) throw new RangeError(`iommu_pgsize: no page size fits iova ${iova} paddr ${paddr} size ${size}`);
  const idx = fls(pgsizes);
  const pgsize = 1n << BigInt(idx);
  const bigger = bitmap & ~genmask(idx, 0);
  if (bigger !== 0n) {
    const next = 1n << BigInt(ffs(bigger));
    if (((iova ^ paddr) & (next - 1n)) === 0n) {
      const offset = next - (addrMerge & (next - 1n));
      // check_add_overflow(offset, next) on a 64-bit size_t
      if (offset + next < U64_LIMIT && offset + next <= size) size = offset;
    }
  }
  return { pgsize, count: size >> BigInt(idx) };
}

/** The leaf runs the core's map loop produces for one mapping. */
export function greedyRuns(bitmap: bigint, iova: bigint, paddr: bigint, size: bigint): LeafRun[] {
  const runs: LeafRun[] = [];
  while (size > 0n) {
    const { pgsize, count } = iommuPgsize(bitmap, iova, paddr, size);
    const len = pgsize * count;
    runs.push({ iova, pgsize, count });
    iova += len;
    paddr += len;
    size -= len;
  }
  return normalizeRuns(runs);
}

/** Merges adjacent runs of the same page size, so equal layouts compare equal. */
export function normalizeRuns(runs: readonly LeafRun[]): LeafRun[] {
  const out: LeafRun[] = [];
  for (const r of runs) {
    if (r.count === 0n) continue;
    const last = out[out.length - 1];
    if (last && last.pgsize === r.pgsize && last.iova + last.pgsize * last.count === r.iova) {
      out[out.length - 1] = { ...last, count: last.count + r.count };
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

export function runsEqual(a: readonly LeafRun[], b: readonly LeafRun[]): boolean {
  return a.length === b.length && a.every((r, i) => r.iova === b[i]!.iova && r.pgsize === b[i]!.pgsize && r.count === b[i]!.count);
}

export function leafCount(runs: readonly LeafRun[]): bigint {
  return runs.reduce((n, r) => n + r.count, 0n);
}
