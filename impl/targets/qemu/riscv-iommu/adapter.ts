// QEMU's RISC-V IOMMU through the guest-driver kit (../common/kit-adapter.ts). As for VT-d,
// SMMUv3 and AMD-Vi, the kit's core layer (common/kit-core.ts) answers every op but a device
// access, under the policies of Linux's RISC-V IOMMU page tables (an unmap removes every leaf it
// touches whole; there is no write-only leaf, so a write-only mapping reads), and QEMU is judged
// on what the unit does with what the driver programs: every `dma` is a real edu access,
// answered from the fault queue and from where the byte went (system.ts verifies reads too).
//
// The driver follows Linux's drivers/iommu/riscv/iommu.c:
// - a paging domain is a PSCID and Sv48 tables; attaching it writes the device's context
//   (fsc = Sv48 | root, ta.PSCID, tc.V; riscv_iommu_attach_paging_domain()); identity is a Bare
//   context, blocked one with tc.V clear (riscv_iommu_attach_identity_domain(),
//   riscv_iommu_attach_blocking_domain());
// - a context changes with tc.V cleared first, each step followed by the invalidation the suite
//   drew (invalidation.ts: IODIR.INVAL_DDT for the device and IOTINVAL.VMA for the old PSCID, as
//   Linux, or both for everything) and IOFENCE.C;
// - map writes leaves and sends nothing, as Linux (QEMU caches no invalid entry);
// - unmap clears leaves, then sends the IOTINVAL.VMA the suite drew (invalidation.ts);
// - freeing a domain invalidates its PSCID (riscv_iommu_bond_unlink() on the last bond).
//
// A fault record must describe the access it refuses (§3.2): the device_id, the IOVA in iotval,
// the transaction type, and the cause the walk of §2.3 gives (a page fault of the access's kind,
// or 258 for an invalid context). A record that says otherwise is answered EIO, "misreports".

import { type DmaOp, type Outcome, type Topology } from '../../../../spec/index.ts';
import { type DomainKind, GuestDriverKit, type KitCase, type KitOptions } from '../common/kit-adapter.ts';
import type { Interval } from '../common/kit-core.ts';
import type { DefaultKind } from '../common/kit-topologies.ts';
import { configInvalidation, tlbInvalidations } from './invalidation.ts';
import { FirstStageTable } from './pgtable.ts';
import { CAUSE, type Dc, type Fault, TTYP, describeFault, iotinvalVma, pscidOf, sameDc } from './regs.ts';
import { RiscvIommuSystem } from './system.ts';
import { MODE, TOPOLOGIES } from './topologies.ts';

const POLICIES = { partial_unmap: 'whole-leaf', write_only_read: 'allow' } as const;

export const KIT_NAME = 'iommu-conformance RISC-V IOMMU guest driver (core layer: the reference API semantics)';

interface KitDomain {
  type: DomainKind;
  pscid: number;
  table: FirstStageTable | null;
}

interface CaseState extends KitCase<KitDomain> {
  nextPscid: number;
}

export type RiscvIommuAdapterOptions = KitOptions;

export class QemuRiscvIommuAdapter extends GuestDriverKit<RiscvIommuSystem, KitDomain, CaseState> {
  constructor(opts: RiscvIommuAdapterOptions) {
    super(opts, { name: 'qemu-riscv-iommu', arch: 'RISC-V IOMMU', kitName: KIT_NAME, policies: POLICIES, topologies: TOPOLOGIES });
  }

  protected startMachine(): Promise<RiscvIommuSystem> {
    return RiscvIommuSystem.start(this.opts.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: RiscvIommuSystem): Promise<CaseState> {
    const core = this.coreCase(t);
    const ids = sys.edus.map((_, i) => sys.deviceId(i));
    await sys.unit.reset(ids, (id) => defaultDc(core.defaults[ids.indexOf(id)] ?? 'blocked'));
    // PSCIDs count up within a case and start again at 1 after the reset's IOTINVAL.VMA for everything.
    return { ...core, nextPscid: 1 };
  }

  protected allocate(type: DomainKind, sys: RiscvIommuSystem, st: CaseState): KitDomain {
    if (type !== 'paging') return { type, pscid: 0, table: null };
    return { type, pscid: st.nextPscid++, table: new FirstStageTable(sys.mem, MODE) };
  }

  protected async release(d: KitDomain, sys: RiscvIommuSystem): Promise<void> {
    if (d.table) await sys.unit.submit([iotinvalVma({ pscid: d.pscid })]);
  }

  protected async place(sys: RiscvIommuSystem, st: CaseState, i: number, d: KitDomain | null, inval: number): Promise<void> {
    const want = d ? dcOf(d) : defaultDc(st.defaults[i]!);
    const id = sys.deviceId(i);
    const old = sys.unit.dc(id);
    if (sameDc(old, want)) return;
    await sys.unit.setDc(id, want, configInvalidation(inval, id, old ? pscidOf(old) : null));
  }

  protected setLeaves(d: KitDomain, iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    d.table!.setLeaves(iova, paddr, pgsize, count, prot);
  }

  protected async removeLeaves(sys: RiscvIommuSystem, d: KitDomain, gone: readonly Interval[], inval: number | null): Promise<void> {
    const leaves = gone.flatMap(([lo, hi]) => d.table!.clearRange(lo, hi));
    await sys.mem.flush();
    if (inval === null) return;
    await sys.unit.submit(tlbInvalidations(inval, d.pscid, leaves).cmds);
  }

  protected async access(op: DmaOp, sys: RiscvIommuSystem, st: CaseState): Promise<Outcome> {
    // The contexts carry no process directory (tc.PDTV = 0): a PASID-tagged request reaches nothing.
    if (op.pasid !== undefined || op.pasidOf !== undefined) return { err: 'FAULT', msg: 'no process directory (PASIDs) in this configuration' };
    const i = st.devices.get(op.dev);
    if (i === undefined) return { err: 'ENODEV' };
    const dc = sys.unit.dc(sys.deviceId(i));
    const expect = this.expectation(st, dc, op.iova, op.access);
    const r = await sys.access(i, op.iova, op.access, expect?.phys ?? null);
    const verb = op.access === 'r' ? 'read' : 'write';
    if (r.faults.length > 0) {
      const wrong = r.faults.flatMap((f) => recordErrors(f, sys.deviceId(i), dc, op.iova, op.access));
      const records = r.faults.map(describeFault).join('; ');
      if (wrong.length > 0) return { err: 'EIO', msg: `the unit wrote ${records}, which misreports this ${verb} of 0x${op.iova.toString(16)}: ${[...new Set(wrong)].join('; ')}` };
      return { err: 'FAULT', msg: records };
    }
    if (!expect) return { ok: {} }; // nothing valid in the tables, and no record: it went through a cache, or nowhere
    const where = `0x${expect.phys.toString(16)}`;
    if (expect.permitted) {
      return r.reached === false ? { err: 'EIO', msg: `no fault recorded, but the ${verb} did not reach ${where}, where the driver's tables point` } : { ok: {} };
    }
    if (r.reached === true) return { ok: {} };
    // The context or tables deny this access and the unit wrote no record: a conforming unit
    // reports it in the fault queue (§2.3, §3.2; tc.DTF is clear).
    return { err: 'EIO', msg: `the ${expect.blocked ? 'invalid context (tc.V clear)' : 'tables'} do not permit this ${verb} and no fault was recorded; ${r.reached === false ? `it did not reach ${where}` : `whether it reached ${where} cannot be seen (not plain RAM)`}` };
  }

  /** Where the driver's own configuration sends this access, and whether it permits it. */
  private expectation(st: CaseState, dc: Dc | undefined, iova: bigint, access: 'r' | 'w'): { phys: bigint; permitted: boolean; blocked?: boolean } | null {
    if (!dc) return null;
    if (dc.kind === 'bare') return { phys: iova, permitted: true };
    if (dc.kind === 'blocked') return { phys: iova, permitted: false, blocked: true };
    const d = [...st.domains.values()].find((x) => x.table?.root === dc.root);
    const tr = d?.table?.walk(iova);
    if (!tr) return null;
    return { phys: tr.phys, permitted: access === 'r' ? tr.read : tr.write };
  }
}

/** How a fault record fails to describe a refused access by `deviceId` at `iova` through context `dc`. */
export function recordErrors(f: Fault, deviceId: number, dc: Dc | undefined, iova: bigint, access: 'r' | 'w'): string[] {
  const out: string[] = [];
  if (f.did !== deviceId) out.push(`device_id 0x${f.did.toString(16)}, not 0x${deviceId.toString(16)}`);
  if (f.iotval !== iova) out.push(`iotval 0x${f.iotval.toString(16)}, not the IOVA 0x${iova.toString(16)}`);
  const ttyp = access === 'r' ? TTYP.UNTRANSLATED_READ : TTYP.UNTRANSLATED_WRITE;
  if (f.ttyp !== ttyp) out.push(`ttyp ${f.ttyp}, not ${ttyp} (untranslated ${access === 'r' ? 'read' : 'write'})`);
  // §2.3: an invalid context is "DDT entry not valid"; a walk that finds no permitting leaf is a page fault of the access's kind.
  const cause = dc?.kind === 'blocked' ? CAUSE.DDT_INVALID : access === 'r' ? CAUSE.READ_PAGE_FAULT : CAUSE.WRITE_PAGE_FAULT;
  if (f.cause !== cause) out.push(`cause ${f.cause}, not ${cause}`);
  return out;
}

function dcOf(d: KitDomain): Dc {
  if (d.type === 'blocked') return { kind: 'blocked' };
  if (d.type === 'identity') return { kind: 'bare' };
  return { kind: 'translate', root: d.table!.root, mode: MODE, pscid: d.pscid };
}

function defaultDc(kind: DefaultKind): Dc {
  return kind === 'identity' ? { kind: 'bare' } : { kind: 'blocked' };
}
