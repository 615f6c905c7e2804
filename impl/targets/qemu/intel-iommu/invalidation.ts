// The IOTLB invalidations VT-d allows after second-level leaves are removed (§6.5.2.3, §6.1):
// the suite draws which one the driver sends (UnmapOp.inval), narrowest first, so a shrunk
// trace names the narrowest invalidation that still leaves a stale translation behind.
//
//   0  page-selective, exact: the removed span cut into naturally aligned power-of-two blocks,
//      one descriptor each (address mask AM = log2 of the block's pages)
//   1  page-selective, one covering block: the smallest naturally aligned block holding the
//      whole span, as Linux's calculate_psi_aligned_address() (drivers/iommu/intel/cache.c)
//   2  domain-selective
//   3  global
//
// A block wider than CAP.MAMV allows, or a unit without page-selective invalidation, falls back
// to domain-selective, as cache_tag_flush_iotlb() does; so does an exact cover of more than
// MAX_EXACT blocks (a span of terabytes), which no driver would send one by one.

import { CC_GRAN, type Descriptor, IOTLB_GRAN, contextInvalidation, iotlbInvalidation } from './regs.ts';

export const INVALIDATIONS = ['page-selective (exact blocks)', 'page-selective (one covering block)', 'domain-selective', 'global'] as const;

const MAX_EXACT = 64;

export interface Sent {
  descs: Descriptor[];
  labels: string[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The descriptors for removing [lo, hi) (page aligned) from domain `did`, by choice `inval`. */
export function iotlbInvalidations(inval: number, did: number, lo: bigint, hi: bigint, unit: { psi: boolean; mamv: number }): Sent {
  const choice = inval % INVALIDATIONS.length;
  const domain = (): Sent => ({ descs: [iotlbInvalidation(IOTLB_GRAN.DOMAIN, did)], labels: [`IOTLB domain-selective did=${did}`] });
  if (choice === 3) return { descs: [iotlbInvalidation(IOTLB_GRAN.GLOBAL, 0)], labels: ['IOTLB global'] };
  if (choice === 2 || !unit.psi) return domain();
  const page = (addr: bigint, am: number): Sent => ({ descs: [iotlbInvalidation(IOTLB_GRAN.PAGE, did, addr, am)], labels: [`IOTLB page-selective did=${did} addr=${hex(addr)} am=${am}`] });
  if (choice === 1) {
    const span = bitLength(lo ^ (hi - 1n));
    const am = Math.max(0, span - 12);
    if (am > unit.mamv) return domain();
    return page(lo & ~((1n << BigInt(am + 12)) - 1n), am);
  }
  const out: Sent = { descs: [], labels: [] };
  for (let at = lo; at < hi; ) {
    let am = 0;
    while (am < unit.mamv && at % (1n << BigInt(am + 13)) === 0n && at + (1n << BigInt(am + 13)) <= hi) am++;
    const one = page(at, am);
    out.descs.push(...one.descs);
    out.labels.push(...one.labels);
    at += 1n << BigInt(am + 12);
    if (out.descs.length > MAX_EXACT) return domain();
  }
  return out;
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

// After a present context entry is cleared (an attach or detach moving the device), the
// context-cache invalidation the suite drew (AttachOp.inval), then the IOTLB of the DID the
// entry held (§6.5.1: a context-cache invalidation is followed by an IOTLB invalidation):
//
//   0  device-selective (source-id and function mask 0), then domain-selective IOTLB: what
//      Linux's intel_context_flush_no_pasid() sends
//   1  domain-selective (the entry's DID), then domain-selective IOTLB
//   2  global, then global IOTLB

export const CONTEXT_INVALIDATIONS = ['context-cache device-selective', 'context-cache domain-selective', 'context-cache global'] as const;

/** The descriptors after the context entry of `sid` holding `did` changed, by choice `inval`. */
export function contextInvalidations(inval: number, did: number, sid: number): Sent {
  switch (inval % CONTEXT_INVALIDATIONS.length) {
    case 1:
      return { descs: [contextInvalidation(CC_GRAN.DOMAIN, did), iotlbInvalidation(IOTLB_GRAN.DOMAIN, did)], labels: [`context-cache domain-selective did=${did}`, `IOTLB domain-selective did=${did}`] };
    case 2:
      return { descs: [contextInvalidation(CC_GRAN.GLOBAL), iotlbInvalidation(IOTLB_GRAN.GLOBAL, 0)], labels: ['context-cache global', 'IOTLB global'] };
    default:
      return { descs: [contextInvalidation(CC_GRAN.DEVICE, did, sid), iotlbInvalidation(IOTLB_GRAN.DOMAIN, did)], labels: [`context-cache device-selective sid=0x${sid.toString(16)}`, `IOTLB domain-selective did=${did}`] };
  }
}
