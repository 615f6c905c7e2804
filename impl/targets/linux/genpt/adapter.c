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

#include "core.h"
#include "genpt-target.h"
#include "system.h"

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

static struct sys sys;

static iommu_errno from_errno(int e, iommu_reply *r)
{
	switch (-e) {
	case 0: return IOMMU_OK;
	case EINVAL: return IOMMU_EINVAL;
	case EEXIST: return IOMMU_EEXIST;
	case ENOMEM: return IOMMU_ENOMEM;
	case ERANGE: return IOMMU_ERANGE;
	case EADDRINUSE: return IOMMU_EADDRINUSE;
	case EOVERFLOW: return IOMMU_EOVERFLOW;
	case EOPNOTSUPP: return IOMMU_EOPNOTSUPP;
	case ENODEV: return IOMMU_ENODEV;
	case EFAULT: return IOMMU_EFAULT;
	default:
		iommu_reply_msg(r, "errno %d", -e);
		return IOMMU_EIO;
	}
}

static enum lx_domain_type lx_type(iommu_domain_type t)
{
	switch (t) {
	case IOMMU_DOMAIN_BLOCKED: return LX_BLOCKED;
	case IOMMU_DOMAIN_IDENTITY: return LX_IDENTITY;
	case IOMMU_DOMAIN_DMA: return LX_DMA;
	case IOMMU_DOMAIN_DMA_FQ: return LX_DMA_FQ;
	default: return LX_UNMANAGED;
	}
}

static iommu_errno device(const char *name, size_t *out, iommu_reply *r)
{
	long i = iommu_topology_device(sys.topo, name);

	if (i < 0) {
		iommu_reply_msg(r, "no device %s", name);
		return IOMMU_ENODEV;
	}
	*out = (size_t)i;
	return IOMMU_OK;
}

static iommu_errno do_reset(void *ctx, const struct iommu_topology *t, iommu_reply *r)
{
	(void)ctx;
	(void)r;
	lx_fail_nth(0);
	sys_reset(&sys, t);
	return IOMMU_OK;
}

static iommu_errno do_domain_alloc(void *ctx, const struct iommu_domain_alloc_req *q, struct iommu_domain_alloc_ok *ok, iommu_reply *r)
{
	const struct iommu_topo_iommu *m;
	struct lx_domain *lx;
	uint64_t want, got;
	size_t dev, iommu;
	iommu_errno e;
	int err;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	iommu = sys.topo->groups[sys.topo->devices[dev].group].iommu;
	m = &sys.topo->iommus[iommu];
	if (!(m->domain_types & (1u << q->type))) {
		iommu_reply_msg(r, "%s cannot allocate %s domains", m->name, iommu_domain_type_name(q->type));
		return IOMMU_EOPNOTSUPP;
	}
	want = q->has_pgsizes ? q->pgsizes : m->pgsizes;
	if (iommu_domain_type_is_paging(q->type) && (want == 0 || (want & ~m->pgsizes))) {
		iommu_reply_msg(r, "page sizes 0x%llx are not a subset of 0x%llx", (unsigned long long)want, (unsigned long long)m->pgsizes);
		return IOMMU_EINVAL;
	}
	err = lx_domain_alloc(lx_type(q->type), false, m->pgsizes, want, m->ias, m->oas, &lx, &got);
	if (err)
		return from_errno(err, r);
	sys_add_domain(&sys, q->domain, q->type, iommu, lx, got);
	if (iommu_domain_type_is_paging(q->type)) {
		ok->has_pgsizes = true;
		ok->pgsizes = got;
	}
	return IOMMU_OK;
}

static iommu_errno do_domain_free(void *ctx, const struct iommu_domain_free_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_free_domain(&sys, d, r);
}

static iommu_errno do_attach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)) || (e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_attach(&sys, dev, d, r);
}

static iommu_errno do_detach(void *ctx, const struct iommu_attach_req *q, iommu_reply *r)
{
	struct sys_domain *d = NULL;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	/* Detaching a freed or unknown domain changes nothing, as detaching a non-current one. */
	(void)sys_domain(&sys, q->domain, &d, r);
	sys_detach(&sys, dev, d);
	return IOMMU_OK;
}

static iommu_errno do_attach_pasid(void *ctx, const struct iommu_attach_pasid_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)) || (e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return sys_attach_pasid(&sys, dev, d, q->pasid, r);
}

static iommu_errno do_detach_pasid(void *ctx, const struct iommu_detach_pasid_req *q, iommu_reply *r)
{
	size_t dev;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	sys_detach_pasid(&sys, dev, q->pasid);
	return IOMMU_OK;
}

static iommu_errno do_map(void *ctx, const struct iommu_map_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	return from_errno(lx_map(d->lx, q->iova, q->paddr, q->size, q->prot), r);
}

static iommu_errno do_unmap(void *ctx, const struct iommu_unmap_req *q, struct iommu_unmap_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->unmapped = lx_unmap(d->lx, q->iova, q->size);
	return IOMMU_OK;
}

static iommu_errno do_iova_to_phys(void *ctx, const struct iommu_iova_to_phys_req *q, struct iommu_iova_to_phys_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->phys = lx_iova_to_phys(d->lx, q->iova);
	return IOMMU_OK;
}

/* Passthrough reaches the IOVA itself, as far as the output address width goes. */
static iommu_errno passthrough(size_t iommu, uint64_t iova, struct iommu_dma_ok *ok)
{
	int oas = sys.topo->iommus[iommu].oas;

	if (oas < 64 && (iova >> oas) != 0)
		return IOMMU_FAULT;
	ok->has_phys = true;
	ok->phys = iova;
	return IOMMU_OK;
}

static iommu_errno do_dma(void *ctx, const struct iommu_dma_req *q, struct iommu_dma_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	size_t dev, g;
	uint64_t phys;
	iommu_errno e;

	(void)ctx;
	if ((e = device(q->dev, &dev, r)))
		return e;
	if (q->pasid_of) {
		iommu_reply_msg(r, "no PASID allocator or SVA here (pasidOf)");
		return IOMMU_EINVAL;
	}
	if ((e = sys_route(&sys, dev, q->has_pasid, q->pasid, &d)))
		return e;
	g = sys.topo->devices[dev].group;
	if (!d) /* the group's default domain: identity passes through, dma and blocked map nothing */
		return sys.topo->groups[g].default_domain == IOMMU_DOMAIN_IDENTITY ? passthrough(sys.topo->groups[g].iommu, q->iova, ok) : IOMMU_FAULT;
	switch (lx_domain_type(d->lx)) {
	case LX_IDENTITY:
		return passthrough(sys.topo->groups[g].iommu, q->iova, ok);
	case LX_BLOCKED:
		return IOMMU_FAULT;
	default:
		if (lx_translate(d->lx, q->iova, q->write, &phys))
			return IOMMU_FAULT;
		ok->has_phys = true;
		ok->phys = phys;
		return IOMMU_OK;
	}
}

static iommu_errno do_flush(void *ctx, const struct iommu_flush_req *q, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	lx_flush(d->lx);
	return IOMMU_OK;
}

/* Leaves come one by one from the walk; consecutive ones of one size make one run. */
struct runs {
	iommu_reply *r;
	uint64_t iova, pgsize, count;
	iommu_errno err;
};

static bool flush_run(struct runs *x)
{
	if (x->count && !x->err)
		x->err = iommu_reply_leaf(x->r, x->iova, x->pgsize, x->count);
	x->count = 0;
	return !x->err;
}

static bool add_leaf(void *arg, uint64_t iova, uint64_t pgsize)
{
	struct runs *x = arg;

	if (x->count && pgsize == x->pgsize && iova == x->iova + x->count * x->pgsize) {
		x->count++;
		return true;
	}
	if (!flush_run(x))
		return false;
	x->iova = iova;
	x->pgsize = pgsize;
	x->count = 1;
	return true;
}

static iommu_errno do_leaves(void *ctx, const struct iommu_leaves_req *q, iommu_reply *r)
{
	struct runs x = { .r = r };
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	lx_leaves(d->lx, q->iova, q->size, add_leaf, &x);
	flush_run(&x);
	return x.err;
}

static iommu_errno do_pt_pages(void *ctx, const struct iommu_pt_pages_req *q, struct iommu_pt_pages_ok *ok, iommu_reply *r)
{
	struct sys_domain *d;
	iommu_errno e;

	(void)ctx;
	if ((e = sys_domain(&sys, q->domain, &d, r)))
		return e;
	ok->pages = lx_pt_pages(d->lx);
	return IOMMU_OK;
}

static iommu_errno do_fail_nth(void *ctx, const struct iommu_fail_nth_req *q, iommu_reply *r)
{
	(void)ctx;
	(void)r;
	lx_fail_nth((long)q->n);
	return IOMMU_OK;
}

static void do_destroy(void *ctx)
{
	(void)ctx;
	sys_destroy(&sys);
}

static struct iommu_model model = {
	.hello = {
		.name = NULL, /* main(): linux-7.2-genpt-<fmt> */
		.version = LINUX_SOURCE_VERSION,
		.profile = "linux",
		.policies = policies,
		.capabilities = capabilities,
		.topologies_json = topologies_json,
	},
	.reset = do_reset,
	.domain_alloc = do_domain_alloc,
	.domain_free = do_domain_free,
	.attach = do_attach,
	.detach = do_detach,
	.attach_pasid = do_attach_pasid,
	.detach_pasid = do_detach_pasid,
	.map = do_map,
	.unmap = do_unmap,
	.iova_to_phys = do_iova_to_phys,
	.dma = do_dma,
	.flush = do_flush,
	.leaves = do_leaves,
	.pt_pages = do_pt_pages,
	.fail_nth = do_fail_nth,
	.destroy = do_destroy,
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
	catch_segv();
	return iommu_sdk_serve(&model, NULL, &opt);
}
