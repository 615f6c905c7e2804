/*
 * A page table as a sorted array of leaf runs. A real table holds one entry per leaf; a run
 * stands for `count` equal leaves in a row, so a 1 GiB mapping of 4 KiB pages is one record
 * and not 262144. Lookups are binary searches; inserts and removals shift the array.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* How many runs start at or below `iova`: the index just past the candidate holding it. */
static size_t runs_upto(const struct pgtable *t, uint64_t iova)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->runs[mid].iova <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct leaf_run *pgtable_find(const struct pgtable *t, uint64_t iova)
{
	size_t i = runs_upto(t, iova);
	if (i == 0 || run_last(&t->runs[i - 1]) < iova)
		return NULL;
	return &t->runs[i - 1];
}

bool pgtable_overlaps(const struct pgtable *t, uint64_t iova, uint64_t last)
{
	/* Only the last run starting at or below `last` can reach into the range. */
	size_t i = runs_upto(t, last);
	return i > 0 && run_last(&t->runs[i - 1]) >= iova;
}

bool pgtable_reserve(struct pgtable *t)
{
	if (t->n < t->cap)
		return true;
	size_t cap = t->cap ? t->cap * 2 : 8;
	struct leaf_run *runs = realloc(t->runs, cap * sizeof(*runs));
	if (!runs)
		return false;
	t->runs = runs;
	t->cap = cap;
	return true;
}

bool pgtable_insert(struct pgtable *t, const struct leaf_run *run)
{
	if (!pgtable_reserve(t))
		return false;
	size_t i = runs_upto(t, run->iova);
	memmove(&t->runs[i + 1], &t->runs[i], (t->n - i) * sizeof(*run));
	t->runs[i] = *run;
	t->n++;
	return true;
}

/* The part of `r` from `from` to `to` (inclusive), both on its leaf boundaries. */
static struct leaf_run piece(const struct leaf_run *r, uint64_t from, uint64_t to)
{
	struct leaf_run p = *r;
	p.iova = from;
	p.paddr = r->paddr + (from - r->iova);
	p.count = (to - from) / r->pgsize + 1;
	return p;
}

void pgtable_remove(struct pgtable *t, uint64_t iova, uint64_t last)
{
	size_t i = runs_upto(t, iova);
	if (i > 0 && run_last(&t->runs[i - 1]) >= iova)
		i--; /* the run holding iova */
	size_t j = runs_upto(t, last); /* runs [i, j) intersect the range */
	if (i >= j)
		return;
	struct leaf_run keep[2];
	size_t n_keep = 0;
	if (t->runs[i].iova < iova)
		keep[n_keep++] = piece(&t->runs[i], t->runs[i].iova, iova - 1);
	if (run_last(&t->runs[j - 1]) > last)
		keep[n_keep++] = piece(&t->runs[j - 1], last + 1, run_last(&t->runs[j - 1]));
	/* Two pieces out of one run is the only growth; the caller reserved room for it. */
	memmove(&t->runs[i + n_keep], &t->runs[j], (t->n - j) * sizeof(*t->runs));
	memcpy(&t->runs[i], keep, n_keep * sizeof(*keep));
	t->n = t->n - (j - i) + n_keep;
}

void pgtable_free(struct pgtable *t)
{
	free(t->runs);
	t->runs = NULL;
	t->n = t->cap = 0;
}
