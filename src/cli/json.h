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

#endif /* KVMMU_CLI_JSON_H */
