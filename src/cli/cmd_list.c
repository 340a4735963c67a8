// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu list: workloads, scenarios, mutants and checkers.
 */
#include <getopt.h>
#include <stdio.h>

#include "check.h"
#include "cli.h"
#include "mutant.h"
#include "scenario.h"
#include "workload.h"

static void list_json(struct json *j)
{
	int i, k;

	json_object_begin(j);
	json_key(j, "workloads");
	json_array_begin(j);
	for (i = 0; i < nr_workloads; i++) {
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, workload_table[i]->name);
		json_key(j, "description");
		json_string(j, workload_table[i]->description);
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "scenarios");
	json_array_begin(j);
	for (i = 0; i < nr_scenarios; i++) {
		const struct scenario *s = scenario_table[i];

		json_object_begin(j);
		json_key(j, "name");
		json_string(j, s->name);
		json_key(j, "description");
		json_string(j, s->description);
		json_key(j, "mutants");
		json_array_begin(j);
		for (k = 0; k < 3 && s->mutants[k]; k++)
			json_string(j, s->mutants[k]);
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "mutants");
	json_array_begin(j);
	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		enum checker_id chk;
		const struct scenario *s = scn_for_mutant(kvmmu_mutant_table[i].name, &chk);

		json_object_begin(j);
		json_key(j, "name");
		json_string(j, kvmmu_mutant_table[i].name);
		json_key(j, "description");
		json_string(j, kvmmu_mutant_table[i].description);
		json_key(j, "scenario");
		json_string(j, s ? s->name : NULL);
		json_key(j, "invariant");
		json_string(j, s ? checker_table[chk].invariant : NULL);
		json_key(j, "checker");
		json_string(j, s ? checker_table[chk].name : NULL);
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "checkers");
	json_array_begin(j);
	for (i = 0; i < NR_CHECKERS; i++) {
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, checker_table[i].name);
		json_key(j, "invariant");
		json_string(j, checker_table[i].invariant);
		json_key(j, "description");
		json_string(j, checker_table[i].description);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	json_finish(j);
}

static void list_human(FILE *f)
{
	int i;

	fputs("workloads (kvmmu run):\n", f);
	for (i = 0; i < nr_workloads; i++)
		fprintf(f, "  %-26s %s\n", workload_table[i]->name, workload_table[i]->description);
	fputs("scenarios:\n", f);
	for (i = 0; i < nr_scenarios; i++)
		fprintf(f, "  %-26s %s\n", scenario_table[i]->name, scenario_table[i]->description);
	fputs("mutants (--inject):\n", f);
	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		enum checker_id chk;
		const struct scenario *s = scn_for_mutant(kvmmu_mutant_table[i].name, &chk);

		fprintf(f, "  %-30s seed %-3s  %s\n", kvmmu_mutant_table[i].name,
			kvmmu_mutant_table[i].seed, kvmmu_mutant_table[i].description);
		if (s)
			fprintf(f, "  %-30s           scenario %s, caught by %s (%s)\n", "", s->name,
				checker_table[chk].name, checker_table[chk].invariant);
	}
	fputs("checkers (--check):\n", f);
	for (i = 0; i < NR_CHECKERS; i++)
		fprintf(f, "  %-24s %-4s %s\n", checker_table[i].name, checker_table[i].invariant,
			checker_table[i].description);
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_output out;
	int c;

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
			cli_usage_error("list: unknown option '%s' (see kvmmu list --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_usage_error("list: unexpected argument '%s'", argv[optind]);

	if (out.json) {
		struct json j;

		cli_output_open(&out, &j);
		list_json(&j);
		cli_output_close(&out);
	}
	list_human(out.human);
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_list = {
	.name = "list",
	.summary = "list workloads, scenarios, mutants and checkers",
	.usage =
		"usage: kvmmu list [--json[=FILE]]\n"
		"\n"
		"List what this build registers: workloads, scenarios, mutants (with\n"
		"the seed thread each comes from) and checkers.\n"
		"\n"
		"options:\n"
		"  --json[=FILE]  write the JSON document to FILE, or to stdout\n"
		"  --quiet        accepted for symmetry; list prints no progress\n"
		"  -h, --help     show this help\n",
	.run = cmd_list,
};
