/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Architectural x86 paging: table geometry and the bits hardware defines in
 * EPT entries (Intel SDM vol. 3, "EPT paging-structure entries") and in
 * 64-bit page-table entries as NPT uses them (AMD APM vol. 2, "Long-mode
 * page translation").
 *
 * Only what silicon interprets lives here.  KVM's software-available bits
 * (MMU-present, host-writable, MMU-writable, the frozen value, access-track
 * saved bits) belong to the MMU's SPTE format (src/mmu/spte.h); the
 * simulated walker (src/hw) reads this header and never that one.
 */
#ifndef KVMMU_ARCH_X86_PGTABLE_H
#define KVMMU_ARCH_X86_PGTABLE_H

#include "bitops.h"
#include "types.h"

/* ---- geometry: 4 KiB tables of 512 64-bit entries ----------------------- */

#define PT64_ENT_PER_PAGE 512
#define PT64_LEVEL_BITS 9

enum pg_level {
	PG_LEVEL_NONE,
	PG_LEVEL_4K,
	PG_LEVEL_2M,
	PG_LEVEL_1G,
	PG_LEVEL_512G, /* PML4 */
	PG_LEVEL_256T, /* PML5 */
	PG_LEVEL_NUM
};

/* Bits of address translated below an entry of @level: 12, 21, 30, ... */
#define PG_LEVEL_SHIFT(level) (PAGE_SHIFT + ((level) - 1) * PT64_LEVEL_BITS)
#define PG_LEVEL_SIZE(level) (1ULL << PG_LEVEL_SHIFT(level))
/* 4 KiB pages covered by one entry of @level: 1, 512, 512^2, ... */
#define KVM_PAGES_PER_HPAGE(level) (1ULL << (((level) - 1) * PT64_LEVEL_BITS))

/* Index of @addr's entry in a table of @level. */
#define PT64_INDEX(addr, level)                                               \
	(((addr) >> PG_LEVEL_SHIFT(level)) & (PT64_ENT_PER_PAGE - 1))

/* The physical-address field of an entry: bits 51:12. */
#define PT64_BASE_ADDR_MASK GENMASK_ULL(51, 12)
#define PT64_PFN_MASK PT64_BASE_ADDR_MASK

/* ---- EPT entry bits ----------------------------------------------------- */

#define EPT_READABLE BIT_ULL(0)
#define EPT_WRITABLE BIT_ULL(1)
#define EPT_EXECUTABLE BIT_ULL(2)
#define EPT_RWX_MASK (EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE)
#define EPT_MT_MASK GENMASK_ULL(5, 3) /* memory type, leaves only */
#define EPT_MT_SHIFT 3
#define EPT_IPAT BIT_ULL(6)           /* ignore guest PAT, leaves only */
#define EPT_LARGE BIT_ULL(7)          /* maps a 2M/1G page */
#define EPT_ACCESSED BIT_ULL(8)       /* set by hardware when A/D is enabled */
#define EPT_DIRTY BIT_ULL(9)          /* set by hardware on writes, leaves */
#define EPT_SUPPRESS_VE BIT_ULL(63)

#define EPT_MT_WB 6ULL

/*
 * An EPT entry is not present if bits 2:0 are all clear.  Write-only or
 * write+execute without read (W=1, R=0) is a misconfiguration, as is a
 * reserved memory type: such entries exit as EPT misconfig, not violation.
 */

/* ---- 64-bit (NPT) entry bits -------------------------------------------- */

#define PT_PRESENT_MASK BIT_ULL(0)
#define PT_WRITABLE_MASK BIT_ULL(1)
#define PT_USER_MASK BIT_ULL(2)
#define PT_PWT_MASK BIT_ULL(3)
#define PT_PCD_MASK BIT_ULL(4)
#define PT_ACCESSED_MASK BIT_ULL(5)
#define PT_DIRTY_MASK BIT_ULL(6)
#define PT_PAGE_SIZE_MASK BIT_ULL(7)
#define PT_GLOBAL_MASK BIT_ULL(8)
#define PT64_NX_MASK BIT_ULL(63)

/* Guest paging entries beyond the common bits. */
#define PT32_ENT_PER_PAGE 1024
#define PT_PAT_LARGE_MASK BIT_ULL(12)      /* PAT of a 2M/1G/4M page (bit 7 is PS there) */
#define PT64_PKEY_SHIFT 59                 /* protection key, bits 62:59 of a 64-bit leaf */
#define PT64_PKEY_MASK GENMASK_ULL(62, 59)

/* Control registers, EFER and RFLAGS: the bits paging depends on. */
#define X86_CR0_WP BIT_ULL(16)
#define X86_CR0_PG BIT_ULL(31)
#define X86_CR4_PSE BIT_ULL(4)
#define X86_CR4_PAE BIT_ULL(5)
#define X86_CR4_PGE BIT_ULL(7)
#define X86_CR4_LA57 BIT_ULL(12)
#define X86_CR4_SMEP BIT_ULL(20)
#define X86_CR4_SMAP BIT_ULL(21)
#define X86_CR4_PKE BIT_ULL(22)
#define EFER_LME BIT_ULL(8)
#define EFER_LMA BIT_ULL(10)
#define EFER_NX BIT_ULL(11)
#define X86_EFLAGS_AC BIT_ULL(18)

/* Page-fault error code bits, as reported on an NPF exit. */
#define PFERR_PRESENT_MASK BIT_ULL(0)
#define PFERR_WRITE_MASK BIT_ULL(1)
#define PFERR_USER_MASK BIT_ULL(2)
#define PFERR_RSVD_MASK BIT_ULL(3)
#define PFERR_FETCH_MASK BIT_ULL(4)
#define PFERR_PK_MASK BIT_ULL(5)
#define PFERR_GUEST_FINAL_MASK BIT_ULL(32)
#define PFERR_GUEST_PAGE_MASK BIT_ULL(33)

/* EPT-violation exit qualification bits (SDM table "Exit Qualification for EPT Violations"). */
#define EPT_VIOLATION_ACC_READ BIT_ULL(0)
#define EPT_VIOLATION_ACC_WRITE BIT_ULL(1)
#define EPT_VIOLATION_ACC_INSTR BIT_ULL(2)
#define EPT_VIOLATION_READABLE BIT_ULL(3)
#define EPT_VIOLATION_WRITABLE BIT_ULL(4)
#define EPT_VIOLATION_EXECUTABLE BIT_ULL(5)
#define EPT_VIOLATION_GVA_IS_VALID BIT_ULL(7)
#define EPT_VIOLATION_GVA_TRANSLATED BIT_ULL(8)

/* INVEPT's types (SDM): one EPTP's translations, or every EPTP's. */
#define VMX_EPT_EXTENT_CONTEXT 1
#define VMX_EPT_EXTENT_GLOBAL 2

#endif /* KVMMU_ARCH_X86_PGTABLE_H */
