/* Reply output: a buffer that grows, JSON string escaping, hex and decimal numbers. */
#define _POSIX_C_SOURCE 200809L /* write under -std=c11 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static void reserve(struct sdk_out *o, size_t n)
{
	if (o->cap - o->len >= n)
		return;
	size_t cap = o->cap ? o->cap : 65536;
	while (cap - o->len < n)
		cap *= 2;
	o->buf = sdk_xrealloc(o->buf, cap);
	o->cap = cap;
}

void out_raw(struct sdk_out *o, const char *s, size_t n)
{
	reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void out_str(struct sdk_out *o, const char *s)
{
	out_raw(o, s, strlen(s));
}

/* Escapes what JSON requires (quote, backslash, controls) and nothing else: the SDK's
 * strings are UTF-8 already. Invalid UTF-8 from a model is replaced by U+FFFD so a reply
 * is always valid JSON. */
void out_json_string(struct sdk_out *o, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	reserve(o, n * 6 + 2);
	char *w = o->buf + o->len;
	*w++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*w++ = '\\';
			*w++ = (char)c;
		} else if (c == '\n') {
			*w++ = '\\'; *w++ = 'n';
		} else if (c == '\r') {
			*w++ = '\\'; *w++ = 'r';
		} else if (c == '\t') {
			*w++ = '\\'; *w++ = 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(w, "\\u00", 4);
			w[4] = hexd[c >> 4];
			w[5] = hexd[c & 15];
			w += 6;
		} else if (c < 0x80) {
			*w++ = (char)c;
		} else {
			/* Copy a whole valid sequence, or write U+FFFD for one bad byte. */
			size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			bool valid = len > 0 && i + len <= n;
			unsigned cp = c & (0x3fu >> (len ? len - 1 : 0));
			for (size_t k = 1; valid && k < len; k++) {
				unsigned char cc = (unsigned char)s[i + k];
				valid = (cc & 0xc0) == 0x80;
				cp = cp << 6 | (cc & 0x3fu);
			}
			if (valid)
				valid = !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) && !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
			if (valid) {
				memcpy(w, s + i, len);
				w += len;
				i += len - 1;
			} else {
				memcpy(w, "\xef\xbf\xbd", 3);
				w += 3;
			}
		}
	}
	*w++ = '"';
	o->len = (size_t)(w - o->buf);
}

void out_hex(struct sdk_out *o, uint64_t v)
{
	static const char hexd[] = "0123456789abcdef";
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = hexd[v & 15];
		v >>= 4;
	} while (v);
	reserve(o, n + 4);
	char *w = o->buf + o->len;
	*w++ = '"';
	*w++ = '0';
	*w++ = 'x';
	while (n)
		*w++ = tmp[--n];
	*w++ = '"';
	o->len = (size_t)(w - o->buf);
}

void out_uint(struct sdk_out *o, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	reserve(o, n);
	while (n)
		o->buf[o->len++] = tmp[--n];
}

void out_int(struct sdk_out *o, int64_t v)
{
	if (v < 0) {
		out_raw(o, "-", 1);
		out_uint(o, (uint64_t)0 - (uint64_t)v);
	} else {
		out_uint(o, (uint64_t)v);
	}
}

bool out_flush(struct sdk_out *o)
{
	size_t done = 0;
	while (!o->failed && done < o->len) {
		ssize_t w = write(o->fd, o->buf + done, o->len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = true;
			o->err = w < 0 ? errno : EIO;
		}
		else
			done += (size_t)w;
	}
	o->len = 0;
	return !o->failed;
}
