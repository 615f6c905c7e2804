// Unsigned 64-bit arithmetic on bigint: addresses, sizes and page-size bitmaps.
// Everything here is total over [0, 2^64); callers decide what a wrap means.

export const U64_LIMIT = 1n << 64n;
export const U64_MAX = U64_LIMIT - 1n;

export function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MAX;
}

/** `"0x…"` for the wire and for traces; always lower-case, no padding. */
export function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

/** Parses a wire value. Accepts `0x…` hex only: decimal on the wire is a protocol breach. */
export function parseHex(s: unknown, what = 'value'): bigint {
  if (typeof s !== 'string' || !/^0x[0-9a-fA-F]{1,16}$/.test(s)) {
    throw new RangeError(`${what} must be a hex string "0x…" of at most 64 bits, got ${typeof s === 'bigint' ? `${s}n` : JSON.stringify(s)}`);
  }
  return BigInt(s);
}

/** Index of the lowest set bit (`__ffs`); -1 for 0. */
export function ffs(v: bigint): number {
  if (v === 0n) return -1;
  let i = 0;
  while (((v >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

/** Index of the highest set bit (`__fls`); -1 for 0. */
export function fls(v: bigint): number {
  if (v === 0n) return -1;
  return v.toString(2).length - 1;
}

/** Bits lo..hi inclusive (`GENMASK`). */
export function genmask(hi: number, lo: number): bigint {
  if (hi < lo) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

export function isPow2(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

export function isAligned(v: bigint, align: bigint): boolean {
  return (v & (align - 1n)) === 0n;
}

export function alignDown(v: bigint, align: bigint): bigint {
  return v & ~(align - 1n);
}

/** Rounds up; may return 2^64 (one past the address space) and never wraps. */
export function alignUp(v: bigint, align: bigint): bigint {
  return (v + align - 1n) & ~(align - 1n);
}

/** The smallest page size of a bitmap (`1 << __ffs(bitmap)`); 0 for an empty bitmap. */
export function minPageSize(bitmap: bigint): bigint {
  return bitmap === 0n ? 0n : 1n << BigInt(ffs(bitmap));
}

/** Page sizes of a bitmap, smallest first. */
export function pageSizes(bitmap: bigint): bigint[] {
  const out: bigint[] = [];
  for (let b = bitmap; b !== 0n; b &= b - 1n) out.push(b & -b);
  return out;
}

export function isSubset(sub: bigint, of: bigint): boolean {
  return (sub & ~of) === 0n;
}

export const KiB = 1n << 10n;
export const MiB = 1n << 20n;
export const GiB = 1n << 30n;
