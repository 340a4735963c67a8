/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scheduling points: the seam a deterministic scheduler plugs into.
 *
 * kvmmu marks every place where the interleaving of threads matters with
 * sched_point(kind, obj): lock acquire and release, shared SPTE reads and
 * RMWs of present entries, RCU boundaries and grace periods, TLB fills and
 * flushes, hardware A/D updates, kicks and their acknowledgement.  With no
 * hooks installed a point costs one predictable branch.
 *
 * Everything that blocks (locks, grace periods, completions, kick acks) goes
 * through kvmmu_block() (wait.h), which a scheduler can intercept to hand
 * control to another thread instead of sleeping the OS thread.  A controlled
 * scheduler can therefore run one thread at a time without deadlocking.
 */
#ifndef KVMMU_COMPAT_SCHED_POINT_H
#define KVMMU_COMPAT_SCHED_POINT_H

#include <stdatomic.h>

#include "atomic.h"
#include "compiler.h"
#include "types.h"

struct kvmmu_thread;

enum sched_point_kind {
	SP_LOCK_ACQUIRE,     /* about to take a lock; obj = the lock */
	SP_LOCK_RELEASE,     /* a lock was just released; obj = the lock */
	SP_SPTE_READ,        /* read of a present shared SPTE; obj = sptep */
	SP_SPTE_CMPXCHG,     /* cmpxchg on a shared SPTE; obj = sptep */
	SP_SPTE_XCHG,        /* xchg or store of a shared SPTE; obj = sptep */
	SP_RCU_READ_LOCK,    /* about to enter an RCU read-side section */
	SP_RCU_READ_UNLOCK,  /* just left an RCU read-side section */
	SP_RCU_GP_START,     /* a grace period begins */
	SP_RCU_GP_END,       /* a grace period ended */
	SP_RCU_CALLBACK,     /* an RCU callback is about to run; obj = head */
	SP_SRCU_READ_LOCK,   /* obj = the srcu_struct */
	SP_SRCU_READ_UNLOCK, /* obj = the srcu_struct */
	SP_SRCU_GP,          /* synchronize_srcu() began; obj = srcu_struct */
	SP_TLB_FILL,         /* the hardware fills a TLB entry; obj = vcpu */
	SP_TLB_FLUSH,        /* a vCPU flushes its TLB; obj = vcpu */
	SP_HW_AD_UPDATE,     /* the walker sets A/D bits; obj = the entry */
	SP_KICK,             /* a vCPU is kicked; obj = vcpu */
	SP_KICK_ACK,         /* a kicked vCPU acknowledges; obj = vcpu */
	SP_WAKE,             /* a wait word changed; obj = the word */
	SP_SPIN,             /* one busy-wait iteration: only others can help */
	SP_RESCHED,          /* cond_resched() */
	SP_THREAD_START,     /* a thread begins its body */
	SP_THREAD_EXIT,      /* a thread ended its body */
	SP_SCENARIO,         /* placed explicitly by a scenario or test */
	NR_SCHED_POINT_KINDS
};

/**
 * struct sched_hooks - what a scheduler provides
 * @point:           called at every sched point of every thread.
 * @block:           replaces the futex sleep of kvmmu_block(): return once
 *                   *@word may differ from @val (spurious returns are fine).
 *                   NULL means sleep on the futex.
 * @thread_register: a thread is being created; called in the creator before
 *                   the OS thread exists, so a scheduler can adopt it
 *                   without racing it.
 * @thread_start:    called in the new thread before its body runs.
 * @thread_exit:     called in the thread after its body returned and its
 *                   exited word was set; it must not block.
 * @need_resched:    answers need_resched(); NULL means "no".
 *
 * Every member may be NULL.  Hooks are installed and removed while no other
 * kvmmu thread is running.
 */
struct sched_hooks {
	void (*point)(enum sched_point_kind kind, const void *obj);
	void (*block)(_Atomic u32 *word, u32 val);
	void (*thread_register)(struct kvmmu_thread *t);
	void (*thread_start)(struct kvmmu_thread *t);
	void (*thread_exit)(struct kvmmu_thread *t);
	bool (*need_resched)(void);
};

extern bool __sched_hooked;
extern const struct sched_hooks *__sched_hooks;

/* Install @hooks (NULL removes them).  Call only while quiescent. */
void sched_set_hooks(const struct sched_hooks *hooks);

const char *sched_point_name(enum sched_point_kind kind);

void __sched_point(enum sched_point_kind kind, const void *obj);

static __always_inline void sched_point(enum sched_point_kind kind,
					const void *obj)
{
	if (unlikely(READ_ONCE(__sched_hooked)))
		__sched_point(kind, obj);
}

/*
 * Sections without sched points: code that only observes (checkers, the
 * event hash) must not hand control to another thread in the middle of a
 * look, nor add decisions to a controlled schedule.  Nests.
 */
extern __kvmmu_tls unsigned int __sched_quiet;

static inline void sched_quiet_begin(void)
{
	__sched_quiet++;
}

static inline void sched_quiet_end(void)
{
	__sched_quiet--;
}

extern _Atomic unsigned int __sched_resched_every;

/*
 * need_resched() cannot say yes: no scheduler is hooked in and forced
 * yields are off (threads run freely).  A walk may then batch work that it
 * would otherwise offer to yield between steps.
 */
static __always_inline bool sched_resched_off(void)
{
	return likely(!READ_ONCE(__sched_hooks)) &&
	       likely(!atomic_load_explicit(&__sched_resched_every, memory_order_relaxed));
}

bool __need_resched(void);

/*
 * Hint that a long-running loop should yield: the scheduler's answer, or
 * yes at every Nth call in each thread while sched_force_resched(N) is on.
 */
static __always_inline bool need_resched(void)
{
	if (sched_resched_off())
		return false;
	return __need_resched();
}

/*
 * Forced yields: from now on need_resched() answers yes at every @every-th
 * call of each thread (1: every call), so the restart path of every walk
 * that yields mmu_lock runs; 0 turns it off.  Each thread counts from 0
 * again after every call of this, so a run counts the same in its replay.
 */
void sched_force_resched(unsigned int every);
unsigned int sched_forced_resched(void);

/* A voluntary preemption point for long loops. */
static inline void cond_resched(void)
{
	sched_point(SP_RESCHED, NULL);
}

/*
 * One iteration of a busy-wait.  Busy-waits are rare in kvmmu (blocking goes
 * through kvmmu_block()); a controlled scheduler must switch threads here.
 */
static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
	sched_point(SP_SPIN, NULL);
}

#endif /* KVMMU_COMPAT_SCHED_POINT_H */
