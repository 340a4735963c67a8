// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu scenario / replay: race scenarios under the deterministic scheduler,
 * and the re-run of one schedule from its token.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mutant.h"
#include "scenario.h"
#include "trace.h"

/*
 * Progress, on stderr, for a run that has lasted PROGRESS_AFTER seconds:
 * schedules done, the rate and the time left.  On a terminal a live line,
 * redrawn four times a second; elsewhere (--progress) a line every
 * PROGRESS_EVERY seconds.  Nothing at all without a terminal unless asked,
 * so that logs and tests stay clean.
 */
#define PROGRESS_AFTER 2.0
#define PROGRESS_EVERY 10.0

struct progress {
	bool show;
	bool tty;
	bool printed;          /* a live line is on the terminal */
	const char *name;
	const struct scn_config *cfg;
	double start, next;
};

static void show_progress(u64 done, u64 total, void *arg)
{
	struct progress *p = arg;
	double t = cli_now(), rate;
	char eta[32], shard[48] = "";

	if (!p->show || t < p->next)
		return;
	p->next = t + (p->tty ? 0.25 : PROGRESS_EVERY);
	rate = done / (t - p->start);
	if (p->cfg->shard_count > 1)
		snprintf(shard, sizeof(shard), " [shard %llu/%llu]",
			 (unsigned long long)p->cfg->shard_index,
			 (unsigned long long)p->cfg->shard_count);
	fprintf(stderr, "%s%s: schedule %llu/%llu (%.0f%%)%s, %.0f/s, ETA %s%s",
		p->tty ? "\r\033[K" : "", p->name, (unsigned long long)done,
		(unsigned long long)total, total ? 100.0 * (double)done / (double)total : 100.0,
		shard, rate, cli_duration(rate > 0 ? (double)(total - done) / rate : 0, eta,
					  sizeof(eta)),
		p->tty ? "" : "\n");
	p->printed = p->tty;
}

/* The run is over: take the live line away before the summary. */
static void progress_end(struct progress *p)
{
	if (p->printed)
		fputs("\r\033[K", stderr);
	p->printed = false;
}

static void json_mutants(struct json *j, u64 mask)
{
	int i;

	json_array_begin(j);
	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		if (mask & (1ULL << i))
			json_string(j, kvmmu_mutant_table[i].name);
	}
	json_array_end(j);
}

static void json_gfn_pfn(struct json *j, s64 v)
{
	if (v < 0)
		json_null(j);
	else
		json_s64(j, v);
}

static void json_checks(struct json *j, u64 mask)
{
	int i;

	json_array_begin(j);
	for (i = 0; i < NR_CHECKERS; i++) {
		if (mask & (1ULL << i))
			json_string(j, checker_table[i].name);
	}
	json_array_end(j);
}

static void json_hex(struct json *j, u64 v)
{
	char hex[24];

	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)v);
	json_string(j, hex);
}

/*
 * What part of the schedule space the run covered: the indices first,
 * first + stride, ... up to last (null: none ran); every schedule's seed
 * derives from the run's seed and its index, whatever the shard.  A
 * replay's part is its one schedule.
 */
static void json_shard(struct json *j, const struct scn_config *cfg,
		       const struct scn_result *res, bool replay)
{
	u64 m = cfg->shard_count ? cfg->shard_count : 1;

	json_object_begin(j);
	json_key(j, "index");
	json_u64(j, cfg->shard_index);
	json_key(j, "count");
	json_u64(j, m);
	json_key(j, "first");
	json_u64(j, replay ? res->schedule_index : cfg->shard_index);
	json_key(j, "stride");
	json_u64(j, m);
	json_key(j, "last");
	if (res->schedules_run)
		json_u64(j, res->last_index);
	else
		json_null(j);
	json_key(j, "schedules");
	json_u64(j, scn_shard_schedules(cfg));
	json_object_end(j);
}

/* A run's timing, for the document's elapsed_s and schedules_per_s. */
struct run_time {
	bool replay;
	double elapsed;
	const char *interrupted; /* the signal's name, or NULL */
};

static void result_json(struct json *j, const struct scn_config *cfg,
			const struct scn_result *res, const struct run_time *rt)
{
	char hash[24];

	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)res->event_hash);
	json_object_begin(j);
	json_key(j, "scenario");
	json_string(j, cfg->scn->name);
	json_key(j, "mutants");
	json_mutants(j, cfg->mutants);
	json_key(j, "strategy");
	json_string(j, scn_strategy_name(cfg->strategy));
	json_key(j, "seed");
	json_u64(j, cfg->seed);
	json_key(j, "yield_every");
	json_u64(j, scn_yield_every(cfg));
	json_key(j, "counters");
	json_string(j, world_counters_name(scn_counters(cfg)));
	json_key(j, "pml");
	json_bool(j, scn_pml(cfg));
	json_key(j, "mmu");
	json_string(j, world_mmu_name(scn_mmu(cfg)));
	json_key(j, "depth");
	json_u64(j, cfg->depth);
	json_key(j, "checks");
	json_checks(j, cfg->checks);
	json_key(j, "build");
	json_string(j, scn_build_id());
	json_key(j, "schedules");
	json_u64(j, cfg->schedules);
	json_key(j, "shard");
	json_shard(j, cfg, res, rt->replay);
	json_key(j, "schedules_run");
	json_u64(j, res->schedules_run);
	json_key(j, "schedules_digest");
	json_hex(j, res->schedules_digest);
	json_key(j, "complete");
	json_bool(j, !res->interrupted);
	json_key(j, "interrupted");
	json_string(j, res->interrupted ? rt->interrupted : NULL);
	json_key(j, "elapsed_s");
	json_double(j, rt->elapsed);
	json_key(j, "schedules_per_s");
	json_double(j, rt->elapsed > 0 ? (double)res->schedules_run / rt->elapsed : 0);
	json_key(j, "violation");
	if (!res->violated) {
		json_null(j);
	} else {
		const struct check_violation *v = &res->violation;

		json_object_begin(j);
		json_key(j, "invariant");
		json_string(j, v->invariant);
		json_key(j, "checker");
		json_string(j, v->checker);
		json_key(j, "description");
		json_string(j, v->description);
		json_key(j, "thread");
		json_string(j, v->thread);
		json_key(j, "gfn");
		json_gfn_pfn(j, v->gfn);
		json_key(j, "pfn");
		json_gfn_pfn(j, v->pfn);
		json_key(j, "event_index");
		json_u64(j, v->event_index);
		json_key(j, "replay");
		json_string(j, res->token);
		json_key(j, "schedule_index");
		json_u64(j, res->schedule_index);
		json_key(j, "event_hash");
		json_string(j, hash);
		json_object_end(j);
	}
	json_object_end(j);
	json_finish(j);
}

static void result_human(FILE *f, const struct scn_config *cfg, const struct scn_result *res,
			 const struct run_time *rt, bool replay)
{
	const struct check_violation *v = &res->violation;
	bool free_run = cfg->strategy == SCN_FREE;
	char name[96];

	if (cfg->shard_count > 1)
		snprintf(name, sizeof(name), "%s [shard %llu/%llu]", cfg->scn->name,
			 (unsigned long long)cfg->shard_index,
			 (unsigned long long)cfg->shard_count);
	else
		snprintf(name, sizeof(name), "%s", cfg->scn->name);
	if (res->interrupted)
		fprintf(f, "%s: interrupted (%s) after %llu of %llu schedule%s\n", name,
			rt->interrupted, (unsigned long long)res->schedules_run,
			(unsigned long long)scn_shard_schedules(cfg),
			scn_shard_schedules(cfg) == 1 ? "" : "s");
	if (!res->violated) {
		if (free_run)
			fprintf(f, "%s: no violation in %llu free-running schedule%s\n",
				name, (unsigned long long)res->schedules_run,
				res->schedules_run == 1 ? "" : "s");
		else
			fprintf(f, "%s: no violation in %llu schedule%s (event hash %016llx)\n",
				name, (unsigned long long)res->schedules_run,
				res->schedules_run == 1 ? "" : "s",
				(unsigned long long)res->event_hash);
		return;
	}
	fprintf(f, "%s: violation of %s (%s) in schedule %llu, thread %s:\n  %s\n",
		name, v->invariant, v->checker, (unsigned long long)res->schedule_index,
		v->thread, v->description);
	if (free_run) {
		/* Free threads follow no schedule: there is nothing to replay exactly. */
		fprintf(f, "  free-running: not replayable; look for it with --strategy pct or "
			   "random\n");
		return;
	}
	fprintf(f, "  event hash %016llx\n", (unsigned long long)res->event_hash);
	if (!replay)
		fprintf(f, "  replay: kvmmu replay %s\n", res->token);
}

/* What a failed run says (-ELOOP: a setup that never finished, see scn_vcpu_run_list()). */
static const char *run_error(int r)
{
	static char buf[96];

	if (r == -ELOOP)
		return "the setup's vCPU made no progress in a million entries (a livelock "
		       "before checking starts)";
	snprintf(buf, sizeof(buf), "internal error: %s", strerror(-r));
	return buf;
}

static u64 parse_u64(const char *cmd, const char *opt, const char *s, u64 min)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || s[0] == '-')
		cli_usage_error("%s: bad %s '%s'", cmd, opt, s);
	return v;
}

/*
 * --shard I/M: the I-th (from 0) of M parts of the schedule space, the
 * schedules whose index is I modulo M.
 */
static void parse_shard(const char *s, struct scn_config *cfg)
{
	unsigned long long i, m;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		goto bad;
	i = strtoull(s, &end, 10);
	if (errno || *end != '/' || !isdigit((unsigned char)end[1]))
		goto bad;
	m = strtoull(end + 1, &end, 10);
	if (errno || *end)
		goto bad;
	if (!m)
		cli_usage_error("scenario: --shard %s: no shards (the count starts at 1)", s);
	if (m > CLI_MAX_SHARDS)
		cli_usage_error("scenario: --shard %s: more than %llu shards", s, CLI_MAX_SHARDS);
	if (i >= m)
		cli_usage_error("scenario: --shard %s: shards are numbered 0 to %llu", s, m - 1);
	cfg->shard_index = i;
	cfg->shard_count = m;
	return;
bad:
	cli_usage_error("scenario: bad --shard '%s' (I/M: shard I of M, I from 0 to M - 1)", s);
}

/*
 * Finish the trace of a run: a violation becomes an instant event on this
 * (the controller's) track, since the checker's thread is gone by now.
 */
static int trace_finish(const char *cmd, const char *path, const struct scn_result *res)
{
	if (!path)
		return 0;
	if (res && res->violated) {
		const struct check_violation *v = &res->violation;
		char detail[sizeof(v->description) + 128];

		/* A long description is cut short: the trace is for eyes. */
		if (snprintf(detail, sizeof(detail), "%s (%s) in thread %s: %s", v->invariant,
			     v->checker, v->thread, v->description) >= (int)sizeof(detail))
			detail[sizeof(detail) - 2] = '~';
		kvmmu_trace_instant("violation", detail);
	}
	return cli_trace_end(cmd, path);
}

static int cmd_scenario(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "schedules", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "strategy", required_argument, NULL, 'S' },
		{ "depth", required_argument, NULL, 'd' },
		{ "inject", required_argument, NULL, 'i' },
		{ "check", required_argument, NULL, 'c' },
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "trace", required_argument, NULL, 't' },
		{ "yield-every", required_argument, NULL, 'y' },
		{ "counters", required_argument, NULL, 'C' },
		{ "pml", no_argument, NULL, 'P' },
		{ "mmu", required_argument, NULL, 'M' },
		{ "shard", required_argument, NULL, 'H' },
		{ "progress", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct scn_config cfg = {
		.checks = CHECK_ALL, .strategy = SCN_PCT, .depth = 3, .seed = 1, .schedules = 1000,
	};
	struct progress prog = { .tty = isatty(2) };
	const char *trace = NULL;
	struct cli_output out;
	struct scn_result res;
	struct run_time rt;
	bool want_progress = false;
	struct json j;
	int c, r;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg.schedules = parse_u64("scenario", "--schedules", optarg, 1);
			break;
		case 's':
			cfg.seed = parse_u64("scenario", "--seed", optarg, 0);
			break;
		case 'S':
			if (scn_strategy_parse(optarg, &cfg.strategy))
				cli_usage_error("scenario: unknown strategy '%s' (pct, random or free)",
						optarg);
			break;
		case 'd':
			cfg.depth = (unsigned int)parse_u64("scenario", "--depth", optarg, 1);
			if (cfg.depth > 16)
				cli_usage_error("scenario: --depth %u is above 16", cfg.depth);
			break;
		case 'i':
			cfg.mutants = cli_parse_mutants("scenario", optarg);
			break;
		case 'c':
			cfg.checks = cli_parse_checks("scenario", optarg);
			break;
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		case 't':
			trace = cli_parse_trace("scenario", optarg);
			break;
		case 'y':
			cfg.yield_every = (unsigned int)parse_u64("scenario", "--yield-every", optarg,
								  0);
			if (cfg.yield_every > 1000000)
				cli_usage_error("scenario: --yield-every %u is above 1000000",
						cfg.yield_every);
			cfg.set_yield_every = true;
			break;
		case 'C':
			cfg.counters = cli_parse_counters("scenario", optarg);
			cfg.set_counters = true;
			break;
		case 'P':
			cfg.set_pml = cfg.pml = true;
			break;
		case 'M': {
			char why[128];

			if (world_mmu_parse(optarg, &cfg.mmu, why, sizeof(why)))
				cli_usage_error("scenario: %s", why);
			cfg.set_mmu = true;
			break;
		}
		case 'H':
			parse_shard(optarg, &cfg);
			break;
		case 'p':
			want_progress = true;
			break;
		default:
			cli_usage_error("scenario: unknown option '%s' (see kvmmu scenario --help)",
					argv[optind - 1]);
		}
	}
	if (optind >= argc)
		cli_usage_error("scenario: which scenario? (see kvmmu list)");
	if (optind + 1 < argc)
		cli_usage_error("scenario: unexpected argument '%s'", argv[optind + 1]);
	cfg.scn = scn_find(argv[optind]);
	if (!cfg.scn)
		cli_usage_error("scenario: unknown scenario '%s' (see kvmmu list)", argv[optind]);
	if (cfg.pml || cfg.set_mmu) {
		struct world_config wc = cfg.scn->world;
		char why[160];

		wc.pml = scn_pml(&cfg);
		wc.mmu = scn_mmu(&cfg);
		if (world_config_check(&wc, why, sizeof(why)))
			cli_usage_error("scenario: %s: %s", cfg.scn->name, why);
	}

	prog.show = !out.quiet && (prog.tty || want_progress);
	prog.name = cfg.scn->name;
	prog.cfg = &cfg;
	cfg.progress = show_progress;
	cfg.arg = &prog;
	cfg.stop = &cli_stop;
	cli_outputs_begin("scenario", &out, &j, trace);
	cli_stop_on_signals();
	prog.start = cli_now();
	prog.next = prog.start + PROGRESS_AFTER;
	r = scn_run(&cfg, &res);
	progress_end(&prog);
	rt.replay = false;
	rt.elapsed = cli_now() - prog.start;
	rt.interrupted = cli_stop_signal_name();
	if (r) {
		fprintf(stderr, "kvmmu: scenario %s: %s\n", cfg.scn->name, run_error(r));
		trace_finish("scenario", trace, NULL);
		return CLI_EXIT_INTERNAL;
	}
	if (trace_finish("scenario", trace, &res))
		return CLI_EXIT_INTERNAL;
	if (out.json) {
		result_json(&j, &cfg, &res, &rt);
		cli_output_close(&out);
	}
	result_human(out.human, &cfg, &res, &rt, false);
	if (res.violated)
		return CLI_EXIT_VIOLATION;
	/* Stopped by a signal with nothing found: the shell's 128 + signal number. */
	return res.interrupted ? 128 + cli_stop_signal() : CLI_EXIT_OK;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", required_argument, NULL, 'c' },
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "trace", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *trace = NULL;
	struct cli_output out;
	struct scn_config cfg;
	struct scn_result res;
	struct run_time rt;
	struct json j;
	u64 checks = CHECK_ALL;
	int c, r;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			checks = cli_parse_checks("replay", optarg);
			break;
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		case 't':
			trace = cli_parse_trace("replay", optarg);
			break;
		default:
			cli_usage_error("replay: unknown option '%s' (see kvmmu replay --help)",
					argv[optind - 1]);
		}
	}
	if (optind >= argc)
		cli_usage_error("replay: which token? (kvmmu scenario prints one with a violation)");
	if (optind + 1 < argc)
		cli_usage_error("replay: unexpected argument '%s'", argv[optind + 1]);
	switch (scn_token_check(argv[optind])) {
	case 0:
		break;
	case -ESTALE:
		cli_usage_error("replay: the token comes from another build (this one is %s)",
				scn_build_id());
	case -ENOENT:
		cli_usage_error("replay: the token names a scenario this build does not have");
	default:
		cli_usage_error("replay: '%s' is not a replay token", argv[optind]);
	}
	cli_outputs_begin("replay", &out, &j, trace);
	rt.interrupted = NULL;
	rt.replay = true;
	rt.elapsed = cli_now();
	r = scn_replay(argv[optind], checks, &cfg, &res);
	rt.elapsed = cli_now() - rt.elapsed;
	if (r) {
		fprintf(stderr, "kvmmu: replay: %s\n", run_error(r));
		trace_finish("replay", trace, NULL);
		return CLI_EXIT_INTERNAL;
	}
	if (trace_finish("replay", trace, &res))
		return CLI_EXIT_INTERNAL;
	if (out.json) {
		result_json(&j, &cfg, &res, &rt);
		cli_output_close(&out);
	}
	result_human(out.human, &cfg, &res, &rt, true);
	return res.violated ? CLI_EXIT_VIOLATION : CLI_EXIT_OK;
}

const struct cli_command cli_cmd_scenario = {
	.name = "scenario",
	.summary = "run a race scenario under the deterministic scheduler",
	.usage =
		"usage: kvmmu scenario NAME [options]\n"
		"\n"
		"Run schedules of a race scenario (see kvmmu list) under the controlled\n"
		"executor, every checker watching, until a violation or the number of\n"
		"schedules.  A violation prints the invariant, what happened and a replay\n"
		"token.  Ctrl-C (SIGINT) or SIGTERM stops the run after the schedule in\n"
		"progress and still writes the result of what ran, marked\n"
		"\"complete\": false (a second Ctrl-C kills at once).  Exit status: 0\n"
		"nothing found, 1 a violation (or a WARN), 2 usage, 3 internal error,\n"
		"128 + the signal's number (130 for SIGINT, 143 for SIGTERM) for a run\n"
		"stopped early that found nothing.\n"
		"\n"
		"options:\n"
		"  --schedules N      schedules to run (default 1000)\n"
		"  --shard I/M        run only part I of M (I from 0 to M - 1): the\n"
		"                     schedules whose index is I modulo M, with the\n"
		"                     seeds, event hashes and replay tokens they have in\n"
		"                     the unsharded run; kvmmu merge combines the parts\n"
		"                     (docs/scale-out.md); M up to 1048576\n"
		"  --seed S           the run's seed; each schedule derives its own (default 1)\n"
		"  --strategy S       pct (default), random, or free (threads run freely)\n"
		"  --depth D          PCT's bug depth: D - 1 priority changes (default 3)\n"
		"  --inject LIST      mutants to switch on, comma-separated (see kvmmu list)\n"
		"  --check LIST       checkers: all (default), none, or names (see kvmmu list)\n"
		"  --yield-every N    forced yields: need_resched() says yes at every Nth call\n"
		"                     of each thread, so walks that can yield mmu_lock do and\n"
		"                     restart (1: every step; 0: none; default: the\n"
		"                     scenario's own, none for most)\n"
		"  --counters C       where the VM's sequence counters start: zero, 2^31,\n"
		"                     2^32, 2^63 (just below each) or mmio-wrap (the MMIO\n"
		"                     generation just below its wrap); default: the\n"
		"                     scenario's own, zero for most\n"
		"  --pml              page-modification logging on (VMX enable_pml): dirty\n"
		"                     logging clears D and the CPU logs the writes that set\n"
		"                     it; for scenarios on EPT with A/D\n"
		"  --mmu MMU          tdp (the TDP MMU), tdp-legacy (the shadow MMU's\n"
		"                     direct pages, as tdp_mmu=0) or shadow (shadow paging,\n"
		"                     ept=0; the scenarios' guests are unpaged); default:\n"
		"                     the scenario's own\n"
		"  --json[=FILE]      write the JSON document to FILE, or to stdout\n"
		"  --trace=FILE       write a trace of every schedule to FILE: Chrome\n"
		"                     trace-event JSON (Perfetto, chrome://tracing), a track\n"
		"                     per thread with its faults, zaps, flushes, memslot\n"
		"                     updates, root loads, notifier invalidations and WARNs,\n"
		"                     and the violation, if any\n"
		"  --progress         progress (schedules, rate, ETA) on stderr even when it\n"
		"                     is not a terminal: a line every 10 s once the run\n"
		"                     has lasted 2 s; on a terminal it is on by default\n"
		"  --quiet            no progress (wins over --progress)\n"
		"  -h, --help         show this help\n",
	.run = cmd_scenario,
};

const struct cli_command cli_cmd_replay = {
	.name = "replay",
	.summary = "replay the schedule a scenario reported, from its token",
	.usage =
		"usage: kvmmu replay TOKEN [options]\n"
		"\n"
		"Re-run exactly the schedule a scenario reported (same scenario, mutants,\n"
		"strategy, seed, modes and schedule), and print its result and\n"
		"event hash, which match the original.  Tokens are tied to the build that\n"
		"made them.\n"
		"\n"
		"options:\n"
		"  --check LIST       checkers: all (default), none, or names\n"
		"  --json[=FILE]      write the JSON document to FILE, or to stdout\n"
		"  --trace=FILE       write a trace of the schedule to FILE (Chrome trace-event\n"
		"                     JSON, as kvmmu scenario --trace)\n"
		"  --quiet            accepted; replay prints no progress\n"
		"  -h, --help         show this help\n",
	.run = cmd_replay,
};
