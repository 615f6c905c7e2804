// AMD v1 host page tables (spec §2.2.3) in guest memory, as Linux's io_pgtable.c writes them:
// 512 entries of 8 bytes per 4 KiB table, 9 bits of IOVA per level; a directory entry
// (PM_LEVEL_PDE()) is PR, IR, IW and the level of the table it points to in NextLevel, so the
// leaf alone decides the permission. A page of any power-of-two size from 4 KiB is a leaf at the
// level whose entries it spans (PAGE_SIZE_LEVEL()): a page of exactly one entry's span is
// NextLevel 0; a bigger one is 2..256 identical entries with NextLevel 7 whose address has
// every bit from 12 to log2(size) - 2 set, the bit below the size clear (PAGE_SIZE_PTE(),
// §2.2.3.2 "page size encoding"). Leaves carry PR and FC, and IR/IW by the mapping's rights.
// Tables emptied by an unmap are kept until the domain goes, as Linux does.

import type { GuestPages } from '../common/guest-pages.ts';
import { PTE, PTE_ADDR, nextLevelOf, withNextLevel } from './regs.ts';

const LEVEL_SHIFT = (level: number): bigint => 12n + 9n * BigInt(level - 1);
const INDEX = (iova: bigint, level: number): bigint => (iova >> LEVEL_SHIFT(level)) & 0x1ffn;
const log2 = (v: bigint): number => v.toString(2).length - 1;

/** Where a page of `pgsize` bytes lives: its level and how many identical entries it takes. */
export function leafShape(pgsize: bigint): { level: number; replicas: bigint } {
  const bits = log2(pgsize);
  if (pgsize !== 1n << BigInt(bits) || bits < 12) throw new RangeError(`no v1 leaf of 0x${pgsize.toString(16)} bytes`);
  return { level: Math.floor((bits - 12) / 9) + 1, replicas: 1n << BigInt((bits - 12) % 9) };
}

/** A leaf entry for a page of `pgsize` at `paddr` (PAGE_SIZE_PTE() and PM_LEVEL_ENC(7) where it takes several entries). */
export function leafEntry(paddr: bigint, pgsize: bigint, read: boolean, write: boolean): bigint {
  const rights = PTE.PR | PTE.FC | (read ? PTE.IR : 0n) | (write ? PTE.IW : 0n);
  if (leafShape(pgsize).replicas === 1n) return paddr | rights;
  const encoded = (paddr | (pgsize - 1n)) & ~(pgsize >> 1n) & PTE_ADDR;
  return withNextLevel(encoded | rights, 7);
}

/** The page a leaf entry found at `level` maps: its size, from NextLevel 7's address encoding or from the level. */
export function leafSize(e: bigint, level: number): bigint {
  if (nextLevelOf(e) !== 7) return 1n << LEVEL_SHIFT(level);
  let bit = 12n;
  while (bit < 52n && e & (1n << bit)) bit++;
  return 1n << (bit + 1n);
}

export interface Translation {
  phys: bigint;
  read: boolean;
  write: boolean;
}

export class V1Table {
  readonly root: bigint;

  constructor(
    private readonly mem: GuestPages,
    readonly levels: number,
  ) {
    this.root = mem.alloc();
  }

  get inputBits(): number {
    return Number(LEVEL_SHIFT(this.levels + 1));
  }

  /** Installs `count` pages of `pgsize` from `iova` onto `paddr` onward. The kit's core layer has checked the range is free. */
  setLeaves(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, read: boolean, write: boolean): void {
    const { level } = leafShape(pgsize);
    const span = 1n << LEVEL_SHIFT(level);
    for (; count > 0n; count--, iova += pgsize, paddr += pgsize) {
      const table = this.tableFor(iova, level);
      const e = leafEntry(paddr, pgsize, read, write);
      for (let at = iova; at < iova + pgsize; at += span) this.mem.write64(table + INDEX(at, level) * 8n, e);
    }
  }

  /**
   * Clears every leaf in [lo, hi), which holds whole pages only (the core layer removed them
   * whole), skipping what no table covers; returns the pages cleared, as [iova, size].
   */
  clearRange(lo: bigint, hi: bigint): { iova: bigint; size: bigint }[] {
    const cleared: { iova: bigint; size: bigint }[] = [];
    for (let at = lo; at < hi; ) {
      let table = this.root;
      for (let level = this.levels; ; level--) {
        const e = this.mem.read64(table + INDEX(at, level) * 8n);
        const span = 1n << LEVEL_SHIFT(level);
        if (!(e & PTE.PR)) {
          at = (at & ~(span - 1n)) + span; // nothing here at this level
          break;
        }
        const next = nextLevelOf(e);
        if (level === 1 || next === 0 || next === 7) {
          const size = leafSize(e, level);
          if (at & (size - 1n) || at + size > hi) throw new Error(`0x${at.toString(16)}: a 0x${size.toString(16)}-byte page straddles the range being cleared`);
          for (let x = at; x < at + size; x += span) this.mem.write64(table + INDEX(x, level) * 8n, 0n);
          cleared.push({ iova: at, size });
          at += size;
          break;
        }
        table = e & PTE_ADDR;
      }
    }
    return cleared;
  }

  /** What the tables say about `iova` (the driver's own walk, as fetch_pte()), or null where nothing maps it. */
  walk(iova: bigint): Translation | null {
    if (iova >> BigInt(this.inputBits) !== 0n) return null;
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const e = this.mem.read64(table + INDEX(iova, level) * 8n);
      if (!(e & PTE.PR)) return null;
      const next = nextLevelOf(e);
      if (level === 1 || next === 0 || next === 7) {
        const size = leafSize(e, level);
        return { phys: (e & PTE_ADDR & ~(size - 1n)) | (iova & (size - 1n)), read: (e & PTE.IR) !== 0n, write: (e & PTE.IW) !== 0n };
      }
      table = e & PTE_ADDR;
    }
    return null;
  }

  /** The table holding `iova`'s entry at `leaf`, with the tables above it made as needed (alloc_pte()). */
  private tableFor(iova: bigint, leaf: number): bigint {
    let table = this.root;
    for (let level = this.levels; level > leaf; level--) {
      const at = table + INDEX(iova, level) * 8n;
      let e = this.mem.read64(at);
      if (!(e & PTE.PR)) {
        // PM_LEVEL_PDE(): the next table's level, present, both rights.
        e = withNextLevel(this.mem.alloc() | PTE.PR | PTE.IR | PTE.IW, level - 1);
        this.mem.write64(at, e);
      } else if (nextLevelOf(e) === 0 || nextLevelOf(e) === 7) {
        throw new Error(`0x${iova.toString(16)}: a large page is in the way at level ${level}`);
      }
      table = e & PTE_ADDR;
    }
    return table;
  }
}
