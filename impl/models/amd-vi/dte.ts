// Device table entries, one per device. Word 0 holds V (0), TV (1), the paging Mode (11:9),
// the host page-table root (51:12) and the IR (61) and IW (62) permissions; word 1 holds the
// DomainID (15:0) that tags the IOTLB (linux:drivers/iommu/amd/amd_iommu_types.h DTE_FLAG_V,
// DTE_FLAG_TV, DTE_FLAG_IR, DTE_FLAG_IW, DEV_ENTRY_MODE_MASK, DTE_DOMID_MASK). Mode 0 with IR
// and IW passes accesses through untranslated (an identity domain); with neither it blocks
// them. The GCR3 table pointer is kept beside the entry rather than packed into its words.

import { OA_MASK } from './pte.ts';

const DTE_V = 1n;
const DTE_TV = 2n;
const MODE_SHIFT = 9n;
const MODE_MASK = 7n << MODE_SHIFT;
const DTE_IR = 1n << 61n;
const DTE_IW = 1n << 62n;
const DOMID_MASK = 0xffffn;

export type DteTarget =
  | { kind: 'blocked' }
  | { kind: 'identity' }
  | { kind: 'paging'; root: bigint; levels: number; domainId: number };

export function encodeDte(t: DteTarget): BigUint64Array {
  const dte = new BigUint64Array(4);
  switch (t.kind) {
    case 'blocked':
      dte[0] = DTE_V | DTE_TV;
      break;
    case 'identity':
      dte[0] = DTE_V | DTE_TV | DTE_IR | DTE_IW;
      break;
    case 'paging':
      dte[0] = DTE_V | DTE_TV | DTE_IR | DTE_IW | (BigInt(t.levels) << MODE_SHIFT) | (t.root & OA_MASK);
      dte[1] = BigInt(t.domainId) & DOMID_MASK;
      break;
  }
  return dte;
}

/** What the IOMMU makes of an entry when a request without a PASID arrives. */
export function decodeDte(dte: BigUint64Array): DteTarget {
  const w0 = dte[0]!;
  // An invalid entry, or one without translation information, gives no access here.
  if ((w0 & DTE_V) === 0n || (w0 & DTE_TV) === 0n) return { kind: 'blocked' };
  const mode = Number((w0 & MODE_MASK) >> MODE_SHIFT);
  if (mode === 0) return (w0 & (DTE_IR | DTE_IW)) === (DTE_IR | DTE_IW) ? { kind: 'identity' } : { kind: 'blocked' };
  return { kind: 'paging', root: w0 & OA_MASK, levels: mode, domainId: Number(dte[1]! & DOMID_MASK) };
}
