// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu diff: differential testing against the host's KVM.  Each sequence
 * of memslot and dirty-log operations runs on a fresh kvmmu VM (through
 * the public API, on a world) and on a fresh VM of the host's /dev/kvm
 * (raw ioctls); every return value and every dirty bitmap is compared.
 *
 * Before anything runs, kvmmu's VM is configured as the host's KVM is:
 * the highest gpa a memslot may reach (MAXPHYADDR with TDP, 52 bits with
 * shadow paging; measured on the host, then matched with --mmu and
 * phys_bits), the number of address spaces (KVM_CAP_MULTI_ADDRESS_SPACE),
 * and the capabilities both report are listed side by side.
 *
 * Guest writes (the write operation) run a stub guest on the host's vCPU
 * (diff_guest.c) and the same stores on kvmmu's simulated CPU, through the
 * same page tables, in a memslot made for each write on both sides.  A
 * host that cannot run the stub (a probe at startup says) skips the
 * sequences that write.
 *
 * Exit status: 0 the two agree, 1 differences, 2 bad input, 77 no usable
 * /dev/kvm, or every sequence skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cpuid.h>

#include "cli.h"
#include "diff.h"
#include "host_mm.h"
#include "hw_model.h"
#include "kvm_host.h"

#define DIFF_EXIT_SKIP 77
#define DIFF_ARENA (64ULL << 30)     /* the VMM's address range for hva= offsets */
#define DIFF_MAX_TRACKED 8192
#define DIFF_RANDOM_OPS 32            /* operations per generated sequence */
#define DIFF_MAX_BITMAP (1ULL << 28)  /* bytes: the largest slot's bitmap, 2^31 pages */
#define DIFF_WRITE_FRAMES 16384       /* kvmmu's host frames when a sequence writes */
#define DIFF_SELF_PHYS_BITS 46        /* --self: kvmmu's default MAXPHYADDR */

/* What was found on the host, and what kvmmu's VM was configured to. */
struct diff_config {
	int phys_bits_cpuid;   /* CPUID 0x80000008 EAX[7:0] */
	int max_gpa_bits;      /* measured: the highest slot the host takes ends below 2^bits */
	bool tdp;              /* the host bounds slots by MAXPHYADDR: TDP */
	bool tdp_mmu;          /* /sys/module/kvm/parameters/tdp_mmu */
	bool npt;              /* AMD */
	int nr_address_spaces;
	long nr_slots;         /* KVM_CAP_NR_MEMSLOTS */
	struct world_config wcfg;
	bool overridden;       /* --mmu or --address-spaces: kvmmu not matched on purpose */
	long host_caps[32], kvmmu_caps[32];
};

/* A slot as each side holds it now (npages 0: not held). */
struct diff_tracked {
	u32 slot;
	u64 npages[2], gpa[2]; /* [0] the host's, [1] kvmmu's */
};

/* The two sides of one run. */
struct diff_ctx {
	struct diff_kvm k;
	struct diff_config cfg;
	unsigned long arena;
	struct cli_output *out;
	struct json *j;
	bool verbose;
	bool self;             /* --self: kvmmu alone, every result printed */
	/* guest writes: the host's stub (when it runs), or why they are not compared */
	struct diff_guest guest;
	bool writes;
	char writes_why[512];
	unsigned long model_stub; /* the stub's memory in kvmmu's modelled host */
	bool stub_live;           /* the stub's slot exists, on both sides */
	u32 stub_slot;
	u64 stub_base;
	/* this run's totals */
	u64 sequences, ops, differences, config_differences, skipped;
	/* what the host returned, by operation: how much each path was exercised */
	struct { int kind; long ret; u64 count; } outcomes[64];
	int nr_outcomes;
	u64 bitmaps_set; /* GETs that agreed on a bitmap with bits set */
	/*
	 * The slots each side holds now, by the size it accepted: GET writes
	 * and CLEAR reads as many bytes as the slot's bitmap, so the buffers
	 * are as large as the larger side's, even once the two disagree.
	 */
	struct diff_tracked tracked[DIFF_MAX_TRACKED];
	int nr_tracked;
};

static u64 resolve(const struct diff_ctx *c, const struct diff_value *v)
{
	return v->constant + (u64)v->maxgpa * (1ULL << c->cfg.max_gpa_bits) +
	       (u64)v->nrslots * (u64)c->cfg.nr_slots;
}

static u32 op_slot(const struct diff_ctx *c, const struct diff_op *op)
{
	return (op->as_id << 16) + (u32)resolve(c, &op->slot);
}

static const char *errname(int r, char *buf, size_t len)
{
	const char *n;

	if (r >= 0) {
		snprintf(buf, len, "%d", r);
		return buf;
	}
	n = strerrorname_np(-r);
	if (n)
		snprintf(buf, len, "-%s", n);
	else
		snprintf(buf, len, "-%d", -r);
	return buf;
}

/* ---- matching the host ---------------------------------------------------------------------- */

static int read_param(const char *path)
{
	char buf[8] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
}

/* The highest slot the host's KVM takes: [2^bits - 4K, 2^bits). */
static int probe_max_gpa_bits(struct diff_ctx *c)
{
	int bits, r;

	r = diff_kvm_vm_create(&c->k);
	if (r)
		return r;
	for (bits = 52; bits > 32; bits--) {
		r = diff_kvm_set_region(&c->k, false, 0, 0, (1ULL << bits) - 4096, 4096,
					c->arena);
		if (!r)
			break;
	}
	diff_kvm_vm_destroy(&c->k);
	return bits;
}

static int match_host(struct diff_ctx *c, char *why, size_t why_len)
{
	struct diff_config *cfg = &c->cfg;
	unsigned int a, b, d, e;
	long r;

	if (__get_cpuid(0x80000008, &a, &b, &d, &e))
		cfg->phys_bits_cpuid = (int)(a & 0xff);
	else
		cfg->phys_bits_cpuid = 36;
	cfg->npt = access("/sys/module/kvm_amd", F_OK) == 0;
	cfg->tdp_mmu = read_param("/sys/module/kvm/parameters/tdp_mmu") != 0;
	cfg->max_gpa_bits = probe_max_gpa_bits(c);
	if (cfg->max_gpa_bits < 0) {
		snprintf(why, why_len, "KVM_CREATE_VM: %s", strerror(-cfg->max_gpa_bits));
		return cfg->max_gpa_bits;
	}
	/* With TDP, slots end below MAXPHYADDR; with shadow paging, below 2^52. */
	cfg->tdp = cfg->max_gpa_bits < 52 || cfg->phys_bits_cpuid >= 52;

	r = diff_kvm_vm_create(&c->k);
	if (r) {
		snprintf(why, why_len, "KVM_CREATE_VM: %s", strerror((int)-r));
		return (int)r;
	}
	r = diff_kvm_check_extension(&c->k, true, KVM_CAP_MULTI_ADDRESS_SPACE);
	cfg->nr_address_spaces = r <= 1 ? 1 : 2;
	cfg->nr_slots = diff_kvm_check_extension(&c->k, true, KVM_CAP_NR_MEMSLOTS);
	diff_kvm_vm_destroy(&c->k);

	memset(&cfg->wcfg, 0, sizeof(cfg->wcfg));
	cfg->wcfg.nr_frames = 1024;
	cfg->wcfg.format = cfg->npt ? KVMMU_TDP_NPT : KVMMU_TDP_EPT;
	cfg->wcfg.mmu = !cfg->tdp ? WORLD_MMU_SHADOW :
			cfg->tdp_mmu ? WORLD_MMU_TDP : WORLD_MMU_TDP_LEGACY;
	cfg->wcfg.phys_bits = cfg->tdp ? cfg->max_gpa_bits : cfg->phys_bits_cpuid;
	if (cfg->wcfg.phys_bits < 36 || cfg->wcfg.phys_bits > 52) {
		snprintf(why, why_len, "the host's MAXPHYADDR (%d) is out of kvmmu's range 36..52",
			 cfg->wcfg.phys_bits);
		return -EINVAL;
	}
	cfg->wcfg.nr_address_spaces = cfg->nr_address_spaces;
	return 0;
}

/* Both sides' capabilities, once kvmmu is configured. */
static int compare_caps(struct diff_ctx *c, char *why, size_t why_len)
{
	struct world w;
	int i, r;

	r = world_create(&w, &c->cfg.wcfg, why, why_len);
	if (r)
		return r;
	r = diff_kvm_vm_create(&c->k);
	if (r) {
		world_destroy(&w);
		snprintf(why, why_len, "KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	for (i = 0; i < diff_nr_caps; i++) {
		c->cfg.host_caps[i] = diff_kvm_check_extension(&c->k, true, diff_caps[i]);
		c->cfg.kvmmu_caps[i] = kvmmu_vm_check_extension(w.kvm, diff_caps[i]);
		if (c->cfg.host_caps[i] != c->cfg.kvmmu_caps[i])
			c->config_differences++;
	}
	diff_kvm_vm_destroy(&c->k);
	world_destroy(&w);
	return 0;
}

static void print_config(struct diff_ctx *c)
{
	const struct diff_config *cfg = &c->cfg;
	struct json *j = c->j;
	int i;

	if (!c->out->quiet) {
		fprintf(c->out->human, "diff: host KVM: MAXPHYADDR %d (CPUID), memslots below 2^%d "
			"(%s), %d address space%s, %ld memslots\n", cfg->phys_bits_cpuid,
			cfg->max_gpa_bits, cfg->tdp ? "TDP" : "shadow paging",
			cfg->nr_address_spaces, cfg->nr_address_spaces == 1 ? "" : "s",
			cfg->nr_slots);
		fprintf(c->out->human, "diff: kvmmu: --mmu %s, phys_bits %d, %d address space%s%s\n",
			world_mmu_name(cfg->wcfg.mmu), cfg->wcfg.phys_bits,
			cfg->wcfg.nr_address_spaces, cfg->wcfg.nr_address_spaces == 1 ? "" : "s",
			cfg->overridden ? " (not the host's: --mmu or --address-spaces)" : "");
		for (i = 0; i < diff_nr_caps; i++) {
			if (cfg->host_caps[i] != cfg->kvmmu_caps[i])
				fprintf(c->out->human, "diff: KVM_CAP_%s: host %ld, kvmmu %ld "
					"(docs/diff.md)\n", diff_cap_name(diff_caps[i]),
					cfg->host_caps[i], cfg->kvmmu_caps[i]);
		}
		if (c->writes)
			fprintf(c->out->human, "diff: guest writes: compared (the host runs the "
				"%s stub)\n", diff_stub_name(c->guest.stub));
		else
			fprintf(c->out->human, "diff: guest writes: not compared: %s\n",
				c->writes_why);
	}
	if (!c->out->json)
		return;
	json_key(j, "host");
	json_object_begin(j);
	json_key(j, "api_version");
	json_u64(j, (u64)c->k.api_version);
	json_key(j, "maxphyaddr_cpuid");
	json_u64(j, (u64)cfg->phys_bits_cpuid);
	json_key(j, "max_gpa_bits");
	json_u64(j, (u64)cfg->max_gpa_bits);
	json_key(j, "tdp");
	json_bool(j, cfg->tdp);
	json_key(j, "tdp_mmu");
	json_bool(j, cfg->tdp_mmu);
	json_key(j, "address_spaces");
	json_u64(j, (u64)cfg->nr_address_spaces);
	json_key(j, "nr_memslots");
	json_s64(j, cfg->nr_slots);
	json_object_end(j);
	json_key(j, "kvmmu");
	json_object_begin(j);
	json_key(j, "mmu");
	json_string(j, world_mmu_name(cfg->wcfg.mmu));
	json_key(j, "format"); /* of the TDP tables: none under shadow paging */
	json_string(j, !cfg->tdp ? NULL : cfg->npt ? "npt" : "ept");
	json_key(j, "phys_bits");
	json_u64(j, (u64)cfg->wcfg.phys_bits);
	json_key(j, "address_spaces");
	json_u64(j, (u64)cfg->wcfg.nr_address_spaces);
	json_key(j, "matched");
	json_bool(j, !cfg->overridden);
	json_object_end(j);
	json_key(j, "caps");
	json_array_begin(j);
	for (i = 0; i < diff_nr_caps; i++) {
		json_object_begin(j);
		json_key(j, "cap");
		json_string(j, diff_cap_name(diff_caps[i]));
		json_key(j, "host");
		json_s64(j, cfg->host_caps[i]);
		json_key(j, "kvmmu");
		json_s64(j, cfg->kvmmu_caps[i]);
		json_key(j, "match");
		json_bool(j, cfg->host_caps[i] == cfg->kvmmu_caps[i]);
		json_object_end(j);
	}
	json_array_end(j);
	json_key(j, "guest_writes");
	json_object_begin(j);
	json_key(j, "stub");
	json_string(j, c->writes ? diff_stub_name(c->guest.stub) : NULL);
	json_key(j, "why");
	json_string(j, c->writes ? NULL : c->writes_why);
	json_object_end(j);
}

/* ---- running a sequence --------------------------------------------------------------------- */

/* The slot's entry (added if @add and there is room), or NULL. */
static struct diff_tracked *tracked_slot(struct diff_ctx *c, u32 slot, bool add)
{
	struct diff_tracked *t;
	int i;

	for (i = 0; i < c->nr_tracked; i++) {
		if (c->tracked[i].slot == slot)
			return &c->tracked[i];
	}
	if (!add || c->nr_tracked == DIFF_MAX_TRACKED)
		return NULL;
	t = &c->tracked[c->nr_tracked++];
	memset(t, 0, sizeof(*t));
	t->slot = slot;
	return t;
}

/* The bytes of the larger of the two sides' bitmaps of @slot (0: neither has it). */
static u64 bitmap_bytes(struct diff_ctx *c, u32 slot)
{
	struct diff_tracked *t = tracked_slot(c, slot, false);
	u64 pages;

	if (!t)
		return 0;
	pages = max(t->npages[0], t->npages[1]);
	return (pages + 63) / 64 * 8;
}

struct diff_result {
	long kvm, kvmmu;      /* return values */
	bool bitmap_differs;
	u64 first_bit;        /* the first bit that differs */
	u64 kvm_bits, kvmmu_bits; /* bits set, each side */
	/* WRITE: each side's stores; the first gpa whose outcome differs, or -1 */
	struct diff_write wk, wm;
	u64 gpas[DIFF_MAX_WRITE_GPAS];
	int write_differs;
};

static u64 popcount_bytes(const u8 *p, u64 n)
{
	u64 i, bits = 0;

	for (i = 0; i < n; i++)
		bits += (u64)__builtin_popcount(p[i]);
	return bits;
}

static void compare_bitmaps(const u8 *a, const u8 *b, u64 n, struct diff_result *res)
{
	u64 i;

	res->kvm_bits = popcount_bytes(a, n);
	res->kvmmu_bits = popcount_bytes(b, n);
	for (i = 0; i < n; i++) {
		if (a[i] != b[i]) {
			res->bitmap_differs = true;
			res->first_bit = i * 8 + (u64)__builtin_ctz(a[i] ^ b[i]);
			return;
		}
	}
}

#define GUARD 64 /* bytes past what either side may write, filled with a pattern */

/* ---- guest writes --------------------------------------------------------------------------- */

static bool ranges_overlap(u64 a, u64 a_len, u64 b, u64 b_len)
{
	return a < b + b_len && b < a + a_len;
}

/*
 * [@base, + DIFF_STUB_SIZE) lies below the guest's MAXPHYADDR, in no slot of
 * either side, and holds none of the write's gpas.
 */
static bool stub_fits(struct diff_ctx *c, u64 base, const u64 *gpas, int n)
{
	int bits = min(c->cfg.wcfg.phys_bits, c->cfg.max_gpa_bits), i, s;

	if (base + DIFF_STUB_SIZE > 1ULL << bits)
		return false;
	for (i = 0; i < c->nr_tracked; i++) {
		if (c->tracked[i].slot >> 16)
			continue;
		for (s = 0; s < 2; s++) {
			if (c->tracked[i].npages[s] &&
			    ranges_overlap(base, DIFF_STUB_SIZE, c->tracked[i].gpa[s],
					   c->tracked[i].npages[s] << 12))
				return false;
		}
	}
	for (i = 0; i < n; i++) {
		if (ranges_overlap(base, DIFF_STUB_SIZE, gpas[i], 8))
			return false;
	}
	return true;
}

/*
 * Where the stub goes: the highest slot id neither side uses, and the
 * first free range below 3G going down in 2M steps, then above 4G in 1G
 * steps.  -ENOSPC if there is none.
 */
static int stub_place(struct diff_ctx *c, const u64 *gpas, int n, u32 *slot, u64 *base)
{
	long id;
	u64 b, limit;
	int i;

	for (id = min(c->cfg.nr_slots, 0x10000L) - 1; id >= 0; id--) {
		for (i = 0; i < c->nr_tracked; i++) {
			if (c->tracked[i].slot == (u32)id &&
			    (c->tracked[i].npages[0] || c->tracked[i].npages[1]))
				break;
		}
		if (i == c->nr_tracked)
			break;
	}
	if (id < 0)
		return -ENOSPC;
	*slot = (u32)id;
	for (b = 3ULL << 30;; b -= 2ULL << 20) {
		if (stub_fits(c, b, gpas, n)) {
			*base = b;
			return 0;
		}
		if (!b)
			break;
	}
	limit = 1ULL << min(c->cfg.wcfg.phys_bits, c->cfg.max_gpa_bits);
	for (b = 4ULL << 30; b + DIFF_STUB_SIZE <= limit; b += 1ULL << 30) {
		if (stub_fits(c, b, gpas, n)) {
			*base = b;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Delete the stub's slot on both sides (with the default quirk, a zap of every SPTE). */
static int stub_remove(struct diff_ctx *c, struct world *w)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = c->stub_slot, .guest_phys_addr = c->stub_base,
		.userspace_addr = c->model_stub,
	};
	int r = 0;

	if (!c->stub_live)
		return 0;
	c->stub_live = false;
	if (!c->self)
		r = diff_kvm_set_region(&c->k, false, c->stub_slot, 0, c->stub_base, 0,
					(unsigned long)c->guest.mem);
	return r ?: kvmmu_set_user_memory_region2(w->kvm, &m);
}

/* Make the stub's slot at @slot, @base on both sides, its tables written first. */
static int stub_create(struct diff_ctx *c, struct world *w, u32 slot, u64 base)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .guest_phys_addr = base, .memory_size = DIFF_STUB_SIZE,
		.userspace_addr = c->model_stub,
	};
	u64 off;
	u8 *image;
	int r = 0;

	image = malloc(DIFF_STUB_SIZE);
	if (!image)
		return -ENOMEM;
	diff_stub_tables(image, base, false);
	for (off = 0; off < DIFF_STUB_SIZE && !r; off += 8) {
		u64 v;

		memcpy(&v, image + off, 8);
		r = host_access(w->mm, c->model_stub + off, true, &v);
	}
	free(image);
	r = r ?: kvmmu_set_user_memory_region2(w->kvm, &m);
	if (r)
		return r;
	if (!c->self) {
		diff_guest_place(&c->guest, base);
		r = diff_kvm_set_region(&c->k, false, slot, 0, base, DIFF_STUB_SIZE,
					(unsigned long)c->guest.mem);
		if (r) {
			m.memory_size = 0;
			kvmmu_set_user_memory_region2(w->kvm, &m);
			return r;
		}
	}
	c->stub_live = true;
	c->stub_slot = slot;
	c->stub_base = base;
	return 0;
}

/* An operation that names the stub's slot or reaches into its range deletes it first. */
static int stub_make_way(struct diff_ctx *c, struct world *w, const struct diff_op *op)
{
	u64 gpa, size;

	if (!c->stub_live || op->kind == DIFF_OP_ENABLE_CAP || op->kind == DIFF_OP_CHECK_EXT ||
	    op->kind == DIFF_OP_WRITE)
		return 0;
	if (op_slot(c, op) == c->stub_slot)
		return stub_remove(c, w);
	if (op->kind != DIFF_OP_REGION || op->as_id)
		return 0;
	gpa = resolve(c, &op->gpa);
	size = resolve(c, &op->size);
	if (size && ranges_overlap(gpa, size, c->stub_base, DIFF_STUB_SIZE))
		return stub_remove(c, w);
	return 0;
}

/* kvmmu's side: the same stores, through the same tables, on its simulated CPU. */
static void write_kvmmu(struct diff_ctx *c, struct world *w, const u64 *gpas, int n,
			struct diff_write *out)
{
	struct hw_access prog[2 * DIFF_MAX_WRITE_GPAS + 1];
	u64 run_gpas[DIFF_MAX_WRITE_GPAS], exits[DIFF_MAX_WRITE_GPAS], nr_exits = 0;
	int phys_bits = c->cfg.wcfg.phys_bits, i, m = 0, len = 0, err;
	struct kvm_vcpu *vcpu = w->vcpus[0];
	struct hw_program p;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (!(gpas[i] >> phys_bits))
			run_gpas[m++] = gpas[i];
	}
	for (i = 0; i < m; i++)
		prog[len++] = (struct hw_access){ .op = HW_STORE, .size = 8,
						  .addr = diff_stub_window_pte(i),
						  .value = diff_stub_pte(run_gpas[i], false) };
	prog[len++] = (struct hw_access){ .op = HW_FLUSH_TLB };
	for (i = 0; i < m; i++)
		prog[len++] = (struct hw_access){
			.op = HW_STORE, .size = 8,
			.addr = DIFF_STUB_WINDOWS + ((u64)i << 12) + (run_gpas[i] & 0xfff),
			.value = DIFF_STUB_VALUE,
		};
	p = (struct hw_program){ .list = prog, .len = (u64)len, .paging = 4,
				 .cr3 = c->stub_base };
	err = hw_vcpu_load_program(vcpu->hw, &p);
	while (!err) {
		struct kvmmu_run run;

		err = kvmmu_vcpu_run(vcpu, &run);
		if (err)
			break;
		if (run.exit_reason == KVM_EXIT_HLT && hw_vcpu_done(vcpu->hw))
			break;
		if (run.exit_reason == KVM_EXIT_MMIO && nr_exits < (u64)m) {
			exits[nr_exits++] = run.gpa;
			continue;
		}
		err = -EIO;
		out->exit_reason = (int)run.exit_reason;
	}
	out->err = err;
	diff_write_resolve(out, gpas, n, phys_bits, exits, nr_exits);
}

static int run_write(struct diff_ctx *c, struct world *w, const struct diff_op *op,
		     struct diff_result *res)
{
	int n = op->nr_gpas, phys_bits = c->cfg.wcfg.phys_bits, i, r;
	u32 slot;
	u64 base;

	for (i = 0; i < n; i++)
		res->gpas[i] = resolve(c, &op->gpas[i]);
	res->write_differs = -1;
	/* The stub where it is, unless a gpa of this write falls in it. */
	if (c->stub_live && !stub_fits(c, c->stub_base, res->gpas, n)) {
		r = stub_remove(c, w);
		if (r)
			return r;
	}
	if (!c->stub_live) {
		if (stub_place(c, res->gpas, n, &slot, &base)) {
			/* Nothing runs on either side. */
			res->wk.err = res->wm.err = -ENOSPC;
			diff_write_resolve(&res->wk, res->gpas, n, phys_bits, NULL, 0);
			diff_write_resolve(&res->wm, res->gpas, n, phys_bits, NULL, 0);
			res->kvm = res->kvmmu = -ENOSPC;
			return 0;
		}
		r = stub_create(c, w, slot, base);
		if (r)
			return r;
	}
	write_kvmmu(c, w, res->gpas, n, &res->wm);
	if (c->self)
		res->wk = res->wm;
	else
		diff_guest_write(&c->k, &c->guest, c->stub_base, res->gpas, n, phys_bits,
				 &res->wk);
	res->kvm = res->wk.err;
	res->kvmmu = res->wm.err;
	for (i = 0; i < n; i++) {
		if (res->wk.store[i] != res->wm.store[i]) {
			res->write_differs = i;
			break;
		}
	}
	return 0;
}

/* The two sides' writes differ: in a store, in what stopped the guest, in stray exits. */
static bool write_differs(const struct diff_result *res)
{
	return res->write_differs >= 0 || res->wk.err != res->wm.err ||
	       res->wk.exit_reason != res->wm.exit_reason || res->wk.stray != res->wm.stray;
}

/* ---- the other operations ------------------------------------------------------------------- */

/* --self: one line an operation, with kvmmu's result. */
static void self_print(const struct diff_seq *seq, const struct diff_op *op,
		       const struct diff_result *res, const u8 *bitmap, u64 n);

static int run_op(struct diff_ctx *c, struct world *w, const struct diff_seq *seq,
		  const struct diff_op *op, struct diff_result *res)
{
	u32 slot = op_slot(c, op);
	struct diff_tracked *t;
	int r;

	memset(res, 0, sizeof(*res));
	res->write_differs = -1;
	r = stub_make_way(c, w, op);
	if (r)
		return r;
	switch (op->kind) {
	case DIFF_OP_REGION: {
		u64 gpa = resolve(c, &op->gpa), size = resolve(c, &op->size);
		u64 hva = resolve(c, &op->hva);

		if (!op->uaddr)
			hva += c->arena;
		if (!c->self)
			res->kvm = diff_kvm_set_region(&c->k, op->v1, slot, op->flags, gpa, size,
						       hva);
		if (op->v1) {
			struct kvm_userspace_memory_region m = {
				.slot = slot, .flags = op->flags, .guest_phys_addr = gpa,
				.memory_size = size, .userspace_addr = hva,
			};

			res->kvmmu = kvmmu_set_user_memory_region(w->kvm, &m);
		} else {
			struct kvm_userspace_memory_region2 m = {
				.slot = slot, .flags = op->flags, .guest_phys_addr = gpa,
				.memory_size = size, .userspace_addr = hva,
			};

			res->kvmmu = kvmmu_set_user_memory_region2(w->kvm, &m);
		}
		if (c->self)
			res->kvm = res->kvmmu;
		if (!res->kvm || !res->kvmmu) {
			t = tracked_slot(c, slot, true);
			if (!t)
				return -ENOSPC;
			if (!res->kvm) {
				t->npages[0] = size >> 12;
				t->gpa[0] = gpa;
			}
			if (!res->kvmmu) {
				t->npages[1] = size >> 12;
				t->gpa[1] = gpa;
			}
		}
		break;
	}
	case DIFF_OP_GET: {
		u64 n = bitmap_bytes(c, slot);
		u8 *a, *b;

		if (n > DIFF_MAX_BITMAP)
			return -E2BIG;
		a = malloc(n + GUARD);
		b = malloc(n + GUARD);
		if (!a || !b) {
			free(a);
			free(b);
			return -ENOMEM;
		}
		memset(a, 0xa5, n + GUARD);
		memset(b, 0xa5, n + GUARD);
		if (!c->self)
			res->kvm = diff_kvm_get_dirty_log(&c->k, slot, a);
		{
			struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = b };

			res->kvmmu = kvmmu_get_dirty_log(w->kvm, &log);
		}
		if (c->self) {
			res->kvm = res->kvmmu;
			memcpy(a, b, n + GUARD);
		}
		if (!res->kvm && !res->kvmmu)
			compare_bitmaps(a, b, n + GUARD, res);
		if (c->self)
			self_print(seq, op, res, b, n);
		free(a);
		free(b);
		return 0;
	}
	case DIFF_OP_CLEAR: {
		u64 first = resolve(c, &op->first), num64 = resolve(c, &op->num), n, i;
		u32 num = (u32)num64;
		u64 *bits;

		/*
		 * KVM reads ALIGN(num, 64) / 8 bytes once num has passed the
		 * slot's checks: never more than the slot's bitmap.
		 */
		n = ((u64)num + 63) / 64 * 8;
		if (n > bitmap_bytes(c, slot))
			n = bitmap_bytes(c, slot);
		bits = malloc(n + GUARD);
		if (!bits)
			return -ENOMEM;
		for (i = 0; i < (n + GUARD) / 8; i++)
			bits[i] = op->mask == DIFF_MASK_ALL ? ~0ULL :
				  op->mask == DIFF_MASK_NONE ? 0 : op->pattern;
		if (!c->self)
			res->kvm = diff_kvm_clear_dirty_log(&c->k, slot, first, num, bits);
		{
			struct kvm_clear_dirty_log log = {
				.slot = slot, .first_page = first, .num_pages = num,
				.dirty_bitmap = bits,
			};

			res->kvmmu = kvmmu_clear_dirty_log(w->kvm, &log);
		}
		free(bits);
		break;
	}
	case DIFF_OP_ENABLE_CAP: {
		struct kvm_enable_cap cap = { .cap = op->cap, .flags = op->flags,
					      .args = { op->arg0 } };

		if (!c->self)
			res->kvm = diff_kvm_enable_cap(&c->k, op->cap, op->flags, op->arg0);
		res->kvmmu = kvmmu_vm_enable_cap(w->kvm, &cap);
		break;
	}
	case DIFF_OP_CHECK_EXT:
		if (!c->self)
			res->kvm = diff_kvm_check_extension(&c->k, true, op->cap);
		res->kvmmu = kvmmu_vm_check_extension(w->kvm, op->cap);
		break;
	case DIFF_OP_WRITE:
		r = run_write(c, w, op, res);
		if (r)
			return r;
		break;
	default:
		return -EINVAL;
	}
	if (c->self) {
		/* kvmmu alone: its result stands for both. */
		res->kvm = res->kvmmu;
		self_print(seq, op, res, NULL, 0);
	}
	return 0;
}

static const char *const store_names[] = {
	[DIFF_STORE_DONE] = "stored", [DIFF_STORE_MMIO] = "mmio",
	[DIFF_STORE_BEYOND] = "beyond-maxphyaddr", [DIFF_STORE_NOT_RUN] = "not-run",
};

/* What stopped a write's guest: "0", "-EFAULT", "exit 8". */
static const char *write_err(const struct diff_write *w, char *buf, size_t len)
{
	if (w->err == -EIO && w->exit_reason) {
		snprintf(buf, len, "exit %d", w->exit_reason);
		return buf;
	}
	return errname(w->err, buf, len);
}

static void self_print(const struct diff_seq *seq, const struct diff_op *op,
		       const struct diff_result *res, const u8 *bitmap, u64 n)
{
	char text[512], ret[48];
	u64 i, shown = 0, bits = 0;
	FILE *f = stdout;
	int k;

	diff_op_format(op, text, sizeof(text));
	if (op->kind == DIFF_OP_WRITE) {
		fprintf(f, "%s:%d: %s: %s (", seq->name, op->line, text,
			write_err(&res->wm, ret, sizeof(ret)));
		for (k = 0; k < res->wm.nr; k++)
			fprintf(f, "%s%s", k ? " " : "", store_names[res->wm.store[k]]);
		if (res->wm.stray)
			fprintf(f, ", %llu stray mmio", (unsigned long long)res->wm.stray);
		fprintf(f, ")\n");
		return;
	}
	fprintf(f, "%s:%d: %s: %s", seq->name, op->line, text,
		errname((int)res->kvmmu, ret, sizeof(ret)));
	if (op->kind == DIFF_OP_GET && !res->kvmmu && bitmap) {
		fprintf(f, " (dirty:");
		for (i = 0; i < n * 8; i++) {
			if (!(bitmap[i / 8] & (1u << (i % 8))))
				continue;
			if (shown++ < 32)
				fprintf(f, " %llu", (unsigned long long)i);
			else
				bits++;
		}
		if (!shown)
			fprintf(f, " none");
		if (bits)
			fprintf(f, " +%llu more", (unsigned long long)bits);
		fprintf(f, ")");
	}
	fprintf(f, "\n");
}

static void report(struct diff_ctx *c, const struct diff_seq *seq, const struct diff_op *op,
		   const struct diff_result *res)
{
	char text[512], k[48], m[48], gpa[32] = "";
	const char *what;
	int i = res->write_differs;

	diff_op_format(op, text, sizeof(text));
	if (op->kind == DIFF_OP_WRITE && res->kvm == res->kvmmu && i >= 0) {
		what = "write";
		snprintf(gpa, sizeof(gpa), "%#llx", (unsigned long long)res->gpas[i]);
		snprintf(k, sizeof(k), "%s", store_names[res->wk.store[i]]);
		snprintf(m, sizeof(m), "%s", store_names[res->wm.store[i]]);
		fprintf(c->out->human, "diff: %s:%d: %s: the store to %s: KVM %s, kvmmu %s\n",
			seq->name, op->line, text, gpa, k, m);
	} else if (op->kind == DIFF_OP_WRITE && res->wk.err == res->wm.err &&
		   res->wk.exit_reason == res->wm.exit_reason) {
		what = "write";
		snprintf(k, sizeof(k), "%llu", (unsigned long long)res->wk.stray);
		snprintf(m, sizeof(m), "%llu", (unsigned long long)res->wm.stray);
		fprintf(c->out->human, "diff: %s:%d: %s: KVM_EXIT_MMIO at gpas no store has: "
			"KVM %s, kvmmu %s\n", seq->name, op->line, text, k, m);
	} else if (op->kind == DIFF_OP_WRITE) {
		what = "return";
		write_err(&res->wk, k, sizeof(k));
		write_err(&res->wm, m, sizeof(m));
		fprintf(c->out->human, "diff: %s:%d: %s: KVM_RUN: KVM %s, kvmmu %s\n", seq->name,
			op->line, text, k, m);
	} else if (res->kvm != res->kvmmu) {
		what = "return";
		errname((int)res->kvm, k, sizeof(k));
		errname((int)res->kvmmu, m, sizeof(m));
		fprintf(c->out->human, "diff: %s:%d: %s: KVM %s, kvmmu %s\n", seq->name, op->line,
			text, k, m);
	} else {
		what = "bitmap";
		errname((int)res->kvm, k, sizeof(k));
		errname((int)res->kvmmu, m, sizeof(m));
		fprintf(c->out->human, "diff: %s:%d: %s: bitmaps differ from bit %llu (KVM %llu "
			"bits set, kvmmu %llu)\n", seq->name, op->line, text,
			(unsigned long long)res->first_bit, (unsigned long long)res->kvm_bits,
			(unsigned long long)res->kvmmu_bits);
	}
	if (!c->out->json)
		return;
	json_object_begin(c->j);
	json_key(c->j, "line");
	json_u64(c->j, (u64)op->line);
	json_key(c->j, "op");
	json_string(c->j, text);
	json_key(c->j, "what");
	json_string(c->j, what);
	json_key(c->j, "kvm");
	json_string(c->j, k);
	json_key(c->j, "kvmmu");
	json_string(c->j, m);
	json_key(c->j, "first_bit");
	if (res->bitmap_differs)
		json_u64(c->j, res->first_bit);
	else
		json_null(c->j);
	json_key(c->j, "gpa");
	if (gpa[0])
		json_u64(c->j, res->gpas[i]);
	else
		json_null(c->j);
	json_object_end(c->j);
}

static const char *const op_names[] = {
	[DIFF_OP_REGION] = "region", [DIFF_OP_GET] = "get", [DIFF_OP_CLEAR] = "clear",
	[DIFF_OP_ENABLE_CAP] = "enable-cap", [DIFF_OP_CHECK_EXT] = "check-extension",
	[DIFF_OP_WRITE] = "write",
};

/*
 * A write's outcomes are counted by store (DIFF_STORE_*, as 0..3) and by
 * what stopped its guest (-errno).
 */
static const char *outcome_name(int kind, long ret, char *buf, size_t len)
{
	if (kind == DIFF_OP_WRITE && ret >= 0 && ret < (long)ARRAY_SIZE(store_names))
		return store_names[ret];
	return errname((int)ret, buf, len);
}

static void count_outcome(struct diff_ctx *c, int kind, long ret)
{
	int i;

	/* Capabilities' values are not outcomes. */
	if (kind == DIFF_OP_CHECK_EXT && ret > 0)
		ret = 1;
	for (i = 0; i < c->nr_outcomes; i++) {
		if (c->outcomes[i].kind == kind && c->outcomes[i].ret == ret) {
			c->outcomes[i].count++;
			return;
		}
	}
	if (i == (int)ARRAY_SIZE(c->outcomes))
		return;
	c->outcomes[i].kind = kind;
	c->outcomes[i].ret = ret;
	c->outcomes[i].count = 1;
	c->nr_outcomes++;
}

static void print_outcomes(struct diff_ctx *c)
{
	char buf[48];
	int kind, i;

	if (c->out->json) {
		json_key(c->j, "outcomes");
		json_object_begin(c->j);
	}
	for (kind = 0; kind < (int)ARRAY_SIZE(op_names); kind++) {
		if (c->out->json) {
			json_key(c->j, op_names[kind]);
			json_object_begin(c->j);
		}
		if (c->verbose)
			fprintf(c->out->human, "diff: %s:", op_names[kind]);
		for (i = 0; i < c->nr_outcomes; i++) {
			if (c->outcomes[i].kind != kind)
				continue;
			const char *name = outcome_name(kind, c->outcomes[i].ret, buf, sizeof(buf));

			if (c->out->json) {
				json_key(c->j, name);
				json_u64(c->j, c->outcomes[i].count);
			}
			if (c->verbose)
				fprintf(c->out->human, " %s %llu", name,
					(unsigned long long)c->outcomes[i].count);
		}
		if (c->out->json)
			json_object_end(c->j);
		if (c->verbose)
			fprintf(c->out->human, "\n");
	}
	if (c->out->json) {
		json_object_end(c->j);
		json_key(c->j, "bitmaps_with_bits_set");
		json_u64(c->j, c->bitmaps_set);
	}
	if (c->verbose)
		fprintf(c->out->human, "diff: %llu GETs agreed on a bitmap with bits set\n",
			(unsigned long long)c->bitmaps_set);
}

static void json_seq_begin(struct diff_ctx *c, const struct diff_seq *seq, const char *skipped)
{
	if (!c->out->json)
		return;
	json_object_begin(c->j);
	json_key(c->j, "name");
	json_string(c->j, seq->name);
	json_key(c->j, "ops");
	json_u64(c->j, (u64)seq->nr_ops);
	json_key(c->j, "skipped");
	json_string(c->j, skipped);
	json_key(c->j, "differences");
	json_array_begin(c->j);
}

static void json_seq_end(struct diff_ctx *c)
{
	if (!c->out->json)
		return;
	json_array_end(c->j);
	json_object_end(c->j);
}

/*
 * A sequence that writes: vCPU 0 from the start, and memory behind the
 * VMM's range (and the stub) in kvmmu's modelled host, as in this process.
 */
static int world_for_writes(struct diff_ctx *c, struct world *w)
{
	struct host_mmap_args a = {
		.len = DIFF_ARENA, .vm_flags = VM_READ | VM_WRITE, .backing = HOST_BACKING_ANON,
		.addr = c->arena,
	};
	unsigned long addr;
	int r;

	r = host_mmap(w->mm, &a, &addr);
	if (r)
		return r;
	/* Below the range: nothing else is mapped in the model. */
	a.len = DIFF_STUB_SIZE;
	a.addr = c->arena - (1UL << 30);
	r = host_mmap(w->mm, &a, &c->model_stub);
	if (r)
		return r;
	return 0;
}

/* 0 ran (differences counted) or skipped, or a negative errno: the run cannot go on. */
static int run_seq(struct diff_ctx *c, const struct diff_seq *seq)
{
	struct world_config wcfg = c->cfg.wcfg;
	bool writes = diff_seq_writes(seq);
	struct diff_result res;
	u64 before = c->differences;
	char why[768];
	struct world w;
	int i, r;

	if (writes && !c->writes) {
		/* Neither passed nor failed: not run. */
		c->skipped++;
		if (!c->out->quiet || c->verbose)
			fprintf(c->out->human, "diff: %s: skipped: it writes, and guest writes are "
				"not compared (%s)\n", seq->name, c->writes_why);
		snprintf(why, sizeof(why), "it writes, and guest writes are not compared (%s)",
			 c->writes_why);
		json_seq_begin(c, seq, why);
		json_seq_end(c);
		return 0;
	}
	c->nr_tracked = 0;
	c->stub_live = false;
	if (!c->self) {
		r = diff_kvm_vm_create(&c->k);
		if (r) {
			fprintf(stderr, "kvmmu: diff: %s: KVM_CREATE_VM: %s\n", seq->name,
				strerror(-r));
			return r;
		}
		diff_guest_vm_reset(&c->guest);
		/* vCPU 0 from the start on both sides, as kvmmu's world makes it. */
		r = writes ? diff_guest_vcpu_create(&c->k, &c->guest) : 0;
		if (r) {
			diff_kvm_vm_destroy(&c->k);
			fprintf(stderr, "kvmmu: diff: %s: KVM_CREATE_VCPU: %s\n", seq->name,
				strerror(-r));
			return r;
		}
	}
	if (writes) {
		wcfg.nr_vcpus = 1;
		wcfg.nr_frames = DIFF_WRITE_FRAMES;
	}
	r = world_create(&w, &wcfg, why, sizeof(why));
	if (!r && writes) {
		r = world_for_writes(c, &w);
		if (r) {
			snprintf(why, sizeof(why), "kvmmu's VMM memory: %s", strerror(-r));
			world_destroy(&w);
		}
	}
	if (r) {
		diff_kvm_vm_destroy(&c->k);
		fprintf(stderr, "kvmmu: diff: %s: %s\n", seq->name, why);
		return r;
	}
	json_seq_begin(c, seq, NULL);
	for (i = 0; i < seq->nr_ops; i++) {
		const struct diff_op *op = &seq->ops[i];
		int k;

		r = run_op(c, &w, seq, op, &res);
		if (r)
			break;
		c->ops++;
		if (op->kind == DIFF_OP_WRITE) {
			for (k = 0; k < res.wk.nr; k++)
				count_outcome(c, op->kind, res.wk.store[k]);
			if (res.kvm)
				count_outcome(c, op->kind, res.kvm);
		} else {
			count_outcome(c, op->kind, res.kvm);
		}
		if (op->kind == DIFF_OP_GET && !res.kvm && !res.bitmap_differs &&
		    res.kvm_bits > GUARD * 4)
			c->bitmaps_set++;
		if (res.kvm != res.kvmmu || res.bitmap_differs ||
		    (op->kind == DIFF_OP_WRITE && write_differs(&res))) {
			c->differences++;
			report(c, seq, op, &res);
		}
	}
	json_seq_end(c);
	world_destroy(&w);
	if (!c->self) {
		diff_guest_vm_reset(&c->guest);
		diff_kvm_vm_destroy(&c->k);
		/* What the guest wrote in this process's range: freed with the VM gone. */
		if (writes)
			madvise((void *)c->arena, DIFF_ARENA, MADV_DONTNEED);
	}
	if (r) {
		fprintf(stderr, "kvmmu: diff: %s:%d: %s\n", seq->name, seq->ops[i].line,
			strerror(-r));
		return r;
	}
	c->sequences++;
	if (c->verbose && !c->out->quiet)
		fprintf(c->out->human, "diff: %s: %d operations, %s\n", seq->name, seq->nr_ops,
			c->differences == before ? "agree" : "differ");
	return 0;
}

/* ---- the command ---------------------------------------------------------------------------- */

static void print_seq(const struct diff_seq *seq)
{
	char text[512];
	int i;

	printf("# %s\n", seq->name);
	for (i = 0; i < seq->nr_ops; i++) {
		diff_op_format(&seq->ops[i], text, sizeof(text));
		printf("%s\n", text);
	}
}

/* The document of a run that did not happen: every field, empty. */
static void json_skipped(struct cli_output *out, struct json *j, const char *why, u64 seed,
			 bool random)
{
	if (!out->json)
		return;
	json_object_begin(j);
	json_key(j, "skipped");
	json_string(j, why);
	json_key(j, "host");
	json_null(j);
	json_key(j, "kvmmu");
	json_null(j);
	json_key(j, "caps");
	json_array_begin(j);
	json_array_end(j);
	json_key(j, "guest_writes");
	json_null(j);
	json_key(j, "seed");
	if (random)
		json_u64(j, seed);
	else
		json_null(j);
	json_key(j, "sequences");
	json_array_begin(j);
	json_array_end(j);
	json_key(j, "outcomes");
	json_object_begin(j);
	json_object_end(j);
	json_key(j, "bitmaps_with_bits_set");
	json_u64(j, 0);
	json_key(j, "operations");
	json_u64(j, 0);
	json_key(j, "sequences_skipped");
	json_u64(j, 0);
	json_key(j, "differences");
	json_u64(j, 0);
	json_key(j, "config_differences");
	json_u64(j, 0);
	json_key(j, "agree");
	json_bool(j, false);
	json_object_end(j);
	json_finish(j);
	cli_output_close(out);
}

/* Can guest writes be compared?  The probe, if a sequence may write. */
static void setup_writes(struct diff_ctx *c, bool no_guest, bool wanted)
{
	char why[400];

	if (no_guest) {
		snprintf(c->writes_why, sizeof(c->writes_why), "--no-guest");
		return;
	}
	if (!wanted) {
		snprintf(c->writes_why, sizeof(c->writes_why), "no sequence writes: not probed");
		return;
	}
	if (diff_guest_probe(&c->k, &c->guest, why, sizeof(why))) {
		snprintf(c->writes_why, sizeof(c->writes_why), "the host runs no stub: %s", why);
		return;
	}
	/* Where the guest's stores land, in slots the sequences make in the range. */
	if (mprotect((void *)c->arena, DIFF_ARENA, PROT_READ | PROT_WRITE)) {
		snprintf(c->writes_why, sizeof(c->writes_why), "mprotect of the VMM's range: %s",
			 strerror(errno));
		diff_guest_close(&c->guest);
		return;
	}
	c->writes = true;
}

static int run_all(struct diff_ctx *c, struct diff_seq *seqs, int nr_seqs, long nr_random,
		   u64 seed, long nr_ops)
{
	int r;
	u64 i;

	for (r = 0; r < nr_seqs; r++) {
		if (run_seq(c, &seqs[r]))
			return CLI_EXIT_INTERNAL;
	}
	for (i = 0; i < (u64)nr_random; i++) {
		struct diff_seq seq;

		/* Writes only where they are compared: nothing is skipped. */
		diff_seq_random(&seq, seed, i, (int)nr_ops, c->writes);
		r = run_seq(c, &seq);
		diff_seq_free(&seq);
		if (r)
			return CLI_EXIT_INTERNAL;
	}
	return CLI_EXIT_OK;
}

static void print_summary(struct diff_ctx *c, const char *what)
{
	fprintf(c->out->human, "diff: %llu sequence%s, %llu operation%s%s: %llu difference%s",
		(unsigned long long)c->sequences, c->sequences == 1 ? "" : "s",
		(unsigned long long)c->ops, c->ops == 1 ? "" : "s", what,
		(unsigned long long)c->differences, c->differences == 1 ? "" : "s");
	if (c->skipped)
		fprintf(c->out->human, ", %llu sequence%s skipped (guest writes not compared)",
			(unsigned long long)c->skipped, c->skipped == 1 ? "" : "s");
	fprintf(c->out->human, "\n");
}

/*
 * --self: the sequences on kvmmu alone, every result printed (the KVM
 * sides of run_op() take kvmmu's), on kvmmu's default machine: MAXPHYADDR
 * 46, EPT, the TDP MMU or --mmu, two address spaces or --address-spaces.
 */
static int run_self(struct diff_ctx *c, struct diff_seq *seqs, int nr_seqs, long nr_random,
		    u64 seed, long nr_ops, int mmu, long nr_as, bool no_guest)
{
	struct diff_config *cfg = &c->cfg;
	char why[256];
	struct world w;
	int status;

	memset(&cfg->wcfg, 0, sizeof(cfg->wcfg));
	cfg->wcfg.nr_frames = 1024;
	cfg->wcfg.format = KVMMU_TDP_EPT;
	cfg->wcfg.mmu = mmu >= 0 ? (enum world_mmu)mmu : WORLD_MMU_TDP;
	cfg->wcfg.phys_bits = DIFF_SELF_PHYS_BITS;
	cfg->wcfg.nr_address_spaces = nr_as ? (int)nr_as : 2;
	cfg->tdp = cfg->wcfg.mmu != WORLD_MMU_SHADOW;
	cfg->max_gpa_bits = cfg->tdp ? DIFF_SELF_PHYS_BITS : 52;
	if (world_create(&w, &cfg->wcfg, why, sizeof(why))) {
		fprintf(stderr, "kvmmu: diff: %s\n", why);
		return CLI_EXIT_INTERNAL;
	}
	cfg->nr_slots = kvmmu_vm_check_extension(w.kvm, KVM_CAP_NR_MEMSLOTS);
	world_destroy(&w);
	/* hva= offsets: numbers in kvmmu's modelled host, at 1T. */
	c->arena = 1UL << 40;
	c->writes = !no_guest;
	snprintf(c->writes_why, sizeof(c->writes_why), "--no-guest");
	if (!c->out->quiet)
		fprintf(c->out->human, "diff: kvmmu only: --mmu %s, phys_bits %d, %d address "
			"space%s, %ld memslots, guest writes %s\n", world_mmu_name(cfg->wcfg.mmu),
			cfg->wcfg.phys_bits, cfg->wcfg.nr_address_spaces,
			cfg->wcfg.nr_address_spaces == 1 ? "" : "s", cfg->nr_slots,
			c->writes ? "on vCPU 0" : "off (--no-guest)");
	status = run_all(c, seqs, nr_seqs, nr_random, seed, nr_ops);
	print_summary(c, " (kvmmu only)");
	if (status == CLI_EXIT_OK && !c->sequences && c->skipped)
		status = DIFF_EXIT_SKIP;
	return status;
}

static int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "random", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "device", required_argument, NULL, 'd' },
		{ "mmu", required_argument, NULL, 'M' },
		{ "address-spaces", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "print", no_argument, NULL, 'p' },
		{ "no-guest", no_argument, NULL, 'n' },
		{ "self", no_argument, NULL, 'S' },
		{ "json", optional_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = "/dev/kvm";
	long nr_random = 0, nr_ops = DIFF_RANDOM_OPS;
	struct diff_seq *seqs = NULL;
	struct cli_output out;
	struct diff_ctx *c;
	u64 seed = 1, i;
	bool set_seed = false, verbose = false, print = false, set_mmu = false;
	bool no_guest = false, self = false, any_writes = false;
	enum world_mmu mmu = WORLD_MMU_TDP;
	long nr_as = 0;
	int nr_seqs = 0, ch, r, status;
	char why[512];
	void *arena;
	struct json j;

	cli_output_init(&out);
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			nr_random = cli_parse_long("diff", "random", optarg, 1, 1000000);
			break;
		case 's':
			seed = (u64)cli_parse_long("diff", "seed", optarg, 0, 0x7fffffffffffffffL);
			set_seed = true;
			break;
		case 'o':
			nr_ops = cli_parse_long("diff", "ops", optarg, 1, 10000);
			break;
		case 'd':
			if (!*optarg)
				cli_usage_error("diff: --device needs a path");
			device = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'p':
			print = true;
			break;
		case 'n':
			no_guest = true;
			break;
		case 'S':
			self = true;
			break;
		case 'M':
			if (world_mmu_parse(optarg, &mmu, why, sizeof(why)))
				cli_usage_error("diff: %s", why);
			set_mmu = true;
			break;
		case 'a':
			nr_as = cli_parse_long("diff", "address-spaces", optarg, 1, 2);
			break;
		case 'j':
			cli_output_parse_json(&out, "json", optarg);
			break;
		case 'q':
			out.quiet = true;
			break;
		default:
			cli_usage_error("diff: unknown option '%s' (see kvmmu diff --help)",
					argv[optind - 1]);
		}
	}
	if (set_seed && !nr_random)
		cli_usage_error("diff: --seed goes with --random N");
	if (optind == argc && !nr_random)
		cli_usage_error("diff: no sequences: give FILE... or --random N "
				"(see kvmmu diff --help)");

	/* Every file is parsed before anything runs: bad input costs no run. */
	if (optind < argc) {
		seqs = calloc((size_t)(argc - optind), sizeof(*seqs));
		if (!seqs)
			return CLI_EXIT_INTERNAL;
		for (; optind < argc; optind++) {
			if (diff_seq_parse_file(argv[optind], &seqs[nr_seqs], why, sizeof(why)))
				cli_usage_error("diff: %s", why);
			nr_seqs++;
		}
	}

	if (self && (print || out.json))
		cli_usage_error("diff: --self prints kvmmu's results: no --print, no --json");
	if (self && strcmp(device, "/dev/kvm"))
		cli_usage_error("diff: --self opens no device: no --device");
	for (r = 0; r < nr_seqs; r++)
		any_writes |= diff_seq_writes(&seqs[r]);

	if (print) {
		if (out.json)
			cli_usage_error("diff: --print prints the text format: no --json");
		for (r = 0; r < nr_seqs; r++)
			print_seq(&seqs[r]);
		for (i = 0; i < (u64)nr_random; i++) {
			struct diff_seq seq;

			/* As a host that runs the stub gets them, unless --no-guest. */
			diff_seq_random(&seq, seed, i, (int)nr_ops, !no_guest);
			print_seq(&seq);
			diff_seq_free(&seq);
		}
		for (r = 0; r < nr_seqs; r++)
			diff_seq_free(&seqs[r]);
		free(seqs);
		return CLI_EXIT_OK;
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		return CLI_EXIT_INTERNAL;
	c->out = &out;
	c->j = &j;
	c->verbose = verbose;
	c->self = self;
	c->guest.vcpu_fd = -1;
	cli_outputs_begin("diff", &out, &j, NULL);
	if (self) {
		status = run_self(c, seqs, nr_seqs, nr_random, seed, nr_ops,
				  set_mmu ? (int)mmu : -1, nr_as, no_guest);
		goto out_free;
	}

	r = diff_kvm_open(&c->k, device, why, sizeof(why));
	if (r) {
		fprintf(stderr, "kvmmu: diff: skipped: %s\n", why);
		json_skipped(&out, &j, why, seed, nr_random > 0);
		status = DIFF_EXIT_SKIP;
		goto out_free;
	}
	/*
	 * hva= offsets are in this range of the process, reserved: never
	 * touched, but by guest writes once the stub runs (then it is
	 * readable and writable, and freed after each sequence).
	 */
	arena = mmap(NULL, DIFF_ARENA + (1ULL << 30), PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED) {
		fprintf(stderr, "kvmmu: diff: cannot reserve the VMM's range: %s\n",
			strerror(errno));
		status = CLI_EXIT_INTERNAL;
		goto out_close;
	}
	c->arena = ((unsigned long)arena + (1UL << 30) - 1) & ~((1UL << 30) - 1);

	r = match_host(c, why, sizeof(why));
	if (r) {
		fprintf(stderr, "kvmmu: diff: skipped: cannot match the host: %s\n", why);
		json_skipped(&out, &j, why, seed, nr_random > 0);
		status = DIFF_EXIT_SKIP;
		goto out_unmap;
	}
	if (set_mmu) {
		c->cfg.wcfg.mmu = mmu;
		c->cfg.overridden = true;
	}
	if (nr_as) {
		c->cfg.wcfg.nr_address_spaces = (int)nr_as;
		c->cfg.overridden = true;
	}
	r = compare_caps(c, why, sizeof(why));
	if (r) {
		fprintf(stderr, "kvmmu: diff: %s\n", why);
		status = CLI_EXIT_INTERNAL;
		goto out_unmap;
	}
	setup_writes(c, no_guest, any_writes || nr_random);
	if (out.json) {
		json_object_begin(&j);
		json_key(&j, "skipped");
		json_null(&j);
	}
	print_config(c);
	if (out.json) {
		json_key(&j, "seed");
		if (nr_random)
			json_u64(&j, seed);
		else
			json_null(&j);
		json_key(&j, "sequences");
		json_array_begin(&j);
	}
	status = run_all(c, seqs, nr_seqs, nr_random, seed, nr_ops);
	if (out.json)
		json_array_end(&j);
	print_outcomes(c);
	if (out.json) {
		json_key(&j, "operations");
		json_u64(&j, c->ops);
		json_key(&j, "sequences_skipped");
		json_u64(&j, c->skipped);
		json_key(&j, "differences");
		json_u64(&j, c->differences);
		json_key(&j, "config_differences");
		json_u64(&j, c->config_differences);
		json_key(&j, "agree");
		json_bool(&j, status == CLI_EXIT_OK && !c->differences && c->sequences);
		json_object_end(&j);
		json_finish(&j);
		cli_output_close(&out);
	}
	print_summary(c, "");
	if (status == CLI_EXIT_OK && c->differences)
		status = CLI_EXIT_VIOLATION;
	else if (status == CLI_EXIT_OK && !c->sequences && c->skipped)
		status = DIFF_EXIT_SKIP;
out_unmap:
	diff_guest_close(&c->guest);
	munmap(arena, DIFF_ARENA + (1ULL << 30));
out_close:
	diff_kvm_close(&c->k);
out_free:
	for (r = 0; r < nr_seqs; r++)
		diff_seq_free(&seqs[r]);
	free(seqs);
	free(c);
	return status;
}

const struct cli_command cli_cmd_diff = {
	.name = "diff",
	.summary = "the same memslot, dirty-log and guest-write operations on kvmmu and /dev/kvm",
	.usage =
		"usage: kvmmu diff [options] FILE...\n"
		"       kvmmu diff [options] --random N [--seed S]\n"
		"\n"
		"Differential testing against the host's KVM.  Each sequence of memslot and\n"
		"dirty-log operations (KVM_SET_USER_MEMORY_REGION and ..._REGION2,\n"
		"KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_ENABLE_CAP of\n"
		"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CHECK_EXTENSION, and guest writes:\n"
		"8-byte stores through vCPU 0) runs on a fresh kvmmu VM and on a fresh VM of\n"
		"/dev/kvm, and every return value, every store's exit and every dirty bitmap\n"
		"is compared.  A FILE holds one operation a line, '#' starts a comment;\n"
		"docs/diff.md describes the format (tests/diff/ has examples).\n"
		"\n"
		"Guest writes run a stub guest on the host (long mode on VMX and SVM; on\n"
		"PVM one that registers a PVCS, so that PVM runs it natively), chosen by a\n"
		"probe at startup.  If the host runs none, the sequences that write are\n"
		"skipped (neither passed nor failed, one line each), the others still run,\n"
		"and --random generates no writes.\n"
		"\n"
		"kvmmu's VM is configured as the host's KVM first: the highest gpa a\n"
		"memslot may reach (measured on the host: MAXPHYADDR with TDP, 2^52 with\n"
		"shadow paging; kvmmu then runs --mmu tdp, tdp-legacy as the host's tdp_mmu\n"
		"says, or shadow, with the host's MAXPHYADDR), the number of address spaces\n"
		"(KVM_CAP_MULTI_ADDRESS_SPACE), EPT or NPT.  Capabilities that still\n"
		"differ are listed; docs/diff.md says why.\n"
		"\n"
		"options:\n"
		"  --random N         N sequences generated from the seed (after any FILEs)\n"
		"  --seed S           their seed (default 1)\n"
		"  --ops N            operations per generated sequence (default 32)\n"
		"  --device PATH      the KVM device (default /dev/kvm)\n"
		"  --mmu MMU          run kvmmu's VM on MMU (tdp, tdp-legacy, shadow), not on the\n"
		"                     one that matches the host: a difference of configuration\n"
		"                     on purpose, to see what it changes\n"
		"  --address-spaces N the same for the number of address spaces (1 or 2)\n"
		"  --verbose          a line for every sequence, not only for differences\n"
		"  --print            print the sequences in the text format and run nothing\n"
		"                     (a generated one, to keep or to replay as a FILE; with\n"
		"                     writes, as a host that runs the stub gets them)\n"
		"  --no-guest         compare no guest writes: skip the sequences that write\n"
		"                     (and --print or --random none), as on a host that runs\n"
		"                     no stub\n"
		"  --self             kvmmu alone, no /dev/kvm: every operation's result\n"
		"                     printed (a GET's dirty pages, a write's stores: stored,\n"
		"                     mmio, beyond-maxphyaddr), on kvmmu's own configuration\n"
		"                     (phys_bits 46, --mmu tdp unless given, 2 address spaces\n"
		"                     unless --address-spaces)\n"
		"  --json[=FILE]      the JSON document: the host, kvmmu's configuration, the\n"
		"                     capabilities side by side, each sequence's differences\n"
		"  --quiet            no configuration lines\n"
		"\n"
		"Exit status: 0 kvmmu and KVM agree, 1 they differ (each difference is\n"
		"printed: the sequence, the line, the operation, both results), 2 usage or\n"
		"bad input (a FILE that does not parse), 3 internal error, 77 skipped: no\n"
		"usable /dev/kvm (missing, no permission, or no VM can be created), or\n"
		"every sequence skipped (they all write, and guest writes are not\n"
		"compared).  With --self: 0, or 77 if every sequence was skipped.\n",
	.run = cmd_diff,
};
