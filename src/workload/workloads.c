// SPDX-License-Identifier: GPL-2.0-only
/*
 * The workloads, each modelled on a KVM selftest and printing its lines.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "bitops.h"
#include "wait.h"
#include "wl_internal.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)

static const struct wl_pass populate = { .write_percent = 100 };

static double pages_of(struct wl_ctx *c, u64 bytes)
{
	return (double)(bytes / PAGE_SIZE);
}

static void fail(struct wl_ctx *c, const char *what)
{
	/* A run a violation stopped proves nothing more. */
	if (atomic_load(&c->aborted))
		return;
	if (!c->res->failure[0])
		snprintf(c->res->failure, sizeof(c->res->failure), "%s", what);
}

/* ---- demand-paging (demand_paging_test without userfaultfd) --------------------------------- */

static int demand_paging(struct wl_ctx *c)
{
	double t, per_vcpu;

	wl_progress(c, "populate");
	t = wl_pass_all(c, &populate);
	per_vcpu = pages_of(c, c->cfg.mem_per_vcpu) / t;
	wl_print_time(c, "Total guest execution time", t);
	wl_print(c, "Per-vcpu demand paging rate: %f pgs/sec/vcpu\n", per_vcpu);
	wl_print(c, "Overall demand paging rate: %f pgs/sec\n", per_vcpu * c->cfg.vcpus);
	wl_metric_set(c, "total_guest_execution_s", t);
	wl_metric_set(c, "per_vcpu_rate_pgs", per_vcpu);
	wl_metric_set(c, "overall_rate_pgs", per_vcpu * c->cfg.vcpus);
	return 0;
}

static const struct workload demand_paging_wl = {
	.name = "demand-paging",
	.description = "demand_paging_test: every vCPU touches each page of its slice once",
	.default_mem_per_vcpu = GB,
	.default_slots = 1,
	.default_iterations = 1,
	.min_iterations = 1,
	.run = demand_paging,
};

/* ---- dirty-log (dirty_log_perf_test, manual protect with INITIALLY_SET) -------------------------- */

/*
 * Iterations with their own figures in the JSON document; every iteration
 * prints its lines, and the totals cover them all.
 */
#define DIRTY_LOG_ITERATION_METRICS 8

static int dirty_log(struct wl_ctx *c)
{
	struct wl_pass dirty = { .write_percent = c->cfg.write_percent, .random = c->cfg.random };
	double t, dirty_total = 0, get_total = 0, clear_total = 0;
	unsigned long **bitmaps;
	u64 dirty_pages;
	char name[40];
	int it, i, r = 0;

	/* A bitmap per slot: CLEAR hands back what GET reported, as the selftest does. */
	bitmaps = calloc((size_t)wl_mem(c)->nr_slots, sizeof(*bitmaps));
	if (!bitmaps)
		return -ENOMEM;
	for (i = 0; i < wl_mem(c)->nr_slots; i++) {
		unsigned long hva;
		u64 gpa, size;

		world_mem_slot(&c->world, 0, i, &gpa, &size, &hva);
		bitmaps[i] = calloc(BITS_TO_LONGS(size / PAGE_SIZE), sizeof(long));
		if (!bitmaps[i]) {
			r = -ENOMEM;
			goto out;
		}
	}

	wl_progress(c, "populate");
	t = wl_pass_all(c, &populate);
	wl_print_time(c, "Populate memory time", t);
	wl_metric_set(c, "populate_s", t);

	t = wl_set_slot_flags(c, KVM_MEM_LOG_DIRTY_PAGES);
	wl_print_time(c, "Enabling dirty logging time", t);
	wl_metric_set(c, "enabling_dirty_logging_s", t);

	for (it = 1; it <= c->cfg.iterations && !c->failed && !wl_stopped(c); it++) {
		snprintf(name, sizeof(name), "iteration %d", it);
		wl_progress(c, name);
		t = wl_pass_all(c, &dirty);
		dirty_total += t;
		wl_print(c, "Iteration %d dirty memory time: %.9fs\n", it, t);
		snprintf(name, sizeof(name), "iteration_%d_dirty_s", it);
		if (it <= DIRTY_LOG_ITERATION_METRICS)
			wl_metric_set(c, name, t);

		dirty_pages = 0;
		t = wl_now();
		for (i = 0; i < wl_mem(c)->nr_slots; i++) {
			struct kvm_dirty_log log = { .slot = (u32)i, .dirty_bitmap = bitmaps[i] };
			unsigned long hva;
			u64 gpa, size, b;

			if (kvmmu_get_dirty_log(c->world.kvm, &log))
				c->failed = true;
			world_mem_slot(&c->world, 0, i, &gpa, &size, &hva);
			for (b = 0; b < BITS_TO_LONGS(size / PAGE_SIZE); b++)
				dirty_pages += (u64)__builtin_popcountl(bitmaps[i][b]);
		}
		t = wl_now() - t;
		get_total += t;
		wl_print(c, "Iteration %d get dirty log time: %.9fs\n", it, t);
		if (it <= DIRTY_LOG_ITERATION_METRICS) {
			snprintf(name, sizeof(name), "iteration_%d_get_s", it);
			wl_metric_set(c, name, t);
			snprintf(name, sizeof(name), "iteration_%d_dirty_pages", it);
			wl_metric_set(c, name, (double)dirty_pages);
		}

		t = wl_now();
		for (i = 0; i < wl_mem(c)->nr_slots; i++) {
			struct kvm_clear_dirty_log clr = { .slot = (u32)i, .dirty_bitmap = bitmaps[i] };
			unsigned long hva;
			u64 gpa, size;

			world_mem_slot(&c->world, 0, i, &gpa, &size, &hva);
			clr.num_pages = (u32)(size / PAGE_SIZE);
			if (kvmmu_clear_dirty_log(c->world.kvm, &clr))
				c->failed = true;
		}
		t = wl_now() - t;
		clear_total += t;
		wl_print(c, "Iteration %d clear dirty log time: %.9fs\n", it, t);
		snprintf(name, sizeof(name), "iteration_%d_clear_s", it);
		if (it <= DIRTY_LOG_ITERATION_METRICS)
			wl_metric_set(c, name, t);

		/* Every page was written once in a sequential full-write pass. */
		if (c->cfg.write_percent == 100 && !c->cfg.random &&
		    dirty_pages != wl_mem(c)->size / PAGE_SIZE)
			fail(c, "a full write pass left pages out of the dirty log");
	}

	t = wl_set_slot_flags(c, 0);
	wl_print_time(c, "Disabling dirty logging time", t);
	wl_metric_set(c, "disabling_dirty_logging_s", t);
	wl_print(c, "Get dirty log over %d iterations took %.9fs. (Avg %.9fs/iteration)\n",
		 c->cfg.iterations, get_total, get_total / c->cfg.iterations);
	wl_print(c, "Clear dirty log over %d iterations took %.9fs. (Avg %.9fs/iteration)\n",
		 c->cfg.iterations, clear_total, clear_total / c->cfg.iterations);
	wl_metric_set(c, "dirty_memory_total_s", dirty_total);
	wl_metric_set(c, "get_dirty_log_total_s", get_total);
	wl_metric_set(c, "clear_dirty_log_total_s", clear_total);
out:
	for (i = 0; i < wl_mem(c)->nr_slots; i++)
		free(bitmaps[i]);
	free(bitmaps);
	return r;
}

static const struct workload dirty_log_wl = {
	.name = "dirty-log",
	.description = "dirty_log_perf_test: populate, enable logging, dirty/get/clear, disable",
	.default_mem_per_vcpu = GB,
	.default_slots = 1,
	.default_iterations = 2,
	.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
	.min_iterations = 2,
	.run = dirty_log,
};

/* ---- access-tracking (access_tracking_perf_test, page_idle flavour) -------------------------- */

/* Mark every page idle (clear_young, no flush); returns the pages still idle. */
static u64 mark_idle(struct wl_ctx *c)
{
	u64 off, idle = 0;

	for (off = 0; off < wl_mem(c)->size; off += PAGE_SIZE) {
		if (!host_clear_young(c->world.mm, wl_mem(c)->hva + off, wl_mem(c)->hva + off + PAGE_SIZE))
			idle++;
	}
	return idle;
}

static void phase_line(struct wl_ctx *c, const char *label, const char *metric, double t)
{
	wl_print(c, "%-30s: %.9fs\n", label, t);
	wl_metric_set(c, metric, t);
}

static int access_tracking(struct wl_ctx *c)
{
	static const struct wl_pass wr = { .write_percent = 100 }, rd = { .write_percent = 0 };
	u64 pages = wl_mem(c)->size / PAGE_SIZE, idle;
	double t;
	int round;

	wl_progress(c, "populate");
	phase_line(c, "Populating memory", "populating_memory_s", wl_pass_all(c, &populate));
	phase_line(c, "Writing to populated memory", "writing_to_populated_memory_s",
		   wl_pass_all(c, &wr));
	phase_line(c, "Reading from populated memory", "reading_from_populated_memory_s",
		   wl_pass_all(c, &rd));
	for (round = 0; round < 2; round++) {
		wl_progress(c, "mark idle");
		t = wl_now();
		idle = mark_idle(c);
		phase_line(c, "Mark memory idle", round ? "mark_memory_idle_2_s" :
			   "mark_memory_idle_1_s", wl_now() - t);
		wl_metric_set(c, round ? "still_idle_pct_2" : "still_idle_pct_1",
			      100.0 * (double)idle / (double)pages);
		/* Accessed since the last marking: almost nothing may still be idle. */
		if (round && idle > pages / 10)
			wl_print(c, "WARNING: %llu out of %llu pages are still idle\n",
				 (unsigned long long)idle, (unsigned long long)pages);
		if (!round)
			phase_line(c, "Writing to idle memory", "writing_to_idle_memory_s",
				   wl_pass_all(c, &wr));
		else
			phase_line(c, "Reading from idle memory", "reading_from_idle_memory_s",
				   wl_pass_all(c, &rd));
	}
	return 0;
}

static const struct workload access_tracking_wl = {
	.name = "access-tracking",
	.description = "access_tracking_perf_test: accesses, then clear_young marks memory idle",
	.default_mem_per_vcpu = GB,
	.default_slots = 1,
	.default_iterations = 1,
	.min_iterations = 1,
	.run = access_tracking,
};

/* ---- memslot-modification (memslot_modification_stress_test) ---------------------------------- */

struct churn {
	unsigned long dummy_hva;
	u64 dummy_gpa;
	u32 slot;
	u64 count;
	bool present;
	int error;
};

/* Add or delete the one-page dummy slot just below guest memory. */
static void churn_poll(struct wl_ctx *c, void *arg)
{
	struct churn *ch = arg;
	int r;

	r = world_set_memslot(&c->world, ch->slot, 0, ch->dummy_gpa, ch->present ? 0 : PAGE_SIZE,
			ch->dummy_hva);
	if (r && !ch->error)
		ch->error = r;
	ch->present = !ch->present;
	ch->count++;
}

static int churn_init(struct wl_ctx *c, struct churn *ch)
{
	struct host_mmap_args a = {
		.len = PAGE_SIZE, .vm_flags = VM_READ | VM_WRITE, .backing = HOST_BACKING_ANON,
	};

	memset(ch, 0, sizeof(*ch));
	ch->slot = (u32)wl_mem(c)->nr_slots;
	ch->dummy_gpa = wl_mem(c)->gpa - PAGE_SIZE;
	return host_mmap(c->world.mm, &a, &ch->dummy_hva);
}

static int memslot_modification(struct wl_ctx *c)
{
	struct wl_pass p = { .write_percent = c->cfg.write_percent, .random = c->cfg.random };
	struct churn ch;
	double t, total = 0;
	int it, r;

	r = churn_init(c, &ch);
	if (r)
		return r;
	wl_progress(c, "populate");
	t = wl_pass_all(c, &populate);
	wl_print_time(c, "Populate memory time", t);
	wl_metric_set(c, "populate_s", t);
	for (it = 1; it <= c->cfg.iterations && !wl_stopped(c); it++) {
		wl_pass_start(c, &p);
		total += wl_pass_wait(c, churn_poll, &ch);
	}
	if (ch.present)
		churn_poll(c, &ch);
	wl_print_time(c, "Guest execution time", total);
	wl_print(c, "Memslot modifications: %llu (%.0f/s)\n", (unsigned long long)ch.count,
		 (double)ch.count / total);
	wl_metric_set(c, "guest_execution_s", total);
	wl_metric_set(c, "memslot_modifications", (double)ch.count);
	if (ch.error)
		fail(c, "adding or deleting the dummy memslot failed");
	return 0;
}

static const struct workload memslot_modification_wl = {
	.name = "memslot-modification",
	.description = "memslot_modification_stress_test: vCPUs run while a dummy slot comes and goes",
	.default_mem_per_vcpu = 64 * MB,
	.default_slots = 1,
	.default_iterations = 8,
	.min_iterations = 1,
	.run = memslot_modification,
};

/* ---- memslot-perf (memslot_perf_test: map, unmap, move active, rw) ------------------------------ */

static double slot_setup(struct wl_ctx *c)
{
	double t;

	/* Delete every slot, then time adding them all back. */
	world_mem_delete_slots(&c->world, 0);
	t = wl_now();
	wl_set_slot_flags(c, wl_mem(c)->slot_flags);
	return wl_now() - t;
}

struct perf_test {
	const char *name;
	/* One iteration; returns false on a failed check. */
	bool (*iteration)(struct wl_ctx *c, int it);
};

/* The guest writes one half while the host drops the other; halves swap. */
static bool perf_map(struct wl_ctx *c, int it)
{
	u64 half = wl_mem(c)->size / 2, mine = (u64)(it & 1) * half, other = half - mine;
	struct wl_pass p = { .write_percent = 100, .base = wl_mem(c)->gpa + mine, .size = half };

	wl_pass_start(c, &p);
	host_madvise_dontneed(c->world.mm, wl_mem(c)->hva + other, half);
	wl_pass_wait(c, NULL, NULL);
	return !c->failed;
}

/* The guest touches a page in each half; the host drops one half page by page. */
static bool perf_unmap(struct wl_ctx *c, int it)
{
	u64 half = wl_mem(c)->size / 2, off;
	struct wl_pass p = { .write_percent = 100, .base = wl_mem(c)->gpa + (u64)(it & 1) * half,
			     .size = PAGE_SIZE };

	wl_pass_all(c, &p);
	for (off = 0; off < half; off += PAGE_SIZE)
		host_madvise_dontneed(c->world.mm, wl_mem(c)->hva + (u64)(it & 1) * half + off, PAGE_SIZE);
	return !c->failed;
}

/* The last slot moves away and back while the guest writes in it. */
static bool perf_move_active(struct wl_ctx *c, int it)
{
	int last = wl_mem(c)->nr_slots - 1;
	unsigned long hva;
	u64 gpa, size;
	struct wl_pass p = { .write_percent = 100 };
	bool ok;

	world_mem_slot(&c->world, 0, last, &gpa, &size, &hva);
	p.base = gpa;
	p.size = size;
	wl_pass_start(c, &p);
	ok = !world_set_memslot(&c->world, (u32)last, wl_mem(c)->slot_flags, gpa + 64 * GB, size, hva) &&
	     !world_set_memslot(&c->world, (u32)last, wl_mem(c)->slot_flags, gpa, size, hva);
	wl_pass_wait(c, NULL, NULL);
	return ok && !c->failed;
}

/* The guest writes every page; the host reads each back. */
static bool perf_rw(struct wl_ctx *c, int it)
{
	struct wl_pass p = { .write_percent = 100 };
	u64 off, val;

	wl_pass_all(c, &p);
	for (off = 0; off < wl_mem(c)->size; off += PAGE_SIZE) {
		/* HW_VALUE_PATTERN of vCPU 0, pass 0: the page index. */
		if (host_access(c->world.mm, wl_mem(c)->hva + off, false, &val) || val != off / PAGE_SIZE)
			return false;
	}
	return !c->failed;
}

static const struct perf_test perf_tests[] = {
	{ "map", perf_map },
	{ "unmap", perf_unmap },
	{ "move active area", perf_move_active },
	{ "RW", perf_rw },
};

static int memslot_perf(struct wl_ctx *c)
{
	double best_setup = 0;
	char metric[40];
	size_t i;
	int it;

	if (c->cfg.tag_mode)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(perf_tests) && !wl_stopped(c); i++) {
		const struct perf_test *pt = &perf_tests[i];
		double setup, t, total = 0;
		char *m;

		wl_progress(c, pt->name);
		wl_print(c, "Testing %s performance with 1 runs, %d iterations each\n", pt->name,
			 c->cfg.iterations);
		setup = slot_setup(c);
		if (!i || setup < best_setup)
			best_setup = setup;
		for (it = 0; it < c->cfg.iterations && !wl_stopped(c); it++) {
			t = wl_now();
			if (!pt->iteration(c, it)) {
				fail(c, "a memslot-perf iteration failed its check");
				return 0;
			}
			total += wl_now() - t;
		}
		wl_print(c, "Test took %.9fs for slot setup + %.9fs all iterations\n", setup, total);
		wl_print(c, "Done %d iterations, avg %.9fs each\n", c->cfg.iterations,
			 total / c->cfg.iterations);
		snprintf(metric, sizeof(metric), "%s_avg_s", pt->name);
		for (m = metric; *m; m++) {
			if (*m == ' ')
				*m = '_';
			else if (*m >= 'A' && *m <= 'Z')
				*m = (char)(*m - 'A' + 'a');
		}
		wl_metric_set(c, metric, total / c->cfg.iterations);
	}
	wl_print(c, "Best slot setup time for the whole test area was %.9fs\n", best_setup);
	wl_metric_set(c, "best_slot_setup_s", best_setup);
	return 0;
}

static const struct workload memslot_perf_wl = {
	.name = "memslot-perf",
	.description = "memslot_perf_test: map, unmap, move active area and RW over many slots",
	.default_mem_per_vcpu = 64 * MB,
	.default_slots = 64,
	.default_iterations = 4,
	.min_iterations = 1,
	.run = memslot_perf,
};

/* ---- mmu-stress (mmu_stress_test, with host churn) ----------------------------------------------- */

struct stress {
	struct churn ch;
	u64 rng;
	u64 ops, migrated, dropped, swapped;
};

static u64 stress_rand(struct stress *s)
{
	u64 z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* One host operation under the running vCPUs: migrate, drop, swap or churn a slot. */
static void stress_poll(struct wl_ctx *c, void *arg)
{
	struct stress *s = arg;
	u64 r = stress_rand(s), page = (r >> 8) % (wl_mem(c)->size / PAGE_SIZE);
	unsigned long addr = wl_mem(c)->hva + page * PAGE_SIZE, n = 0;

	switch (r % 4) {
	case 0:
		if (!host_migrate(c->world.mm, addr, PAGE_SIZE, &n))
			s->migrated += n;
		break;
	case 1:
		if (!host_madvise_dontneed(c->world.mm, addr, PAGE_SIZE))
			s->dropped++;
		break;
	case 2:
		if (!host_swap_out(c->world.mm, addr, PAGE_SIZE, &n))
			s->swapped += n;
		break;
	default:
		churn_poll(c, &s->ch);
		break;
	}
	s->ops++;
}

static double stress_pass(struct wl_ctx *c, struct stress *s, u32 write_percent)
{
	/* A guest with its own tables changes them while it runs. */
	struct wl_pass p = { .write_percent = write_percent, .remap = true };

	wl_pass_start(c, &p);
	return wl_pass_wait(c, stress_poll, s);
}

/* Wait until every vCPU met the read-only memory (or finished: a bug). */
static void ro_poll(struct wl_ctx *c, void *arg)
{
	int i, met = 0;

	for (i = 0; i < c->cfg.vcpus; i++)
		met += atomic_load(&c->vcpus[i].efaults) > 0;
	if (met + (int)atomic_load(&c->done) >= c->cfg.vcpus)
		*(bool *)arg = true;
}

static int mmu_stress(struct wl_ctx *c)
{
	struct wl_pass wr = { .write_percent = 100, .expect_efault = true };
	double run1, zap, run2, rd, ro, rw, t;
	struct stress s = { .rng = c->cfg.seed };
	bool all_met = false;
	int i, r;

	r = churn_init(c, &s.ch);
	if (r)
		return r;
	wl_progress(c, "run1");
	run1 = stress_pass(c, &s, 100);

	/* Every slot deleted and re-added: everything is zapped and refaulted. */
	wl_progress(c, "zap");
	t = wl_now();
	world_mem_delete_slots(&c->world, 0);
	wl_set_slot_flags(c, 0);
	zap = wl_now() - t;

	wl_progress(c, "run2");
	run2 = stress_pass(c, &s, 100);
	wl_progress(c, "read");
	rd = stress_pass(c, &s, 0);
	if (s.ch.present)
		churn_poll(c, &s.ch);

	/* Read-only: every vCPU's next write must fail with EFAULT. */
	wl_progress(c, "ro");
	t = wl_now();
	atomic_store(&c->ro_released, 0);
	if (host_mprotect(c->world.mm, wl_mem(c)->hva, wl_mem(c)->size, VM_READ))
		return -EIO;
	wl_pass_start(c, &wr);
	while (!all_met)
		ro_poll(c, &all_met);
	ro = wl_now() - t;
	for (i = 0; i < c->cfg.vcpus; i++) {
		if (!atomic_load(&c->vcpus[i].efaults))
			fail(c, "a vCPU wrote to read-only memory without EFAULT");
	}
	wl_progress(c, "rw");
	t = wl_now();
	if (host_mprotect(c->world.mm, wl_mem(c)->hva, wl_mem(c)->size, VM_READ | VM_WRITE))
		return -EIO;
	atomic_store(&c->ro_released, 1);
	kvmmu_wake(&c->ro_released);
	wl_pass_wait(c, NULL, NULL);
	rw = wl_now() - t;

	wl_print(c, "run1 = %.9fs, zap = %.9fs, run2 = %.9fs, read = %.9fs, ro = %.9fs, "
		 "rw = %.9fs\n", run1, zap, run2, rd, ro, rw);
	wl_print(c, "Host operations: %llu (%llu pages migrated, %llu dropped, %llu swapped, "
		 "%llu memslot updates)\n", (unsigned long long)s.ops,
		 (unsigned long long)s.migrated, (unsigned long long)s.dropped,
		 (unsigned long long)s.swapped, (unsigned long long)s.ch.count);
	wl_metric_set(c, "run1_s", run1);
	wl_metric_set(c, "zap_s", zap);
	wl_metric_set(c, "run2_s", run2);
	wl_metric_set(c, "read_s", rd);
	wl_metric_set(c, "ro_s", ro);
	wl_metric_set(c, "rw_s", rw);
	wl_metric_set(c, "host_operations", (double)s.ops);
	wl_metric_set(c, "pages_migrated", (double)s.migrated);
	wl_metric_set(c, "pages_dropped", (double)s.dropped);
	wl_metric_set(c, "pages_swapped", (double)s.swapped);
	wl_metric_set(c, "memslot_updates", (double)s.ch.count);
	if (c->world.cfg.guest_paging) {
		u64 pde_writes = 0;

		for (i = 0; i < c->cfg.vcpus; i++)
			pde_writes += c->vcpus[i].pde_writes;
		wl_print(c, "Guest page-directory writes: %llu (large pages remapped at 4K and "
			 "back, %d-level guest tables)\n", (unsigned long long)pde_writes,
			 c->world.cfg.guest_paging);
		wl_metric_set(c, "guest_pde_writes", (double)pde_writes);
	}
	return 0;
}

static const struct workload mmu_stress_wl = {
	.name = "mmu-stress",
	.description = "mmu_stress_test: write, zap, write, read, read-only (EFAULT), read-write, "
		       "under host migration, reclaim, swap and memslot churn",
	.default_mem_per_vcpu = 256 * MB,
	.default_slots = 1,
	.default_iterations = 1,
	.min_iterations = 1,
	.run = mmu_stress,
};

/* guest_kernel.c */
extern const struct workload guest_kernel_wl;

const struct workload *const workload_table[] = {
	&demand_paging_wl,
	&dirty_log_wl,
	&access_tracking_wl,
	&memslot_modification_wl,
	&memslot_perf_wl,
	&mmu_stress_wl,
	&guest_kernel_wl,
};

const int nr_workloads = ARRAY_SIZE(workload_table);
