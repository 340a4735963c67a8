/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Atomics and memory barriers with kernel names, on C11 <stdatomic.h>.
 *
 * Rules of the house:
 *  - Every access to memory shared between threads is atomic: READ_ONCE()
 *    and WRITE_ONCE() are relaxed atomic loads and stores, never volatile, so
 *    that ThreadSanitizer and the C11 memory model see them.
 *  - Value-returning RMW operations (xchg, cmpxchg, *_return, test_and_*)
 *    are fully ordered (seq_cst), as in the kernel.  Non-returning ones
 *    (atomic_inc, set_bit, ...) are relaxed.
 *  - gcc 12 rejects atomic_thread_fence() under -fsanitize=thread -Werror,
 *    and TSan does not model fences anyway.  In TSan builds smp_mb() is a
 *    seq_cst RMW on a per-thread word (still a full barrier on x86).  Where
 *    an ordering must be visible to TSan, the code uses acquire/release or a
 *    seq_cst RMW on the shared variable itself, and says so in a comment.
 */
#ifndef KVMMU_COMPAT_ATOMIC_H
#define KVMMU_COMPAT_ATOMIC_H

#include <stdatomic.h>

#include "compiler.h"
#include "types.h"

/* Plain-object accessors: relaxed atomics on non-_Atomic lvalues. */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#if KVMMU_TSAN
extern __kvmmu_tls _Atomic unsigned long __kvmmu_tsan_fence_word;
/* Full barrier; see the header comment for why this is not a fence. */
#define smp_mb()                                                              \
	((void)atomic_fetch_add_explicit(&__kvmmu_tsan_fence_word, 0,         \
					 memory_order_seq_cst))
#define smp_rmb() smp_mb()
#define smp_wmb() smp_mb()
#else
#define smp_mb() atomic_thread_fence(memory_order_seq_cst)
#define smp_rmb() atomic_thread_fence(memory_order_acquire)
#define smp_wmb() atomic_thread_fence(memory_order_release)
#endif
/* Value-returning RMWs are already full barriers (seq_cst). */
#define smp_mb__before_atomic() smp_mb()
#define smp_mb__after_atomic() smp_mb()

/* ---- atomic_t / atomic64_t ---------------------------------------------- */

typedef struct {
	_Atomic int counter;
} atomic_t;

typedef struct {
	_Atomic s64 counter;
} atomic64_t;

#define ATOMIC_INIT(i) { (i) }
#define ATOMIC64_INIT(i) { (i) }

static inline int atomic_read(const atomic_t *v)
{
	return atomic_load_explicit(&((atomic_t *)v)->counter,
				    memory_order_relaxed);
}

static inline void atomic_set(atomic_t *v, int i)
{
	atomic_store_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic_add(int i, atomic_t *v)
{
	atomic_fetch_add_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic_sub(int i, atomic_t *v)
{
	atomic_fetch_sub_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic_inc(atomic_t *v)
{
	atomic_add(1, v);
}

static inline void atomic_dec(atomic_t *v)
{
	atomic_sub(1, v);
}

static inline int atomic_add_return(int i, atomic_t *v)
{
	return atomic_fetch_add(&v->counter, i) + i;
}

static inline int atomic_inc_return(atomic_t *v)
{
	return atomic_add_return(1, v);
}

static inline int atomic_dec_return(atomic_t *v)
{
	return atomic_add_return(-1, v);
}

static inline bool atomic_dec_and_test(atomic_t *v)
{
	return atomic_dec_return(v) == 0;
}

static inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	atomic_compare_exchange_strong(&v->counter, &old, new);
	return old;
}

/* Increment unless the counter is zero; true if incremented. */
static inline bool atomic_inc_not_zero(atomic_t *v)
{
	int c = atomic_read(v);

	while (c != 0) {
		if (atomic_compare_exchange_weak(&v->counter, &c, c + 1))
			return true;
	}
	return false;
}

static inline s64 atomic64_read(const atomic64_t *v)
{
	return atomic_load_explicit(&((atomic64_t *)v)->counter,
				    memory_order_relaxed);
}

static inline void atomic64_set(atomic64_t *v, s64 i)
{
	atomic_store_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic64_add(s64 i, atomic64_t *v)
{
	atomic_fetch_add_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic64_sub(s64 i, atomic64_t *v)
{
	atomic_fetch_sub_explicit(&v->counter, i, memory_order_relaxed);
}

static inline void atomic64_inc(atomic64_t *v)
{
	atomic64_add(1, v);
}

static inline void atomic64_dec(atomic64_t *v)
{
	atomic64_sub(1, v);
}

static inline s64 atomic64_add_return(s64 i, atomic64_t *v)
{
	return atomic_fetch_add(&v->counter, i) + i;
}

static inline s64 atomic64_inc_return(atomic64_t *v)
{
	return atomic64_add_return(1, v);
}

static inline s64 atomic64_dec_return(atomic64_t *v)
{
	return atomic64_add_return(-1, v);
}

static inline s64 atomic64_cmpxchg(atomic64_t *v, s64 old, s64 new)
{
	atomic_compare_exchange_strong(&v->counter, &old, new);
	return old;
}

/* ---- RMW on 64-bit _Atomic words (SPTEs, host PTEs, frame state) ------- */

/**
 * try_cmpxchg64() - compare-and-exchange with kernel try_ semantics
 * @ptr: the word
 * @old: in: the expected value; out on failure: the value found
 * @new: the value to store
 *
 * Fully ordered.  Return: true if @new was stored ("won the race"); on
 * failure *@old holds the current value, so a retry loop needs no re-read.
 */
static inline bool __must_check try_cmpxchg64(_Atomic u64 *ptr, u64 *old,
					      u64 new)
{
	return atomic_compare_exchange_strong(ptr, old, new);
}

/* Compare-and-exchange; returns the value found (== @old on success). */
static inline u64 cmpxchg64(_Atomic u64 *ptr, u64 old, u64 new)
{
	atomic_compare_exchange_strong(ptr, &old, new);
	return old;
}

/* Exchange; returns the previous value.  Fully ordered. */
static inline u64 xchg64(_Atomic u64 *ptr, u64 new)
{
	return atomic_exchange(ptr, new);
}

/* Generic forms for any _Atomic scalar lvalue. */
#define xchg(ptr, v) atomic_exchange((ptr), (v))
#define cmpxchg(ptr, o, n)                                                    \
	({                                                                    \
		__typeof__(o) __old = (o);                                    \
		atomic_compare_exchange_strong((ptr), &__old, (n));           \
		__old;                                                        \
	})
#define try_cmpxchg(ptr, oldp, n) atomic_compare_exchange_strong((ptr), (oldp), (n))

#endif /* KVMMU_COMPAT_ATOMIC_H */
