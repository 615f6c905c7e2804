// PASID allocator rules: the refcounted IOASID allocator of Linux v5.11-v6.3 (ioasid.c) and
// today's global PASID IDA share these invariants (seed 004 is the thread that made IOASIDs
// refcounted for SVA).

import type { Rule } from './types.ts';

const IOASID = 'linux:drivers/iommu/ioasid.c (v5.5-v6.3)';

export const PASID_RULES: readonly Rule[] = [
  {
    id: 'PASID-RANGE',
    family: 'pasid',
    level: 'MUST',
    title: 'Allocated PASIDs lie in the asked range, never 0',
    statement:
      '`pasid_alloc(min, max)` returns an ID in [min, max] (inclusive) that is not 0, PASID 0 being reserved for DMA without a PASID. ' +
      'When every ID of the range is live it fails with ENOSPC and changes nothing; max < min fails with EINVAL.',
    sources: [
      'seed:004_d19fc3283ac683e5.txt',
      `${IOASID} ioasid_alloc() (XA_LIMIT(min, max); INVALID_IOASID on exhaustion)`,
      'linux:drivers/iommu/iommu.c iommu_alloc_global_pasid() (ida_alloc_range from IOMMU_FIRST_GLOBAL_PASID = 1)',
      'linux:include/linux/iommu.h IOMMU_NO_PASID (0)',
    ],
    policies: [],
    capabilities: ['pasid'],
  },
  {
    id: 'PASID-UNIQUE',
    family: 'pasid',
    level: 'MUST',
    title: 'No two live PASIDs are equal',
    statement:
      'An ID is never handed out while it is live, whether it was allocated by `pasid_alloc` or to an mm by `sva_bind`: the PASID space is one system-wide allocator.',
    sources: [
      `${IOASID} ioasid_alloc() (one xarray for every set)`,
      'linux:drivers/iommu/iommu.c iommu_global_pasid_ida (one IDA for the whole system)',
    ],
    policies: [],
    capabilities: ['pasid'],
  },
  {
    id: 'PASID-REF',
    family: 'pasid',
    level: 'MUST',
    title: 'A PASID is freed exactly when its count reaches zero',
    statement:
      'A new allocation holds one reference; `pasid_get` adds one, `pasid_put` drops one and reports freed=true exactly when that was the last. ' +
      'Until then the ID stays live and cannot be handed out again; after it, the ID may be reused.',
    sources: [
      'seed:004_d19fc3283ac683e5.txt',
      `${IOASID} ioasid_get(), ioasid_put() (returns true when freed)`,
      'commit:cb4789b0d19f "iommu/ioasid: Add ioasid references" (v5.11)',
    ],
    policies: [],
    capabilities: ['pasid'],
  },
  {
    id: 'PASID-STALE',
    family: 'pasid',
    level: 'MUST',
    title: 'A freed PASID handle is dead',
    statement:
      '`pasid_get`, `pasid_put` and `pasid_find` on an allocation that has been freed (or never existed) fail with ENOENT and change nothing; ' +
      'in particular a put through a stale handle never drops a reference of the allocation that now holds the same ID.',
    sources: [
      `${IOASID} ioasid_put() ("Trying to free unknown IOASID"), ioasid_find() (ERR_PTR(-ENOENT))`,
      'seed:004_d19fc3283ac683e5.txt',
    ],
    policies: [],
    capabilities: ['pasid'],
  },
  {
    id: 'PASID-DATA',
    family: 'pasid',
    level: 'MUST',
    title: 'find returns the private data while live',
    statement: '`pasid_find` of a live allocation returns the private data given to `pasid_alloc` (null when none was given).',
    sources: [`${IOASID} ioasid_find() (returns the private pointer)`],
    policies: [],
    capabilities: ['pasid'],
  },
];
