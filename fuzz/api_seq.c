// SPDX-License-Identifier: GPL-2.0-only
/*
 * The API-sequence fuzzer's decoder and executor (see api_seq.h for the
 * encoding).
 *
 * One input is one world, built through the world layer with every checker
 * on, and one thread: the operations run in input order, so a run is
 * deterministic and a crash replays from its input alone.  Memslot updates
 * are also checked against a model of KVM_SET_USER_MEMORY_REGION2's rules
 * (the errno KVM returns), and after every operation the API rejects, a
 * clean access pass stores to and loads back from every memslot the model
 * says is intact: a rejected call must leave the VM working.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "api_seq.h"
#include "bug.h"
#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "sched_ctl.h"
#include "thread.h"
#include "world.h"

#define KB (1ULL << 10)
#define MB (1ULL << 20)
#define GB (1ULL << 30)

#define TASK_SIZE_MODEL (1ULL << 47)
#define MAX_MODEL_SLOTS 32
#define MAX_RUNS 256          /* KVM_RUN calls for one program */
#define MAX_FUZZ_SLOT (1ULL << 30) /* bytes: larger sizes are only ones KVM refuses */
#define MAX_BITMAP_PAGES (1ULL << 20)

/*
 * The operations.  a, b, c, x, y are the record's fields; "slot(a)" is
 * slot_id(), "gpa(c, x, y)" is pick_gpa(), "hva(c, y)" is pick_hva().
 */
enum api_op {
	OP_SLOT_SET,       /* KVM_SET_USER_MEMORY_REGION2: slot(a), flags(b), gpa(c, x),
			    * size(y), hva(c, y) */
	OP_SLOT_DELETE,    /* size 0 for slot(a) */
	OP_SLOT_MOVE,      /* a live slot (a) to gpa(c, x) */
	OP_SLOT_FLAGS,     /* a live slot (a) with flags(b) */
	OP_GET_DIRTY_LOG,  /* slot(a), or a live slot if c & 1 */
	OP_CLEAR_DIRTY_LOG,/* slot as above; first_page x (or c's special), num_pages y */
	OP_RING_RESET,     /* harvest (a entries per vCPU, 0: all), KVM_RESET_DIRTY_RINGS */
	OP_ACCESS,         /* vCPU a: op b & 3, size b >> 4 at gpa(c, x, y) */
	OP_ACCESS_RANGE,   /* vCPU a: (b & 63) + 1 pages from gpa(c, x, y), stride x >> 24 */
	OP_PRE_FAULT,      /* vCPU a: KVM_PRE_FAULT_MEMORY at gpa(c, x, y), x >> 16 pages */
	OP_NX_RECOVERY,    /* ratio a */
	OP_HOST_MUNMAP,    /* region c & 1: pages [x, x + y) (or raw with c & 2) */
	OP_HOST_MPROTECT,  /* the same, VM_READ/VM_WRITE from b */
	OP_HOST_MIGRATE,
	OP_HOST_SWAP_OUT,
	OP_HOST_THP_SPLIT, /* at the range's start */
	OP_HOST_THP_COLLAPSE,
	OP_HOST_DONTNEED,
	OP_HOST_RECLAIM,   /* the region's file: writeback (b & 1) or reclaim pages [x, x + y) */
	OP_HOST_AGING,     /* clear_young, clear_flush_young or test_young (b % 3) */
	OP_ENABLE_CAP,     /* cap(a), args[0] y, flags b >> 4 */
	OP_SET_NR_MMU_PAGES, /* y */
	OP_VMM_ACCESS,     /* the VMM reads or writes (b & 1) the word at region c & 1, offset x */
	OP_CLEAN_PASS,
	OP_PARALLEL,       /* the next (a & 7) + 2 operations in two threads, alternately */
	NR_API_OPS
};

static const char *const op_names[NR_API_OPS] = {
	"slot-set", "slot-delete", "slot-move", "slot-flags", "get-dirty-log",
	"clear-dirty-log", "ring-reset", "access", "access-range", "pre-fault",
	"nx-recovery", "munmap", "mprotect", "migrate", "swap-out", "thp-split",
	"thp-collapse", "dontneed", "reclaim", "aging", "enable-cap", "set-nr-mmu-pages",
	"vmm-access", "clean-pass", "parallel",
};

struct model_slot {
	bool used;
	u32 slot;   /* as_id << 16 | id */
	u32 flags;
	u64 gpa, size, hva;
};

struct fz {
	struct world w;
	struct model_slot slots[MAX_MODEL_SLOTS];
	u64 region_gpa[WORLD_MAX_MEM], region_size[WORLD_MAX_MEM];
	int nr_regions;          /* the fuzzed regions (not the guest's tables) */
	struct model_slot tables[8]; /* the guest tables' memslots, as built */
	int nr_tables;
	u8 *tainted[WORLD_MAX_MEM]; /* host pages munmapped or mprotected: no clean access */
	u32 ring_fetch[WORLD_MAX_VCPUS];
	u64 stamp;
	const u8 *ops;
	int nr_ops;
	int op_index;
	bool violated;
};

static u64 inject_mask;
static int verbose;
static unsigned long warns_before;

int api_seq_set_inject(const char *list)
{
	return kvmmu_mutant_parse(list, &inject_mask, NULL, 0);
}

void api_seq_set_verbose(int v)
{
	verbose = v;
}

static void __noreturn __printf(2, 3) finding(struct fz *f, const char *fmt, ...)
{
	struct check_violation v;
	va_list ap;

	fprintf(stderr, "api_seq: finding at operation %d: ", f->op_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (check_violations(&v, 1))
		fprintf(stderr, "api_seq: %s (%s): %s\n", v.checker, v.invariant, v.description);
	abort();
}

static void on_violation(void *arg)
{
	struct fz *f = arg;

	f->violated = true;
	world_stop_vcpus(&f->w);
}

/* Any violation or WARN so far is a finding. */
static void check_clean(struct fz *f, const char *what)
{
	if (f->violated || check_violations(NULL, 0))
		finding(f, "checker violation after %s", what);
	if (kvmmu_warn_count() != warns_before)
		finding(f, "WARN after %s", what);
}

/* ---- field decoding ------------------------------------------------------------------------- */

static u64 rd64(const u8 *p)
{
	u64 v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static u32 rd32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

/* A slot id: the world's own, a few free ones, and ids KVM must refuse. */
static u32 slot_id(struct fz *f, u8 a)
{
	static const u32 odd[] = { 32763, 32764, 32766, 32767, 0xffff, 0x7fffffff, 0xffffffff,
				   3 << 16 };
	u32 id;

	switch (a >> 6) {
	case 0: /* a live slot of the model, or slot a */
		if (f->slots[a % MAX_MODEL_SLOTS].used)
			return f->slots[a % MAX_MODEL_SLOTS].slot;
		return a & 15;
	case 1:
		id = a & 15;
		break;
	case 2: /* SMM's address space */
		return 1 << 16 | (a & 15);
	default:
		return odd[a & 7];
	}
	return id;
}

static u32 slot_flags(u8 b)
{
	if (b & 0x80)
		return (u32)b << 1 | (b & 3); /* bits KVM does not know */
	return b & (KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY);
}

/*
 * A guest-physical address: c >> 4 picks the shape, x and y the value.
 *   0-7: in region c & 1, page x % pages, offset y % 4096 (aligned down for
 *        slots), 8: raw y, 9: x pages, 10: just below 2^phys (x pages
 *        down), 11: above 2^phys, 12: near 2^64 (wraps), 13: unaligned x,
 *        14: 4G - x pages, 15: x * 2M
 */
static u64 pick_gpa(struct fz *f, u8 c, u32 x, u64 y, bool page_aligned)
{
	int m = (c & 1) % f->nr_regions;
	int phys = f->w.cfg.phys_bits;
	u64 g;

	switch (c >> 4) {
	case 8:
		return y;
	case 9:
		return (u64)x << PAGE_SHIFT;
	case 10:
		return (1ULL << phys) - ((u64)(x % 64) + 1) * PAGE_SIZE;
	case 11:
		return (1ULL << phys) + ((u64)(x % 64) << PAGE_SHIFT);
	case 12:
		return ~0ULL - ((u64)(x % 64) << PAGE_SHIFT) - (page_aligned ? PAGE_SIZE - 1 : 7);
	case 13:
		return ((u64)x << PAGE_SHIFT) + 1 + (y & 0x7fe);
	case 14:
		return (4 * GB) - ((u64)(x % 1024) + 1) * PAGE_SIZE;
	case 15:
		return (u64)(x % 4096) * 2 * MB;
	default:
		g = f->region_gpa[m] + ((u64)x % (f->region_size[m] >> PAGE_SHIFT)) * PAGE_SIZE;
		return g + (page_aligned ? 0 : (y & (PAGE_SIZE - 8)));
	}
}

/* A memslot size: y's top byte picks the shape. */
static u64 pick_size(u64 y)
{
	u64 pages = y & 0xffffffff, max = MAX_FUZZ_SLOT >> PAGE_SHIFT;

	switch (y >> 56) {
	case 1:
		return (pages << PAGE_SHIFT) | 0x800; /* unaligned */
	case 2:
		return TASK_SIZE_MODEL + (pages << PAGE_SHIFT); /* beyond any hva */
	case 3:
		return 0;
	case 4:
		return ((1ULL << 31) + pages) << PAGE_SHIFT; /* over KVM_MEM_MAX_NR_PAGES */
	case 5:
		return ~0ULL << PAGE_SHIFT;
	default:
		/* 1 page to 1G: a size KVM takes */
		return ((pages % max) + !(pages % max)) << PAGE_SHIFT;
	}
}

/* A host address: c & 0xe picks the shape; region c & 1, page (y >> 32) & 0xffff. */
static u64 pick_hva(struct fz *f, u8 c, u64 y)
{
	int m = (c & 1) % f->nr_regions;
	u64 page = (y >> 32) & 0xffff;
	u64 hva = f->w.cfg.mem[m].hva;

	switch ((c >> 1) & 7) {
	case 4: /* nothing mapped there */
		return 0x7f0000000000ULL + (page << PAGE_SHIFT);
	case 5:
		return hva + 0x10; /* unaligned */
	case 6:
		return TASK_SIZE_MODEL - (page << PAGE_SHIFT); /* at the limit */
	case 7:
		return ~0ULL << PAGE_SHIFT;
	default:
		return hva + (page % (f->region_size[m] >> PAGE_SHIFT)) * PAGE_SIZE;
	}
}

/* ---- the memslot model ---------------------------------------------------------------------- */

static struct model_slot *model_find(struct fz *f, u32 slot)
{
	int i;

	for (i = 0; i < MAX_MODEL_SLOTS; i++) {
		if (f->slots[i].used && f->slots[i].slot == slot)
			return &f->slots[i];
	}
	return NULL;
}

/* The guest's own tables are where the world put them (a slot changed: no clean guest access). */
static bool tables_intact(struct fz *f)
{
	int i;

	for (i = 0; i < f->nr_tables; i++) {
		struct model_slot *s = model_find(f, f->tables[i].slot);

		if (!s || memcmp(s, &f->tables[i], sizeof(*s)))
			return false;
	}
	return true;
}

/* What KVM_SET_USER_MEMORY_REGION2 returns (__kvm_set_memory_region() and the x86 arch hook). */
static int model_predict(struct fz *f, u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	struct model_slot *old;
	u32 as_id = slot >> 16, id = (u16)slot;
	int i;

	if (id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	if (flags & ~(u32)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
		return -EINVAL;
	if ((size & (PAGE_SIZE - 1)) || (gpa & (PAGE_SIZE - 1)))
		return -EINVAL;
	if ((hva & (PAGE_SIZE - 1)) || hva > TASK_SIZE_MODEL || size > TASK_SIZE_MODEL - hva)
		return -EINVAL;
	if (as_id >= KVM_ADDRESS_SPACE_NUM)
		return -EINVAL;
	if (gpa + size < gpa || (size >> PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES)
		return -EINVAL;
	old = model_find(f, slot);
	if (!size)
		return old ? 0 : -EINVAL;
	if (old) {
		if (hva != old->hva || size != old->size ||
		    ((flags ^ old->flags) & KVM_MEM_READONLY))
			return -EINVAL;
		if (gpa == old->gpa)
			return 0;
	}
	for (i = 0; i < MAX_MODEL_SLOTS; i++) {
		struct model_slot *s = &f->slots[i];

		if (s->used && s != old && s->slot >> 16 == as_id &&
		    gpa < s->gpa + s->size && s->gpa < gpa + size)
			return -EEXIST;
	}
	if (((gpa + size) >> PAGE_SHIFT) - 1 > kvm_mmu_max_gfn(f->w.kvm))
		return -EINVAL;
	return 0;
}

static void model_apply(struct fz *f, u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	struct model_slot *s = model_find(f, slot);
	int i;

	if (!size) {
		if (s)
			s->used = false;
		return;
	}
	for (i = 0; !s && i < MAX_MODEL_SLOTS; i++) {
		if (!f->slots[i].used)
			s = &f->slots[i];
	}
	if (!s)
		finding(f, "the model has no room for slot %#x", slot);
	*s = (struct model_slot){ .used = true, .slot = slot, .flags = flags, .gpa = gpa,
				  .size = size, .hva = hva };
}

/* The model has room for one more slot (the fuzzer keeps it small). */
static bool model_full(struct fz *f)
{
	int i;

	for (i = 0; i < MAX_MODEL_SLOTS; i++) {
		if (!f->slots[i].used)
			return false;
	}
	return true;
}

/* Returns 0 or the API's -errno; a different answer from the model's is a finding. */
static int set_slot(struct fz *f, u32 slot, u32 flags, u64 gpa, u64 size, u64 hva)
{
	int want, r;

	want = model_predict(f, slot, flags, gpa, size, size ? hva : 0);
	if (!want && size && !model_find(f, slot) && model_full(f))
		return 0;
	r = world_set_memslot(&f->w, slot, flags, gpa, size, hva);
	if (r != want)
		finding(f, "KVM_SET_USER_MEMORY_REGION2 slot %#x flags %#x gpa %#llx size %#llx "
			"hva %#llx: %d, KVM returns %d", slot, flags, (unsigned long long)gpa,
			(unsigned long long)size, (unsigned long long)hva, r, want);
	if (!r)
		model_apply(f, slot, flags, gpa, size, hva);
	return r;
}

/* ---- vCPUs ---------------------------------------------------------------------------------- */

/* Harvest up to @max (0: all) dirty entries of vCPU @v's ring, as userspace does. */
static int harvest_ring(struct fz *f, int v, u32 max)
{
	struct kvm_dirty_gfn *ring;
	u32 n, i;

	ring = kvmmu_vcpu_dirty_ring(f->w.vcpus[v], &n);
	if (!ring || !n)
		return 0;
	for (i = 0; i < n && (!max || i < max); i++) {
		struct kvm_dirty_gfn *e = &ring[(f->ring_fetch[v] + i) % n];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
	}
	f->ring_fetch[v] += i;
	return (int)i;
}

static int ring_reset(struct fz *f, u32 max)
{
	int v;

	for (v = 0; v < f->w.nr_vcpus; v++)
		harvest_ring(f, v, max);
	return kvmmu_reset_dirty_rings(f->w.kvm);
}

/*
 * Run @n accesses on vCPU @v until the program ends or KVM_RUN fails.
 * Returns 0 or KVM_RUN's -errno; *@mmio: an access exited to userspace.
 */
static int run_list(struct fz *f, int v, struct hw_access *list, u64 n, bool *mmio)
{
	struct hw_program p = { .list = list, .len = n, .paging = f->w.cfg.guest_paging,
				.cr3 = f->w.guest_cr3 };
	struct kvm_vcpu *vcpu = f->w.vcpus[v];
	int runs = 0, r;

	if (mmio)
		*mmio = false;
	r = hw_vcpu_load_program(vcpu->hw, &p);
	if (r)
		return r;
	while (!hw_vcpu_done(vcpu->hw)) {
		struct kvmmu_run run;

		if (++runs > MAX_RUNS)
			finding(f, "vCPU %d: %d KVM_RUNs without finishing %llu accesses", v,
				MAX_RUNS, (unsigned long long)n);
		r = kvmmu_vcpu_run(vcpu, &run);
		if (r)
			return r;
		if (run.exit_reason == KVM_EXIT_MMIO && mmio)
			*mmio = true;
		if (run.exit_reason == KVM_EXIT_DIRTY_RING_FULL)
			ring_reset(f, 0);
	}
	return 0;
}

/* ---- the clean access pass ------------------------------------------------------------------ */

static int region_of_hva(struct fz *f, u64 hva, u64 size)
{
	int m;

	for (m = 0; m < f->nr_regions; m++) {
		u64 start = f->w.cfg.mem[m].hva;

		if (hva >= start && hva + size <= start + f->region_size[m] && hva + size > hva)
			return m;
	}
	return -1;
}

static bool slot_is_clean(struct fz *f, const struct model_slot *s)
{
	int m = region_of_hva(f, s->hva, s->size);
	u64 first, i;

	if (s->slot >> 16 || m < 0)
		return false;
	first = (s->hva - f->w.cfg.mem[m].hva) >> PAGE_SHIFT;
	for (i = 0; i < s->size >> PAGE_SHIFT; i++) {
		if (f->tainted[m][first + i])
			return false;
	}
	/* The guest's own tables map each region's gpas to themselves, and nothing else. */
	if (f->w.cfg.guest_paging) {
		int g;

		if (!tables_intact(f))
			return false;
		for (g = 0; g < f->nr_regions; g++) {
			if (s->gpa >= f->region_gpa[g] &&
			    s->gpa + s->size <= f->region_gpa[g] + f->region_size[g])
				break;
		}
		if (g == f->nr_regions)
			return false;
	}
	return true;
}

/* One store and load back (a load only in a read-only slot) that must work. */
static void clean_access(struct fz *f, const struct model_slot *s, int v, gpa_t gpa,
			 const char *after)
{
	bool ro = s->flags & KVM_MEM_READONLY, mmio;
	struct hw_access a[2] = {
		{ .op = HW_STORE, .addr = gpa, .value = 0xc1ea000000000000ULL | ++f->stamp },
		{ .op = HW_LOAD, .addr = gpa },
	};
	unsigned long long at = gpa;
	int r;

	r = ro ? run_list(f, v, &a[1], 1, &mmio) : run_list(f, v, a, 2, &mmio);
	check_clean(f, after);
	if (r)
		finding(f, "clean pass after %s: vCPU %d at %#llx (slot %#x): KVM_RUN %d",
			after, v, at, s->slot, r);
	if (mmio)
		finding(f, "clean pass after %s: vCPU %d at %#llx (slot %#x) exited as MMIO",
			after, v, at, s->slot);
	if (!ro && a[1].value != a[0].value)
		finding(f, "clean pass after %s: vCPU %d at %#llx loaded %#llx, stored %#llx",
			after, v, at, (unsigned long long)a[1].value,
			(unsigned long long)a[0].value);
}

/* Store to and load back the first and last word of every intact memslot, on each vCPU. */
static void clean_pass(struct fz *f, const char *after)
{
	int i, v;

	check_clean(f, after);
	for (i = 0; i < MAX_MODEL_SLOTS; i++) {
		struct model_slot *s = &f->slots[i];

		if (!s->used || !slot_is_clean(f, s))
			continue;
		for (v = 0; v < f->w.nr_vcpus; v++) {
			clean_access(f, s, v, s->gpa, after);
			clean_access(f, s, v, s->gpa + s->size - 8, after);
		}
	}
	check_clean(f, "the clean pass");
}

/* ---- host events ---------------------------------------------------------------------------- */

/*
 * A host range: region c & 1, pages [x, x + y) within it; with c & 2, x bytes
 * into the region (c & 4: unaligned) and y bytes (c & 8: wrapping).
 */
static void pick_range(struct fz *f, u8 c, u32 x, u64 y, unsigned long *addr, unsigned long *len)
{
	int m = (c & 1) % f->nr_regions;
	u64 pages = f->region_size[m] >> PAGE_SHIFT;

	if (c & 2) {
		*addr = f->w.cfg.mem[m].hva + (x & ~0xfffULL) + ((c & 4) ? (x & 0xfff) : 0);
		/*
		 * Up to 16M, or a range that wraps: the host model walks a range
		 * page by page, and a range of 2^63 bytes is a timeout, not a bug.
		 */
		*len = (c & 8) ? ~0UL - *addr + 1 + (y & 0xffff) : (unsigned long)(y & 0xffffff);
		return;
	}
	*addr = f->w.cfg.mem[m].hva + ((u64)x % pages) * PAGE_SIZE;
	*len = ((y % pages) + 1) * PAGE_SIZE;
}

/* No clean access through host pages whose mapping changed (rounded out to 2M). */
static void taint(struct fz *f, unsigned long addr, unsigned long len)
{
	int m;

	for (m = 0; m < f->nr_regions; m++) {
		u64 start = f->w.cfg.mem[m].hva, end = start + f->region_size[m];
		u64 lo = addr & ~(2 * MB - 1), hi = ((u64)addr + len + 2 * MB - 1) & ~(2 * MB - 1);
		u64 p;

		if (hi < lo)
			hi = ~0ULL;
		for (p = lo < start ? start : lo; p < end && p < hi; p += PAGE_SIZE)
			f->tainted[m][(p - start) >> PAGE_SHIFT] = 1;
	}
}

/* ---- one operation -------------------------------------------------------------------------- */

static struct model_slot *live_slot(struct fz *f, u8 a)
{
	int i;

	for (i = 0; i < MAX_MODEL_SLOTS; i++) {
		struct model_slot *s = &f->slots[(a + i) % MAX_MODEL_SLOTS];

		if (s->used)
			return s;
	}
	return NULL;
}

static int op_dirty_log(struct fz *f, bool clear, u8 a, u8 c, u32 x, u64 y)
{
	struct model_slot *s = (c & 1) ? live_slot(f, a) : NULL;
	u32 slot = s ? s->slot : slot_id(f, a);
	u64 bits, first, num, bytes;
	void *bitmap;
	int r;

	s = model_find(f, slot);
	bits = s ? s->size >> PAGE_SHIFT : 64;
	if (!clear) {
		struct kvm_dirty_log log = { .slot = slot };

		bitmap = calloc(1, (bits + 63) / 64 * 8);
		if (!bitmap)
			return 0;
		log.dirty_bitmap = bitmap;
		r = kvmmu_get_dirty_log(f->w.kvm, &log);
	} else {
		struct kvm_clear_dirty_log log = { .slot = slot };

		switch (c >> 5) {
		case 0:
			first = x & ~63U;
			num = y & 0xffffffff;
			break;
		case 1: /* the whole slot */
			first = 0;
			num = bits;
			break;
		case 2: /* the tail, unaligned */
			first = x;
			num = bits > x ? bits - x : 1;
			break;
		default:
			first = x;
			num = (u32)y;
			break;
		}
		log.first_page = first;
		log.num_pages = (u32)num;
		/* Enough for what KVM may read: a count KVM accepts is within the slot. */
		bytes = ((num < MAX_BITMAP_PAGES ? num : MAX_BITMAP_PAGES) + 63) / 64 * 8;
		bitmap = calloc(1, bytes + 8);
		if (!bitmap)
			return 0;
		memset(bitmap, (int)(y >> 32), bytes);
		log.dirty_bitmap = bitmap;
		r = kvmmu_clear_dirty_log(f->w.kvm, &log);
	}
	free(bitmap);
	return r;
}

/*
 * The vCPU an operation of @lane uses: any (a) outside a parallel block;
 * in one, the first vCPU for lane 0 and the last for lane 1 (-1: none, a
 * vCPU runs in one thread at a time).
 */
static int lane_vcpu(struct fz *f, int lane, u8 a)
{
	if (lane < 0)
		return a % f->w.nr_vcpus;
	if (lane == 0)
		return 0;
	return f->w.nr_vcpus > 1 ? f->w.nr_vcpus - 1 : -1;
}

static int op_access(struct fz *f, int v, u8 b, u8 c, u32 x, u64 y, bool range)
{
	static const u8 ops[4] = { HW_LOAD, HW_STORE, HW_FETCH, HW_STOS };
	static const u8 sizes[4] = { 8, 4, 2, 1 };
	struct hw_access list[64];
	u64 n = range ? (b & 63) + 1 : 1, stride = range ? ((x >> 24) % 8 + 1) * PAGE_SIZE : 0;
	u8 size = sizes[(b >> 4) & 3];
	u64 gpa = pick_gpa(f, c, x, y, false) & ~(u64)(size - 1);
	u64 i;
	int r;

	/* With guest paging, in the regions: a store to the guest's own tables is its bug. */
	if (f->w.cfg.guest_paging) {
		int m = (c & 1) % f->nr_regions;
		u64 rs = f->region_size[m];

		if (n > 1 && (n - 1) * stride + 8 > rs)
			n = (rs - 8) / stride + 1;
		gpa = f->region_gpa[m] + gpa % (rs - (n - 1) * stride - size + 1);
		gpa &= ~(u64)(size - 1);
	}

	for (i = 0; i < n; i++)
		list[i] = (struct hw_access){ .op = range ? ((b & 64) ? HW_STORE : HW_LOAD) :
							     ops[b & 3],
					      .size = size, .addr = gpa + i * stride,
					      .value = 0xf0220000000000ULL | ++f->stamp };
	r = run_list(f, v, list, n, NULL);
	/* A guest access that cannot complete (no host page) is not a rejected call. */
	return r == -EFAULT || r == -EHWPOISON || r == -EINTR ? 0 : r;
}

static int op_enable_cap(struct fz *f, u8 a, u8 b, u64 y)
{
	static const u32 caps[] = {
		KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CAP_DIRTY_LOG_RING,
		KVM_CAP_DIRTY_LOG_RING_ACQ_REL, KVM_CAP_DISABLE_QUIRKS2,
		KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0, 0xffffffff,
	};
	struct kvm_enable_cap cap = { .cap = caps[a % ARRAY_SIZE(caps)], .flags = b >> 4 };

	if (a % ARRAY_SIZE(caps) == 5)
		cap.cap = a;
	cap.args[0] = y;
	cap.args[1] = b & 1;
	return kvmmu_vm_enable_cap(f->w.kvm, &cap);
}

/*
 * What an operation of a parallel block's second lane may not do: change
 * memslots or capabilities (the model predicts KVM's answers in one
 * order), or run a clean pass (every vCPU).
 */
static bool lane0_only(u8 op)
{
	return op <= OP_SLOT_FLAGS || op == OP_ENABLE_CAP || op == OP_SET_NR_MMU_PAGES ||
	       op == OP_CLEAN_PASS || op == OP_PARALLEL;
}

/* One operation; @lane: -1 alone, or 0 or 1 in a parallel block. */
static int do_op(struct fz *f, const u8 *rec, int lane)
{
	u8 op = rec[0] % NR_API_OPS, a = rec[1], b = rec[2], c = rec[3];
	u32 x = rd32(rec + 4);
	u64 y = rd64(rec + 8);
	int m = (c & 1) % f->nr_regions;
	int v = lane_vcpu(f, lane, a);
	struct model_slot *s;
	unsigned long addr, len, nr;
	u64 val;
	int r = 0;

	if ((lane == 1 && lane0_only(op)) || (lane >= 0 && op == OP_CLEAN_PASS) ||
	    (v < 0 && (op == OP_ACCESS || op == OP_ACCESS_RANGE || op == OP_PRE_FAULT)))
		return 0;

	if (verbose)
		fprintf(stderr, "api_seq: %3d %-16s a=%#x b=%#x c=%#x x=%#x y=%#llx\n",
			f->op_index, op_names[op], a, b, c, x, (unsigned long long)y);
	switch (op) {
	case OP_SLOT_SET:
		return set_slot(f, slot_id(f, a), slot_flags(b), pick_gpa(f, c, x, 0, true),
				pick_size(y), pick_hva(f, c, y));
	case OP_SLOT_DELETE:
		s = (c & 1) ? live_slot(f, a) : NULL;
		return set_slot(f, s ? s->slot : slot_id(f, a), 0, 0, 0, 0);
	case OP_SLOT_MOVE:
		s = live_slot(f, a);
		if (!s)
			return 0;
		return set_slot(f, s->slot, s->flags, pick_gpa(f, c, x, 0, true), s->size, s->hva);
	case OP_SLOT_FLAGS:
		s = live_slot(f, a);
		if (!s)
			return 0;
		return set_slot(f, s->slot, slot_flags(b), s->gpa, s->size, s->hva);
	case OP_GET_DIRTY_LOG:
	case OP_CLEAR_DIRTY_LOG:
		return op_dirty_log(f, op == OP_CLEAR_DIRTY_LOG, a, c, x, y);
	case OP_RING_RESET:
		r = ring_reset(f, a);
		return r < 0 ? r : 0;
	case OP_ACCESS:
	case OP_ACCESS_RANGE:
		return op_access(f, v, b, c, x, y, op == OP_ACCESS_RANGE);
	case OP_PRE_FAULT: {
		struct kvm_pre_fault_memory range = {
			.gpa = pick_gpa(f, c, x, y, !(b & 0x40)),
			.size = ((u64)(x >> 16) + 1) * PAGE_SIZE,
			.flags = b >> 7,
		};

		if (b & 0x20)
			range.size = y;
		r = kvmmu_vcpu_pre_fault_memory(f->w.vcpus[v], &range);
		/* Nothing there, or not now: an answer, not a rejection of the call. */
		return r == -ENOENT || r == -EAGAIN || r == -EINTR ? 0 : r;
	}
	case OP_NX_RECOVERY:
		r = kvmmu_vm_recover_nx_huge_pages(f->w.kvm, a);
		return r < 0 ? r : 0;
	case OP_HOST_MUNMAP:
		pick_range(f, c, x, y, &addr, &len);
		r = host_munmap(f->w.mm, addr, len);
		if (!r)
			taint(f, addr, len);
		return r;
	case OP_HOST_MPROTECT:
		pick_range(f, c, x, y, &addr, &len);
		r = host_mprotect(f->w.mm, addr, len, b & (VM_READ | VM_WRITE));
		if (!r)
			taint(f, addr, len);
		return r;
	case OP_HOST_MIGRATE:
		pick_range(f, c, x, y, &addr, &len);
		return host_migrate(f->w.mm, addr, len, &nr);
	case OP_HOST_SWAP_OUT:
		pick_range(f, c, x, y, &addr, &len);
		return host_swap_out(f->w.mm, addr, len, &nr);
	case OP_HOST_THP_SPLIT:
	case OP_HOST_THP_COLLAPSE:
		pick_range(f, c, x, y, &addr, &len);
		if (!(c & 8))
			addr &= ~(2 * MB - 1);
		return op == OP_HOST_THP_SPLIT ? host_thp_split(f->w.mm, addr) :
						 host_thp_collapse(f->w.mm, addr);
	case OP_HOST_DONTNEED:
		pick_range(f, c, x, y, &addr, &len);
		return host_madvise_dontneed(f->w.mm, addr, len);
	case OP_HOST_RECLAIM:
		if (!f->w.files[m])
			return 0;
		if (b & 1)
			return host_file_writeback(f->w.files[m], x % 4096, y % 4096);
		return host_file_reclaim(f->w.files[m], x % 4096, y % 4096, &nr);
	case OP_HOST_AGING:
		pick_range(f, c, x, y, &addr, &len);
		if (b % 3 == 0)
			host_clear_young(f->w.mm, addr, addr + len);
		else if (b % 3 == 1)
			host_clear_flush_young(f->w.mm, addr, addr + len);
		else
			host_test_young(f->w.mm, addr, addr + len);
		return 0;
	case OP_ENABLE_CAP:
		return op_enable_cap(f, a, b, y);
	case OP_SET_NR_MMU_PAGES:
		return kvmmu_vm_set_nr_mmu_pages(f->w.kvm, (unsigned long)(y & 0xfffff));
	case OP_VMM_ACCESS:
		addr = f->w.cfg.mem[m].hva + ((u64)x % (f->region_size[m] >> 3)) * 8;
		val = 0x7e33000000000000ULL | ++f->stamp;
		r = host_access(f->w.mm, addr, b & 1, &val);
		return r == -EFAULT || r == -EHWPOISON ? 0 : r;
	case OP_CLEAN_PASS:
		clean_pass(f, "an explicit clean pass");
		return 0;
	case OP_PARALLEL: /* run_ops() runs the block */
		return 0;
	}
	return 0;
}

/* A parallel block: the operations [first, first + n), lane 0 taking the even ones. */
struct block {
	struct fz *f;
	int first, n, lane;
	bool rejected;
};

static int run_lane(void *arg)
{
	struct block *b = arg;
	int i;

	for (i = b->lane; i < b->n; i += 2) {
		const u8 *rec = b->f->ops + (size_t)(b->first + i) * API_SEQ_OP;

		if (do_op(b->f, rec, b->lane) < 0)
			b->rejected = true;
	}
	return 0;
}

/*
 * The block after the OP_PARALLEL at @i: lane 1 in a thread of its own
 * (controlled too), lane 0 here.  The clean pass for a rejected operation
 * waits for the block's end.  Returns the operations it took.
 */
static int run_block(struct fz *f, int i, u8 a)
{
	struct block lanes[2];
	struct kvmmu_thread *t;
	int l;

	for (l = 0; l < 2; l++)
		lanes[l] = (struct block){ .f = f, .first = i + 1, .lane = l,
					   .n = min((a & 7) + 2, f->nr_ops - i - 1) };
	if (kvmmu_thread_create(&t, "lane1", 0, run_lane, &lanes[1]))
		finding(f, "no thread for a parallel block");
	run_lane(&lanes[0]);
	kvmmu_thread_join(t);
	if (lanes[0].rejected || lanes[1].rejected)
		clean_pass(f, "a parallel block with a rejected operation");
	else
		check_clean(f, "a parallel block");
	return 1 + lanes[0].n;
}

/* The operations, then the last clean pass: the body of the controlled thread. */
static int run_ops(void *arg)
{
	struct fz *f = arg;
	int i = 0;

	while (i < f->nr_ops) {
		const u8 *rec = f->ops + (size_t)i * API_SEQ_OP;
		int r;

		f->op_index = i;
		if (rec[0] % NR_API_OPS == OP_PARALLEL) {
			i += run_block(f, i, rec[1]);
			continue;
		}
		r = do_op(f, rec, -1);
		if (r < 0) {
			char what[64];

			snprintf(what, sizeof(what), "%s rejected (%d)",
				 op_names[rec[0] % NR_API_OPS], r);
			clean_pass(f, what);
		} else {
			check_clean(f, op_names[rec[0] % NR_API_OPS]);
		}
		i++;
	}
	f->op_index = f->nr_ops;
	clean_pass(f, "the last operation");
	return 0;
}

/* ---- the world ------------------------------------------------------------------------------ */

static void region_config(struct world_mem_config *mc, u8 h, u8 h6, bool first)
{
	static const enum world_backing backings[8] = {
		WORLD_BACKING_ANON, WORLD_BACKING_THP, WORLD_BACKING_SHARED,
		WORLD_BACKING_SHARED_THP, WORLD_BACKING_HUGETLB_2M, WORLD_BACKING_PFNMAP,
		WORLD_BACKING_ANON, WORLD_BACKING_ANON,
	};
	static const u64 sizes[4] = { 64 * KB, 2 * MB, 4 * MB, 16 * KB };
	enum world_backing b = backings[h & 7];
	u64 page = b == WORLD_BACKING_PFNMAP ? 16 * KB : world_backing_page_size(b);
	u64 size = sizes[(h >> 3) & 3];

	mc->backing = b;
	mc->pfnmap_block = b == WORLD_BACKING_PFNMAP ? 16 * KB : 0;
	mc->size = (size + page - 1) / page * page;
	mc->nr_slots = (h & 32) && mc->size / 2 % page == 0 ? 2 : 1;
	mc->slot_flags = (h & 64) ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	if (first && (h6 & 1))
		mc->slot_flags |= KVM_MEM_READONLY;
	mc->populate = first && (h6 & 2);
}

static void world_config_of(const u8 *h, struct world_config *cfg, struct fz *f)
{
	static const int phys[8] = { 46, 39, 43, 48, 52, 36, 46, 46 };
	static const unsigned int yields[4] = { 0, 1, 2, 7 };
	static const u32 rings[4] = { 0, 16 * KB, 64 * KB, 0 };
	static const int levels[4] = { 4, 5, 3, 2 };
	int mmu = h[0] & 3;

	*cfg = (struct world_config){
		.mmu = mmu == 3 ? WORLD_MMU_TDP : (enum world_mmu)mmu,
		.format = (h[0] & 4) ? KVMMU_TDP_NPT : KVMMU_TDP_EPT,
		.tdp_level = (h[0] & 8) ? 5 : 4,
		.ad_disabled = h[0] & 16,
		.pml = h[0] & 32,
		.nx_huge_pages = h[0] & 64,
		.no_eager_split = h[0] & 128,
		.counters = (enum world_counters)((h[1] & 7) % NR_WORLD_COUNTERS),
		.yield_every = yields[(h[1] >> 3) & 3],
		.dirty_ring_bytes = rings[h[2] & 3],
		.disabled_quirks = (h[1] & 128) ? KVM_X86_QUIRK_SLOT_ZAP_ALL : 0,
		.nr_vcpus = 1 + !!(h[2] & 4),
		.phys_bits = phys[(h[2] >> 3) & 7],
		.checks = CHECK_ALL,
		.mutants = inject_mask,
		.on_violation = on_violation,
		.violation_arg = f,
	};
	if (h[1] & 32)
		cfg->manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				      ((h[1] & 64) ? KVM_DIRTY_LOG_INITIALLY_SET : 0);
	if ((h[2] & 64) || cfg->mmu == WORLD_MMU_SHADOW)
		cfg->guest_paging = levels[h[3] & 3];
	region_config(&cfg->mem[0], h[4], h[6], true);
	cfg->mem[0].gpa = 0;
	if (!(h[5] & 128)) {
		region_config(&cfg->mem[1], h[5], 0, false);
		cfg->mem[1].gpa = GB;
		cfg->mem[1].first_slot = 2;
		/* Not with the guest's tables: they would go above MAXPHYADDR. */
		if ((h[2] & 128) && !cfg->guest_paging)
			cfg->mem[1].gpa = (1ULL << cfg->phys_bits) - cfg->mem[1].size;
	}
}

int api_seq_run(const uint8_t *data, size_t size)
{
	struct sched_ctl_config sc = { .strategy = SCHED_STRATEGY_RANDOM };
	u8 hdr[API_SEQ_HDR] = { 0 };
	struct kvmmu_thread *thread;
	struct world_config cfg;
	struct fz *f;
	char why[160];
	u64 left;
	int m, k;

	memcpy(hdr, data, size < API_SEQ_HDR ? size : API_SEQ_HDR);
	f = calloc(1, sizeof(*f));
	if (!f)
		return 0;
	world_config_of(hdr, &cfg, f);
	warns_before = kvmmu_warn_count();
	if (world_create(&f->w, &cfg, why, sizeof(why))) {
		if (verbose)
			fprintf(stderr, "api_seq: no world: %s\n", why);
		if (kvmmu_warn_count() != warns_before)
			finding(f, "WARN while a world was refused: %s", why);
		free(f);
		return 0;
	}
	f->op_index = -1;
	f->nr_regions = (hdr[5] & 128) ? 1 : 2;
	for (m = 0; m < f->w.nr_mem; m++) {
		const struct world_mem_config *mc = &f->w.cfg.mem[m];

		if (m < f->nr_regions) {
			f->region_gpa[m] = mc->gpa;
			f->region_size[m] = mc->size;
			f->tainted[m] = calloc(1, mc->size >> PAGE_SHIFT);
			if (!f->tainted[m])
				abort();
		}
		for (k = 0; k < mc->nr_slots; k++) {
			unsigned long hva;
			gpa_t gpa;
			u64 sz;
			u32 id = mc->first_slot + (u32)k;

			world_mem_slot(&f->w, m, k, &gpa, &sz, &hva);
			model_apply(f, id, mc->slot_flags, gpa, sz, hva);
			if (m >= f->nr_regions && f->nr_tables < (int)ARRAY_SIZE(f->tables))
				f->tables[f->nr_tables++] = *model_find(f, id);
		}
	}
	/* No clean pass yet: the world starts as its configuration left it (nothing mapped). */
	if (world_check_begin(&f->w))
		finding(f, "the checkers cannot attach");

	/*
	 * The operations run in a thread of a controlled session, seeded from
	 * the header: it and the RCU callback thread take turns as the seed
	 * says, so one input is one run.
	 */
	left = (size > API_SEQ_HDR ? size - API_SEQ_HDR : 0) / API_SEQ_OP;
	f->ops = data + API_SEQ_HDR;
	f->nr_ops = left < API_SEQ_MAX_OPS ? (int)left : API_SEQ_MAX_OPS;
	sc.seed = hdr[7];
	if (sched_ctl_begin(&sc))
		finding(f, "no controlled session");
	if (kvmmu_thread_create(&thread, "ops", 0, run_ops, f))
		finding(f, "no thread for the operations");
	sched_ctl_run();
	kvmmu_thread_join(thread);
	sched_ctl_end();

	world_check_end(&f->w);
	check_clean(f, "the end-of-run checks");
	if (world_destroy(&f->w))
		finding(f, "frames leaked at teardown");
	if (check_violations(NULL, 0))
		finding(f, "checker violation at teardown");
	if (kvmmu_warn_count() != warns_before)
		finding(f, "WARN at teardown");
	for (m = 0; m < WORLD_MAX_MEM; m++)
		free(f->tainted[m]);
	free(f);
	return 0;
}
