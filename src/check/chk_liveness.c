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
 */
#include "check_internal.h"

#define FAULT_RETRY_BOUND 8

struct retry_run {
	u64 seq;   /* mmu_invalidate_seq through the run */
	int count; /* retries in a row on the sequence check */
};

static struct retry_run runs[KVM_MAX_VCPUS];

static void liveness_begin(void)
{
	memset(runs, 0, sizeof(runs));
}

static void liveness_event(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_fault *f = &ev->fault;
	struct retry_run *run;

	if (f->vcpu < 0 || f->vcpu >= KVM_MAX_VCPUS)
		return;
	run = &runs[f->vcpu];
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
	.events = BIT_ULL(KVMMU_EV_FAULT_DONE),
	.begin = liveness_begin,
	.event = liveness_event,
};
