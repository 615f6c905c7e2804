// A TLB that really caches walks: entries tagged by domain (the ASID), one per leaf, filled on a
// miss and kept until invalidated. Strict domains invalidate what an unmap removed before it
// returns; dma_fq domains queue it and invalidate the whole domain at flush.

export interface TlbEntry {
  /** The leaf: its first IOVA, size, and output address. */
  iova: bigint;
  size: bigint;
  phys: bigint;
  writable: boolean;
}

export class Iotlb {
  private readonly entries = new Map<number, TlbEntry[]>();

  lookup(asid: number, iova: bigint): TlbEntry | undefined {
    return this.entries.get(asid)?.find((e) => iova >= e.iova && iova < e.iova + e.size);
  }

  fill(asid: number, e: TlbEntry): void {
    const list = this.entries.get(asid) ?? [];
    list.push(e);
    // A small, fully associative TLB: the oldest entry makes room.
    if (list.length > 64) list.shift();
    this.entries.set(asid, list);
  }

  /**
   * Invalidates every entry overlapping [lo, hi) (TLBI by VA over the range). With a level
   * hint, only entries of that leaf size go, as the TTL field of a range TLBI allows.
   */
  invalidateRange(asid: number, lo: bigint, hi: bigint, leafSize?: bigint): void {
    const list = this.entries.get(asid);
    if (list) this.entries.set(asid, list.filter((e) => e.iova + e.size <= lo || e.iova >= hi || (leafSize !== undefined && e.size !== leafSize)));
  }

  /** TLBI by ASID. */
  invalidateAll(asid: number): void {
    this.entries.delete(asid);
  }
}
