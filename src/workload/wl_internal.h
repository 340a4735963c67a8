/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the workloads share: the world of a run, the vCPU threads and the
 * helpers that drive them pass by pass, time phases and record figures.
 */
#ifndef KVMMU_WORKLOAD_WL_INTERNAL_H
#define KVMMU_WORKLOAD_WL_INTERNAL_H

#include <kvmmu/kvm.h>

#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "thread.h"
#include "workload.h"
#include "world.h"

#define WL_MAX_VCPUS WORLD_MAX_VCPUS
#define WL_MAX_SLOTS WORLD_MAX_SLOTS

/*
 * Guest memory starts here (memstress puts it high; any aligned base does),
 * below 4G for 32-bit and PAE guests, whose identity map must fit in 4G.
 */
#define WL_GPA_BASE (1ULL << 32)
#define WL_GPA_BASE_32 (1ULL << 30)

struct wl_vcpu;

/* How the vCPUs of one pass behave. */
struct wl_pass {
	u32 write_percent;
	bool random;
	u64 base, size;      /* 0 size: each vCPU's own slice */
	bool expect_efault;  /* a write to read-only memory may fail: park, don't fail */
	/*
	 * With the guest's own tables: first each vCPU, as a guest kernel,
	 * remaps its slice (world_guest_pde(): every large page it covers
	 * whole switches between the large mapping and a page table of the
	 * same translation), then flushes its TLB.
	 */
	bool remap;
	/*
	 * The pass is this function, called on each vCPU's thread (NULL:
	 * the memstress pass above): a workload that makes its own programs
	 * and runs them with wl_vcpu_run().
	 */
	int (*vcpu_fn)(struct wl_vcpu *v, void *arg);
	void *arg;
};

struct wl_vcpu {
	struct wl_ctx *c;
	int idx;             /* its vCPU is c->world.vcpus[idx] */
	struct kvmmu_thread *thread;
	u64 passes;          /* passes done */
	u64 pages_written;   /* pages written in the last pass (writes only) */
	int error;           /* the first unexpected KVM_RUN error */
	_Atomic u32 efaults; /* KVM_RUN returned -EFAULT (expect_efault passes) */
	u64 pde_writes;      /* stores into its page directory (remap passes) */
};

struct wl_ctx {
	const struct workload *wl;
	struct wl_config cfg;
	struct wl_result *res;

	/*
	 * The VM, with one region of guest memory (vcpus * mem_per_vcpu) split
	 * into the memslots: world.cfg.mem[0], which wl_mem() names.
	 */
	struct world world;
	struct wl_vcpu vcpus[WL_MAX_VCPUS];

	/* The pass protocol: the main thread bumps @go; workers bump @done. */
	struct wl_pass pass;
	_Atomic u32 go;
	_Atomic u32 done;
	_Atomic bool stop;
	_Atomic u32 ro_released; /* 1: an expect_efault pass may resume */

	_Atomic bool failed; /* set by any thread */
	/* A violation stopped the run: passes end at once, vCPUs leave KVM_RUN. */
	_Atomic bool aborted;
	/* cfg.stop did (aborted is set too). */
	_Atomic bool interrupted;
};

/* ---- helpers for the workloads (runner.c) -------------------------------- */

/* wl_config.stop ended the run: loops of rounds end before the next one. */
static inline bool wl_stopped(struct wl_ctx *c)
{
	return atomic_load(&c->interrupted);
}

/* Run one pass on every vCPU and wait for all; returns seconds. */
double wl_pass_all(struct wl_ctx *c, const struct wl_pass *p);
/* Start a pass and return at once; wl_pass_wait() waits for it. */
void wl_pass_start(struct wl_ctx *c, const struct wl_pass *p);
/* Wait for the started pass, calling @poll (if any) over and over meanwhile. */
double wl_pass_wait(struct wl_ctx *c, void (*poll)(struct wl_ctx *c, void *arg), void *arg);

/*
 * Run @prog on @v's vCPU to its end, from @v's thread; 0, or the KVM_RUN
 * error that ended it.  Exits to userspace for MMIO and interrupts are
 * tolerated (the access is retried).
 */
int wl_vcpu_run(struct wl_vcpu *v, const struct hw_program *prog);

/* The guest memory and its memslots. */
static inline const struct world_mem_config *wl_mem(struct wl_ctx *c)
{
	return &c->world.cfg.mem[0];
}

/* Set every slot's flags (KVM_MEM_LOG_DIRTY_PAGES); returns seconds or -1. */
double wl_set_slot_flags(struct wl_ctx *c, u32 flags);

/* The selftest line, to cfg.out. */
void wl_print(struct wl_ctx *c, const char *fmt, ...) __printf(2, 3);
/* Record a metric (snake_case name). */
void wl_metric_set(struct wl_ctx *c, const char *name, double value);
void wl_progress(struct wl_ctx *c, const char *phase);

double wl_now(void);
/* Seconds as the selftests print them: "X.XXXXXXXXXs". */
void wl_print_time(struct wl_ctx *c, const char *label, double s);

#endif /* KVMMU_WORKLOAD_WL_INTERNAL_H */
