// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPU's architectural guest page walk (src/hw/guest_walk.c), on a
 * flat guest memory: every paging mode (none, 32-bit with PSE and PSE-36,
 * PAE with its PDPTE registers, 4- and 5-level), every permission rule
 * (U/S with the CPL, R/W with CR0.WP, NX with EFER.NXE, SMEP, SMAP with
 * RFLAGS.AC and implicit accesses, protection keys), reserved bits per
 * level, accessed and dirty bits (set only on an allowed access, with a
 * compare-exchange that restarts a walk whose entry changed), and the #PF
 * error code.
 */
#include <errno.h>
#include <string.h>

#include "guest_walk.h"
#include "test.h"

#define MEM_SIZE (16UL << 20)
#define M 46 /* MAXPHYADDR */

static u8 mem[MEM_SIZE];
static int races; /* cmpxchg_entry calls that find the entry changed, to come */

static int mem_read(void *arg, u64 gpa, int size, u64 *val)
{
	u32 v32;

	assert_true(gpa + size <= MEM_SIZE);
	if (size == 4) {
		memcpy(&v32, mem + gpa, 4);
		*val = v32;
	} else {
		memcpy(val, mem + gpa, 8);
	}
	return 0;
}

static int mem_cmpxchg(void *arg, u64 gpa, int size, u64 *old, u64 new_val)
{
	u64 cur;

	mem_read(arg, gpa, size, &cur);
	if (races) {
		/* Someone else sets an ignored bit first. */
		races--;
		cur |= BIT_ULL(9);
		memcpy(mem + gpa, &cur, size);
	}
	if (cur != *old) {
		*old = cur;
		return 1;
	}
	memcpy(mem + gpa, &new_val, size);
	return 0;
}

static const struct hw_gmem_ops ops = { .read = mem_read, .cmpxchg_entry = mem_cmpxchg };

static void put(u64 gpa, int size, u64 val)
{
	memcpy(mem + gpa, &val, size);
}

static u64 get(u64 gpa, int size)
{
	u64 v = 0;

	mem_read(NULL, gpa, size, &v);
	return v;
}

#define P  PT_PRESENT_MASK
#define W  PT_WRITABLE_MASK
#define U  PT_USER_MASK
#define A  PT_ACCESSED_MASK
#define D  PT_DIRTY_MASK
#define PS PT_PAGE_SIZE_MASK
#define NX PT64_NX_MASK

/* Tables of a 4-level walk for GVA: PML4 at 1M, PDPT 1M+4K, PD 1M+8K, PT 1M+12K. */
#define GVA 0x7f1234567000ULL
#define PML4 0x100000ULL
#define PDPT 0x101000ULL
#define PD 0x102000ULL
#define PT 0x103000ULL
#define PAGE 0x200000ULL

static u64 e_gpa(u64 table, int level, u64 gva)
{
	return table + 8 * PT64_INDEX(gva, level);
}

/* Map GVA -> PAGE with 4K pages; @leaf's flags on the PTE, @upper on the others. */
static void map4(u64 upper, u64 leaf)
{
	memset(mem, 0, MEM_SIZE);
	put(e_gpa(PML4, 4, GVA), 8, PDPT | upper);
	put(e_gpa(PDPT, 3, GVA), 8, PD | upper);
	put(e_gpa(PD, 2, GVA), 8, PT | upper);
	put(e_gpa(PT, 1, GVA), 8, PAGE | leaf);
}

static struct hw_cpu cpu64(void)
{
	return (struct hw_cpu){ .cr0 = X86_CR0_PG | X86_CR0_WP, .cr3 = PML4,
				.cr4 = X86_CR4_PAE, .efer = EFER_LME | EFER_LMA | EFER_NX };
}

static enum gw_result walk(const struct hw_cpu *cpu, u64 gva, unsigned int access,
			   struct gw_walk *w)
{
	return hw_guest_walk(cpu, M, gva, access, &ops, NULL, w);
}

/* Expect a fault with exactly @pfec, and no A/D set anywhere. */
static void expect_fault(const struct hw_cpu *cpu, u64 gva, unsigned int access, u64 pfec)
{
	struct gw_walk w;
	u8 before[64];
	int i;

	for (i = 0; i < 4; i++)
		memcpy(before + 16 * i, mem + e_gpa(i == 0 ? PML4 : i == 1 ? PDPT : i == 2 ? PD : PT,
					       4 - i, gva), 8);
	assert_int_equal(walk(cpu, gva, access, &w), GW_FAULT);
	assert_int_equal(w.error_code, pfec);
	for (i = 0; i < 4; i++)
		assert_memory_equal(before + 16 * i,
				    mem + e_gpa(i == 0 ? PML4 : i == 1 ? PDPT : i == 2 ? PD : PT,
						4 - i, gva), 8);
}

static void expect_ok(const struct hw_cpu *cpu, u64 gva, unsigned int access, u64 gpa)
{
	struct gw_walk w;

	assert_int_equal(walk(cpu, gva, access, &w), GW_OK);
	assert_int_equal(w.gpa, gpa);
}

/* ---- 4-level ------------------------------------------------------------------------------- */

static void test_4level_translation_and_ad(void **state)
{
	struct hw_cpu cpu = cpu64();
	struct gw_walk w;

	map4(P | W | U, P | W | U);
	assert_int_equal(hw_paging_mode(&cpu), 4);
	assert_int_equal(walk(&cpu, GVA + 0x123, 0, &w), GW_OK);
	assert_int_equal(w.gpa, PAGE + 0x123);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.levels, 4);
	assert_true(w.user && w.writable && !w.nx && !w.dirty);
	/* A on every level, no D on a read. */
	assert_int_equal(get(e_gpa(PML4, 4, GVA), 8), PDPT | P | W | U | A);
	assert_int_equal(get(e_gpa(PT, 1, GVA), 8), PAGE | P | W | U | A);
	/* A write sets D in the leaf only. */
	assert_int_equal(walk(&cpu, GVA, GW_WRITE, &w), GW_OK);
	assert_true(w.dirty);
	assert_int_equal(get(e_gpa(PT, 1, GVA), 8), PAGE | P | W | U | A | D);
	assert_int_equal(get(e_gpa(PD, 2, GVA), 8), PT | P | W | U | A);
}

static void test_not_present_each_level(void **state)
{
	struct hw_cpu cpu = cpu64();
	u64 tables[4] = { PML4, PDPT, PD, PT };
	int l;

	for (l = 4; l >= 1; l--) {
		map4(P | W | U, P | W | U);
		put(e_gpa(tables[4 - l], l, GVA), 8, 0);
		expect_fault(&cpu, GVA, 0, 0);
		expect_fault(&cpu, GVA, GW_WRITE, PFERR_WRITE_MASK);
		cpu.cpl = 3;
		expect_fault(&cpu, GVA, GW_WRITE, PFERR_WRITE_MASK | PFERR_USER_MASK);
		expect_fault(&cpu, GVA, GW_FETCH, PFERR_USER_MASK | PFERR_FETCH_MASK);
		cpu.cpl = 0;
	}
}

static void test_user_supervisor(void **state)
{
	struct hw_cpu cpu = cpu64();

	/* U clear at any one level makes a supervisor page. */
	map4(P | W | U, P | W | U);
	put(e_gpa(PDPT, 3, GVA), 8, PD | P | W);
	cpu.cpl = 3;
	expect_fault(&cpu, GVA, 0, PFERR_PRESENT_MASK | PFERR_USER_MASK);
	cpu.cpl = 0;
	expect_ok(&cpu, GVA, 0, PAGE);
	/* An implicit access is a supervisor one even at CPL 3. */
	cpu.cpl = 3;
	expect_ok(&cpu, GVA, GW_IMPLICIT, PAGE);
}

static void test_read_write_and_cr0_wp(void **state)
{
	struct hw_cpu cpu = cpu64();

	map4(P | W | U, P | U);
	cpu.cpl = 3;
	expect_fault(&cpu, GVA, GW_WRITE,
		     PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK);
	cpu.cpl = 0;
	expect_fault(&cpu, GVA, GW_WRITE, PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	/* CR0.WP=0: supervisor writes ignore R/W (and dirty the page). */
	cpu.cr0 &= ~X86_CR0_WP;
	expect_ok(&cpu, GVA, GW_WRITE, PAGE);
	assert_true(get(e_gpa(PT, 1, GVA), 8) & D);
	/* R/W clear at an upper level counts the same. */
	map4(P | U, P | W | U);
	cpu.cpl = 3;
	expect_fault(&cpu, GVA, GW_WRITE,
		     PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK);
}

static void test_nx(void **state)
{
	struct hw_cpu cpu = cpu64();

	map4(P | W | U, P | W | U | NX);
	expect_fault(&cpu, GVA, GW_FETCH, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	expect_ok(&cpu, GVA, 0, PAGE);
	/* XD on a PDE covers the page too. */
	map4(P | W | U, P | W | U);
	put(e_gpa(PD, 2, GVA), 8, PT | P | W | U | NX);
	expect_fault(&cpu, GVA, GW_FETCH, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	/* Without EFER.NXE bit 63 is reserved, and I/D is not reported. */
	cpu.efer &= ~EFER_NX;
	expect_fault(&cpu, GVA, GW_FETCH, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	expect_fault(&cpu, GVA, 0, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	map4(P | W | U, P | W | U);
	expect_ok(&cpu, GVA, GW_FETCH, PAGE);
}

static void test_smep(void **state)
{
	struct hw_cpu cpu = cpu64();

	map4(P | W | U, P | W | U);
	cpu.efer &= ~EFER_NX;
	cpu.cr4 |= X86_CR4_SMEP;
	/* I/D is reported because SMEP is on. */
	expect_fault(&cpu, GVA, GW_FETCH, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	expect_ok(&cpu, GVA, 0, PAGE);
	cpu.cpl = 3;
	expect_ok(&cpu, GVA, GW_FETCH, PAGE);
	/* A supervisor page is fine for supervisor fetches. */
	cpu.cpl = 0;
	map4(P | W | U, P | W);
	expect_ok(&cpu, GVA, GW_FETCH, PAGE);
}

static void test_smap(void **state)
{
	struct hw_cpu cpu = cpu64();

	map4(P | W | U, P | W | U);
	cpu.cr4 |= X86_CR4_SMAP;
	expect_fault(&cpu, GVA, 0, PFERR_PRESENT_MASK);
	expect_fault(&cpu, GVA, GW_WRITE, PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	/* RFLAGS.AC lifts it for explicit accesses... */
	cpu.rflags |= X86_EFLAGS_AC;
	expect_ok(&cpu, GVA, GW_WRITE, PAGE);
	/* ...but not for implicit ones. */
	expect_fault(&cpu, GVA, GW_IMPLICIT, PFERR_PRESENT_MASK);
	/* Fetches are SMEP's business; user accesses are not affected. */
	cpu.rflags = 0;
	expect_ok(&cpu, GVA, GW_FETCH, PAGE);
	cpu.cpl = 3;
	expect_ok(&cpu, GVA, 0, PAGE);
}

static void test_protection_keys(void **state)
{
	struct hw_cpu cpu = cpu64();
	const u64 key1 = 1ULL << PT64_PKEY_SHIFT;

	map4(P | W | U, P | W | U | key1);
	cpu.cr4 |= X86_CR4_PKE;
	/* Upper entries carry key 15, whose AD and WD are set: ignored. */
	put(e_gpa(PD, 2, GVA), 8, PT | P | W | U | (15ULL << PT64_PKEY_SHIFT));
	cpu.pkru = BIT(30) | BIT(31);
	cpu.cpl = 3;
	expect_ok(&cpu, GVA, GW_WRITE, PAGE);
	/* AD of key 1: every data access faults, fetches do not. */
	cpu.pkru = BIT(2);
	expect_fault(&cpu, GVA, 0, PFERR_PRESENT_MASK | PFERR_USER_MASK | PFERR_PK_MASK);
	expect_ok(&cpu, GVA, GW_FETCH, PAGE);
	/* WD of key 1: writes fault, for supervisor writes only with CR0.WP. */
	cpu.pkru = BIT(3);
	expect_ok(&cpu, GVA, 0, PAGE);
	expect_fault(&cpu, GVA, GW_WRITE,
		     PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_PK_MASK);
	cpu.cpl = 0;
	expect_fault(&cpu, GVA, GW_WRITE,
		     PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_PK_MASK);
	cpu.cr0 &= ~X86_CR0_WP;
	expect_ok(&cpu, GVA, GW_WRITE, PAGE);
	/* Keys apply to user pages only, and only with CR4.PKE. */
	map4(P | W | U, P | W | key1);
	cpu.pkru = BIT(2);
	expect_ok(&cpu, GVA, 0, PAGE);
	map4(P | W | U, P | W | U | key1);
	cpu.cr4 &= ~X86_CR4_PKE;
	expect_ok(&cpu, GVA, 0, PAGE);
}

static void test_reserved_bits(void **state)
{
	struct hw_cpu cpu = cpu64();
	const u64 rsvd = PFERR_PRESENT_MASK | PFERR_RSVD_MASK;
	u64 tables[4] = { PML4, PDPT, PD, PT }, next[4] = { PDPT, PD, PT, PAGE };
	int l;

	/* A physical-address bit at MAXPHYADDR, at every level. */
	for (l = 4; l >= 1; l--) {
		map4(P | W | U, P | W | U);
		put(e_gpa(tables[4 - l], l, GVA), 8, next[4 - l] | P | W | U | BIT_ULL(M));
		expect_fault(&cpu, GVA, 0, rsvd);
		cpu.cpl = 3;
		expect_fault(&cpu, GVA, GW_WRITE, rsvd | PFERR_WRITE_MASK | PFERR_USER_MASK);
		cpu.cpl = 0;
	}
	/* Bits 62:52 are ignored, not reserved. */
	map4(P | W | U, P | W | U | BIT_ULL(52));
	expect_ok(&cpu, GVA, 0, PAGE);
	/* PS in a PML4E. */
	map4(P | W | U, P | W | U);
	put(e_gpa(PML4, 4, GVA), 8, PDPT | P | W | U | PS);
	expect_fault(&cpu, GVA, 0, rsvd);
	/* Bits 20:13 of a 2M PDE, 29:13 of a 1G PDPTE. */
	map4(P | W | U, P | W | U);
	put(e_gpa(PD, 2, GVA), 8, 0x400000 | P | W | U | PS | BIT_ULL(13));
	expect_fault(&cpu, GVA, 0, rsvd);
	map4(P | W | U, P | W | U);
	put(e_gpa(PDPT, 3, GVA), 8, 0x40000000 | P | W | U | PS | BIT_ULL(21));
	expect_fault(&cpu, GVA, 0, rsvd);
	/* Reserved beats permissions: a not-user reserved entry reports RSVD. */
	map4(P | W, P | W | BIT_ULL(M));
	cpu.cpl = 3;
	expect_fault(&cpu, GVA, 0, rsvd | PFERR_USER_MASK);
}

static void test_huge_pages(void **state)
{
	struct hw_cpu cpu = cpu64();
	struct gw_walk w;

	map4(P | W | U, P | W | U);
	put(e_gpa(PD, 2, GVA), 8, 0x400000 | P | W | U | PS | PT_PAT_LARGE_MASK);
	assert_int_equal(walk(&cpu, GVA + 8, GW_WRITE, &w), GW_OK);
	assert_int_equal(w.level, 2);
	assert_int_equal(w.gpa, 0x400000 | (GVA & (PG_LEVEL_SIZE(2) - 1)) | 8);
	assert_int_equal(w.levels, 3);
	assert_true(get(e_gpa(PD, 2, GVA), 8) & D);
	map4(P | W | U, P | W | U);
	put(e_gpa(PDPT, 3, GVA), 8, 0x40000000 | P | W | U | PS);
	assert_int_equal(walk(&cpu, GVA, 0, &w), GW_OK);
	assert_int_equal(w.level, 3);
	assert_int_equal(w.gpa, 0x40000000 | (GVA & (PG_LEVEL_SIZE(3) - 1)));
}

static void test_5level(void **state)
{
	struct hw_cpu cpu = cpu64();
	const u64 pml5 = 0x104000, gva = 0x00ff123456789000ULL;
	struct gw_walk w;

	memset(mem, 0, MEM_SIZE);
	put(pml5 + 8 * PT64_INDEX(gva, 5), 8, PML4 | P | W | U);
	put(e_gpa(PML4, 4, gva), 8, PDPT | P | W | U);
	put(e_gpa(PDPT, 3, gva), 8, PD | P | W | U);
	put(e_gpa(PD, 2, gva), 8, PT | P | W | U);
	put(e_gpa(PT, 1, gva), 8, PAGE | P | W | U);
	cpu.cr4 |= X86_CR4_LA57;
	cpu.cr3 = pml5;
	assert_int_equal(hw_paging_mode(&cpu), 5);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_OK);
	assert_int_equal(w.levels, 5);
	assert_int_equal(w.gpa, PAGE);
	assert_true(get(pml5 + 8 * PT64_INDEX(gva, 5), 8) & A);
	/* PS is reserved in a PML5E too. */
	put(pml5 + 8 * PT64_INDEX(gva, 5), 8, PML4 | P | W | U | PS);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_FAULT);
	assert_int_equal(w.error_code, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
}

/* ---- 32-bit paging -------------------------------------------------------------------------- */

static void test_32bit(void **state)
{
	struct hw_cpu cpu = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr3 = PML4 };
	const u64 gva = 0x80403123;
	const u64 pde = PML4 + 4 * (gva >> 22), pte = PT + 4 * ((gva >> 12) & 1023);
	struct gw_walk w;

	memset(mem, 0, MEM_SIZE);
	put(pde, 4, PT | P | W | U);
	put(pte, 4, PAGE | P | W | U);
	assert_int_equal(hw_paging_mode(&cpu), 2);
	assert_int_equal(walk(&cpu, gva, GW_WRITE, &w), GW_OK);
	assert_int_equal(w.gpa, PAGE | 0x123);
	assert_int_equal(w.levels, 2);
	assert_int_equal(get(pte, 4), PAGE | P | W | U | A | D);
	assert_int_equal(get(pde, 4), PT | P | W | U | A);
	/* The upper half of a 4-byte entry's neighbour is untouched. */
	assert_int_equal(get(pte + 4, 4), 0);
	/* Bits above 31 of the gva are dropped. */
	assert_int_equal(walk(&cpu, gva | (1ULL << 40), 0, &w), GW_OK);
	assert_int_equal(w.gpa, PAGE | 0x123);

	/* PS without CR4.PSE is ignored: the PDE still points to a table. */
	put(pde, 4, PT | P | W | U | PS);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_OK);
	assert_int_equal(w.gpa, PAGE | 0x123);
	/* With it, a 4 MiB page; PSE-36 puts bits 20:13 at 39:32. */
	cpu.cr4 |= X86_CR4_PSE;
	put(pde, 4, 0x00c00000 | (0x5ULL << 13) | P | W | U | PS);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_OK);
	assert_int_equal(w.level, 2);
	assert_int_equal(w.gpa, (0x5ULL << 32) | 0x00c00000 | (gva & 0x3fffff));
	/* Bit 21 is reserved, and PSE-36 bits at or above MAXPHYADDR. */
	put(pde, 4, 0x00c00000 | BIT_ULL(21) | P | W | U | PS);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_FAULT);
	assert_int_equal(w.error_code, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	put(pde, 4, 0x00c00000 | BIT_ULL(13 + 4) | P | W | U | PS);
	assert_int_equal(hw_guest_walk(&cpu, 36, gva, 0, &ops, NULL, &w), GW_FAULT);
	assert_int_equal(hw_guest_walk(&cpu, M, gva, 0, &ops, NULL, &w), GW_OK);
	/* No NX in 32-bit paging: a fetch of anything present is fine. */
	assert_int_equal(walk(&cpu, gva, GW_FETCH, &w), GW_OK);
	/* U/S and R/W as ever. */
	put(pde, 4, PT | P | U);
	put(pte, 4, PAGE | P | W | U);
	cpu.cpl = 3;
	assert_int_equal(walk(&cpu, gva, GW_WRITE, &w), GW_FAULT);
	assert_int_equal(w.error_code, PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK);
}

/* ---- PAE paging ----------------------------------------------------------------------------- */

static void test_pae(void **state)
{
	struct hw_cpu cpu = { .cr0 = X86_CR0_PG | X86_CR0_WP, .cr3 = PML4 + 0x20,
			      .cr4 = X86_CR4_PAE, .efer = EFER_NX };
	const u64 gva = 0xc0201123, pdpte = PML4 + 0x20 + 8 * 3;
	const u64 pde = PD + 8 * ((gva >> 21) & 511), pte = PT + 8 * ((gva >> 12) & 511);
	struct gw_walk w;

	memset(mem, 0, MEM_SIZE);
	put(pdpte, 8, PD | P);
	put(pde, 8, PT | P | W | U);
	put(pte, 8, PAGE | P | W | U | NX);
	assert_int_equal(hw_paging_mode(&cpu), 3);
	assert_int_equal(hw_load_pdptrs(&cpu, M, &ops, NULL), 0);
	assert_int_equal(cpu.pdptr[3], PD | P);
	assert_int_equal(walk(&cpu, gva, GW_WRITE, &w), GW_OK);
	assert_int_equal(w.gpa, PAGE | 0x123);
	assert_int_equal(w.levels, 2);
	/* The PDPTE is a register: no A bit set in memory. */
	assert_int_equal(get(pdpte, 8), PD | P);
	assert_int_equal(walk(&cpu, gva, GW_FETCH, &w), GW_FAULT);
	assert_int_equal(w.error_code, PFERR_PRESENT_MASK | PFERR_FETCH_MASK);
	/* The registers, not memory, are used until CR3 is loaded again. */
	put(pdpte, 8, 0);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_OK);
	assert_int_equal(hw_load_pdptrs(&cpu, M, &ops, NULL), 0);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_FAULT);
	assert_int_equal(w.error_code, 0);
	/* A present PDPTE with a reserved bit (here XD) fails the load: #GP. */
	put(pdpte, 8, PD | P | NX);
	assert_int_equal(hw_load_pdptrs(&cpu, M, &ops, NULL), -EINVAL);
	put(pdpte, 8, PD | P | W);
	assert_int_equal(hw_load_pdptrs(&cpu, M, &ops, NULL), -EINVAL);
	put(pdpte, 8, PD | P);
	assert_int_equal(hw_load_pdptrs(&cpu, M, &ops, NULL), 0);
	/* PAE entries reserve bits 62:MAXPHYADDR. */
	put(pte, 8, PAGE | P | W | U | BIT_ULL(60));
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_FAULT);
	assert_int_equal(w.error_code, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
	/* 2 MiB pages. */
	put(pde, 8, 0x400000 | P | W | U | PS);
	assert_int_equal(walk(&cpu, gva, 0, &w), GW_OK);
	assert_int_equal(w.gpa, 0x400000 | (gva & 0x1fffff));
}

/* ---- the rest ------------------------------------------------------------------------------- */

static void test_no_paging(void **state)
{
	struct hw_cpu cpu = { 0 };
	struct gw_walk w;

	assert_int_equal(hw_paging_mode(&cpu), 0);
	assert_int_equal(walk(&cpu, 0x12345678, GW_WRITE | GW_FETCH, &w), GW_OK);
	assert_int_equal(w.gpa, 0x12345678);
}

/* An entry that changes under the A/D update restarts the walk, which then succeeds. */
static void test_ad_race_restarts(void **state)
{
	struct hw_cpu cpu = cpu64();
	struct gw_walk w;

	map4(P | W | U, P | W | U);
	races = 2;
	assert_int_equal(walk(&cpu, GVA, GW_WRITE, &w), GW_OK);
	assert_int_equal(races, 0);
	assert_int_equal(get(e_gpa(PT, 1, GVA), 8), PAGE | P | W | U | A | D);
	assert_int_equal(get(e_gpa(PML4, 4, GVA), 8), PDPT | P | W | U | A | BIT_ULL(9));
}

static const struct CMUnitTest tests[] = {
	KVMMU_TEST(test_4level_translation_and_ad),
	KVMMU_TEST(test_not_present_each_level),
	KVMMU_TEST(test_user_supervisor),
	KVMMU_TEST(test_read_write_and_cr0_wp),
	KVMMU_TEST(test_nx),
	KVMMU_TEST(test_smep),
	KVMMU_TEST(test_smap),
	KVMMU_TEST(test_protection_keys),
	KVMMU_TEST(test_reserved_bits),
	KVMMU_TEST(test_huge_pages),
	KVMMU_TEST(test_5level),
	KVMMU_TEST(test_32bit),
	KVMMU_TEST(test_pae),
	KVMMU_TEST(test_no_paging),
	KVMMU_TEST(test_ad_race_restarts),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
