/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake CPU for tests of the VM core and the MMU: behind the hardware ops
 * of include/kvmmu/hw.h, it runs a per-vCPU program of guest accesses,
 * walking the SPTE tables on every access (no TLB: every access sees the
 * tables as they are), setting A/D bits as hardware does, and exiting on
 * faults, MMIO and kicks.  A spin step loops in guest mode until kicked or
 * released, for tests of kicks and remote flushes.
 *
 * It counts TLB flushes and records, while the vCPU is in guest mode, how
 * many flushes it had seen when it entered.
 */
#ifndef KVMMU_TESTS_COMMON_FAKE_HW_H
#define KVMMU_TESTS_COMMON_FAKE_HW_H

#include <kvmmu/hw.h>

#include "atomic.h"
#include "types.h"

enum fake_op {
	FAKE_READ,
	FAKE_WRITE,
	FAKE_EXEC,
	FAKE_SPIN, /* stay in guest mode until kicked (exit) or released (next step) */
};

struct fake_step {
	u8 op;
	gpa_t gpa;
	u64 value; /* FAKE_WRITE: stored; FAKE_READ: loaded */
};

#define FAKE_MAX_STEPS 4096

struct kvmmu_hw_vcpu {
	struct fake_hw *hw;
	int id;
	struct fake_step prog[FAKE_MAX_STEPS];
	size_t len;
	size_t pc;
	_Atomic u64 flushes;
	_Atomic s64 entry_flushes; /* flushes at the last entry; -1 outside guest mode */
	_Atomic bool release;      /* ends the current FAKE_SPIN step */
	_Atomic u64 entries;
};

struct fake_hw {
	u8 *direct_map;
	_Atomic u64 *tags; /* tag mode: a guest frame's contents are tags[pfn] */
	int phys_bits;
	struct kvmmu_hw_vcpu *vcpus[8];
};

extern const struct kvmmu_hw_ops fake_hw_ops;

void fake_hw_init(struct fake_hw *hw, u8 *direct_map, int phys_bits);

/* Replace @hv's program; pc goes back to 0. */
void fake_hw_set_program(struct kvmmu_hw_vcpu *hv, const struct fake_step *steps, size_t n);

/* One step that is added at the end. */
void fake_hw_push(struct kvmmu_hw_vcpu *hv, u8 op, gpa_t gpa, u64 value);

#endif /* KVMMU_TESTS_COMMON_FAKE_HW_H */
