/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Benchmarks: each figure is a ratio against a baseline measured in the same
 * run (or a plain value where no baseline makes sense), with a target and a
 * direction, as the project contract's bench document describes.
 */
#ifndef KVMMU_BENCH_BENCH_H
#define KVMMU_BENCH_BENCH_H

#include "types.h"
#include "world.h"

struct bench_result {
	const char *name;
	double value;
	const char *unit;
	double baseline; /* NAN for value-only figures */
	const char *baseline_unit;
	double ratio;    /* value / baseline, or NAN */
	double target;
	const char *direction; /* "<=" or ">=" */
	bool met;
	const char *note; /* what the figure measures, for humans */
};

typedef void (*bench_progress_fn)(const char *name);

/*
 * Run every benchmark, the MMU's on @mmu (those that do not apply to it are
 * left out, with a line on stderr); returns the number of results written
 * to @out.
 */
int bench_run_all(struct bench_result *out, int max, bench_progress_fn progress,
		  enum world_mmu mmu);

/*
 * Run only the figures of @list (comma-separated names; NULL: all).
 * Returns 0, -ENOENT for a name that is no figure, -EINVAL.
 */
int bench_set_filter(const char *list);
/* Is the figure @name to be run? */
bool bench_wanted(const char *name);
/* Every figure's name, comma-separated, for help and errors. */
const char *bench_figure_names(void);

/* The two groups: the substrate (substrate.c) and the MMU (mmu.c). */
int bench_run_substrate(struct bench_result *out, int max, bench_progress_fn progress);
int bench_run_mmu(struct bench_result *out, int max, bench_progress_fn progress,
		  enum world_mmu mmu);

#endif /* KVMMU_BENCH_BENCH_H */
