// The mutant catalogue of the Arm SMMU model: each entry is one realistic bug, switched on by
// configuration in an otherwise conforming model, with the rules it should break and the bug
// class it stands for (with a source where the bug is known from real code).

export interface Mutant {
  id: string;
  description: string;
  /** Rules a finding may name for the mutant to count as killed. */
  rules: string[];
  /** The property family that aims at it (the kill test's budget goes there). */
  family: string;
  bugClass: string;
  source?: string;
  /** Model options it needs (e.g. a partial-unmap policy under which the bug shows). */
  partialUnmap?: 'split' | 'refuse' | 'whole-leaf';
}

export const ARM_MUTANTS: readonly Mutant[] = [
  { id: 'tlb-no-invalidate', description: 'strict unmap clears the PTEs but never invalidates the TLB', rules: ['UNMAP-STRICT', 'TLB-REMOVED'], family: 'iotlb', bugClass: 'stale IOTLB entry after unmap' },
  { id: 'tlb-wrong-level-hint', description: 'unmap invalidates with the level hint of the size asked for, so a larger cached leaf it removed survives', rules: ['UNMAP-STRICT', 'TLB-REMOVED'], family: 'iotlb', bugClass: 'an invalidation that covers less than was removed', source: 'linux:drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c arm_smmu_tlb_inv_range_cmd() (TTL hint from the granule)', partialUnmap: 'whole-leaf' },
  { id: 'flush-noop', description: 'flush of a dma_fq domain forgets to invalidate the queued entries', rules: ['TLB-FLUSH'], family: 'iotlb', bugClass: 'lazy flush that misses entries' },
  { id: 'unmap-no-ias-check', description: 'unmap does not check the input width, so a high IOVA wraps the root index', rules: ['UNMAP-HOLE', 'UNMAP-SYM', 'UNMAP-RET', 'UNMAP-OVERFLOW', 'UNMAP-PARTIAL'], family: 'symmetric-unmap', bugClass: 'missing range check', source: 'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_unmap_pages() (WARN_ON(iaext))' },
  { id: 'overmap-replaces', description: 'a map over an existing leaf overwrites it and succeeds', rules: ['MAP-OVERLAP'], family: 'page-size-alignment', bugClass: 'overmap silently replacing', source: 'doc:../shared/reference/linux-iommu-semantics.md OSC-4 (the xarray mock)' },
  { id: 'block-frees-table', description: 'a block mapped over a table frees the table whatever it still maps', rules: ['MAP-OVERLAP'], family: 'page-size-alignment', bugClass: 'overmap silently replacing', source: 'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_init_pte() ("We require an unmap first")' },
  { id: 'map-no-unroll', description: 'a map that fails part way leaves the pieces it mapped', rules: ['MAP-ATOMIC', 'MAP-OVERLAP', 'MAP-RANGE', 'MAP-XLATE'], family: 'page-size-alignment', bugClass: 'failed map not unrolled', source: 'linux:drivers/iommu/iommu.c iommu_map_nosync() (the unroll)' },
  { id: 'unmap-returns-requested', description: 'a whole-leaf unmap reports the bytes asked for, not the bytes removed', rules: ['UNMAP-PARTIAL', 'UNMAP-RET'], family: 'symmetric-unmap', bugClass: 'unmap returning the requested instead of the removed size', partialUnmap: 'whole-leaf' },
  { id: 'align-ignores-paddr', description: 'the alignment check looks at iova | size and forgets paddr', rules: ['MAP-ALIGN', 'ADAPTER-REPLY'], family: 'page-size-alignment', bugClass: 'alignment check on the wrong operands (the page-size loop then finds no size and the driver crashes)', source: 'seed:003_25f1d949be292248.txt' },
  { id: 'pgsize-ignores-paddr', description: 'the page-size choice looks at the IOVA alone, so a large leaf maps a misaligned physical range', rules: ['MAP-XLATE', 'MAP-PGSIZE', 'XLATE-I2P', 'XLATE-DMA', 'UNMAP-SYM', 'UNMAP-PARTIAL'], family: 'page-size-alignment', bugClass: 'page-size choice ignoring paddr alignment', source: 'linux:drivers/iommu/iommu.c iommu_pgsize() (addr_merge = paddr | iova)' },
  { id: 'ro-writable', description: 'the read-only bit is never set: every mapping is writable', rules: ['XLATE-PERM'], family: 'attach', bugClass: 'a write through a read-only mapping' },
  { id: 'split-widens-perm', description: 'splitting a block drops its read-only bit from the smaller leaves', rules: ['XLATE-PERM'], family: 'symmetric-unmap', bugClass: 'a split widening permissions', partialUnmap: 'split' },
  { id: 'attach-replaces', description: 'attach to a group with a caller domain switches it instead of failing EBUSY', rules: ['ATT-ONE'], family: 'attach', bugClass: 'attach while attached replacing silently' },
  { id: 'no-context-limit', description: 'context banks are never counted', rules: ['ATT-SPACE'], family: 'attach', bugClass: 'the context limit not enforced', source: 'seed:001_a04be2a55e3bff25.txt' },
  { id: 'compat-unchecked', description: 'a domain of one granule is accepted behind an SMMU of another', rules: ['ATT-COMPAT'], family: 'attach', bugClass: 'incompatible page sizes accepted', source: 'seed:000_80203a2a4a1d457c.txt' },
  { id: 'detach-keeps-ste', description: 'detach leaves the old domain in the stream table entry', rules: ['ISOLATION', 'ATT-DETACH', 'ATT-DEFAULT'], family: 'attach', bugClass: 'detach leaving the old domain reachable' },
  { id: 'free-attached', description: 'domain_free of an attached domain succeeds', rules: ['DOM-FREE'], family: 'domain-types', bugClass: 'freeing an attached domain' },
  { id: 'pasid-zero', description: 'attach_pasid accepts PASID 0 (IOMMU_NO_PASID)', rules: ['ATT-PASID'], family: 'attach', bugClass: 'PASID 0 handed out' },
  { id: 'failed-alloc-leaks-domain', description: 'a domain_alloc that runs out of memory still registers the handle', rules: ['FAIL-ATOMIC', 'DOM-STALE'], family: 'fault-injection', bugClass: 'failed op with side effects' },
  // PASIDs: the refcounted allocator (seed 004) and substreams.
  { id: 'pasid-alloc-zero', description: 'the allocator takes the caller\'s min as is, so a range starting at 0 hands out PASID 0', rules: ['PASID-RANGE'], family: 'pasid-lifetime', bugClass: 'PASID 0 handed out', source: 'linux:drivers/iommu/iommu.c iommu_alloc_global_pasid() (IOMMU_FIRST_GLOBAL_PASID = 1)' },
  { id: 'pasid-get-no-ref', description: 'pasid_get takes no reference, so the put that balances it frees the ID while the caller still holds it', rules: ['PASID-REF'], family: 'pasid-lifetime', bugClass: 'a PASID freed (and reusable) while still referenced', source: 'commit:cb4789b0d19f "iommu/ioasid: Add ioasid references" (ioasid_get)' },
  { id: 'pasid-put-by-id', description: 'pasid_put goes by the bare ID the handle once held, so a put on a freed allocation drops a reference of the one now holding the ID', rules: ['PASID-STALE'], family: 'pasid-lifetime', bugClass: 'a put on a freed ID touching another', source: 'linux:drivers/iommu/ioasid.c ioasid_put(ioasid_t) (v5.11-v6.3)' },
  { id: 'pasid-find-after-free', description: 'the free leaves the allocation reachable from its handle, so find still returns its private data', rules: ['PASID-STALE', 'PASID-REF'], family: 'pasid-lifetime', bugClass: 'find returning data after free', source: 'linux:drivers/iommu/ioasid.c ioasid_find() (ERR_PTR(-ENOENT) once freed)' },
  { id: 'free-pasid-attached', description: 'domain_free checks the groups attached but forgets the PASIDs it is attached at', rules: ['DOM-FREE'], family: 'attach', bugClass: 'freeing an attached domain' },
  // SVA: the mm's PASID and the MMU notifier.
  { id: 'sva-rebind-new-pasid', description: 'a bind through another group allocates a new PASID instead of reusing the one the mm holds', rules: ['SVA-BIND', 'SVA-SHARE'], family: 'sva', bugClass: 'a second bind allocating a new PASID', source: 'seed:004_d19fc3283ac683e5.txt (a PASID field in mm_struct)' },
  { id: 'sva-pasid-off-by-one', description: 'the first bind allocates from [1, max_pasids] as if the IDA range were exclusive, so the device may get a PASID it cannot issue', rules: ['SVA-BIND'], family: 'sva', bugClass: 'an allocation range off by one', source: 'linux:drivers/iommu/iommu.c iommu_alloc_global_pasid() ("the IDA allocation is inclusive")' },
  { id: 'sva-bind-no-overflow-check', description: 'binding an mm whose PASID is beyond the device\'s width succeeds', rules: ['SVA-LIMIT'], family: 'sva', bugClass: 'a missing range check', source: 'linux:drivers/iommu/iommu-sva.c iommu_sva_bind_device() (mm->pasid >= max_pasids: -EOVERFLOW)' },
  { id: 'sva-unbind-ignores-users', description: 'unbind detaches the PASID at the first unbind, while other binds of the same (group, mm) still hold the bond', rules: ['SVA-UNBIND'], family: 'sva', bugClass: 'a bond torn down while referenced', source: 'linux:drivers/iommu/iommu-sva.c iommu_sva_unbind_device() (refcount_dec_and_test(&handle->users))' },
  { id: 'sva-unbind-drops-pasid', description: 'the last unbind of a bond gives the mm\'s PASID back to the allocator though the mm keeps it (the v5.11 per-bind ioasid_put, left behind when the PASID moved to the mm\'s lifetime)', rules: ['PASID-UNIQUE', 'PASID-RANGE', 'SVA-BIND', 'SVA-PASID-LIFE'], family: 'sva', bugClass: 'unbind freeing a PASID still in use', source: 'linux:kernel/fork.c mm_pasid_drop()' },
  { id: 'sva-no-invalidate', description: 'mm_unmap clears the CPU\'s PTEs but the notifier never invalidates the SMMU TLB for the mm\'s ASID', rules: ['SVA-COHERENT'], family: 'sva', bugClass: 'stale IOTLB entry after unmap', source: 'linux:drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c arm_smmu_mm_arch_invalidate_secondary_tlbs()' },
  { id: 'mm-exit-no-invalidate', description: 'at mm_exit the release notifier quiets the CDs but does not invalidate the ASID, so cached translations of the dead mm still serve', rules: ['SVA-COHERENT'], family: 'sva', bugClass: 'stale IOTLB entry after unmap', source: 'linux:drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c arm_smmu_mm_release()' },
  // Lazy flush, leaks and lifetimes.
  { id: 'fq-flush-skips-newest', description: 'draining the flush queue walks the ring from head to one before the tail, so the latest queued unmap is never invalidated', rules: ['TLB-FLUSH'], family: 'iotlb', bugClass: 'lazy flush that misses entries', source: 'linux:drivers/iommu/dma-iommu.c fq_ring_for_each() (head up to tail), fq_flush_iotlb()' },
  { id: 'context-leak-on-detach', description: 'detach never gives the domain\'s context bank back, so later attaches run out of contexts early', rules: ['ATT-SPACE', 'ATT-GROUP'], family: 'attach', bugClass: 'a context bank leaked', source: 'seed:001_a04be2a55e3bff25.txt' },
  { id: 'map-no-ias-check', description: 'map does not check the input width, so an IOVA at or beyond 2^IAS (up to the last page before the 2^64 wrap) lands on a low one', rules: ['MAP-RANGE', 'MAP-OVERLAP', 'MAP-XLATE'], family: 'page-size-alignment', bugClass: 'missing range check', source: 'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_map_pages() (WARN_ON(iaext || paddr >> cfg->oas))' },
  // Per-domain page sizes (seed 000): a domain may keep only the large sizes of its SMMU.
  { id: 'granule-from-request', description: 'the table\'s granule is taken from the smallest page size the domain asked for, so a domain of 2M blocks only gets 2M "pages" and a table whose levels and output mask are wrong', rules: ['MAP-OK', 'MAP-RANGE', 'MAP-OVERLAP', 'UNMAP-SYM', 'UNMAP-HOLE', 'ADAPTER-REPLY'], family: 'page-size-alignment', bugClass: 'a per-domain page-size restriction changing the table geometry', source: 'linux:drivers/iommu/io-pgtable-arm.c arm_lpae_restrict_pgsizes() (the granule comes from the bitmap it is given)' },
];

export function mutantById(id: string): Mutant | undefined {
  return ARM_MUTANTS.find((m) => m.id === id);
}
