// Intel VT-d (Virtualization Technology for Directed I/O, Architecture Specification rev. 4.x)
// as the driver sees it in legacy mode: the register file (§11.4), root and context entries
// (§9.1, §9.3), second-level paging entries (§9.8), invalidation descriptors (§6.5.2) and fault
// records (§11.4.14). Names follow the specification and Linux's include/linux/intel-iommu.h
// (drivers/iommu/intel/iommu.h since 5.19).

/** Where q35 places the DMAR unit (QEMU's Q35_HOST_BRIDGE_IOMMU_ADDR, as its DMAR ACPI table says). */
export const VTD_BASE = 0xfed9_0000n;

export const REG = {
  VER: 0x00,
  CAP: 0x08,
  ECAP: 0x10,
  GCMD: 0x18,
  GSTS: 0x1c,
  RTADDR: 0x20,
  CCMD: 0x28,
  FSTS: 0x34,
  FECTL: 0x38,
  IQH: 0x80,
  IQT: 0x88,
  IQA: 0x90,
  ICS: 0x9c,
} as const;

/** Global command / status bits (§11.4.4, §11.4.5): TE and QIE persist, SRTP is one-shot. */
export const GCMD = { TE: 1 << 31, SRTP: 1 << 30, QIE: 1 << 26 } as const;
export const GSTS = { TES: 1 << 31, RTPS: 1 << 30, QIES: 1 << 26 } as const;
/** Fault status (§11.4.7): primary fault overflow, primary pending fault, invalidation queue error. */
export const FSTS = { PFO: 1 << 0, PPF: 1 << 1, IQE: 1 << 4 } as const;

const field = (v: bigint, lo: number, bits: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));

/** The capability register (§11.4.2), the fields a driver needs. */
export interface Capability {
  raw: bigint;
  /** Caching mode: not-present entries may be cached, so a map needs an invalidation too. */
  cachingMode: boolean;
  /** Supported adjusted guest address widths, bit 1 = 39-bit (3-level), bit 2 = 48-bit (4-level), bit 3 = 57-bit. */
  sagaw: number;
  /** Maximum guest address width, in bits. */
  mgaw: number;
  /** Offset of the first fault recording register, and how many there are. */
  faultRecordOffset: number;
  faultRecords: number;
  /** Second-level large pages: bit 0 = 2 MiB, bit 1 = 1 GiB. */
  sllps: number;
  /** Page-selective invalidation, and the largest address mask it takes. */
  psi: boolean;
  mamv: number;
}

export function decodeCap(raw: bigint): Capability {
  return {
    raw,
    cachingMode: field(raw, 7, 1) === 1,
    sagaw: field(raw, 8, 5),
    mgaw: field(raw, 16, 6) + 1,
    faultRecordOffset: field(raw, 24, 10) * 16,
    faultRecords: field(raw, 40, 8) + 1,
    sllps: field(raw, 34, 4),
    psi: field(raw, 39, 1) === 1,
    mamv: field(raw, 48, 6),
  };
}

/** The extended capability register (§11.4.3). */
export interface ExtCapability {
  raw: bigint;
  queuedInvalidation: boolean;
  passThrough: boolean;
}

export function decodeEcap(raw: bigint): ExtCapability {
  return { raw, queuedInvalidation: field(raw, 1, 1) === 1, passThrough: field(raw, 6, 1) === 1 };
}

/** Context entry translation types (§9.3): second-level translation, or pass-through. */
export const TT = { TRANSLATE: 0, PASS_THROUGH: 2 } as const;

/** Address width encoding in the context entry (§9.3): 1 → 39-bit 3-level, 2 → 48-bit 4-level. */
export function awFor(levels: number): number {
  return levels - 2;
}

export interface ContextEntry {
  tt: number;
  did: number;
  /** Second-level page-table pointer (ignored for pass-through). */
  slptptr: bigint;
  levels: number;
}

/** A legacy context entry (§9.3) as its two 64-bit halves: present, fault processing enabled (FPD = 0). */
export function encodeContext(e: ContextEntry): [lo: bigint, hi: bigint] {
  const lo = e.slptptr | (BigInt(e.tt) << 2n) | 1n;
  const hi = (BigInt(e.did) << 8n) | BigInt(awFor(e.levels));
  return [lo, hi];
}

/** Second-level paging entry bits (§9.8). Linux: DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE. */
export const PTE = { R: 1n, W: 2n, PS: 1n << 7n } as const;
export const PTE_ADDR = 0x000f_ffff_ffff_f000n;

/** Invalidation descriptor types (§6.5.2) and the granularities this driver uses. */
export const DESC = { CONTEXT: 1n, IOTLB: 2n, WAIT: 5n } as const;
export const CC_GRAN = { GLOBAL: 1n, DOMAIN: 2n, DEVICE: 3n } as const;
export const IOTLB_GRAN = { GLOBAL: 1n, DOMAIN: 2n, PAGE: 3n } as const;

export type Descriptor = readonly [lo: bigint, hi: bigint];

/** Context-cache invalidate (§6.5.2.1); `sid` and the function mask only for device-selective. */
export function contextInvalidation(gran: bigint, did = 0, sid = 0): Descriptor {
  return [DESC.CONTEXT | (gran << 4n) | (BigInt(did) << 16n) | (BigInt(sid) << 32n), 0n];
}

/**
 * IOTLB invalidate (§6.5.2.3). DR and DW ask the unit to drain reads and writes first, set as
 * Linux's qi_desc_iotlb() sets them when the unit advertises draining (QEMU does). Page-selective
 * covers 2^am pages from `addr`, which must be aligned to that size.
 */
export function iotlbInvalidation(gran: bigint, did: number, addr = 0n, am = 0): Descriptor {
  const lo = DESC.IOTLB | (gran << 4n) | (1n << 6n) | (1n << 7n) | (BigInt(did) << 16n);
  return [lo, gran === IOTLB_GRAN.PAGE ? addr | BigInt(am) : 0n];
}

/** Invalidation wait (§6.5.2.8) with status write only, as Linux's qi_submit_sync() sends it. */
export function waitDescriptor(statusAddr: bigint, data: number): Descriptor {
  return [DESC.WAIT | (1n << 5n) | (BigInt(data >>> 0) << 32n), statusAddr];
}

/** A primary fault record (§11.4.14). */
export interface FaultRecord {
  /** Fault reason (Appendix A), e.g. 2 context entry not present, 5 write / 6 read not permitted. */
  reason: number;
  sid: number;
  read: boolean;
  /** The faulting page (bits 11:0 are not recorded). */
  page: bigint;
}

export function decodeFaultRecord(lo: bigint, hi: bigint): FaultRecord | null {
  if (((hi >> 63n) & 1n) === 0n) return null;
  return { reason: field(hi, 32, 8), sid: field(hi, 0, 16), read: ((hi >> 62n) & 1n) === 1n, page: lo & ~0xfffn };
}

/** Appendix A, the non-recoverable fault reasons legacy translation produces. */
const REASONS: Record<number, string> = {
  1: 'root entry not present', 2: 'context entry not present', 3: 'invalid context entry', 4: 'address beyond the guest address width',
  5: 'write not permitted', 6: 'read not permitted', 7: 'page-table read error', 0xa: 'root entry reserved bits', 0xb: 'context entry reserved bits',
  0xc: 'paging entry reserved bits', 0xe: 'output address in the interrupt range',
};

export function describeFault(f: FaultRecord): string {
  return `fault reason 0x${f.reason.toString(16)} (${REASONS[f.reason] ?? 'unknown'}) for ${f.read ? 'read' : 'write'} at 0x${f.page.toString(16)} from ${f.sid.toString(16).padStart(4, '0')}`;
}
