// A device's GCR3 table: one 64-bit entry per PASID, the root of the address space that PASID
// reaches with a valid bit, in simulated memory. Each table has a domain ID of its own that
// tags the IOTLB entries of all its PASIDs (linux:drivers/iommu/amd/iommu.c setup_gcr3_table():
// "Allocate per device domain ID"; free_gcr3_table()). One level sized to the device's PASIDs
// (get_gcr3_levels() would use up to 512 entries a level; the suite's devices have at most 1024).

import type { TableMemory } from '../arm-smmu/memory.ts';

const GCR3_VALID = 1n;
const ROOT_MASK = ((1n << 52n) - 1n) & ~0xfffn;
/** PASIDs are at most 20 bits, so a GCR3 tag never collides with another table's. */
const PASID_SPACE = 1 << 20;

export class Gcr3Table {
  private used = 0;

  private constructor(private readonly mem: TableMemory, readonly addr: bigint, readonly entries: number, readonly domainId: number) {}

  /** A zeroed table for `entries` PASIDs, or null when the allocation fails. */
  static alloc(mem: TableMemory, entries: number, domainId: number): Gcr3Table | null {
    const addr = mem.alloc(entries);
    return addr === null ? null : new Gcr3Table(mem, addr, entries, domainId);
  }

  /** The root a PASID reaches, or null. */
  get(pasid: number): bigint | null {
    if (pasid < 0 || pasid >= this.entries) return null;
    const e = this.mem.table(this.addr)[pasid]!;
    return (e & GCR3_VALID) !== 0n ? e & ROOT_MASK : null;
  }

  set(pasid: number, root: bigint): void {
    const t = this.mem.table(this.addr);
    if ((t[pasid]! & GCR3_VALID) === 0n) this.used++;
    t[pasid] = (root & ROOT_MASK) | GCR3_VALID;
  }

  clear(pasid: number): void {
    const t = this.mem.table(this.addr);
    if ((t[pasid]! & GCR3_VALID) !== 0n) this.used--;
    t[pasid] = 0n;
  }

  get empty(): boolean {
    return this.used === 0;
  }

  free(): void {
    this.mem.free(this.addr);
  }

  /** The IOTLB tag of one PASID's translations. */
  tag(pasid: number): number {
    return this.domainId * PASID_SPACE + pasid;
  }
}
