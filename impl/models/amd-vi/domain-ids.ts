// The domain IDs of one IOMMU: the tags its device table entries and IOTLB use. The topology's
// `contexts` is how many address spaces an IOMMU holds at once (seed 001): a group whose
// default domain is dma holds one for good, and a paging domain takes one at its first attach
// behind this IOMMU and gives it back at its last detach. Linux's AMD driver draws IDs from one
// 16-bit IDA when a domain is allocated (pdom_id_alloc() in linux:drivers/iommu/amd/iommu.c);
// a small per-IOMMU space taken at attach is what makes the limit the ATT-SPACE rule counts.

import type { FaultInjector } from '../arm-smmu/memory.ts';

export class DomainIds {
  private readonly used = new Set<number>();

  constructor(
    readonly capacity: number,
    private readonly faults: FaultInjector,
    /** The mutant that never counts them. */
    private readonly unlimited = false,
  ) {}

  get full(): boolean {
    return !this.unlimited && this.used.size >= this.capacity;
  }

  /** The lowest free ID (0 is never handed out), ENOSPC when all are taken, ENOMEM when the allocation fails. */
  alloc(): number | 'ENOSPC' | 'ENOMEM' {
    if (this.full) return 'ENOSPC';
    if (this.faults.fails()) return 'ENOMEM';
    let id = 1;
    while (this.used.has(id)) id++;
    this.used.add(id);
    return id;
  }

  free(id: number): void {
    this.used.delete(id);
  }
}
