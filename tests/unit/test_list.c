// SPDX-License-Identifier: GPL-2.0-only
/*
 * list_head and hlist.
 */
#include "list.h"
#include "test.h"

struct item {
	int v;
	struct list_head link;
	struct hlist_node hnode;
};

static int collect(struct list_head *head, int *out, int max)
{
	struct item *it;
	int n = 0;

	list_for_each_entry(it, head, link) {
		if (n < max)
			out[n] = it->v;
		n++;
	}
	return n;
}

static void test_add_del_order(void **state)
{
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	LIST_HEAD(head);
	int got[4];

	assert_true(list_empty(&head));
	list_add_tail(&a.link, &head);
	list_add_tail(&b.link, &head);
	list_add(&c.link, &head);
	assert_int_equal(collect(&head, got, 4), 3);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 2);
	assert_ptr_equal(list_first_entry(&head, struct item, link), &c);
	assert_ptr_equal(list_last_entry(&head, struct item, link), &b);

	list_del(&a.link);
	assert_int_equal(collect(&head, got, 4), 2);
	list_move_tail(&c.link, &head);
	assert_int_equal(collect(&head, got, 4), 2);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 3);
	list_del_init(&b.link);
	assert_true(list_is_singular(&head));
	assert_true(list_empty(&b.link));
}

static void test_safe_iteration_and_splice(void **state)
{
	struct item it[6], *pos, *n;
	LIST_HEAD(one);
	LIST_HEAD(two);
	int got[8], i;

	for (i = 0; i < 6; i++) {
		it[i].v = i;
		list_add_tail(&it[i].link, i < 3 ? &one : &two);
	}
	list_splice_init(&two, &one);
	assert_true(list_empty(&two));
	assert_int_equal(collect(&one, got, 8), 6);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[5], 2);

	list_for_each_entry_safe(pos, n, &one, link) {
		if (pos->v % 2)
			list_del(&pos->link);
	}
	assert_int_equal(collect(&one, got, 8), 3);
	assert_int_equal(got[0], 4);
	assert_int_equal(got[1], 0);
	assert_int_equal(got[2], 2);
}

static void test_hlist(void **state)
{
	struct hlist_head h = HLIST_HEAD_INIT;
	struct item a = { .v = 1 }, b = { .v = 2 }, *pos;
	struct hlist_node *tmp;
	int sum = 0;

	INIT_HLIST_NODE(&a.hnode);
	INIT_HLIST_NODE(&b.hnode);
	assert_true(hlist_empty(&h));
	assert_true(hlist_unhashed(&a.hnode));
	hlist_add_head(&a.hnode, &h);
	hlist_add_head(&b.hnode, &h);
	hlist_for_each_entry(pos, &h, hnode)
		sum = sum * 10 + pos->v;
	assert_int_equal(sum, 21);
	hlist_for_each_entry_safe(pos, tmp, &h, hnode)
		hlist_del_init(&pos->hnode);
	assert_true(hlist_empty(&h));
	assert_true(hlist_unhashed(&b.hnode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_add_del_order),
		KVMMU_TEST(test_safe_iteration_and_splice),
		KVMMU_TEST(test_hlist),
	};

	return kvmmu_run_tests(tests);
}
