// QEMU's intel-iommu (VT-d) through the guest-driver kit. The device has no notion of domains,
// maps or errnos: a driver's software decides those, and here that software is the kit's core
// layer, the reference model's API semantics under VT-d's policy (a partial unmap removes whole
// leaves), declared in hello as the kit's (AdapterInfo.kit) so no rule is credited to QEMU for
// them. What QEMU is judged on is what the hardware does with what the driver programs: every
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

import {
  type AdapterInfo, type DmaOp, type Op, type Outcome, PROT, type Topology, isFailure, resolvePolicies,
} from '../../../../spec/index.ts';
import { ReferenceModel } from '../../../reference/model.ts';
import { greedyRuns } from '../../../reference/pgsize.ts';
import { QemuCaseAdapter } from '../common/case-adapter.ts';
import { KIT_OPS, coverage, subtract } from '../common/kit-core.ts';
import type { QemuInstall } from '../common/machine.ts';
import { PCI_DEVFN, EDU_SLOTS } from '../common/machine.ts';
import type { Transcript } from '../common/transcript.ts';
import { contextInvalidations, iotlbInvalidations } from './invalidation.ts';
import { SecondLevelTable } from './pgtable.ts';
import { type ContextEntry, TT } from './regs.ts';
import { VtdSystem } from './system.ts';
import { ADDRESS_BITS, TOPOLOGIES, machineFor } from './topologies.ts';

/** Linux's identity domain ID (FLPT_DEFAULT_DID); paging domains count up from the next. */
const IDENTITY_DID = 1;
const LEVELS = 4;
// A second-level entry with W and not R is write-only: the unit refuses a read through it (§3.7.1, QEMU: fault reason 6).
const POLICIES = { partial_unmap: 'whole-leaf', write_only_read: 'fault' } as const;

export const KIT_NAME = 'iommu-conformance VT-d guest driver (core layer: the reference API semantics)';

interface KitDomain {
  type: 'paging' | 'identity' | 'blocked';
  did: number;
  table: SecondLevelTable | null;
}

interface CaseState {
  model: ReferenceModel;
  devices: Map<string, number>;
  domains: Map<string, KitDomain>;
  /** The context each edu's devfn holds now, or null for none. */
  contexts: (ContextEntry | null)[];
  defaults: ('identity' | 'blocked')[];
  nextDid: number;
}

export interface VtdAdapterOptions {
  install: QemuInstall;
  replyTimeoutMs?: number;
  /** A deliberately broken kit: no IOTLB invalidation after an unmap (the suite must catch it). */
  skipUnmapInvalidation?: boolean;
  /** Records every qtest command (a reproducer being exported). */
  recorder?: Transcript;
}

export class QemuIntelIommuAdapter extends QemuCaseAdapter<VtdSystem, CaseState> {
  constructor(private readonly opts: VtdAdapterOptions) {
    super();
  }

  hello(): AdapterInfo {
    return {
      name: 'qemu-intel-iommu',
      version: this.opts.install.version,
      profile: 'linux',
      policies: { ...POLICIES },
      // iova_to_phys is a software walk in Linux (the kit's, not QEMU's); the edu cannot show
      // which page a read reached; the invalidation after an unmap is the suite's to draw.
      capabilities: { iova_to_phys: false, dma_phys: false, invalidation_choice: true },
      topologies: [...TOPOLOGIES],
      kit: { name: KIT_NAME, ops: [...KIT_OPS] },
    };
  }

  protected startMachine(): Promise<VtdSystem> {
    return VtdSystem.start(this.opts.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: VtdSystem): Promise<CaseState> {
    const m = machineFor(t);
    if (typeof m === 'string') throw new Error(`topology not supported by this target: ${m}`);
    await sys.unit.reset();
    const defaults = t.devices.map((d) => t.groups.find((g) => g.name === d.group)!.defaultDomain as 'identity' | 'blocked');
    const st: CaseState = {
      model: new ReferenceModel(t, resolvePolicies('linux', POLICIES), { iova_to_phys: false, dma_phys: false }),
      devices: new Map(m.devices.map((d, i) => [d, i])),
      domains: new Map(),
      contexts: EDU_SLOTS.map(() => null),
      defaults,
      nextDid: IDENTITY_DID + 1,
    };
    for (const [i] of defaults.entries()) await this.program(sys, st, i, defaultContext(defaults[i]!));
    return st;
  }

  protected async run(op: Op, sys: VtdSystem, st: CaseState): Promise<Outcome> {
    if (op.op === 'dma') return this.dma(op, sys, st);
    if (!KIT_OPS.includes(op.op)) return { err: 'ENOSYS', msg: `the VT-d kit has no ${op.op}` };
    // The core layer decides; the driver then makes the unit do what it decided.
    const before = op.op === 'unmap' ? coverage(st.model, op.domain, op.iova, op.size) : [];
    const out = st.model.act(op);
    if (isFailure(out)) return out;
    switch (op.op) {
      case 'domain_alloc': {
        const type = op.type === 'identity' || op.type === 'blocked' ? op.type : 'paging';
        const did = type === 'identity' ? IDENTITY_DID : st.nextDid++;
        st.domains.set(op.domain, { type, did, table: type === 'paging' ? new SecondLevelTable(sys.mem, LEVELS) : null });
        await sys.mem.flush();
        break;
      }
      case 'domain_free':
        st.domains.delete(op.domain);
        break;
      case 'attach':
      case 'detach':
        // The core layer says where each device now is (a detach naming a domain the device is
        // not in changes nothing, as iommu_detach_device() returns): the contexts follow it.
        for (const [dev, i] of st.devices) {
          const cur = st.model.currentDomain(dev);
          const want = cur ? contextOf(st.domains.get(cur.handle)!) : defaultContext(st.defaults[i]!);
          if (!sameContext(st.contexts[i] ?? null, want)) await this.program(sys, st, i, want, op.inval ?? 0);
        }
        break;
      case 'map': {
        const d = st.domains.get(op.domain)!;
        const pgsizes = st.model.domain(op.domain)!.pgsizes;
        for (const run of greedyRuns(pgsizes, op.iova, op.paddr, op.size)) {
          d.table!.setLeaves(run.iova, op.paddr + (run.iova - op.iova), run.pgsize, run.count, (op.prot & PROT.READ) !== 0, (op.prot & PROT.WRITE) !== 0);
        }
        await sys.mem.flush();
        break;
      }
      case 'unmap': {
        const d = st.domains.get(op.domain)!;
        // What the core layer removed: what was mapped around the range before, less what is now.
        const gone = subtract(before, coverage(st.model, op.domain, op.iova, op.size));
        if (gone.length === 0) break;
        for (const [lo, hi] of gone) d.table!.clearRange(lo, hi);
        await sys.mem.flush();
        // One gather for the whole unmap, as Linux's iommu_iotlb_gather: from the first byte removed to the last.
        if (this.opts.skipUnmapInvalidation) break;
        const sent = iotlbInvalidations(op.inval ?? 0, d.did, gone[0]![0], gone.at(-1)![1], sys.unit.cap);
        await sys.unit.invalidate(sent.descs, sent.labels);
        break;
      }
      default:
        break;
    }
    return out;
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

  private async dma(op: DmaOp, sys: VtdSystem, st: CaseState): Promise<Outcome> {
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
