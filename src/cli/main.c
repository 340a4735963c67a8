// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu: the command line.  Subcommands live in cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command *const commands[] = {
	&cli_cmd_run, &cli_cmd_scenario, &cli_cmd_replay, &cli_cmd_merge,
	&cli_cmd_list, &cli_cmd_bench, &cli_cmd_access, &cli_cmd_diff,
};

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: kvmmu <command> [options]\n"
	      "\n"
	      "kvmmu runs the algorithms of Linux KVM's x86 MMU in userspace, against a\n"
	      "modelled host kernel and simulated hardware, with invariant checkers and a\n"
	      "deterministic scheduler.\n"
	      "\n"
	      "commands:\n", f);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("  help       show the help of a command: kvmmu help COMMAND\n"
	      "  version    print the version\n"
	      "\n"
	      "Every command takes --help.  Exit status: 0 ran and found nothing, 1 a\n"
	      "violation or warning was found, 2 usage or input error, 3 internal error,\n"
	      "128 + the signal's number for a run that SIGINT or SIGTERM stopped early\n"
	      "(its results still written) with nothing found; diff also exits 77 when\n"
	      "there is no usable /dev/kvm, or all it had to run was skipped.\n",
	      f);
}

static const struct cli_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	}
	return NULL;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		cmd = find_command(argv[2]);
		if (!cmd)
			cli_usage_error("help: unknown command '%s'", argv[2]);
		fputs(cmd->usage, stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("kvmmu %s\n", KVMMU_VERSION);
		return CLI_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		cli_usage_error("unknown command '%s' (see kvmmu --help)", argv[1]);
	if (wants_help(argc - 1, argv + 1)) {
		fputs(cmd->usage, stdout);
		return CLI_EXIT_OK;
	}
	return cmd->run(argc - 1, argv + 1);
}
