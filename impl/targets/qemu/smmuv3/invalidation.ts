// The TLB invalidations SMMUv3 allows after stage-1 leaves are removed (§4.4, §3.17): the suite
// draws which one the driver sends (UnmapOp.inval), narrowest first, so a shrunk trace names the
// narrowest invalidation that still leaves a stale translation behind.
//
//   0  TLBI_NH_VA, one per removed leaf, no range (TG 0), Leaf = 1: what
//      __arm_smmu_tlb_inv_range() sends without IDR3.RIL, one command per granule
//   1  TLBI_NH_VA with a range (IDR3.RIL): TG, NUM, SCALE and the level hint TTL computed as
//      __arm_smmu_tlb_inv_range() does, over the span from the first byte removed to the last
//      (one gather, as Linux's iommu_iotlb_gather)
//   2  TLBI_NH_ASID: the domain's whole ASID (arm_smmu_tlb_inv_context())
//   3  TLBI_NH_ALL: every stage-1 entry of VMID 0
//
// A unit without RIL gets the per-leaf form for choice 1. More than MAX_OPS commands turn into
// TLBI_NH_ASID, as Linux does past CMDQ_MAX_TLBI_OPS.

import { type Command, cfgiAll, cfgiSte, cfgiSteRange, tlbiAsid, tlbiNhAll, tlbiVa } from './regs.ts';
import type { Leaf } from './pgtable.ts';

export const INVALIDATIONS = ['TLBI_NH_VA per leaf', 'TLBI_NH_VA range', 'TLBI_NH_ASID', 'TLBI_NH_ALL'] as const;

/** CMDQ_MAX_TLBI_OPS with 4 KiB pages: 1 << (PAGE_SHIFT - 3). */
const MAX_OPS = 512;
/** log2 of the smallest page: the range's TG unit (tg in __arm_smmu_tlb_inv_range()). */
const TG_SHIFT = 12n;

export interface Sent {
  cmds: Command[];
  labels: string[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The commands for the leaves just removed from the domain with `asid`, by choice `inval`. */
export function tlbInvalidations(inval: number, asid: number, leaves: readonly Leaf[], unit: { rangeInvalidation: boolean }): Sent {
  const choice = inval % INVALIDATIONS.length;
  const wholeAsid = (): Sent => ({ cmds: [tlbiAsid(asid)], labels: [`TLBI_NH_ASID asid=${asid}`] });
  if (choice === 3) return { cmds: [tlbiNhAll()], labels: ['TLBI_NH_ALL vmid=0'] };
  if (choice === 2 || leaves.length === 0) return wholeAsid();
  const out: Sent = { cmds: [], labels: [] };
  if (choice === 1 && unit.rangeInvalidation) {
    const lo = leaves[0]!.iova;
    const last = leaves.at(-1)!;
    const granule = leaves.every((l) => l.size === last.size) ? last.size : 1n << TG_SHIFT;
    for (const r of rangeCommands(lo, last.iova + last.size - lo, granule)) {
      out.cmds.push(tlbiVa({ asid, addr: r.addr, leaf: true, tg: 1, num: r.num, scale: r.scale, ttl: r.ttl }));
      out.labels.push(`TLBI_NH_VA asid=${asid} addr=${hex(r.addr)} tg=1 num=${r.num} scale=${r.scale} ttl=${r.ttl} leaf`);
    }
  } else {
    for (const l of leaves) {
      out.cmds.push(tlbiVa({ asid, addr: l.iova, leaf: true }));
      out.labels.push(`TLBI_NH_VA asid=${asid} addr=${hex(l.iova)} leaf`);
      if (out.cmds.length > MAX_OPS) return wholeAsid();
    }
  }
  return out.cmds.length > MAX_OPS ? wholeAsid() : out;
}

interface RangeCommand {
  addr: bigint;
  num: number;
  scale: number;
  ttl: number;
}

/**
 * __arm_smmu_tlb_inv_range() with IDR3.RIL and 4 KiB pages: TTL from the leaf granule (3 for
 * pages, 2 for 2 MiB blocks, 1 for 1 GiB), then commands of (NUM + 1) << SCALE pages while pages
 * remain, SCALE the lowest set bit of what remains and NUM its next five bits (§4.4.1).
 */
export function rangeCommands(addr: bigint, size: bigint, granule: bigint): RangeCommand[] {
  const ttl = 4 - Number((BigInt(log2(granule)) - 3n) / (TG_SHIFT - 3n));
  let pages = size >> TG_SHIFT;
  const out: RangeCommand[] = [];
  while (pages > 0n) {
    const scale = ctz(pages);
    const num = Number((pages >> BigInt(scale)) & 31n);
    out.push({ addr, num: num - 1, scale, ttl });
    const covered = BigInt(num) << BigInt(scale);
    addr += covered << TG_SHIFT;
    pages -= covered;
  }
  return out;
}

function ctz(v: bigint): number {
  let n = 0;
  while (!(v & 1n)) {
    v >>= 1n;
    n++;
  }
  return n;
}

function log2(v: bigint): number {
  return v.toString(2).length - 1;
}

// After a device's STE changes (an attach or detach moving it), the configuration invalidation
// the suite drew (AttachOp.inval), sent at each step of the update (§4.3, §3.21):
//
//   0  CFGI_STE of the device's StreamID: what arm_smmu_sync_ste_for_sid() sends
//   1  CFGI_STE_RANGE over the 256 StreamIDs of its bus (Range = 7)
//   2  CFGI_ALL (CFGI_STE_RANGE with Range = 31)

export const CONFIG_INVALIDATIONS = ['CFGI_STE', 'CFGI_STE_RANGE (bus)', 'CFGI_ALL'] as const;

/** The command after the STE of `sid` changed, by choice `inval`. */
export function configInvalidation(inval: number, sid: number): Sent {
  switch (inval % CONFIG_INVALIDATIONS.length) {
    case 1:
      return { cmds: [cfgiSteRange(sid, 7)], labels: [`CFGI_STE_RANGE sid=0x${sid.toString(16)} range=7`] };
    case 2:
      return { cmds: [cfgiAll()], labels: ['CFGI_ALL'] };
    default:
      return { cmds: [cfgiSte(sid)], labels: [`CFGI_STE sid=0x${sid.toString(16)}`] };
  }
}
