/*
 * core.c - the Linux IOMMU core layer io-pgtable-arm sits under, written from the rules of
 * drivers/iommu/iommu.c (6.1: iommu_pgsize(), __iommu_map(), __iommu_unmap(),
 * iommu_iova_to_phys()) with the arm-smmu-v3 driver's pass-through map_pages/unmap_pages and
 * dma-iommu's flush-queue unmap. io-pgtable-arm itself is the kernel's code, untouched; so are
 * io-pgtable-arm-v7s and io-pgtable-dart, which the same layer drives when the topology's
 * format names them (fmt.h: the io_pgtable_fmt, the walker, the driver's TLB maintenance).
 *
 * The same for 6.12 and 7.2, read again in each: 6.12's iommu_pgsize() guards offset +
 * pgsize_next with check_add_overflow() as pgsize_for() does; 7.2 moves the loops into
 * __iommu_map_domain_pgtbl() and __iommu_unmap_domain_pgtbl() with the same checks, chunking,
 * stop at 0 and unroll (iommu_map_nosync()), and widens an empty gather there, which cannot
 * happen here (io-pgtable-arm gathers every leaf it removes; dma_fq's gather is never synced).
 *
 * Beyond 6.1, map and unmap refuse a range that wraps past 2^64 (MAP-OVERFLOW,
 * UNMAP-OVERFLOW): 6.1 relies on the driver's IAS check to catch it, which misses an unmap
 * that starts low and wraps.
 */
#include <linux/io-pgtable.h>

#include "core.h"
#include "fmt.h"
#include "tlb-ops.h"

struct lx_domain {
	enum lx_domain_type type;
	unsigned long pgsize_bitmap;
	const struct lx_format *fmt;
	struct io_pgtable_ops *ops; /* NULL for blocked and identity */
	struct model_tlb tlb;       /* the io-pgtable cookie */
	struct kstub_account pt;    /* table pages held */
};

static bool is_paging(enum lx_domain_type t)
{
	return t == LX_UNMANAGED || t == LX_DMA || t == LX_DMA_FQ;
}

/* Everything io-pgtable allocates or frees between enter and leave is charged to d. */
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
	/* As a driver does, the table is built for the IOMMU's sizes (io-pgtable takes its granule
	 * from the bitmap it is given: 2M alone would be no granule at all); the domain then keeps
	 * only the sizes asked for (iommu_domain_init(), per-domain page sizes). */
	struct io_pgtable_cfg cfg = {
		.pgsize_bitmap = hw_pgsizes,
		.ias = ias,
		.oas = oas,
		.coherent_walk = true,
		.tlb = &model_flush_ops,
	};
	const struct lx_format *fmt = lx_format(format);
	struct kstub_account *old;
	struct lx_domain *d;

	if (!fmt)
		return -EINVAL;
	/* arm_smmu_domain_alloc(): the domain itself is a kzalloc that can fail. */
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->type = type;
	d->fmt = fmt;
	tlb_init(&d->tlb);
	d->tlb.driver = fmt->driver;
	if (fmt->driver == TLB_DART)
		cfg.tlb = NULL; /* apple-dart.c apple_dart_finalize_domain(): no flush ops */
	if (is_paging(type)) {
		old = enter(d);
		d->ops = alloc_io_pgtable_ops((enum io_pgtable_fmt)fmt->fmt, &cfg, &d->tlb);
		leave(old);
		if (!d->ops) {
			kfree(d);
			/* NULL means out of memory or a geometry the format cannot do; the
			 * suite's topologies are all doable, so only an injected failure gets here. */
			return -ENOMEM;
		}
		d->pgsize_bitmap = cfg.pgsize_bitmap & pgsizes;
		if (!d->pgsize_bitmap) {
			lx_domain_free(d);
			return -EINVAL;
		}
	}
	*out = d;
	*out_pgsizes = d->pgsize_bitmap;
	return 0;
}

void lx_domain_free(struct lx_domain *d)
{
	struct kstub_account *old = enter(d);

	free_io_pgtable_ops(d->ops);
	leave(old);
	kfree(d);
}

enum lx_domain_type lx_domain_type(const struct lx_domain *d)
{
	return d->type;
}

bool lx_is_paging(const struct lx_domain *d)
{
	return is_paging(d->type);
}

/*
 * iommu_pgsize(): the largest page size that fits the remaining length and the alignment of
 * iova | paddr, and how many of it to map before a larger size becomes usable (iova and paddr
 * equally offset within the larger page, and a whole larger page fits past its boundary).
 */
static size_t pgsize_for(unsigned long bitmap, unsigned long iova, phys_addr_t paddr, size_t size, size_t *count)
{
	unsigned long addr_merge = paddr | iova;
	unsigned long pgsizes = bitmap & GENMASK(__fls(size), 0);
	size_t pgsize, pgsize_next, offset;

	if (likely(addr_merge))
		pgsizes &= GENMASK(__ffs(addr_merge), 0);
	BUG_ON(!pgsizes); /* the caller checked the alignment */
	pgsize = 1UL << __fls(pgsizes);

	pgsizes = bitmap & ~GENMASK(__fls(pgsize), 0);
	if (pgsizes && !((iova ^ paddr) & ((1UL << __ffs(pgsizes)) - 1))) {
		pgsize_next = 1UL << __ffs(pgsizes);
		offset = pgsize_next - (addr_merge & (pgsize_next - 1));
		/* offset + pgsize_next may overflow near 2^64: then no larger page fits. */
		if (offset + pgsize_next >= offset && offset + pgsize_next <= size)
			size = offset;
	}
	*count = size >> __fls(pgsize);
	return pgsize;
}

static bool wraps(uint64_t addr, uint64_t size)
{
	return size != 0 && addr + (size - 1) < addr;
}

static uint64_t unmap_gathered(struct lx_domain *d, uint64_t iova, uint64_t size, struct iommu_iotlb_gather *gather);

int lx_map(struct lx_domain *d, uint64_t iova, uint64_t paddr, uint64_t size, uint32_t prot)
{
	struct iommu_iotlb_gather gather;
	struct kstub_account *old;
	uint64_t orig_iova = iova, orig_size = size;
	unsigned long min_pagesz;
	int ret = 0;

	if (!is_paging(d->type))
		return -EINVAL;
	min_pagesz = 1UL << __ffs(d->pgsize_bitmap);
	if ((iova | paddr | size) & (min_pagesz - 1))
		return -EINVAL;
	if (wraps(iova, size) || wraps(paddr, size))
		return -EINVAL;

	old = enter(d);
	while (size) {
		size_t count, pgsize = pgsize_for(d->pgsize_bitmap, iova, paddr, size, &count);
		size_t mapped = 0;

		ret = d->ops->map_pages(d->ops, iova, paddr, pgsize, count, (int)prot, GFP_KERNEL, &mapped);
		/* "Some pages may have been mapped, even if an error occurred" */
		size -= mapped;
		if (ret)
			break;
		iova += mapped;
		paddr += mapped;
	}
	if (ret) {
		/* unroll mapping in case something went wrong: a strict iommu_unmap() */
		model_gather_init(&gather);
		unmap_gathered(d, orig_iova, orig_size - size, &gather);
		model_iotlb_sync(&d->tlb, &gather);
	}
	leave(old);
	return ret;
}

/* __iommu_unmap(): chunk by iommu_pgsize(iova, iova, ...), stop at the first chunk the driver
 * unmaps nothing of (a hole, or a refusal). */
static uint64_t unmap_gathered(struct lx_domain *d, uint64_t iova, uint64_t size, struct iommu_iotlb_gather *gather)
{
	uint64_t unmapped = 0;

	while (unmapped < size) {
		size_t count, pgsize = pgsize_for(d->pgsize_bitmap, iova, iova, size - unmapped, &count);
		size_t got = d->ops->unmap_pages(d->ops, iova, pgsize, count, gather);

		if (!got)
			break;
		iova += got;
		unmapped += got;
	}
	return unmapped;
}

uint64_t lx_unmap(struct lx_domain *d, uint64_t iova, uint64_t size)
{
	struct iommu_iotlb_gather gather;
	struct kstub_account *old;
	unsigned long min_pagesz;
	uint64_t unmapped;

	if (!is_paging(d->type))
		return 0;
	min_pagesz = 1UL << __ffs(d->pgsize_bitmap);
	if ((iova | size) & (min_pagesz - 1))
		return 0;
	if (wraps(iova, size))
		return 0;

	model_gather_init(&gather);
	/* dma-iommu on a flush-queue domain: iommu_unmap_fast() with a queued gather, the
	 * invalidation left to the queue's flush_iotlb_all (lx_flush). */
	gather.queued = d->type == LX_DMA_FQ;
	old = enter(d);
	unmapped = unmap_gathered(d, iova, size, &gather);
	leave(old);
	if (!gather.queued)
		model_iotlb_sync(&d->tlb, &gather);
	return unmapped;
}

uint64_t lx_iova_to_phys(struct lx_domain *d, uint64_t iova)
{
	if (d->type == LX_IDENTITY)
		return iova;
	if (d->type == LX_BLOCKED)
		return 0;
	return d->ops->iova_to_phys(d->ops, iova);
}

void lx_flush(struct lx_domain *d)
{
	if (d->ops)
		model_flush_ops.tlb_flush_all(&d->tlb);
}

int lx_translate(struct lx_domain *d, uint64_t iova, bool write, uint64_t *phys)
{
	const struct tlb_entry *e;
	struct tlb_entry fill;

	if (!d->ops) /* blocked and identity have no table: the adapter routes those itself */
		return -EFAULT;
	e = tlb_lookup(&d->tlb, iova);
	if (!e) {
		struct lx_slot s = d->fmt->walk(d->ops, iova);

		if (!s.mapped)
			return -EFAULT;
		fill = (struct tlb_entry){ .base = s.base, .size = s.size, .phys = s.phys,
					   .readable = s.readable, .writable = s.writable };
		tlb_fill(&d->tlb, &fill);
		e = &fill;
	}
	/* Stage 1 has no write-only encoding: every leaf is readable (AP[2] gates writes only).
	 * The modelled device's accesses are privileged, so AP[1] (IOMMU_PRIV) plays no part.
	 * Stage 2 has a bit each for read and write (S2AP), so a write-only leaf faults a read. */
	if (write ? !e->writable : !e->readable)
		return -EFAULT;
	*phys = e->phys + (iova - e->base);
	return 0;
}

void lx_leaves(struct lx_domain *d, uint64_t iova, uint64_t size,
	       bool (*emit)(void *arg, uint64_t iova, uint64_t pgsize), void *arg)
{
	uint64_t at = iova, end = iova + size; /* end 0: up to 2^64 */

	if (!d->ops || size == 0)
		return;
	do {
		struct lx_slot s = d->fmt->walk(d->ops, at);

		if (s.mapped && !emit(arg, s.base, s.size))
			return;
		at = s.base + s.size;
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
