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
	DIFF_OP_WRITE,      /* 8-byte guest stores through a vCPU, exits compared */
};

#define DIFF_MAX_WRITE_GPAS 16 /* gpas of one write */

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
	int nr_gpas;         /* WRITE: the gpas stored to, in order */
	struct diff_value gpas[DIFF_MAX_WRITE_GPAS];
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
/*
 * Sequence @index of the random ones of @seed: @nr_ops operations; with
 * @writes, some of them are guest writes (the others are the same either way).
 */
void diff_seq_random(struct diff_seq *seq, u64 seed, u64 index, int nr_ops, bool writes);
/* The sequence has a guest write. */
bool diff_seq_writes(const struct diff_seq *seq);
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

/* ---- guest writes: a stub guest on the host, the same stores on kvmmu ----------------------- */

/*
 * Writes run from a memslot of their own on both sides, the stub, at a
 * slot id and a gpa range no slot of the sequence uses: made at the first
 * write, and deleted (on both sides) when an operation of the sequence
 * names its id or its range, or a write's gpa falls in it; the next write
 * makes it again.  It holds the guest's 4-level page tables (and, on the
 * host, its code): its own pages at DIFF_STUB_VA, and a table of windows.
 * The VMM writes the tables only before the slot exists.  For each write
 * the guest points window i at the page of the write's gpa i itself, with
 * a store to the window's entry (under shadow paging, a write to a
 * write-protected guest table that KVM emulates, as a guest kernel's),
 * reloads CR3, stores 8 bytes through each window in order and halts.
 */
#define DIFF_STUB_SIZE (64ULL << 10)
#define DIFF_STUB_VA (1ULL << 46)                        /* a lower-half address, for PVM */
#define DIFF_STUB_WINDOWS (DIFF_STUB_VA + (2ULL << 20)) /* window i at + i * 4K */
#define DIFF_STUB_VALUE 0x6b766d6d75646966ULL          /* what every store stores */

/*
 * The page tables of a stub at gpa @base into @image (DIFF_STUB_SIZE bytes,
 * zeroed first): the stub's own pages at DIFF_STUB_VA, the windows' table
 * empty.  @user: every entry with U/S set (PVM runs the guest's supervisor
 * mode on user pages).
 */
void diff_stub_tables(u8 *image, u64 base, bool user);
/* Where window @i's entry is (a gva), and the entry that maps the page of @gpa. */
u64 diff_stub_window_pte(int i);
u64 diff_stub_pte(u64 gpa, bool user);

/* What became of one store. */
enum diff_store {
	DIFF_STORE_DONE,     /* it reached memory: no exit */
	DIFF_STORE_MMIO,     /* KVM_EXIT_MMIO at its gpa (no slot, or a read-only one) */
	DIFF_STORE_BEYOND,   /* at or above 2^MAXPHYADDR: no page table maps it, not run */
	DIFF_STORE_NOT_RUN,  /* the guest stopped before it (err) */
};

struct diff_write {
	int nr;
	u8 store[DIFF_MAX_WRITE_GPAS]; /* enum diff_store, one a gpa */
	u64 exits;                     /* MMIO exits */
	u64 stray;                     /* MMIO exits at a gpa no store of the write has */
	/*
	 * What stopped the guest before its HLT: KVM_RUN's -errno, -EIO for
	 * an exit the stub does not expect, -ENOSPC for no room for the stub
	 * (no free slot id or gpa range: nothing ran on either side).
	 */
	int err;
	int exit_reason;               /* -EIO: the exit */
};

/* Which stub the host runs. */
enum diff_stub {
	DIFF_STUB_NONE,      /* none: guest writes are not compared */
	DIFF_STUB_LONG_MODE, /* 64-bit kernel code on a 4-level map: VMX, SVM (and PVM, emulated) */
	DIFF_STUB_PVM,       /* the same, registering a PVCS first: PVM runs it natively */
};

const char *diff_stub_name(enum diff_stub s);

struct diff_guest {
	enum diff_stub stub;
	u8 *mem;                 /* the stub's memory in this process */
	void *cpuid;             /* KVM_GET_SUPPORTED_CPUID, for each vCPU */
	int vcpu_fd;             /* the current VM's vCPU, or -1 */
	int next_vcpu_id;
	bool vcpu_ran;           /* the current vCPU has run a write */
	void *run;               /* its struct kvm_run */
	long run_size;
};

/*
 * Find out whether the host runs a stub: on a VM of its own, each stub
 * the host may take (PVM's first on PVM) writes to a slot with dirty
 * logging, a read-only slot and no slot; again from the same place, a
 * page harvested in between included; and from a stub made elsewhere.  It
 * runs if every exit and bitmap is as KVM documents them.  0 and
 * @g->stub set, or -errno with one line per stub tried in @why.
 */
int diff_guest_probe(struct diff_kvm *k, struct diff_guest *g, char *why, size_t why_len);
void diff_guest_close(struct diff_guest *g);
/* The stub's tables at @base into its memory here, before its slot exists. */
void diff_guest_place(struct diff_guest *g, u64 base);
/* A new VM (k->vm_fd): no vCPU yet. */
void diff_guest_vm_reset(struct diff_guest *g);
/*
 * The VM's next vCPU (the first is vCPU 0): writes run on it.  0 or
 * -errno.  The PVM stub makes a new one for each write after the first.
 */
int diff_guest_vcpu_create(struct diff_kvm *k, struct diff_guest *g);
/*
 * The stores of @gpas[0..@n) through the stub at @base, placed and its
 * slot created (from @g->mem) by the caller: KVM_RUN to the HLT, passing
 * MMIO exits through.  @phys_bits: the guest's MAXPHYADDR.  Fills @out.
 */
void diff_guest_write(struct diff_kvm *k, struct diff_guest *g, u64 base, const u64 *gpas,
		      int n, int phys_bits, struct diff_write *out);
/* The stores' outcomes from the MMIO exits seen, in order. */
void diff_write_resolve(struct diff_write *w, const u64 *gpas, int n, int phys_bits,
			const u64 *exits, u64 nr_exits);

#endif /* KVMMU_CLI_DIFF_H */
