/*
 * Requests from JSON to C structs, driven by one table that mirrors spec/ops.ts OP_FIELDS.
 * Every check the TypeScript codec (spec/wire.ts) makes is made here too, with the same
 * wording, so a model never sees a value the suite could not have sent. Unknown keys are
 * ignored: a later protocol may add optional fields.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define INT_MAX_SAFE ((UINT64_C(1) << 53) - 1) /* Number.MAX_SAFE_INTEGER */
#define PROT_WIRE_MAX UINT64_C(0xffffffff)
#define NO_HAS ((size_t)-1)

enum field_kind { F_HANDLE, F_U64, F_INT, F_PROT, F_DOMTYPE, F_ACCESS, F_STR };

struct field {
	const char *name;
	enum field_kind kind;
	bool optional;
	size_t offset;     /* of the value in the op's request struct */
	size_t has_offset; /* of its presence flag, or NO_HAS (pointers are NULL when absent) */
};

#define REQ(t, name, kind, member) { name, kind, false, offsetof(t, member), NO_HAS }
#define OPT(t, name, kind, member, has) { name, kind, true, offsetof(t, member), offsetof(t, has) }
#define OPTP(t, name, kind, member) { name, kind, true, offsetof(t, member), NO_HAS }

typedef struct iommu_domain_alloc_req t_da;
typedef struct iommu_attach_req t_at;
typedef struct iommu_map_req t_map;
typedef struct iommu_unmap_req t_un;
typedef struct iommu_dma_req t_dma;
typedef struct iommu_pasid_alloc_req t_pa;
typedef struct iommu_mm_map_req t_mm;
typedef struct iommu_mm_unmap_req t_mu;
typedef struct iommu_leaves_req t_lv;

static const struct field f_domain_alloc[] = {
	REQ(t_da, "domain", F_HANDLE, domain), REQ(t_da, "type", F_DOMTYPE, type), REQ(t_da, "dev", F_HANDLE, dev),
	OPT(t_da, "pgsizes", F_U64, pgsizes, has_pgsizes), OPTP(t_da, "parent", F_HANDLE, parent), OPTP(t_da, "mm", F_HANDLE, mm), { 0 },
};
static const struct field f_domain_free[] = { REQ(struct iommu_domain_free_req, "domain", F_HANDLE, domain), { 0 } };
static const struct field f_attach[] = {
	REQ(t_at, "dev", F_HANDLE, dev), REQ(t_at, "domain", F_HANDLE, domain), OPT(t_at, "reserved", F_INT, reserved, has_reserved),
	OPT(t_at, "inval", F_INT, inval, has_inval), { 0 },
};
static const struct field f_attach_pasid[] = {
	REQ(struct iommu_attach_pasid_req, "dev", F_HANDLE, dev), REQ(struct iommu_attach_pasid_req, "domain", F_HANDLE, domain),
	REQ(struct iommu_attach_pasid_req, "pasid", F_INT, pasid), { 0 },
};
static const struct field f_detach_pasid[] = {
	REQ(struct iommu_detach_pasid_req, "dev", F_HANDLE, dev), REQ(struct iommu_detach_pasid_req, "pasid", F_INT, pasid), { 0 },
};
static const struct field f_map[] = {
	REQ(t_map, "domain", F_HANDLE, domain), REQ(t_map, "iova", F_U64, iova), REQ(t_map, "paddr", F_U64, paddr),
	REQ(t_map, "size", F_U64, size), REQ(t_map, "prot", F_PROT, prot), OPT(t_map, "reserved", F_INT, reserved, has_reserved), { 0 },
};
static const struct field f_unmap[] = {
	REQ(t_un, "domain", F_HANDLE, domain), REQ(t_un, "iova", F_U64, iova), REQ(t_un, "size", F_U64, size),
	OPT(t_un, "reserved", F_INT, reserved, has_reserved), OPT(t_un, "inval", F_INT, inval, has_inval), { 0 },
};
static const struct field f_iova_to_phys[] = {
	REQ(struct iommu_iova_to_phys_req, "domain", F_HANDLE, domain), REQ(struct iommu_iova_to_phys_req, "iova", F_U64, iova), { 0 },
};
static const struct field f_dma[] = {
	REQ(t_dma, "dev", F_HANDLE, dev), REQ(t_dma, "iova", F_U64, iova), REQ(t_dma, "access", F_ACCESS, write),
	OPT(t_dma, "pasid", F_INT, pasid, has_pasid), OPTP(t_dma, "pasidOf", F_HANDLE, pasid_of), { 0 },
};
static const struct field f_flush[] = { REQ(struct iommu_flush_req, "domain", F_HANDLE, domain), { 0 } };
static const struct field f_pasid_alloc[] = {
	REQ(t_pa, "pasid", F_HANDLE, pasid), REQ(t_pa, "min", F_INT, min), REQ(t_pa, "max", F_INT, max), OPTP(t_pa, "data", F_STR, data), { 0 },
};
static const struct field f_pasid[] = { REQ(struct iommu_pasid_req, "pasid", F_HANDLE, pasid), { 0 } };
static const struct field f_sva_bind[] = {
	REQ(struct iommu_sva_bind_req, "bond", F_HANDLE, bond), REQ(struct iommu_sva_bind_req, "dev", F_HANDLE, dev),
	REQ(struct iommu_sva_bind_req, "mm", F_HANDLE, mm), { 0 },
};
static const struct field f_sva_unbind[] = { REQ(struct iommu_sva_unbind_req, "bond", F_HANDLE, bond), { 0 } };
static const struct field f_mm_map[] = {
	REQ(t_mm, "mm", F_HANDLE, mm), REQ(t_mm, "va", F_U64, va), REQ(t_mm, "pa", F_U64, pa), REQ(t_mm, "size", F_U64, size),
	REQ(t_mm, "prot", F_PROT, prot), { 0 },
};
static const struct field f_mm_unmap[] = { REQ(t_mu, "mm", F_HANDLE, mm), REQ(t_mu, "va", F_U64, va), REQ(t_mu, "size", F_U64, size), { 0 } };
static const struct field f_mm_exit[] = { REQ(struct iommu_mm_exit_req, "mm", F_HANDLE, mm), { 0 } };
static const struct field f_leaves[] = { REQ(t_lv, "domain", F_HANDLE, domain), REQ(t_lv, "iova", F_U64, iova), REQ(t_lv, "size", F_U64, size), { 0 } };
static const struct field f_pt_pages[] = { REQ(struct iommu_pt_pages_req, "domain", F_HANDLE, domain), { 0 } };
static const struct field f_fail_nth[] = { REQ(struct iommu_fail_nth_req, "n", F_INT, n), { 0 } };

static const struct {
	const char *name;
	const struct field *fields;
} ops[OP_COUNT] = {
	[OP_DOMAIN_ALLOC] = { "domain_alloc", f_domain_alloc },
	[OP_DOMAIN_FREE] = { "domain_free", f_domain_free },
	[OP_ATTACH] = { "attach", f_attach },
	[OP_DETACH] = { "detach", f_attach },
	[OP_ATTACH_PASID] = { "attach_pasid", f_attach_pasid },
	[OP_DETACH_PASID] = { "detach_pasid", f_detach_pasid },
	[OP_MAP] = { "map", f_map },
	[OP_UNMAP] = { "unmap", f_unmap },
	[OP_IOVA_TO_PHYS] = { "iova_to_phys", f_iova_to_phys },
	[OP_DMA] = { "dma", f_dma },
	[OP_FLUSH] = { "flush", f_flush },
	[OP_PASID_ALLOC] = { "pasid_alloc", f_pasid_alloc },
	[OP_PASID_GET] = { "pasid_get", f_pasid },
	[OP_PASID_PUT] = { "pasid_put", f_pasid },
	[OP_PASID_FIND] = { "pasid_find", f_pasid },
	[OP_SVA_BIND] = { "sva_bind", f_sva_bind },
	[OP_SVA_UNBIND] = { "sva_unbind", f_sva_unbind },
	[OP_MM_MAP] = { "mm_map", f_mm_map },
	[OP_MM_UNMAP] = { "mm_unmap", f_mm_unmap },
	[OP_MM_EXIT] = { "mm_exit", f_mm_exit },
	[OP_LEAVES] = { "leaves", f_leaves },
	[OP_PT_PAGES] = { "pt_pages", f_pt_pages },
	[OP_FAIL_NTH] = { "fail_nth", f_fail_nth },
};

enum sdk_op sdk_op_lookup(const char *name)
{
	for (int i = 0; i < OP_COUNT; i++) {
		if (strcmp(ops[i].name, name) == 0)
			return (enum sdk_op)i;
	}
	return OP_COUNT;
}

const char *sdk_op_name(enum sdk_op op)
{
	return op < OP_COUNT ? ops[op].name : NULL;
}

void sdk_problem_set(struct sdk_problem *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

bool sdk_parse_hex(const char *s, size_t len, uint64_t *out)
{
	if (len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
		return false;
	uint64_t v = 0;
	for (size_t i = 2; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
		else return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool bad(struct sdk_problem *p, const char *where, const char *want, const struct json_value *v)
{
	char got[64];
	json_excerpt(v, got, sizeof(got));
	sdk_problem_set(p, "%s: expected %s, got %s", where, want, got);
	return false;
}

static bool parse_domtype(const char *s, iommu_domain_type *out)
{
	for (int t = 0; t < IOMMU_DOMAIN_TYPE_COUNT; t++) {
		if (strcmp(s, iommu_domain_type_name((iommu_domain_type)t)) == 0) {
			*out = (iommu_domain_type)t;
			return true;
		}
	}
	return false;
}

static bool get_u64(const struct json_value *v, const char *where, uint64_t *out, struct sdk_problem *p)
{
	if (v->type != JSON_STRING || !sdk_parse_hex(v->u.str.s, v->u.str.len, out))
		return bad(p, where, "a hex string \"0x...\" of at most 64 bits", v);
	return true;
}

static bool get_int(const struct json_value *v, const char *where, int64_t *out, struct sdk_problem *p)
{
	if (v->type != JSON_NUMBER || !v->u.num.is_uint || v->u.num.u > INT_MAX_SAFE)
		return bad(p, where, "a non-negative integer", v);
	*out = (int64_t)v->u.num.u;
	return true;
}

static bool get_name(const struct json_value *v, const char *where, const char **out, struct sdk_problem *p)
{
	if (v->type != JSON_STRING || v->u.str.len == 0)
		return bad(p, where, "a handle string", v);
	*out = v->u.str.s;
	return true;
}

static bool decode_field(const struct field *f, const struct json_value *v, const char *where, char *base, struct sdk_problem *p)
{
	void *at = base + f->offset;
	switch (f->kind) {
	case F_HANDLE:
		return get_name(v, where, (const char **)at, p);
	case F_U64:
		return get_u64(v, where, (uint64_t *)at, p);
	case F_INT:
		return get_int(v, where, (int64_t *)at, p);
	case F_PROT:
		if (v->type != JSON_NUMBER || !v->u.num.is_uint || v->u.num.u > PROT_WIRE_MAX)
			return bad(p, where, "a 32-bit prot bitmask", v);
		*(uint32_t *)at = (uint32_t)v->u.num.u;
		return true;
	case F_DOMTYPE:
		if (v->type != JSON_STRING || !parse_domtype(v->u.str.s, (iommu_domain_type *)at))
			return bad(p, where, "one of blocked|identity|paging|dma|dma_fq|sva|nested", v);
		return true;
	case F_ACCESS:
		if (v->type != JSON_STRING || (strcmp(v->u.str.s, "r") != 0 && strcmp(v->u.str.s, "w") != 0))
			return bad(p, where, "\"r\" or \"w\"", v);
		*(bool *)at = v->u.str.s[0] == 'w';
		return true;
	case F_STR:
		if (v->type == JSON_NULL)
			return true; /* stays NULL */
		if (v->type != JSON_STRING)
			return bad(p, where, "a string or null", v);
		*(const char **)at = v->u.str.s;
		return true;
	}
	return false;
}

bool decode_request(enum sdk_op op, const struct json_value *obj, union sdk_request *req, struct sdk_problem *p)
{
	memset(req, 0, sizeof(*req));
	for (const struct field *f = ops[op].fields; f->name; f++) {
		char where[64];
		snprintf(where, sizeof(where), "%s.%s", ops[op].name, f->name);
		const struct json_value *v = json_get(obj, f->name);
		if (!v) {
			if (!f->optional) {
				sdk_problem_set(p, "%s: missing", where);
				return false;
			}
			continue;
		}
		if (!decode_field(f, v, where, (char *)req, p))
			return false;
		if (f->has_offset != NO_HAS)
			*(bool *)((char *)req + f->has_offset) = true;
	}
	return true;
}

/* ---- reset's topology ---- */

static const struct json_value *member(const struct json_value *obj, const char *key, const char *where, struct sdk_problem *p)
{
	const struct json_value *v = json_get(obj, key);
	if (!v)
		sdk_problem_set(p, "%s.%s: missing", where, key);
	return v;
}

static bool topo_name(struct sdk_arena *a, const struct json_value *obj, const char *key, const char *where, const char **out, struct sdk_problem *p)
{
	char w[96];
	const struct json_value *v = member(obj, key, where, p);
	snprintf(w, sizeof(w), "%s.%s", where, key);
	if (!v || !get_name(v, w, out, p))
		return false;
	*out = arena_strndup(a, v->u.str.s, v->u.str.len);
	return true;
}

static bool topo_int(const struct json_value *obj, const char *key, const char *where, int64_t *out, struct sdk_problem *p)
{
	char w[96];
	const struct json_value *v = member(obj, key, where, p);
	snprintf(w, sizeof(w), "%s.%s", where, key);
	return v && get_int(v, w, out, p);
}

static const struct json_value *topo_list(const struct json_value *t, const char *key, struct sdk_problem *p)
{
	const struct json_value *v = member(t, key, "reset.topology", p);
	if (!v)
		return NULL;
	if (v->type != JSON_ARRAY) {
		char w[64];
		snprintf(w, sizeof(w), "reset.topology.%s", key);
		bad(p, w, "an array", v);
		return NULL;
	}
	for (size_t i = 0; i < v->u.arr.n; i++) {
		if (v->u.arr.items[i].type != JSON_OBJECT) {
			char w[64];
			snprintf(w, sizeof(w), "reset.topology.%s[%zu]", key, i);
			bad(p, w, "an object", &v->u.arr.items[i]);
			return NULL;
		}
	}
	return v;
}

static bool decode_iommu(struct sdk_arena *a, const struct json_value *o, size_t i, struct iommu_topo_iommu *m, struct sdk_problem *p)
{
	char where[64], w[96];
	int64_t ias, oas, bits;
	snprintf(where, sizeof(where), "reset.topology.iommus[%zu]", i);
	if (!topo_name(a, o, "name", where, &m->name, p) || !topo_name(a, o, "format", where, &m->format, p))
		return false;
	const struct json_value *v = member(o, "pgsizes", where, p);
	snprintf(w, sizeof(w), "%s.pgsizes", where);
	if (!v || !get_u64(v, w, &m->pgsizes, p))
		return false;
	if (!topo_int(o, "ias", where, &ias, p) || !topo_int(o, "oas", where, &oas, p) ||
	    !topo_int(o, "contexts", where, &m->contexts, p) || !topo_int(o, "pasidBits", where, &bits, p))
		return false;
	/* Widths beyond 64 bits or PASIDs beyond 20 bits are outside every real IOMMU and would
	 * make shifts undefined in a model; validateTopology refuses them too. */
	if (ias > 64 || oas > 64 || bits > 20) {
		sdk_problem_set(p, "%s: ias/oas above 64 or pasidBits above 20", where);
		return false;
	}
	m->ias = (int)ias;
	m->oas = (int)oas;
	m->pasid_bits = (int)bits;
	v = member(o, "domainTypes", where, p);
	snprintf(w, sizeof(w), "%s.domainTypes", where);
	if (!v)
		return false;
	if (v->type != JSON_ARRAY)
		return bad(p, w, "an array of domain types", v);
	m->domain_types = 0;
	for (size_t k = 0; k < v->u.arr.n; k++) {
		const struct json_value *e = &v->u.arr.items[k];
		iommu_domain_type t;
		if (e->type != JSON_STRING || !parse_domtype(e->u.str.s, &t))
			return bad(p, w, "an array of domain types", e);
		m->domain_types |= 1u << t;
	}
	return true;
}

static bool lookup(const char *name, const char *const *names, size_t n, size_t *out)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(names[k], name) == 0) {
			*out = k;
			return true;
		}
	}
	return false;
}

bool decode_topology(struct sdk_arena *a, const struct json_value *t, struct iommu_topology *out, struct sdk_problem *p)
{
	if (!t) {
		sdk_problem_set(p, "reset.topology: missing");
		return false;
	}
	if (t->type != JSON_OBJECT)
		return bad(p, "reset.topology", "an object", t);
	const struct json_value *iv = topo_list(t, "iommus", p), *gv = iv ? topo_list(t, "groups", p) : NULL;
	const struct json_value *dv = gv ? topo_list(t, "devices", p) : NULL;
	if (!dv)
		return false;

	struct iommu_topo_iommu *iommus = arena_alloc(a, iv->u.arr.n * sizeof(*iommus));
	struct iommu_topo_group *groups = arena_alloc(a, gv->u.arr.n * sizeof(*groups));
	struct iommu_topo_device *devices = arena_alloc(a, dv->u.arr.n * sizeof(*devices));
	const char **names = arena_alloc(a, (iv->u.arr.n + gv->u.arr.n) * sizeof(*names));

	for (size_t i = 0; i < iv->u.arr.n; i++) {
		if (!decode_iommu(a, &iv->u.arr.items[i], i, &iommus[i], p))
			return false;
		names[i] = iommus[i].name;
	}
	for (size_t i = 0; i < gv->u.arr.n; i++) {
		const struct json_value *o = &gv->u.arr.items[i];
		char where[64];
		const char *iommu, *def;
		snprintf(where, sizeof(where), "reset.topology.groups[%zu]", i);
		if (!topo_name(a, o, "name", where, &groups[i].name, p) || !topo_name(a, o, "iommu", where, &iommu, p) ||
		    !topo_name(a, o, "defaultDomain", where, &def, p))
			return false;
		if (!lookup(iommu, names, iv->u.arr.n, &groups[i].iommu)) {
			sdk_problem_set(p, "%s: unknown IOMMU %s", where, iommu);
			return false;
		}
		if (strcmp(def, "dma") == 0) groups[i].default_domain = IOMMU_DOMAIN_DMA;
		else if (strcmp(def, "identity") == 0) groups[i].default_domain = IOMMU_DOMAIN_IDENTITY;
		else if (strcmp(def, "blocked") == 0) groups[i].default_domain = IOMMU_DOMAIN_BLOCKED;
		else {
			sdk_problem_set(p, "%s.defaultDomain: expected dma|identity|blocked, got \"%s\"", where, def);
			return false;
		}
	}
	const char **gnames = names + iv->u.arr.n;
	for (size_t i = 0; i < gv->u.arr.n; i++)
		gnames[i] = groups[i].name;
	for (size_t i = 0; i < dv->u.arr.n; i++) {
		const struct json_value *o = &dv->u.arr.items[i];
		char where[64];
		const char *group;
		snprintf(where, sizeof(where), "reset.topology.devices[%zu]", i);
		if (!topo_name(a, o, "name", where, &devices[i].name, p) || !topo_name(a, o, "group", where, &group, p) ||
		    !topo_int(o, "maxPasids", where, &devices[i].max_pasids, p))
			return false;
		if (!lookup(group, gnames, gv->u.arr.n, &devices[i].group)) {
			sdk_problem_set(p, "%s: unknown group %s", where, group);
			return false;
		}
	}
	out->n_iommus = iv->u.arr.n;
	out->n_groups = gv->u.arr.n;
	out->n_devices = dv->u.arr.n;
	out->iommus = iommus;
	out->groups = groups;
	out->devices = devices;
	return true;
}
