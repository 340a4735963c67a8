// SPDX-License-Identifier: GPL-2.0-only
/*
 * The trace writer: a trace written by several threads at once is one valid
 * JSON document (checked by a strict parser below, itself checked against
 * broken documents), with a named track per thread, balanced and properly
 * nested B/E pairs, timestamps in order, span and notifier arguments,
 * WARNs and escaped instant details; and the API's error cases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bug.h"
#include "observe.h"
#include "test.h"
#include "thread.h"
#include "trace.h"

/* ---- a strict JSON parser, into a small tree --------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num;
	char *str;          /* J_STR, decoded; \u00XX becomes the byte XX */
	int n;              /* J_ARR, J_OBJ: children */
	struct jval *items;
	char **keys;        /* J_OBJ */
};

struct jparser {
	const char *p;
	const char *end;
	int depth;
};

static void jfree(struct jval *v)
{
	int i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

static void jskip_ws(struct jparser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static bool jlit(struct jparser *jp, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, lit, n))
		return false;
	jp->p += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jstring(struct jparser *jp, char **out)
{
	size_t cap = 16, len = 0;
	char *s;

	if (jp->p >= jp->end || *jp->p != '"')
		return false;
	jp->p++;
	s = malloc(cap);
	for (;;) {
		unsigned char c;

		if (jp->p >= jp->end)
			goto bad;
		c = (unsigned char)*jp->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			goto bad; /* raw control characters are not allowed */
		if (c == '\\') {
			if (jp->p >= jp->end)
				goto bad;
			c = (unsigned char)*jp->p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int i, v = 0;

				if (jp->end - jp->p < 4)
					goto bad;
				for (i = 0; i < 4; i++) {
					int h = hexval(jp->p[i]);

					if (h < 0)
						goto bad;
					v = v * 16 + h;
				}
				jp->p += 4;
				/* The writer only escapes single bytes. */
				if (v > 0xff)
					goto bad;
				c = (unsigned char)v;
				break;
			}
			default:
				goto bad;
			}
		}
		if (len + 2 > cap)
			s = realloc(s, cap *= 2);
		s[len++] = (char)c;
	}
	s[len] = '\0';
	*out = s;
	return true;
bad:
	free(s);
	return false;
}

static bool jdigits(struct jparser *jp)
{
	const char *start = jp->p;

	while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
		jp->p++;
	return jp->p > start;
}

static bool jnumber(struct jparser *jp, double *out)
{
	const char *start = jp->p;
	char tmp[64];

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p < jp->end && *jp->p == '0')
		jp->p++;
	else if (!jdigits(jp))
		return false;
	if (jp->p < jp->end && *jp->p == '.') {
		jp->p++;
		if (!jdigits(jp))
			return false;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (!jdigits(jp))
			return false;
	}
	if ((size_t)(jp->p - start) >= sizeof(tmp))
		return false;
	memcpy(tmp, start, (size_t)(jp->p - start));
	tmp[jp->p - start] = '\0';
	*out = strtod(tmp, NULL);
	return true;
}

static bool jvalue(struct jparser *jp, struct jval *v);

static bool jcontainer(struct jparser *jp, struct jval *v, bool object)
{
	char close = object ? '}' : ']';
	int cap = 0;

	v->type = object ? J_OBJ : J_ARR;
	jp->p++;
	jskip_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;

		jskip_ws(jp);
		if (object) {
			if (!jstring(jp, &key))
				return false;
			jskip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return false;
			}
			jp->p++;
		}
		if (v->n == cap) {
			cap = cap ? cap * 2 : 8;
			v->items = realloc(v->items, (size_t)cap * sizeof(*v->items));
			if (object)
				v->keys = realloc(v->keys, (size_t)cap * sizeof(*v->keys));
		}
		memset(&v->items[v->n], 0, sizeof(*v->items));
		if (object)
			v->keys[v->n] = key;
		v->n++;
		if (!jvalue(jp, &v->items[v->n - 1]))
			return false;
		jskip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return true;
		}
		return false;
	}
}

static bool jvalue(struct jparser *jp, struct jval *v)
{
	bool ok;

	jskip_ws(jp);
	if (jp->p >= jp->end || ++jp->depth > 64)
		return false;
	switch (*jp->p) {
	case '{':
		ok = jcontainer(jp, v, true);
		break;
	case '[':
		ok = jcontainer(jp, v, false);
		break;
	case '"':
		v->type = J_STR;
		ok = jstring(jp, &v->str);
		break;
	case 't':
		v->type = J_BOOL;
		ok = jlit(jp, "true");
		break;
	case 'f':
		v->type = J_BOOL;
		ok = jlit(jp, "false");
		break;
	case 'n':
		v->type = J_NULL;
		ok = jlit(jp, "null");
		break;
	default:
		v->type = J_NUM;
		ok = jnumber(jp, &v->num);
	}
	jp->depth--;
	return ok;
}

/* Parse a whole document: one value and nothing after it but white space. */
static bool jparse(const char *text, size_t len, struct jval *out)
{
	struct jparser jp = { .p = text, .end = text + len };

	memset(out, 0, sizeof(*out));
	if (!jvalue(&jp, out)) {
		jfree(out);
		return false;
	}
	jskip_ws(&jp);
	if (jp.p != jp.end) {
		jfree(out);
		return false;
	}
	return true;
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	int i;

	if (obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++) {
		if (!strcmp(obj->keys[i], key))
			return &obj->items[i];
	}
	return NULL;
}

static const char *jget_str(const struct jval *obj, const char *key)
{
	const struct jval *v = jget(obj, key);

	return v && v->type == J_STR ? v->str : NULL;
}

/* The parser must refuse what is not JSON, or passing it proves nothing. */
static void test_parser_rejects_broken_documents(void **state)
{
	static const char *const bad[] = {
		"",
		"{\"traceEvents\":[",
		"{\"a\":1,}",
		"[1,2,]",
		"{\"a\" 1}",
		"{\"a\":\"x\ny\"}",
		"{\"a\":\"\\q\"}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":1} x",
		"{'a':1}",
		"{\"a\":tru}",
	};
	static const char good[] = "{\"a\":[1,-2.5e3,\"\\u0041\\n\",true,null,{}]}";
	struct jval v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (jparse(bad[i], strlen(bad[i]), &v)) {
			jfree(&v);
			fail_msg("accepted broken JSON: %s", bad[i]);
		}
	}
	assert_true(jparse(good, strlen(good), &v));
	assert_string_equal(jget(&v, "a")->items[2].str, "A\n");
	jfree(&v);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void trace_path(char *buf, size_t len)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, len, "%s/kvmmu-test-trace.%d.json", dir && *dir ? dir : P_tmpdir,
		 (int)getpid());
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, n = 0;
	char *buf;

	assert_non_null(f);
	buf = malloc(cap);
	for (;;) {
		size_t k = fread(buf + n, 1, cap - n, f);

		n += k;
		if (n < cap)
			break;
		buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	*len = n;
	return buf;
}

#define MAX_TIDS 64

/* Per track: its name record, the open B stack, what it saw. */
struct track {
	int tid;
	const char *name;
	int first_record; /* index of its first record that is not metadata */
	int names;        /* thread_name records */
	const char *open[16];
	int depth;
	int begins;
};

struct summary {
	int nr_events;
	struct track tracks[MAX_TIDS];
	int nr_tracks;
	int by_name[8]; /* B counts: fault, zap, flush, memslot update, root load, notifier */
	int warns;
	int instants;
	const struct jval *last_instant;
	const struct jval *last_notifier;
	const struct jval *last_fault;
};

static const char *const kinds[] = {
	"fault", "zap", "flush", "memslot update", "root load", "notifier invalidate",
};

static struct track *track_of(struct summary *s, int tid)
{
	int i;

	for (i = 0; i < s->nr_tracks; i++) {
		if (s->tracks[i].tid == tid)
			return &s->tracks[i];
	}
	assert_true(s->nr_tracks < MAX_TIDS);
	s->tracks[s->nr_tracks] = (struct track){ .tid = tid, .first_record = -1 };
	return &s->tracks[s->nr_tracks++];
}

/*
 * Check the document's shape and every record, and summarise it.  Fails the
 * test on: a missing field, a pid other than 1, a timestamp going back, an
 * unbalanced or crossed B/E pair, a track without exactly one name record
 * ahead of its events.
 */
static void check_trace(const struct jval *doc, struct summary *s)
{
	const struct jval *events = jget(doc, "traceEvents");
	double last_ts = 0;
	int i, k;

	memset(s, 0, sizeof(*s));
	assert_int_equal(doc->type, J_OBJ);
	assert_non_null(events);
	assert_int_equal(events->type, J_ARR);
	assert_string_equal(jget_str(doc, "displayTimeUnit"), "ns");
	s->nr_events = events->n;

	for (i = 0; i < events->n; i++) {
		const struct jval *e = &events->items[i];
		const struct jval *ts = jget(e, "ts"), *pid = jget(e, "pid"), *tid = jget(e, "tid");
		const char *ph = jget_str(e, "ph"), *name = jget_str(e, "name");
		struct track *t;

		assert_int_equal(e->type, J_OBJ);
		assert_non_null(ph);
		assert_non_null(name);
		assert_non_null(ts);
		assert_int_equal(ts->type, J_NUM);
		assert_non_null(pid);
		assert_true(pid->type == J_NUM && pid->num == 1);
		assert_non_null(tid);
		assert_int_equal(tid->type, J_NUM);
		assert_true(ts->num >= last_ts);
		last_ts = ts->num;
		assert_int_equal(strlen(ph), 1);

		t = track_of(s, (int)tid->num);
		if (ph[0] == 'M') {
			const struct jval *args = jget(e, "args");

			assert_non_null(args);
			assert_non_null(jget_str(args, "name"));
			if (!strcmp(name, "thread_name")) {
				assert_int_equal(t->first_record, -1);
				t->names++;
				t->name = jget_str(args, "name");
			} else {
				assert_string_equal(name, "process_name");
			}
			continue;
		}
		if (t->first_record < 0)
			t->first_record = i;
		assert_int_equal(t->names, 1);
		switch (ph[0]) {
		case 'B':
			assert_true(t->depth < (int)ARRAY_SIZE(t->open));
			t->open[t->depth++] = name;
			t->begins++;
			for (k = 0; k < (int)ARRAY_SIZE(kinds); k++) {
				if (!strcmp(name, kinds[k]))
					s->by_name[k]++;
			}
			if (!strcmp(name, "notifier invalidate"))
				s->last_notifier = e;
			if (!strcmp(name, "fault"))
				s->last_fault = e;
			break;
		case 'E':
			assert_true(t->depth > 0);
			assert_string_equal(t->open[--t->depth], name);
			break;
		case 'i':
			assert_string_equal(jget_str(e, "s"), "t");
			if (!strcmp(name, "WARN")) {
				s->warns++;
			} else {
				s->instants++;
				s->last_instant = e;
			}
			break;
		default:
			fail_msg("unexpected phase %s", ph);
		}
	}
	for (i = 0; i < s->nr_tracks; i++)
		assert_int_equal(s->tracks[i].depth, 0);
}

/* Write nothing but ASCII: any byte outside it would have to be valid UTF-8. */
static void assert_ascii(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		assert_true((unsigned char)text[i] < 0x80);
}

static void load_trace(const char *path, struct jval *doc, struct summary *s)
{
	size_t len;
	char *text = read_file(path, &len);

	assert_ascii(text, len);
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_true(jparse(text, len, doc));
	free(text);
	check_trace(doc, s);
}

/* ---- tests ------------------------------------------------------------------------------- */

#define NR_WORKERS 4

struct worker {
	int index;
	int rounds;
	int id;
};

/* Spans nested as the MMU nests them, with notifiers between. */
static int worker(void *arg)
{
	struct worker *w = arg;
	int i;

	w->id = current_thread()->id;
	for (i = 0; i < w->rounds; i++) {
		u64 gpa = ((u64)w->index << 32) | ((u64)i << 12);

		kvmmu_span_begin(KVMMU_SPAN_ROOT_LOAD, (u64)w->index);
		kvmmu_span_end(KVMMU_SPAN_ROOT_LOAD, (u64)w->index);
		kvmmu_span_begin(KVMMU_SPAN_FAULT, gpa);
		kvmmu_span_begin(KVMMU_SPAN_FLUSH, 0);
		kvmmu_span_end(KVMMU_SPAN_FLUSH, 0);
		kvmmu_span_end(KVMMU_SPAN_FAULT, gpa);
		if (i % 8 == 0) {
			kvmmu_span_begin(KVMMU_SPAN_MEMSLOT_UPDATE, 1);
			kvmmu_span_begin(KVMMU_SPAN_ZAP, 0);
			kvmmu_span_end(KVMMU_SPAN_ZAP, 0);
			kvmmu_span_end(KVMMU_SPAN_MEMSLOT_UPDATE, 1);
		}
		kvmmu_observe(KVMMU_EV_NOTIFIER_START, notifier, .start = 0x7f0000000000UL,
			      .end = 0x7f0000200000UL, .event = 1);
		kvmmu_observe(KVMMU_EV_NOTIFIER_END, notifier, .start = 0x7f0000000000UL,
			      .end = 0x7f0000200000UL, .event = 1);
	}
	return 0;
}

static const char detail[] = "I27 \"quoted\" back\\slash\nnew line\ttab \x01 ctrl \xc3\xa9 high";

static void test_threads_write_one_valid_document(void **state)
{
	struct kvmmu_thread *threads[NR_WORKERS];
	struct worker workers[NR_WORKERS];
	int rounds = (int)scaled(100, 1000, 10000);
	const struct jval *args;
	struct summary s;
	struct jval doc;
	char path[256];
	int i, j;

	trace_path(path, sizeof(path));
	assert_int_equal(kvmmu_trace_begin(path), 0);
	assert_true(kvmmu_trace_active());
	for (i = 0; i < NR_WORKERS; i++) {
		char name[32];

		workers[i] = (struct worker){ .index = i, .rounds = rounds, .id = -1 };
		snprintf(name, sizeof(name), "tracer-%d", i);
		assert_int_equal(kvmmu_thread_create(&threads[i], name, 0, worker, &workers[i]),
				 0);
	}
	expect_warns(1);
	WARN_ON(rounds > 0);
	for (i = 0; i < NR_WORKERS; i++)
		assert_int_equal(kvmmu_thread_join(threads[i]), 0);
	kvmmu_trace_instant("violation", detail);
	assert_int_equal(kvmmu_trace_end(), 0);
	assert_false(kvmmu_trace_active());
	/* After the end nothing is written, and nothing breaks. */
	kvmmu_span_begin(KVMMU_SPAN_FAULT, 0);
	kvmmu_span_end(KVMMU_SPAN_FAULT, 0);
	kvmmu_trace_instant("late", NULL);

	load_trace(path, &doc, &s);
	unlink(path);

	/* Every record arrived: metadata, then 2 per span or notifier. */
	assert_int_equal(s.by_name[0], NR_WORKERS * rounds);                 /* fault */
	assert_int_equal(s.by_name[1], NR_WORKERS * ((rounds + 7) / 8));     /* zap */
	assert_int_equal(s.by_name[2], NR_WORKERS * rounds);                 /* flush */
	assert_int_equal(s.by_name[3], NR_WORKERS * ((rounds + 7) / 8));     /* memslot update */
	assert_int_equal(s.by_name[4], NR_WORKERS * rounds);                 /* root load */
	assert_int_equal(s.by_name[5], NR_WORKERS * rounds);                 /* notifier */
	assert_int_equal(s.warns, 1);
	assert_int_equal(s.instants, 1);
	/* The process name, a name per track, B and E per span, the WARN, the instant. */
	assert_int_equal(s.nr_events,
			 1 + s.nr_tracks + 2 * (4 * NR_WORKERS * rounds +
						2 * NR_WORKERS * ((rounds + 7) / 8)) + 2);

	/* A named track per worker, and one for this thread (the WARN, the instant). */
	assert_int_equal(s.nr_tracks, NR_WORKERS + 1);
	for (i = 0; i < NR_WORKERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "tracer-%d", i);
		for (j = 0; j < s.nr_tracks; j++) {
			if (s.tracks[j].tid == workers[i].id)
				break;
		}
		assert_true(j < s.nr_tracks);
		assert_string_equal(s.tracks[j].name, name);
		assert_int_equal(s.tracks[j].begins, 4 * rounds + 2 * ((rounds + 7) / 8));
	}

	/* Arguments: a fault's gpa, a notifier's range and event, the escaped detail. */
	args = jget(s.last_fault, "args");
	assert_non_null(args);
	assert_non_null(jget_str(args, "gpa"));
	assert_int_equal(strncmp(jget_str(args, "gpa"), "0x", 2), 0);
	args = jget(s.last_notifier, "args");
	assert_non_null(args);
	assert_string_equal(jget_str(args, "start"), "0x7f0000000000");
	assert_string_equal(jget_str(args, "end"), "0x7f0000200000");
	assert_string_equal(jget_str(args, "event"), "clear");
	assert_int_equal(jget(s.last_instant, "tid")->num, current_thread()->id);
	args = jget(s.last_instant, "args");
	assert_non_null(args);
	assert_string_equal(jget_str(args, "detail"), detail);
	jfree(&doc);
}

/* A span open when the trace begins ends without an "E": B and E still balance. */
static void test_span_open_at_begin_is_not_ended(void **state)
{
	struct summary s;
	struct jval doc;
	char path[256];

	trace_path(path, sizeof(path));
	kvmmu_span_begin(KVMMU_SPAN_ZAP, 0); /* nobody observes it */
	assert_int_equal(kvmmu_trace_begin(path), 0);
	kvmmu_span_begin(KVMMU_SPAN_FAULT, 0x1000);
	kvmmu_span_end(KVMMU_SPAN_FAULT, 0x1000);
	kvmmu_span_end(KVMMU_SPAN_ZAP, 0);
	assert_int_equal(kvmmu_trace_end(), 0);

	load_trace(path, &doc, &s);
	unlink(path);
	assert_int_equal(s.by_name[0], 1);
	assert_int_equal(s.by_name[1], 0);
	/* process_name, thread_name, B, E: the stray E was dropped. */
	assert_int_equal(s.nr_events, 4);
	jfree(&doc);
}

/* Two traces in a row: each names its threads again. */
static void test_second_trace_names_threads_again(void **state)
{
	struct summary s;
	struct jval doc;
	char path[256];
	int round;

	trace_path(path, sizeof(path));
	for (round = 0; round < 2; round++) {
		assert_int_equal(kvmmu_trace_begin(path), 0);
		kvmmu_span_begin(KVMMU_SPAN_MEMSLOT_UPDATE, 3);
		kvmmu_span_end(KVMMU_SPAN_MEMSLOT_UPDATE, 3);
		assert_int_equal(kvmmu_trace_end(), 0);
		load_trace(path, &doc, &s);
		assert_int_equal(s.nr_tracks, 1);
		assert_int_equal(s.tracks[0].names, 1);
		assert_string_equal(s.tracks[0].name, "main");
		assert_int_equal(s.by_name[3], 1);
		jfree(&doc);
	}
	unlink(path);
}

static void test_errors(void **state)
{
	char path[256];

	assert_int_equal(kvmmu_trace_begin("no-such-directory/trace.json"), -ENOENT);
	assert_false(kvmmu_trace_active());
	assert_int_equal(kvmmu_trace_end(), -EINVAL);
	kvmmu_trace_instant("ignored", "no trace is open");

	trace_path(path, sizeof(path));
	assert_int_equal(kvmmu_trace_begin(path), 0);
	assert_int_equal(kvmmu_trace_begin(path), -EBUSY);
	assert_int_equal(kvmmu_trace_end(), 0);
	assert_int_equal(kvmmu_trace_end(), -EINVAL);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_parser_rejects_broken_documents),
		KVMMU_TEST(test_threads_write_one_valid_document),
		KVMMU_TEST(test_span_open_at_begin_is_not_ended),
		KVMMU_TEST(test_second_trace_names_threads_again),
		KVMMU_TEST(test_errors),
	};

	return kvmmu_run_tests(tests);
}
