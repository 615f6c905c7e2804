/*
 * v7s-walk.c - the table walker of an IOMMU with Arm short-descriptor (v7s) tables, as
 * arm-smmu's AArch32-S contexts and MediaTek's IOMMUs have. It compiles Linux's
 * io-pgtable-arm-v7s.c into this unit so that it reads PTEs with the kernel's own macros
 * (ARM_V7S_LVL_IDX, ARM_V7S_PTE_IS_VALID, ARM_V7S_PTE_IS_TABLE, arm_v7s_pte_is_cont,
 * iopte_to_paddr, ARM_V7S_ATTR_SHIFT). No MediaTek quirk is configured.
 */
/* First: it defines pr_fmt before its own includes. */
#include "drivers/iommu/io-pgtable-arm-v7s.c" /* from .cache/linux/<suite>/src (fetch-linux.sh) */

#include "fmt.h"

static struct lx_slot v7s_walk(struct io_pgtable_ops *ops, uint64_t iova)
{
	struct arm_v7s_io_pgtable *data = io_pgtable_ops_to_data(ops);
	struct io_pgtable_cfg *cfg = &data->iop.cfg;
	arm_v7s_iopte pte, *ptep = data->pgd;
	struct lx_slot s = { 0 };
	int lvl;

	/* The context's input range (TTBCR.T0SZ=0: 32 bits, or the IAS): beyond it, nothing. */
	if (iova >> cfg->ias) {
		s.base = 1ULL << cfg->ias;
		s.size = -s.base; /* up to 2^64 */
		return s;
	}
	for (lvl = 1; lvl <= 2; lvl++) {
		u64 span = ARM_V7S_BLOCK_SIZE(lvl);

		pte = READ_ONCE(ptep[ARM_V7S_LVL_IDX(iova, lvl, cfg)]);
		if (ARM_V7S_PTE_IS_VALID(pte) && ARM_V7S_PTE_IS_TABLE(pte, lvl)) {
			ptep = iopte_deref(pte, lvl, data);
			continue;
		}
		/* A supersection or large page is one entry repeated 16 times. */
		if (ARM_V7S_PTE_IS_VALID(pte) && arm_v7s_pte_is_cont(pte, lvl))
			span *= ARM_V7S_CONT_PAGES;
		s.base = iova & ~(span - 1);
		s.size = span;
		if (!ARM_V7S_PTE_IS_VALID(pte))
			return s;
		s.mapped = true;
		s.phys = iopte_to_paddr(pte, lvl, cfg);
		/* The AP[2:1] model (SCTLR.AFE): AP[2] makes a leaf read-only; there is no
		 * write-only encoding, every valid leaf is readable. */
		s.readable = true;
		s.writable = !((pte >> ARM_V7S_ATTR_SHIFT(lvl)) & ARM_V7S_PTE_AP_RDONLY);
		return s;
	}
	return s; /* not reached: a level-2 entry is never a table */
}

const struct lx_format lx_fmt_v7s = { "arm-v7s", ARM_V7S, TLB_SMMU_VA, v7s_walk };
