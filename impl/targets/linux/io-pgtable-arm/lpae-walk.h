/*
 * lpae-walk.h - what the hardware side of the model reads from an io-pgtable-arm table: the
 * leaf (or the hole) holding one IOVA, decoded with the kernel's own PTE macros.
 */
#ifndef LPAE_WALK_H
#define LPAE_WALK_H

#include <stdbool.h>
#include <stdint.h>

struct io_pgtable_ops;

struct lpae_slot {
	bool mapped;     /* a leaf PTE holds the IOVA; else the walk met an empty entry */
	uint64_t base;   /* first IOVA of the leaf, or of the empty entry's span */
	uint64_t size;   /* the leaf's size, or the span the empty entry covers */
	uint64_t phys;   /* output address of the leaf's first byte */
	bool readable;   /* stage 1: always; stage 2: S2AP read bit */
	bool writable;   /* stage 1: AP[2] (read-only) clear; stage 2: S2AP write bit */
};

/*
 * Walks the table as the SMMU's walker does. An IOVA at or above 2^IAS is out of the
 * context's input range: reported as an unmapped span up to 2^64 (base 2^IAS).
 */
struct lpae_slot lpae_walk(struct io_pgtable_ops *ops, uint64_t iova);

#endif /* LPAE_WALK_H */
