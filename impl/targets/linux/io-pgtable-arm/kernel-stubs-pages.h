/*
 * kernel-stubs-pages.h - what drivers/iommu/iommu-pages.h needs: 6.12 wraps the page allocator
 * in inline helpers (memory accounting by node and memcg, a no-op here), 7.x declares
 * iommu_alloc_pages_node_sz()/iommu_free_pages() out of line (kernel-env.c) and keeps a page
 * descriptor (struct ioptdesc) over struct folio. Only the parts the header's inline bodies
 * reference are defined; io-pgtable-arm calls only the allocation and free.
 */
#ifndef KERNEL_STUBS_PAGES_H
#define KERNEL_STUBS_PAGES_H

#if KSTUB_LINUX >= 612
/* A list node per page: iommu_put_pages_list() walks page->lru (6.12). */
struct page { struct list_head lru; };
#define list_empty(head) ((head)->next == (head))
#define list_entry(ptr, type, member) container_of(ptr, type, member)
static inline void list_del(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}
#define put_page(p) kstub_free_pages((void *)(p), 0)
#define virt_to_page(v) ((struct page *)(v))
/* Node and memcg statistics: nothing to count in userspace. */
enum { NR_IOMMU_PAGES, NR_SECONDARY_PAGETABLE };
#define page_pgdat(p) ((void)(p), (void *)0)
#define mod_node_page_state(pgdat, item, n) ((void)(pgdat), (void)(item), (void)(n))
#define mod_lruvec_page_state(p, item, n) ((void)(p), (void)(item), (void)(n))
#endif

#if KSTUB_LINUX >= 700
typedef unsigned long pgoff_t;
typedef struct { int counter; } atomic_t;
struct folio;
#define virt_to_folio(v) ((struct folio *)(v))
struct iommu_pages_list { struct list_head pages; };
static inline void list_add_tail(struct list_head *e, struct list_head *head)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}
static inline void list_splice(const struct list_head *list, struct list_head *head)
{
	struct list_head *first = list->next, *last = list->prev, *at = head->next;

	if (list_empty(list))
		return;
	first->prev = head;
	head->next = first;
	last->next = at;
	at->prev = last;
}
#endif

#endif /* KERNEL_STUBS_PAGES_H */
