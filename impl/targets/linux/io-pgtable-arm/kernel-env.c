/*
 * kernel-env.c - the functions behind kernel-stubs.h: the table memory every io-pgtable format
 * takes its tables from (charged per domain, failable for fail_nth), kmalloc, and WARN
 * reporting.
 */
#include <sys/mman.h>

#include "kernel-stubs.h"

struct kstub_account *kstub_charge;
long kstub_fail_nth;

bool kstub_should_fail(void)
{
	return kstub_fail_nth > 0 && --kstub_fail_nth == 0;
}

/*
 * Table memory: blocks of a power-of-two size from 1K up, aligned to their size as the buddy
 * allocator and a kmem_cache of aligned objects give them, from one arena mapped below 2^31
 * (MAP_32BIT): the "physical" address of a table must fit the format's PTE, 32 bits for
 * arm-v7s (__arm_v7s_alloc_table() refuses anything else) and 36 for DART1. Freed blocks are
 * kept per size for reuse; the arena is reserved, not committed, so its size costs nothing.
 */
#define ARENA_SIZE (512UL << 20)
#define UNIT_SHIFT 10 /* 1K: a v7s level-2 table */
#define MAX_SHIFT 24  /* 16M: larger than any table */

static char *arena;
static size_t arena_top;
static void *free_blocks[MAX_SHIFT + 1];
static unsigned char *block_shift; /* per 1K unit: the shift of the block starting there */

static void *arena_alloc(unsigned int shift)
{
	size_t size = 1UL << shift;
	void *p;

	if (!arena) {
		arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_NORESERVE, -1, 0);
		block_shift = calloc(ARENA_SIZE >> UNIT_SHIFT, 1);
		if (arena == MAP_FAILED || !block_shift) {
			fprintf(stderr, "kernel-env: no table arena below 2^31\n");
			abort();
		}
	}
	if (free_blocks[shift]) {
		p = free_blocks[shift];
		free_blocks[shift] = *(void **)p;
	} else {
		/* Aligned to its size, within the arena (whose base is page-aligned only). */
		uintptr_t at = ((uintptr_t)arena + arena_top + size - 1) & ~(uintptr_t)(size - 1);

		if (at + size > (uintptr_t)arena + ARENA_SIZE) {
			fprintf(stderr, "kernel-env: the table arena (%lu MiB) is exhausted\n", ARENA_SIZE >> 20);
			abort();
		}
		arena_top = at + size - (uintptr_t)arena;
		p = (void *)at;
	}
	block_shift[((char *)p - arena) >> UNIT_SHIFT] = (unsigned char)shift;
	memset(p, 0, size); /* every caller asks for zeroed memory */
	return p;
}

void *kstub_alloc_table(size_t size)
{
	unsigned int shift = UNIT_SHIFT;
	void *p;

	while ((1UL << shift) < size)
		shift++;
	if (shift > MAX_SHIFT || kstub_should_fail())
		return NULL;
	p = arena_alloc(shift);
	if (kstub_charge)
		kstub_charge->pages++;
	return p;
}

void kstub_free_table(void *addr)
{
	unsigned int shift;

	if (!addr)
		return;
	BUG_ON(!arena || (char *)addr < arena || (char *)addr >= arena + ARENA_SIZE);
	shift = block_shift[((char *)addr - arena) >> UNIT_SHIFT];
	*(void **)addr = free_blocks[shift];
	free_blocks[shift] = addr;
	if (kstub_charge)
		kstub_charge->pages--;
}

void *kstub_alloc_pages(unsigned int order)
{
	return kstub_alloc_table(PAGE_SIZE << order);
}

void kstub_free_pages(void *addr, unsigned int order)
{
	(void)order; /* the arena knows each block's size */
	kstub_free_table(addr);
}

/* mm/slab: a cache of table-sized objects (io-pgtable-arm-v7s's level-2 tables). */
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align, slab_flags_t flags, void *ctor)
{
	struct kmem_cache *c = kstub_kmalloc(sizeof(*c), false);

	(void)name;
	(void)align; /* the arena aligns every block to its size */
	(void)flags;
	(void)ctor;
	if (c)
		c->size = size;
	return c;
}

void kmem_cache_destroy(struct kmem_cache *c)
{
	free(c);
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
