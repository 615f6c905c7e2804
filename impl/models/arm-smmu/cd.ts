// Context descriptor tables (SMMUv3 §5.4). Each substream of a stream — each PASID a device
// issues — has a 64-byte context descriptor (CD) naming its address space: the ASID that tags
// its TLB entries, TTB0 (the page-table root), T0SZ (64 minus the input bits) and TG0 (the
// granule). A device with few substreams gets a linear table; one with more than 2^10 gets a
// two-level table, an L1 of pointers to leaves of 1024 CDs allocated when first written, as
// arm-smmu-v3 builds them (CTXDESC_SPLIT). Field positions are the architecture's.

import type { TableMemory } from './memory.ts';

export const CD_WORDS = 8;
const SPLIT = 10;
const LEAF_CDS = 1 << SPLIT;

const T0SZ_MASK = 0x3fn;
const TG0_SHIFT = 6n;
const EPD0 = 1n << 14n; // no walks through TTB0: every access faults
const EPD1 = 1n << 30n;
const V = 1n << 31n;
const AA64 = 1n << 41n;
const R = 1n << 45n; // record faults
const A = 1n << 46n; // abort on fault (no stall)
const ASID_SHIFT = 48n;
const TTB0_MASK = ((1n << 52n) - 1n) & ~0xfn;
const L1_V = 1n;
const L1_PTR_MASK = ((1n << 52n) - 1n) & ~0xfffn;

const TG0_OF = new Map<bigint, bigint>([[0x1000n, 0n], [0x10000n, 1n], [0x4000n, 2n]]);
const GRANULE_OF = new Map<bigint, bigint>([...TG0_OF].map(([g, tg]) => [tg, g]));

/**
 * An address space a substream translates through. With EPD0 set the SMMU walks nothing for it
 * (a miss faults), though TLB entries tagged with its ASID still hit: arm-smmu-v3's quiet CD
 * keeps the ASID, so invalidating it stays the driver's job.
 */
export interface ContextDescriptor {
  asid: number;
  ttb0: bigint;
  ias: number;
  granule: bigint;
  epd0: boolean;
}

/** A CD that translates nothing: no walks, faults not recorded. */
export function quietCd(asid: number): ContextDescriptor {
  return { asid, ttb0: 0n, ias: 64, granule: 0x1000n, epd0: true };
}

function encode(v: ContextDescriptor): [bigint, bigint] {
  // A quiet CD records no faults (R clear): DMA to it is expected and harmless.
  const faults = v.epd0 ? EPD0 : R | A;
  const word0 = V | AA64 | EPD1 | faults | (BigInt(v.asid) << ASID_SHIFT) | BigInt(64 - v.ias) | (TG0_OF.get(v.granule)! << TG0_SHIFT);
  return [word0, v.ttb0 & TTB0_MASK];
}

function decode(word0: bigint, word1: bigint): ContextDescriptor | null {
  if ((word0 & V) === 0n) return null;
  return {
    asid: Number(word0 >> ASID_SHIFT), ttb0: word1 & TTB0_MASK, ias: 64 - Number(word0 & T0SZ_MASK),
    granule: GRANULE_OF.get((word0 >> TG0_SHIFT) & 3n)!, epd0: (word0 & EPD0) !== 0n,
  };
}

export class CdTable {
  private constructor(
    private readonly mem: TableMemory,
    readonly ssidBits: number,
    readonly root: bigint,
  ) {}

  get twoLevel(): boolean {
    return this.ssidBits > SPLIT;
  }

  /** A table for 2^ssidBits substreams, or null when its memory cannot be allocated. */
  static create(mem: TableMemory, ssidBits: number): CdTable | null {
    const entries = ssidBits > SPLIT ? 1 << (ssidBits - SPLIT) : (1 << ssidBits) * CD_WORDS;
    const root = mem.alloc(entries);
    return root === null ? null : new CdTable(mem, ssidBits, root);
  }

  /** Where ssid's CD lives; its leaf is allocated when `alloc` (null: absent, or out of memory). */
  private locate(ssid: number, alloc: boolean): { t: BigUint64Array; at: number } | null {
    const root = this.mem.table(this.root);
    if (!this.twoLevel) return { t: root, at: ssid * CD_WORDS };
    const l1 = ssid >> SPLIT;
    if ((root[l1]! & L1_V) === 0n) {
      if (!alloc) return null;
      const leaf = this.mem.alloc(LEAF_CDS * CD_WORDS);
      if (leaf === null) return null;
      root[l1] = leaf | L1_V;
    }
    return { t: this.mem.table(root[l1]! & L1_PTR_MASK), at: (ssid & (LEAF_CDS - 1)) * CD_WORDS };
  }

  /** Writes ssid's CD; false when its leaf could not be allocated. */
  write(ssid: number, v: ContextDescriptor): boolean {
    const slot = this.locate(ssid, true);
    if (!slot) return false;
    const [word0, word1] = encode(v);
    // Everything but word 0 first, then word 0 with V: the SMMU never sees half a valid CD.
    slot.t[slot.at + 1] = word1;
    slot.t[slot.at] = word0;
    return true;
  }

  clear(ssid: number): void {
    const slot = this.locate(ssid, false);
    if (slot) slot.t.fill(0n, slot.at, slot.at + CD_WORDS);
  }

  read(ssid: number): ContextDescriptor | null {
    if (ssid >= 1 << this.ssidBits) return null;
    const slot = this.locate(ssid, false);
    return slot ? decode(slot.t[slot.at]!, slot.t[slot.at + 1]!) : null;
  }

  /** Table pages it holds (the L1 or linear table, and the leaves). */
  get pages(): number {
    if (!this.twoLevel) return 1;
    return 1 + [...this.mem.table(this.root)].filter((d) => (d & L1_V) !== 0n).length;
  }
}
