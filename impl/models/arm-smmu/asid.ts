// ASIDs tag TLB entries with the address space they belong to. Like arm-smmu-v3's ASID xarray
// (XA_LIMIT(1, 2^asid_bits - 1)), the lowest free one is handed out and ASID 0 never is, so a
// freed ASID comes straight back: whoever frees one must first invalidate its TLB entries
// (TLBI ASID), or the next address space to get it hits the old one's translations.

export class AsidAllocator {
  private readonly used = new Set<number>();

  constructor(private readonly bits = 16) {}

  /** The lowest free ASID, or null when all 2^bits - 1 are in use. */
  alloc(): number | null {
    for (let a = 1; a < 1 << this.bits; a++) {
      if (!this.used.has(a)) {
        this.used.add(a);
        return a;
      }
    }
    return null;
  }

  free(asid: number): void {
    this.used.delete(asid);
  }
}
