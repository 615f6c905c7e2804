// Shared virtual addressing: process address spaces (mm), the bonds that let a group reach one
// through the mm's PASID, and when that PASID is released. The mm ops model the CPU side, a
// page table the test drives directly, so that SVA-COHERENT can ask whether the device sees
// each change.

import {
  type Handle, type MmExitOp, type MmMapOp, type MmUnmapOp, PROT, type Policies, type SvaBindOp, type SvaUnbindOp, U64_LIMIT, isAligned,
} from '../../spec/index.ts';
import { Breaks, type Expect, errExpect, okExpect } from './expect.ts';
import { RemovedTranslations } from './iotlb.ts';
import { MappingStore } from './mappings.ts';
import { type PasidSpace, allocateExpect } from './pasid.ts';
import type { Bond, DeviceState, DomainState, MmState } from './state.ts';

/** CPU pages are 4 KiB whatever the IOMMU's granule. */
export const MM_PAGE = 0x1000n;

export class SvaModel {
  readonly mms = new Map<Handle, MmState>();
  private readonly refs = new Map<Handle, Bond>();
  /** Every bond handle ever bound, and what it bound: probes after an unbind look there. */
  readonly history = new Map<Handle, { dev: string; mm: Handle }>();

  constructor(
    private readonly space: PasidSpace,
    private readonly policies: Policies,
    private readonly devices: ReadonlyMap<string, DeviceState>,
  ) {}

  /** The mm a handle names, created live and empty at its first mention. */
  mm(h: Handle): MmState {
    let m = this.mms.get(h);
    if (!m) {
      m = { handle: h, table: new MappingStore(), exited: false, pasid: null, bonds: new Set() };
      this.mms.set(h, m);
    }
    return m;
  }

  bondOf(h: Handle): Bond | undefined {
    return this.refs.get(h);
  }

  liveBondHandles(): Handle[] {
    return [...this.refs.keys()];
  }

  bind(op: SvaBindOp): Expect[] {
    const dev = this.devices.get(op.dev)!;
    const g = dev.group;
    const mm = this.mms.get(op.mm);
    if (mm?.exited) return [errExpect(['ENOENT'], ['SVA-MM'])];
    const max = dev.spec.maxPasids;
    const unsupported = max === 0 || !g.iommu.domainTypes.includes('sva');
    const pasid = mm?.pasid ?? null;
    const breaks = new Breaks()
      .add(unsupported, ['EOPNOTSUPP', 'ENODEV'], 'SVA-LIMIT')
      .add(!unsupported && pasid !== null && pasid >= max, ['EOVERFLOW'], 'SVA-LIMIT')
      .add(!unsupported && pasid !== null && pasid < max && g.pasids.has(pasid) && g.pasids.get(pasid)!.mm !== mm, ['EBUSY'], 'SVA-LIMIT');
    if (breaks.any) return breaks.expect();

    const existing = mm && [...mm.bonds].find((b) => b.group === g);
    if (existing) {
      return [okExpect(op, { pasid: pasid! }, ['SVA-SHARE'], {
        post: 'SVA-SHARE',
        apply: () => {
          existing.refs++;
          this.refs.set(op.bond, existing);
          this.history.set(op.bond, { dev: op.dev, mm: op.mm });
        },
        blame: () => ({ rule: 'SVA-SHARE' }),
      })];
    }
    const bondTo = (id: number) => {
      const m = this.mm(op.mm);
      if (m.pasid === null) {
        m.pasid = id;
        this.space.take(id, m.handle);
      }
      const domain = svaDomain(op.bond, m, g);
      const b: Bond = { group: g, mm: m, domain, refs: 1 };
      m.bonds.add(b);
      g.pasids.set(id, domain);
      this.refs.set(op.bond, b);
      this.history.set(op.bond, { dev: op.dev, mm: op.mm });
    };
    if (pasid !== null) {
      // Another group already bound the mm: the same PASID, a new bond.
      return [okExpect(op, { pasid }, ['SVA-BIND', 'SVA-SHARE'], { post: 'SVA-BIND', apply: () => bondTo(pasid) })];
    }
    return allocateExpect(this.space, 1, max - 1, { ok: ['SVA-BIND', 'PASID-UNIQUE'], range: 'SVA-BIND' }, bondTo);
  }

  unbind(op: SvaUnbindOp): Expect[] {
    const b = this.refs.get(op.bond);
    if (!b) return [errExpect(['ENOENT'], ['SVA-UNBIND'])];
    return [okExpect(op, {}, ['SVA-UNBIND'], {
      post: 'SVA-UNBIND',
      apply: () => {
        this.refs.delete(op.bond);
        if (--b.refs > 0) return;
        b.mm.bonds.delete(b);
        b.group.pasids.delete(b.mm.pasid!);
        this.maybeRelease(b.mm);
      },
    })];
  }

  /** SVA-PASID-LIFE: the mm gives its PASID back at its last unbind, or once exited and unbound. */
  private maybeRelease(mm: MmState): void {
    if (mm.pasid === null || mm.bonds.size > 0) return;
    if (this.policies.pasid_lifetime === 'last-unbind' || mm.exited) {
      this.space.release(mm.pasid);
      mm.pasid = null;
    }
  }

  mmMap(op: MmMapOp): Expect[] {
    const mm = this.mms.get(op.mm);
    if (mm?.exited) return [errExpect(['ENOENT'], ['SVA-MM'])];
    const end = op.va + op.size;
    const bad = op.size === 0n || !isAligned(op.va | op.size | op.pa, MM_PAGE) || end > U64_LIMIT || op.pa + op.size > U64_LIMIT ||
      (op.prot & (PROT.READ | PROT.WRITE)) === 0 || (mm !== undefined && mm.table.intersecting(op.va, end).length > 0);
    if (bad) return [errExpect(['EINVAL'], ['SVA-MM'])];
    return [okExpect(op, {}, ['SVA-MM'], {
      post: 'SVA-COHERENT',
      apply: () => this.mm(op.mm).table.insert({ iova: op.va, size: op.size, paddr: op.pa, prot: op.prot, layout: 'unknown' }),
    })];
  }

  mmUnmap(op: MmUnmapOp): Expect[] {
    const mm = this.mms.get(op.mm);
    if (mm?.exited) return [errExpect(['ENOENT'], ['SVA-MM'])];
    const end = op.va + op.size;
    if (op.size === 0n || !isAligned(op.va | op.size, MM_PAGE) || end > U64_LIMIT) return [errExpect(['EINVAL'], ['SVA-MM'])];
    return [okExpect(op, {}, ['SVA-MM'], {
      post: 'SVA-COHERENT',
      apply: () => {
        const m = this.mm(op.mm);
        for (const b of m.bonds) b.domain.removed.record(m.table, op.va, end, { lo: op.va, hi: end });
        m.table.removeRange(op.va, end, MM_PAGE);
      },
    })];
  }

  mmExit(op: MmExitOp): Expect[] {
    const mm = this.mms.get(op.mm);
    if (mm?.exited) return [errExpect(['ENOENT'], ['SVA-MM'])];
    return [okExpect(op, {}, ['SVA-MM', 'SVA-PASID-LIFE'], {
      post: 'SVA-COHERENT',
      apply: () => {
        const m = this.mm(op.mm);
        m.exited = true;
        for (const b of m.bonds) b.domain.removed.record(m.table, 0n, U64_LIMIT, { lo: 0n, hi: U64_LIMIT });
        m.table.clear();
        this.maybeRelease(m);
      },
    })];
  }
}

function svaDomain(handle: Handle, mm: MmState, g: DeviceState['group']): DomainState {
  const iommu = g.iommu;
  return {
    handle: `${handle}.sva`, type: 'sva', iommu, format: iommu.format, pgsizes: MM_PAGE, ias: 64, oas: iommu.oas,
    mappings: null, groups: new Set(), pasidUses: 0, parent: null, children: 0, dormant: false,
    removed: new RemovedTranslations(false), mm,
  };
}
