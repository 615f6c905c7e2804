// Shared virtual addressing: process address spaces (mm), the bonds that put an mm's page table
// in a group's GCR3 entries at the mm's PASID, and the MMU-notifier side: what mm_unmap and
// mm_exit remove is invalidated in the IOTLB before they return. One PASID per mm, shared by
// every bond (linux:drivers/iommu/iommu-sva.c iommu_sva_bind_device()), kept until the mm has
// exited and its last bond is gone (linux:kernel/fork.c mm_pasid_drop(): pasid_lifetime=mm-exit).

import { type MmExitOp, type MmMapOp, type MmUnmapOp, type Outcome, PROT, type SvaBindOp, U64_LIMIT } from '../../../spec/index.ts';
import type { PasidSpace } from './pasid.ts';
import type { PasidTables } from './pasid-tables.ts';
import type { Bond, Device, Mm, MmPage } from './types.ts';

const PAGE = 0x1000n;

export class Sva {
  private readonly mms = new Map<string, Mm>();
  private readonly bonds = new Map<string, Bond>();

  constructor(
    private readonly space: PasidSpace,
    private readonly tables: PasidTables,
    private readonly bugs: ReadonlySet<string>,
  ) {}

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  /** The mm a handle names, created live and empty at its first mention. */
  private mm(h: string): Mm {
    let m = this.mms.get(h);
    if (!m) {
      m = { handle: h, cr3: this.tables.token(), pages: new Map(), exited: false, pasid: null, bonds: new Set() };
      this.mms.set(h, m);
      this.tables.owners.set(m.cr3, { kind: 'mm', mm: m });
    }
    return m;
  }

  /** The PASID an mm holds now (dma with pasidOf). */
  pasidOf(h: string): number | null {
    return this.mms.get(h)?.pasid ?? null;
  }

  bind(op: SvaBindOp, dev: Device, svaCapable: boolean): Outcome {
    if (this.mms.get(op.mm)?.exited) return { err: 'ENOENT' };
    if (dev.maxPasids === 0 || !svaCapable) return { err: 'EOPNOTSUPP' };
    const mm = this.mm(op.mm);
    const g = dev.group;
    // The buggy bind never records the mm's PASID, so each new bond draws another.
    const held = this.bug('amd-sva-pasid-per-bind') ? null : mm.pasid;
    if (held !== null && held >= dev.maxPasids) return { err: 'EOVERFLOW' };
    const here = held === null ? null : this.tables.occupant(g.devices, held);
    if (here && !(here.kind === 'mm' && here.mm === mm)) return { err: 'EBUSY' };
    const existing = [...mm.bonds].find((b) => b.group === g);
    if (existing) {
      existing.refs++;
      this.bonds.set(op.bond, existing);
      return { ok: { pasid: existing.pasid } };
    }
    // A new PASID avoids slots the group already uses for something else.
    const pasid = held ?? this.space.take(1, dev.maxPasids - 1, (id) => !this.tables.isOccupied(g.devices, id));
    if (typeof pasid === 'string') return { err: pasid };
    if (this.tables.install(g.devices, pasid, mm.cr3)) {
      if (held === null) this.space.release(pasid);
      return { err: 'ENOMEM' };
    }
    mm.pasid = pasid;
    const b: Bond = { group: g, mm, pasid, refs: 1 };
    mm.bonds.add(b);
    this.bonds.set(op.bond, b);
    return { ok: { pasid } };
  }

  unbind(handle: string): Outcome {
    const b = this.bonds.get(handle);
    if (!b) return { err: 'ENOENT' };
    this.bonds.delete(handle);
    if (--b.refs > 0) return { ok: {} };
    b.mm.bonds.delete(b);
    this.tables.remove(b.group.devices, b.pasid);
    // The buggy unbind gives the PASID back with its bond, whatever else still uses it.
    if (this.bug('amd-sva-unbind-frees-pasid')) this.drop(b.mm);
    else this.maybeRelease(b.mm);
    return { ok: {} };
  }

  /** mm-exit lifetime: the PASID goes once the mm has exited and no bond remains. */
  private maybeRelease(mm: Mm): void {
    if (mm.exited && mm.bonds.size === 0) this.drop(mm);
  }

  private drop(mm: Mm): void {
    if (mm.pasid === null) return;
    this.space.release(mm.pasid);
    mm.pasid = null;
  }

  mmMap(op: MmMapOp): Outcome {
    if (this.mms.get(op.mm)?.exited) return { err: 'ENOENT' };
    const bad = op.size === 0n || (op.va | op.size | op.pa) % PAGE !== 0n || op.va + op.size > U64_LIMIT || op.pa + op.size > U64_LIMIT ||
      (op.prot & (PROT.READ | PROT.WRITE)) === 0;
    const mm = this.mm(op.mm);
    if (bad || this.anyMapped(mm, op.va, op.size)) return { err: 'EINVAL' };
    const read = (op.prot & PROT.READ) !== 0;
    const write = (op.prot & PROT.WRITE) !== 0;
    for (let off = 0n; off < op.size; off += PAGE) mm.pages.set((op.va + off) / PAGE, { pa: op.pa + off, read, write });
    return { ok: {} };
  }

  private anyMapped(mm: Mm, va: bigint, size: bigint): boolean {
    return pagesIn(mm, va, size).some((n) => mm.pages.has(n));
  }

  mmUnmap(op: MmUnmapOp): Outcome {
    if (this.mms.get(op.mm)?.exited) return { err: 'ENOENT' };
    if (op.size === 0n || (op.va | op.size) % PAGE !== 0n || op.va + op.size > U64_LIMIT) return { err: 'EINVAL' };
    const mm = this.mm(op.mm);
    for (const n of pagesIn(mm, op.va, op.size)) mm.pages.delete(n);
    // The MMU notifier: the devices' IOTLB forgets the range before the CPU side goes on.
    if (!this.bug('amd-mm-unmap-no-flush')) for (const b of mm.bonds) this.tables.invalidateRange(b.group.devices, b.pasid, op.va, op.va + op.size);
    return { ok: {} };
  }

  mmExit(op: MmExitOp): Outcome {
    const mm = this.mm(op.mm);
    if (mm.exited) return { err: 'ENOENT' };
    mm.exited = true;
    mm.pages.clear();
    for (const b of mm.bonds) this.tables.invalidateRange(b.group.devices, b.pasid, 0n, U64_LIMIT);
    this.maybeRelease(mm);
    return { ok: {} };
  }
}

/** Page numbers of [va, va+size) worth looking at: the range's, or the mm's own when fewer. */
function pagesIn(mm: Mm, va: bigint, size: bigint): bigint[] {
  const first = va / PAGE;
  const count = size / PAGE;
  if (count > BigInt(mm.pages.size)) return [...mm.pages.keys()].filter((n) => n >= first && n < first + count);
  return Array.from({ length: Number(count) }, (_, i) => first + BigInt(i));
}

/** A CPU page-table lookup: what the IOMMU's walk of an mm gives. */
export function mmWalk(mm: Mm, iova: bigint): { phys: bigint; read: boolean; write: boolean } | null {
  const p: MmPage | undefined = mm.pages.get(iova / PAGE);
  return p ? { phys: p.pa + (iova % PAGE), read: p.read, write: p.write } : null;
}
