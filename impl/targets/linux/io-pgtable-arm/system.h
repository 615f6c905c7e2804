/*
 * system.h - the modelled machine around the page tables: SMMU instances, groups and their
 * current domains, devices, PASID attachments and the domain handles the suite chose. It is
 * the core's group logic (iommu_attach_group(), iommu_detach_group(), the PASID array),
 * written from the rules; the page tables themselves are io-pgtable-arm's (core.h).
 */
#ifndef LX_SYSTEM_H
#define LX_SYSTEM_H

#include "iommu_sdk.h"

#include "core.h"

struct sys_domain {
	char *handle;
	iommu_domain_type type;
	size_t iommu;           /* the instance it was allocated on */
	struct lx_domain *lx;   /* NULL once freed */
	uint64_t pgsizes;
	int groups;             /* groups whose current domain it is */
	int pasids;             /* PASID attachments */
};

struct sys_pasid { int64_t pasid; struct sys_domain *domain; };

struct sys_group {
	struct sys_domain *current; /* NULL: the group's default domain */
	struct sys_pasid *pasids;
	size_t n_pasids;
};

struct sys {
	const struct iommu_topology *topo;
	struct sys_group *groups;    /* one per topology group */
	size_t n_groups;             /* kept: the old topology is gone by the next reset */
	struct sys_domain **domains; /* every handle ever allocated, freed ones included */
	size_t n_domains, cap_domains;
};

void sys_reset(struct sys *s, const struct iommu_topology *t);
void sys_destroy(struct sys *s);

/* The live domain with this handle: ENOENT (with a msg) for unknown or freed handles. */
iommu_errno sys_domain(struct sys *s, const char *handle, struct sys_domain **out, iommu_reply *r);
/* Registers a new live domain (the handle is copied). */
struct sys_domain *sys_add_domain(struct sys *s, const char *handle, iommu_domain_type type, size_t iommu,
				  struct lx_domain *lx, uint64_t pgsizes);
/* domain_free: EBUSY while a group or PASID uses it. */
iommu_errno sys_free_domain(struct sys *s, struct sys_domain *d, iommu_reply *r);

iommu_errno sys_attach(struct sys *s, size_t dev, struct sys_domain *d, iommu_reply *r);
void sys_detach(struct sys *s, size_t dev, const struct sys_domain *d);
iommu_errno sys_attach_pasid(struct sys *s, size_t dev, struct sys_domain *d, int64_t pasid, iommu_reply *r);
void sys_detach_pasid(struct sys *s, size_t dev, int64_t pasid);

/* Where a device access goes: the domain (NULL for the group's default domain), or FAULT
 * when it carries a PASID nothing is attached at. */
iommu_errno sys_route(struct sys *s, size_t dev, bool has_pasid, int64_t pasid, struct sys_domain **out);

#endif /* LX_SYSTEM_H */
