/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the checkers share: the world they look at, the helpers that look
 * (roots and SPTEs read raw, TLBs through snapshots, vCPU liveness), a
 * small hash map, and the per-checker interface.
 *
 * Checkers run in the thread that emitted the event, with sched points
 * silenced, under one lock (check_lock, a raw mutex: no sched points) by
 * default; a checker whose state is its own alone may have a lock of its
 * own (checker_ops.own_lock), and one that needs none for some events
 * handles them without (checker_ops.lockless_events).  The vCPU tracking
 * has per-vCPU locks.
 */
#ifndef KVMMU_CHECK_CHECK_INTERNAL_H
#define KVMMU_CHECK_CHECK_INTERNAL_H

#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu_internal.h"
#include "observe.h"
#include "spte.h"

struct checker_ops {
	u64 events; /* BIT_ULL(KVMMU_EV_...) wanted */
	/* Whether the world has anything to judge (NULL: always); if not, nothing is attached. */
	bool (*applies)(void);
	/*
	 * Those still wanted after end(), while the VM is torn down, until
	 * check_teardown_end() (the world is going: no on_violation call).
	 */
	u64 teardown_events;
	/*
	 * Of its events, those it handles looking only at the world (no state
	 * of its own, nothing of the other checkers') or at state of its own
	 * that only the reporting vCPU's events touch (one vCPU's events come
	 * one at a time, as its ioctls do): they run without check_lock,
	 * concurrently in the threads that report them.  A violation still
	 * takes it.
	 */
	u64 lockless_events;
	/*
	 * A lock of its own, for a checker whose state no other touches: its
	 * events (but the lockless ones) run under it instead of check_lock,
	 * so that they do not queue behind the other checkers'.  A violation
	 * still takes check_lock, inside it.
	 */
	pthread_mutex_t *own_lock;
	void (*begin)(void);
	void (*event)(const struct kvmmu_event *ev);
	void (*end)(void);
};

extern const struct checker_ops chk_notifier_ops, chk_bbm_ops, chk_coherence_ops,
	chk_table_ops, chk_root_ops, chk_refs_ops, chk_data_ops, chk_dirty_ops, chk_range_ops,
	chk_liveness_ops, chk_dirty_bit_ops, chk_mmio_ops, chk_obsolete_ops,
	chk_memslot_ops, chk_write_protect_ops, chk_guest_ops, chk_shadow_accounting_ops;

/* The world under check. */
extern struct check_world chk_world;

/* Report a violation of checker @id at the event being handled. */
void chk_violation(enum checker_id id, const struct kvmmu_event *ev, s64 gfn, s64 pfn,
		   const char *fmt, ...) __printf(5, 6);

/* ---- looking at the VM --------------------------------------------------------------- */

static inline struct kvm *chk_kvm(void)
{
	return chk_world.kvm;
}

/*
 * Does @vcpu hold live translations?  Not if it is outside guest mode with
 * a TLB flush or a root reload pending: it flushes before it enters again.
 */
bool chk_vcpu_live(struct kvm_vcpu *vcpu);

/*
 * The live TLB and paging-structure entries of @vcpu (none if it is not
 * live, or the world has no simulated CPU).  Returns how many were written
 * to @buf (at most @n).
 */
int chk_vcpu_tlb(struct kvm_vcpu *vcpu, struct hw_tlb_view *buf, int n);
/*
 * Only the live leaf entries over [@gfn, @gfn + @nr_gfns) (@nr_gfns > 0).
 * With @n below CHK_TLB_MAX, more than @n if they did not all fit (nothing
 * useful is in @buf then); with CHK_TLB_MAX, the first that fit.
 */
int chk_vcpu_tlb_leaves(struct kvm_vcpu *vcpu, gfn_t gfn, u64 nr_gfns, struct hw_tlb_view *buf,
			int n);

#define CHK_TLB_MAX 4096

/*
 * The gfns a TLB leaf view translates: [*gfn, *gfn + *pages).  Under shadow
 * paging the CPU knows only the gva: the gfn comes from the leaf SPTE's
 * shadow page.  False if it cannot be known.
 */
bool chk_view_gfn(const struct hw_tlb_view *v, gfn_t *gfn, u64 *pages);

/* A raw read of an SPTE: no sched point, no event. */
static inline u64 chk_read_spte(const void *sptep)
{
	return __atomic_load_n((const u64 *)sptep, __ATOMIC_ACQUIRE);
}

/*
 * Call @fn for every present leaf of @root that maps a gfn in [start, end),
 * reading raw, stepping only into tables that are still allocated.
 */
void chk_walk_leaves(struct kvm_mmu_page *root, gfn_t start, gfn_t end,
		     void (*fn)(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg),
		     void *arg);

/* Call @fn for every MMIO SPTE of @root, reading raw. */
void chk_walk_mmio(struct kvm_mmu_page *root,
		   void (*fn)(gfn_t gfn, int level, const void *sptep, u64 spte, void *arg),
		   void *arg);

/*
 * Call @fn for every root of the VM: the TDP MMU's and the shadow MMU's
 * (direct roots only: their tables are indexed by gfn).  The caller holds
 * rcu_read_lock(); @fn returns true to stop.
 */
void chk_for_each_root(bool (*fn)(struct kvm_mmu_page *root, void *arg), void *arg);

/*
 * The gpa of a guest access (GUEST_LOAD/STORE): as the CPU reported it, or
 * under shadow paging with the guest's paging on, from the gfn the leaf
 * SPTE's shadow page maps plus the gva's offset in the leaf.  All ones
 * when it cannot be told.
 */
gpa_t chk_access_gpa(const struct kvmmu_event *ev);

/* The pfn the root @root maps @gfn to now, or 0. */
u64 chk_current_pfn(struct kvm_mmu_page *root, gfn_t gfn);

/* The root behind a vCPU (its current one), or NULL. */
struct kvm_mmu_page *chk_vcpu_root(struct kvm_vcpu *vcpu);

/* The target of a present SPTE at @level: its pfn, or its child table's. */
static inline u64 chk_target(u64 spte, int level)
{
	return spte_to_pfn(spte);
}

/* The host frame state of @pfn. */
static inline int chk_frame_state(u64 pfn)
{
	struct host_phys *phys = chk_world.mm->phys;

	if (!phys_pfn_valid(phys, pfn))
		return KVMMU_FRAME_FREE;
	return page_state(pfn_to_page(phys, pfn));
}

/* gpa -> hva through the memslots of address space 0, or 0. */
unsigned long chk_gpa_to_hva(gpa_t gpa, const struct kvm_memory_slot **slot);

/* ---- a map from u64 keys to fixed-size values ------------------------------------------ */

struct chk_map {
	u64 *keys;  /* 0 is the empty key: callers never use 0 */
	u8 *vals;
	size_t vsize;
	size_t cap; /* a power of 2 */
	size_t n;
};

void chk_map_init(struct chk_map *m, size_t vsize);
void chk_map_free(struct chk_map *m);
void chk_map_clear(struct chk_map *m);
/* The value of @key, or NULL. */
void *chk_map_find(struct chk_map *m, u64 key);
/* The value of @key, made (zeroed) if absent; NULL only on allocation failure. */
void *chk_map_get(struct chk_map *m, u64 key);
void chk_map_del(struct chk_map *m, u64 key);

/*
 * A map from the SPTE pointers of table frames to fixed-size values: one
 * array of 512 values a frame, made zeroed when the frame first gets one
 * (a zero value is an absent one).  Consecutive SPTEs share their frame's
 * array, and the last frame looked up is remembered, so an event costs an
 * index more often than a hash lookup.
 */
struct chk_frames {
	struct chk_map chunks; /* (address >> PAGE_SHIFT) + 1 -> the frame's array */
	size_t vsize;
	u64 last_key;
	u8 *last;
};

void chk_frames_init(struct chk_frames *f, size_t vsize);
/* Forget every value (and free their arrays). */
void chk_frames_free(struct chk_frames *f);
/* The value of the SPTE at @sptep, or NULL if its frame has none. */
void *chk_frames_find(struct chk_frames *f, const void *sptep);
/* The same, its frame's array made if absent; NULL only on allocation failure. */
void *chk_frames_get(struct chk_frames *f, const void *sptep);
/* Forget the values of the frame that holds @p. */
void chk_frames_drop(struct chk_frames *f, const void *p);

#define chk_map_for_each(m, i)                                                \
	for ((i) = 0; (i) < (m)->cap; (i)++)                                  \
		if (!(m)->keys[(i)]) {                                        \
		} else

#endif /* KVMMU_CHECK_CHECK_INTERNAL_H */
