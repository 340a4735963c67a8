/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel integer and address types for kvmmu.
 *
 * The core is written with the kernel's vocabulary (u64, gfn_t, kvm_pfn_t,
 * ...) so that it reads like arch/x86/kvm and can be compared with it line
 * by line.  Only the types are defined here; behaviour lives elsewhere.
 */
#ifndef KVMMU_COMPAT_TYPES_H
#define KVMMU_COMPAT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

/* Guest addresses: physical, frame number, virtual. */
typedef u64 gpa_t;
typedef u64 gfn_t;
typedef u64 gva_t;

/* Host addresses: virtual (as the kernel's unsigned long), physical, frame. */
typedef unsigned long hva_t;
typedef u64 hpa_t;
typedef u64 hfn_t;

/* A host page frame number as KVM passes it around (may carry error bits). */
typedef u64 kvm_pfn_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

#define INVALID_GPA (~(gpa_t)0)
#define INVALID_PAGE (~(hpa_t)0)

static inline gfn_t gpa_to_gfn(gpa_t gpa)
{
	return gpa >> PAGE_SHIFT;
}

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return gfn << PAGE_SHIFT;
}

#endif /* KVMMU_COMPAT_TYPES_H */
