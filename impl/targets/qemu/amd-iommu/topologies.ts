// The systems this target can be (common/kit-topologies.ts): one AMD IOMMU with v1 host tables
// of 4 levels (Mode 4: a 48-bit input) and the page sizes Linux's v1 io-pgtable offers; a device
// with nothing attached gets a translation-disabled entry (identity) or a blocking one (blocked),
// as Linux's identity domain and clear_dte_entry() leave it.

import { type Topology } from '../../../../spec/index.ts';
import { eduMachineFor, eduTopologies } from '../common/kit-topologies.ts';

/** Host-table levels (the DTE's Mode); QEMU offers up to 6 (EFR.HATS). */
export const LEVELS = 4;
/** Input size of a 4-level table. */
export const INPUT_BITS = 12 + 9 * LEVELS;
/** Output size: the 52-bit addresses of a v1 entry (QEMU's capability says PAsize 40; RAM is far below either). */
export const OUTPUT_BITS = 52;
/**
 * Every power of two from 4 KiB below the input size but 512 GiB, as Linux's
 * AMD_IOMMU_PGSIZES (GENMASK_ULL(51, 12) ^ SZ_512G; 512 GiB pages are left out for a hardware
 * erratum): bigger pages are NextLevel-7 leaves (pgtable.ts).
 */
export const PGSIZES = ((1n << BigInt(INPUT_BITS)) - 1n) & ~0xfffn & ~(1n << 39n);
/** Domains live at once; DomainIDs are 16 bits. */
export const CONTEXTS = 64;

export const TOPOLOGIES: readonly Topology[] = eduTopologies({
  format: 'amdv1', pgsizes: PGSIZES, ias: INPUT_BITS, oas: OUTPUT_BITS, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity', 'blocked'],
});

export const machineFor = (t: Topology) => eduMachineFor(TOPOLOGIES, t);
