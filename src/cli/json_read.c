// SPDX-License-Identifier: GPL-2.0-only
/*
 * The JSON reader: recursive descent over a NUL-terminated text, at most
 * JSON_MAX_DEPTH deep, every failure a message with the line it is on.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "json.h"

struct jv_parser {
	const char *p;
	const char *text;
	char *why;
	size_t why_len;
	int depth;
	bool nomem;
};

static int fail(struct jv_parser *ps, const char *fmt, ...) __printf(2, 3);

static int fail(struct jv_parser *ps, const char *fmt, ...)
{
	const char *c;
	int line = 1;
	size_t n;
	va_list ap;

	for (c = ps->text; c < ps->p; c++)
		line += *c == '\n';
	n = (size_t)snprintf(ps->why, ps->why_len, "line %d: ", line);
	va_start(ap, fmt);
	if (n < ps->why_len)
		vsnprintf(ps->why + n, ps->why_len - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_space(struct jv_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int parse_value(struct jv_parser *ps, struct jv *v);

static int hex4(const char *s, unsigned int *out)
{
	unsigned int x = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = x;
	return 0;
}

static size_t put_utf8(char *d, unsigned int cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (on its opening quote), unescaped into a new buffer. */
static int parse_string(struct jv_parser *ps, char **out)
{
	const char *s = ++ps->p;
	char *buf, *d;

	/* Unescaping never makes a string longer than its escaped text. */
	while (*s && *s != '"')
		s += (*s == '\\' && s[1]) ? 2 : 1;
	if (!*s)
		return fail(ps, "a string without its closing quote");
	buf = malloc((size_t)(s - ps->p) + 1);
	if (!buf) {
		ps->nomem = true;
		return -ENOMEM;
	}
	for (d = buf; *ps->p != '"'; ps->p++) {
		unsigned char c = (unsigned char)*ps->p;
		unsigned int cp, lo;

		if (c < 0x20) {
			free(buf);
			return fail(ps, "a control character in a string");
		}
		if (c != '\\') {
			*d++ = (char)c;
			continue;
		}
		switch (*++ps->p) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '/': *d++ = '/'; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			if (hex4(ps->p + 1, &cp))
				goto bad_escape;
			ps->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				/* A surrogate pair: 12 characters of text for 4 bytes. */
				if (ps->p[1] != '\\' || ps->p[2] != 'u' || hex4(ps->p + 3, &lo) ||
				    lo < 0xdc00 || lo >= 0xe000)
					goto bad_escape;
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (!cp || (cp >= 0xdc00 && cp < 0xe000)) {
				goto bad_escape;
			}
			d += put_utf8(d, cp);
			break;
		default:
			goto bad_escape;
		}
	}
	ps->p++;
	*d = 0;
	*out = buf;
	return 0;
bad_escape:
	free(buf);
	return fail(ps, "a bad escape in a string");
}

static int parse_number(struct jv_parser *ps, struct jv *v)
{
	const char *s = ps->p, *digits;
	char *end;

	if (*s == '-')
		s++;
	digits = s;
	if (*s == '0' && s[1] >= '0' && s[1] <= '9')
		return fail(ps, "a number with a leading zero");
	if (*s < '0' || *s > '9')
		return fail(ps, "not a value");
	while (*s >= '0' && *s <= '9')
		s++;
	v->type = JV_NUMBER;
	if (*s != '.' && *s != 'e' && *s != 'E' && ps->p[0] != '-') {
		errno = 0;
		v->u = strtoull(digits, &end, 10);
		v->is_u64 = !errno;
	}
	errno = 0;
	v->d = strtod(ps->p, &end);
	if (end == ps->p || !isfinite(v->d))
		return fail(ps, "a bad number");
	ps->p = end;
	return 0;
}

static int parse_members(struct jv_parser *ps, struct jv *v, bool object)
{
	char close = object ? '}' : ']';
	size_t cap = 0;
	int r;

	v->type = object ? JV_OBJECT : JV_ARRAY;
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nested deeper than %d", JSON_MAX_DEPTH);
	ps->p++;
	skip_space(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		if (v->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct jv *items = realloc(v->items, ncap * sizeof(*items));
			char **keys;

			if (!items)
				goto nomem;
			v->items = items;
			if (object) {
				keys = realloc(v->keys, ncap * sizeof(*keys));
				if (!keys)
					goto nomem;
				v->keys = keys;
			}
			cap = ncap;
		}
		memset(&v->items[v->n], 0, sizeof(v->items[v->n]));
		if (object) {
			skip_space(ps);
			if (*ps->p != '"')
				return fail(ps, "an object member without a name");
			r = parse_string(ps, &v->keys[v->n]);
			if (r)
				return r;
			v->n++;
			skip_space(ps);
			if (*ps->p != ':') {
				v->items[v->n - 1].type = JV_NULL;
				return fail(ps, "no ':' after a member's name");
			}
			ps->p++;
			r = parse_value(ps, &v->items[v->n - 1]);
		} else {
			r = parse_value(ps, &v->items[v->n++]);
		}
		if (r)
			return r;
		skip_space(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return fail(ps, "'%c' or ',' expected", close);
	}
nomem:
	ps->nomem = true;
	return -ENOMEM;
}

static bool word(struct jv_parser *ps, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(ps->p, w, n))
		return false;
	ps->p += n;
	return true;
}

static int parse_value(struct jv_parser *ps, struct jv *v)
{
	skip_space(ps);
	switch (*ps->p) {
	case '{':
		return parse_members(ps, v, true);
	case '[':
		return parse_members(ps, v, false);
	case '"':
		v->type = JV_STRING;
		return parse_string(ps, &v->s);
	case 0:
		return fail(ps, "the text ends where a value should be");
	default:
		break;
	}
	if (word(ps, "null")) {
		v->type = JV_NULL;
		return 0;
	}
	if (word(ps, "true")) {
		v->type = JV_BOOL;
		v->b = true;
		return 0;
	}
	if (word(ps, "false")) {
		v->type = JV_BOOL;
		return 0;
	}
	return parse_number(ps, v);
}

int jv_parse(const char *text, struct jv *v, char *why, size_t why_len)
{
	struct jv_parser ps = { .p = text, .text = text, .why = why, .why_len = why_len };
	int r;

	memset(v, 0, sizeof(*v));
	r = parse_value(&ps, v);
	if (!r) {
		skip_space(&ps);
		if (*ps.p)
			r = fail(&ps, "more after the document");
	}
	if (r) {
		if (ps.nomem)
			snprintf(why, why_len, "out of memory");
		jv_free(v);
		return ps.nomem ? -ENOMEM : r;
	}
	return 0;
}

void jv_free(struct jv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	size_t i;

	if (v->type != JV_OBJECT)
		return NULL;
	for (i = 0; i < v->n; i++) {
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	}
	return NULL;
}
