// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reverse-map lists (src/mmu/rmap.h): the one-word head and its
 * encoding, adds and their returned counts, iteration, the descriptor
 * chain (a head in front of full tails, its tail_count), removal in any
 * order (the head's last entry fills the hole), destroy, and the VM's
 * count of live descriptors.
 */
#include <stdlib.h>
#include <string.h>

#include "rmap.h"
#include "test.h"
#include "vm_fixture.h"

#define NR_SPTES 2000

/* Distinct addresses for the lists to hold; the list code never reads them. */
static _Atomic u64 sptes[NR_SPTES];

static struct vm_fixture fix;
static struct kvm_mmu_memory_cache cache;

static void create(void)
{
	struct vm_fixture_opts o = { .nr_vcpus = 1 };

	assert_int_equal(vm_fixture_create(&fix, &o), 0);
	memset(&cache, 0, sizeof(cache));
}

/* Fill @c to capacity with descriptors, as a vCPU does before a fault. */
static void topup(struct kvm_mmu_memory_cache *c)
{
	while (c->nobjs < KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE) {
		void *desc = malloc(sizeof(struct pte_list_desc));

		assert_non_null(desc);
		c->objects[c->nobjs++] = desc;
	}
}

static void drain(struct kvm_mmu_memory_cache *c)
{
	while (c->nobjs)
		free(c->objects[--c->nobjs]);
}

static void destroy(void)
{
	drain(&cache);
	assert_int_equal(vm_fixture_destroy(&fix), 0);
}

static s64 live_descs(void)
{
	return atomic64_read(&fix.w.kvm->arch.nr_pte_list_descs);
}

static struct pte_list_desc *head_desc(const struct kvm_rmap_head *head)
{
	return (struct pte_list_desc *)(head->val & ~1UL);
}

/*
 * Descriptors a list of @n entries built by adds alone holds: none for a
 * single pointer; two entries share the first, and a new head is put in
 * front only when the head holds PTE_LIST_EXT.
 */
static s64 descs_for(unsigned int n)
{
	return n <= 1 ? 0 : (n + PTE_LIST_EXT - 1) / PTE_LIST_EXT;
}

/* Add sptes[0..n-1], checking each add's result and the count after it. */
static void add_n(struct kvm_rmap_head *head, bool *present, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		topup(&cache);
		assert_int_equal(pte_list_add(fix.w.kvm, &cache, &sptes[i], head), i);
		assert_int_equal(pte_list_count(head), i + 1);
		present[i] = true;
	}
}

/*
 * Iterate @head: every entry must be one of sptes[] marked @present, seen
 * once, every present one must be seen, and there must be @n in all.
 */
static void check_iter(const struct kvm_rmap_head *head, const bool *present, unsigned int n)
{
	static unsigned int seen[NR_SPTES];
	struct rmap_iterator iter;
	_Atomic u64 *sptep;
	unsigned int total = 0, i;

	memset(seen, 0, sizeof(seen));
	for_each_rmap_spte(head, &iter, sptep) {
		assert_true(sptep >= &sptes[0] && sptep < &sptes[NR_SPTES]);
		i = (unsigned int)(sptep - sptes);
		assert_true(present[i]);
		assert_int_equal(seen[i], 0);
		seen[i]++;
		total++;
		assert_true(total <= n);
	}
	assert_int_equal(total, n);
	for (i = 0; i < NR_SPTES; i++)
		assert_int_equal(seen[i], present[i] ? 1 : 0);
}

/*
 * The chain of a list of @n entries: every descriptor after the head is
 * full, the head holds the rest and its tail_count counts the tails'.
 * Returns the number of descriptors.
 */
static s64 check_chain(const struct kvm_rmap_head *head, unsigned int n)
{
	struct pte_list_desc *first, *desc;
	unsigned int entries;
	s64 nr = 1;

	if (!head->val) {
		assert_int_equal(n, 0);
		return 0;
	}
	if (!(head->val & 1)) {
		assert_int_equal(n, 1);
		return 0;
	}
	first = head_desc(head);
	assert_true(first->spte_count >= 1 && first->spte_count <= PTE_LIST_EXT);
	assert_int_equal(first->tail_count, n - first->spte_count);
	entries = first->spte_count;
	for (desc = first->more; desc; desc = desc->more) {
		assert_int_equal(desc->spte_count, PTE_LIST_EXT);
		entries += desc->spte_count;
		nr++;
	}
	assert_int_equal(entries, n);
	return nr;
}

static u64 xorshift64(u64 *s)
{
	u64 x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* A fixed pseudo-random permutation of 0..n-1. */
static void shuffle(unsigned int *order, unsigned int n, u64 seed)
{
	unsigned int i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		j = (unsigned int)(xorshift64(&seed) % i);
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

static void test_empty(void **state)
{
	struct kvm_rmap_head head = { 0 };
	struct rmap_iterator iter;

	assert_int_equal(pte_list_count(&head), 0);
	assert_null(rmap_get_first(&head, &iter));
}

static void test_add_and_iterate(void **state)
{
	static const unsigned int sizes[] = { 1, 14, 15, 16, 28, 29, 1000, 1500 };
	static bool present[NR_SPTES];
	unsigned int k;
	s64 base;

	create();
	base = live_descs();
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		unsigned int n = sizes[k];
		struct kvm_rmap_head head = { 0 };

		memset(present, 0, sizeof(present));
		add_n(&head, present, n);
		check_iter(&head, present, n);
		if (n == 1) {
			assert_int_equal(head.val, (unsigned long)&sptes[0]);
			assert_int_equal(head.val & 1, 0);
		} else {
			assert_int_equal(head.val & 1, 1);
		}
		assert_int_equal(live_descs() - base, descs_for(n));
		assert_int_equal(check_chain(&head, n), descs_for(n));

		pte_list_destroy(fix.w.kvm, &head);
		assert_int_equal(live_descs(), base);
	}
	destroy();
}

static void test_remove_random_order(void **state)
{
	static const unsigned int sizes[] = { 1, 14, 15, 1000 };
	static bool present[NR_SPTES];
	static unsigned int order[NR_SPTES];
	unsigned int k, r;
	s64 base;

	create();
	base = live_descs();
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		unsigned int n = sizes[k];
		struct kvm_rmap_head head = { 0 };

		memset(present, 0, sizeof(present));
		add_n(&head, present, n);
		shuffle(order, n, 0x9e3779b97f4a7c15ULL + n);
		for (r = 0; r < n; r++) {
			unsigned int left = n - r - 1;

			pte_list_remove(fix.w.kvm, &sptes[order[r]], &head);
			present[order[r]] = false;
			assert_int_equal(pte_list_count(&head), left);
			check_iter(&head, present, left);
			assert_int_equal(check_chain(&head, left), live_descs() - base);
		}
		assert_int_equal(head.val, 0);
		assert_int_equal(live_descs(), base);
	}
	destroy();
}

/*
 * Removing from a full tail fills the hole with the head's last entry.
 * With 29 entries the head holds one, so it also empties and is freed;
 * with 30 it holds two and stays.
 */
static void test_remove_fills_hole_from_head(void **state)
{
	static const unsigned int sizes[] = { 29, 30 };
	static bool present[NR_SPTES];
	unsigned int k;
	s64 base;

	create();
	base = live_descs();
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		unsigned int n = sizes[k];
		struct kvm_rmap_head head = { 0 };
		struct pte_list_desc *first, *last;
		_Atomic u64 *head_last, *victim;
		const int slot = PTE_LIST_EXT / 2;

		memset(present, 0, sizeof(present));
		add_n(&head, present, n);
		assert_int_equal(check_chain(&head, n), 3);

		first = head_desc(&head);
		for (last = first; last->more; last = last->more)
			;
		assert_int_equal(last->spte_count, PTE_LIST_EXT);
		head_last = first->sptes[first->spte_count - 1];
		assert_ptr_equal(head_last, &sptes[n - 1]);
		victim = last->sptes[slot];
		assert_ptr_not_equal(victim, head_last);

		pte_list_remove(fix.w.kvm, victim, &head);
		present[victim - sptes] = false;

		assert_ptr_equal(last->sptes[slot], head_last);
		assert_int_equal(last->spte_count, PTE_LIST_EXT);
		assert_int_equal(pte_list_count(&head), n - 1);
		check_iter(&head, present, n - 1);
		assert_int_equal(check_chain(&head, n - 1), live_descs() - base);
		/* The one-entry head emptied and went; a two-entry one stays. */
		assert_int_equal(live_descs() - base, n == 29 ? 2 : 3);

		pte_list_destroy(fix.w.kvm, &head);
		assert_int_equal(live_descs(), base);
	}
	destroy();
}

static void test_destroy(void **state)
{
	static bool present[NR_SPTES];
	struct kvm_rmap_head head = { 0 };
	s64 base;

	create();
	base = live_descs();
	add_n(&head, present, 1000);
	assert_int_equal(live_descs() - base, descs_for(1000));

	pte_list_destroy(fix.w.kvm, &head);
	assert_int_equal(live_descs(), base);
	assert_int_equal(head.val, 0);
	destroy();
}

/* The recycle cap is rmap_add()'s; the list itself holds any number. */
static void test_beyond_recycle_threshold(void **state)
{
	static bool present[NR_SPTES];
	struct kvm_rmap_head head = { 0 };
	const unsigned int n = RMAP_RECYCLE_THRESHOLD + 1;
	s64 base;

	create();
	base = live_descs();
	memset(present, 0, sizeof(present));
	add_n(&head, present, n);
	assert_int_equal(pte_list_count(&head), n);
	check_iter(&head, present, n);

	pte_list_destroy(fix.w.kvm, &head);
	assert_int_equal(live_descs(), base);
	destroy();
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_empty),
	KVMMU_TEST(test_add_and_iterate),
	KVMMU_TEST(test_remove_random_order),
	KVMMU_TEST(test_remove_fills_hole_from_head),
	KVMMU_TEST(test_destroy),
	KVMMU_TEST(test_beyond_recycle_threshold),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
