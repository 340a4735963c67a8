// SPDX-License-Identifier: GPL-2.0-only
/*
 * Observer hooks: masks, thread ids and ordering, lazy argument evaluation,
 * unregistering, and WARNs posted as events.
 */
#include <errno.h>
#include <string.h>

#include "bug.h"
#include "observe.h"
#include "test.h"
#include "thread.h"

#define MAX_SEEN 64

struct recorder {
	struct kvmmu_observer obs;
	int n;
	struct kvmmu_event seen[MAX_SEEN];
};

static void record(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	struct recorder *r = container_of(obs, struct recorder, obs);

	if (r->n < MAX_SEEN)
		r->seen[r->n] = *ev;
	r->n++;
}

static int evaluated;

static u64 side_effect(u64 v)
{
	evaluated++;
	return v;
}

static void test_mask_and_payload(void **state)
{
	struct recorder r = {
		.obs = { .name = "spte", .mask = BIT_ULL(KVMMU_EV_SPTE_CHANGE),
			 .notify = record },
	};

	assert_int_equal(kvmmu_observer_register(&r.obs), 0);
	assert_true(kvmmu_observing(KVMMU_EV_SPTE_CHANGE));
	assert_false(kvmmu_observing(KVMMU_EV_TLB_FILL));
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .gfn = 0x42, .level = 2,
		      .old_spte = 1, .new_spte = 2);
	kvmmu_observe(KVMMU_EV_TLB_FILL, tlb, .vcpu = 1);
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .gfn = 0x43);
	kvmmu_observer_unregister(&r.obs);
	kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .gfn = 0x44);

	assert_int_equal(r.n, 2);
	assert_int_equal(r.seen[0].type, KVMMU_EV_SPTE_CHANGE);
	assert_int_equal(r.seen[0].spte.gfn, 0x42);
	assert_int_equal(r.seen[0].spte.level, 2);
	assert_int_equal(r.seen[0].spte.new_spte, 2);
	assert_int_equal(r.seen[0].thread, current_thread()->id);
	assert_true(r.seen[1].index > r.seen[0].index);
	assert_false(kvmmu_observing(KVMMU_EV_SPTE_CHANGE));
}

static void test_unobserved_arguments_are_not_evaluated(void **state)
{
	evaluated = 0;
	kvmmu_observe(KVMMU_EV_GUEST_STORE, access, .value = side_effect(7));
	assert_int_equal(evaluated, 0);
}

static void test_several_observers(void **state)
{
	struct recorder a = {
		.obs = { .name = "a", .mask = BIT_ULL(KVMMU_EV_SPAN_BEGIN) |
					    BIT_ULL(KVMMU_EV_SPAN_END),
			 .notify = record },
	};
	struct recorder b = {
		.obs = { .name = "b", .mask = BIT_ULL(KVMMU_EV_SPAN_END),
			 .notify = record },
	};

	assert_int_equal(kvmmu_observer_register(&a.obs), 0);
	assert_int_equal(kvmmu_observer_register(&b.obs), 0);
	kvmmu_span_begin(KVMMU_SPAN_FAULT, 5);
	kvmmu_span_end(KVMMU_SPAN_FAULT, 5);
	kvmmu_observer_unregister(&a.obs);
	kvmmu_observer_unregister(&b.obs);
	assert_int_equal(a.n, 2);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.seen[0].span.kind, KVMMU_SPAN_FAULT);
	assert_int_equal(b.seen[0].span.arg, 5);
	assert_string_equal(kvmmu_span_name(KVMMU_SPAN_FAULT), "fault");
	assert_string_equal(kvmmu_event_name(KVMMU_EV_SPAN_END), "span_end");
}

static void test_warn_is_an_event(void **state)
{
	struct recorder r = {
		.obs = { .name = "warn", .mask = BIT_ULL(KVMMU_EV_WARN),
			 .notify = record },
	};

	assert_int_equal(kvmmu_observer_register(&r.obs), 0);
	expect_warns(1);
	WARN_ON(r.n == 0);
	kvmmu_observer_unregister(&r.obs);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.seen[0].warn.file, "test_observe.c"));
	assert_string_equal(r.seen[0].warn.cond, "r.n == 0");
}

static void test_registry_is_bounded(void **state)
{
	struct recorder r[KVMMU_MAX_OBSERVERS + 1];
	int i;

	for (i = 0; i <= KVMMU_MAX_OBSERVERS; i++) {
		r[i].obs = (struct kvmmu_observer){ .name = "r", .notify = record };
		assert_int_equal(kvmmu_observer_register(&r[i].obs),
				 i < KVMMU_MAX_OBSERVERS ? 0 : -ENOSPC);
	}
	for (i = 0; i < KVMMU_MAX_OBSERVERS; i++)
		kvmmu_observer_unregister(&r[i].obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_mask_and_payload),
		KVMMU_TEST(test_unobserved_arguments_are_not_evaluated),
		KVMMU_TEST(test_several_observers),
		KVMMU_TEST(test_warn_is_an_event),
		KVMMU_TEST(test_registry_is_bounded),
	};

	return kvmmu_run_tests(tests);
}
