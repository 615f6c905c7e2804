// One VT-d remapping unit driven the way Linux's intel-iommu driver drives it in legacy mode:
// a root table and a context table for bus 0 (§3.4.2), queued invalidation (§6.5.2) with every
// batch closed by a wait descriptor whose status write is polled (Linux: qi_submit_sync() in
// drivers/iommu/intel/dmar.c), and the fault recording registers read back to classify a
// blocked access (§7.2.1).
//
// The global command register is written as Linux does (iommu->gcmd): a shadow of the
// persistent bits (TE, QIE) ORed with at most one one-shot bit, since a unit compares what is
// written with its status (§11.4.4) and a write that omits TE turns translation off.

import type { GuestPages } from '../common/guest-pages.ts';
import type { Qtest } from '../common/qtest.ts';
import type { Label } from '../common/transcript.ts';
import {
  type Capability, type ContextEntry, type Descriptor, type ExtCapability, type FaultRecord, FSTS, GCMD, GSTS, REG, VTD_BASE,
  decodeCap, decodeEcap, decodeFaultRecord, describeFault, encodeContext, waitDescriptor,
} from './regs.ts';

/** 256 descriptors of 16 bytes: one 4 KiB page (IQA.QS = 0). */
const QUEUE_ENTRIES = 256;

export class VtdError extends Error {
  override name = 'VtdError';
}

export class VtdUnit {
  readonly cap: Capability;
  readonly ecap: ExtCapability;
  private gcmd = 0;
  private root = 0n;
  private context = 0n;
  private queue = 0n;
  private status = 0n;
  private tail = 0;
  private seq = 0;

  private constructor(
    private readonly qt: Qtest,
    private readonly mem: GuestPages,
    cap: bigint,
    ecap: bigint,
  ) {
    this.cap = decodeCap(cap);
    this.ecap = decodeEcap(ecap);
  }

  static async open(qt: Qtest, mem: GuestPages): Promise<VtdUnit> {
    const [ver, cap, ecap] = await qt.batch([`readl ${reg(REG.VER)}`, `readq ${reg(REG.CAP)}`, `readq ${reg(REG.ECAP)}`]);
    if ((Number(ver) >>> 0) === 0 || (Number(ver) >>> 0) === 0xffffffff) throw new VtdError(`no VT-d unit at 0x${VTD_BASE.toString(16)} (VER reads ${ver})`);
    const unit = new VtdUnit(qt, mem, BigInt(cap!), BigInt(ecap!));
    if (!unit.ecap.queuedInvalidation) throw new VtdError('the unit has no queued invalidation (ECAP.QI), which this driver needs');
    return unit;
  }

  /**
   * Starts from nothing: fresh root and context tables (every device without a context entry),
   * the invalidation queue on, and translation enabled. Setting the root table pointer drops
   * every cached context and translation (§6.5.1, and QEMU's vtd_reset_caches()); the global
   * invalidations after it are what Linux's iommu_set_root_entry() sends without ESRTPS.
   */
  async reset(): Promise<void> {
    this.mem.releaseAll();
    // The queue and its status word first, so they sit at the same addresses in every case.
    this.queue = this.mem.alloc();
    this.status = this.mem.alloc();
    this.root = this.mem.alloc();
    this.context = this.mem.alloc();
    this.mem.write64(this.root, this.context | 1n); // bus 0 present
    await this.mem.flush();
    if (!(this.gcmd & GCMD.QIE)) {
      await this.qt.batch([`writel ${reg(REG.IQT)} 0x0`, `writeq ${reg(REG.IQA)} 0x${this.queue.toString(16)}`]);
      this.tail = 0;
      await this.command(GCMD.QIE, GSTS.QIES, true);
    }
    await this.qt.cmd(`writeq ${reg(REG.RTADDR)} 0x${this.root.toString(16)}`);
    await this.command(GCMD.SRTP, GSTS.RTPS, false);
    await this.clearFaults();
    if (!(this.gcmd & GCMD.TE)) await this.command(GCMD.TE, GSTS.TES, true);
  }

  /** Writes (or, with null, clears) the context entry of bus 0's `devfn`. No invalidation: the caller decides. */
  async setContext(devfn: number, entry: ContextEntry | null): Promise<void> {
    const at = this.context + BigInt(devfn) * 16n;
    if (entry === null) {
      this.mem.write64(at, 0n);
      this.mem.write64(at + 8n, 0n);
    } else {
      const [lo, hi] = encodeContext(entry);
      // The upper half first, the present bit last (Linux: context_set_present() after the rest).
      this.mem.write64(at + 8n, hi);
      await this.mem.flush();
      this.mem.write64(at, lo);
    }
    await this.mem.flush();
  }

  /** Clears the present bit of a context entry, leaving the rest (Linux's domain_context_clear_one()). */
  async clearContextPresent(devfn: number): Promise<void> {
    const at = this.context + BigInt(devfn) * 16n;
    this.mem.write64(at, this.mem.read64(at) & ~1n);
    await this.mem.flush();
  }

  /**
   * Queues the descriptors and a wait, and waits for the wait's status write. QEMU runs the
   * queue inside the tail write; a hardware unit would take a while, hence the polls.
   */
  async invalidate(descs: readonly Descriptor[], labels: readonly string[]): Promise<void> {
    const data = ++this.seq;
    this.mem.write64(this.status, 0n);
    for (const d of [...descs, waitDescriptor(this.status, data)]) {
      const at = this.queue + BigInt(this.tail) * 16n;
      this.mem.write64(at, d[0]);
      this.mem.write64(at + 8n, d[1]);
      this.tail = (this.tail + 1) % QUEUE_ENTRIES;
    }
    await this.mem.flush();
    await this.qt.cmd(`writeq ${reg(REG.IQT)} 0x${(this.tail << 4).toString(16)}`);
    // Until the wait's status write shows, or the unit reports a queue error.
    const last = await this.qt.poll([`readl 0x${this.status.toString(16)}`, `readl ${reg(REG.FSTS)}`], [
      { reply: 0, mask: 0xffff_ffffn, op: '==', value: BigInt(data) },
      { reply: 1, mask: BigInt(FSTS.IQE), op: '!=', value: 0n },
    ], 100);
    if (!last) throw new VtdError(`the invalidation wait never completed (sent ${labels.join(', ')})`);
    if ((Number(last[0]) >>> 0) === data) return;
    const head = await this.qt.cmd(`readq ${reg(REG.IQH)}`);
    throw new VtdError(`invalidation queue error (FSTS.IQE) at descriptor ${Number(BigInt(head) >> 4n)} while sending ${labels.join(', ')}`);
  }

  /**
   * The first fault record (there may be only one, §11.4.14), read and left as it is; sent at
   * once, so it shares a round trip with what else is sent now. `label` marks the upper qword
   * (F is bit 63) as the read that classifies an access.
   */
  readFault(label?: Label): Promise<FaultRecord | null> {
    const at = VTD_BASE + BigInt(this.cap.faultRecordOffset);
    return Promise.all([this.qt.cmd(`readq 0x${at.toString(16)}`), this.qt.cmd(`readq 0x${(at + 8n).toString(16)}`, label)])
      .then(([lo, hi]) => decodeFaultRecord(BigInt(lo), BigInt(hi)));
  }

  /** Clears the fault records' F bits and the overflow (both write-1-to-clear). */
  async clearFaults(): Promise<void> {
    const lines: string[] = [];
    for (let i = 0; i < this.cap.faultRecords; i++) {
      const hiUpper = VTD_BASE + BigInt(this.cap.faultRecordOffset + 16 * i + 12);
      lines.push(`writel 0x${hiUpper.toString(16)} 0x80000000`);
    }
    lines.push(`writel ${reg(REG.FSTS)} 0x${FSTS.PFO.toString(16)}`);
    await this.qt.batch(lines);
  }

  describe(f: FaultRecord): string {
    return describeFault(f);
  }

  /** Sets (persistent) or pulses (one-shot) a global command bit and checks the unit took it. */
  private async command(bit: number, statusBit: number, persistent: boolean): Promise<void> {
    const value = (this.gcmd | bit) >>> 0;
    if (persistent) this.gcmd = value;
    await this.qt.cmd(`writel ${reg(REG.GCMD)} 0x${value.toString(16)}`);
    const sts = Number(await this.qt.cmd(`readl ${reg(REG.GSTS)}`)) >>> 0;
    if (!(sts & statusBit)) throw new VtdError(`GSTS 0x${sts.toString(16)} does not show bit 0x${(statusBit >>> 0).toString(16)} after GCMD 0x${value.toString(16)}`);
  }
}

function reg(off: number): string {
  return `0x${(VTD_BASE + BigInt(off)).toString(16)}`;
}
