// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: sequences of KVM API calls, vCPU accesses and host
 * events on small worlds with every checker on (api_seq.c).  A finding
 * aborts.  KVMMU_FUZZ_INJECT=name[,name...] switches mutants on, as
 * --inject does, to show the fuzzer finds what they break.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_seq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *inject = getenv("KVMMU_FUZZ_INJECT");

	if (inject && api_seq_set_inject(inject)) {
		fprintf(stderr, "fuzz_api_seq: KVMMU_FUZZ_INJECT: unknown mutant in '%s'\n",
			inject);
		exit(2);
	}
	if (getenv("KVMMU_FUZZ_VERBOSE"))
		api_seq_set_verbose(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return api_seq_run(data, size);
}
