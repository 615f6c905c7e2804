// One RISC-V IOMMU driven the way Linux's drivers/iommu/riscv/iommu.c drives it
// (riscv_iommu_init(), riscv_iommu_queue_enable(), riscv_iommu_iodir_update(),
// riscv_iommu_cmd_sync()): a one-level device directory of extended contexts, a command queue
// whose batches each end with an IOFENCE.C whose store is checked, and a fault queue read back
// to classify a blocked access (§3.2).
//
// QEMU needs care here (docs/notes/qemu-riscv-iommu.md §0): the fault queue is on before DDTP
// leaves Off (gotcha 1), the command-queue tail is written with a 32-bit write (gotcha 12),
// DDTP goes through Off between directory modes and is read back (gotcha 13), and an overflowed
// fault queue drops every later record until FQOF is cleared (gotcha 11), so it is checked.

import type { GuestPages } from '../common/guest-pages.ts';
import type { Qtest } from '../common/qtest.ts';
import type { Label } from '../common/transcript.ts';
import { type Sent, configInvalidation } from './invalidation.ts';
import {
  CQCSR, type Capabilities, type Command, DC_BYTES, DDTP_MODE, type Dc, FAULT_BYTES, FQCSR, type Fault, REG,
  ddtpValue, decodeCapabilities, decodeFault, describeCommand, encodeDc, iodirInvalDdt, iofenceC, iotinvalVma, pscidOf, queueBase,
} from './regs.ts';

/** 256 commands of 16 bytes, 128 fault records of 32 bytes: one page each. */
const CQ_LOG2 = 8;
const FQ_LOG2 = 7;
const CQ_ENTRIES = 1 << CQ_LOG2;
const FQ_ENTRIES = 1 << FQ_LOG2;
/** A batch and its IOFENCE.C fill at most all but one entry: a tail that comes round to the head means empty. */
const BATCH = CQ_ENTRIES - 2;
/** A one-level directory of extended contexts indexes device_id[5:0] (§2.1.1): 64 devices. */
const DDT_DEVICES = 64;

export class RiscvIommuError extends Error {
  override name = 'RiscvIommuError';
}

export class RiscvIommuUnit {
  readonly caps: Capabilities;
  private ddt = 0n;
  private cq = 0n;
  private fq = 0n;
  private fence = 0n;
  private seq = 0;
  private cqTail = 0;
  private fqHead = 0;
  private enabled = false;
  private readonly dcs = new Map<number, Dc>();

  private constructor(
    private readonly qt: Qtest,
    private readonly mem: GuestPages,
    /** BAR0, where the registers are. */
    readonly base: bigint,
    caps: Capabilities,
  ) {
    this.caps = caps;
  }

  static async open(qt: Qtest, mem: GuestPages, base: bigint): Promise<RiscvIommuUnit> {
    const raw = BigInt(await qt.cmd(`readq 0x${base.toString(16)}`));
    const caps = decodeCapabilities(raw);
    if (caps.version !== 0x10) throw new RiscvIommuError(`no RISC-V IOMMU 1.0 at 0x${base.toString(16)} (capabilities read 0x${raw.toString(16)})`);
    if (!caps.sv48) throw new RiscvIommuError('the IOMMU has no Sv48 first stage, which this driver uses');
    return new RiscvIommuUnit(qt, mem, base, caps);
  }

  /**
   * Starts from nothing, as riscv_iommu_init(): DDTP Off, both queues off, then a fresh
   * directory with every device's context set to `initial`, the queues set and on (fault queue
   * first), DDTP to one level, and every cached context and translation invalidated.
   */
  async reset(deviceIds: readonly number[], initial: (deviceId: number) => Dc): Promise<void> {
    if (this.enabled) {
      await this.writeDdtp(DDTP_MODE.OFF);
      await this.qt.batch([`writel ${this.reg(REG.CQCSR)} 0x0`, `writel ${this.reg(REG.FQCSR)} 0x0`]);
    }
    this.enabled = false;
    this.mem.releaseAll();
    this.cq = this.mem.alloc();
    this.fq = this.mem.alloc();
    this.fence = this.mem.alloc();
    this.ddt = this.mem.alloc();
    this.dcs.clear();
    for (const id of deviceIds) this.writeDcWords(id, initial(id));
    await this.mem.flush();
    this.cqTail = 0;
    this.fqHead = 0;
    // Enabling a queue latches its base and zeroes its head and tail (§5.13, §5.14).
    const [fqcsr, cqcsr] = await this.qt.batch([
      `writeq ${this.reg(REG.FQB)} 0x${queueBase(this.fq, FQ_LOG2).toString(16)}`,
      `writel ${this.reg(REG.FQCSR)} 0x${FQCSR.FQEN.toString(16)}`,
      `writeq ${this.reg(REG.CQB)} 0x${queueBase(this.cq, CQ_LOG2).toString(16)}`,
      `writel ${this.reg(REG.CQCSR)} 0x${CQCSR.CQEN.toString(16)}`,
      `readl ${this.reg(REG.FQCSR)}`,
      `readl ${this.reg(REG.CQCSR)}`,
    ]).then((r) => r.slice(4).map((v) => Number(v) >>> 0));
    if (!(fqcsr! & FQCSR.FQON) || !(cqcsr! & CQCSR.CQON)) throw new RiscvIommuError(`the queues did not come on (fqcsr 0x${fqcsr!.toString(16)}, cqcsr 0x${cqcsr!.toString(16)})`);
    await this.writeDdtp(DDTP_MODE.LVL1);
    this.enabled = true;
    await this.submit([iodirInvalDdt(), iotinvalVma()]);
  }

  dc(deviceId: number): Dc | undefined {
    return this.dcs.get(deviceId);
  }

  /**
   * Replaces a device's context as riscv_iommu_iodir_update() does: a valid context is first
   * made invalid (tc.V cleared) and synced, then the rest is written and tc last, synced again.
   * Each sync is the invalidation given (by default what Linux sends).
   */
  async setDc(deviceId: number, next: Dc, sync?: Sent): Promise<void> {
    const old = this.dcs.get(deviceId);
    const how = sync ?? configInvalidation(0, deviceId, old ? pscidOf(old) : null);
    const at = this.dcAddress(deviceId);
    if (old && old.kind !== 'blocked') {
      this.mem.write64(at, 0n);
      await this.mem.flush();
      await this.submit(how.cmds);
    }
    const words = encodeDc(next);
    for (let i = 1; i < words.length; i++) this.mem.write64(at + BigInt(i) * 8n, words[i]!);
    await this.mem.flush();
    this.mem.write64(at, words[0]!);
    await this.mem.flush();
    this.dcs.set(deviceId, next);
    await this.submit(how.cmds);
  }

  /**
   * Replaces the context of a device known to be idle in one write and one IODIR.INVAL_DDT for
   * it, which leaves cached translations alone (§3.1.3). The kit's read-back uses it.
   */
  async setDcQuiesced(deviceId: number, next: Dc): Promise<void> {
    this.writeDcWords(deviceId, next);
    await this.submit([iodirInvalDdt(deviceId)]); // its flush writes the context first
  }

  /**
   * Sends commands in batches, each closed by an IOFENCE.C with AV whose 32-bit store is then
   * checked; a command the unit refuses (cqcsr.cmd_ill, cqmf) is a driver error, thrown with
   * what the batch sent. QEMU runs the queue inside the tail write; hardware takes a while, hence the poll.
   */
  async submit(cmds: readonly Command[]): Promise<void> {
    for (let from = 0; from < cmds.length || from === 0; from += BATCH) {
      const data = (this.seq = (this.seq + 1) >>> 0);
      const batch = [...cmds.slice(from, from + BATCH), iofenceC(this.fence, data)];
      for (const [w0, w1] of batch) {
        const at = this.cq + BigInt(this.cqTail) * 16n;
        this.mem.write64(at, w0);
        this.mem.write64(at + 8n, w1);
        this.cqTail = (this.cqTail + 1) % CQ_ENTRIES;
      }
      // Sent together: qtest runs them in order, so the first poll reads the fence after the tail write.
      const written = Promise.all([this.mem.flush(), this.qt.cmd(`writel ${this.reg(REG.CQT)} 0x${this.cqTail.toString(16)}`)]);
      const polled = this.qt.poll([`readl 0x${this.fence.toString(16)}`, `readl ${this.reg(REG.CQCSR)}`], [
        { reply: 0, mask: 0xffff_ffffn, op: '==', value: BigInt(data) },
        { reply: 1, mask: BigInt(CQCSR.CMD_ILL | CQCSR.CQMF), op: '!=', value: 0n },
      ], 100);
      const [, done] = await Promise.all([written, polled]);
      const what = batch.map(describeCommand).join(', ');
      if (!done) throw new RiscvIommuError(`the command queue never reached its IOFENCE.C (sent ${what})`);
      const csr = Number(done[1]) >>> 0;
      if (csr & (CQCSR.CMD_ILL | CQCSR.CQMF)) throw new RiscvIommuError(`the command queue stopped (cqcsr 0x${csr.toString(16)}: ${csr & CQCSR.CMD_ILL ? 'illegal command' : 'memory fault'}) in a batch sending ${what}`);
      if (cmds.length === 0) break;
    }
  }

  /**
   * The fault records written since the last call, consumed (FQH moved to the tail). For a
   * reproducer, the tail read carries `label`, with where the driver had consumed to, and the
   * first record's header and iotval carry `record` (`<record>_header`, `<record>_iotval`).
   */
  async takeFaults(label?: Label, record?: string): Promise<Fault[]> {
    const [tailReply, csrReply] = await Promise.all([
      this.qt.cmd(`readl ${this.reg(REG.FQT)}`, label && { ...label, facts: { ...label.facts, head: BigInt(this.fqHead) } }),
      this.qt.cmd(`readl ${this.reg(REG.FQCSR)}`),
    ]);
    const tail = Number(tailReply) >>> 0;
    const csr = Number(csrReply) >>> 0;
    if (csr & (FQCSR.FQOF | FQCSR.FQMF)) throw new RiscvIommuError(`the fault queue ${csr & FQCSR.FQOF ? 'overflowed' : 'took a memory fault'} (fqcsr 0x${csr.toString(16)}): records were lost`);
    if (tail >= FQ_ENTRIES) throw new RiscvIommuError(`FQT ${tail} is past the ${FQ_ENTRIES}-entry fault queue`);
    const lines: string[] = [];
    for (let at = this.fqHead; at !== tail; at = (at + 1) % FQ_ENTRIES) {
      const rec = this.fq + BigInt(at) * FAULT_BYTES;
      lines.push(`readq 0x${rec.toString(16)}`, `readq 0x${(rec + 16n).toString(16)}`, `readq 0x${(rec + 24n).toString(16)}`);
    }
    if (lines.length === 0) return [];
    const labels = record ? [{ name: `${record}_header` }, { name: `${record}_iotval` }] : [];
    const words = (await Promise.all(lines.map((l, i) => this.qt.cmd(l, labels[i])))).map((v) => BigInt(v));
    const faults: Fault[] = [];
    for (let i = 0; i < words.length; i += 3) faults.push(decodeFault(words[i]!, words[i + 1]!, words[i + 2]!));
    this.fqHead = tail;
    await this.qt.cmd(`writel ${this.reg(REG.FQH)} 0x${tail.toString(16)}`);
    return faults;
  }

  private dcAddress(deviceId: number): bigint {
    if (deviceId >= DDT_DEVICES) throw new RangeError(`device_id 0x${deviceId.toString(16)} is past the one-level directory`);
    return this.ddt + BigInt(deviceId) * DC_BYTES;
  }

  private writeDcWords(deviceId: number, d: Dc): void {
    const at = this.dcAddress(deviceId);
    encodeDc(d).forEach((w, i) => this.mem.write64(at + BigInt(i) * 8n, w));
    this.dcs.set(deviceId, d);
  }

  /** DDTP written whole and read back: QEMU refuses some transitions without a trace (gotcha 13). */
  private async writeDdtp(mode: bigint): Promise<void> {
    const want = mode === DDTP_MODE.OFF ? 0n : ddtpValue(this.ddt, mode);
    await this.qt.cmd(`writeq ${this.reg(REG.DDTP)} 0x${want.toString(16)}`);
    const got = BigInt(await this.qt.cmd(`readq ${this.reg(REG.DDTP)}`));
    if (got !== want) throw new RiscvIommuError(`DDTP reads 0x${got.toString(16)} after writing 0x${want.toString(16)}`);
  }

  private reg(off: number): string {
    return `0x${(this.base + BigInt(off)).toString(16)}`;
  }
}
