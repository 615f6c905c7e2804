/* Memory for one request at a time: a bump allocator freed in one go after the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Most requests are a few hundred bytes; a topology a few KiB. */
#define CHUNK_MIN 16384

struct sdk_chunk {
	struct sdk_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *sdk_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("iommu_sdk: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

void *sdk_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("iommu_sdk: out of memory\n", stderr);
		exit(1);
	}
	return q;
}

void *arena_alloc(struct sdk_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	size_t need = (n + align - 1) / align * align;
	if (need < n) { /* size_t wrap: only a corrupt caller gets here */
		fputs("iommu_sdk: out of memory\n", stderr);
		exit(1);
	}
	struct sdk_chunk *c = a->head;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
		c = sdk_xmalloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		/* A big chunk goes behind the current one so small allocations keep filling it. */
		if (a->head && cap > CHUNK_MIN) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = (char *)c->data + c->used;
	c->used += need;
	return p;
}

char *arena_strndup(struct sdk_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void arena_reset(struct sdk_arena *a)
{
	struct sdk_chunk *keep = NULL;
	for (struct sdk_chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		if (!keep && c->cap == CHUNK_MIN) {
			keep = c;
			continue;
		}
		free(c);
	}
	if (keep) {
		keep->used = 0;
		keep->next = NULL;
	}
	a->head = keep;
}

void arena_free(struct sdk_arena *a)
{
	for (struct sdk_chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}
