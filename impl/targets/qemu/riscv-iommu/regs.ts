// The RISC-V IOMMU as a driver sees it (RISC-V IOMMU Architecture Specification v1.0): the
// register page (chapter 5), device contexts (§2.1), first-stage page-table entries (§2.3, the
// privileged spec's Sv39/Sv48), commands (§3.1) and fault records (§3.2). Names follow the
// specification and Linux's drivers/iommu/riscv/iommu-bits.h. What QEMU's riscv-iommu-pci does
// with each is in docs/notes/qemu-riscv-iommu.md.

export const REG = {
  CAP: 0x00, FCTL: 0x08, DDTP: 0x10,
  CQB: 0x18, CQH: 0x20, CQT: 0x24,
  FQB: 0x28, FQH: 0x30, FQT: 0x34,
  CQCSR: 0x48, FQCSR: 0x4c, IPSR: 0x54,
} as const;

/** ddtp.iommu_mode (§5.5). Moving between the 1/2/3LVL modes needs Off or Bare in between (QEMU refuses silently, gotcha 13). */
export const DDTP_MODE = { OFF: 0n, BARE: 1n, LVL1: 2n, LVL2: 3n, LVL3: 4n } as const;
/** ddtp.busy: the unit is still taking the last write. */
export const DDTP_BUSY = 1n << 4n;

/** cqcsr (§5.13) and fqcsr (§5.14) bits; the error bits are write-1-to-clear. */
export const CQCSR = { CQEN: 1 << 0, CIE: 1 << 1, CQMF: 1 << 8, CMD_TO: 1 << 9, CMD_ILL: 1 << 10, FENCE_W_IP: 1 << 11, CQON: 1 << 16, BUSY: 1 << 17 } as const;
export const FQCSR = { FQEN: 1 << 0, FIE: 1 << 1, FQMF: 1 << 8, FQOF: 1 << 9, FQON: 1 << 16, BUSY: 1 << 17 } as const;

const field = (v: bigint, lo: number, bits: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));
const PPN_MASK = (1n << 44n) - 1n;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** The capabilities register (§5.3), the fields this driver needs. */
export interface Capabilities {
  raw: bigint;
  /** 0x10 for version 1.0. */
  version: number;
  sv39: boolean;
  sv48: boolean;
  sv57: boolean;
  /** Hardware A/D updating: without it A and D must be set in every leaf (QEMU: 0). */
  amoHwad: boolean;
  /** Physical address size in bits. */
  pasBits: number;
}

export function decodeCapabilities(raw: bigint): Capabilities {
  return {
    raw, version: field(raw, 0, 8), sv39: field(raw, 9, 1) === 1, sv48: field(raw, 10, 1) === 1, sv57: field(raw, 11, 1) === 1,
    amoHwad: field(raw, 24, 1) === 1, pasBits: field(raw, 32, 6),
  };
}

/** A queue base register (cqb, fqb; §5.6, §5.9): PPN [53:10] and LOG2SZ-1 [4:0]. */
export function queueBase(base: bigint, log2Entries: number): bigint {
  if (base & 0xfffn) throw new RangeError(`queue base ${hex(base)} is not 4 KiB aligned`);
  return ((base >> 12n) << 10n) | BigInt(log2Entries - 1);
}

export function ddtpValue(root: bigint, mode: bigint): bigint {
  if (root & 0xfffn) throw new RangeError(`DDT root ${hex(root)} is not 4 KiB aligned`);
  return ((root >> 12n) << 10n) | mode;
}

// ---- Device contexts (§2.1.3): the extended format (64 bytes), which QEMU uses with intremap=on. ----

export const DC_BYTES = 64n;
export const DC_TC = { V: 1n << 0n } as const;
/** iosatp/fsc MODE (§2.1.3.5, bits 63:60) for a first stage with no process directory. */
export const SATP_MODE = { BARE: 0n, SV39: 8n, SV48: 9n, SV57: 10n } as const;
export type PagingMode = 'sv39' | 'sv48';
export const LEVELS_OF: Record<PagingMode, number> = { sv39: 3, sv48: 4 };

/**
 * What a device's context says, as Linux's riscv_iommu_iodir_update() leaves it:
 * - translate: a paging domain, tc.V, fsc = Sv39/Sv48 and the root, ta.PSCID, iohgatp Bare;
 * - bare: the identity domain, tc.V and fsc Bare (no translation);
 * - blocked: the blocking domain, tc.V clear (every access faults with cause 258).
 */
export type Dc =
  | { kind: 'translate'; root: bigint; mode: PagingMode; pscid: number }
  | { kind: 'bare' }
  | { kind: 'blocked' };

/** The eight doublewords of an extended DC: tc, iohgatp, ta, fsc, msiptp, msi_addr_mask, msi_addr_pattern, reserved. */
export function encodeDc(d: Dc): bigint[] {
  const words = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  if (d.kind === 'blocked') return words;
  words[0] = DC_TC.V;
  if (d.kind === 'translate') {
    if (d.root & 0xfffn) throw new RangeError(`page-table root ${hex(d.root)} is not 4 KiB aligned`);
    if (d.pscid < 0 || d.pscid >= 1 << 20) throw new RangeError(`PSCID ${d.pscid} is not 20 bits`);
    words[2] = BigInt(d.pscid) << 12n;
    words[3] = ((d.mode === 'sv39' ? SATP_MODE.SV39 : SATP_MODE.SV48) << 60n) | ((d.root >> 12n) & PPN_MASK);
  }
  return words;
}

export function sameDc(a: Dc | undefined, b: Dc): boolean {
  if (a === undefined) return false;
  const [x, y] = [encodeDc(a), encodeDc(b)];
  return x.every((w, i) => w === y[i]);
}

/** The PSCID a context tags cached translations with, or null when it translates nothing. */
export function pscidOf(d: Dc): number | null {
  return d.kind === 'translate' ? d.pscid : null;
}

// ---- First-stage PTEs (§2.3; privileged spec Sv39/Sv48). ----

export const PTE = { V: 1n << 0n, R: 1n << 1n, W: 1n << 2n, X: 1n << 3n, U: 1n << 4n, G: 1n << 5n, A: 1n << 6n, D: 1n << 7n } as const;
/** RSW, bits 9:8, left to software: marks a leaf the driver holds with no permission (kept invalid). */
export const PTE_SW_HELD = 1n << 8n;
/**
 * Leaves as Linux's riscv_iommu_map_pages() writes them without hardware A/D updating
 * (_PAGE_BASE: V, A, U; then R, plus W and D when writable): U because a request without a
 * PASID is a U-mode access (§2.3), A and D because nothing will set them (CAP.AMO_HWAD = 0).
 */
export const LEAF_RW = PTE.V | PTE.R | PTE.W | PTE.U | PTE.A | PTE.D; // 0xd7
export const LEAF_RO = PTE.V | PTE.R | PTE.U | PTE.A; // 0x53
/** The PPN, bits 53:10; bits 63:54 (PBMT, N, reserved) stay zero. */
export const PTE_PPN_SHIFT = 10n;
export const pteAddress = (e: bigint): bigint => ((e >> PTE_PPN_SHIFT) & PPN_MASK) << 12n;
export const pteOf = (addr: bigint, bits: bigint): bigint => (((addr >> 12n) & PPN_MASK) << PTE_PPN_SHIFT) | bits;
export const isLeaf = (e: bigint): boolean => (e & (PTE.R | PTE.W | PTE.X)) !== 0n;

// ---- Commands (§3.1): 16 bytes; opcode in dword0 [6:0], func3 in [9:7]. ----

export type Command = readonly [bigint, bigint];

const OP = { IOTINVAL: 1n, IOFENCE: 2n, IODIR: 3n } as const;
const FUNC = { VMA: 0n, GVMA: 1n, C: 0n, INVAL_DDT: 0n, INVAL_PDT: 1n } as const;
const op = (opcode: bigint, func: bigint): bigint => opcode | (func << 7n);
const CMD_AV = 1n << 10n;

/**
 * IOTINVAL.VMA (§3.1.1) for first-stage entries (GV = 0): with `pscid` only that PSCID's
 * (PSCV), with `addr` only the leaf entries that translate that address (AV), else everything.
 */
export function iotinvalVma(opts: { pscid?: number; addr?: bigint } = {}): Command {
  let w0 = op(OP.IOTINVAL, FUNC.VMA);
  let w1 = 0n;
  if (opts.pscid !== undefined) w0 |= (BigInt(opts.pscid) << 12n) | (1n << 32n);
  if (opts.addr !== undefined) {
    w0 |= CMD_AV;
    w1 = ((opts.addr >> 12n) << 10n) & ((1n << 64n) - 1n);
  }
  return [w0, w1];
}

/** IODIR.INVAL_DDT (§3.1.3): the cached context of `deviceId` (DV), or every cached context. */
export function iodirInvalDdt(deviceId?: number): Command {
  const w0 = op(OP.IODIR, FUNC.INVAL_DDT);
  return [deviceId === undefined ? w0 : w0 | (1n << 33n) | (BigInt(deviceId) << 40n), 0n];
}

/** IOFENCE.C (§3.1.2) with AV: once every earlier command is done, the unit stores the 32-bit `data` at `addr`. */
export function iofenceC(addr: bigint, data: number): Command {
  if (addr & 3n) throw new RangeError('an IOFENCE.C store address is 4-byte aligned');
  return [op(OP.IOFENCE, FUNC.C) | CMD_AV | (BigInt(data >>> 0) << 32n), addr >> 2n];
}

export function describeCommand([w0, w1]: Command): string {
  const opcode = w0 & 0x7fn;
  const av = (w0 & CMD_AV) !== 0n;
  if (opcode === OP.IOTINVAL) {
    const pscv = (w0 >> 32n) & 1n ? ` pscid=${field(w0, 12, 20)}` : '';
    return `IOTINVAL.VMA${pscv}${av ? ` addr=${hex((w1 >> 10n) << 12n)}` : ''}`;
  }
  if (opcode === OP.IODIR) return `IODIR.INVAL_DDT${(w0 >> 33n) & 1n ? ` device=${hex(field(w0, 40, 24))}` : ' all'}`;
  if (opcode === OP.IOFENCE) return `IOFENCE.C${av ? ` addr=${hex(w1 << 2n)} data=${hex(field(w0, 32, 32))}` : ''}`;
  return `command ${hex(w0)} ${hex(w1)}`;
}

// ---- Fault records (§3.2): 32 bytes. ----

export const FAULT_BYTES = 32n;
/** Fault causes (§3.2, table 11) a first-stage driver can meet. */
export const CAUSE = {
  READ_ACCESS: 5, WRITE_ACCESS: 7, READ_PAGE_FAULT: 13, WRITE_PAGE_FAULT: 15,
  ALL_DISALLOWED: 256, DDT_LOAD_FAULT: 257, DDT_INVALID: 258, DDT_MISCONFIGURED: 259, TTYP_DISALLOWED: 260,
} as const;
const CAUSE_NAMES: Record<number, string> = {
  5: 'read access fault', 7: 'write/AMO access fault', 13: 'read page fault', 15: 'write/AMO page fault',
  256: 'all inbound transactions disallowed', 257: 'DDT entry load access fault', 258: 'DDT entry not valid',
  259: 'DDT entry misconfigured', 260: 'transaction type disallowed',
};
/** Transaction types (§3.2, table 12). */
export const TTYP = { NONE: 0, UNTRANSLATED_EXEC: 1, UNTRANSLATED_READ: 2, UNTRANSLATED_WRITE: 3 } as const;
const TTYP_NAMES: Record<number, string> = { 0: 'none', 1: 'untranslated fetch', 2: 'untranslated read', 3: 'untranslated write/AMO', 5: 'translated fetch', 6: 'translated read', 7: 'translated write/AMO', 8: 'ATS translation request', 9: 'message' };

export interface Fault {
  cause: number;
  pid: number;
  pv: boolean;
  priv: boolean;
  ttyp: number;
  did: number;
  iotval: bigint;
  iotval2: bigint;
}

export function decodeFault(w0: bigint, iotval: bigint, iotval2 = 0n): Fault {
  return {
    cause: field(w0, 0, 12), pid: field(w0, 12, 20), pv: field(w0, 32, 1) === 1, priv: field(w0, 33, 1) === 1,
    ttyp: field(w0, 34, 6), did: field(w0, 40, 24), iotval, iotval2,
  };
}

export function describeFault(f: Fault): string {
  return `cause ${f.cause} (${CAUSE_NAMES[f.cause] ?? 'other'}) device ${hex(f.did)} ttyp ${f.ttyp} (${TTYP_NAMES[f.ttyp] ?? 'reserved'}) iotval ${hex(f.iotval)}`;
}
