// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bit helpers: masks, fields, searches, bitmaps, atomic bit operations.
 */
#include "bitops.h"
#include "test.h"
#include "thread.h"

static void test_masks(void **state)
{
	assert_int_equal(BIT_ULL(63), 0x8000000000000000ULL);
	assert_int_equal(GENMASK_ULL(51, 12), 0x000ffffffffff000ULL);
	assert_int_equal(GENMASK_ULL(63, 0), ~0ULL);
	assert_int_equal(GENMASK_ULL(0, 0), 1);
	assert_int_equal(GENMASK(7, 4), 0xf0);
	assert_int_equal(FIELD_PREP(GENMASK_ULL(5, 3), 6), 0x30);
	assert_int_equal(FIELD_GET(GENMASK_ULL(5, 3), 0x37ULL), 6);
	assert_int_equal(hweight64(0xf0f0ULL), 8);
	assert_int_equal(__ffs64(0x100ULL), 8);
	assert_int_equal(fls64(0), 0);
	assert_int_equal(fls64(1ULL << 40), 41);
}

static void test_find_bits(void **state)
{
	DECLARE_BITMAP(map, 200);
	unsigned long bit, seen[4], n = 0;

	bitmap_zero(map, 200);
	assert_int_equal(find_first_bit(map, 200), 200);
	__set_bit(3, map);
	__set_bit(64, map);
	__set_bit(130, map);
	__set_bit(199, map);
	for_each_set_bit(bit, map, 200) {
		assert_true(n < 4);
		seen[n++] = bit;
	}
	assert_int_equal(n, 4);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 64);
	assert_int_equal(seen[2], 130);
	assert_int_equal(seen[3], 199);
	assert_int_equal(find_next_bit(map, 199, 131), 199); /* size bounds */
	assert_int_equal(bitmap_weight(map, 200), 4);
	__clear_bit(64, map);
	assert_false(test_bit(64, map));
	assert_int_equal(bitmap_weight(map, 131), 2);
}

static void test_bitmap_fill_clears_tail(void **state)
{
	DECLARE_BITMAP(map, 70);

	bitmap_fill(map, 70);
	assert_int_equal(bitmap_weight(map, 70), 70);
	assert_int_equal(map[1], GENMASK(5, 0));
}

static void test_test_and_set(void **state)
{
	DECLARE_BITMAP(map, 64);

	bitmap_zero(map, 64);
	assert_false(test_and_set_bit(5, map));
	assert_true(test_and_set_bit(5, map));
	assert_true(test_and_clear_bit(5, map));
	assert_false(test_and_clear_bit(5, map));
}

#define NR_BITS 4096
static unsigned long shared_map[BITS_TO_LONGS(NR_BITS)];
static _Atomic unsigned long winners;

static int claim_worker(void *arg)
{
	unsigned long i;

	for (i = 0; i < NR_BITS; i++) {
		if (!test_and_set_bit(i, shared_map))
			atomic_fetch_add(&winners, 1);
	}
	return 0;
}

static void test_concurrent_test_and_set_one_winner(void **state)
{
	struct kvmmu_thread *t[4];
	int i;

	bitmap_zero(shared_map, NR_BITS);
	for (i = 0; i < 4; i++)
		assert_int_equal(kvmmu_thread_create(&t[i], "claim", 0, claim_worker, NULL), 0);
	for (i = 0; i < 4; i++)
		kvmmu_thread_join(t[i]);
	/* Every bit was won exactly once. */
	assert_int_equal(atomic_load(&winners), NR_BITS);
	assert_int_equal(bitmap_weight(shared_map, NR_BITS), NR_BITS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_masks),
		KVMMU_TEST(test_find_bits),
		KVMMU_TEST(test_bitmap_fill_clears_tail),
		KVMMU_TEST(test_test_and_set),
		KVMMU_TEST(test_concurrent_test_and_set_one_winner),
	};

	return kvmmu_run_tests(tests);
}
