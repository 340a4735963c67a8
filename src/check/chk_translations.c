// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checkers of translations:
 *
 *  - break-before-make (I27): once a present value with target X leaves an
 *    SPTE location S, S may get a present value with another target only
 *    when no live translation derived from X remains: no TLB or
 *    paging-structure entry filled from S, nor one whose walk went through
 *    X.  Changes the code reports as translation-preserving are exempt.
 *  - coherence (I28): a live leaf translation and the current SPTE of its
 *    vCPU's root agree on the pfn, or the SPTE maps nothing.
 */
#include <pthread.h>

#include "check_internal.h"
#include "rcu.h"
#include "srcu.h"

static struct hw_tlb_view tlb_buf[CHK_TLB_MAX];

/* ---- break-before-make ----------------------------------------------------------------- */

struct departed {
	u64 old_spte;
	u8 level;
	u64 index;
};

/* By location: a zero level is no departure. */
static struct chk_frames departed;

static void bbm_begin(void)
{
	chk_frames_init(&departed, sizeof(struct departed));
}

static void bbm_end(void)
{
	chk_frames_free(&departed);
}

static bool entry_derived(const struct hw_tlb_view *v, const void *sptep, u64 target,
			  bool was_leaf)
{
	int t;

	/*
	 * Filled from the location itself: from the old value only if it has
	 * the old target.  (Free-running, another vCPU may already have
	 * walked the new value before its change is reported.)
	 */
	if (v->sptep == sptep)
		return spte_to_pfn(v->spte) == target;
	if (was_leaf)
		return false;
	/* The walk that made it went through the old child table. */
	for (t = 0; t < 5; t++) {
		if (v->tables[t] == target)
			return true;
	}
	return v->kind == HW_TLB_PSC && v->pfn == target;
}

/* Does the table frame @pfn hold no present entry? */
static bool table_empty(u64 pfn)
{
	_Atomic u64 *spt = kvm_table_virt(chk_kvm(), pfn);
	int i;

	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		if (is_shadow_present_pte(atomic_load_explicit(&spt[i], memory_order_relaxed)))
			return false;
	}
	return true;
}

static void check_derived(const struct kvmmu_event *ev, u64 old_spte, int level, u64 new_spte)
{
	const struct kvmmu_ev_spte *e = &ev->spte;
	u64 target = spte_to_pfn(old_spte);
	bool was_leaf = is_last_spte(old_spte, level);
	struct kvm_vcpu *vcpu;
	bool empty_child;
	int i, j;

	/*
	 * A table that holds nothing present translates nothing: a
	 * paging-structure entry that leads into it only leads to a fault
	 * (which drops it), so only TLB entries of leaves it once held count.
	 * KVM's shadow MMU relies on this when it writes a huge SPTE over a
	 * table a zap emptied and flushes after (mmu_set_spte()).
	 */
	empty_child = !was_leaf && table_empty(target);
	kvm_for_each_vcpu(i, vcpu, chk_kvm()) {
		int n = chk_vcpu_tlb(vcpu, tlb_buf, CHK_TLB_MAX);

		for (j = 0; j < n; j++) {
			const struct hw_tlb_view *v = &tlb_buf[j];

			if (!entry_derived(v, e->sptep, target, was_leaf))
				continue;
			if (empty_child && v->kind != HW_TLB_LEAF)
				continue;
			chk_violation(CHK_BREAK_BEFORE_MAKE, ev, (s64)e->gfn, (s64)spte_to_pfn(new_spte),
				      "SPTE at gfn %#llx level %d got target %#llx while vCPU %d still "
				      "translates through its old target %#llx (a %s entry for gfn "
				      "%#llx, level %d) and has no flush pending",
				      (unsigned long long)e->gfn, level,
				      (unsigned long long)spte_to_pfn(new_spte), vcpu->vcpu_id,
				      (unsigned long long)target,
				      v->kind == HW_TLB_PSC ? "paging-structure" : "TLB",
				      (unsigned long long)v->gfn, v->level);
			return;
		}
	}
}

static void bbm_spte(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_spte *e = &ev->spte;
	bool old_p = is_shadow_present_pte(e->old_spte), new_p = is_shadow_present_pte(e->new_spte);
	struct departed *d;

	if (e->kvm != chk_kvm())
		return;
	if (old_p && new_p) {
		if (spte_to_pfn(e->old_spte) != spte_to_pfn(e->new_spte) && !e->preserves)
			check_derived(ev, e->old_spte, e->level, e->new_spte);
		d = chk_frames_find(&departed, e->sptep);
		if (d)
			d->level = 0;
		return;
	}
	if (old_p) {
		/* It leaves: remember what it was (the first departure counts). */
		d = chk_frames_get(&departed, e->sptep);
		if (d && !d->level) {
			d->old_spte = e->old_spte;
			d->level = e->level;
			d->index = ev->index;
		}
		return;
	}
	if (!new_p)
		return;
	d = chk_frames_find(&departed, e->sptep);
	if (!d || !d->level)
		return;
	if (spte_to_pfn(d->old_spte) != spte_to_pfn(e->new_spte) && !e->preserves)
		check_derived(ev, d->old_spte, d->level, e->new_spte);
	d->level = 0;
}

/* A table frame went back to the host: forget departures recorded in it. */
static void bbm_table_free(const struct kvmmu_event *ev)
{
	chk_frames_drop(&departed, kvm_table_virt(chk_kvm(), ev->table.pfn));
}

static void bbm_event(const struct kvmmu_event *ev)
{
	if (ev->type == KVMMU_EV_SPTE_CHANGE)
		bbm_spte(ev);
	else if (ev->type == KVMMU_EV_TABLE_FREE && ev->table.kvm == chk_kvm())
		bbm_table_free(ev);
}

const struct checker_ops chk_bbm_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_CHANGE) | BIT_ULL(KVMMU_EV_TABLE_FREE),
	.begin = bbm_begin,
	.event = bbm_event,
	.end = bbm_end,
};

/* ---- coherence ----------------------------------------------------------------------------- */

/*
 * Coherence keeps nothing of its own: it runs without check_lock, in the
 * thread that reports the change or the fill, reading the TLBs (through
 * their snapshots) and the roots (under RCU, as any lockless walker) live.
 * The entries of a vCPU over the range fit on the stack but for a huge
 * change over many small entries, which takes the big buffer under a lock
 * of its own.
 */
#define COHERENCE_SMALL 16

static pthread_mutex_t coherence_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hw_tlb_view coherence_buf[CHK_TLB_MAX];

struct incoherent {
	gfn_t gfn;
	u64 have, want;
};

/* Does one of @vcpu's live leaves over @e's range disagree with its @root? */
static bool leaves_disagree(const struct kvmmu_ev_spte *e, struct kvm_mmu_page *root,
			    const struct hw_tlb_view *buf, int n, struct incoherent *out)
{
	u64 pages = KVM_PAGES_PER_HPAGE(e->level);
	int j, k;

	for (j = 0; j < n; j++) {
		const struct hw_tlb_view *v = &buf[j];
		u64 vpages = v->linear ? 1 : KVM_PAGES_PER_HPAGE(v->level);
		gfn_t ends[2];

		if (v->kind != HW_TLB_LEAF || v->root_pfn != root->pfn ||
		    v->gfn + vpages <= e->gfn || v->gfn >= e->gfn + pages)
			continue;
		/* Both ends of the overlap: a split gets either end wrong. */
		ends[0] = max(v->gfn, e->gfn);
		ends[1] = min(v->gfn + vpages, e->gfn + pages) - 1;
		for (k = 0; k < 2; k++) {
			gfn_t g = ends[k];
			u64 have = v->linear ? v->pfn : v->pfn + (g - v->gfn);
			u64 want = chk_current_pfn(root, g);

			if (!want || have == want)
				continue;
			*out = (struct incoherent){ .gfn = g, .have = have, .want = want };
			return true;
		}
	}
	return false;
}

static bool vcpu_disagrees(struct kvm_vcpu *vcpu, const struct kvmmu_ev_spte *e,
			   struct incoherent *out)
{
	u64 pages = KVM_PAGES_PER_HPAGE(e->level);
	struct hw_tlb_view small[COHERENCE_SMALL];
	struct kvm_mmu_page *root;
	bool bad = false;
	int n;

	/* Most changes meet no live entry: the root is looked up only if one is there. */
	n = chk_vcpu_tlb_leaves(vcpu, e->gfn, pages, small, COHERENCE_SMALL);
	if (!n)
		return false;
	rcu_read_lock();
	/* Judged against the root the vCPU runs on. */
	root = chk_vcpu_root(vcpu);
	if (!root)
		goto out;
	if (n <= COHERENCE_SMALL) {
		bad = leaves_disagree(e, root, small, n, out);
		goto out;
	}
	pthread_mutex_lock(&coherence_lock);
	/* As many as CHK_TLB_MAX hold, as for every checker that reads TLBs whole. */
	n = chk_vcpu_tlb_leaves(vcpu, e->gfn, pages, coherence_buf, CHK_TLB_MAX);
	bad = leaves_disagree(e, root, coherence_buf, min(n, CHK_TLB_MAX), out);
	pthread_mutex_unlock(&coherence_lock);
out:
	rcu_read_unlock();
	return bad;
}

/* A leaf was installed: live translations of its gfns must agree. */
static void coherence_spte(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_spte *e = &ev->spte;
	struct incoherent bad;
	struct kvm_vcpu *vcpu;
	int i;

	/*
	 * A leaf, or a table linked in (a split: its leaves were written
	 * before it became reachable, so only now do they count).
	 */
	if (e->kvm != chk_kvm() || !is_shadow_present_pte(e->new_spte))
		return;
	kvm_for_each_vcpu(i, vcpu, chk_kvm()) {
		if (!vcpu_disagrees(vcpu, e, &bad))
			continue;
		chk_violation(CHK_COHERENCE, ev, (s64)bad.gfn, (s64)bad.have,
			      "vCPU %d translates gfn %#llx to pfn %#llx, but its root "
			      "now maps it to pfn %#llx", vcpu->vcpu_id,
			      (unsigned long long)bad.gfn, (unsigned long long)bad.have,
			      (unsigned long long)bad.want);
		return;
	}
}

/* A translation was cached: it must agree with the SPTEs of the vCPU's root. */
static void coherence_fill(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_tlb *t = &ev->tlb;
	struct kvm_vcpu *vcpu = kvm_get_vcpu_by_id(chk_kvm(), t->vcpu);
	struct kvm_mmu_page *root;
	u64 want = 0;

	if (!vcpu || !is_shadow_present_pte(t->spte) || !is_last_spte(t->spte, t->level))
		return;
	rcu_read_lock();
	root = chk_vcpu_root(vcpu);
	if (root)
		want = chk_current_pfn(root, t->gfn);
	rcu_read_unlock();
	if (!want || want == t->pfn)
		return;
	chk_violation(CHK_COHERENCE, ev, (s64)t->gfn, (s64)t->pfn,
		      "vCPU %d cached gfn %#llx -> pfn %#llx (level %d), but its root maps the "
		      "gfn to pfn %#llx", t->vcpu, (unsigned long long)t->gfn,
		      (unsigned long long)t->pfn, t->level, (unsigned long long)want);
}

static void coherence_event(const struct kvmmu_event *ev)
{
	if (ev->type == KVMMU_EV_SPTE_CHANGE)
		coherence_spte(ev);
	else
		coherence_fill(ev);
}

const struct checker_ops chk_coherence_ops = {
	.events = BIT_ULL(KVMMU_EV_SPTE_CHANGE) | BIT_ULL(KVMMU_EV_TLB_FILL),
	.lockless_events = BIT_ULL(KVMMU_EV_SPTE_CHANGE) | BIT_ULL(KVMMU_EV_TLB_FILL),
	.event = coherence_event,
};
