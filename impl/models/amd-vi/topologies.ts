// The systems this model can be: AMD IOMMUs with the v1 table's 4K, 2M and 1G leaves, a 48-bit
// input (4 levels) or a 57-bit one (5 levels), 52-bit outputs at most, few domain IDs
// (seed 001), 16-bit PASIDs, and two IOMMUs of different depths behind one system, where a
// 5-level domain cannot go behind the 4-level IOMMU (seed 000: attach compatibility).

import { GiB, KiB, MiB, type Topology } from '../../../spec/index.ts';

const V1_SIZES = 4n * KiB | 2n * MiB | GiB;
const TYPES = ['blocked', 'identity', 'paging', 'dma', 'dma_fq'] as const;

const amd = (name: string, ias: number, oas: number, contexts: number, pasidBits: number) =>
  ({ name, format: 'amdv1', pgsizes: V1_SIZES, ias, oas, contexts, pasidBits, domainTypes: pasidBits > 0 ? [...TYPES, 'sva' as const] : [...TYPES] });

export const AMD_TOPOLOGIES: Topology[] = [
  {
    // 4 levels, four groups of every default kind, three domain IDs (one held by g0's dma default).
    iommus: [amd('amdvi0', 48, 52, 3, 16)],
    groups: [
      { name: 'g0', iommu: 'amdvi0', defaultDomain: 'dma' },
      { name: 'g1', iommu: 'amdvi0', defaultDomain: 'identity' },
      { name: 'g2', iommu: 'amdvi0', defaultDomain: 'identity' },
      { name: 'g3', iommu: 'amdvi0', defaultDomain: 'blocked' },
    ],
    devices: [
      { name: 'dev0', group: 'g0', maxPasids: 16 }, { name: 'dev0b', group: 'g0', maxPasids: 16 },
      { name: 'dev1', group: 'g1', maxPasids: 32 }, { name: 'dev2', group: 'g2', maxPasids: 0 }, { name: 'dev3', group: 'g3', maxPasids: 1024 },
    ],
  },
  {
    // 5 levels (57-bit input), a 48-bit output.
    iommus: [amd('amdvi0', 57, 48, 4, 16)],
    groups: [{ name: 'g0', iommu: 'amdvi0', defaultDomain: 'identity' }, { name: 'g1', iommu: 'amdvi0', defaultDomain: 'dma' }],
    devices: [{ name: 'dev0', group: 'g0', maxPasids: 1024 }, { name: 'dev1', group: 'g1', maxPasids: 16 }],
  },
  {
    // A 5-level IOMMU and a 4-level one without PASIDs: domains of the first do not fit the second.
    iommus: [amd('amdvi0', 57, 52, 3, 16), amd('amdvi1', 48, 48, 2, 0)],
    groups: [{ name: 'g0', iommu: 'amdvi0', defaultDomain: 'identity' }, { name: 'g1', iommu: 'amdvi1', defaultDomain: 'dma' }, { name: 'g2', iommu: 'amdvi1', defaultDomain: 'identity' }],
    devices: [{ name: 'dev0', group: 'g0', maxPasids: 32 }, { name: 'dev1', group: 'g1', maxPasids: 0 }, { name: 'dev2', group: 'g2', maxPasids: 0 }],
  },
];
