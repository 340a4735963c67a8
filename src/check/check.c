// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checkers' registry and dispatcher, violations, and the helpers they
 * share (see check_internal.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "shadow_mmu.h"
#include "rcu.h"
#include "sched_point.h"
#include "srcu.h"
#include "tdp_iter.h"
#include "thread.h"

const struct checker_info checker_table[NR_CHECKERS] = {
	[CHK_NOTIFIER_COMPLETENESS] = {
		"notifier-completeness", "I26",
		"when invalidate_range_start returns, no SPTE in any root and no live "
		"translation maps the range",
	},
	[CHK_BREAK_BEFORE_MAKE] = {
		"break-before-make", "I27",
		"a location that lost a present value gets one with another target only "
		"after every live translation derived from the old one was flushed",
	},
	[CHK_COHERENCE] = {
		"coherence", "I28",
		"live leaf translations and current SPTEs agree on every gfn's pfn",
	},
	[CHK_TABLE_LIFETIME] = {
		"table-lifetime", "I29",
		"no table frame is read, no frame accessed through a translation, and no "
		"rmap descriptor read by a lockless walker, after it was freed",
	},
	[CHK_ROOT_LIFETIME] = {
		"root-lifetime", "I8",
		"no new long-lived reference on an invalid root",
	},
	[CHK_PAGE_REFERENCES] = {
		"page-references", "I30",
		"no reference raised from 0 or taken on a non-refcounted page, no marking "
		"of a freed page, every reference released",
	},
	[CHK_DATA_INTEGRITY] = {
		"data-integrity", "I31",
		"every guest load returns what was last stored at that host address",
	},
	[CHK_DIRTY_LOG] = {
		"dirty-log-completeness", "I32",
		"a guest write completed after a harvest appears in a later harvest",
	},
	[CHK_RANGE_COMPLETENESS] = {
		"range-completeness", "I33",
		"a zap, write-protection or split of a range leaves no leaf of it behind "
		"that it was to deal with",
	},
	[CHK_FAULT_LIVENESS] = {
		"fault-liveness", "I34",
		"with no invalidation in progress, a fault completes within a bounded "
		"number of retries",
	},
	[CHK_DIRTY_BIT] = {
		"dirty-bit", "I35",
		"a D bit the CPU set in an SPTE is never overwritten unseen by KVM, and the "
		"page it dirties is already dirty in the host",
	},
	[CHK_MMIO_GENERATION] = {
		"mmio-generation", "I19",
		"when the MMIO generation wraps, no MMIO SPTE from before stays in a valid root",
	},
	[CHK_OBSOLETE_INSTALL] = {
		"obsolete-install", "I36",
		"no present SPTE is installed in an obsolete page table (a fault against an "
		"obsolete root retries, a root without a page counting as obsolete while a "
		"reload is pending)",
	},
	[CHK_MEMSLOT_CONSISTENCY] = {
		"memslot-consistency", "I37",
		"once a memslot is deleted or moved, no SPTE maps a gfn of the old slot and no page "
		"shadowing a guest table stored there remains; its freed metadata is never touched",
	},
	[CHK_WRITE_PROTECTION] = {
		"write-protection", "I38",
		"no SPTE maps writable a gfn where a guest table is shadowed, except while every "
		"page shadowing it is an unsync 4K page",
	},
	[CHK_GUEST_TRANSLATION] = {
		"guest-translation", "I40",
		"every access through the guest's own tables (shadow paging, L2 under nested EPT) "
		"uses a translation they allowed since the vCPU's last flush covering it, with no "
		"more permission than they gave",
	},
	[CHK_SHADOW_ACCOUNTING] = {
		"shadow-accounting", "I39",
		"every shadow page is in the hash from allocation to its free, and the shadow MMU's "
		"counts, write-track and disallow_lpage counts are what its pages imply (zero at "
		"teardown)",
	},
};

static const struct checker_ops *const checker_ops[NR_CHECKERS] = {
	[CHK_NOTIFIER_COMPLETENESS] = &chk_notifier_ops,
	[CHK_BREAK_BEFORE_MAKE] = &chk_bbm_ops,
	[CHK_COHERENCE] = &chk_coherence_ops,
	[CHK_TABLE_LIFETIME] = &chk_table_ops,
	[CHK_ROOT_LIFETIME] = &chk_root_ops,
	[CHK_PAGE_REFERENCES] = &chk_refs_ops,
	[CHK_DATA_INTEGRITY] = &chk_data_ops,
	[CHK_DIRTY_LOG] = &chk_dirty_ops,
	[CHK_RANGE_COMPLETENESS] = &chk_range_ops,
	[CHK_FAULT_LIVENESS] = &chk_liveness_ops,
	[CHK_DIRTY_BIT] = &chk_dirty_bit_ops,
	[CHK_MMIO_GENERATION] = &chk_mmio_ops,
	[CHK_OBSOLETE_INSTALL] = &chk_obsolete_ops,
	[CHK_MEMSLOT_CONSISTENCY] = &chk_memslot_ops,
	[CHK_WRITE_PROTECTION] = &chk_write_protect_ops,
	[CHK_GUEST_TRANSLATION] = &chk_guest_ops,
	[CHK_SHADOW_ACCOUNTING] = &chk_shadow_accounting_ops,
};

int check_parse(const char *list, u64 *mask, char *bad, size_t bad_len)
{
	const char *p = list;
	u64 m = 0;

	if (!strcmp(list, "all")) {
		*mask = CHECK_ALL;
		return 0;
	}
	if (!strcmp(list, "none") || !*list) {
		*mask = 0;
		return 0;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int i;

		if (!len)
			return -EINVAL;
		for (i = 0; i < NR_CHECKERS; i++) {
			if (strlen(checker_table[i].name) == len &&
			    !strncmp(checker_table[i].name, p, len))
				break;
		}
		if (i == NR_CHECKERS) {
			if (bad && bad_len)
				snprintf(bad, bad_len, "%.*s", (int)len, p);
			return -ENOENT;
		}
		m |= 1ULL << i;
		p += len + (comma ? 1 : 0);
		if (comma && !*p)
			return -EINVAL;
	}
	*mask = m;
	return 0;
}

/* ---- state ----------------------------------------------------------------------------- */

#define MAX_KEPT 16

struct check_world chk_world;

/* A cache line of its own: what every event reads must not share it. */
static struct {
	pthread_mutex_t lock;
} ____cacheline_aligned check_lock = { PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };
static struct {
	_Atomic bool active;
	/* After check_end(): only the teardown events are observed. */
	bool teardown;
	u64 mask;
	void (*on_violation)(void *arg);
	void *arg;
	bool told;
	struct check_violation kept[MAX_KEPT];
	int nr;
	u64 events;
} chk;

/*
 * What each vCPU owes (see chk_vcpu_live()), followed outside check_lock:
 * a vCPU's own thread and the threads that make requests of it are the
 * only writers of owes_flush, and its own lock orders them, so that a
 * request posted while the vCPU enters is never lost to the entry's
 * clearing; in_guest has only the vCPU's own events for writer.  Checkers
 * read the flags as they read the vCPU's mode and requests: live.  One
 * cache line each, as the vCPUs that write them run in parallel.
 */
struct vcpu_track {
	atomic_flag lock;
	/* A flush or root reload was requested and the vCPU has not flushed since. */
	_Atomic bool owes_flush;
	/* It passed the entry checks and runs guest code (until OUTSIDE_GUEST_MODE). */
	_Atomic bool in_guest;
} ____cacheline_aligned;

static struct vcpu_track vtrack[KVM_MAX_VCPUS];

/* Held for a few loads and stores, with sched points quiet: it never waits on a switch. */
static void vtrack_lock(struct vcpu_track *t)
{
	while (atomic_flag_test_and_set_explicit(&t->lock, memory_order_acquire))
		__builtin_ia32_pause();
}

static void vtrack_unlock(struct vcpu_track *t)
{
	atomic_flag_clear_explicit(&t->lock, memory_order_release);
}

/*
 * This thread's dispatches, counted, and the one in progress (0: none):
 * the lookups made for an event are good for every checker of it.
 */
static __kvmmu_tls u64 dispatch_seq, dispatching;

/*
 * The last lookup made for the event being dispatched: data integrity and
 * dirty-log completeness both look up the gpa of each guest store, and the
 * answer for one event is the answer for the other checkers of it.  Per
 * thread, as checkers of one event may run under different locks.
 */
static __kvmmu_tls struct {
	u64 dispatch; /* the dispatch it was made in */
	gpa_t gpa;
	unsigned long hva;
	const struct kvm_memory_slot *slot;
} gpa_memo;

/* The events every checker that judges TLBs relies on. */
#define CHK_VCPU_EVENTS                                                                 \
	(BIT_ULL(KVMMU_EV_VCPU_REQUEST) | BIT_ULL(KVMMU_EV_TLB_FLUSH) |                  \
	 BIT_ULL(KVMMU_EV_VCPU_MODE) | BIT_ULL(KVMMU_EV_SPAN_BEGIN))

static bool flush_request(int req)
{
	return req == (KVM_REQ_TLB_FLUSH & KVM_REQUEST_MASK) ||
	       req == (KVM_REQ_TLB_FLUSH_CURRENT & KVM_REQUEST_MASK) ||
	       req == (KVM_REQ_MMU_FREE_OBSOLETE_ROOTS & KVM_REQUEST_MASK);
}

static bool flush_requested(struct kvm_vcpu *vcpu)
{
	return kvm_test_request(KVM_REQ_TLB_FLUSH, vcpu) ||
	       kvm_test_request(KVM_REQ_TLB_FLUSH_CURRENT, vcpu) ||
	       kvm_test_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu);
}

static void vtrack_owes(int id, bool owes)
{
	struct vcpu_track *t = &vtrack[id];

	vtrack_lock(t);
	atomic_store_explicit(&t->owes_flush, owes, memory_order_relaxed);
	vtrack_unlock(t);
}

/* Follow what each vCPU owes, before any checker looks at the event. */
static void track_vcpus(const struct kvmmu_event *ev)
{
	int id = ev->vcpu.vcpu;
	struct kvm *kvm = chk_world.kvm;
	struct kvm_vcpu *vcpu;
	struct vcpu_track *t;

	switch (ev->type) {
	case KVMMU_EV_VCPU_REQUEST:
		if (id >= 0 && id < KVM_MAX_VCPUS && flush_request(ev->vcpu.request))
			vtrack_owes(id, true);
		break;
	case KVMMU_EV_SPAN_BEGIN:
		/*
		 * A root load publishes the root before it flushes the context
		 * the root tags: until that flush, what is there is not live.
		 */
		if (ev->span.kind == KVMMU_SPAN_ROOT_LOAD && ev->span.arg < KVM_MAX_VCPUS)
			vtrack_owes((int)ev->span.arg, true);
		break;
	case KVMMU_EV_TLB_FLUSH:
		if (ev->tlb.vcpu >= 0 && ev->tlb.vcpu < KVM_MAX_VCPUS)
			vtrack_owes(ev->tlb.vcpu, false);
		break;
	case KVMMU_EV_VCPU_MODE:
		if (id < 0 || id >= KVM_MAX_VCPUS)
			break;
		t = &vtrack[id];
		/* Only the vCPU's own events write in_guest. */
		if (ev->vcpu.entered)
			atomic_store_explicit(&t->in_guest, true, memory_order_relaxed);
		else if (ev->vcpu.new_mode == OUTSIDE_GUEST_MODE)
			atomic_store_explicit(&t->in_guest, false, memory_order_relaxed);
		/*
		 * Entering the guest with nothing requested: whatever was owed
		 * (a root reload has no flush of its own) has been dealt with.
		 * A request made meanwhile is either seen here or posted after
		 * this, under the same lock.
		 */
		if (ev->vcpu.new_mode == IN_GUEST_MODE && kvm) {
			vcpu = kvm_get_vcpu_by_id(kvm, id);
			vtrack_lock(t);
			if (vcpu && !flush_requested(vcpu))
				atomic_store_explicit(&t->owes_flush, false, memory_order_relaxed);
			vtrack_unlock(t);
		}
		break;
	default:
		break;
	}
}

static void chk_notify(struct kvmmu_observer *obs, const struct kvmmu_event *ev);

/*
 * The checkers each event type goes to, in checker order: those attached
 * whose events or teardown events include it (set up by check_begin(), so
 * that an event costs the checkers that want it, not a test of each one).
 * Split in three: those that take it under check_lock, those that take it
 * under a lock of their own (struct checker_ops.own_lock), and those that
 * handle it without a lock (struct checker_ops.lockless_events), in that
 * order, one lock at a time.  An event with no checker under check_lock
 * (or only the vCPU tracking's interest) never takes it.
 */
struct dispatch {
	u8 nr_locked, nr_own, nr_free;
	u8 locked[NR_CHECKERS];
	u8 own[NR_CHECKERS];
	u8 free[NR_CHECKERS];
};

static struct dispatch dispatch[NR_KVMMU_EVENTS];
/*
 * Events dispatched without the lock, counted apart from chk.events (which
 * the lock guards), in per-thread shards: every vCPU reports such events,
 * at a rate where one shared counter would be a cache line they pass around.
 */
#define SEEN_SHARDS 16
static struct {
	_Atomic u64 n;
} ____cacheline_aligned lockless_seen[SEEN_SHARDS];

static void count_lockless(const struct kvmmu_event *ev)
{
	atomic_fetch_add_explicit(&lockless_seen[(unsigned int)ev->thread % SEEN_SHARDS].n, 1,
				  memory_order_relaxed);
}
/* This thread is dispatching an event to a checker that runs without check_lock. */
static __kvmmu_tls bool in_lockless;

static void build_dispatch(void)
{
	int t, i;

	for (t = 0; t < NR_KVMMU_EVENTS; t++) {
		struct dispatch *d = &dispatch[t];

		d->nr_locked = d->nr_own = d->nr_free = 0;
		for (i = 0; i < NR_CHECKERS; i++) {
			if (!(chk.mask & (1ULL << i)) ||
			    !((checker_ops[i]->events | checker_ops[i]->teardown_events) &
			      BIT_ULL(t)))
				continue;
			if (checker_ops[i]->lockless_events & BIT_ULL(t))
				d->free[d->nr_free++] = (u8)i;
			else if (checker_ops[i]->own_lock)
				d->own[d->nr_own++] = (u8)i;
			else
				d->locked[d->nr_locked++] = (u8)i;
		}
	}
}

static struct kvmmu_observer chk_observer = {
	.name = "checkers",
	.notify = chk_notify,
};

static void record(enum checker_id id, u64 index, s64 gfn, s64 pfn, const char *fmt, va_list ap)
{
	struct check_violation *v;

	chk.nr++;
	if (chk.nr <= MAX_KEPT) {
		v = &chk.kept[chk.nr - 1];
		v->invariant = checker_table[id].invariant;
		v->checker = checker_table[id].name;
		vsnprintf(v->description, sizeof(v->description), fmt, ap);
		snprintf(v->thread, sizeof(v->thread), "%s", kvmmu_thread_name());
		v->gfn = gfn;
		v->pfn = pfn;
		v->event_index = index;
	}
	if (!chk.told && chk.on_violation) {
		chk.told = true;
		chk.on_violation(chk.arg);
	}
}

void chk_violation(enum checker_id id, const struct kvmmu_event *ev, s64 gfn, s64 pfn,
		   const char *fmt, ...)
{
	va_list ap;

	/* A checker running without the lock takes it to record. */
	if (in_lockless)
		pthread_mutex_lock(&check_lock.lock);
	va_start(ap, fmt);
	/* An unnumbered event (index 0) is cited by the index the next one gets. */
	record(id, ev && ev->index ? ev->index : kvmmu_observe_index(), gfn, pfn, fmt, ap);
	va_end(ap);
	if (in_lockless)
		pthread_mutex_unlock(&check_lock.lock);
}

void check_report(enum checker_id id, s64 gfn, s64 pfn, u64 event_index, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&check_lock.lock);
	va_start(ap, fmt);
	record(id, event_index, gfn, pfn, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&check_lock.lock);
}

static void chk_notify(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	const struct dispatch *d;
	int i;

	if (!atomic_load_explicit(&chk.active, memory_order_acquire))
		return;
	/*
	 * The spans the checkers follow are memslot updates (MMIO generation,
	 * dirty log) and root loads (the vCPU tracking); the begin and end of
	 * a fault, a zap or a flush tell none of them anything.
	 */
	if ((ev->type == KVMMU_EV_SPAN_BEGIN || ev->type == KVMMU_EV_SPAN_END) &&
	    ev->span.kind != KVMMU_SPAN_MEMSLOT_UPDATE && ev->span.kind != KVMMU_SPAN_ROOT_LOAD) {
		count_lockless(ev);
		return;
	}
	if (ev->type >= NR_KVMMU_EVENTS)
		return;
	d = &dispatch[ev->type];
	sched_quiet_begin();
	if (CHK_VCPU_EVENTS & BIT_ULL(ev->type))
		track_vcpus(ev);
	if (d->nr_locked) {
		pthread_mutex_lock(&check_lock.lock);
		chk.events++;
		dispatching = ++dispatch_seq;
		for (i = 0; i < d->nr_locked; i++)
			checker_ops[d->locked[i]]->event(ev);
		pthread_mutex_unlock(&check_lock.lock);
	} else {
		count_lockless(ev);
		dispatching = ++dispatch_seq;
	}
	in_lockless = true;
	for (i = 0; i < d->nr_own; i++) {
		const struct checker_ops *ops = checker_ops[d->own[i]];

		pthread_mutex_lock(ops->own_lock);
		ops->event(ev);
		pthread_mutex_unlock(ops->own_lock);
	}
	for (i = 0; i < d->nr_free; i++)
		checker_ops[d->free[i]]->event(ev);
	in_lockless = false;
	dispatching = 0;
	sched_quiet_end();
}

int check_begin(const struct check_world *w, u64 mask, void (*on_violation)(void *arg),
		void *arg)
{
	u64 events = 0;
	int i;

	/* A teardown nobody ended (no VM was destroyed after the run). */
	if (chk.teardown)
		check_teardown_end();
	if (atomic_load(&chk.active))
		return -EBUSY;
	/*
	 * A run's events count from here: the same in a run and in its replay
	 * in a fresh process, whatever ran before in this one.
	 */
	kvmmu_observe_reset_index();
	chk_world = *w;
	chk.mask = mask & CHECK_ALL;
	/* Without a simulated CPU there are no TLBs to judge. */
	chk.on_violation = on_violation;
	chk.arg = arg;
	chk.told = false;
	chk.nr = 0;
	chk.events = 0;
	for (i = 0; i < SEEN_SHARDS; i++)
		atomic_store(&lockless_seen[i].n, 0);
	for (i = 0; i < KVM_MAX_VCPUS; i++) {
		atomic_store(&vtrack[i].owes_flush, false);
		atomic_store(&vtrack[i].in_guest, false);
	}
	for (i = 0; i < NR_CHECKERS; i++) {
		if (!(chk.mask & (1ULL << i)))
			continue;
		/* Nothing to judge in this world: attach nothing. */
		if (checker_ops[i]->applies && !checker_ops[i]->applies()) {
			chk.mask &= ~(1ULL << i);
			continue;
		}
		events |= checker_ops[i]->events | checker_ops[i]->teardown_events;
		if (checker_ops[i]->begin)
			checker_ops[i]->begin();
	}
	if (events)
		events |= CHK_VCPU_EVENTS;
	build_dispatch();
	chk_observer.mask = events;
	atomic_store(&chk.active, true);
	if (events) {
		int r = kvmmu_observer_register(&chk_observer);

		/* Undo what began: the caller has nothing to end. */
		if (r)
			check_end();
		return r;
	}
	return 0;
}

void check_end(void)
{
	u64 teardown = 0;
	int i;

	if (!atomic_load(&chk.active) || chk.teardown)
		return;
	if (chk_observer.mask)
		kvmmu_observer_unregister(&chk_observer);
	sched_quiet_begin();
	/*
	 * Checkers with a lock of their own end under it, before check_lock
	 * is taken: a violation takes check_lock inside an own lock, never
	 * the other way round.
	 */
	for (i = 0; i < NR_CHECKERS; i++) {
		if (!(chk.mask & (1ULL << i)) || !checker_ops[i]->own_lock)
			continue;
		pthread_mutex_lock(checker_ops[i]->own_lock);
		if (checker_ops[i]->end)
			checker_ops[i]->end();
		pthread_mutex_unlock(checker_ops[i]->own_lock);
		teardown |= checker_ops[i]->teardown_events;
	}
	pthread_mutex_lock(&check_lock.lock);
	for (i = 0; i < NR_CHECKERS; i++) {
		if (!(chk.mask & (1ULL << i)) || checker_ops[i]->own_lock)
			continue;
		if (checker_ops[i]->end)
			checker_ops[i]->end();
		teardown |= checker_ops[i]->teardown_events;
	}
	/*
	 * The teardown's events: the world is being taken apart, so whoever
	 * on_violation would stop is going anyway; violations are kept only.
	 */
	chk_observer.mask = teardown;
	if (teardown && !kvmmu_observer_register(&chk_observer)) {
		chk.teardown = true;
		chk.told = true;
	} else {
		chk_observer.mask = 0;
		atomic_store(&chk.active, false);
	}
	pthread_mutex_unlock(&check_lock.lock);
	sched_quiet_end();
}

void check_teardown_end(void)
{
	if (!chk.teardown)
		return;
	kvmmu_observer_unregister(&chk_observer);
	sched_quiet_begin();
	pthread_mutex_lock(&check_lock.lock);
	chk.teardown = false;
	chk_observer.mask = 0;
	atomic_store(&chk.active, false);
	pthread_mutex_unlock(&check_lock.lock);
	sched_quiet_end();
}

void check_after_teardown(u64 frames_still_allocated)
{
	if (!(chk.mask & (1ULL << CHK_PAGE_REFERENCES)) || !frames_still_allocated)
		return;
	check_report(CHK_PAGE_REFERENCES, -1, -1, kvmmu_observe_index(),
		     "%llu frames still allocated after the VM and the address space are gone "
		     "(a reference was never released)",
		     (unsigned long long)frames_still_allocated);
}

int check_violations(struct check_violation *out, int n)
{
	int i;

	pthread_mutex_lock(&check_lock.lock);
	for (i = 0; i < n && i < chk.nr && i < MAX_KEPT; i++)
		out[i] = chk.kept[i];
	i = chk.nr;
	pthread_mutex_unlock(&check_lock.lock);
	return i;
}

u64 check_events_seen(void)
{
	u64 n = chk.events;
	int i;

	for (i = 0; i < SEEN_SHARDS; i++)
		n += atomic_load_explicit(&lockless_seen[i].n, memory_order_relaxed);
	return n;
}

/* ---- helpers -------------------------------------------------------------------------------- */

/*
 * A vCPU's translations are live while it runs guest code (it passed the
 * entry checks and has not left guest mode since); otherwise unless it owes
 * a flush: a flush or root-reload request is pending, or was taken by the
 * vCPU and the flush that answers it has not happened yet (the vCPU clears
 * the request before it flushes, and will not re-enter before it has).
 *
 * Guest mode alone is not enough: between setting IN_GUEST_MODE and its
 * last look at the requests a vCPU runs no guest code, and a sender that
 * saw it outside guest mode does not wait for it; it leaves again if a
 * request is pending.  Nor is the tracked state alone: a vCPU that left
 * guest mode but has not posted that yet owes what was requested since.
 */
bool chk_vcpu_live(struct kvm_vcpu *vcpu)
{
	int id = vcpu->vcpu_id;

	if (id >= KVM_MAX_VCPUS)
		return atomic_load(&vcpu->mode) != OUTSIDE_GUEST_MODE || !flush_requested(vcpu);
	if (atomic_load_explicit(&vtrack[id].in_guest, memory_order_relaxed) &&
	    atomic_load(&vcpu->mode) != OUTSIDE_GUEST_MODE)
		return true;
	if (atomic_load_explicit(&vtrack[id].owes_flush, memory_order_relaxed))
		return false;
	return !flush_requested(vcpu);
}

/*
 * The roots whose TLB contexts a vCPU may use without a flush: L1's (or
 * the only) current root, and under nested EPT L2's current and cached
 * roots, which a nested VM entry switches to without flushing (EPT's
 * translations stay cached per EPT pointer until INVEPT).
 */
static int vcpu_live_roots(struct kvm_vcpu *vcpu, u64 pfns[2 + KVM_MMU_NUM_PREV_ROOTS])
{
	const struct kvm_mmu *l2 = &vcpu->arch.guest_mmu;
	hpa_t root = READ_ONCE(vcpu->arch.root_mmu.root.hpa);
	int n = 0, i;

	if (root != INVALID_PAGE)
		pfns[n++] = root >> PAGE_SHIFT;
	root = READ_ONCE(l2->root.hpa);
	if (root != INVALID_PAGE)
		pfns[n++] = root >> PAGE_SHIFT;
	for (i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
		root = READ_ONCE(l2->prev_roots[i].hpa);
		if (root != INVALID_PAGE)
			pfns[n++] = root >> PAGE_SHIFT;
	}
	return n;
}

/* @nr_gfns 0: every entry; else the leaves over [@gfn, @gfn + @nr_gfns). */
static int vcpu_tlb(struct kvm_vcpu *vcpu, gfn_t gfn, u64 nr_gfns, struct hw_tlb_view *buf, int n,
		    bool tell_overflow)
{
	u64 roots[2 + KVM_MMU_NUM_PREV_ROOTS];
	int i, j, count, live = 0, nr_roots;

	nr_roots = vcpu_live_roots(vcpu, roots);
	if (!chk_world.hw || !chk_vcpu_live(vcpu) || !nr_roots)
		return 0;
	count = nr_gfns ? hw_tlb_snapshot_leaves(vcpu->hw, gfn, nr_gfns, buf, n) :
			  hw_tlb_snapshot(vcpu->hw, buf, n);
	/* The caller takes a bigger buffer if they did not fit. */
	if (count > n && tell_overflow)
		return n + 1;
	if (count > n)
		count = n;
	/*
	 * Only the live roots' contexts are used.  Entries another root left
	 * behind are dead: loading a root flushes the context it tags before
	 * the vCPU enters (kvm_mmu_load()), which is why zapping an invalid
	 * root needs no flush.
	 */
	for (i = 0; i < count; i++) {
		for (j = 0; j < nr_roots; j++) {
			if (buf[i].root_pfn == roots[j]) {
				buf[live++] = buf[i];
				break;
			}
		}
	}
	return live;
}

bool chk_view_gfn(const struct hw_tlb_view *v, gfn_t *gfn, u64 *pages)
{
	int level;
	gfn_t g;

	if (v->gfn != HW_GFN_UNKNOWN) {
		*gfn = v->gfn;
		*pages = v->linear ? 1 : KVM_PAGES_PER_HPAGE(v->level);
		return true;
	}
	if (!v->sptep)
		return false;
	/*
	 * Shadow paging, nested EPT: the leaf's page knows its gfn (its tables
	 * are RCU-freed).  A gva-keyed entry covers the 4K of its page; an
	 * L2 gpa-keyed one the leaf's whole span.
	 */
	rcu_read_lock();
	g = kvm_mmu_sptep_gfn(chk_kvm(), v->sptep, &level);
	rcu_read_unlock();
	if (g == ~(gfn_t)0)
		return false;
	if (!v->linear) {
		*gfn = g & ~(KVM_PAGES_PER_HPAGE(level) - 1);
		*pages = KVM_PAGES_PER_HPAGE(level);
		return true;
	}
	*gfn = g + (v->page & (KVM_PAGES_PER_HPAGE(level) - 1));
	*pages = 1;
	return true;
}

int chk_vcpu_tlb(struct kvm_vcpu *vcpu, struct hw_tlb_view *buf, int n)
{
	return vcpu_tlb(vcpu, 0, 0, buf, n, false);
}

int chk_vcpu_tlb_leaves(struct kvm_vcpu *vcpu, gfn_t gfn, u64 nr_gfns, struct hw_tlb_view *buf,
			int n)
{
	/* Below the largest buffer, say so when they did not fit. */
	return vcpu_tlb(vcpu, gfn, nr_gfns, buf, n, n < CHK_TLB_MAX);
}

struct kvm_mmu_page *chk_vcpu_root(struct kvm_vcpu *vcpu)
{
	hpa_t root = READ_ONCE(vcpu->arch.root_mmu.root.hpa);

	if (root == INVALID_PAGE || chk_frame_state(root >> PAGE_SHIFT) != KVMMU_FRAME_ALLOCATED)
		return NULL;
	return root_to_sp(chk_kvm(), root);
}

gpa_t chk_access_gpa(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_access *a = &ev->access;
	gfn_t gfn;
	int level;

	if ((a->gpa >> PAGE_SHIFT) != HW_GFN_UNKNOWN || !a->sptep)
		return a->gpa;
	rcu_read_lock();
	gfn = kvm_mmu_sptep_gfn(chk_kvm(), a->sptep, &level);
	rcu_read_unlock();
	if (gfn == ~(gfn_t)0)
		return ~(gpa_t)0;
	gfn += (a->gva >> PAGE_SHIFT) & (KVM_PAGES_PER_HPAGE(level) - 1);
	return gfn_to_gpa(gfn) | (a->gva & (PAGE_SIZE - 1));
}

void chk_for_each_root(bool (*fn)(struct kvm_mmu_page *root, void *arg), void *arg)
{
	struct kvm *kvm = chk_kvm();
	struct kvm_mmu_page *root;

	list_for_each_entry_rcu(root, &kvm->arch.tdp_mmu_roots, link) {
		if (fn(root, arg))
			return;
	}
	list_for_each_entry_rcu(root, &kvm->arch.shadow_root_pages, root_link) {
		if (sp_role(root).direct && fn(root, arg))
			return;
	}
}

/* Call @fn for the present leaves (or, with @mmio, the MMIO SPTEs) of a table. */
static void walk_table(struct kvm *kvm, u64 table, int level, gfn_t base, gfn_t start, gfn_t end,
		       bool mmio, void (*fn)(gfn_t, int, const void *, u64, void *), void *arg)
{
	u64 span = KVM_PAGES_PER_HPAGE(level);
	_Atomic u64 *spt;
	u64 first, last, i;

	/* Only the entries over [start, end): a walk of one gfn reads one entry a level. */
	if (start >= end || end <= base || chk_frame_state(table) != KVMMU_FRAME_ALLOCATED)
		return;
	first = start > base ? (start - base) / span : 0;
	last = min((end - 1 - base) / span, (u64)SPTE_ENT_PER_PAGE - 1);
	spt = kvm_table_virt(kvm, table);
	for (i = first; i <= last; i++) {
		gfn_t gfn = base + i * span;
		u64 spte;

		spte = chk_read_spte(&spt[i]);
		if (mmio && is_mmio_spte(&kvm->arch.masks, spte))
			fn(gfn, level, &spt[i], spte, arg);
		if (!is_shadow_present_pte(spte))
			continue;
		if (!is_last_spte(spte, level))
			walk_table(kvm, spte_to_pfn(spte), level - 1, gfn, start, end, mmio, fn, arg);
		else if (!mmio)
			fn(gfn, level, &spt[i], spte, arg);
	}
}

void chk_walk_leaves(struct kvm_mmu_page *root, gfn_t start, gfn_t end,
		     void (*fn)(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg),
		     void *arg)
{
	/* A direct root maps from its gfn on (a PAE root's level-2 pages start higher). */
	rcu_read_lock();
	walk_table(chk_kvm(), root->pfn, sp_level(root), root->gfn, start, end, false, fn, arg);
	rcu_read_unlock();
}

void chk_walk_mmio(struct kvm_mmu_page *root,
		   void (*fn)(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg),
		   void *arg)
{
	rcu_read_lock();
	walk_table(chk_kvm(), root->pfn, sp_level(root), root->gfn, 0, ~0ULL, true, fn, arg);
	rcu_read_unlock();
}

struct pfn_of {
	gfn_t gfn;
	u64 pfn;
};

static void note_pfn(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg)
{
	struct pfn_of *p = arg;

	p->pfn = spte_to_pfn(spte) + (p->gfn - gfn);
}

u64 chk_current_pfn(struct kvm_mmu_page *root, gfn_t gfn)
{
	struct pfn_of p = { .gfn = gfn };

	chk_walk_leaves(root, gfn, gfn + 1, note_pfn, &p);
	return p.pfn;
}

unsigned long chk_gpa_to_hva(gpa_t gpa, const struct kvm_memory_slot **out)
{
	struct kvm *kvm = chk_kvm();
	struct kvm_memory_slot *slot;
	unsigned long hva = 0;
	int idx;

	if (dispatching && gpa_memo.dispatch == dispatching && gpa_memo.gpa == gpa) {
		if (gpa_memo.hva && out)
			*out = gpa_memo.slot;
		return gpa_memo.hva;
	}
	idx = srcu_read_lock(&kvm->srcu);
	slot = __gfn_to_memslot(kvm_memslots(kvm), gpa_to_gfn(gpa));
	if (slot && !kvm_is_slot_invalid(slot)) {
		hva = __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) + (gpa & (PAGE_SIZE - 1));
		if (out)
			*out = slot;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	if (dispatching) {
		gpa_memo.dispatch = dispatching;
		gpa_memo.gpa = gpa;
		gpa_memo.hva = hva;
		gpa_memo.slot = slot;
	}
	return hva;
}

/* ---- the map --------------------------------------------------------------------------------- */

void chk_map_init(struct chk_map *m, size_t vsize)
{
	memset(m, 0, sizeof(*m));
	m->vsize = vsize;
}

void chk_map_free(struct chk_map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

void chk_map_clear(struct chk_map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(u64));
	m->n = 0;
}

static size_t slot_of(const struct chk_map *m, u64 key)
{
	u64 h = key * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 29)) & (m->cap - 1);
}

void *chk_map_find(struct chk_map *m, u64 key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = slot_of(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->vals + i * m->vsize;
	}
	return NULL;
}

static int grow(struct chk_map *m)
{
	struct chk_map bigger;
	size_t i;

	chk_map_init(&bigger, m->vsize);
	bigger.cap = m->cap ? m->cap * 2 : 64;
	bigger.keys = calloc(bigger.cap, sizeof(u64));
	bigger.vals = calloc(bigger.cap, m->vsize);
	if (!bigger.keys || !bigger.vals) {
		chk_map_free(&bigger);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		if (m->keys[i])
			memcpy(chk_map_get(&bigger, m->keys[i]), m->vals + i * m->vsize, m->vsize);
	}
	chk_map_free(m);
	*m = bigger;
	return 0;
}

void *chk_map_get(struct chk_map *m, u64 key)
{
	size_t i;
	void *v = chk_map_find(m, key);

	if (v)
		return v;
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m))
		return NULL;
	for (i = slot_of(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = key;
	memset(m->vals + i * m->vsize, 0, m->vsize);
	m->n++;
	return m->vals + i * m->vsize;
}

void chk_map_del(struct chk_map *m, u64 key)
{
	size_t i, j;

	if (!m->cap)
		return;
	for (i = slot_of(m, key); m->keys[i] != key; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return;
	}
	/* Backward-shift deletion keeps every probe chain unbroken. */
	m->keys[i] = 0;
	m->n--;
	for (j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m, m->keys[j]);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			memcpy(m->vals + i * m->vsize, m->vals + j * m->vsize, m->vsize);
			m->keys[j] = 0;
			i = j;
		}
	}
}

/* ---- values by SPTE, an array a frame -------------------------------------------------------- */

static u64 frame_key(const void *p)
{
	return ((u64)(uintptr_t)p >> PAGE_SHIFT) + 1;
}

static size_t frame_entry(const void *p)
{
	return ((uintptr_t)p & (PAGE_SIZE - 1)) / sizeof(u64);
}

void chk_frames_init(struct chk_frames *f, size_t vsize)
{
	chk_map_init(&f->chunks, sizeof(u8 *));
	f->vsize = vsize;
	f->last_key = 0;
	f->last = NULL;
}

void chk_frames_free(struct chk_frames *f)
{
	size_t i;

	chk_map_for_each(&f->chunks, i)
		free(*(u8 **)(f->chunks.vals + i * f->chunks.vsize));
	chk_map_free(&f->chunks);
	f->last_key = 0;
	f->last = NULL;
}

static u8 *frame_chunk(struct chk_frames *f, u64 key, bool create)
{
	u8 **chunk;

	if (key == f->last_key)
		return f->last;
	chunk = create ? chk_map_get(&f->chunks, key) : chk_map_find(&f->chunks, key);
	if (!chunk)
		return NULL;
	if (!*chunk) {
		*chunk = calloc(SPTE_ENT_PER_PAGE, f->vsize);
		if (!*chunk) {
			chk_map_del(&f->chunks, key);
			return NULL;
		}
	}
	f->last_key = key;
	f->last = *chunk;
	return *chunk;
}

void *chk_frames_find(struct chk_frames *f, const void *sptep)
{
	u8 *chunk = frame_chunk(f, frame_key(sptep), false);

	return chunk ? chunk + frame_entry(sptep) * f->vsize : NULL;
}

void *chk_frames_get(struct chk_frames *f, const void *sptep)
{
	u8 *chunk = frame_chunk(f, frame_key(sptep), true);

	return chunk ? chunk + frame_entry(sptep) * f->vsize : NULL;
}

void chk_frames_drop(struct chk_frames *f, const void *p)
{
	u64 key = frame_key(p);
	u8 **chunk = chk_map_find(&f->chunks, key);

	if (!chunk)
		return;
	free(*chunk);
	chk_map_del(&f->chunks, key);
	if (f->last_key == key) {
		f->last_key = 0;
		f->last = NULL;
	}
}
