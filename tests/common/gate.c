// SPDX-License-Identifier: GPL-2.0-only
/*
 * A gate for race tests (see gate.h).
 */
#include <sched.h>

#include "gate.h"

static __kvmmu_tls bool gate_me;
static _Atomic int armed_kind = -1;
static _Atomic bool want_resched;
static _Atomic bool arrived;
static _Atomic bool released;
static _Atomic u64 counts[NR_SCHED_POINT_KINDS];

static void gate_point(enum sched_point_kind kind, const void *obj)
{
	if (!gate_me)
		return;
	atomic_fetch_add(&counts[kind], 1);
	if ((int)kind != atomic_load(&armed_kind))
		return;
	atomic_store(&armed_kind, -1);
	atomic_store(&want_resched, false);
	atomic_store(&arrived, true);
	while (!atomic_load(&released))
		sched_yield();
}

static bool gate_need_resched(void)
{
	return gate_me && atomic_load(&want_resched);
}

static const struct sched_hooks gate_hooks = {
	.point = gate_point,
	.need_resched = gate_need_resched,
};

void gate_install(void)
{
	int i;

	atomic_store(&armed_kind, -1);
	atomic_store(&arrived, false);
	atomic_store(&released, false);
	for (i = 0; i < NR_SCHED_POINT_KINDS; i++)
		atomic_store(&counts[i], 0);
	sched_set_hooks(&gate_hooks);
}

void gate_remove(void)
{
	sched_set_hooks(NULL);
}

void gate_mark_self(void)
{
	gate_me = true;
}

void gate_arm(enum sched_point_kind kind, bool resched)
{
	atomic_store(&arrived, false);
	atomic_store(&released, false);
	atomic_store(&want_resched, resched);
	atomic_store(&armed_kind, (int)kind);
}

void gate_wait_arrival(void)
{
	while (!atomic_load(&arrived))
		sched_yield();
}

void gate_release(void)
{
	atomic_store(&released, true);
}

u64 gate_count(enum sched_point_kind kind)
{
	return atomic_load(&counts[kind]);
}
