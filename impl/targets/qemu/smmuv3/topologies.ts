// The systems this target can be (common/kit-topologies.ts): one SMMUv3 with stage-1 domains as
// Linux makes them (48-bit input, the unit's 44-bit output size, 4 KiB-granule tables); a device
// with nothing attached gets a bypass STE (identity) or an abort STE (blocked).

import { GiB, KiB, MiB, type Topology } from '../../../../spec/index.ts';
import { eduMachineFor, eduTopologies } from '../common/kit-topologies.ts';

/** Leaf sizes of a 4 KiB-granule stage-1 table: pages, 2 MiB and 1 GiB blocks. */
export const PGSIZES = 4n * KiB | 2n * MiB | GiB;
/** Stage-1 input size (T0SZ 16: four levels from level 0). */
export const INPUT_BITS = 48;
/** The unit's output size: IDR5.OAS reads 44 bits on every QEMU version (docs/notes/qemu-smmuv3.md §2). */
export const OUTPUT_BITS = 44;
/** Domains live at once; ASIDs are 16 bits (IDR0.ASID16). */
export const CONTEXTS = 64;

export const TOPOLOGIES: readonly Topology[] = eduTopologies({
  format: 'arm-lpae-s1', pgsizes: PGSIZES, ias: INPUT_BITS, oas: OUTPUT_BITS, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity', 'blocked'],
});

export const machineFor = (t: Topology) => eduMachineFor(TOPOLOGIES, t);
