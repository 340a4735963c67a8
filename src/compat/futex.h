/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Raw futex sleep and wake, for the few places that must sleep the OS thread
 * whatever scheduler is installed: the scheduler's own baton hand-off and
 * thread start-up.  Everything else sleeps through kvmmu_block() (wait.h).
 */
#ifndef KVMMU_COMPAT_FUTEX_H
#define KVMMU_COMPAT_FUTEX_H

#include <stdatomic.h>

#include "types.h"

/* Sleep while *@word == @val; spurious returns happen. */
void futex_wait(_Atomic u32 *word, u32 val);
/* Wake every sleeper on @word. */
void futex_wake_all(_Atomic u32 *word);

#endif /* KVMMU_COMPAT_FUTEX_H */
