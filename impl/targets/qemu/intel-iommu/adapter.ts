// QEMU's intel-iommu (VT-d) through the guest-driver kit (../common/kit-adapter.ts). The device
// has no notion of domains, maps or errnos: a driver's software decides those, and here that
// software is the kit's core layer, the reference model's API semantics under VT-d's policy (a
// partial unmap removes whole leaves), declared in hello as the kit's (AdapterInfo.kit) so no
// rule is credited to QEMU for them. What QEMU is judged on is what the hardware does with what the driver programs: every
// `dma` is a real edu access through the unit, answered from the unit's fault record and, for
// writes, from where the byte landed.
//
// The driver follows Linux's intel-iommu in legacy mode (drivers/iommu/intel/iommu.c):
// - a paging domain is a DID and 4-level second-level tables; attaching it writes the device's
//   context entry (domain_context_mapping_one()); identity is a pass-through context with DID 1
//   (context_setup_pass_through()); blocked is no context entry (domain_context_clear_one());
// - replacing a present context clears its present bit, sends the context-cache invalidation
//   the suite drew (invalidation.ts: device-selective as intel_context_flush_no_pasid(),
//   domain-selective, or global) and the old DID's IOTLB, then writes the new entry
//   (device_block_translation()); without caching mode a new entry needs no invalidation;
// - map writes leaves and sends nothing (CAP.CM = 0: not-present entries are not cached);
// - unmap clears leaves, then sends the IOTLB invalidation the suite drew (invalidation.ts)
//   and waits for it.

import { type DmaOp, type Outcome, PROT, type Topology } from '../../../../spec/index.ts';
import { type DomainKind, GuestDriverKit, type KitCase, type KitOptions } from '../common/kit-adapter.ts';
import type { Interval } from '../common/kit-core.ts';
import { EDU_SLOTS, PCI_DEVFN } from '../common/machine.ts';
import { contextInvalidations, iotlbInvalidations } from './invalidation.ts';
import { SecondLevelTable } from './pgtable.ts';
import { type ContextEntry, TT } from './regs.ts';
import { VtdSystem } from './system.ts';
import { ADDRESS_BITS, TOPOLOGIES } from './topologies.ts';

/** Linux's identity domain ID (FLPT_DEFAULT_DID); paging domains count up from the next. */
const IDENTITY_DID = 1;
const LEVELS = 4;
// A second-level entry with W and not R is write-only: the unit refuses a read through it (§3.7.1, QEMU: fault reason 6).
const POLICIES = { partial_unmap: 'whole-leaf', write_only_read: 'fault' } as const;

export const KIT_NAME = 'iommu-conformance VT-d guest driver (core layer: the reference API semantics)';

interface KitDomain {
  type: DomainKind;
  did: number;
  table: SecondLevelTable | null;
}

interface CaseState extends KitCase<KitDomain> {
  /** The context each edu's devfn holds now, or null for none. */
  contexts: (ContextEntry | null)[];
  nextDid: number;
}

export type VtdAdapterOptions = KitOptions;

export class QemuIntelIommuAdapter extends GuestDriverKit<VtdSystem, KitDomain, CaseState> {
  constructor(opts: VtdAdapterOptions) {
    super(opts, { name: 'qemu-intel-iommu', arch: 'VT-d', kitName: KIT_NAME, policies: POLICIES, topologies: TOPOLOGIES });
  }

  protected startMachine(): Promise<VtdSystem> {
    return VtdSystem.start(this.opts.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: VtdSystem): Promise<CaseState> {
    const core = this.coreCase(t);
    await sys.unit.reset();
    const st: CaseState = { ...core, contexts: EDU_SLOTS.map(() => null), nextDid: IDENTITY_DID + 1 };
    for (const [i, kind] of st.defaults.entries()) await this.program(sys, st, i, defaultContext(kind));
    return st;
  }

  protected allocate(type: DomainKind, sys: VtdSystem, st: CaseState): KitDomain {
    return { type, did: type === 'identity' ? IDENTITY_DID : st.nextDid++, table: type === 'paging' ? new SecondLevelTable(sys.mem, LEVELS) : null };
  }

  /** Legacy mode keeps nothing of a domain no context entry names (its IOTLB went with the last one). */
  protected release(): Promise<void> {
    return Promise.resolve();
  }

  protected async place(sys: VtdSystem, st: CaseState, i: number, d: KitDomain | null, inval: number): Promise<void> {
    const want = d ? contextOf(d) : defaultContext(st.defaults[i]!);
    if (!sameContext(st.contexts[i] ?? null, want)) await this.program(sys, st, i, want, inval);
  }

  protected setLeaves(d: KitDomain, iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    d.table!.setLeaves(iova, paddr, pgsize, count, (prot & PROT.READ) !== 0, (prot & PROT.WRITE) !== 0);
  }

  protected async removeLeaves(sys: VtdSystem, d: KitDomain, gone: readonly Interval[], inval: number | null): Promise<void> {
    for (const [lo, hi] of gone) d.table!.clearRange(lo, hi);
    await sys.mem.flush();
    if (inval === null) return;
    // One gather for the whole unmap, as Linux's iommu_iotlb_gather: from the first byte removed to the last.
    const sent = iotlbInvalidations(inval, d.did, gone[0]![0], gone.at(-1)![1], sys.unit.cap);
    await sys.unit.invalidate(sent.descs, sent.labels);
  }

  /**
   * Gives edu `i` a new context: a present one is first cleared and its caches invalidated (the
   * context-cache invalidation drawn, `inval`, then the old DID's IOTLB), then the new one written.
   */
  private async program(sys: VtdSystem, st: CaseState, i: number, next: ContextEntry | null, inval = 0): Promise<void> {
    const unit = sys.unit;
    const devfn = PCI_DEVFN(EDU_SLOTS[i]!);
    const old = st.contexts[i];
    if (old) {
      await unit.clearContextPresent(devfn);
      const sent = contextInvalidations(inval, old.did, devfn);
      await unit.invalidate(sent.descs, sent.labels);
      await unit.setContext(devfn, null);
    }
    st.contexts[i] = next;
    if (!next) return;
    await unit.setContext(devfn, next);
    if (unit.cap.cachingMode) {
      const sent = contextInvalidations(inval, next.did, devfn);
      await unit.invalidate(sent.descs, sent.labels);
    }
  }

  protected async access(op: DmaOp, sys: VtdSystem, st: CaseState): Promise<Outcome> {
    // Legacy mode has no PASIDs: a PASID-tagged request reaches nothing.
    if (op.pasid !== undefined || op.pasidOf !== undefined) return { err: 'FAULT', msg: 'no PASIDs in VT-d legacy mode' };
    const i = st.devices.get(op.dev);
    if (i === undefined) return { err: 'ENODEV' };
    const expect = this.expectation(st, i, op.iova, op.access);
    const r = await sys.access(i, op.iova, op.access, expect?.phys ?? null);
    if (r.fault) return { err: 'FAULT', msg: sys.unit.describe(r.fault) };
    if (!expect) return { ok: {} }; // nothing in the tables: what went through, went through a cache
    const where = `0x${expect.phys.toString(16)}`;
    if (expect.permitted) {
      return r.landed === false ? { err: 'EIO', msg: `no fault recorded, but the write did not reach ${where}, where the driver's tables point` } : { ok: {} };
    }
    // The tables deny this access, and the unit recorded no fault: a conforming unit records one
    // (VT-d §7.1: a blocked request is a non-recoverable fault, recorded unless FPD is set).
    if (r.landed === true) return { ok: {} };
    const seen = r.landed === false ? `it did not reach ${where}` : op.access === 'w' ? `whether it reached ${where} cannot be seen (not plain RAM)` : 'the edu cannot show what a read returned';
    return { err: 'EIO', msg: `the tables do not permit this ${op.access === 'r' ? 'read' : 'write'} and no fault was recorded; ${seen}` };
  }

  /** Where the driver's own tables send this access, and whether they permit it. */
  private expectation(st: CaseState, i: number, iova: bigint, access: 'r' | 'w'): { phys: bigint; permitted: boolean } | null {
    const ctx = st.contexts[i];
    if (!ctx) return null;
    if (ctx.tt === TT.PASS_THROUGH) return iova >> BigInt(ADDRESS_BITS) === 0n ? { phys: iova, permitted: true } : null;
    const d = [...st.domains.values()].find((x) => x.table?.root === ctx.slptptr);
    const tr = d?.table?.walk(iova);
    if (!tr) return null;
    return { phys: tr.phys, permitted: access === 'r' ? tr.read : tr.write };
  }
}

function sameContext(a: ContextEntry | null, b: ContextEntry | null): boolean {
  return a === b || (a !== null && b !== null && a.tt === b.tt && a.did === b.did && a.slptptr === b.slptptr && a.levels === b.levels);
}

function contextOf(d: KitDomain): ContextEntry | null {
  if (d.type === 'blocked') return null;
  if (d.type === 'identity') return defaultContext('identity');
  return { tt: TT.TRANSLATE, did: d.did, slptptr: d.table!.root, levels: LEVELS };
}

function defaultContext(kind: 'identity' | 'blocked'): ContextEntry | null {
  return kind === 'identity' ? { tt: TT.PASS_THROUGH, did: IDENTITY_DID, slptptr: 0n, levels: LEVELS } : null;
}
