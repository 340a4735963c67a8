// SPDX-License-Identifier: GPL-2.0-only
/*
 * Observer registry and event dispatch.
 */
#include <errno.h>
#include <pthread.h>

#include "bug.h"
#include "observe.h"
#include "thread.h"

u64 __kvmmu_observed_mask;

static struct kvmmu_observer *observers[KVMMU_MAX_OBSERVERS];
static int nr_observers;
static pthread_mutex_t observers_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The next index; numbering starts at 1, so that 0 stands for no event.  A
 * cache line of its own: every numbered event writes it, and what shared
 * its line (the RCU backend's selector, read by every read-side section)
 * missed in every other thread's cache.
 */
static struct {
	_Atomic u64 n;
} ____cacheline_aligned event_index = { 1 };

static void recompute_mask(void)
{
	u64 mask = 0;
	int i;

	for (i = 0; i < nr_observers; i++)
		mask |= observers[i]->mask;
	WRITE_ONCE(__kvmmu_observed_mask, mask);
}

int kvmmu_observer_register(struct kvmmu_observer *obs)
{
	int ret = 0;

	pthread_mutex_lock(&observers_lock);
	if (nr_observers == KVMMU_MAX_OBSERVERS) {
		ret = -ENOSPC;
	} else {
		observers[nr_observers++] = obs;
		recompute_mask();
	}
	pthread_mutex_unlock(&observers_lock);
	return ret;
}

void kvmmu_observer_unregister(struct kvmmu_observer *obs)
{
	int i;

	pthread_mutex_lock(&observers_lock);
	for (i = 0; i < nr_observers; i++) {
		if (observers[i] != obs)
			continue;
		for (; i < nr_observers - 1; i++)
			observers[i] = observers[i + 1];
		nr_observers--;
		break;
	}
	recompute_mask();
	pthread_mutex_unlock(&observers_lock);
}

u64 kvmmu_observe_index(void)
{
	return atomic_load_explicit(&event_index.n, memory_order_acquire);
}

void kvmmu_observe_reset_index(void)
{
	atomic_store_explicit(&event_index.n, 1, memory_order_relaxed);
}

/*
 * Events whose index nothing orders against another's: a lockless table
 * read, a vCPU's mode change, a TLB fill, a fault's return, and the spans
 * of faults, zaps and flushes.  They are left unnumbered (index 0), which
 * keeps them from reading or writing the counter, a cache line the vCPUs
 * would pass around on their most frequent events; a report about one
 * cites the index the next numbered event will get.  What is compared by
 * index (stores, SPTE changes, flushes, harvests, the spans of memslot
 * updates and root loads) is numbered.
 */
#define UNINDEXED_EVENTS                                                              \
	(BIT_ULL(KVMMU_EV_TABLE_READ) | BIT_ULL(KVMMU_EV_VCPU_MODE) |                  \
	 BIT_ULL(KVMMU_EV_TLB_FILL) | BIT_ULL(KVMMU_EV_FAULT_DONE))

static bool unindexed(const struct kvmmu_event *ev)
{
	if (ev->type == KVMMU_EV_SPAN_BEGIN || ev->type == KVMMU_EV_SPAN_END)
		return ev->span.kind != KVMMU_SPAN_MEMSLOT_UPDATE &&
		       ev->span.kind != KVMMU_SPAN_ROOT_LOAD;
	return UNINDEXED_EVENTS & BIT_ULL(ev->type);
}

void __kvmmu_observe(struct kvmmu_event *ev)
{
	int i, n = READ_ONCE(nr_observers);

	ev->thread = current_thread()->id;
	/* Release: see kvmmu_observe_index(). */
	if (!unindexed(ev))
		ev->index = atomic_fetch_add_explicit(&event_index.n, 1, memory_order_release);
	for (i = 0; i < n; i++) {
		struct kvmmu_observer *obs = READ_ONCE(observers[i]);

		if (obs->mask & BIT_ULL(ev->type))
			obs->notify(obs, ev);
	}
}

static const char *const event_names[NR_KVMMU_EVENTS] = {
	[KVMMU_EV_SPTE_CHANGE] = "spte_change",
	[KVMMU_EV_TABLE_ALLOC] = "table_alloc",
	[KVMMU_EV_TABLE_FREE] = "table_free",
	[KVMMU_EV_TABLE_READ] = "table_read",
	[KVMMU_EV_ROOT_GET] = "root_get",
	[KVMMU_EV_ROOT_PUT] = "root_put",
	[KVMMU_EV_ROOT_INVALIDATE] = "root_invalidate",
	[KVMMU_EV_TLB_FILL] = "tlb_fill",
	[KVMMU_EV_TLB_FLUSH] = "tlb_flush",
	[KVMMU_EV_VCPU_MODE] = "vcpu_mode",
	[KVMMU_EV_VCPU_REQUEST] = "vcpu_request",
	[KVMMU_EV_PAGE_REF_GET] = "page_ref_get",
	[KVMMU_EV_PAGE_REF_PUT] = "page_ref_put",
	[KVMMU_EV_PAGE_MARK_DIRTY] = "page_mark_dirty",
	[KVMMU_EV_PAGE_MARK_ACCESSED] = "page_mark_accessed",
	[KVMMU_EV_FRAME_FREE] = "frame_free",
	[KVMMU_EV_FRAME_REUSE] = "frame_reuse",
	[KVMMU_EV_FRAME_ZERO] = "frame_zero",
	[KVMMU_EV_FRAME_COPY] = "frame_copy",
	[KVMMU_EV_FRAME_DROP] = "frame_drop",
	[KVMMU_EV_FRAME_MISUSE] = "frame_misuse",
	[KVMMU_EV_NOTIFIER_START] = "notifier_start",
	[KVMMU_EV_NOTIFIER_END] = "notifier_end",
	[KVMMU_EV_GUEST_LOAD] = "guest_load",
	[KVMMU_EV_GUEST_STORE] = "guest_store",
	[KVMMU_EV_VMM_LOAD] = "vmm_load",
	[KVMMU_EV_VMM_STORE] = "vmm_store",
	[KVMMU_EV_DIRTY_LOG_GET] = "dirty_log_get",
	[KVMMU_EV_DIRTY_LOG_CLEAR] = "dirty_log_clear",
	[KVMMU_EV_DIRTY_RING_RESET] = "dirty_ring_reset",
	[KVMMU_EV_DIRTY_RING_PUSH] = "dirty_ring_push",
	[KVMMU_EV_DIRTY_RING_HARVEST] = "dirty_ring_harvest",
	[KVMMU_EV_SPAN_BEGIN] = "span_begin",
	[KVMMU_EV_SPAN_END] = "span_end",
	[KVMMU_EV_RANGE_BEGIN] = "range_begin",
	[KVMMU_EV_RANGE_END] = "range_end",
	[KVMMU_EV_FAULT_DONE] = "fault_done",
	[KVMMU_EV_WP_FAULT] = "wp_fault",
	[KVMMU_EV_SLOT_ZAPPED] = "slot_zapped",
	[KVMMU_EV_SPTE_HW_DIRTY] = "spte_hw_dirty",
	[KVMMU_EV_PML_LOG] = "pml_log",
	[KVMMU_EV_PML_FLUSH] = "pml_flush",
	[KVMMU_EV_RMAP_FREED_READ] = "rmap_freed_read",
	[KVMMU_EV_WARN] = "warn",
	[KVMMU_EV_NESTED] = "nested",
	[KVMMU_EV_GUEST_FLUSH] = "guest_flush",
	[KVMMU_EV_SLOT_META_TOUCH] = "slot_meta_touch",
	[KVMMU_EV_MMU_TEARDOWN] = "mmu_teardown",
};

static const char *const span_names[NR_KVMMU_SPANS] = {
	[KVMMU_SPAN_FAULT] = "fault",
	[KVMMU_SPAN_ZAP] = "zap",
	[KVMMU_SPAN_FLUSH] = "flush",
	[KVMMU_SPAN_MEMSLOT_UPDATE] = "memslot_update",
	[KVMMU_SPAN_ROOT_LOAD] = "root_load",
};

static const char *const misuse_names[NR_KVMMU_MISUSES] = {
	[KVMMU_MISUSE_REF_FROM_ZERO] = "reference raised from 0",
	[KVMMU_MISUSE_REF_NONCOUNTED] = "reference on a non-refcounted page",
	[KVMMU_MISUSE_REF_UNDERFLOW] = "reference released below 0",
	[KVMMU_MISUSE_MARK_FREED] = "dirty/accessed marking of a freed page",
	[KVMMU_MISUSE_ACCESS_FREED] = "access to a freed frame",
	[KVMMU_MISUSE_DOUBLE_FREE] = "free of a frame not allocated",
};

const char *kvmmu_misuse_name(enum kvmmu_frame_misuse kind)
{
	return (unsigned int)kind < NR_KVMMU_MISUSES ? misuse_names[kind] : "?";
}

const char *kvmmu_event_name(enum kvmmu_event_type type)
{
	return (unsigned int)type < NR_KVMMU_EVENTS ? event_names[type] : "?";
}

const char *kvmmu_span_name(enum kvmmu_span kind)
{
	return (unsigned int)kind < NR_KVMMU_SPANS ? span_names[kind] : "?";
}
