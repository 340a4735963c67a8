// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the process knows about itself (see procinfo.h).
 */
#include <stdio.h>
#include <string.h>

#include "procinfo.h"

long kvmmu_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6))
			sscanf(line + 6, "%ld", &kib);
	}
	fclose(f);
	return kib;
}
