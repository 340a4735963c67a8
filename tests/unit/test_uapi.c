// SPDX-License-Identifier: GPL-2.0-only
/*
 * The uAPI additions: layouts (also pinned by static_assert in the header)
 * and ioctl numbers, against the values upstream Linux uses.
 */
#include <kvmmu/kvmmu.h>

#include "test.h"

static void test_ioctl_numbers(void **state)
{
	/* _IOW(0xAE, 0x49, 160 bytes) and _IOWR(0xAE, 0xd5, 64 bytes). */
	assert_int_equal(KVM_SET_USER_MEMORY_REGION2, 0x40a0ae49);
	assert_int_equal(KVM_PRE_FAULT_MEMORY, 0xc040aed5);
	assert_int_equal(KVM_CAP_USER_MEMORY2, 231);
	assert_int_equal(KVM_CAP_PRE_FAULT_MEMORY, 236);
	assert_int_equal(KVM_X86_QUIRK_SLOT_ZAP_ALL, 0x80);
}

static void test_region2_extends_region(void **state)
{
	struct kvm_userspace_memory_region2 r2 = {
		.slot = 3, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0x100000, .memory_size = 0x200000,
		.userspace_addr = 0x7f0000000000ULL,
	};
	const struct kvm_userspace_memory_region *r1 = (const void *)&r2;

	assert_int_equal(r1->slot, 3);
	assert_int_equal(r1->guest_phys_addr, 0x100000);
	assert_int_equal(r1->memory_size, 0x200000);
	assert_int_equal(r1->userspace_addr, 0x7f0000000000ULL);
	assert_int_equal(sizeof(r2), 160);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		KVMMU_TEST(test_ioctl_numbers),
		KVMMU_TEST(test_region2_extends_region),
	};

	return kvmmu_run_tests(tests);
}
