/*
 * kernel-stubs.h - the slice of the Linux kernel environment that io-pgtable-arm.c,
 * io-pgtable-arm-v7s.c, io-pgtable-dart.c and io-pgtable.c (Linux 6.1; 6.12 and 7.x by
 * KSTUB_LINUX) compile against in userspace. Every stand-in header under stubs/
 * includes this one file.
 *
 * Memory is identity-mapped: a table page's virtual address is its "physical" address, which
 * fits every format's PTE address field because table pages come from an arena below 2^31
 * (kernel-env.c; arm-v7s holds 32 bits, DART1 36). They are charged to the domain the IOMMU core is working
 * on (kstub_charge, for pt_pages) and can be made to fail (kstub_fail_nth, for fail_nth).
 */
#ifndef KERNEL_STUBS_H
#define KERNEL_STUBS_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;

struct device { int unused; };
/* A struct page * is the page's address itself: there is no memmap to look it up in. */
struct page;
struct list_head { struct list_head *next, *prev; };

/* ---- compiler and bit helpers ---- */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __init
#define __initdata
#define EXPORT_SYMBOL_GPL(sym)
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define upper_32_bits(n) ((u32)(((u64)(n)) >> 32))
/* include/linux/kconfig.h: IS_ENABLED(CONFIG_X) is 1 when CONFIG_X is defined to 1. */
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define __is_defined(x) ___is_defined(x)
#define IS_ENABLED(option) __is_defined(option)
/* include/linux/bitfield.h, for constant masks only (io-pgtable-dart.c's PTE fields). */
#define FIELD_PREP(mask, val) (((u64)(val) << __builtin_ctzll(mask)) & (mask))
#define FIELD_GET(mask, reg) (((u64)(reg) & (mask)) >> __builtin_ctzll(mask))
#define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))

/* The kernel's bit searches are undefined for 0; so are these. */
static inline unsigned long __ffs(unsigned long x) { return (unsigned long)__builtin_ctzl(x); }
static inline unsigned long __fls(unsigned long x) { return 63UL - (unsigned long)__builtin_clzl(x); }
static inline void set_bit(long nr, volatile unsigned long *addr) { addr[nr / 64] |= 1UL << (nr % 64); }
#define ilog2(n) ((int)__fls((unsigned long)(n)))

#define SZ_4K 0x00001000UL
#define SZ_16K 0x00004000UL
#define SZ_64K 0x00010000UL
#define SZ_1M 0x00100000UL
#define SZ_2M 0x00200000UL
#define SZ_16M 0x01000000UL
#define SZ_32M 0x02000000UL
#define SZ_512M 0x20000000UL
#define SZ_1G 0x40000000UL
#define SZ_2G 0x80000000UL

/* ---- what the kernel's own selftests use beyond the two files ---- */
#define __initconst
#define __noipa __attribute__((noipa))
#define subsys_initcall(fn)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BITS_PER_LONG 64
#define for_each_set_bit(bit, addr, size) \
	for ((bit) = 0; (bit) < (size); (bit)++) \
		if (!(*(addr) & (1UL << (bit)))) {} else
#define NUMA_NO_NODE (-1)
#define set_dev_node(dev, node) ((void)(dev), (void)(node))

/* ---- diagnostics: WARN_ON reports each site once on stderr (never stdout: the protocol) ---- */
void kstub_warn(const char *file, int line, const char *cond);
#define WARN_ON(cond) ({ bool __w = !!(cond); if (unlikely(__w)) kstub_warn(__FILE__, __LINE__, #cond); __w; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN_ONCE(cond, fmt, ...) WARN_ON(cond)
#define WARN(cond, fmt, ...) ({ bool __w = !!(cond); if (unlikely(__w)) fprintf(stderr, "WARNING: " fmt, ##__VA_ARGS__); __w; })
#define BUG_ON(cond) do { if (unlikely(cond)) { kstub_warn(__FILE__, __LINE__, "BUG: " #cond); abort(); } } while (0)
#define VM_BUG_ON(cond) BUG_ON(cond)
#define pr_err(fmt, ...) fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#ifdef KSTUB_PR_INFO /* the selftest program: its verdicts are pr_info lines */
#define pr_info(fmt, ...) fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#else
#define pr_info(fmt, ...) ((void)0)
#endif
#define pr_debug(fmt, ...) ((void)0)
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define dev_err(dev, fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)

/* ---- memory ordering: one thread, so only the compiler must not reorder ---- */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define barrier() __asm__ __volatile__("" ::: "memory")
#define wmb() barrier()
#define dma_wmb() barrier()
#define cmpxchg64_relaxed(ptr, old, new) __sync_val_compare_and_swap((ptr), (old), (new))
#define cmpxchg_relaxed(ptr, old, new) __sync_val_compare_and_swap((ptr), (old), (new))
typedef struct { int unused; } spinlock_t; /* 6.x v7s: its split lock; one thread here */
#define spin_lock_init(l) ((void)(l))
#define spin_lock_irqsave(l, flags) ((void)(l), (flags) = 0)
#define spin_unlock_irqrestore(l, flags) ((void)(l), (void)(flags))

/* ---- allocation ---- */
#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_ZERO 0x100u
#define __GFP_HIGHMEM 0x200u

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

/* Table pages (one per table, whatever its size) allocated and not yet freed, charged to the
 * domain the core is working on. */
struct kstub_account { long pages; };
extern struct kstub_account *kstub_charge;
/* fail_nth: when > 0, the allocation that brings it to 0 fails. Shared by every allocator. */
extern long kstub_fail_nth;
bool kstub_should_fail(void);

/* Table memory (kernel-env.c): zeroed, aligned to its size (a power of two from 1K), below
 * 2^31 so that any format's PTE holds its address; charged and failable as above. */
void *kstub_alloc_table(size_t size);
void kstub_free_table(void *addr);
void *kstub_alloc_pages(unsigned int order);
void kstub_free_pages(void *addr, unsigned int order);
void *kstub_kmalloc(size_t size, bool zero);

static inline unsigned int get_order(size_t size)
{
	unsigned int order = 0;

	while ((PAGE_SIZE << order) < size)
		order++;
	return order;
}
#define dev_to_node(dev) 0
#define alloc_pages_node(nid, gfp, order) ((struct page *)kstub_alloc_pages(order))
#define page_address(p) ((void *)(p))
#define __free_pages(p, order) kstub_free_pages((void *)(p), (order))
#define free_pages(addr, order) kstub_free_pages((void *)(addr), (order))
#define __get_free_pages(gfp, order) ((void)(gfp), (unsigned long)kstub_alloc_pages(order))
#define alloc_pages(gfp, order) ((struct page *)kstub_alloc_pages(order))
#define GFP_DMA 0x4u
#define GFP_DMA32 0x8u
/* A kmem_cache hands out table memory of one size (io-pgtable-arm-v7s's level-2 tables). */
typedef unsigned int slab_flags_t;
#define SLAB_CACHE_DMA 0x1u
#define SLAB_CACHE_DMA32 0x2u
struct kmem_cache { size_t size; };
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align, slab_flags_t flags, void *ctor);
void kmem_cache_destroy(struct kmem_cache *c);
#define kmem_cache_zalloc(c, gfp) kstub_alloc_table((c)->size)
#define kmem_cache_free(c, p) kstub_free_table(p)
#define kmemleak_ignore(p) ((void)(p))
#define kmalloc(size, gfp) kstub_kmalloc((size), false)
#define kzalloc(size, gfp) kstub_kmalloc((size), true)
#define kfree(p) free(p)
/* 7.x: the allocation's size from its type; the gfp argument is optional. */
#define kmalloc_obj(obj, ...) ((__typeof__(obj) *)kstub_kmalloc(sizeof(obj), false))
#define kzalloc_obj(obj, ...) ((__typeof__(obj) *)kstub_kmalloc(sizeof(obj), true))

/* ---- identity "physical" addresses and DMA mappings ---- */
#define virt_to_phys(p) ((phys_addr_t)(uintptr_t)(p))
#define __pa(p) virt_to_phys(p)
#define phys_to_virt(x) ((void *)(uintptr_t)(x))
#define __va(x) ((void *)(uintptr_t)(x))
enum dma_data_direction { DMA_BIDIRECTIONAL = 0, DMA_TO_DEVICE = 1, DMA_FROM_DEVICE = 2 };
#define dma_map_single(dev, ptr, size, dir) ((void)(dev), (dma_addr_t)(uintptr_t)(ptr))
#define dma_mapping_error(dev, dma) ((void)(dev), (void)(dma), 0)
#define dma_unmap_single(dev, dma, size, dir) ((void)(dev), (void)(dma))
#define dma_sync_single_for_device(dev, dma, size, dir) ((void)(dev), (void)(dma))

/* ---- include/linux/iommu.h: prot flags and the IOTLB gather ---- */
#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)
#define IOMMU_PRIV (1 << 5)

struct iommu_iotlb_gather {
	unsigned long start;
	unsigned long end; /* inclusive */
	size_t pgsize;
	struct list_head freelist;
	bool queued; /* a flush queue will flush everything later (dma_fq) */
};

/* 6.12+: dirty tracking (io-pgtable-arm's read_and_clear_dirty); the target never calls it. */
#define IOMMU_DIRTY_NO_CLEAR (1 << 0)
struct iommu_dirty_bitmap;
#define iommu_dirty_bitmap_record(dirty, iova, length) ((void)(dirty), (void)(iova), (void)(length))

static inline bool iommu_iotlb_gather_queued(struct iommu_iotlb_gather *gather)
{
	return gather && gather->queued;
}

/* ---- 6.12+: drivers/iommu/iommu-pages.h takes table pages through these ---- */
#ifndef KSTUB_LINUX
#error "KSTUB_LINUX (the kernel's major * 100 + minor) is set by scripts/build-linux-target.sh"
#endif
#include "kernel-stubs-pages.h"

#endif /* KERNEL_STUBS_H */
