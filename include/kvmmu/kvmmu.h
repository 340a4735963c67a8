/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvmmu public API: the umbrella header.
 *
 * kvmmu is Linux KVM's x86 MMU run in userspace against a modelled host
 * kernel and simulated hardware.  The public API grows with the project;
 * today it is the KVM uAPI additions (uapi.h).  Everything under src/ is
 * internal.
 */
#ifndef KVMMU_KVMMU_H
#define KVMMU_KVMMU_H

#define KVMMU_VERSION_MAJOR 0
#define KVMMU_VERSION_MINOR 1
#define KVMMU_VERSION_PATCH 0

#include <kvmmu/uapi.h>

#endif /* KVMMU_KVMMU_H */
