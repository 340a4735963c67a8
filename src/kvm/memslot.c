// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memslots: the sets, their lookups, and KVM_SET_USER_MEMORY_REGION2.
 *
 * Each address space has two sets, active and inactive.  An update edits
 * the inactive set, makes it active (kvm_swap_active_memslots(): wait for
 * notifier invalidations to drain, publish, wait for SRCU readers of the old
 * set), then repeats the edit on the set that just became inactive, so both
 * are equal between updates.  A slot being deleted or moved is first
 * replaced by an INVALID copy and its mappings are zapped, all before the
 * update returns.
 *
 * Sets are sorted arrays (by gfn, by hva, by id).  Readers hold kvm->srcu;
 * writers hold slots_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_host.h"

/* ---- one set ---------------------------------------------------------------- */

static int slots_reserve(struct kvm_memslots *slots, int nr)
{
	int cap = slots->cap ? slots->cap : 8;
	void *a, *b, *c, *d;

	if (nr <= slots->cap)
		return 0;
	while (cap < nr)
		cap *= 2;
	a = realloc(slots->by_gfn, cap * sizeof(*slots->by_gfn));
	if (a)
		slots->by_gfn = a;
	b = realloc(slots->by_hva, cap * sizeof(*slots->by_hva));
	if (b)
		slots->by_hva = b;
	c = realloc(slots->hva_max_end, cap * sizeof(*slots->hva_max_end));
	if (c)
		slots->hva_max_end = c;
	d = realloc(slots->by_id, cap * sizeof(*slots->by_id));
	if (d)
		slots->by_id = d;
	if (!a || !b || !c || !d)
		return -ENOMEM;
	slots->cap = cap;
	return 0;
}

static unsigned long slot_hva_end(const struct kvm_memory_slot *s)
{
	return s->userspace_addr + (s->npages << PAGE_SHIFT);
}

/* Insert @s into a sorted array; @before says where it goes. */
static void array_insert(struct kvm_memory_slot **a, int nr,
			 struct kvm_memory_slot *s,
			 bool (*before)(const struct kvm_memory_slot *x,
					const struct kvm_memory_slot *y))
{
	int i = nr;

	while (i > 0 && before(s, a[i - 1])) {
		a[i] = a[i - 1];
		i--;
	}
	a[i] = s;
}

static void array_remove(struct kvm_memory_slot **a, int nr,
			 struct kvm_memory_slot *s)
{
	int i;

	for (i = 0; i < nr && a[i] != s; i++)
		;
	if (WARN_ON(i == nr))
		return;
	memmove(&a[i], &a[i + 1], (size_t)(nr - i - 1) * sizeof(*a));
}

static bool gfn_before(const struct kvm_memory_slot *x, const struct kvm_memory_slot *y)
{
	return x->base_gfn < y->base_gfn;
}

static bool hva_before(const struct kvm_memory_slot *x, const struct kvm_memory_slot *y)
{
	return x->userspace_addr < y->userspace_addr;
}

static bool id_before(const struct kvm_memory_slot *x, const struct kvm_memory_slot *y)
{
	return x->id < y->id;
}

static void recompute_hva_max_end(struct kvm_memslots *slots)
{
	unsigned long m = 0;
	int i;

	for (i = 0; i < slots->nr; i++) {
		m = max(m, slot_hva_end(slots->by_hva[i]));
		slots->hva_max_end[i] = m;
	}
}

/*
 * Replace @old by @new in @slots (either may be NULL: create, delete).
 * The set must not be visible to readers.  Cannot fail: room for one more
 * slot was reserved before the update started.
 */
static void slots_replace(struct kvm_memslots *slots, struct kvm_memory_slot *old,
			  struct kvm_memory_slot *new)
{
	if (old) {
		array_remove(slots->by_gfn, slots->nr, old);
		array_remove(slots->by_hva, slots->nr, old);
		array_remove(slots->by_id, slots->nr, old);
		slots->nr--;
		if (atomic_load(&slots->last_used_slot) == old)
			atomic_store(&slots->last_used_slot, new);
	}
	if (new) {
		array_insert(slots->by_gfn, slots->nr, new, gfn_before);
		array_insert(slots->by_hva, slots->nr, new, hva_before);
		array_insert(slots->by_id, slots->nr, new, id_before);
		slots->nr++;
	}
	recompute_hva_max_end(slots);
}

/* ---- lookups ------------------------------------------------------------------- */

static bool slot_has_gfn(const struct kvm_memory_slot *s, gfn_t gfn)
{
	return gfn >= s->base_gfn && gfn < s->base_gfn + s->npages;
}

static struct kvm_memory_slot *search_memslots(struct kvm_memslots *slots, gfn_t gfn)
{
	int lo = 0, hi = slots->nr - 1, found = -1;

	/* The last slot whose base is at or below @gfn. */
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (slots->by_gfn[mid]->base_gfn <= gfn) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (found < 0 || !slot_has_gfn(slots->by_gfn[found], gfn))
		return NULL;
	return slots->by_gfn[found];
}

struct kvm_memory_slot *__gfn_to_memslot(struct kvm_memslots *slots, gfn_t gfn)
{
	struct kvm_memory_slot *s = atomic_load_explicit(&slots->last_used_slot,
							 memory_order_relaxed);

	if (s && slot_has_gfn(s, gfn))
		return s;
	s = search_memslots(slots, gfn);
	if (s)
		atomic_store_explicit(&slots->last_used_slot, s, memory_order_relaxed);
	return s;
}

struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	return __gfn_to_memslot(kvm_memslots(kvm), gfn);
}

struct kvm_memory_slot *kvm_vcpu_gfn_to_memslot(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	struct kvm_memslots *slots = kvm_memslots(vcpu->kvm);
	u64 gen = READ_ONCE(slots->generation);
	struct kvm_memory_slot *s;

	/* The vCPU's own cache is only good within one generation. */
	if (vcpu->last_used_slot_gen == gen && vcpu->last_used_slot &&
	    slot_has_gfn(vcpu->last_used_slot, gfn))
		return vcpu->last_used_slot;
	s = __gfn_to_memslot(slots, gfn);
	if (s) {
		vcpu->last_used_slot = s;
		vcpu->last_used_slot_gen = gen;
	}
	return s;
}

struct kvm_memory_slot *id_to_memslot(struct kvm_memslots *slots, int id)
{
	int lo = 0, hi = slots->nr - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct kvm_memory_slot *s = slots->by_id[mid];

		if (s->id == id)
			return s;
		if (s->id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

bool kvm_is_visible_gfn(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *s = gfn_to_memslot(kvm, gfn);

	return s && !kvm_is_slot_invalid(s);
}

void kvm_for_each_memslot_in_hva_range(struct kvm_memslots *slots,
				       unsigned long start, unsigned long end,
				       void (*fn)(struct kvm_memory_slot *slot, void *arg),
				       void *arg)
{
	int lo = 0, hi = slots->nr - 1, i = -1;

	/* The last slot starting below @end ... */
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (slots->by_hva[mid]->userspace_addr < end) {
			i = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	/* ... and back while some slot so far may still reach @start. */
	for (; i >= 0 && slots->hva_max_end[i] > start; i--) {
		if (slot_hva_end(slots->by_hva[i]) > start)
			fn(slots->by_hva[i], arg);
	}
}

/* ---- the sets of a VM ------------------------------------------------------------- */

int kvm_memslots_init(struct kvm *kvm, u64 generation)
{
	int as, i;

	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		for (i = 0; i < 2; i++) {
			struct kvm_memslots *s = &kvm->__memslots[as][i];

			memset(s, 0, sizeof(*s));
			/* Generations advance by the number of address spaces. */
			s->generation = generation + (u64)as;
			s->node_idx = i;
			if (slots_reserve(s, 8))
				return -ENOMEM;
		}
		kvm->memslots[as] = &kvm->__memslots[as][0];
	}
	return 0;
}

static void kvm_destroy_dirty_bitmap(struct kvm_memory_slot *slot)
{
	free(slot->dirty_bitmap);
	slot->dirty_bitmap = NULL;
}

static void kvm_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_destroy_dirty_bitmap(slot);
	kvm_arch_free_memslot(kvm, slot);
	free(slot);
}

/* ---- freed slots: poisoned and kept ------------------------------------------------------- */

/*
 * KVM frees a deleted or moved slot's metadata once the update is done;
 * anything that reaches for it afterwards (a shadow page of a guest table
 * in it that outlived the slot, seed 002) touches freed memory.  kvmmu
 * keeps the slot instead, its arch metadata poisoned and flagged
 * KVM_MEMSLOT_FREED, so that the accessors report such a touch
 * (kvm_memslot_meta_freed()) rather than crash.  The oldest slots give
 * their arrays back past KVM_MEMSLOT_QUARANTINE_BYTES; the structs stay,
 * flagged, until the VM goes.  A slot may lack arrays: with the TDP MMU,
 * rmaps and write-tracking counts come only with the first shadow root
 * (nested EPT), and a slot deleted before it never had them; what is
 * poisoned and counted is what it has, and the flag alone keeps the
 * accessors off the rest.  Called with slots_lock held, after every SRCU
 * reader of the sets that held @slot has left.
 */
static void kvm_quarantine_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct kvm_memory_slot *s, *oldest = NULL;

	lockdep_assert_held(&kvm->slots_lock);
	kvm_arch_poison_memslot(kvm, slot);
	kvm->freed_memslot_bytes += kvm_arch_memslot_metadata_bytes(slot);
	slot->flags |= KVM_MEMSLOT_FREED;
	slot->freed_kvm = kvm;
	slot->freed_next = kvm->freed_memslots;
	/*
	 * Release: the slot is flagged and its fields final before a lockless
	 * kvm_freed_memslot() can find it; pairs with its acquire.
	 */
	smp_store_release(&kvm->freed_memslots, slot);

	/* Over the budget: the oldest slots' arrays go (their structs stay). */
	while (kvm->freed_memslot_bytes > KVM_MEMSLOT_QUARANTINE_BYTES) {
		for (s = kvm->freed_memslots, oldest = NULL; s; s = s->freed_next) {
			if (s != slot && (s->arch.lpage_info[0] || s->arch.rmap[0] ||
					  s->arch.gfn_write_track))
				oldest = s;
		}
		if (!oldest)
			break;
		kvm->freed_memslot_bytes -= kvm_arch_memslot_metadata_bytes(oldest);
		kvm_arch_free_memslot(kvm, oldest);
	}
}

struct kvm_memory_slot *kvm_freed_memslot(struct kvm *kvm, int as_id, gfn_t gfn)
{
	/* Pairs with the release in kvm_quarantine_memslot(). */
	struct kvm_memory_slot *s = smp_load_acquire(&kvm->freed_memslots);

	for (; s; s = s->freed_next) {
		if (s->as_id == as_id && slot_has_gfn(s, gfn))
			return s;
	}
	return NULL;
}

void __kvm_memslot_meta_touched(const struct kvm_memory_slot *slot, gfn_t gfn,
				enum kvmmu_slot_meta meta, bool write)
{
	kvmmu_observe(KVMMU_EV_SLOT_META_TOUCH, slot, .kvm = slot->freed_kvm,
		      .as_id = slot->as_id, .id = slot->id, .start = slot->base_gfn,
		      .end = slot->base_gfn + slot->npages, .gfn = gfn, .meta = (u8)meta,
		      .write = write);
}

static void kvm_free_quarantine(struct kvm *kvm)
{
	struct kvm_memory_slot *s = kvm->freed_memslots, *next;

	for (; s; s = next) {
		next = s->freed_next;
		kvm_arch_free_memslot(kvm, s);
		free(s);
	}
	kvm->freed_memslots = NULL;
	kvm->freed_memslot_bytes = 0;
}

void kvm_memslots_destroy(struct kvm *kvm)
{
	int as, i;

	kvm_free_quarantine(kvm);

	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		struct kvm_memslots *active = kvm->memslots[as];

		/* Both sets hold the same slots: free them once. */
		for (i = 0; i < active->nr; i++)
			kvm_free_memslot(kvm, active->by_id[i]);
		for (i = 0; i < 2; i++) {
			struct kvm_memslots *s = &kvm->__memslots[as][i];

			free(s->by_gfn);
			free(s->by_hva);
			free(s->hva_max_end);
			free(s->by_id);
		}
	}
}

static struct kvm_memslots *kvm_get_inactive_memslots(struct kvm *kvm, int as_id)
{
	struct kvm_memslots *active = kvm->memslots[as_id];

	return &kvm->__memslots[as_id][active->node_idx ^ 1];
}

/* Edit the inactive set of the slots' address space. */
static void kvm_replace_memslot(struct kvm *kvm, struct kvm_memory_slot *old,
				struct kvm_memory_slot *new)
{
	int as_id = old ? old->as_id : new->as_id;

	slots_replace(kvm_get_inactive_memslots(kvm, as_id), old, new);
}

/*
 * Publish the inactive set of @as_id.  Called with slots_arch_lock held;
 * returns with it released, as KVM does, after every reader of the old set
 * has left.
 */
static void kvm_swap_active_memslots(struct kvm *kvm, int as_id)
{
	struct kvm_memslots *slots = kvm_get_inactive_memslots(kvm, as_id);
	u64 gen = READ_ONCE(kvm->memslots[as_id]->generation);

	lockdep_assert_held(&kvm->slots_lock);
	lockdep_assert_held(&kvm->slots_arch_lock);
	WARN_ON(gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	WRITE_ONCE(slots->generation, gen | KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);

	/*
	 * Never swap while a notifier invalidation is in flight: its start
	 * and end must see the same set, or in_progress goes unbalanced.
	 */
	for (;;) {
		spin_lock(&kvm->mn_invalidate_lock);
		if (!kvm->mn_active_invalidate_count)
			break;
		spin_unlock(&kvm->mn_invalidate_lock);
		wait_event(&kvm->mn_memslots_update_wq,
			   !READ_ONCE(kvm->mn_active_invalidate_count));
	}
	/* Release: the set is complete before readers can find it. */
	rcu_assign_pointer(kvm->memslots[as_id], slots);
	spin_unlock(&kvm->mn_invalidate_lock);

	mutex_unlock(&kvm->slots_arch_lock);
	synchronize_srcu_expedited(&kvm->srcu);

	gen = (gen & ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS) + KVM_ADDRESS_SPACE_NUM;
	kvm_arch_memslots_updated(kvm, gen);
	WRITE_ONCE(slots->generation, gen);
}

/* Swap, then bring the set that became inactive up to date. */
static void kvm_activate_memslot(struct kvm *kvm, struct kvm_memory_slot *old,
				 struct kvm_memory_slot *new)
{
	int as_id = old ? old->as_id : new->as_id;

	kvm_swap_active_memslots(kvm, as_id);
	kvm_replace_memslot(kvm, old, new);
}

static int kvm_alloc_dirty_bitmap(struct kvm_memory_slot *slot)
{
	/* Two halves: the log and the scratch half GET/CLEAR use. */
	slot->dirty_bitmap = calloc(2, kvm_dirty_bitmap_bytes(slot));
	return slot->dirty_bitmap ? 0 : -ENOMEM;
}

static int kvm_prepare_memory_region(struct kvm *kvm,
				     const struct kvm_memory_slot *old,
				     struct kvm_memory_slot *new,
				     enum kvm_mr_change change)
{
	int r;

	if (change != KVM_MR_DELETE) {
		if (!(new->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
			new->dirty_bitmap = NULL;
		} else if (old && old->dirty_bitmap) {
			new->dirty_bitmap = old->dirty_bitmap;
		} else if (kvm_use_dirty_bitmap(kvm)) {
			r = kvm_alloc_dirty_bitmap(new);
			if (r)
				return r;
			if (kvm_dirty_log_manual_protect_and_init_set(kvm))
				bitmap_fill(new->dirty_bitmap, new->npages);
		}
	}
	r = kvm_arch_prepare_memory_region(kvm, old, new, change);
	if (r && new && new->dirty_bitmap && (!old || !old->dirty_bitmap))
		kvm_destroy_dirty_bitmap(new);
	return r;
}

static void kvm_commit_memory_region(struct kvm *kvm, struct kvm_memory_slot *old,
				     const struct kvm_memory_slot *new,
				     enum kvm_mr_change change)
{
	u32 old_flags = old ? old->flags : 0, new_flags = new ? new->flags : 0;

	if (change == KVM_MR_DELETE)
		kvm->nr_memslot_pages -= old->npages;
	else if (change == KVM_MR_CREATE)
		kvm->nr_memslot_pages += new->npages;
	if ((old_flags ^ new_flags) & KVM_MEM_LOG_DIRTY_PAGES) {
		/* Read by vCPUs that switch PML on or off. */
		if (new_flags & KVM_MEM_LOG_DIRTY_PAGES)
			WRITE_ONCE(kvm->nr_memslots_dirty_logging,
				   kvm->nr_memslots_dirty_logging + 1);
		else
			WRITE_ONCE(kvm->nr_memslots_dirty_logging,
				   kvm->nr_memslots_dirty_logging - 1);
	}

	kvm_arch_commit_memory_region(kvm, old, new, change);

	switch (change) {
	case KVM_MR_CREATE:
		break;
	case KVM_MR_DELETE:
		kvm_destroy_dirty_bitmap(old);
		kvm_quarantine_memslot(kvm, old);
		break;
	case KVM_MR_MOVE:
		/* @new has metadata of its own; the bitmap may have gone along. */
		if (old->dirty_bitmap && !new->dirty_bitmap)
			kvm_destroy_dirty_bitmap(old);
		old->dirty_bitmap = NULL;
		kvm_quarantine_memslot(kvm, old);
		break;
	case KVM_MR_FLAGS_ONLY:
		/* The metadata went along to @new; only the bitmap may go. */
		if (old->dirty_bitmap && !new->dirty_bitmap)
			kvm_destroy_dirty_bitmap(old);
		free(old);
		break;
	}
}

static int kvm_set_memslot(struct kvm *kvm, struct kvm_memory_slot *old,
			   struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	struct kvm_memory_slot *invalid = NULL;
	int as_id = old ? old->as_id : new->as_id, i, r;

	/* Make room for one more slot in both sets, so edits cannot fail. */
	for (i = 0; i < 2; i++) {
		r = slots_reserve(&kvm->__memslots[as_id][i],
				  kvm->__memslots[as_id][i].nr + 1);
		if (r)
			return r;
	}

	mutex_lock(&kvm->slots_arch_lock);

	if (change == KVM_MR_DELETE || change == KVM_MR_MOVE) {
		invalid = malloc(sizeof(*invalid));
		if (!invalid) {
			mutex_unlock(&kvm->slots_arch_lock);
			return -ENOMEM;
		}
		/*
		 * Publish an INVALID copy: faults on the slot now retry and
		 * nothing new can be mapped from it.  Then zap what is mapped,
		 * before the update can complete.  The set that became
		 * inactive still holds @old, which a failure below restores.
		 */
		*invalid = *old;
		invalid->flags |= KVM_MEMSLOT_INVALID;
		kvm_replace_memslot(kvm, old, invalid);
		kvm_swap_active_memslots(kvm, as_id);
		kvm_arch_flush_shadow_memslot(kvm, old);
		mutex_lock(&kvm->slots_arch_lock);
		old->arch = invalid->arch;
	}

	r = kvm_prepare_memory_region(kvm, old, new, change);
	if (r) {
		if (invalid) {
			kvm_activate_memslot(kvm, invalid, old);
			free(invalid);
		} else {
			mutex_unlock(&kvm->slots_arch_lock);
		}
		return r;
	}

	/* Edit the inactive set, swap, then edit the other one. */
	switch (change) {
	case KVM_MR_CREATE:
		kvm_replace_memslot(kvm, NULL, new);
		kvm_activate_memslot(kvm, NULL, new);
		break;
	case KVM_MR_DELETE:
		kvm_replace_memslot(kvm, old, NULL);
		kvm_activate_memslot(kvm, invalid, NULL);
		break;
	case KVM_MR_MOVE:
		kvm_replace_memslot(kvm, old, new);
		kvm_activate_memslot(kvm, invalid, new);
		break;
	case KVM_MR_FLAGS_ONLY:
		kvm_replace_memslot(kvm, old, new);
		kvm_activate_memslot(kvm, old, new);
		break;
	}
	free(invalid);

	kvm_commit_memory_region(kvm, old, new, change);
	return 0;
}

static bool kvm_check_memslot_overlap(struct kvm_memslots *slots, int id,
				      gfn_t start, gfn_t end)
{
	int i;

	for (i = 0; i < slots->nr; i++) {
		struct kvm_memory_slot *s = slots->by_gfn[i];

		if (s->base_gfn >= end)
			break;
		if (s->id != id && s->base_gfn + s->npages > start)
			return true;
	}
	return false;
}

/* __kvm_set_memory_region(): validation with KVM's errnos, then the update. */
int kvm_set_memory_region(struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem)
{
	u32 valid_flags = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;
	struct kvm_memory_slot *old, *new;
	struct kvm_memslots *slots;
	enum kvm_mr_change change;
	unsigned long npages;
	gfn_t base_gfn;
	int as_id, id;

	lockdep_assert_held(&kvm->slots_lock);

	if (mem->flags & ~valid_flags)
		return -EINVAL;
	as_id = mem->slot >> 16;
	id = (u16)mem->slot;

	if ((mem->memory_size & (PAGE_SIZE - 1)) ||
	    (mem->memory_size != (unsigned long)mem->memory_size))
		return -EINVAL;
	if (mem->guest_phys_addr & (PAGE_SIZE - 1))
		return -EINVAL;
	/*
	 * As x86-64's access_ok(): a page-aligned range whose end (start +
	 * size, not wrapping) is at most TASK_SIZE_MAX.
	 */
	if ((mem->userspace_addr & (PAGE_SIZE - 1)) ||
	    mem->userspace_addr > TASK_SIZE_MAX ||
	    mem->memory_size > TASK_SIZE_MAX - mem->userspace_addr)
		return -EINVAL;
	if (as_id >= kvm->nr_memslot_as_ids || id >= KVM_MEM_SLOTS_NUM)
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	if ((mem->memory_size >> PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES)
		return -EINVAL;

	slots = __kvm_memslots(kvm, as_id);
	old = id_to_memslot(slots, id);

	if (!mem->memory_size) {
		if (!old || !old->npages)
			return -EINVAL;
		if (WARN_ON_ONCE(kvm->nr_memslot_pages < old->npages))
			return -EIO;
		return kvm_set_memslot(kvm, old, NULL, KVM_MR_DELETE);
	}

	base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
	npages = mem->memory_size >> PAGE_SHIFT;

	if (!old || !old->npages) {
		change = KVM_MR_CREATE;
		if (kvm->nr_memslot_pages + npages < kvm->nr_memslot_pages)
			return -EINVAL;
	} else {
		/* A live slot may only move or change its flags (not READONLY). */
		if (mem->userspace_addr != old->userspace_addr ||
		    npages != old->npages ||
		    ((mem->flags ^ old->flags) & KVM_MEM_READONLY))
			return -EINVAL;
		if (base_gfn != old->base_gfn)
			change = KVM_MR_MOVE;
		else if (mem->flags != old->flags)
			change = KVM_MR_FLAGS_ONLY;
		else
			return 0; /* nothing to change */
	}

	if ((change == KVM_MR_CREATE || change == KVM_MR_MOVE) &&
	    kvm_check_memslot_overlap(slots, id, base_gfn, base_gfn + npages))
		return -EEXIST;

	new = calloc(1, sizeof(*new));
	if (!new)
		return -ENOMEM;
	new->as_id = (u16)as_id;
	new->id = (short)id;
	new->base_gfn = base_gfn;
	new->npages = npages;
	new->flags = mem->flags;
	new->userspace_addr = mem->userspace_addr;

	{
		int r = kvm_set_memslot(kvm, old, new, change);

		if (r)
			free(new);
		return r;
	}
}
