// The systems this target can be (common/kit-topologies.ts): one RISC-V IOMMU with first-stage
// Sv48 domains as Linux makes them (riscv_iommu_alloc_paging_domain(): the lower half of the
// address space, va_bits - 1 = 47 bits, and the leaf sizes Sv48 has); a device with nothing
// attached gets a Bare context (identity) or an invalid one (blocked).

import { GiB, KiB, MiB, type Topology } from '../../../../spec/index.ts';
import { eduMachineFor, eduTopologies } from '../common/kit-topologies.ts';
import type { PagingMode } from './regs.ts';

export const MODE: PagingMode = 'sv48';
/** Leaf sizes of Sv48: 4 KiB pages, 2 MiB, 1 GiB and 512 GiB superpages (Linux: SZ_4K | SZ_2M | SZ_1G | SZ_512G). */
export const PGSIZES = 4n * KiB | 2n * MiB | GiB | 512n * GiB;
/** Linux's aperture: DMA_BIT_MASK(va_bits - 1), the half of Sv48 that needs no sign extension. */
export const INPUT_BITS = 47;
/** The unit's physical address size: CAP.PAS reads 56 on every QEMU version with the device. */
export const OUTPUT_BITS = 56;
/** Domains live at once; PSCIDs are 20 bits. */
export const CONTEXTS = 64;

export const TOPOLOGIES: readonly Topology[] = eduTopologies({
  format: 'riscv-sv48', pgsizes: PGSIZES, ias: INPUT_BITS, oas: OUTPUT_BITS, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity', 'blocked'],
});

export const machineFor = (t: Topology) => eduMachineFor(TOPOLOGIES, t);
