// SPDX-License-Identifier: GPL-2.0-only
/*
 * The trace writer (see trace.h).
 *
 * One document per trace: {"traceEvents":[ records ],"displayTimeUnit":"ns"}.
 * A record is written whole under trace_lock, into a fixed buffer that goes
 * to the file whenever it fills, so the file holds records in the order
 * their timestamps were taken and memory stays bounded however long the run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kvmmu/host.h>

#include "observe.h"
#include "sched_point.h"
#include "thread.h"
#include "trace.h"

#define TRACE_BUF_SIZE (64 * 1024)
/* Strings are cut here: a runaway description must not swamp the trace. */
#define TRACE_STR_MAX 1024
/* Every track belongs to one process: kvmmu is one. */
#define TRACE_PID 1

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

/* All of it under trace_lock. */
static struct {
	bool active;
	FILE *file;
	int err;        /* the first write error, -errno */
	u64 generation; /* of the trace being written; never 0 while active */
	struct timespec t0;
	u64 nr_records;
	size_t len;
	char buf[TRACE_BUF_SIZE];
} trace;

/*
 * Per thread, so that the writer needs no table of threads: the trace this
 * thread was last named in (its thread_name record is written once per
 * trace) and the spans it opened in that trace.  A span that began before
 * the trace did gets no "E", so B and E balance on every track.
 */
static __kvmmu_tls struct {
	u64 generation;
	unsigned int depth;
} trace_thread;

static const char *const span_names[NR_KVMMU_SPANS] = {
	[KVMMU_SPAN_FAULT] = "fault",
	[KVMMU_SPAN_ZAP] = "zap",
	[KVMMU_SPAN_FLUSH] = "flush",
	[KVMMU_SPAN_MEMSLOT_UPDATE] = "memslot update",
	[KVMMU_SPAN_ROOT_LOAD] = "root load",
};

/* What a span's argument is, for its "args"; NULL: only shown if nonzero. */
static const struct {
	const char *key;
	bool hex;
} span_args[NR_KVMMU_SPANS] = {
	[KVMMU_SPAN_FAULT] = { "gpa", true },
	[KVMMU_SPAN_ZAP] = { NULL, true },
	[KVMMU_SPAN_FLUSH] = { NULL, true },
	[KVMMU_SPAN_MEMSLOT_UPDATE] = { "slot", false }, /* as_id << 16 | id */
	[KVMMU_SPAN_ROOT_LOAD] = { "vcpu", false },
};

static const char *const notifier_events[] = {
	[MMU_NOTIFY_UNMAP] = "unmap",
	[MMU_NOTIFY_CLEAR] = "clear",
	[MMU_NOTIFY_PROTECTION_VMA] = "protection_vma",
	[MMU_NOTIFY_PROTECTION_PAGE] = "protection_page",
	[MMU_NOTIFY_SOFT_DIRTY] = "soft_dirty",
	[MMU_NOTIFY_RELEASE] = "release",
	[MMU_NOTIFY_MIGRATE] = "migrate",
	[MMU_NOTIFY_EXCLUSIVE] = "exclusive",
};

/* ---- the buffer ------------------------------------------------------------------------- */

static void out_flush(void)
{
	if (trace.len && !trace.err) {
		errno = 0;
		if (fwrite(trace.buf, 1, trace.len, trace.file) != trace.len)
			trace.err = errno ? -errno : -EIO;
	}
	trace.len = 0;
}

static void out_mem(const char *s, size_t n)
{
	while (n) {
		size_t room = TRACE_BUF_SIZE - trace.len;
		size_t k = n < room ? n : room;

		memcpy(trace.buf + trace.len, s, k);
		trace.len += k;
		s += k;
		n -= k;
		if (trace.len == TRACE_BUF_SIZE)
			out_flush();
	}
}

static void out_puts(const char *s)
{
	out_mem(s, strlen(s));
}

/* Short formatted pieces only (numbers, fixed keys): longer output is cut. */
static __printf(1, 2) void out_printf(const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_mem(tmp, min_t(size_t, (size_t)n, sizeof(tmp) - 1));
}

/*
 * A JSON string.  Bytes outside printable ASCII are escaped as \u00XX (read
 * as Latin-1), so the document is valid UTF-8 whatever the C string holds.
 */
static void out_str(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	out_mem("\"", 1);
	for (i = 0; s && s[i] && i < TRACE_STR_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		switch (c) {
		case '"':
			out_mem("\\\"", 2);
			break;
		case '\\':
			out_mem("\\\\", 2);
			break;
		case '\n':
			out_mem("\\n", 2);
			break;
		case '\t':
			out_mem("\\t", 2);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				out_mem(esc, sizeof(esc));
			else
				out_mem((const char *)&c, 1);
		}
	}
	out_mem("\"", 1);
}

/* ---- records ---------------------------------------------------------------------------- */

static u64 trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)(ts.tv_sec - trace.t0.tv_sec) * 1000000000ULL + (u64)ts.tv_nsec -
	       (u64)trace.t0.tv_nsec;
}

/*
 * Open a record with the fields every event has; the caller adds the rest
 * and the closing brace.  The timestamp is taken under trace_lock, so
 * records are in time order in the file.
 */
static void rec_begin(char ph, const char *name, int tid)
{
	u64 ns = trace_now_ns();

	out_puts(trace.nr_records++ ? ",\n" : "\n");
	out_printf("{\"ph\":\"%c\",\"name\":", ph);
	out_str(name);
	out_printf(",\"ts\":%llu.%03u,\"pid\":%d,\"tid\":%d", (unsigned long long)(ns / 1000),
		   (unsigned int)(ns % 1000), TRACE_PID, tid);
}

static void rec_metadata(const char *what, int tid, const char *name)
{
	rec_begin('M', what, tid);
	out_puts(",\"args\":{\"name\":");
	out_str(name);
	out_puts("}}");
}

/* The calling thread's track: name it the first time it appears in this trace. */
static void rec_thread(int tid)
{
	if (trace_thread.generation == trace.generation)
		return;
	trace_thread.generation = trace.generation;
	trace_thread.depth = 0;
	rec_metadata("thread_name", tid, kvmmu_thread_name());
}

static const char *span_name(const struct kvmmu_event *ev)
{
	return ev->span.kind < NR_KVMMU_SPANS ? span_names[ev->span.kind] : "span";
}

static void rec_span_begin(const struct kvmmu_event *ev)
{
	unsigned int kind = ev->span.kind;
	const char *key = kind < NR_KVMMU_SPANS ? span_args[kind].key : NULL;
	bool hex = kind < NR_KVMMU_SPANS ? span_args[kind].hex : true;
	unsigned long long arg = ev->span.arg;

	rec_begin('B', span_name(ev), ev->thread);
	if (key || arg) {
		out_printf(",\"args\":{\"%s\":", key ? key : "arg");
		if (hex)
			out_printf("\"0x%llx\"}", arg);
		else
			out_printf("%llu}", arg);
	}
	out_puts("}");
	trace_thread.depth++;
}

static void rec_notifier_begin(const struct kvmmu_event *ev)
{
	unsigned int event = (unsigned int)ev->notifier.event;

	rec_begin('B', "notifier invalidate", ev->thread);
	out_printf(",\"args\":{\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"event\":",
		   (unsigned long long)ev->notifier.start, (unsigned long long)ev->notifier.end);
	if (event < ARRAY_SIZE(notifier_events) && notifier_events[event])
		out_str(notifier_events[event]);
	else
		out_printf("%u", event);
	out_puts("}}");
	trace_thread.depth++;
}

static void rec_end(const char *name, int tid)
{
	if (!trace_thread.depth)
		return;
	trace_thread.depth--;
	rec_begin('E', name, tid);
	out_puts("}");
}

static void rec_warn(const struct kvmmu_event *ev)
{
	rec_begin('i', "WARN", ev->thread);
	out_puts(",\"s\":\"t\",\"args\":{\"cond\":");
	out_str(ev->warn.cond);
	out_puts(",\"file\":");
	out_str(ev->warn.file);
	out_printf(",\"line\":%d}}", ev->warn.line);
}

static void trace_notify(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	/* Nothing here has sched points, but a controlled schedule must not depend on that. */
	sched_quiet_begin();
	pthread_mutex_lock(&trace_lock);
	if (!trace.active)
		goto out;
	rec_thread(ev->thread);
	switch (ev->type) {
	case KVMMU_EV_SPAN_BEGIN:
		rec_span_begin(ev);
		break;
	case KVMMU_EV_SPAN_END:
		rec_end(span_name(ev), ev->thread);
		break;
	case KVMMU_EV_NOTIFIER_START:
		rec_notifier_begin(ev);
		break;
	case KVMMU_EV_NOTIFIER_END:
		rec_end("notifier invalidate", ev->thread);
		break;
	case KVMMU_EV_WARN:
		rec_warn(ev);
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&trace_lock);
	sched_quiet_end();
}

static struct kvmmu_observer trace_observer = {
	.name = "trace",
	.mask = BIT_ULL(KVMMU_EV_SPAN_BEGIN) | BIT_ULL(KVMMU_EV_SPAN_END) |
		BIT_ULL(KVMMU_EV_NOTIFIER_START) | BIT_ULL(KVMMU_EV_NOTIFIER_END) |
		BIT_ULL(KVMMU_EV_WARN),
	.notify = trace_notify,
};

/* ---- the API ---------------------------------------------------------------------------- */

int kvmmu_trace_begin(const char *path)
{
	int tid = current_thread()->id;
	FILE *f;
	int r;

	pthread_mutex_lock(&trace_lock);
	if (trace.file) {
		pthread_mutex_unlock(&trace_lock);
		return -EBUSY;
	}
	f = fopen(path, "we");
	if (!f) {
		r = -errno;
		pthread_mutex_unlock(&trace_lock);
		return r;
	}
	trace.file = f;
	trace.err = 0;
	trace.len = 0;
	trace.nr_records = 0;
	trace.generation++;
	clock_gettime(CLOCK_MONOTONIC, &trace.t0);
	out_puts("{\"traceEvents\":[");
	rec_metadata("process_name", tid, "kvmmu");
	trace.active = true;
	pthread_mutex_unlock(&trace_lock);

	r = kvmmu_observer_register(&trace_observer);
	if (r) {
		pthread_mutex_lock(&trace_lock);
		trace.active = false;
		fclose(trace.file);
		trace.file = NULL;
		pthread_mutex_unlock(&trace_lock);
		unlink(path);
	}
	return r;
}

int kvmmu_trace_end(void)
{
	int r;

	kvmmu_observer_unregister(&trace_observer);
	pthread_mutex_lock(&trace_lock);
	if (!trace.file) {
		pthread_mutex_unlock(&trace_lock);
		return -EINVAL;
	}
	trace.active = false;
	out_puts("\n],\"displayTimeUnit\":\"ns\"}\n");
	out_flush();
	r = trace.err;
	if (fclose(trace.file) && !r)
		r = -errno;
	trace.file = NULL;
	pthread_mutex_unlock(&trace_lock);
	return r;
}

void kvmmu_trace_instant(const char *name, const char *detail)
{
	/* Before the lock: a thread's first current_thread() allocates. */
	int tid = current_thread()->id;

	sched_quiet_begin();
	pthread_mutex_lock(&trace_lock);
	if (trace.active) {
		rec_thread(tid);
		rec_begin('i', name, tid);
		out_puts(",\"s\":\"t\"");
		if (detail) {
			out_puts(",\"args\":{\"detail\":");
			out_str(detail);
			out_puts("}");
		}
		out_puts("}");
	}
	pthread_mutex_unlock(&trace_lock);
	sched_quiet_end();
}

bool kvmmu_trace_active(void)
{
	bool active;

	pthread_mutex_lock(&trace_lock);
	active = trace.active;
	pthread_mutex_unlock(&trace_lock);
	return active;
}
