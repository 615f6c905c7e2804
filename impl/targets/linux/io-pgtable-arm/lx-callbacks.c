/*
 * lx-callbacks.c - the C SDK callbacks of the Linux targets (io-pgtable-arm, generic_pt): each
 * request goes to the core layer behind core.h (one per target) and to system.c's groups and
 * attachments; kernel errnos become the protocol's. The adapters differ only in what they
 * declare (policies, capabilities, topologies) and in their main().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu_sdk.h"

#include "core.h"
#include "lx-callbacks.h"
#include "system.h"

static struct sys sys;

static iommu_errno from_errno(int e, iommu_reply *r)
{
	switch (-e) {
	case 0: return IOMMU_OK;
	case EINVAL: return IOMMU_EINVAL;
	case EEXIST: return IOMMU_EEXIST;
	case ENOMEM: return IOMMU_ENOMEM;
	case ERANGE: return IOMMU_ERANGE;
	case EADDRINUSE: return IOMMU_EADDRINUSE;
	case EOVERFLOW: return IOMMU_EOVERFLOW;
	case EOPNOTSUPP: return IOMMU_EOPNOTSUPP;
	case ENODEV: return IOMMU_ENODEV;
	case EFAULT: return IOMMU_EFAULT;
	default:
		iommu_reply_msg(r, "errno %d", -e);
		return IOMMU_EIO;
	}
}

static enum lx_domain_type lx_type(iommu_domain_type t)
{
	switch (t) {
	case IOMMU_DOMAIN_BLOCKED: return LX_BLOCKED;
	case IOMMU_DOMAIN_IDENTITY: return LX_IDENTITY;
	case IOMMU_DOMAIN_DMA: return LX_DMA;
	case IOMMU_DOMAIN_DMA_FQ: return LX_DMA_FQ;
	default: return LX_UNMANAGED;
	}
}

static iommu_errno device(const char *name, size_t *out, iommu_reply *r)
{
	long i = iommu_topology_device(sys.topo, name);

	if (i < 0) {
		iommu_reply_msg(r, "no device %s", name);
		return IOMMU_ENODEV;
	}
	*out = (size_t)i;
	return IOMMU_OK;
}

static iommu_errno do_reset(void *ctx, const struct iommu_topology *t, iommu_reply *r)
{
	(void)ctx;
	(void)r;
	lx_fail_nth(0);
	sys_reset(&sys, t);
	return IOMMU_OK;
}

static iommu_errno do_domain_alloc(void *ctx, const struct iommu_domain_alloc_req *q, struct iommu_domain_alloc_ok *ok, iommu_reply *r)
{
	const struct iommu_topo_iommu *m;
	struct lx_domain *lx;
	uint64_t want, got;
	size_t dev, iommu;
	iommu_errno e;
	int err;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	iommu = sys.topo->groups[sys.topo->devices[dev].group].iommu;
	m = &sys.topo->iommus[iommu];
	if (!(m->domain_types & (1u << q->type))) {
		iommu_reply_msg(r, "%s cannot allocate %s domains", m->name, iommu_domain_type_name(q->type));
		return IOMMU_EOPNOTSUPP;
	}
	want = q->has_pgsizes ? q->pgsizes : m->pgsizes;
	if (iommu_domain_type_is_paging(q->type) && (want == 0 || (want & ~m->pgsizes))) {
		iommu_reply_msg(r, "page sizes 0x%llx are not a subset of 0x%llx", (unsigned long long)want, (unsigned long long)m->pgsizes);
		return IOMMU_EINVAL;
	}
	err = lx_domain_alloc(lx_type(q->type), m->format, m->pgsizes, want, m->ias, m->oas, &lx, &got);
	if (err)
		return from_errno(err, r);
	sys_add_domain(&sys, q->domain, q->type, iommu, lx, got);
	if (iommu_domain_type_is_paging(q->type)) {
		ok->has_pgsizes = true;
		ok->pgsizes = got;
	}
	return IOMMU_OK;
}

static iommu_errno do_domain_free(void *ctx, const struct iommu_domain_free_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_free_domain(&sys, d, r);
}

static iommu_errno do_attach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)) || (e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_attach(&sys, dev, d, r);
}

static iommu_errno do_detach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	struct sys_domain *d = NULL;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	/* Detaching a freed or unknown domain changes nothing, as detaching a non-current one. */
	(void)sys_domain(&sys, q->domain, &d, r);
	sys_detach(&sys, dev, d);
	return IOMMU_OK;
}

static iommu_errno do_attach_pasid(void *ctx, const struct iommu_attach_pasid_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)) || (e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_attach_pasid(&sys, dev, d, q->pasid, r);
}

static iommu_errno do_detach_pasid(void *ctx, const struct iommu_detach_pasid_req *q, iommu_reply *r)
{
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	sys_detach_pasid(&sys, dev, q->pasid);
	return IOMMU_OK;
}

static iommu_errno do_map(void *ctx, const struct iommu_map_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return from_errno(lx_map(d->lx, q->iova, q->paddr, q->size, q->prot), r);
}

static iommu_errno do_unmap(void *ctx, const struct iommu_unmap_req *q, struct iommu_unmap_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->unmapped = lx_unmap(d->lx, q->iova, q->size);
	return IOMMU_OK;
}

static iommu_errno do_iova_to_phys(void *ctx, const struct iommu_iova_to_phys_req *q, struct iommu_iova_to_phys_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->phys = lx_iova_to_phys(d->lx, q->iova);
	return IOMMU_OK;
}

/* Passthrough reaches the IOVA itself, as far as the output address width goes. */
static iommu_errno passthrough(size_t iommu, uint64_t iova, struct iommu_dma_ok *ok)
{
	int oas = sys.topo->iommus[iommu].oas;

	if (oas < 64 && (iova >> oas) != 0)
		return IOMMU_FAULT;
	ok->has_phys = true;
	ok->phys = iova;
	return IOMMU_OK;
}

static iommu_errno do_dma(void *ctx, const struct iommu_dma_req *q, struct iommu_dma_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev, g;
	uint64_t phys;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	if (q->pasid_of) {
		iommu_reply_msg(r, "no PASID allocator or SVA here (pasidOf)");
		return IOMMU_EINVAL;
	}
	if ((e = sys_route(&sys, dev, q->has_pasid, q->pasid, &d)))
		return e;
	g = sys.topo->devices[dev].group;
	if (!d) /* the group's default domain: identity passes through, dma and blocked map nothing */
		return sys.topo->groups[g].default_domain == IOMMU_DOMAIN_IDENTITY ? passthrough(sys.topo->groups[g].iommu, q->iova, ok) : IOMMU_FAULT;
	switch (lx_domain_type(d->lx)) {
	case LX_IDENTITY:
		return passthrough(sys.topo->groups[g].iommu, q->iova, ok);
	case LX_BLOCKED:
		return IOMMU_FAULT;
	default:
		if (lx_translate(d->lx, q->iova, q->write, &phys))
			return IOMMU_FAULT;
		ok->has_phys = true;
		ok->phys = phys;
		return IOMMU_OK;
	}
}

static iommu_errno do_flush(void *ctx, const struct iommu_flush_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	lx_flush(d->lx);
	return IOMMU_OK;
}

/* Leaves come one by one from the walk; consecutive ones of one size make one run. */
struct runs {
	iommu_reply *r;
	uint64_t iova, pgsize, count;
	iommu_errno err;
};

static bool flush_run(struct runs *x)
{
	if (x->count && !x->err)
		x->err = iommu_reply_leaf(x->r, x->iova, x->pgsize, x->count);
	x->count = 0;
	return !x->err;
}

static bool add_leaf(void *arg, uint64_t iova, uint64_t pgsize)
{
	struct runs *x = arg;

	if (x->count && pgsize == x->pgsize && iova == x->iova + x->count * x->pgsize) {
		x->count++;
		return true;
	}
	if (!flush_run(x))
		return false;
	x->iova = iova;
	x->pgsize = pgsize;
	x->count = 1;
	return true;
}

static iommu_errno do_leaves(void *ctx, const struct iommu_leaves_req *q, iommu_reply *r)
{
	struct runs x = { .r = r };
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	lx_leaves(d->lx, q->iova, q->size, add_leaf, &x);
	flush_run(&x);
	return x.err;
}

static iommu_errno do_pt_pages(void *ctx, const struct iommu_pt_pages_req *q, struct iommu_pt_pages_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->pages = lx_pt_pages(d->lx);
	return IOMMU_OK;
}

static iommu_errno do_fail_nth(void *ctx, const struct iommu_fail_nth_req *q, iommu_reply *r)
{
	(void)ctx;
	(void)r;
	lx_fail_nth((long)q->n);
	return IOMMU_OK;
}

static void do_destroy(void *ctx)
{
	(void)ctx;
	sys_destroy(&sys);
}

void lx_set_callbacks(struct iommu_model *m)
{
	m->reset = do_reset;
	m->domain_alloc = do_domain_alloc;
	m->domain_free = do_domain_free;
	m->attach = do_attach;
	m->detach = do_detach;
	m->attach_pasid = do_attach_pasid;
	m->detach_pasid = do_detach_pasid;
	m->map = do_map;
	m->unmap = do_unmap;
	m->iova_to_phys = do_iova_to_phys;
	m->dma = do_dma;
	m->flush = do_flush;
	m->leaves = do_leaves;
	m->pt_pages = do_pt_pages;
	m->fail_nth = do_fail_nth;
	m->destroy = do_destroy;
}
