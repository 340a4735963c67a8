// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public API over the world, the checkers and the scenarios
 * (include/kvmmu/world.h, check.h, scenario.h, version.h).
 *
 * A thin layer: it translates the public structures, whose fields are
 * fixed-width C types and whose enums are kvmmu_-prefixed, into the
 * internal ones, and hands out opaque handles.  Nothing here decides
 * anything the world layer does not decide for every other driver.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmmu/check.h>
#include <kvmmu/scenario.h>
#include <kvmmu/version.h>
#include <kvmmu/world.h>

#include "bug.h"
#include "check.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "scenario.h"
#include "thread.h"
#include "world.h"

/* The public enums are the internal ones, value for value. */
static_assert((int)KVMMU_MMU_TDP == WORLD_MMU_TDP, "mmu");
static_assert((int)KVMMU_MMU_TDP_LEGACY == WORLD_MMU_TDP_LEGACY, "mmu");
static_assert((int)KVMMU_MMU_SHADOW == WORLD_MMU_SHADOW, "mmu");
static_assert((int)KVMMU_BACKING_ANON == WORLD_BACKING_ANON, "backing");
static_assert((int)KVMMU_BACKING_THP == WORLD_BACKING_THP, "backing");
static_assert((int)KVMMU_BACKING_SHARED == WORLD_BACKING_SHARED, "backing");
static_assert((int)KVMMU_BACKING_SHARED_THP == WORLD_BACKING_SHARED_THP, "backing");
static_assert((int)KVMMU_BACKING_HUGETLB_2M == WORLD_BACKING_HUGETLB_2M, "backing");
static_assert((int)KVMMU_BACKING_HUGETLB_1G == WORLD_BACKING_HUGETLB_1G, "backing");
static_assert((int)KVMMU_BACKING_PFNMAP == WORLD_BACKING_PFNMAP, "backing");
static_assert((int)KVMMU_BACKING_PFNMAP + 1 == NR_WORLD_BACKINGS, "backing");
static_assert((int)KVMMU_COUNTERS_ZERO == WORLD_COUNTERS_ZERO, "counters");
static_assert((int)KVMMU_COUNTERS_2_31 == WORLD_COUNTERS_2_31, "counters");
static_assert((int)KVMMU_COUNTERS_2_32 == WORLD_COUNTERS_2_32, "counters");
static_assert((int)KVMMU_COUNTERS_2_63 == WORLD_COUNTERS_2_63, "counters");
static_assert((int)KVMMU_COUNTERS_MMIO_WRAP + 1 == NR_WORLD_COUNTERS, "counters");
static_assert((int)KVMMU_ACCESS_LOAD == HW_LOAD, "access");
static_assert((int)KVMMU_ACCESS_STORE == HW_STORE, "access");
static_assert((int)KVMMU_ACCESS_FETCH == HW_FETCH, "access");
static_assert(KVMMU_WORLD_MAX_VCPUS == WORLD_MAX_VCPUS, "vcpus");
static_assert(KVMMU_WORLD_MAX_MEM == WORLD_MAX_MEM, "regions");
static_assert(sizeof(((struct kvmmu_violation *)0)->description) ==
	      sizeof(((struct check_violation *)0)->description), "violation");
static_assert(sizeof(((struct kvmmu_violation *)0)->thread) ==
	      sizeof(((struct check_violation *)0)->thread), "violation");

/*
 * A guest access list is handed to the CPU as it is (loads are written
 * back into the caller's list), so the two layouts must be one.
 */
static_assert(sizeof(struct kvmmu_access) == sizeof(struct hw_access), "access");
static_assert(offsetof(struct kvmmu_access, op) == offsetof(struct hw_access, op), "access");
static_assert(offsetof(struct kvmmu_access, size) == offsetof(struct hw_access, size), "access");
static_assert(offsetof(struct kvmmu_access, addr) == offsetof(struct hw_access, addr), "access");
static_assert(offsetof(struct kvmmu_access, value) == offsetof(struct hw_access, value), "access");

struct kvmmu_world {
	struct world w;
};

const char *kvmmu_version(void)
{
	return KVMMU_VERSION;
}

/* ---- the world ------------------------------------------------------------------------------- */

static int api_fail(char *why, size_t why_len, const char *msg)
{
	if (why && why_len)
		snprintf(why, why_len, "%s", msg);
	return -EINVAL;
}

static int to_world_config(const struct kvmmu_world_config *in, struct world_config *out,
			   char *why, size_t why_len)
{
	int m;

	if ((unsigned int)in->mmu >= NR_WORLD_MMUS)
		return api_fail(why, why_len, "unknown mmu");
	if ((unsigned int)in->format > KVMMU_TDP_NPT)
		return api_fail(why, why_len, "unknown TDP format");
	if ((unsigned int)in->counters >= NR_WORLD_COUNTERS)
		return api_fail(why, why_len, "unknown counters mode");
	if (in->mutants >> NR_KVMMU_MUTANTS)
		return api_fail(why, why_len, "unknown mutant in the mask");
	if (in->checks >> NR_CHECKERS)
		return api_fail(why, why_len, "unknown checker in the mask");

	memset(out, 0, sizeof(*out));
	out->nr_frames = in->nr_frames;
	out->tag_mode = in->tag_mode;
	out->phys_bits = in->phys_bits;
	out->vm_type = KVM_X86_DEFAULT_VM;
	out->mmu = (enum world_mmu)in->mmu;
	out->format = in->format;
	out->tdp_level = in->tdp_level;
	out->ad_disabled = in->ad_disabled;
	out->pml = in->pml;
	out->nx_huge_pages = in->nx_huge_pages;
	out->no_eager_split = in->no_eager_split;
	out->manual_protect = in->manual_protect;
	out->dirty_ring_bytes = in->dirty_ring_bytes;
	out->disabled_quirks = in->disabled_quirks;
	out->nr_vcpus = in->nr_vcpus;
	out->guest_paging = in->guest_paging;
	out->nested = in->nested;
	for (m = 0; m < WORLD_MAX_MEM; m++) {
		const struct kvmmu_mem_config *mi = &in->mem[m];
		struct world_mem_config *mo = &out->mem[m];

		if ((unsigned int)mi->backing >= NR_WORLD_BACKINGS)
			return api_fail(why, why_len, "unknown backing");
		mo->size = mi->size;
		mo->backing = (enum world_backing)mi->backing;
		mo->pfnmap_block = mi->pfnmap_block;
		mo->hva = mi->hva;
		mo->populate = mi->populate;
		mo->gpa = mi->gpa;
		mo->nr_slots = mi->nr_slots;
		mo->first_slot = mi->first_slot;
		mo->slot_flags = mi->slot_flags;
	}
	out->counters = (enum world_counters)in->counters;
	out->yield_every = in->yield_every;
	out->checks = in->checks;
	out->mutants = in->mutants;
	out->on_violation = in->on_violation;
	out->violation_arg = in->violation_arg;
	return 0;
}

int kvmmu_world_create(const struct kvmmu_world_config *cfg, struct kvmmu_world **out,
		       char *why, size_t why_len)
{
	struct world_config wc;
	struct kvmmu_world *w;
	int r;

	if (!cfg || !out) {
		if (why && why_len)
			snprintf(why, why_len, "no configuration or no place for the world");
		return -EFAULT;
	}
	r = to_world_config(cfg, &wc, why, why_len);
	if (r)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	r = world_create(&w->w, &wc, why, why_len);
	if (r) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

uint64_t kvmmu_world_destroy(struct kvmmu_world *w)
{
	u64 leaked;

	if (!w)
		return 0;
	leaked = world_destroy(&w->w);
	free(w);
	return leaked;
}

struct kvm *kvmmu_world_kvm(struct kvmmu_world *w)
{
	return w ? w->w.kvm : NULL;
}

struct kvm_vcpu *kvmmu_world_vcpu(struct kvmmu_world *w, int i)
{
	if (!w || i < 0 || i >= w->w.nr_vcpus)
		return NULL;
	return w->w.vcpus[i];
}

int kvmmu_world_nr_vcpus(const struct kvmmu_world *w)
{
	return w ? w->w.nr_vcpus : 0;
}

struct mm_struct *kvmmu_world_mm(struct kvmmu_world *w)
{
	return w ? w->w.mm : NULL;
}

int kvmmu_world_mem(const struct kvmmu_world *w, int m, struct kvmmu_mem_config *out)
{
	const struct world_mem_config *mc;

	if (!w)
		return -EBADF;
	if (!out)
		return -EFAULT;
	if (m < 0 || m >= w->w.nr_mem)
		return -EINVAL;
	mc = &w->w.cfg.mem[m];
	out->size = mc->size;
	out->backing = (enum kvmmu_backing)mc->backing;
	out->pfnmap_block = mc->pfnmap_block;
	out->hva = mc->hva;
	out->populate = mc->populate;
	out->gpa = mc->gpa;
	out->nr_slots = mc->nr_slots;
	out->first_slot = mc->first_slot;
	out->slot_flags = mc->slot_flags;
	return 0;
}

int kvmmu_world_mem_slot(const struct kvmmu_world *w, int m, int i, uint64_t *gpa,
			 uint64_t *size, unsigned long *hva)
{
	gpa_t g;
	u64 s;
	unsigned long h;

	if (!w)
		return -EBADF;
	if (m < 0 || m >= w->w.nr_mem || i < 0 || i >= w->w.cfg.mem[m].nr_slots)
		return -EINVAL;
	world_mem_slot(&w->w, m, i, &g, &s, &h);
	if (gpa)
		*gpa = g;
	if (size)
		*size = s;
	if (hva)
		*hva = h;
	return 0;
}

int kvmmu_world_set_memslot(struct kvmmu_world *w, uint32_t slot, uint32_t flags, uint64_t gpa,
			    uint64_t size, unsigned long hva)
{
	if (!w)
		return -EBADF;
	return world_set_memslot(&w->w, slot, flags, gpa, size, hva);
}

int kvmmu_world_mem_set_flags(struct kvmmu_world *w, int m, uint32_t flags)
{
	if (!w)
		return -EBADF;
	if (m < 0 || m >= w->w.nr_mem)
		return -EINVAL;
	return world_mem_set_flags(&w->w, m, flags);
}

int kvmmu_world_mem_delete_slots(struct kvmmu_world *w, int m)
{
	if (!w)
		return -EBADF;
	if (m < 0 || m >= w->w.nr_mem)
		return -EINVAL;
	return world_mem_delete_slots(&w->w, m);
}

int kvmmu_world_check_begin(struct kvmmu_world *w)
{
	if (!w)
		return -EBADF;
	return world_check_begin(&w->w);
}

void kvmmu_world_check_end(struct kvmmu_world *w)
{
	if (w)
		world_check_end(&w->w);
}

void kvmmu_world_stop_vcpus(struct kvmmu_world *w)
{
	if (w)
		world_stop_vcpus(&w->w);
}

/* ---- guest programs ------------------------------------------------------------------------- */

static struct kvmmu_hw_vcpu *api_hw_vcpu(struct kvmmu_world *w, int i)
{
	if (!w || i < 0 || i >= w->w.nr_vcpus || !w->w.machine)
		return NULL;
	return w->w.vcpus[i]->hw;
}

int kvmmu_world_vcpu_load(struct kvmmu_world *w, int i, const struct kvmmu_program *p)
{
	struct kvmmu_hw_vcpu *hv = api_hw_vcpu(w, i);
	struct hw_program prog;
	u64 k;

	if (!w)
		return -EBADF;
	if (!p)
		return -EFAULT;
	if (!hv || (p->list && !p->len) || p->write_percent > 100)
		return -EINVAL;
	for (k = 0; p->list && k < p->len; k++) {
		if (p->list[k].op > KVMMU_ACCESS_FETCH)
			return -EINVAL;
	}
	prog = (struct hw_program){
		/* Same layout: see the static_asserts above. */
		.list = (struct hw_access *)p->list,
		.len = p->len,
		.base = p->base,
		.size = p->size,
		.write_percent = p->write_percent,
		.random = p->random,
		.seed = p->seed,
		.passes = p->passes,
		.value = HW_VALUE_PATTERN,
		/* With the guest's own tables: a kernel on them, gva = gpa. */
		.paging = w->w.cfg.guest_paging,
		.cr3 = w->w.guest_cr3,
		.nested = w->w.l1,
	};
	return hw_vcpu_load_program(hv, &prog);
}

bool kvmmu_world_vcpu_done(struct kvmmu_world *w, int i)
{
	struct kvmmu_hw_vcpu *hv = api_hw_vcpu(w, i);

	return !hv || hw_vcpu_done(hv);
}

uint64_t kvmmu_world_vcpu_progress(struct kvmmu_world *w, int i)
{
	struct kvmmu_hw_vcpu *hv = api_hw_vcpu(w, i);

	return hv ? hw_vcpu_progress(hv) : 0;
}

int kvmmu_world_vcpu_run(struct kvmmu_world *w, int i)
{
	struct kvmmu_hw_vcpu *hv = api_hw_vcpu(w, i);
	int r = 0;

	if (!w)
		return -EBADF;
	if (!hv)
		return -EINVAL;
	while (!r && !hw_vcpu_done(hv)) {
		struct kvmmu_run run;

		r = kvmmu_vcpu_run(w->w.vcpus[i], &run);
		/* HLT ends a pass, MMIO is passed through (a load reads 0). */
		if (!r && run.exit_reason != KVM_EXIT_HLT && run.exit_reason != KVM_EXIT_MMIO &&
		    run.exit_reason != KVM_EXIT_INTR)
			r = -EIO;
	}
	return r;
}

int kvmmu_world_vcpu_access(struct kvmmu_world *w, int i, enum kvmmu_access_op op,
			    uint64_t addr, uint64_t *value)
{
	struct kvmmu_access a = { .op = (uint8_t)op, .size = 8, .addr = addr,
				  .value = value ? *value : 0 };
	struct kvmmu_program p = { .list = &a, .len = 1 };
	int r;

	if ((unsigned int)op > KVMMU_ACCESS_FETCH || addr % 8)
		return -EINVAL;
	r = kvmmu_world_vcpu_load(w, i, &p);
	if (!r)
		r = kvmmu_world_vcpu_run(w, i);
	if (!r && value)
		*value = a.value;
	return r;
}

/* ---- the VMM in the host ------------------------------------------------------------------ */

int kvmmu_world_munmap(struct kvmmu_world *w, unsigned long hva, unsigned long len)
{
	if (!w)
		return -EBADF;
	return host_munmap(w->w.mm, hva, len);
}

int kvmmu_world_madvise_dontneed(struct kvmmu_world *w, unsigned long hva, unsigned long len)
{
	if (!w)
		return -EBADF;
	return host_madvise_dontneed(w->w.mm, hva, len);
}

int kvmmu_world_migrate(struct kvmmu_world *w, unsigned long hva, unsigned long len,
			unsigned long *nr_moved)
{
	unsigned long moved = 0;
	int r;

	if (!w)
		return -EBADF;
	r = host_migrate(w->w.mm, hva, len, &moved);
	if (nr_moved)
		*nr_moved = moved;
	return r;
}

int kvmmu_world_host_read(struct kvmmu_world *w, unsigned long hva, uint64_t *val)
{
	if (!w)
		return -EBADF;
	if (!val)
		return -EFAULT;
	if (hva % 8)
		return -EINVAL;
	return host_access(w->w.mm, hva, false, val);
}

int kvmmu_world_host_write(struct kvmmu_world *w, unsigned long hva, uint64_t val)
{
	if (!w)
		return -EBADF;
	if (hva % 8)
		return -EINVAL;
	return host_access(w->w.mm, hva, true, &val);
}

/* ---- checkers and mutants ------------------------------------------------------------------ */

int kvmmu_checker_count(void)
{
	return NR_CHECKERS;
}

int kvmmu_checker_info(int i, struct kvmmu_check_info *out)
{
	if (!out)
		return -EFAULT;
	if (i < 0 || i >= NR_CHECKERS)
		return -EINVAL;
	out->name = checker_table[i].name;
	out->invariant = checker_table[i].invariant;
	out->description = checker_table[i].description;
	return 0;
}

int kvmmu_check_parse(const char *list, uint64_t *mask, char *bad, size_t bad_len)
{
	u64 m;
	int r;

	if (!list || !mask)
		return -EFAULT;
	r = check_parse(list, &m, bad, bad_len);
	if (!r)
		*mask = m;
	return r;
}

int kvmmu_mutant_count(void)
{
	return NR_KVMMU_MUTANTS;
}

int kvmmu_mutant_info(int i, struct kvmmu_check_info *out)
{
	if (!out)
		return -EFAULT;
	if (i < 0 || i >= NR_KVMMU_MUTANTS)
		return -EINVAL;
	out->name = kvmmu_mutant_table[i].name;
	out->invariant = kvmmu_mutant_table[i].seed;
	out->description = kvmmu_mutant_table[i].description;
	return 0;
}

static void to_violation(const struct check_violation *in, struct kvmmu_violation *out)
{
	out->invariant = in->invariant;
	out->checker = in->checker;
	memcpy(out->description, in->description, sizeof(out->description));
	memcpy(out->thread, in->thread, sizeof(out->thread));
	out->gfn = in->gfn;
	out->pfn = in->pfn;
	out->event_index = in->event_index;
}

int kvmmu_check_violations(struct kvmmu_violation *out, int n)
{
	struct check_violation v[16];
	int nr, i;

	if (n > 0 && !out)
		return -EFAULT;
	if (n < 0)
		return -EINVAL;
	nr = check_violations(v, n < (int)ARRAY_SIZE(v) ? n : (int)ARRAY_SIZE(v));
	for (i = 0; i < n && i < nr && i < (int)ARRAY_SIZE(v); i++)
		to_violation(&v[i], &out[i]);
	return nr;
}

uint64_t kvmmu_check_events_seen(void)
{
	return check_events_seen();
}

unsigned long kvmmu_check_warnings(void)
{
	return kvmmu_warn_count();
}

/* ---- scenarios ------------------------------------------------------------------------------ */

int kvmmu_scenario_count(void)
{
	return nr_scenarios;
}

int kvmmu_scenario_info(int i, const char **name, const char **description,
			char *mutants, size_t mutants_len)
{
	const struct scenario *s;
	size_t used = 0;
	int k;

	if (i < 0 || i >= nr_scenarios)
		return -EINVAL;
	s = scenario_table[i];
	if (name)
		*name = s->name;
	if (description)
		*description = s->description;
	if (mutants && mutants_len) {
		mutants[0] = '\0';
		for (k = 0; k < (int)ARRAY_SIZE(s->mutants) && s->mutants[k]; k++) {
			int n = snprintf(mutants + used, mutants_len - used, "%s%s",
					 k ? "," : "", s->mutants[k]);

			if (n < 0 || (size_t)n >= mutants_len - used)
				break;
			used += (size_t)n;
		}
	}
	return 0;
}

static void to_scenario_result(const struct scn_result *in, struct kvmmu_scenario_result *out)
{
	memset(out, 0, sizeof(*out));
	out->schedules_run = in->schedules_run;
	out->violated = in->violated;
	if (in->violated)
		to_violation(&in->violation, &out->violation);
	out->schedule_index = in->schedule_index;
	out->event_hash = in->event_hash;
	snprintf(out->replay, sizeof(out->replay), "%s", in->violated ? in->token : "");
}

int kvmmu_scenario_run(const struct kvmmu_scenario_config *cfg,
		       struct kvmmu_scenario_result *res)
{
	struct scn_config sc = {
		.strategy = SCN_PCT,
		.depth = 3,
		.schedules = 1000,
	};
	struct scn_result r;
	int err;

	if (!cfg || !res || !cfg->name)
		return -EFAULT;
	sc.scn = scn_find(cfg->name);
	if (!sc.scn)
		return -ENOENT;
	if (cfg->strategy && scn_strategy_parse(cfg->strategy, &sc.strategy))
		return -EINVAL;
	if (cfg->depth > 16 || (cfg->mutants >> NR_KVMMU_MUTANTS) ||
	    (cfg->checks >> NR_CHECKERS))
		return -EINVAL;
	if (cfg->depth)
		sc.depth = cfg->depth;
	if (cfg->schedules)
		sc.schedules = cfg->schedules;
	sc.mutants = cfg->mutants;
	sc.checks = cfg->checks;
	sc.seed = cfg->seed;
	memset(&r, 0, sizeof(r));
	err = scn_run(&sc, &r);
	if (err)
		return err;
	to_scenario_result(&r, res);
	return 0;
}

int kvmmu_scenario_replay(const char *token, uint64_t checks,
			  struct kvmmu_scenario_result *res)
{
	struct scn_config sc;
	struct scn_result r;
	int err;

	if (!token || !res)
		return -EFAULT;
	if (checks >> NR_CHECKERS)
		return -EINVAL;
	memset(&sc, 0, sizeof(sc));
	memset(&r, 0, sizeof(r));
	err = scn_replay(token, checks, &sc, &r);
	if (err)
		return err;
	to_scenario_result(&r, res);
	return 0;
}
