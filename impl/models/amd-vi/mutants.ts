// The mutant catalogue of the AMD-Vi model: each entry is one realistic bug, switched on by the
// `mutant` option in an otherwise conforming model, with the rules it should break and the bug
// class it stands for. They aim where the Arm catalogue does not reach: the PASID allocator,
// SVA, GCR3 tables, domain-ID reuse, 5-level tables, the flush queue, table freeing.

import type { Mutant } from '../arm-smmu/mutants.ts';

/** A mutant of this model, with the table top it needs to show (AmdViOptions.top). */
export interface AmdMutant extends Mutant {
  top?: 'fixed' | 'dynamic';
}

const SEED_SVA = 'seed:004_d19fc3283ac683e5.txt';

export const AMD_MUTANTS: readonly AmdMutant[] = [
  { id: 'amd-pasid-zero', description: 'the PASID allocator starts at the minimum asked for, so PASID 0 (IOMMU_NO_PASID) can be handed out', rules: ['PASID-RANGE'], family: 'pasid-lifetime', bugClass: 'PASID 0 handed out', source: 'linux:drivers/iommu/iommu.c iommu_alloc_global_pasid() (IOMMU_FIRST_GLOBAL_PASID = 1)' },
  { id: 'amd-pasid-early-release', description: 'pasid_put returns the ID to the allocator at every put, while references remain', rules: ['PASID-UNIQUE', 'PASID-REF', 'SVA-BIND'], family: 'pasid-lifetime', bugClass: 'a PASID reused while referenced', source: `${SEED_SVA} (ioasid_put must free only at the last reference)` },
  { id: 'amd-pasid-stale-put', description: 'get and put through a freed handle look its old ID up again and act on whichever allocation holds it now', rules: ['PASID-STALE', 'PASID-REF'], family: 'pasid-lifetime', bugClass: 'put on a freed ID touching another', source: 'linux:drivers/iommu/ioasid.c ioasid_put() ("Trying to free unknown IOASID")' },
  { id: 'amd-pasid-find-after-free', description: 'pasid_find of a freed allocation still returns its private data', rules: ['PASID-STALE', 'PASID-REF'], family: 'pasid-lifetime', bugClass: 'find returning data after free', source: 'linux:drivers/iommu/ioasid.c ioasid_find() (ERR_PTR(-ENOENT) once freed)' },
  { id: 'amd-sva-pasid-per-bind', description: 'sva_bind never records the PASID in the mm, so every new bond of the mm draws another PASID', rules: ['SVA-BIND', 'SVA-SHARE', 'PASID-UNIQUE', 'SVA-PASID-LIFE'], family: 'sva', bugClass: 'a second sva_bind allocating a new PASID', source: `${SEED_SVA} (mm->pasid, one PASID per mm)` },
  { id: 'amd-sva-unbind-frees-pasid', description: "sva_unbind gives the mm's PASID back with its bond, while another bond still uses it and the mm lives", rules: ['SVA-PASID-LIFE', 'SVA-UNBIND', 'PASID-UNIQUE', 'SVA-BIND', 'SVA-SHARE', 'SVA-COHERENT'], family: 'sva', bugClass: 'unbind freeing the PASID under another bond', source: 'linux:kernel/fork.c mm_pasid_drop() (the PASID lives as long as the mm)' },
  { id: 'amd-mm-unmap-no-flush', description: 'mm_unmap clears the CPU page table but never invalidates the IOTLB of the bound devices', rules: ['SVA-COHERENT'], family: 'sva', bugClass: 'mm_unmap not reaching the device (no invalidation)', source: 'linux:drivers/iommu/iommu-sva.c (the mmu_notifier invalidates the IOTLB with the CPU TLB)' },
  { id: 'amd-detach-pasid-sva-only', description: 'detach_pasid looks the attachment up among SVA domains only, so a paging domain stays in the GCR3 entries, reachable and counted as attached', rules: ['ATT-PASID', 'ISOLATION', 'DOM-FREE'], family: 'attach', bugClass: 'detach_pasid leaving the PASID reachable', source: 'linux:drivers/iommu/amd/pasid.c amd_iommu_remove_dev_pasid() (iommu_get_domain_for_dev_pasid(dev, pasid, IOMMU_DOMAIN_SVA))' },
  { id: 'amd-free-pasid-attached', description: 'domain_free checks the groups attached and forgets the PASID attachments', rules: ['DOM-FREE'], family: 'attach', bugClass: 'freeing an attached domain' },
  { id: 'amd-attach-replaces', description: 'attach to a group with a caller domain switches it instead of failing EBUSY', rules: ['ATT-ONE'], family: 'attach', bugClass: 'attach while attached replacing silently', source: 'linux:drivers/iommu/iommu.c __iommu_attach_group() (-EBUSY unless in the default domain)' },
  { id: 'amd-no-domid-limit', description: "domain IDs are never counted: an IOMMU takes more address spaces than it has IDs", rules: ['ATT-SPACE'], family: 'attach', bugClass: 'the domain-ID (context) limit not enforced', source: 'seed:001_a04be2a55e3bff25.txt' },
  { id: 'amd-domid-reuse-stale', description: 'the last detach frees the domain ID without flushing its IOTLB entries, so the next domain to get the ID sees the old translations', rules: ['ISOLATION', 'ATT-DETACH', 'ATT-GROUP', 'XLATE-DMA', 'MAP-XLATE'], family: 'attach', bugClass: 'a domain ID reused with stale IOTLB entries', source: 'linux:drivers/iommu/amd/iommu.c amd_iommu_pdom_id_free() (the ID goes back to the IDA for the next domain)' },
  { id: 'amd-5level-as-4', description: 'the table is built with the default 4 levels whatever the 57-bit width it advertises, so IOVAs above 2^48 alias lower ones', rules: ['MAP-XLATE', 'XLATE-I2P', 'XLATE-DMA', 'MAP-OVERLAP', 'UNMAP-SYM', 'UNMAP-HOLE', 'UNMAP-RET', 'ISOLATION'], family: 'page-size-alignment', bugClass: '5-level table walked with 4 levels', source: 'linux:drivers/iommu/amd/amd_iommu_types.h PAGE_MODE_4_LEVEL / PAGE_MODE_5_LEVEL (amd_iommu_hpt_level)' },
  { id: 'amd-grow-stale-dte', description: 'the table grows a level but the device table entries keep the old root and mode, so the device cannot reach what was mapped above the old top', rules: ['MAP-XLATE', 'XLATE-DMA', 'ADAPTER-REPLY'], family: 'page-size-alignment', bugClass: 'a page-table root change not propagated to the device table', source: 'linux:drivers/iommu/amd/io_pgtable.c increase_address_space() (amd_iommu_update_and_flush_device_table)', top: 'dynamic' },
  { id: 'amd-map-wrap', description: 'the range checks add in 64-bit modular arithmetic, so a map whose end passes 2^64 lands at the bottom and succeeds', rules: ['MAP-OVERFLOW', 'MAP-RANGE'], family: 'page-size-alignment', bugClass: 'the 2^64 wrap accepted in map', source: 'linux:drivers/iommu/amd/io_pgtable.c alloc_pte() (last_addr = address + page_size - 1)' },
  { id: 'amd-v1-overmap-replaces', description: 'a map over an existing leaf or table frees what was there and succeeds, as the old v1 code did', rules: ['MAP-OVERLAP'], family: 'page-size-alignment', bugClass: 'overmap silently replacing', source: 'linux:drivers/iommu/amd/io_pgtable.c iommu_v1_map_pages() (free_clear_pte)' },
  { id: 'amd-pt-leak', description: 'unmap never frees the tables it empties, and a later large leaf finds the empty table in its slot (EADDRINUSE)', rules: ['PT-LEAK', 'MAP-OK'], family: 'symmetric-unmap', bugClass: 'page-table pages leaked on unmap', source: 'linux:drivers/iommu/generic_pt/iommu_pt.h __unmap_range() (frees only tables the range fully covers)' },
  { id: 'amd-fq-skips-oldest', description: "the flush walks the flush-queue ring from one past its head, so the oldest queued range keeps its IOTLB entries", rules: ['TLB-FLUSH'], family: 'iotlb', bugClass: 'the lazy flush missing entries', source: 'linux:drivers/iommu/dma-iommu.c fq_ring_for_each()' },
  { id: 'amd-gather-requested', description: 'a whole-leaf unmap invalidates the range asked for, not the leaves it removed, and the IOTLB keeps the rest of a splintered large page', rules: ['TLB-REMOVED', 'TLB-FLUSH'], family: 'iotlb', bugClass: 'IOTLB entry surviving a whole-leaf unmap beyond the requested range', source: 'linux:include/linux/iommu.h iommu_iotlb_gather_add_page()' },
];

export function amdMutantById(id: string): AmdMutant | undefined {
  return AMD_MUTANTS.find((m) => m.id === id);
}
