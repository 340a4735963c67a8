/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal streaming JSON writer for the command line's --json output.
 * Commas and nesting are tracked; strings are escaped; doubles that are not
 * finite are written as null (JSON has no NaN).
 */
#ifndef KVMMU_CLI_JSON_H
#define KVMMU_CLI_JSON_H

#include <stdio.h>

#include "types.h"

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool first[JSON_MAX_DEPTH]; /* no member written yet at this depth */
	bool after_key;
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s); /* NULL writes null */
void json_u64(struct json *j, u64 v);
void json_s64(struct json *j, s64 v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Finish the document with a newline. */
void json_finish(struct json *j);

/*
 * A JSON reader for documents kvmmu wrote (kvmmu merge reads them back): the
 * whole text into a tree of values.  Integers keep all 64 bits; strings are
 * unescaped to UTF-8 (a \u0000 escape is refused).
 */
enum jv_type {
	JV_NULL,
	JV_BOOL,
	JV_NUMBER,
	JV_STRING,
	JV_ARRAY,
	JV_OBJECT,
};

struct jv {
	enum jv_type type;
	bool b;
	/* A number: @d always; @u too when it is a whole number in [0, 2^64). */
	double d;
	bool is_u64;
	u64 u;
	char *s;          /* a string's text */
	struct jv *items; /* an array's values, an object's member values */
	char **keys;      /* an object's member names */
	size_t n;
};

/*
 * Parse @text into @v.  Returns 0, or -EINVAL with what is wrong and its
 * line in @why; -ENOMEM.  jv_free() what a successful parse made.
 */
int jv_parse(const char *text, struct jv *v, char *why, size_t why_len);
void jv_free(struct jv *v);
/* An object's member @key, or NULL (also when @v is no object). */
const struct jv *jv_get(const struct jv *v, const char *key);

#endif /* KVMMU_CLI_JSON_H */
