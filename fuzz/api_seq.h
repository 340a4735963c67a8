/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The API-sequence fuzzer's decoder: input bytes are a small world's
 * configuration followed by a sequence of operations on it (memslots, dirty
 * logs, vCPU accesses, pre-faults, NX recovery, host events, capabilities),
 * run under the controlled executor (one thread, two in a parallel block,
 * and the RCU callback thread) with every checker on.  A finding (a checker's
 * violation, a WARN, an API answer KVM would not give, a clean access that
 * no longer works) prints one line and aborts.  The same decoder runs under
 * libFuzzer (fuzz_api_seq.c) and in the regression tests, without it
 * (replay_api_seq.c).
 *
 * The encoding (little-endian), documented for the corpus generator
 * (gen_corpus.py), which must be kept in step:
 *
 *   header, API_SEQ_HDR bytes (short input: the rest are 0):
 *     [0] bits 0-1 MMU (tdp, tdp-legacy, shadow; 3 is tdp), 2 NPT, 3 5-level,
 *         4 A/D off, 5 PML, 6 NX huge pages, 7 no eager split
 *     [1] bits 0-2 counters (mod NR_WORLD_COUNTERS), 3-4 yield every
 *         (0, 1, 2, 7), 5 manual protect, 6 INITIALLY_SET, 7 slot-zap quirk off
 *     [2] bits 0-1 dirty ring (off, 16K, 64K, off), 2 a second vCPU,
 *         3-5 MAXPHYADDR (46, 39, 43, 48, 52, 36, 46, 46),
 *         6 guest paging, 7 region 1 at the top of guest-physical space
 *         (without guest paging)
 *     [3] bits 0-1 guest paging levels (4, 5, 3, 2)
 *     [4], [5] region 0, region 1: bits 0-2 backing (anon, thp, shared,
 *         shared-thp, hugetlb-2m, pfnmap; 6, 7: anon), 3-4 size (64K, 2M,
 *         4M, 16K; rounded up to the backing's page), 5 two memslots,
 *         6 dirty logging, 7 (region 1) no region 1
 *     [6] bit 0 region 0 read-only, bit 1 populate
 *     [7] the seed of the controlled session the operations run in
 *   then operations of API_SEQ_OP bytes each (a short last one is dropped):
 *     [0] opcode (mod NR_API_OPS), [1] a, [2] b, [3] c, [4..7] x (u32),
 *     [8..15] y (u64); see enum api_op in api_seq.c for what each takes.
 *     OP_PARALLEL runs the next (a & 7) + 2 operations in two threads of the
 *     session, alternately: the first thread does the memslot and
 *     capability changes and uses vCPU 0, the second the last vCPU; the
 *     clean pass for a rejected operation waits for the block's end.
 */
#ifndef KVMMU_FUZZ_API_SEQ_H
#define KVMMU_FUZZ_API_SEQ_H

#include <stddef.h>
#include <stdint.h>

#define API_SEQ_HDR 8
#define API_SEQ_OP 16
#define API_SEQ_MAX_OPS 256

/*
 * The mutants to switch on in every run (enum kvmmu_mutant_id bits), from a
 * comma-separated list of names.  0, or -ENOENT/-EINVAL for a bad list.
 */
int api_seq_set_inject(const char *list);

/* Be quiet about progress (the default); @verbose: one line per operation. */
void api_seq_set_verbose(int verbose);

/* Run one input.  Returns 0 (also when its world cannot be built); aborts on a finding. */
int api_seq_run(const uint8_t *data, size_t size);

#endif /* KVMMU_FUZZ_API_SEQ_H */
