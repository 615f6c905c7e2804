// Second-level page tables (VT-d §3.7, §9.8) in guest memory: 512 entries of 8 bytes per 4 KiB
// table, 9 bits of IOVA per level, leaves at level 1 (4 KiB), or large leaves with PS at level 2
// (2 MiB) and level 3 (1 GiB). Every non-leaf entry grants read and write: a unit checks the
// permission at each level of the walk (§3.7.1), so the leaf alone decides. Tables emptied by an
// unmap are kept, as Linux's dma_pte_clear_range() keeps them until the domain is freed. A leaf
// mapped with neither read nor write keeps its address: not present to the unit, still the
// driver's to clear.

import type { GuestPages } from '../common/guest-pages.ts';
import { PTE, PTE_ADDR } from './regs.ts';

const LEVEL_SHIFT = (level: number): bigint => 12n + 9n * BigInt(level - 1);
const INDEX = (iova: bigint, level: number): bigint => (iova >> LEVEL_SHIFT(level)) & 0x1ffn;

/** The leaf level that holds a page of `pgsize` bytes. */
export function levelOf(pgsize: bigint): number {
  switch (pgsize) {
    case 0x1000n: return 1;
    case 0x20_0000n: return 2;
    case 0x4000_0000n: return 3;
    default: throw new RangeError(`no second-level leaf of 0x${pgsize.toString(16)} bytes`);
  }
}

export interface Translation {
  phys: bigint;
  read: boolean;
  write: boolean;
}

export class SecondLevelTable {
  readonly root: bigint;

  constructor(
    private readonly mem: GuestPages,
    readonly levels: number,
  ) {
    this.root = mem.alloc();
  }

  /**
   * Installs `count` leaves of `pgsize` from `iova` onto `paddr` onward, a table at a time. The
   * caller (the kit's core layer) has checked the range is free.
   */
  setLeaves(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, read: boolean, write: boolean): void {
    const leaf = levelOf(pgsize);
    const bits = (read ? PTE.R : 0n) | (write ? PTE.W : 0n) | (leaf > 1 ? PTE.PS : 0n);
    while (count > 0n) {
      const table = this.tableFor(iova, leaf);
      for (let i = INDEX(iova, leaf); i < 512n && count > 0n; i++, count--, iova += pgsize, paddr += pgsize) {
        this.mem.write64(table + i * 8n, paddr | bits);
      }
    }
  }

  /**
   * Clears every leaf in [lo, hi), which holds whole leaves only (the core layer removed them
   * whole), skipping what no table covers; returns how many it cleared.
   */
  clearRange(lo: bigint, hi: bigint): number {
    let cleared = 0;
    for (let at = lo; at < hi; ) {
      let table = this.root;
      for (let level = this.levels; ; level--) {
        const slot = table + INDEX(at, level) * 8n;
        const e = this.mem.read64(slot);
        const size = 1n << LEVEL_SHIFT(level);
        if (e === 0n) {
          at = (at & ~(size - 1n)) + size; // nothing here at this level
          break;
        }
        if (level === 1 || e & PTE.PS) {
          if (at & (size - 1n) || at + size > hi) throw new Error(`0x${at.toString(16)}: a ${size.toString(16)}-byte leaf straddles the range being cleared`);
          this.mem.write64(slot, 0n);
          cleared++;
          at += size;
          break;
        }
        table = e & PTE_ADDR;
      }
    }
    return cleared;
  }

  /** What the tables say about `iova` (the driver's software walk), or null where nothing maps it. */
  walk(iova: bigint): Translation | null {
    if (iova >> (12n + 9n * BigInt(this.levels)) !== 0n) return null;
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const e = this.mem.read64(table + INDEX(iova, level) * 8n);
      if (!(e & (PTE.R | PTE.W))) return null;
      if (level === 1 || e & PTE.PS) {
        const offset = iova & ((1n << LEVEL_SHIFT(level)) - 1n);
        return { phys: (e & PTE_ADDR & ~((1n << LEVEL_SHIFT(level)) - 1n)) + offset, read: (e & PTE.R) !== 0n, write: (e & PTE.W) !== 0n };
      }
      table = e & PTE_ADDR;
    }
    return null;
  }

  /** The table holding `iova`'s entry at level `leaf`, with the tables above it made as needed. */
  private tableFor(iova: bigint, leaf: number): bigint {
    let table = this.root;
    for (let level = this.levels; level > leaf; level--) {
      const at = table + INDEX(iova, level) * 8n;
      let e = this.mem.read64(at);
      if (!(e & (PTE.R | PTE.W))) {
        e = this.mem.alloc() | PTE.R | PTE.W;
        this.mem.write64(at, e);
      } else if (e & PTE.PS) {
        throw new Error(`0x${iova.toString(16)}: a large leaf is in the way at level ${level}`);
      }
      table = e & PTE_ADDR;
    }
    return table;
  }
}
