// QEMU's `edu` teaching device as a DMA engine behind the IOMMU: it copies between bus
// addresses (IOVAs, translated by the virtio-iommu) and a 4 KiB internal buffer at device
// address 0x40000. A copy runs from a timer; with `-icount sleep=off` it fires as soon as QEMU
// is idle, so a poll or two of the command register sees it finish (recorded as one poll, see
// transcript.ts).
//
// A blocked access does not fail the copy: QEMU reads zeros and drops writes. Whether it was
// blocked is what the virtio-iommu's fault record says (see VirtioIommu.takeFaults).

import type { Access } from '../../../../spec/index.ts';
import type { PciFunction } from './pci.ts';
import type { Qtest } from './qtest.ts';

export const EDU_IDS = { vendor: 0x1234, device: 0x11e8 } as const;

const REG = { SRC: 0x80, DST: 0x88, COUNT: 0x90, CMD: 0x98 } as const;
const CMD_RUN = 1;
/** Direction bit: set, buffer → bus address (the device writes memory). */
const CMD_TO_BUS = 2;
/** The device-internal buffer; an out-of-range copy makes QEMU abort (hw_error). */
const BUFFER = 0x40000n;
const BUFFER_SIZE = 0x1000;
/**
 * How a copy is waited for: usually its first poll sees it done, but now and then a QEMU process
 * runs the timer seconds late (seen on 11.1.3 under load; docs/notes/qemu-riscv-iommu.md gotcha 16),
 * so it is hung only after both these rounds and this wall-clock time.
 */
const WAIT_ROUNDS = 500;
const WAIT_FLOOR_MS = 10_000;

export class Edu {
  private constructor(
    private readonly qt: Qtest,
    readonly pci: PciFunction,
    private readonly bar: bigint,
  ) {}

  static async open(qt: Qtest, pci: PciFunction, bar: bigint): Promise<Edu> {
    const ids = await pci.ids();
    if (ids.vendor !== EDU_IDS.vendor || ids.device !== EDU_IDS.device) {
      throw new Error(`expected an edu device (1234:11e8) at ${pci.name()}, found ${ids.vendor.toString(16)}:${ids.device.toString(16)}`);
    }
    await pci.setBar(0, bar);
    await pci.enable();
    return new Edu(qt, pci, bar);
  }

  private reg(off: number): string {
    return `0x${(this.bar + BigInt(off)).toString(16)}`;
  }

  /**
   * Starts a copy of `len` bytes at `iova`: 'r' reads memory into the buffer, 'w' writes the
   * buffer to memory, at byte `at` of the buffer. Resolves once the registers are written, not
   * when the copy is done.
   */
  start(iova: bigint, access: Access, len = 1, at = 0): Promise<unknown> {
    // QEMU 7.2 aborts on a copy that ends at the buffer's end (edu_check_range() off by one).
    if (len < 1 || at < 0 || at + len > BUFFER_SIZE - 1) throw new RangeError(`edu copies within bytes 0..${BUFFER_SIZE - 2} of its buffer, not ${len} at ${at}`);
    const toBus = access === 'w';
    const buffer = BUFFER + BigInt(at);
    const [src, dst] = toBus ? [buffer, iova] : [iova, buffer];
    return this.qt.batch([
      `writeq ${this.reg(REG.SRC)} 0x${src.toString(16)}`,
      `writeq ${this.reg(REG.DST)} 0x${dst.toString(16)}`,
      `writeq ${this.reg(REG.COUNT)} ${len}`,
      `writeq ${this.reg(REG.CMD)} ${CMD_RUN | (toBus ? CMD_TO_BUS : 0)}`,
    ]);
  }

  /** A whole copy: started, then polled until the device says it is done. */
  async transfer(iova: bigint, access: Access, at = 0): Promise<void> {
    await this.start(iova, access, 1, at);
    await this.waitFinished();
  }

  /** Polls until the copy started last is done (the run bit clears). */
  async waitFinished(): Promise<void> {
    const done = await this.qt.poll([`readq ${this.reg(REG.CMD)}`], [{ reply: 0, mask: BigInt(CMD_RUN), op: '==', value: 0n }], WAIT_ROUNDS, WAIT_FLOOR_MS);
    if (!done) throw new Error(`edu ${this.pci.name()}: a DMA copy did not finish after ${WAIT_ROUNDS} polls and ${WAIT_FLOOR_MS / 1000} s`);
  }

  /** The device's card-liveness register returns the complement of what was written. */
  async alive(): Promise<boolean> {
    const [, v] = await this.qt.batch([`writel ${this.reg(0x04)} 0x12345678`, `readl ${this.reg(0x04)}`]);
    return Number(v) >>> 0 === (~0x12345678 >>> 0);
  }
}
