/*
 * A strict JSON parser (RFC 8259) for one request line. Values are built in an arena; arrays
 * and objects are gathered on a scratch stack and copied out when they close, so nesting needs
 * no per-level allocation. Depth is bounded so a hostile line cannot exhaust the C stack.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MAX_DEPTH 64

struct parser {
	struct sdk_arena *a;
	const char *p, *end, *start;
	char *err;
	size_t err_len;
	int depth;
};

/* Scratch stacks shared by every parse; they only grow. */
static struct json_value *vstack;
static size_t vlen, vcap;
static struct json_member *mstack;
static size_t mlen, mcap;

static bool fail(struct parser *ps, const char *what)
{
	snprintf(ps->err, ps->err_len, "invalid JSON at column %zu: %s", (size_t)(ps->p - ps->start) + 1, what);
	return false;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool parse_value(struct parser *ps, struct json_value *v);

static bool literal(struct parser *ps, const char *word, enum json_type t, struct json_value *v)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	v->type = t;
	ps->p += n;
	return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool parse_number(struct parser *ps, struct json_value *v)
{
	bool integer = true, negative = false;
	if (ps->p < ps->end && *ps->p == '-') {
		negative = true;
		ps->p++;
	}
	if (ps->p >= ps->end || !is_digit(*ps->p))
		return fail(ps, "expected a digit");
	if (*ps->p == '0' && ps->p + 1 < ps->end && is_digit(ps->p[1]))
		return fail(ps, "leading zero in a number");
	uint64_t u = 0;
	bool fits = true;
	for (; ps->p < ps->end && is_digit(*ps->p); ps->p++) {
		unsigned d = (unsigned)(*ps->p - '0');
		if (u > (UINT64_MAX - d) / 10)
			fits = false;
		u = u * 10 + d;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "expected a digit after '.'");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "expected a digit in the exponent");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	v->type = JSON_NUMBER;
	/* Only the plain non-negative integer form is a protocol integer; -0, 1.0, 1e3 are not. */
	v->u.num.is_uint = integer && !negative && fits;
	v->u.num.u = v->u.num.is_uint ? u : 0;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static bool read_u16(struct parser *ps, const char *q, unsigned *out)
{
	if (ps->end - q < 4)
		return false;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(q[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return true;
}

/* Length of the valid UTF-8 sequence at q (1..4), or 0. Rejects overlongs and surrogates. */
static size_t utf8_len(const unsigned char *q, const unsigned char *end)
{
	unsigned c = q[0];
	size_t n;
	unsigned min;
	if (c < 0x80) return 1;
	if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
	else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
	else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
	else return 0;
	if ((size_t)(end - q) < n) return 0;
	unsigned cp = c & (0x3fu >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((q[i] & 0xc0) != 0x80) return 0;
		cp = cp << 6 | (q[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
	return n;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* At the opening quote. The decoded string is never longer than its source, so one
 * allocation of the source length suffices. */
static bool parse_string(struct parser *ps, const char **out, size_t *out_len)
{
	const char *q = ++ps->p;
	while (q < ps->end && *q != '"') {
		if (*q == '\\' && q + 1 < ps->end)
			q++;
		q++;
	}
	if (q >= ps->end)
		return fail(ps, "unterminated string");
	char *buf = arena_alloc(ps->a, (size_t)(q - ps->p) + 1), *o = buf;
	while (ps->p < q) {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20)
			return fail(ps, "control character in a string");
		if (c == '\\') {
			char e = ps->p[1];
			ps->p += 2;
			switch (e) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '/': *o++ = '/'; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			case 'u': {
				unsigned cp, lo;
				if (!read_u16(ps, ps->p, &cp))
					return fail(ps, "bad \\u escape");
				ps->p += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(ps, "unpaired surrogate in a string");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (ps->p + 1 >= q || ps->p[0] != '\\' || ps->p[1] != 'u' || !read_u16(ps, ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return fail(ps, "unpaired surrogate in a string");
					ps->p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0)
					return fail(ps, "\\u0000 in a string");
				o = put_utf8(o, cp);
				break;
			}
			default:
				ps->p--;
				return fail(ps, "bad escape in a string");
			}
			continue;
		}
		size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)q);
		if (n == 0)
			return fail(ps, "invalid UTF-8 in a string");
		memcpy(o, ps->p, n);
		o += n;
		ps->p += n;
	}
	*o = '\0';
	ps->p = q + 1;
	*out = buf;
	*out_len = (size_t)(o - buf);
	return true;
}

static void push_value(const struct json_value *v)
{
	if (vlen == vcap) {
		vcap = vcap ? vcap * 2 : 64;
		vstack = sdk_xrealloc(vstack, vcap * sizeof(*vstack));
	}
	vstack[vlen++] = *v;
}

static void push_member(const struct json_member *m)
{
	if (mlen == mcap) {
		mcap = mcap ? mcap * 2 : 64;
		mstack = sdk_xrealloc(mstack, mcap * sizeof(*mstack));
	}
	mstack[mlen++] = *m;
}

static bool parse_array(struct parser *ps, struct json_value *v)
{
	size_t base = vlen;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
	} else {
		for (;;) {
			struct json_value item;
			if (!parse_value(ps, &item))
				goto out;
			push_value(&item);
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				break;
			}
			fail(ps, "expected ',' or ']'");
			goto out;
		}
	}
	v->type = JSON_ARRAY;
	v->u.arr.n = vlen - base;
	v->u.arr.items = arena_alloc(ps->a, v->u.arr.n * sizeof(*v->u.arr.items));
	if (v->u.arr.n) /* the stack is still NULL before the first push */
		memcpy(v->u.arr.items, vstack + base, v->u.arr.n * sizeof(*v->u.arr.items));
	vlen = base;
	return true;
out:
	vlen = base;
	return false;
}

static bool parse_object(struct parser *ps, struct json_value *v)
{
	size_t base = mlen;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
	} else {
		for (;;) {
			struct json_member m;
			size_t key_len;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a string key");
				goto out;
			}
			const char *key_at = ps->p;
			if (!parse_string(ps, &m.key, &key_len))
				goto out;
			for (size_t i = base; i < mlen; i++) {
				if (strcmp(mstack[i].key, m.key) == 0) {
					ps->p = key_at;
					fail(ps, "duplicate key");
					goto out;
				}
			}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				fail(ps, "expected ':'");
				goto out;
			}
			ps->p++;
			if (!parse_value(ps, &m.value))
				goto out;
			push_member(&m);
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == '}') {
				ps->p++;
				break;
			}
			fail(ps, "expected ',' or '}'");
			goto out;
		}
	}
	v->type = JSON_OBJECT;
	v->u.obj.n = mlen - base;
	v->u.obj.items = arena_alloc(ps->a, v->u.obj.n * sizeof(*v->u.obj.items));
	if (v->u.obj.n)
		memcpy(v->u.obj.items, mstack + base, v->u.obj.n * sizeof(*v->u.obj.items));
	mlen = base;
	return true;
out:
	mlen = base;
	return false;
}

static bool parse_value(struct parser *ps, struct json_value *v)
{
	bool ok;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "nested too deeply");
	memset(v, 0, sizeof(*v));
	v->src = ps->p;
	switch (*ps->p) {
	case '{': ok = parse_object(ps, v); break;
	case '[': ok = parse_array(ps, v); break;
	case '"':
		v->type = JSON_STRING;
		ok = parse_string(ps, &v->u.str.s, &v->u.str.len);
		break;
	case 't': ok = literal(ps, "true", JSON_TRUE, v); break;
	case 'f': ok = literal(ps, "false", JSON_FALSE, v); break;
	case 'n': ok = literal(ps, "null", JSON_NULL, v); break;
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			ok = parse_number(ps, v);
		else
			ok = fail(ps, "unexpected character");
	}
	ps->depth--;
	v->src_len = (size_t)(ps->p - v->src);
	return ok;
}

bool json_parse(struct sdk_arena *a, const char *text, size_t len, struct json_value *out, char *err, size_t err_len)
{
	struct parser ps = { .a = a, .p = text, .end = text + len, .start = text, .err = err, .err_len = err_len };
	if (!parse_value(&ps, out))
		return false;
	skip_ws(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "text after the value");
	return true;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->u.obj.n; i++) {
		if (strcmp(obj->u.obj.items[i].key, key) == 0)
			return &obj->u.obj.items[i].value;
	}
	return NULL;
}

void json_excerpt(const struct json_value *v, char *buf, size_t buf_len)
{
	const size_t max = 40;
	size_t n = v->src_len;
	bool cut = n > max;
	if (cut) {
		n = max;
		/* Do not cut a UTF-8 sequence in half: the excerpt goes into a JSON string. */
		while (n > 0 && ((unsigned char)v->src[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(buf, buf_len, "%.*s%s", (int)n, v->src, cut ? "..." : "");
}

void json_write(struct sdk_out *o, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL: out_str(o, "null"); break;
	case JSON_FALSE: out_str(o, "false"); break;
	case JSON_TRUE: out_str(o, "true"); break;
	case JSON_NUMBER: out_raw(o, v->src, v->src_len); break; /* numbers hold no whitespace */
	case JSON_STRING: out_json_string(o, v->u.str.s, v->u.str.len); break;
	case JSON_ARRAY:
		out_raw(o, "[", 1);
		for (size_t i = 0; i < v->u.arr.n; i++) {
			if (i)
				out_raw(o, ",", 1);
			json_write(o, &v->u.arr.items[i]);
		}
		out_raw(o, "]", 1);
		break;
	case JSON_OBJECT:
		out_raw(o, "{", 1);
		for (size_t i = 0; i < v->u.obj.n; i++) {
			if (i)
				out_raw(o, ",", 1);
			out_json_string(o, v->u.obj.items[i].key, strlen(v->u.obj.items[i].key));
			out_raw(o, ":", 1);
			json_write(o, &v->u.obj.items[i].value);
		}
		out_raw(o, "}", 1);
		break;
	}
}
