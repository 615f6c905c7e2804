// One IOMMU's IOTLB. Entries are tagged by domain ID (a device table entry's DomainID, or a
// device's GCR3 domain ID together with the PASID), filled on a miss and kept until
// invalidated. Like many IOTLBs it splinters large pages, caching the 4 KiB piece an access
// touched, so an invalidation has to cover everything an unmap removed, not just the leaf it
// asked about. Read and write permission are cached apart: AMD can express write-only.

export interface TlbEntry {
  iova: bigint;
  size: bigint;
  phys: bigint;
  read: boolean;
  write: boolean;
}

const PIECE = 0x1000n;
/** A small, fully associative TLB per tag: the oldest entry makes room. */
const WAYS = 64;

export class Iotlb {
  private readonly entries = new Map<number, TlbEntry[]>();

  lookup(tag: number, iova: bigint): TlbEntry | undefined {
    return this.entries.get(tag)?.find((e) => iova >= e.iova && iova < e.iova + e.size);
  }

  /** Caches the 4 KiB piece of a leaf that `iova` falls in. */
  fill(tag: number, iova: bigint, leaf: { phys: bigint; read: boolean; write: boolean }): TlbEntry {
    const at = iova - (iova % PIECE);
    const e = { iova: at, size: PIECE, phys: leaf.phys - (iova - at), read: leaf.read, write: leaf.write };
    const list = this.entries.get(tag) ?? [];
    list.push(e);
    if (list.length > WAYS) list.shift();
    this.entries.set(tag, list);
    return e;
  }

  /** INVALIDATE_IOMMU_PAGES over [lo, hi) for one tag. */
  invalidateRange(tag: number, lo: bigint, hi: bigint): void {
    const list = this.entries.get(tag);
    if (list) this.entries.set(tag, list.filter((e) => e.iova + e.size <= lo || e.iova >= hi));
  }

  /** Everything cached under a tag (a domain ID about to be reused, a PASID detached). */
  invalidateTag(tag: number): void {
    this.entries.delete(tag);
  }
}
