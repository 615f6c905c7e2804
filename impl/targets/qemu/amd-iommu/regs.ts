// AMD I/O Virtualization Technology (IOMMU) Specification (publication 48882, rev 3.x) as the
// driver sees it: the MMIO registers (§3.4), device table entries (§2.2.2), v1 host page-table
// entries (§2.2.3), commands (§2.4) and event log records (§2.5). Names follow the specification
// and Linux's drivers/iommu/amd/amd_iommu_types.h.

/** QEMU's AMDVI_BASE_ADDR: the MMIO window is fixed there (its capability BAR is read-only). */
export const AMDVI_BASE = 0xfed8_0000n;

export const REG = {
  DEVTAB_BASE: 0x00,
  CMDBUF_BASE: 0x08,
  EVTLOG_BASE: 0x10,
  CONTROL: 0x18,
  EXT_FEATURE: 0x30,
  CMDBUF_HEAD: 0x2000,
  CMDBUF_TAIL: 0x2008,
  EVTLOG_HEAD: 0x2010,
  EVTLOG_TAIL: 0x2018,
  STATUS: 0x2020,
} as const;

/** Control register bits (§3.4.4; Linux CONTROL_*_EN). */
export const CONTROL = { IOMMU_EN: 1n << 0n, EVT_LOG_EN: 1n << 2n, CMDBUF_EN: 1n << 12n } as const;

/** 2^LEN entries of 16 bytes in the command buffer and event log (§3.4.2, §3.4.3): one page each. */
export const RING_LEN = 8;
export const RING_ENTRIES = 1 << RING_LEN;

const field = (v: bigint, lo: number, bits: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));

/** The Extended Feature register (§3.4.7), the fields this driver needs. */
export interface Features {
  raw: bigint;
  /** INVALIDATE_IOMMU_ALL is supported (IASup). */
  invalidateAll: boolean;
  /** Host address translation levels: 4 + HATS (0 = 4 levels, 1 = 5, 2 = 6). */
  hostLevels: number;
}

export function decodeFeatures(raw: bigint): Features {
  return { raw, invalidateAll: field(raw, 6, 1) === 1, hostLevels: 4 + field(raw, 10, 2) };
}

// ---- Device table entries (§2.2.2.1): 256 bits; only the first two qwords matter here. ----

export const DTE_BYTES = 32n;
const DTE = { V: 1n << 0n, TV: 1n << 1n, IR: 1n << 61n, IW: 1n << 62n } as const;
const MODE_SHIFT = 9n;
const ROOT_MASK = ((1n << 52n) - 1n) & ~0xfffn;

/**
 * What a device's entry says, as Linux writes them (drivers/iommu/amd/iommu.c):
 * - translate: set_dte_entry() for a paging domain: V, TV, Mode, root, IR, IW, DomainID;
 * - passthrough: set_dte_entry() for an identity domain: Mode 0 (translation disabled), IR, IW;
 * - blocked: clear_dte_entry(): V and TV only (Mode 0, no IR or IW: every access refused).
 */
export type Dte =
  | { kind: 'translate'; root: bigint; levels: number; domainId: number }
  | { kind: 'passthrough'; domainId: number }
  | { kind: 'blocked' };

export function encodeDte(d: Dte): [bigint, bigint] {
  switch (d.kind) {
    case 'translate':
      if (d.root & ~ROOT_MASK) throw new RangeError(`page-table root 0x${d.root.toString(16)} is not a 4 KiB-aligned 52-bit address`);
      if (d.levels < 1 || d.levels > 6) throw new RangeError(`Mode ${d.levels}: host tables have 1 to 6 levels`);
      return [DTE.V | DTE.TV | (BigInt(d.levels) << MODE_SHIFT) | d.root | DTE.IR | DTE.IW, BigInt(d.domainId)];
    case 'passthrough':
      return [DTE.V | DTE.TV | DTE.IR | DTE.IW, BigInt(d.domainId)];
    case 'blocked':
      return [DTE.V | DTE.TV, 0n];
  }
}

export function sameDte(a: Dte | undefined, b: Dte): boolean {
  if (a === undefined) return false;
  const [a0, a1] = encodeDte(a);
  const [b0, b1] = encodeDte(b);
  return a0 === b0 && a1 === b1;
}

/** The DomainID an entry tags cached translations with (0 for a blocked entry). */
export function domainIdOf(d: Dte): number {
  return d.kind === 'blocked' ? 0 : d.domainId;
}

// ---- v1 host page-table entries (§2.2.3): PDEs and PTEs share one format. ----

export const PTE = { PR: 1n << 0n, FC: 1n << 60n, IR: 1n << 61n, IW: 1n << 62n } as const;
export const PTE_ADDR = ((1n << 52n) - 1n) & ~0xfffn;
/** NextLevel, bits 11:9: the level of the table pointed to, 0 for a leaf, 7 for a leaf whose size is in its address. */
export const nextLevelOf = (e: bigint): number => field(e, 9, 3);
export const withNextLevel = (e: bigint, level: number): bigint => (e & ~(7n << 9n)) | (BigInt(level) << 9n);

// ---- Commands (§2.4): 16 bytes, opcode in bits 63:60 of the first qword. ----

export type Command = readonly [bigint, bigint];

const OP = { COMPLETION_WAIT: 1n, INVALIDATE_DEVTAB_ENTRY: 2n, INVALIDATE_IOMMU_PAGES: 3n, INVALIDATE_IOMMU_ALL: 8n } as const;
const opcode = (op: bigint): bigint => op << 60n;

/** COMPLETION_WAIT with S: the unit stores `data` at `addr` (8-byte aligned) once every earlier command is done (§2.4.1). */
export function completionWait(addr: bigint, data: bigint): Command {
  if (addr & 7n) throw new RangeError('a completion-wait store address is 8-byte aligned');
  return [opcode(OP.COMPLETION_WAIT) | addr | 1n, data];
}

/** INVALIDATE_DEVTAB_ENTRY (§2.4.2): the unit re-reads this DeviceID's entry. */
export function invalidateDevtabEntry(devid: number): Command {
  return [opcode(OP.INVALIDATE_DEVTAB_ENTRY) | BigInt(devid & 0xffff), 0n];
}

/** The address with S = 1 that means every page of the domain (§2.4.3; Linux CMD_INV_IOMMU_ALL_PAGES_ADDRESS). */
export const ALL_PAGES = 0x7fff_ffff_ffff_f000n;

/**
 * INVALIDATE_IOMMU_PAGES (§2.4.3) for DomainID `domainId`: with `s` false one 4 KiB page at
 * `addr`; with `s` true a naturally aligned power-of-two range whose size is encoded in the low
 * address bits (the first 0 at or above bit 12 marks it). PDE also drops cached directory entries.
 */
export function invalidateIommuPages(domainId: number, addr: bigint, s: boolean, pde = true): Command {
  return [opcode(OP.INVALIDATE_IOMMU_PAGES) | (BigInt(domainId & 0xffff) << 32n), (addr & ~0xfffn) | (pde ? 2n : 0n) | (s ? 1n : 0n)];
}

/** The S = 1 address of the naturally aligned 2^log2 bytes from `base` (log2 ≥ 13; 12 is S = 0). */
export function rangeAddress(base: bigint, log2: number): bigint {
  return base | ((1n << BigInt(log2 - 1)) - 1n);
}

/** INVALIDATE_IOMMU_ALL (§2.4.8; needs IASup): everything the unit caches. */
export function invalidateIommuAll(): Command {
  return [opcode(OP.INVALIDATE_IOMMU_ALL), 0n];
}

// ---- Event log records (§2.5): 16 bytes. ----

export const EVENT_BYTES = 16n;
export const EVENT = { ILLEGAL_DEV_TABLE_ENTRY: 1, IO_PAGE_FAULT: 2, DEV_TAB_HARDWARE_ERROR: 3, PAGE_TAB_HARDWARE_ERROR: 4, ILLEGAL_COMMAND_ERROR: 5, COMMAND_HARDWARE_ERROR: 6 } as const;
const EVENT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(EVENT).map(([k, v]) => [v, k]));
/** IO_PAGE_FAULT flags (§2.5.3, Linux EVENT_FLAG_*): the access was a write (RW), the page was present (PR), an interrupt request (I). */
export const FAULT_FLAG = { I: 1 << 3, PR: 1 << 4, RW: 1 << 5 } as const;

export interface Event {
  code: number;
  devid: number;
  /** DomainID or PASID (dword 0 bits 31:16 and dword 1 bits 15:0 for IO_PAGE_FAULT). */
  domainOrPasid: number;
  flags: number;
  address: bigint;
}

export function decodeEvent(q0: bigint, q1: bigint): Event {
  return {
    code: field(q0, 60, 4),
    devid: field(q0, 0, 16),
    domainOrPasid: field(q0, 32, 16) | (field(q0, 16, 4) << 16),
    flags: field(q0, 48, 12),
    address: q1,
  };
}

export function describeEvent(e: Event): string {
  const flags = Object.entries(FAULT_FLAG).filter(([, b]) => e.flags & b).map(([k]) => k).join('|') || '0';
  return `${EVENT_NAMES[e.code] ?? `event ${e.code}`} device 0x${e.devid.toString(16)} domain 0x${e.domainOrPasid.toString(16)} flags 0x${e.flags.toString(16)} (${flags}) address 0x${e.address.toString(16)}`;
}
