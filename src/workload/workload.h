/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Workloads: the KVM selftests' MMU workloads (demand paging, dirty
 * logging, access tracking, memslot churn and performance, MMU stress)
 * run on kvmmu, printing the figures the selftests print; and a guest
 * kernel with processes (guest-kernel), printing its figures the same way.
 *
 * A run builds a world (src/world: host, simulated CPUs, VM) laid out as
 * memstress lays out its VM (one region split evenly into memslots, a
 * slice per vCPU), starts one kvmmu thread per vCPU, and drives them pass
 * by pass from the calling thread, as the selftests' main threads do.  Every checker asked
 * for watches the whole run; the summary carries KVM's stats by their
 * names, the checkers' findings and the number of WARNs.
 */
#ifndef KVMMU_WORKLOAD_WORKLOAD_H
#define KVMMU_WORKLOAD_WORKLOAD_H

#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "types.h"
#include "world.h"

struct wl_config {
	int vcpus;
	u64 mem_per_vcpu;   /* bytes; 0: the workload's default */
	int slots;          /* 0: the workload's default */
	enum world_backing backing;
	enum world_mmu mmu;
	/*
	 * The guest's own page tables (world_config.guest_paging): 2, 3, 4
	 * or 5; 0: 4 under shadow paging, none otherwise.
	 */
	int guest_paging;
	/*
	 * Run the vCPUs in L2 under an L1 hypervisor (world_config.nested),
	 * as the selftests' -n does; a remapping pass (mmu-stress) has L1
	 * unmap each vCPU's slice and INVEPT.
	 */
	bool nested;
	u32 write_percent;  /* 0..100 */
	bool random;
	int iterations;     /* 0: the workload's default */
	u64 seed;
	/*
	 * guest-kernel: processes per vCPU, user pages per process, and
	 * operations per round (0: the workload's defaults).
	 */
	int processes;
	int process_pages;
	int ops;
	bool tag_mode;      /* guest frames hold one word: huge guests */
	bool pml;           /* page-modification logging (world_config.pml) */
	unsigned int yield_every; /* forced yields (world_config.yield_every); 0: none */
	enum world_counters counters; /* where the sequence counters start */
	u64 checks;         /* CHECK_ALL, 0 or a subset */
	u64 mutants;
	FILE *out;          /* the selftest lines; NULL: none */
	/* Called as each phase begins (NULL: nothing). */
	void (*progress)(const char *phase, void *arg);
	void *progress_arg;
	/*
	 * A window on the run for a progress display in another thread
	 * (NULL: none); see wl_progress_sample().
	 */
	struct wl_progress_view *view;
	/*
	 * Set (a signal handler may) to stop the run early: it winds down as
	 * after a violation, passes ending at once, and says so in
	 * wl_result.interrupted.  NULL: never.
	 */
	const _Atomic bool *stop;
};

/*
 * A progress display's window on a run: wl_run() attaches its context once
 * the world is built and detaches it before the world goes, under @lock.
 */
struct wl_progress_view {
	pthread_mutex_t lock;
	struct wl_ctx *ctx;
};

#define WL_PROGRESS_VIEW_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }

/*
 * Where the run's memstress passes stand, summed over the vCPUs: pages
 * done in the current passes, the pages of a pass, and guest accesses made
 * so far.  Returns false while no run is attached.
 */
bool wl_progress_sample(struct wl_progress_view *v, u64 *pass_done, u64 *pass_pages,
			u64 *accesses);

#define WL_MAX_PROCESSES 64 /* guest-kernel: processes per vCPU */

#define WL_MAX_METRICS 48
#define WL_MAX_STATS   64
#define WL_MAX_FOUND   8

struct wl_metric {
	char name[40];
	double value;
};

struct wl_stat {
	const char *name;
	u64 value;
};

struct wl_result {
	struct wl_config config; /* as run: defaults filled in */
	struct wl_metric metrics[WL_MAX_METRICS];
	int nr_metrics;
	struct wl_stat stats[WL_MAX_STATS]; /* VM stats, then vCPU stats summed */
	int nr_stats;
	struct check_violation found[WL_MAX_FOUND];
	int nr_found;            /* violations found (may exceed WL_MAX_FOUND) */
	unsigned long warnings;  /* WARNs during the run */
	char failure[160];       /* a selftest assertion that failed, or "" */
	double seconds;          /* the whole run */
	bool interrupted;        /* *wl_config.stop ended it early */
};

struct wl_ctx;

struct workload {
	const char *name;
	const char *description;
	u64 default_mem_per_vcpu;
	int default_slots;
	int default_iterations;
	int min_iterations;
	/*
	 * A guest kernel with processes (guest-kernel): guest paging always
	 * (4-level unless --guest-paging says otherwise), and the defaults
	 * of wl_config.processes, process_pages and ops (0: not such a
	 * workload).
	 */
	int default_processes;
	int default_process_pages;
	int default_ops;
	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 for its VM (0: off). */
	u64 manual_protect;
	/* Run it; 0, or -errno for a setup failure (-EINVAL: bad combination). */
	int (*run)(struct wl_ctx *c);
};

extern const struct workload *const workload_table[];
extern const int nr_workloads;
const struct workload *wl_find(const char *name);

/*
 * Check @cfg against @wl without running anything.  Returns 0, or -EINVAL
 * with a one-line reason in @why.
 */
int wl_validate(const struct workload *wl, const struct wl_config *cfg, char *why,
		size_t why_len);

/* Run @wl; -EINVAL (with @why) for a bad configuration, else 0. */
int wl_run(const struct workload *wl, const struct wl_config *cfg, struct wl_result *res,
	   char *why, size_t why_len);

/* The value of metric @name in @res, or NAN. */
double wl_metric(const struct wl_result *res, const char *name);
/* The value of stat @name in @res, or -1ULL. */
u64 wl_stat(const struct wl_result *res, const char *name);

#endif /* KVMMU_WORKLOAD_WORKLOAD_H */
