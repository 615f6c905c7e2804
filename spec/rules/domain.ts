// Domain rules: allocation, the operations each domain type supports, freeing and lifetime
// (seeds 000 and 002: page sizes and op sets belong to the domain).

import type { Rule } from './types.ts';

export const DOMAIN_RULES: readonly Rule[] = [
  {
    id: 'DOM-ALLOC',
    family: 'domain',
    level: 'MUST',
    title: 'Domain allocation checks type, parent and sizes',
    statement:
      "`domain_alloc` for an unknown device fails with ENODEV, and of a type the device's IOMMU does not support with EOPNOTSUPP. " +
      "A nested domain needs as parent a live domain of type paging whose page-table format is the IOMMU's, else EINVAL. " +
      "For a paging, dma or dma_fq domain, requested page sizes that are zero or not a subset of the IOMMU's bitmap fail with EINVAL.",
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_paging_domain_alloc_flags() (no allocator: -EOPNOTSUPP)',
      'linux:drivers/iommu/iommufd/hw_pagetable.c iommufd_hwpt_nested_alloc() (parent not a nest parent or of another driver: -EINVAL)',
      'commit:d16e0faab911 "iommu: Allow selecting page sizes per domain"',
      'seed:002_b3cb825c86431b4e.txt',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'DOM-PGSIZE',
    family: 'domain',
    level: 'MUST',
    title: "Domain page sizes subset the IOMMU's",
    statement:
      "The page-size bitmap that `domain_alloc` reports for a domain of type paging, dma or dma_fq is non-zero and a subset of its IOMMU's bitmap, " +
      'and also a subset of the requested sizes when pgsizes was given. Map alignment and leaf sizes are judged against this bitmap.',
    sources: [
      'seed:000_80203a2a4a1d457c.txt',
      'commit:d16e0faab911 "iommu: Allow selecting page sizes per domain"',
      'doc:Jason Gunthorpe, "[PATCH v2 7/7] iommu: Remove ops->pgsize_bitmap", 9 Jun 2025',
      'linux:drivers/iommu/iommu.c iommu_domain_init()',
      'spec:OASIS virtio, IOMMU device, Device configuration layout (page_size_mask: at least one bit)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'DOM-OPS',
    family: 'domain',
    level: 'MUST',
    title: 'Each domain type supports only its operations',
    statement:
      'An operation the domain type does not support changes nothing: an sva domain binds but never maps (MAP-DOMTYPE, UNMAP-DOMTYPE), ' +
      'attaching an sva domain to a whole device fails with ENODEV, EINVAL or EOPNOTSUPP, attaching an identity or blocked domain at a PASID fails with EINVAL or EOPNOTSUPP, ' +
      'and iova_to_phys on an sva or nested domain returns 0 or fails with EOPNOTSUPP or EINVAL.',
    sources: [
      'seed:002_b3cb825c86431b4e.txt',
      'doc:Lu Baolu, "iommu cleanup and refactoring" v4, "iommu: Split struct iommu_ops" (applied Feb 2022)',
      'linux:include/linux/iommu.h struct iommu_domain_ops',
      'linux:drivers/iommu/iommu.c __iommu_attach_device() (no attach_dev op: -ENODEV)',
      'linux:drivers/iommu/iommu.c iommu_iova_to_phys()',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'DOM-FREE',
    family: 'domain',
    level: 'MUST',
    title: 'Freeing a domain in use fails EBUSY',
    statement:
      '`domain_free` fails with EBUSY and changes nothing while the domain is the current domain of any group, is attached at any PASID, ' +
      'or is the parent of a nested domain that has not been freed.',
    sources: [
      'linux:drivers/iommu/iommufd/main.c iommufd_destroy() (an object that still has users: -EBUSY)',
      'linux:drivers/iommu/iommufd/hw_pagetable.c iommufd_hwpt_nested_alloc() (the nested domain holds a reference on its parent)',
      'linux:drivers/iommu/iommu.c iommu_domain_free() (no check: detaching first is the caller\'s duty)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'DOM-STALE',
    family: 'domain',
    level: 'MUST',
    title: 'Operations on a freed domain fail ENOENT',
    statement:
      'After `domain_free` succeeds, every operation naming that domain handle (map, unmap, iova_to_phys, attach, attach_pasid, domain_free, or use as a nested parent) ' +
      'fails with ENOENT and changes nothing; a detach naming it may instead succeed as a no-op.',
    sources: [
      'linux:include/uapi/linux/iommufd.h "General ioctl format" (ENOENT: an ID provided does not exist)',
      'linux:tools/testing/selftests/iommu/iommufd.c cmd_fail (bad id: ENOENT)',
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request and UNMAP request (domain does not exist: S_NOENT)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'DOM-LIFETIME',
    family: 'domain',
    level: 'POLICY',
    title: 'Domain fate after last detach follows policy',
    statement:
      'When a domain loses its last attachment (the last group detaches, or the last PASID, with no group left), under domain_lifetime=persist it lives on with all its mappings until `domain_free`. ' +
      'Under domain_lifetime=last-detach a domain exists only while something is attached to it: before its first attach and after its last detach, ' +
      'map, unmap, iova_to_phys and flush naming it fail with ENOENT; the last detach drops every mapping, and the next attach brings the domain back empty. ' +
      '`domain_free` of such a dormant domain succeeds.',
    sources: [
      'spec:OASIS virtio, IOMMU device, Device operations / DETACH request (after all endpoints detach the domain ceases to exist)',
      'linux:drivers/iommu/iommu.c iommu_domain_free() (a Linux domain lives until freed)',
      'linux:drivers/iommu/virtio-iommu.c viommu_replay_mappings() (the Linux driver replays mappings on re-attach)',
    ],
    policies: ['domain_lifetime'],
    capabilities: [],
  },
];
