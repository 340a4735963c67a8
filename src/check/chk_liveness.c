// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault liveness (I34): once no invalidation is in progress, a fault
 * completes within a bounded number of retries.
 *
 * A fault retries on the mmu_invalidate_seq check when an invalidation
 * covers its gfn or ended since its snapshot: the sequence moved, and the
 * next attempt takes a new snapshot and goes through.  A fault that
 * retries on that check again and again while no invalidation is in
 * progress and the sequence stands still can never complete: its check
 * is wrong (a snapshot truncated or sign-extended, a comparison of the
 * wrong widths), which only sequence values far from 0 reveal (the
 * world's counters option).  Each vCPU's run of such retries is counted;
 * at FAULT_RETRY_BOUND it is a violation that says why.
 *
 * Retries for other reasons (a slot being deleted, an obsolete root, a
 * race lost to another thread) end when another thread makes progress
 * and are not counted.
 *
 * Shadow paging adds another way to loop: a write-protection fault that
 * unprotects the gfn and lets the CPU redo the store (KVMMU_EV_WP_FAULT).
 * If the gfn is a table of the store's own walk, the redo shadows it
 * again and faults again: only KVM's last_retry_* guard, which emulates
 * the second time, ends that.  So the same instruction unprotecting the
 * same address UNPROTECT_BOUND times in a row, with the store neither
 * emulated nor done by the CPU in between, is a violation.
 */
#include "check_internal.h"

#define FAULT_RETRY_BOUND 8

struct retry_run {
	u64 seq;   /* mmu_invalidate_seq through the run */
	int count; /* retries in a row on the sequence check */
};

#define UNPROTECT_BOUND 3

struct unprotect_run {
	u64 rip, gva; /* the instruction and address unprotected */
	int count;    /* unprotect-and-retries in a row for them */
};

/*
 * Per vCPU, and only ever touched by the thread that runs it (its faults,
 * its unprotects and its stores are all reported there, one ioctl at a
 * time): fault and unprotect events need no check_lock.  A cache line per
 * vCPU, as they run in parallel.
 */
static struct vcpu_runs {
	struct retry_run retry;
	struct unprotect_run unprotect;
} ____cacheline_aligned runs[KVM_MAX_VCPUS];

static void liveness_begin(void)
{
	memset(runs, 0, sizeof(runs));
}

static void unprotect_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_fault *f = &ev->fault;
	struct unprotect_run *u;

	if (ev->type == KVMMU_EV_GUEST_STORE) {
		/* The CPU did a store: the run for that address is over. */
		if (ev->access.vcpu >= 0 && ev->access.vcpu < KVM_MAX_VCPUS &&
		    runs[ev->access.vcpu].unprotect.gva == ev->access.gva)
			runs[ev->access.vcpu].unprotect.count = 0;
		return;
	}
	if (f->vcpu < 0 || f->vcpu >= KVM_MAX_VCPUS)
		return;
	u = &runs[f->vcpu].unprotect;
	if (!f->unprotected) {
		/* Emulated: the instruction completed. */
		u->count = 0;
		return;
	}
	if (!u->count || u->rip != f->rip || u->gva != f->gpa) {
		*u = (struct unprotect_run){ .rip = f->rip, .gva = f->gpa, .count = 1 };
		return;
	}
	if (++u->count != UNPROTECT_BOUND)
		return;
	chk_violation(CHK_FAULT_LIVENESS, ev, -1, -1,
		      "vCPU %d's store at rip %#llx to gva %#llx faulted on a write-protected "
		      "gfn, which KVM unprotected and retried %d times in a row: the store "
		      "never completes (the gfn is shadowed again by the store's own walk)",
		      f->vcpu, (unsigned long long)f->rip, (unsigned long long)f->gpa, u->count);
}

static void liveness_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_fault *f = &ev->fault;
	struct retry_run *run;

	if (ev->type != KVMMU_EV_FAULT_DONE) {
		unprotect_event(ev);
		return;
	}
	if (f->vcpu < 0 || f->vcpu >= KVM_MAX_VCPUS)
		return;
	run = &runs[f->vcpu].retry;
	if (f->retry != KVMMU_RETRY_INVALIDATION || f->in_progress) {
		run->count = 0;
		return;
	}
	if (!run->count || run->seq != f->seq_now) {
		/* The sequence moved: the retry was the protocol working. */
		run->seq = f->seq_now;
		run->count = 1;
		return;
	}
	if (++run->count != FAULT_RETRY_BOUND)
		return;
	chk_violation(CHK_FAULT_LIVENESS, ev, (s64)gpa_to_gfn(f->gpa), -1,
		      "vCPU %d's fault at gpa %#llx retried %d times in a row on the "
		      "mmu_invalidate_seq check with no invalidation in progress and the "
		      "sequence standing at %#llx: its snapshot, %#llx, never matches",
		      f->vcpu, (unsigned long long)f->gpa, run->count,
		      (unsigned long long)f->seq_now, (unsigned long long)f->mmu_seq);
}

const struct checker_ops chk_liveness_ops = {
	.events = BIT_ULL(KVMMU_EV_FAULT_DONE) | BIT_ULL(KVMMU_EV_WP_FAULT) |
		  BIT_ULL(KVMMU_EV_GUEST_STORE),
	.lockless_events = BIT_ULL(KVMMU_EV_FAULT_DONE) | BIT_ULL(KVMMU_EV_WP_FAULT) |
			   BIT_ULL(KVMMU_EV_GUEST_STORE),
	.begin = liveness_begin,
	.event = liveness_event,
};
