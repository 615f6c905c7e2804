/*
 * tlb-ops.h - the driver-side TLB maintenance of the model (tlb.c), for kernel-side units that
 * see struct iommu_flush_ops and struct iommu_iotlb_gather. The cookie of every callback is the
 * domain's struct model_tlb.
 */
#ifndef MODEL_TLB_OPS_H
#define MODEL_TLB_OPS_H

#include <linux/io-pgtable.h>

#include "tlb.h"

extern const struct iommu_flush_ops model_flush_ops;

/* iommu_iotlb_gather_init() */
void model_gather_init(struct iommu_iotlb_gather *gather);
/* iommu_iotlb_gather_add_page() */
void model_gather_add_page(struct model_tlb *t, struct iommu_iotlb_gather *gather, unsigned long iova, size_t size);
/* iommu_iotlb_sync(): the driver's iotlb_sync, then the gather starts afresh. */
void model_iotlb_sync(struct model_tlb *t, struct iommu_iotlb_gather *gather);

#endif /* MODEL_TLB_OPS_H */
