/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bit helpers with kernel names: BIT(), GENMASK_ULL(), FIELD_PREP(), atomic
 * and non-atomic bit operations on unsigned long bitmaps, and searches.
 *
 * set_bit()/clear_bit() are atomic (relaxed); test_and_*_bit() are atomic
 * and fully ordered; __set_bit()/__clear_bit() are plain and need exclusion.
 */
#ifndef KVMMU_COMPAT_BITOPS_H
#define KVMMU_COMPAT_BITOPS_H

#include <string.h>

#include "atomic.h"
#include "compiler.h"
#include "types.h"

#define BITS_PER_LONG 64
#define BITS_PER_BYTE 8

#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define BIT_MASK(nr) (1UL << ((nr) % BITS_PER_LONG))
#define BIT_WORD(nr) ((nr) / BITS_PER_LONG)
#define BITS_TO_LONGS(nr) DIV_ROUND_UP(nr, BITS_PER_LONG)
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]

/* Bits h..l inclusive; h >= l is checked at compile time for constants. */
#define GENMASK(h, l) (((~0UL) << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l) (((~0ULL) << (l)) & (~0ULL >> (63 - (h))))

#define __bf_shf(x) __builtin_ctzll(x)
#define FIELD_PREP(mask, val) (((u64)(val) << __bf_shf(mask)) & (mask))
#define FIELD_GET(mask, reg) (((reg) & (mask)) >> __bf_shf(mask))

static inline unsigned int hweight64(u64 w)
{
	return (unsigned int)__builtin_popcountll(w);
}

/* Index of the least significant set bit; undefined for 0. */
static inline unsigned int __ffs64(u64 w)
{
	return (unsigned int)__builtin_ctzll(w);
}

/* 1-based index of the most significant set bit; 0 for 0. */
static inline int fls64(u64 w)
{
	return w ? 64 - __builtin_clzll(w) : 0;
}

static inline int ilog2_u64(u64 n)
{
	return fls64(n) - 1;
}

/* ---- atomic bit operations ---------------------------------------------- */

static inline void set_bit(unsigned long nr, unsigned long *addr)
{
	__atomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_RELAXED);
}

static inline void clear_bit(unsigned long nr, unsigned long *addr)
{
	__atomic_fetch_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_RELAXED);
}

static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return __atomic_load_n(&addr[BIT_WORD(nr)], __ATOMIC_RELAXED) &
	       BIT_MASK(nr);
}

static inline bool test_and_set_bit(unsigned long nr, unsigned long *addr)
{
	return __atomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr),
				 __ATOMIC_SEQ_CST) & BIT_MASK(nr);
}

static inline bool test_and_clear_bit(unsigned long nr, unsigned long *addr)
{
	return __atomic_fetch_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr),
				  __ATOMIC_SEQ_CST) & BIT_MASK(nr);
}

/* ---- non-atomic bit operations (caller provides exclusion) -------------- */

static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static inline void __clear_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

/* ---- bitmaps ------------------------------------------------------------ */

static inline void bitmap_zero(unsigned long *dst, unsigned long nbits)
{
	memset(dst, 0, BITS_TO_LONGS(nbits) * sizeof(unsigned long));
}

/* Set the first @nbits bits and clear the tail of the last word. */
static inline void bitmap_fill(unsigned long *dst, unsigned long nbits)
{
	unsigned long n = BITS_TO_LONGS(nbits);

	memset(dst, 0xff, n * sizeof(unsigned long));
	if (nbits % BITS_PER_LONG)
		dst[n - 1] = GENMASK(nbits % BITS_PER_LONG - 1, 0);
}

/* Number of set bits among the first @nbits. */
static inline unsigned long bitmap_weight(const unsigned long *src,
					  unsigned long nbits)
{
	unsigned long w = 0, i;

	for (i = 0; i < nbits / BITS_PER_LONG; i++)
		w += hweight64(src[i]);
	if (nbits % BITS_PER_LONG)
		w += hweight64(src[i] & GENMASK(nbits % BITS_PER_LONG - 1, 0));
	return w;
}

/* First set bit at or after @offset, or @size if there is none. */
static inline unsigned long find_next_bit(const unsigned long *addr,
					  unsigned long size,
					  unsigned long offset)
{
	unsigned long word;

	if (offset >= size)
		return size;
	word = READ_ONCE(addr[BIT_WORD(offset)]) &
	       (~0UL << (offset % BITS_PER_LONG));
	offset = round_down(offset, BITS_PER_LONG);
	while (!word) {
		offset += BITS_PER_LONG;
		if (offset >= size)
			return size;
		word = READ_ONCE(addr[BIT_WORD(offset)]);
	}
	return min(offset + __ffs64(word), size);
}

static inline unsigned long find_first_bit(const unsigned long *addr,
					   unsigned long size)
{
	return find_next_bit(addr, size, 0);
}

#define for_each_set_bit(bit, addr, size)                                     \
	for ((bit) = find_first_bit((addr), (size)); (bit) < (size);          \
	     (bit) = find_next_bit((addr), (size), (bit) + 1))

#endif /* KVMMU_COMPAT_BITOPS_H */
