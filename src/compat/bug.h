/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WARN_ON(), BUG_ON() and KVM_BUG_ON().
 *
 * A warning is a finding: every WARN is counted (kvmmu_warn_count()), posted
 * to the observers as KVMMU_EV_WARN, and fails the test or run that caused
 * it (exit status 1 from the CLI).  WARN_ON_ONCE() prints once per call site
 * but counts every time, so a second test that trips the same site still
 * fails.  All WARN forms return the condition, as in the kernel, so they can
 * be used inside if ().
 *
 * BUG_ON() reports and aborts: it marks states from which kvmmu cannot
 * continue (the kernel would oops).
 */
#ifndef KVMMU_COMPAT_BUG_H
#define KVMMU_COMPAT_BUG_H

#include "compiler.h"
#include "types.h"

void __kvmmu_warn(const char *file, int line, const char *cond, bool print,
		  const char *fmt, ...) __cold __printf(5, 6);
void __kvmmu_bug(const char *file, int line, const char *cond) __cold __noreturn;

/* Total warnings since start-up. */
unsigned long kvmmu_warn_count(void);

#define __WARN_COND(cond, once, fmt, ...)                                     \
	({                                                                    \
		static bool __warned;                                         \
		bool __ret_warn = !!(cond);                                   \
		if (unlikely(__ret_warn)) {                                   \
			bool __print = !(once) ||                             \
				       !__atomic_exchange_n(&__warned, true,  \
							    __ATOMIC_RELAXED);\
			__kvmmu_warn(__FILE__, __LINE__, #cond, __print,      \
				     fmt, ##__VA_ARGS__);                     \
		}                                                             \
		unlikely(__ret_warn);                                         \
	})

#define WARN_ON(cond) __WARN_COND(cond, false, NULL)
#define WARN_ON_ONCE(cond) __WARN_COND(cond, true, NULL)
#define WARN(cond, fmt, ...) __WARN_COND(cond, false, fmt, ##__VA_ARGS__)
#define WARN_ONCE(cond, fmt, ...) __WARN_COND(cond, true, fmt, ##__VA_ARGS__)

#define BUG() __kvmmu_bug(__FILE__, __LINE__, "BUG()")
#define BUG_ON(cond)                                                          \
	do {                                                                  \
		if (unlikely(cond))                                           \
			__kvmmu_bug(__FILE__, __LINE__, #cond);               \
	} while (0)

/*
 * KVM_BUG_ON() - WARN once and mark the VM bugged.  kvm_vm_bugged() is
 * resolved where the macro is used: the core defines it for struct kvm.
 */
#define KVM_BUG_ON(cond, kvm)                                                 \
	({                                                                    \
		bool __ret_bug = !!(cond);                                    \
		if (WARN_ONCE(__ret_bug, "KVM_BUG_ON(%s)", #cond))            \
			kvm_vm_bugged(kvm);                                   \
		unlikely(__ret_bug);                                          \
	})

#endif /* KVMMU_COMPAT_BUG_H */
