// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "fake_smmu.h"
#include "rcu.h"

static struct fake_smmu *to_fs(struct mmu_notifier *mn)
{
	return container_of(mn, struct fake_smmu, mn);
}

static u64 host_entry_now(struct mm_struct *mm, unsigned long hva, u64 *pfn)
{
	int level;
	u64 e;

	rcu_read_lock();
	e = host_pgtable_lookup(mm, hva, &level);
	rcu_read_unlock();
	if (pfn)
		*pfn = hpte_present(e) ? hpte_subpage_pfn(e, level, hva) : 0;
	return e;
}

static void log_event(struct fake_smmu *fs, const struct mmu_notifier_range *r,
		      bool is_end, bool old_valid)
{
	if (fs->nr_log < FAKE_SMMU_LOG) {
		struct fake_smmu_log *l = &fs->log[fs->nr_log];

		l->is_end = is_end;
		l->start = r->start;
		l->end = r->end;
		l->event = r->event;
		l->old_valid = old_valid;
		l->host_entry = host_entry_now(fs->mm, r->start, NULL);
	}
	fs->nr_log++;
}

static int fs_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct fake_smmu *fs = to_fs(mn);
	bool valid = true;
	int i;

	spin_lock(&fs->lock);
	for (i = 0; i < fs->nr_maps; i++) {
		struct fake_smmu_map *m = &fs->map[i];
		u64 pfn;

		if (!m->present || m->hva < r->start || m->hva >= r->end)
			continue;
		/* The host has not changed anything yet: it must still match. */
		host_entry_now(fs->mm, m->hva, &pfn);
		if (pfn != m->pfn)
			valid = false;
		if (!fs->ignore_invalidations)
			m->present = false;
	}
	log_event(fs, r, false, valid);
	spin_unlock(&fs->lock);
	return 0;
}

static void fs_end(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct fake_smmu *fs = to_fs(mn);

	spin_lock(&fs->lock);
	log_event(fs, r, true, true);
	spin_unlock(&fs->lock);
}

static void fs_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct fake_smmu *fs = to_fs(mn);
	int i;

	spin_lock(&fs->lock);
	fs->releases++;
	for (i = 0; i < fs->nr_maps; i++)
		fs->map[i].present = false;
	spin_unlock(&fs->lock);
}

static bool fs_young(struct mmu_notifier *mn, struct mm_struct *mm,
		     unsigned long start, unsigned long end)
{
	struct fake_smmu *fs = to_fs(mn);
	bool young;

	spin_lock(&fs->lock);
	fs->young_calls++;
	young = fs->young_answer;
	spin_unlock(&fs->lock);
	return young;
}

static const struct mmu_notifier_ops fs_ops = {
	.release = fs_release,
	.clear_flush_young = fs_young,
	.clear_young = fs_young,
	.test_young = fs_young,
	.invalidate_range_start = fs_start,
	.invalidate_range_end = fs_end,
};

int fake_smmu_init(struct fake_smmu *fs, struct mm_struct *mm)
{
	memset(fs, 0, sizeof(*fs));
	fs->mm = mm;
	fs->mn.ops = &fs_ops;
	spin_lock_init(&fs->lock);
	return host_mmu_notifier_register(&fs->mn, mm);
}

void fake_smmu_fini(struct fake_smmu *fs)
{
	host_mmu_notifier_unregister(&fs->mn, fs->mm);
}

kvmmu_pfn_t fake_smmu_map(struct fake_smmu *fs, unsigned long hva, bool write)
{
	struct kvm_follow_pfn foll = {
		.hva = hva, .flags = FOLL_GET | (write ? FOLL_WRITE : 0),
	};
	kvmmu_pfn_t pfn = host_follow_pfn(fs->mm, &foll);
	int i;

	if (is_error_pfn(pfn))
		return pfn;
	spin_lock(&fs->lock);
	for (i = 0; i < fs->nr_maps && fs->map[i].hva != hva; i++)
		;
	if (i < FAKE_SMMU_MAPS) {
		fs->map[i] = (struct fake_smmu_map){ .hva = hva, .pfn = pfn, .present = true };
		if (i == fs->nr_maps)
			fs->nr_maps++;
	}
	spin_unlock(&fs->lock);
	/* As KVM: the reference lives only until the mapping is installed. */
	if (foll.refcounted_page)
		put_page(fs->mm->phys, foll.refcounted_page);
	return pfn;
}

static struct fake_smmu_map *find_map(struct fake_smmu *fs, unsigned long hva)
{
	int i;

	for (i = 0; i < fs->nr_maps; i++) {
		if (fs->map[i].hva == hva && fs->map[i].present)
			return &fs->map[i];
	}
	return NULL;
}

bool fake_smmu_mapped(struct fake_smmu *fs, unsigned long hva)
{
	bool ret;

	spin_lock(&fs->lock);
	ret = find_map(fs, hva) != NULL;
	spin_unlock(&fs->lock);
	return ret;
}

int fake_smmu_read(struct fake_smmu *fs, unsigned long hva, u64 *val)
{
	struct host_phys *phys = fs->mm->phys;
	struct fake_smmu_map *m;
	int ret = -1;

	spin_lock(&fs->lock);
	m = find_map(fs, hva);
	if (m) {
		/* Hardware would just load: the host reports a freed frame. */
		phys_check_access(phys, m->pfn);
		*val = frame_read_word(phys, m->pfn, hva & (PAGE_SIZE - 1));
		ret = 0;
	}
	spin_unlock(&fs->lock);
	return ret;
}

int fake_smmu_write(struct fake_smmu *fs, unsigned long hva, u64 val)
{
	struct host_phys *phys = fs->mm->phys;
	struct fake_smmu_map *m;
	int ret = -1;

	spin_lock(&fs->lock);
	m = find_map(fs, hva);
	if (m) {
		phys_check_access(phys, m->pfn);
		frame_write_word(phys, m->pfn, hva & (PAGE_SIZE - 1), val);
		ret = 0;
	}
	spin_unlock(&fs->lock);
	return ret;
}

const struct fake_smmu_log *fake_smmu_last(struct fake_smmu *fs, bool is_end)
{
	int i;

	for (i = min(fs->nr_log, FAKE_SMMU_LOG) - 1; i >= 0; i--) {
		if (fs->log[i].is_end == is_end)
			return &fs->log[i];
	}
	return NULL;
}
