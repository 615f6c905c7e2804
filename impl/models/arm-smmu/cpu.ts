// The CPU whose page tables SVA shares with devices: arm64 with 4 KiB pages, 48-bit virtual
// (TTBR0) and physical addresses. An SMMU can walk them only if it has that granule and at
// least those widths, as arm_smmu_sva_supported() checks.

import { KiB } from '../../../spec/index.ts';

export const CPU_PAGE = 4n * KiB;
export const CPU_VA_BITS = 48;
export const CPU_PA_BITS = 48;

export function svaCapable(smmu: { pgsizes: bigint; ias: number; oas: number; pasidBits: number }): boolean {
  return smmu.pasidBits > 0 && (smmu.pgsizes & CPU_PAGE) !== 0n && smmu.ias >= CPU_VA_BITS && smmu.oas >= CPU_PA_BITS;
}
