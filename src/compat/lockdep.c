// SPDX-License-Identifier: GPL-2.0-only
/*
 * lockdep: held-lock stacks, self-deadlock and order checks, might_sleep().
 */
#include <stdio.h>
#include <stdlib.h>

#include "bug.h"
#include "lockdep.h"
#include "printk.h"
#include "thread.h"

static const char *const lock_type_names[] = {
	[LD_SPINLOCK] = "spinlock",
	[LD_RWLOCK] = "rwlock",
	[LD_MUTEX] = "mutex",
	[LD_RWSEM] = "rw_semaphore",
};

static struct held_lock *find_held(struct kvmmu_thread *t,
				   const struct lockdep_map *map)
{
	int i;

	for (i = t->nr_held - 1; i >= 0; i--) {
		if (t->held[i].map == map)
			return &t->held[i];
	}
	return NULL;
}

static void print_held_locks(struct kvmmu_thread *t)
{
	int i;

	pr_err("%d lock(s) held by %s:\n", t->nr_held, t->name);
	for (i = 0; i < t->nr_held; i++)
		pr_err("  #%d: %s (%s, %s, rank %u)\n", i, t->held[i].map->name,
		       lock_type_names[t->held[i].map->type],
		       t->held[i].read ? "read" : "write", t->held[i].map->rank);
}

/* Taking @map now would wait for ourselves forever: report and stop. */
static __noreturn void report_self_deadlock(struct kvmmu_thread *t,
					    const struct lockdep_map *map,
					    bool read, const struct held_lock *h)
{
	pr_err("lockdep: possible recursive locking detected\n");
	pr_err("%s is trying to take %s %s (%s) for %s while holding it for %s\n",
	       t->name, lock_type_names[map->type], map->name, "self-deadlock",
	       read ? "read" : "write", h->read ? "read" : "write");
	print_held_locks(t);
	WARN(1, "lockdep: self-deadlock on %s", map->name);
	abort();
}

static void check_order(struct kvmmu_thread *t, const struct lockdep_map *map)
{
	int i;

	if (!map->rank)
		return;
	for (i = 0; i < t->nr_held; i++) {
		const struct lockdep_map *h = t->held[i].map;

		if (h->rank && h->rank >= map->rank) {
			WARN(1, "lockdep: lock order: %s takes %s (rank %u) while holding %s (rank %u)",
			     t->name, map->name, map->rank, h->name, h->rank);
			print_held_locks(t);
		}
	}
}

bool lock_acquire(const struct lockdep_map *map, bool read, bool trylock)
{
	struct kvmmu_thread *t = current_thread();
	struct held_lock *h = find_held(t, map);

	if (h) {
		if (read && h->read) {
			/* Recursive read: legal for rwlock_t, suspect for rwsem. */
			WARN(map->type == LD_RWSEM,
			     "lockdep: recursive down_read() of %s", map->name);
			h->count++;
			return true;
		}
		report_self_deadlock(t, map, read, h);
	}
	if (!trylock)
		check_order(t, map);
	if (t->nr_held == LOCKDEP_MAX_HELD) {
		print_held_locks(t);
		BUG();
	}
	t->held[t->nr_held++] = (struct held_lock){
		.map = map, .read = read, .count = 1,
	};
	return false;
}

void lock_release(const struct lockdep_map *map)
{
	struct kvmmu_thread *t = current_thread();
	struct held_lock *h = find_held(t, map);
	int i;

	if (WARN(!h, "lockdep: %s releases %s, which it does not hold",
		 t->name, map->name))
		return;
	if (--h->count)
		return;
	for (i = (int)(h - t->held); i < t->nr_held - 1; i++)
		t->held[i] = t->held[i + 1];
	t->nr_held--;
}

bool lock_is_held_type(const struct lockdep_map *map,
		       enum lockdep_held_mode mode)
{
	struct held_lock *h = find_held(current_thread(), map);

	if (!h)
		return false;
	switch (mode) {
	case LD_HELD_WRITE:
		return !h->read;
	case LD_HELD_READ:
		return h->read;
	default:
		return true;
	}
}

int lockdep_depth(void)
{
	return current_thread()->nr_held;
}

void might_sleep(void)
{
	struct kvmmu_thread *t = current_thread();
	int i;

	for (i = 0; i < t->nr_held; i++) {
		const struct lockdep_map *map = t->held[i].map;

		if (WARN(map->type == LD_SPINLOCK || map->type == LD_RWLOCK,
			 "sleeping function called while holding %s %s",
			 lock_type_names[map->type], map->name))
			return;
	}
	WARN(t->rcu_nesting, "sleeping function called inside an RCU read-side section");
}
