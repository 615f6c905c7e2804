/*
 * tlb.h - the modelled SMMU's TLB for one domain (one ASID): it caches leaf translations the
 * device used and forgets them ONLY when the driver side says so, through io-pgtable's TLB
 * callbacks (tlb_flush_all, tlb_flush_walk, tlb_add_page) and the core's iotlb_sync. A
 * removal io-pgtable-arm forgets to invalidate therefore stays visible to the device.
 */
#ifndef MODEL_TLB_H
#define MODEL_TLB_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_TLB_ENTRIES 64

struct tlb_entry {
	uint64_t base, size; /* the cached leaf: first IOVA and size */
	uint64_t phys;       /* output address of base */
	bool readable, writable;
};

/* How the modelled driver invalidates leaves (tlb.c), by the IOMMU the format serves. */
enum tlb_driver {
	TLB_SMMUV3 = 0, /* arm-smmu-v3: gathered, then a range TLBI with the page size as level
			 * hint (TTL): a cached leaf of another size survives it */
	TLB_SMMU_VA,    /* arm-smmu (v1/v2), arm-v7s's: tlb_add_page is a TLBIVAL at once
			 * (arm_smmu_tlb_add_page_s1()): every leaf holding that VA goes */
	TLB_DART,       /* apple-dart: no io-pgtable flush ops; iotlb_sync and flush_iotlb_all
			 * flush the whole stream (apple_dart_domain_flush_tlb()) */
};

struct model_tlb {
	enum tlb_driver driver; /* set after tlb_init() */
	struct tlb_entry e[MODEL_TLB_ENTRIES];
	int n;    /* entries in use */
	int next; /* round-robin victim once full */
};

void tlb_init(struct model_tlb *t);
/* The cached leaf holding iova, or NULL. */
const struct tlb_entry *tlb_lookup(const struct model_tlb *t, uint64_t iova);
void tlb_fill(struct model_tlb *t, const struct tlb_entry *e);
/* TLBI over [start, start + size). leaf_size != 0 is a level hint: only entries of that size go. */
void tlb_invalidate(struct model_tlb *t, uint64_t start, uint64_t size, uint64_t leaf_size);
void tlb_invalidate_all(struct model_tlb *t);

/* The callbacks and gather helpers of the modelled driver live on the kernel side (tlb.c),
 * where struct iommu_flush_ops and struct iommu_iotlb_gather are defined. */

#endif /* MODEL_TLB_H */
