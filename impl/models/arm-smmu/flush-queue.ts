// The flush queue of a dma_fq domain: unmap clears the PTEs and queues the range instead of
// invalidating it; flush (or a full queue) drains it with one range TLBI per entry. Linux's
// dma-iommu queue holds 256 entries per CPU and, when full, flushes before it queues the next;
// this one holds two, so that the few unmaps of a generated sequence fill it.

export interface QueuedRange {
  lo: bigint;
  hi: bigint;
}

export const FQ_SIZE = 2;

export class FlushQueue {
  private ring: QueuedRange[] = [];

  /** `skipsNewest` is the mutant: the walk over the ring stops one entry short of the tail. */
  constructor(private readonly skipsNewest = false) {}

  /** Queues a range; returns what must be invalidated now to make room (nothing, or everything queued). */
  push(r: QueuedRange): QueuedRange[] {
    const drained = this.ring.length === FQ_SIZE ? this.drain() : [];
    this.ring.push(r);
    return drained;
  }

  /** Empties the ring; returns the ranges to invalidate, oldest first. */
  drain(): QueuedRange[] {
    const all = this.ring;
    this.ring = [];
    return this.skipsNewest ? all.slice(0, -1) : all;
  }
}
