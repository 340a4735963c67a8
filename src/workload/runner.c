// SPDX-License-Identifier: GPL-2.0-only
/*
 * The workload runner: the world of a run (host, simulated CPUs, VM and
 * memslots laid out as memstress lays them out), the vCPU threads, the pass
 * protocol, and the result (metrics, KVM's stats, checkers, WARNs).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bug.h"
#include "mutant.h"
#include "rcu.h"
#include "wait.h"
#include "wl_internal.h"

static const char *const backing_names[NR_WL_BACKINGS] = {
	[WL_BACKING_ANON] = "anon",
	[WL_BACKING_THP] = "thp",
	[WL_BACKING_SHARED] = "shared",
	[WL_BACKING_HUGETLB_2M] = "hugetlb-2m",
	[WL_BACKING_HUGETLB_1G] = "hugetlb-1g",
	[WL_BACKING_PFNMAP] = "pfnmap",
};

const char *wl_backing_name(enum wl_backing b)
{
	return b < NR_WL_BACKINGS ? backing_names[b] : "?";
}

int wl_backing_parse(const char *s, enum wl_backing *out)
{
	int i;

	for (i = 0; i < NR_WL_BACKINGS; i++) {
		if (!strcmp(s, backing_names[i])) {
			*out = (enum wl_backing)i;
			return 0;
		}
	}
	return -EINVAL;
}

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

int wl_set_slot(struct wl_ctx *c, u32 slot, u32 flags, u64 gpa, u64 size, unsigned long hva)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = size ? hva : 0,
	};

	return kvmmu_set_user_memory_region2(c->kvm, &m);
}

void wl_slot_range(struct wl_ctx *c, int i, u64 *gpa, u64 *size, unsigned long *hva)
{
	u64 off = (u64)i * c->slot_size;

	*gpa = c->gpa + off;
	*size = i == c->nr_slots - 1 ? c->size - off : c->slot_size;
	*hva = c->hva + off;
}

double wl_set_slot_flags(struct wl_ctx *c, u32 flags)
{
	double t0 = wl_now();
	int i;

	for (i = 0; i < c->nr_slots; i++) {
		unsigned long hva;
		u64 gpa, size;

		wl_slot_range(c, i, &gpa, &size, &hva);
		if (wl_set_slot(c, (u32)i, flags, gpa, size, hva)) {
			c->failed = true;
			return -1;
		}
	}
	c->slot_flags = flags;
	return wl_now() - t0;
}

/* ---- the vCPU threads ----------------------------------------------------------------------- */

/* One pass of @v as c->pass says; 0, or the error that ended it. */
static int vcpu_pass(struct wl_vcpu *v)
{
	struct wl_ctx *c = v->c;
	const struct wl_pass *p = &c->pass;
	u64 slice = c->size / (u64)c->cfg.vcpus;
	struct hw_program prog = {
		.base = p->size ? p->base : c->gpa + (u64)v->idx * slice,
		.size = p->size ? p->size : slice,
		.write_percent = p->write_percent,
		.random = p->random,
		.seed = c->cfg.seed ^ ((u64)v->idx << 40) ^ (v->passes * 0x9e3779b97f4a7c15ULL),
		.passes = 1,
		.value = HW_VALUE_PATTERN,
	};
	struct kvmmu_hw_vcpu *hv = v->vcpu->hw;
	int r;

	r = hw_vcpu_load_program(hv, &prog);
	while (!r && !hw_vcpu_done(hv)) {
		struct kvmmu_run run;

		r = kvmmu_vcpu_run(v->vcpu, &run);
		if (r == -EFAULT && p->expect_efault) {
			/* mmu_stress: the write failed; wait for RW and retry it. */
			atomic_fetch_add(&v->efaults, 1);
			while (!atomic_load(&c->ro_released) && !atomic_load(&c->stop))
				kvmmu_block(&c->ro_released, 0);
			r = 0;
			continue;
		}
		if (r == -EINTR && atomic_load(&c->stop))
			return 0;
		/* MMIO (a slot moved away) is tolerated: the access is retried. */
		if (!r && run.exit_reason != KVM_EXIT_HLT && run.exit_reason != KVM_EXIT_MMIO &&
		    run.exit_reason != KVM_EXIT_INTR)
			r = -EIO;
	}
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

/* ---- the world -------------------------------------------------------------------------------- */

static u64 backing_page_size(enum wl_backing b)
{
	switch (b) {
	case WL_BACKING_THP:
	case WL_BACKING_HUGETLB_2M:
	case WL_BACKING_PFNMAP:
		return 2ULL << 20;
	case WL_BACKING_HUGETLB_1G:
		return 1ULL << 30;
	default:
		return PAGE_SIZE;
	}
}

int wl_validate(const struct workload *wl, const struct wl_config *cfg, char *why,
		size_t why_len)
{
	u64 mem = cfg->mem_per_vcpu ? cfg->mem_per_vcpu : wl->default_mem_per_vcpu;
	int slots = cfg->slots ? cfg->slots : wl->default_slots;
	int iters = cfg->iterations ? cfg->iterations : wl->default_iterations;
	u64 align = backing_page_size(cfg->backing);
	u64 total;

#define BAD(...) ({ snprintf(why, why_len, __VA_ARGS__); -EINVAL; })
	if (cfg->vcpus < 1 || cfg->vcpus > WL_MAX_VCPUS)
		return BAD("--vcpus must be 1..%d", WL_MAX_VCPUS);
	if (!mem || mem % PAGE_SIZE)
		return BAD("--mem-per-vcpu must be a positive multiple of 4K");
	if (mem % align)
		return BAD("--mem-per-vcpu must be a multiple of %lluM for --backing %s",
			   (unsigned long long)(align >> 20), wl_backing_name(cfg->backing));
	total = mem * (u64)cfg->vcpus;
	if (total > (1ULL << 40))
		return BAD("guest memory above 1T is not supported");
	if (!cfg->tag_mode && total > (64ULL << 30))
		return BAD("guest memory above 64G needs --tag-mode");
	if (slots < 1 || slots > WL_MAX_SLOTS)
		return BAD("--slots must be 1..%d", WL_MAX_SLOTS);
	if ((total / PAGE_SIZE) < (u64)slots || (total / (u64)slots) % align)
		return BAD("%d slots do not split %lluM into %s-aligned pieces", slots,
			   (unsigned long long)(total >> 20), wl_backing_name(cfg->backing));
	if (iters < wl->min_iterations)
		return BAD("%s needs --iterations >= %d", wl->name, wl->min_iterations);
	if (cfg->write_percent > 100)
		return BAD("--write-percent must be 0..100");
	if (cfg->backing == WL_BACKING_PFNMAP && total / (2ULL << 20) > WL_MAX_VMAS)
		return BAD("--backing pfnmap maps at most %dM", WL_MAX_VMAS * 2);
	if (cfg->tag_mode && cfg->backing == WL_BACKING_SHARED)
		return BAD("--tag-mode does not go with --backing shared");
#undef BAD
	return 0;
}

static int map_memory(struct wl_ctx *c)
{
	struct host_mmap_args a = {
		.len = c->size, .vm_flags = VM_READ | VM_WRITE, .backing = HOST_BACKING_ANON,
	};
	unsigned long off, addr;
	int r;

	switch (c->cfg.backing) {
	case WL_BACKING_THP:
		a.vm_flags |= VM_HUGEPAGE;
		break;
	case WL_BACKING_SHARED:
		r = host_file_create(c->phys, c->size >> PAGE_SHIFT, false, &c->file);
		if (r)
			return r;
		a.backing = HOST_BACKING_FILE;
		a.file = c->file;
		break;
	case WL_BACKING_HUGETLB_2M:
	case WL_BACKING_HUGETLB_1G:
		a.backing = HOST_BACKING_HUGETLB;
		a.order = c->cfg.backing == WL_BACKING_HUGETLB_2M ? 9 : 18;
		break;
	case WL_BACKING_PFNMAP:
		/* A driver maps 2M blocks, one VMA each, side by side. */
		a.backing = HOST_BACKING_DRIVER;
		a.order = 9;
		a.len = 2UL << 20;
		for (off = 0; off < c->size; off += a.len) {
			a.addr = off ? c->hva + off : 0;
			r = host_mmap(c->mm, &a, &addr);
			if (r)
				return r;
			if (!off)
				c->hva = addr;
		}
		return 0;
	default:
		break;
	}
	return host_mmap(c->mm, &a, &c->hva);
}

static int world_create(struct wl_ctx *c)
{
	struct host_phys_config pcfg = { .tag_mode = c->cfg.tag_mode };
	struct hw_config hcfg = { .phys_bits = 46 };
	struct kvmmu_vm_config vcfg;
	int i, r;

	/*
	 * Guest memory, its page tables, the host's tables and some slack, and
	 * one more block of the backing's page size: frame 0 is never handed
	 * out, so the first naturally aligned block starts one block in.
	 */
	pcfg.nr_frames = (c->size >> PAGE_SHIFT) + (c->size >> PAGE_SHIFT) / 256 + 65536 +
			 (c->page_size >> PAGE_SHIFT);
	r = host_phys_create(&pcfg, &c->phys);
	r = r ?: host_mm_create(c->phys, &c->mm);
	if (r)
		return r;
	hcfg.mm = c->mm;
	hcfg.host = &host_kvm_ops;
	r = hw_machine_create(&hcfg, &c->hw);
	if (r)
		return r;
	kvmmu_vm_config_init(&vcfg);
	vcfg.mm = c->mm;
	vcfg.host_ops = &host_kvm_ops;
	vcfg.hw_ops = &hw_ops;
	vcfg.hw = c->hw;
	r = kvmmu_vm_create(&vcfg, &c->kvm);
	if (r)
		return r;
	r = map_memory(c);
	for (i = 0; !r && i < c->nr_slots; i++) {
		unsigned long hva;
		u64 gpa, size;

		wl_slot_range(c, i, &gpa, &size, &hva);
		r = wl_set_slot(c, (u32)i, 0, gpa, size, hva);
	}
	for (i = 0; !r && i < c->cfg.vcpus; i++) {
		struct wl_vcpu *v = &c->vcpus[i];

		v->c = c;
		v->idx = i;
		r = kvmmu_vcpu_create(c->kvm, (unsigned int)i, &v->vcpu);
	}
	return r;
}

static int start_vcpus(struct wl_ctx *c)
{
	char name[16];
	int i, r;

	for (i = 0; i < c->cfg.vcpus; i++) {
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
	n = kvmmu_vm_stats(c->kvm, vals, n < WL_MAX_STATS ? n : WL_MAX_STATS);
	for (i = 0; i < n && res->nr_stats < WL_MAX_STATS; i++)
		res->stats[res->nr_stats++] = (struct wl_stat){ d[i].name, vals[i] };
	d = kvmmu_vcpu_stat_descs(&m);
	if (m > WL_MAX_STATS)
		m = WL_MAX_STATS;
	memset(sum, 0, sizeof(sum));
	for (j = 0; j < c->cfg.vcpus; j++) {
		int k = kvmmu_vcpu_stats(c->vcpus[j].vcpu, vals, m);

		for (i = 0; i < k; i++)
			sum[i] += vals[i];
	}
	for (i = 0; i < m && res->nr_stats < WL_MAX_STATS; i++)
		res->stats[res->nr_stats++] = (struct wl_stat){ d[i].name, sum[i] };
}

static u64 world_destroy(struct wl_ctx *c)
{
	u64 frames = 0;

	if (c->kvm)
		kvmmu_vm_destroy(c->kvm);
	if (c->hw)
		hw_machine_destroy(c->hw);
	if (c->mm)
		host_mm_destroy(c->mm);
	if (c->file)
		host_file_destroy(c->file);
	rcu_barrier();
	if (c->phys) {
		frames = (u64)atomic64_read(&c->phys->nr_allocated);
		host_phys_destroy(c->phys);
	}
	return frames;
}

int wl_run(const struct workload *wl, const struct wl_config *cfg, struct wl_result *res,
	   char *why, size_t why_len)
{
	struct wl_ctx *c;
	struct check_world cw;
	unsigned long warns = kvmmu_warn_count();
	double t0 = wl_now();
	u64 frames;
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
	if (!c->cfg.mem_per_vcpu)
		c->cfg.mem_per_vcpu = wl->default_mem_per_vcpu;
	if (!c->cfg.slots)
		c->cfg.slots = wl->default_slots;
	if (!c->cfg.iterations)
		c->cfg.iterations = wl->default_iterations;
	res->config = c->cfg;
	c->page_size = backing_page_size(cfg->backing);
	c->size = c->cfg.mem_per_vcpu * (u64)c->cfg.vcpus;
	c->gpa = WL_GPA_BASE;
	c->nr_slots = c->cfg.slots;
	c->slot_size = c->size / (u64)c->nr_slots;

	r = world_create(c);
	if (!r) {
		cw = (struct check_world){ .kvm = c->kvm, .mm = c->mm, .hw = c->hw };
		r = check_begin(&cw, c->cfg.checks, NULL, NULL);
	}
	if (!r) {
		kvmmu_mutant_set_mask(c->cfg.mutants);
		r = start_vcpus(c);
	}
	if (!r)
		r = wl->run(c);
	stop_vcpus(c);
	kvmmu_mutant_set_mask(0);
	if (c->kvm)
		collect_stats(c);
	/* Table frees still queued report to the checkers before they stop. */
	rcu_barrier();
	check_end();
	frames = world_destroy(c);
	check_after_teardown(frames);
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
