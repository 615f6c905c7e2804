// Map rules: what `map(domain, iova, paddr, size, prot)` must do (Linux iommu_map and the
// page-table drivers below it; seed 003 fixed the byte-sized interface and its alignment check).

import type { Rule } from './types.ts';

export const MAP_RULES: readonly Rule[] = [
  {
    id: 'MAP-DOMTYPE',
    family: 'map',
    level: 'MUST',
    title: 'Map into a non-paging domain fails',
    statement:
      'A `map` into a domain of type blocked, identity, sva or nested (a type with no caller-managed page table) fails with EINVAL. ' +
      'No translation of any domain changes.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_map_nosync() (the __IOMMU_DOMAIN_PAGING test is the first check)',
      'linux:drivers/iommu/iommu.c __iommu_map() (same check, older kernels)',
      'seed:002_b3cb825c86431b4e.txt',
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request (bypass domain: S_INVAL)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'MAP-ALIGN',
    family: 'map',
    level: 'POLICY',
    title: 'Map must be aligned to the smallest page',
    statement:
      "Let g be the smallest page size in the domain's page-size bitmap. " +
      'If iova, paddr or size is not a multiple of g, that is if (iova | paddr | size) & (g - 1) is non-zero, `map` fails with the declared align_errno ' +
      '(EINVAL in Linux, ERANGE from virtio-iommu\'s S_RANGE) and nothing changes.',
    sources: [
      'seed:003_25f1d949be292248.txt',
      'linux:drivers/iommu/iommu.c iommu_map_nosync() (IS_ALIGNED(iova | paddr | size, min_pagesz), pr_err "unaligned")',
      'spec:OASIS virtio, IOMMU device, MAP request (virt_start, phys_start or virt_end + 1 unaligned: SHOULD S_RANGE)',
    ],
    policies: ['align_errno'],
    capabilities: [],
  },
  {
    id: 'MAP-ZERO',
    family: 'map',
    level: 'POLICY',
    title: 'Zero-size map follows the declared policy',
    statement:
      'A `map` of size 0 with otherwise valid arguments never creates a translation. ' +
      'Under zero_size_map=ok it succeeds; under zero_size_map=EINVAL it fails with EINVAL; in both cases nothing changes.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_map_nosync() (the while (size) loop never runs, result 0)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h make_range_ul() (len == 0: -EINVAL)',
      'linux:drivers/iommu/iommufd/io_pagetable.c iopt_alloc_area_pages() (!length: -EINVAL)',
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request (driver: virt_end MUST be greater than virt_start)',
    ],
    policies: ['zero_size_map'],
    capabilities: [],
  },
  {
    id: 'MAP-PROT',
    family: 'map',
    level: 'MUST',
    title: 'Map without read or write fails',
    statement:
      'A `map` whose prot has neither READ (1) nor WRITE (2) set fails with EINVAL, whatever other bits (CACHE, NOEXEC, MMIO, PRIV) it carries, and nothing changes.',
    sources: [
      'commit:6093cd582f8e "iommu: Do not return 0 from map_pages if it doesnt do anything" (mainline v6.11)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h map_pages() (WARN_ON(!(prot & (IOMMU_READ | IOMMU_WRITE))): -EINVAL)',
      'linux:include/linux/iommu.h IOMMU_READ, IOMMU_WRITE',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'MAP-FLAGS',
    family: 'map',
    level: 'POLICY',
    title: 'Unknown permission flags follow policy',
    statement:
      'A `map` whose prot carries bits beyond the six the vocabulary defines (READ, WRITE, CACHE, NOEXEC, MMIO, PRIV) is judged by unknown_flags. ' +
      'Under ignore the extra bits make no difference: the map behaves as if they were clear. Under EINVAL it fails with EINVAL and nothing changes.',
    sources: [
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_prot_to_pte() (tests only the bits it knows)',
      'spec:OASIS virtio, IOMMU device, MAP request (the device MUST reject a request with an unknown flag: S_INVAL)',
    ],
    policies: ['unknown_flags'],
    capabilities: [],
  },
  {
    id: 'MAP-RANGE',
    family: 'map',
    level: 'POLICY',
    title: 'Map beyond the address widths fails',
    statement:
      "Let IAS and OAS be the domain's address widths: those of the IOMMU it was allocated for, narrowed to any narrower IOMMU it has been attached behind. " +
      'If the IOVA range holds an address at or above 2^IAS (iova + size > 2^IAS), or the physical range one at or above 2^OAS (paddr + size > 2^OAS), ' +
      '`map` fails with the errno declared by range_errno (ERANGE, EFAULT or EINVAL) and nothing changes.',
    sources: [
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_map_pages() (iova beyond ias or paddr beyond oas: -ERANGE)',
      'linux:drivers/iommu/generic_pt/pt_iter.h pt_check_range() (-ERANGE)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h map_pages() (paddr not representable: -ERANGE)',
      'linux:drivers/iommu/intel/iommu.c intel_iommu_map() ("iommu width (%d) is not sufficient for the mapped address": -EFAULT)',
      'spec:OASIS virtio, IOMMU device, Device operations (input_range: requests outside it fail)',
    ],
    policies: ['range_errno'],
    capabilities: [],
  },
  {
    id: 'MAP-OVERFLOW',
    family: 'map',
    level: 'MUST',
    title: 'Map ranges wrapping past 2^64 fail',
    statement:
      'If iova + size or paddr + size is greater than 2^64, so that the range wraps around the 64-bit space, `map` fails and nothing changes. ' +
      'EINVAL, ERANGE, EOVERFLOW and the errno declared by range_errno are all accepted.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_pgsize() (check_add_overflow guard)',
      'linux:drivers/iommu/iommufd/ioas.c iommufd_ioas_map() (-EOVERFLOW)',
      'linux:include/uapi/linux/iommufd.h "General ioctl format" (EOVERFLOW: mathematics overflowed)',
    ],
    policies: ['range_errno'],
    capabilities: [],
  },
  {
    id: 'MAP-OVERLAP',
    family: 'map',
    level: 'POLICY',
    title: 'Map over an existing mapping fails',
    statement:
      'A `map` whose IOVA range intersects any live mapping of the domain fails with the errno declared by overmap_errno (EEXIST, EADDRINUSE or EINVAL). ' +
      'Every translation that existed before the call, including those inside the requested range, is left exactly as it was.',
    sources: [
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_init_pte() (existing leaf: -EEXIST)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h __map_range() (non-empty entry: -EADDRINUSE)',
      'linux:drivers/iommu/generic_pt/kunit_iommu_pt.h test_random_map() (overmap must be -EADDRINUSE)',
      'linux:drivers/iommu/iommufd/io_pagetable.c iopt_check_iova() (-EEXIST)',
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request (existing mapping in range: S_INVAL)',
    ],
    policies: ['overmap_errno'],
    capabilities: [],
  },
  {
    id: 'MAP-ATOMIC',
    family: 'map',
    level: 'MUST',
    title: 'A failed map changes no translation',
    statement:
      'Whatever makes a `map` fail (an argument check, an overlap, an address limit or an injected ENOMEM), afterwards iova_to_phys and device accesses give, ' +
      'for every IOVA of every domain, the same result as before the call.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_map_nosync() ("unroll mapping in case something went wrong")',
      'linux:drivers/iommu/iommu.c iommu_map() (iommu_sync_map failure: the range is unmapped again)',
      'linux:tools/testing/selftests/iommu/iommufd_fail_nth.c (every injected failure point of map)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'MAP-OK',
    family: 'map',
    level: 'MUST',
    title: 'Valid map into a paging domain succeeds',
    statement:
      'A `map` into a live domain of type paging, dma or dma_fq succeeds when size > 0, iova, paddr and size are multiples of the smallest page size, ' +
      'prot has READ or WRITE, the IOVA range is free, neither range wraps, iova + size <= 2^IAS and paddr + size <= 2^OAS, and no allocation failure is injected.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_map_nosync()',
      'linux:drivers/iommu/io-pgtable-arm-selftests.c arm_lpae_run_tests() (maps every supported page size, including the last one below the IAS)',
      'linux:drivers/iommu/generic_pt/kunit_iommu_pt.h test_map_simple()',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'MAP-XLATE',
    family: 'map',
    level: 'MUST',
    title: 'Mapped bytes translate to their physical address',
    statement:
      'After a successful `map(iova, paddr, size, prot)`, for every offset o < size, iova_to_phys(iova + o) returns paddr + o. ' +
      'A device whose group, or whose access PASID, is attached to the domain reaches paddr + o at iova + o with the permissions prot grants (see XLATE-PERM).',
    sources: [
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request (PA = VA - virt_start + phys_start)',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_iova_to_phys() (sub-page offset kept)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h iova_to_phys()',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'MAP-PGSIZE',
    family: 'map',
    level: 'MUST',
    title: "Leaves use the domain's page sizes, aligned",
    statement:
      "Each page-table leaf holding a mapping, as reported by `leaves`, has a size from the domain's page-size bitmap and starts at an IOVA and a physical address that are both multiples of that size. " +
      "The leaves cover the mapping's IOVA range exactly, with no gap and no overlap.",
    sources: [
      'seed:000_80203a2a4a1d457c.txt',
      'linux:drivers/iommu/iommu.c iommu_pgsize()',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_map_pages() (a page size outside the bitmap: WARN_ON, -EINVAL)',
    ],
    policies: [],
    capabilities: ['leaves'],
  },
  {
    id: 'MAP-PGSIZE-GREEDY',
    family: 'map',
    level: 'SHOULD',
    title: 'Leaves follow the greedy iommu_pgsize() split',
    statement:
      "The leaves a `map` creates are the ones Linux's iommu_pgsize() picks: repeatedly the largest page size in the bitmap that fits both the remaining length and the alignment of iova | paddr, " +
      'issued as a run that is cut at the next larger page boundary when iova and paddr are co-aligned for the larger size and a whole larger page fits past that boundary. ' +
      'A finer split still translates correctly but costs TLB entries, so a difference is a quality warning.',
    sources: [
      'seed:000_80203a2a4a1d457c.txt',
      'linux:drivers/iommu/iommu.c iommu_pgsize()',
      'linux:drivers/iommu/generic_pt/kunit_iommu_pt.h test_mixed()',
    ],
    policies: [],
    capabilities: ['leaves'],
  },
];
