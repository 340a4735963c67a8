// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmarks of the concurrency substrate: what the hooks, locks and RCU
 * cost on the paths the MMU will run millions of times.
 *
 * Each figure times a loop of the operation and a baseline loop of the bare
 * atomics it wraps, in the same run, takes the best of several repetitions
 * of each, and reports the ratio.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "bench.h"
#include "lock.h"
#include "mutant.h"
#include "observe.h"
#include "rcu.h"
#include "sched_point.h"
#include "srcu.h"

#define BENCH_REPS 15

static _Atomic u64 word;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_loop(void (*loop)(u64 iters), u64 iters)
{
	double t0 = now_ns();

	loop(iters);
	return (now_ns() - t0) / (double)iters;
}

/*
 * Best-of-N nanoseconds per iteration of @subject and of @baseline, their
 * repetitions interleaved so that a slow patch of the machine hits both.
 */
static void measure_pair(void (*subject)(u64 iters), void (*baseline)(u64 iters),
			 u64 iters, double *subject_ns, double *baseline_ns)
{
	int rep;

	*subject_ns = *baseline_ns = INFINITY;
	subject(iters / 16); /* warm caches and branch predictors */
	baseline(iters / 16);
	for (rep = 0; rep < BENCH_REPS; rep++) {
		*subject_ns = fmin(*subject_ns, time_loop(subject, iters));
		*baseline_ns = fmin(*baseline_ns, time_loop(baseline, iters));
	}
}

/* ---- one SPTE-like cmpxchg, bare and with every hook a hot path carries --- */

static noinline void loop_cmpxchg_bare(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++) {
		u64 old = atomic_load_explicit(&word, memory_order_relaxed);

		if (!try_cmpxchg64(&word, &old, old + 1))
			i--;
	}
}

static noinline void loop_cmpxchg_hooked(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++) {
		u64 old = atomic_load_explicit(&word, memory_order_relaxed);

		sched_point(SP_SPTE_CMPXCHG, &word);
		if (kvmmu_mutant(MUT_ZAP_WITHOUT_FREEZE))
			old ^= 1;
		if (!try_cmpxchg64(&word, &old, old + 1)) {
			i--;
			continue;
		}
		kvmmu_observe(KVMMU_EV_SPTE_CHANGE, spte, .sptep = &word,
			      .old_spte = old, .new_spte = old + 1);
	}
}

/* ---- read-side primitives against a bare pair of RMWs ------------------ */

static noinline void loop_rmw_pair(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++) {
		atomic_fetch_add(&word, 1);
		atomic_fetch_sub(&word, 1);
	}
}

static DEFINE_RWLOCK(bench_rwlock);

static noinline void loop_rwlock_read(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++) {
		read_lock(&bench_rwlock);
		read_unlock(&bench_rwlock);
	}
}

static noinline void loop_rcu_read(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++) {
		rcu_read_lock();
		rcu_read_unlock();
	}
}

static struct srcu_struct bench_srcu;

static noinline void loop_srcu_read(u64 iters)
{
	u64 i;

	for (i = 0; i < iters; i++)
		srcu_read_unlock(&bench_srcu, srcu_read_lock(&bench_srcu));
}

/* Run one figure if it was asked for: 1 if it was (a result in @r), else 0. */
static int bench_one(struct bench_result *r, const char *name,
		     void (*subject)(u64 iters), void (*baseline)(u64 iters),
		     double target, const char *note, bench_progress_fn progress)
{
	const u64 iters = 2 * 1000 * 1000;

	if (!bench_wanted(name))
		return 0;
	progress(name);
	measure_pair(subject, baseline, iters, &r->value, &r->baseline);
	r->name = name;
	r->unit = "ns";
	r->baseline_unit = "ns";
	r->ratio = r->value / r->baseline;
	r->target = target;
	r->direction = "<=";
	r->met = r->ratio <= target;
	r->note = note;
	return 1;
}

int bench_run_substrate(struct bench_result *out, int max, bench_progress_fn progress)
{
	enum rcu_backend saved = rcu_get_backend();
	int n = 0;

	if (max < 5)
		return 0;

	n += bench_one(&out[n], "hooks_off_overhead", loop_cmpxchg_hooked,
		  loop_cmpxchg_bare, 1.10,
		  "cmpxchg with sched point, mutant check and observer hook, none active, vs bare cmpxchg",
		  progress);
	n += bench_one(&out[n], "rwlock_read_pair", loop_rwlock_read, loop_rmw_pair,
		  3.0, "uncontended read_lock+read_unlock (lockdep, sched points) vs two seq_cst RMWs",
		  progress);

	rcu_set_backend(RCU_BACKEND_URCU);
	n += bench_one(&out[n], "rcu_read_pair_urcu", loop_rcu_read, loop_rmw_pair,
		  1.5, "rcu_read_lock+unlock on liburcu (urcu-memb) vs two seq_cst RMWs",
		  progress);
	rcu_set_backend(RCU_BACKEND_OWN);
	n += bench_one(&out[n], "rcu_read_pair_own", loop_rcu_read, loop_rmw_pair,
		  1.5, "rcu_read_lock+unlock on the own grace-period engine vs two seq_cst RMWs",
		  progress);
	rcu_set_backend(saved);

	init_srcu_struct(&bench_srcu);
	n += bench_one(&out[n], "srcu_read_pair", loop_srcu_read, loop_rmw_pair,
		  1.5, "srcu_read_lock+unlock vs two seq_cst RMWs", progress);
	cleanup_srcu_struct(&bench_srcu);
	return n;
}

static const char *const figure_names[] = {
	"hooks_off_overhead", "rwlock_read_pair", "rcu_read_pair_urcu", "rcu_read_pair_own",
	"srcu_read_pair", "fault_4k", "fault_scaling_2v", "fault_scaling_4v", "zap_1g", "clear_dirty_1g",
	"metadata_bytes_per_4k", "tlb_hit_access", "fault_4k_shadow",
	"metadata_bytes_per_4k_shadow", "cr3_switch", "sync_512", "tag_mode_256g",
};

static const char *bench_filter;

int bench_set_filter(const char *list)
{
	char buf[256];
	const char *p = list;

	bench_filter = NULL;
	if (!list)
		return 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;

		if (!len || len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = 0;
		for (i = 0; i < ARRAY_SIZE(figure_names) && strcmp(buf, figure_names[i]); i++)
			;
		if (i == ARRAY_SIZE(figure_names))
			return -ENOENT;
		p += len + (p[len] == ',');
	}
	bench_filter = list;
	return 0;
}

bool bench_wanted(const char *name)
{
	const char *p = bench_filter;
	size_t len = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t l = strcspn(p, ",");

		if (l == len && !strncmp(p, name, len))
			return true;
		p += l + (p[l] == ',');
	}
	return false;
}

const char *bench_figure_names(void)
{
	static char all[512];
	size_t i;

	if (!all[0]) {
		for (i = 0; i < ARRAY_SIZE(figure_names); i++) {
			strcat(all, figure_names[i]);
			if (i + 1 < ARRAY_SIZE(figure_names))
				strcat(all, ", ");
		}
	}
	return all;
}

int bench_run_all(struct bench_result *out, int max, bench_progress_fn progress,
		  enum world_mmu mmu)
{
	int n = bench_run_substrate(out, max, progress);

	return n + bench_run_mmu(out + n, max - n, progress, mmu);
}
