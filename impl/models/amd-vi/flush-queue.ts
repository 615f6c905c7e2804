// A dma_fq domain's flush queue: what unmap removed waits here, still reachable through the
// IOTLB, until `flush` (iommu_flush_iotlb_all) or until the ring is full, when dma-iommu
// flushes at once (linux:drivers/iommu/dma-iommu.c queue_iova(): fq_full → fq_flush_iotlb).
// The ring is 8 deep rather than IOVA_DEFAULT_FQ_SIZE's 256 so that short sequences reach the
// full-ring path too.

export interface Range {
  lo: bigint;
  hi: bigint;
}

export class FlushQueue {
  private ring: Range[] = [];

  constructor(
    private readonly depth = 8,
    /** The mutant whose ring walk starts one past the head. */
    private readonly skipsOldest = false,
  ) {}

  /** Queues a removed range; returns what must be invalidated now (all of it when the ring was full). */
  push(r: Range): Range[] {
    const now = this.ring.length >= this.depth ? this.drain() : [];
    this.ring.push(r);
    return now;
  }

  /** Empties the ring, returning the ranges to invalidate. */
  drain(): Range[] {
    const out = this.skipsOldest ? this.ring.slice(1) : this.ring;
    this.ring = [];
    return out;
  }
}
