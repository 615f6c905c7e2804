/*
 * The serving loop: read a line, answer it, repeat until EOF. Replies collect in a buffer
 * that is written out when the suite has nothing more waiting for us, so a pipelined batch
 * costs one write() rather than one per reply, and a lone request is never left unanswered.
 */
#define _POSIX_C_SOURCE 200809L /* poll, read, write under -std=c11 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"

/* Replies buffered beyond this are written even while input keeps coming. */
#define OUT_HIGH_WATER (1u << 20)
#define IN_CHUNK 65536

struct server {
	const struct iommu_model *m;
	void *ctx;
	enum iommu_flush_mode flush;
	struct sdk_out out;
	struct sdk_arena req;  /* one request's JSON; reset per line */
	struct sdk_arena topo; /* the current topology, kept until the next successful reset */
	iommu_reply reply;
	int in_fd;
	char *in;
	size_t in_start, in_end, in_cap, scan;
	unsigned long line_no;
};

/* ---- Input ---- */

static bool input_waiting(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	return n > 0;
}

/* The next line without its '\n' (NUL-terminated in place), or NULL at EOF. A last line
 * without '\n' still counts. Lines may be any length: the buffer grows. */
static char *next_line(struct server *s, size_t *len)
{
	for (;;) {
		char *nl = s->in ? memchr(s->in + s->scan, '\n', s->in_end - s->scan) : NULL;
		if (nl) {
			char *line = s->in + s->in_start;
			*len = (size_t)(nl - line);
			*nl = '\0';
			s->in_start = s->scan = (size_t)(nl - s->in) + 1;
			return line;
		}
		s->scan = s->in_end;
		/* Keep the partial line at the front, and room for a chunk plus a NUL after it. */
		if (s->in_start > 0) {
			memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
			s->in_end -= s->in_start;
			s->scan -= s->in_start;
			s->in_start = 0;
		}
		if (s->in_cap - s->in_end < IN_CHUNK + 1) {
			s->in_cap = s->in_cap ? s->in_cap * 2 : 2 * IN_CHUNK;
			s->in = sdk_xrealloc(s->in, s->in_cap);
		}
		if (s->out.len > 0 && (s->flush == IOMMU_FLUSH_EVERY_REPLY || !input_waiting(s->in_fd)))
			out_flush(&s->out);
		ssize_t n = read(s->in_fd, s->in + s->in_end, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "iommu_sdk: cannot read requests: %s\n", strerror(errno));
			n = 0;
		}
		if (n == 0) {
			if (s->in_end == s->in_start)
				return NULL;
			*len = s->in_end - s->in_start;
			s->in[s->in_end] = '\0';
			s->in_start = s->scan = s->in_end;
			return s->in + (s->in_end - *len);
		}
		s->in_end += (size_t)n;
	}
}

/* ---- Replies ---- */

static void begin_reply(struct server *s, uint64_t id)
{
	out_str(&s->out, "{\"id\":");
	out_uint(&s->out, id);
}

static void end_reply(struct server *s)
{
	out_raw(&s->out, "}\n", 2);
	if (s->flush == IOMMU_FLUSH_EVERY_REPLY || s->out.len >= OUT_HIGH_WATER)
		out_flush(&s->out);
}

static void reply_err(struct server *s, uint64_t id, iommu_errno e, const char *msg)
{
	const char *name = iommu_errno_name(e);
	char tmp[SDK_MSG_MAX];
	if (!name) {
		snprintf(tmp, sizeof(tmp), "the model returned an unknown errno %d", (int)e);
		name = "EIO";
		msg = tmp;
	}
	begin_reply(s, id);
	out_str(&s->out, ",\"err\":\"");
	out_str(&s->out, name);
	out_raw(&s->out, "\"", 1);
	if (msg) {
		out_str(&s->out, ",\"msg\":");
		out_json_string(&s->out, msg, strlen(msg));
	}
	end_reply(s);
}

static void reply_empty_ok(struct server *s, uint64_t id)
{
	begin_reply(s, id);
	out_str(&s->out, ",\"ok\":{}");
	end_reply(s);
}

/* ---- hello and reset, which the SDK answers itself ---- */

static struct json_value parsed_topologies; /* the model's topologies_json, parsed once */
static struct sdk_arena hello_arena;

static void write_hello(struct server *s, uint64_t id)
{
	const struct iommu_hello *h = &s->m->hello;
	struct sdk_out *o = &s->out;
	begin_reply(s, id);
	out_str(o, ",\"ok\":{\"protocol\":");
	out_uint(o, IOMMU_SDK_PROTOCOL);
	out_str(o, ",\"name\":");
	out_json_string(o, h->name, strlen(h->name));
	out_str(o, ",\"version\":");
	out_json_string(o, h->version, strlen(h->version));
	out_str(o, ",\"profile\":");
	out_json_string(o, h->profile, strlen(h->profile));
	out_str(o, ",\"policies\":{");
	for (const struct iommu_policy *p = h->policies; p && p->key; p++) {
		if (p != h->policies)
			out_raw(o, ",", 1);
		out_json_string(o, p->key, strlen(p->key));
		out_raw(o, ":", 1);
		out_json_string(o, p->value, strlen(p->value));
	}
	out_str(o, "},\"capabilities\":{");
	for (const struct iommu_capability *c = h->capabilities; c && c->name; c++) {
		if (c != h->capabilities)
			out_raw(o, ",", 1);
		out_json_string(o, c->name, strlen(c->name));
		out_str(o, c->value ? ":true" : ":false");
	}
	out_str(o, "},\"topologies\":");
	if (h->topologies_json)
		json_write(o, &parsed_topologies);
	else
		out_str(o, "\"any\"");
	out_raw(o, "}", 1);
	end_reply(s);
}

static void do_hello(struct server *s, uint64_t id, const struct json_value *req)
{
	const struct json_value *v = json_get(req, "protocol");
	if (!v) {
		reply_err(s, id, IOMMU_EINVAL, "hello.protocol: missing");
		return;
	}
	if (v->type != JSON_NUMBER || !v->u.num.is_uint || v->u.num.u != IOMMU_SDK_PROTOCOL) {
		/* Answer anyway: the suite compares versions and says which side is which. */
		char got[64];
		json_excerpt(v, got, sizeof(got));
		fprintf(stderr, "iommu_sdk: the suite asks for protocol %s; this SDK speaks %d\n", got, IOMMU_SDK_PROTOCOL);
	}
	write_hello(s, id);
}

static void do_reset(struct server *s, uint64_t id, const struct json_value *req)
{
	struct sdk_arena fresh = { 0 };
	struct iommu_topology *t = arena_alloc(&fresh, sizeof(*t)); /* lives as long as its arrays */
	struct sdk_problem p;
	if (!decode_topology(&fresh, json_get(req, "topology"), t, &p)) {
		arena_free(&fresh);
		reply_err(s, id, IOMMU_EINVAL, p.msg);
		return;
	}
	iommu_errno e = s->m->reset ? s->m->reset(s->ctx, t, &s->reply) : IOMMU_ENOSYS;
	if (e != IOMMU_OK) {
		arena_free(&fresh);
		reply_err(s, id, e, s->reply.has_msg ? s->reply.msg : NULL);
		return;
	}
	arena_free(&s->topo);
	s->topo = fresh;
	reply_empty_ok(s, id);
}

/* ---- One line ---- */

/* The id of a line that is not valid JSON, when it starts the way the suite writes requests:
 * `{"id":<digits>`. Anything less certain is not answered, lest we answer the wrong request. */
static bool recover_id(const char *line, size_t len, uint64_t *id)
{
	const char *p = line, *end = line + len;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
	if (p == end || *p++ != '{') return false;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
	if ((size_t)(end - p) < 4 || memcmp(p, "\"id\"", 4) != 0) return false;
	p += 4;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
	if (p == end || *p++ != ':') return false;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
	if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')) return false;
	uint64_t v = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10) return false;
		v = v * 10 + d;
	}
	if (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\r') return false;
	*id = v;
	return true;
}

static void handle_line(struct server *s, const char *line, size_t len)
{
	struct json_value req;
	char err[SDK_MSG_MAX];
	uint64_t id;

	arena_reset(&s->req);
	s->reply.has_msg = false;
	s->reply.n_leaves = 0;

	if (len == strspn(line, " \t\r"))
		return; /* blank lines are not requests (spec/protocol.md) */
	if (!json_parse(&s->req, line, len, &req, err, sizeof(err))) {
		if (recover_id(line, len, &id))
			reply_err(s, id, IOMMU_EINVAL, err);
		else
			fprintf(stderr, "iommu_sdk: line %lu: %s; no id to answer\n", s->line_no, err);
		return;
	}
	const struct json_value *idv = json_get(&req, "id");
	if (req.type != JSON_OBJECT || !idv || idv->type != JSON_NUMBER || !idv->u.num.is_uint) {
		fprintf(stderr, "iommu_sdk: line %lu: %s; not answered\n", s->line_no,
			req.type != JSON_OBJECT ? "a request must be a JSON object" : !idv ? "request without an id" : "id must be a non-negative integer");
		return;
	}
	id = idv->u.num.u;
	const struct json_value *opv = json_get(&req, "op");
	if (!opv || opv->type != JSON_STRING) {
		reply_err(s, id, IOMMU_EINVAL, opv ? "op: expected a string" : "op: missing");
		return;
	}
	const char *name = opv->u.str.s;
	if (strcmp(name, "hello") == 0) {
		do_hello(s, id, &req);
		return;
	}
	if (strcmp(name, "reset") == 0) {
		do_reset(s, id, &req);
		return;
	}
	enum sdk_op op = sdk_op_lookup(name);
	if (op == OP_COUNT) {
		snprintf(err, sizeof(err), "unknown op \"%.64s\"", name);
		reply_err(s, id, IOMMU_ENOSYS, err);
		return;
	}
	union sdk_request q;
	struct sdk_problem p;
	if (!decode_request(op, &req, &q, &p)) {
		reply_err(s, id, IOMMU_EINVAL, p.msg);
		return;
	}
	union sdk_ok ok;
	iommu_errno e = sdk_dispatch(s->m, s->ctx, op, &q, &ok, &s->reply);
	if (e == IOMMU_OK) {
		begin_reply(s, id);
		out_str(&s->out, ",\"ok\":");
		sdk_encode_ok(&s->out, op, &ok, &s->reply);
		end_reply(s);
	} else {
		reply_err(s, id, e, s->reply.has_msg ? s->reply.msg : NULL);
	}
}

/* ---- Entry points ---- */

/* The model's own hello information; a mistake there is the author's, reported at start. */
static bool hello_valid(const struct iommu_hello *h)
{
	char err[SDK_MSG_MAX];
	if (!h->name || !h->version || !h->profile) {
		fputs("iommu_sdk: the model's hello needs a name, a version and a profile\n", stderr);
		return false;
	}
	for (const struct iommu_policy *p = h->policies; p && p->key; p++) {
		if (!p->value) {
			fprintf(stderr, "iommu_sdk: the model's policy %s has no value\n", p->key);
			return false;
		}
	}
	if (h->topologies_json) {
		if (!json_parse(&hello_arena, h->topologies_json, strlen(h->topologies_json), &parsed_topologies, err, sizeof(err))) {
			fprintf(stderr, "iommu_sdk: the model's topologies_json: %s\n", err);
			return false;
		}
		if (parsed_topologies.type != JSON_ARRAY) {
			fputs("iommu_sdk: the model's topologies_json must be a JSON array\n", stderr);
			return false;
		}
	}
	return true;
}

int iommu_sdk_serve(const struct iommu_model *m, void *ctx, const struct iommu_sdk_options *opt)
{
	struct iommu_sdk_options defaults = { .in_fd = 0, .out_fd = 1, .flush = IOMMU_FLUSH_WHEN_IDLE };
	if (!opt)
		opt = &defaults;
	if (!hello_valid(&m->hello))
		return 1;
	/* A suite that has gone away shows up as a failed write, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	struct server s = { .m = m, .ctx = ctx, .flush = opt->flush, .in_fd = opt->in_fd };
	s.out.fd = opt->out_fd;
	const char *line;
	size_t len;
	while (!s.out.failed && (line = next_line(&s, &len)) != NULL) {
		s.line_no++;
		handle_line(&s, line, len);
	}
	out_flush(&s.out);
	int status = 0;
	if (s.out.failed) {
		fprintf(stderr, "iommu_sdk: cannot write replies: %s\n", strerror(s.out.err));
		status = 1;
	}
	if (m->destroy)
		m->destroy(ctx);
	arena_free(&s.req);
	arena_free(&s.topo);
	arena_free(&hello_arena);
	free(s.in);
	free(s.out.buf);
	free(s.reply.leaves);
	return status;
}

int iommu_sdk_main(const struct iommu_model *m, void *ctx)
{
	struct iommu_sdk_options opt = { .in_fd = 0, .out_fd = 1, .flush = IOMMU_FLUSH_WHEN_IDLE };
	const char *mode = getenv("IOMMU_SDK_FLUSH");
	if (mode && strcmp(mode, "every") == 0)
		opt.flush = IOMMU_FLUSH_EVERY_REPLY;
	return iommu_sdk_serve(m, ctx, &opt);
}
