// Unmap rules: what `unmap(domain, iova, size)` returns and removes (Linux iommu_unmap; seed 003
// is the origin of the symmetric/asymmetric contract, the policies cover where drivers differ).

import type { Rule } from './types.ts';

export const UNMAP_RULES: readonly Rule[] = [
  {
    id: 'UNMAP-DOMTYPE',
    family: 'unmap',
    level: 'POLICY',
    title: 'Unmap on a non-paging domain removes nothing',
    statement:
      'An `unmap` on a domain of type blocked, identity, sva or nested changes nothing. Under nonpaging_unmap=zero it returns 0 bytes unmapped, not an errno (Linux); ' +
      'under nonpaging_unmap=EINVAL it fails with EINVAL (virtio-iommu, S_INVAL on a bypass domain).',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_unmap() (the __IOMMU_DOMAIN_PAGING test: return 0)',
      'seed:002_b3cb825c86431b4e.txt',
      'spec:OASIS virtio, IOMMU device, UNMAP request (a bypass domain: S_INVAL)',
    ],
    policies: ['nonpaging_unmap'],
    capabilities: [],
  },
  {
    id: 'UNMAP-RET',
    family: 'unmap',
    level: 'MUST',
    title: 'Unmap returns exactly the bytes it removed',
    statement:
      'A completed `unmap(iova, size)` returns a byte count r, never an errno, except where misaligned_unmap=EINVAL or partial_unmap=reject-range declares a failure. ' +
      'r equals the number of bytes whose translation the call removed, and unless holes were skipped (unmap_hole=skip) iova + r is the address where unmapping stopped.',
    sources: [
      'seed:003_25f1d949be292248.txt',
      'commit:6ac7dffe7cca "iommu: Add a kdoc to iommu_unmap()" ("iova + res will be the point unmapping stopped")',
      'linux:drivers/iommu/iommu.c __iommu_unmap()',
    ],
    policies: ['misaligned_unmap', 'partial_unmap', 'unmap_hole'],
    capabilities: ['unmap_size'],
  },
  {
    id: 'UNMAP-ALIGN',
    family: 'unmap',
    level: 'POLICY',
    title: 'Misaligned unmap removes nothing',
    statement:
      "If iova or size is not a multiple of the domain's smallest page size, `unmap` removes nothing. " +
      'It returns 0 bytes under misaligned_unmap=zero and fails with EINVAL under misaligned_unmap=EINVAL; paddr plays no part in the check.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_unmap() (IS_ALIGNED(iova | size, min_pagesz), else return 0)',
      'linux:drivers/iommu/iommu.c iommu_unmap() at v4.13 (93fa6cf60aad: -EINVAL returned as size_t)',
      'seed:003_25f1d949be292248.txt',
    ],
    policies: ['misaligned_unmap'],
    capabilities: [],
  },
  {
    id: 'UNMAP-ZERO',
    family: 'unmap',
    level: 'MUST',
    title: 'Zero-size unmap removes nothing',
    statement: 'An `unmap` of size 0 at an aligned iova removes nothing and returns 0 bytes.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_unmap() (while (unmapped < size) never runs)',
      'spec:OASIS virtio, IOMMU device, Device operations / UNMAP request (example 1: an empty range succeeds and unmaps nothing)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'UNMAP-OVERFLOW',
    family: 'unmap',
    level: 'MUST',
    title: 'Unmap ranges wrapping past 2^64 remove nothing',
    statement:
      'An aligned `unmap` with iova + size greater than 2^64 removes nothing: it returns 0 bytes or fails with EINVAL, ERANGE or EOVERFLOW.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_pgsize() (check_add_overflow guard)',
      'linux:include/uapi/linux/iommufd.h "General ioctl format" (EOVERFLOW: mathematics overflowed)',
      'linux:drivers/vfio/vfio_iommu_type1.c vfio_dma_do_unmap() (overflow checks)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'UNMAP-SYM',
    family: 'unmap',
    level: 'MUST',
    title: 'Unmap of whole earlier maps is exact',
    statement:
      'If [iova, iova + size) is exactly the range of one earlier successful map, or the gap-free union of several adjacent ones, and all of them are still fully mapped, ' +
      '`unmap` returns exactly size, removes exactly that range and leaves every other translation of the domain unchanged.',
    sources: [
      'seed:003_25f1d949be292248.txt',
      'linux:drivers/iommu/iommu.c iommu_unmap() kdoc ("The range can aggregate contiguous iommu_map() calls so long as no individual range is split.")',
      'commit:6ac7dffe7cca "iommu: Add a kdoc to iommu_unmap()"',
      'spec:OASIS virtio, IOMMU device, Device operations / UNMAP request (examples 2, 3 and 5)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'UNMAP-PARTIAL',
    family: 'unmap',
    level: 'POLICY',
    title: 'Leaf-splitting unmap follows the declared policy',
    statement:
      'When an aligned `unmap` would cut a page-table leaf, the declared partial_unmap decides. ' +
      'split removes exactly [iova, iova + size) and keeps the rest of any cut leaf mapped; refuse and whole-leaf remove nothing if iova lies inside a leaf, ' +
      'and otherwise refuse stops in front of the leaf holding the last requested byte while whole-leaf removes that leaf in full (the count may exceed size); ' +
      'reject-range fails with ERANGE (virtio S_RANGE) and removes nothing whenever the range would cut one earlier map. ' +
      'Under every value nothing outside the touched leaves changes and the returned count equals what was removed.',
    sources: [
      'commit:33729a5fc0ca "iommu/io-pgtable-arm: Remove split on unmap behavior" (v6.13: refuse)',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_split_blk_unmap() (up to v6.12: split)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h unmap_pages() (whole entry cleared, length larger than requested)',
      'linux:drivers/iommu/generic_pt/kunit_iommu_pt.h test_unmap_split()',
      'spec:OASIS virtio, IOMMU device, Device operations / UNMAP request (split: S_RANGE, SHOULD NOT remove any mapping; example 4)',
      'seed:003_25f1d949be292248.txt',
    ],
    policies: ['partial_unmap'],
    capabilities: [],
  },
  {
    id: 'UNMAP-HOLE',
    family: 'unmap',
    level: 'POLICY',
    title: 'Unmap across unmapped space follows the policy',
    statement:
      'When the range of an aligned `unmap` starts in, or crosses, IOVA space with no mapping: under unmap_hole=stop unmapping ends at the first hole ' +
      'and the count is the length of the mapped prefix (0 if iova itself is unmapped); under unmap_hole=skip every mapping inside the range is removed, holes are passed over, ' +
      'and the count is the total removed.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_unmap() (the loop stops when the driver unmaps nothing)',
      'linux:drivers/iommu/io-pgtable-arm.c __arm_lpae_unmap() (empty PTE: WARN_ON, return 0)',
      'spec:OASIS virtio, IOMMU device, Device operations / UNMAP request (uncovered parts: remove what is covered, S_OK; examples 1, 6 and 7)',
      'linux:drivers/iommu/iommufd/io_pagetable.c iopt_unmap_iova_range()',
      'doc:Robin Murphy, "Re: WARNING: drivers/iommu/io-pgtable-arm.c:639", 9 Dec 2025 (unmapping a never-mapped IOVA is a usage bug; return 0)',
    ],
    policies: ['unmap_hole'],
    capabilities: [],
  },
  {
    id: 'UNMAP-STRICT',
    family: 'unmap',
    level: 'MUST',
    title: 'Strict unmap leaves no stale translation',
    statement:
      'In a domain whose type is not dma_fq, once `unmap` has returned no device access, through any group or PASID attached to the domain, ' +
      'is translated through a removed IOVA; such accesses fault.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_unmap() (iommu_iotlb_sync() before returning)',
      'linux:include/linux/iommu.h struct iommu_iotlb_gather',
      'spec:OASIS virtio, IOMMU device (after unmap, accesses to the range are rejected)',
      'linux:drivers/iommu/dma-iommu.c (flush queue: the lazy dma_fq exception)',
    ],
    policies: [],
    capabilities: [],
  },
];
