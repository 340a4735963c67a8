// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shadow accounting (I39): the shadow MMU's books agree with its pages.
 *
 *  (a) Every shadow page allocated and not yet freed (KVMMU_EV_TABLE_ALLOC
 *      and _FREE) is in a hash bucket, where it stays from allocation to
 *      the commit that frees it: a valid page is also on active_mmu_pages,
 *      an invalid one is either a root some vCPU still holds (root_count)
 *      or on a zap's pending invalid list.  Nothing is leaked (allocated,
 *      in no bucket) and nothing freed is still reachable (in a bucket or
 *      on the active list).
 *  (b) The counts match what the pages imply: n_used_mmu_pages (every page
 *      not on a pending invalid list), indirect_shadow_pages (the valid
 *      pages with gPTEs), the mmu_unsync stat, each page's unsync_children
 *      (the bits of its unsync bitmap), the possible NX huge pages (list
 *      and count); and per memslot, the write-track count of each gfn (the
 *      valid pages with gPTEs above 4K there) and the disallow_lpage count
 *      of each huge-page unit (what the slot's alignment set when it was
 *      made, plus one for every valid page with gPTEs in the unit: above
 *      4K through the write track, at 4K directly).  Nothing else in kvmmu
 *      changes those two counts; the NX mitigation has a list of its own.
 *  (c) When the VM's MMU is about to be freed (KVMMU_EV_MMU_TEARDOWN, after
 *      every root was dropped and every page zapped) no page is left, the
 *      counts are at zero (rmap descriptors included), every write-track
 *      count is 0 and every disallow_lpage count back to the slot's own.
 *
 * Judged where the view is stable: at KVMMU_EV_SLOT_ZAPPED and at the
 * teardown, both posted with mmu_lock held for write, and at the end of
 * the run, when no thread runs.  There, each page's root_count must also
 * equal the vCPU root slots (current, previous, PAE) that hold it.
 *
 * Under nested EPT the TDP MMU's pages live beside the shadow MMU's
 * guest_mode pages: they are in no hash and hold none of these counts, so
 * they are left out (is_shadow_page(), hold()), and L2's roots in
 * guest_mmu are root slots as much as L1's.  The hash and the write-track
 * counts exist only from the first shadow root on (page_hash(),
 * kvm_page_track_write_tracking_enabled()); before, no shadow page exists
 * and every count is 0.
 *
 * Per page the checker keeps one byte in a map keyed by its frame; each
 * check builds its expectations per gfn in a second map, freed after.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "page_track.h"
#include "shadow_mmu.h"
#include "srcu.h"

#define PFN_KEY(pfn) ((u64)(pfn) | BIT_ULL(63))
#define GFN_KEY(as_id, gfn) (((u64)(gfn) | ((u64)(as_id) << 62)) | BIT_ULL(63))

/* The shadow pages allocated and not freed, by frame: the value is a check's mark. */
static struct chk_map alive;
static u8 mark;

/* What the valid pages with gPTEs at a gfn imply. */
struct gfn_use {
	u32 upper; /* pages above 4K: write-track count */
	u32 all;   /* every page: disallow_lpage, at each huge level */
};

struct acct_view {
	const struct kvmmu_event *ev;
	struct kvm *kvm;
	struct chk_map uses; /* GFN_KEY -> struct gfn_use */
	bool found;
};

static bool __printf(4, 5) report(struct acct_view *v, s64 gfn, s64 pfn, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	if (v->found)
		return true;
	v->found = true;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	chk_violation(CHK_SHADOW_ACCOUNTING, v->ev, gfn, pfn, "%s", buf);
	return true;
}

static bool is_shadow_page(struct kvm *kvm, u64 pfn)
{
	struct kvm_mmu_page *sp = kvm_pfn_to_sp(kvm, pfn);

	return sp && !is_tdp_mmu_page(sp);
}

/*
 * The page hash, NULL until a shadow MMU page may exist: with the TDP MMU
 * it comes with the first shadow root (nested EPT), published with
 * release under slots_arch_lock only, so even a view under mmu_lock may
 * see it appear.  Its buckets start empty.
 */
static struct hlist_head *page_hash(struct kvm *kvm)
{
	return __atomic_load_n(&kvm->arch.mmu_page_hash, __ATOMIC_ACQUIRE);
}

static void acct_begin(void)
{
	struct kvm *kvm = chk_kvm();
	struct hlist_head *hash = kvm ? page_hash(kvm) : NULL;
	struct kvm_mmu_page *sp;
	int i;

	chk_map_init(&alive, 1);
	mark = 0;
	if (!hash)
		return;
	/* Quiet: the pages the setup made are in the hash. */
	for (i = 0; i < KVM_NUM_MMU_PAGES; i++) {
		hlist_for_each_entry(sp, &hash[i], hash_link)
			chk_map_get(&alive, PFN_KEY(sp->pfn));
	}
}

/* ---- (a) and the page counts ------------------------------------------------------------- */

static int popcount_bitmap(const unsigned long *bitmap)
{
	int i, n = 0;

	for (i = 0; i < SPTE_ENT_PER_PAGE / BITS_PER_LONG; i++)
		n += __builtin_popcountl(bitmap[i]);
	return n;
}

static void check_pages(struct acct_view *v)
{
	struct kvm *kvm = v->kvm;
	unsigned long hashed = 0, pending = 0, valid = 0, indirect = 0, unsync = 0, active = 0;
	struct hlist_head *hash = page_hash(kvm);
	struct kvm_mmu_page *sp;
	size_t k;
	int i;

	/* A new mark; when the byte wraps, no page may keep an old one that equals it. */
	if (++mark == 0) {
		chk_map_for_each(&alive, k)
			alive.vals[k] = 0;
		mark = 1;
	}
	for (i = 0; hash && i < KVM_NUM_MMU_PAGES; i++) {
		hlist_for_each_entry(sp, &hash[i], hash_link) {
			u8 *seen = chk_map_find(&alive, PFN_KEY(sp->pfn));
			unsigned long *bitmap = sp->shadowed_translation ?
				(unsigned long *)(void *)(sp->shadowed_translation + SPTE_ENT_PER_PAGE) :
				NULL;
			int children = bitmap ? popcount_bitmap(bitmap) : 0;

			if (!seen || *seen == mark) {
				report(v, (s64)sp->gfn, (s64)sp->pfn,
				       "shadow page %#llx (gfn %#llx, level %d) is in a hash bucket %s",
				       (unsigned long long)sp->pfn, (unsigned long long)sp->gfn,
				       sp_level(sp), seen ? "twice" : "but was freed");
				return;
			}
			*seen = mark;
			hashed++;
			if ((u32)children != sp->unsync_children) {
				report(v, (s64)sp->gfn, (s64)sp->pfn,
				       "shadow page at gfn %#llx (level %d) counts %u unsync children, "
				       "its bitmap has %d", (unsigned long long)sp->gfn, sp_level(sp),
				       sp->unsync_children, children);
				return;
			}
			if (sp_invalid(sp)) {
				/* On a zap's invalid list, or a root some vCPU still holds. */
				if (!sp->root_count)
					pending++;
				if (sp->unsync || !list_empty(&sp->possible_nx_huge_page_link)) {
					report(v, (s64)sp->gfn, (s64)sp->pfn,
					       "invalid shadow page at gfn %#llx (level %d) is still %s",
					       (unsigned long long)sp->gfn, sp_level(sp),
					       sp->unsync ? "unsync" : "a possible NX huge page");
					return;
				}
				continue;
			}
			valid++;
			unsync += sp->unsync;
			if (sp_has_gptes(sp)) {
				struct gfn_use *u = chk_map_get(&v->uses,
								GFN_KEY(kvm_mmu_page_as_id(sp), sp->gfn));

				if (!u)
					abort();
				indirect++;
				u->all++;
				u->upper += sp_level(sp) > PG_LEVEL_4K;
			}
		}
	}
	list_for_each_entry(sp, &kvm->arch.active_mmu_pages, link) {
		u8 *seen = chk_map_find(&alive, PFN_KEY(sp->pfn));

		active++;
		if (!seen || *seen != mark || sp_invalid(sp)) {
			report(v, (s64)sp->gfn, (s64)sp->pfn,
			       "shadow page %#llx (gfn %#llx, level %d) is on the active list but %s",
			       (unsigned long long)sp->pfn, (unsigned long long)sp->gfn, sp_level(sp),
			       !seen ? "was freed" : sp_invalid(sp) ? "invalid" : "in no hash bucket");
			return;
		}
	}
	if (active != valid) {
		report(v, -1, -1, "%lu valid shadow pages are hashed, %lu on the active list",
		       valid, active);
		return;
	}
	chk_map_for_each(&alive, k) {
		if (alive.vals[k] != mark) {
			u64 pfn = alive.keys[k] & ~BIT_ULL(63);

			report(v, -1, (s64)pfn,
			       "shadow page %#llx was allocated and never freed, but is in no hash "
			       "bucket: leaked", (unsigned long long)pfn);
			return;
		}
	}
	if (kvm->arch.n_used_mmu_pages != hashed - pending) {
		report(v, -1, -1,
		       "n_used_mmu_pages is %lu, but %lu shadow pages exist outside pending invalid "
		       "lists", kvm->arch.n_used_mmu_pages, hashed - pending);
		return;
	}
	if (kvm->arch.indirect_shadow_pages != indirect) {
		report(v, -1, -1, "indirect_shadow_pages is %u, but %lu valid pages shadow guest tables",
		       kvm->arch.indirect_shadow_pages, indirect);
		return;
	}
	if (READ_ONCE(kvm->stat.mmu_unsync) != unsync)
		report(v, -1, -1, "the mmu_unsync stat is %llu, but %lu valid pages are unsync",
		       (unsigned long long)READ_ONCE(kvm->stat.mmu_unsync), unsync);
}

/* The possible NX huge pages: listed ones are valid, marked, and counted. */
static void check_nx(struct acct_view *v)
{
	struct kvm *kvm = v->kvm;
	struct kvm_mmu_page *sp;
	u64 n = 0;

	list_for_each_entry(sp, &kvm->arch.possible_nx_huge_pages, possible_nx_huge_page_link) {
		n++;
		if (sp_invalid(sp) || !READ_ONCE(sp->nx_huge_page_disallowed)) {
			report(v, (s64)sp->gfn, (s64)sp->pfn,
			       "page at gfn %#llx (level %d) is listed as a possible NX huge page but "
			       "is %s", (unsigned long long)sp->gfn, sp_level(sp),
			       sp_invalid(sp) ? "invalid" : "not marked nx_huge_page_disallowed");
			return;
		}
	}
	if (n != kvm->arch.nr_possible_nx_huge_pages)
		report(v, -1, -1, "nr_possible_nx_huge_pages is %llu, the list holds %llu",
		       (unsigned long long)kvm->arch.nr_possible_nx_huge_pages,
		       (unsigned long long)n);
}

/* ---- (b): the slots' counts -------------------------------------------------------------- */

/* What kvm_mmu_alloc_memslot_metadata() gave unit @idx of @slot at @level. */
static int lpage_baseline(const struct kvm_memory_slot *slot, int level, unsigned long idx,
			  unsigned long lpages)
{
	u64 mask = KVM_PAGES_PER_HPAGE(level) - 1;

	if ((slot->base_gfn ^ (slot->userspace_addr >> PAGE_SHIFT)) & mask)
		return 1;
	if (idx == 0 && (slot->base_gfn & mask))
		return 1;
	if (idx == lpages - 1 && ((slot->base_gfn + slot->npages) & mask))
		return 1;
	return 0;
}

static void check_slot(struct acct_view *v, int as_id, const struct kvm_memory_slot *slot)
{
	u64 *want[KVM_NR_PAGE_SIZES - 1] = { NULL };
	unsigned long lpages[KVM_NR_PAGE_SIZES - 1];
	const u16 *write_track = NULL;
	unsigned long j;
	size_t k;
	int i;

	/*
	 * With the TDP MMU the counts exist once the first shadow root was
	 * made (nested EPT): mmu_first_shadow_root_alloc() may be filling in
	 * the slots' pointers meanwhile, under slots_arch_lock only, and
	 * publishes them with the flag.  Before, no shadow page exists and
	 * every count is 0.
	 */
	if (kvm_page_track_write_tracking_enabled(v->kvm))
		write_track = slot->arch.gfn_write_track;

	for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++) {
		unsigned int shift = i * SPTE_LEVEL_BITS + SPTE_LEVEL_BITS;

		lpages[i] = ((slot->base_gfn + slot->npages - 1) >> shift) -
			    (slot->base_gfn >> shift) + 1;
		if (!slot->arch.lpage_info[i])
			goto out;
		want[i] = calloc(lpages[i], sizeof(*want[i]));
		if (!want[i])
			abort();
	}
	/* What the pages there add, and the write-track counts they imply. */
	chk_map_for_each(&v->uses, k) {
		const struct gfn_use *u = (void *)(v->uses.vals + k * v->uses.vsize);
		u64 key = v->uses.keys[k] & ~BIT_ULL(63);
		gfn_t gfn = key & (BIT_ULL(62) - 1);

		if ((int)(key >> 62) != as_id || gfn < slot->base_gfn ||
		    gfn >= slot->base_gfn + slot->npages)
			continue;
		for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++) {
			unsigned int shift = i * SPTE_LEVEL_BITS + SPTE_LEVEL_BITS;

			want[i][(gfn >> shift) - (slot->base_gfn >> shift)] += u->all;
		}
		if (u->upper && (!write_track ||
				 READ_ONCE(write_track[gfn - slot->base_gfn]) !=
					 u->upper)) {
			report(v, (s64)gfn, -1,
			       "%u valid pages above 4K shadow the guest table at gfn %#llx, but it "
			       "is write-tracked %u times in memslot %d", u->upper,
			       (unsigned long long)gfn,
			       write_track ? READ_ONCE(write_track[gfn - slot->base_gfn]) : 0,
			       slot->id);
			goto out;
		}
	}
	/* Every tracked gfn has its pages (and, by the pass above, every page its count). */
	for (j = 0; write_track && j < slot->npages; j++) {
		u16 track = READ_ONCE(write_track[j]);
		const struct gfn_use *u;

		if (!track)
			continue;
		u = chk_map_find(&v->uses, GFN_KEY(as_id, slot->base_gfn + j));
		if (track != (u ? u->upper : 0)) {
			report(v, (s64)(slot->base_gfn + j), -1,
			       "gfn %#llx of memslot %d is write-tracked %u times, but %u valid pages "
			       "above 4K shadow a guest table there",
			       (unsigned long long)(slot->base_gfn + j), slot->id, track,
			       u ? u->upper : 0);
			goto out;
		}
	}
	for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++) {
		for (j = 0; j < lpages[i]; j++) {
			int have = READ_ONCE(slot->arch.lpage_info[i][j].disallow_lpage);
			u64 expect = lpage_baseline(slot, i + PG_LEVEL_2M, j, lpages[i]) + want[i][j];

			if ((u64)have != expect) {
				unsigned int shift = i * SPTE_LEVEL_BITS + SPTE_LEVEL_BITS;
				gfn_t gfn = ((slot->base_gfn >> shift) + j) << shift;

				report(v, (s64)gfn, -1,
				       "disallow_lpage of the %s unit at gfn %#llx of memslot %d is %d, "
				       "but the slot's alignment and the pages shadowing guest tables "
				       "there make %llu", i ? "1G" : "2M", (unsigned long long)gfn,
				       slot->id, have, (unsigned long long)expect);
				goto out;
			}
		}
	}
out:
	for (i = 0; i < KVM_NR_PAGE_SIZES - 1; i++)
		free(want[i]);
}

static void check_slots(struct acct_view *v)
{
	struct kvm *kvm = v->kvm;
	struct kvm_memory_slot *slot;
	int as_id, i, idx;
	size_t k;

	idx = srcu_read_lock(&kvm->srcu);
	/* Every page with gPTEs has the slot its accounting lives in. */
	chk_map_for_each(&v->uses, k) {
		u64 key = v->uses.keys[k] & ~BIT_ULL(63);
		gfn_t gfn = key & (BIT_ULL(62) - 1);

		as_id = (int)(key >> 62);
		if (!__gfn_to_memslot(__kvm_memslots(kvm, as_id), gfn)) {
			report(v, (s64)gfn, -1,
			       "a valid page shadows the guest table at gfn %#llx (address space %d), "
			       "but no memslot holds the gfn: its accounting is gone with the slot",
			       (unsigned long long)gfn, as_id);
			goto out;
		}
	}
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM && !v->found; as_id++) {
		kvm_for_each_memslot(slot, i, __kvm_memslots(kvm, as_id)) {
			check_slot(v, as_id, slot);
			if (v->found)
				break;
		}
	}
out:
	srcu_read_unlock(&kvm->srcu, idx);
}

/* ---- the roots vCPUs hold (quiet views only) ----------------------------------------------- */

static void hold(struct acct_view *v, struct chk_map *held, hpa_t root)
{
	struct kvm_mmu_page *sp = root_to_sp(v->kvm, root);
	u32 *n;

	if (!sp || is_tdp_mmu_page(sp))
		return;
	n = chk_map_get(held, PFN_KEY(sp->pfn));
	if (!n)
		abort();
	(*n)++;
}

/* The root slots of one of a vCPU's MMUs: current (or its PAE roots) and previous. */
static void hold_mmu_roots(struct acct_view *v, struct chk_map *held, struct kvm_mmu *mmu)
{
	hpa_t root = READ_ONCE(mmu->root.hpa);
	int j;

	if (mmu->pae_root && root == mmu->pae_root_pfn << PAGE_SHIFT) {
		for (j = 0; j < 4; j++) {
			u64 e = atomic_load(&mmu->pae_root[j]) & PT64_BASE_ADDR_MASK;

			if (e)
				hold(v, held, e);
		}
	} else {
		hold(v, held, root);
	}
	for (j = 0; j < KVM_MMU_NUM_PREV_ROOTS; j++)
		hold(v, held, READ_ONCE(mmu->prev_roots[j].hpa));
}

static void check_root_counts(struct acct_view *v)
{
	struct kvm *kvm = v->kvm;
	struct hlist_head *hash = page_hash(kvm);
	struct kvm_mmu_page *sp;
	struct kvm_vcpu *vcpu;
	struct chk_map held;
	int i;

	if (!hash)
		return;
	chk_map_init(&held, sizeof(u32));
	/*
	 * L1's (or the only) MMU, and under nested EPT L2's: its guest_mode
	 * roots, current and cached, stay held across VM exits until an
	 * INVEPT or a zap drops them.  TDP MMU roots are not hashed (hold()).
	 */
	kvm_for_each_vcpu(i, vcpu, kvm) {
		hold_mmu_roots(v, &held, &vcpu->arch.root_mmu);
		hold_mmu_roots(v, &held, &vcpu->arch.guest_mmu);
	}
	for (i = 0; i < KVM_NUM_MMU_PAGES && !v->found; i++) {
		hlist_for_each_entry(sp, &hash[i], hash_link) {
			u32 *n = chk_map_find(&held, PFN_KEY(sp->pfn));

			if (sp->root_count != (int)(n ? *n : 0)) {
				report(v, (s64)sp->gfn, (s64)sp->pfn,
				       "shadow page at gfn %#llx (level %d) has root_count %d, but %u "
				       "vCPU root slots hold it", (unsigned long long)sp->gfn,
				       sp_level(sp), sp->root_count, n ? *n : 0);
				break;
			}
		}
	}
	chk_map_free(&held);
}

/* ---- when --------------------------------------------------------------------------------- */

/*
 * @vcpus: no vCPU runs and each still has its MMU, so that the roots they
 * hold can be counted (the end of the run; at the MMU's teardown the
 * vCPUs are gone, having dropped every root).
 */
static void check_all(const struct kvmmu_event *ev, bool vcpus)
{
	struct acct_view v = { .ev = ev, .kvm = chk_kvm() };

	if (!v.kvm)
		return;
	chk_map_init(&v.uses, sizeof(struct gfn_use));
	check_pages(&v);
	if (!v.found)
		check_nx(&v);
	if (!v.found)
		check_slots(&v);
	if (!v.found && vcpus)
		check_root_counts(&v);
	if (!v.found && ev && ev->type == KVMMU_EV_MMU_TEARDOWN) {
		/* (c): the counts were checked against the pages; now there are none. */
		u64 descs = (u64)atomic64_read(&v.kvm->arch.nr_pte_list_descs);

		if (alive.n || !list_empty(&v.kvm->arch.active_mmu_pages))
			report(&v, -1, -1, "%zu shadow pages are left when the MMU is torn down",
			       alive.n);
		else if (descs)
			report(&v, -1, -1, "%llu rmap descriptors are left when the MMU is torn down",
			       (unsigned long long)descs);
	}
	chk_map_free(&v.uses);
}

static void acct_event(const struct kvmmu_event *ev)
{
	struct kvm *kvm = chk_kvm();

	switch (ev->type) {
	case KVMMU_EV_TABLE_ALLOC:
		if (ev->table.kvm == kvm && is_shadow_page(kvm, ev->table.pfn) &&
		    !chk_map_get(&alive, PFN_KEY(ev->table.pfn)))
			abort();
		break;
	case KVMMU_EV_TABLE_FREE:
		if (ev->table.kvm == kvm)
			chk_map_del(&alive, PFN_KEY(ev->table.pfn));
		break;
	case KVMMU_EV_SLOT_ZAPPED:
		/* mmu_lock is held for write: the books stand still. */
		if (ev->slot.kvm == kvm)
			check_all(ev, false);
		break;
	case KVMMU_EV_MMU_TEARDOWN:
		if (ev->slot.kvm == kvm)
			check_all(ev, false);
		chk_map_free(&alive);
		break;
	default:
		break;
	}
}

/* The end of the run: no thread runs, every zap committed. */
static void acct_end(void)
{
	check_all(NULL, true);
}

const struct checker_ops chk_shadow_accounting_ops = {
	.events = BIT_ULL(KVMMU_EV_TABLE_ALLOC) | BIT_ULL(KVMMU_EV_TABLE_FREE) |
		  BIT_ULL(KVMMU_EV_SLOT_ZAPPED),
	.teardown_events = BIT_ULL(KVMMU_EV_TABLE_ALLOC) | BIT_ULL(KVMMU_EV_TABLE_FREE) |
			   BIT_ULL(KVMMU_EV_MMU_TEARDOWN),
	.begin = acct_begin,
	.event = acct_event,
	.end = acct_end,
};
