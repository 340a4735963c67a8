// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memslots: KVM_SET_USER_MEMORY_REGION2's validation, errno by errno; the
 * create/delete/move/flags sequences under concurrent lookups (generations,
 * the INVALID window); hva lookups; updates waiting for notifier
 * invalidations; the quirk capability.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm_host.h"
#include "srcu.h"
#include "test.h"
#include "thread.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define GB (1UL << 30)

static struct vm_fixture fix;

static int setup_vm(void **state)
{
	struct vm_fixture_opts o = { .nr_vcpus = 0 };

	if (vm_fixture_create(&fix, &o))
		return -1;
	return kvmmu_test_setup(state);
}

static int teardown_vm(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define VM_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_vm, teardown_vm)

static int set_region(u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return kvmmu_set_user_memory_region2(fix.w.kvm, &m);
}

struct region_case {
	const char *what;
	u32 slot, flags;
	u64 gpa, size, hva;
	int expect;
};

/*
 * Slot 0 exists at gpa 1 GiB, 2 MiB, hva 0x7f0000000000, read-write, when
 * the cases run.
 */
#define S0_GPA GB
#define S0_SIZE (2 * MB)
#define S0_HVA 0x7f0000000000UL

static const struct region_case cases[] = {
	{ "unknown flag", 5, 1u << 5, 0, MB, 0x10000000, -EINVAL },
	{ "guest_memfd flag", 5, KVM_MEM_GUEST_MEMFD, 0, MB, 0x10000000, -EINVAL },
	{ "size not page aligned", 5, 0, 0, MB + 1, 0x10000000, -EINVAL },
	{ "gpa not page aligned", 5, 0, 0x800, MB, 0x10000000, -EINVAL },
	{ "hva not page aligned", 5, 0, 0, MB, 0x10000010, -EINVAL },
	{ "hva above the user address limit", 5, 0, 0, MB, 1UL << 48, -EINVAL },
	{ "hva + size above the limit", 5, 0, 0, 2 * MB, (1UL << 47) - MB, -EINVAL },
	{ "hva + size in the last user page", 5, 0, 0, 4096, (1UL << 47) - 4096, -EINVAL },
	{ "address space 2", (2u << 16) | 5, 0, 0, MB, 0x10000000, -EINVAL },
	{ "a KVM-internal slot id", KVM_USER_MEM_SLOTS, 0, 0, MB, 0x10000000, -EINVAL },
	{ "slot id 0xffff", 0xffff, 0, 0, MB, 0x10000000, -EINVAL },
	{ "gpa + size wraps", 5, 0, ~0ULL & PAGE_MASK, 2 * PAGE_SIZE, 0x10000000, -EINVAL },
	{ "more than KVM_MEM_MAX_NR_PAGES", 5, 0, 0, 1ULL << 43, 0x10000000, -EINVAL },
	{ "gpa above host MAXPHYADDR", 5, 0, 1ULL << 46, MB, 0x10000000, -EINVAL },
	{ "delete of a slot that does not exist", 7, 0, 0, 0, 0, -EINVAL },
	{ "overlap at the start", 5, 0, S0_GPA - MB, 2 * MB, 0x10000000, -EEXIST },
	{ "overlap at the end", 5, 0, S0_GPA + MB, 2 * MB, 0x10000000, -EEXIST },
	{ "overlap inside", 5, 0, S0_GPA + PAGE_SIZE, PAGE_SIZE, 0x10000000, -EEXIST },
	{ "overlap around", 5, 0, S0_GPA - MB, 4 * MB, 0x10000000, -EEXIST },
	{ "live slot: new size", 0, 0, S0_GPA, 4 * MB, S0_HVA, -EINVAL },
	{ "live slot: new hva", 0, 0, S0_GPA, S0_SIZE, S0_HVA + 2 * MB, -EINVAL },
	{ "live slot: becomes read-only", 0, KVM_MEM_READONLY, S0_GPA, S0_SIZE, S0_HVA, -EINVAL },
	{ "live slot: moves over another", 0, 0, 0, S0_SIZE, S0_HVA, -EEXIST },
	{ "live slot: nothing changes", 0, 0, S0_GPA, S0_SIZE, S0_HVA, 0 },
	{ "adjacent below", 2, 0, S0_GPA - MB, MB, 0x20000000, 0 },
	{ "adjacent above", 3, 0, S0_GPA + S0_SIZE, MB, 0x30000000, 0 },
	{ "address space 1 may overlap address space 0", (1u << 16) | 0, 0, S0_GPA, S0_SIZE,
	  S0_HVA, 0 },
};

static void test_region_errnos(void **state)
{
	size_t i;

	assert_int_equal(set_region(0, 0, S0_GPA, S0_SIZE, S0_HVA), 0);
	/* Slot 1 sits at gpa 0 for the move case. */
	assert_int_equal(set_region(1, 0, 0, S0_SIZE, 0x40000000), 0);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct region_case *c = &cases[i];
		int r = set_region(c->slot, c->flags, c->gpa, c->size, c->hva);

		if (r != c->expect)
			fail_msg("%s: got %d, KVM returns %d", c->what, r, c->expect);
	}
	/* The failed calls changed nothing. */
	assert_int_equal(__kvm_memslots(fix.w.kvm, 0)->nr, 4);
	assert_int_equal(__kvm_memslots(fix.w.kvm, 1)->nr, 1);
	assert_int_equal(fix.w.kvm->nr_memslot_pages, (2 * S0_SIZE + 2 * MB + S0_SIZE) >> PAGE_SHIFT);
	/* The v1 call takes the same path. */
	{
		struct kvm_userspace_memory_region m = {
			.slot = 9, .guest_phys_addr = 0x800, .memory_size = MB,
			.userspace_addr = 0x50000000,
		};

		assert_int_equal(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EINVAL);
		m.guest_phys_addr = 8 * GB;
		assert_int_equal(kvmmu_set_user_memory_region(fix.w.kvm, &m), 0);
	}
}

/* Lookups by gfn and hva, and the last-used cache. */
/*
 * kvm_mmu_max_gfn(): with TDP the host MAXPHYADDR (46 here) bounds a slot;
 * under shadow paging 52 bits do, what a gPTE's frame number holds.
 */
static void test_max_gfn_follows_the_mmu(void **state)
{
	struct vm_fixture shadow;
	struct vm_fixture_opts o = { .nr_vcpus = 0, .mmu = WORLD_MMU_SHADOW };
	struct kvm_userspace_memory_region2 m = {
		.slot = 5, .guest_phys_addr = 1ULL << 46, .memory_size = MB,
		.userspace_addr = 0x10000000,
	};

	assert_int_equal(kvmmu_set_user_memory_region2(fix.w.kvm, &m), -EINVAL);
	assert_int_equal(vm_fixture_create(&shadow, &o), 0);
	assert_int_equal(kvmmu_set_user_memory_region2(shadow.w.kvm, &m), 0);
	m.slot = 6;
	m.guest_phys_addr = (1ULL << 52) - MB;
	m.userspace_addr = 0x20000000;
	assert_int_equal(kvmmu_set_user_memory_region2(shadow.w.kvm, &m), 0);
	m.slot = 7;
	m.guest_phys_addr = 1ULL << 52;
	assert_int_equal(kvmmu_set_user_memory_region2(shadow.w.kvm, &m), -EINVAL);
	assert_int_equal(vm_fixture_destroy(&shadow), 0);
}

/*
 * One address space, as in a KVM without CONFIG_KVM_SMM: a slot or a dirty
 * log of address space 1 is -EINVAL, and KVM_CHECK_EXTENSION says so.
 */
static void test_one_address_space(void **state)
{
	struct vm_fixture one;
	struct vm_fixture_opts o = { .nr_vcpus = 0, .nr_address_spaces = 1 };
	struct kvm_userspace_memory_region2 m = {
		.slot = (1u << 16) | 2, .guest_phys_addr = 0, .memory_size = MB,
		.userspace_addr = 0x10000000, .flags = KVM_MEM_LOG_DIRTY_PAGES,
	};
	unsigned long bitmap[4];
	struct kvm_dirty_log log = { .slot = (1u << 16) | 2, .dirty_bitmap = bitmap };

	/* The default VM has both. */
	assert_int_equal(kvmmu_vm_check_extension(fix.w.kvm, KVM_CAP_MULTI_ADDRESS_SPACE), 2);
	assert_int_equal(kvmmu_vm_check_extension(fix.w.kvm, KVM_CAP_X86_SMM), 1);
	assert_int_equal(kvmmu_set_user_memory_region2(fix.w.kvm, &m), 0);
	assert_int_equal(kvmmu_get_dirty_log(fix.w.kvm, &log), 0);

	assert_int_equal(vm_fixture_create(&one, &o), 0);
	assert_int_equal(kvmmu_vm_check_extension(one.w.kvm, KVM_CAP_MULTI_ADDRESS_SPACE), 0);
	assert_int_equal(kvmmu_vm_check_extension(one.w.kvm, KVM_CAP_X86_SMM), 0);
	assert_int_equal(kvmmu_vm_check_extension(one.w.kvm, KVM_CAP_NR_MEMSLOTS),
			 KVM_USER_MEM_SLOTS);
	assert_int_equal(kvmmu_set_user_memory_region2(one.w.kvm, &m), -EINVAL);
	assert_int_equal(kvmmu_get_dirty_log(one.w.kvm, &log), -EINVAL);
	m.slot = 2;
	log.slot = 2;
	assert_int_equal(kvmmu_set_user_memory_region2(one.w.kvm, &m), 0);
	assert_int_equal(kvmmu_get_dirty_log(one.w.kvm, &log), 0);
	assert_int_equal(vm_fixture_destroy(&one), 0);

	o.nr_address_spaces = 3;
	assert_int_not_equal(vm_fixture_create(&one, &o), 0);
}

static void test_lookups(void **state)
{
	struct kvm_memslots *slots;
	struct kvm_memory_slot *s;
	int idx;

	assert_int_equal(set_region(3, 0, 4 * MB, 2 * MB, 0x10000000), 0);
	assert_int_equal(set_region(1, 0, 0, MB, 0x20000000), 0);
	assert_int_equal(set_region(2, KVM_MEM_READONLY, 16 * MB, MB, 0x08000000), 0);

	idx = srcu_read_lock(&fix.w.kvm->srcu);
	slots = kvm_memslots(fix.w.kvm);
	assert_int_equal(slots->nr, 3);
	s = gfn_to_memslot(fix.w.kvm, gpa_to_gfn(4 * MB + 5 * PAGE_SIZE));
	assert_non_null(s);
	assert_int_equal(s->id, 3);
	assert_ptr_equal(atomic_load(&slots->last_used_slot), s);
	assert_null(gfn_to_memslot(fix.w.kvm, gpa_to_gfn(MB)));
	assert_null(gfn_to_memslot(fix.w.kvm, gpa_to_gfn(6 * MB)));
	s = gfn_to_memslot(fix.w.kvm, gpa_to_gfn(6 * MB - PAGE_SIZE));
	assert_int_equal(s->id, 3);
	assert_int_equal(gfn_to_memslot(fix.w.kvm, 0)->id, 1);
	assert_true(gfn_to_memslot(fix.w.kvm, gpa_to_gfn(16 * MB))->flags & KVM_MEM_READONLY);
	assert_int_equal(id_to_memslot(slots, 2)->base_gfn, gpa_to_gfn(16 * MB));
	assert_null(id_to_memslot(slots, 4));
	assert_true(kvm_is_visible_gfn(fix.w.kvm, 0));
	assert_false(kvm_is_visible_gfn(fix.w.kvm, gpa_to_gfn(3 * MB)));
	srcu_read_unlock(&fix.w.kvm->srcu, idx);
}

static void count_slot(struct kvm_memory_slot *slot, void *arg)
{
	u64 *mask = arg;

	*mask |= 1ULL << slot->id;
}

static u64 hva_lookup(unsigned long start, unsigned long end)
{
	u64 mask = 0;
	int idx = srcu_read_lock(&fix.w.kvm->srcu);

	kvm_for_each_memslot_in_hva_range(kvm_memslots(fix.w.kvm), start, end, count_slot, &mask);
	srcu_read_unlock(&fix.w.kvm->srcu, idx);
	return mask;
}

static void test_hva_lookup(void **state)
{
	/* A big slot low in the hva space and small ones above and inside its hva range. */
	assert_int_equal(set_region(0, 0, 0, 64 * MB, 0x10000000), 0);
	assert_int_equal(set_region(1, 0, GB, MB, 0x10100000), 0); /* aliases slot 0's hva */
	assert_int_equal(set_region(2, 0, 2 * GB, MB, 0x20000000), 0);

	assert_int_equal(hva_lookup(0x10100000, 0x10100000 + PAGE_SIZE), 0x3);
	assert_int_equal(hva_lookup(0x13000000, 0x13001000), 0x1);
	assert_int_equal(hva_lookup(0x20000000, 0x20001000), 0x4);
	assert_int_equal(hva_lookup(0x0, 0x10000000), 0x0);
	assert_int_equal(hva_lookup(0x14000000, 0x20000000), 0x0);
	assert_int_equal(hva_lookup(0x0, 0x30000000), 0x7);
}

/* ---- sequences under concurrent lookups ------------------------------------------------- */

enum { PHASE_IDLE, PHASE_CHANGING };

static _Atomic int phase;
static _Atomic bool stop_readers;

struct reader_stats {
	u64 lookups, hits, invalid_seen;
	int errors;
	char error[128];
};

static struct reader_stats rstats[2];
static _Atomic int readers_started;

static int reader_fn(void *arg)
{
	struct reader_stats *st = arg;
	u64 last_gen = 0, seed = (u64)(uintptr_t)arg;

	while (!atomic_load(&stop_readers)) {
		int idx = srcu_read_lock(&fix.w.kvm->srcu);
		struct kvm_memslots *slots = kvm_memslots(fix.w.kvm);
		u64 gen = READ_ONCE(slots->generation);
		gfn_t gfn;
		struct kvm_memory_slot *s;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		gfn = (seed >> 33) % gpa_to_gfn(64 * MB);
		s = __gfn_to_memslot(slots, gfn);
		st->lookups++;
		/* Generations only go up (ignoring the in-progress bit). */
		if ((gen & ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS) < last_gen && !st->errors++)
			snprintf(st->error, sizeof(st->error), "generation went back");
		last_gen = gen & ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS;
		if (s) {
			st->hits++;
			if ((gfn < s->base_gfn || gfn >= s->base_gfn + s->npages) && !st->errors++)
				snprintf(st->error, sizeof(st->error), "slot %d does not hold gfn %#llx",
					 s->id, (unsigned long long)gfn);
			/*
			 * The writer cannot have finished the update that made
			 * the slot INVALID while we hold SRCU.
			 */
			if (kvm_is_slot_invalid(s)) {
				st->invalid_seen++;
				if (atomic_load(&phase) != PHASE_CHANGING && !st->errors++)
					snprintf(st->error, sizeof(st->error),
						 "INVALID slot outside a delete/move");
			}
		}
		srcu_read_unlock(&fix.w.kvm->srcu, idx);
		if (st->lookups == 1)
			atomic_fetch_add(&readers_started, 1);
	}
	return 0;
}

static void change(u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	u64 gen = kvm_memslots(fix.w.kvm)->generation;

	atomic_store(&phase, PHASE_CHANGING);
	assert_int_equal(set_region(slot, flags, gpa, size, hva), 0);
	atomic_store(&phase, PHASE_IDLE);
	/* Each swap moves the generation by the number of address spaces. */
	assert_true(kvm_memslots(fix.w.kvm)->generation > gen);
	assert_false(kvm_memslots(fix.w.kvm)->generation & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	assert_int_equal(kvm_memslots(fix.w.kvm)->generation % KVM_ADDRESS_SPACE_NUM, 0);
}

static void test_sequences_under_readers(void **state)
{
	struct kvmmu_thread *t[2];
	u64 rounds = scaled(50, 400, 4000), i;
	int j;

	atomic_store(&stop_readers, false);
	atomic_store(&readers_started, 0);
	memset(rstats, 0, sizeof(rstats));
	for (j = 0; j < 2; j++)
		assert_int_equal(kvmmu_thread_create(&t[j], "reader", 0, reader_fn, &rstats[j]), 0);
	while (atomic_load(&readers_started) < 2)
		sched_yield();

	for (i = 0; i < rounds; i++) {
		u64 base = (i % 4) * 8 * MB;
		struct kvm_memory_slot *s;
		int idx;

		change(0, 0, base, 4 * MB, 0x10000000);                        /* create */
		change(0, KVM_MEM_LOG_DIRTY_PAGES, base, 4 * MB, 0x10000000);  /* flags */
		change(0, KVM_MEM_LOG_DIRTY_PAGES, base + 32 * MB, 4 * MB, 0x10000000); /* move */
		idx = srcu_read_lock(&fix.w.kvm->srcu);
		s = gfn_to_memslot(fix.w.kvm, gpa_to_gfn(base + 32 * MB));
		assert_non_null(s);
		assert_false(kvm_is_slot_invalid(s));
		assert_non_null(s->dirty_bitmap);
		assert_null(gfn_to_memslot(fix.w.kvm, gpa_to_gfn(base)));
		srcu_read_unlock(&fix.w.kvm->srcu, idx);
		change(0, 0, base + 32 * MB, 4 * MB, 0x10000000);              /* flags */
		change(0, 0, 0, 0, 0);                                         /* delete */
		idx = srcu_read_lock(&fix.w.kvm->srcu);
		assert_null(gfn_to_memslot(fix.w.kvm, gpa_to_gfn(base + 32 * MB)));
		assert_int_equal(kvm_memslots(fix.w.kvm)->nr, 0);
		srcu_read_unlock(&fix.w.kvm->srcu, idx);
	}
	atomic_store(&stop_readers, true);
	for (j = 0; j < 2; j++) {
		assert_int_equal(kvmmu_thread_join(t[j]), 0);
		if (rstats[j].errors)
			fail_msg("reader %d: %s", j, rstats[j].error);
		assert_true(rstats[j].lookups > 0);
	}
	/* Both sets were freed with their slots: nothing is counted any more. */
	assert_int_equal(fix.w.kvm->nr_memslot_pages, 0);
	assert_int_equal(fix.w.kvm->nr_memslots_dirty_logging, 0);
}

/* ---- updates wait for notifier invalidations ----------------------------------------------- */

static _Atomic bool update_done;

static int updater_fn(void *arg)
{
	int r = set_region(5, 0, 128 * MB, MB, 0x60000000);

	atomic_store(&update_done, true);
	return r;
}

static void test_update_waits_for_invalidation(void **state)
{
	struct mmu_notifier *mn = &fix.w.kvm->mmu_notifier;
	struct mmu_notifier_range range = {
		.mm = fix.w.mm, .start = 0x10000000, .end = 0x10001000,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	struct kvmmu_thread *t;

	assert_int_equal(set_region(0, 0, 0, MB, 0x10000000), 0);
	/* An invalidation of slot 0's memory is in flight ... */
	assert_int_equal(mn->ops->invalidate_range_start(mn, &range), 0);
	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 1);
	assert_int_equal(fix.w.kvm->mn_active_invalidate_count, 1);

	/* ... so an update cannot swap the memslots until it ends. */
	atomic_store(&update_done, false);
	assert_int_equal(kvmmu_thread_create(&t, "updater", 0, updater_fn, NULL), 0);
	usleep(50 * 1000);
	assert_false(atomic_load(&update_done));

	mn->ops->invalidate_range_end(mn, &range);
	assert_int_equal(kvmmu_thread_join(t), 0);
	assert_true(atomic_load(&update_done));
	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 0);
}

/* Ranges that touch no memslot neither take mmu_lock nor count as in progress. */
static void test_invalidation_outside_slots(void **state)
{
	struct mmu_notifier *mn = &fix.w.kvm->mmu_notifier;
	struct mmu_notifier_range range = {
		.mm = fix.w.mm, .start = 0x70000000, .end = 0x70200000,
		.flags = MMU_NOTIFIER_RANGE_BLOCKABLE, .event = MMU_NOTIFY_CLEAR,
	};
	u64 seq = fix.w.kvm->mmu_invalidate_seq;

	assert_int_equal(set_region(0, 0, 0, MB, 0x10000000), 0);
	assert_int_equal(mn->ops->invalidate_range_start(mn, &range), 0);
	assert_int_equal(fix.w.kvm->mmu_invalidate_in_progress, 0);
	mn->ops->invalidate_range_end(mn, &range);
	assert_int_equal(fix.w.kvm->mmu_invalidate_seq, seq);
}

/* ---- capabilities ---------------------------------------------------------------------------- */

static void test_quirks_cap(void **state)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DISABLE_QUIRKS2 };

	assert_true(kvm_check_has_quirk(fix.w.kvm, KVM_X86_QUIRK_SLOT_ZAP_ALL));
	cap.args[0] = 1ULL << 30;
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
	cap.args[0] = KVM_X86_QUIRK_SLOT_ZAP_ALL;
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), 0);
	assert_false(kvm_check_has_quirk(fix.w.kvm, KVM_X86_QUIRK_SLOT_ZAP_ALL));

	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { 4 } };
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
	/* INITIALLY_SET alone is no mode KVM has. */
	cap.args[0] = KVM_DIRTY_LOG_INITIALLY_SET;
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
	cap.args[0] = KVM_DIRTY_LOG_INITIALLY_SET | KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), 0);
	cap = (struct kvm_enable_cap){ .cap = 12345 };
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
}

static void test_dirty_ring_cap(void **state)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING };
	struct kvm_vcpu *vcpu;

	cap.args[0] = 3 * PAGE_SIZE; /* not a power of 2 */
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
	cap.args[0] = 512; /* below a page and the reserved entries */
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL);
	cap.args[0] = 1u << 24; /* more than KVM_DIRTY_RING_MAX_ENTRIES */
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -E2BIG);
	cap.args[0] = 4 * PAGE_SIZE;
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), 0);
	assert_int_equal(kvmmu_vm_enable_cap(fix.w.kvm, &cap), -EINVAL); /* once */
	assert_int_equal(kvmmu_vcpu_create(fix.w.kvm, 0, &vcpu), 0);
	fix.w.vcpus[0] = vcpu;
	fix.w.nr_vcpus = 1;
	assert_int_equal(kvmmu_vcpu_create(fix.w.kvm, 0, &vcpu), -EEXIST);
	assert_int_equal(kvmmu_vcpu_create(fix.w.kvm, KVM_MAX_VCPUS, &vcpu), -EINVAL);
	{
		u32 n;

		assert_non_null(kvmmu_vcpu_dirty_ring(fix.w.vcpus[0], &n));
		assert_int_equal(n, 4 * PAGE_SIZE / sizeof(struct kvm_dirty_gfn));
	}
}

static const struct CMUnitTest tests[] = {
	VM_TEST(test_region_errnos),
	VM_TEST(test_max_gfn_follows_the_mmu),
	VM_TEST(test_one_address_space),
	VM_TEST(test_lookups),
	VM_TEST(test_hva_lookup),
	VM_TEST(test_sequences_under_readers),
	VM_TEST(test_update_waits_for_invalidation),
	VM_TEST(test_invalidation_outside_slots),
	VM_TEST(test_quirks_cap),
	VM_TEST(test_dirty_ring_cap),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
