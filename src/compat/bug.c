// SPDX-License-Identifier: GPL-2.0-only
/*
 * WARN and BUG reporting.  Warnings are counted and posted to observers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "atomic.h"
#include "bug.h"
#include "observe.h"
#include "printk.h"

static _Atomic unsigned long warn_count;

unsigned long kvmmu_warn_count(void)
{
	return atomic_load(&warn_count);
}

void __kvmmu_warn(const char *file, int line, const char *cond, bool print,
		  const char *fmt, ...)
{
	atomic_fetch_add(&warn_count, 1);
	if (print) {
		char msg[512] = "";

		if (fmt) {
			va_list ap;

			va_start(ap, fmt);
			vsnprintf(msg, sizeof(msg), fmt, ap);
			va_end(ap);
		}
		pr_warn("WARNING: %s:%d: %s\n", file, line, *msg ? msg : cond);
	}
	kvmmu_observe(KVMMU_EV_WARN, warn, .file = file, .line = line,
		      .cond = cond);
}

void __kvmmu_bug(const char *file, int line, const char *cond)
{
	pr_err("BUG: %s:%d: %s\n", file, line, cond);
	abort();
}
