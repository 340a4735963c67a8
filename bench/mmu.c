// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmarks of the MMU: what a fault, a zap, a dirty-log clear and a TLB
 * hit cost, what the tables cost in memory, and what a 256 GiB guest costs
 * in tag mode.
 *
 * Each timed figure runs the MMU operation on a VM built by the world layer
 * (modelled host, simulated CPU, no checkers, no tracing) and a
 * bare loop doing the same memory work on a radix of plain 4 KiB arrays,
 * repetitions interleaved, the best of each kept; the figure is their ratio.
 * The metadata and tag-mode figures are plain values (bytes, MiB).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bug.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mmu_internal.h"
#include "procinfo.h"
#include "rmap.h"
#include "rcu.h"
#include "thread.h"
#include "world.h"

#define MMU_REPS 7
/*
 * fault_scaling's passes last ~8 ms each, and a pass that overlaps some
 * other activity of the machine counts double in a ratio of two passes:
 * more turns, each cheap, so the best of each is found.
 */
#define SCALING_REPS (3 * MMU_REPS)
#define MB (1ULL << 20)
#define GB (1ULL << 30)

#define FAULT_BYTES (256 * MB)
/* fault_scaling_*: the most vCPUs (and threads) faulting at once. */
#define SCALING_MAX_VCPUS 4
#define TLB_BYTES (2 * MB)      /* 512 pages: the default 4K TLB holds them all */
#define TLB_PASSES 4000
#define TAG_BYTES (256 * GB)
#define TAG_CHUNK (4 * GB)      /* one program per chunk, for progress */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct figure {
	const char *name;
	const char *unit;
	double target;
	const char *direction; /* "<=" or ">=" */
	bool ratio;            /* a ratio against a baseline, else a plain value */
	const char *note;
};

static unsigned long warns_before;

static void begin(const struct figure *f, bench_progress_fn progress)
{
	warns_before = kvmmu_warn_count();
	progress(f->name);
}

/*
 * Fill @r in from its measured value (and baseline).  A figure that could
 * not be measured (@err), or during which a WARN fired (the code it timed
 * went wrong), says so on stderr and is reported as not met, its numbers
 * null.
 */
static void finish(struct bench_result *r, const struct figure *f, int err)
{
	double judged;

	if (!err && kvmmu_warn_count() != warns_before) {
		fprintf(stderr, "bench: %s: a WARN fired\n", f->name);
		err = -EIO;
	}
	if (err) {
		fprintf(stderr, "bench: %s: not measured: %s\n", f->name, strerror(-err));
		r->value = r->baseline = NAN;
	}
	if (!f->ratio)
		r->baseline = NAN;
	r->name = f->name;
	r->unit = f->unit;
	r->baseline_unit = f->ratio ? f->unit : "";
	r->ratio = f->ratio ? r->value / r->baseline : NAN;
	r->target = f->target;
	r->direction = f->direction;
	judged = f->ratio ? r->ratio : r->value;
	r->met = !err && (f->direction[0] == '<' ? judged <= f->target : judged >= f->target);
	r->note = f->note;
}

/* ---- a VM ---------------------------------------------------------------------------------- */

/*
 * The MMU the figures run on (kvmmu bench --mmu).  Under shadow paging the
 * guest runs on its own 4-level tables (the world's identity map), and its
 * programs start as a kernel on them.
 */
static enum world_mmu bench_mmu;
static int bench_paging;
static u64 bench_cr3;

/* world_create() for a figure, on the MMU of the run. */
static int bench_world_create(struct world *v, const struct world_config *o)
{
	struct world_config c = *o;
	int r;

	c.mmu = bench_mmu;
	if (bench_mmu == WORLD_MMU_SHADOW)
		c.guest_paging = 4;
	r = world_create(v, &c, NULL, 0);
	bench_paging = r ? 0 : v->cfg.guest_paging;
	bench_cr3 = r ? 0 : v->guest_cr3;
	return r;
}

/* Guest memory for a figure: anonymous 4K pages at gpa 0, under memslot 0. */
#define BENCH_MEM(size_, ...) { .size = (size_), .nr_slots = 1, __VA_ARGS__ }

/* KVM_SET_USER_MEMORY_REGION2: memslot 0 over the whole region, or deleted. */
static int bvm_slot(struct world *w, bool present)
{
	return present ? world_mem_set_flags(w, 0, w->cfg.mem[0].slot_flags) :
			 world_mem_delete_slots(w, 0);
}

/* KVM_RUN until the program's pass ends (memstress's GUEST_SYNC). */
static int run_to_pass_end(struct kvm_vcpu *vcpu)
{
	struct kvmmu_run run;

	for (;;) {
		int r = kvmmu_vcpu_run(vcpu, &run);

		if (r)
			return r;
		if (run.exit_reason == KVM_EXIT_HLT)
			return 0;
		if (run.exit_reason != KVM_EXIT_INTR)
			return -EIO;
	}
}

/* Load a memstress program of @passes sequential passes over [@base, @base + @size). */
static int load_memstress(struct kvm_vcpu *vcpu, u64 base, u64 size, u64 passes, u32 write)
{
	struct hw_program p = {
		.base = base, .size = size, .passes = passes, .write_percent = write,
		.value = HW_VALUE_CONSTANT, .paging = bench_paging, .cr3 = bench_cr3,
	};

	return hw_vcpu_load_program(vcpu->hw, &p);
}

/* One write pass over [@base, @base + @size) on @vcpu, in the calling thread. */
static int write_pass(struct kvm_vcpu *vcpu, u64 base, u64 size)
{
	int r = load_memstress(vcpu, base, size, 1, 100);

	return r ? r : run_to_pass_end(vcpu);
}

struct pass_arg {
	struct kvm_vcpu *vcpu;
	u64 base, size;
	int cpu; /* pinned there, or -1 */
};

/*
 * Pinned, as memstress pins vCPUs with -c: a pass lasts a few
 * milliseconds, less than the scheduler may take to move a new thread off
 * the CPU its sibling started on, so an unpinned figure measures placement.
 */
static int pass_thread(void *p)
{
	struct pass_arg *a = p;

	if (a->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(a->cpu, &set);
		/* Best effort: a CPU outside our mask only loses the pinning. */
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	return write_pass(a->vcpu, a->base, a->size);
}

/* Write passes over disjoint ranges, one thread per vCPU; returns wall nanoseconds. */
static double threaded_passes(struct pass_arg *args, int n, int *err)
{
	struct kvmmu_thread *t[SCALING_MAX_VCPUS];
	double t0 = now_ns();
	int i, r = 0;

	for (i = 0; i < n; i++) {
		r = kvmmu_thread_create(&t[i], "bench-vcpu", 0, pass_thread, &args[i]);
		if (r)
			break;
	}
	n = i;
	for (i = 0; i < n; i++) {
		int ret = kvmmu_thread_join(t[i]);

		if (ret && !r)
			r = ret;
	}
	*err = r;
	return now_ns() - t0;
}

/* ---- the bare baselines: a 4-level radix of plain 4 KiB arrays --------------------------- */

#define RADIX_PRESENT 1ULL
#define RADIX_WRITABLE 2ULL

/* Up to 1 GiB: one table at each upper level, up to 512 leaf tables. */
struct radix {
	_Atomic u64 *top, *l3, *l2;
	_Atomic u64 *leaves; /* nr_leaves tables, contiguous */
	u64 nr_leaves;
};

static _Atomic u64 *table_alloc(u64 nr)
{
	void *p = aligned_alloc(PAGE_SIZE, nr * PAGE_SIZE);

	if (p)
		memset(p, 0, nr * PAGE_SIZE);
	return p;
}

static u64 table_entry(_Atomic u64 *table)
{
	return (u64)(uintptr_t)table | RADIX_PRESENT | RADIX_WRITABLE;
}

static int radix_create(struct radix *rd, u64 pages)
{
	u64 i;

	rd->nr_leaves = DIV_ROUND_UP(pages, 512);
	if (rd->nr_leaves > 512)
		return -EINVAL;
	rd->top = table_alloc(1);
	rd->l3 = table_alloc(1);
	rd->l2 = table_alloc(1);
	rd->leaves = table_alloc(rd->nr_leaves);
	if (!rd->top || !rd->l3 || !rd->l2 || !rd->leaves)
		return -ENOMEM;
	atomic_store(&rd->top[0], table_entry(rd->l3));
	atomic_store(&rd->l3[0], table_entry(rd->l2));
	for (i = 0; i < rd->nr_leaves; i++)
		atomic_store(&rd->l2[i], table_entry(rd->leaves + i * 512));
	return 0;
}

static void radix_destroy(struct radix *rd)
{
	free(rd->top);
	free(rd->l3);
	free(rd->l2);
	free(rd->leaves);
}

/* Every leaf entry present and writable (untimed set-up of the scans). */
static void radix_fill(struct radix *rd)
{
	u64 i;

	for (i = 0; i < rd->nr_leaves * 512; i++)
		atomic_store_explicit(&rd->leaves[i], (i << PAGE_SHIFT) | RADIX_PRESENT |
				      RADIX_WRITABLE, memory_order_relaxed);
}

static void radix_clear(struct radix *rd)
{
	memset((void *)rd->leaves, 0, rd->nr_leaves * PAGE_SIZE);
}

static _Atomic u64 *entry_table(u64 e)
{
	return (_Atomic u64 *)(uintptr_t)(e & ~(PAGE_SIZE - 1));
}

/*
 * The bare install loop: per page, walk from the top, cmpxchg the leaf in,
 * then store 8 bytes into the page's 4 KiB frame of @frames, as the guest's
 * write that faulted does once the SPTE is there (the frame is cold in
 * both: 256 MiB of frames populated before the timing).
 */
static noinline void radix_install(struct radix *rd, u64 pages, _Atomic u64 *frames)
{
	u64 gfn;

	for (gfn = 0; gfn < pages; gfn++) {
		_Atomic u64 *t = rd->top;
		u64 old = 0;
		int level;

		for (level = 4; level > 1; level--) {
			u64 e = atomic_load_explicit(&t[(gfn >> (9 * (level - 1))) & 511],
						     memory_order_relaxed);

			t = entry_table(e);
		}
		if (!try_cmpxchg64(&t[gfn & 511], &old,
				   (gfn << PAGE_SHIFT) | RADIX_PRESENT | RADIX_WRITABLE)) {
			gfn--;
			continue;
		}
		atomic_store_explicit(&frames[gfn << (PAGE_SHIFT - 3)], 0x0123456789ABCDEFULL,
				      memory_order_relaxed);
	}
}

/*
 * The bare scan: walk the radix top-down and, in every leaf table, read each
 * entry and store it with @clear taken out (everything for a zap, the
 * writable bit for a dirty-log clear).
 */
static noinline void radix_scan_clear(struct radix *rd, u64 clear)
{
	int i3, i2, i1, i0;

	for (i3 = 0; i3 < 512; i3++) {
		u64 e3 = atomic_load_explicit(&rd->top[i3], memory_order_relaxed);
		_Atomic u64 *t3 = entry_table(e3);

		if (!(e3 & RADIX_PRESENT))
			continue;
		for (i2 = 0; i2 < 512; i2++) {
			u64 e2 = atomic_load_explicit(&t3[i2], memory_order_relaxed);
			_Atomic u64 *t2 = entry_table(e2);

			if (!(e2 & RADIX_PRESENT))
				continue;
			for (i1 = 0; i1 < 512; i1++) {
				u64 e1 = atomic_load_explicit(&t2[i1], memory_order_relaxed);
				_Atomic u64 *t1 = entry_table(e1);

				if (!(e1 & RADIX_PRESENT))
					continue;
				for (i0 = 0; i0 < 512; i0++) {
					u64 e = atomic_load_explicit(&t1[i0],
								     memory_order_relaxed);

					if (e & clear)
						atomic_store_explicit(&t1[i0], e & ~clear,
								      memory_order_relaxed);
				}
			}
		}
	}
}

/* ---- fault_4k ------------------------------------------------------------------------------ */

static int bench_fault_4k(struct world *v, struct bench_result *r)
{
	u64 pages = FAULT_BYTES >> PAGE_SHIFT;
	struct radix rd = { 0 };
	_Atomic u64 *frames;
	int rep, ret;

	/* The baseline's frames, populated as the subject's are (untimed). */
	frames = table_alloc(pages);
	ret = radix_create(&rd, pages);
	if (!ret && !frames)
		ret = -ENOMEM;
	if (ret)
		goto out;
	r->value = r->baseline = INFINITY;
	for (rep = 0; rep < MMU_REPS; rep++) {
		double t0;

		ret = bvm_slot(v, true);
		if (ret)
			break;
		ret = load_memstress(v->vcpus[0], 0, FAULT_BYTES, 1, 100);
		if (ret)
			break;
		t0 = now_ns();
		ret = run_to_pass_end(v->vcpus[0]);
		r->value = fmin(r->value, (now_ns() - t0) / (double)pages);
		if (ret)
			break;
		if (kvmmu_vm_stat(v->kvm, "pages_4k") != pages) {
			ret = -EIO;
			break;
		}
		ret = bvm_slot(v, false);
		if (ret)
			break;
		rcu_barrier();

		radix_clear(&rd);
		t0 = now_ns();
		radix_install(&rd, pages, frames);
		r->baseline = fmin(r->baseline, (now_ns() - t0) / (double)pages);
	}
out:
	free(frames);
	radix_destroy(&rd);
	return ret;
}

/* ---- fault_scaling_2v ------------------------------------------------------------------------ */

/* One write pass over FAULT_BYTES split among @n vCPUs on @n threads, the slot fresh: ns. */
static double scaling_pass(struct world *v, int n, int *err)
{
	struct pass_arg a[SCALING_MAX_VCPUS];
	double ns;
	int i;

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (i = 0; i < n; i++)
		a[i] = (struct pass_arg){ v->vcpus[i], (u64)i * (FAULT_BYTES / n), FAULT_BYTES / n,
					  cpus > 1 ? (int)(i % cpus) : -1 };
	*err = bvm_slot(v, true);
	if (*err)
		return INFINITY;
	ns = threaded_passes(a, n, err);
	if (!*err)
		*err = bvm_slot(v, false);
	rcu_barrier();
	return ns;
}

/*
 * Fault throughput on 2 and 4 vCPUs, each on its own thread over its part
 * of the memory, against 1 vCPU over all of it, measured in turns.
 */
static int bench_fault_scaling(struct world *v, struct bench_result *r2, struct bench_result *r4)
{
	double one = INFINITY, two = INFINITY, four = INFINITY;
	const double faults = (double)(FAULT_BYTES >> PAGE_SHIFT);
	int rep, ret = 0;

	for (rep = 0; rep < SCALING_REPS && !ret; rep++) {
		one = fmin(one, scaling_pass(v, 1, &ret));
		if (!ret)
			two = fmin(two, scaling_pass(v, 2, &ret));
		if (!ret)
			four = fmin(four, scaling_pass(v, 4, &ret));
	}
	/* Throughputs, in 4K faults per microsecond. */
	r2->value = faults / two * 1e3;
	r4->value = faults / four * 1e3;
	r2->baseline = r4->baseline = faults / one * 1e3;
	return ret;
}

/* ---- zap_1g, clear_dirty_1g, metadata_bytes_per_4k --------------------------------------- */

/*
 * The shadow MMU's: its pages and their headers, the rmap arrays of every
 * memslot at every level, and the rmap descriptors, per mapped 4K page.
 */
static double shadow_metadata_per_4k(struct kvm *kvm, u64 mapped)
{
	u64 bytes = kvm->arch.n_used_mmu_pages * (PAGE_SIZE + sizeof(struct kvm_mmu_page)) +
		    (u64)atomic64_read(&kvm->arch.nr_pte_list_descs) *
			    sizeof(struct pte_list_desc);
	struct kvm_memory_slot *slot;
	int bkt, i;

	kvm_for_each_memslot(slot, bkt, kvm_memslots(kvm)) {
		for (i = 0; i < KVM_NR_PAGE_SIZES; i++) {
			unsigned int shift = i * SPTE_LEVEL_BITS;

			if (slot->arch.rmap[i])
				bytes += (((slot->base_gfn + slot->npages - 1) >> shift) -
					  (slot->base_gfn >> shift) + 1) *
					 sizeof(struct kvm_rmap_head);
		}
	}
	return (double)bytes / (double)mapped;
}

/* Table pages (roots included) and their headers, per mapped 4K page. */
static double metadata_per_4k(struct kvm *kvm)
{
	struct kvm_mmu_page *root;
	u64 tables = (u64)atomic64_read(&kvm->arch.tdp_mmu_pages), roots = 0;
	u64 mapped = kvmmu_vm_stat(kvm, "pages_4k");

	if (!tdp_mmu_enabled(kvm))
		return shadow_metadata_per_4k(kvm, mapped);

	rcu_read_lock();
	list_for_each_entry_rcu(root, &kvm->arch.tdp_mmu_roots, link)
		roots++;
	rcu_read_unlock();
	return (double)((tables + roots) * (PAGE_SIZE + sizeof(struct kvm_mmu_page))) /
	       (double)mapped;
}

static int bench_zap_1g(struct bench_result *zap, struct bench_result *meta)
{
	/* A deleted slot zaps its own SPTEs, not every root. */
	const struct world_config o = {
		.tag_mode = true, .nr_vcpus = 1, .disabled_quirks = KVM_X86_QUIRK_SLOT_ZAP_ALL,
		.mem = { BENCH_MEM(GB) },
	};
	u64 pages = GB >> PAGE_SHIFT;
	struct radix rd = { 0 };
	struct world v;
	int rep, ret;

	zap->value = zap->baseline = INFINITY;
	meta->value = NAN;
	ret = bench_world_create(&v, &o);
	if (ret)
		return ret;
	ret = radix_create(&rd, pages);
	for (rep = 0; rep < MMU_REPS && !ret; rep++) {
		double t0;

		ret = bvm_slot(&v, true);
		if (!ret)
			ret = write_pass(v.vcpus[0], 0, GB);
		if (ret)
			break;
		if (kvmmu_vm_stat(v.kvm, "pages_4k") != pages) {
			ret = -EIO;
			break;
		}
		if (rep == 0)
			meta->value = metadata_per_4k(v.kvm);
		t0 = now_ns();
		ret = bvm_slot(&v, false);
		zap->value = fmin(zap->value, now_ns() - t0);
		rcu_barrier();
		if (!ret && kvmmu_vm_stat(v.kvm, "pages_4k") != 0)
			ret = -EIO;

		radix_fill(&rd);
		t0 = now_ns();
		radix_scan_clear(&rd, ~0ULL);
		zap->baseline = fmin(zap->baseline, now_ns() - t0);
	}
	radix_destroy(&rd);
	world_destroy(&v);
	zap->value /= 1e6;
	zap->baseline /= 1e6;
	return ret;
}

static int bench_clear_dirty_1g(struct bench_result *r)
{
	/* Manual protect without INITIALLY_SET. */
	const struct world_config o = {
		.tag_mode = true, .nr_vcpus = 1,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		.mem = { BENCH_MEM(GB, .slot_flags = KVM_MEM_LOG_DIRTY_PAGES) },
	};
	u64 pages = GB >> PAGE_SHIFT, words = pages / 64, i;
	unsigned long *bitmap = NULL;
	struct radix rd = { 0 };
	struct world v;
	int rep, ret;

	r->value = r->baseline = INFINITY;
	ret = bench_world_create(&v, &o);
	if (ret)
		return ret;
	bitmap = calloc(words, sizeof(*bitmap));
	ret = bitmap ? radix_create(&rd, pages) : -ENOMEM;
	if (!ret)
		ret = bvm_slot(&v, true);
	for (rep = 0; rep < MMU_REPS && !ret; rep++) {
		struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = bitmap };
		struct kvm_clear_dirty_log clear = {
			.slot = 0, .first_page = 0, .num_pages = (u32)pages,
			.dirty_bitmap = bitmap,
		};
		double t0;

		/* Every page written (faults the first time, fast faults after a clear). */
		ret = write_pass(v.vcpus[0], 0, GB);
		if (!ret)
			ret = kvmmu_get_dirty_log(v.kvm, &get);
		for (i = 0; !ret && i < words; i++) {
			if (bitmap[i] != ~0UL)
				ret = -EIO;
		}
		if (ret)
			break;
		t0 = now_ns();
		ret = kvmmu_clear_dirty_log(v.kvm, &clear);
		r->value = fmin(r->value, now_ns() - t0);

		radix_fill(&rd);
		t0 = now_ns();
		radix_scan_clear(&rd, RADIX_WRITABLE);
		r->baseline = fmin(r->baseline, now_ns() - t0);
	}
	radix_destroy(&rd);
	free(bitmap);
	world_destroy(&v);
	r->value /= 1e6;
	r->baseline /= 1e6;
	return ret;
}

/* ---- tlb_hit_access --------------------------------------------------------------------- */

static _Atomic u64 load_sink;

/* The plain loop: one 8-byte load per 4 KiB page of @buf, @passes times. */
static noinline void plain_loads(u8 *buf, u64 pages, u64 passes)
{
	u64 pass, i, sum = 0;

	for (pass = 0; pass < passes; pass++) {
		for (i = 0; i < pages; i++)
			sum += __atomic_load_n((u64 *)(void *)(buf + (i << PAGE_SHIFT)),
					       __ATOMIC_RELAXED);
	}
	atomic_store_explicit(&load_sink, sum, memory_order_relaxed);
}

/* ---- the shadow MMU: fault_4k_shadow, metadata_bytes_per_4k_shadow, cr3_switch ------------- */

/*
 * fault_4k under shadow paging (the guest on its own 4-level tables), in
 * the same run as fault_4k; the populated guest gives the shadow MMU's
 * metadata per mapped page.
 */
static int bench_fault_4k_shadow(struct bench_result *r, struct bench_result *meta)
{
	const struct world_config o = {
		.nr_vcpus = 1, .mem = { BENCH_MEM(FAULT_BYTES, .populate = true) },
	};
	enum world_mmu was = bench_mmu;
	struct world v;
	int ret;

	meta->value = NAN;
	bench_mmu = WORLD_MMU_SHADOW;
	ret = bench_world_create(&v, &o);
	bench_mmu = was;
	if (ret)
		return ret;
	ret = bench_fault_4k(&v, r);
	if (!ret) {
		/* Populated again, for the metadata: bench_fault_4k() leaves the slot deleted. */
		ret = bvm_slot(&v, true);
		ret = ret ?: write_pass(v.vcpus[0], 0, FAULT_BYTES);
		if (!ret)
			meta->value = shadow_metadata_per_4k(v.kvm, kvmmu_vm_stat(v.kvm, "pages_4k"));
	}
	world_destroy(&v);
	bench_paging = 0;
	bench_cr3 = 0;
	return ret;
}

#define CR3_SWITCHES 4000

/*
 * A guest switching between two tables (two PML4s over the same lower
 * tables) with a load after each switch: each MOV to CR3 exits, KVM takes
 * the root cached for the other table (prev_roots) and flushes its
 * context, the load walks the shadow table again.  Baseline: the same with
 * an INVLPG of the loaded address in place of each switch (the same exit
 * and re-entry, and the same walk, for the least KVM work).
 */
static int bench_cr3_switch(struct bench_result *r)
{
	const struct world_config o = {
		.nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		.mem = { BENCH_MEM(2 * MB) },
	};
	struct hw_access *sw = NULL, *inv = NULL;
	const struct world_mem_config *tables;
	gpa_t other;
	struct world v;
	int rep, ret, i;

	r->value = r->baseline = INFINITY;
	ret = world_create(&v, &o, NULL, 0);
	if (ret)
		return ret;
	/* The other PML4: a copy of the world's in the tables region's last page. */
	tables = &v.cfg.mem[1];
	other = tables->gpa + tables->size - PAGE_SIZE;
	for (i = 0; i < 512 && !ret; i++) {
		u64 e;

		ret = host_access(v.mm, tables->hva + (v.guest_cr3 - tables->gpa) + i * 8, false, &e);
		ret = ret ?: host_access(v.mm, tables->hva + (other - tables->gpa) + i * 8, true, &e);
	}
	sw = calloc(4 * CR3_SWITCHES, sizeof(*sw));
	inv = calloc(4 * CR3_SWITCHES, sizeof(*inv));
	if (!ret && (!sw || !inv))
		ret = -ENOMEM;
	for (i = 0; i < CR3_SWITCHES && !ret; i++) {
		gpa_t cr3 = (i & 1) ? v.guest_cr3 : other;

		sw[2 * i] = (struct hw_access){ .op = HW_MOV_CR3, .value = cr3 };
		sw[2 * i + 1] = (struct hw_access){ .op = HW_LOAD, .addr = PAGE_SIZE };
		inv[2 * i] = (struct hw_access){ .op = HW_INVLPG, .addr = PAGE_SIZE };
		inv[2 * i + 1] = (struct hw_access){ .op = HW_LOAD, .addr = PAGE_SIZE };
	}
	for (rep = 0; rep < MMU_REPS && !ret; rep++) {
		struct hw_program p = { .list = sw, .len = 2 * CR3_SWITCHES, .paging = 4,
					.cr3 = v.guest_cr3 };
		double t0;

		/* Both roots made and cached first: the timed run only switches. */
		if (!rep) {
			ret = hw_vcpu_load_program(v.vcpus[0]->hw, &p);
			ret = ret ?: run_to_pass_end(v.vcpus[0]);
		}
		ret = ret ?: hw_vcpu_load_program(v.vcpus[0]->hw, &p);
		t0 = now_ns();
		ret = ret ?: run_to_pass_end(v.vcpus[0]);
		r->value = fmin(r->value, (now_ns() - t0) / CR3_SWITCHES);

		p.list = inv;
		ret = ret ?: hw_vcpu_load_program(v.vcpus[0]->hw, &p);
		t0 = now_ns();
		ret = ret ?: run_to_pass_end(v.vcpus[0]);
		r->baseline = fmin(r->baseline, (now_ns() - t0) / CR3_SWITCHES);
	}
	/* Every switch back found its root cached: two roots made, ever. */
	if (!ret && v.kvm->stat.mmu_cache_miss > 8)
		ret = -EIO;
	free(sw);
	free(inv);
	world_destroy(&v);
	return ret;
}

#define SYNC_ROUNDS 400

/*
 * A guest table of 512 present entries made unsync by a store to one of
 * its entries, then synced whole by a full TLB flush (a MOV to CR3 of CR3:
 * the 512 SPTEs recomputed from their gPTEs): per round, vs the same store
 * to a data page and the same flush, with nothing unsync.
 */
static int bench_sync_512(struct bench_result *r)
{
	const struct world_config o = {
		.nr_vcpus = 1, .mmu = WORLD_MMU_SHADOW, .guest_paging = 4,
		.mem = { BENCH_MEM(4 * MB) },
	};
	struct hw_access *prep = NULL, *syncs = NULL, *plain = NULL;
	struct world_guest_pde pde;
	struct world v;
	u64 pt, pte5;
	int rep, ret, i;

	r->value = r->baseline = INFINITY;
	ret = world_create(&v, &o, NULL, 0);
	if (ret)
		return ret;
	/* The first 2M mapped at 4K through the page table the world keeps for it. */
	ret = world_guest_pde(&v, 0, &pde);
	pt = pde.table & PT64_BASE_ADDR_MASK;
	prep = calloc(SPTE_ENT_PER_PAGE + 2, sizeof(*prep));
	syncs = calloc(2 * SYNC_ROUNDS, sizeof(*syncs));
	plain = calloc(2 * SYNC_ROUNDS, sizeof(*plain));
	if (!ret && (!prep || !syncs || !plain))
		ret = -ENOMEM;
	if (!ret) {
		prep[0] = (struct hw_access){ .op = HW_STORE, .addr = pde.gpa, .value = pde.table };
		prep[1] = (struct hw_access){ .op = HW_FLUSH_TLB };
		for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
			prep[2 + i] = (struct hw_access){ .op = HW_STORE,
							  .addr = (u64)i * PAGE_SIZE, .value = 1 };
	}
	for (rep = 0; rep < MMU_REPS && !ret; rep++) {
		struct hw_program p = { .list = prep, .len = SPTE_ENT_PER_PAGE + 2, .paging = 4,
					.cr3 = v.guest_cr3 };
		double t0;

		/* Every entry present (and its gPTE accessed and dirty), the table in sync. */
		if (!rep) {
			ret = hw_vcpu_load_program(v.vcpus[0]->hw, &p);
			ret = ret ?: run_to_pass_end(v.vcpus[0]);
			ret = ret ?: host_access(v.mm, v.cfg.mem[1].hva + (pt - v.cfg.mem[1].gpa) + 5 * 8,
						 false, &pte5);
			for (i = 0; i < SYNC_ROUNDS && !ret; i++) {
				syncs[2 * i] = (struct hw_access){ .op = HW_STORE, .addr = pt + 5 * 8,
								   .value = pte5 };
				syncs[2 * i + 1] = (struct hw_access){ .op = HW_FLUSH_TLB };
				plain[2 * i] = (struct hw_access){ .op = HW_STORE, .addr = 6 * PAGE_SIZE,
								   .value = 6 };
				plain[2 * i + 1] = (struct hw_access){ .op = HW_FLUSH_TLB };
			}
		}
		p.list = syncs;
		p.len = 2 * SYNC_ROUNDS;
		ret = ret ?: hw_vcpu_load_program(v.vcpus[0]->hw, &p);
		t0 = now_ns();
		ret = ret ?: run_to_pass_end(v.vcpus[0]);
		r->value = fmin(r->value, (now_ns() - t0) / SYNC_ROUNDS);

		p.list = plain;
		ret = ret ?: hw_vcpu_load_program(v.vcpus[0]->hw, &p);
		t0 = now_ns();
		ret = ret ?: run_to_pass_end(v.vcpus[0]);
		r->baseline = fmin(r->baseline, (now_ns() - t0) / SYNC_ROUNDS);
	}
	/* The table was made unsync and synced back each round: none is left unsync. */
	if (!ret && v.kvm->stat.mmu_unsync)
		ret = -EIO;
	free(prep);
	free(syncs);
	free(plain);
	world_destroy(&v);
	return ret;
}

static int bench_tlb_hit(struct bench_result *r)
{
	const struct world_config o = {
		.nr_vcpus = 1, .mem = { BENCH_MEM(TLB_BYTES, .populate = true) },
	};
	u64 pages = TLB_BYTES >> PAGE_SHIFT, accesses = pages * TLB_PASSES;
	struct hw_vcpu_stats st0, st1;
	struct kvm_vcpu *vcpu;
	u8 *buf = NULL;
	struct world v;
	int rep, ret;
	u64 pass;

	r->value = r->baseline = INFINITY;
	ret = bench_world_create(&v, &o);
	if (ret)
		return ret;
	vcpu = v.vcpus[0];
	buf = aligned_alloc(PAGE_SIZE, TLB_BYTES);
	ret = buf ? 0 : -ENOMEM;
	if (!ret) {
		memset(buf, 1, TLB_BYTES);
		ret = bvm_slot(&v, true);
	}
	/* The first pass faults every page in and fills the TLB; the rest hit. */
	if (!ret)
		ret = load_memstress(vcpu, 0, TLB_BYTES, 0, 0);
	if (!ret)
		ret = run_to_pass_end(vcpu);
	hw_vcpu_get_stats(vcpu->hw, &st0);
	for (rep = 0; rep < MMU_REPS && !ret; rep++) {
		double t0 = now_ns();

		for (pass = 0; pass < TLB_PASSES && !ret; pass++)
			ret = run_to_pass_end(vcpu);
		r->value = fmin(r->value, (now_ns() - t0) / (double)accesses);

		t0 = now_ns();
		plain_loads(buf, pages, TLB_PASSES);
		r->baseline = fmin(r->baseline, (now_ns() - t0) / (double)accesses);
	}
	hw_vcpu_get_stats(vcpu->hw, &st1);
	/* Hits only: a miss or an exit other than the pass end would be another figure. */
	if (!ret && (st1.tlb_misses != st0.tlb_misses ||
		     st1.exits_violation != st0.exits_violation ||
		     st1.exits_intr != st0.exits_intr))
		ret = -EIO;
	free(buf);
	world_destroy(&v);
	return ret;
}

/* ---- tag_mode_256g ---------------------------------------------------------------------- */

struct tag_result {
	int err;
	double rss_mib;
	double seconds;
};

struct tag_arg {
	struct kvm_vcpu *vcpu;
	int first;        /* chunks first, first + 2, ... */
	bench_progress_fn progress;
	_Atomic u64 *done;
};

static int tag_thread(void *p)
{
	struct tag_arg *a = p;
	u64 chunk, nr = TAG_BYTES / TAG_CHUNK;
	char msg[64];

	for (chunk = (u64)a->first; chunk < nr; chunk += 2) {
		int r = write_pass(a->vcpu, chunk * TAG_CHUNK, TAG_CHUNK);
		u64 done;

		if (r)
			return r;
		done = atomic_fetch_add(a->done, 1) + 1;
		if (done % 8 == 0) {
			snprintf(msg, sizeof(msg), "tag_mode_256g: %llu of %llu GiB populated",
				 (unsigned long long)(done * TAG_CHUNK / GB),
				 (unsigned long long)(TAG_BYTES / GB));
			a->progress(msg);
		}
	}
	return 0;
}

/* In the child: build the VM, populate every page at 4K from two vCPUs, read the peak. */
static struct tag_result tag_child(bench_progress_fn progress)
{
	const struct world_config o = { .tag_mode = true, .nr_vcpus = 2, .mem = { BENCH_MEM(TAG_BYTES) } };
	unsigned long warns = kvmmu_warn_count();
	struct tag_result res = { 0 };
	struct tag_arg args[2];
	_Atomic u64 done = 0;
	struct kvmmu_thread *t[SCALING_MAX_VCPUS];
	double t0 = now_ns();
	struct world v;
	int i;

	res.err = world_create(&v, &o, NULL, 0);
	if (!res.err)
		res.err = bvm_slot(&v, true);
	for (i = 0; i < 2 && !res.err; i++) {
		args[i] = (struct tag_arg){ v.vcpus[i], i, progress, &done };
		res.err = kvmmu_thread_create(&t[i], "bench-vcpu", 0, tag_thread, &args[i]);
		if (res.err)
			break;
	}
	while (i--) {
		int r = kvmmu_thread_join(t[i]);

		if (r && !res.err)
			res.err = r;
	}
	if (!res.err && kvmmu_vm_stat(v.kvm, "pages_4k") != TAG_BYTES >> PAGE_SHIFT)
		res.err = -EIO;
	/* The parent's count does not see the child's WARNs: report them as a failure. */
	if (!res.err && kvmmu_warn_count() != warns)
		res.err = -EIO;
	res.rss_mib = (double)kvmmu_peak_rss_kib() / 1024.0;
	res.seconds = (now_ns() - t0) / 1e9;
	/* No teardown: the process ends, and with it every mapping. */
	return res;
}

static int bench_tag_mode(struct bench_result *r, bench_progress_fn progress, double *seconds)
{
	struct tag_result res = { .err = -EIO };
	int fds[2], status;
	pid_t pid;

	/*
	 * Only the forking thread lives on in the child: stop the RCU
	 * callback thread first, so the child starts its own.
	 */
	rcu_shutdown();
	if (pipe(fds))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (!pid) {
		close(fds[0]);
		res = tag_child(progress);
		if (write(fds[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &res, sizeof(res)) != sizeof(res))
		res.err = -EIO;
	close(fds[0]);
	waitpid(pid, &status, 0);
	r->value = res.rss_mib;
	*seconds = res.seconds;
	return res.err;
}

/* ---- all of them ------------------------------------------------------------------------ */

static const struct figure fig_fault = {
	"fault_4k", "ns", 25, "<=", true,
	"4K write fault on a page present in the host (TLB miss, walk, exit, KVM fault, "
	"re-entry, re-walk), per page of a 256 MiB memstress pass, vs a walk of a 4-level "
	"radix from the top and a cmpxchg of the leaf",
};
static const struct figure fig_scaling = {
	"fault_scaling_2v", "/us", 1.6, ">=", true,
	"4K faults per microsecond: 2 vCPUs on 2 threads, disjoint halves of 256 MiB, vs "
	"1 vCPU on 1 thread over all of it",
};
static const struct figure fig_scaling4 = {
	"fault_scaling_4v", "/us", 1.6, ">=", true,
	"4K faults per microsecond: 4 vCPUs on 4 threads, disjoint quarters of 256 MiB, vs "
	"1 vCPU on 1 thread over all of it (a machine with fewer than 4 cores caps it at "
	"its core count)",
};
static const struct figure fig_zap = {
	"zap_1g", "ms", 8, "<=", true,
	"deleting a 1 GiB slot mapped at 4K, SLOT_ZAP_ALL quirk off (the TDP MMU's leaf zap "
	"of the slot under the write lock, then one flush), vs reading and clearing 262144 "
	"entries of a 4-level radix",
};
static const struct figure fig_meta = {
	"metadata_bytes_per_4k", "B", 8.6, "<=", false,
	"(SPTE tables + roots) x (4096 + sizeof(struct kvm_mmu_page)) per mapped 4K page, "
	"1 GiB guest populated at 4K",
};
static const struct figure fig_meta_shadow = {
	"metadata_bytes_per_4k", "B", 16.4, "<=", false,
	"the shadow MMU's: pages x (4096 + sizeof(struct kvm_mmu_page)) + rmap arrays + "
	"rmap descriptors per mapped 4K page, 1 GiB guest populated at 4K (KVM: about 16.4 B)",
};
static const struct figure fig_clear = {
	"clear_dirty_1g", "ms", 8, "<=", true,
	"KVM_CLEAR_DIRTY_LOG of a fully dirty 1 GiB slot at 4K (manual protect: every SPTE "
	"write-protected, one flush) vs reading 262144 radix entries and clearing their W bit",
};
static const struct figure fig_tlb = {
	"tlb_hit_access", "ns", 5, "<=", true,
	"guest 8-byte load that hits the TLB, memstress read passes over 2 MiB (each "
	"pass-end exit included) vs a plain 8-byte load per 4 KiB of a 2 MiB buffer",
};
static const struct figure fig_fault_shadow = {
	"fault_4k_shadow", "ns", 60, "<=", true,
	"fault_4k under shadow paging: the guest on its own 4-level tables (an identity map, "
	"2M guest pages over 4K host pages), KVM walking them and shadowing them, vs the same "
	"radix install as fault_4k",
};
static const struct figure fig_meta_shadow_paging = {
	"metadata_bytes_per_4k_shadow", "B", 16.4, "<=", false,
	"shadow paging's pages x (4096 + sizeof(struct kvm_mmu_page)) + rmap arrays + rmap "
	"descriptors per mapped 4K page, 256 MiB guest populated (KVM: about 16.4 B)",
};
static const struct figure fig_cr3 = {
	"cr3_switch", "ns", 3, "<=", true,
	"a guest MOV to CR3 between two tables whose roots KVM has cached (prev_roots: the "
	"exit, the switch, a flush of the root's context) and a load after it, vs an INVLPG "
	"exit and the same load",
};
static const struct figure fig_sync = {
	"sync_512", "ns", 20, "<=", true,
	"a store to one entry of a guest page table with 512 present entries (the write fault "
	"that makes it unsync) and a MOV to CR3 of CR3 that syncs it whole, vs a store to a "
	"data page and the same flush with nothing unsync",
};
static const struct figure fig_tag = {
	"tag_mode_256g", "MiB", 4096, "<=", false,
	"peak RSS (VmHWM) of a child process that populates a 256 GiB tag-mode guest at 4K "
	"with 2 vCPUs",
};

/* A figure that does not apply to the MMU of the run: say so, and leave it out. */
static void not_run(const struct figure *f, const char *why)
{
	fprintf(stderr, "bench: %s: not run with --mmu %s: %s\n", f->name,
		world_mmu_name(bench_mmu), why);
}

/* Keep @r as the next result if its figure was asked for. */
static void keep(struct bench_result *out, int *n, const struct bench_result *r,
		 const struct figure *f)
{
	if (bench_wanted(f->name))
		out[(*n)++] = *r;
}

int bench_run_mmu(struct bench_result *out, int max, bench_progress_fn progress,
		  enum world_mmu mmu)
{
	const struct world_config fo = {
		.nr_vcpus = SCALING_MAX_VCPUS, .mem = { BENCH_MEM(FAULT_BYTES, .populate = true) },
	};
	const char *tagged = "its guest is in tag mode, and shadow paging shadows guest tables "
			     "that live in bytes";
	double tag_seconds = 0;
	struct bench_result r = { 0 }, meta = { 0 }, clear = { 0 }, r4 = { 0 };
	int ret, n = 0;
	char msg[64];
	struct world v;

	if (max < 13)
		return 0;
	bench_mmu = mmu;

	/* One VM, its host memory faulted in once, for both fault figures. */
	if (bench_wanted(fig_fault.name) || bench_wanted(fig_scaling.name) ||
	    bench_wanted(fig_scaling4.name)) {
		begin(&fig_fault, progress);
		ret = bench_world_create(&v, &fo);
		if (!ret)
			ret = bench_fault_4k(&v, &r);
		finish(&r, &fig_fault, ret);
		keep(out, &n, &r, &fig_fault);

		begin(&fig_scaling, progress);
		if (v.kvm)
			ret = bench_fault_scaling(&v, &r, &r4);
		finish(&r, &fig_scaling, ret);
		finish(&r4, &fig_scaling4, ret);
		keep(out, &n, &r, &fig_scaling);
		keep(out, &n, &r4, &fig_scaling4);
		if (v.kvm)
			world_destroy(&v);
	}

	/* zap_1g's guest, once populated, gives metadata_bytes_per_4k. */
	if (mmu != WORLD_MMU_SHADOW) {
		const struct figure *fm = mmu == WORLD_MMU_TDP ? &fig_meta : &fig_meta_shadow;

		if (bench_wanted(fig_zap.name) || bench_wanted(fm->name)) {
			begin(&fig_zap, progress);
			ret = bench_zap_1g(&r, &meta);
			finish(&r, &fig_zap, ret);
			finish(&meta, fm, ret);
			keep(out, &n, &r, &fig_zap);
		}
		if (bench_wanted(fig_clear.name)) {
			begin(&fig_clear, progress);
			finish(&clear, &fig_clear, bench_clear_dirty_1g(&clear));
			keep(out, &n, &clear, &fig_clear);
		}
		if (bench_wanted(fm->name))
			keep(out, &n, &meta, fm);
	} else {
		not_run(&fig_zap, tagged);
		not_run(&fig_clear, tagged);
		not_run(&fig_meta, tagged);
	}

	if (bench_wanted(fig_tlb.name)) {
		begin(&fig_tlb, progress);
		finish(&r, &fig_tlb, bench_tlb_hit(&r));
		keep(out, &n, &r, &fig_tlb);
	}

	/* The shadow MMU's own figures, whatever the MMU of the run. */
	if (bench_wanted(fig_fault_shadow.name) || bench_wanted(fig_meta_shadow_paging.name)) {
		begin(&fig_fault_shadow, progress);
		ret = bench_fault_4k_shadow(&r, &meta);
		finish(&r, &fig_fault_shadow, ret);
		finish(&meta, &fig_meta_shadow_paging, ret);
		keep(out, &n, &r, &fig_fault_shadow);
		keep(out, &n, &meta, &fig_meta_shadow_paging);
	}
	if (bench_wanted(fig_cr3.name)) {
		begin(&fig_cr3, progress);
		finish(&r, &fig_cr3, bench_cr3_switch(&r));
		keep(out, &n, &r, &fig_cr3);
	}
	if (bench_wanted(fig_sync.name)) {
		begin(&fig_sync, progress);
		finish(&r, &fig_sync, bench_sync_512(&r));
		keep(out, &n, &r, &fig_sync);
	}

	if (!bench_wanted(fig_tag.name))
		return n;
	if (mmu != WORLD_MMU_TDP) {
		not_run(&fig_tag, "the figure is the TDP MMU's memory at 256 GiB");
		return n;
	}
	begin(&fig_tag, progress);
	ret = bench_tag_mode(&r, progress, &tag_seconds);
	finish(&r, &fig_tag, ret);
	keep(out, &n, &r, &fig_tag);
	if (!ret) {
		snprintf(msg, sizeof(msg), "%s: populated in %.0f s", fig_tag.name, tag_seconds);
		progress(msg);
	}
	return n;
}
