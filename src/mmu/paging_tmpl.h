/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM's walk of a guest's page tables, instantiated per entry format
 * (paging.c includes it with PTTYPE 64: 4-level, 5-level and PAE; 32:
 * 2-level with 4-byte entries; and PTTYPE_EPT: L1's EPT tables, which
 * nested EPT shadows for L2, walked with an L2 gpa).  It reads guest entries through the
 * memslots and the VMM's own mapping (the host's get_user()), judges the
 * access with the MMU's precomputed permission and PKRU bitmaps, checks
 * reserved bits against the guest's masks, and sets accessed and dirty
 * bits with a compare-exchange on guest memory, marking the table's page
 * dirty in the log, as the CPU would have set them.
 *
 * Written apart from the simulated CPU's walker (src/hw/guest_walk.c): the
 * two must agree, and the tests hold one against the other.
 */

#if PTTYPE == 64
#define pt_element_t u64
#define FNAME(name) paging64_##name
#define PT_LEVEL_BITS 9
#define PT_MAX_FULL_LEVELS 5
#define PT_INDEX(addr, level) (((addr) >> (PAGE_SHIFT + ((level) - 1) * 9)) & 511)
#define PT_GUEST_ACCESSED(mmu) PT_ACCESSED_MASK
#define PT_GUEST_DIRTY(mmu) PT_DIRTY_MASK
#elif PTTYPE == PTTYPE_EPT
#define pt_element_t u64
#define FNAME(name) ept_##name
#define PT_LEVEL_BITS 9
#define PT_MAX_FULL_LEVELS 5
#define PT_INDEX(addr, level) (((addr) >> (PAGE_SHIFT + ((level) - 1) * 9)) & 511)
/* EPT has A/D bits only when L1 turned them on in its EPTP. */
#define PT_GUEST_ACCESSED(mmu) ((mmu)->cpu_role.base.ad_disabled ? 0 : EPT_ACCESSED)
#define PT_GUEST_DIRTY(mmu) ((mmu)->cpu_role.base.ad_disabled ? 0 : EPT_DIRTY)
#elif PTTYPE == 32
#define pt_element_t u32
#define FNAME(name) paging32_##name
#define PT_LEVEL_BITS 10
#define PT_MAX_FULL_LEVELS 2
#define PT_INDEX(addr, level) (((addr) >> (PAGE_SHIFT + ((level) - 1) * 10)) & 1023)
#define PT_GUEST_ACCESSED(mmu) PT_ACCESSED_MASK
#define PT_GUEST_DIRTY(mmu) PT_DIRTY_MASK
#else
#error "PTTYPE must be 64, 32 or PTTYPE_EPT"
#endif

/* An EPT entry is present with any of R, W, X (execute-only is a mapping too). */
static inline bool FNAME(is_present_gpte)(u64 pte)
{
#if PTTYPE == PTTYPE_EPT
	return pte & EPT_RWX_MASK;
#else
	return pte & PT_PRESENT_MASK;
#endif
}

/**
 * struct guest_walker - what a walk found
 * @level:     the level it stopped at (the leaf's, or the faulting entry's)
 * @max_level: the level it started at (below the PDPTE registers for PAE)
 * @table_gfn: the gfn of each table read, by level - 1
 * @ptes:      each entry as read
 * @pte_gpa:   where each entry is
 * @pt_access: the rights of the levels above the leaf
 * @pt_access_lvl: per level - 1, the rights of the entries above that level's
 * @pte_access: the rights of the whole path (W off for a clean leaf read:
 *             protect_clean_gpte, so that the first write faults and sets D)
 * @gfn:       the translation (the 4K frame within a large page)
 * @fault:     the #PF, when the walk failed
 */
struct FNAME(guest_walker) {
	int level;
	int max_level;
	gfn_t table_gfn[PT_MAX_FULL_LEVELS];
	pt_element_t ptes[PT_MAX_FULL_LEVELS];
	gpa_t pte_gpa[PT_MAX_FULL_LEVELS];
	unsigned int pt_access;
	unsigned int pt_access_lvl[PT_MAX_FULL_LEVELS];
	unsigned int pte_access;
	gfn_t gfn;
	struct x86_exception fault;
};

/*
 * The rights an entry grants, as ACC_* bits (NX turns ACC_EXEC_MASK off).
 * EPT's R, W and X become ACC_USER, ACC_WRITE and ACC_EXEC: a read of L2
 * is checked as a "user" access (ept_violation_error_code()).
 */
static unsigned int FNAME(gpte_access)(u64 gpte)
{
#if PTTYPE == PTTYPE_EPT
	return ((gpte & EPT_READABLE) ? ACC_USER_MASK : 0) |
	       ((gpte & EPT_WRITABLE) ? ACC_WRITE_MASK : 0) |
	       ((gpte & EPT_EXECUTABLE) ? ACC_EXEC_MASK : 0);
#else
	unsigned int access = (unsigned int)(gpte & (PT_WRITABLE_MASK | PT_USER_MASK)) |
			      ACC_EXEC_MASK;

#if PTTYPE == 64
	if (gpte & PT64_NX_MASK)
		access &= ~ACC_EXEC_MASK;
#endif
	return access;
#endif
}

static bool FNAME(is_last_gpte)(struct kvm_mmu *mmu, int level, u64 gpte)
{
	if (level == PG_LEVEL_4K)
		return true;
	if (!(gpte & PT_PAGE_SIZE_MASK))
		return false;
#if PTTYPE == 32
	/* PS means a 4 MiB page only with CR4.PSE. */
	return level == PG_LEVEL_2M && mmu->cpu_role.ext.cr4_pse;
#else
	return level <= PG_LEVEL_1G;
#endif
}

static bool FNAME(is_rsvd_bits_set)(struct kvm_mmu *mmu, u64 gpte, int level)
{
#if PTTYPE == PTTYPE_EPT
	/* A memory type or XWR combination EPT does not allow: a misconfiguration. */
	if (mmu->guest_rsvd_check.bad_mt_xwr & BIT_ULL(gpte & 0x3f))
		return true;
#endif
	return gpte & mmu->guest_rsvd_check.rsvd_bits_mask[(gpte >> 7) & 1][level - 1];
}

/* The first 4K frame a leaf at @level maps. */
static gfn_t FNAME(gpte_to_gfn_lvl)(u64 gpte, int level)
{
#if PTTYPE == 32
	if (level == PG_LEVEL_2M)
		/* A 4 MiB page, PSE-36 putting bits 20:13 at physical bits 39:32. */
		return ((gpte & GENMASK_ULL(31, 22)) >> PAGE_SHIFT) |
		       (((gpte >> 13) & 0xff) << (32 - PAGE_SHIFT));
	return (gpte & GENMASK_ULL(31, 12)) >> PAGE_SHIFT;
#else
	return (gpte & PT64_BASE_ADDR_MASK & ~(PG_LEVEL_SIZE(level) - 1)) >> PAGE_SHIFT;
#endif
}

/* The 4K frames below a large page's first that @addr falls in. */
static gfn_t FNAME(large_offset)(gva_t addr, int level)
{
#if PTTYPE == 32
	if (level == PG_LEVEL_2M)
		return (addr & ((4ULL << 20) - 1)) >> PAGE_SHIFT;
#endif
	return (addr & (PG_LEVEL_SIZE(level) - 1)) >> PAGE_SHIFT;
}

/* Read the guest entry at @gpa: 0, or -EFAULT (no memslot or no mapping). */
static int FNAME(read_gpte)(struct kvm_vcpu *vcpu, gpa_t gpa, pt_element_t *pte)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
	unsigned long hva;
	u64 word;

	if (!slot || kvm_is_slot_invalid(slot))
		return -EFAULT;
	hva = __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) + (gpa & (PAGE_SIZE - 1));
	if (kvm->host->read_user(kvm->mm, hva, &word))
		return -EFAULT;
	*pte = (pt_element_t)(word >> (8 * (hva & 7)));
	return 0;
}

/*
 * Set @bits in the entry at @gpa, which the walk read as @orig: 0, 1 when
 * the entry changed since (the walk starts again), -EFAULT.  The write
 * dirties the table's page in the log, as the CPU's would.
 */
static int FNAME(set_gpte_bits)(struct kvm_vcpu *vcpu, gpa_t gpa, pt_element_t orig,
				pt_element_t bits)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
	u64 old = orig;
	int r;

	if (!slot || kvm_is_slot_invalid(slot) || (slot->flags & KVM_MEM_READONLY))
		return -EFAULT;
	r = kvm->host->cmpxchg_user(kvm->mm, __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) +
					     (gpa & (PAGE_SIZE - 1)),
				    sizeof(pt_element_t), &old, orig | bits);
	if (r)
		return r;
	mark_page_dirty_in_slot(kvm, slot, gpa_to_gfn(gpa));
	return 0;
}

/* A on every entry of the path, D in the leaf for a write. */
static int FNAME(update_accessed_dirty_bits)(struct kvm_vcpu *vcpu,
					     struct FNAME(guest_walker) *walker, bool write)
{
	int level, r;

	for (level = walker->max_level; level >= walker->level; level--) {
		pt_element_t pte = walker->ptes[level - 1],
			     bits = PT_GUEST_ACCESSED(vcpu->arch.mmu);

		if (level == walker->level && write)
			bits |= PT_GUEST_DIRTY(vcpu->arch.mmu);
		if ((pte & bits) == bits)
			continue;
		r = FNAME(set_gpte_bits)(vcpu, walker->pte_gpa[level - 1], pte, bits);
		if (r)
			return r;
		/* What the guest's memory holds now: fetch re-reads and compares it. */
		walker->ptes[level - 1] = pte | bits;
	}
	return 0;
}

/*
 * Walk for @addr with the error-code bits @access (PFERR_WRITE, _USER,
 * _FETCH, and KVM's _IMPLICIT_ACCESS).  Returns true with @walker's gfn
 * and rights, or false with its fault.
 */
static bool FNAME(walk_addr_generic)(struct FNAME(guest_walker) *walker,
				     struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t addr,
				     u64 access)
{
	const bool write = access & PFERR_WRITE_MASK;
	u64 errcode;
	pt_element_t pte;
	unsigned int pte_access, pt_access;
	int tries = 0, r;
	gfn_t table_gfn;

retry_walk:
	memset(walker, 0, sizeof(*walker));
	errcode = 0;
	walker->level = mmu->cpu_role.base.level;
#if PTTYPE == PTTYPE_EPT
	/* L1's EPT pointer: the root table's address and flags in its low bits. */
	pte = (pt_element_t)vcpu->arch.nested.eptp;
#else
	pte = (pt_element_t)vcpu->arch.cr3;
#endif
#if PTTYPE == 64
	if (walker->level == 3) {
		/* PAE: the PDPTE registers, loaded at the last CR3 write. */
		pte = (pt_element_t)vcpu->arch.pdptrs[(addr >> 30) & 3];
		if (!(pte & PT_PRESENT_MASK))
			goto error;
		--walker->level;
	}
#endif
	walker->max_level = walker->level;
	pte_access = ACC_ALL;

	for (;;) {
		gpa_t pte_gpa;

		pt_access = pte_access;
#if PTTYPE == 32
		table_gfn = (pte & GENMASK_ULL(31, 12)) >> PAGE_SHIFT;
#else
		table_gfn = (pte & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT;
#endif
		pte_gpa = gfn_to_gpa(table_gfn) + PT_INDEX(addr, walker->level) * sizeof(pt_element_t);
		walker->table_gfn[walker->level - 1] = table_gfn;
		walker->pte_gpa[walker->level - 1] = pte_gpa;
		walker->pt_access_lvl[walker->level - 1] = pt_access;
		/* A table outside guest memory reads as not present. */
		if (FNAME(read_gpte)(vcpu, pte_gpa, &pte))
			goto error;
		walker->ptes[walker->level - 1] = pte;
		pte_access = pt_access & FNAME(gpte_access)(pte);

		if (!FNAME(is_present_gpte)(pte))
			goto error;
		if (FNAME(is_rsvd_bits_set)(mmu, pte, walker->level)) {
			errcode = PFERR_RSVD_MASK | PFERR_PRESENT_MASK;
			goto error;
		}
		if (FNAME(is_last_gpte)(mmu, walker->level, pte))
			break;
		--walker->level;
	}

	walker->pt_access = pt_access;
	walker->pte_access = pte_access;
#if PTTYPE == PTTYPE_EPT
	/* No U/S, SMEP or keys: each access needs its own right, a read R. */
	errcode = (((access & PFERR_USER_MASK) && !(pte_access & ACC_USER_MASK)) ||
		   ((access & PFERR_WRITE_MASK) && !(pte_access & ACC_WRITE_MASK)) ||
		   ((access & PFERR_FETCH_MASK) && !(pte_access & ACC_EXEC_MASK))) ?
			  PFERR_PRESENT_MASK : 0;
#else
	errcode = permission_fault(vcpu, mmu, pte_access,
#if PTTYPE == 64
				   (unsigned int)((pte & PT64_PKEY_MASK) >> PT64_PKEY_SHIFT),
#else
				   0,
#endif
				   access);
#endif
	if (errcode)
		goto error;

	walker->gfn = FNAME(gpte_to_gfn_lvl)(pte, walker->level) +
		      FNAME(large_offset)(addr, walker->level);

	r = FNAME(update_accessed_dirty_bits)(vcpu, walker, write);
	if (r == 1) {
		if (WARN_ON_ONCE(++tries > 100))
			goto error;
		goto retry_walk;
	}
	if (r)
		goto error;
	/*
	 * A read maps a clean page read-only: the first write faults and sets
	 * D.  Without A/D (EPT without them) there is no D to set.
	 */
	if (PT_GUEST_DIRTY(mmu) && !write && !(pte & PT_GUEST_DIRTY(mmu)))
		walker->pte_access &= ~ACC_WRITE_MASK;
	return true;

error:
#if PTTYPE == PTTYPE_EPT
	/*
	 * L1's fault: an EPT violation with the qualification L1 would see
	 * from hardware (the access, and the rights the walk had found where
	 * it stopped), or a misconfiguration for reserved bits.
	 */
	walker->fault.vector = 0;
	walker->fault.error_code = errcode | (access & (PFERR_WRITE_MASK | PFERR_USER_MASK |
							 PFERR_FETCH_MASK));
	walker->fault.address = addr;
	walker->fault.nested_page_fault = true;
	walker->fault.ept_misconfig = errcode & PFERR_RSVD_MASK;
	walker->fault.exit_qualification =
		((access & PFERR_WRITE_MASK) ? EPT_VIOLATION_ACC_WRITE : 0) |
		((access & PFERR_USER_MASK) ? EPT_VIOLATION_ACC_READ : 0) |
		((access & PFERR_FETCH_MASK) ? EPT_VIOLATION_ACC_INSTR : 0) |
		((pte_access & ACC_USER_MASK) ? EPT_VIOLATION_READABLE : 0) |
		((pte_access & ACC_WRITE_MASK) ? EPT_VIOLATION_WRITABLE : 0) |
		((pte_access & ACC_EXEC_MASK) ? EPT_VIOLATION_EXECUTABLE : 0) |
		EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED;
	return false;
#endif
	errcode |= access & (PFERR_WRITE_MASK | PFERR_USER_MASK);
	/* I/D is reported only when NX or SMEP make fetches matter. */
	if ((access & PFERR_FETCH_MASK) &&
	    (mmu->cpu_role.base.efer_nx || mmu->cpu_role.ext.cr4_smep))
		errcode |= PFERR_FETCH_MASK;
	walker->fault.vector = PF_VECTOR;
	walker->fault.error_code = errcode;
	walker->fault.address = addr;
	return false;
}

static gpa_t FNAME(gva_to_gpa)(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t addr,
			       u64 access, struct x86_exception *exception)
{
	struct FNAME(guest_walker) walker;

#if PTTYPE == 32
	addr &= GENMASK_ULL(31, 0);
#else
	if (mmu->cpu_role.base.level == 3)
		addr &= GENMASK_ULL(31, 0);
#endif
	if (!FNAME(walk_addr_generic)(&walker, vcpu, mmu, addr, access)) {
		if (exception)
			*exception = walker.fault;
		return UNMAPPED_GVA;
	}
	return gfn_to_gpa(walker.gfn) | (addr & (PAGE_SIZE - 1));
}

/*
 * Shadow paging (ept=0): the page fault, for 64-bit entries (4-level,
 * 5-level and PAE guests) and for 32-bit ones (whose 1024-entry tables two
 * or four 512-entry shadow pages cover, by quadrant).
 */

/*
 * Has the guest changed the entry of @level since the walk read it?  Under
 * mmu_lock: an atomic read (kvm_vcpu_read_guest_atomic()), which may not
 * fault in; a word not mapped right now counts as changed (retry).
 */
/*
 * Read the guest entry at @gpa under mmu_lock (kvm_vcpu_read_guest_atomic()):
 * 0, or -EFAULT without waiting for a page to come in.
 */
static int FNAME(read_gpte_atomic)(struct kvm_vcpu *vcpu, gpa_t gpa, pt_element_t *pte)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
	unsigned long hva;
	u64 word;

	if (!slot || kvm_is_slot_invalid(slot))
		return -EFAULT;
	hva = __gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) + (gpa & (PAGE_SIZE - 1));
	if (kvm->host->read_user_nofault(kvm->mm, hva, &word))
		return -EFAULT;
	*pte = (pt_element_t)(word >> (8 * (hva & 7)));
	return 0;
}

static bool FNAME(gpte_changed)(struct kvm_vcpu *vcpu, struct FNAME(guest_walker) *gw, int level)
{
	pt_element_t pte;

	if (FNAME(read_gpte_atomic)(vcpu, gw->pte_gpa[level - 1], &pte))
		return true;
	return pte != gw->ptes[level - 1];
}

/*
 * Build the shadow path for the walk @gw: a shadow page per guest table
 * (made write-protected before the guest entry that led to it is read
 * again: a change in between retries), direct pages below a guest huge
 * page, and the leaf.
 */
static int FNAME(fetch)(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
			struct FNAME(guest_walker) *gw)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_shadow_walk_iterator it;
	unsigned int direct_access = gw->pte_access;
	struct kvm_mmu_page *sp;
	gfn_t base_gfn;

	/* The top entry may have changed while the walk ran without the lock. */
	if (FNAME(gpte_changed)(vcpu, gw, gw->max_level))
		return RET_PF_RETRY;
	if (WARN_ON_ONCE(vcpu->arch.mmu->root.hpa == INVALID_PAGE))
		return RET_PF_RETRY;
	/*
	 * The guest's walk succeeded on the dummy root: its CR3 is in a
	 * memslot now.  A dummy root is obsolete once a memslot exists where
	 * it pointed: reload.
	 */
	if (unlikely(kvm_mmu_is_dummy_root(kvm, vcpu->arch.mmu->root.hpa))) {
		kvm_make_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu);
		return RET_PF_RETRY;
	}

	for (shadow_walk_init(&it, vcpu, fault->addr);
	     shadow_walk_okay(vcpu, &it) && it.level > gw->level;
	     __shadow_walk_next(&it, mmu_spte_read(it.sptep))) {
		gfn_t table_gfn = gw->table_gfn[it.level - 2];
		unsigned int access = gw->pt_access_lvl[it.level - 2];

		clear_sp_write_flooding_count(kvm, it.sptep);
		sp = kvm_mmu_get_child_sp(vcpu, it.sptep, table_gfn, false, access);
		/*
		 * The table is write-protected now: if the guest entry that
		 * points to it changed since the walk, the walk was stale.
		 */
		if (FNAME(gpte_changed)(vcpu, gw, it.level - 1))
			return RET_PF_RETRY;
		if (sp)
			link_shadow_page(vcpu, it.sptep, sp);
		if (fault->write && table_gfn == fault->gfn)
			fault->write_fault_to_shadow_pgtable = true;
	}

	/* Sized after the pfn is known: the host mapping and memslot bound it too. */
	kvm_mmu_hugepage_adjust(vcpu, fault);

	base_gfn = fault->gfn;
	for (; shadow_walk_okay(vcpu, &it); __shadow_walk_next(&it, mmu_spte_read(it.sptep))) {
		if (fault->nx_huge_page_workaround_enabled)
			disallowed_hugepage_adjust(kvm, fault, mmu_spte_read(it.sptep), it.level);
		base_gfn = fault->gfn & ~(KVM_PAGES_PER_HPAGE(it.level) - 1);
		if (it.level == fault->goal_level)
			break;
		validate_direct_spte(vcpu, it.sptep, direct_access);
		sp = kvm_mmu_get_child_sp(vcpu, it.sptep, base_gfn, true, direct_access);
		if (!sp)
			continue;
		link_shadow_page(vcpu, it.sptep, sp);
		if (fault->huge_page_disallowed)
			account_nx_huge_page(kvm, sp, fault->req_level >= it.level);
	}
	if (WARN_ON_ONCE(it.level != fault->goal_level))
		return -EFAULT;
	return mmu_set_spte(vcpu, fault->slot, it.sptep, gw->pte_access, base_gfn, fault->pfn,
			    fault);
}

/* A write to a gfn that holds a shadowed table is emulated, not mapped. */
/*
 * Entry @i of unsync page @sp (a level-1 page), from the gPTE as the guest
 * left it: gone if the gPTE is not present, has reserved bits or is not
 * accessed; else the rights it gives now (a clean gPTE read-only, so that
 * the first write faults and sets D), on the same frame if it still maps
 * the same gfn.  > 0 if a flush is owed, < 0 if the table cannot be read.
 */
int FNAME(sync_spte)(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, int i)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	gpa_t pte_gpa = gfn_to_gpa(sp->gfn);
	unsigned int pte_access;
	pt_element_t gpte;

	if (WARN_ON_ONCE(sp->role.level != PG_LEVEL_4K))
		return -1;
#if PTTYPE == 32
	/* A 1024-entry table is shadowed by two pages: this one is half of it. */
	pte_gpa += (gpa_t)sp->role.quadrant * SPTE_ENT_PER_PAGE * sizeof(pt_element_t);
#endif
	pte_gpa += (gpa_t)i * sizeof(pt_element_t);
	if (FNAME(read_gpte_atomic)(vcpu, pte_gpa, &gpte))
		return -1;
	if (!FNAME(is_present_gpte)(gpte) ||
	    (PT_GUEST_ACCESSED(mmu) && !(gpte & PT_GUEST_ACCESSED(mmu))) ||
	    FNAME(is_rsvd_bits_set)(mmu, gpte, PG_LEVEL_4K))
		return kvm_mmu_sync_spte_drop(vcpu, sp, i);
	pte_access = sp->role.access & FNAME(gpte_access)(gpte);
	if (PT_GUEST_DIRTY(mmu) && !(gpte & PT_GUEST_DIRTY(mmu)))
		pte_access &= ~ACC_WRITE_MASK;
	return kvm_mmu_sync_spte_update(vcpu, sp, i, FNAME(gpte_to_gfn_lvl)(gpte, PG_LEVEL_4K),
					pte_access);
}

static bool FNAME(page_fault_handle_page_track)(struct kvm_vcpu *vcpu,
						struct kvm_page_fault *fault)
{
	if (fault->rsvd || !fault->present || !fault->write)
		return false;
	return kvm_gfn_is_write_tracked(vcpu->kvm, fault->slot, fault->gfn);
}

int FNAME(page_fault)(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	struct FNAME(guest_walker) walker;
	u64 access = fault->error_code & (PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK);
	int r;

	if (!FNAME(walk_addr_generic)(&walker, vcpu, vcpu->arch.mmu, fault->addr, access)) {
		/* The guest's own fault: it gets the #PF. */
		if (!fault->prefetch)
			kvm_inject_emulated_page_fault(vcpu, &walker.fault);
		return RET_PF_RETRY;
	}

	fault->gfn = walker.gfn;
	fault->max_level = (u8)walker.level;
	fault->slot = kvm_vcpu_gfn_to_memslot(vcpu, fault->gfn);
	vcpu->arch.mmio_gpa = gfn_to_gpa(walker.gfn) | (fault->addr & (PAGE_SIZE - 1));

	if (FNAME(page_fault_handle_page_track)(vcpu, fault))
		return RET_PF_WRITE_PROTECTED;

	r = kvm_mmu_fault_begin(vcpu, fault);
	if (r != RET_PF_CONTINUE)
		return r;

#if PTTYPE != PTTYPE_EPT
	/*
	 * CR0.WP=0: a supervisor write to a read-only user page is allowed.
	 * The SPTE becomes writable and supervisor-only (and not executable
	 * under SMEP), so user accesses and fetches fault and are rebuilt.
	 */
	if (fault->write && !(walker.pte_access & ACC_WRITE_MASK) &&
	    !vcpu->arch.mmu->cpu_role.base.cr0_wp && !fault->user && fault->slot) {
		walker.pte_access |= ACC_WRITE_MASK;
		walker.pte_access &= ~ACC_USER_MASK;
		if (vcpu->arch.mmu->cpu_role.ext.cr4_smep)
			walker.pte_access &= ~ACC_EXEC_MASK;
	}
#endif

	r = RET_PF_RETRY;
	write_lock(&kvm->mmu_lock);
	if (is_page_fault_stale(vcpu, fault))
		goto out_unlock;
	r = make_mmu_pages_available(vcpu);
	if (r)
		goto out_unlock;
	r = FNAME(fetch)(vcpu, fault, &walker);
out_unlock:
	kvm_mmu_finish_page_fault(vcpu, fault, r);
	write_unlock(&kvm->mmu_lock);
	return r;
}

#undef pt_element_t
#undef FNAME
#undef PT_GUEST_ACCESSED
#undef PT_GUEST_DIRTY
#undef PT_LEVEL_BITS
#undef PT_MAX_FULL_LEVELS
#undef PT_INDEX
