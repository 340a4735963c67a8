// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu merge: the JSON documents of the shards of one scenario run
 * (kvmmu scenario --shard I/M --json=FILE) combined into the document of
 * the whole: the schedules run, the violations with their tokens, the
 * exploration rate, and whether every shard of the set is there, once,
 * and ran to its end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The largest document read: a scenario document is a few hundred bytes. */
#define MERGE_MAX_BYTES (16 << 20)

struct shard_doc {
	const char *path;
	struct jv doc;
	u64 index, count;
	u64 schedules_run;
	u64 digest;
	bool complete;
	double elapsed;
	/* The first index of the shard not run (~0: it ran every one of its schedules). */
	u64 next;
	const struct jv *violation; /* NULL: none */
	u64 violation_index;        /* its schedule_index */
	bool used;                  /* chosen for its shard */
};

/* What every shard of one run has in common, and so must agree on. */
static const char *const same_run_keys[] = {
	"scenario", "mutants", "strategy", "seed", "depth", "yield_every", "counters",
	"pml", "mmu", "checks", "build", "schedules",
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0, cap = 4096;
	char *buf;

	if (!f)
		cli_usage_error("merge: cannot read %s: %s", path, strerror(errno));
	buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= MERGE_MAX_BYTES) {
			fclose(f);
			cli_usage_error("merge: %s: larger than %d MiB: not a scenario document",
					path, MERGE_MAX_BYTES >> 20);
		}
		cap *= 2;
		buf = realloc(buf, cap + 1);
	}
	if (!buf)
		cli_usage_error("merge: %s: out of memory", path);
	if (ferror(f)) {
		fclose(f);
		cli_usage_error("merge: cannot read %s: %s", path, strerror(errno));
	}
	fclose(f);
	buf[n] = 0;
	if (strlen(buf) != n)
		cli_usage_error("merge: %s: not JSON (a NUL byte)", path);
	return buf;
}

static const struct jv *need(const struct shard_doc *s, const struct jv *obj, const char *key,
			     enum jv_type type)
{
	const struct jv *v = jv_get(obj, key);

	if (!v || v->type != type || (type == JV_NUMBER && !v->is_u64 && strcmp(key, "elapsed_s")))
		cli_usage_error("merge: %s: not a kvmmu scenario document (%s \"%s\")", s->path,
				v ? "a bad" : "no", key);
	return v;
}

static u64 need_u64(const struct shard_doc *s, const struct jv *obj, const char *key)
{
	return need(s, obj, key, JV_NUMBER)->u;
}

static u64 need_hex(const struct shard_doc *s, const struct jv *obj, const char *key)
{
	const struct jv *v = need(s, obj, key, JV_STRING);
	char *end;
	u64 x;

	errno = 0;
	x = strtoull(v->s, &end, 16);
	if (errno || strlen(v->s) != 16 || *end)
		cli_usage_error("merge: %s: not a kvmmu scenario document (a bad \"%s\")", s->path,
				key);
	return x;
}

/* Read one shard's document, and refuse it unless it is whole and consistent. */
static void load(struct shard_doc *s)
{
	static const char *const vkeys[] = { "invariant", "checker", "description", "thread",
					     "replay", "event_hash" };
	const struct jv *shard, *v, *last;
	u64 schedules, mine;
	char why[160];
	char *text = read_file(s->path);
	size_t i;
	int r;

	r = jv_parse(text, &s->doc, why, sizeof(why));
	free(text);
	if (r)
		cli_usage_error("merge: %s: not JSON (%s)", s->path, why);
	if (s->doc.type != JV_OBJECT)
		cli_usage_error("merge: %s: not a kvmmu scenario document (not an object)",
				s->path);
	for (i = 0; i < ARRAY_SIZE(same_run_keys); i++) {
		if (!jv_get(&s->doc, same_run_keys[i]))
			cli_usage_error("merge: %s: not a kvmmu scenario document (no \"%s\")",
					s->path, same_run_keys[i]);
	}
	shard = need(s, &s->doc, "shard", JV_OBJECT);
	s->index = need_u64(s, shard, "index");
	s->count = need_u64(s, shard, "count");
	if (!s->count || s->count > CLI_MAX_SHARDS || s->index >= s->count ||
	    need_u64(s, shard, "first") != s->index || need_u64(s, shard, "stride") != s->count)
		cli_usage_error("merge: %s: a bad \"shard\" (index %llu of %llu)", s->path,
				(unsigned long long)s->index, (unsigned long long)s->count);
	schedules = need_u64(s, &s->doc, "schedules");
	mine = s->index < schedules ? (schedules - 1 - s->index) / s->count + 1 : 0;
	s->schedules_run = need_u64(s, &s->doc, "schedules_run");
	if (need_u64(s, shard, "schedules") != mine || s->schedules_run > mine)
		cli_usage_error("merge: %s: a bad \"shard\" (%llu schedules of %llu in shard %llu/%llu)",
				s->path, (unsigned long long)s->schedules_run,
				(unsigned long long)schedules, (unsigned long long)s->index,
				(unsigned long long)s->count);
	/* Schedules run in index order: the last one says how far the shard got. */
	last = jv_get(shard, "last");
	if (s->schedules_run) {
		s->next = s->index + s->schedules_run * s->count;
		if (need_u64(s, shard, "last") != s->next - s->count)
			cli_usage_error("merge: %s: a bad \"shard\" (last %llu after %llu schedules)",
					s->path, (unsigned long long)last->u,
					(unsigned long long)s->schedules_run);
	} else {
		s->next = s->index;
		if (!last || last->type != JV_NULL)
			cli_usage_error("merge: %s: a bad \"shard\" (a last schedule of none run)",
					s->path);
	}
	if (s->schedules_run == mine)
		s->next = ~0ULL;
	s->digest = need_hex(s, &s->doc, "schedules_digest");
	s->complete = need(s, &s->doc, "complete", JV_BOOL)->b;
	s->elapsed = need(s, &s->doc, "elapsed_s", JV_NUMBER)->d;
	v = jv_get(&s->doc, "violation");
	if (!v)
		cli_usage_error("merge: %s: not a kvmmu scenario document (no \"violation\")",
				s->path);
	if (v->type == JV_NULL)
		return;
	if (v->type != JV_OBJECT)
		cli_usage_error("merge: %s: not a kvmmu scenario document (a bad \"violation\")",
				s->path);
	for (i = 0; i < ARRAY_SIZE(vkeys); i++)
		need(s, v, vkeys[i], JV_STRING);
	s->violation = v;
	s->violation_index = need_u64(s, v, "schedule_index");
	if (s->violation_index % s->count != s->index)
		cli_usage_error("merge: %s: its violation's schedule %llu is not in shard %llu/%llu",
				s->path, (unsigned long long)s->violation_index,
				(unsigned long long)s->index, (unsigned long long)s->count);
}

static bool jv_equal(const struct jv *a, const struct jv *b)
{
	size_t i;

	if (a->type != b->type)
		return false;
	switch (a->type) {
	case JV_NULL:
		return true;
	case JV_BOOL:
		return a->b == b->b;
	case JV_NUMBER:
		return a->is_u64 == b->is_u64 && (a->is_u64 ? a->u == b->u : a->d == b->d);
	case JV_STRING:
		return !strcmp(a->s, b->s);
	case JV_ARRAY:
	case JV_OBJECT:
		if (a->n != b->n)
			return false;
		for (i = 0; i < a->n; i++) {
			if ((a->keys && strcmp(a->keys[i], b->keys[i])) ||
			    !jv_equal(&a->items[i], &b->items[i]))
				return false;
		}
		return true;
	}
	return false;
}

static void json_jv(struct json *j, const struct jv *v)
{
	size_t i;

	switch (v->type) {
	case JV_NULL:
		json_null(j);
		break;
	case JV_BOOL:
		json_bool(j, v->b);
		break;
	case JV_NUMBER:
		if (v->is_u64)
			json_u64(j, v->u);
		else
			json_double(j, v->d);
		break;
	case JV_STRING:
		json_string(j, v->s);
		break;
	case JV_ARRAY:
		json_array_begin(j);
		for (i = 0; i < v->n; i++)
			json_jv(j, &v->items[i]);
		json_array_end(j);
		break;
	case JV_OBJECT:
		json_object_begin(j);
		for (i = 0; i < v->n; i++) {
			json_key(j, v->keys[i]);
			json_jv(j, &v->items[i]);
		}
		json_object_end(j);
		break;
	}
}

/* The merged set: one document per shard (NULL where none was given). */
struct merged {
	u64 count;
	struct shard_doc **by_index;
	u32 *given;                 /* documents given per shard */
	u64 missing, duplicated, incomplete;
	u64 present;
	u64 schedules_run, digest;
	u64 prefix; /* every schedule below this index ran */
	double elapsed, wall, rate_sum;
	struct shard_doc **violations; /* by schedule index */
	size_t nr_violations;
};

/* A shard given twice: keep the run that went further. */
static bool better(const struct shard_doc *a, const struct shard_doc *b)
{
	if (a->complete != b->complete)
		return a->complete;
	return a->schedules_run > b->schedules_run;
}

static int by_violation_index(const void *a, const void *b)
{
	const struct shard_doc *x = *(struct shard_doc *const *)a;
	const struct shard_doc *y = *(struct shard_doc *const *)b;

	return x->violation_index < y->violation_index ? -1 :
	       x->violation_index > y->violation_index;
}

static void merge(struct shard_doc *docs, int n, struct merged *m)
{
	u64 i;
	int d;

	memset(m, 0, sizeof(*m));
	m->count = docs[0].count;
	m->by_index = calloc(m->count, sizeof(*m->by_index));
	m->given = calloc(m->count, sizeof(*m->given));
	m->violations = calloc((size_t)n, sizeof(*m->violations));
	if (!m->by_index || !m->given || !m->violations)
		cli_usage_error("merge: out of memory for %llu shards",
				(unsigned long long)m->count);
	for (d = 0; d < n; d++) {
		struct shard_doc *s = &docs[d], **slot = &m->by_index[s->index];

		m->given[s->index]++;
		if (!*slot || better(s, *slot))
			*slot = s;
	}
	m->prefix = jv_get(&docs[0].doc, "schedules")->u;
	for (i = 0; i < m->count; i++) {
		struct shard_doc *s = m->by_index[i];

		if (!s) {
			m->missing++;
			m->prefix = min(m->prefix, i);
			continue;
		}
		m->prefix = min(m->prefix, s->next);
		s->used = true;
		m->present++;
		m->duplicated += m->given[i] > 1;
		m->incomplete += !s->complete;
		m->schedules_run += s->schedules_run;
		m->digest += s->digest;
		m->elapsed += s->elapsed;
		if (s->elapsed > m->wall)
			m->wall = s->elapsed;
		if (s->elapsed > 0)
			m->rate_sum += (double)s->schedules_run / s->elapsed;
		if (s->violation)
			m->violations[m->nr_violations++] = s;
	}
	qsort(m->violations, m->nr_violations, sizeof(*m->violations), by_violation_index);
}

static bool whole(const struct merged *m)
{
	return !m->missing && !m->duplicated && !m->incomplete;
}

/* The shards of @m for which @pick is true, as a JSON array of indices. */
static void json_shards(struct json *j, const struct merged *m,
			bool (*pick)(const struct merged *m, u64 i))
{
	u64 i;

	json_array_begin(j);
	for (i = 0; i < m->count; i++) {
		if (pick(m, i))
			json_u64(j, i);
	}
	json_array_end(j);
}

static bool is_present(const struct merged *m, u64 i)
{
	return m->by_index[i];
}

static bool is_missing(const struct merged *m, u64 i)
{
	return !m->by_index[i];
}

static bool is_duplicated(const struct merged *m, u64 i)
{
	return m->given[i] > 1;
}

static bool is_incomplete(const struct merged *m, u64 i)
{
	return m->by_index[i] && !m->by_index[i]->complete;
}

static void json_violation(struct json *j, const struct shard_doc *s)
{
	size_t i;

	json_object_begin(j);
	for (i = 0; i < s->violation->n; i++) {
		json_key(j, s->violation->keys[i]);
		json_jv(j, &s->violation->items[i]);
	}
	json_key(j, "shard");
	json_u64(j, s->index);
	json_object_end(j);
}

static void merged_json(struct json *j, const struct shard_doc *docs, int n,
			const struct merged *m)
{
	char hex[24];
	size_t i;
	int d;

	json_object_begin(j);
	for (i = 0; i < ARRAY_SIZE(same_run_keys); i++) {
		json_key(j, same_run_keys[i]);
		json_jv(j, jv_get(&docs[0].doc, same_run_keys[i]));
	}
	json_key(j, "shards");
	json_object_begin(j);
	json_key(j, "count");
	json_u64(j, m->count);
	json_key(j, "present");
	json_shards(j, m, is_present);
	json_key(j, "missing");
	json_shards(j, m, is_missing);
	json_key(j, "duplicated");
	json_shards(j, m, is_duplicated);
	json_key(j, "incomplete");
	json_shards(j, m, is_incomplete);
	json_object_end(j);
	json_key(j, "complete");
	json_bool(j, whole(m));
	json_key(j, "schedules_run");
	json_u64(j, m->schedules_run);
	json_key(j, "prefix_run");
	json_u64(j, m->prefix);
	json_key(j, "schedules_digest");
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)m->digest);
	json_string(j, hex);
	json_key(j, "elapsed_s");
	json_double(j, m->elapsed);
	json_key(j, "wall_s");
	json_double(j, m->wall);
	json_key(j, "schedules_per_s");
	json_double(j, m->elapsed > 0 ? (double)m->schedules_run / m->elapsed : 0);
	json_key(j, "aggregate_schedules_per_s");
	json_double(j, m->rate_sum);
	json_key(j, "violation");
	if (m->nr_violations)
		json_violation(j, m->violations[0]);
	else
		json_null(j);
	json_key(j, "violations");
	json_array_begin(j);
	for (i = 0; i < m->nr_violations; i++)
		json_violation(j, m->violations[i]);
	json_array_end(j);
	json_key(j, "files");
	json_array_begin(j);
	for (d = 0; d < n; d++) {
		json_object_begin(j);
		json_key(j, "file");
		json_string(j, docs[d].path);
		json_key(j, "shard");
		json_u64(j, docs[d].index);
		json_key(j, "schedules_run");
		json_u64(j, docs[d].schedules_run);
		json_key(j, "complete");
		json_bool(j, docs[d].complete);
		json_key(j, "used");
		json_bool(j, docs[d].used);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	json_finish(j);
}

/* "2, 5, 7" (the first few) for a one-line message. */
static void list_shards(char *buf, size_t len, const struct merged *m,
			bool (*pick)(const struct merged *m, u64 i))
{
	size_t at = 0;
	u64 i, shown = 0, all = 0;

	buf[0] = 0;
	for (i = 0; i < m->count; i++) {
		if (!pick(m, i))
			continue;
		if (shown < 8 && at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%llu", shown ? ", " : "",
					       (unsigned long long)i);
		shown += shown < 8;
		all++;
	}
	if (all > shown && at < len)
		snprintf(buf + at, len - at, " and %llu more", (unsigned long long)(all - shown));
}

static void merged_human(FILE *f, const struct shard_doc *docs, const struct merged *m)
{
	const char *name = jv_get(&docs[0].doc, "scenario")->s;

	fprintf(f, "%s: %llu of %llu shard%s, %llu schedule%s run of %llu, %.0f schedules/s "
		   "per shard, %.0f/s together\n",
		name, (unsigned long long)m->present, (unsigned long long)m->count,
		m->count == 1 ? "" : "s", (unsigned long long)m->schedules_run,
		m->schedules_run == 1 ? "" : "s",
		(unsigned long long)jv_get(&docs[0].doc, "schedules")->u,
		m->elapsed > 0 ? (double)m->schedules_run / m->elapsed : 0, m->rate_sum);
	if (m->prefix < jv_get(&docs[0].doc, "schedules")->u)
		fprintf(f, "%s: the schedules below %llu all ran; some after them did not\n", name,
			(unsigned long long)m->prefix);
	if (!m->nr_violations) {
		fprintf(f, "%s: no violation (schedules digest %016llx)\n", name,
			(unsigned long long)m->digest);
	} else {
		const struct shard_doc *s = m->violations[0];
		const struct jv *v = s->violation;

		fprintf(f, "%s: violation of %s (%s) in schedule %llu (shard %llu), thread %s:\n"
			   "  %s\n  event hash %s\n  replay: kvmmu replay %s\n",
			name, jv_get(v, "invariant")->s, jv_get(v, "checker")->s,
			(unsigned long long)s->violation_index, (unsigned long long)s->index,
			jv_get(v, "thread")->s, jv_get(v, "description")->s,
			jv_get(v, "event_hash")->s, jv_get(v, "replay")->s);
		if (m->nr_violations > 1)
			fprintf(f, "  and %zu more, in other shards (--json lists them)\n",
				m->nr_violations - 1);
	}
}

/* One line on stderr for a set that is not whole: what is wrong with it. */
static void report_set(const struct merged *m)
{
	char missing[128], dup[128], inc[128];

	if (whole(m))
		return;
	list_shards(missing, sizeof(missing), m, is_missing);
	list_shards(dup, sizeof(dup), m, is_duplicated);
	list_shards(inc, sizeof(inc), m, is_incomplete);
	fprintf(stderr, "kvmmu: merge: the set of %llu shards is not whole:%s%s%s%s%s%s\n",
		(unsigned long long)m->count, m->missing ? " missing " : "", missing,
		m->duplicated ? (m->missing ? "; given twice " : " given twice ") : "", dup,
		m->incomplete ? (m->missing || m->duplicated ? "; stopped early " :
							       " stopped early ") : "",
		inc);
}

static int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct shard_doc *docs;
	struct cli_output out;
	struct merged m;
	struct json j;
	int c, n, d, r;
	size_t k;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		default:
			cli_usage_error("merge: unknown option '%s' (see kvmmu merge --help)",
					argv[optind - 1]);
		}
	}
	n = argc - optind;
	if (n < 1)
		cli_usage_error("merge: which files? (kvmmu scenario --shard I/M --json=FILE "
				"writes them)");
	docs = calloc((size_t)n, sizeof(*docs));
	if (!docs)
		cli_usage_error("merge: out of memory");
	for (d = 0; d < n; d++) {
		docs[d].path = argv[optind + d];
		load(&docs[d]);
		if (!d)
			continue;
		for (k = 0; k < ARRAY_SIZE(same_run_keys); k++) {
			if (!jv_equal(jv_get(&docs[d].doc, same_run_keys[k]),
				      jv_get(&docs[0].doc, same_run_keys[k])))
				cli_usage_error("merge: %s and %s are not of the same run (\"%s\" "
						"differs)", docs[0].path, docs[d].path,
						same_run_keys[k]);
		}
		if (docs[d].count != docs[0].count)
			cli_usage_error("merge: %s and %s are not of the same set (%llu and %llu "
					"shards)", docs[0].path, docs[d].path,
					(unsigned long long)docs[0].count,
					(unsigned long long)docs[d].count);
	}
	merge(docs, n, &m);
	if (out.json) {
		cli_output_open(&out, &j);
		merged_json(&j, docs, n, &m);
		cli_output_close(&out);
	}
	merged_human(out.human, docs, &m);
	report_set(&m);
	r = m.nr_violations ? CLI_EXIT_VIOLATION : whole(&m) ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	free(m.by_index);
	free(m.given);
	free(m.violations);
	for (d = 0; d < n; d++)
		jv_free(&docs[d].doc);
	free(docs);
	return r;
}

const struct cli_command cli_cmd_merge = {
	.name = "merge",
	.summary = "combine the JSON documents of a sharded scenario run",
	.usage =
		"usage: kvmmu merge FILE... [options]\n"
		"\n"
		"Combine the documents of the shards of one scenario run (kvmmu scenario\n"
		"NAME --shard I/M --json=FILE, one per shard) into the document of the\n"
		"whole: the schedules run and their digest (equal to the unsharded run's\n"
		"when every shard ran to its end), every violation with its replay token\n"
		"(each replays alone with kvmmu replay; the first, by schedule index, is\n"
		"the one the unsharded run stops at, if it is below prefix_run: the\n"
		"schedules before that index all ran), the exploration rate, and which\n"
		"shards are present, missing, given twice or stopped early.  Every file\n"
		"must be of the same run: scenario, mutants, strategy, seed, depth, modes,\n"
		"checkers, build, schedules and shard count.\n"
		"\n"
		"Exit status: 0 every shard present once, complete, and no violation;\n"
		"1 a violation (whatever else); 2 a file that cannot be read, is not a\n"
		"scenario document or is of another run (one line on stderr, no output),\n"
		"or a set that is not whole: a shard missing, given twice or stopped\n"
		"early (the document is still written, and a line on stderr says what\n"
		"is wrong).\n"
		"\n"
		"options:\n"
		"  --json[=FILE]      write the merged JSON document to FILE, or to stdout\n"
		"  --quiet            accepted; merge prints no progress\n"
		"  -h, --help         show this help\n",
	.run = cmd_merge,
};
