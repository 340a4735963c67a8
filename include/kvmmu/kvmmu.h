/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvmmu public API: the umbrella header.
 *
 * kvmmu is Linux KVM's x86 MMU run in userspace against a modelled host
 * kernel and simulated hardware.  The public API:
 *
 *   version.h   KVMMU_VERSION_* and kvmmu_version()
 *   uapi.h      the KVM uAPI additions kvmmu needs beyond <linux/kvm.h>
 *   kvm.h       the VM calls (the KVM ioctls), with host.h and hw.h, the
 *               contracts of the host and hardware models
 *   world.h     a VM assembled with its host, simulated CPU, memory,
 *               memslots and vCPUs; guest programs; the VMM's host calls
 *   check.h     the checkers, the mutants and the violations they report
 *   scenario.h  the race scenarios under the controlled executor
 *
 * Build against the installed library with `pkg-config --cflags --libs
 * kvmmu`.  Everything under src/ is internal.
 */
#ifndef KVMMU_KVMMU_H
#define KVMMU_KVMMU_H

#include <kvmmu/version.h>
#include <kvmmu/uapi.h>
#include <kvmmu/kvm.h>
#include <kvmmu/world.h>
#include <kvmmu/check.h>
#include <kvmmu/scenario.h>

#endif /* KVMMU_KVMMU_H */
