// Little-endian byte helpers: virtio structures are little-endian, and qtest's `read`/`write`
// move bytes as one hex string.

const MASK64 = 0xffff_ffff_ffff_ffffn;

export function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

export function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Values outside 0..2^64-1 are a caller's bug: they would wrap silently. */
export function u64(v: bigint): number[] {
  if (v < 0n || v > MASK64) throw new RangeError(`0x${v.toString(16)} does not fit in 64 bits`);
  const out: number[] = [];
  for (let i = 0n; i < 64n; i += 8n) out.push(Number((v >> i) & 0xffn));
  return out;
}

export function readU16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

export function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

export function readU64(b: Uint8Array, at: number): bigint {
  return BigInt(readU32(b, at)) | (BigInt(readU32(b, at + 4)) << 32n);
}

export function hexBytes(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

/** qtest's `read` reply: `0x` and two hex digits per byte. */
export function parseHexBytes(reply: string): Uint8Array {
  const hex = reply.startsWith('0x') ? reply.slice(2) : reply;
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`not a hex byte string: '${reply.slice(0, 40)}'`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
