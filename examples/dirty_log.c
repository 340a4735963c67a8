// SPDX-License-Identifier: GPL-2.0-only
/*
 * A memslot and dirty-log round trip, from outside kvmmu, with only its
 * installed headers and `pkg-config --cflags --libs kvmmu`.
 *
 * A VM with one vCPU and 2 MiB of guest memory in one memslot, dirty
 * logging on with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, every checker
 * attached.  The guest writes three pages through the simulated CPU;
 * KVM_GET_DIRTY_LOG reports exactly those; KVM_CLEAR_DIRTY_LOG write-protects
 * them again, so the next GET is empty; a second write to one of them
 * (a fast page fault restoring W) shows up again.  The VMM reads back what
 * the guest wrote.  Exit 0 when all of that holds and no checker fired.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmmu/kvmmu.h>

#define MEM_SIZE (2UL << 20)
#define NR_PAGES (MEM_SIZE / 4096)
#define SLOT 0

static int failures;

#define EXPECT(cond, ...)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "dirty_log: " __VA_ARGS__);          \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

static uint64_t bitmap[NR_PAGES / 64];

static int get_log(struct kvm *kvm)
{
	struct kvm_dirty_log log = { .slot = SLOT, .dirty_bitmap = bitmap };

	memset(bitmap, 0, sizeof(bitmap));
	return kvmmu_get_dirty_log(kvm, &log);
}

/* The pages set in the last GET, in @out; returns their number. */
static int dirty_pages(unsigned long *out, int max)
{
	int n = 0;
	unsigned long i;

	for (i = 0; i < NR_PAGES; i++) {
		if (bitmap[i / 64] & (1ULL << (i % 64))) {
			if (n < max)
				out[n] = i;
			n++;
		}
	}
	return n;
}

static void expect_dirty(const char *when, const unsigned long *want, int nr_want)
{
	unsigned long got[16];
	int n = dirty_pages(got, 16), i;

	EXPECT(n == nr_want, "%s: %d dirty pages, expected %d", when, n, nr_want);
	for (i = 0; i < n && i < nr_want && i < 16; i++)
		EXPECT(got[i] == want[i], "%s: dirty page %lu, expected %lu", when, got[i],
		       want[i]);
}

int main(void)
{
	static const unsigned long written[] = { 3, 7, 100 };
	struct kvmmu_world_config cfg = {
		.nr_vcpus = 1,
		.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		.mem = { { .size = MEM_SIZE, .backing = KVMMU_BACKING_ANON, .gpa = 0,
			   .nr_slots = 1, .first_slot = SLOT,
			   .slot_flags = KVM_MEM_LOG_DIRTY_PAGES } },
	};
	struct kvm_clear_dirty_log clear = { .slot = SLOT, .first_page = 0,
					     .num_pages = NR_PAGES, .dirty_bitmap = bitmap };
	struct kvm_dirty_log bad = { 0 };
	struct kvmmu_mem_config mem;
	struct kvmmu_violation v;
	struct kvmmu_world *w;
	struct kvm *kvm;
	char why[160];
	uint64_t val, leaked;
	size_t i;
	int r, nr;

	printf("kvmmu %s (headers %s)\n", kvmmu_version(), KVMMU_VERSION);
	if (kvmmu_check_parse("all", &cfg.checks, NULL, 0))
		return 2;
	r = kvmmu_world_create(&cfg, &w, why, sizeof(why));
	if (r) {
		fprintf(stderr, "dirty_log: world: %s (%s)\n", why, strerror(-r));
		return 2;
	}
	kvm = kvmmu_world_kvm(w);
	kvmmu_world_mem(w, 0, &mem);
	r = kvmmu_world_check_begin(w);
	EXPECT(!r, "check_begin: %d", r);

	/* Nothing written yet: the log is empty. */
	r = get_log(kvm);
	EXPECT(!r, "GET_DIRTY_LOG: %d", r);
	expect_dirty("before any write", NULL, 0);

	/* The guest writes three pages, through the vCPU's TLB and walker. */
	for (i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		val = 0xd1a7000000000000ULL | written[i];
		r = kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_STORE, written[i] * 4096 + 8, &val);
		EXPECT(!r, "guest store to page %lu: %d", written[i], r);
	}
	r = get_log(kvm);
	EXPECT(!r, "GET_DIRTY_LOG: %d", r);
	expect_dirty("after three writes", written, 3);
	/* Manual protect: GET leaves the bits for CLEAR to take. */
	r = get_log(kvm);
	EXPECT(!r, "GET_DIRTY_LOG: %d", r);
	expect_dirty("a second GET", written, 3);

	/* CLEAR what was harvested: the pages are write-protected again. */
	r = kvmmu_clear_dirty_log(kvm, &clear);
	EXPECT(!r, "CLEAR_DIRTY_LOG: %d", r);
	r = get_log(kvm);
	EXPECT(!r, "GET_DIRTY_LOG: %d", r);
	expect_dirty("after CLEAR", NULL, 0);

	/* A write after CLEAR returned must be in the next harvest. */
	val = 0xd1a7ULL << 48 | 0x77;
	r = kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_STORE, 7 * 4096 + 8, &val);
	EXPECT(!r, "guest store after CLEAR: %d", r);
	r = get_log(kvm);
	EXPECT(!r, "GET_DIRTY_LOG: %d", r);
	expect_dirty("after the write after CLEAR", &written[1], 1);
	r = kvmmu_clear_dirty_log(kvm, &clear);
	EXPECT(!r, "CLEAR_DIRTY_LOG: %d", r);

	/* The guest loads its own store; the VMM reads the same word. */
	val = 0;
	r = kvmmu_world_vcpu_access(w, 0, KVMMU_ACCESS_LOAD, 7 * 4096 + 8, &val);
	EXPECT(!r && val == (0xd1a7ULL << 48 | 0x77), "guest load: %d, %#" PRIx64, r, val);
	val = 0;
	r = kvmmu_world_host_read(w, mem.hva + 100 * 4096 + 8, &val);
	EXPECT(!r && val == (0xd1a7000000000000ULL | 100), "VMM read: %d, %#" PRIx64, r, val);

	/* Bad input is an errno, as KVM returns it. */
	clear.first_page = 3;
	EXPECT(kvmmu_clear_dirty_log(kvm, &clear) == -EINVAL, "unaligned CLEAR accepted");
	bad.slot = 42;
	bad.dirty_bitmap = bitmap;
	EXPECT(kvmmu_get_dirty_log(kvm, &bad) == -ENOENT, "GET of a missing slot accepted");

	/* The write after CLEAR found its page write-protected: a fast page fault. */
	printf("vCPU 0: pf_fixed %" PRIu64 ", pf_fast %" PRIu64 "\n",
	       kvmmu_vcpu_stat(kvmmu_world_vcpu(w, 0), "pf_fixed"),
	       kvmmu_vcpu_stat(kvmmu_world_vcpu(w, 0), "pf_fast"));
	EXPECT(kvmmu_vcpu_stat(kvmmu_world_vcpu(w, 0), "pf_fast") >= 1, "no fast page fault");
	kvmmu_world_check_end(w);
	nr = kvmmu_check_violations(&v, 1);
	if (nr > 0)
		fprintf(stderr, "dirty_log: %d violations, the first of %s (%s): %s\n", nr,
			v.invariant, v.checker, v.description);
	EXPECT(nr == 0, "the checkers found %d violations", nr);
	EXPECT(kvmmu_check_warnings() == 0, "%lu WARNs", kvmmu_check_warnings());
	leaked = kvmmu_world_destroy(w);
	EXPECT(leaked == 0, "%" PRIu64 " frames leaked", leaked);

	printf("dirty_log: %s (%d checkers, %" PRIu64 " events checked)\n",
	       failures ? "FAILED" : "ok", kvmmu_checker_count(), kvmmu_check_events_seen());
	return failures ? 1 : 0;
}
