// The virtio-iommu device's wire formats (OASIS virtio, "IOMMU device", device ID 23):
// requests (a device-readable head and body, a device-writable tail whose first byte is the
// status), PROBE properties and fault records. All little-endian.
//
// This is also the one place where the suite's fields become the device's: a half-open
// (iova, size) becomes the inclusive [virt_start, virt_end], and the suite's prot bits become
// MAP flags.

import { PROT, PROT_ALL } from '../../../../spec/index.ts';
import { readU16, readU32, readU64, u32, u64 } from '../common/bytes.ts';

export const REQ = { ATTACH: 1, DETACH: 2, MAP: 3, UNMAP: 4, PROBE: 5 } as const;

/** Status codes, by value. */
export const STATUS_NAMES = ['OK', 'IOERR', 'UNSUPP', 'DEVERR', 'INVAL', 'RANGE', 'NOENT', 'FAULT', 'NOMEM'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

/** Feature bits of the device (beyond the transport's). */
export const FEATURE = { INPUT_RANGE: 0, DOMAIN_RANGE: 1, MAP_UNMAP: 2, BYPASS: 3, PROBE: 4, MMIO: 5, BYPASS_CONFIG: 6 } as const;

export const ATTACH_F_BYPASS = 1;
export const MAP_F = { READ: 1, WRITE: 2, MMIO: 4 } as const;
const MAP_F_DEFINED_BITS = 3;

export const TAIL_SIZE = 4;
export const FAULT_SIZE = 24;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

// ---- the suite's fields as the device's --------------------------------------------------

/**
 * The suite's [iova, iova + size) as virtio's inclusive [start, end]. The driver MUST send
 * virt_end > virt_start, so an empty range has no encoding; nor has one whose last byte lies
 * beyond 2^64 - 1.
 */
export type VirtRange = { start: bigint; end: bigint } | { unsendable: 'empty' | 'wraps' };

export function virtRange(iova: bigint, size: bigint): VirtRange {
  if (iova < 0n || size < 0n) throw new RangeError(`negative iova or size: ${iova}, ${size}`);
  if (size === 0n) return { unsendable: 'empty' };
  const end = iova + size - 1n;
  if (end > U64_MAX) return { unsendable: 'wraps' };
  return { start: iova, end };
}

/** Back from the device's inclusive range to the suite's (iova, size). */
export function suiteRange(start: bigint, end: bigint): { iova: bigint; size: bigint } {
  return { iova: start, size: end - start + 1n };
}

/**
 * MAP flags for the suite's prot: READ, WRITE and MMIO have virtio counterparts; CACHE, NOEXEC
 * and PRIV have none and are dropped, as Linux's viommu_map() drops them. Bits the vocabulary
 * does not define stay undefined: bit k ≥ 6 becomes virtio bit k - 3, just above MMIO.
 */
export function mapFlags(prot: number): number {
  let f = 0;
  if (prot & PROT.READ) f |= MAP_F.READ;
  if (prot & PROT.WRITE) f |= MAP_F.WRITE;
  if (prot & PROT.MMIO) f |= MAP_F.MMIO;
  const unknown = Math.floor(prot / (PROT_ALL + 1));
  return (f + unknown * (1 << MAP_F_DEFINED_BITS)) >>> 0;
}

// ---- requests ----------------------------------------------------------------------------

export interface AttachReq { type: 'attach'; domain: number; endpoint: number; flags: number; reserved: number }
export interface DetachReq { type: 'detach'; domain: number; endpoint: number; reserved: number }
/** MAP has no reserved field; `headReserved` is the head's, which the device MUST ignore. */
export interface MapReq { type: 'map'; domain: number; virtStart: bigint; virtEnd: bigint; physStart: bigint; flags: number; headReserved: number }
export interface UnmapReq { type: 'unmap'; domain: number; virtStart: bigint; virtEnd: bigint; reserved: number }
export interface ProbeReq { type: 'probe'; endpoint: number }
export type Request = AttachReq | DetachReq | MapReq | UnmapReq | ProbeReq;

function head(type: number, reserved = 0): number[] {
  if (reserved < 0 || reserved > 0xff_ffff) throw new RangeError(`head reserved ${reserved} does not fit in 3 bytes`);
  return [type, reserved & 0xff, (reserved >>> 8) & 0xff, (reserved >>> 16) & 0xff];
}

/** The device-readable part of a request. */
export function encodeRequest(r: Request): Uint8Array {
  switch (r.type) {
    case 'attach':
      return new Uint8Array([...head(REQ.ATTACH), ...u32(r.domain), ...u32(r.endpoint), ...u32(r.flags), ...u32(r.reserved)]);
    case 'detach':
      return new Uint8Array([...head(REQ.DETACH), ...u32(r.domain), ...u32(r.endpoint), ...u32(r.reserved), ...u32(0)]);
    case 'map':
      return new Uint8Array([...head(REQ.MAP, r.headReserved), ...u32(r.domain), ...u64(r.virtStart), ...u64(r.virtEnd), ...u64(r.physStart), ...u32(r.flags)]);
    case 'unmap':
      return new Uint8Array([...head(REQ.UNMAP), ...u32(r.domain), ...u64(r.virtStart), ...u64(r.virtEnd), ...u32(r.reserved)]);
    case 'probe':
      return new Uint8Array([...head(REQ.PROBE), ...u32(r.endpoint), ...new Array<number>(64).fill(0)]);
  }
}

/** The inverse of encodeRequest (for tests and diagnostics). */
export function decodeRequest(b: Uint8Array): Request {
  const headReserved = b[1]! | (b[2]! << 8) | (b[3]! << 16);
  switch (b[0]) {
    case REQ.ATTACH:
      return { type: 'attach', domain: readU32(b, 4), endpoint: readU32(b, 8), flags: readU32(b, 12), reserved: readU32(b, 16) };
    case REQ.DETACH:
      return { type: 'detach', domain: readU32(b, 4), endpoint: readU32(b, 8), reserved: readU32(b, 12) };
    case REQ.MAP:
      return { type: 'map', domain: readU32(b, 4), virtStart: readU64(b, 8), virtEnd: readU64(b, 16), physStart: readU64(b, 24), flags: readU32(b, 32), headReserved };
    case REQ.UNMAP:
      return { type: 'unmap', domain: readU32(b, 4), virtStart: readU64(b, 8), virtEnd: readU64(b, 16), reserved: readU32(b, 24) };
    case REQ.PROBE:
      return { type: 'probe', endpoint: readU32(b, 4) };
    default:
      throw new Error(`unknown request type ${b[0]}`);
  }
}

/** Size of the device-writable part: the tail, after the properties for PROBE. */
export function writableSize(r: Request, probeSize: number): number {
  return r.type === 'probe' ? probeSize + TAIL_SIZE : TAIL_SIZE;
}

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status ${code}`;
}

// ---- PROBE properties --------------------------------------------------------------------

export const RESV_MEM_T = { RESERVED: 0, MSI: 1 } as const;

export interface ResvMem { subtype: number; start: bigint; end: bigint }

/** The RESV_MEM properties of a PROBE reply; other property types are skipped by length. */
export function decodeProbe(props: Uint8Array): ResvMem[] {
  const out: ResvMem[] = [];
  for (let at = 0; at + 4 <= props.length; ) {
    const type = readU16(props, at) & 0xfff;
    const length = readU16(props, at + 2);
    if (type === 0) break;
    if (type === 1 && length >= 20 && at + 4 + length <= props.length) {
      out.push({ subtype: props[at + 4]!, start: readU64(props, at + 8), end: readU64(props, at + 16) });
    }
    at += 4 + length;
  }
  return out;
}

// ---- fault records (event queue) ---------------------------------------------------------

export const FAULT_REASON = ['UNKNOWN', 'DOMAIN', 'MAPPING'] as const;
export const FAULT_F = { READ: 1, WRITE: 2, ADDRESS: 0x100 } as const;

export interface FaultRecord { reason: number; flags: number; endpoint: number; address: bigint }

export function decodeFault(b: Uint8Array): FaultRecord {
  return { reason: b[0]!, flags: readU32(b, 4), endpoint: readU32(b, 8), address: readU64(b, 16) };
}

export function describeFault(f: FaultRecord): string {
  const reason = FAULT_REASON[f.reason] ?? `reason ${f.reason}`;
  return `${reason} fault, endpoint 0x${f.endpoint.toString(16)}, address 0x${f.address.toString(16)}, flags 0x${f.flags.toString(16)}`;
}
