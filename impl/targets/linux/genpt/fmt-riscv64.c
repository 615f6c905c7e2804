/*
 * fmt-riscv64.c - generic_pt's RISC-V Sv39/48/57 format (drivers/iommu/generic_pt/fmt/
 * iommu_riscv64.c, compiled unchanged into this unit), configured as riscv/iommu.c
 * riscv_iommu_alloc_paging_domain() configures it, with its device-side walk.
 */
#include "fmt/iommu_riscv64.c" /* from .cache/linux/sid/src/drivers/iommu/generic_pt */

/* RISC-V PTE R and W (W without R is reserved; set_prot never makes it). */
static void fmt_leaf_perm(const struct pt_state *pts, bool *r, bool *w)
{
	*r = pts->entry & RISCVPT_R;
	*w = pts->entry & RISCVPT_W;
}

#include "fmt-walk.h"
#include "genpt-target.h"

/*
 * riscv_iommu_alloc_paging_domain(): SIGN_EXTEND, FLUSH_RANGE, SVNAPOT_64K, DETAILED_GATHER
 * (no Svpbmt), hw_max_vasz_lg2 39/48/57 from the Sv modes, hw_max_oasz_lg2 = 56.
 * The table is sign-extended: the suite's topology gives the width of the lower canonical
 * half (ias 38/47/56), the hardware mode is one bit wider.
 */
static int fmt_init(struct pt_iommu *table, unsigned int va_bits, unsigned int oa_bits)
{
	struct pt_iommu_riscv_64_cfg cfg = {
		.common.features = BIT(PT_FEAT_SIGN_EXTEND) | BIT(PT_FEAT_FLUSH_RANGE) |
				   BIT(PT_FEAT_RISCV_SVNAPOT_64K) | BIT(PT_FEAT_DETAILED_GATHER),
		.common.hw_max_vasz_lg2 = va_bits + 1,
		.common.hw_max_oasz_lg2 = oa_bits,
	};

	return pt_iommu_riscv_64_init(container_of(table, struct pt_iommu_riscv_64, iommu), &cfg, GFP_KERNEL);
}

const struct genpt_format genpt_format = {
	.name = "riscv64",
	.table_size = sizeof(struct pt_iommu_riscv_64),
	.init = fmt_init,
	.top = fmt_top,
	.iova_to_phys = pt_iommu_riscv_64_iova_to_phys,
	.walk = fmt_walk,
};

/* riscv.h riscvpt_iommu_set_prot(): IOMMU_WRITE sets W and R, so a write-only map is
 * readable. */
const struct genpt_target genpt_target = {
	.format = "riscv64",
	.write_only_read = "allow",
};
