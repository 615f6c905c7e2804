// Simulated physical memory for page tables: pages of 64-bit descriptors handed out by a page
// allocator that counts what it holds (pt_pages) and can be told to fail (fail_nth), as the
// kernel's page allocator does under fault injection.

/** fail_nth: one countdown shared by every allocator of the model, as the kernel's is. */
export class FaultInjector {
  private failIn = 0;

  arm(n: number): void {
    this.failIn = n;
  }

  /** Does this allocation fail? */
  fails(): boolean {
    return this.failIn > 0 && --this.failIn === 0;
  }
}

export class TableMemory {
  private readonly pages = new Map<bigint, BigUint64Array>();
  /** Table pages live at physical addresses far above anything the suite maps. */
  private next = 0x7f00_0000_0000n;

  constructor(readonly granule: bigint, private readonly faults: FaultInjector) {}

  get pageCount(): number {
    return this.pages.size;
  }

  /** A zeroed table of `entries` descriptors (a root may be larger than a granule), or null. */
  alloc(entries: number): bigint | null {
    if (this.faults.fails()) return null;
    const addr = this.next;
    const bytes = BigInt(entries * 8);
    this.next += bytes > this.granule ? bytes : this.granule;
    this.pages.set(addr, new BigUint64Array(entries));
    return addr;
  }

  free(addr: bigint): void {
    if (!this.pages.delete(addr)) throw new Error(`double free of table page ${addr.toString(16)}`);
  }

  table(addr: bigint): BigUint64Array {
    const t = this.pages.get(addr);
    if (!t) throw new Error(`walk into unallocated table page ${addr.toString(16)}`);
    return t;
  }
}
