// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command line's JSON reader (kvmmu merge reads documents back with
 * it): values, exact 64-bit integers, escapes, and a message, never a
 * crash, for text that is not JSON.
 */
#include <errno.h>
#include <string.h>

#include "../../src/cli/json_read.c"
#include "test.h"

static void test_document(void **state)
{
	const char *text = "{\"a\": [1, -2, 2.5e3, true, false, null], \"b\": {\"c\": \"d\"},\n"
			   " \"e\": 18446744073709551615, \"f\": {}, \"g\": []}";
	const struct jv *a, *b;
	char why[96];
	struct jv v;

	assert_int_equal(jv_parse(text, &v, why, sizeof(why)), 0);
	assert_int_equal(v.type, JV_OBJECT);
	assert_int_equal(v.n, 5);
	a = jv_get(&v, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JV_ARRAY);
	assert_int_equal(a->n, 6);
	assert_true(a->items[0].is_u64 && a->items[0].u == 1);
	assert_false(a->items[1].is_u64);
	assert_true(a->items[1].d == -2.0);
	assert_false(a->items[2].is_u64);
	assert_true(a->items[2].d == 2500.0);
	assert_true(a->items[3].type == JV_BOOL && a->items[3].b);
	assert_true(a->items[4].type == JV_BOOL && !a->items[4].b);
	assert_int_equal(a->items[5].type, JV_NULL);
	b = jv_get(&v, "b");
	assert_string_equal(jv_get(b, "c")->s, "d");
	/* All 64 bits, which a double would round. */
	assert_true(jv_get(&v, "e")->is_u64);
	assert_true(jv_get(&v, "e")->u == ~0ULL);
	assert_int_equal(jv_get(&v, "f")->n, 0);
	assert_int_equal(jv_get(&v, "g")->type, JV_ARRAY);
	assert_null(jv_get(&v, "missing"));
	assert_null(jv_get(a, "a")); /* not an object */
	jv_free(&v);
}

static void test_u64_overflow_is_no_u64(void **state)
{
	char why[96];
	struct jv v;

	assert_int_equal(jv_parse("18446744073709551616", &v, why, sizeof(why)), 0);
	assert_false(v.is_u64);
	assert_true(v.d > 1.8e19);
	jv_free(&v);
}

static void test_escapes(void **state)
{
	char why[96];
	struct jv v;

	assert_int_equal(jv_parse("\"q\\\" b\\\\ s\\/ \\n\\t\\r\\b\\f \\u00e9 \\u20ac \\ud83d\\ude00\"",
				  &v, why, sizeof(why)), 0);
	assert_int_equal(v.type, JV_STRING);
	assert_string_equal(v.s, "q\" b\\ s/ \n\t\r\b\f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	jv_free(&v);
}

static void test_not_json(void **state)
{
	static const char *const bad[] = {
		"", "   ", "{", "[1,]", "{\"a\" 1}", "{\"a\": 1,}", "{1: 2}", "[1] 2", "tru",
		"nul", "01", "-", "1e999", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"",
		"\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "{\"a\": [1, 2}",
		"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
	};
	char why[96];
	struct jv v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = 0;
		assert_int_equal(jv_parse(bad[i], &v, why, sizeof(why)), -EINVAL);
		/* Every refusal says where. */
		assert_true(!strncmp(why, "line ", 5));
		/* A failed parse leaves nothing to free. */
		assert_int_equal(v.type, JV_NULL);
		assert_null(v.items);
	}
}

static void test_error_names_its_line(void **state)
{
	char why[96];
	struct jv v;

	assert_int_equal(jv_parse("{\n\"a\": 1,\n\"b\": x\n}", &v, why, sizeof(why)), -EINVAL);
	assert_true(!strncmp(why, "line 3: ", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_document),
		KVMMU_TEST(test_u64_overflow_is_no_u64),
		KVMMU_TEST(test_escapes),
		KVMMU_TEST(test_not_json),
		KVMMU_TEST(test_error_names_its_line),
	};

	return kvmmu_run_tests(tests);
}
