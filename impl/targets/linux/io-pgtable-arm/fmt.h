/*
 * fmt.h - one io-pgtable format as the core (core.c) drives it: the io_pgtable_fmt to ask
 * alloc_io_pgtable_ops() for, and the device's table walker, compiled in the same unit as the
 * kernel's format file (lpae-walk.c, v7s-walk.c, dart-walk.c) so that it reads PTEs with the
 * kernel's own macros. The topology's "format" names the entry (formats.c).
 */
#ifndef LX_FMT_H
#define LX_FMT_H

#include <stdbool.h>
#include <stdint.h>

#include "tlb.h"

struct io_pgtable_ops;

/* What the hardware side of the model reads from a table: the leaf (or the hole) holding one
 * IOVA, decoded with the kernel's own PTE macros. */
struct lx_slot {
	bool mapped;     /* a leaf PTE holds the IOVA; else the walk met an empty entry */
	uint64_t base;   /* first IOVA of the leaf, or of the empty entry's span */
	uint64_t size;   /* the leaf's size, or the span the empty entry covers */
	uint64_t phys;   /* output address of the leaf's first byte */
	bool readable;   /* the format's read permission (always, where it has none) */
	bool writable;   /* the format's write permission */
};

struct lx_format {
	const char *name; /* the topology's "format" */
	int fmt;          /* enum io_pgtable_fmt */
	enum tlb_driver driver; /* the driver whose TLB maintenance the model does (tlb.c) */
	/* Walks the table as the IOMMU's walker does. An IOVA beyond the context's input range
	 * is reported as an unmapped span up to 2^64. */
	struct lx_slot (*walk)(struct io_pgtable_ops *ops, uint64_t iova);
};

/* formats.c: the entry named `name`, or NULL. */
const struct lx_format *lx_format(const char *name);

/* Each walker unit's entries. */
extern const struct lx_format lx_fmt_lpae_s1, lx_fmt_lpae_s2; /* lpae-walk.c */
extern const struct lx_format lx_fmt_v7s;                     /* v7s-walk.c */
extern const struct lx_format lx_fmt_dart, lx_fmt_dart2;      /* dart-walk.c */

#endif /* LX_FMT_H */
