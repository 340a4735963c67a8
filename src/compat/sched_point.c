// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scheduler hook registry and the slow path of sched_point().
 */
#include "sched_point.h"
#include "thread.h"

bool __sched_hooked;
const struct sched_hooks *__sched_hooks;
__kvmmu_tls unsigned int __sched_quiet;

static const char *const sched_point_names[NR_SCHED_POINT_KINDS] = {
	[SP_LOCK_ACQUIRE] = "lock_acquire",
	[SP_LOCK_RELEASE] = "lock_release",
	[SP_SPTE_READ] = "spte_read",
	[SP_SPTE_CMPXCHG] = "spte_cmpxchg",
	[SP_SPTE_XCHG] = "spte_xchg",
	[SP_RCU_READ_LOCK] = "rcu_read_lock",
	[SP_RCU_READ_UNLOCK] = "rcu_read_unlock",
	[SP_RCU_GP_START] = "rcu_gp_start",
	[SP_RCU_GP_END] = "rcu_gp_end",
	[SP_RCU_CALLBACK] = "rcu_callback",
	[SP_SRCU_READ_LOCK] = "srcu_read_lock",
	[SP_SRCU_READ_UNLOCK] = "srcu_read_unlock",
	[SP_SRCU_GP] = "srcu_gp",
	[SP_TLB_FILL] = "tlb_fill",
	[SP_TLB_FLUSH] = "tlb_flush",
	[SP_HW_AD_UPDATE] = "hw_ad_update",
	[SP_KICK] = "kick",
	[SP_KICK_ACK] = "kick_ack",
	[SP_WAKE] = "wake",
	[SP_SPIN] = "spin",
	[SP_RESCHED] = "resched",
	[SP_THREAD_START] = "thread_start",
	[SP_THREAD_EXIT] = "thread_exit",
	[SP_SCENARIO] = "scenario",
};

const char *sched_point_name(enum sched_point_kind kind)
{
	if ((unsigned int)kind >= NR_SCHED_POINT_KINDS)
		return "?";
	return sched_point_names[kind];
}

void sched_set_hooks(const struct sched_hooks *hooks)
{
	/* Release: a thread that sees __sched_hooked sees the table (acquire below). */
	smp_store_release(&__sched_hooks, hooks);
	WRITE_ONCE(__sched_hooked, hooks && hooks->point);
}

void __sched_point(enum sched_point_kind kind, const void *obj)
{
	const struct sched_hooks *hooks = smp_load_acquire(&__sched_hooks);

	if (__sched_quiet)
		return;
	if (hooks && hooks->point)
		hooks->point(kind, obj);
}

_Atomic unsigned int __sched_resched_every;
static _Atomic unsigned int resched_epoch;

void sched_force_resched(unsigned int every)
{
	atomic_store(&__sched_resched_every, every);
	atomic_fetch_add(&resched_epoch, 1);
}

unsigned int sched_forced_resched(void)
{
	return atomic_load(&__sched_resched_every);
}

static bool forced_resched(void)
{
	unsigned int every = atomic_load_explicit(&__sched_resched_every, memory_order_relaxed);
	unsigned int epoch = atomic_load_explicit(&resched_epoch, memory_order_relaxed);
	struct kvmmu_thread *t;

	if (likely(!every))
		return false;
	t = current_thread();
	if (t->resched_epoch != epoch) {
		t->resched_epoch = epoch;
		t->resched_calls = 0;
	}
	return ++t->resched_calls % every == 0;
}

bool __need_resched(void)
{
	const struct sched_hooks *hooks = smp_load_acquire(&__sched_hooks);
	/* The scheduler is asked either way: its answers draw on the schedule's seed. */
	bool yes = hooks && hooks->need_resched && hooks->need_resched();

	return forced_resched() || yes;
}
