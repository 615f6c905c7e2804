// The live mappings of one domain: one record per map call (a 1 GiB mapping is one record),
// in a B+ tree keyed by IOVA, so lookups and updates cost O(log n) in live mappings.
// A record remembers its leaf layout only when it cannot be derived (see Layout).

import { createRequire } from 'node:module';
import type { LeafRun } from '../../spec/index.ts';
import { greedyRuns } from './pgsize.ts';

/**
 * `greedy`: the layout iommu_pgsize() gives for the record (derived on demand, never stored).
 * A run list: observed through the `leaves` capability, or what is left of a known layout
 * after part of it was removed. `unknown`: some legal layout, e.g. after a leaf was split.
 */
export type Layout = 'greedy' | 'unknown' | LeafRun[];

export interface Mapping {
  iova: bigint;
  size: bigint;
  paddr: bigint;
  prot: number;
  layout: Layout;
  /** Set once the layout was observed through `leaves`; until then it is only predicted. */
  confirmed?: true;
}

export function endOf(m: Mapping): bigint {
  return m.iova + m.size;
}

const compare = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

// sorted-btree is CommonJS with `exports.default`; require() reaches the class the same way
// under Node and under the type checker.
const { default: BTree } = createRequire(import.meta.url)('sorted-btree') as typeof import('sorted-btree');

export class MappingStore {
  private readonly tree = new BTree<bigint, Mapping>(undefined, compare);

  get size(): number {
    return this.tree.size;
  }

  /** The record containing `addr`, if any. */
  containing(addr: bigint): Mapping | undefined {
    const pair = this.tree.getPairOrNextLower(addr);
    if (!pair) return undefined;
    const m = pair[1];
    return addr < endOf(m) ? m : undefined;
  }

  /** Records intersecting [lo, hi), in address order. */
  intersecting(lo: bigint, hi: bigint): Mapping[] {
    const out: Mapping[] = [];
    if (hi <= lo) return out;
    const first = this.containing(lo);
    if (first) out.push(first);
    this.tree.forRange(lo, hi, false, (k, m) => {
      if (k !== first?.iova) out.push(m);
    });
    return out;
  }

  /** The first record starting in [lo, hi). */
  firstStartingIn(lo: bigint, hi: bigint): Mapping | undefined {
    const pair = this.tree.getPairOrNextHigher(lo);
    return pair && pair[0] < hi ? pair[1] : undefined;
  }

  /** The record at the highest address (records never overlap, so it ends highest too). */
  last(): Mapping | undefined {
    const k = this.tree.maxKey();
    return k === undefined ? undefined : this.tree.get(k);
  }

  insert(m: Mapping): void {
    this.tree.set(m.iova, m);
  }

  *all(): IterableIterator<Mapping> {
    for (const [, m] of this.tree.entries()) yield m;
  }

  /** Removes [lo, hi) from every record it touches, keeping what lies outside. */
  removeRange(lo: bigint, hi: bigint, bitmap: bigint): void {
    for (const m of this.intersecting(lo, hi)) {
      this.tree.delete(m.iova);
      const end = endOf(m);
      if (m.iova < lo) this.insert(clip(m, m.iova, lo, bitmap));
      if (end > hi) this.insert(clip(m, hi, end, bitmap));
    }
  }

  clear(): void {
    this.tree.clear();
  }
}

export function runsOf(m: Mapping, bitmap: bigint): LeafRun[] | null {
  if (m.layout === 'unknown') return null;
  return m.layout === 'greedy' ? greedyRuns(bitmap, m.iova, m.paddr, m.size) : m.layout;
}

/** The part [lo, hi) of a record; its layout stays known only if no leaf is cut. */
function clip(m: Mapping, lo: bigint, hi: bigint, bitmap: bigint): Mapping {
  const runs = runsOf(m, bitmap);
  const layout = runs ? clipRuns(runs, lo, hi) : 'unknown';
  const piece: Mapping = { iova: lo, size: hi - lo, paddr: m.paddr + (lo - m.iova), prot: m.prot, layout };
  if (m.confirmed && layout !== 'unknown') piece.confirmed = true;
  return piece;
}

function clipRuns(runs: readonly LeafRun[], lo: bigint, hi: bigint): LeafRun[] | 'unknown' {
  const out: LeafRun[] = [];
  for (const r of runs) {
    const end = r.iova + r.pgsize * r.count;
    const a = r.iova > lo ? r.iova : lo;
    const b = end < hi ? end : hi;
    if (a >= b) continue;
    if ((a - r.iova) % r.pgsize !== 0n || (b - r.iova) % r.pgsize !== 0n) return 'unknown';
    out.push({ iova: a, pgsize: r.pgsize, count: (b - a) / r.pgsize });
  }
  return out;
}
