// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small VM for tests (see vm_fixture.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mmu.h"
#include "mmu_internal.h"
#include "rcu.h"
#include "tdp_iter.h"
#include "test.h"
#include "vm_fixture.h"

/* The world's CPU hook: the fake CPU learns where frames live from the host. */
static void *fake_attach(struct world *w, void *arg)
{
	struct fake_hw *hw = arg;

	fake_hw_init(hw, w->cfg.host_ops->direct_map(w->mm), w->cfg.phys_bits);
	hw->tags = w->cfg.host_ops->tag_map(w->mm);
	return hw;
}

int vm_fixture_create(struct vm_fixture *f, const struct vm_fixture_opts *o)
{
	const struct world_cpu fake = { .ops = &fake_hw_ops, .attach = fake_attach, .arg = &f->hw };
	struct world_config cfg = {
		.nr_frames = o->nr_frames,
		.tag_mode = o->tag_mode,
		.host_ops = o->host_ops,
		.cpu = o->real_hw ? NULL : &fake,
		.mmu = o->mmu,
		.format = o->format,
		.tdp_level = o->tdp_level,
		.ad_disabled = o->ad_disabled,
		.nx_huge_pages = o->nx_huge_pages,
		.no_eager_split = o->no_eager_split,
		.manual_protect = o->manual_protect,
		.nr_address_spaces = o->nr_address_spaces,
		.dirty_ring_bytes = o->dirty_ring_bytes,
		.nr_vcpus = o->nr_vcpus,
		.mem = { {
			.size = o->mem_size, .backing = o->backing, .pfnmap_block = o->pfnmap_block,
			.gpa = o->gpa, .nr_slots = 1, .slot_flags = o->slot_flags,
		} },
	};
	char why[160];
	int r;

	memset(f, 0, sizeof(*f));
	r = world_create(&f->w, &cfg, why, sizeof(why));
	if (r)
		print_error("vm_fixture: %s\n", why);
	return r;
}

int vm_fixture_destroy(struct vm_fixture *f)
{
	u64 leaked = world_destroy(&f->w);

	if (leaked) {
		print_error("%llu frames still allocated after teardown\n",
			    (unsigned long long)leaked);
		return -1;
	}
	return 0;
}

int fix_run(struct vm_fixture *f, int vcpu, struct kvmmu_run *run)
{
	return kvmmu_vcpu_run(f->w.vcpus[vcpu], run);
}

int fix_run_until_hlt(struct vm_fixture *f, int vcpu)
{
	struct kvmmu_run run;
	int mmio = 0;

	for (;;) {
		int r = fix_run(f, vcpu, &run);

		if (r)
			return r;
		if (run.exit_reason == KVM_EXIT_HLT)
			return mmio;
		if (run.exit_reason != KVM_EXIT_MMIO)
			return -1000 - (int)run.exit_reason;
		mmio++;
	}
}

int fix_run_to_hlt(struct vm_fixture *f, int vcpu)
{
	int r = fix_run_until_hlt(f, vcpu);

	assert_true(r >= 0);
	return r;
}

u64 fix_leaf_spte(struct vm_fixture *f, int vcpu, gpa_t gpa, int *level)
{
	struct kvm *kvm = f->w.kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, f->w.vcpus[vcpu]->arch.mmu->root.hpa);
	struct tdp_iter iter;
	u64 spte = 0;

	if (!root)
		return 0;
	rcu_read_lock();
	for_each_tdp_pte(iter, kvm, root, gpa_to_gfn(gpa), gpa_to_gfn(gpa) + 1) {
		if (is_shadow_present_pte(iter.old_spte) &&
		    is_last_spte(iter.old_spte, iter.level)) {
			spte = iter.old_spte;
			if (level)
				*level = iter.level;
		}
	}
	rcu_read_unlock();
	return spte;
}

u64 fix_count_leaves(struct vm_fixture *f, int vcpu, gpa_t gpa, u64 len)
{
	struct kvm *kvm = f->w.kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, f->w.vcpus[vcpu]->arch.mmu->root.hpa);
	struct tdp_iter iter;
	u64 n = 0;

	if (!root)
		return 0;
	rcu_read_lock();
	for_each_tdp_pte(iter, kvm, root, gpa_to_gfn(gpa), gpa_to_gfn(gpa + len)) {
		if (is_shadow_present_pte(iter.old_spte) &&
		    is_last_spte(iter.old_spte, iter.level))
			n++;
	}
	rcu_read_unlock();
	return n;
}

struct vcpu_thread_arg {
	struct vm_fixture *f;
	int vcpu;
};

static struct vcpu_thread_arg vcpu_args[FIX_MAX_VCPUS];

static int vcpu_thread_fn(void *p)
{
	struct vcpu_thread_arg *a = p;

	return fix_run_until_hlt(a->f, a->vcpu);
}

struct kvmmu_thread *fix_start_vcpu(struct vm_fixture *f, int vcpu)
{
	struct kvmmu_thread *t;
	char name[16];

	vcpu_args[vcpu] = (struct vcpu_thread_arg){ .f = f, .vcpu = vcpu };
	snprintf(name, sizeof(name), "vcpu%d", vcpu);
	assert_int_equal(kvmmu_thread_create(&t, name, 0, vcpu_thread_fn, &vcpu_args[vcpu]), 0);
	return t;
}

u64 fix_host_read(struct vm_fixture *f, gpa_t gpa)
{
	const struct world_mem_config *m = &f->w.cfg.mem[0];
	u64 val = 0;

	assert_int_equal(host_access(f->w.mm, m->hva + (gpa - m->gpa), false, &val), 0);
	return val;
}
