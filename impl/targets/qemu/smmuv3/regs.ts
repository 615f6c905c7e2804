// SMMUv3 as a driver sees it: the register page, the stream table entry (STE), the context
// descriptor (CD), commands and event records, encoded as the architecture specifies (Arm IHI
// 0070: §6.3 registers, §5.2 STE, §5.4 CD, §4 commands, §7.3 events) and as Linux builds them
// (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.{c,h}). Where QEMU reads or checks a field
// differently, docs/notes/qemu-smmuv3.md says so.

/** The SMMU on QEMU's `virt` machine (VIRT_SMMU): page 0 and its alias page 1. */
export const SMMU_BASE = 0x0905_0000n;

export const REG = {
  IDR0: 0x00, IDR1: 0x04, IDR3: 0x0c, IDR5: 0x14, AIDR: 0x1c,
  CR0: 0x20, CR0ACK: 0x24, CR1: 0x28, CR2: 0x2c,
  GBPA: 0x44, IRQ_CTRL: 0x50,
  GERROR: 0x60, GERRORN: 0x64,
  STRTAB_BASE: 0x80, STRTAB_BASE_CFG: 0x88,
  CMDQ_BASE: 0x90, CMDQ_PROD: 0x98, CMDQ_CONS: 0x9c,
  EVTQ_BASE: 0xa0,
  // The event queue's pointers live in page 1 (§6.3.1); QEMU aliases them at page 0 too.
  EVTQ_PROD: 0x100a8, EVTQ_CONS: 0x100ac,
} as const;

export const CR0 = { SMMUEN: 1 << 0, EVTQEN: 1 << 2, CMDQEN: 1 << 3 } as const;
export const GERROR = { CMDQ_ERR: 1 << 0, EVTQ_ABT_ERR: 1 << 2 } as const;
/** CMDQ_CONS.ERR (bits 30:24): why the command at CONS was not run (§7.1). */
export const CERROR = ['none', 'CERROR_ILL (illegal command)', 'CERROR_ABT (abort reading the command)', 'CERROR_ATC_INV_SYNC'] as const;

export interface Features {
  /** IDR0.S1P: stage-1 translation. */
  stage1: boolean;
  /** IDR0.S2P: stage 2 too; QEMU then tags its IOTLB with STE.S2VMID (docs/notes §0.8). */
  stage2: boolean;
  /** IDR0.ASID16. */
  asid16: boolean;
  /** IDR1.SIDSIZE. */
  sidBits: number;
  /** IDR1.CMDQS / EVENTQS: log2 of the largest queues. */
  cmdqBits: number;
  evtqBits: number;
  /** IDR3.RIL: range invalidation (TLBI with TG, NUM, SCALE). */
  rangeInvalidation: boolean;
  /** IDR5.OAS in bits. */
  oasBits: number;
  /** IDR5.GRAN4K. */
  granule4k: boolean;
}

const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

export function decodeFeatures(idr0: number, idr1: number, idr3: number, idr5: number): Features {
  return {
    stage1: (idr0 & 2) !== 0,
    stage2: (idr0 & 1) !== 0,
    asid16: (idr0 & (1 << 12)) !== 0,
    sidBits: idr1 & 0x3f,
    evtqBits: (idr1 >>> 16) & 0x1f,
    cmdqBits: (idr1 >>> 21) & 0x1f,
    rangeInvalidation: (idr3 & (1 << 10)) !== 0,
    oasBits: OAS_BITS[idr5 & 7] ?? 48,
    granule4k: (idr5 & (1 << 4)) !== 0,
  };
}

/** The CD's IPS encoding of an output size (the inverse of OAS_BITS); QEMU aborts on 6 and 7 (docs/notes §0.1). */
export function ipsOf(bits: number): bigint {
  const i = OAS_BITS.indexOf(bits as (typeof OAS_BITS)[number]);
  if (i < 0 || i > 5) throw new RangeError(`no IPS encoding this driver sends for ${bits} bits`);
  return BigInt(i);
}

// ---- Stream table entries (§5.2), 64 bytes, of which a driver writes the first four words.

/** What a device's STE says: terminate everything, let everything through, or translate through a CD. */
export type Ste = { config: 'abort' } | { config: 'bypass' } | { config: 'stage1'; cd: bigint };

export const STE_WORDS = 8;

/**
 * The STE's eight 64-bit words. Stage 1 follows arm_smmu_make_cdtable_ste(): V, Config 0b101,
 * S1ContextPtr straight at CD 0 (S1CDMax 0, linear), S1DSS = SSID0, WBRA cacheability and
 * inner shareable for the CD fetch, STRW NS-EL1, S2VMID 0. Bypass and abort are
 * arm_smmu_make_bypass_ste() and arm_smmu_make_abort_ste(): V with Config 0b100 or 0b000.
 */
export function encodeSte(ste: Ste): bigint[] {
  const words = new Array<bigint>(STE_WORDS).fill(0n);
  const V = 1n;
  switch (ste.config) {
    case 'abort':
      words[0] = V;
      break;
    case 'bypass':
      words[0] = V | (0b100n << 1n);
      break;
    case 'stage1':
      if (ste.cd & 0x3fn) throw new RangeError('a CD is 64-byte aligned');
      words[0] = V | (0b101n << 1n) | (ste.cd & 0x000f_ffff_ffff_ffc0n);
      // S1DSS [1:0] = 2 (SSID0), S1CIR [3:2] = S1COR [5:4] = 1 (WBRA), S1CSH [7:6] = 3 (ISH).
      words[1] = 2n | (1n << 2n) | (1n << 4n) | (3n << 6n);
      break;
  }
  return words;
}

// ---- Context descriptors (§5.4), 64 bytes.

export interface Cd {
  asid: number;
  /** The stage-1 table's root (TTB0). */
  ttb0: bigint;
  /** Input size in bits: T0SZ = 64 − this. */
  inputBits: number;
  /** Output size in bits (IPS). */
  outputBits: number;
}

export const CD_BYTES = 64n;
/** MAIR as io-pgtable-arm sets it: 0 device nGnRE, 1 write-back, 2 non-cacheable, 3 outer-cacheable (ARM_LPAE_MAIR_ATTR_*). */
const MAIR = 0xf444_ff04n;

/**
 * The CD's words, as arm_smmu_make_s1_cd() writes them for a 4 KiB-granule domain: T0SZ, TG0 4K,
 * IRGN0 = ORGN0 = WBWA, SH0 inner, EPD1 (no TT1; QEMU refuses a CD whose TT1 is not disabled
 * or fully valid), V, IPS, AA64, R (record faults: without it QEMU records no translation
 * fault, §5.4 CD.R), A (abort on fault), ASET (a shared ASID set is not needed), ASID; TTB0;
 * MAIR. AFFD stays 0: leaves carry AF, as io-pgtable-arm's do.
 */
export function encodeCd(cd: Cd): bigint[] {
  const words = new Array<bigint>(8).fill(0n);
  const t0sz = BigInt(64 - cd.inputBits);
  words[0] = t0sz
    | (0n << 6n) // TG0 = 4 KiB
    | (1n << 8n) | (1n << 10n) // IRGN0, ORGN0 = WBWA
    | (3n << 12n) // SH0 = inner shareable
    | (1n << 30n) // EPD1
    | (1n << 31n) // V
    | (ipsOf(cd.outputBits) << 32n)
    | (1n << 41n) // AA64
    | (1n << 45n) // R
    | (1n << 46n) // A
    | (1n << 47n) // ASET
    | (BigInt(cd.asid) << 48n);
  words[1] = cd.ttb0 & 0x000f_ffff_ffff_fff0n;
  words[3] = MAIR;
  return words;
}

// ---- Commands (§4), 16 bytes: two 64-bit words.

export type Command = readonly [bigint, bigint];

export const OP = {
  PREFETCH_CONFIG: 0x01,
  CFGI_STE: 0x03,
  /** CFGI_STE_RANGE; with Range = 31 it is CFGI_ALL (§4.3.4). */
  CFGI_STE_RANGE: 0x04,
  CFGI_CD: 0x05,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_NSNH_ALL: 0x30,
  SYNC: 0x46,
} as const;

const op = (code: number): bigint => BigInt(code);
const sidField = (sid: number): bigint => BigInt(sid) << 32n;

export const cfgiSte = (sid: number): Command => [op(OP.CFGI_STE) | sidField(sid), 1n /* Leaf */];
/** The 2^(range+1) StreamIDs from `sid` rounded down to that size (§4.3.2). */
export const cfgiSteRange = (sid: number, range: number): Command => [op(OP.CFGI_STE_RANGE) | sidField(sid), BigInt(range)];
export const cfgiAll = (): Command => cfgiSteRange(0, 31);
export const cfgiCd = (sid: number): Command => [op(OP.CFGI_CD) | sidField(sid), 1n];
/** Everything non-secure, both stages (what Linux sends at reset). */
export const tlbiNsnhAll = (): Command => [op(OP.TLBI_NSNH_ALL), 0n];
/** All stage-1 entries of VMID 0. */
export const tlbiNhAll = (): Command => [op(OP.TLBI_NH_ALL), 0n];
export const tlbiAsid = (asid: number): Command => [op(OP.TLBI_NH_ASID) | (BigInt(asid) << 48n), 0n];

export interface VaRange {
  /** NH_VA (one ASID) or NH_VAA (every ASID). */
  allAsids?: boolean;
  asid: number;
  addr: bigint;
  leaf: boolean;
  /** Range fields (§4.4.1, IDR3.RIL): TG 0 means a single address. */
  tg?: number;
  num?: number;
  scale?: number;
  /** Translation table level hint, 0 = none. */
  ttl?: number;
}

/** TLBI_NH_VA / TLBI_NH_VAA (arm_smmu_cmdq_build_cmd()). VMID 0: Linux's stage-1 domains use it. */
export function tlbiVa(r: VaRange): Command {
  const w0 = op(r.allAsids ? OP.TLBI_NH_VAA : OP.TLBI_NH_VA)
    | (BigInt(r.num ?? 0) << 12n)
    | (BigInt(r.scale ?? 0) << 20n)
    | (r.allAsids ? 0n : BigInt(r.asid) << 48n);
  const w1 = (r.leaf ? 1n : 0n) | (BigInt(r.ttl ?? 0) << 8n) | (BigInt(r.tg ?? 0) << 10n) | (r.addr & ~0xfffn);
  return [w0, w1];
}

/** CMD_SYNC with CS = SEV (what Linux builds without MSIs); completion is CONS passing it. */
export const sync = (): Command => [op(OP.SYNC) | (2n << 12n), 0n];

// ---- Event records (§7.3), 32 bytes.

export const EVENT_BYTES = 32n;

export const EVENT_NAMES: Readonly<Record<number, string>> = {
  0x01: 'F_UUT', 0x02: 'C_BAD_STREAMID', 0x03: 'F_STE_FETCH', 0x04: 'C_BAD_STE', 0x05: 'F_BAD_ATS_TREQ',
  0x06: 'F_STREAM_DISABLED', 0x07: 'F_TRANSL_FORBIDDEN', 0x08: 'C_BAD_SUBSTREAMID', 0x09: 'F_CD_FETCH',
  0x0a: 'C_BAD_CD', 0x0b: 'F_WALK_EABT', 0x10: 'F_TRANSLATION', 0x11: 'F_ADDR_SIZE', 0x12: 'F_ACCESS',
  0x13: 'F_PERMISSION', 0x20: 'F_TLB_CONFLICT', 0x21: 'F_CFG_CONFLICT', 0x24: 'E_PAGE_REQUEST',
};

/** Translation faults (§7.3.12–§7.3.15): the unit refusing an access, not the driver's configuration. */
export const TRANSLATION_FAULTS: ReadonlySet<number> = new Set([0x10, 0x11, 0x12, 0x13]);

export interface Event {
  type: number;
  sid: number;
  /** RnW: the access was a read. */
  read: boolean;
  input: bigint;
}

export function decodeEvent(w0: bigint, w1: bigint, w2: bigint): Event {
  return { type: Number(w0 & 0xffn), sid: Number(w0 >> 32n), read: ((w1 >> 35n) & 1n) === 1n, input: w2 };
}

export function describeEvent(e: Event): string {
  const name = EVENT_NAMES[e.type] ?? `event 0x${e.type.toString(16)}`;
  return `${name} (event 0x${e.type.toString(16)}) sid=0x${e.sid.toString(16)} ${e.read ? 'read' : 'write'} at 0x${e.input.toString(16)}`;
}
