/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mutants: known KVM MMU bugs that can be switched back on at run time.
 *
 * A checker that has never failed proves nothing, so every checker comes
 * with at least one mutant that re-introduces a real bug in the real code
 * path, and a test that shows the checker catching it.  The switches live
 * here, in compat, so the core can test them with kvmmu_mutant(MUT_...)
 * without knowing about checkers or the command line.  The table of names
 * and descriptions is contract §4 of the project; scenario and checker
 * bindings are kept by the layers that own them.
 */
#ifndef KVMMU_COMPAT_MUTANT_H
#define KVMMU_COMPAT_MUTANT_H

#include "atomic.h"
#include "bitops.h"
#include "compiler.h"
#include "types.h"

enum kvmmu_mutant_id {
	MUT_NOTIFIER_SKIPS_INVALID_ROOTS,
	MUT_REF_INVALID_ROOT,
	MUT_ZAP_WITHOUT_FREEZE,
	MUT_UNFREEZE_BEFORE_FLUSH,
	MUT_REF_NONCOUNTED_PAGE,
	MUT_TAIL_PAGE_REF_COUNT,
	MUT_FREE_TABLE_WITHOUT_GRACE,
	MUT_FAST_PF_NO_DIRTY_LOG,
	MUT_SPLIT_CHILD_PFN,
	MUT_RESUME_PAST_YIELD,
	MUT_SEQ_SNAPSHOT_INT,
	MUT_RING_RESET_NO_PROTECT,
	MUT_MAX_GFN_ROUND_DOWN,
	MUT_ATOMIC_UPDATE_IGNORES_DIRTY,
	MUT_MMIO_WRAP_NO_ZAP,
	MUT_COMMIT_ZAP_WITHOUT_FLUSH,
	MUT_NO_RETRY_SPECIAL_ROOT,
	MUT_NO_UNPROTECT_GUARD,
	MUT_SLOT_ZAP_LEAFS_ONLY,
	MUT_UNSYNC_TRACKED_GFN,
	MUT_RMAP_UNMAP_NO_FLUSH,
	MUT_INVEPT_KEEPS_ROOT,
	MUT_INVLPG_SKIPS_SYNC,
	MUT_AGING_NO_RMAP_LOCK,
	MUT_UNACCOUNT_SKIPS_WRITE_TRACK,
	NR_KVMMU_MUTANTS
};

struct kvmmu_mutant_info {
	const char *name;        /* as given to --inject */
	const char *seed;        /* the seed thread it comes from, or "-" */
	const char *description; /* what the switched-on code does wrong */
};

extern const struct kvmmu_mutant_info kvmmu_mutant_table[NR_KVMMU_MUTANTS];
extern u64 __kvmmu_mutant_mask;

/* Is mutant @id switched on?  One load and a branch. */
static __always_inline bool kvmmu_mutant(enum kvmmu_mutant_id id)
{
	return unlikely(READ_ONCE(__kvmmu_mutant_mask) & BIT_ULL(id));
}

void kvmmu_mutant_set_mask(u64 mask);
u64 kvmmu_mutant_get_mask(void);

/* Mutant id for @name, or -ENOENT. */
int kvmmu_mutant_lookup(const char *name);

/**
 * kvmmu_mutant_parse() - parse a comma-separated list of mutant names
 * @list: e.g. "zap-without-freeze,ref-invalid-root"; "" or "none" is empty
 * @mask: receives the set, on success
 * @bad: on -ENOENT, receives a copy of the unknown name (may be NULL)
 * @bad_len: size of @bad
 *
 * Return: 0, or -ENOENT for an unknown name, or -EINVAL for an empty item.
 */
int kvmmu_mutant_parse(const char *list, u64 *mask, char *bad, size_t bad_len);

#endif /* KVMMU_COMPAT_MUTANT_H */
