/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The checkers, the mutants, and the violations they report.
 *
 * A checker is a read-only observer of one invariant of docs/invariants.md
 * (its id, "I26" ...): it watches the VM, the host and every vCPU's TLB
 * through the observer hooks while a world has it attached
 * (kvmmu_world_check_begin()).  A mutant is a known KVM MMU bug switched
 * back on in the real code path, to show that its checker catches it.
 * Checkers and mutants are named as `kvmmu list` and the CLI's --check and
 * --inject name them; masks of them go into struct kvmmu_world_config.
 * A NULL pointer to read or fill is -EFAULT, an index out of range -EINVAL.
 */
#ifndef KVMMU_CHECK_H
#define KVMMU_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Checker and mutant names, and what they are about. */
struct kvmmu_check_info {
	const char *name;        /* as --check and --inject take it */
	const char *invariant;   /* checkers: an id from docs/invariants.md */
	const char *description;
};

/* The number of checkers; checker i is bit i of a mask. */
int kvmmu_checker_count(void);
/* Checker @i's name, invariant and description.  0 or -EINVAL. */
int kvmmu_checker_info(int i, struct kvmmu_check_info *out);
/*
 * Parse a checker list: "all", "none", or comma-separated names.  Returns
 * 0, or -ENOENT with the unknown name in @bad (may be NULL), or -EINVAL.
 */
int kvmmu_check_parse(const char *list, uint64_t *mask, char *bad, size_t bad_len);

/* The number of mutants; mutant i is bit i of a mask. */
int kvmmu_mutant_count(void);
/* Mutant @i's name and description (invariant: the seed thread, or "-").  0 or -EINVAL. */
int kvmmu_mutant_info(int i, struct kvmmu_check_info *out);
/* A mutant's bit number, or -ENOENT. */
int kvmmu_mutant_lookup(const char *name);
/*
 * Parse a comma-separated list of mutant names ("" or "none": none).
 * Returns 0, or -ENOENT with the unknown name in @bad (may be NULL), or
 * -EINVAL for an empty item.
 */
int kvmmu_mutant_parse(const char *list, uint64_t *mask, char *bad, size_t bad_len);

/**
 * struct kvmmu_violation - what a checker found
 * @invariant:   its id in docs/invariants.md
 * @checker:     the checker's name
 * @description: what was wrong, in one line
 * @thread:      the thread that saw it
 * @gfn:         the guest frame concerned, or -1
 * @pfn:         the host frame concerned, or -1
 * @event_index: the observed event at which it was found (numbered from 1
 *               at kvmmu_world_check_begin(); for one of the frequent
 *               events left unnumbered, such as a table read or a TLB
 *               fill, the number the next numbered event gets)
 */
struct kvmmu_violation {
	const char *invariant;
	const char *checker;
	char description[240];
	char thread[32];
	int64_t gfn;
	int64_t pfn;
	uint64_t event_index;
};

/*
 * The violations found since the last kvmmu_world_check_begin(): returns
 * their number and copies the first @n (up to the number kvmmu keeps) to
 * @out.  They stay readable after kvmmu_world_check_end().
 */
int kvmmu_check_violations(struct kvmmu_violation *out, int n);
/* Events the checkers looked at since kvmmu_world_check_begin(). */
uint64_t kvmmu_check_events_seen(void);
/* WARN_ONs that fired in the process so far (any is a bug, as in KVM). */
unsigned long kvmmu_check_warnings(void);

#endif /* KVMMU_CHECK_H */
