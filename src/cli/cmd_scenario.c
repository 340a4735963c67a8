// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu scenario / replay: race scenarios under the controlled executor.
 * No scenarios exist yet; both commands say so.
 */
#include "cli.h"

static int cmd_scenario(int argc, char **argv)
{
	cli_usage_error("scenario: no scenarios exist yet (see kvmmu list)");
}

static int cmd_replay(int argc, char **argv)
{
	cli_usage_error("replay: no scenarios exist yet, so no token can be replayed");
}

const struct cli_command cli_cmd_scenario = {
	.name = "scenario",
	.summary = "run a race scenario under the deterministic scheduler (none exist yet)",
	.usage =
		"usage: kvmmu scenario NAME\n"
		"\n"
		"Run a race scenario under the deterministic scheduler.  No scenarios\n"
		"exist yet; every invocation is a usage error.\n"
		"\n"
		"options:\n"
		"  -h, --help   show this help\n",
	.run = cmd_scenario,
};

const struct cli_command cli_cmd_replay = {
	.name = "replay",
	.summary = "replay a schedule from its token (none exist yet)",
	.usage =
		"usage: kvmmu replay TOKEN\n"
		"\n"
		"Re-run the schedule a scenario reported.  No scenarios exist yet; every\n"
		"invocation is a usage error.\n"
		"\n"
		"options:\n"
		"  -h, --help   show this help\n",
	.run = cmd_replay,
};
