// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the --inject list parser.  Any input must be parsed
 * without crashing; an accepted list must name only known mutants and must
 * round-trip through its canonical spelling.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[512], canon[1024] = "", bad[64];
	u64 mask, again;
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	int i;

	memcpy(in, data, n);
	in[n] = '\0';
	if (kvmmu_mutant_parse(in, &mask, bad, sizeof(bad)))
		return 0;
	if (mask >> NR_KVMMU_MUTANTS)
		abort();
	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		if (!(mask & BIT_ULL(i)))
			continue;
		if (*canon)
			strcat(canon, ",");
		strcat(canon, kvmmu_mutant_table[i].name);
	}
	if (kvmmu_mutant_parse(canon, &again, NULL, 0) || again != mask)
		abort();
	return 0;
}
