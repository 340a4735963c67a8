/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the process knows about itself, for memory budgets.
 */
#ifndef KVMMU_COMPAT_PROCINFO_H
#define KVMMU_COMPAT_PROCINFO_H

/* Peak resident set size (VmHWM) in KiB, or -1 if it cannot be read. */
long kvmmu_peak_rss_kib(void);

#endif /* KVMMU_COMPAT_PROCINFO_H */
