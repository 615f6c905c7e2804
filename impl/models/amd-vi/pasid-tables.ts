// PASID attachments of a group. The core programs every device of the group
// (linux:drivers/iommu/iommu.c __iommu_set_group_pasid() calls set_dev_pasid() per device),
// and AMD keeps the entries in each device's own GCR3 table, so a group's PASID is the same
// slot in several tables. Roots are resolved through a registry, as the hardware would
// follow the pointer into memory.

import type { TableMemory } from '../arm-smmu/memory.ts';
import { Gcr3Table } from './gcr3.ts';
import type { Device, Owner } from './types.ts';

export class PasidTables {
  readonly owners = new Map<bigint, Owner>();
  /** Roots for what has no table in TableMemory (mm page tables, sva domains): below it, page-aligned. */
  private nextToken = 0x7e00_0000_0000n;
  /** GCR3 domain IDs come from the global 16-bit space, which these sequences never exhaust. */
  private nextDomainId = 1;

  constructor(private readonly mem: TableMemory) {}

  token(): bigint {
    this.nextToken += 0x1000n;
    return this.nextToken;
  }

  /** What the group reaches at `pasid`, if anything. */
  occupant(devices: readonly Device[], pasid: number): Owner | null {
    for (const d of devices) {
      const root = d.gcr3?.get(pasid) ?? null;
      if (root !== null) return this.owners.get(root) ?? null;
    }
    return null;
  }

  isOccupied(devices: readonly Device[], pasid: number): boolean {
    return devices.some((d) => (d.gcr3?.get(pasid) ?? null) !== null);
  }

  /** Points every device's entry at `root`; all or nothing when a GCR3 table cannot be allocated. */
  install(devices: readonly Device[], pasid: number, root: bigint): 'ENOMEM' | null {
    const made: Device[] = [];
    for (const d of devices) {
      if (d.gcr3 || d.maxPasids === 0) continue;
      const t = Gcr3Table.alloc(this.mem, d.maxPasids, this.nextDomainId++);
      if (!t) {
        for (const m of made) {
          m.gcr3!.free();
          m.gcr3 = null;
        }
        return 'ENOMEM';
      }
      d.gcr3 = t;
      made.push(d);
    }
    for (const d of devices) if (d.gcr3 && pasid < d.gcr3.entries) d.gcr3.set(pasid, root);
    return null;
  }

  /** Clears the slot in every device and invalidates what the IOTLB cached for it (amd_iommu_clear_gcr3()). */
  remove(devices: readonly Device[], pasid: number): void {
    for (const d of devices) {
      if (!d.gcr3 || d.gcr3.get(pasid) === null) continue;
      d.gcr3.clear(pasid);
      d.group.iommu.tlb.invalidateTag(d.gcr3.tag(pasid));
    }
  }

  /** Invalidates [lo, hi) of one PASID's translations on every device of a group. */
  invalidateRange(devices: readonly Device[], pasid: number, lo: bigint, hi: bigint): void {
    for (const d of devices) if (d.gcr3) d.group.iommu.tlb.invalidateRange(d.gcr3.tag(pasid), lo, hi);
  }
}
