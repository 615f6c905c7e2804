// Guest RAM that a guest driver owns (root and context tables, page tables, queues), handed out
// in 4 KiB pages from a fixed window, with a copy kept here: the driver reads its own tables
// from the copy and writes only what changed. Changes are gathered per page and sent at
// `flush()`, one qtest `write` per run of adjacent changed words, so installing a table's 512
// PTEs costs one command, not 512.

import type { Qtest } from './qtest.ts';

export const PAGE = 0x1000n;
const WORDS = 512;

interface Page {
  words: BigUint64Array;
  /** Words changed since the last flush (1 = changed). */
  dirty: Uint8Array | null;
  /** Not yet zeroed in guest memory. */
  fresh: boolean;
}

export class GuestPages {
  private readonly pages = new Map<bigint, Page>();
  private next: bigint;
  private readonly touched = new Set<bigint>();

  constructor(
    private readonly qt: Qtest,
    readonly base: bigint,
    readonly end: bigint,
  ) {
    if (base % PAGE !== 0n || end % PAGE !== 0n || end <= base) throw new RangeError('a page-aligned, non-empty window');
    this.next = base;
  }

  /** Is `addr` in the window these pages come from? (A device must never write there.) */
  owns(addr: bigint): boolean {
    return addr >= this.base && addr < this.end;
  }

  /** A zeroed page. */
  alloc(): bigint {
    if (this.next >= this.end) throw new Error(`guest-driver memory exhausted (0x${this.base.toString(16)}..0x${this.end.toString(16)})`);
    const at = this.next;
    this.next += PAGE;
    this.pages.set(at, { words: new BigUint64Array(WORDS), dirty: null, fresh: true });
    this.touched.add(at);
    return at;
  }

  /**
   * Forgets every page: the next case starts from an empty window, handed out in the same order.
   * Within a case pages are never given back (a driver's tables live until its domain goes, and
   * a case is short), so allocation is a bump.
   */
  releaseAll(): void {
    this.pages.clear();
    this.touched.clear();
    this.next = this.base;
  }

  read64(addr: bigint): bigint {
    const [p, i] = this.word(addr);
    return p.words[i]!;
  }

  write64(addr: bigint, value: bigint): void {
    const [p, i] = this.word(addr);
    if (p.words[i] === value) return;
    p.words[i] = value;
    (p.dirty ??= new Uint8Array(WORDS))[i] = 1;
    this.touched.add(addr & ~(PAGE - 1n));
  }

  /** Writes the page holding `addr` again from the copy (a device may have written over it). */
  async restore(addr: bigint): Promise<void> {
    const at = addr & ~(PAGE - 1n);
    const p = this.pages.get(at);
    if (p) await this.qt.cmd(`write 0x${at.toString(16)} 0x1000 0x${hexOf(p.words, 0, WORDS)}`);
  }

  /** Sends every change to guest memory; resolves once QEMU has taken them all. */
  async flush(): Promise<void> {
    const lines: string[] = [];
    for (const at of [...this.touched].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const p = this.pages.get(at);
      if (!p) continue;
      if (p.fresh) lines.push(`memset 0x${at.toString(16)} 0x1000 0x0`);
      p.fresh = false;
      const dirty = p.dirty;
      p.dirty = null;
      if (!dirty) continue;
      for (let i = 0; i < WORDS; ) {
        if (!dirty[i]) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < WORDS && dirty[j]) j++;
        lines.push(`write 0x${(at + BigInt(i) * 8n).toString(16)} 0x${((j - i) * 8).toString(16)} 0x${hexOf(p.words, i, j)}`);
        i = j;
      }
    }
    this.touched.clear();
    if (lines.length > 0) await this.qt.batch(lines);
  }

  private word(addr: bigint): [Page, number] {
    if (addr % 8n !== 0n) throw new RangeError(`unaligned word 0x${addr.toString(16)}`);
    const at = addr & ~(PAGE - 1n);
    const p = this.pages.get(at);
    if (!p) throw new Error(`0x${addr.toString(16)} is not in an allocated driver page`);
    return [p, Number((addr - at) / 8n)];
  }
}

/** Words [from, to) as guest memory holds them: little-endian bytes, in hex. */
function hexOf(words: BigUint64Array, from: number, to: number): string {
  const bytes = Buffer.alloc((to - from) * 8);
  for (let i = from; i < to; i++) bytes.writeBigUInt64LE(words[i]!, (i - from) * 8);
  return bytes.toString('hex');
}
