/*
 * An example IOMMU model in C, written to be read: the Linux IOMMU core API as a model author
 * would implement it behind the iommu-conformance C SDK. Every rule it follows is in
 * spec/rules/; the reference model (impl/reference/) is the oracle it is checked against.
 *
 * What it models: domains of every type the topology offers, groups with one caller-attached
 * domain each (else their default domain), PASID attachments, a limited number of hardware
 * contexts per IOMMU, and a page table per paging domain kept as a sorted array of leaf runs
 * (runs of equal-size leaves, contiguous in IOVA and physical address). Mapping follows the
 * core's iommu_pgsize() loop and unrolls on failure; unmapping removes whole leaves.
 */
#ifndef EXAMPLE_MODEL_H
#define EXAMPLE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommu_sdk.h"

/* `count` leaves of `pgsize` bytes from `iova`, translating to `paddr` onwards. */
struct leaf_run {
	uint64_t iova, paddr, pgsize, count;
	uint32_t prot; /* IOMMU_PROT_* bits the model knows; unknown flags are ignored (Linux) */
};

/* A page table: leaf runs sorted by IOVA, never overlapping. */
struct pgtable {
	struct leaf_run *runs;
	size_t n, cap;
};

struct domain {
	char *handle;
	iommu_domain_type type;
	const char *format; /* of the IOMMU it was allocated for: only those walk it */
	uint64_t pgsizes;
	int ias, oas;     /* narrowed when attached behind a narrower IOMMU */
	bool has_table;   /* paging, dma and dma_fq domains own a page table */
	struct pgtable table;
	struct domain *parent; /* nested: translates through its parent's table */
	int children;     /* nested domains built on this one */
	int groups;       /* groups it is attached to */
	int pasid_uses;   /* (group, PASID) pairs it is attached at */
};

struct pasid_attachment {
	int64_t pasid;
	struct domain *domain;
};

struct group {
	size_t iommu;
	iommu_domain_type default_domain;
	struct domain *current; /* caller-attached domain; NULL: the default domain */
	struct pasid_attachment *pasids;
	size_t n_pasids, cap_pasids;
};

struct model {
	const struct iommu_topology *topo; /* owned by the SDK until the next reset */
	struct group *groups;              /* one per topology group */
	struct domain **domains;
	size_t n_domains, cap_domains;
	int64_t fail_in; /* fail_nth: allocations left before the injected failure; 0 disarmed */
};

/* Callbacks, as the SDK calls them (see iommu_sdk.h). */
iommu_errno model_reset(void *ctx, const struct iommu_topology *t, iommu_reply *r);
iommu_errno model_domain_alloc(void *ctx, const struct iommu_domain_alloc_req *q, struct iommu_domain_alloc_ok *ok, iommu_reply *r);
iommu_errno model_domain_free(void *ctx, const struct iommu_domain_free_req *q, iommu_reply *r);
iommu_errno model_attach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r);
iommu_errno model_detach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r);
iommu_errno model_attach_pasid(void *ctx, const struct iommu_attach_pasid_req *q, iommu_reply *r);
iommu_errno model_detach_pasid(void *ctx, const struct iommu_detach_pasid_req *q, iommu_reply *r);
iommu_errno model_map(void *ctx, const struct iommu_map_req *q, iommu_reply *r);
iommu_errno model_unmap(void *ctx, const struct iommu_unmap_req *q, struct iommu_unmap_ok *ok, iommu_reply *r);
iommu_errno model_iova_to_phys(void *ctx, const struct iommu_iova_to_phys_req *q, struct iommu_iova_to_phys_ok *ok, iommu_reply *r);
iommu_errno model_dma(void *ctx, const struct iommu_dma_req *q, struct iommu_dma_ok *ok, iommu_reply *r);
iommu_errno model_leaves(void *ctx, const struct iommu_leaves_req *q, iommu_reply *r);
iommu_errno model_pt_pages(void *ctx, const struct iommu_pt_pages_req *q, struct iommu_pt_pages_ok *ok, iommu_reply *r);
iommu_errno model_fail_nth(void *ctx, const struct iommu_fail_nth_req *q, iommu_reply *r);
void model_destroy(void *ctx);

/* domains.c */
struct domain *domain_find(struct model *m, const char *handle);
/* The group a device belongs to, or NULL for a device the topology does not have. */
struct group *group_of_device(struct model *m, const char *dev);
/* The table a domain translates through: its own, its parent's (nested), or none. */
struct pgtable *domain_table(struct domain *d);
/* fail_nth: may the model allocate now? False exactly once, on the n-th allocation. */
bool model_may_allocate(struct model *m);

/* pgtable.c: the run array. Addresses use inclusive ends so 2^64-1 needs no 2^64. */
static inline uint64_t run_last(const struct leaf_run *r) { return r->iova + (r->pgsize * r->count - 1); }
/* The run holding `iova`, or NULL. */
struct leaf_run *pgtable_find(const struct pgtable *t, uint64_t iova);
/* Does any run intersect [iova, last]? */
bool pgtable_overlaps(const struct pgtable *t, uint64_t iova, uint64_t last);
/* Adds a run (the caller checked it overlaps nothing); false when memory runs out. */
bool pgtable_insert(struct pgtable *t, const struct leaf_run *run);
/* Removes the whole leaves [iova, last] covers: iova and last+1 must be leaf boundaries. */
void pgtable_remove(struct pgtable *t, uint64_t iova, uint64_t last);
/* Room for one more run, so a remove that splits a run cannot fail half-way. */
bool pgtable_reserve(struct pgtable *t);
void pgtable_free(struct pgtable *t);

/* pgsize.c: the core's page-size choice (Linux iommu_pgsize()). */
uint64_t iommu_pgsize(uint64_t bitmap, uint64_t iova, uint64_t paddr, uint64_t size, uint64_t *count);

/* Does [start, start + size) reach beyond 2^bits? size > 0; exact, no 64-bit wrap. */
static inline bool range_beyond(uint64_t start, uint64_t size, int bits)
{
	if (bits >= 64)
		return size - 1 > UINT64_MAX - start;
	uint64_t top = (uint64_t)1 << bits;
	return start > top || size > top - start;
}

#endif /* EXAMPLE_MODEL_H */
