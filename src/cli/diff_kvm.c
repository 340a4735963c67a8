// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu diff: the host's /dev/kvm, by raw ioctls.  Nothing here knows
 * kvmmu; each call returns what the ioctl returned, or -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <kvmmu/uapi.h>

#include "diff.h"

static long xioctl(int fd, unsigned long req, void *arg)
{
	long r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

int diff_kvm_open(struct diff_kvm *k, const char *device, char *why, size_t why_len)
{
	long r;

	k->vm_fd = -1;
	k->kvm_fd = open(device, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		r = -errno;
		snprintf(why, why_len, "%s: %s", device, strerror(errno));
		return (int)r;
	}
	r = xioctl(k->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (r != KVM_API_VERSION) {
		snprintf(why, why_len, "%s: KVM_GET_API_VERSION is %ld, not %d", device, r,
			 KVM_API_VERSION);
		close(k->kvm_fd);
		k->kvm_fd = -1;
		return -ENOTTY;
	}
	k->api_version = (int)r;
	/* A host that cannot create a VM cannot be compared with. */
	r = diff_kvm_vm_create(k);
	if (r) {
		snprintf(why, why_len, "%s: KVM_CREATE_VM: %s", device, strerror((int)-r));
		close(k->kvm_fd);
		k->kvm_fd = -1;
		return (int)r;
	}
	diff_kvm_vm_destroy(k);
	return 0;
}

void diff_kvm_close(struct diff_kvm *k)
{
	diff_kvm_vm_destroy(k);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	k->kvm_fd = -1;
}

int diff_kvm_vm_create(struct diff_kvm *k)
{
	long r = ioctl(k->kvm_fd, KVM_CREATE_VM, (unsigned long)KVM_X86_DEFAULT_VM);

	if (r < 0)
		return -errno;
	k->vm_fd = (int)r;
	return 0;
}

void diff_kvm_vm_destroy(struct diff_kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	k->vm_fd = -1;
}

long diff_kvm_check_extension(struct diff_kvm *k, bool vm, u32 cap)
{
	long r = ioctl(vm ? k->vm_fd : k->kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)cap);

	return r < 0 ? -errno : r;
}

int diff_kvm_enable_cap(struct diff_kvm *k, u32 cap, u32 flags, u64 arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .flags = flags, .args = { arg0 } };

	return (int)xioctl(k->vm_fd, KVM_ENABLE_CAP, &c);
}

int diff_kvm_set_region(struct diff_kvm *k, bool v1, u32 slot, u32 flags, u64 gpa, u64 size,
			u64 hva)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = hva,
	};

	if (v1)
		return (int)xioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &m);
	return (int)xioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION2, &m);
}

int diff_kvm_get_dirty_log(struct diff_kvm *k, u32 slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return (int)xioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log);
}

int diff_kvm_clear_dirty_log(struct diff_kvm *k, u32 slot, u64 first, u32 num, void *bitmap)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num, .dirty_bitmap = bitmap,
	};

	return (int)xioctl(k->vm_fd, KVM_CLEAR_DIRTY_LOG, &log);
}
