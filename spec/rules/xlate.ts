// Translation and isolation rules: what iova_to_phys reports and what a device access reaches.

import type { Rule } from './types.ts';

export const XLATE_RULES: readonly Rule[] = [
  {
    id: 'XLATE-I2P',
    family: 'xlate',
    level: 'MUST',
    title: 'iova_to_phys reports the current translation',
    statement:
      'On a domain of type paging, dma or dma_fq, iova_to_phys(v) returns paddr + (v - iova) when v lies in a live mapping (iova, paddr, size) and 0 when v is unmapped. ' +
      'On an identity domain it returns v itself; on a blocked domain it returns 0.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_iova_to_phys() (IDENTITY returns iova, BLOCKED returns 0)',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_iova_to_phys() (empty PTE: 0)',
      'linux:drivers/iommu/generic_pt/iommu_pt.h iova_to_phys() (unmapped: 0)',
      'linux:drivers/iommu/io-pgtable-arm-selftests.c arm_lpae_run_tests() (empty page tables give no translation)',
    ],
    policies: [],
    capabilities: ['iova_to_phys'],
  },
  {
    id: 'XLATE-DMA',
    family: 'xlate',
    level: 'MUST',
    title: 'Device accesses go through the current domain',
    statement:
      "A `dma` without a PASID is translated by the current domain of the device's group; one with a PASID by the domain attached at that PASID, and it faults (FAULT) if none is attached. " +
      'Through a paging domain (or a nested domain, through its parent\'s mappings) it reaches the mapped physical address or faults, through an identity domain it reaches the IOVA unchanged, and through a blocked domain it always faults.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_group_set_domain_internal() (DMA reaches only the old or the new domain)',
      'linux:drivers/iommu/iommu.c iommu_attach_device_pasid()',
      'seed:002_b3cb825c86431b4e.txt',
      'spec:OASIS virtio, IOMMU device, Device operations (bypass mode: identity translation)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'XLATE-PERM',
    family: 'xlate',
    level: 'POLICY',
    title: 'Device accesses honour mapping permissions',
    statement:
      'A write through a mapping without WRITE faults, and a read through a mapping without READ faults. ' +
      'The one exception is a read through a write-only mapping (WRITE without READ): it succeeds under write_only_read=allow and faults under write_only_read=fault.',
    sources: [
      'spec:OASIS virtio, IOMMU device, Device operations / MAP request (MUST NOT allow writes without F_WRITE; MAY allow reads of a write-only range)',
      'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_prot_to_pte() (stage 1: AP_RDONLY or read-write, no write-only encoding)',
      'linux:include/linux/iommu.h IOMMU_READ, IOMMU_WRITE',
    ],
    policies: ['write_only_read'],
    capabilities: [],
  },
  {
    id: 'ISOLATION',
    family: 'xlate',
    level: 'MUST',
    title: 'Devices reach only domains they are attached to',
    statement:
      "A device access never reaches a mapping of a domain that is neither its group's current domain nor the domain attached at the access's PASID. " +
      'After a detach the group\'s devices reach only what their default domain allows: nothing the suite mapped for a dma default, the IOVA itself for an identity default.',
    sources: [
      'seed:001_a04be2a55e3bff25.txt',
      'spec:OASIS virtio, IOMMU device, Device operations / ATTACH request (endpoints in different domains are isolated)',
      'spec:OASIS virtio, IOMMU device, Device operations / DETACH request (after detach no mapping of that domain is reachable)',
      'linux:drivers/iommu/iommu.c __iommu_group_set_domain_internal()',
    ],
    policies: [],
    capabilities: [],
  },
];
