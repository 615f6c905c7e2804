// An AMD IOMMU v1 host page table: 512-entry tables of 64-bit PTEs in simulated memory, as many
// levels as the input width needs (4 for 48 bits, 5 for 57), leaves of 4 KiB, 2 MiB and 1 GiB;
// or, with a dynamic top, 3 levels that grow one at a time as maps reach higher, as io_pgtable.c
// (increase_address_space()) and iommupt (PT_FEAT_DYNAMIC_TOP, increase_top()) do.
// It behaves as the iommupt AMDv1 format does (linux:drivers/iommu/generic_pt/iommu_pt.h):
// an occupied slot is EADDRINUSE, an unmap removes whole leaves and reports their size, and
// one that starts inside a leaf removes nothing. Unlike iommupt, which frees a table only when
// one unmap covers all of it, tables are freed the moment they become empty, so page-table
// memory returns to the root page once nothing is mapped.

import { type LeafRun, PROT } from '../../../spec/index.ts';
import type { TableMemory } from '../arm-smmu/memory.ts';
import { ENTRIES, OA_MASK, isLeaf, isPresent, leafPte, levelIndex, levelShift, levelsFor, outputAddress, tablePte } from './pte.ts';
import { type Walk, walkTables } from './walk.ts';

export interface AmdV1Config {
  ias: number;
  oas: number;
  /** Page sizes this table may use: a subset of 4K | 2M | 1G. */
  pgsizes: bigint;
  /** Start at 3 levels and add one whenever a map reaches beyond the top, up to what `ias` needs. */
  dynamicTop?: boolean;
  /** Mutants switched on (mutants.ts); empty in the conforming model. */
  bugs?: ReadonlySet<string>;
}

export type TableMapError = 'EADDRINUSE' | 'ENOMEM' | 'ERANGE' | 'EINVAL';
export type MapResult = { mapped: bigint; err?: TableMapError };

/** One step of a walk: the table and the slot it went through. */
interface Step {
  table: bigint;
  idx: number;
}

const U64_MASK = (1n << 64n) - 1n;

export class AmdV1Table {
  /** The current depth and root: both change when a dynamic top grows. */
  levels: number;
  root: bigint;
  readonly maxLevels: number;
  /** Told the old root when the top grew, so the DTEs and GCR3 entries that name it can follow. */
  onGrow?: (oldRoot: bigint) => void;
  /** Present entries per table page: the driver's bookkeeping that lets it free a table once empty. */
  private readonly live = new Map<bigint, number>();
  private readonly vaLimit: bigint;
  private readonly paLimit: bigint;
  private readonly wraps: boolean;

  constructor(private readonly mem: TableMemory, readonly cfg: AmdV1Config) {
    // The buggy driver builds the default 4-level table whatever width it advertises.
    this.maxLevels = this.bug('amd-5level-as-4') ? Math.min(4, levelsFor(cfg.ias)) : levelsFor(cfg.ias);
    this.levels = cfg.dynamicTop ? Math.min(3, this.maxLevels) : this.maxLevels;
    this.vaLimit = 1n << BigInt(cfg.ias);
    this.paLimit = 1n << BigInt(cfg.oas);
    this.wraps = this.bug('amd-map-wrap');
    const root = mem.alloc(ENTRIES);
    if (root === null) throw new OutOfTableMemory();
    this.root = root;
    this.live.set(root, 0);
  }

  private bug(id: string): boolean {
    return this.cfg.bugs?.has(id) === true;
  }

  /** Page-table pages held, the root included (the pt_pages capability). */
  get pageCount(): number {
    return this.live.size;
  }

  private levelOf(pgsize: bigint, levels = this.levels): number {
    for (let l = 0; l < levels; l++) if (1n << levelShift(l) === pgsize) return l;
    return -1;
  }

  /** Does [va, va+size) → [pa, pa+size) fit the widths? The buggy one adds in 64-bit modular arithmetic, as C does. */
  fits(va: bigint, pa: bigint, size: bigint): boolean {
    const vaEnd = this.wraps ? (va + size) & U64_MASK : va + size;
    const paEnd = this.wraps ? (pa + size) & U64_MASK : pa + size;
    return vaEnd <= this.vaLimit && paEnd <= this.paLimit;
  }

  private fitsPiece(va0: bigint, pa0: bigint, pgsize: bigint, k: number): boolean {
    return this.fits(va0 + BigInt(k) * pgsize, pa0 + BigInt(k) * pgsize, pgsize);
  }

  private count(table: bigint, delta: number): void {
    this.live.set(table, this.live.get(table)! + delta);
  }

  /** Adds levels on top until `last` is in reach (or the width allows no more); false when a page cannot be had. */
  private reach(last: bigint, level: number): boolean {
    while (this.levels < this.maxLevels && (last >> levelShift(this.levels) !== 0n || level >= this.levels)) {
      const top = this.mem.alloc(ENTRIES);
      if (top === null) return false;
      const old = this.root;
      // The old top goes under the new one at index 0, unless it is empty: then it is freed.
      if (this.live.get(old)! > 0) {
        this.mem.table(top)[0] = tablePte(old, this.levels);
        this.live.set(top, 1);
      } else {
        this.live.set(top, 0);
        this.live.delete(old);
        this.mem.free(old);
      }
      this.root = top;
      this.levels++;
      this.onGrow?.(old);
    }
    return true;
  }

  /** Maps `count` leaves of `pgsize`; stops at the first problem and says how far it got. */
  map(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): MapResult {
    if (!this.reach((iova + pgsize * count - 1n) & U64_MASK, this.levelOf(pgsize, this.maxLevels))) return { mapped: 0n, err: 'ENOMEM' };
    const target = this.levelOf(pgsize);
    if (target < 0 || (pgsize & this.cfg.pgsizes) === 0n) return { mapped: 0n, err: 'EINVAL' };
    const attrs = leafPte(0n, (prot & PROT.READ) !== 0, (prot & PROT.WRITE) !== 0);
    let mapped = 0n;
    for (let i = 0n; i < count;) {
      if (!this.fits(iova + i * pgsize, paddr + i * pgsize, pgsize)) return { mapped, err: 'ERANGE' };
      const at = this.descend(iova + i * pgsize, target);
      if (typeof at === 'string') return { mapped, err: at };
      // Fill as many slots of this table as the run needs in one go.
      const t = this.mem.table(at.table);
      const va0 = iova + i * pgsize;
      const pa0 = paddr + i * pgsize;
      const first = levelIndex(va0, target);
      let n = Math.min(ENTRIES - first, Number(count - i));
      let err: TableMapError | undefined;
      // The ends only grow, so when the last piece fits they all do; else find the first that does not.
      if (!this.fitsPiece(va0, pa0, pgsize, n - 1)) {
        let k = 0;
        while (k < n && this.fitsPiece(va0, pa0, pgsize, k)) k++;
        n = k;
        err = 'ERANGE';
      }
      if (!this.bug('amd-v1-overmap-replaces')) {
        for (let k = 0; k < n; k++) {
          if (!isPresent(t[first + k]!)) continue;
          n = k;
          err = 'EADDRINUSE';
          break;
        }
      }
      let filled = 0;
      let pa = pa0;
      for (let idx = first; idx < first + n; idx++, pa += pgsize) {
        // io_pgtable.c's free_clear_pte(): whatever was there goes, tables and all.
        if (isPresent(t[idx]!)) this.dropEntry(t[idx]!, target);
        else filled++;
        t[idx] = (pa & OA_MASK) | attrs;
      }
      this.count(at.table, filled);
      mapped += BigInt(n) * pgsize;
      i += BigInt(n);
      if (err) return this.stop(at.path, { mapped, err });
    }
    return { mapped };
  }

  /** A failed map gives back the tables it allocated and left empty. */
  private stop(path: Step[], r: MapResult): MapResult {
    this.prune(path);
    return r;
  }

  /** Walks to the table that holds `level`'s entry for `va`, allocating missing tables. */
  private descend(va: bigint, level: number): { table: bigint; path: Step[] } | 'EADDRINUSE' | 'ENOMEM' {
    let table = this.root;
    const path: Step[] = [];
    for (let l = this.levels - 1; l > level; l--) {
      const t = this.mem.table(table);
      const idx = levelIndex(va, l);
      const pte = t[idx]!;
      path.push({ table, idx });
      if (isPresent(pte) && !isLeaf(pte, l)) {
        table = outputAddress(pte);
        continue;
      }
      // A larger leaf covers the slot; the old driver replaced it by a table (alloc_pte()).
      if (isPresent(pte) && !this.bug('amd-v1-overmap-replaces')) return 'EADDRINUSE';
      const next = this.mem.alloc(ENTRIES);
      if (next === null) {
        this.prune(path);
        return 'ENOMEM';
      }
      this.live.set(next, 0);
      if (!isPresent(pte)) this.count(table, 1);
      t[idx] = tablePte(next, l);
      table = next;
    }
    return { table, path };
  }

  /** Frees a replaced entry's subtree, if it was a table (the overmap mutant only). */
  private dropEntry(pte: bigint, level: number): void {
    if (!isPresent(pte) || isLeaf(pte, level)) return;
    const t = this.mem.table(outputAddress(pte));
    for (const e of t) this.dropEntry(e, level - 1);
    this.live.delete(outputAddress(pte));
    this.mem.free(outputAddress(pte));
  }

  /** Frees the empty tables at the bottom of a walk, bottom-up, never the root. */
  private prune(path: Step[]): void {
    for (let k = path.length - 1; k >= 0; k--) {
      const { table, idx } = path[k]!;
      const t = this.mem.table(table);
      const pte = t[idx]!;
      if (!isPresent(pte)) continue;
      const level = this.levels - 1 - k;
      if (isLeaf(pte, level)) return;
      const child = outputAddress(pte);
      if (this.live.get(child)! > 0) return;
      t[idx] = 0n;
      this.count(table, -1);
      this.live.delete(child);
      this.mem.free(child);
    }
  }

  /** The leaf holding `va`, with the walk that led to it; null where nothing is mapped. */
  private find(va: bigint): { path: Step[]; table: bigint; idx: number; level: number } | null {
    if (va >> BigInt(this.cfg.ias) !== 0n || va >> levelShift(this.levels) !== 0n) return null;
    let table = this.root;
    const path: Step[] = [];
    for (let l = this.levels - 1; l >= 0; l--) {
      const idx = levelIndex(va, l);
      const pte = this.mem.table(table)[idx]!;
      if (!isPresent(pte)) return null;
      if (isLeaf(pte, l)) return { path, table, idx, level: l };
      path.push({ table, idx });
      table = outputAddress(pte);
    }
    return null;
  }

  /**
   * Unmaps from `iova` up to pgsize * count bytes, whole leaves only, stopping at a hole;
   * returns the bytes removed (more than asked when the last leaf reaches beyond the range).
   */
  unmap(iova: bigint, pgsize: bigint, count: bigint): bigint {
    const size = pgsize * count;
    let unmapped = 0n;
    while (unmapped < size) {
      const leaf = this.find(iova + unmapped);
      if (!leaf) break;
      const leafSize = 1n << levelShift(leaf.level);
      // A request starting inside a leaf removes nothing of it (iommupt __unmap_range: -EINVAL).
      if ((iova + unmapped) % leafSize !== 0n) break;
      // This leaf and the ones after it in the same table, as far as the request reaches.
      const t = this.mem.table(leaf.table);
      const left = (size - unmapped + leafSize - 1n) / leafSize;
      const want = left < BigInt(ENTRIES) ? Number(left) : ENTRIES;
      let n = 1;
      while (n < want && leaf.idx + n < ENTRIES && isPresent(t[leaf.idx + n]!) && isLeaf(t[leaf.idx + n]!, leaf.level)) n++;
      t.fill(0n, leaf.idx, leaf.idx + n);
      this.count(leaf.table, -n);
      unmapped += BigInt(n) * leafSize;
      if (!this.bug('amd-pt-leak')) this.prune(leaf.path);
    }
    return unmapped;
  }

  /** The software walk (iova_to_phys), the same as the hardware's with this table's depth. */
  walk(iova: bigint): Walk | null {
    return walkTables(this.mem, this.root, this.levels, iova);
  }

  /** Leaves over [iova, iova+size), run-length encoded (the `leaves` capability). */
  leaves(iova: bigint, size: bigint): LeafRun[] {
    const runs: LeafRun[] = [];
    this.collect(this.root, this.levels - 1, 0n, iova, iova + size, runs);
    return runs;
  }

  private collect(table: bigint, level: number, base: bigint, lo: bigint, hi: bigint, runs: LeafRun[]): void {
    const t = this.mem.table(table);
    const step = 1n << levelShift(level);
    const first = lo > base ? Number((lo - base) / step) : 0;
    const end = hi > base ? Math.min(ENTRIES, Number((hi - base + step - 1n) / step)) : 0;
    for (let i = first; i < end;) {
      const pte = t[i]!;
      if (!isPresent(pte)) {
        i++;
      } else if (!isLeaf(pte, level)) {
        this.collect(outputAddress(pte), level - 1, base + BigInt(i) * step, lo, hi, runs);
        i++;
      } else {
        // A stretch of leaves of this size becomes one run, or lengthens the last one.
        let j = i + 1;
        while (j < end && isPresent(t[j]!) && isLeaf(t[j]!, level)) j++;
        const va = base + BigInt(i) * step;
        const last = runs[runs.length - 1];
        if (last && last.pgsize === step && last.iova + step * last.count === va) last.count += BigInt(j - i);
        else runs.push({ iova: va, pgsize: step, count: BigInt(j - i) });
        i = j;
      }
    }
  }

  /** Gives every page back (domain_free). */
  destroy(): void {
    for (const page of this.live.keys()) this.mem.free(page);
    this.live.clear();
  }
}

/** The root table could not be allocated (fail_nth). */
export class OutOfTableMemory extends Error {
  override name = 'OutOfTableMemory';
}
