// One AMD IOMMU driven the way Linux's amd_iommu driver drives it (drivers/iommu/amd/init.c
// early_enable_iommu(), iommu.c iommu_queue_command(), iommu_completion_wait()): a device table,
// a command buffer whose batches each end with a COMPLETION_WAIT store that is checked, and an
// event log read back to classify a blocked access (§2.5).
//
// QEMU needs care here (docs/notes/qemu-amd-iommu.md §0): the bases are written whole (writeq;
// MMIO takes no 1-byte access), the command buffer and event log are set before they are
// enabled (CmdBufEn with no base loops forever; an event with no log base kills 11.x), and the
// tail never passes the buffer's end.

import type { GuestPages } from '../common/guest-pages.ts';
import type { Qtest } from '../common/qtest.ts';
import type { Label } from '../common/transcript.ts';
import { type Sent, configInvalidation } from './invalidation.ts';
import {
  AMDVI_BASE, CONTROL, type Command, DTE_BYTES, type Dte, EVENT_BYTES, type Event, type Features, REG, RING_ENTRIES, RING_LEN,
  completionWait, decodeEvent, decodeFeatures, domainIdOf, encodeDte, invalidateDevtabEntry, invalidateIommuAll,
} from './regs.ts';

/** A batch leaves room for its COMPLETION_WAIT. */
const BATCH = RING_ENTRIES - 1;
const RING_BYTES = RING_ENTRIES * 16;

export class AmdViError extends Error {
  override name = 'AmdViError';
}

export class AmdViUnit {
  readonly features: Features;
  private devtab = 0n;
  private cmdbuf = 0n;
  private evtlog = 0n;
  private semaphore = 0n;
  private seq = 0n;
  /** Byte offsets into the command buffer and the event log. */
  private cmdTail = 0;
  private evtHead = 0;
  private enabled = false;
  private readonly dtes = new Map<number, Dte>();

  private constructor(
    private readonly qt: Qtest,
    private readonly mem: GuestPages,
    features: Features,
  ) {
    this.features = features;
  }

  static async open(qt: Qtest, mem: GuestPages): Promise<AmdViUnit> {
    const efr = BigInt(await qt.cmd(`readq ${reg(REG.EXT_FEATURE)}`));
    if (efr === 0n || efr === 0xffff_ffff_ffff_ffffn) throw new AmdViError(`no AMD IOMMU at 0x${AMDVI_BASE.toString(16)} (Extended Feature reads 0x${efr.toString(16)})`);
    return new AmdViUnit(qt, mem, decodeFeatures(efr));
  }

  /**
   * Starts from nothing, as early_enable_iommu(): the unit off, a fresh device table with every
   * device's entry set to `initial`, the command buffer and event log set and emptied, then
   * IommuEn with both on, and every cache invalidated (iommu_flush_all_caches(): each device's
   * entry, and INVALIDATE_IOMMU_ALL).
   */
  async reset(devids: readonly number[], initial: (devid: number) => Dte): Promise<void> {
    if (this.enabled) await this.writeControl(0n);
    this.enabled = false;
    this.mem.releaseAll();
    this.cmdbuf = this.mem.alloc();
    this.evtlog = this.mem.alloc();
    this.semaphore = this.mem.alloc();
    this.devtab = this.mem.alloc();
    this.dtes.clear();
    for (const devid of devids) this.writeDteWords(devid, initial(devid));
    await this.mem.flush();
    this.cmdTail = 0;
    this.evtHead = 0;
    await this.qt.batch([
      // Size 0: one page, 128 DeviceIDs (the edu devices are 0x18, 0x20 and 0x28).
      `writeq ${reg(REG.DEVTAB_BASE)} 0x${this.devtab.toString(16)}`,
      `writeq ${reg(REG.CMDBUF_BASE)} 0x${(this.cmdbuf | (BigInt(RING_LEN) << 56n)).toString(16)}`,
      `writeq ${reg(REG.EVTLOG_BASE)} 0x${(this.evtlog | (BigInt(RING_LEN) << 56n)).toString(16)}`,
      `writeq ${reg(REG.CMDBUF_HEAD)} 0x0`,
      `writeq ${reg(REG.CMDBUF_TAIL)} 0x0`,
      `writeq ${reg(REG.EVTLOG_HEAD)} 0x0`,
      `writeq ${reg(REG.EVTLOG_TAIL)} 0x0`,
    ]);
    await this.writeControl(CONTROL.IOMMU_EN | CONTROL.EVT_LOG_EN | CONTROL.CMDBUF_EN);
    this.enabled = true;
    const all: Command[] = devids.map(invalidateDevtabEntry);
    const labels = devids.map((d) => `INVALIDATE_DEVTAB_ENTRY device=0x${d.toString(16)}`);
    if (this.features.invalidateAll) {
      all.push(invalidateIommuAll());
      labels.push('INVALIDATE_IOMMU_ALL');
    }
    await this.submit(all, labels);
  }

  dte(devid: number): Dte | undefined {
    return this.dtes.get(devid);
  }

  /**
   * Replaces a device's entry, then sends the invalidation given (by default what Linux sends:
   * INVALIDATE_DEVTAB_ENTRY, and the pages of the DomainID the old entry held).
   */
  async setDte(devid: number, next: Dte, sync?: Sent): Promise<void> {
    const old = this.dtes.get(devid);
    this.writeDteWords(devid, next);
    await this.mem.flush();
    const sent = sync ?? configInvalidation(0, devid, old ? domainIdOf(old) : 0, this.features);
    await this.submit(sent.cmds, sent.labels);
  }

  /**
   * Sends commands in batches, each closed by a COMPLETION_WAIT whose store is then checked. QEMU
   * runs the buffer inside the tail write; a hardware unit takes a while, hence the poll.
   */
  async submit(cmds: readonly Command[], labels: readonly string[]): Promise<void> {
    for (let from = 0; from < cmds.length || from === 0; from += BATCH) {
      const data = ++this.seq;
      const batch = [...cmds.slice(from, from + BATCH), completionWait(this.semaphore, data)];
      for (const [w0, w1] of batch) {
        this.mem.write64(this.cmdbuf + BigInt(this.cmdTail), w0);
        this.mem.write64(this.cmdbuf + BigInt(this.cmdTail) + 8n, w1);
        this.cmdTail = (this.cmdTail + 16) % RING_BYTES;
      }
      await this.mem.flush();
      await this.qt.cmd(`writeq ${reg(REG.CMDBUF_TAIL)} 0x${this.cmdTail.toString(16)}`);
      const done = await this.qt.poll([`readq 0x${this.semaphore.toString(16)}`], [{ reply: 0, mask: (1n << 64n) - 1n, op: '==', value: data }], 100);
      if (!done) throw new AmdViError(`the command buffer never reached its COMPLETION_WAIT (sent ${[...labels.slice(from, from + BATCH), 'COMPLETION_WAIT'].join(', ')})`);
      if (cmds.length === 0) break;
    }
  }

  /**
   * The events logged since the last call, consumed (EVTLOG_HEAD moved to the tail). For a
   * reproducer, the tail read carries `label`, with where the driver had consumed to, and the
   * first record's two qwords carry `record` (`<record>_info`, `<record>_address`).
   */
  async takeEvents(label?: Label, record?: string): Promise<Event[]> {
    const tail = Number(BigInt(await this.qt.cmd(`readq ${reg(REG.EVTLOG_TAIL)}`, label && { ...label, facts: { ...label.facts, head: BigInt(this.evtHead) } })) & 0x7fff0n);
    if (tail >= RING_BYTES) throw new AmdViError(`EVTLOG_TAIL 0x${tail.toString(16)} is past the 0x${RING_BYTES.toString(16)}-byte event log`);
    const lines: string[] = [];
    for (let at = this.evtHead; at !== tail; at = (at + Number(EVENT_BYTES)) % RING_BYTES) {
      lines.push(`readq 0x${(this.evtlog + BigInt(at)).toString(16)}`, `readq 0x${(this.evtlog + BigInt(at) + 8n).toString(16)}`);
    }
    if (lines.length === 0) return [];
    const labels = record ? [{ name: `${record}_info` }, { name: `${record}_address` }] : [];
    const words = (await Promise.all(lines.map((l, i) => this.qt.cmd(l, labels[i])))).map((v) => BigInt(v));
    const events: Event[] = [];
    for (let i = 0; i < words.length; i += 2) events.push(decodeEvent(words[i]!, words[i + 1]!));
    this.evtHead = tail;
    await this.qt.cmd(`writeq ${reg(REG.EVTLOG_HEAD)} 0x${tail.toString(16)}`);
    return events;
  }

  private writeDteWords(devid: number, d: Dte): void {
    if (devid >= 128) throw new RangeError(`DeviceID 0x${devid.toString(16)} is past the one-page device table`);
    const at = this.devtab + BigInt(devid) * DTE_BYTES;
    const [q0, q1] = encodeDte(d);
    // DomainID first, then the word with V, as Linux's set_dte_entry() orders them.
    this.mem.write64(at + 8n, q1);
    this.mem.write64(at, q0);
    this.dtes.set(devid, d);
  }

  private async writeControl(value: bigint): Promise<void> {
    await this.qt.cmd(`writeq ${reg(REG.CONTROL)} 0x${value.toString(16)}`);
  }
}

function reg(off: number): string {
  return `0x${(AMDVI_BASE + BigInt(off)).toString(16)}`;
}
