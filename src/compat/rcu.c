// SPDX-License-Identifier: GPL-2.0-only
/*
 * RCU: backend selection, the own grace-period engine, and call_rcu().
 *
 * Own engine.  A global grace-period counter gp_seq starts at 1.  A reader
 * entering its outermost section publishes the current gp_seq in its slot;
 * leaving, it stores 0.  synchronize_rcu() increments gp_seq to G and waits
 * until every slot holds 0 or a value >= G: a slot below G belongs to a
 * section that began before the grace period and may hold references to
 * what the updater removed.  A section that begins after the increment
 * publishes a value >= G; one that published a value < G after the updater
 * scanned its slot is impossible, because the publication is a seq_cst RMW
 * and the scan a seq_cst load (store-buffering is forbidden between them).
 *
 * Callbacks.  call_rcu() appends to one FIFO list; a daemon kvmmu thread
 * takes the whole list, waits for one grace period and runs it.  Counters of
 * queued and completed callbacks back rcu_barrier().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "lockdep.h"
#include "rcu.h"
#include "rcu_urcu.h"
#include "sched_point.h"
#include "thread.h"
#include "wait.h"

#if KVMMU_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* liburcu is not instrumented: tell TSan what its grace periods order. */
static char urcu_tsan_sync;
#define urcu_tsan_release() __tsan_release(&urcu_tsan_sync)
#define urcu_tsan_acquire() __tsan_acquire(&urcu_tsan_sync)
#else
#define urcu_tsan_release() do { } while (0)
#define urcu_tsan_acquire() do { } while (0)
#endif

/*
 * Read by every read-side section: a cache line of its own, away from the
 * grace-period and callback state that writers keep changing.
 */
static struct {
	_Atomic int b;
} ____cacheline_aligned rcu_backend = { -1 };

/* ---- own engine --------------------------------------------------------- */

#define RCU_MAX_READERS 1024

struct rcu_reader_slot {
	_Atomic u64 ctr; /* 0: outside; else gp_seq at section entry */
	bool used;       /* under slot_lock */
} ____cacheline_aligned;

static struct rcu_reader_slot own_slots[RCU_MAX_READERS];
static _Atomic int own_nr_slots;
static _Atomic u64 own_gp_seq = 1;
static _Atomic u32 own_gp_wake;    /* bumped when a section ends */
static _Atomic u32 own_gp_waiters; /* grace periods sleeping on it */
/* Raw mutex: slot bookkeeping only, never held across a sched point. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

static int own_slot_alloc(void)
{
	int i, n;

	pthread_mutex_lock(&slot_lock);
	n = atomic_load(&own_nr_slots);
	for (i = 0; i < n && own_slots[i].used; i++)
		;
	BUG_ON(i == RCU_MAX_READERS);
	own_slots[i].used = true;
	/* seq_cst: see the header comment on slots added during a scan. */
	if (i == n)
		atomic_store(&own_nr_slots, n + 1);
	pthread_mutex_unlock(&slot_lock);
	return i;
}

static void own_slot_free(int i)
{
	WARN_ON(atomic_load(&own_slots[i].ctr));
	pthread_mutex_lock(&slot_lock);
	own_slots[i].used = false;
	pthread_mutex_unlock(&slot_lock);
}

static void own_read_lock(struct kvmmu_thread *t)
{
	if (t->rcu_slot < 0)
		t->rcu_slot = own_slot_alloc();
	/*
	 * seq_cst exchange: publishes the section before any load inside it;
	 * pairs with the seq_cst increment and slot load in own_synchronize().
	 */
	atomic_exchange(&own_slots[t->rcu_slot].ctr, atomic_load(&own_gp_seq));
}

static void own_read_unlock(struct kvmmu_thread *t)
{
	/*
	 * seq_cst store: releases the section to the grace period's load of
	 * the slot, and orders before the load of own_gp_waiters (Dekker with
	 * own_wait_slot()).
	 */
	atomic_store(&own_slots[t->rcu_slot].ctr, 0);
	if (atomic_load(&own_gp_waiters)) {
		atomic_fetch_add(&own_gp_wake, 1);
		kvmmu_wake(&own_gp_wake);
	}
}

static bool slot_predates(int i, u64 gp)
{
	u64 c = atomic_load(&own_slots[i].ctr);

	return c != 0 && c < gp;
}

static void own_wait_slot(int i, u64 gp)
{
	while (slot_predates(i, gp)) {
		u32 wake = atomic_load(&own_gp_wake);

		atomic_fetch_add(&own_gp_waiters, 1);
		if (slot_predates(i, gp))
			kvmmu_block(&own_gp_wake, wake);
		atomic_fetch_sub(&own_gp_waiters, 1);
	}
}

static void own_synchronize(void)
{
	u64 gp = atomic_fetch_add(&own_gp_seq, 1) + 1;
	int i, n = atomic_load(&own_nr_slots);

	for (i = 0; i < n; i++)
		own_wait_slot(i, gp);
}

/* ---- backend selection -------------------------------------------------- */

static enum rcu_backend backend_default(void)
{
	const char *env = getenv("KVMMU_RCU");

	if (env && !strcmp(env, "own"))
		return RCU_BACKEND_OWN;
	if (env && !strcmp(env, "urcu"))
		return RCU_BACKEND_URCU;
	return KVMMU_TSAN ? RCU_BACKEND_OWN : RCU_BACKEND_URCU;
}

enum rcu_backend rcu_get_backend(void)
{
	int b = atomic_load_explicit(&rcu_backend.b, memory_order_relaxed);

	if (unlikely(b < 0)) {
		int expected = -1;

		atomic_compare_exchange_strong(&rcu_backend.b, &expected,
					       (int)backend_default());
		b = atomic_load(&rcu_backend.b);
	}
	return (enum rcu_backend)b;
}

const char *rcu_backend_name(enum rcu_backend backend)
{
	return backend == RCU_BACKEND_OWN ? "own" : "urcu";
}

void __rcu_read_lock_outer(struct kvmmu_thread *t)
{
	enum rcu_backend b = rcu_get_backend();

	t->rcu_section_backend = (int)b;
	if (b == RCU_BACKEND_OWN) {
		own_read_lock(t);
		return;
	}
	if (!t->urcu_registered) {
		kvmmu_urcu_register_thread();
		t->urcu_registered = true;
	}
	kvmmu_urcu_read_lock();
}

void __rcu_read_unlock_outer(struct kvmmu_thread *t)
{
	if (t->rcu_section_backend == RCU_BACKEND_OWN) {
		own_read_unlock(t);
		return;
	}
	urcu_tsan_release();
	kvmmu_urcu_read_unlock();
}

void __rcu_thread_exit(struct kvmmu_thread *t)
{
	if (t->urcu_registered) {
		kvmmu_urcu_unregister_thread();
		t->urcu_registered = false;
	}
	if (t->rcu_slot >= 0) {
		own_slot_free(t->rcu_slot);
		t->rcu_slot = -1;
	}
}

void synchronize_rcu(void)
{
	might_sleep();
	sched_point(SP_RCU_GP_START, NULL);
	if (rcu_get_backend() == RCU_BACKEND_OWN) {
		own_synchronize();
	} else {
		kvmmu_urcu_synchronize();
		urcu_tsan_acquire();
	}
	sched_point(SP_RCU_GP_END, NULL);
}

/* ---- callbacks ---------------------------------------------------------- */

/* Raw mutex: list bookkeeping only, never held across a sched point. */
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_head *cb_head;
static struct rcu_head **cb_tail = &cb_head;
static struct kvmmu_thread *cb_thread;
static _Atomic bool cb_stop;
static _Atomic u64 cb_queued; /* callbacks ever queued */
static _Atomic u64 cb_done;   /* callbacks ever completed */
static DECLARE_WAIT_QUEUE_HEAD(cb_work_wq);
static DECLARE_WAIT_QUEUE_HEAD(cb_done_wq);

static int rcu_callback_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct rcu_head *list, *next;
		u64 taken;

		wait_event(&cb_work_wq, atomic_load(&cb_queued) !=
						atomic_load(&cb_done) ||
					atomic_load(&cb_stop));
		pthread_mutex_lock(&cb_lock);
		list = cb_head;
		cb_head = NULL;
		cb_tail = &cb_head;
		taken = atomic_load(&cb_queued);
		pthread_mutex_unlock(&cb_lock);
		if (!list) {
			if (atomic_load(&cb_stop))
				return 0;
			continue;
		}

		synchronize_rcu();
		for (; list; list = next) {
			next = list->next;
			sched_point(SP_RCU_CALLBACK, list);
			list->func(list);
		}
		atomic_store(&cb_done, taken);
		wake_up_all(&cb_done_wq);
	}
}

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	head->func = func;
	head->next = NULL;
	pthread_mutex_lock(&cb_lock);
	*cb_tail = head;
	cb_tail = &head->next;
	atomic_fetch_add(&cb_queued, 1);
	if (!cb_thread)
		BUG_ON(kvmmu_thread_create(&cb_thread, "rcu-callbacks",
					   KVMMU_THREAD_DAEMON,
					   rcu_callback_thread, NULL));
	pthread_mutex_unlock(&cb_lock);
	wake_up_all(&cb_work_wq);
}

void rcu_barrier(void)
{
	u64 target = atomic_load(&cb_queued);

	might_sleep();
	wait_event(&cb_done_wq, atomic_load(&cb_done) >= target);
}

void rcu_shutdown(void)
{
	struct kvmmu_thread *t;

	rcu_barrier();
	pthread_mutex_lock(&cb_lock);
	t = cb_thread;
	cb_thread = NULL;
	pthread_mutex_unlock(&cb_lock);
	if (!t)
		return;
	atomic_store(&cb_stop, true);
	wake_up_all(&cb_work_wq);
	kvmmu_thread_join(t);
	atomic_store(&cb_stop, false);
}

int rcu_set_backend(enum rcu_backend backend)
{
	int i, n = atomic_load(&own_nr_slots);

	if (current_thread()->rcu_nesting ||
	    atomic_load(&cb_queued) != atomic_load(&cb_done))
		return -EBUSY;
	for (i = 0; i < n; i++) {
		if (atomic_load(&own_slots[i].ctr))
			return -EBUSY;
	}
	atomic_store(&rcu_backend.b, (int)backend);
	return 0;
}
