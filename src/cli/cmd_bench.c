// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu bench: run the benchmarks and report each figure with its baseline,
 * ratio and target.  A missed target is reported, not an error.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "cli.h"

#define MAX_RESULTS 32

static bool bench_quiet;

static void bench_progress(const char *name)
{
	if (!bench_quiet)
		fprintf(stderr, "bench: %s ...\n", name);
}

static void json_number_or_null(struct json *j, double v)
{
	if (isnan(v))
		json_null(j);
	else
		json_double(j, v);
}

static void bench_json(struct json *j, const struct bench_result *r, int n, enum world_mmu mmu,
		       int repeat)
{
	int i;

	json_object_begin(j);
	json_key(j, "build");
	json_string(j, KVMMU_BUILD_TYPE);
	json_key(j, "mmu");
	json_string(j, world_mmu_name(mmu));
	json_key(j, "repeat");
	json_u64(j, (u64)repeat);
	json_key(j, "benchmarks");
	json_array_begin(j);
	for (i = 0; i < n; i++) {
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, r[i].name);
		json_key(j, "run");
		json_u64(j, (u64)(i / (n / repeat) + 1));
		json_key(j, "value");
		json_double(j, r[i].value);
		json_key(j, "unit");
		json_string(j, r[i].unit);
		json_key(j, "baseline");
		json_number_or_null(j, r[i].baseline);
		json_key(j, "baseline_unit");
		json_string(j, r[i].baseline_unit);
		json_key(j, "ratio");
		json_number_or_null(j, r[i].ratio);
		json_key(j, "target");
		json_double(j, r[i].target);
		json_key(j, "direction");
		json_string(j, r[i].direction);
		json_key(j, "met");
		json_bool(j, r[i].met);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	json_finish(j);
}

static void bench_table(FILE *f, const struct bench_result *r, int n, enum world_mmu mmu)
{
	int i;

	fprintf(f, "kvmmu bench (%s build, --mmu %s)\n", KVMMU_BUILD_TYPE, world_mmu_name(mmu));
	fprintf(f, "%-28s %10s %10s %8s %8s  %s\n", "benchmark", "value",
		"baseline", "ratio", "target", "met");
	for (i = 0; i < n; i++) {
		fprintf(f, "%-28s %8.2f%-2s %8.2f%-2s %8.3f %5s%-3.2f %s\n",
			r[i].name, r[i].value, r[i].unit, r[i].baseline,
			r[i].baseline_unit, r[i].ratio, r[i].direction,
			r[i].target, r[i].met ? "yes" : "NO");
		fprintf(f, "    %s\n", r[i].note);
	}
}

static int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", optional_argument, NULL, 'j' },
		{ "mmu", required_argument, NULL, 'm' },
		{ "filter", required_argument, NULL, 'f' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	enum world_mmu mmu = WORLD_MMU_TDP;
	char why[160];
	struct bench_result *results;
	struct cli_output out;
	int c, n = 0, per = 0, repeat = 1, i;
	struct json j;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'm':
			if (world_mmu_parse(optarg, &mmu, why, sizeof(why)))
				cli_usage_error("bench: --mmu: %s", why);
			break;
		case 'f':
			if (bench_set_filter(optarg))
				cli_usage_error("bench: --filter: '%s' names no figure (%s)", optarg,
						bench_figure_names());
			break;
		case 'r':
			repeat = (int)cli_parse_long("bench", "repeat", optarg, 1, 1000);
			break;
		case 'q':
			out.quiet = true;
			break;
		default:
			cli_usage_error("bench: unknown option '%s' (see kvmmu bench --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_usage_error("bench: unexpected argument '%s'", argv[optind]);

	bench_quiet = out.quiet;
	/* Before the benchmarks: a path that cannot be written costs no run. */
	if (out.json)
		cli_output_open(&out, &j);
	results = calloc((size_t)repeat * MAX_RESULTS, sizeof(*results));
	if (!results) {
		fprintf(stderr, "kvmmu: bench: out of memory\n");
		return CLI_EXIT_INTERNAL;
	}
	/* Each run the same figures, one after the other: a profiler sees them all. */
	for (i = 0; i < repeat; i++) {
		per = bench_run_all(results + n, MAX_RESULTS, bench_progress, mmu);
		n += per;
	}
	if (out.json) {
		bench_json(&j, results, n, mmu, per ? repeat : 1);
		cli_output_close(&out);
	}
	for (i = 0; i < repeat && per; i++) {
		if (repeat > 1)
			fprintf(out.human, "run %d of %d\n", i + 1, repeat);
		bench_table(out.human, results + i * per, per, mmu);
	}
	free(results);
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_bench = {
	.name = "bench",
	.summary = "run the benchmarks (ratios against same-run baselines)",
	.usage =
		"usage: kvmmu bench [--mmu MMU] [--filter LIST] [--repeat N] [--json[=FILE]]\n"
		"                   [--quiet]\n"
		"\n"
		"Run every benchmark.  Each figure is reported with the baseline\n"
		"measured in the same run, their ratio, and the target it should meet.\n"
		"Use a release build ('make bench' does).\n"
		"\n"
		"options:\n"
		"  --mmu MMU      the MMU the MMU figures run on: tdp (default),\n"
		"                 tdp-legacy (the shadow MMU's direct pages) or shadow\n"
		"                 (shadow paging of a guest's own 4-level tables); a\n"
		"                 figure that does not apply is left out, with a line\n"
		"                 on stderr saying why\n"
		"  --filter LIST  run only these figures (comma-separated names, as the\n"
		"                 table shows them), e.g. to profile one alone\n"
		"  --repeat N     run them N times, one run after the other (default 1);\n"
		"                 the table and the JSON give every run\n"
		"  --json[=FILE]  write the JSON document to FILE, or to stdout (the\n"
		"                 table then goes to stderr)\n"
		"  --quiet        no progress lines\n"
		"  -h, --help     show this help\n",
	.run = cmd_bench,
};
