// SVA rules: a device sharing a process address space through a PASID (seed 004: SVA for
// SMMUv3, which introduced mm->pasid and refcounted PASIDs; Linux iommu-sva.c today).

import type { Rule } from './types.ts';

const SEED = 'seed:004_d19fc3283ac683e5.txt';
const SVA = 'linux:drivers/iommu/iommu-sva.c';

export const SVA_RULES: readonly Rule[] = [
  {
    id: 'SVA-BIND',
    family: 'sva',
    level: 'MUST',
    title: "The first bind of an mm allocates the mm's PASID",
    statement:
      'The first successful `sva_bind` of an mm that has no PASID allocates one from the system-wide PASID space, in [1, maxPasids - 1] of the binding device, ' +
      'and returns it; ENOSPC when none is free. Every later bind of the same mm, by any device, returns that same PASID while the mm holds it.',
    sources: [
      SEED,
      `${SVA} iommu_sva_bind_device() (iommu_alloc_mm_data: iommu_alloc_global_pasid)`,
      'commit:cfc78dfd9b36 "iommu/sva: Add PASID helpers" (v5.11)',
    ],
    policies: [],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-SHARE',
    family: 'sva',
    level: 'MUST',
    title: 'Binding a bound (group, mm) again shares the bond',
    statement:
      'While a bond of an mm exists for a group, `sva_bind` of that mm through any device of the group returns the same PASID and adds a reference to the same bond ' +
      'instead of creating a second one; each successful bind is one reference, released by one `sva_unbind`.',
    sources: [
      `${SVA} iommu_sva_bind_device() (handle for (group, pasid) with the same mm: refcount_inc(&handle->users), same handle returned)`,
      SEED,
    ],
    policies: [],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-LIMIT',
    family: 'sva',
    level: 'MUST',
    title: 'Bind refuses devices that cannot use the PASID',
    statement:
      'Binding through a device without PASID support (maxPasids 0, or an IOMMU without sva domains) fails with EOPNOTSUPP or ENODEV; ' +
      "binding an mm whose PASID is at or beyond the device's maxPasids fails with EOVERFLOW; " +
      'binding an mm whose PASID slot in the group holds a non-SVA attachment fails with EBUSY. A failed bind changes nothing.',
    sources: [
      `${SVA} iommu_sva_bind_device() (mm->pasid >= dev->iommu->max_pasids: -EOVERFLOW; a handle of another kind at the PASID: -EBUSY)`,
      'linux:drivers/iommu/iommu.c iommu_alloc_global_pasid() (max_pasids == 0: IOMMU_PASID_INVALID)',
    ],
    policies: [],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-UNBIND',
    family: 'sva',
    level: 'MUST',
    title: 'A bond ends when its last reference is unbound',
    statement:
      'Each `sva_unbind` drops the reference its handle holds; until the count reaches zero the group keeps reaching the mm through its PASID, and after it every access with that PASID faults. ' +
      'Unbinding a handle that was already unbound (or never bound) fails with ENOENT and changes nothing.',
    sources: [
      `${SVA} iommu_sva_unbind_device() (refcount_dec_and_test(&handle->users): only then detach the PASID)`,
      SEED,
    ],
    policies: [],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-PASID-LIFE',
    family: 'sva',
    level: 'POLICY',
    title: "The mm's PASID is released as the policy says",
    statement:
      "Under pasid_lifetime=last-unbind the mm's PASID is released when its last bond, on any device, ends; the next bind allocates afresh. " +
      'Under pasid_lifetime=mm-exit the mm keeps its PASID across unbinds and releases it only once the mm has exited and no bond remains. ' +
      'A released PASID may be handed out again; a held one may not (PASID-UNIQUE).',
    sources: [
      'linux:drivers/iommu/iommu-sva.c iommu_sva_free_pasid() (v5.11: ioasid_put per unbind, mm->pasid cleared when freed)',
      'linux:kernel/fork.c mm_pasid_drop() (today: the PASID lives as long as the mm)',
      SEED,
    ],
    policies: ['pasid_lifetime'],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-COHERENT',
    family: 'sva',
    level: 'MUST',
    title: "A bound device sees the mm's page table as it is now",
    statement:
      "An access by a bound device with the mm's PASID translates through the mm's current page table with its permissions: a page `mm_map` added is reachable, " +
      'and once `mm_unmap` or `mm_exit` has returned, the device faults on what they removed (the MMU-notifier invalidation).',
    sources: [
      SEED,
      `${SVA} (mmu_notifier invalidate_range: the IOTLB is invalidated with the CPU TLB)`,
      'linux:drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c arm_smmu_mm_arch_invalidate_secondary_tlbs()',
    ],
    policies: [],
    capabilities: ['sva'],
  },
  {
    id: 'SVA-MM',
    family: 'sva',
    level: 'MUST',
    title: 'An exited mm takes no new work',
    statement:
      '`mm_map` needs a page-aligned (4 KiB), non-empty range that does not overlap a mapping of the mm, else EINVAL; `mm_unmap` removes whatever the aligned range covers. ' +
      'After `mm_exit`, `mm_map`, `mm_unmap`, `mm_exit` and `sva_bind` naming that mm fail with ENOENT.',
    sources: [
      'doc:spec/ops.ts (mm_* ops model the CPU side of SVA, the process page table the device shares)',
      `${SVA} (iommu_sva_bind_device after the mm has gone: no mm to bind)`,
    ],
    policies: [],
    capabilities: ['sva'],
  },
];
