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

struct model_tlb {
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
