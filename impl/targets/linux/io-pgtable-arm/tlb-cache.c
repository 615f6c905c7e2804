/*
 * tlb-cache.c - the model TLB's cache itself (tlb.h): fill, look up, invalidate. No kernel
 * header: every target's driver side (tlb.c for io-pgtable-arm, genpt's genpt-tlb.c) shares it.
 */
#include <stddef.h>

#include "tlb.h"

void tlb_init(struct model_tlb *t)
{
	t->n = 0;
	t->next = 0;
}

const struct tlb_entry *tlb_lookup(const struct model_tlb *t, uint64_t iova)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (iova - t->e[i].base < t->e[i].size)
			return &t->e[i];
	return NULL;
}

void tlb_fill(struct model_tlb *t, const struct tlb_entry *e)
{
	if (t->n < MODEL_TLB_ENTRIES) {
		t->e[t->n++] = *e;
		return;
	}
	t->e[t->next] = *e;
	t->next = (t->next + 1) % MODEL_TLB_ENTRIES;
}

void tlb_invalidate(struct model_tlb *t, uint64_t start, uint64_t size, uint64_t leaf_size)
{
	uint64_t last = start + (size - 1);
	int i = 0;

	if (size == 0)
		return;
	while (i < t->n) {
		const struct tlb_entry *e = &t->e[i];
		bool overlaps = e->base <= last && start <= e->base + (e->size - 1);

		if (overlaps && (leaf_size == 0 || e->size == leaf_size)) {
			t->e[i] = t->e[--t->n];
			if (t->next > t->n)
				t->next = 0;
		} else {
			i++;
		}
	}
}

void tlb_invalidate_all(struct model_tlb *t)
{
	tlb_init(t);
}
