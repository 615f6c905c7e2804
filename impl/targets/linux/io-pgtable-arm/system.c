/*
 * system.c - groups, attachments and domain handles (system.h), after the Linux core:
 *   __iommu_attach_group()      a group already in a caller's domain answers EBUSY;
 *   iommu_detach_group()        back to the group's default domain, the domain keeps its maps;
 *   iommu_attach_device_pasid() PASID 0 or beyond any device's max_pasids: EINVAL, taken: EBUSY;
 * and arm-smmu-v3's per-instance limits: a domain attaches only behind an SMMU that can walk
 * its table (same format, its page sizes, at least its widths: a narrower one answers EINVAL,
 * as arm_smmu_attach_dev() does for a domain finalised elsewhere), and every attached paging
 * domain holds one of the instance's contexts (an ASID/context bank; ENOSPC when none is left).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "system.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("linux-io-pgtable-arm: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static bool needs_context(iommu_domain_type t)
{
	return iommu_domain_type_is_paging(t);
}

void sys_destroy(struct sys *s)
{
	size_t i;

	for (i = 0; i < s->n_domains; i++) {
		if (s->domains[i]->lx)
			lx_domain_free(s->domains[i]->lx);
		free(s->domains[i]->handle);
		free(s->domains[i]);
	}
	for (i = 0; i < s->n_groups; i++)
		free(s->groups[i].pasids);
	free(s->groups);
	free(s->domains);
	memset(s, 0, sizeof(*s));
}

void sys_reset(struct sys *s, const struct iommu_topology *t)
{
	sys_destroy(s);
	s->topo = t;
	s->n_groups = t->n_groups;
	s->groups = xrealloc(NULL, t->n_groups * sizeof(*s->groups));
	memset(s->groups, 0, t->n_groups * sizeof(*s->groups));
}

iommu_errno sys_domain(struct sys *s, const char *handle, struct sys_domain **out, iommu_reply *r)
{
	size_t i;

	for (i = 0; i < s->n_domains; i++) {
		if (strcmp(s->domains[i]->handle, handle) != 0)
			continue;
		if (!s->domains[i]->lx) {
			iommu_reply_msg(r, "domain %s was freed", handle);
			return IOMMU_ENOENT;
		}
		*out = s->domains[i];
		return IOMMU_OK;
	}
	iommu_reply_msg(r, "no domain %s", handle);
	return IOMMU_ENOENT;
}

struct sys_domain *sys_add_domain(struct sys *s, const char *handle, iommu_domain_type type, size_t iommu,
				  struct lx_domain *lx, uint64_t pgsizes)
{
	struct sys_domain *d = xrealloc(NULL, sizeof(*d));
	size_t len = strlen(handle) + 1;

	*d = (struct sys_domain){ .handle = memcpy(xrealloc(NULL, len), handle, len), .type = type, .iommu = iommu, .lx = lx, .pgsizes = pgsizes };
	if (s->n_domains == s->cap_domains) {
		s->cap_domains = s->cap_domains ? 2 * s->cap_domains : 16;
		s->domains = xrealloc(s->domains, s->cap_domains * sizeof(*s->domains));
	}
	s->domains[s->n_domains++] = d;
	return d;
}

iommu_errno sys_free_domain(struct sys *s, struct sys_domain *d, iommu_reply *r)
{
	(void)s;
	if (d->groups || d->pasids) {
		iommu_reply_msg(r, "domain %s is attached", d->handle);
		return IOMMU_EBUSY;
	}
	lx_domain_free(d->lx);
	d->lx = NULL;
	return IOMMU_OK;
}

static size_t group_of(const struct sys *s, size_t dev)
{
	return s->topo->devices[dev].group;
}

static size_t iommu_of_group(const struct sys *s, size_t g)
{
	return s->topo->groups[g].iommu;
}

/* Contexts in use on an instance: one per dma default domain, one per attached paging domain. */
static int64_t contexts_in_use(const struct sys *s, size_t iommu)
{
	int64_t used = 0;
	size_t g, i;

	for (g = 0; g < s->topo->n_groups; g++)
		if (iommu_of_group(s, g) == iommu && s->topo->groups[g].default_domain == IOMMU_DOMAIN_DMA)
			used++;
	for (i = 0; i < s->n_domains; i++) {
		const struct sys_domain *d = s->domains[i];

		if (!d->lx || !needs_context(d->type))
			continue;
		for (g = 0; g < s->topo->n_groups; g++)
			if (s->groups[g].current == d && iommu_of_group(s, g) == iommu) {
				used++;
				break;
			}
	}
	return used;
}

static bool held_on(const struct sys *s, const struct sys_domain *d, size_t iommu)
{
	size_t g;

	for (g = 0; g < s->topo->n_groups; g++)
		if (s->groups[g].current == d && iommu_of_group(s, g) == iommu)
			return true;
	return false;
}

static bool compatible(const struct sys *s, const struct sys_domain *d, size_t iommu)
{
	const struct iommu_topo_iommu *home = &s->topo->iommus[d->iommu], *m = &s->topo->iommus[iommu];

	if (strcmp(home->format, m->format) != 0 || !(m->domain_types & (1u << d->type)))
		return false;
	if (!iommu_domain_type_is_paging(d->type))
		return true;
	/* The table was built for its home instance's widths: walking it needs as many bits. */
	return (d->pgsizes & ~m->pgsizes) == 0 && home->ias <= m->ias && home->oas <= m->oas;
}

iommu_errno sys_attach(struct sys *s, size_t dev, struct sys_domain *d, iommu_reply *r)
{
	size_t g = group_of(s, dev), iommu = iommu_of_group(s, g);
	struct sys_group *grp = &s->groups[g];

	if (grp->current) {
		iommu_reply_msg(r, "group %s is attached to %s: detach first", s->topo->groups[g].name, grp->current->handle);
		return IOMMU_EBUSY;
	}
	if (!compatible(s, d, iommu)) {
		iommu_reply_msg(r, "domain %s cannot be used behind %s", d->handle, s->topo->iommus[iommu].name);
		return IOMMU_EINVAL;
	}
	if (needs_context(d->type) && !held_on(s, d, iommu) && contexts_in_use(s, iommu) >= s->topo->iommus[iommu].contexts) {
		iommu_reply_msg(r, "%s has no free context", s->topo->iommus[iommu].name);
		return IOMMU_ENOSPC;
	}
	grp->current = d;
	d->groups++;
	return IOMMU_OK;
}

void sys_detach(struct sys *s, size_t dev, const struct sys_domain *d)
{
	struct sys_group *grp = &s->groups[group_of(s, dev)];

	/* iommu_detach_device(): WARN_ON(domain != group->domain) and do nothing. */
	if (!d || grp->current != d)
		return;
	grp->current->groups--;
	grp->current = NULL;
}

iommu_errno sys_attach_pasid(struct sys *s, size_t dev, struct sys_domain *d, int64_t pasid, iommu_reply *r)
{
	size_t g = group_of(s, dev), i;
	struct sys_group *grp = &s->groups[g];

	if (pasid == 0 || s->topo->devices[dev].max_pasids == 0) {
		iommu_reply_msg(r, pasid == 0 ? "PASID 0 is IOMMU_NO_PASID" : "device has no PASIDs");
		return IOMMU_EINVAL;
	}
	for (i = 0; i < s->topo->n_devices; i++) {
		int64_t max = s->topo->devices[i].max_pasids;

		if (s->topo->devices[i].group == g && max > 0 && pasid >= max) {
			iommu_reply_msg(r, "PASID %lld is beyond device %s's %lld", (long long)pasid, s->topo->devices[i].name, (long long)max);
			return IOMMU_EINVAL;
		}
	}
	if (!iommu_domain_type_is_paging(d->type) || !compatible(s, d, iommu_of_group(s, g))) {
		iommu_reply_msg(r, "domain %s cannot be attached at a PASID here", d->handle);
		return IOMMU_EINVAL;
	}
	for (i = 0; i < grp->n_pasids; i++) {
		if (grp->pasids[i].pasid == pasid) {
			iommu_reply_msg(r, "PASID %lld is taken", (long long)pasid);
			return IOMMU_EBUSY;
		}
	}
	grp->pasids = xrealloc(grp->pasids, (grp->n_pasids + 1) * sizeof(*grp->pasids));
	grp->pasids[grp->n_pasids++] = (struct sys_pasid){ pasid, d };
	d->pasids++;
	return IOMMU_OK;
}

void sys_detach_pasid(struct sys *s, size_t dev, int64_t pasid)
{
	struct sys_group *grp = &s->groups[group_of(s, dev)];
	size_t i;

	for (i = 0; i < grp->n_pasids; i++) {
		if (grp->pasids[i].pasid == pasid) {
			grp->pasids[i].domain->pasids--;
			grp->pasids[i] = grp->pasids[--grp->n_pasids];
			return;
		}
	}
}

iommu_errno sys_route(struct sys *s, size_t dev, bool has_pasid, int64_t pasid, struct sys_domain **out)
{
	struct sys_group *grp = &s->groups[group_of(s, dev)];
	size_t i;

	if (!has_pasid) {
		*out = grp->current;
		return IOMMU_OK;
	}
	for (i = 0; i < grp->n_pasids; i++) {
		if (grp->pasids[i].pasid == pasid) {
			*out = grp->pasids[i].domain;
			return IOMMU_OK;
		}
	}
	return IOMMU_FAULT;
}
