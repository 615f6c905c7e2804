// A device access as the IOMMU serves it. Without a PASID the device table entry decides:
// blocked, passed through, or translated by the table its root and mode name; with one, the
// device's GCR3 entry names the address space. Either way the IOTLB is asked first and filled
// from the walk on a miss, tagged by the DTE's domain ID, or by the GCR3 table's with the PASID.

import type { Access, Outcome } from '../../../spec/index.ts';
import type { TableMemory } from '../arm-smmu/memory.ts';
import { decodeDte } from './dte.ts';
import type { TlbEntry } from './iotlb.ts';
import { mmWalk } from './sva.ts';
import type { Device, Owner } from './types.ts';
import { walkTables } from './walk.ts';

type Leaf = { phys: bigint; read: boolean; write: boolean };

export function deviceAccess(mem: TableMemory, owners: ReadonlyMap<bigint, Owner>, device: Device, iova: bigint, access: Access, pasid?: number): Outcome {
  const iommu = device.group.iommu;
  let tag: number;
  let miss: () => Leaf | null;
  if (pasid === undefined) {
    const dte = decodeDte(device.dte);
    if (dte.kind === 'blocked') return { err: 'FAULT' };
    if (dte.kind === 'identity') return iova < 1n << BigInt(iommu.spec.oas) ? { ok: { phys: iova } } : { err: 'FAULT' };
    tag = dte.domainId;
    miss = () => walkTables(mem, dte.root, dte.levels, iova);
  } else {
    const root = device.gcr3?.get(pasid) ?? null;
    if (root === null) return { err: 'FAULT' };
    tag = device.gcr3!.tag(pasid);
    miss = () => walkOwner(mem, owners.get(root), iova);
  }
  let e: TlbEntry | undefined = iommu.tlb.lookup(tag, iova);
  if (!e) {
    const w = miss();
    if (!w) return { err: 'FAULT' };
    e = iommu.tlb.fill(tag, iova, w);
  }
  if (access === 'w' ? !e.write : !e.read) return { err: 'FAULT' };
  return { ok: { phys: e.phys + (iova - e.iova) } };
}

/** What a GCR3 entry's root leads to: a domain's table, an mm's page table, or nothing to walk. */
function walkOwner(mem: TableMemory, owner: Owner | undefined, iova: bigint): Leaf | null {
  if (!owner) return null;
  if (owner.kind === 'mm') return mmWalk(owner.mm, iova);
  const t = owner.domain.table;
  return t ? walkTables(mem, t.root, t.levels, iova) : null;
}
