/*
 * The example model's declaration: who it is, which legal variations of the Linux API it
 * follows (policies), which optional parts of the vocabulary it offers (capabilities), and
 * the callbacks. The SDK does the rest.
 *
 *   npx iommu-conformance run --adapter-cmd impl/sdk/c/build/example-model
 */
#include "model.h"

static const struct iommu_policy policies[] = {
	/* An unmap ending inside a large leaf removes the whole leaf (AMD, VT-d, iommupt). */
	{ "partial_unmap", "whole-leaf" },
	/* Mapping over a mapping fails with EEXIST, as io-pgtable-arm says it. */
	{ "overmap_errno", "EEXIST" },
	{ NULL, NULL },
};

static const struct iommu_capability capabilities[] = {
	{ "leaves", true },   /* the leaf runs of a mapping */
	{ "pt_pages", true }, /* page-table pages per domain */
	{ "fail_nth", true }, /* allocation failure injection */
	{ "dma_phys", true }, /* a DMA reports the physical address it reached */
	{ NULL, false },
};

static const struct iommu_model example = {
	.hello = {
		.name = "example-c-model",
		.version = "1.0.0",
		.profile = "linux",
		.policies = policies,
		.capabilities = capabilities,
	},
	.reset = model_reset,
	.domain_alloc = model_domain_alloc,
	.domain_free = model_domain_free,
	.attach = model_attach,
	.detach = model_detach,
	.attach_pasid = model_attach_pasid,
	.detach_pasid = model_detach_pasid,
	.map = model_map,
	.unmap = model_unmap,
	.iova_to_phys = model_iova_to_phys,
	.dma = model_dma,
	.leaves = model_leaves,
	.pt_pages = model_pt_pages,
	.fail_nth = model_fail_nth,
	.destroy = model_destroy,
};

int main(void)
{
	static struct model state;
	return iommu_sdk_main(&example, &state);
}
