/*
 * adapter.c - one generic_pt ("iommupt") format of Linux 7.2 (Debian linux-source-7.2),
 * built in userspace and presented to iommu-conformance over the stdio protocol through the C
 * SDK. Which format is decided at link time (fmt-<name>.c, genpt-target.h).
 *
 * A domain is a pt_iommu_<fmt> table initialised as the format's driver does it;
 * map/unmap/iova_to_phys go through the 7.2 core layer of core.c; a device access goes
 * through the model TLB, then the format's own walk of the real table (fmt-walk.h).
 * The callbacks are those of ../io-pgtable-arm/adapter.c: only the declarations differ.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu_sdk.h"

#include "genpt-target.h"
#include "lx-callbacks.h"

/*
 * What Linux 7.2 + generic_pt do where implementations legally differ (spec/policies.ts),
 * each read in the 7.2 source (.cache/linux/sid/src after fetch-linux.sh sid):
 *   partial_unmap=whole-leaf  generic_pt/iommu_pt.h __unmap_range(): "If the caller requested
 *                             an last that falls within a single entry then the entire entry
 *                             is unmapped and the length returned will be larger"
 *   unmap_hole=stop           iommu_pt.h __unmap_range(): a non-present entry ends the walk
 *                             (-EINVAL); NS(unmap_range)() returns what was unmapped before it
 *   overmap_errno=EADDRINUSE  iommu_pt.h __map_range() / clear_contig(): -EADDRINUSE
 *   zero_size_map=EINVAL      iommu_pt.h make_range_ul(): len == 0 is -EINVAL
 *   range_errno=ERANGE        pt_iter.h pt_check_range(), iommu_pt.h increase_top() and the
 *                             paddr check of NS(map_range)(): -ERANGE
 *   misaligned_unmap=zero     iommu_pt.h __unmap_range(): an iova inside a leaf is -EINVAL,
 *                             NS(unmap_range)() returns 0
 *   domain_lifetime=persist   iommu.c iommu_domain_free() is the only end of a domain
 *   write_only_read           per format: genpt_target in fmt-<name>.c
 *   attach_busy=EBUSY         iommu.c __iommu_attach_group() (group->domain != default_domain)
 *   align_errno=EINVAL        the Linux API's; 7.2 hands an iommupt domain's map to
 *                             map_range() without iommu.c's alignment check (see
 *                             expectations.json: MAP-ALIGN)
 *   unknown_flags=ignore      the formats' pt_iommu_set_prot() test only the IOMMU_* bits
 *   reserved_fields=absent    the Linux API has none
 *   nonpaging_unmap=zero      iommu.c __iommu_unmap(): !(type & __IOMMU_DOMAIN_PAGING) returns 0
 */
static struct iommu_policy policies[] = {
	{ "partial_unmap", "whole-leaf" },
	{ "unmap_hole", "stop" },
	{ "overmap_errno", "EADDRINUSE" },
	{ "zero_size_map", "EINVAL" },
	{ "range_errno", "ERANGE" },
	{ "misaligned_unmap", "zero" },
	{ "domain_lifetime", "persist" },
	{ "write_only_read", NULL }, /* set from genpt_target in main() */
	{ "attach_busy", "EBUSY" },
	{ "align_errno", "EINVAL" },
	{ "unknown_flags", "ignore" },
	{ "reserved_fields", "absent" },
	{ "nonpaging_unmap", "zero" },
	{ NULL, NULL },
};

/* What the target can show honestly. Not pasid/sva: other kernel code than generic_pt. */
static const struct iommu_capability capabilities[] = {
	{ "iova_to_phys", true }, /* the format's own pt_iommu_<fmt>_iova_to_phys() */
	{ "unmap_size", true },
	{ "leaves", true },       /* read from the table with the format's accessors */
	{ "pt_pages", true },     /* table pages generic_pt holds, queued ones included */
	{ "fail_nth", true },     /* the domain allocation and every table generic_pt allocates */
	{ "lazy_flush", true },   /* dma_fq: queued gather, flush_iotlb_all at flush */
	{ "dma_phys", true },
	{ NULL, false },
};

/* topologies-<fmt>.json as a C string (scripts/build-linux-genpt.sh generates the include). */
static const char topologies_json[] =
#include "topologies.inc"
	;

static struct iommu_model model = {
	.hello = {
		.name = NULL, /* main(): linux-7.2-genpt-<fmt> */
		.version = LINUX_SOURCE_VERSION,
		.profile = "linux",
		.policies = policies,
		.capabilities = capabilities,
		.topologies_json = topologies_json,
	},
};

/*
 * generic_pt can overflow the stack (see expectations.json, MAP-ALIGN): say so on stderr
 * before dying, from a stack of its own, so the crash is not a bare SIGSEGV.
 */
static void on_segv(int sig)
{
	static const char msg[] = "linux-genpt: SIGSEGV inside the kernel's code (a stack overflow: "
				  "generic_pt descending below level 0?)\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_segv(void)
{
	static char altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_ONSTACK };

	sigaltstack(&ss, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

int main(void)
{
	/* Every reply is written at once: a crash in the kernel's code then points at the
	 * request that caused it rather than taking a batch of answers with it. */
	static const struct iommu_sdk_options opt = { .in_fd = 0, .out_fd = 1, .flush = IOMMU_FLUSH_EVERY_REPLY };
	static char name[64];

	snprintf(name, sizeof(name), "linux-genpt-%s", genpt_target.format);
	model.hello.name = name;
	policies[7].value = genpt_target.write_only_read;
	lx_set_callbacks(&model);
	catch_segv();
	return iommu_sdk_serve(&model, NULL, &opt);
}
