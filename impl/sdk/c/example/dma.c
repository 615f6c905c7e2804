/*
 * A device access, translated the way the IOMMU would: through the PASID's domain when the
 * access carries one, else through the group's attached domain, else its default domain.
 * Strict invalidation: an unmapped page is unreachable the moment unmap returns, so there is
 * no IOTLB to model (dma_fq domains are strict too, since the model offers no `flush`).
 */
#include "model.h"

/* Linux identity domains pass the address through; beyond the output width we fault. */
static iommu_errno passthrough(uint64_t iova, int oas, struct iommu_dma_ok *ok)
{
	if (oas < 64 && iova >> oas)
		return IOMMU_FAULT;
	ok->has_phys = true;
	ok->phys = iova;
	return IOMMU_OK;
}

/* Read needs READ; a write-only page may be read too (write_only_read=allow, as on Arm
 * stage 1 and x86, which cannot encode write-only). Write needs WRITE. */
static bool permits(uint32_t prot, bool write)
{
	if (write)
		return prot & IOMMU_PROT_WRITE;
	return prot & (IOMMU_PROT_READ | IOMMU_PROT_WRITE);
}

static iommu_errno through(struct domain *d, uint64_t iova, bool write, struct iommu_dma_ok *ok)
{
	if (d->type == IOMMU_DOMAIN_IDENTITY)
		return passthrough(iova, d->oas, ok);
	struct pgtable *t = domain_table(d); /* NULL for blocked and sva domains */
	const struct leaf_run *run = t ? pgtable_find(t, iova) : NULL;
	if (!run || !permits(run->prot, write))
		return IOMMU_FAULT;
	ok->has_phys = true;
	ok->phys = run->paddr + (iova - run->iova);
	return IOMMU_OK;
}

iommu_errno model_dma(void *ctx, const struct iommu_dma_req *q, struct iommu_dma_ok *ok, iommu_reply *r)
{
	struct model *m = ctx;
	struct group *g = group_of_device(m, q->dev);
	if (!g)
		return IOMMU_ENODEV;
	if (q->pasid_of) {
		iommu_reply_msg(r, "this model has no SVA");
		return IOMMU_ENOSYS;
	}
	if (q->has_pasid) {
		/* A PASID nothing is attached at reaches nothing, not even the default domain. */
		for (size_t i = 0; i < g->n_pasids; i++) {
			if (g->pasids[i].pasid == q->pasid)
				return through(g->pasids[i].domain, q->iova, q->write, ok);
		}
		return IOMMU_FAULT;
	}
	if (g->current)
		return through(g->current, q->iova, q->write, ok);
	/* The default domain: identity passes through; a dma default domain maps nothing the
	 * suite asked for, and blocked blocks. */
	if (g->default_domain == IOMMU_DOMAIN_IDENTITY)
		return passthrough(q->iova, m->topo->iommus[g->iommu].oas, ok);
	return IOMMU_FAULT;
}
