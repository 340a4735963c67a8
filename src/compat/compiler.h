/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Compiler helpers with kernel names: branch hints, attributes, container_of,
 * arithmetic helpers (min/max/round_up) and compile-time assertions.
 *
 * READ_ONCE()/WRITE_ONCE() live in atomic.h: they are relaxed atomics, never
 * volatile accesses, so that ThreadSanitizer and the C11 memory model see them.
 */
#ifndef KVMMU_COMPAT_COMPILER_H
#define KVMMU_COMPAT_COMPILER_H

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define __must_check __attribute__((warn_unused_result))
#ifndef __always_inline /* glibc's <sys/cdefs.h> has the same definition */
#define __always_inline inline __attribute__((always_inline))
#endif
#define noinline __attribute__((noinline))
#define __maybe_unused __attribute__((unused))
#define __cold __attribute__((cold))
#define __noreturn __attribute__((noreturn))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __aligned(x) __attribute__((aligned(x)))
#define __packed __attribute__((packed))
#define fallthrough __attribute__((fallthrough))

/*
 * Thread-local storage of the library.  kvmmu is linked into executables,
 * so the initial-exec model applies even though static libraries are built
 * position-independent; it avoids a __tls_get_addr() call per access.
 */
#define __kvmmu_tls __thread __attribute__((tls_model("initial-exec")))

/* Address-space annotations of the kernel; documentation only here. */
#define __rcu
#define __user

#define SMP_CACHE_BYTES 64
#define ____cacheline_aligned __aligned(SMP_CACHE_BYTES)

/*
 * A zeroed object that starts a cache line and shares none with another
 * allocation: for types with ____cacheline_aligned members (malloc() only
 * promises 16 bytes) and for objects that threads write at once, such as
 * vCPUs.  Freed with free().
 */
static inline void *zalloc_cacheline_aligned(size_t size)
{
	void *p;

	size = (size + SMP_CACHE_BYTES - 1) & ~(size_t)(SMP_CACHE_BYTES - 1);
	p = aligned_alloc(SMP_CACHE_BYTES, size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Compiler-only barrier: forbids the compiler from moving memory accesses. */
#define barrier() __asm__ __volatile__("" ::: "memory")

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member)                                       \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define BUILD_BUG_ON(cond) static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")

#define __kvmmu_cmp(a, b, op) ((a)op(b) ? (a) : (b))
#define min(a, b)                                                             \
	({                                                                    \
		__typeof__(a) __a = (a);                                      \
		__typeof__(b) __b = (b);                                      \
		__kvmmu_cmp(__a, __b, <);                                     \
	})
#define max(a, b)                                                             \
	({                                                                    \
		__typeof__(a) __a = (a);                                      \
		__typeof__(b) __b = (b);                                      \
		__kvmmu_cmp(__a, __b, >);                                     \
	})
#define min_t(t, a, b) min((t)(a), (t)(b))
#define max_t(t, a, b) max((t)(a), (t)(b))
#define clamp(v, lo, hi) min(max(v, lo), hi)

/* @a must be a power of two for the alignment helpers. */
#define __ALIGN_MASK(x, mask) (((x) + (mask)) & ~(mask))
#define ALIGN(x, a) __ALIGN_MASK(x, (__typeof__(x))(a) - 1)
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define round_up(x, y) ALIGN(x, y)
#define round_down(x, y) ALIGN_DOWN(x, y)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define is_power_of_2(n) ((n) != 0 && (((n) & ((n) - 1)) == 0))

/* Sanitizer detection, for gcc (__SANITIZE_*__) and clang (__has_feature). */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define KVMMU_TSAN 1
#else
#define KVMMU_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define KVMMU_ASAN 1
#else
#define KVMMU_ASAN 0
#endif

#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)

#endif /* KVMMU_COMPAT_COMPILER_H */
