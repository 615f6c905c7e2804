/*
 * tlb.c - the model TLB and the driver side that invalidates it, written after Linux 6.1's
 * arm-smmu-v3 (arm_smmu_flush_ops, arm_smmu_iotlb_sync) on an SMMU with range invalidation:
 *   tlb_flush_all   TLBI by ASID: everything goes;
 *   tlb_flush_walk  non-leaf TLBI by VA over the range: every cached entry in it goes;
 *   tlb_add_page    only gathered (iommu_iotlb_gather_add_page); the gather is synced when
 *                   the page size changes or the range would be disjoint, and by iotlb_sync;
 *   iotlb_sync      leaf TLBI over the gathered range, with the gathered page size as the
 *                   level hint (the TTL field): a cached leaf of another size survives it.
 * The arm-v7s domains have arm-smmu (v2)'s instead (struct model_tlb's driver): tlb_add_page is
 * a leaf TLBI by VA at once, which removes whatever leaf holds that VA, and iotlb_sync only
 * waits; the DART domains have no io-pgtable callbacks at all, and every iotlb_sync flushes
 * the whole stream (apple-dart.c apple_dart_iotlb_sync()).
 * Set LINUX_TARGET_TRACE=1 to see every callback on stderr.
 */
#include <stdarg.h>

#include <linux/io-pgtable.h>

#include "tlb.h"
#include "tlb-ops.h"

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
	fputs("tlb: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- the driver's callbacks; the cookie is the domain's model_tlb ---- */

static void flush_all(void *cookie)
{
	tr("flush_all");
	tlb_invalidate_all(cookie);
}

static void flush_walk(unsigned long iova, size_t size, size_t granule, void *cookie)
{
	tr("flush_walk iova=0x%lx size=0x%zx granule=0x%zx", iova, size, granule);
	tlb_invalidate(cookie, iova, size, 0);
}

static void add_page(struct iommu_iotlb_gather *gather, unsigned long iova, size_t granule, void *cookie)
{
	struct model_tlb *t = cookie;

	tr("add_page iova=0x%lx granule=0x%zx", iova, granule);
	if (t->driver == TLB_SMMU_VA)
		tlb_invalidate(t, iova, granule, 0); /* arm_smmu_tlb_add_page_s1(): TLBIVAL */
	else
		model_gather_add_page(t, gather, iova, granule);
}

const struct iommu_flush_ops model_flush_ops = {
	.tlb_flush_all = flush_all,
	.tlb_flush_walk = flush_walk,
	.tlb_add_page = add_page,
};

void model_gather_init(struct iommu_iotlb_gather *gather)
{
	*gather = (struct iommu_iotlb_gather){ .start = ULONG_MAX };
	gather->freelist.next = gather->freelist.prev = &gather->freelist;
}

void model_iotlb_sync(struct model_tlb *t, struct iommu_iotlb_gather *gather)
{
	if (t->driver == TLB_DART) {
		tr("iotlb_sync: flush the stream");
		tlb_invalidate_all(t);
	} else if (gather->pgsize) {
		tr("iotlb_sync start=0x%lx end=0x%lx pgsize=0x%zx", gather->start, gather->end, gather->pgsize);
		tlb_invalidate(t, gather->start, gather->end - gather->start + 1, gather->pgsize);
	}
	model_gather_init(gather);
}

/* iommu_iotlb_gather_add_page(): a new page size or a disjoint range flushes what is gathered. */
void model_gather_add_page(struct model_tlb *t, struct iommu_iotlb_gather *gather, unsigned long iova, size_t size)
{
	unsigned long end = iova + size - 1;
	bool disjoint = gather->end != 0 && (end + 1 < gather->start || iova > gather->end + 1);

	if ((gather->pgsize && gather->pgsize != size) || disjoint)
		model_iotlb_sync(t, gather);
	gather->pgsize = size;
	if (gather->start > iova)
		gather->start = iova;
	if (gather->end < end)
		gather->end = end;
}
