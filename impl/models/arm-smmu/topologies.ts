// The systems this model can be: Arm SMMUs with the three translation granules and their
// block sizes, input widths that give 3- and 4-level tables, few context banks (seed 001), and
// two SMMUs with different granules behind one system (seed 000). PASIDs where the hardware has
// substreams (SSIDSIZE 20, as MMU-600 has): linear CD tables for devices with up to 2^10 PASIDs,
// a two-level one for a device with 2^11. SVA only where the SMMU can walk the CPU's tables.

import { type DomainType, GiB, KiB, MiB, type Topology } from '../../../spec/index.ts';
import { svaCapable } from './cpu.ts';

const TYPES: readonly DomainType[] = ['blocked', 'identity', 'paging', 'dma', 'dma_fq'];
const G4K = 4n * KiB | 2n * MiB | GiB;
const G16K = 16n * KiB | 32n * MiB;
const G64K = 64n * KiB | 512n * MiB;

const smmu = (name: string, pgsizes: bigint, ias: number, oas: number, contexts: number, pasidBits: number) => {
  const hw = { pgsizes, ias, oas, pasidBits };
  return { name, format: 'lpae-s1', pgsizes, ias, oas, contexts, pasidBits, domainTypes: svaCapable(hw) ? [...TYPES, 'sva' as const] : [...TYPES] };
};

export const ARM_TOPOLOGIES: Topology[] = [
  {
    // One SMMU, 4K granule, 48-bit (4 levels), three context banks: one held by g0's dma default.
    // It walks the CPU's tables, so its PASID-capable devices can bind process address spaces;
    // dev2 can issue PASID 1 only, so an mm holding another cannot be bound through it.
    iommus: [smmu('smmu0', G4K, 48, 48, 3, 20)],
    groups: [{ name: 'g0', iommu: 'smmu0', defaultDomain: 'dma' }, { name: 'g1', iommu: 'smmu0', defaultDomain: 'identity' }, { name: 'g2', iommu: 'smmu0', defaultDomain: 'identity' }],
    devices: [{ name: 'dev0', group: 'g0', maxPasids: 16 }, { name: 'dev0b', group: 'g0', maxPasids: 16 }, { name: 'dev1', group: 'g1', maxPasids: 32 }, { name: 'dev2', group: 'g2', maxPasids: 2 }],
  },
  {
    // Two SMMUs whose granules differ (seed 000): a 4K-granule domain cannot go behind the 64K one.
    // smmu0 has substreams but a 39/40-bit geometry the CPU's tables do not fit (no SVA);
    // smmu1 has no substreams at all.
    iommus: [smmu('smmu0', G4K, 39, 40, 4, 20), smmu('smmu1', G64K, 42, 48, 2, 0)],
    groups: [{ name: 'g0', iommu: 'smmu0', defaultDomain: 'identity' }, { name: 'g1', iommu: 'smmu1', defaultDomain: 'dma' }],
    devices: [{ name: 'dev0', group: 'g0', maxPasids: 2048 }, { name: 'dev1', group: 'g1', maxPasids: 0 }],
  },
  {
    // 16K granule, 36-bit input: a 3-level table whose root is a concatenation-sized array. No substreams.
    iommus: [smmu('smmu0', G16K, 36, 40, 2, 0)],
    groups: [{ name: 'g0', iommu: 'smmu0', defaultDomain: 'identity' }, { name: 'g1', iommu: 'smmu0', defaultDomain: 'identity' }],
    devices: [{ name: 'dev0', group: 'g0', maxPasids: 0 }, { name: 'dev1', group: 'g1', maxPasids: 0 }],
  },
];
