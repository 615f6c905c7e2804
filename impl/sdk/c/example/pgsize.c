/*
 * The page size the Linux core hands the driver for the next chunk of a mapping (the logic
 * of iommu_pgsize() in drivers/iommu/iommu.c, as impl/reference/pgsize.ts states it): the
 * biggest supported size no larger than what is left and no more aligned than iova | paddr,
 * repeated `count` times - but stopping at the next larger page's boundary when a whole larger
 * page fits after it, so the next round can use the larger page.
 */
#include "model.h"

static int fls64(uint64_t v) { return 63 - __builtin_clzll(v); } /* v != 0 */
static int ffs64(uint64_t v) { return __builtin_ctzll(v); }      /* v != 0 */

/* Bits 0..hi set (GENMASK(hi, 0)). */
static uint64_t mask_upto(int hi) { return hi >= 63 ? UINT64_MAX : ((uint64_t)2 << hi) - 1; }

uint64_t iommu_pgsize(uint64_t bitmap, uint64_t iova, uint64_t paddr, uint64_t size, uint64_t *count)
{
	uint64_t addr_merge = iova | paddr;
	/* Sizes small enough for what is left and for the alignment of both addresses. The
	 * caller checked alignment to the smallest size, so at least that one remains. */
	uint64_t sizes = bitmap & mask_upto(fls64(size));
	if (addr_merge)
		sizes &= mask_upto(ffs64(addr_merge));
	int idx = fls64(sizes);
	uint64_t pgsize = (uint64_t)1 << idx;

	uint64_t bigger = idx == 63 ? 0 : bitmap & ~mask_upto(idx);
	if (bigger) {
		uint64_t next = (uint64_t)1 << ffs64(bigger);
		/* A larger page is only possible if iova and paddr sit at the same offset in it. */
		if (((iova ^ paddr) & (next - 1)) == 0) {
			uint64_t offset = next - (addr_merge & (next - 1));
			/* offset + next must not wrap (check_add_overflow in the kernel). */
			if (offset <= UINT64_MAX - next && offset + next <= size)
				size = offset;
		}
	}
	*count = size >> idx;
	return pgsize;
}
