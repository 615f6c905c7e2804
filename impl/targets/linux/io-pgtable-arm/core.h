/*
 * core.h - the Linux IOMMU core layer over one io-pgtable-arm domain (core.c), in plain C
 * types so that the adapter never sees a kernel header. Errors are negative errno values.
 */
#ifndef LX_CORE_H
#define LX_CORE_H

#include <stdbool.h>
#include <stdint.h>

/* include/linux/iommu.h domain types the target supports. */
enum lx_domain_type { LX_BLOCKED, LX_IDENTITY, LX_UNMANAGED, LX_DMA, LX_DMA_FQ };

struct lx_domain;

/*
 * A domain; for the paging types an io_pgtable of the topology's `format` (fmt.h: arm-lpae-s1,
 * arm-lpae-s2, arm-v7s, apple-dart, apple-dart2) for `hw_pgsizes` (the IOMMU's) at the given
 * widths; the domain keeps the sizes of `pgsizes` it can use. *out_pgsizes is what the table
 * supports (io-pgtable restricts it to one granule). Returns 0, -ENOMEM (an allocation failed)
 * or -EINVAL (an unknown format, or io-pgtable refuses the geometry).
 */
int lx_domain_alloc(enum lx_domain_type type, const char *format, uint64_t hw_pgsizes, uint64_t pgsizes, int ias, int oas,
		    struct lx_domain **out, uint64_t *out_pgsizes);
/* free_io_pgtable_ops(): flushes the domain's TLB, frees every table page. */
void lx_domain_free(struct lx_domain *d);
enum lx_domain_type lx_domain_type(const struct lx_domain *d);
bool lx_is_paging(const struct lx_domain *d);

/* iommu_map(): 0 or a negative errno; a failure leaves the domain as it was. */
int lx_map(struct lx_domain *d, uint64_t iova, uint64_t paddr, uint64_t size, uint32_t prot);
/* iommu_unmap() (iommu_unmap_fast() for dma_fq): bytes unmapped. */
uint64_t lx_unmap(struct lx_domain *d, uint64_t iova, uint64_t size);
/* iommu_iova_to_phys(). */
uint64_t lx_iova_to_phys(struct lx_domain *d, uint64_t iova);
/* iommu_flush_iotlb_all(): what the dma_fq flush queue does when it drains. */
void lx_flush(struct lx_domain *d);

/* A device access through the domain: the TLB, else a table walk that fills it.
 * 0 with *phys set, or -EFAULT (translation or permission fault). */
int lx_translate(struct lx_domain *d, uint64_t iova, bool write, uint64_t *phys);

/* The leaves overlapping [iova, iova + size), in order; each is reported through `emit`,
 * which returns false to stop. */
void lx_leaves(struct lx_domain *d, uint64_t iova, uint64_t size,
	       bool (*emit)(void *arg, uint64_t iova, uint64_t pgsize), void *arg);
/* Page-table pages the domain holds. */
long lx_pt_pages(const struct lx_domain *d);

/* fail_nth: the n-th allocation from now fails; 0 disarms. */
void lx_fail_nth(long n);

#endif /* LX_CORE_H */
