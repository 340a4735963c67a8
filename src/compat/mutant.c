// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mutant table and its run-time switches.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mutant.h"

u64 __kvmmu_mutant_mask;

const struct kvmmu_mutant_info kvmmu_mutant_table[NR_KVMMU_MUTANTS] = {
	[MUT_NOTIFIER_SKIPS_INVALID_ROOTS] = {
		"notifier-skips-invalid-roots", "000",
		"the notifier/memslot unmap path walks only valid roots",
	},
	[MUT_REF_INVALID_ROOT] = {
		"ref-invalid-root", "000",
		"root lookup for a vCPU compares roles ignoring the invalid bit, so an invalid root can match",
	},
	[MUT_ZAP_WITHOUT_FREEZE] = {
		"zap-without-freeze", "004",
		"the read-lock zap helper writes the non-present value directly instead of FROZEN, flush, non-present",
	},
	[MUT_UNFREEZE_BEFORE_FLUSH] = {
		"unfreeze-before-flush", "004",
		"the read-lock zap helper freezes the SPTE, writes the non-present value, then flushes",
	},
	[MUT_REF_NONCOUNTED_PAGE] = {
		"ref-noncounted-page", "001",
		"follow-pfn treats pages of a PFNMAP mapping that have a frame struct as refcounted",
	},
	[MUT_TAIL_PAGE_REF_COUNT] = {
		"tail-page-ref-count", "001",
		"dirtying the folio of a new writable SPTE decides refcounted-ness with page_ref_count() (0 on a THP tail) instead of page_count()",
	},
	[MUT_FREE_TABLE_WITHOUT_GRACE] = {
		"free-table-without-grace", "-",
		"child page tables are freed at once instead of after an RCU grace period",
	},
	[MUT_FAST_PF_NO_DIRTY_LOG] = {
		"fast-pf-no-dirty-log", "-",
		"fast page fault restores W without marking the memslot dirty",
	},
	[MUT_SPLIT_CHILD_PFN] = {
		"split-child-pfn", "-",
		"splitting a huge page gives every child the huge page's first pfn instead of "
		"offsetting it by the child's index",
	},
	[MUT_RESUME_PAST_YIELD] = {
		"resume-past-yield", "-",
		"a TDP walk that yielded mmu_lock resumes after the entry it stopped at instead of "
		"at it, skipping an entry it had not processed",
	},
	[MUT_SEQ_SNAPSHOT_INT] = {
		"seq-snapshot-int", "-",
		"a fault keeps its mmu_invalidate_seq snapshot in an int: once the sequence reaches "
		"2^31 the snapshot never matches it again and the fault retries forever",
	},
	[MUT_RING_RESET_NO_PROTECT] = {
		"ring-reset-no-protect", "-",
		"KVM_RESET_DIRTY_RINGS recycles the harvested entries without write-protecting "
		"their pages again, so the next write to them pushes no entry",
	},
	[MUT_MAX_GFN_ROUND_DOWN] = {
		"max-gfn-round-down", "-",
		"the TDP MMU bounds its walks by MAXPHYADDR rounded down to whole top-level "
		"entries: with a guest physical width short of one, zaps (teardown's included) "
		"miss everything",
	},
	[MUT_ATOMIC_UPDATE_IGNORES_DIRTY] = {
		"atomic-update-ignores-dirty", "-",
		"spte_needs_atomic_update() forgets that the CPU may set D in a writable SPTE "
		"whose D is clear: a write-lock update stores over it plainly and loses a D bit "
		"the CPU set meanwhile",
	},
	[MUT_MMIO_WRAP_NO_ZAP] = {
		"mmio-wrap-no-zap", "-",
		"a memslot update whose generation wraps the 19 bits an MMIO SPTE keeps does not "
		"zap: MMIO SPTEs from before stay reachable, to be taken for current once the "
		"generation comes round again",
	},
	[MUT_COMMIT_ZAP_WITHOUT_FLUSH] = {
		"commit-zap-without-flush", "-",
		"the shadow MMU's kvm_mmu_commit_zap_page() frees the pages a zap unlinked without "
		"the remote TLB flush first: vCPUs keep translating through tables and leaves "
		"that are gone, while faults install new values in their place",
	},
	[MUT_NO_RETRY_SPECIAL_ROOT] = {
		"no-retry-special-root", "003",
		"is_page_fault_stale() ignores a pending KVM_REQ_MMU_FREE_OBSOLETE_ROOTS for a root "
		"without a shadow page (the PAE root): a fault that took mmu_lock after a fast zap "
		"installs SPTEs under the obsolete pages it points to",
	},
	[MUT_NO_UNPROTECT_GUARD] = {
		"no-unprotect-guard", "-",
		"kvm_mmu_write_protect_fault() forgets last_retry_eip/last_retry_addr: a string "
		"store into a table of its own walk unprotects the gfn, re-faults when the walk "
		"shadows the table again, and unprotects it again, for ever",
	},
	[MUT_SLOT_ZAP_LEAFS_ONLY] = {
		"slot-zap-leafs-only", "002",
		"with KVM_X86_QUIRK_SLOT_ZAP_ALL disabled, deleting or moving a memslot zaps only "
		"the leaf SPTEs of its gfns, not the shadow pages of guest tables stored in it, "
		"whose write-track and huge-page accounting live in the slot that is freed",
	},
	[MUT_UNSYNC_TRACKED_GFN] = {
		"unsync-tracked-gfn", "-",
		"mmu_try_to_unsync_pages() ignores write tracking and the page's level: a gfn "
		"holding a shadowed table above 4K is mapped writable, and the guest changes "
		"an upper-level table KVM believes write-protected",
	},
	[MUT_RMAP_UNMAP_NO_FLUSH] = {
		"rmap-unmap-no-flush", "-",
		"kvm_unmap_gfn_range() forgets that the shadow MMU's rmap zap needs a flush: the "
		"notifier returns with vCPUs still translating through the SPTEs it zapped",
	},
	[MUT_INVEPT_KEEPS_ROOT] = {
		"invept-keeps-root", "-",
		"kvm_mmu_invept() leaves the L2 roots built from the EPT pointer in place: nothing "
		"is synced or flushed, and L2 goes on using a translation L1 removed from its EPT "
		"tables and invalidated",
	},
	[MUT_INVLPG_SKIPS_SYNC] = {
		"invlpg-skips-sync", "-",
		"kvm_mmu_invalidate_addr() flushes the CPU's entry for the gva but does not sync its "
		"SPTE in an unsync page: the next walk of KVM's table finds the translation the "
		"guest changed and invalidated",
	},
	[MUT_AGING_NO_RMAP_LOCK] = {
		"aging-no-rmap-lock", "-",
		"lockless aging walks the shadow MMU's rmap chains without taking the rmap lock: "
		"a zap that removes entries under mmu_lock frees the pte_list_desc the walker "
		"is reading",
	},
	[MUT_UNACCOUNT_SKIPS_WRITE_TRACK] = {
		"unaccount-skips-write-track", "-",
		"unaccount_shadowed() forgets the write track of a page above 4K it zaps: the "
		"gfn stays write-tracked and without huge pages with nothing shadowing it, and "
		"the counts never come back to zero",
	},
};

void kvmmu_mutant_set_mask(u64 mask)
{
	WRITE_ONCE(__kvmmu_mutant_mask, mask);
}

u64 kvmmu_mutant_get_mask(void)
{
	return READ_ONCE(__kvmmu_mutant_mask);
}

int kvmmu_mutant_lookup(const char *name)
{
	int i;

	for (i = 0; i < NR_KVMMU_MUTANTS; i++) {
		if (!strcmp(kvmmu_mutant_table[i].name, name))
			return i;
	}
	return -ENOENT;
}

int kvmmu_mutant_parse(const char *list, u64 *mask, char *bad, size_t bad_len)
{
	u64 m = 0;
	const char *p = list;

	if (!*list || !strcmp(list, "none")) {
		*mask = 0;
		return 0;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[64];
		int id;

		if (!len)
			return -EINVAL;
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p, len);
		name[len] = '\0';
		id = kvmmu_mutant_lookup(name);
		if (id < 0) {
			if (bad && bad_len)
				snprintf(bad, bad_len, "%s", name);
			return -ENOENT;
		}
		m |= BIT_ULL(id);
		if (!end)
			break;
		p = end + 1;
	}
	*mask = m;
	return 0;
}
