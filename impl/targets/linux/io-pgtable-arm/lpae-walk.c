/*
 * lpae-walk.c - the table walker of the modelled SMMU. It compiles Linux's io-pgtable-arm.c
 * into this unit so that it reads PTEs with the kernel's own macros and struct layout
 * (ARM_LPAE_LVL_IDX, iopte_leaf, iopte_to_paddr, struct arm_lpae_io_pgtable), rather than a
 * second opinion of the format that could disagree with the code under test.
 */
/* First: it defines pr_fmt before its own includes. */
#include "drivers/iommu/io-pgtable-arm.c" /* from .cache/linux/<suite>/src (fetch-linux.sh) */

#include "fmt.h"

static struct lx_slot lpae_walk(struct io_pgtable_ops *ops, uint64_t iova)
{
	struct arm_lpae_io_pgtable *data = io_pgtable_ops_to_data(ops);
	unsigned int ias = data->iop.cfg.ias;
	arm_lpae_iopte pte, *ptep = data->pgd;
	struct lx_slot s = { 0 };
	int lvl = data->start_level;

	/* The context's input range (TCR.T0SZ): beyond it the hardware faults, whatever the
	 * index bits would select. */
	if (ias < 64 && (iova >> ias) != 0) {
		s.base = 1ULL << ias;
		s.size = -s.base; /* up to 2^64 */
		return s;
	}
	for (; lvl < ARM_LPAE_MAX_LEVELS; lvl++) {
		u64 span = ARM_LPAE_BLOCK_SIZE(lvl, data);

		pte = READ_ONCE(ptep[ARM_LPAE_LVL_IDX(iova, lvl, data)]);
		s.base = iova & ~(span - 1);
		s.size = span;
		if (!pte)
			return s;
		if (iopte_leaf(pte, lvl, data->iop.fmt)) {
			s.mapped = true;
			s.phys = iopte_to_paddr(pte, data);
			/* Bit 7 is AP[2] (read-only) at stage 1 but S2AP[1] (write allowed) at
			 * stage 2, and bit 6 (AP[1], unprivileged) is S2AP[0] (read allowed). */
			if (data->iop.fmt == ARM_64_LPAE_S2) {
				s.readable = pte & ARM_LPAE_PTE_HAP_READ;
				s.writable = pte & ARM_LPAE_PTE_HAP_WRITE;
			} else {
				s.readable = true;
				s.writable = !(pte & ARM_LPAE_PTE_AP_RDONLY);
			}
			return s;
		}
		ptep = iopte_deref(pte, data);
	}
	/* A table entry at the last level: invalid, the walk faults there. */
	return s;
}

const struct lx_format lx_fmt_lpae_s1 = { "arm-lpae-s1", ARM_64_LPAE_S1, TLB_SMMUV3, lpae_walk };
const struct lx_format lx_fmt_lpae_s2 = { "arm-lpae-s2", ARM_64_LPAE_S2, TLB_SMMUV3, lpae_walk };
