// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host physical memory: allocation, compound pages, page_count() versus
 * page_ref_count(), references, poison and quarantine, misuse reports.
 */
#include <string.h>

#include "host_phys.h"
#include "observe.h"
#include "test.h"

static struct host_phys *phys;

struct misuse_log {
	struct kvmmu_observer obs;
	int n;
	struct kvmmu_ev_misuse seen[16];
};

static void record_misuse(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	struct misuse_log *l = container_of(obs, struct misuse_log, obs);

	if (l->n < 16)
		l->seen[l->n] = ev->misuse;
	l->n++;
}

static struct misuse_log mlog = {
	.obs = { .name = "misuse", .mask = BIT_ULL(KVMMU_EV_FRAME_MISUSE),
		 .notify = record_misuse },
};

static int setup(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 1 << 20, .quarantine = 8 };

	if (host_phys_create(&cfg, &phys))
		return -1;
	mlog.n = 0;
	kvmmu_observer_register(&mlog.obs);
	return kvmmu_test_setup(state);
}

static int teardown(void **state)
{
	kvmmu_observer_unregister(&mlog.obs);
	host_phys_destroy(phys);
	return kvmmu_test_teardown(state);
}

#define PHYS_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void test_alloc_free_and_counts(void **state)
{
	u64 a = phys_alloc(phys, 0, PG_anon);
	struct page *p = pfn_to_page(phys, a);

	assert_true(a != 0);
	assert_int_equal(page_state(p), KVMMU_FRAME_ALLOCATED);
	assert_int_equal(page_count(phys, p), 1);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 1);
	get_page(phys, p);
	assert_int_equal(page_count(phys, p), 2);
	put_page(phys, p);
	put_page(phys, p); /* the last reference frees */
	assert_int_equal(page_state(p), KVMMU_FRAME_QUARANTINED);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
	assert_int_equal(mlog.n, 0);
}

static void test_compound_tail_counts(void **state)
{
	u64 head = phys_alloc(phys, HPAGE_PMD_ORDER, PG_anon | PG_head);
	struct page *h = pfn_to_page(phys, head), *tail = pfn_to_page(phys, head + 5);

	assert_true(IS_ALIGNED(head, 512));
	assert_true(page_flags(h) & PG_head);
	assert_true(page_flags(tail) & PG_tail);
	assert_ptr_equal(compound_head(phys, tail), h);
	/* page_count() reads the head; page_ref_count() the tail's own field. */
	assert_int_equal(page_count(phys, tail), 1);
	assert_int_equal(page_ref_count(tail), 0);
	get_page(phys, tail); /* a reference on a tail is taken on the folio */
	assert_int_equal(page_ref_count(h), 2);
	assert_int_equal(page_ref_count(tail), 0);
	assert_int_equal(page_count(phys, tail), 2);
	put_page(phys, tail);
	put_page(phys, h);
	assert_int_equal(page_state(tail), KVMMU_FRAME_QUARANTINED);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
	assert_int_equal(mlog.n, 0);
}

static void test_non_compound_block_tails_are_zero(void **state)
{
	u64 head = phys_alloc(phys, 4, PG_noncounted);
	struct page *tail = pfn_to_page(phys, head + 3);

	/* A driver's block: not compound, so each page is its own folio. */
	assert_false(page_flags(pfn_to_page(phys, head)) & PG_head);
	assert_ptr_equal(compound_head(phys, tail), tail);
	assert_int_equal(page_count(phys, tail), 0);
	assert_int_equal(page_ref_count(pfn_to_page(phys, head)), 1);
	phys_free(phys, head);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
}

static void test_poison_and_quarantine(void **state)
{
	u64 pfns[12], again;
	int i;

	for (i = 0; i < 12; i++) {
		pfns[i] = phys_alloc(phys, 0, PG_anon);
		frame_set_contents(phys, pfns[i], 1, 0x1111);
	}
	for (i = 0; i < 12; i++)
		put_page(phys, pfn_to_page(phys, pfns[i]));
	/* Freed contents are poisoned. */
	assert_int_equal(frame_read_word(phys, pfns[11], 0), POISON_WORD);
	assert_int_equal(frame_read_word(phys, pfns[11], 4088), POISON_WORD);
	/* The quarantine holds 8; the 4 oldest went back to the free ring. */
	assert_int_equal(page_state(pfn_to_page(phys, pfns[0])), KVMMU_FRAME_FREE);
	assert_int_equal(page_state(pfn_to_page(phys, pfns[3])), KVMMU_FRAME_FREE);
	assert_int_equal(page_state(pfn_to_page(phys, pfns[4])), KVMMU_FRAME_QUARANTINED);
	/* Reuse comes from the free ring, oldest first, never from quarantine. */
	again = phys_alloc(phys, 0, PG_anon);
	assert_int_equal(again, pfns[0]);
	put_page(phys, pfn_to_page(phys, again));
}

static void test_misuse_reports(void **state)
{
	u64 a = phys_alloc(phys, 0, PG_anon), d = phys_alloc(phys, 2, PG_noncounted);
	struct page *p = pfn_to_page(phys, a);

	put_page(phys, p); /* freed */
	set_page_dirty(phys, p);
	mark_page_accessed(phys, p);
	assert_false(phys_check_access(phys, a));
	put_page(phys, p);  /* below zero */
	phys_free(phys, a); /* twice */
	get_page(phys, p);  /* raised from zero */
	get_page(phys, pfn_to_page(phys, d + 1)); /* a driver tail: both */

	assert_int_equal(mlog.n, 8);
	assert_int_equal(mlog.seen[0].kind, KVMMU_MISUSE_MARK_FREED);
	assert_int_equal(mlog.seen[0].state, KVMMU_FRAME_QUARANTINED);
	assert_int_equal(mlog.seen[1].kind, KVMMU_MISUSE_MARK_FREED);
	assert_int_equal(mlog.seen[2].kind, KVMMU_MISUSE_ACCESS_FREED);
	assert_int_equal(mlog.seen[3].kind, KVMMU_MISUSE_REF_UNDERFLOW);
	assert_int_equal(mlog.seen[4].kind, KVMMU_MISUSE_DOUBLE_FREE);
	assert_int_equal(mlog.seen[5].kind, KVMMU_MISUSE_REF_FROM_ZERO);
	assert_int_equal(mlog.seen[5].pfn, a);
	assert_int_equal(mlog.seen[6].kind, KVMMU_MISUSE_REF_FROM_ZERO);
	assert_int_equal(mlog.seen[7].kind, KVMMU_MISUSE_REF_NONCOUNTED);
	assert_int_equal(mlog.seen[7].pfn, d + 1);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_REF_FROM_ZERO]), 2);
	assert_string_equal(kvmmu_misuse_name(KVMMU_MISUSE_REF_FROM_ZERO),
			    "reference raised from 0");
}

static void test_freeing_a_block_after_a_stray_free(void **state)
{
	u64 d = phys_alloc(phys, 2, PG_noncounted);
	struct page *tail = pfn_to_page(phys, d + 2);

	/* The pre-2021 KVM bug: a reference from 0 and back frees a tail. */
	get_page(phys, tail);
	put_page(phys, tail);
	assert_int_equal(page_state(tail), KVMMU_FRAME_QUARANTINED);
	/* The driver frees its block: the stray frame is not freed twice. */
	phys_free(phys, d);
	assert_int_equal(atomic64_read(&phys->nr_allocated), 0);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_DOUBLE_FREE]), 1);
	assert_int_equal(atomic64_read(&phys->misuse[KVMMU_MISUSE_REF_FROM_ZERO]), 1);
	/* Every frame of the block is accounted for exactly once. */
	assert_int_equal(page_state(pfn_to_page(phys, d)), KVMMU_FRAME_QUARANTINED);
	assert_int_equal(page_state(pfn_to_page(phys, d + 3)), KVMMU_FRAME_QUARANTINED);
}

static void test_freeze(void **state)
{
	u64 a = phys_alloc(phys, 0, PG_anon);
	struct page *p = pfn_to_page(phys, a);

	get_page(phys, p);
	assert_false(page_ref_freeze(phys, p, 1)); /* 2 references */
	put_page(phys, p);
	assert_true(page_ref_freeze(phys, p, 1));
	assert_null(try_get_folio(phys, p)); /* a frozen page cannot be taken */
	page_ref_unfreeze(phys, p, 1);
	assert_ptr_equal(try_get_folio(phys, p), p);
	put_page(phys, p);
	put_page(phys, p);
	assert_int_equal(mlog.n, 0);
}

static void test_exhaustion(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 64, .quarantine = 4 };
	struct host_phys *small;
	u64 got[64], pfn;
	int n = 0, i;

	assert_int_equal(host_phys_create(&cfg, &small), 0);
	while ((pfn = phys_alloc(small, 0, 0)) != 0)
		got[n++] = pfn;
	assert_int_equal(n, 63); /* frame 0 is never handed out */
	assert_int_equal(phys_alloc(small, HPAGE_PMD_ORDER, PG_head), 0);
	for (i = 0; i < n; i++)
		phys_free(small, got[i]);
	/* Out of memory drains the quarantine rather than failing. */
	for (i = 0; i < n; i++)
		assert_true(phys_alloc(small, 0, 0) != 0);
	host_phys_destroy(small);
}

static void test_tag_mode_contents(void **state)
{
	struct host_phys_config cfg = { .nr_frames = 1024, .tag_mode = true };
	struct host_phys *t;
	u64 a, b;

	assert_int_equal(host_phys_create(&cfg, &t), 0);
	a = phys_alloc(t, 0, 0);
	b = phys_alloc(t, 0, 0);
	/* A store at any offset writes the page's word. */
	frame_write_word(t, a, 8, 42);
	assert_int_equal(frame_read_word(t, a, 4000), 42);
	frame_copy(t, b, a, 1);
	assert_int_equal(frame_read_word(t, b, 0), 42);
	put_page(t, pfn_to_page(t, a));
	assert_int_equal(frame_read_word(t, a, 0), POISON_WORD);
	host_phys_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PHYS_TEST(test_alloc_free_and_counts),
		PHYS_TEST(test_compound_tail_counts),
		PHYS_TEST(test_non_compound_block_tails_are_zero),
		PHYS_TEST(test_poison_and_quarantine),
		PHYS_TEST(test_misuse_reports),
		PHYS_TEST(test_freeing_a_block_after_a_stray_free),
		PHYS_TEST(test_freeze),
		PHYS_TEST(test_exhaustion),
		PHYS_TEST(test_tag_mode_contents),
	};

	return kvmmu_run_tests(tests);
}
