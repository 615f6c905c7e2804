/*
 * kunit-main.c - runs generic_pt's own KUnit suites (kunit_generic_pt.h, kunit_iommu_pt.h of
 * one format, compiled unchanged with -DGENERIC_PT_KUNIT and CONFIG_DEBUG_GENERIC_PT as the
 * kernel's .kunitconfig builds them) in userspace: the KUnit shim's runner, the 7.2 core calls
 * the tests make, and the maple tree test_random_map() keeps its ranges in. Prints one line per
 * case and a summary "kunit: <fmt>: P passed, F failed, S skipped"; exit status 1 on a failure.
 */
#include <stdarg.h>

#include <linux/generic_pt/iommu.h>

#include "kunit-shim.h"

/* ---- the runner ---- */

static struct kunit_suite *suites[8];
static int n_suites;

void kunit_register(struct kunit_suite *suite)
{
	if (n_suites < (int)ARRAY_SIZE(suites))
		suites[n_suites++] = suite;
}

static void vrecord(struct kunit *test, const char *file, int line, const char *fmt, va_list ap)
{
	const char *base = strrchr(file, '/');
	int n = snprintf(test->why, sizeof(test->why), "%s:%d: ", base ? base + 1 : file, line);

	if (n > 0 && (size_t)n < sizeof(test->why))
		vsnprintf(test->why + n, sizeof(test->why) - (size_t)n, fmt, ap);
}

void kunit_abort(struct kunit *test, enum kunit_status st, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(test, file, line, fmt, ap);
	va_end(ap);
	test->status = st;
	longjmp(test->abort, 1);
}

void kunit_fail(struct kunit *test, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(test, file, line, fmt, ap);
	va_end(ap);
	test->status = KUNIT_FAILURE;
}

static u64 rng_state = 0x9e3779b97f4a7c15ULL;

u64 get_random_u64(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int counts[3];

static void run_one(struct kunit_suite *s, struct kunit_case *c, const void *param, const char *desc)
{
	struct kunit test = { .param_value = param };
	static const char *const names[] = { "ok", "FAIL", "skip" };

	if (setjmp(test.abort) == 0) {
		int ret = s->init ? s->init(&test) : 0;

		if (ret) {
			test.status = KUNIT_FAILURE;
			snprintf(test.why, sizeof(test.why), "init: errno %d", ret);
		} else {
			if (setjmp(test.abort) == 0)
				c->run_case(&test);
			if (s->exit && setjmp(test.abort) == 0)
				s->exit(&test);
		}
	}
	counts[test.status]++;
	printf("%-4s %s.%s%s%s%s%s\n", names[test.status], s->name, c->name, desc ? " " : "", desc ? desc : "",
	       test.status != KUNIT_SUCCESS ? ": " : "", test.status != KUNIT_SUCCESS ? test.why : "");
}

int main(int argc, char **argv)
{
	int i;

	for (i = 0; i < n_suites; i++) {
		struct kunit_case *c;

		for (c = suites[i]->test_cases; c->run_case; c++) {
			char desc[KUNIT_PARAM_DESC_SIZE];
			struct kunit gen = { 0 };
			const void *param = NULL;

			if (!c->generate_params) {
				run_one(suites[i], c, NULL, NULL);
				continue;
			}
			while ((param = c->generate_params(&gen, param, desc)))
				run_one(suites[i], c, param, desc);
		}
	}
	printf("kunit: %s: %d passed, %d failed, %d skipped\n", argc > 1 ? argv[1] : "generic_pt",
	       counts[KUNIT_SUCCESS], counts[KUNIT_FAILURE], counts[KUNIT_SKIPPED]);
	return counts[KUNIT_FAILURE] ? 1 : 0;
}

/* ---- 7.2 iommu.c for an iommupt domain ---- */

int iommu_map(struct iommu_domain *domain, unsigned long iova, phys_addr_t paddr, size_t size, int prot, gfp_t gfp)
{
	struct pt_iommu *pt = iommupt_from_domain(domain);
	size_t mapped = 0;
	int ret;

	if (WARN_ON_ONCE(!(domain->type & __IOMMU_DOMAIN_PAGING) || !domain->pgsize_bitmap || !pt))
		return -EINVAL;
	ret = pt->ops->map_range(pt, iova, paddr, size, (unsigned int)prot, gfp, &mapped);
	if (ret) {
		iommu_unmap(domain, iova, mapped);
		return ret;
	}
	return 0;
}

size_t iommu_unmap(struct iommu_domain *domain, unsigned long iova, size_t size)
{
	struct pt_iommu *pt = iommupt_from_domain(domain);
	struct iommu_iotlb_gather gather;
	size_t ret;

	if (WARN_ON_ONCE(!(domain->type & __IOMMU_DOMAIN_PAGING) || !domain->pgsize_bitmap || !pt))
		return 0;
	iommu_iotlb_gather_init(&gather);
	ret = pt->ops->unmap_range(pt, iova, size, &gather);
	iommu_iotlb_sync(domain, &gather);
	return ret;
}

phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	return domain->ops->iova_to_phys(domain, iova);
}

/* ---- the maple tree ---- */

void *mas_find(struct ma_state *mas, u64 max)
{
	struct maple_range *best = NULL;
	size_t i;

	if (mas->done)
		return NULL;
	for (i = 0; i < mas->tree->n; i++) {
		struct maple_range *r = &mas->tree->r[i];

		if (r->last >= mas->from && r->index <= max && (!best || r->index < best->index))
			best = r;
	}
	if (!best)
		return NULL;
	mas->index = best->index;
	mas->last = best->last;
	if (best->last == U64_MAX)
		mas->done = true;
	else
		mas->from = best->last + 1;
	return best->entry;
}

void mas_erase(struct ma_state *mas)
{
	struct maple_tree *mt = mas->tree;
	size_t i;

	for (i = 0; i < mt->n; i++)
		if (mt->r[i].index == mas->index) {
			mt->r[i] = mt->r[--mt->n];
			return;
		}
}

int mtree_insert_range(struct maple_tree *mt, u64 first, u64 last, void *entry, gfp_t gfp)
{
	size_t i;

	(void)gfp;
	for (i = 0; i < mt->n; i++)
		if (mt->r[i].index <= last && first <= mt->r[i].last)
			return -EEXIST;
	if (mt->n == mt->cap) {
		size_t cap = mt->cap ? 2 * mt->cap : 64;
		struct maple_range *r = realloc(mt->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		mt->r = r;
		mt->cap = cap;
	}
	mt->r[mt->n++] = (struct maple_range){ first, last, entry };
	return 0;
}

void mtree_destroy(struct maple_tree *mt)
{
	free(mt->r);
	*mt = (struct maple_tree){ 0 };
}
