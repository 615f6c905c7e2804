// Stage-1 VMSAv8-64 translation tables with a 4 KiB granule, as io-pgtable-arm builds them for
// an SMMUv3 stage-1 domain (drivers/iommu/io-pgtable-arm.c; Arm ARM D8.3): 48-bit input, four
// levels (0 to 3) of 512 descriptors, pages at level 3, blocks at level 2 (2 MiB) and level 1
// (1 GiB). Tables emptied by an unmap are kept, as io-pgtable-arm keeps them.
//
// Leaves carry what arm_lpae_prot_to_pte() gives a stage-1 entry: AF (QEMU 10.0 and later fault
// on a clear AF, docs/notes/qemu-smmuv3.md §0.16), nG, inner shareable, AP[1] (unprivileged)
// unless PRIV, AP[2] (read-only) without WRITE, XN with NOEXEC, and the memory type from the
// MAIR index (device for MMIO, write-back for CACHE, non-cacheable otherwise). Stage 1 has no
// write-only encoding: a write-only mapping is read-write, as in io-pgtable-arm. A leaf with
// neither READ nor WRITE is kept invalid (bit 0 clear, so the unit faults on it) with a bit the
// architecture leaves to software set, so the driver still sees it there to clear.

import { PROT } from '../../../../spec/index.ts';
import type { GuestPages } from '../common/guest-pages.ts';

const VALID = 1n;
/** Bit 1: a table below level 3, a page at level 3; clear in a block. */
const TABLE_OR_PAGE = 2n;
const ATTR_INDEX = (i: bigint): bigint => i << 2n;
const AP_UNPRIV = 1n << 6n;
const AP_RDONLY = 1n << 7n;
const SH_INNER = 3n << 8n;
const AF = 1n << 10n;
const NG = 1n << 11n;
const XN = 1n << 54n;
/** Bit 55, ignored by the unit (software use, D8.3.2): a leaf the driver holds without permissions. */
const SW_HELD = 1n << 55n;
const ADDR = 0x0000_ffff_ffff_f000n;

const MAIR_DEVICE = 0n;
const MAIR_CACHE = 1n;
const MAIR_NC = 2n;

const LEVELS = 4;
const SHIFT = (level: number): bigint => 12n + 9n * BigInt(3 - level);
const INDEX = (iova: bigint, level: number): bigint => (iova >> SHIFT(level)) & 0x1ffn;

/** The level that holds a leaf of `pgsize` bytes. */
export function levelOf(pgsize: bigint): number {
  switch (pgsize) {
    case 0x1000n: return 3;
    case 0x20_0000n: return 2;
    case 0x4000_0000n: return 1;
    default: throw new RangeError(`no stage-1 leaf of 0x${pgsize.toString(16)} bytes with a 4 KiB granule`);
  }
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

export class Stage1Table {
  readonly root: bigint;
  readonly inputBits = 12 + 9 * LEVELS;

  constructor(private readonly mem: GuestPages) {
    this.root = mem.alloc();
  }

  /** Installs `count` leaves of `pgsize` from `iova` onto `paddr` onward; the caller has checked the range is free. */
  setLeaves(iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void {
    const level = levelOf(pgsize);
    const attrs = leafAttributes(prot, level);
    while (count > 0n) {
      const table = this.tableFor(iova, level);
      for (let i = INDEX(iova, level); i < 512n && count > 0n; i++, count--, iova += pgsize, paddr += pgsize) {
        this.mem.write64(table + i * 8n, (paddr & ADDR) | attrs);
      }
    }
  }

  /** Clears every leaf in [lo, hi), which holds whole leaves only; returns the leaves cleared, in order. */
  clearRange(lo: bigint, hi: bigint): Leaf[] {
    const cleared: Leaf[] = [];
    for (let at = lo; at < hi; ) {
      let table = this.root;
      for (let level = 0; ; level++) {
        const slot = table + INDEX(at, level) * 8n;
        const e = this.mem.read64(slot);
        const size = 1n << SHIFT(level);
        if (e === 0n) {
          at = (at & ~(size - 1n)) + size;
          break;
        }
        if (level === 3 || !(e & TABLE_OR_PAGE) || !(e & VALID)) {
          if (at & (size - 1n) || at + size > hi) throw new Error(`0x${at.toString(16)}: a 0x${size.toString(16)}-byte leaf straddles the range being cleared`);
          this.mem.write64(slot, 0n);
          cleared.push({ iova: at, size });
          at += size;
          break;
        }
        table = e & ADDR;
      }
    }
    return cleared;
  }

  /** What the tables say about `iova` (the driver's software walk), or null where nothing valid maps it. */
  walk(iova: bigint): Translation | null {
    if (iova >> BigInt(this.inputBits) !== 0n) return null;
    let table = this.root;
    for (let level = 0; level < LEVELS; level++) {
      const e = this.mem.read64(table + INDEX(iova, level) * 8n);
      if (!(e & VALID)) return null;
      if (level === 3 || !(e & TABLE_OR_PAGE)) {
        const mask = (1n << SHIFT(level)) - 1n;
        return { phys: (e & ADDR & ~mask) | (iova & mask), read: true, write: (e & AP_RDONLY) === 0n };
      }
      table = e & ADDR;
    }
    return null;
  }

  /** The table holding `iova`'s entry at `level`, with the tables above it made as needed. */
  private tableFor(iova: bigint, level: number): bigint {
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const at = table + INDEX(iova, l) * 8n;
      let e = this.mem.read64(at);
      if (e === 0n) {
        e = this.mem.alloc() | TABLE_OR_PAGE | VALID;
        this.mem.write64(at, e);
      } else if (!(e & TABLE_OR_PAGE) || !(e & VALID)) {
        throw new Error(`0x${iova.toString(16)}: a leaf is in the way at level ${l}`);
      }
      table = e & ADDR;
    }
    return table;
  }
}

/** The descriptor bits of a leaf at `level` for `prot` (arm_lpae_prot_to_pte(), stage 1). */
function leafAttributes(prot: number, level: number): bigint {
  const mair = prot & PROT.MMIO ? MAIR_DEVICE : prot & PROT.CACHE ? MAIR_CACHE : MAIR_NC;
  let bits = AF | NG | SH_INNER | ATTR_INDEX(mair) | (level === 3 ? TABLE_OR_PAGE : 0n);
  if (!(prot & PROT.PRIV)) bits |= AP_UNPRIV;
  if (!(prot & PROT.WRITE)) bits |= AP_RDONLY;
  if (prot & PROT.NOEXEC) bits |= XN;
  return prot & (PROT.READ | PROT.WRITE) ? bits | VALID : bits | SW_HELD;
}
