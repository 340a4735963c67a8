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

int vm_fixture_create(struct vm_fixture *f, const struct vm_fixture_opts *o)
{
	struct host_phys_config pcfg = {
		.nr_frames = o->nr_frames ? o->nr_frames :
			     ((o->mem_size >> PAGE_SHIFT) * 2 + (64UL << 10)),
		.tag_mode = o->tag_mode,
	};
	struct kvmmu_vm_config cfg;
	int i, r;

	memset(f, 0, sizeof(*f));
	r = host_phys_create(&pcfg, &f->phys);
	if (!r)
		r = host_mm_create(f->phys, &f->mm);
	if (r)
		return r;
	fake_hw_init(&f->hw, f->phys->data, 46);
	if (o->tag_mode)
		f->hw.tags = f->phys->tags;

	kvmmu_vm_config_init(&cfg);
	cfg.mm = f->mm;
	cfg.host_ops = o->host_ops ? o->host_ops : &host_kvm_ops;
	cfg.hw_ops = &fake_hw_ops;
	cfg.hw = &f->hw;
	if (o->real_hw) {
		struct hw_config hcfg = { .mm = f->mm, .host = cfg.host_ops, .phys_bits = 46 };

		r = hw_machine_create(&hcfg, &f->machine);
		if (r)
			return r;
		cfg.hw_ops = &hw_ops;
		cfg.hw = f->machine;
	}
	cfg.format = o->format;
	cfg.ad_disabled = o->ad_disabled;
	cfg.nx_huge_pages = o->nx_huge_pages;
	cfg.eager_page_split = !o->no_eager_split;
	if (o->tdp_level)
		cfg.tdp_level = o->tdp_level;
	r = kvmmu_vm_create(&cfg, &f->kvm);
	if (r)
		return r;
	if (o->dirty_ring_bytes) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
					      .args = { o->dirty_ring_bytes } };

		r = kvmmu_vm_enable_cap(f->kvm, &cap);
		if (r)
			return r;
	}
	if (o->manual_protect) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
					      .args = { o->manual_protect } };

		r = kvmmu_vm_enable_cap(f->kvm, &cap);
		if (r)
			return r;
	}

	for (i = 0; i < o->nr_vcpus; i++) {
		r = kvmmu_vcpu_create(f->kvm, (unsigned int)i, &f->vcpus[i]);
		if (r)
			return r;
	}
	f->nr_vcpus = o->nr_vcpus;

	if (o->mem_size) {
		struct host_mmap_args a = {
			.len = o->mem_size,
			.vm_flags = VM_READ | VM_WRITE | o->vm_flags,
			.backing = o->backing,
			.order = o->order,
			.addr = FIX_HVA_BASE,
		};
		struct kvm_userspace_memory_region2 m = {
			.slot = 0,
			.flags = o->slot_flags,
			.guest_phys_addr = o->gpa,
			.memory_size = o->mem_size,
		};

		if (o->backing == HOST_BACKING_FILE) {
			r = host_file_create(f->phys, o->mem_size >> PAGE_SHIFT, o->file_thp,
					     &f->file);
			if (r)
				return r;
			a.file = f->file;
		}
		r = host_mmap(f->mm, &a, &f->hva);
		if (r)
			return r;
		m.userspace_addr = f->hva;
		r = kvmmu_set_user_memory_region2(f->kvm, &m);
		if (r)
			return r;
		f->gpa = o->gpa;
		f->size = o->mem_size;
	}
	return 0;
}

int vm_fixture_destroy(struct vm_fixture *f)
{
	s64 tables;
	int ret = 0;

	kvmmu_vm_destroy(f->kvm);
	if (f->machine)
		hw_machine_destroy(f->machine);
	host_mm_destroy(f->mm);
	if (f->file)
		host_file_destroy(f->file);
	rcu_barrier();
	tables = atomic64_read(&f->phys->nr_allocated) - (s64)f->kept_frames;
	if (tables) {
		print_error("%lld frames still allocated after teardown\n", (long long)tables);
		ret = -1;
	}
	host_phys_destroy(f->phys);
	return ret;
}

int fix_run(struct vm_fixture *f, int vcpu, struct kvmmu_run *run)
{
	return kvmmu_vcpu_run(f->vcpus[vcpu], run);
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
	struct kvm *kvm = f->kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, f->vcpus[vcpu]->arch.mmu->root.hpa);
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
	struct kvm *kvm = f->kvm;
	struct kvm_mmu_page *root = root_to_sp(kvm, f->vcpus[vcpu]->arch.mmu->root.hpa);
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
	u64 val = 0;

	assert_int_equal(host_access(f->mm, f->hva + (gpa - f->gpa), false, &val), 0);
	return val;
}
