// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public API at its bounds: every entry point of include/kvmmu/kvm.h fed
 * 0, 1, the largest valid value and one past it, values that wrap, are
 * misaligned or NULL, each answered with the errno KVM gives
 * (docs/api-errors.md).  After every rejected call a clean access pass
 * shows the VM unharmed: its vCPU reads back, through the memslot, what it
 * wrote before, writes anew, and the host sees the new data.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu_internal.h"
#include "shadow_mmu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)
#define NPAGES 512 /* the fixture's slot 0: 2 MiB at gpa 0 */
#define SLOT_BYTES ((u64)NPAGES * PAGE_SIZE)

static struct vm_fixture fix;
static bool fix_up;

/* The pages the clean pass goes through, and what each must hold. */
static const unsigned int pass_pages[] = { 0, 1, 63, 64, 255, 256, 510, 511 };
#define NR_PASS ARRAY_SIZE(pass_pages)
static u64 pass_want[NR_PASS];
static u64 pass_gen;

static void create_opts(struct vm_fixture_opts *o)
{
	if (!o->mem_size)
		o->mem_size = SLOT_BYTES;
	if (!o->nr_vcpus)
		o->nr_vcpus = 1;
	assert_int_equal(vm_fixture_create(&fix, o), 0);
	fix_up = true;
	memset(pass_want, 0, sizeof(pass_want));
}

static void create(u32 slot_flags)
{
	struct vm_fixture_opts o = { .slot_flags = slot_flags };

	create_opts(&o);
}

static int teardown_fix(void **state)
{
	int r = 0;

	if (fix_up && vm_fixture_destroy(&fix))
		r = -1;
	fix_up = false;
	if (kvmmu_test_teardown(state))
		r = -1;
	return r;
}

#define BOUNDS_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

/*
 * vCPU 0 reads each pass page (it must hold what the last pass wrote),
 * writes a new value and reads it back; the host must see the new value.
 */
static void clean_pass(void)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[0];
	size_t i;

	pass_gen++;
	hv->len = 0;
	hv->pc = 0;
	for (i = 0; i < NR_PASS; i++) {
		gpa_t gpa = (u64)pass_pages[i] * PAGE_SIZE;

		fake_hw_push(hv, FAKE_READ, gpa, ~0ULL);
		fake_hw_push(hv, FAKE_WRITE, gpa, (pass_gen << 32) | pass_pages[i]);
		fake_hw_push(hv, FAKE_READ, gpa, ~0ULL);
	}
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	for (i = 0; i < NR_PASS; i++) {
		u64 want = (pass_gen << 32) | pass_pages[i];

		if (hv->prog[3 * i].value != pass_want[i])
			fail_msg("page %u held %#llx, expected %#llx", pass_pages[i],
				 (unsigned long long)hv->prog[3 * i].value,
				 (unsigned long long)pass_want[i]);
		assert_int_equal(hv->prog[3 * i + 2].value, want);
		assert_int_equal(fix_host_read(&fix, (u64)pass_pages[i] * PAGE_SIZE), want);
		pass_want[i] = want;
	}
}

static int pre_fault(u64 gpa, u64 size, u64 flags, struct kvm_pre_fault_memory *out);

/* A rejected call must leave the VM working. */
#define assert_rejected(call, err)                                            \
	do {                                                                  \
		assert_int_equal((call), (err));                              \
		clean_pass();                                                 \
	} while (0)

static unsigned long hva0(void)
{
	return fix.w.cfg.mem[0].hva;
}

static int region2_on(struct kvm *kvm, u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = hva,
	};

	return kvmmu_set_user_memory_region2(kvm, &m);
}

static int region2(u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	return region2_on(fix.w.kvm, slot, flags, gpa, size, hva);
}

/* A configuration for a second VM beside the fixture's, on its host. */
static void vm_config(struct kvmmu_vm_config *cfg)
{
	kvmmu_vm_config_init(cfg);
	cfg->mm = fix.w.mm;
	cfg->host_ops = fix.w.cfg.host_ops;
	cfg->hw_ops = &fake_hw_ops;
	cfg->hw = &fix.hw;
}

/* ---- KVM_CREATE_VM and the config ------------------------------------------------ */

static void test_vm_config_init(void **state)
{
	struct kvmmu_vm_config cfg;

	create(0);
	clean_pass();
	kvmmu_vm_config_init(NULL);
	clean_pass();
	memset(&cfg, 0xa5, sizeof(cfg));
	kvmmu_vm_config_init(&cfg);
	assert_int_equal(cfg.type, KVM_X86_DEFAULT_VM);
	assert_int_equal(cfg.tdp_level, 4);
	assert_int_equal(cfg.phys_bits, 46);
	assert_true(cfg.tdp_mmu && cfg.tdp_enabled);
	assert_null(cfg.mm);
	clean_pass();
}

struct cfg_case {
	const char *what;
	void (*edit)(struct kvmmu_vm_config *cfg);
	int expect;
};

/* One edit of a valid configuration. */
#define CFG_EDIT(name, edit)                                                  \
	static void name(struct kvmmu_vm_config *c)                           \
	{                                                                     \
		edit;                                                         \
	}

CFG_EDIT(c_type1, c->type = 1)
CFG_EDIT(c_type_max, c->type = ULONG_MAX)
CFG_EDIT(c_no_mm, c->mm = NULL)
CFG_EDIT(c_no_host, c->host_ops = NULL)
CFG_EDIT(c_no_hw, c->hw_ops = NULL)
CFG_EDIT(c_format, c->format = (enum kvmmu_tdp_format)2)
CFG_EDIT(c_level0, c->tdp_level = 0)
CFG_EDIT(c_level3, c->tdp_level = 3)
CFG_EDIT(c_level6, c->tdp_level = 6)
CFG_EDIT(c_level5, c->tdp_level = 5)
CFG_EDIT(c_bits35, c->phys_bits = 35)
CFG_EDIT(c_bits36, c->phys_bits = 36)
CFG_EDIT(c_bits52, c->phys_bits = 52)
CFG_EDIT(c_bits53, c->phys_bits = 53)
CFG_EDIT(c_bits_neg, c->phys_bits = INT_MIN)
CFG_EDIT(c_npt_no_ad, c->format = KVMMU_TDP_NPT; c->ad_disabled = true)
CFG_EDIT(c_npt_pml, c->format = KVMMU_TDP_NPT; c->pml = true)
CFG_EDIT(c_pml_no_ad, c->pml = true; c->ad_disabled = true)
CFG_EDIT(c_gen_odd, c->memslot_generation_start = 1)
CFG_EDIT(c_gen_bit63, c->memslot_generation_start = BIT_ULL(63))
CFG_EDIT(c_gen_max, c->memslot_generation_start = ~0ULL - 1)
CFG_EDIT(c_gen_ok, c->memslot_generation_start = BIT_ULL(63) - 2)
CFG_EDIT(c_seq_max, c->mmu_invalidate_seq_start = ~0ULL)

static const struct cfg_case cfg_cases[] = {
	{ "type 1", c_type1, -EINVAL },
	{ "type ULONG_MAX", c_type_max, -EINVAL },
	{ "no mm", c_no_mm, -EINVAL },
	{ "no host ops", c_no_host, -EINVAL },
	{ "no hw ops", c_no_hw, -EINVAL },
	{ "format 2", c_format, -EINVAL },
	{ "tdp_level 0", c_level0, -EINVAL },
	{ "tdp_level 3", c_level3, -EINVAL },
	{ "tdp_level 6", c_level6, -EINVAL },
	{ "tdp_level 5", c_level5, 0 },
	{ "phys_bits 35", c_bits35, -EINVAL },
	{ "phys_bits 36", c_bits36, 0 },
	{ "phys_bits 52", c_bits52, 0 },
	{ "phys_bits 53", c_bits53, -EINVAL },
	{ "phys_bits INT_MIN", c_bits_neg, -EINVAL },
	{ "NPT without A/D", c_npt_no_ad, -EINVAL },
	{ "NPT with PML", c_npt_pml, -EINVAL },
	{ "PML without A/D", c_pml_no_ad, -EINVAL },
	{ "generation not a multiple of the address spaces", c_gen_odd, -EINVAL },
	{ "generation with the update bit", c_gen_bit63, -EINVAL },
	{ "generation 2^64 - 2", c_gen_max, -EINVAL },
	{ "generation 2^63 - 2", c_gen_ok, 0 },
	{ "invalidate seq 2^64 - 1", c_seq_max, 0 },
};

static void test_vm_create(void **state)
{
	struct kvmmu_vm_config cfg;
	struct kvm *kvm;
	size_t i;

	create(0);
	clean_pass();
	vm_config(&cfg);
	assert_rejected(kvmmu_vm_create(NULL, &kvm), -EFAULT);
	assert_rejected(kvmmu_vm_create(&cfg, NULL), -EFAULT);
	for (i = 0; i < ARRAY_SIZE(cfg_cases); i++) {
		const struct cfg_case *c = &cfg_cases[i];
		int r;

		vm_config(&cfg);
		c->edit(&cfg);
		kvm = (struct kvm *)(uintptr_t)0x5a5a;
		r = kvmmu_vm_create(&cfg, &kvm);
		if (r != c->expect)
			fail_msg("%s: KVM_CREATE_VM returned %d, expected %d", c->what, r,
				 c->expect);
		if (r)
			assert_ptr_equal(kvm, (struct kvm *)(uintptr_t)0x5a5a);
		else
			kvmmu_vm_destroy(kvm);
		clean_pass();
	}
}

static void test_vm_destroy(void **state)
{
	create(0);
	clean_pass();
	kvmmu_vm_destroy(NULL);
	clean_pass();
}

/* ---- KVM_ENABLE_CAP ---------------------------------------------------------------- */

static int enable_cap(struct kvm *kvm, u32 cap, u32 flags, u64 arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .flags = flags, .args = { arg0 } };

	return kvmmu_vm_enable_cap(kvm, &c);
}

static void test_enable_cap(void **state)
{
	const u64 enable = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	const u64 init_set = KVM_DIRTY_LOG_INITIALLY_SET;
	struct kvm_enable_cap c = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	struct kvm *kvm = NULL;
	struct kvmmu_vm_config cfg;

	create(0);
	clean_pass();
	assert_rejected(kvmmu_vm_enable_cap(NULL, &c), -EBADF);
	assert_rejected(kvmmu_vm_enable_cap(fix.w.kvm, NULL), -EFAULT);
	assert_rejected(kvmmu_vm_enable_cap(fix.w.kvm, (void *)(uintptr_t)8), -EFAULT);
	assert_rejected(enable_cap(fix.w.kvm, 0, 0, 0), -EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, ~0u, 0, 0), -EINVAL);

	/* MANUAL_DIRTY_LOG_PROTECT2: INITIALLY_SET only with ENABLE, no flags. */
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1, enable),
			-EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, init_set),
			-EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, 4),
			-EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, ~0ULL),
			-EINVAL);
	assert_int_equal(fix.w.kvm->manual_dirty_log_protect, 0);
	assert_int_equal(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0,
				    enable | init_set), 0);
	assert_int_equal(fix.w.kvm->manual_dirty_log_protect, enable | init_set);
	assert_int_equal(enable_cap(fix.w.kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, 0), 0);
	clean_pass();

	/* The dirty ring: a power of two of at least a page, at most 64K entries. */
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, 0), -EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, 1), -EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, PAGE_SIZE / 2),
			-EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, PAGE_SIZE + 16),
			-EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0,
				   2 * KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn)),
			-E2BIG);
	/* args[0] is taken as a u32, as KVM does: 2^32 is 0. */
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, 1ULL << 32), -EINVAL);
	/* A valid size, but vCPUs exist. */
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING, 0, PAGE_SIZE), -EINVAL);
	assert_int_equal(fix.w.kvm->dirty_ring_size, 0);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0, 0),
			-EINVAL);

	/* Quirks: v2 rejects unknown ones and flags, v1 ignores unknown ones. */
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DISABLE_QUIRKS2, 0, 1ULL << 63), -EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DISABLE_QUIRKS2, 1,
				   KVM_X86_QUIRK_SLOT_ZAP_ALL), -EINVAL);
	assert_rejected(enable_cap(fix.w.kvm, KVM_CAP_DISABLE_QUIRKS, 1, 0), -EINVAL);
	assert_int_equal(fix.w.kvm->arch.disabled_quirks, 0);
	assert_int_equal(enable_cap(fix.w.kvm, KVM_CAP_DISABLE_QUIRKS, 0, ~0ULL), 0);
	assert_int_equal(fix.w.kvm->arch.disabled_quirks, KVM_X86_VALID_QUIRKS);
	assert_int_equal(enable_cap(fix.w.kvm, KVM_CAP_DISABLE_QUIRKS2, 0,
				    KVM_X86_QUIRK_SLOT_ZAP_ALL), 0);
	clean_pass();

	/* On a VM without vCPUs or memslots: the ring, once. */
	vm_config(&cfg);
	assert_int_equal(kvmmu_vm_create(&cfg, &kvm), 0);
	assert_int_equal(enable_cap(kvm, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0, 0), -EINVAL);
	assert_int_equal(enable_cap(kvm, KVM_CAP_DIRTY_LOG_RING, 0,
				    KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn)),
			 0);
	assert_int_equal(enable_cap(kvm, KVM_CAP_DIRTY_LOG_RING, 0, PAGE_SIZE), -EINVAL);
	assert_int_equal(kvm->dirty_ring_size,
			 KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn));
	assert_int_equal(enable_cap(kvm, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 1, 0), -EINVAL);
	assert_int_equal(enable_cap(kvm, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0, 0), 0);
	kvmmu_vm_destroy(kvm);
	clean_pass();
}

/* ---- KVM_SET_USER_MEMORY_REGION(2) --------------------------------------------------- */

struct region_case {
	const char *what;
	u32 slot, flags;
	u64 gpa, size, hva; /* an hva of HVA0 means the fixture's */
	int expect;
};

/* Not page-aligned, so never a case's own hva. */
#define HVA0 0xf00dULL
#define GB (1ULL << 30)
#define MAX_GPA (1ULL << 46) /* the fixture's MAXPHYADDR */

static const struct region_case region_cases[] = {
	/* Flags. */
	{ "guest_memfd flag", 1, KVM_MEM_GUEST_MEMFD, GB, MB, 0x10000000, -EINVAL },
	{ "flag bit 3", 1, 1u << 3, GB, MB, 0x10000000, -EINVAL },
	{ "every flag", 1, ~0u, GB, MB, 0x10000000, -EINVAL },
	/* Slot ids and address spaces. */
	{ "slot KVM_USER_MEM_SLOTS", KVM_USER_MEM_SLOTS, 0, GB, MB, 0x10000000, -EINVAL },
	{ "slot 0xffff", 0xffff, 0, GB, MB, 0x10000000, -EINVAL },
	{ "address space 2", 2u << 16 | 1, 0, GB, MB, 0x10000000, -EINVAL },
	{ "address space 0xffff", 0xffffu << 16 | 1, 0, GB, MB, 0x10000000, -EINVAL },
	/* Sizes. */
	{ "delete a slot that does not exist", 1, 0, GB, 0, 0, -EINVAL },
	{ "size 1", 1, 0, GB, 1, 0x10000000, -EINVAL },
	{ "size a page - 1", 1, 0, GB, PAGE_SIZE - 1, 0x10000000, -EINVAL },
	{ "size a page + 1", 1, 0, GB, PAGE_SIZE + 1, 0x10000000, -EINVAL },
	{ "size 2^64 - 4K", 1, 0, GB, ~0ULL - PAGE_SIZE + 1, 0x10000000, -EINVAL },
	{ "more than KVM_MEM_MAX_NR_PAGES", 1, 0, 16ULL << 40,
	  (KVM_MEM_MAX_NR_PAGES + 1) << PAGE_SHIFT, PAGE_SIZE, -EINVAL },
	/* Alignment. */
	{ "gpa 1", 1, 0, 1, MB, 0x10000000, -EINVAL },
	{ "gpa half a page", 1, 0, GB + 0x800, MB, 0x10000000, -EINVAL },
	{ "hva 1", 1, 0, GB, MB, 1, -EINVAL },
	{ "hva half a page", 1, 0, GB, MB, 0x10000800, -EINVAL },
	/* The user address limit. */
	{ "hva at TASK_SIZE", 1, 0, GB, PAGE_SIZE, TASK_SIZE, -EINVAL },
	{ "hva + size past TASK_SIZE", 1, 0, GB, 2 * PAGE_SIZE, TASK_SIZE - PAGE_SIZE, -EINVAL },
	{ "hva 2^64 - 4K", 1, 0, GB, PAGE_SIZE, ~0ULL - PAGE_SIZE + 1, -EINVAL },
	{ "hva + size ending at TASK_SIZE", 1, 0, GB, PAGE_SIZE, TASK_SIZE - PAGE_SIZE, 0 },
	/* Guest physical addresses. */
	{ "gpa + size wraps", 1, 0, ~0ULL - PAGE_SIZE + 1, 2 * PAGE_SIZE, 0x10000000, -EINVAL },
	{ "gpa + size reaches 2^64", 1, 0, ~0ULL - PAGE_SIZE + 1, PAGE_SIZE, 0x10000000,
	  -EINVAL },
	{ "gpa at MAXPHYADDR", 1, 0, MAX_GPA, PAGE_SIZE, 0x10000000, -EINVAL },
	{ "gpa + size past MAXPHYADDR", 1, 0, MAX_GPA - PAGE_SIZE, 2 * PAGE_SIZE, 0x10000000,
	  -EINVAL },
	{ "last page below MAXPHYADDR", 1, 0, MAX_GPA - PAGE_SIZE, PAGE_SIZE, 0x10000000, 0 },
	/* Overlaps with slot 0 (gpa 0, 2 MiB). */
	{ "inside slot 0", 1, 0, MB, PAGE_SIZE, 0x10000000, -EEXIST },
	{ "over slot 0's last page", 1, 0, SLOT_BYTES - PAGE_SIZE, MB, 0x10000000, -EEXIST },
	{ "covering slot 0", 1, 0, 0, 2 * SLOT_BYTES, 0x10000000, -EEXIST },
	{ "right after slot 0", 1, 0, SLOT_BYTES, PAGE_SIZE, 0x10000000, 0 },
	{ "the same gpa in address space 1", 1u << 16, 0, 0, SLOT_BYTES, 0x10000000, 0 },
	{ "the largest user slot id", KVM_USER_MEM_SLOTS - 1, 0, GB, PAGE_SIZE, 0x10000000, 0 },
	/* Changing slot 0 (logging dirty pages). */
	{ "slot 0, another size", 0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES / 2, HVA0, -EINVAL },
	{ "slot 0, another hva", 0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES, 0x10000000,
	  -EINVAL },
	{ "slot 0 made read-only", 0, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY, 0,
	  SLOT_BYTES, HVA0, -EINVAL },
	{ "slot 0 with the same fields", 0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES, HVA0, 0 },
};

static void test_set_user_memory_region2(void **state)
{
	struct kvm_userspace_memory_region2 m = { .slot = 1 };
	size_t i;

	create(KVM_MEM_LOG_DIRTY_PAGES);
	clean_pass();
	assert_rejected(kvmmu_set_user_memory_region2(NULL, &m), -EBADF);
	assert_rejected(kvmmu_set_user_memory_region2(fix.w.kvm, NULL), -EFAULT);
	assert_rejected(kvmmu_set_user_memory_region2(fix.w.kvm, (void *)(uintptr_t)4096 - 1),
			-EFAULT);
	assert_rejected(kvmmu_set_user_memory_region2(fix.w.kvm, (void *)(uintptr_t)(TASK_SIZE - 8)),
			-EFAULT);

	for (i = 0; i < ARRAY_SIZE(region_cases); i++) {
		const struct region_case *c = &region_cases[i];
		u64 hva = c->hva == HVA0 ? hva0() : c->hva;
		int r = region2(c->slot, c->flags, c->gpa, c->size, hva);

		if (r != c->expect)
			fail_msg("%s: KVM_SET_USER_MEMORY_REGION2 returned %d, expected %d",
				 c->what, r, c->expect);
		clean_pass();
		/* What was created goes again, and cannot go twice. */
		if (!r && c->slot != 0) {
			assert_int_equal(region2(c->slot, 0, 0, 0, 0), 0);
			assert_rejected(region2(c->slot, 0, 0, 0, 0), -EINVAL);
		}
	}

	/* Slot 0 moved while it logs dirty pages (as KVM allows), then back. */
	assert_int_equal(region2(1, 0, GB, PAGE_SIZE, 0x10000000), 0);
	assert_rejected(region2(0, KVM_MEM_LOG_DIRTY_PAGES, GB - PAGE_SIZE, SLOT_BYTES, hva0()),
			-EEXIST);
	assert_int_equal(region2(0, KVM_MEM_LOG_DIRTY_PAGES, 2 * GB, SLOT_BYTES, hva0()), 0);
	assert_int_equal(region2(0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES, hva0()), 0);
	assert_int_equal(region2(1, 0, 0, 0, 0), 0);
	clean_pass();
	/* Flags only: logging off and on. */
	assert_int_equal(region2(0, 0, 0, SLOT_BYTES, hva0()), 0);
	clean_pass();
	assert_int_equal(region2(0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES, hva0()), 0);
	clean_pass();
}

/*
 * A slot over host addresses nothing is mapped at is valid, as in KVM; an
 * access through it fails KVM_RUN with -EFAULT (KVM_PRE_FAULT_MEMORY too),
 * and the VM goes on.
 */
static void test_slot_over_unmapped_memory(void **state)
{
	struct kvmmu_hw_vcpu *hv;
	struct kvmmu_run run;

	create(0);
	clean_pass();
	assert_int_equal(region2(1, 0, GB, 2 * PAGE_SIZE, TASK_SIZE - 2 * PAGE_SIZE), 0);
	hv = fix.hw.vcpus[0];
	hv->len = 0;
	hv->pc = 0;
	fake_hw_push(hv, FAKE_READ, GB, 0);
	assert_rejected(fix_run(&fix, 0, &run), -EFAULT);
	hv->len = 0;
	hv->pc = 0;
	fake_hw_push(hv, FAKE_WRITE, GB + PAGE_SIZE, 1);
	assert_rejected(fix_run(&fix, 0, &run), -EFAULT);
	assert_rejected(pre_fault(GB, 2 * PAGE_SIZE, 0, NULL), -EFAULT);
	assert_int_equal(region2(1, 0, 0, 0, 0), 0);
	clean_pass();
}

static void test_set_user_memory_region(void **state)
{
	struct kvm_userspace_memory_region m = {
		.slot = 1, .guest_phys_addr = GB, .memory_size = PAGE_SIZE,
		.userspace_addr = 0x10000000,
	};

	create(0);
	clean_pass();
	assert_rejected(kvmmu_set_user_memory_region(NULL, &m), -EBADF);
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, NULL), -EFAULT);
	m.flags = KVM_MEM_GUEST_MEMFD;
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EINVAL);
	m.flags = 1u << 31;
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EINVAL);
	m.flags = 0;
	m.slot = KVM_USER_MEM_SLOTS;
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EINVAL);
	m.slot = 1;
	m.guest_phys_addr = 0;
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EEXIST);
	m.guest_phys_addr = GB;
	m.flags = KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES;
	assert_int_equal(kvmmu_set_user_memory_region(fix.w.kvm, &m), 0);
	m.memory_size = 0;
	assert_int_equal(kvmmu_set_user_memory_region(fix.w.kvm, &m), 0);
	assert_rejected(kvmmu_set_user_memory_region(fix.w.kvm, &m), -EINVAL);
}

/* ---- KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG ----------------------------------------------- */

static unsigned long bitmap[NPAGES / 64];

static int get_log(u32 slot, void *bm)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bm };

	return kvmmu_get_dirty_log(fix.w.kvm, &log);
}

static int clear_log(u32 slot, u64 first, u32 num, void *bm)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num, .dirty_bitmap = bm,
	};

	return kvmmu_clear_dirty_log(fix.w.kvm, &log);
}

/* vCPU 0 writes page @page. */
static void write_page(unsigned int page, u64 value)
{
	struct kvmmu_hw_vcpu *hv = fix.hw.vcpus[0];
	size_t i;

	hv->len = 0;
	hv->pc = 0;
	fake_hw_push(hv, FAKE_WRITE, (u64)page * PAGE_SIZE, value);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);
	/* The clean pass's pages hold what was last written to them. */
	for (i = 0; i < NR_PASS; i++) {
		if (pass_pages[i] == page)
			pass_want[i] = value;
	}
}

static bool logged(unsigned int page)
{
	return bitmap[page / 64] & (1UL << (page % 64));
}

static void test_get_dirty_log(void **state)
{
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };

	create(KVM_MEM_LOG_DIRTY_PAGES);
	clean_pass();
	assert_int_equal(get_log(0, bitmap), 0);

	assert_rejected(kvmmu_get_dirty_log(NULL, &log), -EBADF);
	assert_rejected(kvmmu_get_dirty_log(fix.w.kvm, NULL), -EFAULT);
	assert_rejected(kvmmu_get_dirty_log(fix.w.kvm, (void *)(uintptr_t)16), -EFAULT);
	assert_rejected(get_log(2u << 16, bitmap), -EINVAL);
	assert_rejected(get_log(0xffffu << 16, bitmap), -EINVAL);
	assert_rejected(get_log(KVM_USER_MEM_SLOTS, bitmap), -EINVAL);
	assert_rejected(get_log(0xffff, bitmap), -EINVAL);
	assert_rejected(get_log(~0u, bitmap), -EINVAL);
	assert_rejected(get_log(1, bitmap), -ENOENT);
	assert_rejected(get_log(1u << 16, bitmap), -ENOENT);
	assert_rejected(get_log(KVM_USER_MEM_SLOTS - 1, bitmap), -ENOENT);

	/* A slot that does not log dirty pages has no log. */
	assert_int_equal(region2(1, 0, GB, PAGE_SIZE, 0x10000000), 0);
	assert_rejected(get_log(1, bitmap), -ENOENT);
	assert_int_equal(region2(1, 0, 0, 0, 0), 0);

	/*
	 * A bitmap KVM cannot write: -EFAULT after the harvest, whose pages are
	 * write-protected again and lost to userspace, as in KVM.
	 */
	assert_int_equal(get_log(0, bitmap), 0);
	write_page(300, 0x300);
	assert_rejected(get_log(0, NULL), -EFAULT);
	assert_rejected(get_log(0, (void *)(uintptr_t)1), -EFAULT);
	assert_rejected(get_log(0, (void *)(uintptr_t)(TASK_SIZE - sizeof(long))), -EFAULT);
	assert_rejected(get_log(0, (void *)(uintptr_t)~0UL), -EFAULT);
	assert_int_equal(get_log(0, bitmap), 0);
	assert_false(logged(300));
	write_page(300, 0x301);
	assert_int_equal(get_log(0, bitmap), 0);
	assert_true(logged(300));
	assert_int_equal(fix_host_read(&fix, 300 * PAGE_SIZE), 0x301);
	clean_pass();
}

static void test_get_dirty_log_manual(void **state)
{
	struct vm_fixture_opts o = {
		.slot_flags = KVM_MEM_LOG_DIRTY_PAGES,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};

	create_opts(&o);
	clean_pass();
	write_page(300, 0x300);
	/* With manual protect nothing is harvested: the bit stays for the next GET. */
	assert_rejected(get_log(0, NULL), -EFAULT);
	assert_int_equal(get_log(0, bitmap), 0);
	assert_true(logged(300));
}

static void test_clear_dirty_log(void **state)
{
	struct vm_fixture_opts o = {
		.slot_flags = KVM_MEM_LOG_DIRTY_PAGES,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	unsigned long mask[NPAGES / 64 + 1];
	struct kvm_clear_dirty_log log = { .slot = 0, .num_pages = 64, .dirty_bitmap = mask };

	create_opts(&o);
	clean_pass();
	memset(mask, 0xff, sizeof(mask));
	assert_rejected(kvmmu_clear_dirty_log(NULL, &log), -EBADF);
	assert_rejected(kvmmu_clear_dirty_log(fix.w.kvm, NULL), -EFAULT);
	/* Slot ids and address spaces, before first_page as in KVM. */
	assert_rejected(clear_log(2u << 16, 1, 64, mask), -EINVAL);
	assert_rejected(clear_log(KVM_USER_MEM_SLOTS, 0, 64, mask), -EINVAL);
	assert_rejected(clear_log(~0u, 0, 64, mask), -EINVAL);
	assert_rejected(clear_log(1, 0, 64, mask), -ENOENT);
	assert_rejected(clear_log(1u << 16, 0, 64, mask), -ENOENT);
	/* first_page: a multiple of 64, at most the slot's size. */
	assert_rejected(clear_log(0, 1, 64, mask), -EINVAL);
	assert_rejected(clear_log(0, 63, 64, mask), -EINVAL);
	assert_rejected(clear_log(0, NPAGES + 64, 0, mask), -EINVAL);
	assert_rejected(clear_log(0, ~0ULL - 63, 64, mask), -EINVAL);
	assert_rejected(clear_log(0, 1ULL << 63, 64, mask), -EINVAL);
	/* num_pages: within the slot, a multiple of 64 unless it reaches the end. */
	assert_rejected(clear_log(0, 0, NPAGES + 1, mask), -EINVAL);
	assert_rejected(clear_log(0, 64, NPAGES - 63, mask), -EINVAL);
	assert_rejected(clear_log(0, 0, ~0u, mask), -EINVAL);
	assert_rejected(clear_log(0, 0, 1, mask), -EINVAL);
	assert_rejected(clear_log(0, 0, 65, mask), -EINVAL);
	assert_rejected(clear_log(0, 64, 63, mask), -EINVAL);
	/* A mask KVM cannot read: -EFAULT and nothing cleared. */
	assert_int_equal(get_log(0, bitmap), 0);
	assert_true(logged(0));
	assert_rejected(clear_log(0, 0, 64, NULL), -EFAULT);
	assert_rejected(clear_log(0, 0, NPAGES, (void *)(uintptr_t)(TASK_SIZE - 8)), -EFAULT);
	assert_int_equal(get_log(0, bitmap), 0);
	assert_true(logged(0));
	/* Zero pages read no mask, at the start or at the end. */
	assert_int_equal(clear_log(0, 0, 0, NULL), 0);
	assert_int_equal(clear_log(0, NPAGES, 0, NULL), 0);
	/* The bounds that are valid. */
	assert_int_equal(clear_log(0, 0, NPAGES, mask), 0);
	assert_int_equal(clear_log(0, NPAGES - 64, 64, mask), 0);
	assert_int_equal(clear_log(0, 64, NPAGES - 64, mask), 0);
	assert_int_equal(clear_log(0, 0, 64, mask), 0);
	clean_pass();
	/* What the pass wrote since is logged and can be cleared. */
	assert_int_equal(get_log(0, bitmap), 0);
	assert_true(logged(511));
	assert_int_equal(clear_log(0, 0, NPAGES, mask), 0);
	assert_int_equal(get_log(0, bitmap), 0);
	assert_false(logged(511));
	clean_pass();
}

/* ---- the same, watched by the checkers ----------------------------------------------------- */

/*
 * On the simulated CPU with every checker attached: a harvest lost to a
 * bitmap KVM cannot write, and a clear that reads no mask, leave the log
 * as KVM leaves it, and the dirty-log and data checkers agree.
 */
static struct world cw;

#define CPAGES 128

/* Store to @n pages from @first on vCPU 0, to the end. */
static void cw_store(u64 first, u64 n, u64 value)
{
	struct hw_access list[CPAGES];
	struct hw_program p = { .list = list, .len = n };
	u64 i;

	assert_true(n <= CPAGES);
	for (i = 0; i < n; i++)
		list[i] = (struct hw_access){ .op = HW_STORE, .addr = (first + i) * PAGE_SIZE,
					      .value = value + i };
	assert_int_equal(hw_vcpu_load_program(cw.vcpus[0]->hw, &p), 0);
	while (!hw_vcpu_done(cw.vcpus[0]->hw)) {
		struct kvmmu_run run;

		assert_int_equal(kvmmu_vcpu_run(cw.vcpus[0], &run), 0);
		assert_true(run.exit_reason == KVM_EXIT_HLT || run.exit_reason == KVM_EXIT_INTR);
	}
}

static int cw_get(unsigned long *bm)
{
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };

	return kvmmu_get_dirty_log(cw.kvm, &log);
}

static int cw_clear(u64 first, u32 num, void *bm)
{
	struct kvm_clear_dirty_log log = {
		.slot = 0, .first_page = first, .num_pages = num, .dirty_bitmap = bm,
	};

	return kvmmu_clear_dirty_log(cw.kvm, &log);
}

static void cw_create(u64 manual_protect)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .checks = CHECK_ALL, .manual_protect = manual_protect,
		.mem = { { .size = CPAGES * PAGE_SIZE, .nr_slots = 1 } },
	};
	char why[160];

	assert_int_equal(world_create(&cw, &cfg, why, sizeof(why)), 0);
	assert_int_equal(world_check_begin(&cw), 0);
	cw_store(0, CPAGES, 0x100);
	assert_int_equal(world_mem_set_flags(&cw, 0, KVM_MEM_LOG_DIRTY_PAGES), 0);
}

static void cw_destroy(void)
{
	world_check_end(&cw);
	assert_int_equal(check_violations(NULL, 0), 0);
	assert_int_equal(world_destroy(&cw), 0);
}

static void test_checked_get_dirty_log(void **state)
{
	unsigned long bm[CPAGES / BITS_PER_LONG];
	u64 i;

	cw_create(0);
	assert_int_equal(cw_get(bm), 0);
	cw_store(0, 8, 0x200);
	/* Harvested, protected, and lost: only pages written since show. */
	assert_int_equal(cw_get(NULL), -EFAULT);
	assert_int_equal(cw_get((void *)(uintptr_t)(TASK_SIZE - 8)), -EFAULT);
	cw_store(4, 8, 0x300);
	assert_int_equal(cw_get(bm), 0);
	for (i = 0; i < CPAGES; i++)
		assert_int_equal(test_bit(i, bm), i >= 4 && i < 12);
	/* Rejected memslot updates between writes. */
	assert_int_equal(region2_on(cw.kvm, 0, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES,
				    0, CPAGES * PAGE_SIZE, cw.cfg.mem[0].hva), -EINVAL);
	assert_int_equal(region2_on(cw.kvm, 1, 0, PAGE_SIZE, PAGE_SIZE, 0x10000000), -EEXIST);
	cw_store(0, CPAGES, 0x400);
	assert_int_equal(cw_get(bm), 0);
	for (i = 0; i < CPAGES; i++)
		assert_true(test_bit(i, bm));
	cw_destroy();
}

static void test_checked_clear_dirty_log(void **state)
{
	unsigned long bm[CPAGES / BITS_PER_LONG];
	u64 i;

	cw_create(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	cw_store(0, 8, 0x200);
	assert_int_equal(cw_get(NULL), -EFAULT);
	assert_int_equal(cw_clear(0, CPAGES, NULL), -EFAULT);
	assert_int_equal(cw_clear(0, 0, NULL), 0);
	assert_int_equal(cw_clear(1, 64, bm), -EINVAL);
	assert_int_equal(cw_get(bm), 0);
	for (i = 0; i < CPAGES; i++)
		assert_int_equal(test_bit(i, bm), i < 8);
	assert_int_equal(cw_clear(0, CPAGES, bm), 0);
	cw_store(2, 2, 0x300);
	assert_int_equal(cw_get(bm), 0);
	for (i = 0; i < CPAGES; i++)
		assert_int_equal(test_bit(i, bm), i == 2 || i == 3);
	cw_destroy();
}

/* ---- the dirty ring ----------------------------------------------------------------------- */

#define RING_BYTES (4 * PAGE_SIZE)

/* Logging off and on: the slot is write-protected, the next writes push again. */
static void relog(void)
{
	assert_int_equal(region2(0, 0, 0, SLOT_BYTES, hva0()), 0);
	assert_int_equal(region2(0, KVM_MEM_LOG_DIRTY_PAGES, 0, SLOT_BYTES, hva0()), 0);
}

struct ring_case {
	const char *what;
	u32 slot;
	u64 offsets[2];
	int nr_offsets;
};

static const struct ring_case ring_cases[] = {
	{ "offsets as pushed", 0, { 0 }, 0 },
	{ "address space 2", 2u << 16, { 0, 1 }, 2 },
	{ "address space 0xffff", 0xffffu << 16, { 0, 1 }, 2 },
	{ "slot KVM_USER_MEM_SLOTS", KVM_USER_MEM_SLOTS, { 0, 1 }, 2 },
	{ "a slot that does not exist", 7, { 0, 1 }, 2 },
	{ "offset 2^64 - 1", 0, { ~0ULL }, 1 },
	{ "offsets that run past 2^64", 0, { ~0ULL - 1, 1 }, 2 },
	{ "offset the slot's size", 0, { NPAGES }, 1 },
	{ "offsets that run past the slot", 0, { NPAGES - 1, NPAGES - 1 + 63 }, 2 },
	{ "offsets as pushed, again", 0, { 0 }, 0 },
};

/*
 * Mark every dirty entry harvested, as userspace does, after rewriting its
 * slot and offset (unless @c has no offsets); returns the count.
 */
static int harvest_ring(struct kvm_vcpu *vcpu, u32 *fetch, const struct ring_case *c)
{
	u32 n;
	struct kvm_dirty_gfn *ring = kvmmu_vcpu_dirty_ring(vcpu, &n);
	int count = 0;

	assert_non_null(ring);
	for (;;) {
		struct kvm_dirty_gfn *e = &ring[*fetch & (n - 1)];
		u32 flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (c->nr_offsets) {
			e->slot = c->slot;
			e->offset = c->offsets[count % c->nr_offsets];
		}
		__atomic_store_n(&e->flags, flags | KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		(*fetch)++;
		count++;
	}
	return count;
}

static void reset_dirty_rings(enum world_mmu mmu)
{
	struct vm_fixture_opts o = {
		.slot_flags = KVM_MEM_LOG_DIRTY_PAGES, .dirty_ring_bytes = RING_BYTES,
		.mmu = mmu,
	};
	u32 fetch = 0;
	size_t i;

	create_opts(&o);
	clean_pass();
	/* A ring without a bitmap has no GET or CLEAR. */
	assert_rejected(get_log(0, bitmap), -ENXIO);
	assert_rejected(clear_log(0, 0, 64, bitmap), -ENXIO);
	assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), 0);

	/*
	 * Entries are userspace's to write: what it rewrote before marking
	 * them harvested is recycled and resets nothing, wherever it points.
	 */
	for (i = 0; i < ARRAY_SIZE(ring_cases); i++) {
		const struct ring_case *c = &ring_cases[i];
		int n;

		if (i)
			relog();
		clean_pass();
		n = harvest_ring(fix.w.vcpus[0], &fetch, c);
		if (n != (int)NR_PASS)
			fail_msg("%s: %d entries to harvest, expected %zu", c->what, n, NR_PASS);
		assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), n);
		assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), 0);
		clean_pass();
		/*
		 * Only entries that named the pages re-protected them: the
		 * pass's writes push again after those, and after no others.
		 */
		n = harvest_ring(fix.w.vcpus[0], &fetch, &ring_cases[0]);
		if (n != (c->nr_offsets ? 0 : (int)NR_PASS))
			fail_msg("%s: the next pass pushed %d entries", c->what, n);
		assert_int_equal(kvmmu_reset_dirty_rings(fix.w.kvm), n);
	}
}

static void test_reset_dirty_rings(void **state)
{
	assert_int_equal(kvmmu_reset_dirty_rings(NULL), -EBADF);
	create(KVM_MEM_LOG_DIRTY_PAGES);
	clean_pass();
	assert_rejected(kvmmu_reset_dirty_rings(fix.w.kvm), -EINVAL);
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	fix_up = false;

	reset_dirty_rings(WORLD_MMU_TDP);
}

/* The shadow MMU's rmaps are indexed by the offsets the entries give. */
static void test_reset_dirty_rings_legacy(void **state)
{
	reset_dirty_rings(WORLD_MMU_TDP_LEGACY);
}

static void test_vcpu_dirty_ring(void **state)
{
	struct vm_fixture_opts o = { .dirty_ring_bytes = RING_BYTES };
	u32 n = 77;

	create(0);
	assert_null(kvmmu_vcpu_dirty_ring(NULL, &n));
	assert_int_equal(n, 0);
	assert_null(kvmmu_vcpu_dirty_ring(fix.w.vcpus[0], NULL));
	n = 77;
	assert_null(kvmmu_vcpu_dirty_ring(fix.w.vcpus[0], &n));
	assert_int_equal(n, 0);
	clean_pass();
	assert_int_equal(vm_fixture_destroy(&fix), 0);
	fix_up = false;

	create_opts(&o);
	assert_non_null(kvmmu_vcpu_dirty_ring(fix.w.vcpus[0], &n));
	assert_int_equal(n, RING_BYTES / sizeof(struct kvm_dirty_gfn));
	assert_null(kvmmu_vcpu_dirty_ring(fix.w.vcpus[0], NULL));
	clean_pass();
}

/* ---- vCPUs --------------------------------------------------------------------------------- */

static void test_vcpu_create(void **state)
{
	struct kvm_vcpu *vcpu = NULL;

	create(0);
	clean_pass();
	assert_rejected(kvmmu_vcpu_create(NULL, 1, &vcpu), -EBADF);
	assert_rejected(kvmmu_vcpu_create(fix.w.kvm, 1, NULL), -EFAULT);
	assert_rejected(kvmmu_vcpu_create(fix.w.kvm, KVM_MAX_VCPUS, &vcpu), -EINVAL);
	assert_rejected(kvmmu_vcpu_create(fix.w.kvm, UINT_MAX, &vcpu), -EINVAL);
	assert_rejected(kvmmu_vcpu_create(fix.w.kvm, 0, &vcpu), -EEXIST);
	assert_null(vcpu);
	assert_int_equal(kvmmu_vcpu_create(fix.w.kvm, KVM_MAX_VCPUS - 1, &vcpu), 0);
	assert_non_null(vcpu);
	assert_rejected(kvmmu_vcpu_create(fix.w.kvm, KVM_MAX_VCPUS - 1, &vcpu), -EEXIST);
	assert_int_equal(atomic_load(&fix.w.kvm->online_vcpus), 2);
}

static void test_vcpu_run(void **state)
{
	struct kvmmu_run run;

	create(0);
	clean_pass();
	assert_rejected(kvmmu_vcpu_run(NULL, &run), -EBADF);
	assert_rejected(kvmmu_vcpu_run(fix.w.vcpus[0], NULL), -EFAULT);
	assert_rejected(kvmmu_vcpu_run(fix.w.vcpus[0], (void *)(uintptr_t)PAGE_SIZE - 1),
			-EFAULT);
}

static void test_vcpu_signal(void **state)
{
	struct kvmmu_run run;

	create(0);
	clean_pass();
	kvmmu_vcpu_signal(NULL);
	clean_pass();
	kvmmu_vcpu_signal(fix.w.vcpus[0]);
	assert_rejected(kvmmu_vcpu_run(fix.w.vcpus[0], &run), -EINTR);
	assert_int_equal(run.exit_reason, KVM_EXIT_INTR);
}

/* ---- KVM_PRE_FAULT_MEMORY ----------------------------------------------------------------- */

static int pre_fault(u64 gpa, u64 size, u64 flags, struct kvm_pre_fault_memory *out)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size, .flags = flags };
	int ret = kvmmu_vcpu_pre_fault_memory(fix.w.vcpus[0], &r);

	if (out)
		*out = r;
	return ret;
}

static void test_pre_fault_memory(void **state)
{
	struct kvm_pre_fault_memory r = { .size = PAGE_SIZE };

	create(0);
	clean_pass();
	assert_rejected(kvmmu_vcpu_pre_fault_memory(NULL, &r), -EBADF);
	assert_rejected(kvmmu_vcpu_pre_fault_memory(fix.w.vcpus[0], NULL), -EFAULT);
	assert_rejected(pre_fault(0, PAGE_SIZE, 1, NULL), -EINVAL);
	assert_rejected(pre_fault(0, PAGE_SIZE, ~0ULL, NULL), -EINVAL);
	assert_rejected(pre_fault(1, PAGE_SIZE, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(PAGE_SIZE / 2, PAGE_SIZE, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(0, 0, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(0, 1, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(0, PAGE_SIZE + 1, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(~0ULL - PAGE_SIZE + 1, PAGE_SIZE, 0, NULL), -EINVAL);
	assert_rejected(pre_fault(PAGE_SIZE, ~0ULL - PAGE_SIZE + 1, 0, NULL), -EINVAL);
	/* No memslot: a hole, MAXPHYADDR and beyond, the last page below 2^64. */
	assert_rejected(pre_fault(GB, PAGE_SIZE, 0, NULL), -ENOENT);
	assert_rejected(pre_fault(MAX_GPA - PAGE_SIZE, PAGE_SIZE, 0, NULL), -ENOENT);
	assert_rejected(pre_fault(MAX_GPA, PAGE_SIZE, 0, NULL), -ENOENT);
	assert_rejected(pre_fault(1ULL << 52, PAGE_SIZE, 0, NULL), -ENOENT);
	assert_rejected(pre_fault(~0ULL - 2 * PAGE_SIZE + 1, PAGE_SIZE, 0, NULL), -ENOENT);
	/* The whole slot, and a range running off its end: mapped up to it. */
	assert_int_equal(pre_fault(0, SLOT_BYTES, 0, &r), 0);
	assert_int_equal(r.gpa, SLOT_BYTES);
	assert_int_equal(r.size, 0);
	clean_pass();
	assert_int_equal(pre_fault(SLOT_BYTES - PAGE_SIZE, 2 * PAGE_SIZE, 0, &r), 0);
	assert_true(r.gpa >= SLOT_BYTES && r.gpa <= SLOT_BYTES + PAGE_SIZE);
	assert_int_equal(r.gpa + r.size, SLOT_BYTES + PAGE_SIZE);
	clean_pass();
	/* A signal before anything is mapped: -EINTR, and the range is as it was. */
	kvmmu_vcpu_signal(fix.w.vcpus[0]);
	assert_rejected(pre_fault(PAGE_SIZE, PAGE_SIZE, 0, &r), -EINTR);
	assert_int_equal(r.gpa, PAGE_SIZE);
	assert_int_equal(r.size, PAGE_SIZE);
}

/* Shadow paging: the MMU is indexed by guest linear addresses, not gpas. */
static void test_pre_fault_memory_shadow(void **state)
{
	struct vm_fixture_opts o = { .mmu = WORLD_MMU_SHADOW, .real_hw = true };

	create_opts(&o);
	assert_int_equal(pre_fault(0, PAGE_SIZE, 0, NULL), -EOPNOTSUPP);
	assert_int_equal(pre_fault(0, PAGE_SIZE, 1, NULL), -EINVAL);
	assert_int_equal(pre_fault(0, 0, 0, NULL), -EINVAL);
}

/* ---- the MMU's knobs ---------------------------------------------------------------------- */

static void test_recover_nx_huge_pages(void **state)
{
	struct vm_fixture_opts o = { .nx_huge_pages = true };

	create_opts(&o);
	clean_pass();
	assert_rejected(kvmmu_vm_recover_nx_huge_pages(NULL, 1), -EBADF);
	assert_rejected(kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, 0), 0);
	assert_true(kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, UINT_MAX) >= 0);
	clean_pass();
	assert_true(kvmmu_vm_recover_nx_huge_pages(fix.w.kvm, 1) >= 0);
	clean_pass();
}

static void nr_mmu_pages_bounds(void)
{
	clean_pass();
	assert_rejected(kvmmu_vm_set_nr_mmu_pages(NULL, 64), -EBADF);
	assert_int_equal(kvmmu_vm_get_nr_mmu_pages(NULL), 0);
	assert_rejected(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, 0), -EINVAL);
	assert_rejected(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, 1), -EINVAL);
	assert_rejected(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, KVM_MIN_ALLOC_MMU_PAGES - 1),
			-EINVAL);
	assert_int_equal(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, ULONG_MAX), 0);
	assert_int_equal(kvmmu_vm_get_nr_mmu_pages(fix.w.kvm), ULONG_MAX);
	clean_pass();
	assert_int_equal(kvmmu_vm_set_nr_mmu_pages(fix.w.kvm, KVM_MIN_ALLOC_MMU_PAGES), 0);
	assert_true(kvmmu_vm_get_nr_mmu_pages(fix.w.kvm) >= KVM_MIN_ALLOC_MMU_PAGES);
	clean_pass();
	clean_pass();
}

static void test_nr_mmu_pages(void **state)
{
	create(0);
	nr_mmu_pages_bounds();
}

/* The shadow MMU's direct pages live within the budget: 64 pages still run. */
static void test_nr_mmu_pages_legacy(void **state)
{
	struct vm_fixture_opts o = { .mmu = WORLD_MMU_TDP_LEGACY };

	create_opts(&o);
	nr_mmu_pages_bounds();
}

/* ---- statistics --------------------------------------------------------------------------- */

static void test_stats(void **state)
{
	uint64_t values[64];
	int n_vm = -1, n_vcpu = -1;

	create(0);
	clean_pass();
	assert_non_null(kvmmu_vm_stat_descs(NULL));
	assert_non_null(kvmmu_vcpu_stat_descs(NULL));
	assert_non_null(kvmmu_vm_stat_descs(&n_vm));
	assert_non_null(kvmmu_vcpu_stat_descs(&n_vcpu));
	assert_true(n_vm > 0 && n_vm <= 64 && n_vcpu > 0 && n_vcpu <= 64);

	assert_rejected(kvmmu_vm_stats(NULL, values, 64), -EBADF);
	assert_rejected(kvmmu_vm_stats(fix.w.kvm, NULL, 1), -EFAULT);
	assert_rejected(kvmmu_vm_stats(fix.w.kvm, values, -1), -EINVAL);
	assert_rejected(kvmmu_vm_stats(fix.w.kvm, values, INT_MIN), -EINVAL);
	assert_int_equal(kvmmu_vm_stats(fix.w.kvm, NULL, 0), 0);
	assert_int_equal(kvmmu_vm_stats(fix.w.kvm, values, 1), 1);
	assert_int_equal(kvmmu_vm_stats(fix.w.kvm, values, INT_MAX), n_vm);

	assert_rejected(kvmmu_vcpu_stats(NULL, values, 64), -EBADF);
	assert_rejected(kvmmu_vcpu_stats(fix.w.vcpus[0], NULL, 1), -EFAULT);
	assert_rejected(kvmmu_vcpu_stats(fix.w.vcpus[0], values, -1), -EINVAL);
	assert_int_equal(kvmmu_vcpu_stats(fix.w.vcpus[0], NULL, 0), 0);
	assert_int_equal(kvmmu_vcpu_stats(fix.w.vcpus[0], values, INT_MAX), n_vcpu);

	assert_int_equal(kvmmu_vm_stat(NULL, "pages_4k"), ~0ULL);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, NULL), ~0ULL);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, ""), ~0ULL);
	assert_int_equal(kvmmu_vm_stat(fix.w.kvm, "pages_4k "), ~0ULL);
	assert_true(kvmmu_vm_stat(fix.w.kvm, "pages_4k") + 1 != 0);
	assert_int_equal(kvmmu_vcpu_stat(NULL, "pf_taken"), ~0ULL);
	assert_int_equal(kvmmu_vcpu_stat(fix.w.vcpus[0], NULL), ~0ULL);
	assert_true(kvmmu_vcpu_stat(fix.w.vcpus[0], "pf_taken") > 0);
	clean_pass();
}

static const struct CMUnitTest tests[] = {
	BOUNDS_TEST(test_vm_config_init),
	BOUNDS_TEST(test_vm_create),
	BOUNDS_TEST(test_vm_destroy),
	BOUNDS_TEST(test_enable_cap),
	BOUNDS_TEST(test_set_user_memory_region2),
	BOUNDS_TEST(test_set_user_memory_region),
	BOUNDS_TEST(test_slot_over_unmapped_memory),
	BOUNDS_TEST(test_get_dirty_log),
	BOUNDS_TEST(test_get_dirty_log_manual),
	BOUNDS_TEST(test_clear_dirty_log),
	BOUNDS_TEST(test_checked_get_dirty_log),
	BOUNDS_TEST(test_checked_clear_dirty_log),
	BOUNDS_TEST(test_reset_dirty_rings),
	BOUNDS_TEST(test_reset_dirty_rings_legacy),
	BOUNDS_TEST(test_vcpu_dirty_ring),
	BOUNDS_TEST(test_vcpu_create),
	BOUNDS_TEST(test_vcpu_run),
	BOUNDS_TEST(test_vcpu_signal),
	BOUNDS_TEST(test_pre_fault_memory),
	BOUNDS_TEST(test_pre_fault_memory_shadow),
	BOUNDS_TEST(test_recover_nx_huge_pages),
	BOUNDS_TEST(test_nr_mmu_pages),
	BOUNDS_TEST(test_nr_mmu_pages_legacy),
	BOUNDS_TEST(test_stats),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
