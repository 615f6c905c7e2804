/*
 * genpt-env.c - the functions behind genpt-stubs.h: the page allocator generic_pt takes its
 * tables from (iommu_alloc_pages_node_sz(), charged per domain, failable for fail_nth), the
 * iommu_pages_list of tables waiting for an IOTLB flush before they are freed, and WARN
 * reporting.
 *
 * The kernel threads a freed table onto a list through its struct page; here a small
 * descriptor per table, found by address in a hash, plays that part.
 */
#include "genpt-stubs.h"

struct kstub_account *kstub_charge;
long kstub_fail_nth;
/* Every table page allocated and not yet freed (the KUnit baseline's NR_SECONDARY_PAGETABLE). */
long kstub_table_pages;

bool kstub_should_fail(void)
{
	return kstub_fail_nth > 0 && --kstub_fail_nth == 0;
}

struct ptdesc {
	struct list_head elm; /* first: a list entry is its descriptor */
	struct ptdesc *hash_next;
	void *virt;
	struct kstub_account *charged;
};

#define HASH_BUCKETS 4096
static struct ptdesc *buckets[HASH_BUCKETS];

static struct ptdesc **bucket(const void *virt)
{
	return &buckets[((uintptr_t)virt >> 12) % HASH_BUCKETS];
}

static struct ptdesc *desc_of(const void *virt)
{
	struct ptdesc *d;

	for (d = *bucket(virt); d; d = d->hash_next)
		if (d->virt == virt)
			return d;
	BUG_ON(!d); /* a table generic_pt never allocated */
	return NULL;
}

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size)
{
	struct ptdesc *d;
	void *p;

	(void)nid;
	(void)gfp;
	if (kstub_should_fail())
		return NULL;
	/* Rounded up to a page and aligned to its own size, as the page allocator does. */
	if (size < PAGE_SIZE)
		size = PAGE_SIZE;
	p = aligned_alloc(size, size);
	d = malloc(sizeof(*d));
	if (!p || !d) {
		free(p);
		free(d);
		return NULL;
	}
	memset(p, 0, size); /* iommu_alloc_pages_node_sz() always zeroes */
	d->virt = p;
	d->charged = kstub_charge;
	INIT_LIST_HEAD(&d->elm);
	d->hash_next = *bucket(p);
	*bucket(p) = d;
	if (d->charged)
		d->charged->pages++;
	kstub_table_pages++;
	return p;
}

void iommu_free_pages(void *virt)
{
	struct ptdesc **pp, *d;

	if (!virt)
		return;
	for (pp = bucket(virt); *pp && (*pp)->virt != virt; pp = &(*pp)->hash_next)
		;
	d = *pp;
	BUG_ON(!d);
	*pp = d->hash_next;
	/* Charged to the domain that allocated it: a flush queue may free it later. */
	if (d->charged)
		d->charged->pages--;
	kstub_table_pages--;
	free(d);
	free(virt);
}

void iommu_pages_list_add(struct iommu_pages_list *list, void *virt)
{
	list_add_tail(&desc_of(virt)->elm, &list->pages);
}

void iommu_put_pages_list(struct iommu_pages_list *list)
{
	struct list_head *at = list->pages.next;

	while (at != &list->pages) {
		struct ptdesc *d = (struct ptdesc *)at;

		at = at->next;
		iommu_free_pages(d->virt);
	}
	INIT_LIST_HEAD(&list->pages);
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
	if (n < (int)ARRAY_SIZE(seen)) {
		seen[n].file = file;
		seen[n].line = line;
		n++;
	}
	fprintf(stderr, "WARNING: %s:%d: %s (reported once)\n", base ? base + 1 : file, line, cond);
}
