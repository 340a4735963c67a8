// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checkers of guest memory:
 *
 *  - data integrity (I31): an abstract memory keyed by host virtual
 *    address, so memslot moves and aliases are handled.  Every 8-byte guest
 *    store is recorded (the last few values of each word, with who stored
 *    them); every guest load of a recorded word must return a value stored
 *    no earlier than the loading vCPU's own last store to it (other vCPUs'
 *    stores in flight are allowed).  The word before the first recorded
 *    store is kept too when the store says what it replaced, and a load
 *    may return it only if it can have overlapped that store: if it began
 *    reading (its .since) no later than the store's event.  A load reads
 *    memory before its event is numbered, so a load that read the old word
 *    can be numbered after the store that replaced it.  A DONTNEED-style
 *    refault of an anonymous page resets its words to zero.  In tag mode a
 *    page is one word, kept in 16 bytes until it is stored a second time
 *    (or its first store replaced anything but 0).
 *  - dirty-log completeness (I32): a guest write to a logged page that
 *    completed after the harvest that last protected the page (a GET
 *    without manual protect, or a CLEAR that cleared its bit) and before a
 *    GET began must be in that GET's bitmap.
 */
#include <pthread.h>
#include <stdlib.h>

#include "check_internal.h"
#include "srcu.h"

#define RING 4

/* Who stored a value of the ring: a vCPU, the VMM (-1), or nobody (the word before). */
#define WORD_BEFORE (-2)

struct word {
	u64 vals[RING];
	u64 index[RING]; /* event index of each store (the word before: of the first store) */
	s8 vcpu[RING];
	u8 n, next;
};

static struct chk_map words; /* hva word (or page) -> struct word */

/*
 * Data mode keeps a page's first recorded word in a record of the page,
 * in chunks of 512 pages made when their first word is stored, and only
 * further words of the page in @words: the common guest writes a word or
 * a few per page, and a pass over memory then walks the records in order
 * instead of hashing into a map of every word.
 */
#define DATA_CHUNK_PAGES 512

struct data_page {
	u32 first;  /* offset of the word kept here, plus 1 (0: none) */
	u32 nwords; /* words recorded in the page, here and in @words */
	struct word w;
};

static struct chk_map data_chunks; /* hva >> 21, + 1 -> struct data_page[DATA_CHUNK_PAGES] */
static u64 last_chunk_key;
static struct data_page *last_chunk;

/*
 * Tag mode, where a page is one word and guests reach hundreds of GiB:
 * a word stored once is kept in 16 bytes, in chunks of 512 pages made
 * when their first page is stored (untouched memory costs nothing).  Its
 * second store moves it to the ring of struct word in @words (TAG_SPILLED),
 * where everything else happens as in data mode.
 */
#define TAG_CHUNK_PAGES 512
#define TAG_SPILLED (~0ULL)

/*
 * meta: 0, nothing recorded; TAG_SPILLED; or the store's event index << 10,
 * TAG_WAS_ZERO if the store replaced 0 (a load that overlapped it may
 * return 0), and vcpu + 2 (the VMM's -1 and the vCPUs' 0..255, in 9 bits).
 */
#define TAG_WAS_ZERO BIT_ULL(9)
#define TAG_VCPU_MASK (TAG_WAS_ZERO - 1)

struct tag_word {
	u64 val;
	u64 meta;
};

static struct chk_map tag_chunks; /* hva >> 21, + 1 -> struct tag_word[TAG_CHUNK_PAGES] */

static bool tag_mode(void)
{
	return chk_world.mm->phys->tag_mode;
}

static u64 tag_meta(u64 index, int vcpu, bool was_zero)
{
	return (index << 10) | (was_zero ? TAG_WAS_ZERO : 0) | ((u64)(vcpu + 2) & TAG_VCPU_MASK);
}

static int tag_meta_vcpu(u64 meta)
{
	return (int)(meta & TAG_VCPU_MASK) - 2;
}

static u64 tag_meta_index(u64 meta)
{
	return meta >> 10;
}

/* A load of @a may return the word before the store of @index: it began reading before. */
static bool overlapped(const struct kvmmu_ev_access *a, u64 index)
{
	return a->since <= index;
}

/* Record @val, stored by @vcpu (or WORD_BEFORE) at event @index, in @w's ring. */
static void word_push(struct word *w, u64 val, u64 index, int vcpu)
{
	w->vals[w->next] = val;
	w->index[w->next] = index;
	w->vcpu[w->next] = (s8)vcpu;
	w->next = (w->next + 1) % RING;
	if (w->n < RING)
		w->n++;
}

/* The compact word of @hva's page, made if @create; NULL if none (or out of memory). */
static struct tag_word *tag_word(unsigned long hva, bool create)
{
	u64 page = hva >> PAGE_SHIFT;
	struct tag_word **chunk;

	chunk = create ? chk_map_get(&tag_chunks, page / TAG_CHUNK_PAGES + 1)
		       : chk_map_find(&tag_chunks, page / TAG_CHUNK_PAGES + 1);
	if (!chunk)
		return NULL;
	if (!*chunk) {
		*chunk = calloc(TAG_CHUNK_PAGES, sizeof(struct tag_word));
		if (!*chunk)
			return NULL;
	}
	return &(*chunk)[page % TAG_CHUNK_PAGES];
}

/* The record of @hva's page, made if @create; NULL if none (or out of memory). */
static struct data_page *data_page(unsigned long hva, bool create)
{
	u64 page = hva >> PAGE_SHIFT, key = page / DATA_CHUNK_PAGES + 1;
	struct data_page **chunk;

	if (key == last_chunk_key)
		return &last_chunk[page % DATA_CHUNK_PAGES];
	chunk = create ? chk_map_get(&data_chunks, key) : chk_map_find(&data_chunks, key);
	if (!chunk)
		return NULL;
	if (!*chunk) {
		*chunk = calloc(DATA_CHUNK_PAGES, sizeof(struct data_page));
		if (!*chunk)
			return NULL;
	}
	last_chunk_key = key;
	last_chunk = *chunk;
	return &(*chunk)[page % DATA_CHUNK_PAGES];
}

/* The recorded word at @hva (data mode), or NULL. */
static struct word *data_word(unsigned long hva)
{
	struct data_page *dp = data_page(hva, false);
	u32 off = (u32)(hva & (PAGE_SIZE - 1) & ~7UL);

	if (!dp || !dp->nwords)
		return NULL;
	if (dp->first == off + 1)
		return &dp->w;
	if (dp->nwords == (dp->first ? 1 : 0))
		return NULL;
	return chk_map_find(&words, hva & ~7UL);
}

/* The same, made (empty) if absent; NULL only if out of memory. */
static struct word *data_word_get(unsigned long hva)
{
	struct data_page *dp = data_page(hva, true);
	u32 off = (u32)(hva & (PAGE_SIZE - 1) & ~7UL);
	struct word *w;

	if (!dp)
		return NULL;
	if (dp->first == off + 1)
		return &dp->w;
	if (!dp->first) {
		dp->first = off + 1;
		dp->nwords++;
		memset(&dp->w, 0, sizeof(dp->w));
		return &dp->w;
	}
	w = chk_map_find(&words, hva & ~7UL);
	if (w)
		return w;
	w = chk_map_get(&words, hva & ~7UL);
	if (w)
		dp->nwords++;
	return w;
}

/* Move a compact word's value into the ring of @key; NULL if out of memory. */
static struct word *tag_spill(struct tag_word *tw, u64 key)
{
	struct word *w = chk_map_get(&words, key);
	u64 index = tag_meta_index(tw->meta);

	if (!w)
		return NULL;
	w->n = 0;
	w->next = 0;
	if (tw->meta & TAG_WAS_ZERO)
		word_push(w, 0, index, WORD_BEFORE);
	word_push(w, tw->val, index, tag_meta_vcpu(tw->meta));
	tw->meta = TAG_SPILLED;
	return w;
}

static u64 word_key(unsigned long hva)
{
	return tag_mode() ? (hva & PAGE_MASK) | 1 : hva & ~7UL;
}

static void data_begin(void)
{
	chk_map_init(&words, sizeof(struct word));
	chk_map_init(&data_chunks, sizeof(struct data_page *));
	chk_map_init(&tag_chunks, sizeof(struct tag_word *));
	last_chunk_key = 0;
	last_chunk = NULL;
}

static void data_end(void)
{
	size_t i;

	chk_map_for_each(&tag_chunks, i)
		free(*(struct tag_word **)(tag_chunks.vals + i * tag_chunks.vsize));
	chk_map_free(&tag_chunks);
	chk_map_for_each(&data_chunks, i)
		free(*(struct data_page **)(data_chunks.vals + i * data_chunks.vsize));
	chk_map_free(&data_chunks);
	last_chunk_key = 0;
	last_chunk = NULL;
	chk_map_free(&words);
}

/* Data mode: the word at @hva is no longer known. */
static void forget(unsigned long hva)
{
	struct data_page *dp = data_page(hva, false);
	u32 off = (u32)(hva & (PAGE_SIZE - 1) & ~7UL);

	if (!dp || !dp->nwords)
		return;
	if (dp->first == off + 1) {
		dp->first = 0;
		dp->nwords--;
		return;
	}
	if (!chk_map_find(&words, hva & ~7UL))
		return;
	chk_map_del(&words, hva & ~7UL);
	dp->nwords--;
}

/* The host address of an access: the guest's through the memslots, the VMM's as it is. */
static unsigned long access_hva(const struct kvmmu_event *ev)
{
	if (ev->type == KVMMU_EV_VMM_LOAD || ev->type == KVMMU_EV_VMM_STORE)
		return ev->access.hva;
	return chk_gpa_to_hva(chk_access_gpa(ev), NULL);
}

static void data_store(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_access *a = &ev->access;
	unsigned long hva = access_hva(ev);
	u64 key = word_key(hva);
	struct word *w;

	if (!hva)
		return;
	if (tag_mode()) {
		struct tag_word *tw = tag_word(hva, true);

		if (!tw)
			return;
		if (!tw->meta && (!a->prev_known || !a->prev)) {
			/* The first store: it stays compact, and says whether it replaced 0. */
			tw->val = a->value;
			tw->meta = tag_meta(ev->index, a->vcpu, a->prev_known);
			return;
		}
		if (!tw->meta)
			w = chk_map_get(&words, key);
		else if (tw->meta != TAG_SPILLED)
			w = tag_spill(tw, key);
		else
			w = chk_map_find(&words, key);
		if (!w)
			return;
		tw->meta = TAG_SPILLED;
		goto record;
	}
	if (a->size != 8) {
		/* Part of a word: the word is no longer known. */
		forget(hva);
		return;
	}
	w = data_word_get(hva);
	if (!w)
		return;
record:
	/*
	 * The first store of a word that says what it replaced (a
	 * read-modify-write's, or an exchange's): the word before it is known
	 * too, and a load that overlapped the store may return that.
	 */
	if (a->prev_known && !w->n)
		word_push(w, a->prev, ev->index, WORD_BEFORE);
	word_push(w, a->value, ev->index, a->vcpu);
}

static void data_load(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_access *a = &ev->access;
	unsigned long hva = access_hva(ev);
	struct word *w;
	u64 own = 0, latest;
	int i;

	if (!hva || (a->size != 8 && !tag_mode()))
		return;
	if (tag_mode()) {
		const struct tag_word *tw = tag_word(hva, false);

		if (!tw || !tw->meta)
			return;
		if (tw->meta != TAG_SPILLED) {
			/* One value, stored once: nothing else may be loaded ... */
			if (tw->val == a->value)
				return;
			/* ... but the 0 it replaced, by a load that overlapped the store. */
			if ((tw->meta & TAG_WAS_ZERO) && !a->value &&
			    overlapped(a, tag_meta_index(tw->meta)))
				return;
			latest = tw->val;
			goto report;
		}
	}
	w = tag_mode() ? chk_map_find(&words, word_key(hva)) : data_word(hva);
	if (!w || !w->n)
		return;
	/* The loader's own last store bounds how old a value may be. */
	for (i = 0; i < w->n; i++) {
		if (w->vcpu[i] == (s8)a->vcpu && w->index[i] > own)
			own = w->index[i];
	}
	for (i = 0; i < w->n; i++) {
		if (w->vals[i] != a->value || w->index[i] < own)
			continue;
		/* The word before the first store: only if the load overlapped that store. */
		if (w->vcpu[i] == WORD_BEFORE && !overlapped(a, w->index[i]))
			continue;
		return;
	}
	latest = w->vals[(w->next + RING - 1) % RING];
report:
	if (ev->type == KVMMU_EV_VMM_LOAD) {
		chk_violation(CHK_DATA_INTEGRITY, ev, -1, (s64)a->pfn,
			      "the VMM read %#llx at hva %#lx (pfn %#llx), but the last value "
			      "stored there is %#llx", (unsigned long long)a->value, hva,
			      (unsigned long long)a->pfn, (unsigned long long)latest);
		return;
	}
	chk_violation(CHK_DATA_INTEGRITY, ev, (s64)gpa_to_gfn(a->gpa), (s64)a->pfn,
		      "vCPU %d loaded %#llx from gpa %#llx (hva %#lx, pfn %#llx), but the last "
		      "value stored there is %#llx", a->vcpu, (unsigned long long)a->value,
		      (unsigned long long)a->gpa, hva, (unsigned long long)a->pfn,
		      (unsigned long long)latest);
}

/* @w (if any) holds 0, written by the host at event @index. */
static void zero_word(struct word *w, u64 index)
{
	if (!w)
		return;
	w->vals[0] = 0;
	w->index[0] = index;
	w->vcpu[0] = -1;
	w->n = 1;
	w->next = 1 % RING;
}

/* Anonymous memory refilled with zeroes (a DONTNEED refault): the words are 0. */
static void data_zero(const struct kvmmu_event *ev)
{
	struct host_phys *phys = chk_world.mm->phys;
	struct page *head = pfn_to_page(phys, ev->frame.pfn);
	u64 npages = 1ULL << ev->frame.order, p;
	unsigned long hva;

	if (ev->frame.kind != KVMMU_FILL_ZERO || !(page_flags(head) & PG_anon) ||
	    (page_flags(head) & PG_hugetlb))
		return;
	hva = (unsigned long)(page_private(head) << PAGE_SHIFT);
	for (p = 0; p < npages; p++, hva += PAGE_SIZE) {
		struct data_page *dp = NULL;
		unsigned long off;

		if (tag_mode()) {
			struct tag_word *tw = tag_word(hva, false);

			if (!tw || !tw->meta)
				continue;
			if (tw->meta != TAG_SPILLED) {
				tw->val = 0;
				tw->meta = tag_meta(ev->index, -1, false);
				continue;
			}
			zero_word(chk_map_find(&words, word_key(hva)), ev->index);
			continue;
		}
		dp = data_page(hva, false);
		if (!dp || !dp->nwords)
			continue;
		if (dp->first)
			zero_word(&dp->w, ev->index);
		/* Words beyond the one kept in the record are in the map. */
		if (dp->nwords == (dp->first ? 1 : 0))
			continue;
		for (off = 0; off < PAGE_SIZE; off += 8) {
			if (dp->first != off + 1)
				zero_word(chk_map_find(&words, hva + off), ev->index);
		}
	}
}

static void data_event(const struct kvmmu_event *ev)
{
	switch (ev->type) {
	case KVMMU_EV_GUEST_STORE:
	case KVMMU_EV_VMM_STORE:
		data_store(ev);
		break;
	case KVMMU_EV_GUEST_LOAD:
	case KVMMU_EV_VMM_LOAD:
		data_load(ev);
		break;
	default:
		data_zero(ev);
		break;
	}
}

/* Data integrity's maps are its own: its events queue only behind each other. */
static struct {
	pthread_mutex_t lock;
} ____cacheline_aligned data_lock = { PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };

const struct checker_ops chk_data_ops = {
	.events = BIT_ULL(KVMMU_EV_GUEST_STORE) | BIT_ULL(KVMMU_EV_GUEST_LOAD) |
		  BIT_ULL(KVMMU_EV_VMM_STORE) | BIT_ULL(KVMMU_EV_VMM_LOAD) |
		  BIT_ULL(KVMMU_EV_FRAME_ZERO),
	.own_lock = &data_lock.lock,
	.begin = data_begin,
	.event = data_event,
	.end = data_end,
};

/* ---- dirty-log completeness ------------------------------------------------------------------ */

/*
 * A protection point is where a harvest (GET, CLEAR, logging turned on, a
 * dirty-ring reset, or the start of checking) left a page write-protected:
 * a write from event index @from on must show in a later harvest.  Event
 * indices start at 0, so "none" is a flag of its own, never an index.
 *
 * With a dirty ring, a write is harvested when the vCPU pushes its page: a
 * write must push one if it comes after its page was protected (logging
 * turned on for the slot, or a KVM_RESET_DIRTY_RINGS that collected the
 * page returned) and nothing was pushed for the page since.  KVM pushes in
 * the fault that makes the page writable, before the write completes, so
 * the write itself is judged.
 *
 * With PML a write is logged by the CPU when it sets D (KVMMU_EV_PML_LOG)
 * and reaches the log when KVM drains the vCPU's buffer at its next exit
 * (KVMMU_EV_PML_FLUSH).  A read of the log only kicks vCPUs, without
 * waiting, so a write whose entry was still in a buffer when the read
 * began may show in a later read instead: it is carried, and must show in
 * the first read that begins after its entry was drained.  In a ring, a
 * write with an entry logged since the protection is pushed at the drain,
 * and the drain must push every entry of a page still logged.
 */
struct logged_page {
	u64 last_write;     /* event index of the last write (bitmap) */
	u64 last_push;      /* event index of the last push (ring) */
	u64 protected_from; /* writes from this event index on must show */
	u64 pml_logged;     /* event index of the last PML entry of the page */
	u64 pml_drained;    /* event index of the drain that took the last one */
	u64 carried_write;  /* a write a read excused (carried) */
	u32 pml_pending;    /* entries logged, not yet drained */
	bool written;
	bool pushed;
	bool protected;
	bool pml_seen;      /* pml_logged is valid */
	bool carried;
};

/* A vCPU's PML buffer as the checker sees it: the pages logged, in order. */
struct pml_entry {
	u64 key;   /* page_key() */
	u64 index; /* the PML_LOG event */
};

static struct pml_entry *pml_bufs[KVM_MAX_VCPUS];
static u32 pml_nr[KVM_MAX_VCPUS];

static struct chk_map logged;    /* (slot << 40 | page) + 1 -> struct logged_page */
static struct chk_map slot_base; /* slot + 1 -> protected_from of every page */
static struct chk_map harvested; /* ring: page keys a reset in progress collected */

/* A slot's protection point for all its pages, or NULL. */
static const u64 *slot_protection(u32 slot)
{
	return chk_map_find(&slot_base, (u64)slot + 1);
}

/* When page @p of a slot (@base: its slot_protection()) was protected last, if ever. */
static bool protection(const struct logged_page *p, const u64 *base, u64 *from)
{
	*from = max(p && p->protected ? p->protected_from : 0, base ? *base : 0);
	return (p && p->protected) || base;
}

static bool ring_mode(void)
{
	return chk_kvm()->dirty_ring_size;
}

static u64 page_key(u32 slot, u64 page)
{
	return (((u64)slot << 40) | page) + 1;
}

static void protect_on_enable(u32 slot_code, u64 from);

static void dirty_begin(void)
{
	struct kvm *kvm = chk_kvm();
	u64 now = kvmmu_observe_index();
	int as, i, idx;

	chk_map_init(&logged, sizeof(struct logged_page));
	chk_map_init(&slot_base, sizeof(u64));
	chk_map_init(&harvested, sizeof(u8));
	/*
	 * A ring's pages written before now were pushed or are still
	 * writable: only protections from now on count.
	 */
	if (ring_mode())
		return;
	/*
	 * Slots already logging: whatever was written before now is either
	 * still in the bitmap or was harvested; a write from now on must show.
	 */
	idx = srcu_read_lock(&kvm->srcu);
	for (as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
		struct kvm_memslots *slots = __kvm_memslots(kvm, as);

		for (i = 0; i < slots->nr; i++)
			protect_on_enable(((u32)as << 16) | (u16)slots->by_id[i]->id, now);
	}
	srcu_read_unlock(&kvm->srcu, idx);
}

static void dirty_end(void)
{
	int v;

	for (v = 0; v < KVM_MAX_VCPUS; v++) {
		free(pml_bufs[v]);
		pml_bufs[v] = NULL;
		pml_nr[v] = 0;
	}
	chk_map_free(&logged);
	chk_map_free(&slot_base);
	chk_map_free(&harvested);
}

static u32 slot_code(const struct kvm_memory_slot *slot)
{
	return ((u32)slot->as_id << 16) | (u16)slot->id;
}

static void ring_store(const struct kvmmu_event *ev, u32 slot, u64 page)
{
	const struct logged_page *p = chk_map_find(&logged, page_key(slot, page));
	u64 from;

	if (!protection(p, slot_protection(slot), &from))
		return;
	if (ev->index < from || (p && p->pushed && p->last_push >= from))
		return;
	/* Logged by PML since: the drain pushes it. */
	if (p && p->pml_seen && p->pml_logged >= from)
		return;
	chk_violation(CHK_DIRTY_LOG, ev, -1, -1,
		      "slot %d page %#llx was written (event %llu) after it was protected (writes "
		      "from event %llu on must show), but no dirty-ring entry was pushed for it",
		      (int)slot, (unsigned long long)page, (unsigned long long)ev->index,
		      (unsigned long long)from);
}

static void ring_push(const struct kvmmu_event *ev)
{
	struct logged_page *p = chk_map_get(&logged, page_key((u32)ev->dirty_log.slot,
							       ev->dirty_log.first_page));

	if (p) {
		p->last_push = ev->index;
		p->pushed = true;
	}
}

/* KVM_RESET_DIRTY_RINGS returned: what it collected is protected from now on. */
static void ring_reset(const struct kvmmu_event *ev)
{
	size_t i;

	chk_map_for_each(&harvested, i) {
		struct logged_page *p = chk_map_get(&logged, harvested.keys[i]);

		if (p) {
			p->protected = true;
			p->protected_from = ev->index + 1;
		}
	}
	chk_map_clear(&harvested);
}

static void dirty_store(const struct kvmmu_event *ev)
{
	const struct kvm_memory_slot *slot = NULL;
	gpa_t gpa = chk_access_gpa(ev);
	struct logged_page *p;

	if (!chk_gpa_to_hva(gpa, &slot) || !kvm_slot_dirty_track_enabled(slot))
		return;
	if (ring_mode()) {
		ring_store(ev, slot_code(slot), gpa_to_gfn(gpa) - slot->base_gfn);
		return;
	}
	p = chk_map_get(&logged, page_key(slot_code(slot), gpa_to_gfn(gpa) - slot->base_gfn));
	if (p) {
		p->last_write = ev->index;
		p->written = true;
	}
}

/*
 * Was a PML entry of @p, logged since @from, still on its way to the log
 * when the read @d began (in a buffer, or drained only after)?
 */
static bool pml_in_flight(const struct logged_page *p, u64 from,
			  const struct kvmmu_ev_dirty_log *d)
{
	return p->pml_seen && p->pml_logged >= from &&
	       (p->pml_pending || p->pml_drained >= d->begin_index);
}

/*
 * A write an earlier read excused must show once its entry was drained
 * before a read began.  Returns false after a violation.
 */
static bool carry_check(const struct kvmmu_event *ev, struct logged_page *p, u64 page,
			bool reported)
{
	const struct kvmmu_ev_dirty_log *d = &ev->dirty_log;

	if (reported) {
		p->carried = false;
		return true;
	}
	if (p->pml_pending || p->pml_drained >= d->begin_index)
		return true;
	chk_violation(CHK_DIRTY_LOG, ev, -1, -1,
		      "slot %d page %#llx was written (event %llu) and logged by PML (event %llu); "
		      "its entry was drained (event %llu) before this KVM_GET_DIRTY_LOG began, "
		      "which does not report it", d->slot, (unsigned long long)page,
		      (unsigned long long)p->carried_write, (unsigned long long)p->pml_logged,
		      (unsigned long long)p->pml_drained);
	return false;
}

static void dirty_get(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_dirty_log *d = &ev->dirty_log;
	bool manual = chk_kvm()->manual_dirty_log_protect;
	const u64 *base = slot_protection((u32)d->slot);
	size_t i;

	chk_map_for_each(&logged, i) {
		u64 key = logged.keys[i] - 1, page = key & ((1ULL << 40) - 1);
		struct logged_page *p = (struct logged_page *)(void *)(logged.vals + i * logged.vsize);
		bool reported;
		u64 from;

		if ((u32)(key >> 40) != (u32)d->slot || page >= d->num_pages)
			continue;
		reported = test_bit(page, d->bitmap);
		if (p->carried && !carry_check(ev, p, page, reported))
			return;
		/* Written since its last protection, and before this harvest began. */
		if (protection(p, base, &from) && p->written && p->last_write >= from &&
		    p->last_write < d->begin_index && !reported && pml_in_flight(p, from, d)) {
			p->carried = true;
			p->carried_write = p->last_write;
		} else if (protection(p, base, &from) && p->written && p->last_write >= from &&
			   p->last_write < d->begin_index && !reported) {
			chk_violation(CHK_DIRTY_LOG, ev, -1, -1,
				      "slot %d page %#llx was written (event %llu) after the harvest "
				      "that protected it (writes from event %llu on must show), but "
				      "KVM_GET_DIRTY_LOG does not report it", d->slot,
				      (unsigned long long)page, (unsigned long long)p->last_write,
				      (unsigned long long)from);
			return;
		}
		/* Without manual protect, GET protects what it reported. */
		if (!manual && reported) {
			p->protected = true;
			p->protected_from = ev->index + 1;
		}
	}
	if (!manual) {
		/* Every page of the slot is protected after such a GET. */
		u64 *b = chk_map_get(&slot_base, (u64)(u32)d->slot + 1);

		if (b)
			*b = ev->index + 1;
	}
}

static void dirty_clear(const struct kvmmu_event *ev)
{
	const struct kvmmu_ev_dirty_log *d = &ev->dirty_log;
	u64 i;

	for (i = 0; i < d->num_pages; i++) {
		struct logged_page *p;

		if (!test_bit(i, d->bitmap))
			continue;
		p = chk_map_get(&logged, page_key((u32)d->slot, d->first_page + i));
		if (p) {
			p->protected = true;
			p->protected_from = ev->index + 1;
			/* Userspace took the bit: whatever was carried is harvested. */
			p->carried = false;
		}
	}
}

/*
 * Logging was (re-)enabled without INITIALLY_SET: KVM write-protected the
 * whole slot before the update returned, a protection point for every page.
 */
static void protect_on_enable(u32 slot_code, u64 from)
{
	struct kvm *kvm = chk_kvm();
	const struct kvm_memory_slot *slot;
	u64 *base;
	int idx;

	/* A ring write-protects on enable whatever the manual-protect flags say. */
	if ((kvm_dirty_log_manual_protect_and_init_set(kvm) && !ring_mode()) ||
	    (slot_code >> 16) >= KVM_ADDRESS_SPACE_NUM)
		return;
	idx = srcu_read_lock(&kvm->srcu);
	slot = id_to_memslot(__kvm_memslots(kvm, slot_code >> 16), (u16)slot_code);
	if (slot && kvm_slot_dirty_track_enabled(slot)) {
		base = chk_map_get(&slot_base, (u64)slot_code + 1);
		if (base)
			*base = from;
	}
	srcu_read_unlock(&kvm->srcu, idx);
}

/* The generation of the address space a memslot update began in (slots_lock serialises them). */
static u64 update_generation;

static u64 slot_as_generation(u32 slot)
{
	return READ_ONCE(__kvm_memslots(chk_kvm(), slot >> 16)->generation);
}

/*
 * A memslot changed: its log starts over.  An update KVM refused, or one
 * that changed nothing, left the generation as it was, and the log too.
 */
static void dirty_slot_update(const struct kvmmu_event *ev)
{
	u32 slot = (u32)ev->span.arg;
	u64 *doomed, n = 0;
	size_t i;

	if (ev->span.kind != KVMMU_SPAN_MEMSLOT_UPDATE || (slot >> 16) >= KVM_ADDRESS_SPACE_NUM)
		return;
	if (ev->type == KVMMU_EV_SPAN_BEGIN) {
		update_generation = slot_as_generation(slot);
		return;
	}
	if (slot_as_generation(slot) == update_generation)
		return;
	chk_map_del(&slot_base, (u64)slot + 1);
	protect_on_enable(slot, ev->index + 1);
	if (!logged.n)
		return;
	doomed = calloc(logged.n, sizeof(*doomed));
	if (!doomed)
		return;
	chk_map_for_each(&logged, i) {
		if ((u32)((logged.keys[i] - 1) >> 40) == slot)
			doomed[n++] = logged.keys[i];
	}
	while (n)
		chk_map_del(&logged, doomed[--n]);
	free(doomed);
}

/* The CPU logged a gpa in a vCPU's PML buffer. */
static void pml_log(const struct kvmmu_event *ev)
{
	const struct kvm_memory_slot *slot = NULL;
	int v = ev->pml.vcpu;
	struct logged_page *p;
	u64 key;

	if (v < 0 || v >= KVM_MAX_VCPUS)
		return;
	if (!chk_gpa_to_hva(ev->pml.gpa, &slot) || !kvm_slot_dirty_track_enabled(slot))
		return;
	key = page_key(slot_code(slot), gpa_to_gfn(ev->pml.gpa) - slot->base_gfn);
	p = chk_map_get(&logged, key);
	if (!p)
		return;
	if (!pml_bufs[v]) {
		pml_bufs[v] = calloc(KVMMU_PML_ENTRIES, sizeof(*pml_bufs[v]));
		if (!pml_bufs[v])
			return;
	}
	/* The CPU exits before it logs to a full buffer. */
	if (pml_nr[v] >= KVMMU_PML_ENTRIES)
		return;
	pml_bufs[v][pml_nr[v]++] = (struct pml_entry){ .key = key, .index = ev->index };
	p->pml_logged = ev->index;
	p->pml_seen = true;
	p->pml_pending++;
}

/* KVM drained a vCPU's PML buffer: each entry is in the log (pushed, with a ring). */
static void pml_flush(const struct kvmmu_event *ev)
{
	int v = ev->pml.vcpu;
	u32 i;

	if (v < 0 || v >= KVM_MAX_VCPUS)
		return;
	for (i = 0; i < pml_nr[v]; i++) {
		const struct pml_entry *e = &pml_bufs[v][i];
		struct logged_page *p = chk_map_find(&logged, e->key);

		/* The slot changed since: its log started over. */
		if (!p || !p->pml_pending)
			continue;
		p->pml_pending--;
		p->pml_drained = ev->index;
		if (ring_mode() && !(p->pushed && p->last_push > e->index)) {
			chk_violation(CHK_DIRTY_LOG, ev, -1, -1,
				      "slot %d page %#llx was logged by PML (event %llu), but "
				      "vCPU %d's drain of the buffer pushed no dirty-ring entry "
				      "for it", (int)((e->key - 1) >> 40),
				      (unsigned long long)((e->key - 1) & ((1ULL << 40) - 1)),
				      (unsigned long long)e->index, v);
			break;
		}
	}
	pml_nr[v] = 0;
}

static void dirty_event(const struct kvmmu_event *ev)
{
	switch (ev->type) {
	case KVMMU_EV_PML_LOG:
		pml_log(ev);
		break;
	case KVMMU_EV_PML_FLUSH:
		if (ev->pml.kvm == chk_kvm())
			pml_flush(ev);
		break;
	case KVMMU_EV_GUEST_STORE:
		dirty_store(ev);
		break;
	case KVMMU_EV_DIRTY_LOG_GET:
		if (ev->dirty_log.kvm == chk_kvm())
			dirty_get(ev);
		break;
	case KVMMU_EV_DIRTY_LOG_CLEAR:
		if (ev->dirty_log.kvm == chk_kvm())
			dirty_clear(ev);
		break;
	case KVMMU_EV_DIRTY_RING_PUSH:
		if (ev->dirty_log.kvm == chk_kvm())
			ring_push(ev);
		break;
	case KVMMU_EV_DIRTY_RING_HARVEST:
		if (ev->dirty_log.kvm == chk_kvm())
			chk_map_get(&harvested, page_key((u32)ev->dirty_log.slot,
							 ev->dirty_log.first_page));
		break;
	case KVMMU_EV_DIRTY_RING_RESET:
		if (ev->dirty_log.kvm == chk_kvm())
			ring_reset(ev);
		break;
	default:
		dirty_slot_update(ev);
		break;
	}
}

/* Dirty-log completeness's maps are its own too. */
static struct {
	pthread_mutex_t lock;
} ____cacheline_aligned dirty_lock = { PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };

const struct checker_ops chk_dirty_ops = {
	.events = BIT_ULL(KVMMU_EV_GUEST_STORE) | BIT_ULL(KVMMU_EV_DIRTY_LOG_GET) |
		  BIT_ULL(KVMMU_EV_DIRTY_LOG_CLEAR) | BIT_ULL(KVMMU_EV_SPAN_BEGIN) |
		  BIT_ULL(KVMMU_EV_SPAN_END) | BIT_ULL(KVMMU_EV_DIRTY_RING_PUSH) |
		  BIT_ULL(KVMMU_EV_DIRTY_RING_HARVEST) |
		  BIT_ULL(KVMMU_EV_DIRTY_RING_RESET) | BIT_ULL(KVMMU_EV_PML_LOG) |
		  BIT_ULL(KVMMU_EV_PML_FLUSH),
	.own_lock = &dirty_lock.lock,
	.begin = dirty_begin,
	.event = dirty_event,
	.end = dirty_end,
};
