// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's guest walker (src/mmu/paging_tmpl.h) against the simulated CPU's
 * (src/hw/guest_walk.c), written apart: on random guest page tables in a
 * VM's memory, in every paging mode, with random CR0.WP, EFER.NXE, SMEP,
 * SMAP, PSE, PKE, RFLAGS.AC, PKRU and CPL, every access (read, write,
 * fetch, implicit) must give the same translation or the same #PF error
 * code, and set the same accessed and dirty bits.  Plus the CPU role and
 * the precomputed bitmaps on known cases.
 */
#include <errno.h>
#include <string.h>

#include "guest_walk.h"
#include "host_mm.h"
#include "kvm_host.h"
#include "mmu.h"
#include "test.h"
#include "world.h"

#define MB (1UL << 20)
#define MEM (16 * MB)
#define M 46

static struct world w;
static unsigned long base_hva;

static u64 rnd_state;

static u64 rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static bool chance(unsigned int pct)
{
	return rnd() % 100 < pct;
}

/* ---- guest memory, as the CPU reaches it here ------------------------------------------- */

static int cpu_read(void *arg, u64 gpa, int size, u64 *val)
{
	u64 word;

	assert_int_equal(host_access(w.mm, base_hva + (gpa & ~7ULL), false, &word), 0);
	*val = size == 4 ? (u32)(word >> (8 * (gpa & 7))) : word;
	return 0;
}

static int cpu_cmpxchg(void *arg, u64 gpa, int size, u64 *old, u64 new_val)
{
	int r = host_access_cmpxchg(w.mm, base_hva + gpa, size, old, new_val);

	assert_true(r >= 0);
	return r;
}

static const struct hw_gmem_ops cpu_mem = { .read = cpu_read, .cmpxchg_entry = cpu_cmpxchg };

static void put(u64 gpa, int size, u64 val)
{
	u64 word;

	if (size == 8) {
		assert_int_equal(host_access(w.mm, base_hva + gpa, true, &val), 0);
		return;
	}
	assert_int_equal(host_access(w.mm, base_hva + (gpa & ~7ULL), false, &word), 0);
	word &= ~(0xffffffffULL << (8 * (gpa & 7)));
	word |= (val & 0xffffffffULL) << (8 * (gpa & 7));
	assert_int_equal(host_access(w.mm, base_hva + (gpa & ~7ULL), true, &word), 0);
}

static u64 get(u64 gpa, int size)
{
	u64 v;

	cpu_read(NULL, gpa, size, &v);
	return v;
}

/* ---- random tables ---------------------------------------------------------------------- */

#define P PT_PRESENT_MASK
#define W PT_WRITABLE_MASK
#define U PT_USER_MASK
#define A PT_ACCESSED_MASK
#define D PT_DIRTY_MASK
#define PS PT_PAGE_SIZE_MASK

struct trial {
	struct hw_cpu cpu;
	int mode;
	u64 gva;
	int n;           /* entries on the path */
	u64 gpa[5];      /* where they are */
	u64 val[5];      /* what was written there */
	int size;
};

/* An entry's flags: mostly sane, sometimes not present, reserved, huge. */
static u64 rand_flags(const struct trial *t, int level)
{
	u64 f = P;

	if (chance(4))
		f &= ~P;
	f |= chance(75) ? W : 0;
	f |= chance(75) ? U : 0;
	f |= chance(30) ? A : 0;
	f |= chance(20) ? D : 0;
	if (t->size == 8) {
		f |= chance(15) ? PT64_NX_MASK : 0;
		/* Keys in 4- and 5-level entries; in PAE those bits are reserved. */
		if (t->mode >= 4 || chance(3))
			f |= (rnd() & 15) << PT64_PKEY_SHIFT;
		if (chance(3))
			f |= BIT_ULL(M + rnd() % (51 - M + 1));
		if (t->mode == 3 && chance(3))
			f |= BIT_ULL(52 + rnd() % 10);
	}
	if (level > 1 && chance(15))
		f |= PS;
	if (level == 2 && (f & PS) && chance(10))
		f |= BIT_ULL(13 + rnd() % 8);
	return f;
}

static void build(struct trial *t)
{
	u64 table = 1 * MB, next;
	int level, top;

	t->n = 0;
	t->size = t->mode == 2 ? 4 : 8;
	top = t->mode == 3 ? 2 : t->mode;
	t->gva = t->mode >= 4 ? (rnd() & GENMASK_ULL(t->mode == 5 ? 56 : 47, 12)) :
				(rnd() & GENMASK_ULL(31, 12));
	t->gva |= rnd() & 0xff8;
	if (t->mode == 3) {
		/* The PDPT: four entries at CR3, 32-byte aligned. */
		u64 pdpt = 0x80000 + 32 * (rnd() % 8), pdpte = 2 * MB | P;

		if (chance(3))
			pdpte &= ~P;
		put(pdpt + 8 * ((t->gva >> 30) & 3), 8, pdpte);
		t->cpu.cr3 = pdpt;
		table = 2 * MB;
	} else {
		t->cpu.cr3 = table;
	}
	for (level = top; level >= 1; level--) {
		u64 gpa, flags = rand_flags(t, level);

		gpa = table + (t->mode == 2 ? 4 * ((t->gva >> (12 + 10 * (level - 1))) & 1023) :
					      8 * PT64_INDEX(t->gva, level));
		next = level > 1 ? table + MB : (8 + rnd() % 8) * MB;
		if (t->mode == 2 && level == 2 && (flags & PS))
			next &= GENMASK_ULL(31, 22);
		if (t->mode != 2 && (flags & PS))
			next &= ~(PG_LEVEL_SIZE(level) - 1);
		t->gpa[t->n] = gpa;
		t->val[t->n] = next | flags;
		put(gpa, t->size, t->val[t->n]);
		t->n++;
		table = next;
	}
}

static void restore(const struct trial *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		put(t->gpa[i], t->size, t->val[i]);
}

static void rand_cpu(struct trial *t)
{
	struct hw_cpu *c = &t->cpu;

	memset(c, 0, sizeof(*c));
	c->cr0 = X86_CR0_PG | (chance(70) ? X86_CR0_WP : 0);
	c->efer = chance(70) ? EFER_NX : 0;
	c->cr4 = (chance(30) ? X86_CR4_SMEP : 0) | (chance(30) ? X86_CR4_SMAP : 0) |
		 (chance(50) ? X86_CR4_PSE : 0);
	switch (t->mode) {
	case 5:
		c->cr4 |= X86_CR4_LA57;
		/* fall through */
	case 4:
		c->cr4 |= X86_CR4_PAE | (chance(40) ? X86_CR4_PKE : 0);
		c->efer |= EFER_LME | EFER_LMA;
		break;
	case 3:
		c->cr4 |= X86_CR4_PAE;
		break;
	}
	c->rflags = chance(40) ? X86_EFLAGS_AC : 0;
	c->pkru = (u32)rnd();
	c->cpl = chance(50) ? 3 : 0;
}

/* The vCPU's registers as KVM knows them: the CPU's. */
static void sync_kvm(const struct hw_cpu *c)
{
	struct kvm_vcpu *vcpu = w.vcpus[0];
	int i;

	vcpu->arch.cr0 = c->cr0;
	vcpu->arch.cr3 = c->cr3;
	vcpu->arch.cr4 = c->cr4;
	vcpu->arch.efer = c->efer;
	vcpu->arch.rflags = c->rflags;
	vcpu->arch.pkru = c->pkru;
	vcpu->arch.cpl = c->cpl;
	for (i = 0; i < 4; i++)
		vcpu->arch.pdptrs[i] = c->pdptr[i];
	kvm_init_mmu(vcpu);
}

static int setup(void **state)
{
	const struct world_config cfg = {
		.nr_vcpus = 1, .mem = { { .size = MEM, .nr_slots = 1 } },
	};

	assert_int_equal(kvmmu_test_setup(state), 0);
	assert_int_equal(world_create(&w, &cfg, NULL, 0), 0);
	base_hva = w.cfg.mem[0].hva;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(world_destroy(&w), 0);
	return kvmmu_test_teardown(state);
}

#define PAGING_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- the two walkers agree ---------------------------------------------------------------- */

static const char *const access_names[] = { "read", "write", "fetch", "implicit" };

/* What the comparisons covered: translations, and each error-code bit seen. */
static u64 nr_ok, pfec_seen;

static void compare_one(struct trial *t, int acc)
{
	static const unsigned int gw[] = { 0, GW_WRITE, GW_FETCH, GW_IMPLICIT };
	u64 kvm_access = (acc == 1 ? PFERR_WRITE_MASK : acc == 2 ? PFERR_FETCH_MASK :
			  acc == 3 ? PFERR_IMPLICIT_ACCESS : 0) |
			 (t->cpu.cpl == 3 && acc != 3 ? PFERR_USER_MASK : 0);
	struct x86_exception e = { 0 };
	u64 after_kvm[5], after_cpu[5];
	enum gw_result r;
	struct gw_walk cw;
	gpa_t gpa;
	int i;

	restore(t);
	gpa = kvm_mmu_gva_to_gpa(w.vcpus[0], t->gva, kvm_access, &e);
	for (i = 0; i < t->n; i++)
		after_kvm[i] = get(t->gpa[i], t->size);
	restore(t);
	r = hw_guest_walk(&t->cpu, M, t->gva, gw[acc], &cpu_mem, NULL, &cw);
	for (i = 0; i < t->n; i++)
		after_cpu[i] = get(t->gpa[i], t->size);

	if ((r == GW_OK) != (gpa != UNMAPPED_GVA) ||
	    (r == GW_OK && cw.gpa != gpa) ||
	    (r != GW_OK && cw.error_code != e.error_code) ||
	    memcmp(after_kvm, after_cpu, sizeof(u64) * t->n)) {
		print_message("mode %d cr0 %#llx cr4 %#llx efer %#llx rflags %#llx pkru %#x "
			      "cpl %d gva %#llx %s\n", t->mode, (unsigned long long)t->cpu.cr0,
			      (unsigned long long)t->cpu.cr4, (unsigned long long)t->cpu.efer,
			      (unsigned long long)t->cpu.rflags, t->cpu.pkru, t->cpu.cpl,
			      (unsigned long long)t->gva, access_names[acc]);
		for (i = 0; i < t->n; i++)
			print_message("  entry %d: %#llx -> kvm %#llx cpu %#llx\n", i,
				      (unsigned long long)t->val[i],
				      (unsigned long long)after_kvm[i],
				      (unsigned long long)after_cpu[i]);
		fail_msg("KVM: %s %#llx (pfec %#llx); CPU: %s %#llx (pfec %#llx)",
			 gpa != UNMAPPED_GVA ? "gpa" : "fault", (unsigned long long)gpa,
			 (unsigned long long)e.error_code, r == GW_OK ? "gpa" : "fault",
			 (unsigned long long)cw.gpa, (unsigned long long)cw.error_code);
	}
	if (r == GW_OK)
		nr_ok++;
	else
		pfec_seen |= cw.error_code | BIT_ULL(63);
}

static void agree_in_mode(int mode, u64 trials)
{
	struct trial t;
	u64 i;
	int acc;

	rnd_state = 0x9e3779b97f4a7c15ULL ^ (u64)mode;
	nr_ok = pfec_seen = 0;
	for (i = 0; i < trials; i++) {
		t.mode = mode;
		rand_cpu(&t);
		build(&t);
		if (mode == 3 && hw_load_pdptrs(&t.cpu, M, &cpu_mem, NULL))
			continue; /* the CR3 load would #GP: no walk happens */
		sync_kvm(&t.cpu);
		for (acc = 0; acc < 4; acc++)
			compare_one(&t, acc);
	}
	/* Both outcomes, and every kind of fault the mode has, were compared. */
	assert_true(nr_ok > trials / 4);
	assert_true(pfec_seen & BIT_ULL(63));
	assert_true(pfec_seen & PFERR_PRESENT_MASK);
	assert_true(pfec_seen & PFERR_WRITE_MASK);
	assert_true(pfec_seen & PFERR_USER_MASK);
	assert_true(pfec_seen & PFERR_FETCH_MASK);
	if (mode != 2)
		assert_true(pfec_seen & PFERR_RSVD_MASK);
	if (mode >= 4)
		assert_true(pfec_seen & PFERR_PK_MASK);
}

static void test_agree_4level(void **state)
{
	agree_in_mode(4, scaled(300, 3000, 30000));
}

static void test_agree_5level(void **state)
{
	agree_in_mode(5, scaled(300, 3000, 30000));
}

static void test_agree_pae(void **state)
{
	agree_in_mode(3, scaled(300, 3000, 30000));
}

static void test_agree_32bit(void **state)
{
	agree_in_mode(2, scaled(300, 3000, 30000));
}

/* ---- known cases -------------------------------------------------------------------------- */

static void test_cpu_role(void **state)
{
	struct kvm_vcpu *vcpu = w.vcpus[0];
	union kvm_cpu_role r;

	vcpu->arch.cr0 = vcpu->arch.cr4 = vcpu->arch.efer = 0;
	r = kvm_calc_cpu_role(vcpu);
	assert_true(r.base.direct && r.ext.valid);
	vcpu->arch.cr0 = X86_CR0_PG;
	assert_int_equal(kvm_calc_cpu_role(vcpu).base.level, 2);
	assert_true(kvm_calc_cpu_role(vcpu).base.has_4_byte_gpte);
	vcpu->arch.cr4 = X86_CR4_PAE | X86_CR4_PKE | X86_CR4_LA57;
	r = kvm_calc_cpu_role(vcpu);
	/* Not in long mode: PAE, and no protection keys or LA57. */
	assert_int_equal(r.base.level, 3);
	assert_false(r.ext.cr4_pke || r.ext.cr4_la57);
	vcpu->arch.efer = EFER_LME | EFER_LMA | EFER_NX;
	vcpu->arch.cr0 = X86_CR0_PG;
	vcpu->arch.cr4 |= X86_CR4_SMEP;
	r = kvm_calc_cpu_role(vcpu);
	assert_int_equal(r.base.level, 5);
	assert_true(r.ext.cr4_pke && r.ext.cr4_la57 && r.ext.efer_lma && r.base.efer_nx);
	assert_true(r.base.smep_andnot_wp && !r.base.cr0_wp);
	/* Roles compare as one word. */
	vcpu->arch.cr0 |= X86_CR0_WP;
	assert_true(kvm_calc_cpu_role(vcpu).as_u64 != r.as_u64);
}

static void test_permission_bitmap(void **state)
{
	struct kvm_vcpu *vcpu = w.vcpus[0];
	struct kvm_mmu *mmu = vcpu->arch.mmu;

	vcpu->arch.cr0 = X86_CR0_PG | X86_CR0_WP;
	vcpu->arch.cr4 = X86_CR4_PAE | X86_CR4_SMAP | X86_CR4_PKE;
	vcpu->arch.efer = EFER_LME | EFER_LMA | EFER_NX;
	kvm_init_mmu(vcpu);
	/* A user write to a read-only user page faults; to a writable one not. */
	assert_true(mmu->permissions[(PFERR_WRITE_MASK | PFERR_USER_MASK) >> 1] &
		    BIT(ACC_USER_MASK | ACC_EXEC_MASK));
	assert_false(mmu->permissions[(PFERR_WRITE_MASK | PFERR_USER_MASK) >> 1] &
		     BIT(ACC_ALL));
	/* A supervisor read of a user page: SMAP, unless the RSVD position says AC. */
	assert_true(mmu->permissions[0] & BIT(ACC_ALL));
	assert_false(mmu->permissions[PFERR_RSVD_MASK >> 1] & BIT(ACC_ALL));
	/* A fetch of an NX page faults. */
	assert_true(mmu->permissions[PFERR_FETCH_MASK >> 1] & BIT(ACC_WRITE_MASK));
	/* PKRU: AD and WD for a user write to a user page; nothing for fetches. */
	assert_int_equal((mmu->pkru_mask >> (PFERR_WRITE_MASK | PFERR_USER_MASK |
					     PFERR_RSVD_MASK)) & 3, 3);
	assert_int_equal((mmu->pkru_mask >> (PFERR_FETCH_MASK | PFERR_RSVD_MASK)) & 3, 0);
	/* Without long mode, no keys at all. */
	vcpu->arch.efer = 0;
	vcpu->arch.cr4 &= ~X86_CR4_PKE;
	kvm_init_mmu(vcpu);
	assert_int_equal(mmu->pkru_mask, 0);
}

/* A table outside guest memory reads as not present; paging off translates 1:1. */
static void test_edges(void **state)
{
	struct kvm_vcpu *vcpu = w.vcpus[0];
	struct x86_exception e;

	vcpu->arch.cr0 = vcpu->arch.cr4 = vcpu->arch.efer = 0;
	kvm_init_mmu(vcpu);
	assert_int_equal(kvm_mmu_gva_to_gpa(vcpu, 0x1234567, PFERR_WRITE_MASK, &e), 0x1234567);
	vcpu->arch.cr0 = X86_CR0_PG;
	vcpu->arch.cr4 = X86_CR4_PAE;
	vcpu->arch.efer = EFER_LME | EFER_LMA;
	vcpu->arch.cr3 = 1ULL << 40;
	kvm_init_mmu(vcpu);
	assert_int_equal(kvm_mmu_gva_to_gpa(vcpu, 0x1000, PFERR_WRITE_MASK, &e), UNMAPPED_GVA);
	assert_int_equal(e.error_code, PFERR_WRITE_MASK);
	assert_int_equal(e.address, 0x1000);
}

static const struct CMUnitTest tests[] = {
	PAGING_TEST(test_agree_4level),
	PAGING_TEST(test_agree_5level),
	PAGING_TEST(test_agree_pae),
	PAGING_TEST(test_agree_32bit),
	PAGING_TEST(test_cpu_role),
	PAGING_TEST(test_permission_bitmap),
	PAGING_TEST(test_edges),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
