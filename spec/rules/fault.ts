// Resource-failure rules, after the iommufd fail_nth selftest (sweep every allocation point of
// a succeeding sequence) and the iommupt KUnit leak check.

import type { Rule } from './types.ts';

export const FAULT_RULES: readonly Rule[] = [
  {
    id: 'FAIL-ATOMIC',
    family: 'fault',
    level: 'MUST',
    title: 'An op that runs out of memory changes nothing',
    statement:
      'After `fail_nth(n)` the n-th internal allocation from then on fails. An operation that fails because of it reports ENOMEM (unmap: 0 bytes) ' +
      'and leaves every observable translation, attachment and allocation exactly as before; the operations after it behave as if it had never been issued.',
    sources: [
      'linux:tools/testing/selftests/iommu/iommufd_fail_nth.c (sweep every injection point of a succeeding sequence)',
      'linux:drivers/iommu/iommu.c iommu_map_nosync() ("unroll mapping in case something went wrong")',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_split_blk_unmap() (a failed table allocation returns 0)',
    ],
    policies: [],
    capabilities: ['fail_nth'],
  },
  {
    id: 'PT-LEAK',
    family: 'fault',
    level: 'SHOULD',
    title: 'Page-table memory returns to its empty baseline',
    statement:
      "Once every mapping of a paging domain has been removed, `pt_pages` reports the same number of page-table pages as right after the domain was allocated.",
    sources: [
      'linux:drivers/iommu/generic_pt/kunit_iommu_pt.h (suite exit: no NR_SECONDARY_PAGETABLE left over)',
      'linux:include/linux/iommu.h struct iommu_iotlb_gather freelist (table pages freed after the sync)',
    ],
    policies: [],
    capabilities: ['pt_pages'],
  },
];
