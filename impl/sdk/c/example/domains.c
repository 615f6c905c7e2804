/*
 * The system and its domains: reset to a topology, allocate and free domains, and the fail_nth
 * allocation counter. Handles name domains; a freed handle names nothing (ENOENT).
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void free_domains(struct model *m)
{
	for (size_t i = 0; i < m->n_domains; i++) {
		pgtable_free(&m->domains[i]->table);
		free(m->domains[i]->handle);
		free(m->domains[i]);
	}
	m->n_domains = 0;
}

static void free_groups(struct model *m)
{
	if (m->groups) {
		for (size_t i = 0; i < m->topo->n_groups; i++)
			free(m->groups[i].pasids);
	}
	free(m->groups);
	m->groups = NULL;
}

iommu_errno model_reset(void *ctx, const struct iommu_topology *t, iommu_reply *r)
{
	struct model *m = ctx;
	struct group *groups = calloc(t->n_groups ? t->n_groups : 1, sizeof(*groups));
	if (!groups) {
		iommu_reply_msg(r, "out of memory for %zu groups", t->n_groups);
		return IOMMU_ENOMEM;
	}
	free_domains(m);
	free_groups(m);
	m->topo = t;
	m->groups = groups;
	for (size_t i = 0; i < t->n_groups; i++) {
		groups[i].iommu = t->groups[i].iommu;
		groups[i].default_domain = t->groups[i].default_domain;
	}
	m->fail_in = 0;
	return IOMMU_OK;
}

void model_destroy(void *ctx)
{
	struct model *m = ctx;
	free_domains(m);
	free_groups(m);
	free(m->domains);
}

struct domain *domain_find(struct model *m, const char *handle)
{
	for (size_t i = 0; i < m->n_domains; i++) {
		if (strcmp(m->domains[i]->handle, handle) == 0)
			return m->domains[i];
	}
	return NULL;
}

struct group *group_of_device(struct model *m, const char *dev)
{
	long i = m->topo ? iommu_topology_device(m->topo, dev) : -1; /* nothing before reset */
	return i < 0 ? NULL : &m->groups[m->topo->devices[i].group];
}

struct pgtable *domain_table(struct domain *d)
{
	if (d->type == IOMMU_DOMAIN_NESTED)
		return d->parent ? &d->parent->table : NULL;
	return d->has_table ? &d->table : NULL;
}

bool model_may_allocate(struct model *m)
{
	if (m->fail_in == 0)
		return true;
	return --m->fail_in != 0;
}

iommu_errno model_fail_nth(void *ctx, const struct iommu_fail_nth_req *q, iommu_reply *r)
{
	(void)r;
	((struct model *)ctx)->fail_in = q->n;
	return IOMMU_OK;
}

iommu_errno model_domain_alloc(void *ctx, const struct iommu_domain_alloc_req *q, struct iommu_domain_alloc_ok *ok, iommu_reply *r)
{
	struct model *m = ctx;
	struct group *g = group_of_device(m, q->dev);
	if (!g) {
		iommu_reply_msg(r, "no device %s", q->dev);
		return IOMMU_ENODEV;
	}
	if (domain_find(m, q->domain)) {
		iommu_reply_msg(r, "handle %s is in use", q->domain);
		return IOMMU_EEXIST;
	}
	const struct iommu_topo_iommu *mmu = &m->topo->iommus[g->iommu];
	bool paging = iommu_domain_type_is_paging(q->type);
	if (!(mmu->domain_types & (1u << q->type))) {
		iommu_reply_msg(r, "%s cannot allocate %s domains", mmu->name, iommu_domain_type_name(q->type));
		return IOMMU_EOPNOTSUPP;
	}
	struct domain *parent = q->parent ? domain_find(m, q->parent) : NULL;
	if (q->type == IOMMU_DOMAIN_NESTED &&
	    (!parent || parent->type != IOMMU_DOMAIN_PAGING || strcmp(parent->format, mmu->format) != 0)) {
		iommu_reply_msg(r, "a nested domain needs a paging parent of format %s", mmu->format);
		return IOMMU_EINVAL;
	}
	/* A caller may restrict the page sizes to a non-empty subset of the hardware's (seed 000). */
	if (paging && q->has_pgsizes && (q->pgsizes == 0 || (q->pgsizes & ~mmu->pgsizes))) {
		iommu_reply_msg(r, "page sizes 0x%llx are not a subset of 0x%llx", (unsigned long long)q->pgsizes, (unsigned long long)mmu->pgsizes);
		return IOMMU_EINVAL;
	}

	if (m->n_domains == m->cap_domains) {
		size_t cap = m->cap_domains ? m->cap_domains * 2 : 16;
		struct domain **grown = realloc(m->domains, cap * sizeof(*grown));
		if (!grown)
			return IOMMU_ENOMEM;
		m->domains = grown;
		m->cap_domains = cap;
	}
	struct domain *d = model_may_allocate(m) ? calloc(1, sizeof(*d)) : NULL;
	char *handle = d ? malloc(strlen(q->domain) + 1) : NULL;
	if (!handle) {
		free(d);
		return IOMMU_ENOMEM;
	}
	d->handle = strcpy(handle, q->domain);
	d->type = q->type;
	d->format = mmu->format;
	d->pgsizes = q->type == IOMMU_DOMAIN_NESTED ? parent->pgsizes : paging && q->has_pgsizes ? q->pgsizes : mmu->pgsizes;
	d->ias = mmu->ias;
	d->oas = mmu->oas;
	d->has_table = paging;
	if (q->type == IOMMU_DOMAIN_NESTED) {
		d->parent = parent;
		parent->children++;
	}
	m->domains[m->n_domains++] = d;
	if (paging) {
		ok->has_pgsizes = true;
		ok->pgsizes = d->pgsizes;
	}
	return IOMMU_OK;
}

iommu_errno model_domain_free(void *ctx, const struct iommu_domain_free_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	for (size_t i = 0; i < m->n_domains; i++) {
		struct domain *d = m->domains[i];
		if (strcmp(d->handle, q->domain) != 0)
			continue;
		/* Still in use: attached, at a PASID, or the parent of a nested domain. */
		if (d->groups || d->pasid_uses || d->children) {
			iommu_reply_msg(r, "%s is in use (%d groups, %d PASIDs, %d nested)", d->handle, d->groups, d->pasid_uses, d->children);
			return IOMMU_EBUSY;
		}
		if (d->parent)
			d->parent->children--;
		pgtable_free(&d->table);
		free(d->handle);
		free(d);
		m->domains[i] = m->domains[--m->n_domains];
		return IOMMU_OK;
	}
	return IOMMU_ENOENT;
}
