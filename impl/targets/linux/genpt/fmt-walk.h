/*
 * fmt-walk.h - the device's table walk, included by a fmt-<name>.c after the kernel's
 * format: it reads entries with the format's own accessors (pt_load_single_entry,
 * pt_entry_oa, pt_entry_oa_lg2sz, pt_table_ptr), from the top the hardware was handed, so a
 * table the code forgot to link, or a top it forgot to announce through change_top(), is
 * what the device sees. The unit defines fmt_leaf_perm(pts, &r, &w) first: the permission
 * bits of a leaf are the format's own.
 */
#ifndef GENPT_FMT_WALK_H
#define GENPT_FMT_WALK_H

#include "genpt-fmt.h"

/* An IOVA the top cannot translate: beyond the width, or in the non-canonical hole of a
 * sign-extended table ([2^(bits-1), 2^64 - 2^(bits-1))). Reported as one unmapped span. */
static struct genpt_leaf fmt_outside(struct pt_common *common, const struct pt_range *top)
{
	unsigned int bits = top->max_vasz_lg2;
	struct genpt_leaf l = { 0 };

	if (pt_feature(common, PT_FEAT_SIGN_EXTEND)) {
		l.base = 1ULL << (bits - 1);
		l.size = -(1ULL << bits);
		return l;
	}
	l.base = 1ULL << bits; /* bits < 64: a full-width table has no outside */
	l.size = -l.base;      /* up to 2^64 */
	return l;
}

static struct genpt_leaf fmt_walk(struct pt_iommu *iommu_table, uintptr_t hw_top, u64 iova)
{
	struct pt_common *common = common_from_iommu(iommu_table);
	struct pt_range range = _pt_top_range(common, hw_top);
	struct genpt_leaf l = { 0 };
	struct pt_state pts;
	unsigned int lg2;
	u64 mask;

	range.va = range.last_va = iova;
	if (pt_check_range(&range))
		return fmt_outside(common, &range);
	pts = pt_init_top(&range);
	for (;;) {
		switch (pt_load_single_entry(&pts)) {
		case PT_ENTRY_TABLE:
			pts = pt_init(&range, pts.level - 1, pt_table_ptr(&pts));
			continue;
		case PT_ENTRY_OA:
			lg2 = pt_entry_oa_lg2sz(&pts);
			mask = lg2 >= 64 ? ~0ULL : (1ULL << lg2) - 1;
			l.mapped = true;
			l.base = iova & ~mask;
			l.size = mask + 1;
			l.phys = pt_entry_oa(&pts) & ~mask;
			fmt_leaf_perm(&pts, &l.readable, &l.writable);
			return l;
		case PT_ENTRY_EMPTY:
		default:
			lg2 = pt_table_item_lg2sz(&pts);
			mask = lg2 >= 64 ? ~0ULL : (1ULL << lg2) - 1;
			l.base = iova & ~mask;
			l.size = mask + 1;
			return l;
		}
	}
}

static uintptr_t fmt_top(struct pt_iommu *iommu_table)
{
	return READ_ONCE(common_from_iommu(iommu_table)->top_of_table);
}

#endif /* GENPT_FMT_WALK_H */
