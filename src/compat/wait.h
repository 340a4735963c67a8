/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Blocking: wait words, wait queues and completions.
 *
 * kvmmu_block(word, val) is the only way a kvmmu thread sleeps.  It returns
 * once *word may differ from val.  Without a scheduler it is a futex wait;
 * with a controlled scheduler installed it hands control to another thread,
 * and the scheduler resumes the sleeper only once *word != val.  Every
 * blocking primitive (locks, RCU and SRCU grace periods, completions, wait
 * queues, kick acknowledgement) is built on it.
 *
 * Wakers change the state, then bump the word, then call kvmmu_wake() if a
 * waiter may be sleeping.  Waiters count themselves in before re-checking
 * the word.  Both sides use seq_cst RMWs/loads, so either the waker sees the
 * waiter count or the waiter sees the new word (a Dekker pairing).
 */
#ifndef KVMMU_COMPAT_WAIT_H
#define KVMMU_COMPAT_WAIT_H

#include <stdatomic.h>

#include "compiler.h"
#include "lockdep.h"
#include "sched_point.h"
#include "types.h"

/* Sleep until *@word may differ from @val.  Spurious returns happen. */
void kvmmu_block(_Atomic u32 *word, u32 val);
/* Wake every thread sleeping in kvmmu_block() on @word. */
void kvmmu_wake(_Atomic u32 *word);

/* ---- wait queues -------------------------------------------------------- */

struct wait_queue_head {
	_Atomic u32 seq;     /* bumped by every wake_up_all() */
	_Atomic u32 waiters; /* threads in __wait_queue_sleep() */
};

#define __WAIT_QUEUE_HEAD_INITIALIZER { 0, 0 }
#define DECLARE_WAIT_QUEUE_HEAD(n) struct wait_queue_head n = __WAIT_QUEUE_HEAD_INITIALIZER

static inline void init_waitqueue_head(struct wait_queue_head *wq)
{
	atomic_store(&wq->seq, 0);
	atomic_store(&wq->waiters, 0);
}

/* Wake all waiters.  Call after making their condition true. */
void wake_up_all(struct wait_queue_head *wq);

/* Sleep until @wq->seq moves past @seq (sampled before the condition). */
void __wait_queue_sleep(struct wait_queue_head *wq, u32 seq);

/*
 * wait_event() - sleep until @cond is true.  @cond is evaluated after each
 * wake_up_all() on @wq; the waker must make it true before waking.
 */
#define wait_event(wq, cond)                                                  \
	do {                                                                  \
		might_sleep();                                                \
		for (;;) {                                                    \
			u32 __seq = atomic_load(&(wq)->seq);                  \
			if (cond)                                             \
				break;                                        \
			__wait_queue_sleep((wq), __seq);                      \
		}                                                             \
	} while (0)

/* ---- completions -------------------------------------------------------- */

#define COMPLETION_ALL 0xffffffffu

struct completion {
	_Atomic u32 done; /* COMPLETION_ALL after complete_all() */
	_Atomic u32 waiters;
};

#define COMPLETION_INITIALIZER { 0, 0 }
#define DECLARE_COMPLETION(n) struct completion n = COMPLETION_INITIALIZER

static inline void init_completion(struct completion *x)
{
	atomic_store(&x->done, 0);
	atomic_store(&x->waiters, 0);
}

static inline void reinit_completion(struct completion *x)
{
	atomic_store(&x->done, 0);
}

/* Wake one waiter (or let the next wait_for_completion() pass). */
void complete(struct completion *x);
/* Wake all current and future waiters until reinit_completion(). */
void complete_all(struct completion *x);
void wait_for_completion(struct completion *x);
/* Consume a completion without sleeping; true if one was available. */
bool try_wait_for_completion(struct completion *x);
bool completion_done(struct completion *x);

#endif /* KVMMU_COMPAT_WAIT_H */
