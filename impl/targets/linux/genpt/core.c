/*
 * core.c - the Linux 7.2 IOMMU core layer over one generic_pt ("iommupt") domain, behind the
 * same plain-C lx_* interface as io-pgtable-arm's core (../io-pgtable-arm/core.h), so the
 * adapter, the groups (system.c) and the model TLB (tlb-cache.c) are shared.
 *
 * Why not the io-pgtable-arm core.c with an io_pgtable_ops-shaped shim: 7.2's iommu.c does not
 * run iommu_pgsize() chunking or the min_pagesz alignment checks for an iommupt domain.
 * iommu_map_nosync() hands the whole range to pt->ops->map_range() and unrolls a failure with
 * iommu_unmap(domain, iova, mapped); __iommu_unmap() hands the whole range to
 * pt->ops->unmap_range(). A shim under the 6.1 loop would test a core 7.2 never runs, so this
 * file follows 7.2 (drivers/iommu/iommu.c: iommu_map_nosync(), iommu_map(), __iommu_unmap(),
 * iommu_unmap(), iommu_unmap_fast(); include/linux/iommu.h: iommu_iotlb_sync()).
 *
 * The driver under it is the one that uses the format (amd/iommu.c for amdv1 and x86_64,
 * intel/iommu.c for vtdss): its iotlb_sync (amd_iommu_iotlb_sync(), intel_iommu_tlb_sync())
 * invalidates exactly the gathered [start, end] and then frees the gathered tables; its
 * change_top() (amdv1's PT_FEAT_DYNAMIC_TOP only) repoints the hardware at a grown table. The
 * device walks from what the driver told it, and its TLB forgets only what iotlb_sync and
 * flush_iotlb_all invalidate.
 */
#include <stdarg.h>

#include "genpt-fmt.h"

#include "core.h"
#include "tlb.h"

struct lx_domain {
	enum lx_domain_type type;
	struct model_tlb tlb;
	struct kstub_account pt;         /* table pages held (pt_pages) */
	uintptr_t hw_top;                /* the top the device walks: init, then change_top() */
	struct iommu_pages_list fq_free; /* dma_fq: unmapped tables, freed when the queue flushes */
	spinlock_t top_lock;
	_Alignas(16) unsigned char table[]; /* struct pt_iommu_<fmt>, struct pt_iommu first */
};

static struct pt_iommu *pt_of(struct lx_domain *d)
{
	return (struct pt_iommu *)d->table;
}

static struct lx_domain *of_domain(struct iommu_domain *domain)
{
	return (struct lx_domain *)((unsigned char *)container_of(domain, struct pt_iommu, domain) -
				     offsetof(struct lx_domain, table));
}

static bool is_paging(enum lx_domain_type t)
{
	return t == LX_UNMANAGED || t == LX_DMA || t == LX_DMA_FQ;
}

static int trace = -1;

static void __attribute__((format(printf, 1, 2))) tr(const char *fmt, ...)
{
	va_list ap;

	if (trace < 0) {
		const char *v = getenv("LINUX_TARGET_TRACE");

		trace = v && *v && strcmp(v, "0") != 0;
	}
	if (!trace)
		return;
	va_start(ap, fmt);
	fputs("genpt: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- the driver (amd/iommu.c, intel/iommu.c) ---- */

/*
 * The driver's iotlb_sync: amd_iommu_iotlb_sync() (INVALIDATE_IOMMU_PAGES, PDE too when tables
 * were freed) and intel_iommu_tlb_sync() (cache_tag_flush_range()) both invalidate the
 * gathered [start, end], then free the gathered tables. Modelled exactly: a gather smaller than
 * what was removed leaves the rest cached.
 */
static void driver_iotlb_sync(struct lx_domain *d, struct iommu_iotlb_gather *g)
{
	tr("iotlb_sync start=0x%lx end=0x%lx tables=%s", g->start, g->end,
	   iommu_pages_list_empty(&g->freelist) ? "no" : "yes");
	if (g->end - g->start + 1 == 0) /* the whole 2^64 space */
		tlb_invalidate_all(&d->tlb);
	else
		tlb_invalidate(&d->tlb, g->start, g->end - g->start + 1, 0);
	iommu_put_pages_list(&g->freelist);
}

static void iotlb_sync_op(struct iommu_domain *domain, struct iommu_iotlb_gather *g)
{
	driver_iotlb_sync(of_domain(domain), g);
}

/* The driver's iommu_domain_ops, as far as the core calls them here. */
static const struct iommu_domain_ops domain_ops = {
	.iotlb_sync = iotlb_sync_op,
};

/* amd_iommu_change_top(): the DTE now points at the new top with the new mode. */
static void change_top(struct pt_iommu *table, phys_addr_t top_paddr, unsigned int top_level)
{
	struct lx_domain *d = of_domain(&table->domain);

	tr("change_top level=%u", top_level);
	d->hw_top = (uintptr_t)phys_to_virt(top_paddr) | top_level;
}

static spinlock_t *get_top_lock(struct pt_iommu *table)
{
	return &of_domain(&table->domain)->top_lock;
}

static const struct pt_iommu_driver_ops driver_ops = {
	.change_top = change_top,
	.get_top_lock = get_top_lock,
};

/* Everything generic_pt allocates or frees between enter and leave is charged to d. */
static struct kstub_account *enter(struct lx_domain *d)
{
	struct kstub_account *old = kstub_charge;

	kstub_charge = &d->pt;
	return old;
}

static void leave(struct kstub_account *old)
{
	kstub_charge = old;
}

int lx_domain_alloc(enum lx_domain_type type, const char *format, uint64_t hw_pgsizes, uint64_t pgsizes, int ias, int oas,
		    struct lx_domain **out, uint64_t *out_pgsizes)
{
	struct kstub_account *old;
	struct lx_domain *d;
	int ret;

	/* Each generic_pt format is one table of its driver; none is an io-pgtable stage 2. The
	 * table's sizes are the format's own (its init), not a bitmap the caller passes. */
	(void)hw_pgsizes;
	if (strcmp(format, "arm-lpae-s2") == 0)
		return -EINVAL;

	/* The driver's domain allocation is a kzalloc that can fail. */
	if (kstub_should_fail())
		return -ENOMEM;
	d = calloc(1, sizeof(*d) + genpt_format.table_size);
	if (!d)
		return -ENOMEM;
	d->type = type;
	tlb_init(&d->tlb);
	d->fq_free = (struct iommu_pages_list)IOMMU_PAGES_LIST_INIT(d->fq_free);
	*out_pgsizes = 0;
	if (is_paging(type)) {
		struct pt_iommu *pt = pt_of(d);

		pt->driver_ops = &driver_ops;
		pt->domain.ops = &domain_ops; /* pt_iommu_init() keeps the domain's ops */
		old = enter(d);
		ret = genpt_format.init(pt, (unsigned int)ias, (unsigned int)oas);
		leave(old);
		if (ret) {
			old = enter(d);
			pt_iommu_deinit(pt);
			leave(old);
			free(d);
			return ret;
		}
		d->hw_top = genpt_format.top(pt);
		/* The caller's page sizes narrow the table's, as the drivers narrow
		 * domain->pgsize_bitmap after init (amd_iommu_domain_alloc_paging_v1()). */
		pt->domain.pgsize_bitmap &= pgsizes;
		*out_pgsizes = pt->domain.pgsize_bitmap;
	}
	*out = d;
	return 0;
}

void lx_domain_free(struct lx_domain *d)
{
	struct kstub_account *old = enter(d);

	if (is_paging(d->type)) {
		iommu_put_pages_list(&d->fq_free);
		pt_iommu_deinit(pt_of(d));
	}
	leave(old);
	free(d);
}

enum lx_domain_type lx_domain_type(const struct lx_domain *d)
{
	return d->type;
}

bool lx_is_paging(const struct lx_domain *d)
{
	return is_paging(d->type);
}

/* __iommu_unmap() for an iommupt domain: the whole range to unmap_range(). */
static uint64_t unmap_gathered(struct lx_domain *d, uint64_t iova, uint64_t size, struct iommu_iotlb_gather *g)
{
	struct pt_iommu *pt = pt_of(d);

	if (!is_paging(d->type) || !pt->domain.pgsize_bitmap)
		return 0;
	return pt->ops->unmap_range(pt, iova, size, g);
}

/* iommu_unmap(): unmap, then iommu_iotlb_sync(). */
static uint64_t unmap_strict(struct lx_domain *d, uint64_t iova, uint64_t size)
{
	struct iommu_iotlb_gather g;
	uint64_t ret;

	iommu_iotlb_gather_init(&g);
	ret = unmap_gathered(d, iova, size, &g);
	iommu_iotlb_sync(&pt_of(d)->domain, &g);
	return ret;
}

/* iommu_map(): iommu_map_nosync() (map_range, and iommu_unmap() of what it mapped on an
 * error); iommu_sync_map() is a no-op here (amd_iommu_iotlb_sync_map() without np_cache,
 * VT-d without caching mode or RWBF). */
int lx_map(struct lx_domain *d, uint64_t iova, uint64_t paddr, uint64_t size, uint32_t prot)
{
	struct kstub_account *old;
	struct pt_iommu *pt;
	size_t mapped = 0;
	int ret;

	if (!is_paging(d->type))
		return -EINVAL;
	pt = pt_of(d);
	if (!pt->domain.pgsize_bitmap)
		return -EINVAL;
	old = enter(d);
	ret = pt->ops->map_range(pt, iova, paddr, size, prot, GFP_KERNEL, &mapped);
	if (ret)
		unmap_strict(d, iova, mapped);
	leave(old);
	return ret;
}

/* iommu_unmap(), or for dma_fq dma-iommu's iommu_unmap_fast() with a queued gather: the
 * invalidation and the freeing of the tables wait for the queue's flush (lx_flush). */
uint64_t lx_unmap(struct lx_domain *d, uint64_t iova, uint64_t size)
{
	struct iommu_iotlb_gather g;
	struct kstub_account *old;
	uint64_t unmapped;

	old = enter(d);
	if (d->type != LX_DMA_FQ) {
		unmapped = unmap_strict(d, iova, size);
	} else {
		iommu_iotlb_gather_init(&g);
		g.queued = true;
		unmapped = unmap_gathered(d, iova, size, &g);
		iommu_pages_list_splice(&g.freelist, &d->fq_free);
	}
	leave(old);
	return unmapped;
}

uint64_t lx_iova_to_phys(struct lx_domain *d, uint64_t iova)
{
	if (d->type == LX_IDENTITY)
		return iova;
	if (d->type == LX_BLOCKED)
		return 0;
	return genpt_format.iova_to_phys(&pt_of(d)->domain, iova);
}

/* The flush queue draining: flush_iotlb_all (amd_iommu_flush_iotlb_all(),
 * intel_flush_iotlb_all()), then the queued tables are freed. */
void lx_flush(struct lx_domain *d)
{
	struct kstub_account *old;

	if (!is_paging(d->type))
		return;
	tr("flush_iotlb_all");
	tlb_invalidate_all(&d->tlb);
	old = enter(d);
	iommu_put_pages_list(&d->fq_free);
	INIT_LIST_HEAD(&d->fq_free.pages);
	leave(old);
}

int lx_translate(struct lx_domain *d, uint64_t iova, bool write, uint64_t *phys)
{
	const struct tlb_entry *e;
	struct tlb_entry fill;

	if (!is_paging(d->type))
		return -EFAULT;
	e = tlb_lookup(&d->tlb, iova);
	if (!e) {
		struct genpt_leaf l = genpt_format.walk(pt_of(d), d->hw_top, iova);

		if (!l.mapped || (!l.readable && !write))
			return -EFAULT;
		/* A write-only leaf (amdv1's IW without IR, vtdss's W without R) is not cached:
		 * the model TLB keeps only the write permission. Its writes re-walk each time. */
		if (!l.readable) {
			if (!l.writable)
				return -EFAULT;
			*phys = l.phys + (iova - l.base);
			return 0;
		}
		fill = (struct tlb_entry){ .base = l.base, .size = l.size, .phys = l.phys, .writable = l.writable };
		tlb_fill(&d->tlb, &fill);
		e = &fill;
	}
	if (write && !e->writable)
		return -EFAULT;
	*phys = e->phys + (iova - e->base);
	return 0;
}

void lx_leaves(struct lx_domain *d, uint64_t iova, uint64_t size,
	       bool (*emit)(void *arg, uint64_t iova, uint64_t pgsize), void *arg)
{
	uint64_t at = iova, end = iova + size; /* end 0: up to 2^64 */

	if (!is_paging(d->type) || size == 0)
		return;
	do {
		struct genpt_leaf l = genpt_format.walk(pt_of(d), d->hw_top, at);

		if (l.mapped && !emit(arg, l.base, l.size))
			return;
		at = l.base + l.size;
	} while (at != 0 && (end == 0 || at < end) && at > iova);
}

long lx_pt_pages(const struct lx_domain *d)
{
	return d->pt.pages;
}

void lx_fail_nth(long n)
{
	kstub_fail_nth = n;
}
