// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu threads: creation, adoption of foreign threads, join.
 *
 * Start-up handshake: the creator starts the OS thread, which sleeps on
 * t->started until the creator has told the scheduler hooks about it
 * (thread_register), so a scheduler never races a half-born thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bug.h"
#include "futex.h"
#include "lockdep.h"
#include "rcu.h"
#include "sched_point.h"
#include "thread.h"
#include "wait.h"

__kvmmu_tls struct kvmmu_thread *__kvmmu_current;

static _Atomic int next_thread_id;
static pthread_key_t adopted_key;
static pthread_once_t adopted_once = PTHREAD_ONCE_INIT;

static struct kvmmu_thread *thread_alloc(const char *name)
{
	struct kvmmu_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = atomic_fetch_add(&next_thread_id, 1);
	t->rcu_slot = -1;
	if (name)
		snprintf(t->name, sizeof(t->name), "%s", name);
	else
		snprintf(t->name, sizeof(t->name), "thread-%d", t->id);
	return t;
}

/* Checks and releases that every thread owes when it ends. */
static void thread_teardown(struct kvmmu_thread *t)
{
	WARN(t->rcu_nesting, "thread %s exits inside an RCU read-side section",
	     t->name);
	WARN(t->srcu_nesting, "thread %s exits inside an SRCU read-side section",
	     t->name);
	WARN(t->nr_held, "thread %s exits holding %d lock(s), first %s",
	     t->name, t->nr_held, t->nr_held ? t->held[0].map->name : "");
	__rcu_thread_exit(t);
}

static void adopted_destructor(void *p)
{
	struct kvmmu_thread *t = p;

	__kvmmu_current = t;
	thread_teardown(t);
	__kvmmu_current = NULL;
	free(t);
}

static void adopted_key_init(void)
{
	if (pthread_key_create(&adopted_key, adopted_destructor))
		abort();
}

struct kvmmu_thread *__kvmmu_thread_adopt(void)
{
	bool is_main = syscall(SYS_gettid) == getpid();
	struct kvmmu_thread *t = thread_alloc(NULL);

	if (!t)
		abort();
	if (is_main)
		snprintf(t->name, sizeof(t->name), "main");
	t->adopted = true;
	t->pthread = pthread_self();
	__kvmmu_current = t;
	pthread_once(&adopted_once, adopted_key_init);
	if (!is_main)
		pthread_setspecific(adopted_key, t);
	return t;
}

static void *thread_trampoline(void *arg)
{
	struct kvmmu_thread *t = arg;
	const struct sched_hooks *hooks;

	__kvmmu_current = t;
	while (!atomic_load(&t->started))
		futex_wait(&t->started, 0);

	hooks = smp_load_acquire(&__sched_hooks);
	if (hooks && hooks->thread_start)
		hooks->thread_start(t);
	sched_point(SP_THREAD_START, t);

	t->ret = t->fn(t->arg);

	sched_point(SP_THREAD_EXIT, t);
	thread_teardown(t);
	/*
	 * seq_cst: a joiner that sees exited == 1 sees t->ret.  No sched point
	 * from here on: a controlled joiner that runs now would wait in
	 * pthread_join() for a thread that waits for the baton.
	 */
	atomic_store(&t->exited, 1);
	futex_wake_all(&t->exited);

	/* The hook may hand control away: touch nothing shared after it. */
	hooks = smp_load_acquire(&__sched_hooks);
	if (hooks && hooks->thread_exit)
		hooks->thread_exit(t);
	__kvmmu_current = NULL;
	return NULL;
}

int kvmmu_thread_create(struct kvmmu_thread **out, const char *name,
			unsigned int flags, int (*fn)(void *arg), void *arg)
{
	const struct sched_hooks *hooks;
	struct kvmmu_thread *t;
	int err;

	t = thread_alloc(name);
	if (!t)
		return -ENOMEM;
	t->flags = flags;
	t->fn = fn;
	t->arg = arg;

	err = pthread_create(&t->pthread, NULL, thread_trampoline, t);
	if (err) {
		free(t);
		return -err;
	}

	hooks = smp_load_acquire(&__sched_hooks);
	if (hooks && hooks->thread_register)
		hooks->thread_register(t);
	/* Release: the new thread sees the registration (pairs with the load above). */
	atomic_store(&t->started, 1);
	futex_wake_all(&t->started);

	*out = t;
	return 0;
}

int kvmmu_thread_join(struct kvmmu_thread *t)
{
	int ret;

	might_sleep();
	while (!atomic_load(&t->exited))
		kvmmu_block(&t->exited, 0);
	pthread_join(t->pthread, NULL);
	ret = t->ret;
	free(t);
	return ret;
}

const char *kvmmu_thread_name(void)
{
	return current_thread()->name;
}
