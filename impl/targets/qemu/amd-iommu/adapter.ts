// QEMU's AMD IOMMU through the guest-driver kit (../common/kit-adapter.ts). As for VT-d and
// SMMUv3, the kit's core layer (common/kit-core.ts) answers every op but a device access, under
// the policies of Linux's AMD v1 io-pgtable (an unmap removes every leaf it touches whole; IR and
// IW are separate, so a write-only mapping refuses reads), and QEMU is judged on what the unit
// does with what the driver programs: every `dma` is a real edu access, answered from the event
// log and from where the byte went (system.ts verifies reads as well as writes).
//
// The driver follows Linux's amd_iommu (drivers/iommu/amd/iommu.c, io_pgtable.c):
// - a paging domain is a DomainID and 4-level v1 tables; attaching it writes the device's entry
//   (set_dte_entry()); an identity domain is a translation-disabled entry (Mode 0, IR, IW) with
//   a DomainID of its own; blocked is V and TV alone (clear_dte_entry());
// - an entry change is followed by the invalidation the suite drew (invalidation.ts: what Linux
//   sends, INVALIDATE_DEVTAB_ENTRY and the old DomainID's pages, or INVALIDATE_IOMMU_ALL);
// - map writes leaves and sends nothing (no cached non-present entries);
// - unmap clears leaves, then sends the INVALIDATE_IOMMU_PAGES the suite drew (invalidation.ts);
// - freeing a domain sends nothing: no entry names its DomainID any more, and every change of
//   entry already flushed the DomainID it left.

import { type DmaOp, type Outcome, PROT, type Topology } from '../../../../spec/index.ts';
import { type DomainKind, GuestDriverKit, type KitCase, type KitOptions } from '../common/kit-adapter.ts';
import type { Interval } from '../common/kit-core.ts';
import type { DefaultKind } from '../common/kit-topologies.ts';
import { configInvalidation, tlbInvalidations } from './invalidation.ts';
import { V1Table } from './pgtable.ts';
import { type Dte, EVENT, type Event, FAULT_FLAG, describeEvent, domainIdOf, sameDte } from './regs.ts';
import { AmdSystem } from './system.ts';
import { LEVELS, TOPOLOGIES } from './topologies.ts';

const POLICIES = { partial_unmap: 'whole-leaf', write_only_read: 'fault' } as const;

export const KIT_NAME = 'iommu-conformance AMD-Vi guest driver (core layer: the reference API semantics)';

/** The DomainID of the identity domain the case starts with; allocated domains count up from the next. */
const DEFAULT_IDENTITY_DOMAIN = 1;

interface KitDomain {
  type: DomainKind;
  domainId: number;
  table: V1Table | null;
}

interface CaseState extends KitCase<KitDomain> {
  nextDomainId: number;
  /**
   * Where each device's IOVA page last reached memory (`index:page` → physical page): where a
   * stale translation would send an access once nothing maps it. QEMU 7.2 and 10.0 log no events,
   * so this is how a stale translation is told apart from an access dropped without one.
   */
  reached: Map<string, bigint>;
}

export type AmdAdapterOptions = KitOptions;

export class QemuAmdIommuAdapter extends GuestDriverKit<AmdSystem, KitDomain, CaseState> {
  constructor(opts: AmdAdapterOptions) {
    super(opts, { name: 'qemu-amd-iommu', arch: 'AMD-Vi', kitName: KIT_NAME, policies: POLICIES, topologies: TOPOLOGIES });
  }

  protected startMachine(): Promise<AmdSystem> {
    return AmdSystem.start(this.opts.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: AmdSystem): Promise<CaseState> {
    const core = this.coreCase(t);
    const devids = sys.edus.map((_, i) => sys.devid(i));
    await sys.unit.reset(devids, (devid) => defaultDte(core.defaults[devids.indexOf(devid)] ?? 'blocked'));
    return { ...core, nextDomainId: DEFAULT_IDENTITY_DOMAIN + 1, reached: new Map() };
  }

  protected allocate(type: DomainKind, sys: AmdSystem, st: CaseState): KitDomain {
    if (type === 'blocked') return { type, domainId: 0, table: null };
    return { type, domainId: st.nextDomainId++, table: type === 'paging' ? new V1Table(sys.mem, LEVELS) : null };
  }

  protected release(): Promise<void> {
    return Promise.resolve();
  }

  protected async place(sys: AmdSystem, st: CaseState, i: number, d: KitDomain | null, inval: number): Promise<void> {
    const want = d ? dteOf(d) : defaultDte(st.defaults[i]!);
    const devid = sys.devid(i);
    const old = sys.unit.dte(devid);
    if (sameDte(old, want)) return;
    await sys.unit.setDte(devid, want, configInvalidation(inval, devid, old ? domainIdOf(old) : 0, sys.unit.features));
  }

  protected setLeaves(d: KitDomain, iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    d.table!.setLeaves(iova, paddr, pgsize, count, (prot & PROT.READ) !== 0, (prot & PROT.WRITE) !== 0);
  }

  protected async removeLeaves(sys: AmdSystem, d: KitDomain, gone: readonly Interval[], inval: number | null): Promise<void> {
    for (const [lo, hi] of gone) d.table!.clearRange(lo, hi);
    await sys.mem.flush();
    if (inval === null) return;
    // One gather for the whole unmap, as Linux's iommu_iotlb_gather: from the first byte removed to the last.
    const sent = tlbInvalidations(inval, d.domainId, gone[0]![0], gone.at(-1)![1], sys.unit.features);
    await sys.unit.submit(sent.cmds, sent.labels);
  }

  protected async access(op: DmaOp, sys: AmdSystem, st: CaseState): Promise<Outcome> {
    // The entries carry no GCR3 table (GV = 0): a PASID-tagged request reaches nothing.
    if (op.pasid !== undefined || op.pasidOf !== undefined) return { err: 'FAULT', msg: 'no PASIDs in this configuration (no guest tables)' };
    const i = st.devices.get(op.dev);
    if (i === undefined) return { err: 'ENODEV' };
    const page = `${i}:${op.iova >> 12n}`;
    const expect = this.expectation(st, sys, i, op.iova, op.access);
    // Nothing valid in the tables: where a stale translation would send it, if this page ever reached somewhere.
    const stale = expect ? undefined : st.reached.get(page);
    const look = expect?.phys ?? (stale !== undefined ? stale | (op.iova & 0xfffn) : null);
    const r = await sys.access(i, op.iova, op.access, look);
    const verb = op.access === 'r' ? 'read' : 'write';
    const where = look !== null ? `0x${look.toString(16)}` : '';
    if (r.events.length > 0) {
      // A record must say what was refused (§2.5.3): the requester, the address, and whether it was a write.
      const wrong = r.events.flatMap((e) => recordErrors(e, sys.devid(i), op.iova, op.access));
      if (wrong.length > 0) return { err: 'EIO', msg: `the unit logged ${r.events.map(describeEvent).join('; ')}, which misreports this ${verb} of 0x${op.iova.toString(16)}: ${[...new Set(wrong)].join('; ')}` };
      return { err: 'FAULT', msg: r.events.map(describeEvent).join('; ') };
    }
    if (!expect) {
      if (r.reached === true) return { ok: {} }; // through the translation the unit still holds
      const seen = stale === undefined ? 'it never reached memory through this page before' : r.reached === false ? `it did not reach ${where}, where this page last went` : `whether it reached ${where}, where this page last went, cannot be seen`;
      return { err: 'EIO', msg: `nothing in the driver's tables maps 0x${op.iova.toString(16)} and no event was logged; ${seen}` };
    }
    if (expect.permitted) {
      if (r.reached === false) return { err: 'EIO', msg: `no event logged, but the ${verb} did not reach ${where}, where the driver's tables point` };
      st.reached.set(page, expect.phys & ~0xfffn);
      return { ok: {} };
    }
    if (r.reached === true) return { ok: {} };
    // The tables deny this access and the unit logged nothing: a conforming unit logs an
    // IO_PAGE_FAULT (§2.5.3) unless the entry suppresses it (SA), which this driver never sets.
    return { err: 'EIO', msg: `the ${expect.blocked ? 'blocking entry (V, TV, no IR/IW)' : 'tables'} do not permit this ${verb} and no event was logged; ${r.reached === false ? `it did not reach ${where}` : `whether it reached ${where} cannot be seen (not plain RAM)`}` };
  }

  /** Where the driver's own configuration sends this access, and whether it permits it. */
  private expectation(st: CaseState, sys: AmdSystem, i: number, iova: bigint, access: 'r' | 'w'): { phys: bigint; permitted: boolean; blocked?: boolean } | null {
    const dte = sys.unit.dte(sys.devid(i));
    if (!dte) return null;
    if (dte.kind === 'passthrough') return { phys: iova, permitted: true };
    if (dte.kind === 'blocked') return { phys: iova, permitted: false, blocked: true };
    const d = [...st.domains.values()].find((x) => x.table?.root === dte.root);
    const tr = d?.table?.walk(iova);
    if (!tr) return null;
    return { phys: tr.phys, permitted: access === 'r' ? tr.read : tr.write };
  }
}

/** How an event fails to describe a refused access by `devid` at `iova`. */
function recordErrors(e: Event, devid: number, iova: bigint, access: 'r' | 'w'): string[] {
  const out: string[] = [];
  if (e.code !== EVENT.IO_PAGE_FAULT) out.push(`event code ${e.code}, not IO_PAGE_FAULT (2)`);
  if (e.devid !== devid) out.push(`DeviceID 0x${e.devid.toString(16)}, not 0x${devid.toString(16)}`);
  // The faulting address, to the byte or (as some units report it) to the page.
  if (e.address !== iova && e.address !== (iova & ~0xfffn)) out.push(`address 0x${e.address.toString(16)}, not 0x${iova.toString(16)}`);
  if (((e.flags & FAULT_FLAG.RW) !== 0) !== (access === 'w')) out.push(`RW ${access === 'w' ? 'clear for a write' : 'set for a read'}`);
  return out;
}

function dteOf(d: KitDomain): Dte {
  if (d.type === 'blocked') return { kind: 'blocked' };
  if (d.type === 'identity') return { kind: 'passthrough', domainId: d.domainId };
  return { kind: 'translate', root: d.table!.root, levels: LEVELS, domainId: d.domainId };
}

function defaultDte(kind: DefaultKind): Dte {
  return kind === 'identity' ? { kind: 'passthrough', domainId: DEFAULT_IDENTITY_DOMAIN } : { kind: 'blocked' };
}
