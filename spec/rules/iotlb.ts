// IOTLB rules: what a device may still reach after an unmap. Strict domains sync the IOTLB
// before unmap returns (UNMAP-STRICT); dma_fq domains defer it to a flush queue.

import type { Rule } from './types.ts';

const FQ = 'linux:drivers/iommu/dma-iommu.c (flush queue: IOVA_DEFAULT_FQ_SIZE 256, IOVA_DEFAULT_FQ_TIMEOUT 10 ms)';

export const IOTLB_RULES: readonly Rule[] = [
  {
    id: 'TLB-LAZY',
    family: 'iotlb',
    level: 'MUST',
    title: 'A lazy domain may serve only the old page until flush',
    statement:
      'In a dma_fq domain of an adapter that declares lazy_flush, a device access to an IOVA unmapped since the last `flush` may still reach the physical page it was mapped to, ' +
      'with the old permissions, or fault; it never reaches any other page. A new mapping is visible at once, but the old entry may still win until the flush, ' +
      'so an access the old entry did not permit may fault even where the new mapping permits it.',
    sources: [
      FQ,
      'linux:include/linux/iommu.h IOMMU_CAP_DEFERRED_FLUSH, struct iommu_iotlb_gather (queued)',
      'linux:drivers/iommu/iommu.c iommu_unmap_fast() (stale IOTLB entries until the caller syncs)',
    ],
    policies: [],
    capabilities: ['lazy_flush'],
  },
  {
    id: 'TLB-FLUSH',
    family: 'iotlb',
    level: 'MUST',
    title: 'After flush no stale translation remains',
    statement: 'Once `flush` of a domain has returned, no device access through it uses a translation removed before the flush: such accesses fault.',
    sources: [FQ, 'linux:include/linux/iommu.h iommu_flush_iotlb_all()'],
    policies: [],
    capabilities: ['lazy_flush'],
  },
  {
    id: 'TLB-REMOVED',
    family: 'iotlb',
    level: 'MUST',
    title: 'Unmap invalidates everything it removed',
    statement:
      'When an unmap removes more than was asked (partial_unmap=whole-leaf: the whole leaves it cut), everything it removed is invalidated with the rest: ' +
      'in a strict domain no device reaches any of it once unmap has returned. A gather that covers only the requested range breaks this.',
    sources: [
      'linux:include/linux/iommu.h iommu_iotlb_gather_add_range() (the gather must cover what the driver removed)',
      'linux:drivers/iommu/amd/io_pgtable.c iommu_v1_unmap_pages() (returns the whole leaf it cleared)',
    ],
    policies: ['partial_unmap'],
    capabilities: [],
    onlyUnder: { policy: 'partial_unmap', values: ['whole-leaf'], why: 'an unmap removes nothing beyond the range asked, so nothing beyond it is left to invalidate' },
  },
];
