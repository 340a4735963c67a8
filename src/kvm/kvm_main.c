// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's generic layer: VM and vCPU life, requests and kicks, remote TLB
 * flushes, the mmu_notifier side of the invalidation protocol, the VM
 * ioctls (memslots, capabilities, dirty log) and statistics.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_host.h"

static __kvmmu_tls struct kvm_vcpu *kvm_running_vcpu;

struct kvm_vcpu *kvm_get_running_vcpu(void)
{
	return kvm_running_vcpu;
}

void vcpu_load(struct kvm_vcpu *vcpu)
{
	WARN_ON_ONCE(kvm_running_vcpu);
	kvm_running_vcpu = vcpu;
}

void vcpu_put(struct kvm_vcpu *vcpu)
{
	WARN_ON_ONCE(kvm_running_vcpu != vcpu);
	kvm_running_vcpu = NULL;
}

/* ---- pfn lookup ------------------------------------------------------------------ */

kvm_pfn_t __kvm_faultin_pfn(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			    unsigned int foll, bool *writable, struct page **refcounted_page)
{
	struct kvm_follow_pfn kfp = {
		/* KVM holds a reference from the lookup to the end of the fault. */
		.flags = foll | FOLL_GET,
	};
	kvm_pfn_t pfn;

	*writable = false;
	*refcounted_page = NULL;
	if (!slot || kvm_is_slot_invalid(slot))
		return KVM_PFN_NOSLOT;
	if ((foll & FOLL_WRITE) && (slot->flags & KVM_MEM_READONLY))
		return KVM_PFN_ERR_RO_FAULT;
	kfp.hva = __gfn_to_hva_memslot(slot, gfn);
	/* A read fault may be mapped writable, unless the slot is read-only. */
	kfp.map_writable = !(slot->flags & KVM_MEM_READONLY);
	pfn = kvm->host->follow_pfn(kvm->mm, &kfp);
	if (is_error_noslot_pfn(pfn)) {
		WARN_ON_ONCE(kfp.refcounted_page);
		return pfn;
	}
	*writable = kfp.map_writable;
	*refcounted_page = kfp.refcounted_page;
	return pfn;
}

/*
 * Is the folio's A/D state KVM's to set?  Not for reserved pages.  The
 * mutant asks page_ref_count() instead, which is 0 on a compound tail, so
 * a THP written through a tail page is never dirtied.
 */
static bool kvm_is_ad_tracked_page(struct kvm *kvm, struct page *page)
{
	if (kvm->host->page_is_reserved(kvm->mm, page))
		return false;
	if (kvmmu_mutant(MUT_TAIL_PAGE_REF_COUNT))
		return kvm->host->page_ref_count(kvm->mm, page) > 0;
	return true;
}

void kvm_release_faultin_page(struct kvm *kvm, struct page *page, bool unused, bool dirty)
{
	/* Dirtying a folio is only safe under mmu_lock, against writeback. */
	WARN_ON_ONCE(!unused && !lock_is_held_type(&kvm->mmu_lock.dep_map, LD_HELD_ANY));
	if (!page)
		return;
	if (!unused && dirty && kvm_is_ad_tracked_page(kvm, page))
		kvm->host->set_page_dirty(kvm->mm, page);
	if (!kvm->host->page_is_reserved(kvm->mm, page))
		kvm->host->mark_page_accessed(kvm->mm, page);
	kvm->host->put_page(kvm->mm, page);
}

void kvm_vm_bugged(struct kvm *kvm)
{
	WRITE_ONCE(kvm->vm_bugged, true);
	WRITE_ONCE(kvm->vm_dead, true);
	kvm_make_all_cpus_request(kvm, KVM_REQ_VM_DEAD);
}

/* ---- requests, kicks and remote flushes ------------------------------------- */

/* IN_GUEST_MODE -> EXITING_GUEST_MODE; returns the mode found. */
static int kvm_vcpu_exiting_guest_mode(struct kvm_vcpu *vcpu)
{
	int mode = IN_GUEST_MODE;

	/* seq_cst: ordered after the request and the kick (see below). */
	if (atomic_compare_exchange_strong(&vcpu->mode, &mode, EXITING_GUEST_MODE))
		kvmmu_observe(KVMMU_EV_VCPU_MODE, vcpu, .vcpu = vcpu->vcpu_id,
			      .old_mode = IN_GUEST_MODE, .new_mode = EXITING_GUEST_MODE);
	return mode;
}

static bool kvm_request_needs_ipi(struct kvm_vcpu *vcpu, unsigned int req)
{
	int mode = kvm_vcpu_exiting_guest_mode(vcpu);

	/*
	 * A waiting request must hear from every vCPU not outside guest mode
	 * (in, exiting, or walking shadow tables locklessly); others only
	 * need the vCPU out of the guest.
	 */
	if (req & KVM_REQUEST_WAIT)
		return mode != OUTSIDE_GUEST_MODE;
	return mode == IN_GUEST_MODE;
}

void kvm_vcpu_ack_kicks(struct kvm_vcpu *vcpu)
{
	/*
	 * seq_cst: called after the vCPU made its mode OUTSIDE_GUEST_MODE, so
	 * this load sees every kick whose sender still saw another mode.
	 */
	u32 req = atomic_load(&vcpu->kick_req);

	if (atomic_load(&vcpu->kick_ack) == req)
		return;
	atomic_store(&vcpu->kick_ack, req);
	sched_point(SP_KICK_ACK, vcpu);
	kvmmu_wake(&vcpu->kick_ack);
}

/* Wait until the vCPU acknowledged the kick numbered @target. */
static void kvm_vcpu_wait_for_ack(struct kvm_vcpu *vcpu, u32 target)
{
	for (;;) {
		u32 ack = atomic_load(&vcpu->kick_ack);

		if ((s32)(ack - target) >= 0)
			return;
		kvmmu_block(&vcpu->kick_ack, ack);
	}
}

/*
 * Make @req to every vCPU and kick those that need it; with
 * KVM_REQUEST_WAIT, return only once each kicked vCPU acknowledged, i.e.
 * left guest mode.  Ordering: the sender sets the request, then asks for a
 * kick, then looks at the mode (all seq_cst); a vCPU entering the guest sets
 * its mode, then looks at the requests; a vCPU leaving sets its mode, then
 * acknowledges.  So either the vCPU sees the request before it enters, or
 * the sender sees it in guest mode and its acknowledgement covers the kick.
 */
bool kvm_make_all_cpus_request(struct kvm *kvm, unsigned int req)
{
	u32 targets[KVM_MAX_VCPUS];
	bool wait[KVM_MAX_VCPUS];
	struct kvm_vcpu *vcpu;
	int i, n = 0;

	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (!(req & KVM_REQUEST_NO_ACTION))
			kvm_make_request(req, vcpu);
		targets[i] = atomic_fetch_add(&vcpu->kick_req, 1) + 1;
		wait[i] = kvm_request_needs_ipi(vcpu, req) && (req & KVM_REQUEST_WAIT);
		sched_point(SP_KICK, vcpu);
		n = i + 1;
	}
	for (i = 0; i < n; i++) {
		if (wait[i])
			kvm_vcpu_wait_for_ack(kvm->vcpus[i], targets[i]);
	}
	return true;
}

void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	atomic_fetch_add(&vcpu->kick_req, 1);
	kvm_vcpu_exiting_guest_mode(vcpu);
	sched_point(SP_KICK, vcpu);
}

void kvm_flush_remote_tlbs(struct kvm *kvm)
{
	kvm_stat_inc(kvm->stat.remote_tlb_flush_requests);
	kvmmu_span_begin(KVMMU_SPAN_FLUSH, 0);
	if (kvm_make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH))
		kvm_stat_inc(kvm->stat.remote_tlb_flush);
	kvmmu_span_end(KVMMU_SPAN_FLUSH, 0);
}

/* No range-based flush hardware is modelled: these flush everything. */
void kvm_flush_remote_tlbs_range(struct kvm *kvm, gfn_t gfn, u64 nr_pages)
{
	kvm_flush_remote_tlbs(kvm);
}

void kvm_flush_remote_tlbs_memslot(struct kvm *kvm, const struct kvm_memory_slot *slot)
{
	lockdep_assert_held(&kvm->slots_lock);
	kvm_flush_remote_tlbs_range(kvm, slot->base_gfn, slot->npages);
}

/* ---- the mmu_notifier side of the invalidation protocol ----------------------- */

void kvm_mmu_invalidate_begin(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	/* Lockless readers: mmu_invalidate_retry_gfn_unsafe(). */
	WRITE_ONCE(kvm->mmu_invalidate_in_progress, kvm->mmu_invalidate_in_progress + 1);
	if (likely(kvm->mmu_invalidate_in_progress == 1)) {
		WRITE_ONCE(kvm->mmu_invalidate_range_start, INVALID_GPA);
		WRITE_ONCE(kvm->mmu_invalidate_range_end, INVALID_GPA);
	}
}

void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	WARN_ON_ONCE(!kvm->mmu_invalidate_in_progress);
	/* Overlapping invalidations widen the range to their union. */
	if (likely(kvm->mmu_invalidate_range_start == INVALID_GPA)) {
		WRITE_ONCE(kvm->mmu_invalidate_range_start, start);
		WRITE_ONCE(kvm->mmu_invalidate_range_end, end);
	} else {
		WRITE_ONCE(kvm->mmu_invalidate_range_start,
			   min(kvm->mmu_invalidate_range_start, start));
		WRITE_ONCE(kvm->mmu_invalidate_range_end,
			   max(kvm->mmu_invalidate_range_end, end));
	}
}

void kvm_mmu_invalidate_end(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	/*
	 * The sequence moves before in_progress drops (release order), so a
	 * fault that reads in_progress == 0 and then the sequence (acquire
	 * order) sees either the old in_progress or the new sequence.
	 */
	__atomic_store_n(&kvm->mmu_invalidate_seq, kvm->mmu_invalidate_seq + 1,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&kvm->mmu_invalidate_in_progress,
			 kvm->mmu_invalidate_in_progress - 1, __ATOMIC_RELEASE);
	KVM_BUG_ON(kvm->mmu_invalidate_in_progress < 0, kvm);
	WARN_ON_ONCE(kvm->mmu_invalidate_range_start == INVALID_GPA);
}

static bool kvm_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	kvm_mmu_invalidate_range_add(kvm, range->start, range->end);
	return kvm_unmap_gfn_range(kvm, range);
}

struct kvm_mmu_notifier_range {
	unsigned long start, end;
	bool (*handler)(struct kvm *kvm, struct kvm_gfn_range *range);
	void (*on_lock)(struct kvm *kvm);
	bool flush_on_ret;
	bool may_block;
	bool lockless;
};

struct hva_walk {
	struct kvm *kvm;
	const struct kvm_mmu_notifier_range *range;
	bool found_memslot;
	bool ret;
};

static void handle_hva_slot(struct kvm_memory_slot *slot, void *arg)
{
	struct hva_walk *w = arg;
	const struct kvm_mmu_notifier_range *r = w->range;
	unsigned long hva_start = max(r->start, slot->userspace_addr);
	unsigned long hva_end = min(r->end, slot->userspace_addr +
					    (slot->npages << PAGE_SHIFT));
	struct kvm_gfn_range gfn_range = {
		.slot = slot,
		.start = hva_to_gfn_memslot(hva_start, slot),
		.end = hva_to_gfn_memslot(hva_end + PAGE_SIZE - 1, slot),
		.may_block = r->may_block,
		.lockless = r->lockless,
	};

	/* The lock and on_lock() only once a slot overlaps the range. */
	if (!w->found_memslot) {
		w->found_memslot = true;
		if (!r->lockless) {
			write_lock(&w->kvm->mmu_lock);
			if (r->on_lock)
				r->on_lock(w->kvm);
		}
	}
	if (r->handler)
		w->ret |= r->handler(w->kvm, &gfn_range);
}

/*
 * Dispatch an hva range to every slot it overlaps, in every address space,
 * INVALID slots included (their mappings must go too).
 */
static bool __kvm_handle_hva_range(struct kvm *kvm,
				   const struct kvm_mmu_notifier_range *range)
{
	struct hva_walk w = { .kvm = kvm, .range = range };
	int as, idx;

	if (WARN_ON_ONCE(range->end <= range->start))
		return false;
	idx = srcu_read_lock(&kvm->srcu);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		kvm_for_each_memslot_in_hva_range(__kvm_memslots(kvm, as),
						  range->start, range->end,
						  handle_hva_slot, &w);
	if (range->flush_on_ret && w.ret)
		kvm_flush_remote_tlbs(kvm);
	if (w.found_memslot && !range->lockless)
		write_unlock(&kvm->mmu_lock);
	srcu_read_unlock(&kvm->srcu, idx);
	return w.ret;
}

static struct kvm *mmu_notifier_to_kvm(struct mmu_notifier *mn)
{
	return container_of(mn, struct kvm, mmu_notifier);
}

static int kvm_mmu_notifier_invalidate_range_start(struct mmu_notifier *mn,
						   const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mmu_notifier_to_kvm(mn);
	const struct kvm_mmu_notifier_range hva_range = {
		.start = range->start,
		.end = range->end,
		.handler = kvm_mmu_unmap_gfn_range,
		.on_lock = kvm_mmu_invalidate_begin,
		.flush_on_ret = true,
		.may_block = mmu_notifier_range_blockable(range),
	};

	/* Memslot swaps wait for this count to drain (kvm_swap_active_memslots). */
	spin_lock(&kvm->mn_invalidate_lock);
	/* The updater's wait_event() reads it without the lock. */
	WRITE_ONCE(kvm->mn_active_invalidate_count, kvm->mn_active_invalidate_count + 1);
	spin_unlock(&kvm->mn_invalidate_lock);

	__kvm_handle_hva_range(kvm, &hva_range);
	return 0;
}

static void kvm_mmu_notifier_invalidate_range_end(struct mmu_notifier *mn,
						  const struct mmu_notifier_range *range)
{
	struct kvm *kvm = mmu_notifier_to_kvm(mn);
	const struct kvm_mmu_notifier_range hva_range = {
		.start = range->start,
		.end = range->end,
		.on_lock = kvm_mmu_invalidate_end,
		.may_block = mmu_notifier_range_blockable(range),
	};
	bool wake;

	__kvm_handle_hva_range(kvm, &hva_range);

	spin_lock(&kvm->mn_invalidate_lock);
	if (!WARN_ON_ONCE(!kvm->mn_active_invalidate_count))
		WRITE_ONCE(kvm->mn_active_invalidate_count, kvm->mn_active_invalidate_count - 1);
	wake = !kvm->mn_active_invalidate_count;
	spin_unlock(&kvm->mn_invalidate_lock);
	if (wake)
		wake_up_all(&kvm->mn_memslots_update_wq);
}

static bool kvm_handle_hva_age(struct mmu_notifier *mn, unsigned long start,
			       unsigned long end,
			       bool (*handler)(struct kvm *kvm, struct kvm_gfn_range *range))
{
	const struct kvm_mmu_notifier_range range = {
		.start = start,
		.end = end,
		.handler = handler,
		/* x86 elides the flush when something was young. */
		.flush_on_ret = false,
		.lockless = KVM_MMU_LOCKLESS_AGING,
	};

	return __kvm_handle_hva_range(mmu_notifier_to_kvm(mn), &range);
}

static bool kvm_mmu_notifier_clear_flush_young(struct mmu_notifier *mn,
					       struct mm_struct *mm,
					       unsigned long start, unsigned long end)
{
	return kvm_handle_hva_age(mn, start, end, kvm_age_gfn);
}

static bool kvm_mmu_notifier_clear_young(struct mmu_notifier *mn,
					 struct mm_struct *mm,
					 unsigned long start, unsigned long end)
{
	return kvm_handle_hva_age(mn, start, end, kvm_age_gfn);
}

static bool kvm_mmu_notifier_test_young(struct mmu_notifier *mn,
					struct mm_struct *mm,
					unsigned long start, unsigned long end)
{
	return kvm_handle_hva_age(mn, start, end, kvm_test_age_gfn);
}

static void kvm_mmu_notifier_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kvm *kvm = mmu_notifier_to_kvm(mn);
	int idx = srcu_read_lock(&kvm->srcu);

	kvm_arch_flush_shadow_all(kvm);
	srcu_read_unlock(&kvm->srcu, idx);
}

static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_young,
	.test_young = kvm_mmu_notifier_test_young,
	.release = kvm_mmu_notifier_release,
};

/* ---- VM life ---------------------------------------------------------------------- */

void kvmmu_vm_config_init(struct kvmmu_vm_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = KVMMU_TDP_EPT;
	cfg->tdp_level = 4;
	cfg->phys_bits = 46;
	cfg->tdp_mmu = true;
	cfg->tdp_enabled = true;
	cfg->eager_page_split = true;
}

static void kvm_init_locks(struct kvm *kvm)
{
	mutex_init(&kvm->lock);
	lockdep_set_rank(&kvm->lock.dep_map, KVM_RANK_LOCK);
	mutex_init(&kvm->slots_lock);
	lockdep_set_rank(&kvm->slots_lock.dep_map, KVM_RANK_SLOTS_LOCK);
	mutex_init(&kvm->slots_arch_lock);
	lockdep_set_rank(&kvm->slots_arch_lock.dep_map, KVM_RANK_SLOTS_ARCH_LOCK);
	rwlock_init(&kvm->mmu_lock);
	lockdep_set_rank(&kvm->mmu_lock.dep_map, KVM_RANK_MMU_LOCK);
	spin_lock_init(&kvm->mn_invalidate_lock);
	lockdep_set_rank(&kvm->mn_invalidate_lock.dep_map, KVM_RANK_MN_INVALIDATE_LOCK);
	init_waitqueue_head(&kvm->mn_memslots_update_wq);
	init_srcu_struct(&kvm->srcu);
}

int kvmmu_vm_create(const struct kvmmu_vm_config *cfg, struct kvm **out)
{
	struct kvm *kvm;
	int r;

	if (!cfg || !out)
		return -EFAULT;
	if (cfg->type != KVM_X86_DEFAULT_VM || !cfg->mm || !cfg->host_ops || !cfg->hw_ops ||
	    (cfg->format != KVMMU_TDP_EPT && cfg->format != KVMMU_TDP_NPT) ||
	    (cfg->tdp_level != 4 && cfg->tdp_level != 5) ||
	    cfg->phys_bits < 36 || cfg->phys_bits > 52 ||
	    (cfg->ad_disabled && cfg->format != KVMMU_TDP_EPT) ||
	    (cfg->pml && (cfg->format != KVMMU_TDP_EPT || cfg->ad_disabled)) ||
	    cfg->nr_address_spaces < 0 || cfg->nr_address_spaces > KVM_ADDRESS_SPACE_NUM ||
	    cfg->memslot_generation_start % KVM_ADDRESS_SPACE_NUM ||
	    (cfg->memslot_generation_start & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS))
		return -EINVAL;
	kvm = zalloc_cacheline_aligned(sizeof(*kvm));
	if (!kvm)
		return -ENOMEM;
	kvm->mm = cfg->mm;
	kvm->host = cfg->host_ops;
	kvm->hw = cfg->hw_ops;
	kvm->hw_ctx = cfg->hw;
	kvm_init_locks(kvm);
	kvm->nr_memslot_as_ids = cfg->nr_address_spaces ?: KVM_ADDRESS_SPACE_NUM;

	kvm->mmu_invalidate_seq = cfg->mmu_invalidate_seq_start;
	r = kvm_memslots_init(kvm, cfg->memslot_generation_start);
	if (!r)
		r = kvm_arch_init_vm(kvm, cfg);
	if (!r) {
		kvm->mmu_notifier.ops = &kvm_mmu_notifier_ops;
		r = kvm->host->mmu_notifier_register(&kvm->mmu_notifier, kvm->mm);
		if (r)
			kvm_arch_destroy_vm(kvm);
	}
	if (r) {
		kvm_memslots_destroy(kvm);
		cleanup_srcu_struct(&kvm->srcu);
		free(kvm);
		return r;
	}
	*out = kvm;
	return 0;
}

static void kvm_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	int i;

	/* The VM's page counts keep this vCPU's share. */
	for (i = 0; i < KVM_NR_PAGE_SIZES; i++)
		atomic64_add(vcpu->pages_delta[i], &vcpu->kvm->stat.pages[i]);
	kvm_arch_vcpu_destroy(vcpu);
	kvm_dirty_ring_free(&vcpu->dirty_ring);
	vcpu->kvm->hw->vcpu_destroy(vcpu->hw);
	free(vcpu);
}

void kvmmu_vm_destroy(struct kvm *kvm)
{
	int i;

	if (!kvm)
		return;
	/* release(): the MMU drops every mapping of the mm. */
	kvm->host->mmu_notifier_unregister(&kvm->mmu_notifier, kvm->mm);
	kvm_unload_vcpu_mmus(kvm);
	for (i = 0; i < atomic_load(&kvm->online_vcpus); i++)
		kvm_vcpu_destroy(kvm->vcpus[i]);
	kvm_arch_destroy_vm(kvm);
	kvm_memslots_destroy(kvm);
	cleanup_srcu_struct(&kvm->srcu);
	free(kvm);
}

int kvmmu_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu **out)
{
	struct kvm_vcpu *vcpu;
	int i, r;

	if (!kvm)
		return -EBADF;
	/* Where the handle goes: KVM returns a file descriptor instead. */
	if (!out)
		return -EFAULT;
	if (id >= KVM_MAX_VCPUS)
		return -EINVAL;
	mutex_lock(&kvm->lock);
	for (i = 0; i < atomic_load(&kvm->online_vcpus); i++) {
		if (kvm->vcpus[i]->vcpu_id == (int)id) {
			mutex_unlock(&kvm->lock);
			return -EEXIST;
		}
	}
	r = -ENOMEM;
	vcpu = zalloc_cacheline_aligned(sizeof(*vcpu));
	if (!vcpu)
		goto out;
	vcpu->kvm = kvm;
	vcpu->vcpu_id = (int)id;
	atomic_store(&vcpu->mode, OUTSIDE_GUEST_MODE);
	if (kvm->dirty_ring_size) {
		r = kvm_dirty_ring_alloc(kvm, &vcpu->dirty_ring, (int)id,
					 kvm->dirty_ring_size);
		if (r)
			goto free_vcpu;
	}
	vcpu->hw = kvm->hw->vcpu_create(kvm->hw_ctx, (int)id);
	r = -ENOMEM;
	if (!vcpu->hw)
		goto free_ring;
	r = kvm_arch_vcpu_create(vcpu);
	if (r)
		goto free_hw;

	vcpu->vcpu_idx = atomic_load(&kvm->online_vcpus);
	/* Release: the vCPU is initialised before iterators can see it. */
	smp_store_release(&kvm->vcpus[vcpu->vcpu_idx], vcpu);
	atomic_fetch_add(&kvm->online_vcpus, 1);
	kvm->created_vcpus++;
	mutex_unlock(&kvm->lock);
	*out = vcpu;
	return 0;

free_hw:
	kvm->hw->vcpu_destroy(vcpu->hw);
free_ring:
	kvm_dirty_ring_free(&vcpu->dirty_ring);
free_vcpu:
	free(vcpu);
out:
	mutex_unlock(&kvm->lock);
	return r;
}

int kvmmu_vcpu_run(struct kvm_vcpu *vcpu, struct kvmmu_run *run)
{
	int r;

	if (!vcpu)
		return -EBADF;
	/* KVM_RUN reports in the mmap()ed struct kvm_run. */
	if (!kvm_user_ptr_ok(run, sizeof(*run)))
		return -EFAULT;
	if (kvm_running_vcpu)
		return -EBUSY;
	vcpu_load(vcpu);
	r = kvm_arch_vcpu_ioctl_run(vcpu, run);
	vcpu_put(vcpu);
	return r;
}

void kvmmu_vcpu_signal(struct kvm_vcpu *vcpu)
{
	if (!vcpu)
		return;
	atomic_store(&vcpu->sigpending, true);
	kvm_vcpu_kick(vcpu);
}

int kvmmu_vcpu_pre_fault_memory(struct kvm_vcpu *vcpu, struct kvm_pre_fault_memory *range)
{
	struct kvm *kvm;
	u64 full_size;
	long r = 0;

	if (!vcpu)
		return -EBADF;
	if (!kvm_user_ptr_ok(range, sizeof(*range)))
		return -EFAULT;
	kvm = vcpu->kvm;
	if (range->flags)
		return -EINVAL;
	if ((range->gpa & (PAGE_SIZE - 1)) || (range->size & (PAGE_SIZE - 1)) ||
	    range->gpa + range->size <= range->gpa)
		return -EINVAL;
	if (kvm_running_vcpu)
		return -EBUSY;

	vcpu_load(vcpu);
	vcpu->srcu_idx = srcu_read_lock(&kvm->srcu);
	full_size = range->size;
	do {
		if (atomic_exchange(&vcpu->sigpending, false)) {
			r = -EINTR;
			break;
		}
		r = kvm_arch_vcpu_pre_fault_memory(vcpu, range);
		if (WARN_ON_ONCE(r == 0 || r == -EIO))
			break;
		if (r < 0)
			break;
		range->size -= (u64)r;
		range->gpa += (u64)r;
		cond_resched();
	} while (range->size);
	srcu_read_unlock(&kvm->srcu, vcpu->srcu_idx);
	vcpu_put(vcpu);

	/* Success if anything was mapped. */
	return full_size == range->size ? (int)r : 0;
}

/* ---- VM ioctls ------------------------------------------------------------------- */

int kvmmu_set_user_memory_region2(struct kvm *kvm,
				  const struct kvm_userspace_memory_region2 *mem)
{
	int r;

	if (!kvm)
		return -EBADF;
	if (!kvm_user_ptr_ok(mem, sizeof(*mem)))
		return -EFAULT;
	/* Only the user's slots: the last few ids are KVM's own. */
	if ((u16)mem->slot >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	mutex_lock(&kvm->slots_lock);
	kvmmu_span_begin(KVMMU_SPAN_MEMSLOT_UPDATE, mem->slot);
	r = kvm_set_memory_region(kvm, mem);
	kvmmu_span_end(KVMMU_SPAN_MEMSLOT_UPDATE, mem->slot);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

int kvmmu_set_user_memory_region(struct kvm *kvm,
				 const struct kvm_userspace_memory_region *mem)
{
	struct kvm_userspace_memory_region2 m2 = { 0 };

	if (!kvm)
		return -EBADF;
	if (!kvm_user_ptr_ok(mem, sizeof(*mem)))
		return -EFAULT;
	/* The v1 ioctl takes only the v1 flags. */
	if (mem->flags & ~(u32)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
		return -EINVAL;
	m2.slot = mem->slot;
	m2.flags = mem->flags;
	m2.guest_phys_addr = mem->guest_phys_addr;
	m2.memory_size = mem->memory_size;
	m2.userspace_addr = mem->userspace_addr;
	return kvmmu_set_user_memory_region2(kvm, &m2);
}

static int kvm_vm_ioctl_enable_dirty_log_ring(struct kvm *kvm, u32 size)
{
	int r;

	if (!size || (size & (size - 1)))
		return -EINVAL;
	if (size < kvm_dirty_ring_get_rsvd_entries(kvm) * sizeof(struct kvm_dirty_gfn) ||
	    size < PAGE_SIZE)
		return -EINVAL;
	if (size > KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn))
		return -E2BIG;
	if (kvm->dirty_ring_size)
		return -EINVAL;
	mutex_lock(&kvm->lock);
	if (kvm->created_vcpus) {
		r = -EINVAL; /* too late: vCPUs exist */
	} else {
		kvm->dirty_ring_size = size;
		r = 0;
	}
	mutex_unlock(&kvm->lock);
	return r;
}

static bool kvm_are_all_memslots_empty(struct kvm *kvm)
{
	int as;

	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		if (__kvm_memslots(kvm, as)->nr)
			return false;
	}
	return true;
}

int kvmmu_vm_enable_cap(struct kvm *kvm, const struct kvm_enable_cap *cap)
{
	int r;

	if (!kvm)
		return -EBADF;
	if (!kvm_user_ptr_ok(cap, sizeof(*cap)))
		return -EFAULT;
	switch (cap->cap) {
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: {
		/* INITIALLY_SET only along with MANUAL_PROTECT_ENABLE. */
		u64 allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;

		if (cap->args[0] & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
			allowed |= KVM_DIRTY_LOG_INITIALLY_SET;
		if (cap->flags || (cap->args[0] & ~allowed))
			return -EINVAL;
		kvm->manual_dirty_log_protect = cap->args[0];
		return 0;
	}
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
		return kvm_vm_ioctl_enable_dirty_log_ring(kvm, (u32)cap->args[0]);
	case KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP:
		if (!kvm->dirty_ring_size || cap->flags)
			return -EINVAL;
		mutex_lock(&kvm->slots_lock);
		r = -EINVAL;
		if (kvm_are_all_memslots_empty(kvm)) {
			kvm->dirty_ring_with_bitmap = true;
			r = 0;
		}
		mutex_unlock(&kvm->slots_lock);
		return r;
	/* x86's kvm_vm_ioctl_enable_cap(): no flags for any of its capabilities. */
	case KVM_CAP_DISABLE_QUIRKS2:
		if (cap->flags || (cap->args[0] & ~KVM_X86_VALID_QUIRKS))
			return -EINVAL;
		kvm->arch.disabled_quirks |= cap->args[0];
		return 0;
	case KVM_CAP_DISABLE_QUIRKS:
		/* The first version ignores the quirks it does not know. */
		if (cap->flags)
			return -EINVAL;
		kvm->arch.disabled_quirks |= cap->args[0] & KVM_X86_VALID_QUIRKS;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * KVM_CHECK_EXTENSION on the VM: kvm_vm_ioctl_check_extension_generic() and
 * x86's kvm_vm_ioctl_check_extension() for the capabilities kvmmu models.
 */
int kvmmu_vm_check_extension(struct kvm *kvm, long cap)
{
	switch (cap) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_USER_MEMORY2:
	case KVM_CAP_SYNC_MMU:
	case KVM_CAP_READONLY_MEM:
		return 1;
	case KVM_CAP_VM_TYPES:
		return 1 << KVM_X86_DEFAULT_VM;
	case KVM_CAP_NR_MEMSLOTS:
		return KVM_USER_MEM_SLOTS;
	case KVM_CAP_MULTI_ADDRESS_SPACE:
		/* Only a KVM with more than one address space has the case. */
		return kvm->nr_memslot_as_ids > 1 ? kvm->nr_memslot_as_ids : 0;
	case KVM_CAP_X86_SMM:
		return kvm->nr_memslot_as_ids > 1;
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		return KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
		return KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn);
	case KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP:
		/* kvmmu has it on x86, where KVM has it on arm64 only. */
		return 1;
	case KVM_CAP_DISABLE_QUIRKS2:
		return KVM_X86_VALID_QUIRKS;
	case KVM_CAP_PRE_FAULT_MEMORY:
		return kvm->arch.tdp_enabled;
	default:
		return 0;
	}
}

struct kvm_dirty_gfn *kvmmu_vcpu_dirty_ring(struct kvm_vcpu *vcpu, uint32_t *nr)
{
	if (!vcpu || !nr) {
		if (nr)
			*nr = 0;
		return NULL;
	}
	*nr = vcpu->dirty_ring.size;
	return vcpu->dirty_ring.dirty_gfns;
}

/* ---- statistics ------------------------------------------------------------------- */

struct stat_field {
	struct kvmmu_stat_desc desc;
	size_t offset;
	bool atomic64;
	int page_level; /* pages_*: also the vCPUs' shares at this level, from 1 */
};

#define VM_STAT(name, cum) { { #name, cum }, offsetof(struct kvm_vm_stat, name), false, 0 }
#define VM_STAT_PAGES(name, level)                                                   \
	{ { #name, false }, offsetof(struct kvm_vm_stat, name), true, level }
#define VCPU_STAT(name) { { #name, true }, offsetof(struct kvm_vcpu_stat, name), false, 0 }

static const struct stat_field vm_stats[] = {
	VM_STAT(remote_tlb_flush, true),
	VM_STAT(remote_tlb_flush_requests, true),
	VM_STAT(mmu_shadow_zapped, true),
	VM_STAT(mmu_pte_write, true),
	VM_STAT(mmu_pde_zapped, true),
	VM_STAT(mmu_flooded, true),
	VM_STAT(mmu_recycled, true),
	VM_STAT(mmu_cache_miss, true),
	VM_STAT(mmu_unsync, false),
	VM_STAT_PAGES(pages_4k, PG_LEVEL_4K),
	VM_STAT_PAGES(pages_2m, PG_LEVEL_2M),
	VM_STAT_PAGES(pages_1g, PG_LEVEL_1G),
	VM_STAT(nx_lpage_splits, false),
	VM_STAT(max_mmu_page_hash_collisions, false),
	VM_STAT(max_mmu_rmap_size, false),
};

static const struct stat_field vcpu_stats[] = {
	VCPU_STAT(pf_taken),
	VCPU_STAT(pf_fixed),
	VCPU_STAT(pf_emulate),
	VCPU_STAT(pf_spurious),
	VCPU_STAT(pf_fast),
	VCPU_STAT(pf_mmio_spte_created),
	VCPU_STAT(pf_guest),
	VCPU_STAT(tlb_flush),
	VCPU_STAT(invlpg),
	VCPU_STAT(exits),
	VCPU_STAT(halt_exits),
	VCPU_STAT(mmio_exits),
	VCPU_STAT(irq_exits),
	VCPU_STAT(nested_run),
};

/* A page count: the VM's own plus every vCPU's share (struct kvm_vcpu). */
static u64 read_page_stat(const struct kvm *kvm, int level)
{
	s64 v = atomic64_read(&kvm->stat.pages[level - 1]);
	struct kvm_vcpu *vcpu;
	int i;

	kvm_for_each_vcpu(i, vcpu, kvm)
		v += __atomic_load_n(&vcpu->pages_delta[level - 1], __ATOMIC_RELAXED);
	/*
	 * The parts are read one after the other: read while a zap from
	 * another thread takes away what a vCPU's share still counts, the sum
	 * can be briefly below zero, which no count ever is.
	 */
	return v < 0 ? 0 : (u64)v;
}

static u64 read_stat(const void *base, const struct stat_field *f)
{
	const char *p = (const char *)base + f->offset;

	if (f->page_level)
		return read_page_stat(container_of((const struct kvm_vm_stat *)base,
						   const struct kvm, stat),
				      f->page_level);
	if (f->atomic64)
		return (u64)atomic64_read((const atomic64_t *)(const void *)p);
	return __atomic_load_n((const u64 *)(const void *)p, __ATOMIC_RELAXED);
}

static int read_stats(const void *base, const struct stat_field *fields,
		      int nr, uint64_t *values, int n)
{
	int i;

	if (n < 0)
		return -EINVAL;
	if (!kvm_user_ptr_ok(values, (unsigned long)min(nr, n) * sizeof(*values)))
		return -EFAULT;

	for (i = 0; i < nr && i < n; i++)
		values[i] = read_stat(base, &fields[i]);
	return min(nr, n);
}

static struct kvmmu_stat_desc vm_descs[ARRAY_SIZE(vm_stats)];
static struct kvmmu_stat_desc vcpu_descs[ARRAY_SIZE(vcpu_stats)];

const struct kvmmu_stat_desc *kvmmu_vm_stat_descs(int *n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vm_stats); i++)
		vm_descs[i] = vm_stats[i].desc;
	if (n)
		*n = (int)ARRAY_SIZE(vm_stats);
	return vm_descs;
}

const struct kvmmu_stat_desc *kvmmu_vcpu_stat_descs(int *n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vcpu_stats); i++)
		vcpu_descs[i] = vcpu_stats[i].desc;
	if (n)
		*n = (int)ARRAY_SIZE(vcpu_stats);
	return vcpu_descs;
}

int kvmmu_vm_stats(struct kvm *kvm, uint64_t *values, int n)
{
	if (!kvm)
		return -EBADF;
	return read_stats(&kvm->stat, vm_stats, (int)ARRAY_SIZE(vm_stats), values, n);
}

int kvmmu_vcpu_stats(struct kvm_vcpu *vcpu, uint64_t *values, int n)
{
	if (!vcpu)
		return -EBADF;
	return read_stats(&vcpu->stat, vcpu_stats, (int)ARRAY_SIZE(vcpu_stats),
			  values, n);
}

static u64 stat_by_name(const void *base, const struct stat_field *fields,
			size_t nr, const char *name)
{
	size_t i;

	if (!base || !name)
		return ~0ULL;
	for (i = 0; i < nr; i++) {
		if (!strcmp(fields[i].desc.name, name))
			return read_stat(base, &fields[i]);
	}
	return ~0ULL;
}

uint64_t kvmmu_vm_stat(struct kvm *kvm, const char *name)
{
	if (!kvm)
		return ~0ULL;
	return stat_by_name(&kvm->stat, vm_stats, ARRAY_SIZE(vm_stats), name);
}

uint64_t kvmmu_vcpu_stat(struct kvm_vcpu *vcpu, const char *name)
{
	if (!vcpu)
		return ~0ULL;
	return stat_by_name(&vcpu->stat, vcpu_stats, ARRAY_SIZE(vcpu_stats), name);
}
