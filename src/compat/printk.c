// SPDX-License-Identifier: GPL-2.0-only
/*
 * Logging to stderr, one write per message so that threads do not
 * interleave within a line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "printk.h"
#include "thread.h"

static _Atomic int loglevel = -1;

static int loglevel_init(void)
{
	const char *env = getenv("KVMMU_DEBUG");
	int level = (env && *env && strcmp(env, "0")) ? LOGLEVEL_DEBUG :
							 LOGLEVEL_INFO;
	int expected = -1;

	atomic_compare_exchange_strong(&loglevel, &expected, level);
	return atomic_load(&loglevel);
}

enum kvmmu_loglevel kvmmu_get_loglevel(void)
{
	int level = atomic_load_explicit(&loglevel, memory_order_relaxed);

	return level < 0 ? (enum kvmmu_loglevel)loglevel_init() :
			   (enum kvmmu_loglevel)level;
}

void kvmmu_set_loglevel(enum kvmmu_loglevel level)
{
	atomic_store(&loglevel, (int)level);
}

void kvmmu_printk(enum kvmmu_loglevel level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if ((int)level > (int)kvmmu_get_loglevel())
		return;
	n = snprintf(buf, sizeof(buf), "kvmmu[%s]: ", kvmmu_thread_name());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && n < (int)sizeof(buf) - 1) {
		buf[n++] = '\n';
		buf[n] = '\0';
	}
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}
