// What a device may still reach after an unmap. Every unmap records the translations it
// removed. In a lazy (dma_fq) domain they stay reachable until `flush`: that is what a real
// IOTLB with a flush queue does, so the reference must allow it. In a strict domain they are
// never reachable; the record only lets a finding name the right rule (a stale hit on what
// was asked is UNMAP-STRICT, on what whole-leaf removed beyond it TLB-REMOVED).

import { PROT } from '../../spec/index.ts';
import { type Mapping, type MappingStore, endOf } from './mappings.ts';

export interface RemovedTranslation {
  iova: bigint;
  end: bigint;
  paddr: bigint;
  prot: number;
  /** Inside the range the caller asked to unmap (as opposed to removed beyond it). */
  requested: boolean;
}

export class RemovedTranslations {
  /** Removed since the last flush (lazy), or by the last unmap (strict). */
  pending: RemovedTranslation[] = [];
  /** Removed before the last flush: reachable no more, kept to name the rule a hit breaks. */
  flushed: RemovedTranslation[] = [];

  constructor(readonly lazy: boolean) {}

  /** Records the pieces of `table` that [lo, hi) is about to remove. */
  record(table: MappingStore, lo: bigint, hi: bigint, asked: { lo: bigint; hi: bigint }): void {
    for (const m of table.intersecting(lo, hi)) {
      const a = m.iova > lo ? m.iova : lo;
      const b = endOf(m) < hi ? endOf(m) : hi;
      // Split at the edges of the request so each piece is wholly asked or wholly extra.
      const cuts = [a, asked.lo, asked.hi, b].filter((x) => x >= a && x <= b).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      for (let i = 0; i + 1 < cuts.length; i++) {
        const s = cuts[i]!;
        const e = cuts[i + 1]!;
        if (s < e) this.pending.push(piece(m, s, e, s >= asked.lo && e <= asked.hi));
      }
    }
  }

  /** A strict domain keeps only the last unmap's record. */
  beginUnmap(): void {
    if (!this.lazy) this.pending = [];
  }

  flush(): void {
    this.flushed = this.pending;
    this.pending = [];
  }

  clear(): void {
    this.pending = [];
    this.flushed = [];
  }

  /** Pending records covering `iova`, most recent first. */
  pendingAt(iova: bigint): RemovedTranslation[] {
    return this.pending.filter((r) => iova >= r.iova && iova < r.end).reverse();
  }

  flushedAt(iova: bigint): RemovedTranslation[] {
    return this.flushed.filter((r) => iova >= r.iova && iova < r.end);
  }
}

function piece(m: Mapping, s: bigint, e: bigint, requested: boolean): RemovedTranslation {
  return { iova: s, end: e, paddr: m.paddr + (s - m.iova), prot: m.prot, requested };
}

export function physOf(r: { iova: bigint; paddr: bigint }, iova: bigint): bigint {
  return r.paddr + (iova - r.iova);
}

export function permits(prot: number, access: 'r' | 'w', writeOnlyReadable: boolean): boolean {
  if (access === 'w') return (prot & PROT.WRITE) !== 0;
  return (prot & PROT.READ) !== 0 || ((prot & PROT.WRITE) !== 0 && writeOnlyReadable);
}
