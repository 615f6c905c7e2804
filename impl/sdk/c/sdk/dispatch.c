/* One request to one callback, and its success reply to JSON (spec/ops.ts OP_FIELDS[op].ok). */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"

void iommu_reply_msg(iommu_reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->has_msg = true;
}

iommu_errno iommu_reply_leaf(iommu_reply *r, uint64_t iova, uint64_t pgsize, uint64_t count)
{
	if (r->n_leaves == r->cap_leaves) {
		size_t cap = r->cap_leaves ? r->cap_leaves * 2 : 16;
		void *p = realloc(r->leaves, cap * sizeof(*r->leaves));
		if (!p)
			return IOMMU_ENOMEM;
		r->leaves = p;
		r->cap_leaves = cap;
	}
	r->leaves[r->n_leaves].iova = iova;
	r->leaves[r->n_leaves].pgsize = pgsize;
	r->leaves[r->n_leaves].count = count;
	r->n_leaves++;
	return IOMMU_OK;
}

/* A NULL callback is an op the model does not implement. */
#define CALL(cb, ...) (m->cb ? m->cb(ctx, __VA_ARGS__) : IOMMU_ENOSYS)

iommu_errno sdk_dispatch(const struct iommu_model *m, void *ctx, enum sdk_op op, const union sdk_request *q, union sdk_ok *ok, iommu_reply *r)
{
	memset(ok, 0, sizeof(*ok));
	switch (op) {
	case OP_DOMAIN_ALLOC: return CALL(domain_alloc, &q->domain_alloc, &ok->domain_alloc, r);
	case OP_DOMAIN_FREE: return CALL(domain_free, &q->domain_free, r);
	case OP_ATTACH: return CALL(attach, &q->attach, r);
	case OP_DETACH: return CALL(detach, &q->attach, r);
	case OP_ATTACH_PASID: return CALL(attach_pasid, &q->attach_pasid, r);
	case OP_DETACH_PASID: return CALL(detach_pasid, &q->detach_pasid, r);
	case OP_MAP: return CALL(map, &q->map, r);
	case OP_UNMAP: return CALL(unmap, &q->unmap, &ok->unmap, r);
	case OP_IOVA_TO_PHYS: return CALL(iova_to_phys, &q->iova_to_phys, &ok->iova_to_phys, r);
	case OP_DMA: return CALL(dma, &q->dma, &ok->dma, r);
	case OP_FLUSH: return CALL(flush, &q->flush, r);
	case OP_PASID_ALLOC: return CALL(pasid_alloc, &q->pasid_alloc, &ok->pasid_alloc, r);
	case OP_PASID_GET: return CALL(pasid_get, &q->pasid, r);
	case OP_PASID_PUT: return CALL(pasid_put, &q->pasid, &ok->pasid_put, r);
	case OP_PASID_FIND: return CALL(pasid_find, &q->pasid, &ok->pasid_find, r);
	case OP_SVA_BIND: return CALL(sva_bind, &q->sva_bind, &ok->sva_bind, r);
	case OP_SVA_UNBIND: return CALL(sva_unbind, &q->sva_unbind, r);
	case OP_MM_MAP: return CALL(mm_map, &q->mm_map, r);
	case OP_MM_UNMAP: return CALL(mm_unmap, &q->mm_unmap, r);
	case OP_MM_EXIT: return CALL(mm_exit, &q->mm_exit, r);
	case OP_LEAVES: return CALL(leaves, &q->leaves, r);
	case OP_PT_PAGES: return CALL(pt_pages, &q->pt_pages, &ok->pt_pages, r);
	case OP_FAIL_NTH: return CALL(fail_nth, &q->fail_nth, r);
	case OP_COUNT: break;
	}
	return IOMMU_ENOSYS;
}

static void key(struct sdk_out *o, const char *k)
{
	out_raw(o, "\"", 1);
	out_str(o, k);
	out_raw(o, "\":", 2);
}

void sdk_encode_ok(struct sdk_out *o, enum sdk_op op, const union sdk_ok *ok, const iommu_reply *r)
{
	out_raw(o, "{", 1);
	switch (op) {
	case OP_DOMAIN_ALLOC:
		if (ok->domain_alloc.has_pgsizes) {
			key(o, "pgsizes");
			out_hex(o, ok->domain_alloc.pgsizes);
		}
		break;
	case OP_UNMAP:
		key(o, "unmapped");
		out_hex(o, ok->unmap.unmapped);
		break;
	case OP_IOVA_TO_PHYS:
		key(o, "phys");
		out_hex(o, ok->iova_to_phys.phys);
		break;
	case OP_DMA:
		if (ok->dma.has_phys) {
			key(o, "phys");
			out_hex(o, ok->dma.phys);
		}
		break;
	case OP_PASID_ALLOC:
		key(o, "pasid");
		out_int(o, ok->pasid_alloc.pasid);
		break;
	case OP_PASID_PUT:
		key(o, "freed");
		out_str(o, ok->pasid_put.freed ? "true" : "false");
		break;
	case OP_PASID_FIND:
		key(o, "data");
		if (ok->pasid_find.data)
			out_json_string(o, ok->pasid_find.data, strlen(ok->pasid_find.data));
		else
			out_str(o, "null");
		break;
	case OP_SVA_BIND:
		key(o, "pasid");
		out_int(o, ok->sva_bind.pasid);
		break;
	case OP_LEAVES:
		key(o, "leaves");
		out_raw(o, "[", 1);
		for (size_t i = 0; i < r->n_leaves; i++) {
			out_str(o, i ? ",{\"iova\":" : "{\"iova\":");
			out_hex(o, r->leaves[i].iova);
			out_str(o, ",\"pgsize\":");
			out_hex(o, r->leaves[i].pgsize);
			out_str(o, ",\"count\":");
			out_hex(o, r->leaves[i].count);
			out_raw(o, "}", 1);
		}
		out_raw(o, "]", 1);
		break;
	case OP_PT_PAGES:
		key(o, "pages");
		out_int(o, ok->pt_pages.pages);
		break;
	default:
		break;
	}
	out_raw(o, "}", 1);
}
