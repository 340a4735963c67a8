/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared pieces of the kvmmu command line: exit codes, usage errors,
 * --json handling and size parsing.
 */
#ifndef KVMMU_CLI_CLI_H
#define KVMMU_CLI_CLI_H

#include <stdio.h>

#include "compiler.h"
#include "json.h"
#include "types.h"
#include "world.h"

/* Exit status, as the project contract fixes it. */
enum cli_exit {
	CLI_EXIT_OK = 0,        /* ran, nothing found */
	CLI_EXIT_VIOLATION = 1, /* a checker or a WARN fired */
	CLI_EXIT_USAGE = 2,     /* usage or input error */
	CLI_EXIT_INTERNAL = 3,  /* internal error */
};

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage; /* full --help text */
	int (*run)(int argc, char **argv);
};

/* Print "kvmmu: <message>" on stderr and exit with CLI_EXIT_USAGE. */
__noreturn void cli_usage_error(const char *fmt, ...) __printf(1, 2);

/*
 * Where --json output goes.  With --json (no file) the document goes to
 * stdout and the human summary to stderr; with --json=FILE the document
 * goes to FILE and the summary to stdout.
 */
struct cli_output {
	bool json;
	const char *json_path; /* NULL: stdout */
	FILE *json_file;
	FILE *human; /* where the human-readable summary goes */
	bool quiet;
};

void cli_output_init(struct cli_output *out);
/* Handle --json[=FILE]; returns true if @arg was that option. */
bool cli_output_parse_json(struct cli_output *out, const char *opt, const char *arg);
/* Open the JSON destination; usage error if FILE cannot be created. */
void cli_output_open(struct cli_output *out, struct json *j);
void cli_output_close(struct cli_output *out);

/* --check and --inject lists: the mask, or a usage error naming @cmd. */
u64 cli_parse_checks(const char *cmd, const char *list);
u64 cli_parse_mutants(const char *cmd, const char *list);
/* --counters C: the mode, or a usage error naming @cmd. */
enum world_counters cli_parse_counters(const char *cmd, const char *name);
/* A decimal number in [@min, @max] for --@opt, or a usage error. */
long cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max);
/* --trace=FILE: FILE, or a usage error if it is empty. */
const char *cli_parse_trace(const char *cmd, const char *path);

/*
 * --trace=FILE (@path NULL: no trace).  cli_trace_begin() starts the trace
 * writer, or exits with a usage error if FILE cannot be created; call it
 * before the run's threads start.  cli_trace_end(), once they are gone,
 * lets pending RCU callbacks report and finishes the file: 0, or -errno
 * after saying on stderr what went wrong.
 */
void cli_trace_begin(const char *cmd, const char *path);
int cli_trace_end(const char *cmd, const char *path);

/*
 * Open every output of a run before it starts, so that a path that cannot
 * be written costs no run: the JSON destination (with --json) and the
 * trace (@trace non-NULL).  A bad path is a usage error.
 */
void cli_outputs_begin(const char *cmd, struct cli_output *out, struct json *j,
		       const char *trace);

/*
 * Stopping a long run cleanly.  cli_stop_on_signals() makes SIGINT and
 * SIGTERM set @cli_stop (the run checks it between units of work and
 * writes what it did); the handler is reset as it runs, so a second
 * signal kills at once.  cli_stop_signal() says which signal came (0: none),
 * cli_stop_signal_name() its name ("SIGINT"), or NULL.
 */
extern _Atomic bool cli_stop;
void cli_stop_on_signals(void);
int cli_stop_signal(void);
const char *cli_stop_signal_name(void);

/* The most shards a run is split into (kvmmu scenario --shard, kvmmu merge). */
#define CLI_MAX_SHARDS (1ULL << 20)

/* CLOCK_MONOTONIC in seconds. */
double cli_now(void);
/* "12s", "3m05s", "2h07m": a duration for eyes, into @buf. */
const char *cli_duration(double s, char *buf, size_t len);

extern const struct cli_command cli_cmd_run, cli_cmd_scenario,
	cli_cmd_replay, cli_cmd_list, cli_cmd_bench, cli_cmd_access, cli_cmd_diff,
	cli_cmd_merge;

#endif /* KVMMU_CLI_CLI_H */
