// SPDX-License-Identifier: GPL-2.0-only
/*
 * The liburcu (urcu-memb) backend of rcu.h, kept in a file of its own:
 * liburcu's headers map the kernel's RCU names (rcu_read_lock, call_rcu,
 * struct rcu_head, ...) onto its own, which would collide with ours.
 */
#include "compiler.h"

#if !KVMMU_TSAN
/* Inline read-side fast paths; the library is LGPL, inlining is allowed. */
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>

#include "rcu_urcu.h"

void kvmmu_urcu_register_thread(void)
{
	urcu_memb_register_thread();
}

void kvmmu_urcu_unregister_thread(void)
{
	urcu_memb_unregister_thread();
}

void kvmmu_urcu_read_lock(void)
{
	urcu_memb_read_lock();
}

void kvmmu_urcu_read_unlock(void)
{
	urcu_memb_read_unlock();
}

void kvmmu_urcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
}
