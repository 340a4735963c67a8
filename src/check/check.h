/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checkers: read-only observers of the invariants in docs/invariants.md.
 *
 * Each checker subscribes (through one dispatcher) to the observer hooks
 * and judges what it sees against the world: the VM (roots, SPTEs, vCPU
 * modes and requests), the host (frames and their states, host page
 * tables) and the simulated CPUs (every TLB, read through its seqlock).
 * A checker never changes anything, and runs with sched points silenced so
 * that it neither hands control to another thread in the middle of a look
 * nor adds decisions to a controlled schedule.
 *
 * The terms (live translation, target, break-before-make, coherence,
 * notifier completeness, dirty-log completeness) are those of the project
 * contract, section 6.
 */
#ifndef KVMMU_CHECK_CHECK_H
#define KVMMU_CHECK_CHECK_H

#include <stddef.h>

#include "compiler.h"
#include "types.h"

struct kvm;
struct mm_struct;
struct hw_machine;
struct host_file;

enum checker_id {
	CHK_NOTIFIER_COMPLETENESS, /* I26 */
	CHK_BREAK_BEFORE_MAKE,     /* I27 */
	CHK_COHERENCE,             /* I28 */
	CHK_TABLE_LIFETIME,        /* I29: tables and frames */
	CHK_ROOT_LIFETIME,         /* I8 */
	CHK_PAGE_REFERENCES,       /* I30 */
	CHK_DATA_INTEGRITY,        /* I31 */
	CHK_DIRTY_LOG,             /* I32 */
	CHK_RANGE_COMPLETENESS,    /* I33 */
	CHK_FAULT_LIVENESS,        /* I34 */
	CHK_DIRTY_BIT,             /* I35 */
	CHK_MMIO_GENERATION,       /* I19 */
	CHK_OBSOLETE_INSTALL,      /* I36 */
	CHK_MEMSLOT_CONSISTENCY,   /* I37 */
	CHK_WRITE_PROTECTION,      /* I38 */
	CHK_GUEST_TRANSLATION,     /* I40 */
	CHK_SHADOW_ACCOUNTING,     /* I39 */
	NR_CHECKERS
};

#define CHECK_ALL ((1ULL << NR_CHECKERS) - 1)

struct checker_info {
	const char *name;        /* as given to --check */
	const char *invariant;   /* an id from docs/invariants.md */
	const char *description;
};

extern const struct checker_info checker_table[NR_CHECKERS];

/*
 * Parse a --check list: "all", "none", or comma-separated names.  Returns
 * 0, or -ENOENT with the unknown name in @bad, or -EINVAL.
 */
int check_parse(const char *list, u64 *mask, char *bad, size_t bad_len);

/* What the checkers look at. */
struct check_world {
	struct kvm *kvm;
	struct mm_struct *mm;
	struct hw_machine *hw; /* NULL: the vCPUs have no TLB to look at */
	bool nested;           /* the guests run as L2 under an L1 (nested EPT) */
};

struct check_violation {
	const char *invariant;
	const char *checker;
	char description[240];
	char thread[32];
	s64 gfn;  /* -1: none */
	s64 pfn;  /* -1: none */
	u64 event_index;
};

/*
 * Start checking @w with the checkers in @mask.  @on_violation (may be
 * NULL) is called once, at the first violation, from the thread that saw
 * it; it must not block.  Event indices count from 0 from here (call it
 * while no other thread emits events).  Returns 0, -EBUSY (checking is on
 * already) or -ENOSPC (no observer slot left); on failure nothing is left
 * to end.
 */
int check_begin(const struct check_world *w, u64 mask,
		void (*on_violation)(void *arg), void *arg);

/*
 * End-of-run checks, with the world still there but quiet (no thread
 * running): references, frames.  Then stop observing, but for the events
 * of the VM's teardown some checkers judge (freed memslot metadata
 * touched, the MMU's counts when it is empty): those are observed until
 * check_teardown_end(), without @on_violation calls.
 */
void check_end(void);

/* The VM is gone: stop observing its teardown (a no-op if nothing is observed). */
void check_teardown_end(void);

/* Teardown checks, after the VM and the host address space are gone. */
void check_after_teardown(u64 frames_still_allocated);

/* Violations found since check_begin(): the count, the first @n copied. */
int check_violations(struct check_violation *out, int n);

/* Events the checkers looked at (for cost figures). */
u64 check_events_seen(void);

/*
 * Report a violation found outside the checkers proper (a WARN, for
 * example).  @gfn and @pfn may be -1.
 */
void check_report(enum checker_id id, s64 gfn, s64 pfn, u64 event_index,
		  const char *fmt, ...) __printf(5, 6);

#endif /* KVMMU_CHECK_CHECK_H */
