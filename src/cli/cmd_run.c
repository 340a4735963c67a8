// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu run: the selftest-style workloads.  With a workload: run it, print
 * the selftest's lines, then a summary of KVM's stats and the checkers'
 * findings.  Without one: the tour, every workload at a small size with
 * every checker on, and a table.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"
#include "workload.h"

/* Sizes: a number with an optional K, M, G or T (powers of 2). */
static u64 parse_size(const char *opt, const char *s)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		cli_usage_error("run: bad size '%s' for --%s", s, opt);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end || !v || v > (~0ULL >> shift))
		cli_usage_error("run: bad size '%s' for --%s", s, opt);
	return (u64)v << shift;
}

static long parse_int(const char *opt, const char *s, long min, long max)
{
	return cli_parse_long("run", opt, s, min, max);
}

/* ---- progress -------------------------------------------------------------------------------- */

/*
 * A ticker thread reports the phase the workload is in: once a second as a
 * live line on a terminal, every five seconds as a plain line otherwise,
 * and nothing for a run that ends within a second.  It only reads what the
 * workload's progress hook copied in, so it never disturbs the timing.
 */
struct progress {
	bool quiet, tty;
	bool every_second;     /* --progress: once a second even without a terminal */
	struct wl_progress_view view;
	const char *workload;
	double start;
	pthread_mutex_t lock;  /* @phase */
	char phase[48];
	pthread_t ticker;
	bool ticking;
	_Atomic bool stop;
	bool printed;          /* a live line is on the terminal */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The workload's hook: a phase begins. */
static void progress_cb(const char *phase, void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->lock);
	snprintf(p->phase, sizeof(p->phase), "%s", phase);
	pthread_mutex_unlock(&p->lock);
}

/*
 * ", pass 42%, 3.1M accesses/s, pass ETA 12s": where the vCPUs' memstress
 * passes stand, the guest's access rate since the last line, and when the
 * passes in progress end at that rate; "" before the first sample.
 */
static void progress_rate(struct progress *p, double t, double *last_t, u64 *last_acc,
			  char *buf, size_t len)
{
	u64 done, pages, acc;
	double rate;
	char eta[16];

	buf[0] = 0;
	if (!wl_progress_sample(&p->view, &done, &pages, &acc))
		return;
	rate = *last_t > 0 && t > *last_t ? (double)(acc - *last_acc) / (t - *last_t) : 0;
	*last_t = t;
	*last_acc = acc;
	if (!pages || rate <= 0)
		return;
	snprintf(buf, len, ", pass %.0f%%, %.3gM accesses/s, pass ETA %s",
		 100.0 * (double)done / (double)pages, rate / 1e6,
		 cli_duration((double)(pages - min(done, pages)) / rate, eta, sizeof(eta)));
}

static void *ticker(void *arg)
{
	struct progress *p = arg;
	double every = p->tty || p->every_second ? 1.0 : 5.0, next = p->start + every;
	const struct timespec slice = { .tv_nsec = 100 * 1000 * 1000 };
	double last_t = 0;
	u64 last_acc = 0;

	while (!atomic_load(&p->stop)) {
		char phase[48], rate[96];
		double t;

		nanosleep(&slice, NULL);
		t = now_s();
		/* Sampled a second before each line, for the rate. */
		if (next - t <= 1.0 && next - t > 0.9)
			progress_rate(p, t, &last_t, &last_acc, rate, sizeof(rate));
		if (t < next || atomic_load(&p->stop))
			continue;
		next = t + every;
		progress_rate(p, t, &last_t, &last_acc, rate, sizeof(rate));
		pthread_mutex_lock(&p->lock);
		snprintf(phase, sizeof(phase), "%s", p->phase);
		pthread_mutex_unlock(&p->lock);
		if (p->tty)
			fprintf(stderr, "\r\033[K%s: %s%s (%.0fs)", p->workload, phase, rate,
				t - p->start);
		else
			fprintf(stderr, "%s: %s%s (%.0fs)\n", p->workload, phase, rate,
				t - p->start);
		p->printed = p->tty;
	}
	return NULL;
}

static void progress_start(struct progress *p, const char *workload)
{
	p->workload = workload;
	p->start = now_s();
	p->phase[0] = 0;
	atomic_store(&p->stop, false);
	p->printed = false;
	p->ticking = !p->quiet && !pthread_create(&p->ticker, NULL, ticker, p);
}

static void progress_done(struct progress *p)
{
	if (!p->ticking)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->ticker, NULL);
	p->ticking = false;
	if (p->printed)
		fprintf(stderr, "\r\033[K");
}

/* ---- output ---------------------------------------------------------------------------------- */

static void violation_json(struct json *j, const struct check_violation *v)
{
	json_object_begin(j);
	json_key(j, "invariant");
	json_string(j, v->invariant);
	json_key(j, "checker");
	json_string(j, v->checker);
	json_key(j, "description");
	json_string(j, v->description);
	json_key(j, "thread");
	json_string(j, v->thread);
	json_key(j, "gfn");
	if (v->gfn < 0)
		json_null(j);
	else
		json_s64(j, v->gfn);
	json_key(j, "pfn");
	if (v->pfn < 0)
		json_null(j);
	else
		json_s64(j, v->pfn);
	json_key(j, "event_index");
	json_u64(j, v->event_index);
	json_object_end(j);
}

static void result_json(struct json *j, const struct workload *wl, const struct wl_result *res)
{
	const struct wl_config *cfg = &res->config;
	int i;

	json_object_begin(j);
	json_key(j, "workload");
	json_string(j, wl->name);
	json_key(j, "mmu");
	json_string(j, world_mmu_name(cfg->mmu));
	json_key(j, "config");
	json_object_begin(j);
	json_key(j, "guest_paging");
	json_u64(j, (u64)cfg->guest_paging);
	json_key(j, "nested");
	json_bool(j, cfg->nested);
	json_key(j, "vcpus");
	json_u64(j, (u64)cfg->vcpus);
	json_key(j, "mem_per_vcpu");
	json_u64(j, cfg->mem_per_vcpu);
	json_key(j, "slots");
	json_u64(j, (u64)cfg->slots);
	json_key(j, "backing");
	json_string(j, world_backing_name(cfg->backing));
	json_key(j, "write_percent");
	json_u64(j, cfg->write_percent);
	json_key(j, "random");
	json_bool(j, cfg->random);
	json_key(j, "iterations");
	json_u64(j, (u64)cfg->iterations);
	json_key(j, "seed");
	json_u64(j, cfg->seed);
	if (cfg->processes) {
		json_key(j, "processes");
		json_u64(j, (u64)cfg->processes);
		json_key(j, "process_pages");
		json_u64(j, (u64)cfg->process_pages);
		json_key(j, "ops");
		json_u64(j, (u64)cfg->ops);
	}
	json_key(j, "tag_mode");
	json_bool(j, cfg->tag_mode);
	json_key(j, "pml");
	json_bool(j, cfg->pml);
	json_key(j, "yield_every");
	json_u64(j, cfg->yield_every);
	json_key(j, "counters");
	json_string(j, world_counters_name(cfg->counters));
	/* --check, as checker names: what the figures paid for (checker cost). */
	json_key(j, "checks");
	json_array_begin(j);
	for (i = 0; i < NR_CHECKERS; i++) {
		if (cfg->checks & (1ULL << i))
			json_string(j, checker_table[i].name);
	}
	json_array_end(j);
	json_object_end(j);
	json_key(j, "metrics");
	json_object_begin(j);
	for (i = 0; i < res->nr_metrics; i++) {
		json_key(j, res->metrics[i].name);
		json_double(j, res->metrics[i].value);
	}
	json_key(j, "total_s");
	json_double(j, res->seconds);
	json_object_end(j);
	json_key(j, "stats");
	json_object_begin(j);
	for (i = 0; i < res->nr_stats; i++) {
		json_key(j, res->stats[i].name);
		json_u64(j, res->stats[i].value);
	}
	json_object_end(j);
	json_key(j, "violations");
	json_array_begin(j);
	for (i = 0; i < res->nr_found && i < WL_MAX_FOUND; i++)
		violation_json(j, &res->found[i]);
	json_array_end(j);
	json_key(j, "warnings");
	json_u64(j, res->warnings);
	json_key(j, "failure");
	json_string(j, res->failure[0] ? res->failure : NULL);
	json_key(j, "complete");
	json_bool(j, !res->interrupted);
	json_key(j, "interrupted");
	json_string(j, res->interrupted ? cli_stop_signal_name() : NULL);
	json_object_end(j);
}

/* The stats a KVM developer looks at first, then the checkers. */
static void summary(FILE *f, const struct workload *wl, const struct wl_result *res)
{
	static const char *const shown[] = {
		"pf_taken", "pf_fixed", "pf_spurious", "pf_fast", "tlb_flush",
		"remote_tlb_flush", "pages_4k", "pages_2m", "pages_1g", "mmu_shadow_zapped",
	};
	size_t k;
	int i;

	fprintf(f, "--- %s: %.3fs, %d vCPU%s x %lluM, %d slot%s, %s backing\n", wl->name,
		res->seconds, res->config.vcpus, res->config.vcpus == 1 ? "" : "s",
		(unsigned long long)(res->config.mem_per_vcpu >> 20), res->config.slots,
		res->config.slots == 1 ? "" : "s", world_backing_name(res->config.backing));
	fprintf(f, "stats:");
	for (k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
		u64 v = wl_stat(res, shown[k]);

		if (v != -1ULL)
			fprintf(f, " %s=%llu", shown[k], (unsigned long long)v);
	}
	fprintf(f, "\n");
	if (res->interrupted)
		fprintf(f, "interrupted (%s): the figures are of the part that ran\n",
			cli_stop_signal_name());
	if (res->failure[0])
		fprintf(f, "FAILED: %s\n", res->failure);
	for (i = 0; i < res->nr_found && i < WL_MAX_FOUND; i++)
		fprintf(f, "violation of %s (%s), thread %s: %s\n", res->found[i].invariant,
			res->found[i].checker, res->found[i].thread, res->found[i].description);
	if (res->nr_found > WL_MAX_FOUND)
		fprintf(f, "... and %d more violations\n", res->nr_found - WL_MAX_FOUND);
	if (res->warnings)
		fprintf(f, "%lu WARN%s fired\n", res->warnings, res->warnings == 1 ? "" : "s");
	fprintf(f, "checkers: %s\n", !res->config.checks ? "off" :
		res->nr_found ? "VIOLATIONS" : "clean");
}

static bool clean(const struct wl_result *res)
{
	return !res->nr_found && !res->warnings && !res->failure[0];
}

/* ---- the tour --------------------------------------------------------------------------------- */

/* The figure each workload is best known by, for the tour's table. */
static const struct {
	const char *workload, *metric, *label;
} headline[] = {
	{ "demand-paging", "overall_rate_pgs", "pgs/s" },
	{ "dirty-log", "iteration_2_dirty_s", "s iter 2" },
	{ "access-tracking", "mark_memory_idle_1_s", "s idle" },
	{ "memslot-modification", "memslot_modifications", "updates" },
	{ "memslot-perf", "map_avg_s", "s map" },
	{ "mmu-stress", "host_operations", "host ops" },
	{ "guest-kernel", "context_switches_per_s", "sw/s" },
};

static int tour(struct wl_config *base, struct progress *pr, const char *trace)
{
	struct wl_result *res = calloc((size_t)nr_workloads, sizeof(*res));
	int i, nr = nr_workloads;
	bool ok = true, stopped = false;
	char why[160];
	size_t k;

	if (!res)
		return CLI_EXIT_INTERNAL;
	cli_trace_begin("run", trace);
	cli_stop_on_signals();
	for (i = 0; i < nr_workloads; i++) {
		struct wl_config cfg = *base;
		int r;

		cfg.out = NULL;
		cfg.vcpus = 2;
		cfg.mem_per_vcpu = 16ULL << 20;
		cfg.slots = !strcmp(workload_table[i]->name, "memslot-perf") ? 16 : 1;
		cfg.iterations = 0;
		if (!strcmp(workload_table[i]->name, "memslot-perf"))
			cfg.vcpus = 1;
		cfg.progress = progress_cb;
		cfg.progress_arg = pr;
		cfg.view = &pr->view;
		cfg.stop = &cli_stop;
		progress_start(pr, workload_table[i]->name);
		r = wl_run(workload_table[i], &cfg, &res[i], why, sizeof(why));
		progress_done(pr);
		if (r) {
			fprintf(stderr, "kvmmu: run: %s: %s\n", workload_table[i]->name,
				r == -EINVAL ? why : strerror(-r));
			free(res);
			cli_trace_end("run", trace);
			return CLI_EXIT_INTERNAL;
		}
		ok &= clean(&res[i]);
		if (res[i].interrupted) {
			stopped = true;
			nr = i + 1;
			break;
		}
	}
	cli_trace_end("run", trace);
	printf("%-22s %8s %9s %9s %10s %12s  %s\n", "workload", "time", "pf_taken", "pf_fixed",
	       "tlb_flush", "figure", "checkers");
	for (i = 0; i < nr; i++) {
		const char *label = "", *metric = NULL;
		double v;

		for (k = 0; k < sizeof(headline) / sizeof(headline[0]); k++) {
			if (!strcmp(headline[k].workload, workload_table[i]->name)) {
				metric = headline[k].metric;
				label = headline[k].label;
			}
		}
		v = metric ? wl_metric(&res[i], metric) : NAN;
		printf(v >= 1000 || v == floor(v) ? "%-22s %7.2fs %9llu %9llu %10llu %12.0f %-9s %s\n" :
		       "%-22s %7.2fs %9llu %9llu %10llu %12.4f %-9s %s\n", workload_table[i]->name,
		       res[i].seconds, (unsigned long long)wl_stat(&res[i], "pf_taken"),
		       (unsigned long long)wl_stat(&res[i], "pf_fixed"),
		       (unsigned long long)wl_stat(&res[i], "tlb_flush"), v, label,
		       clean(&res[i]) ? "clean" : res[i].failure[0] ? "FAILED" : "VIOLATION");
	}
	for (i = 0; i < nr; i++) {
		if (!clean(&res[i]) || res[i].interrupted)
			summary(stdout, workload_table[i], &res[i]);
	}
	printf("%d workloads, every checker on: %s\n", nr, ok ? "all clean" : "findings above");
	free(res);
	if (!ok)
		return CLI_EXIT_VIOLATION;
	return stopped ? 128 + cli_stop_signal() : CLI_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------------------- */

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vcpus", required_argument, NULL, 'v' },
		{ "mem-per-vcpu", required_argument, NULL, 'b' },
		{ "slots", required_argument, NULL, 'x' },
		{ "backing", required_argument, NULL, 's' },
		{ "write-percent", required_argument, NULL, 'w' },
		{ "random", no_argument, NULL, 'a' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 'r' },
		{ "mmu", required_argument, NULL, 'm' },
		{ "guest-paging", required_argument, NULL, 'G' },
		{ "nested", no_argument, NULL, 'N' },
		{ "processes", required_argument, NULL, 'p' },
		{ "process-pages", required_argument, NULL, 'g' },
		{ "ops", required_argument, NULL, 'o' },
		{ "tag-mode", no_argument, NULL, 'T' },
		{ "pml", no_argument, NULL, 'P' },
		{ "yield-every", required_argument, NULL, 'Y' },
		{ "counters", required_argument, NULL, 'C' },
		{ "check", required_argument, NULL, 'c' },
		{ "inject", required_argument, NULL, 'I' },
		{ "json", optional_argument, NULL, 'j' },
		{ "trace", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct wl_config cfg = { .vcpus = 1, .write_percent = 100, .seed = 1, .checks = CHECK_ALL };
	struct progress pr = { .tty = isatty(STDERR_FILENO), .lock = PTHREAD_MUTEX_INITIALIZER,
			       .view = WL_PROGRESS_VIEW_INIT };
	const struct workload *wl;
	struct cli_output out;
	struct wl_result *res;
	const char *trace = NULL;
	char why[160];
	struct json j;
	int c, r;

	cli_output_init(&out);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			cfg.vcpus = (int)parse_int("vcpus", optarg, 1, 64);
			break;
		case 'b':
			cfg.mem_per_vcpu = parse_size("mem-per-vcpu", optarg);
			break;
		case 'x':
			cfg.slots = (int)parse_int("slots", optarg, 1, 4096);
			break;
		case 's':
			if (world_backing_parse(optarg, &cfg.backing))
				cli_usage_error("run: unknown backing '%s' (anon, thp, shared, "
						"shared-thp, hugetlb-2m, hugetlb-1g, pfnmap)", optarg);
			break;
		case 'w':
			cfg.write_percent = (u32)parse_int("write-percent", optarg, 0, 100);
			break;
		case 'a':
			cfg.random = true;
			break;
		case 'i':
			cfg.iterations = (int)parse_int("iterations", optarg, 1, 1000000);
			break;
		case 'r':
			cfg.seed = (u64)parse_int("seed", optarg, 0, 0x7fffffffffffffffL);
			break;
		case 'm':
			if (world_mmu_parse(optarg, &cfg.mmu, why, sizeof(why)))
				cli_usage_error("run: --mmu: %s", why);
			break;
		case 'G':
			cfg.guest_paging = (int)parse_int("guest-paging", optarg, 2, 5);
			break;
		case 'N':
			cfg.nested = true;
			break;
		case 'p':
			cfg.processes = (int)parse_int("processes", optarg, 1, 64);
			break;
		case 'g':
			cfg.process_pages = (int)parse_int("process-pages", optarg, 1, 512);
			break;
		case 'o':
			cfg.ops = (int)parse_int("ops", optarg, 1, 100000000);
			break;
		case 'T':
			cfg.tag_mode = true;
			break;
		case 'P':
			cfg.pml = true;
			break;
		case 'Y':
			cfg.yield_every = (unsigned int)parse_int("yield-every", optarg, 0, 1000000);
			break;
		case 'C':
			cfg.counters = cli_parse_counters("run", optarg);
			break;
		case 'c':
			cfg.checks = cli_parse_checks("run", optarg);
			break;
		case 'I':
			cfg.mutants = cli_parse_mutants("run", optarg);
			break;
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 't':
			trace = cli_parse_trace("run", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		case 'R':
			pr.every_second = true;
			break;
		default:
			cli_usage_error("run: unknown option '%s' (see kvmmu run --help)",
					argv[optind - 1]);
		}
	}
	pr.quiet = out.quiet;
	if (optind + 1 < argc)
		cli_usage_error("run: unexpected argument '%s'", argv[optind + 1]);
	if (optind == argc) {
		if (out.json)
			cli_usage_error("run: --json needs a workload (the tour prints a table)");
		return tour(&cfg, &pr, trace);
	}
	wl = wl_find(argv[optind]);
	if (!wl)
		cli_usage_error("run: unknown workload '%s' (see kvmmu list)", argv[optind]);
	if (wl_validate(wl, &cfg, why, sizeof(why)))
		cli_usage_error("run: %s", why);

	res = calloc(1, sizeof(*res));
	if (!res)
		return CLI_EXIT_INTERNAL;
	cfg.out = out.json && !out.json_path ? stderr : stdout;
	cfg.progress = progress_cb;
	cfg.progress_arg = &pr;
	cfg.view = &pr.view;
	cfg.stop = &cli_stop;
	cli_outputs_begin("run", &out, &j, trace);
	cli_stop_on_signals();
	progress_start(&pr, wl->name);
	r = wl_run(wl, &cfg, res, why, sizeof(why));
	progress_done(&pr);
	for (c = 0; c < res->nr_found && c < WL_MAX_FOUND; c++)
		kvmmu_trace_instant("violation", res->found[c].description);
	cli_trace_end("run", trace);
	if (r == -EINVAL)
		cli_usage_error("run: %s", why);
	if (r) {
		fprintf(stderr, "kvmmu: run: %s: %s\n", wl->name, strerror(-r));
		free(res);
		return CLI_EXIT_INTERNAL;
	}
	summary(cfg.out, wl, res);
	if (out.json) {
		result_json(&j, wl, res);
		json_finish(&j);
		cli_output_close(&out);
	}
	r = !clean(res) ? CLI_EXIT_VIOLATION :
	    res->interrupted ? 128 + cli_stop_signal() : CLI_EXIT_OK;
	free(res);
	return r;
}

const struct cli_command cli_cmd_run = {
	.name = "run",
	.summary = "run a selftest-style workload, or the tour of all of them",
	.usage =
		"usage: kvmmu run [WORKLOAD] [options]\n"
		"\n"
		"Run a workload modelled on a KVM selftest (see kvmmu list), print the\n"
		"selftest's lines, then KVM's stats and the checkers' findings.  Without a\n"
		"workload: the tour, every workload at a small size (2 vCPUs x 16M) with\n"
		"every checker on, and a table.  Ctrl-C (SIGINT) or SIGTERM winds the run\n"
		"down as a violation does (passes end at once) and it still prints its\n"
		"figures and JSON, marked \"complete\": false; the tour stops after the\n"
		"workload in progress.  Exit status: 0 clean, 1 a violation, a WARN or a\n"
		"failed selftest assertion, 2 usage, 3 internal error, 128 + the signal's\n"
		"number (130, 143) for a run stopped early that found nothing.\n"
		"\n"
		"options:\n"
		"  --vcpus N          vCPUs, one thread each (default 1)\n"
		"  --mem-per-vcpu SZ  guest memory per vCPU, K/M/G/T suffixes (default: the\n"
		"                     workload's: 1G, 64M for the memslot ones, 256M mmu-stress,\n"
		"                     2M guest-kernel)\n"
		"  --slots N          memslots the memory is split into (default 1; 64 for\n"
		"                     memslot-perf)\n"
		"  --backing B        anon (default), thp, shared, shared-thp, hugetlb-2m,\n"
		"                     hugetlb-1g, pfnmap\n"
		"  --write-percent P  writes among the accesses of a pass, 0..100 (default 100)\n"
		"  --random           pick pages at random instead of in order\n"
		"  --iterations N     passes or rounds (default: the workload's; dirty-log >= 2,\n"
		"                     guest-kernel 4)\n"
		"  --seed S           seed of the random access pattern (default 1)\n"
		"  --mmu MMU          the MMU: tdp (the TDP MMU, default), tdp-legacy (TDP\n"
		"                     through the shadow MMU's direct pages, as tdp_mmu=0)\n"
		"                     or shadow (shadow paging, ept=0: the guests run on\n"
		"                     their own tables, an identity map the VMM builds,\n"
		"                     which KVM shadows)\n"
		"  --guest-paging N   the guests' own tables: 2 (32-bit, 4M pages), 3 (PAE),\n"
		"                     4 or 5 levels (default: 4 with --mmu shadow and for\n"
		"                     guest-kernel, none otherwise); 2 and 3 put guest\n"
		"                     memory below 4G\n"
		"  --nested           run the vCPUs in L2 under an L1 hypervisor with EPT\n"
		"                     tables of its own, which KVM shadows (nested EPT, with\n"
		"                     --mmu tdp or tdp-legacy); mmu-stress's remapping pass\n"
		"                     has L1 unmap each slice and INVEPT; with guest paging\n"
		"                     (guest-kernel always) L2 runs on its own tables, and\n"
		"                     guest-kernel's L2 kernel has L1 unmap (INVEPT) every\n"
		"                     frame it frees\n"
		"  --processes N      guest-kernel: processes per vCPU, 1..64 (default 4)\n"
		"  --process-pages N  guest-kernel: user pages per process, 1..512 (default 64)\n"
		"  --ops N            guest-kernel: operations per vCPU per round (default 500)\n"
		"  --tag-mode         guest frames hold one word: guests up to 1T\n"
		"  --pml              page-modification logging: dirty logging clears D and\n"
		"                     the CPU logs the writes that set it (VMX enable_pml)\n"
		"  --yield-every N    forced yields: need_resched() says yes at every Nth call\n"
		"                     of each thread, so walks that can yield mmu_lock do and\n"
		"                     restart (1: every step; default 0: none)\n"
		"  --counters C       where the VM's sequence counters start: zero (default),\n"
		"                     2^31, 2^32, 2^63 (just below each) or mmio-wrap (the\n"
		"                     MMIO generation just below its wrap)\n"
		"  --check LIST       checkers: all (default), none, or names (see kvmmu list)\n"
		"  --inject LIST      mutants to switch on, comma-separated (see kvmmu list)\n"
		"  --json[=FILE]      write the JSON document to FILE, or to stdout\n"
		"  --trace=FILE       write a Chrome trace-event file (opens in Perfetto)\n"
		"  --quiet            no progress\n"
		"  --progress         a progress line every second even when stderr is not a\n"
		"                     terminal (otherwise every second on a terminal, every\n"
		"                     five seconds elsewhere, none for a run under a\n"
		"                     second): the phase, how far the vCPUs' passes are,\n"
		"                     the guest's accesses per second and when the passes\n"
		"                     in progress end at that rate (--quiet wins)\n"
		"  -h, --help         show this help\n",
	.run = cmd_run,
};
