// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP MMU core: faults, roots, zaps, fast zap, the read-lock zap
 * helper, and teardown, driven through the vCPU run loop on a fake CPU.
 */
#include <errno.h>
#include <string.h>

#include "mmu.h"
#include "mmu_internal.h"
#include "rcu.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"
#include "test.h"
#include "vm_fixture.h"

#define MB (1UL << 20)

static struct vm_fixture fix;

static int teardown_fix(void **state)
{
	if (vm_fixture_destroy(&fix))
		return -1;
	return kvmmu_test_teardown(state);
}

#define FIX_TEST(fn) cmocka_unit_test_setup_teardown(fn, kvmmu_test_setup, teardown_fix)

static void create(const struct vm_fixture_opts *o)
{
	assert_int_equal(vm_fixture_create(&fix, o), 0);
}

static u64 vcpu_stat(int vcpu, const char *name)
{
	return kvmmu_vcpu_stat(fix.vcpus[vcpu], name);
}

static u64 vm_stat(const char *name)
{
	return kvmmu_vm_stat(fix.kvm, name);
}

/* A write, then a read of the same word: one fault, data lands in the frame. */
static void test_fault_write_read(void **state)
{
	struct vm_fixture_opts o = { .mem_size = 2 * MB, .nr_vcpus = 1 };
	struct kvmmu_hw_vcpu *hv;

	create(&o);
	hv = fix.hw.vcpus[0];
	fake_hw_push(hv, FAKE_WRITE, 0x1008, 42);
	fake_hw_push(hv, FAKE_READ, 0x1008, 0);
	assert_int_equal(fix_run_to_hlt(&fix, 0), 0);

	assert_int_equal(hv->prog[1].value, 42);
	assert_int_equal(fix_host_read(&fix, 0x1008), 42);
	assert_int_equal(vcpu_stat(0, "pf_fixed"), 1);
	assert_int_equal(vcpu_stat(0, "pf_taken"), 1);
	assert_int_equal(vm_stat("pages_4k"), 1);
	assert_true(is_writable_pte(fix_leaf_spte(&fix, 0, 0x1000, NULL)));
}

static const struct CMUnitTest tests[] = {
	FIX_TEST(test_fault_write_read),
};

int main(void)
{
	return kvmmu_run_tests(tests);
}
