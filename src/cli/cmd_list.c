// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu list: workloads, scenarios, mutants and checkers.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "mutant.h"

static void list_json(struct json *j)
{
	int i;

	json_object_begin(j);
	json_key(j, "workloads");
	json_array_begin(j);
	json_array_end(j);
	json_key(j, "scenarios");
	json_array_begin(j);
	json_array_end(j);
	json_key(j, "mutants");
	json_array_begin(j);
	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, kvmmu_mutant_table[i].name);
		json_key(j, "description");
		json_string(j, kvmmu_mutant_table[i].description);
		/* No scenario or checker exists yet to bind the mutant to. */
		json_key(j, "scenario");
		json_null(j);
		json_key(j, "invariant");
		json_null(j);
		json_key(j, "checker");
		json_null(j);
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "checkers");
	json_array_begin(j);
	json_array_end(j);
	json_object_end(j);
	json_finish(j);
}

static void list_human(FILE *f)
{
	int i;

	fputs("workloads:\n  (none yet)\n"
	      "scenarios:\n  (none yet)\n"
	      "mutants (switches exist; no scenario or checker is bound yet):\n", f);
	for (i = 0; i < NR_KVMMU_MUTANTS; i++)
		fprintf(f, "  %-30s seed %-3s  %s\n", kvmmu_mutant_table[i].name,
			kvmmu_mutant_table[i].seed,
			kvmmu_mutant_table[i].description);
	fputs("checkers:\n  (none yet)\n", f);
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
