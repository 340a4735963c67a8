/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvmmu diff: the same memslot and dirty-log operations on kvmmu and on the
 * host's /dev/kvm, every return value and every dirty bitmap compared.
 *
 * A sequence is a list of operations (docs/diff.md has the text format),
 * parsed from a file or generated from a seed.  Numbers in it may name the
 * host's limits (MAXGPA, NRSLOTS), so a sequence means the same thing on
 * every host; they are resolved when it runs, against the configuration
 * both sides were matched to.
 */
#ifndef KVMMU_CLI_DIFF_H
#define KVMMU_CLI_DIFF_H

#include <stddef.h>

#include "types.h"

enum diff_op_kind {
	DIFF_OP_REGION,     /* KVM_SET_USER_MEMORY_REGION(2); size 0 deletes */
	DIFF_OP_GET,        /* KVM_GET_DIRTY_LOG, bitmaps compared */
	DIFF_OP_CLEAR,      /* KVM_CLEAR_DIRTY_LOG */
	DIFF_OP_ENABLE_CAP, /* KVM_ENABLE_CAP on the VM */
	DIFF_OP_CHECK_EXT,  /* KVM_CHECK_EXTENSION on the VM */
};

/* A number of a sequence: a constant plus multiples of the host's limits. */
struct diff_value {
	u64 constant;
	s64 maxgpa;  /* times MAXGPA: the first gpa no memslot may reach */
	s64 nrslots; /* times NRSLOTS: KVM_CAP_NR_MEMSLOTS */
};

enum diff_mask {
	DIFF_MASK_ALL,     /* every bit of the range set */
	DIFF_MASK_NONE,
	DIFF_MASK_PATTERN, /* a 64-bit word, repeated */
};

struct diff_op {
	enum diff_op_kind kind;
	int line;            /* in its file; the index in a generated sequence */
	bool v1;             /* REGION: the v1 ioctl */
	struct diff_value slot; /* REGION, GET, CLEAR: the slot's id */
	u32 as_id;           /* and its address space */
	u32 flags;           /* REGION: KVM_MEM_*; ENABLE_CAP: kvm_enable_cap.flags */
	struct diff_value gpa, size;
	bool uaddr;          /* REGION: @hva is an address, not an offset into the arena */
	struct diff_value hva;
	struct diff_value first, num; /* CLEAR */
	enum diff_mask mask;
	u64 pattern;
	u32 cap;             /* ENABLE_CAP, CHECK_EXT */
	u64 arg0;            /* ENABLE_CAP: args[0] */
};

struct diff_seq {
	char name[128];
	struct diff_op *ops;
	int nr_ops, cap_ops;
};

/* Parse @path.  0, or -1 with "FILE:LINE: what" in @why. */
int diff_seq_parse_file(const char *path, struct diff_seq *seq, char *why, size_t why_len);
/* Parse one line (no newline) into @op; 0 for an operation, 1 for a blank line. */
int diff_seq_parse_line(const char *text, struct diff_op *op, char *why, size_t why_len);
/* Sequence @index of the random ones of @seed: @nr_ops operations. */
void diff_seq_random(struct diff_seq *seq, u64 seed, u64 index, int nr_ops);
void diff_seq_free(struct diff_seq *seq);
/* @op in the text format, one line. */
void diff_op_format(const struct diff_op *op, char *buf, size_t len);

/* A capability's name in the text format ("MANUAL_DIRTY_LOG_PROTECT2"), or NULL. */
const char *diff_cap_name(u32 cap);
/* The capabilities both sides report at the start of a run. */
extern const u32 diff_caps[];
extern const int diff_nr_caps;

/* ---- the host's /dev/kvm -------------------------------------------------------------------- */

struct diff_kvm {
	int kvm_fd;
	int vm_fd;
	int api_version;
};

/*
 * Open @device.  0, or -errno with the reason in @why: /dev/kvm missing or
 * unusable (the caller skips).
 */
int diff_kvm_open(struct diff_kvm *k, const char *device, char *why, size_t why_len);
void diff_kvm_close(struct diff_kvm *k);
/* KVM_CREATE_VM (the default type); 0 or -errno. */
int diff_kvm_vm_create(struct diff_kvm *k);
void diff_kvm_vm_destroy(struct diff_kvm *k);
/* The ioctls, each returning what the ioctl returned, or -errno. */
long diff_kvm_check_extension(struct diff_kvm *k, bool vm, u32 cap);
int diff_kvm_enable_cap(struct diff_kvm *k, u32 cap, u32 flags, u64 arg0);
int diff_kvm_set_region(struct diff_kvm *k, bool v1, u32 slot, u32 flags, u64 gpa, u64 size,
			u64 hva);
int diff_kvm_get_dirty_log(struct diff_kvm *k, u32 slot, void *bitmap);
int diff_kvm_clear_dirty_log(struct diff_kvm *k, u32 slot, u64 first, u32 num, void *bitmap);

#endif /* KVMMU_CLI_DIFF_H */
