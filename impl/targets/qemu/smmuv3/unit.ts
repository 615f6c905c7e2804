// One SMMUv3 driven the way Linux's arm-smmu-v3 drives it (arm_smmu_device_reset(),
// arm_smmu_write_entry(), arm_smmu_cmdq_issue_cmdlist()): a linear stream table, a command queue
// whose batches each end with a CMD_SYNC and are complete when CMDQ_CONS passes it (§4.7, §3.5),
// and an event queue read back to classify a blocked access (§7.2).
//
// Registers take 32- or 64-bit accesses only, and QEMU ignores a 64-bit write to a 32-bit
// register (docs/notes/qemu-smmuv3.md §0.6): every access here is at the register's own width.

import type { GuestPages } from '../common/guest-pages.ts';
import type { Qtest } from '../common/qtest.ts';
import type { Label } from '../common/transcript.ts';
import { type Sent, configInvalidation } from './invalidation.ts';
import {
  CERROR, CR0, type Command, EVENT_BYTES, type Event, type Features, REG, SMMU_BASE, STE_WORDS, type Ste,
  cfgiAll, cfgiSte, decodeEvent, decodeFeatures, encodeSte, sync, tlbiNsnhAll,
} from './regs.ts';

/** 64 STEs of 64 bytes: one 4 KiB page, enough for the requester IDs of bus 0's first 8 slots. */
const STRTAB_LOG2 = 6;
/** 256 commands of 16 bytes, 128 events of 32 bytes: one page each. */
const CMDQ_LOG2 = 8;
const EVTQ_LOG2 = 7;
/** CMDQ_CONS.ERR, bits 30:24 (§6.3.27). */
const CONS_ERR = 0x7f00_0000n;
/** A batch leaves room for its CMD_SYNC. */
const BATCH = (1 << CMDQ_LOG2) - 1;

export class SmmuError extends Error {
  override name = 'SmmuError';
}

export class SmmuUnit {
  readonly features: Features;
  private strtab = 0n;
  private cmdq = 0n;
  private evtq = 0n;
  /** Our copies of the queue pointers (index with the wrap bit above it). */
  private cmdProd = 0;
  private evtCons = 0;
  private enabled = false;
  private readonly stes = new Map<number, Ste>();

  private constructor(
    private readonly qt: Qtest,
    private readonly mem: GuestPages,
    features: Features,
  ) {
    this.features = features;
  }

  static async open(qt: Qtest, mem: GuestPages): Promise<SmmuUnit> {
    const [idr0, idr1, idr3, idr5] = (await qt.batch([REG.IDR0, REG.IDR1, REG.IDR3, REG.IDR5].map((r) => `readl ${reg(r)}`))).map((v) => Number(v) >>> 0);
    if (idr0 === 0 || idr0 === 0xffffffff) throw new SmmuError(`no SMMUv3 at 0x${SMMU_BASE.toString(16)} (IDR0 reads 0x${idr0!.toString(16)})`);
    const f = decodeFeatures(idr0!, idr1!, idr3!, idr5!);
    if (!f.stage1 || !f.granule4k) throw new SmmuError('the SMMU has no stage-1 translation with 4 KiB granules, which this driver needs');
    return new SmmuUnit(qt, mem, f);
  }

  /**
   * Starts from nothing, as arm_smmu_device_reset(): the unit off, a fresh stream table with
   * every device's STE set to `initial` (Linux fills a new table with abort STEs), the queues
   * empty and on, every cached configuration and translation invalidated (CFGI_ALL,
   * TLBI_NSNH_ALL), then SMMUEN. A unit that stays on across cases is turned off first, so the
   * new table is never read half-written.
   */
  async reset(sids: readonly number[], initial: (sid: number) => Ste): Promise<void> {
    if (this.enabled) await this.writeCr0(CR0.CMDQEN | CR0.EVTQEN);
    this.enabled = false;
    this.mem.releaseAll();
    this.cmdq = this.mem.alloc();
    this.evtq = this.mem.alloc();
    this.strtab = this.mem.alloc();
    this.stes.clear();
    for (const sid of sids) this.writeSteWords(sid, initial(sid));
    await this.mem.flush();
    await this.writeCr0(0);
    this.cmdProd = 0;
    this.evtCons = 0;
    await this.qt.batch([
      `writeq ${reg(REG.STRTAB_BASE)} 0x${this.strtab.toString(16)}`,
      `writel ${reg(REG.STRTAB_BASE_CFG)} 0x${STRTAB_LOG2.toString(16)}`, // FMT linear
      `writeq ${reg(REG.CMDQ_BASE)} 0x${(this.cmdq | BigInt(CMDQ_LOG2)).toString(16)}`,
      `writel ${reg(REG.CMDQ_PROD)} 0x0`,
      `writel ${reg(REG.CMDQ_CONS)} 0x0`,
      `writeq ${reg(REG.EVTQ_BASE)} 0x${(this.evtq | BigInt(EVTQ_LOG2)).toString(16)}`,
      `writel ${reg(REG.EVTQ_PROD)} 0x0`,
      `writel ${reg(REG.EVTQ_CONS)} 0x0`,
    ]);
    await this.acknowledgeErrors();
    await this.writeCr0(CR0.CMDQEN | CR0.EVTQEN);
    await this.submit([cfgiAll(), tlbiNsnhAll()], ['CFGI_ALL', 'TLBI_NSNH_ALL']);
    await this.writeCr0(CR0.CMDQEN | CR0.EVTQEN | CR0.SMMUEN);
    this.enabled = true;
  }

  ste(sid: number): Ste | undefined {
    return this.stes.get(sid);
  }

  /**
   * Replaces a device's STE as arm_smmu_write_entry() does when no hitless update exists: V
   * cleared and synced, the rest written, then the first word, synced again; each sync is the
   * configuration invalidation given (CFGI_STE by default) and a CMD_SYNC.
   */
  async setSte(sid: number, next: Ste, sync: Sent = configInvalidation(0, sid)): Promise<void> {
    const at = this.steAddress(sid);
    this.mem.write64(at, 0n);
    await this.mem.flush();
    await this.submit(sync.cmds, sync.labels);
    const words = encodeSte(next);
    for (let i = 1; i < STE_WORDS; i++) this.mem.write64(at + BigInt(i) * 8n, words[i]!);
    await this.mem.flush();
    this.mem.write64(at, words[0]!);
    this.stes.set(sid, next);
    await this.mem.flush();
    await this.submit(sync.cmds, sync.labels);
  }

  /**
   * Replaces the STE of a device known to be idle (no DMA in flight, none started until this
   * returns) in one write and one CFGI_STE: with nothing translating meanwhile, no
   * transaction can see it half-written. The kit's read-back uses it; attach does not.
   */
  async setSteQuiesced(sid: number, next: Ste): Promise<void> {
    this.writeSteWords(sid, next);
    await this.mem.flush();
    await this.submit([cfgiSte(sid)], [`CFGI_STE sid=0x${sid.toString(16)}`]);
  }

  /**
   * Sends commands in batches, each closed by a CMD_SYNC, and waits for CONS to pass it. A
   * command the unit refuses (CONS.ERR, GERROR.CMDQ_ERR) is a driver error, thrown with its label.
   */
  async submit(cmds: readonly Command[], labels: readonly string[]): Promise<void> {
    for (let from = 0; from < cmds.length; from += BATCH) {
      const batch = [...cmds.slice(from, from + BATCH), sync()];
      const size = 1 << CMDQ_LOG2;
      const first = this.cmdProd & (size - 1);
      for (const [w0, w1] of batch) {
        const at = this.cmdq + BigInt(this.cmdProd & (size - 1)) * 16n;
        this.mem.write64(at, w0);
        this.mem.write64(at + 8n, w1);
        this.cmdProd = (this.cmdProd + 1) & ((size << 1) - 1); // index and wrap bit
      }
      await this.mem.flush();
      await this.qt.cmd(`writel ${reg(REG.CMDQ_PROD)} 0x${this.cmdProd.toString(16)}`);
      // Until CONS passes the CMD_SYNC, or reports why it stopped (CONS.ERR, with GERROR.CMDQ_ERR).
      const last = await this.qt.poll([`readl ${reg(REG.CMDQ_CONS)}`], [
        { reply: 0, mask: BigInt((size << 1) - 1), op: '==', value: BigInt(this.cmdProd) },
        { reply: 0, mask: CONS_ERR, op: '!=', value: 0n },
      ], 100);
      if (!last) throw new SmmuError(`the command queue never reached its CMD_SYNC (sent ${labels.join(', ')})`);
      const cons = Number(last[0]) >>> 0;
      if (BigInt(cons) & CONS_ERR) {
        const why = CERROR[(cons >>> 24) & 0x7f] ?? `error ${(cons >>> 24) & 0x7f}`;
        const entry = ((cons & (size - 1)) - first + size) % size;
        throw new SmmuError(`the command queue stopped with ${why} at command ${entry} of a batch sending ${[...labels.slice(from, from + BATCH), 'CMD_SYNC'].join(', ')}`);
      }
    }
  }

  /**
   * The events recorded since the last call, consumed (EVTQ_CONS moved past them). Sent at once,
   * so the first read shares a round trip with what else is sent now.
   */
  async takeEvents(label?: Label): Promise<Event[]> {
    const size = 1 << EVTQ_LOG2;
    const prod = Number(await this.qt.cmd(`readl ${reg(REG.EVTQ_PROD)}`, label && { ...label, facts: { ...label.facts, cons: BigInt(this.evtCons), index: BigInt((size << 1) - 1) } })) >>> 0;
    const events: Event[] = [];
    const lines: string[] = [];
    for (let c = this.evtCons; (c & ((size << 1) - 1)) !== (prod & ((size << 1) - 1)); c = (c + 1) & ((size << 1) - 1)) {
      const at = this.evtq + BigInt(c & (size - 1)) * EVENT_BYTES;
      lines.push(`readq 0x${at.toString(16)}`, `readq 0x${(at + 8n).toString(16)}`, `readq 0x${(at + 16n).toString(16)}`);
      if (lines.length > 3 * size) break;
    }
    if (lines.length === 0) return events;
    const words = (await this.qt.batch(lines)).map((v) => BigInt(v));
    for (let i = 0; i < words.length; i += 3) events.push(decodeEvent(words[i]!, words[i + 1]!, words[i + 2]!));
    this.evtCons = prod & ((size << 1) - 1);
    await this.qt.cmd(`writel ${reg(REG.EVTQ_CONS)} 0x${this.evtCons.toString(16)}`);
    return events;
  }

  /** Global errors the unit reports, acknowledged (GERRORN made equal to GERROR). */
  async acknowledgeErrors(): Promise<number> {
    const [gerror, gerrorn] = (await this.qt.batch([`readl ${reg(REG.GERROR)}`, `readl ${reg(REG.GERRORN)}`])).map((v) => Number(v) >>> 0);
    const active = (gerror! ^ gerrorn!) >>> 0;
    if (active) await this.qt.cmd(`writel ${reg(REG.GERRORN)} 0x${gerror!.toString(16)}`);
    return active;
  }

  private steAddress(sid: number): bigint {
    if (sid >= 1 << STRTAB_LOG2) throw new RangeError(`stream ID 0x${sid.toString(16)} is past the stream table`);
    return this.strtab + BigInt(sid) * 64n;
  }

  private writeSteWords(sid: number, ste: Ste): void {
    const at = this.steAddress(sid);
    const words = encodeSte(ste);
    for (let i = 0; i < STE_WORDS; i++) this.mem.write64(at + BigInt(i) * 8n, words[i]!);
    this.stes.set(sid, ste);
  }

  private async writeCr0(value: number): Promise<void> {
    await this.qt.cmd(`writel ${reg(REG.CR0)} 0x${value.toString(16)}`);
    const ack = Number(await this.qt.cmd(`readl ${reg(REG.CR0ACK)}`)) >>> 0;
    if (ack !== value) throw new SmmuError(`CR0ACK reads 0x${ack.toString(16)} after CR0 = 0x${value.toString(16)}`);
  }
}

function reg(off: number): string {
  return `0x${(SMMU_BASE + BigInt(off)).toString(16)}`;
}
