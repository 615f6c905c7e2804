/*
 * Attaching domains to groups (the unit of isolation) and to PASIDs, as the Linux core does:
 * one caller-attached domain per group (detach first: EBUSY), a domain only behind an IOMMU
 * that can walk it (ATT-COMPAT), and one hardware context per paging domain per IOMMU, with
 * every dma default domain holding one for good (ATT-SPACE, seed 001).
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Domains that occupy a hardware context while attached; identity and blocked need none. */
static bool needs_context(const struct domain *d)
{
	return d->has_table || d->type == IOMMU_DOMAIN_NESTED;
}

static bool attached_behind(const struct model *m, const struct domain *d, size_t iommu)
{
	for (size_t i = 0; i < m->topo->n_groups; i++) {
		if (m->groups[i].current == d && m->groups[i].iommu == iommu)
			return true;
	}
	return false;
}

static int64_t contexts_in_use(const struct model *m, size_t iommu)
{
	int64_t used = 0;
	for (size_t i = 0; i < m->topo->n_groups; i++) {
		if (m->groups[i].iommu == iommu && m->groups[i].default_domain == IOMMU_DOMAIN_DMA)
			used++;
	}
	for (size_t i = 0; i < m->n_domains; i++) {
		if (needs_context(m->domains[i]) && attached_behind(m, m->domains[i], iommu))
			used++;
	}
	return used;
}

/* Can `g`'s IOMMU use `d`? Same format, a type it has, its page sizes, and nothing mapped
 * beyond its input width. */
static bool compatible(const struct model *m, struct domain *d, const struct group *g)
{
	const struct iommu_topo_iommu *mmu = &m->topo->iommus[g->iommu];
	if (strcmp(d->format, mmu->format) != 0 || !(mmu->domain_types & (1u << d->type)))
		return false;
	if (needs_context(d) && (d->pgsizes & ~mmu->pgsizes))
		return false;
	struct pgtable *t = domain_table(d);
	if (t && t->n > 0 && mmu->ias < 64 && run_last(&t->runs[t->n - 1]) >> mmu->ias)
		return false;
	return true;
}

iommu_errno model_attach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	struct group *g = group_of_device(m, q->dev);
	if (!g)
		return IOMMU_ENODEV;
	if (d->type == IOMMU_DOMAIN_SVA) {
		iommu_reply_msg(r, "an SVA domain is reached through sva_bind, not attached");
		return IOMMU_EINVAL;
	}
	if (g->current) {
		iommu_reply_msg(r, "the group already has %s attached", g->current->handle);
		return IOMMU_EBUSY;
	}
	if (!compatible(m, d, g))
		return IOMMU_EINVAL;
	const struct iommu_topo_iommu *mmu = &m->topo->iommus[g->iommu];
	if (needs_context(d) && !attached_behind(m, d, g->iommu) && contexts_in_use(m, g->iommu) >= mmu->contexts) {
		iommu_reply_msg(r, "all %lld contexts of %s are in use", (long long)mmu->contexts, mmu->name);
		return IOMMU_ENOSPC;
	}
	g->current = d;
	d->groups++;
	/* Behind a narrower IOMMU the domain narrows, as VT-d does; it never widens again. */
	if (mmu->ias < d->ias)
		d->ias = mmu->ias;
	if (mmu->oas < d->oas)
		d->oas = mmu->oas;
	return IOMMU_OK;
}

iommu_errno model_detach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	(void)r;
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	struct group *g = group_of_device(m, q->dev);
	if (!g)
		return IOMMU_ENODEV;
	/* Detaching a domain that is not the group's is a no-op, as in Linux (void). */
	if (g->current == d) {
		g->current = NULL;
		d->groups--;
	}
	return IOMMU_OK;
}

static struct pasid_attachment *pasid_slot(struct group *g, int64_t pasid)
{
	for (size_t i = 0; i < g->n_pasids; i++) {
		if (g->pasids[i].pasid == pasid)
			return &g->pasids[i];
	}
	return NULL;
}

iommu_errno model_attach_pasid(void *ctx, const struct iommu_attach_pasid_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	struct domain *d = domain_find(m, q->domain);
	if (!d)
		return IOMMU_ENOENT;
	struct group *g = group_of_device(m, q->dev);
	if (!g)
		return IOMMU_ENODEV;
	long dev = iommu_topology_device(m->topo, q->dev);
	if (q->pasid == 0 || m->topo->devices[dev].max_pasids == 0) {
		iommu_reply_msg(r, "PASID 0 is the device's own address space, and PASIDs need max_pasids > 0");
		return IOMMU_EINVAL;
	}
	/* Every device of the group must be able to issue the PASID. */
	for (size_t i = 0; i < m->topo->n_devices; i++) {
		const struct iommu_topo_device *x = &m->topo->devices[i];
		if (&m->groups[x->group] == g && x->max_pasids > 0 && q->pasid >= x->max_pasids) {
			iommu_reply_msg(r, "PASID %lld is beyond %s's %lld", (long long)q->pasid, x->name, (long long)x->max_pasids);
			return IOMMU_EINVAL;
		}
	}
	if (d->type == IOMMU_DOMAIN_IDENTITY || d->type == IOMMU_DOMAIN_BLOCKED || !compatible(m, d, g))
		return IOMMU_EINVAL;
	if (pasid_slot(g, q->pasid))
		return IOMMU_EBUSY;
	if (g->n_pasids == g->cap_pasids) {
		size_t cap = g->cap_pasids ? g->cap_pasids * 2 : 4;
		struct pasid_attachment *grown = realloc(g->pasids, cap * sizeof(*grown));
		if (!grown)
			return IOMMU_ENOMEM;
		g->pasids = grown;
		g->cap_pasids = cap;
	}
	g->pasids[g->n_pasids++] = (struct pasid_attachment){ .pasid = q->pasid, .domain = d };
	d->pasid_uses++;
	return IOMMU_OK;
}

iommu_errno model_detach_pasid(void *ctx, const struct iommu_detach_pasid_req *q, iommu_reply *r)
{
	struct model *m = ctx;
	struct group *g = group_of_device(m, q->dev);
	if (!g)
		return IOMMU_ENODEV;
	struct pasid_attachment *a = pasid_slot(g, q->pasid);
	if (!a)
		return IOMMU_OK; /* nothing there: a no-op, as in Linux */
	if (a->domain->type == IOMMU_DOMAIN_SVA) {
		iommu_reply_msg(r, "an SVA domain at a PASID is undone by sva_unbind");
		return IOMMU_EINVAL;
	}
	a->domain->pasid_uses--;
	*a = g->pasids[--g->n_pasids];
	return IOMMU_OK;
}
