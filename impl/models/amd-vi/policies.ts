// The policies the AMD-Vi model declares: what the AMD driver (on iommupt) does where conforming
// implementations may differ, each with where it comes from. The rest (unmap_hole=stop,
// zero_size_map=ok, misaligned_unmap=zero, attach_busy=EBUSY, …) are the Linux core's, which
// the linux profile already says.

export const AMD_POLICIES = {
  // iommupt __unmap_range(): "remove the entire IOPTE and return that size"; io_pgtable.c
  // iommu_v1_unmap_pages() cleared whole leaves too.
  partial_unmap: 'whole-leaf',
  // iommupt __map_range(): an occupied slot is -EADDRINUSE (the old io_pgtable.c replaced it).
  overmap_errno: 'EADDRINUSE',
  // iommupt map_pages() and increase_top(): beyond the output or input width, -ERANGE.
  range_errno: 'ERANGE',
  // AMDv1 has separate IR and IW bits (amdv1pt_iommu_set_prot()): a write-only page is not readable.
  write_only_read: 'fault',
  // iommu-sva.c with mm_pasid_drop(): an mm keeps its PASID until it exits.
  pasid_lifetime: 'mm-exit',
} as const;
