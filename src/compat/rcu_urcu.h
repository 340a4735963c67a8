/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to rcu.c: plain-named wrappers around liburcu's urcu-memb flavour.
 */
#ifndef KVMMU_COMPAT_RCU_URCU_H
#define KVMMU_COMPAT_RCU_URCU_H

void kvmmu_urcu_register_thread(void);
void kvmmu_urcu_unregister_thread(void);
void kvmmu_urcu_read_lock(void);
void kvmmu_urcu_read_unlock(void);
void kvmmu_urcu_synchronize(void);

#endif /* KVMMU_COMPAT_RCU_URCU_H */
