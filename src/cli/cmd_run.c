// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu run: selftest-style workloads.  None exist yet; the command says so
 * rather than pretend.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_run(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			cli_usage_error("run: unknown option '%s' (see kvmmu run --help)",
					argv[i]);
		cli_usage_error("run: unknown workload '%s': no workloads exist yet (see kvmmu list)",
				argv[i]);
	}
	fputs("kvmmu run: no workloads exist yet, so there is nothing to run.\n"
	      "\n"
	      "This build has:\n"
	      "  - compat: kernel-like atomics, bitops, lists, spinlock/rwlock/mutex/rwsem\n"
	      "    with lockdep assertions, wait queues and completions, RCU (liburcu or\n"
	      "    kvmmu's own grace-period engine) and SRCU, counted WARNs, mutant switches\n"
	      "    and observer hooks;\n"
	      "  - sched: the controlled executor, which runs threads one at a time and\n"
	      "    switches only at sched points, from a seed;\n"
	      "  - host: the modelled host kernel: page frames (data or tag mode),\n"
	      "    VMAs, host page tables, mmu_notifiers, files and swap, migration,\n"
	      "    reclaim, THP, and the pfn lookup KVM uses;\n"
	      "  - kvm: the VM core: memslots, vCPUs and the run loop, requests and\n"
	      "    remote TLB flushes, the invalidation protocol, dirty logging;\n"
	      "  - mmu: the TDP MMU: SPTE formats (EPT, NPT), roots, faults, zaps, fast\n"
	      "    zap, huge pages, dirty-log protection, fast page fault, aging, NX\n"
	      "    huge pages, pre-fault;\n"
	      "  - hw: the simulated CPU: guest programs, a page walker, a TLB with\n"
	      "    paging-structure caches, exits.\n"
	      "\n"
	      "Not built yet: the checkers, the scenarios, the workloads and the shadow\n"
	      "MMU.\n"
	      "'kvmmu list' shows what is registered; 'make test' runs the tests.\n",
	      stdout);
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_run = {
	.name = "run",
	.summary = "run a workload (none exist yet)",
	.usage =
		"usage: kvmmu run [WORKLOAD]\n"
		"\n"
		"Run a selftest-style workload.  No workloads exist yet: without a\n"
		"WORKLOAD the command describes what this build contains; with one it\n"
		"is a usage error.\n"
		"\n"
		"options:\n"
		"  -h, --help   show this help\n",
	.run = cmd_run,
};
