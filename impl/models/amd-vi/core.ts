// The IOMMU core's page-size loop over an AMD v1 table: iommu_map() cuts the range into the
// largest sizes iova and paddr allow (iommu_pgsize(), shared with the Arm model as `chunk`)
// and unrolls what it mapped if a later piece fails; iommu_unmap() goes piece by piece and
// stops at the first that removes nothing.
//
// The Arm model's coreMap/coreUnmap cannot take this table: they are typed on LpaeTable (a
// class with private members, so no other table satisfies it) and on io-pgtable-arm's errno
// set (EEXIST), while iommupt's AMDv1 answers EADDRINUSE.

import { chunk } from '../arm-smmu/core.ts';
import type { AmdV1Table, TableMapError } from './pgtable.ts';

/** Maps [iova, iova+size) → paddr, all or nothing. */
export function coreMap(table: AmdV1Table, iova: bigint, paddr: bigint, size: bigint, prot: number): TableMapError | null {
  let done = 0n;
  while (done < size) {
    const { pgsize, count } = chunk(table.cfg.pgsizes, (iova + done) | (paddr + done), size - done);
    const r = table.map(iova + done, paddr + done, pgsize, count, prot);
    done += r.mapped;
    if (r.err) {
      // "unroll mapping in case something went wrong"
      if (done > 0n) coreUnmap(table, iova, done);
      return r.err;
    }
  }
  return null;
}

/** Unmaps up to `size` bytes from `iova`; returns how many went (possibly more: whole leaves). */
export function coreUnmap(table: AmdV1Table, iova: bigint, size: bigint): bigint {
  let unmapped = 0n;
  while (unmapped < size) {
    const { pgsize, count } = chunk(table.cfg.pgsizes, iova + unmapped, size - unmapped);
    const got = table.unmap(iova + unmapped, pgsize, count);
    if (got === 0n) break;
    unmapped += got;
  }
  return unmapped;
}
