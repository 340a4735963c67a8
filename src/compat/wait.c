// SPDX-License-Identifier: GPL-2.0-only
/*
 * Futexes, kvmmu_block()/kvmmu_wake(), wait queues and completions.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex.h"
#include "sched_point.h"
#include "wait.h"

void futex_wait(_Atomic u32 *word, u32 val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void futex_wake_all(_Atomic u32 *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void kvmmu_block(_Atomic u32 *word, u32 val)
{
	const struct sched_hooks *hooks = smp_load_acquire(&__sched_hooks);

	if (hooks && hooks->block)
		hooks->block(word, val);
	else
		futex_wait(word, val);
}

void kvmmu_wake(_Atomic u32 *word)
{
	/*
	 * Always wake the futex: threads outside a controlled scheduler's
	 * reach (main, say) may sleep on it even while one is installed.
	 */
	futex_wake_all(word);
	sched_point(SP_WAKE, word);
}

void wake_up_all(struct wait_queue_head *wq)
{
	/* seq_cst RMW then load: Dekker with __wait_queue_sleep(). */
	atomic_fetch_add(&wq->seq, 1);
	if (atomic_load(&wq->waiters))
		kvmmu_wake(&wq->seq);
}

void __wait_queue_sleep(struct wait_queue_head *wq, u32 seq)
{
	atomic_fetch_add(&wq->waiters, 1);
	if (atomic_load(&wq->seq) == seq)
		kvmmu_block(&wq->seq, seq);
	atomic_fetch_sub(&wq->waiters, 1);
}

static void completion_wake(struct completion *x)
{
	/* After a seq_cst change of @done: Dekker with wait_for_completion(). */
	if (atomic_load(&x->waiters))
		kvmmu_wake(&x->done);
}

void complete(struct completion *x)
{
	u32 done = atomic_load(&x->done);

	do {
		if (done == COMPLETION_ALL)
			return;
	} while (!atomic_compare_exchange_weak(&x->done, &done, done + 1));
	completion_wake(x);
}

void complete_all(struct completion *x)
{
	atomic_store(&x->done, COMPLETION_ALL);
	completion_wake(x);
}

bool try_wait_for_completion(struct completion *x)
{
	u32 done = atomic_load(&x->done);

	for (;;) {
		if (done == 0)
			return false;
		if (done == COMPLETION_ALL)
			return true;
		if (atomic_compare_exchange_weak(&x->done, &done, done - 1))
			return true;
	}
}

void wait_for_completion(struct completion *x)
{
	might_sleep();
	while (!try_wait_for_completion(x)) {
		atomic_fetch_add(&x->waiters, 1);
		if (atomic_load(&x->done) == 0)
			kvmmu_block(&x->done, 0);
		atomic_fetch_sub(&x->waiters, 1);
	}
}

bool completion_done(struct completion *x)
{
	return atomic_load(&x->done) != 0;
}
