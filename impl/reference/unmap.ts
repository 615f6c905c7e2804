// What an unmap removes, under each partial-unmap and hole policy.
//
// Linux unmaps leaf by leaf: iommu_unmap() walks from iova and the driver clears whole leaves.
// Only two leaves can be cut by a request: the one holding its first byte and the one holding
// its last. Everything in between goes whole. So the outcome depends on the layout only at
// those two points, and when the layout is not known for certain the model enumerates the few
// leaves that could sit there instead of guessing.

import { type LeafRun, type Policies, alignDown, pageSizes } from '../../spec/index.ts';
import { type Mapping, type MappingStore, endOf, runsOf } from './mappings.ts';

export interface Leaf {
  start: bigint;
  end: bigint;
}

export interface UnmapResult {
  /** Bytes removed, what a conforming unmap returns. */
  total: bigint;
  /** The IOVA ranges removed, in order. */
  removed: Leaf[];
}

function leafFromRuns(runs: readonly LeafRun[], x: bigint): Leaf {
  for (const r of runs) {
    const end = r.iova + r.pgsize * r.count;
    if (x >= r.iova && x < end) {
      const start = r.iova + ((x - r.iova) / r.pgsize) * r.pgsize;
      return { start, end: start + r.pgsize };
    }
  }
  throw new RangeError(`no leaf holds ${x}: layout does not cover its mapping`);
}

/** Every leaf a legal layout of `m` could place over `x`. */
export function possibleLeaves(m: Mapping, x: bigint, bitmap: bigint): Leaf[] {
  const out: Leaf[] = [];
  for (const s of pageSizes(bitmap)) {
    const start = alignDown(x, s);
    if (start < m.iova || start + s > endOf(m)) continue;
    if ((m.paddr + (start - m.iova)) % s !== 0n) continue;
    out.push({ start, end: start + s });
  }
  return out;
}

/**
 * The leaves that may hold `x`. `known` is the one the recorded layout predicts; `leaves` are
 * all that are legal: just that one once observed, every legal one while merely predicted.
 */
export function leavesAt(m: Mapping, x: bigint, bitmap: bigint): { leaves: Leaf[]; known: Leaf | null } {
  const runs = runsOf(m, bitmap);
  const known = runs ? leafFromRuns(runs, x) : null;
  if (known && m.confirmed) return { leaves: [known], known };
  return { leaves: possibleLeaves(m, x, bitmap), known };
}

interface Choice {
  /** Leaf holding the first byte, when it lies strictly inside a mapping. */
  first: Leaf | null;
  /** Leaf holding the last byte, when the request ends strictly inside a mapping. */
  last: Leaf | null;
}

/**
 * The walk of iommu_unmap() for one choice of the two boundary leaves. Cost is O(log n) per
 * mapping touched: whole leaves between the boundaries are removed in one step.
 */
function walk(store: MappingStore, iova: bigint, end: bigint, p: Policies, c: Choice): UnmapResult {
  const removed: Leaf[] = [];
  let total = 0n;
  let cursor = iova;
  const take = (lo: bigint, hi: bigint) => {
    if (hi <= lo) return;
    removed.push({ start: lo, end: hi });
    total += hi - lo;
  };
  while (cursor < end) {
    const m = store.containing(cursor);
    if (!m) {
      if (p.unmap_hole === 'stop') break;
      const next = store.firstStartingIn(cursor, end);
      if (!next) break;
      cursor = next.iova;
      continue;
    }
    if (cursor === iova && c.first && c.first.start < cursor) {
      // The request starts inside a leaf.
      if (p.partial_unmap !== 'split') break;
    }
    const mEnd = endOf(m);
    if (end >= mEnd) {
      take(cursor, mEnd);
      cursor = mEnd;
      continue;
    }
    // The request ends inside this mapping: only the leaf holding end-1 can be cut.
    const last = c.last!;
    if (last.end === end || p.partial_unmap === 'split') take(cursor, end);
    else if (p.partial_unmap === 'whole-leaf') take(cursor, last.end);
    else take(cursor, last.start); // refuse: stop in front of the leaf
    break;
  }
  return { total, removed };
}

export interface UnmapCandidate extends UnmapResult {
  /** True for the outcome the recorded layout predicts. */
  predicted: boolean;
}

/**
 * All outcomes a conforming leaf-granular unmap may have, the predicted one first. More than
 * one only when a boundary leaf is not known for certain (layout `unknown`, or assumed greedy).
 */
export function unmapCandidates(store: MappingStore, iova: bigint, end: bigint, bitmap: bigint, p: Policies): UnmapCandidate[] {
  const firstMap = store.containing(iova);
  const lastMap = store.containing(end - 1n);
  const firstAt = firstMap && firstMap.iova < iova ? leavesAt(firstMap, iova, bitmap) : null;
  const lastAt = lastMap && endOf(lastMap) > end ? leavesAt(lastMap, end - 1n, bitmap) : null;

  const predictedChoice: Choice = { first: firstAt?.known ?? null, last: lastAt?.known ?? null };
  const out: UnmapCandidate[] = [];
  const seen = new Set<string>();
  const add = (c: Choice, predicted: boolean) => {
    const r = walk(store, iova, end, p, c);
    const key = r.removed.map((l) => `${l.start}-${l.end}`).join(',');
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ ...r, predicted });
  };
  const layoutKnown = (!firstAt || firstAt.known) && (!lastAt || lastAt.known);
  if (layoutKnown) add(predictedChoice, true);
  // Split outcomes do not depend on the layout; the others may, where it is uncertain.
  const firsts: (Leaf | null)[] = firstAt ? firstAt.leaves : [null];
  const lasts: (Leaf | null)[] = lastAt ? lastAt.leaves : [null];
  for (const f of firsts) {
    for (const l of lasts) {
      if (f && l && !(sameLeaf(f, l) || f.end <= l.start || l.end <= f.start)) continue;
      add({ first: f, last: l }, false);
    }
  }
  return out;
}

function sameLeaf(a: Leaf, b: Leaf): boolean {
  return a.start === b.start && a.end === b.end;
}

/**
 * virtio-iommu UNMAP at mapping granularity: a range that would split any mapping fails with
 * nothing removed; otherwise every mapping it covers goes (holes per policy).
 */
export function rangeSplitsMapping(store: MappingStore, iova: bigint, end: bigint): boolean {
  const first = store.containing(iova);
  if (first && first.iova < iova) return true;
  const last = store.containing(end - 1n);
  return !!last && endOf(last) > end;
}
