/*
 * fmt-x86_64.c - generic_pt's x86-64 format (drivers/iommu/generic_pt/fmt/iommu_x86_64.c,
 * compiled unchanged into this unit) as the AMD IOMMU's v2 page table, configured as
 * amd/iommu.c amd_iommu_domain_alloc_paging_v2() configures it, with its device-side walk.
 */
#include "fmt/iommu_x86_64.c" /* from .cache/linux/sid/src/drivers/iommu/generic_pt */

/* x86 paging: a present entry is readable; R/W allows writes. */
static void fmt_leaf_perm(const struct pt_state *pts, bool *r, bool *w)
{
	*r = true;
	*w = pts->entry & X86_64_FMT_RW;
}

#include "fmt-walk.h"
#include "genpt-target.h"

/*
 * amd_iommu_domain_alloc_paging_v2(): X86_64_AMD_ENCRYPT_TABLES, FLUSH_RANGE (no np_cache),
 * no SIGN_EXTEND ("the top bit is removed ... compatible in both modes"): 4 levels at 47 bits,
 * or 5 levels at 56 bits when amd_iommu_gpt_level is PAGE_MODE_5_LEVEL; 52-bit output. No
 * narrowing of the page sizes after init.
 */
static int fmt_init(struct pt_iommu *table, unsigned int va_bits, unsigned int oa_bits)
{
	struct pt_iommu_x86_64_cfg cfg = {
		.common.features = BIT(PT_FEAT_X86_64_AMD_ENCRYPT_TABLES) | BIT(PT_FEAT_FLUSH_RANGE),
		.common.hw_max_vasz_lg2 = va_bits,
		.common.hw_max_oasz_lg2 = oa_bits,
		.top_level = va_bits > 47 ? 4 : 3,
	};

	return pt_iommu_x86_64_init(container_of(table, struct pt_iommu_x86_64, iommu), &cfg, GFP_KERNEL);
}

const struct genpt_format genpt_format = {
	.name = "x86_64",
	.table_size = sizeof(struct pt_iommu_x86_64),
	.init = fmt_init,
	.top = fmt_top,
	.iova_to_phys = pt_iommu_x86_64_iova_to_phys,
	.walk = fmt_walk,
};

/* x86_64.h x86_64_pt_iommu_set_prot(): there is no read bit, IOMMU_WRITE sets R/W: a
 * write-only map is readable. */
const struct genpt_target genpt_target = {
	.format = "x86_64",
	.write_only_read = "allow",
};
