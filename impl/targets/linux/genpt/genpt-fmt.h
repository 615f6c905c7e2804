/*
 * genpt-fmt.h - one generic_pt format as the core (core.c) drives it: the kernel's format
 * compiled unchanged in its own unit (fmt-<name>.c: the format's static helpers can only be
 * used there), the driver's pt_iommu_<fmt>_init() configuration, and the device's table walk
 * written with the format's own accessors. Each adapter binary links exactly one format.
 */
#ifndef GENPT_FMT_H
#define GENPT_FMT_H

#include <linux/generic_pt/iommu.h>

/* What the device's walker finds for one IOVA. */
struct genpt_leaf {
	bool mapped;   /* a leaf entry holds the IOVA; else the walk met an empty entry */
	bool readable, writable;
	u64 base;      /* first IOVA of the leaf (or of the hole's span) */
	u64 size;      /* the leaf's size (or the span); 0 with base: up to 2^64 */
	u64 phys;      /* output address of base */
};

struct genpt_format {
	const char *name;
	size_t table_size; /* sizeof(struct pt_iommu_<fmt>): struct pt_iommu first */
	/*
	 * pt_iommu_<fmt>_init() as the driver that uses the format calls it, for an IOMMU of
	 * va_bits/oa_bits. table->driver_ops is set already.
	 */
	int (*init)(struct pt_iommu *table, unsigned int va_bits, unsigned int oa_bits);
	/* The top the hardware is pointed at after init: _pt_top_set() encoded (pointer | level). */
	uintptr_t (*top)(struct pt_iommu *table);
	/* The domain op: pt_iommu_<fmt>_iova_to_phys(). */
	phys_addr_t (*iova_to_phys)(struct iommu_domain *domain, dma_addr_t iova);
	/* The device's walk from the top the hardware was given (init, then change_top()). */
	struct genpt_leaf (*walk)(struct pt_iommu *table, uintptr_t hw_top, u64 iova);
};

/* The format this binary is built with (fmt-<name>.c). */
extern const struct genpt_format genpt_format;

#endif /* GENPT_FMT_H */
