/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake secondary MMU for host-model tests: it "maps" host pages the way
 * KVM does (a pfn lookup, then no reference held), subscribes to the mm's
 * notifiers, drops its mappings on invalidation, and logs every start/end
 * pair with what it saw.  In "buggy" mode it ignores invalidations, to show
 * what the host reports when a mapping outlives its page.
 */
#ifndef KVMMU_TESTS_COMMON_FAKE_SMMU_H
#define KVMMU_TESTS_COMMON_FAKE_SMMU_H

#include "host_mm.h"

#define FAKE_SMMU_MAPS 64
#define FAKE_SMMU_LOG 256

struct fake_smmu_map {
	unsigned long hva;
	u64 pfn;
	bool present;
};

struct fake_smmu_log {
	bool is_end;
	unsigned long start, end;
	enum mmu_notifier_event event;
	/* start: every mapping in range still matched the host's entry */
	bool old_valid;
	/* the host's leaf entry for @start when the callback ran */
	u64 host_entry;
};

struct fake_smmu {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	spinlock_t lock;
	struct fake_smmu_map map[FAKE_SMMU_MAPS];
	int nr_maps;
	struct fake_smmu_log log[FAKE_SMMU_LOG];
	int nr_log;
	bool ignore_invalidations;
	int releases;
	int young_calls;
	bool young_answer;
};

int fake_smmu_init(struct fake_smmu *fs, struct mm_struct *mm);
void fake_smmu_fini(struct fake_smmu *fs);
/* Look up @hva as KVM would (FOLL_GET, released at once) and map it. */
kvmmu_pfn_t fake_smmu_map(struct fake_smmu *fs, unsigned long hva, bool write);
/* Read the word at @hva through the fake's own mapping; -1 if unmapped. */
int fake_smmu_read(struct fake_smmu *fs, unsigned long hva, u64 *val);
/* Write through the fake's mapping, without marking anything dirty. */
int fake_smmu_write(struct fake_smmu *fs, unsigned long hva, u64 val);
bool fake_smmu_mapped(struct fake_smmu *fs, unsigned long hva);
/* The last start/end pair logged, or NULL. */
const struct fake_smmu_log *fake_smmu_last(struct fake_smmu *fs, bool is_end);

#endif /* KVMMU_TESTS_COMMON_FAKE_SMMU_H */
