// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty logging: the per-slot bitmap, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG
 * (manual protect), the per-vCPU dirty ring and KVM_RESET_DIRTY_RINGS.
 *
 * Marking is lockless (an atomic bit set, or a push on the running vCPU's
 * own ring).  Harvesting re-protects what it reports under mmu_lock through
 * kvm_arch_mmu_enable_log_dirty_pt_masked(), then flushes remote TLBs before
 * returning, so a write after the return is logged again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_host.h"

void mark_page_dirty_in_slot(struct kvm *kvm, const struct kvm_memory_slot *memslot,
			     gfn_t gfn)
{
	struct kvm_vcpu *vcpu = kvm_get_running_vcpu();

	if (WARN_ON_ONCE(vcpu && vcpu->kvm != kvm))
		return;
	if (!memslot || !kvm_slot_dirty_track_enabled(memslot))
		return;
	{
		unsigned long rel_gfn = gfn - memslot->base_gfn;
		u32 slot = ((u32)memslot->as_id << 16) | (u16)memslot->id;

		if (kvm->dirty_ring_size && vcpu)
			kvm_dirty_ring_push(vcpu, slot, rel_gfn);
		else if (memslot->dirty_bitmap)
			set_bit(rel_gfn, memslot->dirty_bitmap);
	}
}

/* From the vCPU's own address space (the one it runs in). */
void kvm_vcpu_mark_page_dirty(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	mark_page_dirty_in_slot(vcpu->kvm, kvm_vcpu_gfn_to_memslot(vcpu, gfn), gfn);
}

static int get_log_slot(struct kvm *kvm, u32 log_slot, struct kvm_memory_slot **out)
{
	int as_id = log_slot >> 16, id = (u16)log_slot;
	struct kvm_memory_slot *memslot;

	if (as_id >= kvm->nr_memslot_as_ids || id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	memslot = id_to_memslot(__kvm_memslots(kvm, as_id), id);
	if (!memslot || !memslot->dirty_bitmap)
		return -ENOENT;
	*out = memslot;
	return 0;
}

static int kvm_get_dirty_log_protect(struct kvm *kvm, struct kvm_dirty_log *log)
{
	struct kvm_memory_slot *memslot;
	unsigned long *dirty_bitmap, *buffer;
	unsigned long n, i;
	u64 begin = kvmmu_observe_index();
	bool flush = false;
	int r;

	if (!kvm_use_dirty_bitmap(kvm))
		return -ENXIO;
	r = get_log_slot(kvm, log->slot, &memslot);
	if (r)
		return r;
	dirty_bitmap = memslot->dirty_bitmap;
	kvm_arch_sync_dirty_log(kvm, memslot);
	n = kvm_dirty_bitmap_bytes(memslot);

	if (kvm->manual_dirty_log_protect) {
		/* Reported as is; re-protection is KVM_CLEAR_DIRTY_LOG's job. */
		if (!kvm_user_ptr_ok(log->dirty_bitmap, n))
			return -EFAULT;
		buffer = dirty_bitmap;
		for (i = 0; i < n / sizeof(long); i++)
			((unsigned long *)log->dirty_bitmap)[i] = READ_ONCE(buffer[i]);
	} else {
		buffer = kvm_second_dirty_bitmap(memslot);
		memset(buffer, 0, n);
		write_lock(&kvm->mmu_lock);
		for (i = 0; i < n / sizeof(long); i++) {
			unsigned long mask;

			if (!READ_ONCE(dirty_bitmap[i]))
				continue;
			flush = true;
			mask = __atomic_exchange_n(&dirty_bitmap[i], 0, __ATOMIC_SEQ_CST);
			buffer[i] = mask;
			kvm_arch_mmu_enable_log_dirty_pt_masked(kvm, memslot,
								i * BITS_PER_LONG, mask);
		}
		write_unlock(&kvm->mmu_lock);
		/* Writes after this flush fault, and are logged next time. */
		if (flush)
			kvm_flush_remote_tlbs_memslot(kvm, memslot);
		/*
		 * As KVM's copy_to_user() after the harvest: a bitmap that
		 * cannot be written fails with -EFAULT, and what was harvested
		 * (cleared and write-protected) is lost to userspace.  Observers
		 * see the harvest as it was.
		 */
		if (!kvm_user_ptr_ok(log->dirty_bitmap, n)) {
			kvmmu_observe(KVMMU_EV_DIRTY_LOG_GET, dirty_log, .kvm = kvm,
				      .slot = (int)log->slot, .first_page = 0,
				      .num_pages = memslot->npages, .bitmap = buffer,
				      .begin_index = begin);
			return -EFAULT;
		}
		memcpy(log->dirty_bitmap, buffer, n);
	}
	kvmmu_observe(KVMMU_EV_DIRTY_LOG_GET, dirty_log, .kvm = kvm,
		      .slot = (int)log->slot, .first_page = 0,
		      .num_pages = memslot->npages, .bitmap = log->dirty_bitmap,
		      .begin_index = begin);
	return 0;
}

int kvmmu_get_dirty_log(struct kvm *kvm, struct kvm_dirty_log *log)
{
	int r;

	if (!kvm)
		return -EBADF;
	if (!kvm_user_ptr_ok(log, sizeof(*log)))
		return -EFAULT;
	mutex_lock(&kvm->slots_lock);
	r = kvm_get_dirty_log_protect(kvm, log);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

static int kvm_clear_dirty_log_protect(struct kvm *kvm, struct kvm_clear_dirty_log *log)
{
	struct kvm_memory_slot *memslot;
	unsigned long *dirty_bitmap, *buffer;
	u64 offset, i, n;
	u64 begin = kvmmu_observe_index();
	bool flush = false;
	int r;

	if (!kvm_use_dirty_bitmap(kvm))
		return -ENXIO;
	if (log->first_page & 63)
		return -EINVAL;
	r = get_log_slot(kvm, log->slot, &memslot);
	if (r)
		return r;
	dirty_bitmap = memslot->dirty_bitmap;
	if (log->first_page > memslot->npages ||
	    log->num_pages > memslot->npages - log->first_page ||
	    (log->num_pages < memslot->npages - log->first_page && (log->num_pages & 63)))
		return -EINVAL;

	kvm_arch_sync_dirty_log(kvm, memslot);

	n = ALIGN((u64)log->num_pages, BITS_PER_LONG) / 8;
	buffer = kvm_second_dirty_bitmap(memslot);
	/* copy_from_user(): nothing is cleared if the mask cannot be read. */
	if (!kvm_user_ptr_ok(log->dirty_bitmap, n))
		return -EFAULT;
	/* No pages: nothing to read, from a pointer that may be NULL. */
	if (n)
		memcpy(buffer, log->dirty_bitmap, n);

	write_lock(&kvm->mmu_lock);
	for (offset = log->first_page, i = offset / BITS_PER_LONG,
	     n = DIV_ROUND_UP(log->num_pages, BITS_PER_LONG);
	     n--; i++, offset += BITS_PER_LONG) {
		unsigned long mask = *buffer++;

		if (!mask)
			continue;
		/* Only bits that really were set count as cleared. */
		mask &= __atomic_fetch_and(&dirty_bitmap[i], ~mask, __ATOMIC_SEQ_CST);
		/* What was cleared, for observers. */
		buffer[-1] = mask;
		if (mask) {
			flush = true;
			kvm_arch_mmu_enable_log_dirty_pt_masked(kvm, memslot, offset, mask);
		}
	}
	write_unlock(&kvm->mmu_lock);
	if (flush)
		kvm_flush_remote_tlbs_memslot(kvm, memslot);
	kvmmu_observe(KVMMU_EV_DIRTY_LOG_CLEAR, dirty_log, .kvm = kvm,
		      .slot = (int)log->slot, .first_page = log->first_page,
		      .num_pages = log->num_pages, .bitmap = kvm_second_dirty_bitmap(memslot),
		      .begin_index = begin);
	return 0;
}

int kvmmu_clear_dirty_log(struct kvm *kvm, struct kvm_clear_dirty_log *log)
{
	int r;

	if (!kvm)
		return -EBADF;
	if (!kvm_user_ptr_ok(log, sizeof(*log)))
		return -EFAULT;
	mutex_lock(&kvm->slots_lock);
	r = kvm_clear_dirty_log_protect(kvm, log);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

/* ---- the dirty ring ------------------------------------------------------------------ */

/* Room for what a PML flush may push after the soft limit is reached. */
u32 kvm_dirty_ring_get_rsvd_entries(struct kvm *kvm)
{
	return KVM_DIRTY_RING_RSVD_ENTRIES + (u32)kvm->arch.cpu_dirty_log_size;
}

int kvm_dirty_ring_alloc(struct kvm *kvm, struct kvm_dirty_ring *ring, int index,
			 u32 size)
{
	ring->dirty_gfns = calloc(1, size);
	if (!ring->dirty_gfns)
		return -ENOMEM;
	ring->size = size / sizeof(struct kvm_dirty_gfn);
	ring->soft_limit = ring->size - kvm_dirty_ring_get_rsvd_entries(kvm);
	ring->dirty_index = 0;
	ring->reset_index = 0;
	ring->index = index;
	return 0;
}

void kvm_dirty_ring_free(struct kvm_dirty_ring *ring)
{
	free(ring->dirty_gfns);
	ring->dirty_gfns = NULL;
}

static u32 kvm_dirty_ring_used(struct kvm_dirty_ring *ring)
{
	return READ_ONCE(ring->dirty_index) - READ_ONCE(ring->reset_index);
}

bool kvm_dirty_ring_soft_full(struct kvm_dirty_ring *ring)
{
	return kvm_dirty_ring_used(ring) >= ring->soft_limit;
}

/* Entry flags are shared with userspace: release/acquire on them. */
static void kvm_dirty_gfn_set_dirtied(struct kvm_dirty_gfn *gfn)
{
	__atomic_store_n(&gfn->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
}

static bool kvm_dirty_gfn_harvested(struct kvm_dirty_gfn *gfn)
{
	return __atomic_load_n(&gfn->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_RESET;
}

void kvm_dirty_ring_push(struct kvm_vcpu *vcpu, u32 slot, u64 offset)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;
	struct kvm_dirty_gfn *entry;

	/* The ring is the running vCPU's: only it pushes. */
	entry = &ring->dirty_gfns[ring->dirty_index & (ring->size - 1)];
	WRITE_ONCE(entry->slot, slot);
	WRITE_ONCE(entry->offset, offset);
	kvm_dirty_gfn_set_dirtied(entry);
	kvmmu_observe(KVMMU_EV_DIRTY_RING_PUSH, dirty_log, .kvm = vcpu->kvm, .slot = (int)slot,
		      .first_page = offset, .num_pages = 1);
	WRITE_ONCE(ring->dirty_index, ring->dirty_index + 1);
	if (kvm_dirty_ring_soft_full(ring))
		kvm_make_request(KVM_REQ_DIRTY_RING_SOFT_FULL, vcpu);
}

/* Re-protect one run of harvested offsets (at most 64 from @offset). */
static void kvm_reset_dirty_gfn(struct kvm *kvm, u32 slot, u64 offset, u64 mask)
{
	int as_id = slot >> 16, id = (u16)slot;
	struct kvm_memory_slot *memslot;

	if (as_id >= kvm->nr_memslot_as_ids || id >= KVM_USER_MEM_SLOTS)
		return;
	memslot = id_to_memslot(__kvm_memslots(kvm, as_id), id);
	/*
	 * The entries are userspace's to write: an offset near 2^64 must not
	 * wrap past the check into the slot (KVM's own check can).
	 */
	if (!memslot || offset >= memslot->npages ||
	    (u64)(fls64(mask) - 1) >= memslot->npages - offset)
		return;
	/* Mutant: the harvested pages stay writable, so their next write goes unlogged. */
	if (kvmmu_mutant(MUT_RING_RESET_NO_PROTECT))
		return;
	write_lock(&kvm->mmu_lock);
	kvm_arch_mmu_enable_log_dirty_pt_masked(kvm, memslot, offset, mask);
	write_unlock(&kvm->mmu_lock);
}

int kvm_dirty_ring_reset(struct kvm *kvm, struct kvm_dirty_ring *ring)
{
	u32 cur_slot = 0, next_slot;
	u64 cur_offset = 0, next_offset, mask = 0;
	int count = 0;

	while (kvm_dirty_ring_used(ring)) {
		struct kvm_dirty_gfn *entry =
			&ring->dirty_gfns[ring->reset_index & (ring->size - 1)];

		if (!kvm_dirty_gfn_harvested(entry))
			break;
		next_slot = READ_ONCE(entry->slot);
		next_offset = READ_ONCE(entry->offset);
		kvmmu_observe(KVMMU_EV_DIRTY_RING_HARVEST, dirty_log, .kvm = kvm,
			      .slot = (int)next_slot, .first_page = next_offset, .num_pages = 1);
		/* Recycle the entry: userspace may not reuse it before. */
		__atomic_store_n(&entry->flags, 0, __ATOMIC_RELEASE);
		WRITE_ONCE(ring->reset_index, ring->reset_index + 1);
		count++;

		/* Coalesce runs of nearby offsets into one 64-bit mask. */
		if (mask && next_slot == cur_slot) {
			s64 delta = (s64)(next_offset - cur_offset);

			if (delta >= 0 && delta < BITS_PER_LONG) {
				mask |= 1ULL << delta;
				continue;
			}
			if (delta > -BITS_PER_LONG && delta < 0 &&
			    (mask << -delta >> -delta) == mask) {
				cur_offset = next_offset;
				mask = (mask << -delta) | 1;
				continue;
			}
		}
		if (mask)
			kvm_reset_dirty_gfn(kvm, cur_slot, cur_offset, mask);
		cur_slot = next_slot;
		cur_offset = next_offset;
		mask = 1;
	}
	if (mask)
		kvm_reset_dirty_gfn(kvm, cur_slot, cur_offset, mask);
	return count;
}

int kvmmu_reset_dirty_rings(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	int i, cleared = 0;

	if (!kvm)
		return -EBADF;
	if (!kvm->dirty_ring_size)
		return -EINVAL;
	mutex_lock(&kvm->slots_lock);
	kvm_for_each_vcpu(i, vcpu, kvm)
		cleared += kvm_dirty_ring_reset(kvm, &vcpu->dirty_ring);
	mutex_unlock(&kvm->slots_lock);
	if (cleared)
		kvm_flush_remote_tlbs(kvm);
	kvmmu_observe(KVMMU_EV_DIRTY_RING_RESET, dirty_log, .kvm = kvm,
		      .num_pages = (u64)cleared);
	return cleared;
}
