// SPDX-License-Identifier: GPL-2.0-only
#include "atomic.h"

#if KVMMU_TSAN
/* The word smp_mb() RMWs in TSan builds; per thread, so it orders nothing by itself. */
__kvmmu_tls _Atomic unsigned long __kvmmu_tsan_fence_word;
#endif
