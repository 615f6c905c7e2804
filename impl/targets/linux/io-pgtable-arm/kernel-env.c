/*
 * kernel-env.c - the functions behind kernel-stubs.h: the page allocator io-pgtable-arm takes
 * its tables from (charged per domain, failable for fail_nth), kmalloc, and WARN reporting.
 */
#include "kernel-stubs.h"

struct kstub_account *kstub_charge;
long kstub_fail_nth;

bool kstub_should_fail(void)
{
	return kstub_fail_nth > 0 && --kstub_fail_nth == 0;
}

void *kstub_alloc_pages(unsigned int order)
{
	size_t size = PAGE_SIZE << order;
	void *p;

	if (kstub_should_fail())
		return NULL;
	/* Aligned to its own size, as the buddy allocator does: a 64K-granule table's low address
	 * bits carry PA[51:48] in the PTE, so they must be zero. */
	p = aligned_alloc(size, size);
	if (!p)
		return NULL;
	memset(p, 0, size); /* every caller asks for __GFP_ZERO */
	if (kstub_charge)
		kstub_charge->pages++;
	return p;
}

void kstub_free_pages(void *addr, unsigned int order)
{
	(void)order;
	if (!addr)
		return;
	if (kstub_charge)
		kstub_charge->pages--;
	free(addr);
}

#if KSTUB_LINUX >= 700
/* drivers/iommu/iommu-pages.c (7.x): whole pages of the order that holds `size`, zeroed;
 * iommu-pages.h declares these (the kernel file is not compiled here). */
void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size);
void iommu_free_pages(void *virt);
int iommu_pages_start_incoherent(void *virt, struct device *dma_dev);
void iommu_pages_free_incoherent(void *virt, struct device *dma_dev);

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size)
{
	(void)nid;
	(void)gfp;
	return kstub_alloc_pages(get_order(size));
}

void iommu_free_pages(void *virt)
{
	kstub_free_pages(virt, 0);
}

/* Only for a non-coherent walker; the target's cfg says coherent_walk. */
int iommu_pages_start_incoherent(void *virt, struct device *dma_dev)
{
	(void)virt;
	(void)dma_dev;
	return 0;
}

void iommu_pages_free_incoherent(void *virt, struct device *dma_dev)
{
	(void)dma_dev;
	iommu_free_pages(virt);
}
#endif

void *kstub_kmalloc(size_t size, bool zero)
{
	if (kstub_should_fail())
		return NULL;
	return zero ? calloc(1, size) : malloc(size);
}

/* Each WARN site once: a long run would otherwise bury stderr under the same line. */
void kstub_warn(const char *file, int line, const char *cond)
{
	static struct { const char *file; int line; } seen[64];
	static int n;
	const char *base = strrchr(file, '/');
	int i;

	for (i = 0; i < n; i++)
		if (seen[i].line == line && seen[i].file == file)
			return;
	if (n < (int)(sizeof(seen) / sizeof(seen[0]))) {
		seen[n].file = file;
		seen[n].line = line;
		n++;
	}
	fprintf(stderr, "WARNING: %s:%d: %s (reported once)\n", base ? base + 1 : file, line, cond);
}
