/*
 * dart-walk.c - the table walker of an Apple DART (APPLE_DART: t8103's; APPLE_DART2: t6000's).
 * It compiles Linux's io-pgtable-dart.c into this unit so that it reads PTEs with the kernel's
 * own helpers and layout (the table index functions, iopte_to_paddr, APPLE_DART_PTE_VALID, the
 * NO_READ/NO_WRITE bits of each format, struct dart_io_pgtable). 6.1 and 6.12 have a fixed
 * two-level walk under up to four TTBRs (dart_get_table, dart_get_l1_index,
 * dart_get_l2_index); 7.x walks data->levels (dart_get_index, dart_get_last_index).
 */
/* First: it defines pr_fmt before its own includes. */
#include "drivers/iommu/io-pgtable-dart.c" /* from .cache/linux/<suite>/src (fetch-linux.sh) */

#include "fmt.h"

/* The bytes one entry at `level` covers (1: a leaf page, counting up like 7.x's levels). */
static u64 entry_span(struct dart_io_pgtable *data, int level)
{
	return 1ULL << (level * data->bits_per_level + ilog2(sizeof(dart_iopte)));
}

static struct lx_slot dart_walk(struct io_pgtable_ops *ops, uint64_t iova)
{
	struct dart_io_pgtable *data = io_pgtable_ops_to_data(ops);
	struct lx_slot s = { 0 };
	dart_iopte pte, *ptep;
	int level;

	/* The DART's input range (its VA width): beyond it, nothing. */
	if (iova >> data->iop.cfg.ias) {
		s.base = 1ULL << data->iop.cfg.ias;
		s.size = -s.base; /* up to 2^64 */
		return s;
	}
#ifdef DART_MAX_LEVELS /* 7.x */
	level = data->levels;
	ptep = data->pgd[dart_get_index(data, iova, level)];
	while (--level > 1) {
		pte = READ_ONCE(ptep[dart_get_index(data, iova, level)]);
		if (!(pte & APPLE_DART_PTE_VALID))
			goto hole;
		ptep = iopte_deref(pte, data);
	}
	pte = READ_ONCE(ptep[dart_get_last_index(data, iova)]);
#else /* 6.1, 6.12: TTBR, L1, L2 */
	level = 2;
	ptep = data->pgd[dart_get_table(data, iova)];
	pte = READ_ONCE(ptep[dart_get_l1_index(data, iova)]);
	if (!(pte & APPLE_DART_PTE_VALID))
		goto hole;
	ptep = iopte_deref(pte, data);
	pte = READ_ONCE(ptep[dart_get_l2_index(data, iova)]);
#endif
	level = 1;
	if (!(pte & APPLE_DART_PTE_VALID))
		goto hole;
	s.mapped = true;
	s.base = iova & ~(data->iop.cfg.pgsize_bitmap - 1);
	s.size = data->iop.cfg.pgsize_bitmap;
	s.phys = iopte_to_paddr(pte, data);
	/* The subpage window the kernel writes is the whole page (start 0, end 0xfff). */
	if (data->iop.fmt == APPLE_DART) {
		s.readable = !(pte & APPLE_DART1_PTE_PROT_NO_READ);
		s.writable = !(pte & APPLE_DART1_PTE_PROT_NO_WRITE);
	} else {
		s.readable = !(pte & APPLE_DART2_PTE_PROT_NO_READ);
		s.writable = !(pte & APPLE_DART2_PTE_PROT_NO_WRITE);
	}
	return s;
hole:
	s.size = entry_span(data, level);
	s.base = iova & ~(s.size - 1);
	return s;
}

const struct lx_format lx_fmt_dart = { "apple-dart", APPLE_DART, TLB_DART, dart_walk };
const struct lx_format lx_fmt_dart2 = { "apple-dart2", APPLE_DART2, TLB_DART, dart_walk };
