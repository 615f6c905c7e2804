/*
 * genpt-stubs.h - the slice of the Linux 7.2 kernel environment that drivers/iommu/generic_pt
 * (the format headers, pt_iter.h, iommu_pt.h) compiles against in userspace. Every stand-in
 * header under stubs/ includes this one file.
 *
 * iommu_pt.h includes "../iommu-pages.h" by a quoted path, which always finds the kernel's
 * file (folios, memcg, the DMA API): this header defines its include guard and provides the
 * few iommu_pages_* helpers generic_pt uses instead, over the allocator of genpt-env.c.
 *
 * Memory is identity-mapped (a table's virtual address is its physical address; userspace
 * pointers on x86-64 are below 2^47, within every format's table-address field). Table pages
 * are charged to the domain being worked on (pt_pages) and can be made to fail (fail_nth).
 */
#ifndef GENPT_STUBS_H
#define GENPT_STUBS_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- kconfig: what a distribution kernel with the AMD/Intel/RISC-V IOMMUs builds ---- */
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define IS_ENABLED(option) __is_defined(option)
#define IS_BUILTIN(option) __is_defined(option)
#define CONFIG_IOMMU_PT 1
#define CONFIG_64BIT 1
#define CONFIG_SMP 1

/* ---- types ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;
typedef unsigned long pgoff_t;
typedef struct { int counter; } atomic_t;
typedef struct { int unused; } spinlock_t;

#define U8_MAX ((u8)~0U)
#define U16_MAX ((u16)~0U)
#define U32_MAX ((u32)~0U)
#define U64_MAX ((u64)~0ULL)
#define NUMA_NO_NODE (-1)

struct device { int unused; };
struct list_head { struct list_head *next, *prev; };

/* ---- compiler ---- */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#undef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define __maybe_unused __attribute__((__unused__))
#define __aligned(x) __attribute__((__aligned__(x)))
#define __must_check
#define __pure
#define fallthrough __attribute__((__fallthrough__))
#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)
#undef __CONCAT
#define __CONCAT(a, b) a##b
#define CONCATENATE(a, b) __CONCAT(a, b)
#define EXPORT_SYMBOL_NS_GPL(sym, ns)
#define EXPORT_SYMBOL_GPL(sym)
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_IMPORT_NS(x)
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define static_assert(expr, ...) _Static_assert(expr, #expr)
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)
/* As the kernel's: a compile error unless the optimiser proves the call dead. */
#define BUILD_BUG() do { extern void __genpt_build_bug(void) __attribute__((error("BUILD_BUG"))); __genpt_build_bug(); } while (0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define memset_after(obj, v, member) \
	memset((u8 *)(obj) + offsetof(__typeof__(*(obj)), member) + sizeof((obj)->member), (v), \
	       sizeof(*(obj)) - offsetof(__typeof__(*(obj)), member) - sizeof((obj)->member))
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)

/* ---- bits ---- */
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define __bf_shf(x) __builtin_ctzll(x)
#define FIELD_PREP(mask, val) (((__typeof__(mask))(val) << __bf_shf(mask)) & (mask))
#define FIELD_GET(mask, reg) ((__typeof__(mask))(((reg) & (mask)) >> __bf_shf(mask)))
#define min(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a < __b ? __a : __b; })
#define max(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a > __b ? __a : __b; })
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)

/* The kernel's bit searches: __ffs/__fls undefined for 0, fls/ffz as the kernel's. */
static inline unsigned long __ffs(unsigned long x) { return (unsigned long)__builtin_ctzl(x); }
static inline unsigned long __fls(unsigned long x) { return 63UL - (unsigned long)__builtin_clzl(x); }
static inline unsigned int fls(unsigned int x) { return x ? 32 - (unsigned int)__builtin_clz(x) : 0; }
static inline unsigned int fls64(u64 x) { return x ? 64 - (unsigned int)__builtin_clzll(x) : 0; }
static inline unsigned long ffz(unsigned long x) { return __ffs(~x); }
static inline unsigned int __ffs64(u64 x) { return (unsigned int)__builtin_ctzll(x); }
#define ilog2(n) ((int)(__builtin_constant_p(n) && (n) == 1 ? 0 : (int)__fls((unsigned long)(n))))

#define SZ_4K 0x00001000UL
#define SZ_64K 0x00010000UL
#define SZ_512G 0x8000000000ULL

static inline void memset64(u64 *p, u64 v, size_t n)
{
	while (n--)
		*p++ = v;
}

/* ---- error pointers ---- */
#define MAX_ERRNO 4095
static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO; }

/* ---- diagnostics: WARN reports each site once on stderr (never stdout: the protocol) ---- */
void kstub_warn(const char *file, int line, const char *cond);
#define WARN_ON(cond) ({ bool __w = !!(cond); if (unlikely(__w)) kstub_warn(__FILE__, __LINE__, #cond); __w; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define BUG_ON(cond) do { if (unlikely(cond)) { kstub_warn(__FILE__, __LINE__, "BUG: " #cond); abort(); } } while (0)
#define pr_err(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) ((void)0)
#define pr_err_ratelimited(fmt, ...) pr_err(fmt, ##__VA_ARGS__)

/* ---- memory ordering: one thread, so only the compiler must not reorder ---- */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define barrier() __asm__ __volatile__("" ::: "memory")
#define dma_wmb() barrier()
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define try_cmpxchg64_release(ptr, oldp, new) \
	__atomic_compare_exchange_n((ptr), (oldp), (new), false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define try_cmpxchg_release(ptr, oldp, new) try_cmpxchg64_release(ptr, oldp, new)
#define try_cmpxchg64(ptr, oldp, new) \
	__atomic_compare_exchange_n((ptr), (oldp), (new), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)
#define spin_lock_irqsave(l, f) ((void)(l), (f) = 0)
#define spin_unlock_irqrestore(l, f) ((void)(l), (void)(f))

/* ---- lists ---- */
#define LIST_HEAD_INIT(name) { &(name), &(name) }
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}
static inline void list_splice(struct list_head *from, struct list_head *to)
{
	struct list_head *first = from->next, *last = from->prev, *at = to->next;

	if (list_empty(from))
		return;
	first->prev = to;
	to->next = first;
	last->next = at;
	at->prev = last;
}

/* ---- pages: identity "physical" addresses ---- */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_ZERO 0x100u
#define __GFP_HIGHMEM 0x200u
#define __GFP_COMP 0x400u
#define __GFP_DMA 0x800u
#define __GFP_DMA32 0x1000u
#define virt_to_phys(p) ((phys_addr_t)(uintptr_t)(p))
#define __va(x) ((void *)(uintptr_t)(x))
#define phys_to_virt(x) __va(x)
/* No memory encryption here: the SME mask is 0, as on a host without SME. */
#define __sme_set(x) (x)
#define __sme_clr(x) (x)
#define sme_me_mask 0ULL

/* Table pages (one per table, whatever its size) allocated and not yet freed, charged to the
 * domain the core is working on. */
struct kstub_account { long pages; };
extern struct kstub_account *kstub_charge;
/* fail_nth: when > 0, the allocation that brings it to 0 fails. */
extern long kstub_fail_nth;
bool kstub_should_fail(void);

/* ---- include/linux/iommu.h: what generic_pt touches ---- */
#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)
#define IOMMU_PRIV (1 << 5)
#define IOMMU_DIRTY_NO_CLEAR (1 << 0)
#define __IOMMU_DOMAIN_PAGING (1U << 0)

struct iommu_domain_geometry {
	dma_addr_t aperture_start;
	dma_addr_t aperture_end;
	bool force_aperture;
};

struct iommu_domain;
struct iommu_iotlb_gather;
struct iommu_dirty_bitmap;

/* The domain ops generic_pt's users fill (IOMMU_PT_DOMAIN_OPS) and the core calls. */
struct iommu_domain_ops {
	phys_addr_t (*iova_to_phys)(struct iommu_domain *domain, dma_addr_t iova);
	int (*read_and_clear_dirty)(struct iommu_domain *domain, unsigned long iova, size_t size,
				    unsigned long flags, struct iommu_dirty_bitmap *dirty);
	void (*iotlb_sync)(struct iommu_domain *domain, struct iommu_iotlb_gather *gather);
	void (*flush_iotlb_all)(struct iommu_domain *domain);
};

struct iommu_domain {
	unsigned int type;
	const struct iommu_domain_ops *ops;
	unsigned long pgsize_bitmap;
	struct iommu_domain_geometry geometry;
	bool is_iommupt;
};

struct iommu_pages_list { struct list_head pages; };
#define IOMMU_PAGES_LIST_INIT(name) { .pages = LIST_HEAD_INIT(name.pages) }

struct iommu_iotlb_gather {
	unsigned long start;
	unsigned long end; /* inclusive */
	size_t pgsize;
	struct iommu_pages_list freelist;
	bool queued; /* a flush queue will flush everything later (dma_fq) */
	struct { u8 leaf_levels_bitmap, table_levels_bitmap; } pt;
};

struct iommu_dirty_bitmap { void *bitmap; struct iommu_iotlb_gather *gather; };
#define iova_bitmap_set(bitmap, iova, len) ((void)(bitmap), (void)(iova), (void)(len))

static inline void iommu_iotlb_gather_init(struct iommu_iotlb_gather *g)
{
	*g = (struct iommu_iotlb_gather){ .start = ULONG_MAX, .freelist = IOMMU_PAGES_LIST_INIT(g->freelist) };
}

static inline bool iommu_iotlb_gather_queued(struct iommu_iotlb_gather *g)
{
	return g && g->queued;
}

/* include/linux/iommu.h, 7.2: a gap between the gathered range and the new one. */
static inline bool iommu_iotlb_gather_is_disjoint(struct iommu_iotlb_gather *g, unsigned long iova, size_t size)
{
	unsigned long start = iova, end = start + size - 1;

	return g->end != 0 && (end + 1 < g->start || start > g->end + 1);
}

static inline void iommu_iotlb_gather_add_range(struct iommu_iotlb_gather *g, unsigned long iova, size_t size)
{
	unsigned long end = iova + size - 1;

	if (g->start > iova)
		g->start = iova;
	if (g->end < end)
		g->end = end;
}

/* include/linux/iommu.h, 7.2: the driver's iotlb_sync only for a non-empty range. */
static inline void iommu_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *g)
{
	if (domain->ops->iotlb_sync && likely(g->start < g->end))
		domain->ops->iotlb_sync(domain, g);
	iommu_iotlb_gather_init(g);
}

/* ---- drivers/iommu/iommu-pages.h, replaced (see the top of this file) ---- */
#define __IOMMU_PAGES_H
void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size);
void iommu_free_pages(void *virt);
void iommu_put_pages_list(struct iommu_pages_list *list);
void iommu_pages_list_add(struct iommu_pages_list *list, void *virt);
static inline void iommu_pages_list_splice(struct iommu_pages_list *from, struct iommu_pages_list *to)
{
	list_splice(&from->pages, &to->pages);
}
static inline bool iommu_pages_list_empty(struct iommu_pages_list *list)
{
	return list_empty(&list->pages);
}
/* The CONFIG_X86 flavour (clflush_cache_range()): memory is coherent here, so nothing to do.
 * The targets never ask for PT_FEAT_DMA_INCOHERENT; the KUnit suites do. */
static inline int iommu_pages_start_incoherent(void *virt, struct device *d) { (void)virt; (void)d; return 0; }
static inline int iommu_pages_start_incoherent_list(struct iommu_pages_list *l, struct device *d) { (void)l; (void)d; return 0; }
static inline void iommu_pages_flush_incoherent(struct device *d, void *v, size_t o, size_t l) { (void)d; (void)v; (void)o; (void)l; }
static inline void iommu_pages_stop_incoherent_list(struct iommu_pages_list *l, struct device *d) { (void)l; (void)d; }
static inline void iommu_pages_free_incoherent(void *virt, struct device *d) { (void)d; iommu_free_pages(virt); }

#endif /* GENPT_STUBS_H */
