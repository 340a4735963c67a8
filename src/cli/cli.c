// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cli.h"
#include "mutant.h"
#include "rcu.h"
#include "trace.h"

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kvmmu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(CLI_EXIT_USAGE);
}

void cli_output_init(struct cli_output *out)
{
	memset(out, 0, sizeof(*out));
	out->human = stdout;
}

bool cli_output_parse_json(struct cli_output *out, const char *opt,
			   const char *arg)
{
	if (strcmp(opt, "json"))
		return false;
	out->json = true;
	out->json_path = (arg && *arg) ? arg : NULL;
	out->human = out->json_path ? stdout : stderr;
	return true;
}

void cli_output_open(struct cli_output *out, struct json *j)
{
	out->json_file = stdout;
	if (out->json_path) {
		out->json_file = fopen(out->json_path, "w");
		if (!out->json_file)
			cli_usage_error("cannot write %s: %s", out->json_path,
					strerror(errno));
	}
	json_init(j, out->json_file);
}

void cli_output_close(struct cli_output *out)
{
	if (out->json_file && out->json_file != stdout)
		fclose(out->json_file);
	out->json_file = NULL;
}

void cli_trace_begin(const char *cmd, const char *path)
{
	int r;

	if (!path)
		return;
	r = kvmmu_trace_begin(path);
	if (r)
		cli_usage_error("%s: cannot write trace %s: %s", cmd, path, strerror(-r));
}

int cli_trace_end(const char *cmd, const char *path)
{
	int r;

	if (!path)
		return 0;
	/* Callbacks the run queued (table frees) still post events. */
	rcu_barrier();
	r = kvmmu_trace_end();
	if (r)
		fprintf(stderr, "kvmmu: %s: writing trace %s: %s\n", cmd, path, strerror(-r));
	return r;
}

void cli_outputs_begin(const char *cmd, struct cli_output *out, struct json *j,
		       const char *trace)
{
	if (out->json)
		cli_output_open(out, j);
	cli_trace_begin(cmd, trace);
}

u64 cli_parse_checks(const char *cmd, const char *list)
{
	char bad[64];
	u64 mask;
	int r = check_parse(list, &mask, bad, sizeof(bad));

	if (r == -ENOENT)
		cli_usage_error("%s: unknown checker '%s' (see kvmmu list)", cmd, bad);
	if (r)
		cli_usage_error("%s: bad --check list '%s'", cmd, list);
	return mask;
}

u64 cli_parse_mutants(const char *cmd, const char *list)
{
	char bad[64];
	u64 mask;
	int r = kvmmu_mutant_parse(list, &mask, bad, sizeof(bad));

	if (r == -ENOENT)
		cli_usage_error("%s: unknown mutant '%s' (see kvmmu list)", cmd, bad);
	if (r)
		cli_usage_error("%s: bad --inject list '%s'", cmd, list);
	return mask;
}

long cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		cli_usage_error("%s: --%s wants a number from %ld to %ld, not '%s'", cmd, opt, min,
				max, s);
	return v;
}

enum world_counters cli_parse_counters(const char *cmd, const char *name)
{
	enum world_counters c;

	if (world_counters_parse(name, &c))
		cli_usage_error("%s: unknown --counters '%s' (zero, 2^31, 2^32, 2^63, mmio-wrap)",
				cmd, name);
	return c;
}

const char *cli_parse_trace(const char *cmd, const char *path)
{
	if (!*path)
		cli_usage_error("%s: --trace needs a FILE", cmd);
	return path;
}

_Atomic bool cli_stop;
static volatile sig_atomic_t stop_signo;

/* Only async-signal-safe stores: the run sees the flag between schedules. */
static void stop_handler(int sig)
{
	stop_signo = sig;
	atomic_store(&cli_stop, true);
}

void cli_stop_on_signals(void)
{
	/*
	 * SA_RESTART: the executor's futex waits and file writes go on as if
	 * nothing happened.  SA_RESETHAND: the second Ctrl-C is the default
	 * action, for a run that does not stop soon enough.
	 */
	struct sigaction sa = { .sa_handler = stop_handler,
				.sa_flags = SA_RESTART | SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_stop_signal(void)
{
	return atomic_load(&cli_stop) ? stop_signo : 0;
}

const char *cli_stop_signal_name(void)
{
	switch (cli_stop_signal()) {
	case 0:
		return NULL;
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	default:
		return "signal";
	}
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *cli_duration(double s, char *buf, size_t len)
{
	unsigned long long t = s > 0 ? (unsigned long long)(s + 0.5) : 0;

	if (t < 60)
		snprintf(buf, len, "%llus", t);
	else if (t < 3600)
		snprintf(buf, len, "%llum%02llus", t / 60, t % 60);
	else
		snprintf(buf, len, "%lluh%02llum", t / 3600, t / 60 % 60);
	return buf;
}
