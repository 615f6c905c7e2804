// QEMU's SMMUv3 through the guest-driver kit (../common/kit-adapter.ts). As for VT-d, the kit's
// core layer (common/kit-core.ts) answers every op but a device access, under the policies of
// Linux's stage-1 io-pgtable-arm since v6.13 (a partial unmap stops at the leaf, nothing of it
// removed; stage 1 has no write-only encoding), and QEMU is judged on what the unit does with
// what the driver programs: every `dma` is a real edu access, answered from the event queue and
// from where the byte went (system.ts verifies reads as well as writes).
//
// The driver follows Linux's arm-smmu-v3 (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c):
// - a paging domain is an ASID, a CD and 4-level stage-1 tables; attaching it writes the
//   device's STE pointing at that CD (arm_smmu_make_cdtable_ste()); identity is a bypass STE,
//   blocked an abort STE (arm_smmu_make_bypass_ste(), arm_smmu_make_abort_ste());
// - an STE changes with V cleared first, each step followed by the configuration invalidation
//   the suite drew (invalidation.ts: CFGI_STE as Linux, the bus's range, or CFGI_ALL) and
//   CMD_SYNC (arm_smmu_write_entry());
// - map writes leaves and sends nothing (invalid entries are never cached, §3.17);
// - unmap clears leaves, then sends the TLB invalidation the suite drew (invalidation.ts);
// - freeing a domain invalidates its ASID (free_io_pgtable_ops() → arm_smmu_tlb_inv_context()).

import type { DmaOp, Outcome, Topology } from '../../../../spec/index.ts';
import { type DomainKind, GuestDriverKit, type KitCase, type KitOptions } from '../common/kit-adapter.ts';
import type { Interval } from '../common/kit-core.ts';
import type { DefaultKind } from '../common/kit-topologies.ts';
import { configInvalidation, tlbInvalidations } from './invalidation.ts';
import { Stage1Table } from './pgtable.ts';
import { type Ste, describeEvent, encodeCd, tlbiAsid } from './regs.ts';
import { SmmuSystem } from './system.ts';
import { OUTPUT_BITS, TOPOLOGIES } from './topologies.ts';

const POLICIES = { partial_unmap: 'refuse', write_only_read: 'allow' } as const;

export const KIT_NAME = 'iommu-conformance SMMUv3 guest driver (core layer: the reference API semantics)';

interface KitDomain {
  type: DomainKind;
  asid: number;
  table: Stage1Table | null;
  /** The domain's CD, shared by every device attached to it. */
  cd: bigint;
}

interface CaseState extends KitCase<KitDomain> {
  nextAsid: number;
}

export type SmmuAdapterOptions = KitOptions;

export class QemuSmmuv3Adapter extends GuestDriverKit<SmmuSystem, KitDomain, CaseState> {
  constructor(opts: SmmuAdapterOptions) {
    super(opts, { name: 'qemu-smmuv3', arch: 'SMMUv3', kitName: KIT_NAME, policies: POLICIES, topologies: TOPOLOGIES });
  }

  protected startMachine(): Promise<SmmuSystem> {
    return SmmuSystem.start(this.opts.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: SmmuSystem): Promise<CaseState> {
    const core = this.coreCase(t);
    const sids = sys.edus.map((_, i) => sys.sid(i));
    await sys.unit.reset(sids, (sid) => defaultSte(core.defaults[sids.indexOf(sid)] ?? 'blocked'));
    // ASIDs count up within a case and start again at 1 after the reset's TLBI_NSNH_ALL.
    return { ...core, nextAsid: 1 };
  }

  protected allocate(type: DomainKind, sys: SmmuSystem, st: CaseState): KitDomain {
    if (type !== 'paging') return { type, asid: 0, table: null, cd: 0n };
    const asid = st.nextAsid++;
    const table = new Stage1Table(sys.mem);
    const cd = sys.mem.alloc();
    encodeCd({ asid, ttb0: table.root, inputBits: table.inputBits, outputBits: OUTPUT_BITS }).forEach((w, i) => sys.mem.write64(cd + BigInt(i) * 8n, w));
    return { type, asid, table, cd };
  }

  protected async release(d: KitDomain, sys: SmmuSystem): Promise<void> {
    if (d.table) await sys.unit.submit([tlbiAsid(d.asid)], [`TLBI_NH_ASID asid=${d.asid}`]);
  }

  protected async place(sys: SmmuSystem, st: CaseState, i: number, d: KitDomain | null, inval: number): Promise<void> {
    const want = d ? steOf(d) : defaultSte(st.defaults[i]!);
    const sid = sys.sid(i);
    if (!sameSte(sys.unit.ste(sid), want)) await sys.unit.setSte(sid, want, configInvalidation(inval, sid));
  }

  protected setLeaves(d: KitDomain, iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    d.table!.setLeaves(iova, paddr, pgsize, count, prot);
  }

  protected async removeLeaves(sys: SmmuSystem, d: KitDomain, gone: readonly Interval[], inval: number | null): Promise<void> {
    const leaves = gone.flatMap(([lo, hi]) => d.table!.clearRange(lo, hi));
    await sys.mem.flush();
    if (inval === null) return;
    const sent = tlbInvalidations(inval, d.asid, leaves, sys.unit.features);
    await sys.unit.submit(sent.cmds, sent.labels);
  }

  protected async access(op: DmaOp, sys: SmmuSystem, st: CaseState): Promise<Outcome> {
    // The STEs carry no substreams (S1CDMax 0, and QEMU's SMMU has none): a PASID reaches nothing.
    if (op.pasid !== undefined || op.pasidOf !== undefined) return { err: 'FAULT', msg: 'no substreams (PASIDs) in this configuration' };
    const i = st.devices.get(op.dev);
    if (i === undefined) return { err: 'ENODEV' };
    const expect = this.expectation(st, sys, i, op.iova, op.access);
    const r = await sys.access(i, op.iova, op.access, expect?.phys ?? null, expect?.silent === true);
    if (r.faults.length > 0) return { err: 'FAULT', msg: r.faults.map(describeEvent).join('; ') };
    const verb = op.access === 'r' ? 'read' : 'write';
    if (!expect) return { ok: {} }; // nothing valid in the tables, and no event: it went through a cache, or nowhere
    const where = `0x${expect.phys.toString(16)}`;
    if (expect.permitted) {
      return r.reached === false ? { err: 'EIO', msg: `no event recorded, but the ${verb} did not reach ${where}, where the driver's tables point` } : { ok: {} };
    }
    if (r.reached === true) return { ok: {} };
    // An abort STE terminates silently (§5.2, STE.Config 0b000: no event is recorded).
    if (expect.silent) return { err: 'FAULT', msg: `abort STE: terminated with no event, as specified; ${r.reached === false ? `the ${verb} did not reach ${where}, where a bypass would take it` : `${where} is not RAM, so a bypass cannot be ruled out`}` };
    // The tables deny this access and the unit recorded no event: with CD.R set, a conforming
    // unit records one (§3.12.2, §7.3.15 F_PERMISSION).
    return { err: 'EIO', msg: `the tables do not permit this ${verb} and no event was recorded; ${r.reached === false ? `it did not reach ${where}` : `whether it reached ${where} cannot be seen (not plain RAM)`}` };
  }

  /** Where the driver's own configuration sends this access, whether it permits it, and whether a refusal is silent. */
  private expectation(st: CaseState, sys: SmmuSystem, i: number, iova: bigint, access: 'r' | 'w'): { phys: bigint; permitted: boolean; silent?: boolean } | null {
    const ste = sys.unit.ste(sys.sid(i));
    if (!ste) return null;
    if (ste.config === 'bypass') return { phys: iova, permitted: true };
    if (ste.config === 'abort') return { phys: iova, permitted: false, silent: true };
    const d = [...st.domains.values()].find((x) => x.cd === ste.cd);
    const tr = d?.table?.walk(iova);
    if (!tr) return null;
    return { phys: tr.phys, permitted: access === 'r' ? tr.read : tr.write };
  }
}

function steOf(d: KitDomain): Ste {
  if (d.type === 'blocked') return { config: 'abort' };
  if (d.type === 'identity') return { config: 'bypass' };
  return { config: 'stage1', cd: d.cd };
}

function defaultSte(kind: DefaultKind): Ste {
  return kind === 'identity' ? { config: 'bypass' } : { config: 'abort' };
}

function sameSte(a: Ste | undefined, b: Ste): boolean {
  return a !== undefined && a.config === b.config && (a.config !== 'stage1' || (b.config === 'stage1' && a.cd === b.cd));
}
