/*
 * map and unmap, as iommu_map() and iommu_unmap() do them on top of a driver's page table.
 *
 * map checks the request whole (alignment to the smallest page size, address widths, 64-bit
 * wrap, permissions, overlap), then walks it in chunks of the size iommu_pgsize() picks, one
 * allocation per chunk. If an allocation fails half-way, what was mapped is unmapped again
 * and the map fails having changed nothing (MAP-ATOMIC, FAIL-ATOMIC).
 *
 * unmap removes whole leaves from the first byte on and stops at the first hole (policy
 * unmap_hole=stop). A request ending inside a leaf takes the whole leaf and reports it
 * (partial_unmap=whole-leaf, as AMD, VT-d and iommupt do); one starting inside a leaf
 * removes nothing.
 */
#include "model.h"

static uint64_t min_pgsize(const struct domain *d) { return d->pgsizes & -d->pgsizes; }

/* Removes whole leaves from `iova` on, stopping at a hole or once `size` bytes are covered.
 * Returns the bytes removed, which may exceed `size` when the last leaf reaches past it. */
static uint64_t unmap_leaves(struct pgtable *t, uint64_t iova, uint64_t size)
{
	uint64_t done = 0;
	const struct leaf_run *r = pgtable_find(t, iova);
	/* A request that starts inside a leaf cannot remove it whole, so it removes nothing. */
	if (!r || (iova - r->iova) % r->pgsize != 0)
		return 0;
	while (done < size) {
		uint64_t at = iova + done;
		r = pgtable_find(t, at);
		if (!r)
			break; /* a hole: stop (unmap_hole=stop) */
		uint64_t left = size - done, in_run = run_last(r) - at; /* bytes after `at` */
		/* Leaves up to the one holding the request's last byte, or the rest of the run. */
		uint64_t bytes = left - 1 <= in_run ? ((left - 1) / r->pgsize + 1) * r->pgsize : in_run + 1;
		pgtable_remove(t, at, at + (bytes - 1));
		done += bytes;
		if (at + (bytes - 1) == UINT64_MAX)
			break; /* the top of the address space */
	}
	return done;
}

iommu_errno model_map(void *ctx, const struct iommu_map_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	if (!d->has_table) {
		iommu_reply_msg(r, "a %s domain has no page table to map into", iommu_domain_type_name(d->type));
		return IOMMU_EINVAL;
	}
	uint64_t min = min_pgsize(d);
	if ((q->iova | q->paddr | q->size) & (min - 1)) {
		iommu_reply_msg(r, "not aligned to the smallest page size 0x%llx", (unsigned long long)min);
		return IOMMU_EINVAL;
	}
	if (q->size == 0)
		return IOMMU_OK; /* the core's loop never runs (zero_size_map=ok) */
	if (!(q->prot & (IOMMU_PROT_READ | IOMMU_PROT_WRITE)))
		return IOMMU_EINVAL;
	if (range_beyond(q->iova, q->size, 64) || range_beyond(q->paddr, q->size, 64)) {
		iommu_reply_msg(r, "the range wraps past 2^64");
		return IOMMU_EOVERFLOW;
	}
	if (range_beyond(q->iova, q->size, d->ias) || range_beyond(q->paddr, q->size, d->oas)) {
		iommu_reply_msg(r, "beyond %d input or %d output address bits", d->ias, d->oas);
		return IOMMU_ERANGE;
	}
	if (pgtable_overlaps(&d->table, q->iova, q->iova + (q->size - 1)))
		return IOMMU_EEXIST;

	uint64_t mapped = 0;
	while (mapped < q->size) {
		struct leaf_run run = { .iova = q->iova + mapped, .paddr = q->paddr + mapped, .prot = q->prot & IOMMU_PROT_ALL };
		run.pgsize = iommu_pgsize(d->pgsizes, run.iova, run.paddr, q->size - mapped, &run.count);
		if (!model_may_allocate(m) || !pgtable_insert(&d->table, &run)) {
			/* Unroll: the caller sees the map fail with nothing of it left behind. */
			if (mapped)
				pgtable_remove(&d->table, q->iova, q->iova + (mapped - 1));
			return IOMMU_ENOMEM;
		}
		mapped += run.pgsize * run.count;
	}
	return IOMMU_OK;
}

iommu_errno model_unmap(void *ctx, const struct iommu_unmap_req *q, struct iommu_unmap_ok *ok, iommu_reply *r)
{
	(void)r;
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	/* Each of these removes nothing and says so with 0 bytes, as __iommu_unmap() does: no
	 * page table, a range not aligned to the smallest page, an empty or a wrapping range. */
	if (!d->has_table || ((q->iova | q->size) & (min_pgsize(d) - 1)) || q->size == 0 || range_beyond(q->iova, q->size, 64))
		return IOMMU_OK;
	/* Whole-leaf removal splits at most one run in two: make room first so it cannot fail. */
	if (!pgtable_reserve(&d->table))
		return IOMMU_ENOMEM;
	ok->unmapped = unmap_leaves(&d->table, q->iova, q->size);
	return IOMMU_OK;
}

iommu_errno model_iova_to_phys(void *ctx, const struct iommu_iova_to_phys_req *q, struct iommu_iova_to_phys_ok *ok, iommu_reply *r)
{
	(void)r;
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	if (d->type == IOMMU_DOMAIN_IDENTITY) {
		ok->phys = q->iova;
	} else if (d->has_table) {
		const struct leaf_run *run = pgtable_find(&d->table, q->iova);
		ok->phys = run ? run->paddr + (q->iova - run->iova) : 0;
	}
	/* blocked, sva and nested domains translate nothing through this call: 0 */
	return IOMMU_OK;
}

iommu_errno model_leaves(void *ctx, const struct iommu_leaves_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	if (!d->has_table || q->size == 0)
		return IOMMU_EINVAL;
	uint64_t last = range_beyond(q->iova, q->size, 64) ? UINT64_MAX : q->iova + (q->size - 1);
	for (size_t i = 0; i < d->table.n; i++) {
		const struct leaf_run *run = &d->table.runs[i];
		if (run->iova < q->iova || run->iova > last)
			continue;
		iommu_errno e = iommu_reply_leaf(r, run->iova, run->pgsize, run->count);
		if (e)
			return e;
	}
	return IOMMU_OK;
}

/* Pages the page table needs: a root page plus the pages its runs fill. Back at 1 once every
 * mapping is gone, so nothing leaks (PT-LEAK). */
iommu_errno model_pt_pages(void *ctx, const struct iommu_pt_pages_req *q, struct iommu_pt_pages_ok *ok, iommu_reply *r)
{
	(void)r;
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	const size_t per_page = 4096 / sizeof(struct leaf_run);
	ok->pages = d->has_table ? 1 + (int64_t)((d->table.n + per_page - 1) / per_page) : 0;
	return IOMMU_OK;
}
