/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * RCU with kernel names, behind one interface with two backends.
 *
 *  - RCU_BACKEND_URCU: liburcu's urcu-memb flavour for readers and grace
 *    periods.  Fast; used when threads run freely.
 *  - RCU_BACKEND_OWN: kvmmu's own grace-period engine.  Readers publish the
 *    grace-period counter they started under in a per-thread slot, and a
 *    grace period waits, through kvmmu_block(), for every slot that predates
 *    it.  Grace periods and callbacks are therefore scheduler steps, which
 *    the deterministic scheduler needs, and every happens-before edge is an
 *    acquire/release pair that ThreadSanitizer sees; it is the default in
 *    TSan builds.  (liburcu is not TSan-instrumented; when it is selected
 *    under TSan, read_unlock and the end of a grace period are annotated.)
 *
 * In both backends call_rcu() callbacks run on one kvmmu daemon thread,
 * started on first use, in FIFO order after a full grace period.
 * rcu_barrier() waits for every callback queued before it.
 *
 * The backend is chosen at start-up (KVMMU_RCU=urcu|own in the environment
 * overrides the build default) and may be changed with rcu_set_backend()
 * only while no thread is inside a read-side section and no callback is
 * pending.
 */
#ifndef KVMMU_COMPAT_RCU_H
#define KVMMU_COMPAT_RCU_H

#include "atomic.h"
#include "compiler.h"
#include "sched_point.h"
#include "thread.h"

enum rcu_backend {
	RCU_BACKEND_URCU,
	RCU_BACKEND_OWN,
};

struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};

typedef void (*rcu_callback_t)(struct rcu_head *head);

enum rcu_backend rcu_get_backend(void);
const char *rcu_backend_name(enum rcu_backend backend);
/* Returns -EBUSY if a reader or a pending callback exists. */
int rcu_set_backend(enum rcu_backend backend);

void __rcu_read_lock_outer(struct kvmmu_thread *t);
/* Release a thread's backend state when it ends (thread.c). */
void __rcu_thread_exit(struct kvmmu_thread *t);
void __rcu_read_unlock_outer(struct kvmmu_thread *t);

static inline void rcu_read_lock(void)
{
	struct kvmmu_thread *t = current_thread();

	sched_point(SP_RCU_READ_LOCK, NULL);
	if (t->rcu_nesting++ == 0)
		__rcu_read_lock_outer(t);
}

static inline void rcu_read_unlock(void)
{
	struct kvmmu_thread *t = current_thread();

	if (--t->rcu_nesting == 0)
		__rcu_read_unlock_outer(t);
	sched_point(SP_RCU_READ_UNLOCK, NULL);
}

/* Is the calling thread inside an RCU read-side section? */
static inline bool rcu_read_lock_held(void)
{
	return current_thread()->rcu_nesting > 0;
}

/* Wait for every read-side section that began before the call to end. */
void synchronize_rcu(void);

/* Run @func(@head) after a grace period, on the RCU callback thread. */
void call_rcu(struct rcu_head *head, rcu_callback_t func);

/* Wait until every callback queued before the call has run. */
void rcu_barrier(void);

/*
 * Run pending callbacks and stop the callback thread.  Needed before a
 * controlled scheduler takes over, and at exit.  The next call_rcu()
 * starts a new thread.
 */
void rcu_shutdown(void);

/* Pointer publication and lookup.  Acquire covers dependency ordering. */
#define rcu_dereference(p) smp_load_acquire(&(p))
#define rcu_dereference_check(p, c) rcu_dereference(p)
#define rcu_dereference_protected(p, c) READ_ONCE(p)
#define rcu_assign_pointer(p, v) smp_store_release(&(p), (v))
#define RCU_INIT_POINTER(p, v) WRITE_ONCE(p, v)

#endif /* KVMMU_COMPAT_RCU_H */
