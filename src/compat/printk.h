/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-style logging: pr_err(), pr_warn(), pr_info(), pr_debug().
 *
 * Messages go to stderr, prefixed with the calling kvmmu thread's name.
 * pr_debug() prints only when the log level is raised (KVMMU_DEBUG=1 in the
 * environment, or kvmmu_set_loglevel()).
 */
#ifndef KVMMU_COMPAT_PRINTK_H
#define KVMMU_COMPAT_PRINTK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "compiler.h"

enum kvmmu_loglevel {
	LOGLEVEL_ERR = 3,
	LOGLEVEL_WARNING = 4,
	LOGLEVEL_INFO = 6,
	LOGLEVEL_DEBUG = 7,
};

void kvmmu_printk(enum kvmmu_loglevel level, const char *fmt, ...) __printf(2, 3);
void kvmmu_set_loglevel(enum kvmmu_loglevel level);
enum kvmmu_loglevel kvmmu_get_loglevel(void);

#define pr_err(fmt, ...) kvmmu_printk(LOGLEVEL_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) kvmmu_printk(LOGLEVEL_WARNING, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) kvmmu_printk(LOGLEVEL_INFO, fmt, ##__VA_ARGS__)
/* Print once per call site. */
#define pr_warn_once(fmt, ...)                                                \
	do {                                                                  \
		static _Atomic bool __printed;                                \
		if (!atomic_exchange(&__printed, true))                       \
			pr_warn(fmt, ##__VA_ARGS__);                          \
	} while (0)
#define pr_debug(fmt, ...)                                                    \
	do {                                                                  \
		if (unlikely(kvmmu_get_loglevel() >= LOGLEVEL_DEBUG))         \
			kvmmu_printk(LOGLEVEL_DEBUG, fmt, ##__VA_ARGS__);     \
	} while (0)

#endif /* KVMMU_COMPAT_PRINTK_H */
