// One split virtqueue (virtio 1.0 §2.6) in guest memory, driven from outside the guest: the
// descriptor table, the available ring the driver fills, the used ring the device fills.
// Methods issue their qtest commands at once and return a promise of the replies, so a caller
// can line several up into one round trip.

import { hexBytes, parseHexBytes, readU32, u16, u32, u64 } from '../common/bytes.ts';
import type { Qtest } from '../common/qtest.ts';
import type { Label } from '../common/transcript.ts';

export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
/** We poll the used ring; the device need not interrupt. */
const AVAIL_F_NO_INTERRUPT = 1;

export interface Descriptor {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

export interface UsedElem {
  id: number;
  len: number;
}

export interface QueueLayout {
  /** Entries (a power of two no larger than the device's maximum). */
  size: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
}

/** Guest memory one queue of `size` entries occupies from `base`: three 4 KiB-aligned parts. */
export function queueLayout(base: bigint, size: number): QueueLayout {
  return { size, desc: base, avail: base + 0x1000n, used: base + 0x2000n };
}

export function encodeDescriptor(d: Descriptor): Uint8Array {
  return new Uint8Array([...u64(d.addr), ...u32(d.len), ...u16(d.flags), ...u16(d.next)]);
}

export class SplitQueue {
  /** Entries made available so far (free-running, as the ring index is). */
  private availIdx = 0;
  /** Used entries consumed so far. */
  private usedIdx = 0;

  /** The qtest command that tells the device of new buffers; known once the transport set the queue up. */
  notifyCmd: string | null = null;

  constructor(
    private readonly qt: Qtest,
    readonly layout: QueueLayout,
  ) {}

  /** Zeroes both rings (after a device reset the device starts again at index 0). */
  clear(): Promise<unknown> {
    this.availIdx = 0;
    this.usedIdx = 0;
    const { avail, used, size } = this.layout;
    return Promise.all([
      this.qt.cmd(`write 0x${avail.toString(16)} 4 0x${hexBytes([...u16(AVAIL_F_NO_INTERRUPT), ...u16(0)])}`),
      this.qt.cmd(`memset 0x${used.toString(16)} ${4 + 8 * size} 0`),
    ]);
  }

  writeDescriptors(first: number, descs: readonly Descriptor[]): Promise<string> {
    const bytes = descs.flatMap((d) => [...encodeDescriptor(d)]);
    return this.qt.cmd(`write 0x${(this.layout.desc + BigInt(16 * first)).toString(16)} ${bytes.length} 0x${hexBytes(bytes)}`);
  }

  /** Makes the chains starting at `heads` available, then notifies. */
  submit(heads: readonly number[]): Promise<unknown> {
    if (this.notifyCmd === null) throw new Error('virtqueue used before the transport set it up');
    const { avail, size } = this.layout;
    const cmds: Promise<string>[] = [];
    for (const h of heads) {
      const slot = avail + 4n + 2n * BigInt(this.availIdx % size);
      cmds.push(this.qt.cmd(`writew 0x${slot.toString(16)} ${h}`));
      this.availIdx = (this.availIdx + 1) & 0xffff;
    }
    cmds.push(this.qt.cmd(`writew 0x${(avail + 2n).toString(16)} ${this.availIdx}`));
    cmds.push(this.qt.cmd(this.notifyCmd));
    return Promise.all(cmds);
  }

  /** The used index as the device last wrote it. */
  async usedIndex(label?: Label): Promise<number> {
    return Number(await this.qt.cmd(`readw 0x${(this.layout.used + 2n).toString(16)}`, label));
  }

  /** Used entries the device returned since the last call. */
  async takeUsed(): Promise<UsedElem[]> {
    const { used, size } = this.layout;
    const raw = parseHexBytes(await this.qt.cmd(`read 0x${used.toString(16)} ${4 + 8 * size}`));
    const idx = raw[2]! | (raw[3]! << 8);
    const out: UsedElem[] = [];
    for (; this.usedIdx !== idx; this.usedIdx = (this.usedIdx + 1) & 0xffff) {
      const at = 4 + 8 * (this.usedIdx % size);
      out.push({ id: readU32(raw, at), len: readU32(raw, at + 4) });
    }
    return out;
  }

  /** The used index up to which entries have been taken. */
  get consumed(): number {
    return this.usedIdx;
  }

  /** Entries made available and not yet seen used. */
  get outstanding(): number {
    return (this.availIdx - this.usedIdx) & 0xffff;
  }
}

