/*
 * adapter.c - Linux's io-pgtable-arm (Debian linux-source-6.1, -6.12 or -7.2, by KSTUB_LINUX),
 * built in userspace and presented to iommu-conformance over the stdio protocol through the C SDK.
 *
 * A domain is an ARM_64_LPAE_S1 (ARM_64_LPAE_S2 on an "arm-lpae-s2" SMMU) io_pgtable from
 * alloc_io_pgtable_ops() on its SMMU's page
 * sizes and widths; map/unmap/iova_to_phys go through the core layer of core.c; a device
 * access goes through the model TLB, then a walk of the real table (core.c, lpae-walk.c).
 * --format=v7s and --format=dart are the same core over io-pgtable-arm-v7s.c (ARM_V7S) and
 * io-pgtable-dart.c (APPLE_DART, APPLE_DART2), with their own topologies and walkers
 * (v7s-walk.c, dart-walk.c): matrix targets of their own (runner/targets.ts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu_sdk.h"

#include "lx-callbacks.h"

/*
 * What Linux + io-pgtable-arm do where implementations legally differ (spec/policies.ts), each
 * read in the 6.1 source (.cache/linux/bookworm/src after fetch-linux.sh) and again in 6.12
 * (trixie) and 7.2 (sid); one differs:
 *   partial_unmap=split     6.1, 6.12: io-pgtable-arm.c arm_lpae_split_blk_unmap()
 *   partial_unmap=refuse    7.2: __arm_lpae_unmap() "Unmap of a partial large IOPTE is not
 *                           allowed", returns 0 (split removed by 33729a5fc0ca, v6.13)
 *   unmap_hole=stop         iommu.c __iommu_unmap() stops when unmap_pages returns 0;
 *                           io-pgtable-arm.c __arm_lpae_unmap() returns 0 at an empty PTE
 *   overmap_errno=EEXIST    io-pgtable-arm.c arm_lpae_init_pte() / __arm_lpae_map()
 *   zero_size_map=ok        iommu.c __iommu_map(): the while (size) loop never runs
 *   range_errno=ERANGE      io-pgtable-arm.c arm_lpae_map_pages() (iaext || paddr >> oas)
 *   misaligned_unmap=zero   iommu.c __iommu_unmap(): !IS_ALIGNED(iova | size) returns 0
 *   domain_lifetime=persist iommu.c iommu_domain_free() is the only end of a domain
 *   write_only_read=allow   stage 1: io-pgtable-arm.c arm_lpae_prot_to_pte() has AP_RDONLY
 *                           or read-write, no write-only encoding
 *   write_only_read=fault   stage 2 (--stage=2): arm_lpae_prot_to_pte() sets HAP_READ and
 *                           HAP_WRITE (S2AP) each from its own IOMMU_* bit
 *   attach_busy=EBUSY       iommu.c __iommu_attach_group() (group->domain != default_domain)
 *   align_errno=EINVAL      iommu.c __iommu_map(): !IS_ALIGNED(iova | paddr | size) -> -EINVAL
 *   unknown_flags=ignore    io-pgtable-arm.c arm_lpae_prot_to_pte() tests only IOMMU_* bits
 *   reserved_fields=absent  the Linux API has none
 *   nonpaging_unmap=zero    iommu.c __iommu_unmap(): !(type & __IOMMU_DOMAIN_PAGING) returns 0
 */
/*
 * io-pgtable-arm-v7s.c (--format=v7s), read in 6.1, 6.12 and 7.2 where it differs from the above
 * (the core-layer policies are iommu.c's, the same):
 *   partial_unmap=split     6.1, 6.12: __arm_v7s_unmap() splits a section with
 *                           arm_v7s_split_blk_unmap() and a large page/supersection with
 *                           arm_v7s_split_cont()
 *   partial_unmap=refuse    7.2: __arm_v7s_unmap() "Unmap of a partial large IOPTE is not
 *                           allowed", returns 0 (both split paths removed)
 *   unmap_hole=stop         __arm_v7s_unmap(): WARN_ON(!ARM_V7S_PTE_IS_VALID(pte)) returns 0
 *   overmap_errno=EEXIST    arm_v7s_init_pte() / __arm_v7s_map() "We require an unmap first"
 *   range_errno=ERANGE      arm_v7s_map_pages(): iova >= 1 << ias || paddr >= 1 << oas
 *   write_only_read=allow   arm_v7s_prot_to_pte(): the AP[2:1] model has AP_RDONLY only
 *   unknown_flags=ignore    arm_v7s_prot_to_pte() tests only IOMMU_* bits
 * io-pgtable-dart.c (--format=dart), the same in 6.1, 6.12 and 7.2:
 *   partial_unmap=whole-leaf one page size (apple_dart_alloc_pgtable() takes exactly SZ_4K or
 *                           SZ_16K): no leaf is larger than an aligned unmap's smallest chunk
 *   unmap_hole=stop         dart_unmap_pages(): WARN_ON(!pte) stops the count there, and a
 *                           missing table (dart_get_l2()/dart_get_last() NULL) returns 0
 *   overmap_errno=EEXIST    dart_init_pte() "We require an unmap first"
 *   range_errno=ERANGE      dart_map_pages(): paddr >> oas (the IOVA is not checked)
 *   write_only_read=fault   dart_prot_to_pte(): NO_READ and NO_WRITE bits, DART1 and DART2
 *   unknown_flags=ignore    dart_prot_to_pte() tests only IOMMU_* bits
 */
#if KSTUB_LINUX >= 613
#define PARTIAL_UNMAP "refuse"
#else
#define PARTIAL_UNMAP "split"
#endif
#define POLICIES(partial_unmap, write_only_read) { \
	{ "partial_unmap", partial_unmap }, \
	{ "unmap_hole", "stop" }, \
	{ "overmap_errno", "EEXIST" }, \
	{ "zero_size_map", "ok" }, \
	{ "range_errno", "ERANGE" }, \
	{ "misaligned_unmap", "zero" }, \
	{ "domain_lifetime", "persist" }, \
	{ "write_only_read", write_only_read }, \
	{ "attach_busy", "EBUSY" }, \
	{ "align_errno", "EINVAL" }, \
	{ "unknown_flags", "ignore" }, \
	{ "reserved_fields", "absent" }, \
	{ "nonpaging_unmap", "zero" }, \
	{ NULL, NULL }, \
}
static const struct iommu_policy policies_s1[] = POLICIES(PARTIAL_UNMAP, "allow");
static const struct iommu_policy policies_s2[] = POLICIES(PARTIAL_UNMAP, "fault");
static const struct iommu_policy policies_v7s[] = POLICIES(PARTIAL_UNMAP, "allow");
static const struct iommu_policy policies_dart[] = POLICIES("whole-leaf", "fault");

/* What the target can show honestly. Not pasid/sva: the IOASID allocator and SVA are other
 * kernel code than io-pgtable-arm. */
static const struct iommu_capability capabilities[] = {
	{ "iova_to_phys", true }, /* the table's own: arm_lpae_, arm_v7s_, dart_iova_to_phys() */
	{ "unmap_size", true },
	{ "leaves", true },       /* read from the table's PTEs */
	{ "pt_pages", true },     /* table pages io-pgtable-arm holds */
	{ "fail_nth", true },     /* every kmalloc and page allocation io-pgtable-arm makes */
	{ "lazy_flush", true },   /* dma_fq: queued gather, tlb_flush_all at flush */
	{ "dma_phys", true },
	{ NULL, false },
};

/* topologies.json and topologies-s2.json as C strings (scripts/build-linux-target.sh
 * generates the includes): the systems at stage 1, and with --stage=2 at stage 2. */
static const char topologies_s1[] =
#include "topologies.inc"
	;
static const char topologies_s2[] =
#include "topologies-s2.inc"
	;
static const char topologies_v7s[] =
#include "topologies-v7s.inc"
	;
static const char topologies_dart[] =
#include "topologies-dart.inc"
	;

/* The adapter's one argument: which tables, named as its matrix target is. */
static const struct variant {
	const char *arg, *name;
	const struct iommu_policy *policies;
	const char *topologies;
} variants[] = {
	{ "--stage=2", "linux-io-pgtable-arm-s2", policies_s2, topologies_s2 },
	{ "--format=v7s", "linux-io-pgtable-v7s", policies_v7s, topologies_v7s },
	{ "--format=dart", "linux-io-pgtable-dart", policies_dart, topologies_dart },
};

static struct iommu_model model = {
	.hello = {
		.name = "linux-io-pgtable-arm",
		.version = LINUX_SOURCE_VERSION,
		.profile = "linux",
		.policies = policies_s1,
		.capabilities = capabilities,
		.topologies_json = topologies_s1,
	},
};

/* No argument: stage 1. --stage=2: the same kernel code as a stage-2 SMMU (ARM_64_LPAE_S2);
 * --format=v7s, --format=dart: the other io-pgtable formats. Each is a matrix target of its
 * own (runner/targets.ts). */
int main(int argc, char **argv)
{
	size_t i;

	if (argc > 2)
		goto usage;
	for (i = 0; argc == 2 && i < sizeof(variants) / sizeof(variants[0]); i++) {
		if (strcmp(argv[1], variants[i].arg) == 0) {
			model.hello.name = variants[i].name;
			model.hello.policies = variants[i].policies;
			model.hello.topologies_json = variants[i].topologies;
			break;
		}
	}
	if (argc == 2 && i == sizeof(variants) / sizeof(variants[0]))
		goto usage;
	lx_set_callbacks(&model);
	return iommu_sdk_main(&model, NULL);
usage:
	fprintf(stderr, "usage: %s [--stage=2 | --format=v7s | --format=dart]\n", argv[0]);
	return 2;
}
