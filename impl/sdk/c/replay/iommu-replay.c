/*
 * iommu-replay: runs a replay script against any stdio adapter, without Node. The script is
 * what `iommu-conformance replay <finding> --emit-test <file>.ndjson` writes (its format:
 * spec/protocol.md, "Replay scripts"): one request per line and, where the reference's outcomes
 * can be listed, the replies it accepts; the last request is the op the finding failed on.
 *
 *   iommu-replay [--timeout-ms N] SCRIPT COMMAND      (COMMAND is run by /bin/sh -c)
 *
 * Exit 0: every judged reply is one the reference accepts (the bug is gone on this trace).
 * 1: a reply outside them, or the adapter died, hung or broke the protocol (the finding
 * reproduced; one line says where). 2: the script or the command could not be used (an adapter
 * that does not get through its hello included).
 */
#define _POSIX_C_SOURCE 200809L /* fdopen, kill, poll, sigaction */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../sdk/internal.h"

#define SCRIPT_VERSION 1
#define EXCERPT 300

static pid_t child = -1;
static int to_child = -1, from_child = -1;
static char *inbuf;
static size_t inlen, incap;

static int bail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(code == 2 ? stderr : stdout, fmt, ap);
	va_end(ap);
	fputc('\n', code == 2 ? stderr : stdout);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	exit(code);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		bail(2, "iommu-replay: cannot read %s: %s", path, strerror(errno));
	size_t cap = 65536, n = 0;
	char *buf = sdk_xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0)
			buf = sdk_xrealloc(buf, cap *= 2);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void spawn(const char *command)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		bail(2, "iommu-replay: pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		bail(2, "iommu-replay: fork: %s", strerror(errno));
	if (child == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(in[0]), close(out[1]);
	to_child = in[1];
	from_child = out[0];
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One reply line (without its newline) into `line`; 0 on success, -1 at end of file, -2 timeout. */
static int read_line(long timeout_ms, char **line, size_t *len)
{
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		char *nl = inlen ? memchr(inbuf, '\n', inlen) : NULL;
		if (nl) {
			*len = (size_t)(nl - inbuf);
			*line = sdk_xmalloc(*len + 1);
			memcpy(*line, inbuf, *len);
			(*line)[*len] = '\0';
			memmove(inbuf, nl + 1, inlen - *len - 1);
			inlen -= *len + 1;
			return 0;
		}
		long long left = deadline - now_ms();
		if (left <= 0)
			return -2;
		struct pollfd p = { .fd = from_child, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		if (incap - inlen < 65536)
			inbuf = sdk_xrealloc(inbuf, incap = incap ? incap * 2 : 131072);
		ssize_t n = read(from_child, inbuf + inlen, incap - inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		inlen += (size_t)n;
	}
}

/* "0x1F" and "0x001f" are one value: hex strings compare as numbers, everything else exactly. */
static bool hex_value(const struct json_value *v, uint64_t *out)
{
	if (v->type != JSON_STRING || v->u.str.len < 3 || v->u.str.s[0] != '0' || (v->u.str.s[1] != 'x' && v->u.str.s[1] != 'X'))
		return false;
	char *end;
	errno = 0;
	*out = strtoull(v->u.str.s + 2, &end, 16);
	return errno == 0 && *end == '\0';
}

static bool same(const struct json_value *want, const struct json_value *got, const struct json_value *optional);

/* Every field `want` names is in `got` and equal (an optional one may be absent); others may be present. */
static bool fields_match(const struct json_value *want, const struct json_value *got, const struct json_value *optional)
{
	if (got->type != JSON_OBJECT)
		return false;
	for (size_t i = 0; i < want->u.obj.n; i++) {
		const struct json_member *m = &want->u.obj.items[i];
		const struct json_value *g = json_get(got, m->key);
		if (!g) {
			bool may_lack = false;
			for (size_t k = 0; optional && k < optional->u.arr.n; k++)
				may_lack |= optional->u.arr.items[k].type == JSON_STRING && strcmp(optional->u.arr.items[k].u.str.s, m->key) == 0;
			if (!may_lack)
				return false;
			continue;
		}
		if (!same(&m->value, g, NULL))
			return false;
	}
	return true;
}

static bool same(const struct json_value *want, const struct json_value *got, const struct json_value *optional)
{
	uint64_t a, b;
	if (hex_value(want, &a) && hex_value(got, &b))
		return a == b;
	if (want->type != got->type)
		return false;
	switch (want->type) {
	case JSON_STRING:
		return want->u.str.len == got->u.str.len && memcmp(want->u.str.s, got->u.str.s, want->u.str.len) == 0;
	case JSON_NUMBER:
		return want->src_len == got->src_len && memcmp(want->src, got->src, want->src_len) == 0;
	case JSON_ARRAY:
		if (want->u.arr.n != got->u.arr.n)
			return false;
		for (size_t i = 0; i < want->u.arr.n; i++)
			if (!same(&want->u.arr.items[i], &got->u.arr.items[i], NULL))
				return false;
		return true;
	case JSON_OBJECT:
		return fields_match(want, got, optional);
	default:
		return true;
	}
}

/* Does the reply match one of the script's accepted patterns? */
static bool accepted(const struct json_value *expect, const struct json_value *reply)
{
	const struct json_value *ok = json_get(reply, "ok"), *err = json_get(reply, "err");
	for (size_t i = 0; i < expect->u.arr.n; i++) {
		const struct json_value *alt = &expect->u.arr.items[i];
		const struct json_value *want_ok = json_get(alt, "ok"), *want_err = json_get(alt, "err");
		if (want_ok && ok && !err && fields_match(want_ok, ok, json_get(alt, "optional")))
			return true;
		if (want_err && err && !ok && same(want_err, err, NULL))
			return true;
	}
	return false;
}

/* A value's text for a message; two may appear in one message, hence two buffers in turn. */
static const char *text(const struct json_value *v)
{
	static char buf[2][EXCERPT + 8];
	static int turn;
	turn ^= 1;
	json_excerpt(v, buf[turn], sizeof buf[turn]);
	return buf[turn];
}

static void send_request(struct sdk_out *o, uint64_t id, const struct json_value *request, const char *what, int broke)
{
	out_str(o, "{\"id\":");
	out_uint(o, id);
	for (size_t i = 0; i < request->u.obj.n; i++) {
		out_str(o, ",");
		out_json_string(o, request->u.obj.items[i].key, strlen(request->u.obj.items[i].key));
		out_str(o, ":");
		json_write(o, &request->u.obj.items[i].value);
	}
	out_str(o, "}\n");
	if (!out_flush(o))
		bail(broke, "FAIL: the adapter stopped reading its stdin at request #%" PRIu64 " %s (%s)", id, what, strerror(o->err));
	o->len = 0;
}

int main(int argc, char **argv)
{
	long timeout_ms = 10000;
	int a = 1;
	if (a + 1 < argc && strcmp(argv[a], "--timeout-ms") == 0) {
		char *end;
		timeout_ms = strtol(argv[a + 1], &end, 10);
		if (*argv[a + 1] == '\0' || *end != '\0' || timeout_ms <= 0)
			bail(2, "iommu-replay: --timeout-ms needs a positive number of milliseconds, got '%s'", argv[a + 1]);
		a += 2;
	}
	if (argc - a != 2)
		bail(2, "usage: iommu-replay [--timeout-ms N] SCRIPT COMMAND");
	signal(SIGPIPE, SIG_IGN);

	size_t len;
	char *script = read_file(argv[a], &len);
	struct sdk_arena arena = { 0 };
	char err[256];
	struct sdk_out o = { .fd = -1 };
	uint64_t id = 0;
	unsigned lineno = 0;
	bool header = false, seen_last = false, judged_last = false;
	for (char *line = script, *next; line < script + len; line = next) {
		char *nl = memchr(line, '\n', (size_t)(script + len - line));
		next = nl ? nl + 1 : script + len;
		size_t n = (size_t)((nl ? nl : script + len) - line);
		lineno++;
		if (n == 0)
			continue;
		struct json_value v;
		if (!json_parse(&arena, line, n, &v, err, sizeof err))
			bail(2, "iommu-replay: %s line %u: %s", argv[a], lineno, err);
		if (v.type != JSON_OBJECT)
			bail(2, "iommu-replay: %s line %u: not a JSON object", argv[a], lineno);
		if (!header) {
			const struct json_value *ver = json_get(&v, "replay");
			if (!ver || ver->type != JSON_NUMBER || !ver->u.num.is_uint || ver->u.num.u != SCRIPT_VERSION)
				bail(2, "iommu-replay: %s is not a replay script of version %d (its first line must carry \"replay\":%d)", argv[a], SCRIPT_VERSION, SCRIPT_VERSION);
			const struct json_value *finding = json_get(&v, "finding"), *rule = json_get(&v, "rule");
			printf("replaying finding %s (%s)\n", finding ? text(finding) : "?", rule ? text(rule) : "?");
			header = true;
			spawn(argv[a + 1]);
			o.fd = to_child;
			continue;
		}
		const struct json_value *request = json_get(&v, "request"), *expect = json_get(&v, "expect"), *call = json_get(&v, "call");
		const struct json_value *last = json_get(&v, "last");
		if (!request || request->type != JSON_OBJECT || (expect && expect->type != JSON_ARRAY) || !call || call->type != JSON_STRING)
			bail(2, "iommu-replay: %s line %u: needs \"request\" (an object), \"call\" (a string) and optionally \"expect\" (an array)", argv[a], lineno);
		const char *what = call->u.str.s;
		/* An adapter that cannot get through its hello cannot replay anything: not the finding. */
		int broke = strcmp(what, "hello") == 0 ? 2 : 1;
		send_request(&o, id, request, what, broke);
		char *reply_text;
		size_t reply_len;
		int r = read_line(timeout_ms, &reply_text, &reply_len);
		if (r == -1)
			bail(broke, "FAIL: the adapter died (its stdout closed) with request #%" PRIu64 " %s unanswered", id, what);
		if (r == -2)
			bail(broke, "FAIL: no reply to request #%" PRIu64 " %s within %ld ms", id, what, timeout_ms);
		struct json_value reply;
		if (!json_parse(&arena, reply_text, reply_len, &reply, err, sizeof err) || reply.type != JSON_OBJECT)
			bail(broke, "FAIL: the reply to request #%" PRIu64 " %s is not a JSON object: %.*s", id, what, (int)(reply_len > EXCERPT ? EXCERPT : reply_len), reply_text);
		const struct json_value *rid = json_get(&reply, "id");
		if (!rid || rid->type != JSON_NUMBER || !rid->u.num.is_uint || rid->u.num.u != id)
			bail(broke, "FAIL: the reply to request #%" PRIu64 " %s carries another id: %s", id, what, text(&reply));
		if (json_get(&reply, "fault"))
			bail(broke, "FAIL: the adapter could not answer request #%" PRIu64 " %s: %s", id, what, text(&reply));
		bool ok = json_get(&reply, "ok") && !json_get(&reply, "err");
		if (!expect && !ok && (strcmp(what, "hello") == 0 || strcmp(what, "reset") == 0))
			bail(broke, "FAIL: the adapter refused %s: %s", what, text(&reply));
		if (expect && !accepted(expect, &reply))
			bail(1, "FAIL: %s%s -> %s, expected one of %s", last ? "" : "an earlier op diverges: ", what, text(&reply), text(expect));
		seen_last |= last != NULL;
		judged_last |= last && expect;
		printf("  %s -> %s\n", what, text(&reply));
		free(reply_text);
		id++;
	}
	if (!header)
		bail(2, "iommu-replay: %s is empty", argv[a]);
	if (!seen_last)
		bail(2, "iommu-replay: %s has no last op (\"last\":true)", argv[a]);
	printf("PASS: %s; the finding no longer reproduces on this trace\n",
	       judged_last ? "every reply is one the reference accepts" : "the adapter answered every request, the last one too (its reply is one the reference states only as a predicate: not judged here)");
	close(to_child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
