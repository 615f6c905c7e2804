// The IOMMU's own table walk: what the hardware does on an IOTLB miss, given only a root pointer
// and the number of levels from the device table entry (its Mode field). The driver's
// iova_to_phys walks the same way, so the two can only disagree through the root or the mode.

import type { TableMemory } from '../arm-smmu/memory.ts';
import { PTE_IR, PTE_IW, isLeaf, isPresent, levelIndex, levelShift, nextLevel, outputAddress } from './pte.ts';

export interface Walk {
  /** The leaf: its first IOVA and size, where `iova` lands, and the permissions along the way. */
  leafIova: bigint;
  size: bigint;
  phys: bigint;
  read: boolean;
  write: boolean;
}

export function walkTables(mem: TableMemory, root: bigint, levels: number, iova: bigint): Walk | null {
  // Address bits above the top level must be zero: beyond the mode's reach an access faults.
  if (iova >> levelShift(levels) !== 0n) return null;
  let table = root;
  let read = true;
  let write = true;
  for (let level = levels - 1; level >= 0; level--) {
    const pte = mem.table(table)[levelIndex(iova, level)]!;
    if (!isPresent(pte)) return null;
    // IR and IW are ANDed from every level, as the AMD spec walks them.
    read &&= (pte & PTE_IR) !== 0n;
    write &&= (pte & PTE_IW) !== 0n;
    if (isLeaf(pte, level)) {
      const size = 1n << levelShift(level);
      const offset = iova & (size - 1n);
      return { leafIova: iova - offset, size, phys: outputAddress(pte) + offset, read, write };
    }
    // No level skipping: a PDE names the level right below it.
    if (nextLevel(pte) !== level) return null;
    table = outputAddress(pte);
  }
  return null;
}
