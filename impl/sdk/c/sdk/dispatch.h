/* Calling the model's callbacks and encoding what they answer. */
#ifndef IOMMU_SDK_DISPATCH_H
#define IOMMU_SDK_DISPATCH_H

#include <stdlib.h>

#include "internal.h"

union sdk_ok {
	struct iommu_domain_alloc_ok domain_alloc;
	struct iommu_unmap_ok unmap;
	struct iommu_iova_to_phys_ok iova_to_phys;
	struct iommu_dma_ok dma;
	struct iommu_pasid_alloc_ok pasid_alloc;
	struct iommu_pasid_put_ok pasid_put;
	struct iommu_pasid_find_ok pasid_find;
	struct iommu_sva_bind_ok sva_bind;
	struct iommu_pt_pages_ok pt_pages;
};

/* Runs the op's callback (ENOSYS when it is NULL) with `ok` zeroed. */
iommu_errno sdk_dispatch(const struct iommu_model *m, void *ctx, enum sdk_op op, const union sdk_request *q, union sdk_ok *ok, iommu_reply *r);
/* The `{...}` of a success reply: exactly the op's ok fields. */
void sdk_encode_ok(struct sdk_out *o, enum sdk_op op, const union sdk_ok *ok, const iommu_reply *r);

#endif /* IOMMU_SDK_DISPATCH_H */
