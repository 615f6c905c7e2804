// The IOMMU core layer over one page table, written from the rules: iommu_map() checks the
// alignment, cuts the range into the largest page sizes iova and paddr allow, and unrolls
// what it mapped if a later piece fails; iommu_unmap() walks leaf by leaf and stops at the
// first piece that removes nothing.

import type { LpaeTable } from './pgtable.ts';

/** The largest size in `bitmap` that fits `size` and the alignment of `addr`, and how many in a row. */
export function chunk(bitmap: bigint, addr: bigint, size: bigint): { pgsize: bigint; count: bigint } {
  let best = 0n;
  for (let s = 1n; s <= size && s !== 0n; s <<= 1n) if ((bitmap & s) !== 0n && addr % s === 0n) best = s;
  if (best === 0n) throw new RangeError('no page size fits: the caller checked alignment first');
  // As many of this size as fit before the next larger size's boundary (iommu_pgsize's count).
  let count = size / best;
  for (let s = best << 1n; s !== 0n && s <= 1n << 63n; s <<= 1n) {
    if ((bitmap & s) === 0n) continue;
    const toBoundary = (s - (addr % s)) / best;
    if (toBoundary < count) count = toBoundary;
    break;
  }
  return { pgsize: best, count };
}

export type CoreMapError = 'EEXIST' | 'ENOMEM' | 'ERANGE' | 'EINVAL';

/** Maps [iova, iova+size) → paddr, all or nothing. */
export function coreMap(table: LpaeTable, iova: bigint, paddr: bigint, size: bigint, prot: number): CoreMapError | null {
  const bugs = table.cfg.bugs;
  let done = 0n;
  while (done < size) {
    const merged = bugs?.has('pgsize-ignores-paddr') ? iova + done : (iova + done) | (paddr + done);
    const { pgsize, count } = chunk(table.cfg.pgsizes, merged, size - done);
    const r = table.map(iova + done, paddr + done, pgsize, count, prot);
    done += r.mapped;
    if ('err' in r) {
      // "unroll mapping in case something went wrong"
      if (done > 0n && !bugs?.has('map-no-unroll')) coreUnmap(table, iova, done);
      return r.err;
    }
  }
  return null;
}

/** Unmaps up to `size` bytes from `iova`; returns how many went (possibly more, whole leaves). */
export function coreUnmap(table: LpaeTable, iova: bigint, size: bigint): bigint {
  let unmapped = 0n;
  while (unmapped < size) {
    const { pgsize, count } = chunk(table.cfg.pgsizes, iova + unmapped, size - unmapped);
    const got = table.unmap(iova + unmapped, pgsize, count);
    if (got === 0n) break;
    unmapped += got;
  }
  return unmapped;
}
