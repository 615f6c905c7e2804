// Shared virtual addressing as arm-smmu-v3 does it. A bind points a CD of the group's devices
// at the process's own page table (the CPU's, in its own memory), under an ASID of an SVA
// domain made per (mm, SMMU) and shared by the mm's bonds through that SMMU. The mm holds one
// PASID from the system-wide space for every bind, by any device. The CPU side changes the
// table directly; the SMMU hears of it through the MMU notifier: mm_unmap invalidates the range
// by ASID (arm_smmu_mm_arch_invalidate_secondary_tlbs), and mm_exit, before the table is torn
// down, quiets every CD of the mm so DMA faults, then invalidates the ASID (arm_smmu_mm_release).

import { type Outcome, PROT, type Policies, U64_LIMIT } from '../../../spec/index.ts';
import type { AsidAllocator } from './asid.ts';
import { quietCd } from './cd.ts';
import { coreMap } from './core.ts';
import { CPU_PA_BITS, CPU_PAGE, CPU_VA_BITS } from './cpu.ts';
import type { Iotlb } from './iotlb.ts';
import { FaultInjector, TableMemory } from './memory.ts';
import type { PasidSpace } from './pasid.ts';
import { LpaeTable } from './pgtable.ts';
import { type Bond, type Device, type Group, type Mm, type SvaDomain, pasidDevices } from './state.ts';
import type { StreamTable } from './streams.ts';

export interface SvaParts {
  streams: StreamTable;
  tlb: Iotlb;
  asids: AsidAllocator;
  /** ASID → the page table its CDs walk. */
  spaces: Map<number, LpaeTable>;
  faults: FaultInjector;
  space: PasidSpace;
}

export class Sva {
  private readonly mms = new Map<string, Mm>();
  private readonly handles = new Map<string, Bond>();

  constructor(
    private readonly parts: SvaParts,
    private readonly lifetime: Policies['pasid_lifetime'],
    private readonly bugs: ReadonlySet<string>,
  ) {}

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  /** The PASID an mm holds, if it is one this model knows. */
  pasidOf(mm: string): number | null | undefined {
    return this.mms.get(mm)?.pasid;
  }

  /** An mm comes into being, empty, at its first mention. Its page table is the CPU's: the IOMMU's fail_nth does not reach it. */
  private mm(handle: string): Mm {
    let mm = this.mms.get(handle);
    if (!mm) {
      const mem = new TableMemory(CPU_PAGE, new FaultInjector());
      const table = new LpaeTable(mem, { granule: CPU_PAGE, ias: CPU_VA_BITS, oas: CPU_PA_BITS, pgsizes: CPU_PAGE, partialUnmap: 'refuse' });
      mm = { handle, table, exited: false, pasid: null, bonds: new Set(), domains: [] };
      this.mms.set(handle, mm);
    }
    return mm;
  }

  bind(handle: string, g: Group, dev: Device, mmHandle: string): Outcome {
    const known = this.mms.get(mmHandle);
    if (known?.exited) return { err: 'ENOENT' };
    if (dev.maxPasids === 0 || !g.smmu.sva) return { err: 'EOPNOTSUPP' };
    const held = known?.pasid ?? null;
    if (held !== null && held >= dev.maxPasids && !this.bug('sva-bind-no-overflow-check')) return { err: 'EOVERFLOW' };
    const slot = held === null ? undefined : g.pasids.get(held);
    if (slot) {
      // The (group, mm) bond exists: one more reference to it. Anything else there is in the way.
      if (!('bond' in slot) || slot.bond.mm !== known) return { err: 'EBUSY' };
      slot.bond.refs++;
      this.handles.set(handle, slot.bond);
      return { ok: { pasid: held! } };
    }

    const { faults, space, asids, spaces, streams } = this.parts;
    const mm = this.mm(mmHandle);
    const undo: (() => void)[] = [];
    const fail = (err: 'ENOMEM' | 'ENOSPC'): Outcome => {
      for (const u of undo.reverse()) u();
      return { err };
    };
    if (mm.pasid === null || this.bug('sva-rebind-new-pasid')) {
      // iommu_alloc_mm_data(): the per-mm data, then a PASID every device can issue (the IDA's
      // range is inclusive, hence max_pasids - 1).
      if (faults.fails()) return fail('ENOMEM');
      const id = space.take(1, this.bug('sva-pasid-off-by-one') ? dev.maxPasids : dev.maxPasids - 1);
      if (id === null) return fail('ENOSPC');
      const before = mm.pasid;
      mm.pasid = id;
      undo.push(() => {
        space.release(id);
        mm.pasid = before;
      });
    }
    const pasid = mm.pasid!;
    if (faults.fails()) return fail('ENOMEM'); // the bond handle
    let domain = mm.domains.find((d) => d.smmu === g.smmu);
    if (!domain) {
      if (faults.fails()) return fail('ENOMEM'); // arm_smmu_sva_domain_alloc()
      const asid = asids.alloc();
      if (asid === null) return fail('ENOSPC');
      const made: SvaDomain = { mm, smmu: g.smmu, asid, users: 0 };
      mm.domains.push(made);
      spaces.set(asid, mm.table);
      undo.push(() => this.dropDomain(made));
      domain = made;
    }
    if (!streams.install(pasidDevices(g), pasid, { asid: domain.asid, ttb0: mm.table.root, ias: CPU_VA_BITS, granule: CPU_PAGE, epd0: false })) return fail('ENOMEM');
    domain.users++;
    const bond: Bond = { group: g, mm, domain, pasid, refs: 1, live: true };
    g.pasids.set(pasid, { bond });
    mm.bonds.add(bond);
    this.handles.set(handle, bond);
    return { ok: { pasid } };
  }

  unbind(handle: string): Outcome {
    const b = this.handles.get(handle);
    if (!b) return { err: 'ENOENT' };
    this.handles.delete(handle);
    // refcount_dec_and_test(&handle->users): the PASID is detached with the last reference only.
    if (--b.refs > 0 && !this.bug('sva-unbind-ignores-users')) return { ok: {} };
    if (b.live) this.teardown(b);
    return { ok: {} };
  }

  private teardown(b: Bond): void {
    b.live = false;
    this.parts.streams.remove(pasidDevices(b.group), b.pasid);
    b.group.pasids.delete(b.pasid);
    b.mm.bonds.delete(b);
    if (--b.domain.users === 0) this.dropDomain(b.domain);
    // The v5.11 per-bind ioasid_put, left behind when the PASID moved to the mm's lifetime.
    if (this.bug('sva-unbind-drops-pasid') && b.mm.pasid !== null) this.parts.space.release(b.mm.pasid);
    this.maybeRelease(b.mm);
  }

  /** The last user of an SVA domain is gone: its TLB entries, then its ASID. */
  private dropDomain(d: SvaDomain): void {
    this.parts.tlb.invalidateAll(d.asid);
    this.parts.spaces.delete(d.asid);
    this.parts.asids.free(d.asid);
    d.mm.domains.splice(d.mm.domains.indexOf(d), 1);
  }

  /** pasid_lifetime: last-unbind gives the PASID back with the last bond; mm-exit once the mm has exited too (mm_pasid_drop). */
  private maybeRelease(mm: Mm): void {
    if (mm.pasid === null || mm.bonds.size > 0) return;
    if (this.lifetime === 'last-unbind' || mm.exited) {
      this.parts.space.release(mm.pasid);
      mm.pasid = null;
    }
  }

  mmMap(handle: string, va: bigint, pa: bigint, size: bigint, prot: number): Outcome {
    if (this.mms.get(handle)?.exited) return { err: 'ENOENT' };
    const end = va + size;
    if (size === 0n || (va | pa | size) % CPU_PAGE !== 0n || (prot & (PROT.READ | PROT.WRITE)) === 0) return { err: 'EINVAL' };
    // TTBR0 covers 2^48 bytes of VA: a user mapping beyond it (or beyond the PA width) is refused.
    if (end > U64_LIMIT || end > 1n << BigInt(CPU_VA_BITS) || pa + size > 1n << BigInt(CPU_PA_BITS)) return { err: 'EINVAL' };
    const mm = this.mm(handle);
    if (mm.table.leaves(va, size).length > 0) return { err: 'EINVAL' };
    return coreMap(mm.table, va, pa, size, prot) === null ? { ok: {} } : { err: 'EINVAL' };
  }

  mmUnmap(handle: string, va: bigint, size: bigint): Outcome {
    if (this.mms.get(handle)?.exited) return { err: 'ENOENT' };
    if (size === 0n || (va | size) % CPU_PAGE !== 0n || va + size > U64_LIMIT) return { err: 'EINVAL' };
    const mm = this.mm(handle);
    for (const run of mm.table.leaves(va, size)) mm.table.unmap(run.iova, run.pgsize, run.count);
    if (!this.bug('sva-no-invalidate')) for (const d of mm.domains) this.parts.tlb.invalidateRange(d.asid, va, va + size);
    return { ok: {} };
  }

  mmExit(handle: string): Outcome {
    if (this.mms.get(handle)?.exited) return { err: 'ENOENT' };
    const mm = this.mm(handle);
    // DMA may still be running: keep each CD valid so it does not raise C_BAD_CD, but walking nothing.
    for (const b of mm.bonds) this.parts.streams.install(pasidDevices(b.group), b.pasid, quietCd(b.domain.asid));
    if (!this.bug('mm-exit-no-invalidate')) for (const d of mm.domains) this.parts.tlb.invalidateAll(d.asid);
    mm.table.destroy();
    mm.exited = true;
    this.maybeRelease(mm);
    return { ok: {} };
  }
}
