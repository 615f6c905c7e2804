/*
 * kunit-shim.h - the slice of KUnit that generic_pt's own tests (kunit_generic_pt.h,
 * kunit_iommu_pt.h) use, so they run in userspace unchanged as the targets' baseline
 * (kunit-main.c runs them). A failed assertion longjmps out of the case, as KUnit's abort does;
 * kunit_skip() likewise. Suites register themselves from a constructor.
 */
#ifndef GENPT_KUNIT_SHIM_H
#define GENPT_KUNIT_SHIM_H

#include <setjmp.h>

#include "genpt-stubs.h"

#define KUNIT_PARAM_DESC_SIZE 128
#define KUNIT_SUBSUBTEST_INDENT "        "

enum kunit_status { KUNIT_SUCCESS, KUNIT_FAILURE, KUNIT_SKIPPED };

struct kunit {
	void *priv;
	const void *param_value;
	enum kunit_status status;
	char why[512];
	jmp_buf abort;
};

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
	const void *(*generate_params)(struct kunit *test, const void *prev, char *desc);
};

struct kunit_suite {
	const char *name;
	int (*init)(struct kunit *test);
	void (*exit)(struct kunit *test);
	struct kunit_case *test_cases;
};

#define KUNIT_CASE(fn) { .run_case = fn, .name = #fn }
#define KUNIT_CASE_PARAM(fn, gen) { .run_case = fn, .name = #fn, .generate_params = gen }

void kunit_register(struct kunit_suite *suite);
#define kunit_test_suites(s) \
	static void __attribute__((constructor)) CONCATENATE(kunit_reg_, __LINE__)(void) { kunit_register(s); }

void __attribute__((noreturn, format(printf, 5, 6)))
kunit_abort(struct kunit *test, enum kunit_status st, const char *file, int line, const char *fmt, ...);
void __attribute__((format(printf, 4, 5)))
kunit_fail(struct kunit *test, const char *file, int line, const char *fmt, ...);

#define kunit_skip(test, fmt, ...) kunit_abort(test, KUNIT_SKIPPED, __FILE__, __LINE__, fmt, ##__VA_ARGS__)

/* Comparisons as u64 (every operand here is an integer, a pointer or a pt_vaddr_t). */
#define KUNIT_BINARY(test, a, op, b, fatal, fmt, ...) do {                                           \
		unsigned long long __a = (unsigned long long)(a), __b = (unsigned long long)(b);     \
		if (!(__a op __b)) {                                                                  \
			if (fatal)                                                                    \
				kunit_abort(test, KUNIT_FAILURE, __FILE__, __LINE__,                  \
					    "%s " #op " %s (0x%llx vs 0x%llx) " fmt, #a, #b, __a, __b,   \
					    ##__VA_ARGS__);                                           \
			else                                                                          \
				kunit_fail(test, __FILE__, __LINE__, "%s " #op " %s (0x%llx vs 0x%llx) " fmt, \
					   #a, #b, __a, __b, ##__VA_ARGS__);                          \
		}                                                                                     \
	} while (0)

#define KUNIT_ASSERT_EQ(test, a, b) KUNIT_BINARY(test, a, ==, b, true, "")
#define KUNIT_ASSERT_NE(test, a, b) KUNIT_BINARY(test, a, !=, b, true, "")
#define KUNIT_ASSERT_GE(test, a, b) KUNIT_BINARY(test, a, >=, b, true, "")
#define KUNIT_ASSERT_GT(test, a, b) KUNIT_BINARY(test, a, >, b, true, "")
#define KUNIT_ASSERT_LE(test, a, b) KUNIT_BINARY(test, a, <=, b, true, "")
#define KUNIT_ASSERT_EQ_MSG(test, a, b, fmt, ...) KUNIT_BINARY(test, a, ==, b, true, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_EQ(test, a, b) KUNIT_BINARY(test, a, ==, b, false, "")
#define KUNIT_ASSERT_TRUE(test, c) KUNIT_BINARY(test, !!(c), ==, 1, true, "")
#define KUNIT_ASSERT_FALSE(test, c) KUNIT_BINARY(test, !!(c), ==, 0, true, "")
#define KUNIT_ASSERT_MEMEQ(test, a, b, n) KUNIT_BINARY(test, memcmp(a, b, n), ==, 0, true, "")

static inline void *kunit_kzalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	(void)test;
	(void)gfp;
	return calloc(1, size);
}

static inline void kunit_kfree(struct kunit *test, void *p)
{
	(void)test;
	free(p);
}

static inline struct device *kunit_device_register(struct kunit *test, const char *name)
{
	static struct device dev;

	(void)test;
	(void)name;
	return &dev;
}
#define set_dev_node(dev, node) ((void)(dev), (void)(node))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define ALIGN(x, a) (((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))

/* Randomness: a fixed xorshift stream, so a baseline run is repeatable. */
u64 get_random_u64(void);
static inline u32 get_random_u32_below(u32 ceil) { return (u32)(get_random_u64() % ceil); }
static inline u32 get_random_u32_inclusive(u32 lo, u32 hi) { return lo + (u32)(get_random_u64() % ((u64)hi - lo + 1)); }
#define cond_resched() ((void)0)

/* Table pages allocated and not yet freed, all domains: NR_SECONDARY_PAGETABLE's count. */
enum node_stat_item { NR_SECONDARY_PAGETABLE };
extern long kstub_table_pages;
static inline unsigned long global_node_page_state(enum node_stat_item item)
{
	(void)item;
	return (unsigned long)kstub_table_pages;
}

#define SZ_2M 0x00200000UL
#define SZ_1G 0x40000000UL
#define SZ_2G 0x80000000UL
#define SZ_16G 0x400000000ULL
#define swap(a, b) do { __typeof__(a) __t = (a); (a) = (b); (b) = __t; } while (0)
#define spin_lock_init(l) ((void)(l))

/* The core's iommu_map()/iommu_unmap()/iommu_iova_to_phys() for an iommupt domain, as 7.2's
 * iommu.c runs them (kunit-main.c). */
int iommu_map(struct iommu_domain *domain, unsigned long iova, phys_addr_t paddr, size_t size, int prot, gfp_t gfp);
size_t iommu_unmap(struct iommu_domain *domain, unsigned long iova, size_t size);
phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova);

/* A maple tree as test_random_map() uses it: non-overlapping ranges, found in address order. */
#define MAPLE_RESERVED_RANGE 4096
#define XA_ZERO_ENTRY ((void *)0x406) /* any non-NULL marker */
struct maple_range { u64 index, last; void *entry; };
struct maple_tree { struct maple_range *r; size_t n, cap; };
struct ma_state { struct maple_tree *tree; u64 index, last; u64 from, max; bool done; };
#define MA_STATE(name, mt, first, end) struct ma_state name = { .tree = (mt), .from = (first), .max = (end) }
void *mas_find(struct ma_state *mas, u64 max);
void mas_erase(struct ma_state *mas);
#define mas_for_each(mas, entry, max) while (((entry) = mas_find((mas), (max))) != NULL)
#define mas_pause(mas) ((void)(mas))
#define mt_init(mt) (*(mt) = (struct maple_tree){ 0 })
#define mtree_lock(mt) ((void)(mt))
#define mtree_unlock(mt) ((void)(mt))
int mtree_insert_range(struct maple_tree *mt, u64 first, u64 last, void *entry, gfp_t gfp);
void mtree_destroy(struct maple_tree *mt);

#endif /* GENPT_KUNIT_SHIM_H */
