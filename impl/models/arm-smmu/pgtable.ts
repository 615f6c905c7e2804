// An io-pgtable-arm style LPAE stage-1 page table: a radix tree of 64-bit descriptors in
// simulated memory, 4K, 16K or 64K granules, levels derived from the input width. Like the
// kernel's, it maps and unmaps runs of one page size at a time; choosing sizes, checking
// alignment and unrolling a failed map is the IOMMU core's job (core.ts).
//
// Descriptor bits follow the Arm ARM for the VMSAv8-64 stage-1 format as io-pgtable-arm uses
// them: valid (0), table-or-page (1), AttrIndx (4:2), AP[2] read-only (7), AF (10),
// output address (47:granule), XN (54).

import { type LeafRun, PROT, U64_LIMIT } from '../../../spec/index.ts';
import type { TableMemory } from './memory.ts';

const VALID = 1n;
const TABLE_OR_PAGE = 2n;
const ATTR_CACHE = 1n << 2n;
const AP_RDONLY = 1n << 7n;
const AF = 1n << 10n;
const XN = 1n << 54n;
const OA_TOP = 48n;

export type PartialUnmap = 'split' | 'refuse' | 'whole-leaf';

export interface LpaeConfig {
  granule: bigint;
  ias: number;
  oas: number;
  /** Page sizes this table may use: the granule and its block sizes, possibly fewer. */
  pgsizes: bigint;
  partialUnmap: PartialUnmap;
  /** Mutants switched on (mutants.ts); empty in the conforming model. */
  bugs?: ReadonlySet<string>;
}

export type MapResult = { mapped: bigint } | { mapped: bigint; err: 'EEXIST' | 'ENOMEM' | 'ERANGE' | 'EINVAL' };

/** prot as the descriptor holds it; stage 1 has no write-only encoding, so W alone is RW. */
function protToPte(prot: number, roWritable: boolean): bigint {
  let pte = AF;
  if ((prot & PROT.WRITE) === 0 && !roWritable) pte |= AP_RDONLY;
  if (prot & PROT.NOEXEC) pte |= XN;
  if (prot & PROT.CACHE) pte |= ATTR_CACHE;
  return pte;
}

export class LpaeTable {
  readonly levels: number;
  private readonly granuleShift: bigint;
  private readonly bitsPerLevel: bigint;
  readonly root: bigint;
  private readonly rootEntries: number;

  constructor(private readonly mem: TableMemory, readonly cfg: LpaeConfig) {
    this.granuleShift = BigInt(cfg.granule.toString(2).length - 1);
    this.bitsPerLevel = this.granuleShift - 3n;
    const vaBits = BigInt(cfg.ias) - this.granuleShift;
    this.levels = Number((vaBits + this.bitsPerLevel - 1n) / this.bitsPerLevel);
    this.rootEntries = Number(1n << (BigInt(cfg.ias) - this.shift(0)));
    const root = mem.alloc(this.rootEntries);
    if (root === null) throw new OutOfTableMemory();
    this.root = root;
  }

  /** Address bits below level `l`'s index: its entries each cover 1 << shift bytes. */
  shift(l: number): bigint {
    return this.granuleShift + this.bitsPerLevel * BigInt(this.levels - 1 - l);
  }

  blockSize(l: number): bigint {
    return 1n << this.shift(l);
  }

  private index(iova: bigint, l: number): number {
    const entries = l === 0 ? BigInt(this.rootEntries) : 1n << this.bitsPerLevel;
    return Number((iova >> this.shift(l)) & (entries - 1n));
  }

  private levelOf(pgsize: bigint): number {
    for (let l = 0; l < this.levels; l++) if (this.blockSize(l) === pgsize) return l;
    return -1;
  }

  private isLeaf(pte: bigint, l: number): boolean {
    return (pte & VALID) !== 0n && (l === this.levels - 1 || (pte & TABLE_OR_PAGE) === 0n);
  }

  private oaMask(): bigint {
    return ((1n << OA_TOP) - 1n) & ~(this.cfg.granule - 1n);
  }

  private oa(pte: bigint): bigint {
    return pte & this.oaMask();
  }

  private leafPte(paddr: bigint, l: number, prot: number): bigint {
    return paddr | protToPte(prot, this.bug('ro-writable')) | VALID | (l === this.levels - 1 ? TABLE_OR_PAGE : 0n);
  }

  private bug(id: string): boolean {
    return this.cfg.bugs?.has(id) === true;
  }

  /** Maps `count` leaves of `pgsize`; stops at the first problem and says how far it got. */
  map(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): MapResult {
    const target = this.levelOf(pgsize);
    if (target < 0 || (pgsize & this.cfg.pgsizes) === 0n) return { mapped: 0n, err: 'EINVAL' };
    let mapped = 0n;
    for (let i = 0n; i < count;) {
      const va = iova + i * pgsize;
      const pa = paddr + i * pgsize;
      // The iaext check of arm_lpae_map_pages(): without it the index bits wrap onto a low IOVA.
      const iaext = va + pgsize > 1n << BigInt(this.cfg.ias) && !this.bug('map-no-ias-check');
      if (iaext || pa + pgsize > 1n << BigInt(this.cfg.oas)) return { mapped, err: 'ERANGE' };
      let table = this.root;
      for (let l = 0; l < target; l++) {
        const t = this.mem.table(table);
        const idx = this.index(va, l);
        const pte = t[idx]!;
        if (this.isLeaf(pte, l)) return { mapped, err: 'EEXIST' };
        if ((pte & VALID) === 0n) {
          const next = this.mem.alloc(Number(1n << this.bitsPerLevel));
          if (next === null) return { mapped, err: 'ENOMEM' };
          t[idx] = next | TABLE_OR_PAGE | VALID;
          table = next;
        } else table = this.oa(pte);
      }
      // Like io-pgtable-arm, fill as many entries of this table as the run needs in one go.
      const t = this.mem.table(table);
      const attrs = this.leafPte(0n, target, prot);
      const vaLimit = 1n << BigInt(this.cfg.ias);
      const paLimit = 1n << BigInt(this.cfg.oas);
      const here = paddr + i * pgsize;
      const start = this.index(va, target);
      const want = count - i < BigInt(t.length - start) ? Number(count - i) : t.length - start;
      // The range limits are checked once for the whole stretch, not per entry (a 1 GiB map of
      // 4 KiB pages is 262,144 entries).
      const roomVa = this.bug('map-no-ias-check') ? BigInt(want) : vaLimit >= va + pgsize ? (vaLimit - va) / pgsize : 0n;
      const roomPa = paLimit >= here + pgsize ? (paLimit - here) / pgsize : 0n;
      const room = roomVa < roomPa ? roomVa : roomPa;
      const fits = room < BigInt(want) ? Number(room) : want;
      let next = here | attrs;
      for (let idx = start; idx < start + fits; idx++, next += pgsize) {
        const pte = t[idx]!;
        if (pte !== 0n && (pte & VALID) !== 0n) {
          // A block over a table: io-pgtable-arm frees the table whatever it holds; this
          // model refuses while anything is mapped below and frees it only when empty.
          const leaf = this.isLeaf(pte, target);
          const busy = leaf || this.subtreeHasLeaves(this.oa(pte), target + 1);
          if (busy && !(leaf ? this.bug('overmap-replaces') : this.bug('block-frees-table'))) return { mapped: mapped + BigInt(idx - start) * pgsize, err: 'EEXIST' };
          if (!leaf) this.freeSubtree(this.oa(pte), target + 1);
        }
        t[idx] = next;
      }
      i += BigInt(fits);
      mapped += BigInt(fits) * pgsize;
      if (fits < want) return { mapped, err: 'ERANGE' };
    }
    return { mapped };
  }

  private subtreeHasLeaves(table: bigint, l: number): boolean {
    for (const pte of this.mem.table(table)) {
      if ((pte & VALID) === 0n) continue;
      if (this.isLeaf(pte, l) || this.subtreeHasLeaves(this.oa(pte), l + 1)) return true;
    }
    return false;
  }

  private freeSubtree(table: bigint, l: number): void {
    for (const pte of this.mem.table(table)) if ((pte & VALID) !== 0n && !this.isLeaf(pte, l)) this.freeSubtree(this.oa(pte), l + 1);
    this.mem.free(table);
  }

  /** The leaves of a subtree that meet [lo, hi), in order, as [iova, size]; only their slots are visited. */
  private *leavesUnder(table: bigint, l: number, base: bigint, lo = 0n, hi = U64_LIMIT): Generator<[bigint, bigint]> {
    const t = this.mem.table(table);
    const step = this.blockSize(l);
    const first = lo > base ? Number((lo - base) / step) : 0;
    for (let i = first; i < t.length; i++) {
      const va = base + BigInt(i) * step;
      if (va >= hi) break;
      const pte = t[i]!;
      if ((pte & VALID) === 0n) continue;
      if (this.isLeaf(pte, l)) yield [va, step];
      else yield* this.leavesUnder(this.oa(pte), l + 1, va, lo, hi);
    }
  }

  /** Is the region a table covers mapped end to end (no hole)? */
  private fullyMapped(table: bigint, l: number): boolean {
    for (const pte of this.mem.table(table)) {
      if ((pte & VALID) === 0n) return false;
      if (!this.isLeaf(pte, l) && !this.fullyMapped(this.oa(pte), l + 1)) return false;
    }
    return true;
  }

  /**
   * Unmaps up to `count` leaves of `pgsize` from `iova`, stopping at a hole; returns the bytes
   * removed. A larger leaf over the range follows the partial-unmap policy.
   */
  unmap(iova: bigint, pgsize: bigint, count: bigint): bigint {
    const target = this.levelOf(pgsize);
    // io-pgtable-arm checks the input width here too: without it the index would wrap.
    if (target < 0 || (iova >> BigInt(this.cfg.ias) !== 0n && !this.bug('unmap-no-ias-check'))) return 0n;
    let unmapped = 0n;
    for (let i = 0n; i < count; i++) {
      const va = iova + i * pgsize;
      // A run past the input width stops there: Linux's core calls unmap_pages() again at that
      // IOVA, whose iaext check answers 0 (the root index would otherwise wrap to 0).
      if (va >> BigInt(this.cfg.ias) !== 0n && !this.bug('unmap-no-ias-check')) break;
      const got = this.unmapOne(va, target);
      unmapped += got;
      // Nothing (a hole), less (a hole inside), or more (a whole larger leaf): stop here.
      if (got !== pgsize) break;
      // The rest of this table's leaves of the run go without walking from the root again.
      const t = this.lastTable;
      for (let idx = this.index(va, target) + 1; t && idx < t.length && i + 1n < count && this.isLeaf(t[idx]!, target); idx++) {
        t[idx] = 0n;
        unmapped += pgsize;
        i++;
      }
    }
    return unmapped;
  }

  /** The table the last unmapOne() ended in at the requested level (for the batch in unmap). */
  private lastTable: BigUint64Array | null = null;

  private unmapOne(va: bigint, target: number): bigint {
    this.lastTable = null;
    let table = this.root;
    for (let l = 0; l < target; l++) {
      const t = this.mem.table(table);
      const idx = this.index(va, l);
      const pte = t[idx]!;
      if ((pte & VALID) === 0n) return 0n;
      if (this.isLeaf(pte, l)) return this.partial(t, idx, pte, l, va, target);
      table = this.oa(pte);
    }
    const t = this.mem.table(table);
    this.lastTable = t;
    const idx = this.index(va, target);
    const pte = t[idx]!;
    if ((pte & VALID) === 0n) return 0n;
    if (!this.isLeaf(pte, target)) {
      // Smaller leaves under a block-sized request. io-pgtable-arm frees the whole table and
      // reports the block size, holes included; this model removes the leaves up to the first
      // hole and reports just those.
      if (!this.fullyMapped(this.oa(pte), target + 1)) return this.unmapPrefix(this.oa(pte), target + 1, va);
      this.freeSubtree(this.oa(pte), target + 1);
    }
    t[idx] = 0n;
    return this.blockSize(target);
  }

  /** Removes the leaves of a table from `va` on while they are contiguous; returns their bytes. */
  private unmapPrefix(table: bigint, l: number, va: bigint): bigint {
    let removed = 0n;
    for (const [leafVa, size] of [...this.leavesUnder(table, l, va - (va % this.blockSize(l - 1)), va)]) {
      if (leafVa !== va + removed) break;
      if (this.unmapOne(leafVa, this.levelOf(size)) !== size) break;
      removed += size;
    }
    return removed;
  }

  /** A request for a smaller size inside the leaf `pte` at level `l`. */
  private partial(t: BigUint64Array, idx: number, pte: bigint, l: number, va: bigint, target: number): bigint {
    const size = this.blockSize(l);
    switch (this.cfg.partialUnmap) {
      case 'refuse':
        return 0n;
      case 'whole-leaf':
        if (va % size !== 0n) return 0n; // a request starting inside a leaf removes nothing
        t[idx] = 0n;
        return size;
      case 'split': {
        // arm_lpae_split_blk_unmap: the block becomes a table of the next size down, less the
        // piece asked for (recursively, down to the requested size).
        const next = this.mem.alloc(Number(1n << this.bitsPerLevel));
        if (next === null) return 0n;
        const sub = this.blockSize(l + 1);
        // The block's attributes carry over to every smaller leaf; only the address changes.
        const attrs = pte & ~this.oaMask() & ~(VALID | TABLE_OR_PAGE) & ~(this.bug('split-widens-perm') ? AP_RDONLY : 0n);
        const nt = this.mem.table(next);
        for (let i = 0; i < nt.length; i++) {
          nt[i] = (this.oa(pte) + BigInt(i) * sub) | attrs | VALID | (l + 1 === this.levels - 1 ? TABLE_OR_PAGE : 0n);
        }
        t[idx] = next | TABLE_OR_PAGE | VALID;
        return this.unmapOne(va, target);
      }
    }
  }

  /** What `iova` translates to: the physical address, the leaf's size and writability; or null. */
  walk(iova: bigint): { phys: bigint; size: bigint; writable: boolean } | null {
    if (iova >> BigInt(this.cfg.ias) !== 0n) return null;
    let table = this.root;
    for (let l = 0; l < this.levels; l++) {
      const pte = this.mem.table(table)[this.index(iova, l)]!;
      if ((pte & VALID) === 0n) return null;
      if (this.isLeaf(pte, l)) return { phys: this.oa(pte) + (iova & (this.blockSize(l) - 1n)), size: this.blockSize(l), writable: (pte & AP_RDONLY) === 0n };
      table = this.oa(pte);
    }
    return null;
  }

  /** Leaves over [iova, iova+size), run-length encoded (the `leaves` capability). */
  leaves(iova: bigint, size: bigint): LeafRun[] {
    const runs: LeafRun[] = [];
    this.collectRuns(this.root, 0, 0n, iova, iova + size, runs);
    return runs;
  }

  /** Appends the leaves of a subtree that meet [lo, hi) to `runs`, merging contiguous equal sizes. */
  private collectRuns(table: bigint, l: number, base: bigint, lo: bigint, hi: bigint, runs: LeafRun[]): void {
    const t = this.mem.table(table);
    const step = this.blockSize(l);
    const first = lo > base ? Number((lo - base) / step) : 0;
    let va = base + BigInt(first) * step;
    for (let i = first; i < t.length && va < hi; i++, va += step) {
      const pte = t[i]!;
      if ((pte & VALID) === 0n) continue;
      if (!this.isLeaf(pte, l)) {
        this.collectRuns(this.oa(pte), l + 1, va, lo, hi, runs);
        continue;
      }
      const last = runs[runs.length - 1];
      // Leaves that follow in this table, counted in one pass.
      const end = hi - va >= BigInt(t.length - i) * step ? t.length : i + Number((hi - va + step - 1n) / step);
      let n = 1;
      if (l === this.levels - 1) while (i + n < end && (t[i + n]! & VALID) !== 0n) n++;
      else while (i + n < end && this.isLeaf(t[i + n]!, l)) n++;
      if (last && last.pgsize === step && last.iova + step * last.count === va) last.count += BigInt(n);
      else runs.push({ iova: va, pgsize: step, count: BigInt(n) });
      i += n - 1;
      va += BigInt(n - 1) * step;
    }
  }


  destroy(): void {
    this.freeSubtree(this.root, 0);
  }
}

/** The root table could not be allocated (fail_nth). */
export class OutOfTableMemory extends Error {
  override name = 'OutOfTableMemory';
}
