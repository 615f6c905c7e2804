/*
 * iommu_sdk.h - write an iommu-conformance model in C.
 *
 * The suite starts your model as a child process and speaks the stdio wire protocol, version 1
 * (spec/protocol.md): one JSON request per line on stdin, one JSON reply per line on stdout, in
 * order. This SDK does the whole protocol - line reading, JSON, strict "0x..." parsing, the
 * hello handshake, ENOSYS for what you leave out, reply encoding, buffered output - so a model
 * is a struct of callbacks and the hello information:
 *
 *	static const struct iommu_model model = {
 *		.hello = { .name = "my-iommu", .version = "1.0", .profile = "linux" },
 *		.reset = my_reset,
 *		.map = my_map,
 *		.unmap = my_unmap,
 *	};
 *	int main(void) { return iommu_sdk_main(&model, &my_state); }
 *
 * Every callback gets the `ctx` pointer given to iommu_sdk_main(), the decoded request and an
 * opaque reply. It returns IOMMU_OK after filling its `ok` struct (zeroed by the SDK), or an
 * errno; iommu_reply_msg() may attach a detail to an error. A NULL callback answers ENOSYS.
 *
 * Lifetimes: strings in a request live until the callback returns (copy what you keep); the
 * topology given to reset lives until the next successful reset or until iommu_sdk_main()
 * returns.
 * Addresses, sizes and page-size bitmaps are uint64_t; the SDK has already rejected malformed
 * requests with EINVAL, so callbacks see only well-formed values (but any value: 0, 2^64-1,
 * ranges that wrap - checking those is the model's job).
 */
#ifndef IOMMU_SDK_H
#define IOMMU_SDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The wire protocol version this SDK speaks. */
#define IOMMU_SDK_PROTOCOL 1

/* Failures, spelled on the wire as in spec/errno.ts. IOMMU_OK (0) is success. */
typedef enum iommu_errno {
	IOMMU_OK = 0,
	IOMMU_EINVAL,     /* bad argument, wrong domain type, incompatible domain */
	IOMMU_ENOENT,     /* unknown or freed handle / ID */
	IOMMU_EEXIST,     /* overmap (io-pgtable-arm) */
	IOMMU_EADDRINUSE, /* overmap (iommupt) */
	IOMMU_EBUSY,      /* attached elsewhere, freeing an attached domain, PASID in use */
	IOMMU_ENOSPC,     /* out of contexts or PASIDs */
	IOMMU_ENOMEM,     /* allocation failure (fail_nth) */
	IOMMU_ERANGE,     /* address beyond IAS/OAS */
	IOMMU_EFAULT,     /* address beyond the domain width (VT-d) */
	IOMMU_EOVERFLOW,  /* arithmetic overflow, SVA PASID beyond the device limit */
	IOMMU_EOPNOTSUPP, /* domain type or feature not supported */
	IOMMU_ENODEV,     /* no such device, op absent from a domain's ops */
	IOMMU_ENOSYS,     /* operation not implemented at all */
	IOMMU_EIO,        /* virtio S_IOERR / S_DEVERR */
	IOMMU_FAULT,      /* a device access the IOMMU blocked (dma only) */
	IOMMU_ERRNO_COUNT
} iommu_errno;

/* "EINVAL", ...; NULL for a value outside the enum. */
const char *iommu_errno_name(iommu_errno e);

/* Domain types, as spec/topology.ts orders them. */
typedef enum iommu_domain_type {
	IOMMU_DOMAIN_BLOCKED = 0,
	IOMMU_DOMAIN_IDENTITY,
	IOMMU_DOMAIN_PAGING,
	IOMMU_DOMAIN_DMA,
	IOMMU_DOMAIN_DMA_FQ,
	IOMMU_DOMAIN_SVA,
	IOMMU_DOMAIN_NESTED,
	IOMMU_DOMAIN_TYPE_COUNT
} iommu_domain_type;

/* "blocked", ...; NULL outside the enum. */
const char *iommu_domain_type_name(iommu_domain_type t);
/* Types with a page table the caller maps into (Linux __IOMMU_DOMAIN_PAGING). */
bool iommu_domain_type_is_paging(iommu_domain_type t);

/* Permission bits of map/mm_map `prot`, with Linux's IOMMU_* values. Higher bits may appear:
 * flags the vocabulary does not define (the unknown_flags policy says what to do). */
#define IOMMU_PROT_READ   1u
#define IOMMU_PROT_WRITE  2u
#define IOMMU_PROT_CACHE  4u
#define IOMMU_PROT_NOEXEC 8u
#define IOMMU_PROT_MMIO   16u
#define IOMMU_PROT_PRIV   32u
#define IOMMU_PROT_ALL    63u

/* ---- The system given to reset (spec/topology.ts). Names are resolved to indices. ---- */

struct iommu_topo_iommu {
	const char *name;
	const char *format;    /* domains of one format cannot attach behind another */
	uint64_t pgsizes;      /* supported page sizes, one bit per size */
	int ias, oas;          /* input / output address bits, 12..64 */
	int64_t contexts;      /* hardware contexts (address spaces) */
	int pasid_bits;        /* 0: no PASIDs */
	unsigned domain_types; /* bit (1u << IOMMU_DOMAIN_x) per type it can allocate */
};

struct iommu_topo_group {
	const char *name;
	size_t iommu;                     /* index into iommu_topology.iommus */
	iommu_domain_type default_domain; /* DMA, IDENTITY or BLOCKED */
};

struct iommu_topo_device {
	const char *name;
	size_t group;       /* index into iommu_topology.groups */
	int64_t max_pasids; /* valid PASIDs are 1 .. max_pasids-1; 0: none */
};

struct iommu_topology {
	size_t n_iommus, n_groups, n_devices;
	const struct iommu_topo_iommu *iommus;
	const struct iommu_topo_group *groups;
	const struct iommu_topo_device *devices;
};

/* Index of a device / group / IOMMU by name, or -1. Linear: look up once, keep the index. */
long iommu_topology_device(const struct iommu_topology *t, const char *name);
long iommu_topology_group(const struct iommu_topology *t, const char *name);
long iommu_topology_iommu(const struct iommu_topology *t, const char *name);

/* ---- Requests (spec/ops.ts OP_FIELDS). Optional handles are NULL when absent; other
 * optional fields have a has_ flag. `int` fields are >= 0 and at most 2^53-1. ---- */

struct iommu_domain_alloc_req {
	const char *domain;
	iommu_domain_type type;
	const char *dev;
	bool has_pgsizes;
	uint64_t pgsizes; /* requested page sizes (nested/virtio use) */
	const char *parent; /* NULL when absent */
	const char *mm;     /* NULL when absent (sva domains) */
};
struct iommu_domain_free_req { const char *domain; };
struct iommu_attach_req {
	const char *dev;
	const char *domain;
	bool has_reserved;
	int64_t reserved; /* virtio's reserved field; absent means 0 */
	/* Capability invalidation_choice: which invalidation to send after the change, 0 the narrowest. */
	bool has_inval;
	int64_t inval;
};
/* detach has the same fields as attach. */
struct iommu_attach_pasid_req { const char *dev; const char *domain; int64_t pasid; };
struct iommu_detach_pasid_req { const char *dev; int64_t pasid; };
struct iommu_map_req {
	const char *domain;
	uint64_t iova, paddr, size;
	uint32_t prot; /* IOMMU_PROT_* plus possibly undefined higher bits */
	bool has_reserved;
	int64_t reserved;
};
struct iommu_unmap_req {
	const char *domain;
	uint64_t iova, size;
	bool has_reserved;
	int64_t reserved;
	/* Capability invalidation_choice: which invalidation to send after it, 0 the narrowest. */
	bool has_inval;
	int64_t inval;
};
struct iommu_iova_to_phys_req { const char *domain; uint64_t iova; };
struct iommu_dma_req {
	const char *dev;
	uint64_t iova;
	bool write;            /* access "w"; false for "r" */
	bool has_pasid;
	int64_t pasid;         /* a PASID number the suite chose */
	const char *pasid_of;  /* NULL, or the pasid/mm handle whose allocated PASID to use */
};
struct iommu_flush_req { const char *domain; };
struct iommu_pasid_alloc_req {
	const char *pasid; /* the handle naming this allocation */
	int64_t min, max;
	const char *data;  /* NULL when absent; a NUL-free copy of the JSON string */
};
struct iommu_pasid_req { const char *pasid; }; /* pasid_get, pasid_put, pasid_find */
struct iommu_sva_bind_req { const char *bond; const char *dev; const char *mm; };
struct iommu_sva_unbind_req { const char *bond; };
struct iommu_mm_map_req { const char *mm; uint64_t va, pa, size; uint32_t prot; };
struct iommu_mm_unmap_req { const char *mm; uint64_t va, size; };
struct iommu_mm_exit_req { const char *mm; };
struct iommu_leaves_req { const char *domain; uint64_t iova, size; };
struct iommu_pt_pages_req { const char *domain; };
struct iommu_fail_nth_req { int64_t n; }; /* the n-th allocation from now fails; 0 disarms */

/* ---- Success replies. The SDK zeroes them before the callback; fill what applies. ---- */

struct iommu_domain_alloc_ok { bool has_pgsizes; uint64_t pgsizes; };
struct iommu_unmap_ok { uint64_t unmapped; };
struct iommu_iova_to_phys_ok { uint64_t phys; }; /* 0 when nothing is mapped there */
struct iommu_dma_ok { bool has_phys; uint64_t phys; };
struct iommu_pasid_alloc_ok { int64_t pasid; };
struct iommu_pasid_put_ok { bool freed; };
struct iommu_pasid_find_ok { const char *data; }; /* NULL encodes null; must outlive the callback */
struct iommu_sva_bind_ok { int64_t pasid; };
struct iommu_pt_pages_ok { int64_t pages; };
/* leaves: append runs with iommu_reply_leaf(). */

/* The reply being built; valid only inside the callback that received it. */
typedef struct iommu_reply iommu_reply;

/* Attaches a detail to an error reply ("msg"); ignored on success. printf-style. */
void iommu_reply_msg(iommu_reply *r, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* leaves: appends the run {iova, pgsize, count}. Returns IOMMU_OK or IOMMU_ENOMEM. */
iommu_errno iommu_reply_leaf(iommu_reply *r, uint64_t iova, uint64_t pgsize, uint64_t count);

/* ---- What the model says about itself in hello. ---- */

struct iommu_policy { const char *key, *value; };       /* {"partial_unmap", "split"} */
struct iommu_capability { const char *name; bool value; }; /* {"leaves", true} */

struct iommu_hello {
	const char *name, *version;
	const char *profile; /* "linux" or "virtio-iommu" */
	/* Arrays ending with a {NULL} entry; NULL for none. Keys left out take the profile's
	 * defaults. Capabilities are declared here, not inferred from non-NULL callbacks. */
	const struct iommu_policy *policies;
	const struct iommu_capability *capabilities;
	/* NULL for "any", else the JSON text of an array of topologies, sent verbatim (the
	 * SDK checks only that it is one valid JSON array). */
	const char *topologies_json;
};

/* ---- The model. ---- */

struct iommu_model {
	struct iommu_hello hello;

	/* Forget everything and become system `t`: no domains, every group in its default domain. */
	iommu_errno (*reset)(void *ctx, const struct iommu_topology *t, iommu_reply *r);

	iommu_errno (*domain_alloc)(void *ctx, const struct iommu_domain_alloc_req *q, struct iommu_domain_alloc_ok *ok, iommu_reply *r);
	iommu_errno (*domain_free)(void *ctx, const struct iommu_domain_free_req *q, iommu_reply *r);
	iommu_errno (*attach)(void *ctx, const struct iommu_attach_req *q, iommu_reply *r);
	iommu_errno (*detach)(void *ctx, const struct iommu_attach_req *q, iommu_reply *r);
	iommu_errno (*attach_pasid)(void *ctx, const struct iommu_attach_pasid_req *q, iommu_reply *r);
	iommu_errno (*detach_pasid)(void *ctx, const struct iommu_detach_pasid_req *q, iommu_reply *r);
	iommu_errno (*map)(void *ctx, const struct iommu_map_req *q, iommu_reply *r);
	iommu_errno (*unmap)(void *ctx, const struct iommu_unmap_req *q, struct iommu_unmap_ok *ok, iommu_reply *r);
	iommu_errno (*iova_to_phys)(void *ctx, const struct iommu_iova_to_phys_req *q, struct iommu_iova_to_phys_ok *ok, iommu_reply *r);
	/* Return IOMMU_FAULT for a blocked access; fill ok->phys when capability dma_phys. */
	iommu_errno (*dma)(void *ctx, const struct iommu_dma_req *q, struct iommu_dma_ok *ok, iommu_reply *r);
	iommu_errno (*flush)(void *ctx, const struct iommu_flush_req *q, iommu_reply *r);

	iommu_errno (*pasid_alloc)(void *ctx, const struct iommu_pasid_alloc_req *q, struct iommu_pasid_alloc_ok *ok, iommu_reply *r);
	iommu_errno (*pasid_get)(void *ctx, const struct iommu_pasid_req *q, iommu_reply *r);
	iommu_errno (*pasid_put)(void *ctx, const struct iommu_pasid_req *q, struct iommu_pasid_put_ok *ok, iommu_reply *r);
	iommu_errno (*pasid_find)(void *ctx, const struct iommu_pasid_req *q, struct iommu_pasid_find_ok *ok, iommu_reply *r);
	iommu_errno (*sva_bind)(void *ctx, const struct iommu_sva_bind_req *q, struct iommu_sva_bind_ok *ok, iommu_reply *r);
	iommu_errno (*sva_unbind)(void *ctx, const struct iommu_sva_unbind_req *q, iommu_reply *r);
	iommu_errno (*mm_map)(void *ctx, const struct iommu_mm_map_req *q, iommu_reply *r);
	iommu_errno (*mm_unmap)(void *ctx, const struct iommu_mm_unmap_req *q, iommu_reply *r);
	iommu_errno (*mm_exit)(void *ctx, const struct iommu_mm_exit_req *q, iommu_reply *r);

	iommu_errno (*leaves)(void *ctx, const struct iommu_leaves_req *q, iommu_reply *r);
	iommu_errno (*pt_pages)(void *ctx, const struct iommu_pt_pages_req *q, struct iommu_pt_pages_ok *ok, iommu_reply *r);
	iommu_errno (*fail_nth)(void *ctx, const struct iommu_fail_nth_req *q, iommu_reply *r);

	/* Called once at end of input, before iommu_sdk_main() returns. May be NULL. */
	void (*destroy)(void *ctx);
};

/* Output flushing: when no more input is immediately available (the default; answers
 * pipelined requests in bulk), or after every reply. */
enum iommu_flush_mode { IOMMU_FLUSH_WHEN_IDLE = 0, IOMMU_FLUSH_EVERY_REPLY = 1 };

struct iommu_sdk_options {
	int in_fd, out_fd;           /* default 0 and 1 */
	enum iommu_flush_mode flush; /* default IOMMU_FLUSH_WHEN_IDLE */
};

/*
 * Serves requests from stdin until EOF and returns the process exit status: 0 at a clean EOF,
 * 1 when stdout cannot be written (one line on stderr); running out of memory exits the
 * process with status 1 and one line on stderr. A malformed
 * request is answered with EINVAL and a msg when its id can be recovered; otherwise one line
 * goes to stderr and serving goes on. The environment variable IOMMU_SDK_FLUSH=every selects
 * IOMMU_FLUSH_EVERY_REPLY.
 */
int iommu_sdk_main(const struct iommu_model *m, void *ctx);
/* The same with explicit options (NULL: defaults, ignoring the environment). One server per
 * process: the SDK keeps its parse buffers in static storage. */
int iommu_sdk_serve(const struct iommu_model *m, void *ctx, const struct iommu_sdk_options *opt);

#ifdef __cplusplus
}
#endif

#endif /* IOMMU_SDK_H */
