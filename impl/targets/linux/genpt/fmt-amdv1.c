/*
 * fmt-amdv1.c - generic_pt's AMD IOMMU v1 format (drivers/iommu/generic_pt/fmt/iommu_amdv1.c,
 * compiled unchanged into this unit), configured as amd/iommu.c
 * amd_iommu_domain_alloc_paging_v1() configures it, with its device-side walk.
 */
#include "fmt/iommu_amdv1.c" /* from .cache/linux/sid/src/drivers/iommu/generic_pt */

/* AMD I/O Virtualization spec, PTE IR/IW: read and write permission of the leaf. */
static void fmt_leaf_perm(const struct pt_state *pts, bool *r, bool *w)
{
	*r = pts->entry & AMDV1PT_FMT_IR;
	*w = pts->entry & AMDV1PT_FMT_IW;
}

#include "fmt-walk.h"
#include "genpt-target.h"

/*
 * amd_iommu_domain_alloc_paging_v1(): DYNAMIC_TOP (the table grows from starting_level 2 as
 * maps need it), ENCRYPT_TABLES and FORCE_COHERENCE, FLUSH_RANGE (a host IOMMU without
 * non-present caching: amd_iommu_np_cache is 0), hw_max_vasz_lg2 = amd_iommu_hpt_vasize,
 * hw_max_oasz_lg2 = 52.
 */
static int fmt_init(struct pt_iommu *table, unsigned int va_bits, unsigned int oa_bits)
{
	struct pt_iommu_amdv1_cfg cfg = {
		.common.features = BIT(PT_FEAT_DYNAMIC_TOP) | BIT(PT_FEAT_AMDV1_ENCRYPT_TABLES) |
				   BIT(PT_FEAT_AMDV1_FORCE_COHERENCE) | BIT(PT_FEAT_FLUSH_RANGE),
		.common.hw_max_vasz_lg2 = va_bits,
		.common.hw_max_oasz_lg2 = oa_bits,
		.starting_level = 2,
	};

	int ret = pt_iommu_amdv1_init(container_of(table, struct pt_iommu_amdv1, iommu), &cfg, GFP_KERNEL);

	/* "Narrow the supported page sizes to those selected by the kernel command line":
	 * amd_iommu_pgsize_bitmap, by default AMD_IOMMU_PGSIZES (amd_iommu_types.h). */
	table->domain.pgsize_bitmap &= GENMASK_ULL(51, 12) ^ SZ_512G;
	return ret;
}

const struct genpt_format genpt_format = {
	.name = "amdv1",
	.table_size = sizeof(struct pt_iommu_amdv1),
	.init = fmt_init,
	.top = fmt_top,
	.iova_to_phys = pt_iommu_amdv1_iova_to_phys,
	.walk = fmt_walk,
};

/* amdv1.h amdv1pt_iommu_set_prot(): IR only for IOMMU_READ, IW only for IOMMU_WRITE, so a
 * write-only leaf has IW without IR and the IOMMU refuses a read through it. */
const struct genpt_target genpt_target = {
	.format = "amdv1",
	.write_only_read = "fault",
};
