// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reverse-map lists (src/mmu/rmap.h): the one-word head and its
 * encoding, adds and their returned counts, iteration, the descriptor
 * chain (a head in front of full tails, its tail_count), removal in any
 * order (the head's last entry fills the hole), destroy, and the VM's
 * count of live descriptors; the rmap lock (readers and writers exclude
 * each other, an empty chain is never locked, changes need mmu_lock for
 * write), the poison of freed descriptors that a walker without the lock
 * reads, and their quarantine.
 */
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "rmap.h"
#include "test.h"
#include "thread.h"
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
	return (struct pte_list_desc *)(kvm_rmap_get(head) & ~KVM_RMAP_FLAGS);
}

/* The head's word as it is, lock bit included. */
static unsigned long raw(const struct kvm_rmap_head *head)
{
	return atomic_load(&((struct kvm_rmap_head *)head)->val);
}

/* Changes need mmu_lock for write. */
static int add_locked(_Atomic u64 *spte, struct kvm_rmap_head *head)
{
	int r;

	write_lock(&fix.w.kvm->mmu_lock);
	r = pte_list_add(fix.w.kvm, &cache, spte, head);
	write_unlock(&fix.w.kvm->mmu_lock);
	return r;
}

static void remove_locked(_Atomic u64 *spte, struct kvm_rmap_head *head)
{
	write_lock(&fix.w.kvm->mmu_lock);
	pte_list_remove(fix.w.kvm, spte, head);
	write_unlock(&fix.w.kvm->mmu_lock);
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
		assert_int_equal(add_locked(&sptes[i], head), i);
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

	if (!raw(head)) {
		assert_int_equal(n, 0);
		return 0;
	}
	if (!(raw(head) & KVM_RMAP_MANY)) {
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
			assert_int_equal(raw(&head), (unsigned long)&sptes[0]);
			assert_int_equal(raw(&head) & KVM_RMAP_MANY, 0);
		} else {
			assert_int_equal(raw(&head) & KVM_RMAP_FLAGS, KVM_RMAP_MANY);
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

			remove_locked(&sptes[order[r]], &head);
			present[order[r]] = false;
			assert_int_equal(pte_list_count(&head), left);
			check_iter(&head, present, left);
			assert_int_equal(check_chain(&head, left), live_descs() - base);
		}
		assert_int_equal(raw(&head), 0);
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

		remove_locked(victim, &head);
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
	assert_int_equal(raw(&head), 0);
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


/* ---- the rmap lock ------------------------------------------------------------------------ */

/* Every entry a lockless walk from @val finds, in @seen; returns how many. */
static unsigned int walk_lockless(unsigned long val, bool *seen, struct rmap_iterator *iter)
{
	_Atomic u64 *sptep;
	unsigned int total = 0;

	for_each_rmap_spte_lockless(val, iter, sptep) {
		assert_true(sptep >= &sptes[0] && sptep < &sptes[NR_SPTES]);
		seen[sptep - sptes] = true;
		total++;
	}
	return total;
}

/* Neither side ever locks an empty chain: the word stays 0. */
static void test_lock_empty_chain(void **state)
{
	struct kvm_rmap_head head = { 0 };
	struct rmap_iterator iter;

	create();
	assert_int_equal(kvm_rmap_lock_readonly(&head), 0);
	assert_int_equal(raw(&head), 0);
	/* Unlocking what was not locked changes nothing. */
	kvm_rmap_unlock_readonly(&head, 0);
	assert_int_equal(raw(&head), 0);
	assert_null(rmap_get_first_lockless(0, &iter));
	assert_null(iter.freed);

	write_lock(&fix.w.kvm->mmu_lock);
	assert_int_equal(kvm_rmap_lock(fix.w.kvm, &head), 0);
	assert_int_equal(raw(&head), 0);
	kvm_rmap_unlock(fix.w.kvm, &head, 0);
	write_unlock(&fix.w.kvm->mmu_lock);
	assert_int_equal(raw(&head), 0);
	destroy();
}

/*
 * A reader's lock sets bit 1 and returns the chain without it; walks
 * under mmu_lock and counts ignore the bit; the unlock puts the word back.
 */
static void test_lock_readonly(void **state)
{
	static const unsigned int sizes[] = { 1, 3, 20 };
	static bool present[NR_SPTES], seen[NR_SPTES];
	unsigned int k, i;

	create();
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		unsigned int n = sizes[k];
		struct kvm_rmap_head head = { 0 };
		struct rmap_iterator iter;
		unsigned long before, val;

		memset(present, 0, sizeof(present));
		memset(seen, 0, sizeof(seen));
		add_n(&head, present, n);
		before = raw(&head);
		assert_int_equal(before & KVM_RMAP_LOCKED, 0);

		val = kvm_rmap_lock_readonly(&head);
		assert_int_equal(val, before);
		assert_int_equal(raw(&head), before | KVM_RMAP_LOCKED);
		assert_int_equal(kvm_rmap_get(&head), before);
		assert_int_equal(pte_list_count(&head), n);
		check_iter(&head, present, n);
		assert_int_equal(walk_lockless(val, seen, &iter), n);
		assert_null(iter.freed);
		for (i = 0; i < NR_SPTES; i++)
			assert_int_equal(seen[i], present[i]);

		kvm_rmap_unlock_readonly(&head, val);
		assert_int_equal(raw(&head), before);
		write_lock(&fix.w.kvm->mmu_lock);
		pte_list_destroy(fix.w.kvm, &head);
		write_unlock(&fix.w.kvm->mmu_lock);
	}
	destroy();
}

/* Changing a chain without mmu_lock held for write is a lock-rule violation. */
static void test_lock_needs_mmu_lock(void **state)
{
	struct kvm_rmap_head head = { 0 };

	unsigned long warns;

	create();
	topup(&cache);
	/* The lock and the unlock each assert it. */
	expect_warns(2);
	warns = kvmmu_warn_count();
	assert_int_equal(pte_list_add(fix.w.kvm, &cache, &sptes[0], &head), 0);
	assert_int_equal(kvmmu_warn_count() - warns, 2);
	assert_int_equal(raw(&head), (unsigned long)&sptes[0]);
	remove_locked(&sptes[0], &head);
	assert_int_equal(raw(&head), 0);
	destroy();
}

static struct kvm_rmap_head race_head;
static _Atomic bool writer_done;
static _Atomic unsigned long reader_saw;

static int removing_writer(void *arg)
{
	gate_mark_self();
	write_lock(&fix.w.kvm->mmu_lock);
	pte_list_remove(fix.w.kvm, &sptes[0], &race_head);
	write_unlock(&fix.w.kvm->mmu_lock);
	atomic_store(&writer_done, true);
	return 0;
}

/*
 * A writer (mmu_lock held) that wants a chain a reader holds waits: it is
 * seen spinning, the chain is unchanged for the reader, and the removal
 * happens only after the reader's unlock.
 */
static void test_writer_waits_for_reader(void **state)
{
	static bool present[NR_SPTES], seen[NR_SPTES];
	struct kvmmu_thread *t;
	struct rmap_iterator iter;
	unsigned long val;

	create();
	memset(&race_head, 0, sizeof(race_head));
	memset(present, 0, sizeof(present));
	memset(seen, 0, sizeof(seen));
	atomic_store(&writer_done, false);
	add_n(&race_head, present, 3);

	val = kvm_rmap_lock_readonly(&race_head);
	gate_install();
	gate_arm(SP_SPIN, false);
	assert_int_equal(kvmmu_thread_create(&t, "writer", 0, removing_writer, NULL), 0);
	gate_wait_arrival();
	/* The writer found the chain locked: it spins, and changed nothing. */
	assert_false(atomic_load(&writer_done));
	assert_int_equal(raw(&race_head), val | KVM_RMAP_LOCKED);
	gate_release();
	assert_int_equal(walk_lockless(val, seen, &iter), 3);
	assert_null(iter.freed);
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_false(atomic_load(&writer_done));

	kvm_rmap_unlock_readonly(&race_head, val);
	assert_int_equal(kvmmu_thread_join(t), 0);
	gate_remove();
	assert_true(atomic_load(&writer_done));
	assert_int_equal(pte_list_count(&race_head), 2);
	assert_int_equal(raw(&race_head) & KVM_RMAP_LOCKED, 0);
	write_lock(&fix.w.kvm->mmu_lock);
	pte_list_destroy(fix.w.kvm, &race_head);
	write_unlock(&fix.w.kvm->mmu_lock);
	destroy();
}

static int locking_reader(void *arg)
{
	unsigned long val;

	gate_mark_self();
	val = kvm_rmap_lock_readonly(&race_head);
	atomic_store(&reader_saw, val);
	kvm_rmap_unlock_readonly(&race_head, val);
	return 0;
}

/*
 * A reader waits for a writer that holds the chain, and then walks what
 * the writer left: a new value published by the writer's unlock.
 */
static void test_reader_waits_for_writer(void **state)
{
	static bool present[NR_SPTES];
	struct kvmmu_thread *t;
	unsigned long val;

	create();
	memset(&race_head, 0, sizeof(race_head));
	memset(present, 0, sizeof(present));
	atomic_store(&reader_saw, ~0UL);
	add_n(&race_head, present, 1);

	write_lock(&fix.w.kvm->mmu_lock);
	val = kvm_rmap_lock(fix.w.kvm, &race_head);
	assert_int_equal(val, (unsigned long)&sptes[0]);
	assert_int_equal(raw(&race_head), val | KVM_RMAP_LOCKED);
	gate_install();
	gate_arm(SP_SPIN, false);
	assert_int_equal(kvmmu_thread_create(&t, "reader", 0, locking_reader, NULL), 0);
	gate_wait_arrival();
	assert_int_equal(atomic_load(&reader_saw), ~0UL);
	gate_release();
	/* The writer replaces the only entry with another. */
	kvm_rmap_unlock(fix.w.kvm, &race_head, (unsigned long)&sptes[1]);
	write_unlock(&fix.w.kvm->mmu_lock);
	assert_int_equal(kvmmu_thread_join(t), 0);
	gate_remove();
	assert_int_equal(atomic_load(&reader_saw), (unsigned long)&sptes[1]);
	assert_int_equal(raw(&race_head), (unsigned long)&sptes[1]);
	remove_locked(&sptes[1], &race_head);
	assert_int_equal(raw(&race_head), 0);
	destroy();
}

/* The quarantine's length, every descriptor in it poisoned. */
static unsigned int quarantined(void)
{
	struct pte_list_desc *desc = atomic_load(&fix.w.kvm->arch.pte_list_quarantine);
	unsigned int n = 0, i;

	for (; desc; desc = desc->more, n++) {
		assert_int_equal(desc->spte_count, PTE_LIST_DESC_POISON);
		assert_int_equal(desc->tail_count, PTE_LIST_DESC_POISON);
		for (i = 0; i < PTE_LIST_EXT; i++)
			assert_null(desc->sptes[i]);
	}
	return n;
}

/*
 * What a walker that skips the lock meets (the mutant aging-no-rmap-lock):
 * it took the chain's value, a writer then emptied the chain and freed its
 * descriptor.  The walk reads the poison and stops with iter.freed set,
 * and the descriptor's memory is still there, in the quarantine.
 */
static void test_walk_without_lock_reads_poison(void **state)
{
	static bool present[NR_SPTES], seen[NR_SPTES];
	struct kvm_rmap_head head = { 0 };
	struct pte_list_desc *desc;
	struct rmap_iterator iter;
	unsigned int i, q0;
	unsigned long stale;
	s64 base;

	create();
	memset(present, 0, sizeof(present));
	memset(seen, 0, sizeof(seen));
	base = live_descs();
	q0 = quarantined();
	add_n(&head, present, 4);
	desc = head_desc(&head);

	kvm_rmap_walk_lockless_begin(fix.w.kvm);
	stale = kvm_rmap_get(&head);
	/* The walk gets the first entry, then the writer runs. */
	assert_ptr_equal(rmap_get_first_lockless(stale, &iter), &sptes[0]);
	for (i = 0; i < 4; i++)
		remove_locked(&sptes[i], &head);
	assert_int_equal(raw(&head), 0);
	assert_int_equal(live_descs(), base);
	assert_null(rmap_get_next_lockless(&iter));
	assert_ptr_equal(iter.freed, desc);
	assert_int_equal(quarantined(), q0 + 1);
	/* From the start, the same. */
	assert_int_equal(walk_lockless(stale, seen, &iter), 0);
	assert_ptr_equal(iter.freed, desc);
	kvm_rmap_walk_lockless_end(fix.w.kvm);
	destroy();
}

/*
 * Freed descriptors stay quarantined while a lockless walker runs and are
 * freed in batches once none does.
 */
static void test_quarantine_waits_for_walkers(void **state)
{
	static bool present[NR_SPTES];
	struct kvm_rmap_head head = { 0 };
	const unsigned int n = 1000;
	s64 descs = descs_for(n), base;
	unsigned int q0;

	create();
	assert_true(descs >= 64);
	base = live_descs();
	q0 = quarantined();
	kvm_rmap_walk_lockless_begin(fix.w.kvm);
	add_n(&head, present, n);
	write_lock(&fix.w.kvm->mmu_lock);
	pte_list_destroy(fix.w.kvm, &head);
	write_unlock(&fix.w.kvm->mmu_lock);
	assert_int_equal(live_descs(), base);
	assert_int_equal(quarantined(), q0 + descs);
	kvm_rmap_walk_lockless_end(fix.w.kvm);

	/* No walker now: the next batch of frees empties it. */
	memset(present, 0, sizeof(present));
	add_n(&head, present, n);
	write_lock(&fix.w.kvm->mmu_lock);
	pte_list_destroy(fix.w.kvm, &head);
	write_unlock(&fix.w.kvm->mmu_lock);
	assert_int_equal(quarantined(), 0);
	destroy();
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_empty),
	KVMMU_TEST(test_add_and_iterate),
	KVMMU_TEST(test_remove_random_order),
	KVMMU_TEST(test_remove_fills_hole_from_head),
	KVMMU_TEST(test_destroy),
	KVMMU_TEST(test_beyond_recycle_threshold),
	KVMMU_TEST(test_lock_empty_chain),
	KVMMU_TEST(test_lock_readonly),
	KVMMU_TEST(test_lock_needs_mmu_lock),
	KVMMU_TEST(test_writer_waits_for_reader),
	KVMMU_TEST(test_reader_waits_for_writer),
	KVMMU_TEST(test_walk_without_lock_reads_poison),
	KVMMU_TEST(test_quarantine_waits_for_walkers),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
