// AMD IOMMU v1 page-table entries, as linux:drivers/iommu/amd/amd_iommu_types.h (IOMMU_PTE_PR,
// PM_LEVEL_ENC, IOMMU_PTE_IR/IW) and linux:drivers/iommu/generic_pt/fmt/amdv1.h (AMDV1PT_FMT_*)
// lay them out: present (0), next level (11:9), output address (51:12), force coherent (60),
// read (61) and write (62) permission. Levels count from 0 at the 4 KiB leaf table, as in
// amdv1.h; a PDE's next-level field holds the 1-based level of the table it points to, which
// is the 0-based level of the PDE itself.

export const PTE_PR = 1n;
export const PTE_FC = 1n << 60n;
export const PTE_IR = 1n << 61n;
export const PTE_IW = 1n << 62n;
const NEXT_LEVEL_SHIFT = 9n;
const NEXT_LEVEL_MASK = 7n << NEXT_LEVEL_SHIFT;
/** Bits 51:12: AMD's output (and table) addresses are at most 52 bits wide. */
export const OA_MASK = ((1n << 52n) - 1n) & ~0xfffn;
/** A leaf of the default size for its level (PM_LEVEL_ENC(0)); 7 would mean a replicated larger page. */
export const NL_DEFAULT = 0;
export const NL_SIZE = 7;
const NL_DEFAULT_BITS = BigInt(NL_DEFAULT) << NEXT_LEVEL_SHIFT;
const NL_SIZE_BITS = BigInt(NL_SIZE) << NEXT_LEVEL_SHIFT;

export const BITS_PER_LEVEL = 9n;
export const ENTRIES = 512;

/** Address bits below a level's index: its entries each cover 1 << shift bytes (PM_LEVEL_SHIFT). */
export function levelShift(level: number): bigint {
  return 12n + BITS_PER_LEVEL * BigInt(level);
}

/** PM_LEVEL_INDEX: nine bits per level, the bits above the top level not looked at. */
export function levelIndex(iova: bigint, level: number): number {
  return Number((iova >> levelShift(level)) & 0x1ffn);
}

/** Table levels an input width needs: 3 for 39 bits, 4 for 48, 5 for 57, 6 beyond. */
export function levelsFor(ias: number): number {
  return Math.max(1, Math.ceil((ias - 12) / 9));
}

export function isPresent(pte: bigint): boolean {
  return (pte & PTE_PR) !== 0n;
}

export function nextLevel(pte: bigint): number {
  return Number((pte & NEXT_LEVEL_MASK) >> NEXT_LEVEL_SHIFT);
}

/** A PDE: present, pointing at a table one level down, IR and IW set (permissions are ANDed down the walk). */
export function tablePte(tableAddr: bigint, level: number): bigint {
  return (tableAddr & OA_MASK) | (BigInt(level) << NEXT_LEVEL_SHIFT) | PTE_PR | PTE_IR | PTE_IW;
}

/** A leaf PTE of the level's own size. Read and write are separate bits: write-only is expressible. */
export function leafPte(paddr: bigint, read: boolean, write: boolean): bigint {
  return (paddr & OA_MASK) | PTE_PR | PTE_FC | (read ? PTE_IR : 0n) | (write ? PTE_IW : 0n);
}

/** Is this present entry at `level` a leaf (the level-0 table holds nothing else)? */
export function isLeaf(pte: bigint, level: number): boolean {
  if (level === 0) return true;
  const nl = pte & NEXT_LEVEL_MASK;
  return nl === NL_DEFAULT_BITS || nl === NL_SIZE_BITS;
}

export function outputAddress(pte: bigint): bigint {
  return pte & OA_MASK;
}
