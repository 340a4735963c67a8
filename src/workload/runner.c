// SPDX-License-Identifier: GPL-2.0-only
/*
 * The workload runner: the world of a run (host, simulated CPUs, VM and
 * memslots laid out as memstress lays them out), the vCPU threads, the pass
 * protocol, and the result (metrics, KVM's stats, checkers, WARNs).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bug.h"
#include "mutant.h"
#include "rcu.h"
#include "wait.h"
#include "wl_internal.h"

const struct workload *wl_find(const char *name)
{
	int i;

	for (i = 0; i < nr_workloads; i++) {
		if (!strcmp(workload_table[i]->name, name))
			return workload_table[i];
	}
	return NULL;
}

double wl_metric(const struct wl_result *res, const char *name)
{
	int i;

	for (i = 0; i < res->nr_metrics; i++) {
		if (!strcmp(res->metrics[i].name, name))
			return res->metrics[i].value;
	}
	return NAN;
}

u64 wl_stat(const struct wl_result *res, const char *name)
{
	int i;

	for (i = 0; i < res->nr_stats; i++) {
		if (!strcmp(res->stats[i].name, name))
			return res->stats[i].value;
	}
	return -1ULL;
}

/* ---- time and output ------------------------------------------------------------------------ */

double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void wl_print(struct wl_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->cfg.out)
		return;
	va_start(ap, fmt);
	vfprintf(c->cfg.out, fmt, ap);
	va_end(ap);
	fflush(c->cfg.out);
}

void wl_print_time(struct wl_ctx *c, const char *label, double s)
{
	wl_print(c, "%s: %.9fs\n", label, s);
}

void wl_metric_set(struct wl_ctx *c, const char *name, double value)
{
	struct wl_result *res = c->res;
	int i;

	for (i = 0; i < res->nr_metrics; i++) {
		if (!strcmp(res->metrics[i].name, name)) {
			res->metrics[i].value = value;
			return;
		}
	}
	if (WARN_ON_ONCE(res->nr_metrics == WL_MAX_METRICS))
		return;
	snprintf(res->metrics[res->nr_metrics].name, sizeof(res->metrics[0].name), "%s", name);
	res->metrics[res->nr_metrics++].value = value;
}

void wl_progress(struct wl_ctx *c, const char *phase)
{
	if (c->cfg.progress)
		c->cfg.progress(phase, c->cfg.progress_arg);
}

/* ---- memslots ------------------------------------------------------------------------------- */

double wl_set_slot_flags(struct wl_ctx *c, u32 flags)
{
	double t0 = wl_now();

	if (world_mem_set_flags(&c->world, 0, flags)) {
		c->failed = true;
		return -1;
	}
	return wl_now() - t0;
}

/* ---- the vCPU threads ----------------------------------------------------------------------- */

int wl_vcpu_run(struct wl_vcpu *v, const struct hw_program *prog)
{
	struct wl_ctx *c = v->c;
	const struct wl_pass *p = &c->pass;
	struct kvm_vcpu *vcpu = c->world.vcpus[v->idx];
	struct kvmmu_hw_vcpu *hv = vcpu->hw;
	int r;

	r = hw_vcpu_load_program(hv, prog);
	while (!r && !hw_vcpu_done(hv) && !atomic_load(&c->aborted)) {
		struct kvmmu_run run;

		r = kvmmu_vcpu_run(vcpu, &run);
		if (r == -EFAULT && p->expect_efault) {
			/* mmu_stress: the write failed; wait for RW and retry it. */
			atomic_fetch_add(&v->efaults, 1);
			while (!atomic_load(&c->ro_released) && !atomic_load(&c->stop))
				kvmmu_block(&c->ro_released, 0);
			r = 0;
			continue;
		}
		if (r == -EINTR && (atomic_load(&c->stop) || atomic_load(&c->aborted)))
			return 0;
		/* MMIO (a slot moved away) is tolerated: the access is retried. */
		if (!r && run.exit_reason != KVM_EXIT_HLT && run.exit_reason != KVM_EXIT_MMIO &&
		    run.exit_reason != KVM_EXIT_INTR)
			r = -EIO;
	}
	return r;
}

/*
 * The guest kernel remaps [@base, @base + @size): each large page there
 * goes from its large mapping to its page table on odd passes and back on
 * even ones, a store into the page directory each (which KVM, shadowing
 * that directory, write-protects), then a full TLB flush.
 */
static int vcpu_remap(struct wl_vcpu *v, u64 base, u64 size)
{
	struct wl_ctx *c = v->c;
	struct world_guest_pde pde;
	struct hw_access *list;
	u64 small_large = 2ULL << 20; /* the smallest large page */
	u64 gva, n = 0, max = size / small_large + 2;
	int r = 0;

	list = calloc(max, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (gva = base; gva < base + size && n + 1 < max;) {
		if (world_guest_pde(&c->world, gva, &pde)) {
			gva = ALIGN(gva + 1, small_large);
			continue;
		}
		if (gva & (pde.page_size - 1)) {
			gva = ALIGN(gva, pde.page_size);
			continue;
		}
		if (gva + pde.page_size > base + size)
			break;
		gva += pde.page_size;
		list[n++] = (struct hw_access){
			.op = HW_STORE, .size = (u8)pde.size, .addr = pde.gpa,
			.value = (v->passes & 1) ? pde.table : pde.large,
		};
	}
	if (n) {
		struct hw_program prog = {
			.list = list, .len = n + 1,
			.paging = c->world.cfg.guest_paging, .cr3 = c->world.guest_cr3,
			.nested = c->world.l1,
		};

		list[n] = (struct hw_access){ .op = HW_FLUSH_TLB };
		r = wl_vcpu_run(v, &prog);
		v->pde_writes += n;
	}
	free(list);
	return r;
}

/* One pass of @v as c->pass says; 0, or the error that ended it. */
static int vcpu_pass(struct wl_vcpu *v)
{
	struct wl_ctx *c = v->c;
	const struct wl_pass *p = &c->pass;
	u64 slice = wl_mem(c)->size / (u64)c->cfg.vcpus;
	struct hw_program prog = {
		.base = p->size ? p->base : wl_mem(c)->gpa + (u64)v->idx * slice,
		.size = p->size ? p->size : slice,
		.write_percent = p->write_percent,
		.random = p->random,
		.seed = c->cfg.seed ^ ((u64)v->idx << 40) ^ (v->passes * 0x9e3779b97f4a7c15ULL),
		.passes = 1,
		.value = HW_VALUE_PATTERN,
		/* With the guest's own tables: a kernel, gva = gpa. */
		.paging = c->world.cfg.guest_paging,
		.cr3 = c->world.guest_cr3,
		/* Nested: as L2; a remapping pass ends with L1 unmapping the slice. */
		.nested = c->world.l1,
		.unmap_each_pass = p->remap && c->world.l1,
	};
	int r = 0;

	if (p->vcpu_fn) {
		r = p->vcpu_fn(v, p->arg);
		v->passes++;
		return r;
	}
	if (p->remap && c->world.cfg.guest_paging)
		r = vcpu_remap(v, prog.base, prog.size);
	r = r ?: wl_vcpu_run(v, &prog);
	v->passes++;
	return r;
}

static int vcpu_worker(void *arg)
{
	struct wl_vcpu *v = arg;
	struct wl_ctx *c = v->c;
	u32 seen = 0;

	for (;;) {
		u32 go;

		while ((go = atomic_load(&c->go)) == seen)
			kvmmu_block(&c->go, seen);
		seen = go;
		if (atomic_load(&c->stop))
			break;
		if (!v->error) {
			v->error = vcpu_pass(v);
			if (v->error)
				c->failed = true;
		}
		/* seq_cst: the pass's effects before the count (pairs with wl_pass_wait). */
		atomic_fetch_add(&c->done, 1);
		kvmmu_wake(&c->done);
	}
	return 0;
}

void wl_pass_start(struct wl_ctx *c, const struct wl_pass *p)
{
	c->pass = *p;
	atomic_store(&c->done, 0);
	atomic_fetch_add(&c->go, 1);
	kvmmu_wake(&c->go);
}

double wl_pass_wait(struct wl_ctx *c, void (*poll)(struct wl_ctx *c, void *arg), void *arg)
{
	double t0 = wl_now();
	u32 d;

	while ((d = atomic_load(&c->done)) < (u32)c->cfg.vcpus) {
		if (poll) {
			poll(c, arg);
			continue;
		}
		kvmmu_block(&c->done, d);
	}
	return wl_now() - t0;
}

double wl_pass_all(struct wl_ctx *c, const struct wl_pass *p)
{
	double t0 = wl_now();

	wl_pass_start(c, p);
	wl_pass_wait(c, NULL, NULL);
	return wl_now() - t0;
}

/* ---- progress, for a display in another thread -------------------------------------------- */

static void view_attach(struct wl_progress_view *v, struct wl_ctx *c)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->ctx = c;
	pthread_mutex_unlock(&v->lock);
}

bool wl_progress_sample(struct wl_progress_view *v, u64 *pass_done, u64 *pass_pages,
			u64 *accesses)
{
	struct wl_ctx *c;
	int i;

	*pass_done = *pass_pages = *accesses = 0;
	pthread_mutex_lock(&v->lock);
	c = v->ctx;
	for (i = 0; c && i < c->world.nr_vcpus; i++) {
		struct kvmmu_hw_vcpu *hv = c->world.vcpus[i]->hw;
		struct hw_vcpu_stats st;
		u64 done, pages;

		if (!c->world.machine)
			break;
		hw_vcpu_pass_position(hv, &done, &pages);
		hw_vcpu_get_stats(hv, &st);
		*pass_done += done;
		*pass_pages += pages;
		*accesses += st.loads + st.stores + st.fetches;
	}
	pthread_mutex_unlock(&v->lock);
	return c != NULL;
}

/* ---- the world -------------------------------------------------------------------------------- */

/*
 * The first violation stops the run (a livelocked vCPU would never end it
 * otherwise): flags only, from the checker's callback.
 */
static void wl_abort(void *arg)
{
	struct wl_ctx *c = arg;

	atomic_store(&c->aborted, true);
	world_stop_vcpus(&c->world);
}

/*
 * Watching wl_config.stop: a plain thread (no kvmmu thread, so that
 * traces and the checkers never see it) polls the flag and winds the run
 * down as a violation does.
 */
struct stop_watch {
	struct wl_ctx *c;
	pthread_t thread;
	bool running;
	_Atomic bool done;
};

static void *stop_watcher(void *arg)
{
	struct stop_watch *sw = arg;
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	while (!atomic_load(&sw->done)) {
		if (atomic_load(sw->c->cfg.stop)) {
			atomic_store(&sw->c->interrupted, true);
			wl_abort(sw->c);
			break;
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static void stop_watch_begin(struct stop_watch *sw, struct wl_ctx *c)
{
	sw->c = c;
	atomic_store(&sw->done, false);
	sw->running = c->cfg.stop && !pthread_create(&sw->thread, NULL, stop_watcher, sw);
}

static void stop_watch_end(struct stop_watch *sw)
{
	if (!sw->running)
		return;
	atomic_store(&sw->done, true);
	pthread_join(sw->thread, NULL);
	sw->running = false;
}

/* The world of a run: memstress's layout, one region at WL_GPA_BASE. */
static void world_config_of(const struct workload *wl, const struct wl_config *cfg,
			    struct world_config *wc)
{
	int paging = cfg->guest_paging;

	*wc = (struct world_config){
		.tag_mode = cfg->tag_mode,
		.mmu = cfg->mmu,
		.guest_paging = paging,
		.nested = cfg->nested,
		.pml = cfg->pml,
		.manual_protect = wl->manual_protect,
		.nr_vcpus = cfg->vcpus,
		.mem = { {
			.size = cfg->mem_per_vcpu * (u64)cfg->vcpus,
			.backing = cfg->backing,
			.gpa = paging && paging < 4 ? WL_GPA_BASE_32 : WL_GPA_BASE,
			.nr_slots = cfg->slots,
		} },
		.yield_every = cfg->yield_every,
		.counters = cfg->counters,
		.checks = cfg->checks,
		.mutants = cfg->mutants,
	};
}

/* @cfg with the workload's defaults filled in. */
static void fill_defaults(const struct workload *wl, struct wl_config *cfg)
{
	if (!cfg->mem_per_vcpu)
		cfg->mem_per_vcpu = wl->default_mem_per_vcpu;
	if (!cfg->slots)
		cfg->slots = wl->default_slots;
	if (!cfg->iterations)
		cfg->iterations = wl->default_iterations;
	/* Shadow paging shadows the guest's own tables: the guest has some. */
	if (!cfg->guest_paging && cfg->mmu == WORLD_MMU_SHADOW)
		cfg->guest_paging = 4;
	/* A guest kernel runs its processes on tables of its own. */
	if (wl->default_processes) {
		if (!cfg->guest_paging)
			cfg->guest_paging = 4;
		if (!cfg->processes)
			cfg->processes = wl->default_processes;
		if (!cfg->process_pages)
			cfg->process_pages = wl->default_process_pages;
		if (!cfg->ops)
			cfg->ops = wl->default_ops;
	}
}

int wl_validate(const struct workload *wl, const struct wl_config *cfg, char *why,
		size_t why_len)
{
	struct wl_config c = *cfg;
	struct world_config wc;
	u64 align = world_backing_page_size(cfg->backing);

#define BAD(...) ({ snprintf(why, why_len, __VA_ARGS__); -EINVAL; })
	fill_defaults(wl, &c);
	if (c.vcpus < 1 || c.vcpus > WL_MAX_VCPUS)
		return BAD("--vcpus must be 1..%d", WL_MAX_VCPUS);
	if (c.mem_per_vcpu % PAGE_SIZE)
		return BAD("--mem-per-vcpu must be a positive multiple of 4K");
	if (c.mem_per_vcpu % align)
		return BAD("--mem-per-vcpu must be a multiple of %lluM for --backing %s",
			   (unsigned long long)(align >> 20), world_backing_name(c.backing));
	if (c.mem_per_vcpu > WORLD_MAX_GUEST / (u64)c.vcpus)
		return BAD("guest memory above 1T is not supported");
	if (c.slots < 1 || c.slots > WL_MAX_SLOTS)
		return BAD("--slots must be 1..%d", WL_MAX_SLOTS);
	if (c.iterations < wl->min_iterations)
		return BAD("%s needs --iterations >= %d", wl->name, wl->min_iterations);
	if (c.write_percent > 100)
		return BAD("--write-percent must be 0..100");
	if (!wl->default_processes && (c.processes || c.process_pages || c.ops))
		return BAD("--processes, --process-pages and --ops are guest-kernel's");
	if (wl->default_processes) {
		u64 pages;

		if (c.processes < 1 || c.processes > WL_MAX_PROCESSES)
			return BAD("--processes must be 1..%d", WL_MAX_PROCESSES);
		/* One leaf table maps a process's pages. */
		if (c.process_pages < 1 || c.process_pages > 512)
			return BAD("--process-pages must be 1..512");
		if (c.ops < 1)
			return BAD("--ops must be at least 1");
		if (c.tag_mode)
			return BAD("%s keeps page tables in guest memory: no tag mode", wl->name);
		/* Each process: a table per level and its pages, in the vCPU's slice. */
		pages = (u64)c.processes * (u64)(c.guest_paging + c.process_pages);
		if (c.mem_per_vcpu / PAGE_SIZE < pages)
			return BAD("%s needs --mem-per-vcpu >= %lluK for %d processes of %d pages",
				   wl->name, (unsigned long long)(pages * PAGE_SIZE >> 10),
				   c.processes, c.process_pages);
	}
#undef BAD
	world_config_of(wl, &c, &wc);
	return world_config_check(&wc, why, why_len);
}

static int start_vcpus(struct wl_ctx *c)
{
	char name[16];
	int i, r;

	for (i = 0; i < c->cfg.vcpus; i++) {
		c->vcpus[i] = (struct wl_vcpu){ .c = c, .idx = i };
		snprintf(name, sizeof(name), "vcpu%d", i);
		r = kvmmu_thread_create(&c->vcpus[i].thread, name, 0, vcpu_worker, &c->vcpus[i]);
		if (r)
			return r;
	}
	return 0;
}

static void stop_vcpus(struct wl_ctx *c)
{
	int i;

	atomic_store(&c->stop, true);
	atomic_fetch_add(&c->go, 1);
	kvmmu_wake(&c->go);
	for (i = 0; i < c->cfg.vcpus; i++) {
		if (c->vcpus[i].thread)
			kvmmu_thread_join(c->vcpus[i].thread);
	}
}

static void collect_stats(struct wl_ctx *c)
{
	struct wl_result *res = c->res;
	const struct kvmmu_stat_desc *d;
	uint64_t vals[WL_MAX_STATS], sum[WL_MAX_STATS];
	int n, m, i, j;

	d = kvmmu_vm_stat_descs(&n);
	n = kvmmu_vm_stats(c->world.kvm, vals, n < WL_MAX_STATS ? n : WL_MAX_STATS);
	for (i = 0; i < n && res->nr_stats < WL_MAX_STATS; i++)
		res->stats[res->nr_stats++] = (struct wl_stat){ d[i].name, vals[i] };
	d = kvmmu_vcpu_stat_descs(&m);
	if (m > WL_MAX_STATS)
		m = WL_MAX_STATS;
	memset(sum, 0, sizeof(sum));
	for (j = 0; j < c->cfg.vcpus; j++) {
		int k = kvmmu_vcpu_stats(c->world.vcpus[j], vals, m);

		for (i = 0; i < k; i++)
			sum[i] += vals[i];
	}
	for (i = 0; i < m && res->nr_stats < WL_MAX_STATS; i++)
		res->stats[res->nr_stats++] = (struct wl_stat){ d[i].name, sum[i] };
}

/* Nested runs: what L1 did for its L2s, summed over the vCPUs. */
static void nested_summary(struct wl_ctx *c)
{
	u64 exits = 0, writes = 0, invepts = 0, unhandled = 0;
	int i;

	for (i = 0; i < c->cfg.vcpus; i++) {
		struct hw_vcpu_stats st;

		hw_vcpu_get_stats(c->world.vcpus[i]->hw, &st);
		exits += st.l2_exits_to_l1;
		writes += st.l1_ept_writes;
		invepts += st.l1_invepts;
		unhandled += st.l1_unhandled;
	}
	wl_print(c, "Nested: %llu L2 exits handled by L1, %llu L1 EPT entry writes, "
		 "%llu INVEPTs\n", (unsigned long long)exits, (unsigned long long)writes,
		 (unsigned long long)invepts);
	wl_metric_set(c, "l2_exits_to_l1", (double)exits);
	wl_metric_set(c, "l1_ept_writes", (double)writes);
	wl_metric_set(c, "l1_invepts", (double)invepts);
	wl_metric_set(c, "l1_unhandled", (double)unhandled);
}

int wl_run(const struct workload *wl, const struct wl_config *cfg, struct wl_result *res,
	   char *why, size_t why_len)
{
	struct world_config wc;
	struct stop_watch watch;
	struct wl_ctx *c;
	unsigned long warns = kvmmu_warn_count();
	double t0 = wl_now();
	int r, i;

	r = wl_validate(wl, cfg, why, why_len);
	if (r)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	c->wl = wl;
	c->res = res;
	c->cfg = *cfg;
	fill_defaults(wl, &c->cfg);
	res->config = c->cfg;
	world_config_of(wl, &c->cfg, &wc);
	wc.on_violation = wl_abort;
	wc.violation_arg = c;

	r = world_create(&c->world, &wc, why, why_len);
	if (r) {
		free(c);
		return r;
	}
	r = world_check_begin(&c->world);
	r = r ?: start_vcpus(c);
	/* Stopped before it starts, it does not start. */
	if (!r && c->cfg.stop && atomic_load(c->cfg.stop)) {
		atomic_store(&c->interrupted, true);
		wl_abort(c);
	}
	stop_watch_begin(&watch, c);
	view_attach(c->cfg.view, c);
	r = r ?: wl->run(c);
	view_attach(c->cfg.view, NULL);
	stop_watch_end(&watch);
	res->interrupted = atomic_load(&c->interrupted);
	stop_vcpus(c);
	collect_stats(c);
	if (c->world.l1)
		nested_summary(c);
	/* Leaks are reported to the checkers by the teardown. */
	world_destroy(&c->world);
	res->nr_found = check_violations(res->found, WL_MAX_FOUND);
	res->warnings = kvmmu_warn_count() - warns;
	res->seconds = wl_now() - t0;
	for (i = 0; i < c->cfg.vcpus; i++) {
		if (c->vcpus[i].error && !r)
			r = c->vcpus[i].error;
	}
	if (!r && c->failed)
		r = -EIO;
	free(c);
	if (r == -EINVAL)
		snprintf(why, why_len, "%s: the VM refused the configuration", wl->name);
	return r;
}
