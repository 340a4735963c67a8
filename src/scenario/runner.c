// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario runner: worlds, schedules, the event hash, replay tokens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutant.h"
#include "observe.h"
#include "scenario.h"
#include "sched_ctl.h"
#include "spte.h"

#define SCN_MAX_STEPS 200000
#define SCN_MAX_RUNS 1000000 /* KVM_RUN calls for one program */

/* ---- driving a world ------------------------------------------------------------------- */

int scn_vcpu_run_list(struct scn_world *w, int vcpu, struct hw_access *list, u64 n)
{
	/* With the guest's own tables: a kernel on them, gva = gpa. */
	struct hw_program p = { .list = list, .len = n, .paging = w->world.cfg.guest_paging,
				.cr3 = w->world.guest_cr3, .nested = w->world.l1 };
	struct kvm_vcpu *v = w->world.vcpus[vcpu];
	u64 runs = 0;
	int r;

	r = hw_vcpu_load_program(v->hw, &p);
	atomic_fetch_add(&w->programs[vcpu], 1);
	while (!r && !hw_vcpu_done(v->hw) && !atomic_load(&w->aborting)) {
		struct kvmmu_run run;

		/*
		 * A program of a few accesses that never ends: in a setup, where
		 * no checker watches yet and no step limit applies (a mutant that
		 * livelocks faults, say), give up rather than hang.
		 */
		if (++runs > SCN_MAX_RUNS)
			return -ELOOP;
		r = kvmmu_vcpu_run(v, &run);
		/* -EINTR: told to wind down. */
		if (r == -EINTR)
			return 0;
	}
	return r;
}

int scn_vcpu_access(struct scn_world *w, int vcpu, u8 op, u64 addr, u64 *value)
{
	struct hw_access a = { .op = op, .addr = addr, .value = value ? *value : 0 };
	int r = scn_vcpu_run_list(w, vcpu, &a, 1);

	if (value)
		*value = a.value;
	return r;
}

struct scn_thread_slot {
	struct scn_world *w;
	int (*fn)(struct scn_world *w);
};

static struct scn_thread_slot thread_slots[SCN_MAX_THREADS];

static int thread_body(void *arg)
{
	struct scn_thread_slot *s = arg;

	return s->fn(s->w);
}

int scn_thread(struct scn_world *w, const char *name, int (*fn)(struct scn_world *w))
{
	struct scn_thread_slot *s;

	if (w->nr_threads == SCN_MAX_THREADS)
		return -ENOSPC;
	s = &thread_slots[w->nr_threads];
	s->w = w;
	s->fn = fn;
	return kvmmu_thread_create(&w->threads[w->nr_threads++], name, 0, thread_body, s);
}

/*
 * Wind the schedule down.  Called from a checker (under its lock) or from
 * the executor: only flags and counters, no events, no blocking.
 */
void scn_abort(struct scn_world *w)
{
	atomic_store(&w->aborting, true);
	world_stop_vcpus(&w->world);
}

static void abort_cb(void *arg)
{
	scn_abort(arg);
}

/* ---- the event hash ------------------------------------------------------------------------ */

static u64 ev_hash;
static struct kvmmu_ev_warn first_warn;
static bool warned;

static void hash_u64(u64 v)
{
	int i;

	for (i = 0; i < 8; i++) {
		ev_hash ^= (v >> (i * 8)) & 0xff;
		ev_hash *= 0x100000001b3ULL;
	}
}

/* No pointers, no pfns, no times: what the same schedule repeats exactly. */
static void hash_event(struct kvmmu_observer *obs, const struct kvmmu_event *ev)
{
	hash_u64(((u64)(s64)sched_ctl_thread_index() << 16) | ev->type);
	switch (ev->type) {
	case KVMMU_EV_SPTE_CHANGE:
		hash_u64(ev->spte.gfn);
		hash_u64(ev->spte.level | (ev->spte.shared << 8) | (ev->spte.preserves << 9));
		hash_u64(ev->spte.old_spte & ~PT64_PFN_MASK);
		hash_u64(ev->spte.new_spte & ~PT64_PFN_MASK);
		break;
	case KVMMU_EV_TABLE_ALLOC:
	case KVMMU_EV_TABLE_FREE:
	case KVMMU_EV_TABLE_READ:
		hash_u64(ev->table.gfn);
		hash_u64(ev->table.level | (ev->table.reader << 8));
		break;
	case KVMMU_EV_ROOT_GET:
	case KVMMU_EV_ROOT_PUT:
	case KVMMU_EV_ROOT_INVALIDATE:
		hash_u64((u64)ev->root.refcount | ((u64)ev->root.long_lived << 32) |
			 ((u64)ev->root.invalid << 33));
		break;
	case KVMMU_EV_TLB_FILL:
	case KVMMU_EV_TLB_FLUSH:
		hash_u64((u64)ev->tlb.vcpu | ((u64)ev->tlb.level << 16) | ((u64)ev->tlb.all << 24));
		hash_u64(ev->tlb.gfn);
		hash_u64(ev->tlb.spte & ~PT64_PFN_MASK);
		break;
	case KVMMU_EV_VCPU_MODE:
	case KVMMU_EV_VCPU_REQUEST:
		hash_u64((u64)ev->vcpu.vcpu | ((u64)ev->vcpu.old_mode << 16) |
			 ((u64)ev->vcpu.new_mode << 24) | ((u64)ev->vcpu.request << 32) |
			 ((u64)ev->vcpu.entered << 40));
		break;
	case KVMMU_EV_NOTIFIER_START:
	case KVMMU_EV_NOTIFIER_END:
		hash_u64(ev->notifier.start);
		hash_u64(ev->notifier.end);
		hash_u64((u64)ev->notifier.event);
		break;
	case KVMMU_EV_GUEST_LOAD:
	case KVMMU_EV_GUEST_STORE:
		hash_u64(ev->access.gpa);
		hash_u64(ev->access.value);
		hash_u64((u64)ev->access.vcpu | ((u64)ev->access.size << 16));
		break;
	case KVMMU_EV_SPTE_HW_DIRTY:
		hash_u64(ev->spte.gfn);
		hash_u64(ev->spte.new_spte & ~PT64_PFN_MASK);
		break;
	case KVMMU_EV_PML_LOG:
	case KVMMU_EV_PML_FLUSH:
		hash_u64((u64)ev->pml.vcpu | ((u64)ev->pml.nr << 16));
		hash_u64(ev->pml.gpa);
		break;
	case KVMMU_EV_DIRTY_LOG_GET:
	case KVMMU_EV_DIRTY_LOG_CLEAR:
	case KVMMU_EV_DIRTY_RING_RESET:
		hash_u64((u64)ev->dirty_log.slot);
		hash_u64(ev->dirty_log.first_page);
		hash_u64(ev->dirty_log.num_pages);
		break;
	case KVMMU_EV_SPAN_BEGIN:
	case KVMMU_EV_SPAN_END:
		hash_u64(ev->span.kind);
		hash_u64(ev->span.arg);
		break;
	case KVMMU_EV_FRAME_MISUSE:
		hash_u64(ev->misuse.kind | (ev->misuse.state << 8));
		break;
	case KVMMU_EV_RMAP_FREED_READ:
		hash_u64(ev->rmap.gfn);
		hash_u64(ev->rmap.level | (ev->rmap.reader << 8));
		break;
	case KVMMU_EV_WARN:
		hash_u64((u64)ev->warn.line);
		if (!warned) {
			warned = true;
			first_warn = ev->warn;
		}
		break;
	default:
		break;
	}
}

static struct kvmmu_observer hash_observer = {
	.name = "event-hash",
	.mask = (1ULL << NR_KVMMU_EVENTS) - 1,
	.notify = hash_event,
};

/* ---- schedules -------------------------------------------------------------------------------- */

static u64 mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static u64 schedule_seed(u64 seed, u64 index)
{
	return mix(mix(seed) ^ index);
}

struct one {
	bool violated;
	struct check_violation v;
	u64 hash;
	u64 steps;
};

unsigned int scn_yield_every(const struct scn_config *cfg)
{
	return cfg->set_yield_every ? cfg->yield_every : cfg->scn->world.yield_every;
}

enum world_counters scn_counters(const struct scn_config *cfg)
{
	return cfg->set_counters ? cfg->counters : cfg->scn->world.counters;
}

bool scn_pml(const struct scn_config *cfg)
{
	return cfg->set_pml ? cfg->pml : cfg->scn->world.pml;
}

enum world_mmu scn_mmu(const struct scn_config *cfg)
{
	return cfg->set_mmu ? cfg->mmu : cfg->scn->world.mmu;
}

/*
 * Build the world of one schedule: the scenario's VM and memory, with the
 * checkers and mutants of the run (none when calibrating), set up.
 */
static int build_world(struct scn_world *w, const struct scn_config *cfg, bool calibrate)
{
	struct world_config wc = cfg->scn->world;
	int i, r;

	if (wc.nr_vcpus > SCN_MAX_VCPUS)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	for (i = 0; i < (int)ARRAY_SIZE(w->done); i++)
		init_completion(&w->done[i]);
	wc.yield_every = scn_yield_every(cfg);
	wc.counters = scn_counters(cfg);
	wc.pml = scn_pml(cfg);
	wc.mmu = scn_mmu(cfg);
	wc.checks = calibrate ? 0 : cfg->checks;
	wc.mutants = cfg->mutants;
	wc.on_violation = abort_cb;
	wc.violation_arg = w;
	r = world_create(&w->world, &wc, NULL, 0);
	if (!r && cfg->scn->setup)
		r = cfg->scn->setup(w);
	if (r)
		world_destroy(&w->world);
	return r;
}

static int run_one(const struct scn_config *cfg, u64 index, u64 k, bool calibrate,
		   struct one *out)
{
	const struct scenario *s = cfg->scn;
	struct scn_world *w = calloc(1, sizeof(*w));
	struct sched_ctl_config sc = {
		.seed = schedule_seed(cfg->seed, index),
		.strategy = (cfg->strategy == SCN_PCT && !calibrate) ? SCHED_STRATEGY_PCT :
								       SCHED_STRATEGY_RANDOM,
		.point_mask = s->point_mask,
		.resched_per_1024 = s->resched_per_1024,
		.depth = cfg->depth,
		.steps = k,
		.max_steps = SCN_MAX_STEPS,
		.on_limit = abort_cb,
	};
	bool controlled = cfg->strategy != SCN_FREE || calibrate;
	unsigned long warns;
	int r, i, n;

	memset(out, 0, sizeof(*out));
	if (!w)
		return -ENOMEM;
	r = build_world(w, cfg, calibrate);
	if (r) {
		free(w);
		return r;
	}

	warns = kvmmu_warn_count();
	warned = false;
	ev_hash = 0xcbf29ce484222325ULL;
	r = world_check_begin(&w->world);
	if (!r && controlled)
		r = kvmmu_observer_register(&hash_observer);
	if (r) {
		world_destroy(&w->world);
		free(w);
		return r;
	}
	sc.limit_arg = w;
	if (controlled)
		r = sched_ctl_begin(&sc);
	/* Programs the setup loaded do not count. */
	for (i = 0; i < SCN_MAX_VCPUS; i++)
		atomic_store(&w->programs[i], 0);
	if (!r)
		r = s->start(w);
	if (controlled && !r)
		sched_ctl_run();
	for (i = 0; i < w->nr_threads; i++)
		kvmmu_thread_join(w->threads[i]);
	if (controlled) {
		struct sched_ctl_stats st;

		sched_ctl_get_stats(&st);
		out->steps = st.steps;
		sched_ctl_end();
		kvmmu_observer_unregister(&hash_observer);
	}
	/* Leaks are reported to the checkers by the teardown. */
	world_destroy(&w->world);
	free(w);
	out->hash = ev_hash;

	n = check_violations(&out->v, 1);
	if (n) {
		out->violated = true;
	} else if (kvmmu_warn_count() != warns && !calibrate) {
		out->violated = true;
		out->v = (struct check_violation){ .invariant = "W", .checker = "warn",
						   .gfn = -1, .pfn = -1 };
		snprintf(out->v.description, sizeof(out->v.description),
			 "%lu warnings; the first: %s:%d: %s", kvmmu_warn_count() - warns,
			 warned ? first_warn.file : "?", warned ? first_warn.line : 0,
			 warned ? first_warn.cond : "?");
	}
	return r;
}

static const char *const strategy_names[] = {
	[SCN_PCT] = "pct",
	[SCN_RANDOM] = "random",
	[SCN_FREE] = "free",
};

const char *scn_strategy_name(enum scn_strategy s)
{
	return strategy_names[s];
}

int scn_strategy_parse(const char *s, enum scn_strategy *out)
{
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(strategy_names); i++) {
		if (!strcmp(s, strategy_names[i])) {
			*out = (enum scn_strategy)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *scn_build_id(void)
{
	static char id[17];
	const char *src = KVMMU_SCN_BUILD " " __DATE__ " " __TIME__;
	u64 h = 0xcbf29ce484222325ULL;

	if (!id[0]) {
		for (; *src; src++) {
			h ^= (u8)*src;
			h *= 0x100000001b3ULL;
		}
		snprintf(id, sizeof(id), "%08llx", (unsigned long long)(h & 0xffffffffULL));
	}
	return id;
}

static void make_token(const struct scn_config *cfg, u64 index, u64 k, char *buf, size_t len)
{
	snprintf(buf, len, "kvmmu1.%s.%s.%llx.%s.%u.%llu.%llu.%llu.y%u.c%u.p%u.m%u",
		 scn_build_id(), cfg->scn->name, (unsigned long long)cfg->mutants,
		 scn_strategy_name(cfg->strategy), cfg->depth, (unsigned long long)k,
		 (unsigned long long)cfg->seed, (unsigned long long)index, scn_yield_every(cfg),
		 (unsigned int)scn_counters(cfg), (unsigned int)scn_pml(cfg),
		 (unsigned int)scn_mmu(cfg));
}

u64 scn_shard_schedules(const struct scn_config *cfg)
{
	u64 m = cfg->shard_count ? cfg->shard_count : 1;

	if (cfg->shard_index >= cfg->schedules)
		return 0;
	return (cfg->schedules - 1 - cfg->shard_index) / m + 1;
}

u64 scn_digest(u64 index, u64 event_hash)
{
	return mix(mix(event_hash) ^ index);
}

static bool stopping(const struct scn_config *cfg)
{
	return cfg->stop && atomic_load(cfg->stop);
}

int scn_run(const struct scn_config *cfg, struct scn_result *res)
{
	u64 m = cfg->shard_count ? cfg->shard_count : 1;
	u64 total = scn_shard_schedules(cfg);
	struct one one;
	u64 k = 0, i;
	int r;

	memset(res, 0, sizeof(*res));
	if (cfg->shard_index >= m)
		return -EINVAL;
	/* PCT needs the number of steps: one random schedule measures it. */
	if (cfg->strategy == SCN_PCT && total) {
		r = run_one(cfg, ~0ULL, 0, true, &one);
		if (r)
			return r;
		k = one.steps ? one.steps : 1;
	}
	res->steps = k;
	/* Index k of the unsharded run is the (k / m)-th schedule of shard k % m. */
	for (i = cfg->shard_index; i < cfg->schedules; i += m) {
		if (stopping(cfg)) {
			res->interrupted = true;
			break;
		}
		r = run_one(cfg, i, k, false, &one);
		if (r)
			return r;
		res->schedules_run++;
		res->last_index = i;
		res->event_hash = one.hash;
		res->schedules_digest += scn_digest(i, one.hash);
		if (cfg->progress)
			cfg->progress(res->schedules_run, total, cfg->arg);
		if (one.violated) {
			res->violated = true;
			res->violation = one.v;
			res->schedule_index = i;
			make_token(cfg, i, k, res->token, sizeof(res->token));
			break;
		}
		/* The last index below 2^64 that is ours: i + m would wrap. */
		if (i > ~0ULL - m)
			break;
	}
	return 0;
}

/* Read a token into @cfg (the schedule's index and PCT's k apart). */
static int parse_token(const char *token, u64 checks, struct scn_config *cfg, u64 *index,
		       u64 *k)
{
	char build[32], name[64], strategy[16];
	unsigned long long mutants, steps, seed, idx;
	unsigned int depth, yield_every, counters, pml, mmu;
	int end = 0;

	if (sscanf(token, "kvmmu1.%31[^.].%63[^.].%llx.%15[^.].%u.%llu.%llu.%llu.y%u.c%u.p%u.m%u%n",
		   build, name, &mutants, strategy, &depth, &steps, &seed, &idx, &yield_every,
		   &counters, &pml, &mmu, &end) != 12 || token[end] || counters >= NR_WORLD_COUNTERS ||
	    pml > 1 || mmu >= NR_WORLD_MMUS)
		return -EINVAL;
	if (strcmp(build, scn_build_id()))
		return -ESTALE;
	memset(cfg, 0, sizeof(*cfg));
	cfg->scn = scn_find(name);
	if (!cfg->scn)
		return -ENOENT;
	if (scn_strategy_parse(strategy, &cfg->strategy) || cfg->strategy == SCN_FREE ||
	    (mutants >> NR_KVMMU_MUTANTS))
		return -EINVAL;
	cfg->mutants = mutants;
	cfg->checks = checks;
	cfg->depth = depth;
	cfg->seed = seed;
	cfg->schedules = 1;
	cfg->set_yield_every = cfg->set_counters = true;
	cfg->yield_every = yield_every;
	cfg->counters = (enum world_counters)counters;
	cfg->set_pml = true;
	cfg->pml = pml;
	cfg->set_mmu = true;
	cfg->mmu = (enum world_mmu)mmu;
	*index = idx;
	*k = steps;
	return 0;
}

int scn_token_check(const char *token)
{
	struct scn_config cfg;
	u64 index, k;

	return parse_token(token, 0, &cfg, &index, &k);
}

int scn_replay(const char *token, u64 checks, struct scn_config *cfg, struct scn_result *res)
{
	struct one one;
	u64 index, k;
	int r;

	memset(res, 0, sizeof(*res));
	r = parse_token(token, checks, cfg, &index, &k);
	r = r ?: run_one(cfg, index, k, false, &one);
	if (r)
		return r;
	res->schedules_run = 1;
	res->steps = k;
	res->event_hash = one.hash;
	res->schedules_digest = scn_digest(index, one.hash);
	res->last_index = index;
	res->schedule_index = index;
	if (one.violated) {
		res->violated = true;
		res->violation = one.v;
	}
	snprintf(res->token, sizeof(res->token), "%s", token);
	return 0;
}
