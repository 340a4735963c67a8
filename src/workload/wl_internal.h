/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the workloads share: the world of a run, the vCPU threads and the
 * helpers that drive them pass by pass, time phases and record figures.
 */
#ifndef KVMMU_WORKLOAD_WL_INTERNAL_H
#define KVMMU_WORKLOAD_WL_INTERNAL_H

#include <kvmmu/kvm.h>

#include "host_mm.h"
#include "host_phys.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "thread.h"
#include "workload.h"

#define WL_MAX_VCPUS 64
#define WL_MAX_SLOTS 4096
#define WL_MAX_VMAS  1024

/* Guest memory starts here (memstress puts it high; any aligned base does). */
#define WL_GPA_BASE (1ULL << 32)

/* How the vCPUs of one pass behave. */
struct wl_pass {
	u32 write_percent;
	bool random;
	u64 base, size;      /* 0 size: each vCPU's own slice */
	bool expect_efault;  /* a write to read-only memory may fail: park, don't fail */
};

struct wl_vcpu {
	struct wl_ctx *c;
	int idx;
	struct kvm_vcpu *vcpu;
	struct kvmmu_thread *thread;
	u64 passes;          /* passes done */
	u64 pages_written;   /* pages written in the last pass (writes only) */
	int error;           /* the first unexpected KVM_RUN error */
	_Atomic u32 efaults; /* KVM_RUN returned -EFAULT (expect_efault passes) */
};

struct wl_ctx {
	const struct workload *wl;
	struct wl_config cfg;
	struct wl_result *res;

	struct host_phys *phys;
	struct mm_struct *mm;
	struct hw_machine *hw;
	struct host_file *file;
	struct kvm *kvm;
	struct wl_vcpu vcpus[WL_MAX_VCPUS];

	unsigned long hva;   /* the guest memory's host mapping */
	u64 gpa;             /* its guest-physical base */
	u64 size;            /* vcpus * mem_per_vcpu */
	u64 page_size;       /* the backing's page size */
	u64 slot_size;       /* bytes per memslot (the last takes the rest) */
	int nr_slots;
	u32 slot_flags;      /* KVM_MEM_* the slots have now */

	/* The pass protocol: the main thread bumps @go; workers bump @done. */
	struct wl_pass pass;
	_Atomic u32 go;
	_Atomic u32 done;
	_Atomic bool stop;
	_Atomic u32 ro_released; /* 1: an expect_efault pass may resume */

	_Atomic bool failed; /* set by any thread */
};

/* ---- helpers for the workloads (runner.c) -------------------------------- */

/* Run one pass on every vCPU and wait for all; returns seconds. */
double wl_pass_all(struct wl_ctx *c, const struct wl_pass *p);
/* Start a pass and return at once; wl_pass_wait() waits for it. */
void wl_pass_start(struct wl_ctx *c, const struct wl_pass *p);
/* Wait for the started pass, calling @poll (if any) over and over meanwhile. */
double wl_pass_wait(struct wl_ctx *c, void (*poll)(struct wl_ctx *c, void *arg), void *arg);

/* Set every slot's flags (KVM_MEM_LOG_DIRTY_PAGES); returns seconds or -1. */
double wl_set_slot_flags(struct wl_ctx *c, u32 flags);
/* Memslot i's geometry. */
void wl_slot_range(struct wl_ctx *c, int i, u64 *gpa, u64 *size, unsigned long *hva);
int wl_set_slot(struct wl_ctx *c, u32 slot, u32 flags, u64 gpa, u64 size, unsigned long hva);

/* The selftest line, to cfg.out. */
void wl_print(struct wl_ctx *c, const char *fmt, ...) __printf(2, 3);
/* Record a metric (snake_case name). */
void wl_metric_set(struct wl_ctx *c, const char *name, double value);
void wl_progress(struct wl_ctx *c, const char *phase);

double wl_now(void);
/* Seconds as the selftests print them: "X.XXXXXXXXXs". */
void wl_print_time(struct wl_ctx *c, const char *label, double s);

#endif /* KVMMU_WORKLOAD_WL_INTERNAL_H */
