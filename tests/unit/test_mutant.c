// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mutant switches: names, parsing, and the run-time test in the core.
 */
#include <errno.h>
#include <string.h>

#include "mutant.h"
#include "test.h"

static void test_table_is_complete(void **state)
{
	int i;

	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		assert_non_null(kvmmu_mutant_table[i].name);
		assert_non_null(kvmmu_mutant_table[i].description);
		assert_int_equal(kvmmu_mutant_lookup(kvmmu_mutant_table[i].name), i);
	}
	assert_int_equal(kvmmu_mutant_lookup("no-such-bug"), -ENOENT);
}

static void test_parse(void **state)
{
	char bad[64] = "";
	u64 mask = 99;

	assert_int_equal(kvmmu_mutant_parse("", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(kvmmu_mutant_parse("none", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(kvmmu_mutant_parse("zap-without-freeze,ref-invalid-root",
					    &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, BIT_ULL(MUT_ZAP_WITHOUT_FREEZE) |
				       BIT_ULL(MUT_REF_INVALID_ROOT));
	mask = 7;
	assert_int_equal(kvmmu_mutant_parse("zap-without-freeze,bogus", &mask,
					    bad, sizeof(bad)), -ENOENT);
	assert_string_equal(bad, "bogus");
	assert_int_equal(mask, 7); /* untouched on error */
	assert_int_equal(kvmmu_mutant_parse("zap-without-freeze,,x", &mask,
					    NULL, 0), -EINVAL);
	assert_int_equal(kvmmu_mutant_parse(",", &mask, NULL, 0), -EINVAL);
}

static void test_switch(void **state)
{
	kvmmu_mutant_set_mask(0);
	assert_false(kvmmu_mutant(MUT_FAST_PF_NO_DIRTY_LOG));
	kvmmu_mutant_set_mask(BIT_ULL(MUT_FAST_PF_NO_DIRTY_LOG));
	assert_true(kvmmu_mutant(MUT_FAST_PF_NO_DIRTY_LOG));
	assert_false(kvmmu_mutant(MUT_ZAP_WITHOUT_FREEZE));
	assert_int_equal(kvmmu_mutant_get_mask(), BIT_ULL(MUT_FAST_PF_NO_DIRTY_LOG));
	kvmmu_mutant_set_mask(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_table_is_complete),
		KVMMU_TEST(test_parse),
		KVMMU_TEST(test_switch),
	};

	return kvmmu_run_tests(tests);
}
