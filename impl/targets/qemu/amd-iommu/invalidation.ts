// The invalidations the AMD IOMMU specification allows a driver, which the suite draws (the op's
// `inval`), narrowest first, so a shrunk trace names the narrowest one that still leaves a stale
// translation behind. Every batch ends with a COMPLETION_WAIT (unit.ts).
//
// After leaves are removed (UnmapOp.inval), INVALIDATE_IOMMU_PAGES for the domain (§2.4.3):
//   0  exact: the removed span cut into naturally aligned power-of-two blocks, one command each
//      (S = 0 for a 4 KiB block, else S = 1 with the size in the address)
//   1  one covering block: the smallest naturally aligned block holding the span, as Linux's
//      build_inv_address() since 6.5 (the all-pages address when that block passes bit 51)
//   2  every page of the domain (the all-pages address with S = 1), as Linux 6.1 sends for more
//      than one page
//   3  INVALIDATE_IOMMU_ALL (§2.4.8)
// PDE is set throughout, as Linux's iotlb_sync does, though no directory entry is freed.
//
// After a device's entry changes (AttachOp/DetachOp.inval):
//   0  INVALIDATE_DEVTAB_ENTRY for the device, then every page of the DomainID it held, as
//      Linux's device_flush_dte() and amd_iommu_flush_tlb_domid()
//   1  INVALIDATE_IOMMU_ALL, which invalidates cached device table entries as well (§2.4.8)

import { ALL_PAGES, type Command, invalidateDevtabEntry, invalidateIommuAll, invalidateIommuPages, rangeAddress } from './regs.ts';

export const INVALIDATIONS = ['INVALIDATE_IOMMU_PAGES (exact blocks)', 'INVALIDATE_IOMMU_PAGES (one covering block)', 'INVALIDATE_IOMMU_PAGES (all pages)', 'INVALIDATE_IOMMU_ALL'] as const;
export const CONFIG_INVALIDATIONS = ['INVALIDATE_DEVTAB_ENTRY and the old domain\'s pages', 'INVALIDATE_IOMMU_ALL'] as const;

/** An exact cover of more blocks than this (a span of terabytes) becomes all pages, as no driver sends it block by block. */
const MAX_EXACT = 64;
/** Above bit 51 a range cannot be encoded (§2.4.3): all pages instead. */
const TOP_BIT = 51;

export interface Sent {
  cmds: Command[];
  labels: string[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const bitLength = (v: bigint): number => (v === 0n ? 0 : v.toString(2).length);

function pages(domainId: number, base: bigint, log2: number): Sent {
  if (log2 > TOP_BIT) return allPages(domainId);
  const s = log2 > 12;
  return { cmds: [invalidateIommuPages(domainId, s ? rangeAddress(base, log2) : base, s)], labels: [`INVALIDATE_IOMMU_PAGES domain=${domainId} ${hex(base)}+2^${log2}`] };
}

function allPages(domainId: number): Sent {
  return { cmds: [invalidateIommuPages(domainId, ALL_PAGES, true)], labels: [`INVALIDATE_IOMMU_PAGES domain=${domainId} all pages`] };
}

/** The commands after [lo, hi) (page aligned) was removed from domain `domainId`, by choice `inval`. */
export function tlbInvalidations(inval: number, domainId: number, lo: bigint, hi: bigint, unit: { invalidateAll: boolean }): Sent {
  const choice = inval % INVALIDATIONS.length;
  if (choice === 3 && unit.invalidateAll) return { cmds: [invalidateIommuAll()], labels: ['INVALIDATE_IOMMU_ALL'] };
  if (choice >= 2) return allPages(domainId);
  if (choice === 1) {
    const log2 = Math.max(12, bitLength(lo ^ (hi - 1n)));
    return pages(domainId, lo & ~((1n << BigInt(log2)) - 1n), log2);
  }
  const out: Sent = { cmds: [], labels: [] };
  for (let at = lo; at < hi; ) {
    let log2 = 12;
    while (log2 < TOP_BIT && at % (1n << BigInt(log2 + 1)) === 0n && at + (1n << BigInt(log2 + 1)) <= hi) log2++;
    const one = pages(domainId, at, log2);
    out.cmds.push(...one.cmds);
    out.labels.push(...one.labels);
    at += 1n << BigInt(log2);
    if (out.cmds.length > MAX_EXACT) return allPages(domainId);
  }
  return out;
}

/** The commands after DeviceID `devid`'s entry changed from one tagged `oldDomainId` (0: none), by choice `inval`. */
export function configInvalidation(inval: number, devid: number, oldDomainId: number, unit: { invalidateAll: boolean }): Sent {
  if (inval % CONFIG_INVALIDATIONS.length === 1 && unit.invalidateAll) return { cmds: [invalidateIommuAll()], labels: ['INVALIDATE_IOMMU_ALL'] };
  const out: Sent = { cmds: [invalidateDevtabEntry(devid)], labels: [`INVALIDATE_DEVTAB_ENTRY device=0x${devid.toString(16)}`] };
  if (oldDomainId === 0) return out;
  const flush = allPages(oldDomainId);
  return { cmds: [...out.cmds, ...flush.cmds], labels: [...out.labels, ...flush.labels] };
}
