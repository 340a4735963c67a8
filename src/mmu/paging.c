// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's paging as the MMU sees it: the CPU role computed from the
 * vCPU's registers, the precomputed permission and PKRU bitmaps, the
 * guest's reserved-bit masks, and the guest walks of paging_tmpl.h (64-bit
 * entries: 4-level, 5-level, PAE; 32-bit entries; L1's EPT entries under
 * nested EPT), for emulation and shadow paging.
 */
#include <errno.h>
#include <string.h>

#include "kvm_host.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "page_track.h"
#include "shadow_mmu.h"

#define PF_VECTOR 14
/* paging_tmpl.h's instance for L1's EPT tables (nested EPT). */
#define PTTYPE_EPT 18

/*
 * Does an access with error code @access fault on a page with rights
 * @pte_access and protection key @pte_pkey?  Returns the #PF error-code
 * bits (PFERR_PRESENT_MASK, and PFERR_PK_MASK for a key) or 0.
 */
static u64 permission_fault(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu,
			    unsigned int pte_access, unsigned int pte_pkey, u64 access)
{
	/* Supervisor data accesses escape SMAP with RFLAGS.AC, unless implicit. */
	bool no_smap = !(access & (PFERR_USER_MASK | PFERR_IMPLICIT_ACCESS)) &&
		       (vcpu->arch.rflags & X86_EFLAGS_AC);
	u64 pfec = access & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK);
	u64 errcode = PFERR_PRESENT_MASK;
	bool fault;

	fault = (mmu->permissions[(pfec | (no_smap ? PFERR_RSVD_MASK : 0)) >> 1] >>
		 pte_access) & 1;
	if (mmu->pkru_mask) {
		u32 pkru_bits = (vcpu->arch.pkru >> (pte_pkey * 2)) & 3;
		unsigned int offset = (unsigned int)pfec |
				      ((pte_access & ACC_USER_MASK) ? PFERR_RSVD_MASK : 0);

		pkru_bits &= mmu->pkru_mask >> offset;
		if (pkru_bits) {
			errcode |= PFERR_PK_MASK;
			fault = true;
		}
	}
	return fault ? errcode : 0;
}

#define PTTYPE 64
#include "paging_tmpl.h"
#undef PTTYPE

#define PTTYPE 32
#include "paging_tmpl.h"
#undef PTTYPE

#define PTTYPE PTTYPE_EPT
#include "paging_tmpl.h"
#undef PTTYPE

static gpa_t nonpaging_gva_to_gpa(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva,
				  u64 access, struct x86_exception *exception)
{
	return gva;
}

/* ---- the CPU role ---------------------------------------------------------------------- */

union kvm_cpu_role kvm_calc_cpu_role(struct kvm_vcpu *vcpu)
{
	const struct kvm_vcpu_arch *a = &vcpu->arch;
	union kvm_cpu_role role = { .as_u64 = 0 };
	bool lma = a->efer & EFER_LMA;

	role.base.access = ACC_ALL;
	role.ext.valid = 1;
	if (!(a->cr0 & X86_CR0_PG)) {
		role.base.direct = 1;
		return role;
	}
	role.base.efer_nx = !!(a->efer & EFER_NX);
	role.base.cr0_wp = !!(a->cr0 & X86_CR0_WP);
	role.base.smep_andnot_wp = (a->cr4 & X86_CR4_SMEP) && !(a->cr0 & X86_CR0_WP);
	role.base.smap_andnot_wp = (a->cr4 & X86_CR4_SMAP) && !(a->cr0 & X86_CR0_WP);
	role.base.has_4_byte_gpte = !(a->cr4 & X86_CR4_PAE);
	if (lma)
		role.base.level = (a->cr4 & X86_CR4_LA57) ? 5 : 4;
	else
		role.base.level = (a->cr4 & X86_CR4_PAE) ? 3 : 2;
	role.ext.cr4_smep = !!(a->cr4 & X86_CR4_SMEP);
	role.ext.cr4_smap = !!(a->cr4 & X86_CR4_SMAP);
	role.ext.cr4_pse = !!(a->cr4 & X86_CR4_PSE);
	/* Protection keys and LA57 exist in long mode only. */
	role.ext.cr4_pke = lma && (a->cr4 & X86_CR4_PKE);
	role.ext.cr4_la57 = lma && (a->cr4 & X86_CR4_LA57);
	role.ext.efer_lma = lma;
	return role;
}

/* ---- the precomputed checks -------------------------------------------------------------- */

/*
 * For every error code (its RSVD position meaning "SMAP does not apply")
 * and every combination of rights, whether the access faults.
 */
static void update_permission_bitmask(struct kvm_mmu *mmu)
{
	const union kvm_cpu_role r = mmu->cpu_role;
	unsigned int index, a;

	for (index = 0; index < ARRAY_SIZE(mmu->permissions); index++) {
		u64 pfec = (u64)index << 1;
		bool wr = pfec & PFERR_WRITE_MASK, us = pfec & PFERR_USER_MASK;
		bool fe = pfec & PFERR_FETCH_MASK, no_smap = pfec & PFERR_RSVD_MASK;
		u8 faults = 0;

		for (a = 0; a <= ACC_ALL; a++) {
			bool w = a & ACC_WRITE_MASK, u = a & ACC_USER_MASK, x = a & ACC_EXEC_MASK;
			bool fault = (us && !u) ||
				     (wr && !w && (us || r.base.cr0_wp)) ||
				     (fe && !x && r.base.efer_nx) ||
				     (fe && !us && u && r.ext.cr4_smep) ||
				     (!fe && !us && u && r.ext.cr4_smap && !no_smap);

			faults |= (u8)(fault << a);
		}
		mmu->permissions[index] = faults;
	}
}

/*
 * For every error code (its RSVD position meaning "a user page"), whether
 * PKRU's AD (bit 0) and WD (bit 1) apply: to data accesses to user pages,
 * WD to writes by user mode, or by supervisor mode with CR0.WP.
 */
static void update_pkru_bitmask(struct kvm_mmu *mmu)
{
	unsigned int index;

	mmu->pkru_mask = 0;
	if (!mmu->cpu_role.ext.cr4_pke)
		return;
	for (index = 0; index < ARRAY_SIZE(mmu->permissions); index++) {
		u64 pfec = (u64)index << 1;
		bool check_pkey = !(pfec & PFERR_FETCH_MASK) && (pfec & PFERR_RSVD_MASK);
		bool check_write = check_pkey && (pfec & PFERR_WRITE_MASK) &&
				   ((pfec & PFERR_USER_MASK) || mmu->cpu_role.base.cr0_wp);

		mmu->pkru_mask |= (u32)(check_pkey | (check_write << 1)) << pfec;
	}
}

/* The guest's reserved bits, per level and per bit 7 of the entry. */
static void reset_guest_rsvds_bits_mask(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu)
{
	struct rsvd_bits_validate *c = &mmu->guest_rsvd_check;
	const union kvm_cpu_role r = mmu->cpu_role;
	int m = vcpu->arch.maxphyaddr, i;
	u64 nx = r.base.efer_nx ? 0 : PT64_NX_MASK, high;

	memset(c, 0, sizeof(*c));
	switch (r.base.level) {
	case 2:
		/* Only a 4 MiB PDE: bit 21, and PSE-36's bits above MAXPHYADDR. */
		if (r.ext.cr4_pse) {
			c->rsvd_bits_mask[1][1] = BIT_ULL(21);
			for (i = 0; i < 8; i++) {
				if (32 + i >= min(m, 40))
					c->rsvd_bits_mask[1][1] |= BIT_ULL(13 + i);
			}
		}
		break;
	case 3:
		high = m > 62 ? 0 : GENMASK_ULL(62, m);
		c->rsvd_bits_mask[0][0] = nx | high;
		c->rsvd_bits_mask[0][1] = nx | high;
		c->rsvd_bits_mask[1][1] = nx | high | GENMASK_ULL(20, 13);
		c->rsvd_bits_mask[1][0] = c->rsvd_bits_mask[0][0]; /* bit 7 of a PTE is PAT */
		break;
	case 4:
	case 5:
		high = m > 51 ? 0 : GENMASK_ULL(51, m);
		for (i = 0; i < 5; i++)
			c->rsvd_bits_mask[0][i] = nx | high;
		/* No PS in PML4Es and PML5Es. */
		c->rsvd_bits_mask[0][3] |= PT_PAGE_SIZE_MASK;
		c->rsvd_bits_mask[0][4] |= PT_PAGE_SIZE_MASK;
		c->rsvd_bits_mask[1][4] = c->rsvd_bits_mask[0][4];
		c->rsvd_bits_mask[1][3] = c->rsvd_bits_mask[0][3];
		c->rsvd_bits_mask[1][2] = nx | high | GENMASK_ULL(29, 13);
		c->rsvd_bits_mask[1][1] = nx | high | GENMASK_ULL(20, 13);
		c->rsvd_bits_mask[1][0] = c->rsvd_bits_mask[0][0];
		break;
	}
}

static void reset_guest_paging(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu)
{
	reset_guest_rsvds_bits_mask(vcpu, mmu);
	update_permission_bitmask(mmu);
	update_pkru_bitmask(mmu);
}

/*
 * Shadow paging: the root's role is the guest's paging mode, at least PAE
 * (unpaged, 32-bit and PAE guests go through the PAE root; KVM always uses
 * NX in its SPTEs, whatever the guest's EFER.NXE), and the fault handler
 * the guest's entry format.
 */
static void kvm_init_shadow_mmu(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu,
				union kvm_cpu_role role)
{
	union kvm_mmu_page_role root_role = role.base;

	if (root_role.level < 3)
		root_role.level = 3;
	root_role.efer_nx = 1;
	mmu->root_role = root_role;
	mmu->sync_spte = NULL;
	if (role.base.direct) {
		mmu->page_fault = nonpaging_page_fault;
	} else if (role.base.level == 2) {
		mmu->page_fault = paging32_page_fault;
		mmu->sync_spte = paging32_sync_spte;
	} else {
		mmu->page_fault = paging64_page_fault;
		mmu->sync_spte = paging64_sync_spte;
	}
}

/*
 * The guest's registers changed (CR0, CR4, EFER, or a new vCPU): compute
 * the CPU role and what the guest walk uses.  The TDP root does not depend
 * on it; a shadow root does (the caller has dropped it).
 */
void kvm_init_mmu(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = &vcpu->arch.root_mmu;
	union kvm_cpu_role role = kvm_calc_cpu_role(vcpu);

	mmu->cpu_role = role;
	if (!vcpu->kvm->arch.tdp_enabled) {
		kvm_init_shadow_mmu(vcpu, mmu, role);
		mmu->root.pgd = vcpu->arch.cr3 & PT64_BASE_ADDR_MASK;
	}
	if (role.base.direct)
		mmu->gva_to_gpa = nonpaging_gva_to_gpa;
	else if (role.base.level == 2)
		mmu->gva_to_gpa = paging32_gva_to_gpa;
	else
		mmu->gva_to_gpa = paging64_gva_to_gpa;
	reset_guest_paging(vcpu, mmu);
}

/*
 * L1's EPT tables as a guest's: reserved bits per level (bits 7:3 of
 * non-leaf entries, the low address bits of a large page, anything above
 * MAXPHYADDR) and the memory types and XWR combinations that are
 * misconfigurations (UC- 2, 3 and 7; W without R; X alone without
 * execute-only support).
 */
static void reset_rsvds_bits_mask_ept(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, bool execonly)
{
	struct rsvd_bits_validate *c = &mmu->guest_rsvd_check;
	int m = vcpu->arch.maxphyaddr, i;
	u64 high = m > 51 ? 0 : GENMASK_ULL(51, m);

	memset(c, 0, sizeof(*c));
	c->rsvd_bits_mask[0][4] = high | GENMASK_ULL(7, 3);
	c->rsvd_bits_mask[0][3] = high | GENMASK_ULL(7, 3);
	c->rsvd_bits_mask[0][2] = high | GENMASK_ULL(6, 3);
	c->rsvd_bits_mask[0][1] = high | GENMASK_ULL(6, 3);
	c->rsvd_bits_mask[0][0] = high;
	c->rsvd_bits_mask[1][4] = c->rsvd_bits_mask[0][4];
	c->rsvd_bits_mask[1][3] = c->rsvd_bits_mask[0][3];
	c->rsvd_bits_mask[1][2] = high | GENMASK_ULL(29, 12);
	c->rsvd_bits_mask[1][1] = high | GENMASK_ULL(20, 12);
	c->rsvd_bits_mask[1][0] = c->rsvd_bits_mask[0][0];
	for (i = 0; i < 64; i++) {
		u64 xwr = (u64)i & EPT_RWX_MASK, mt = (u64)i >> EPT_MT_SHIFT;

		if (mt == 2 || mt == 3 || mt == 7)
			c->bad_mt_xwr |= BIT_ULL(i);
		if (xwr == EPT_WRITABLE || xwr == (EPT_WRITABLE | EPT_EXECUTABLE) ||
		    (xwr == EPT_EXECUTABLE && !execonly))
			c->bad_mt_xwr |= BIT_ULL(i);
	}
}

/*
 * Nested VM entry (kvm_init_shadow_ept_mmu()): L2's MMU shadows L1's EPT
 * tables at @eptp.  The root's role says guest_mode, the EPT's levels,
 * and whether L1 turned A/D on; the MMU walks with the EPT format.  A
 * root cached for this EPTP is switched to without a flush: EPT's
 * translations stay cached across VM entries until L1 invalidates them
 * (INVEPT).  The caller made guest_mmu the vCPU's MMU.
 */
void kvm_init_shadow_ept_mmu(struct kvm_vcpu *vcpu, bool execonly, int level, bool accessed_dirty,
			     gpa_t new_eptp)
{
	struct kvm_mmu *mmu = &vcpu->arch.guest_mmu;
	union kvm_cpu_role role = { .as_u64 = 0 };

	WARN_ON_ONCE(vcpu->arch.mmu != mmu);
	role.base.level = level;
	role.base.direct = 0;
	role.base.guest_mode = 1;
	role.base.ad_disabled = !accessed_dirty;
	role.base.access = ACC_ALL;
	role.ext.execonly = execonly;
	role.ext.valid = 1;
	if (role.as_u64 != mmu->cpu_role.as_u64) {
		mmu->cpu_role = role;
		mmu->root_role = role.base;
		mmu->page_fault = ept_page_fault;
		mmu->sync_spte = ept_sync_spte;
		mmu->gva_to_gpa = ept_gva_to_gpa;
		reset_rsvds_bits_mask_ept(vcpu, mmu, execonly);
	}
	kvm_mmu_new_pgd_noflush(vcpu, new_eptp);
}

gpa_t kvm_mmu_gva_to_gpa(struct kvm_vcpu *vcpu, gva_t gva, u64 access,
			 struct x86_exception *exception)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;

	return mmu->gva_to_gpa(vcpu, mmu, gva, access, exception);
}
