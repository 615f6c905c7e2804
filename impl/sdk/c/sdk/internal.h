/*
 * Internals of the SDK: an arena, a strict JSON parser, an output buffer with a JSON writer,
 * and the request decoder. Not for model authors; iommu_sdk.h is the whole public API.
 */
#ifndef IOMMU_SDK_INTERNAL_H
#define IOMMU_SDK_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommu_sdk.h"

/* ---- Memory. Allocation failure is fatal: one line on stderr and exit(1). ---- */

void *sdk_xmalloc(size_t n);
void *sdk_xrealloc(void *p, size_t n);

/* A bump allocator: everything one request (or one topology) needs, freed at once. */
struct sdk_arena {
	struct sdk_chunk *head;
};
void *arena_alloc(struct sdk_arena *a, size_t n);
char *arena_strndup(struct sdk_arena *a, const char *s, size_t n);
/* Frees every chunk but keeps the first for reuse (the common, small request). */
void arena_reset(struct sdk_arena *a);
void arena_free(struct sdk_arena *a);

/* ---- JSON: RFC 8259, strictly (no trailing commas, no leading zeros, valid UTF-8, no
 * duplicate keys), plus the one restriction C strings need: no U+0000 inside strings. ---- */

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

struct json_value {
	enum json_type type;
	const char *src; /* the value's text in the input, for error messages */
	size_t src_len;
	union {
		struct { const char *s; size_t len; } str; /* decoded UTF-8, NUL-terminated */
		struct { bool is_uint; uint64_t u; } num;  /* is_uint: digits only, fits 64 bits */
		struct { struct json_value *items; size_t n; } arr;
		struct { struct json_member *items; size_t n; } obj;
	} u;
};

struct json_member {
	const char *key;
	struct json_value value;
};

/* Parses exactly one JSON value (surrounded by optional whitespace). On failure returns false
 * and writes a one-line reason to `err`. Strings and nodes live in `a`. */
bool json_parse(struct sdk_arena *a, const char *text, size_t len, struct json_value *out, char *err, size_t err_len);
/* The member of an object with this key, or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* `"src"` truncated for a message: at most `max` bytes of the value's text, "…" when cut. */
void json_excerpt(const struct json_value *v, char *buf, size_t buf_len);

/* ---- Output: a growing buffer written to a file descriptor. ---- */

struct sdk_out {
	char *buf;
	size_t len, cap;
	int fd;
	bool failed; /* a write failed; nothing more is written */
	int err;     /* its errno */
};
void out_raw(struct sdk_out *o, const char *s, size_t n);
void out_str(struct sdk_out *o, const char *s); /* raw, NUL-terminated */
void out_json_string(struct sdk_out *o, const char *s, size_t n); /* quoted and escaped */
void out_hex(struct sdk_out *o, uint64_t v);  /* "0x1f" with quotes */
void out_uint(struct sdk_out *o, uint64_t v); /* decimal, no quotes */
void out_int(struct sdk_out *o, int64_t v);
/* Writes the buffer out; false (and `failed`) when the descriptor refuses it. */
bool out_flush(struct sdk_out *o);
/* A parsed value written back compactly: one line, whatever whitespace it came with. */
void json_write(struct sdk_out *o, const struct json_value *v);

/* ---- Requests. ---- */

#define SDK_MSG_MAX 512

/* The reply under construction (iommu_reply in the public header). */
struct iommu_reply {
	char msg[SDK_MSG_MAX];
	bool has_msg;
	struct { uint64_t iova, pgsize, count; } *leaves;
	size_t n_leaves, cap_leaves;
};

/* A decoding problem: the message of the EINVAL reply. */
struct sdk_problem {
	char msg[SDK_MSG_MAX];
};

/* Every op the protocol defines beyond hello and reset, in spec/ops.ts order. */
enum sdk_op {
	OP_DOMAIN_ALLOC, OP_DOMAIN_FREE, OP_ATTACH, OP_DETACH, OP_ATTACH_PASID, OP_DETACH_PASID,
	OP_MAP, OP_UNMAP, OP_IOVA_TO_PHYS, OP_DMA, OP_FLUSH,
	OP_PASID_ALLOC, OP_PASID_GET, OP_PASID_PUT, OP_PASID_FIND,
	OP_SVA_BIND, OP_SVA_UNBIND, OP_MM_MAP, OP_MM_UNMAP, OP_MM_EXIT,
	OP_LEAVES, OP_PT_PAGES, OP_FAIL_NTH,
	OP_COUNT
};

/* Largest request struct; decode_request fills one of these. */
union sdk_request {
	struct iommu_domain_alloc_req domain_alloc;
	struct iommu_domain_free_req domain_free;
	struct iommu_attach_req attach;
	struct iommu_attach_pasid_req attach_pasid;
	struct iommu_detach_pasid_req detach_pasid;
	struct iommu_map_req map;
	struct iommu_unmap_req unmap;
	struct iommu_iova_to_phys_req iova_to_phys;
	struct iommu_dma_req dma;
	struct iommu_flush_req flush;
	struct iommu_pasid_alloc_req pasid_alloc;
	struct iommu_pasid_req pasid;
	struct iommu_sva_bind_req sva_bind;
	struct iommu_sva_unbind_req sva_unbind;
	struct iommu_mm_map_req mm_map;
	struct iommu_mm_unmap_req mm_unmap;
	struct iommu_mm_exit_req mm_exit;
	struct iommu_leaves_req leaves;
	struct iommu_pt_pages_req pt_pages;
	struct iommu_fail_nth_req fail_nth;
};

/* The op named `name`, or OP_COUNT. */
enum sdk_op sdk_op_lookup(const char *name);
const char *sdk_op_name(enum sdk_op op);
/* Fills `req` from the request object; false with `p` set when a field is missing or bad. */
bool decode_request(enum sdk_op op, const struct json_value *obj, union sdk_request *req, struct sdk_problem *p);
/* Builds the topology of a reset request in `a`; false with `p` set when it is malformed. */
bool decode_topology(struct sdk_arena *a, const struct json_value *t, struct iommu_topology *out, struct sdk_problem *p);

void sdk_problem_set(struct sdk_problem *p, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* ---- Hex, shared by the decoder and the writer. ---- */

/* Strict "0x" followed by 1..16 hex digits (either case), as spec/u64.ts parseHex. */
bool sdk_parse_hex(const char *s, size_t len, uint64_t *out);

#endif /* IOMMU_SDK_INTERNAL_H */
