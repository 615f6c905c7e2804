/*
 * fmt-vtdss.c - generic_pt's VT-d second-stage format (drivers/iommu/generic_pt/fmt/
 * iommu_vtdss.c, compiled unchanged into this unit), configured as intel/iommu.c
 * intel_iommu_domain_alloc_second_stage() configures it, with its device-side walk.
 */
#include "fmt/iommu_vtdss.c" /* from .cache/linux/sid/src/drivers/iommu/generic_pt */

/* VT-d second-stage entries: R and W are independent permissions. */
static void fmt_leaf_perm(const struct pt_state *pts, bool *r, bool *w)
{
	*r = pts->entry & VTDSS_FMT_R;
	*w = pts->entry & VTDSS_FMT_W;
}

#include "fmt-walk.h"
#include "genpt-target.h"

/*
 * intel_iommu_domain_alloc_second_stage(): FLUSH_RANGE (coherent paging structures, not a
 * nest parent), hw_max_oasz_lg2 = 52, and compute_vasz_lg2_ss() for an IOMMU whose MGAW is
 * va_bits and whose SAGAW has the matching walk: 5 levels above 48 bits, 4 above 39, else 3.
 * The caller's page sizes then narrow the bitmap as cap_super_page_val() and
 * intel_iommu_superpage do (core.c).
 */
static int fmt_init(struct pt_iommu *table, unsigned int va_bits, unsigned int oa_bits)
{
	struct pt_iommu_vtdss_cfg cfg = {
		.common.features = BIT(PT_FEAT_FLUSH_RANGE),
		.common.hw_max_vasz_lg2 = va_bits,
		.common.hw_max_oasz_lg2 = oa_bits,
		.top_level = va_bits > 48 ? 4 : va_bits > 39 ? 3 : 2,
	};

	return pt_iommu_vtdss_init(container_of(table, struct pt_iommu_vtdss, iommu), &cfg, GFP_KERNEL);
}

const struct genpt_format genpt_format = {
	.name = "vtdss",
	.table_size = sizeof(struct pt_iommu_vtdss),
	.init = fmt_init,
	.top = fmt_top,
	.iova_to_phys = pt_iommu_vtdss_iova_to_phys,
	.walk = fmt_walk,
};

/* vtdss.h vtdss_pt_iommu_set_prot(): R only for IOMMU_READ, W only for IOMMU_WRITE, so a
 * write-only leaf has W without R and a read through it faults. */
const struct genpt_target genpt_target = {
	.format = "vtdss",
	.write_only_read = "fault",
};
