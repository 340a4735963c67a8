// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu scenario / replay: race scenarios under the deterministic scheduler,
 * and the re-run of one schedule from its token.
 */
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

struct progress {
	bool quiet;
	bool tty;
	u64 last;
};

static void show_progress(u64 done, u64 total, void *arg)
{
	struct progress *p = arg;

	if (p->quiet)
		return;
	if (p->tty) {
		fprintf(stderr, "\rschedule %llu/%llu", (unsigned long long)done,
			(unsigned long long)total);
		if (done == total)
			fputc('\n', stderr);
	} else if (done * 10 / total != p->last * 10 / total || done == total) {
		fprintf(stderr, "schedule %llu/%llu\n", (unsigned long long)done,
			(unsigned long long)total);
	}
	p->last = done;
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

static void result_json(struct json *j, const struct scn_config *cfg,
			const struct scn_result *res)
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
	json_key(j, "schedules_run");
	json_u64(j, res->schedules_run);
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
			 bool replay)
{
	const struct check_violation *v = &res->violation;

	bool free_run = cfg->strategy == SCN_FREE;

	if (!res->violated) {
		if (free_run)
			fprintf(f, "%s: no violation in %llu free-running schedule%s\n",
				cfg->scn->name, (unsigned long long)res->schedules_run,
				res->schedules_run == 1 ? "" : "s");
		else
			fprintf(f, "%s: no violation in %llu schedule%s (event hash %016llx)\n",
				cfg->scn->name, (unsigned long long)res->schedules_run,
				res->schedules_run == 1 ? "" : "s",
				(unsigned long long)res->event_hash);
		return;
	}
	fprintf(f, "%s: violation of %s (%s) in schedule %llu, thread %s:\n  %s\n",
		cfg->scn->name, v->invariant, v->checker, (unsigned long long)res->schedule_index,
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
		{ NULL, 0, NULL, 0 },
	};
	struct scn_config cfg = {
		.checks = CHECK_ALL, .strategy = SCN_PCT, .depth = 3, .seed = 1, .schedules = 1000,
	};
	struct progress prog = { .tty = isatty(2) };
	const char *trace = NULL;
	struct cli_output out;
	struct scn_result res;
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

	prog.quiet = out.quiet;
	cfg.progress = show_progress;
	cfg.arg = &prog;
	cli_outputs_begin("scenario", &out, &j, trace);
	r = scn_run(&cfg, &res);
	if (r) {
		fprintf(stderr, "kvmmu: scenario %s: %s\n", cfg.scn->name, run_error(r));
		trace_finish("scenario", trace, NULL);
		return CLI_EXIT_INTERNAL;
	}
	if (trace_finish("scenario", trace, &res))
		return CLI_EXIT_INTERNAL;
	if (out.json) {
		result_json(&j, &cfg, &res);
		cli_output_close(&out);
	}
	result_human(out.human, &cfg, &res, false);
	return res.violated ? CLI_EXIT_VIOLATION : CLI_EXIT_OK;
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
	r = scn_replay(argv[optind], checks, &cfg, &res);
	if (r) {
		fprintf(stderr, "kvmmu: replay: %s\n", run_error(r));
		trace_finish("replay", trace, NULL);
		return CLI_EXIT_INTERNAL;
	}
	if (trace_finish("replay", trace, &res))
		return CLI_EXIT_INTERNAL;
	if (out.json) {
		result_json(&j, &cfg, &res);
		cli_output_close(&out);
	}
	result_human(out.human, &cfg, &res, true);
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
		"token.  Exit status: 0 nothing found, 1 a violation (or a WARN), 2 usage.\n"
		"\n"
		"options:\n"
		"  --schedules N      schedules to run (default 1000)\n"
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
		"  --quiet            no progress\n"
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
