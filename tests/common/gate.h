/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A gate for race tests: stop one chosen thread at its next sched point of
 * one kind, let the test do something there, then let the thread go on.
 *
 *   gate_install();                 sched hooks on
 *   in the chosen thread: gate_mark_self();
 *   gate_arm(SP_RESCHED, true);     stop there (and make need_resched()
 *                                   say yes to the chosen thread)
 *   gate_wait_arrival();            the thread is stopped at the point
 *   ... the race ...
 *   gate_release();                 it goes on (the gate is disarmed)
 *   gate_remove();                  sched hooks off, after joining
 */
#ifndef KVMMU_TESTS_COMMON_GATE_H
#define KVMMU_TESTS_COMMON_GATE_H

#include "sched_point.h"

void gate_install(void);
void gate_remove(void);
void gate_mark_self(void);
void gate_arm(enum sched_point_kind kind, bool want_resched);
void gate_wait_arrival(void);
void gate_release(void);
/* How many times the chosen thread passed a sched point of @kind. */
u64 gate_count(enum sched_point_kind kind);

#endif /* KVMMU_TESTS_COMMON_GATE_H */
