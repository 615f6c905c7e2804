// First-stage Sv39/Sv48 page tables (RISC-V IOMMU §2.3, the privileged spec's Sv39/Sv48) in
// guest memory, as Linux's drivers/iommu/riscv/iommu.c writes them: 512 entries of 8 bytes per
// 4 KiB table, 9 bits of IOVA per level; a pointer is V alone (riscv_iommu_pte_alloc()), a leaf
// is V, A, U, R, and W and D when writable (riscv_iommu_map_pages(), regs.ts LEAF_RW/LEAF_RO).
// Leaves sit at any level: 4 KiB, 2 MiB, 1 GiB, and in Sv48 512 GiB (QEMU walks them all,
// docs/notes/qemu-riscv-iommu.md §3). There is no write-only leaf (W without R is reserved), so
// a write-only mapping is read-write, as Linux maps it. A mapping with neither right is kept as
// an invalid entry (V clear, so the unit faults) marked in the software bits, so the driver still
// finds it to clear. Tables emptied by an unmap are kept until the domain goes, as Linux does.

import { PROT } from '../../../../spec/index.ts';
import type { GuestPages } from '../common/guest-pages.ts';
import { LEAF_RO, LEAF_RW, LEVELS_OF, PTE, PTE_SW_HELD, type PagingMode, isLeaf, pteAddress, pteOf } from './regs.ts';

/** log2 of the span of one entry at `level` (1 = the 4 KiB level). */
const SHIFT = (level: number): bigint => 12n + 9n * BigInt(level - 1);
const INDEX = (iova: bigint, level: number): bigint => (iova >> SHIFT(level)) & 0x1ffn;

/** The level whose entries span exactly `pgsize`. */
export function levelOf(pgsize: bigint, levels: number): number {
  for (let level = 1; level <= levels; level++) if (1n << SHIFT(level) === pgsize) return level;
  throw new RangeError(`no first-stage leaf of 0x${pgsize.toString(16)} bytes in a ${levels}-level table`);
}

/** The leaf entry for `prot` at `paddr`. */
export function leafEntry(paddr: bigint, prot: number): bigint {
  if (prot & PROT.WRITE) return pteOf(paddr, LEAF_RW);
  if (prot & PROT.READ) return pteOf(paddr, LEAF_RO);
  return pteOf(paddr, PTE_SW_HELD);
}

export interface Translation {
  phys: bigint;
  read: boolean;
  write: boolean;
}

export interface Leaf {
  iova: bigint;
  size: bigint;
}

export class FirstStageTable {
  readonly root: bigint;
  readonly levels: number;

  constructor(
    private readonly mem: GuestPages,
    readonly mode: PagingMode,
  ) {
    this.levels = LEVELS_OF[mode];
    this.root = mem.alloc();
  }

  /** The IOVA bits the mode translates; bits above must equal the top one (canonical), which Linux avoids by using the lower half. */
  get vaBits(): number {
    return Number(SHIFT(this.levels + 1));
  }

  /** Installs `count` leaves of `pgsize` from `iova` onto `paddr` onward; the core layer has checked the range is free. */
  setLeaves(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    const level = levelOf(pgsize, this.levels);
    while (count > 0n) {
      const table = this.tableFor(iova, level);
      for (let i = INDEX(iova, level); i < 512n && count > 0n; i++, count--, iova += pgsize, paddr += pgsize) {
        this.mem.write64(table + i * 8n, leafEntry(paddr, prot));
      }
    }
  }

  /** Clears every leaf in [lo, hi), which holds whole leaves only; returns the leaves cleared, in order. */
  clearRange(lo: bigint, hi: bigint): Leaf[] {
    const cleared: Leaf[] = [];
    for (let at = lo; at < hi; ) {
      let table = this.root;
      for (let level = this.levels; ; level--) {
        const slot = table + INDEX(at, level) * 8n;
        const e = this.mem.read64(slot);
        const size = 1n << SHIFT(level);
        if (e === 0n) {
          at = (at & ~(size - 1n)) + size;
          break;
        }
        if (level === 1 || isLeaf(e) || !(e & PTE.V)) {
          if (at & (size - 1n) || at + size > hi) throw new Error(`0x${at.toString(16)}: a 0x${size.toString(16)}-byte leaf straddles the range being cleared`);
          this.mem.write64(slot, 0n);
          cleared.push({ iova: at, size });
          at += size;
          break;
        }
        table = pteAddress(e);
      }
    }
    return cleared;
  }

  /** What the tables say about `iova` (the driver's own walk), or null where nothing valid maps it. */
  walk(iova: bigint): Translation | null {
    // Linux's aperture is the lower half (va_bits - 1): nothing above it is ever mapped.
    if (iova >> BigInt(this.vaBits - 1) !== 0n) return null;
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const e = this.mem.read64(table + INDEX(iova, level) * 8n);
      if (!(e & PTE.V)) return null;
      if (isLeaf(e)) {
        const mask = (1n << SHIFT(level)) - 1n;
        return { phys: (pteAddress(e) & ~mask) | (iova & mask), read: (e & PTE.R) !== 0n, write: (e & PTE.W) !== 0n };
      }
      table = pteAddress(e);
    }
    return null;
  }

  /** The table holding `iova`'s entry at `level`, with the tables above it made as needed. */
  private tableFor(iova: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const at = table + INDEX(iova, l) * 8n;
      let e = this.mem.read64(at);
      if (e === 0n) {
        e = pteOf(this.mem.alloc(), PTE.V);
        this.mem.write64(at, e);
      } else if (isLeaf(e) || !(e & PTE.V)) {
        throw new Error(`0x${iova.toString(16)}: a leaf is in the way at level ${l}`);
      }
      table = pteAddress(e);
    }
    return table;
  }
}
