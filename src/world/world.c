// SPDX-License-Identifier: GPL-2.0-only
/*
 * The world: one place that assembles a VM and what it runs on (see
 * world.h).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_mm.h"
#include "host_phys.h"
#include "hw_model.h"
#include "kvm_host.h"
#include "mutant.h"
#include "rcu.h"
#include "sched_point.h"
#include "world.h"

#define WORLD_HVA_STEP (1UL << 30) /* regions start on 1 GiB boundaries */
#define WORLD_SLACK_FRAMES 65536
#define SZ_2M (PAGE_SIZE << HPAGE_PMD_ORDER)
#define SZ_1G (PAGE_SIZE << HPAGE_PUD_ORDER)

/* @bytes as people write sizes: 4K, 2M, 1G. */
static const char *size_str(char *buf, size_t len, u64 bytes)
{
	if (bytes && !(bytes % SZ_1G))
		snprintf(buf, len, "%lluG", (unsigned long long)(bytes / SZ_1G));
	else if (bytes && !(bytes % (1ULL << 20)))
		snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(bytes >> 10));
	return buf;
}

static int __printf(3, 4) fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- names ---------------------------------------------------------------------------------- */

/* The index of @s in @names, or -1. */
static int name_index(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(s, names[i]))
			return i;
	}
	return -1;
}

static const char *const mmu_names[NR_WORLD_MMUS] = {
	[WORLD_MMU_TDP] = "tdp",
	[WORLD_MMU_TDP_LEGACY] = "tdp-legacy",
	[WORLD_MMU_SHADOW] = "shadow",
};

const char *world_mmu_name(enum world_mmu mmu)
{
	return mmu < NR_WORLD_MMUS ? mmu_names[mmu] : "?";
}

int world_mmu_parse(const char *s, enum world_mmu *out, char *why, size_t why_len)
{
	int i = name_index(mmu_names, NR_WORLD_MMUS, s);

	if (i >= 0) {
		*out = (enum world_mmu)i;
		return 0;
	}
	return fail(why, why_len, "unknown MMU '%s' (tdp, tdp-legacy, shadow)", s);
}

static const char *const counters_names[NR_WORLD_COUNTERS] = {
	[WORLD_COUNTERS_ZERO] = "zero",
	[WORLD_COUNTERS_2_31] = "2^31",
	[WORLD_COUNTERS_2_32] = "2^32",
	[WORLD_COUNTERS_2_63] = "2^63",
	[WORLD_COUNTERS_MMIO_WRAP] = "mmio-wrap",
};

const char *world_counters_name(enum world_counters c)
{
	return c < NR_WORLD_COUNTERS ? counters_names[c] : "?";
}

int world_counters_parse(const char *s, enum world_counters *out)
{
	int i = name_index(counters_names, NR_WORLD_COUNTERS, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum world_counters)i;
	return 0;
}

/*
 * The starting points.  The sequence moves by one per invalidation, the
 * memslot generation by two (one per address space) per update; the MMIO
 * generation is the generation's low 19 bits.
 */
#define MMIO_GEN_WRAP (1ULL << 19)

static void counters_start(enum world_counters c, struct kvmmu_vm_config *vcfg)
{
	static const struct {
		u64 seq, gen;
	} start[NR_WORLD_COUNTERS] = {
		[WORLD_COUNTERS_ZERO] = { 0, 0 },
		[WORLD_COUNTERS_2_31] = { (1ULL << 31) - 1, (1ULL << 31) - 4 },
		[WORLD_COUNTERS_2_32] = { (1ULL << 32) - 1, (1ULL << 32) - 4 },
		[WORLD_COUNTERS_2_63] = { (1ULL << 63) - 1, (1ULL << 63) - MMIO_GEN_WRAP * 64 },
		[WORLD_COUNTERS_MMIO_WRAP] = { 0, MMIO_GEN_WRAP - 4 },
	};

	vcfg->mmu_invalidate_seq_start = start[c].seq;
	vcfg->memslot_generation_start = start[c].gen;
}

static const char *const backing_names[NR_WORLD_BACKINGS] = {
	[WORLD_BACKING_ANON] = "anon",
	[WORLD_BACKING_THP] = "thp",
	[WORLD_BACKING_SHARED] = "shared",
	[WORLD_BACKING_SHARED_THP] = "shared-thp",
	[WORLD_BACKING_HUGETLB_2M] = "hugetlb-2m",
	[WORLD_BACKING_HUGETLB_1G] = "hugetlb-1g",
	[WORLD_BACKING_PFNMAP] = "pfnmap",
};

const char *world_backing_name(enum world_backing b)
{
	return b < NR_WORLD_BACKINGS ? backing_names[b] : "?";
}

int world_backing_parse(const char *s, enum world_backing *out)
{
	int i = name_index(backing_names, NR_WORLD_BACKINGS, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum world_backing)i;
	return 0;
}

u64 world_backing_page_size(enum world_backing b)
{
	switch (b) {
	case WORLD_BACKING_THP:
	case WORLD_BACKING_SHARED_THP:
	case WORLD_BACKING_HUGETLB_2M:
	case WORLD_BACKING_PFNMAP:
		return SZ_2M;
	case WORLD_BACKING_HUGETLB_1G:
		return SZ_1G;
	default:
		return PAGE_SIZE;
	}
}

/* ---- the configuration ---------------------------------------------------------------------- */

static int nr_mem(const struct world_config *cfg)
{
	int m = 0;

	while (m < WORLD_MAX_MEM && cfg->mem[m].size)
		m++;
	return m;
}

/* The size a region's mapping must be a multiple of. */
static u64 mem_align(const struct world_mem_config *mc)
{
	if (mc->backing == WORLD_BACKING_PFNMAP && mc->pfnmap_block)
		return mc->pfnmap_block;
	return world_backing_page_size(mc->backing);
}

static int check_mem(const struct world_config *cfg, int m, char *why, size_t why_len)
{
	const struct world_mem_config *mc = &cfg->mem[m];
	const char *b = world_backing_name(mc->backing);
	u64 align = mem_align(mc);
	char sz[24], sz2[24];

	if (mc->backing >= NR_WORLD_BACKINGS)
		return fail(why, why_len, "region %d: unknown backing %d", m, mc->backing);
	if (mc->size > WORLD_MAX_GUEST)
		return fail(why, why_len, "guest memory above 1T is not supported");
	if (mc->backing == WORLD_BACKING_PFNMAP &&
	    (!is_power_of_2(align) || align < PAGE_SIZE || align > SZ_2M))
		return fail(why, why_len, "region %d: a pfnmap block is a power of 2 from 4K to 2M",
			    m);
	if (mc->size % align)
		return fail(why, why_len, "region %d: %s memory must be a multiple of %s", m, b,
			    size_str(sz, sizeof(sz), align));
	if (mc->backing == WORLD_BACKING_PFNMAP && mc->size / align > WORLD_MAX_PFNMAP_BLOCKS)
		return fail(why, why_len, "pfnmap backing maps at most %d blocks (%s)",
			    WORLD_MAX_PFNMAP_BLOCKS,
			    size_str(sz, sizeof(sz), WORLD_MAX_PFNMAP_BLOCKS * align));
	if (cfg->tag_mode && (mc->backing == WORLD_BACKING_SHARED ||
			      mc->backing == WORLD_BACKING_SHARED_THP))
		return fail(why, why_len, "tag mode (--tag-mode) does not go with %s backing", b);
	if (mc->hva % align)
		return fail(why, why_len, "region %d: its address is not %s-aligned", m,
			    size_str(sz, sizeof(sz), align));
	if (mc->nr_slots < 0 || mc->nr_slots > WORLD_MAX_SLOTS)
		return fail(why, why_len, "a region takes 0..%d memslots", WORLD_MAX_SLOTS);
	if (mc->nr_slots && (mc->size % (u64)mc->nr_slots ||
			     (mc->size / (u64)mc->nr_slots) % align))
		return fail(why, why_len, "%d memslots do not split %s into %s-aligned pieces",
			    mc->nr_slots, size_str(sz, sizeof(sz), mc->size),
			    size_str(sz2, sizeof(sz2), align));
	return 0;
}

static int guest_table_region(const struct world_config *cfg, struct world_mem_config *out);

int world_config_check(const struct world_config *cfg, char *why, size_t why_len)
{
	u64 total = 0;
	int m, n = nr_mem(cfg), r;

	if (cfg->nr_vcpus < 0 || cfg->nr_vcpus > WORLD_MAX_VCPUS)
		return fail(why, why_len, "a VM takes 0..%d vCPUs", WORLD_MAX_VCPUS);
	if (cfg->mmu >= NR_WORLD_MMUS)
		return fail(why, why_len, "unknown MMU %d", cfg->mmu);
	/* The guest's own tables live in bytes; PML logs gpas of TDP tables. */
	if (cfg->nr_address_spaces < 0 || cfg->nr_address_spaces > 2)
		return fail(why, why_len, "a VM has 1 or 2 memslot address spaces");
	if (cfg->mmu == WORLD_MMU_SHADOW && cfg->tag_mode)
		return fail(why, why_len, "shadow paging needs guest memory in bytes (no tag mode)");
	if (cfg->guest_paging && (cfg->guest_paging < 2 || cfg->guest_paging > 5))
		return fail(why, why_len, "guest paging is 2 (32-bit), 3 (PAE), 4 or 5 levels "
			    "(or none), not %d", cfg->guest_paging);
	if (cfg->guest_paging && cfg->tag_mode)
		return fail(why, why_len, "guest page tables need guest memory in bytes (no tag mode)");
	if (cfg->mmu == WORLD_MMU_SHADOW && cfg->pml)
		return fail(why, why_len, "PML is for two-dimensional paging, not shadow paging");
	if (cfg->nested) {
		if (cfg->mmu == WORLD_MMU_SHADOW || cfg->format != KVMMU_TDP_EPT)
			return fail(why, why_len, "nested runs need EPT: --mmu tdp or tdp-legacy");
		if (cfg->tag_mode || cfg->cpu)
			return fail(why, why_len, "nested runs need guest memory in bytes and the "
				    "simulated CPU");
	}
	if (cfg->counters >= NR_WORLD_COUNTERS)
		return fail(why, why_len, "unknown counters mode %d", cfg->counters);
	if (cfg->vm_type != KVM_X86_DEFAULT_VM)
		return fail(why, why_len, "VM type %lu is not supported", cfg->vm_type);
	if (cfg->pml && (cfg->format != KVMMU_TDP_EPT || cfg->ad_disabled))
		return fail(why, why_len, "PML needs EPT with A/D bits");
	if (cfg->pml && cfg->dirty_ring_bytes &&
	    cfg->dirty_ring_bytes < (KVMMU_PML_ENTRIES + 64) * sizeof(struct kvm_dirty_gfn))
		return fail(why, why_len, "with PML a dirty ring needs room for a full PML "
			    "flush (at least %zu bytes)",
			    (KVMMU_PML_ENTRIES + 64) * sizeof(struct kvm_dirty_gfn));
	for (m = 0; m < n; m++) {
		r = check_mem(cfg, m, why, why_len);
		if (r)
			return r;
		total += cfg->mem[m].size;
	}
	if (total > WORLD_MAX_GUEST)
		return fail(why, why_len, "guest memory above 1T is not supported");
	if (cfg->nested && nr_mem(cfg) + (cfg->guest_paging ? 2 : 1) > WORLD_MAX_MEM)
		return fail(why, why_len, "L1's EPT tables need a region of their own: at most "
			    "%d regions", WORLD_MAX_MEM - (cfg->guest_paging ? 2 : 1));
	if (cfg->guest_paging) {
		struct world_mem_config tables;

		if (guest_table_region(cfg, &tables))
			return fail(why, why_len, "guest page tables need a region of their own: "
				    "at most %d regions", WORLD_MAX_MEM - 1);
		/* The map is an identity map, and these guests see 4G. */
		if (cfg->guest_paging < 4 && tables.gpa + tables.size > (4ULL << 30))
			return fail(why, why_len, "a %s guest addresses 4G: its memory and page "
				    "tables must lie below 4G (they would end at %#llx)",
				    cfg->guest_paging == 2 ? "32-bit" : "PAE",
				    (unsigned long long)(tables.gpa + tables.size));
	}
	if (!cfg->tag_mode && total > WORLD_MAX_DATA_GUEST)
		return fail(why, why_len, "guest memory above 64G needs tag mode (--tag-mode)");
	return 0;
}

/*
 * Every default, in one place: what a zero in @cfg means.  Also lays the
 * regions out in the VMM's address space.
 */
static void resolve(struct world_config *cfg)
{
	unsigned long next = WORLD_HVA_STEP;
	u64 pages = 0, block = 1;
	int m;

	for (m = 0; m < nr_mem(cfg); m++) {
		struct world_mem_config *mc = &cfg->mem[m];

		if (mc->backing == WORLD_BACKING_PFNMAP && !mc->pfnmap_block)
			mc->pfnmap_block = SZ_2M;
		if (!mc->hva)
			mc->hva = next;
		/* One unmapped page at least between regions: no VMA merges across. */
		next = ALIGN(mc->hva + mc->size + PAGE_SIZE, WORLD_HVA_STEP);
		pages += mc->size >> PAGE_SHIFT;
		block = max_t(u64, block, mem_align(mc) >> PAGE_SHIFT);
	}
	/*
	 * Frame 0 is never handed out, so the first naturally aligned block of
	 * the largest page size starts one block in.
	 */
	if (!cfg->nr_frames)
		cfg->nr_frames = pages + pages / 128 + block + WORLD_SLACK_FRAMES;
	if (!cfg->host_ops)
		cfg->host_ops = &host_kvm_ops;
	if (!cfg->phys_bits)
		cfg->phys_bits = 46;
	if (!cfg->tdp_level)
		cfg->tdp_level = 4;
}

/* ---- building -------------------------------------------------------------------------------- */

static int map_mem(struct world *w, int m)
{
	const struct world_mem_config *mc = &w->cfg.mem[m];
	struct host_mmap_args a = {
		.len = mc->size, .vm_flags = VM_READ | VM_WRITE, .backing = HOST_BACKING_ANON,
		.addr = mc->hva,
	};
	unsigned long off, addr;
	int r;

	switch (mc->backing) {
	case WORLD_BACKING_THP:
		a.vm_flags |= VM_HUGEPAGE;
		break;
	case WORLD_BACKING_SHARED:
	case WORLD_BACKING_SHARED_THP:
		r = host_file_create(w->phys, mc->size >> PAGE_SHIFT,
				     mc->backing == WORLD_BACKING_SHARED_THP, &w->files[m]);
		if (r)
			return r;
		a.backing = HOST_BACKING_FILE;
		a.file = w->files[m];
		break;
	case WORLD_BACKING_HUGETLB_2M:
	case WORLD_BACKING_HUGETLB_1G:
		a.backing = HOST_BACKING_HUGETLB;
		a.order = mc->backing == WORLD_BACKING_HUGETLB_2M ? HPAGE_PMD_ORDER : HPAGE_PUD_ORDER;
		break;
	case WORLD_BACKING_PFNMAP:
		/* A driver maps its blocks one VMA each, side by side. */
		a.backing = HOST_BACKING_DRIVER;
		a.order = (unsigned int)__builtin_ctzll(mc->pfnmap_block >> PAGE_SHIFT);
		a.len = mc->pfnmap_block;
		break;
	default:
		break;
	}
	/* At the address resolve() gave it (the host would refuse another). */
	for (off = 0; off < mc->size; off += a.len) {
		a.addr = mc->hva + off;
		r = host_mmap(w->mm, &a, &addr);
		if (r)
			return r;
	}
	return 0;
}

static int populate_mem(struct world *w, int m)
{
	const struct world_mem_config *mc = &w->cfg.mem[m];
	u64 off;

	/* Write faults, as MAP_POPULATE takes on a private writable mapping. */
	for (off = 0; off < mc->size; off += PAGE_SIZE) {
		u64 val = 0;
		int r = host_access(w->mm, mc->hva + off, true, &val);

		if (r)
			return r;
	}
	return 0;
}

static int build_mem(struct world *w, int m)
{
	struct world_mem_config *mc = &w->cfg.mem[m];
	int r;

	r = map_mem(w, m);
	if (!r && mc->populate)
		r = populate_mem(w, m);
	if (!r && mc->nr_slots)
		r = world_mem_set_flags(w, m, mc->slot_flags);
	return r;
}

static int enable_cap(struct world *w, u32 cap, u64 arg)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg } };

	return arg ? kvmmu_vm_enable_cap(w->kvm, &c) : 0;
}

/*
 * The MMU selector: what each mode asks of the VM, as KVM's tdp_mmu (and,
 * for shadow paging, ept/npt) module parameters would.
 */
static int configure_mmu(enum world_mmu mmu, struct kvmmu_vm_config *vcfg)
{
	switch (mmu) {
	case WORLD_MMU_TDP:
		vcfg->tdp_mmu = true;
		return 0;
	case WORLD_MMU_TDP_LEGACY:
		vcfg->tdp_mmu = false;
		return 0;
	case WORLD_MMU_SHADOW:
		vcfg->tdp_enabled = false;
		vcfg->tdp_mmu = false;
		return 0;
	default:
		return -EINVAL;
	}
}

static int create_vm(struct world *w)
{
	const struct world_config *cfg = &w->cfg;
	const struct world_cpu *cpu = cfg->cpu;
	struct kvmmu_vm_config vcfg;
	int r;

	if (cpu) {
		w->hw = cpu->attach(w, cpu->arg);
		if (!w->hw)
			return -ENOMEM;
	} else {
		struct hw_config hcfg = {
			.mm = w->mm, .host = cfg->host_ops, .phys_bits = cfg->phys_bits,
		};

		r = hw_machine_create(&hcfg, &w->machine);
		if (r)
			return r;
		w->hw = w->machine;
	}
	kvmmu_vm_config_init(&vcfg);
	vcfg.type = cfg->vm_type;
	vcfg.mm = w->mm;
	vcfg.host_ops = cfg->host_ops;
	vcfg.hw_ops = cpu ? cpu->ops : &hw_ops;
	vcfg.hw = w->hw;
	vcfg.format = cfg->format;
	vcfg.tdp_level = cfg->tdp_level;
	vcfg.phys_bits = cfg->phys_bits;
	vcfg.nr_address_spaces = cfg->nr_address_spaces;
	vcfg.ad_disabled = cfg->ad_disabled;
	vcfg.pml = cfg->pml;
	vcfg.nx_huge_pages = cfg->nx_huge_pages;
	vcfg.eager_page_split = !cfg->no_eager_split;
	counters_start(cfg->counters, &vcfg);
	r = configure_mmu(cfg->mmu, &vcfg);
	r = r ?: kvmmu_vm_create(&vcfg, &w->kvm);
	/* Capabilities before vCPUs: the dirty ring must be. */
	r = r ?: enable_cap(w, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, cfg->manual_protect);
	r = r ?: enable_cap(w, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, cfg->dirty_ring_bytes);
	return r ?: enable_cap(w, KVM_CAP_DISABLE_QUIRKS2, cfg->disabled_quirks);
}

/* ---- the guest's own page tables --------------------------------------------------------- */

/* The memslot of the guest's tables: the last user slot id; L1's EPT tables' when alone. */
#define WORLD_GUEST_TABLE_SLOT (KVM_USER_MEM_SLOTS - 1)
/* L1's EPT tables beside the guest's own (nested with guest paging): the slot before. */
#define WORLD_L1_TABLE_SLOT (KVM_USER_MEM_SLOTS - 2)

/*
 * The region of the guest's tables once the world has laid it out: the
 * last one, or the one before L1's EPT tables (which map it for L2).
 */
static int guest_table_index(const struct world_config *cfg)
{
	return nr_mem(cfg) - 1 - (cfg->nested ? 1 : 0);
}

#define GPT_P BIT_ULL(0)
#define GPT_W BIT_ULL(1)
#define GPT_PS BIT_ULL(7)

/* The guest's table format for cfg.guest_paging (2, 3, 4 or 5). */
struct gpt_format {
	int levels;
	int entry_size; /* bytes */
	int bits;       /* index bits per level */
	bool ept;       /* L1's EPT (cfg.nested): entries are R, W, X */
};

static struct gpt_format gpt_format(int paging)
{
	if (paging == 2)
		return (struct gpt_format){ .levels = 2, .entry_size = 4, .bits = 10 };
	return (struct gpt_format){ .levels = paging, .entry_size = 8, .bits = 9 };
}

/* The bytes one entry at @level maps. */
static u64 gpt_span(const struct gpt_format *f, int level)
{
	return 1ULL << (PAGE_SHIFT + f->bits * (level - 1));
}

static u64 gpt_index(const struct gpt_format *f, u64 gva, int level)
{
	return (gva >> (PAGE_SHIFT + f->bits * (level - 1))) & ((1ULL << f->bits) - 1);
}

/*
 * Table pages an identity map of [@gpa, @gpa + @size) takes: a page table
 * for every large page it touches (so that a guest kernel may map any of
 * them at 4K) and the tables above, the top one apart.
 */
static u64 gpt_pages_for(const struct gpt_format *f, gpa_t gpa, u64 size)
{
	u64 pages = 0;
	int level;

	for (level = 1; level < f->levels; level++) {
		u64 cover = gpt_span(f, level + 1);

		pages += (ALIGN(gpa + size, cover) - ALIGN_DOWN(gpa, cover)) / cover;
	}
	return pages;
}

/*
 * The region that holds the guest's tables, after the others and in a
 * memslot of its own, large enough to map them and itself.  Returns
 * -ENOSPC if no region is left.
 */
static int guest_table_region(const struct world_config *cfg, struct world_mem_config *out)
{
	struct gpt_format f = gpt_format(cfg->guest_paging);
	u64 large = gpt_span(&f, 2), others = 1, size = 0, prev;
	int n = nr_mem(cfg), m;
	gpa_t end = 0;

	if (n == WORLD_MAX_MEM)
		return -ENOSPC;
	for (m = 0; m < n; m++) {
		const struct world_mem_config *mc = &cfg->mem[m];

		others += gpt_pages_for(&f, mc->gpa, mc->size);
		end = max(end, mc->gpa + mc->size);
	}
	end = ALIGN(end, large);
	/* The region maps itself too: grow it until it fits (a few rounds). */
	do {
		prev = size;
		size = ALIGN((others + gpt_pages_for(&f, end, max(prev, large))) << PAGE_SHIFT, large);
	} while (size != prev);
	/* The last user slot id: drivers count their slots up from 0. */
	*out = (struct world_mem_config){
		.size = size,
		.backing = WORLD_BACKING_ANON,
		.gpa = end,
		.nr_slots = 1,
		.first_slot = WORLD_GUEST_TABLE_SLOT,
	};
	return 0;
}

struct gpt_builder {
	struct world *w;
	struct gpt_format f;
	const struct world_mem_config *tables;
	gpa_t root;
	u64 next; /* the next free table page, as a gpa */
};

/* An entry of @size bytes at @gpa of the tables region @tables (gva = gpa). */
static int gpt_access(struct world *w, const struct world_mem_config *tables, gpa_t gpa,
		      int size, bool write, u64 *v)
{
	unsigned long hva = tables->hva + (ALIGN_DOWN(gpa, 8) - tables->gpa);
	unsigned int shift = (gpa & 7) * 8;
	u64 word, mask = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	int r;

	if (gpa < tables->gpa || gpa + size > tables->gpa + tables->size)
		return -EFAULT;
	r = host_access(w->mm, hva, false, &word);
	if (r || !write) {
		*v = (word >> shift) & mask;
		return r;
	}
	word = (word & ~(mask << shift)) | ((*v & mask) << shift);
	return host_access(w->mm, hva, true, &word);
}

static int gpt_write(struct gpt_builder *b, gpa_t gpa, u64 v)
{
	return gpt_access(b->w, b->tables, gpa, b->f.entry_size, true, &v);
}

/* A new table page (the region is fresh anonymous memory: it reads as zeroes). */
static int gpt_alloc(struct gpt_builder *b, gpa_t *table)
{
	if (b->next + PAGE_SIZE > b->tables->gpa + b->tables->size)
		return -ENOSPC;
	*table = b->next;
	b->next += PAGE_SIZE;
	return 0;
}

/* The value of an entry at @level that points to the table at @table. */
static u64 gpt_table_entry(const struct gpt_format *f, int level, gpa_t table)
{
	if (f->ept)
		return table | EPT_RWX_MASK;
	/* A PAE PDPTE has no R/W (bits 2:1 are reserved). */
	if (f->levels == 3 && level == 3)
		return table | GPT_P;
	return table | GPT_P | GPT_W;
}

/* The entry at @level that maps @gpa (the table path made, zeroed, where missing). */
static int gpt_entry(struct gpt_builder *b, gpa_t gpa, int level, gpa_t *entry)
{
	gpa_t table = b->root;
	int l, r;

	for (l = b->f.levels; l > level; l--) {
		gpa_t e = table + gpt_index(&b->f, gpa, l) * b->f.entry_size;
		u64 v;

		r = gpt_access(b->w, b->tables, e, b->f.entry_size, false, &v);
		if (r)
			return r;
		if (v & (b->f.ept ? EPT_RWX_MASK : GPT_P)) {
			table = v & PT64_BASE_ADDR_MASK & ~(u64)(PAGE_SIZE - 1);
			continue;
		}
		r = gpt_alloc(b, &table);
		r = r ?: gpt_write(b, e, gpt_table_entry(&b->f, l, table));
		if (r)
			return r;
	}
	*entry = table + gpt_index(&b->f, gpa, level) * b->f.entry_size;
	return 0;
}

/*
 * Write the identity map of every region (the tables' own included) into
 * the last region: large pages where a region covers them whole, 4K pages
 * at the ends.  Each whole large page has a page table of the same
 * translation made ready beside it, a region's in a row from
 * w->guest_pt[m], for world_guest_pde().
 */
static int build_guest_tables(struct world *w)
{
	int n = guest_table_index(&w->cfg) + 1, m, r = 0;
	struct gpt_builder b = { .w = w, .f = gpt_format(w->cfg.guest_paging),
				 .tables = &w->cfg.mem[n - 1] };
	u64 large = gpt_span(&b.f, 2);

	w->guest_cr3 = b.tables->gpa;
	b.root = w->guest_cr3;
	b.next = b.tables->gpa + PAGE_SIZE;
	for (m = 0; m < n && !r; m++) {
		const struct world_mem_config *mc = &w->cfg.mem[m];
		gpa_t first = ALIGN(mc->gpa, large), gpa, entry;
		gpa_t end = mc->gpa + mc->size, last = ALIGN_DOWN(end, large);
		u64 i;

		/* The page tables of the whole large pages, in a row. */
		w->guest_pt[m] = b.next;
		if (last > first) {
			w->guest_pdes[m] = calloc((last - first) / large, sizeof(gpa_t));
			if (!w->guest_pdes[m])
				return -ENOMEM;
		}
		for (gpa = first; gpa < last && !r; gpa += large) {
			gpa_t pt;

			r = gpt_alloc(&b, &pt);
			for (i = 0; !r && i < large / PAGE_SIZE; i++)
				r = gpt_write(&b, pt + i * b.f.entry_size,
					      (gpa + i * PAGE_SIZE) | GPT_P | GPT_W);
		}
		for (gpa = mc->gpa; gpa < end && !r;) {
			if (gpa >= first && gpa < last) {
				r = gpt_entry(&b, gpa, 2, &entry);
				r = r ?: gpt_write(&b, entry, gpa | GPT_P | GPT_W | GPT_PS);
				if (!r)
					w->guest_pdes[m][(gpa - first) / large] = entry;
				gpa += large;
				continue;
			}
			r = gpt_entry(&b, gpa, 1, &entry);
			r = r ?: gpt_write(&b, entry, gpa | GPT_P | GPT_W);
			gpa += PAGE_SIZE;
		}
	}
	return r;
}

/* ---- L1's EPT tables (cfg.nested) ------------------------------------------------------------ */

/* The L2 range L1 manages: every region's gpas, in whole 2M leaf tables. */
static void nested_l2_range(const struct world_config *cfg, gpa_t *base, gpa_t *end)
{
	int m;

	*base = ~0ULL;
	*end = 0;
	for (m = 0; m < nr_mem(cfg); m++) {
		*base = min(*base, cfg->mem[m].gpa);
		*end = max(*end, cfg->mem[m].gpa + cfg->mem[m].size);
	}
	*base = ALIGN_DOWN(*base, SZ_2M);
	*end = ALIGN(*end, SZ_2M);
}

static struct gpt_format nested_format(const struct world_config *cfg)
{
	return (struct gpt_format){ .levels = cfg->tdp_level == 5 ? 5 : 4, .entry_size = 8,
				    .bits = 9, .ept = true };
}

/*
 * The region of L1's EPT tables, after the others in a memslot of its
 * own: the root, a leaf table for every 2M of the L2 range, and the
 * tables between.  L2 cannot reach it: L1 maps only the other regions.
 */
static void nested_table_region(const struct world_config *cfg, struct world_mem_config *out)
{
	u32 slot = cfg->guest_paging ? WORLD_L1_TABLE_SLOT : WORLD_GUEST_TABLE_SLOT;
	struct gpt_format f = nested_format(cfg);
	gpa_t base, end;
	u64 pages;

	nested_l2_range(cfg, &base, &end);
	pages = 1 + gpt_pages_for(&f, base, end - base);
	*out = (struct world_mem_config){
		.size = ALIGN(pages << PAGE_SHIFT, SZ_2M),
		.backing = WORLD_BACKING_ANON,
		.gpa = end,
		.nr_slots = 1,
		.first_slot = slot,
	};
}

/*
 * Write L1's tables: every leaf table linked in, the leaf tables first
 * and in a row (w->l1->pt_base), every leaf entry empty: L1 fills them
 * as L2 faults.  The EPT pointer: write-back, the walk length, A/D if
 * L0's EPT has them.
 */
static int build_nested_tables(struct world *w)
{
	int n = nr_mem(&w->cfg);
	struct gpt_builder b = { .w = w, .f = nested_format(&w->cfg),
				 .tables = &w->cfg.mem[n - 1] };
	gpa_t base, end, gpa, entry;
	u64 *pdes;
	int r = 0;

	nested_l2_range(&w->cfg, &base, &end);
	w->l1 = calloc(1, sizeof(*w->l1));
	if (!w->l1)
		return -ENOMEM;
	b.root = b.tables->gpa;
	b.next = b.root + PAGE_SIZE;
	*w->l1 = (struct hw_l1_vmm){
		.eptp = b.root | 6 | ((u64)(b.f.levels - 1) << 3) |
			(w->cfg.ad_disabled ? 0 : BIT_ULL(6)),
		.l2_base = base,
		.l2_size = end - base,
		.l1_offset = 0,
		.pt_base = b.next,
		.leaf_flags = EPT_RWX_MASK | (EPT_MT_WB << EPT_MT_SHIFT),
	};
	b.next += ((end - base) / SZ_2M) * PAGE_SIZE;
	pdes = calloc((end - base) / SZ_2M, sizeof(*pdes));
	if (!pdes)
		return -ENOMEM;
	w->l1->pdes = pdes;
	for (gpa = base; gpa < end && !r; gpa += SZ_2M) {
		r = gpt_entry(&b, gpa, 2, &entry);
		r = r ?: gpt_write(&b, entry, gpt_table_entry(&b.f, 2, w->l1->pt_base +
								  (gpa - base) / SZ_2M * PAGE_SIZE));
		pdes[(gpa - base) / SZ_2M] = entry;
	}
	return r;
}

int world_guest_pde(struct world *w, u64 gva, struct world_guest_pde *out)
{
	struct gpt_format f;
	u64 large;
	int m;

	if (!w->cfg.guest_paging)
		return -ENOENT;
	f = gpt_format(w->cfg.guest_paging);
	large = gpt_span(&f, 2);
	for (m = 0; m < nr_mem(&w->cfg); m++) {
		const struct world_mem_config *mc = &w->cfg.mem[m];
		gpa_t first = ALIGN(mc->gpa, large), last = ALIGN_DOWN(mc->gpa + mc->size, large);
		gpa_t e;

		if (gva < first || gva >= last || !w->guest_pdes[m])
			continue;
		/*
		 * Where the builder put the entry: no read of guest memory, which
		 * the guest's CPUs and KVM change as they walk (A bits) meanwhile.
		 */
		e = w->guest_pdes[m][(ALIGN_DOWN(gva, large) - first) / large];
		*out = (struct world_guest_pde){
			.gpa = e, .size = f.entry_size, .page_size = large,
			.large = ALIGN_DOWN(gva, large) | GPT_P | GPT_W | GPT_PS,
			.table = (w->guest_pt[m] + (ALIGN_DOWN(gva, large) - first) / large *
						   PAGE_SIZE) | GPT_P | GPT_W,
		};
		return 0;
	}
	return -ENOENT;
}

int world_create(struct world *w, const struct world_config *cfg, char *why, size_t why_len)
{
	struct host_phys_config pcfg;
	const char *step;
	int i, r;

	memset(w, 0, sizeof(*w));
	r = world_config_check(cfg, why, why_len);
	if (r)
		return r;
	w->cfg = *cfg;
	/* The guest's tables first: L1 maps them for L2 like any region. */
	if (w->cfg.guest_paging)
		guest_table_region(&w->cfg, &w->cfg.mem[nr_mem(&w->cfg)]);
	if (w->cfg.nested)
		nested_table_region(&w->cfg, &w->cfg.mem[nr_mem(&w->cfg)]);
	resolve(&w->cfg);
	pcfg = (struct host_phys_config){ .nr_frames = w->cfg.nr_frames,
					  .tag_mode = w->cfg.tag_mode };

	step = "the host";
	r = host_phys_create(&pcfg, &w->phys);
	r = r ?: host_mm_create(w->phys, &w->mm);
	if (!r) {
		step = "the VM";
		r = create_vm(w);
	}
	for (i = 0; !r && i < nr_mem(&w->cfg); i++) {
		step = "guest memory";
		r = build_mem(w, i);
		w->nr_mem += !r;
	}
	if (!r && w->cfg.guest_paging) {
		step = "the guest's page tables";
		r = build_guest_tables(w);
	}
	if (!r && w->cfg.nested) {
		step = "L1's EPT tables";
		r = build_nested_tables(w);
	}
	for (i = 0; !r && i < w->cfg.nr_vcpus; i++) {
		step = "a vCPU";
		r = kvmmu_vcpu_create(w->kvm, (unsigned int)i, &w->vcpus[i]);
		w->nr_vcpus += !r;
	}
	if (!r && w->cfg.yield_every)
		sched_force_resched(w->cfg.yield_every);
	if (r) {
		if (why && why_len)
			snprintf(why, why_len, "cannot build %s: %s", step, strerror(-r));
		world_destroy(w);
	}
	return r;
}

/* ---- checking --------------------------------------------------------------------------------- */

int world_check_begin(struct world *w)
{
	struct check_world cw = { .kvm = w->kvm, .mm = w->mm, .hw = w->machine,
				  .nested = w->cfg.nested };
	int r;

	if (w->checking)
		return -EBUSY;
	/*
	 * Callbacks the setup queued (table frees) must not emit events while
	 * observers are registered and the event count starts over.
	 */
	rcu_barrier();
	r = check_begin(&cw, w->cfg.checks, w->cfg.on_violation, w->cfg.violation_arg);
	if (r)
		return r;
	w->checking = w->checked = true;
	kvmmu_mutant_set_mask(w->cfg.mutants);
	return 0;
}

void world_check_end(struct world *w)
{
	if (!w->checking)
		return;
	/* Callbacks queued by the run (table frees) still report: let them, while we listen. */
	rcu_barrier();
	check_end();
	w->checking = false;
}

u64 world_destroy(struct world *w)
{
	bool checked = w->checked;
	u64 frames = 0;
	int m;

	world_check_end(w);
	if (w->cfg.yield_every)
		sched_force_resched(0);
	/*
	 * The VM first: it drops its page references and its notifier.  The
	 * mutants stay on through it: a bug in teardown shows as a leak.
	 */
	if (w->kvm)
		kvmmu_vm_destroy(w->kvm);
	/* The checkers that judge the teardown have seen it. */
	check_teardown_end();
	if (w->checked)
		kvmmu_mutant_set_mask(0);
	if (w->machine)
		hw_machine_destroy(w->machine);
	if (w->mm)
		host_mm_destroy(w->mm);
	/* Every region's, a half-built one's included. */
	for (m = 0; m < WORLD_MAX_MEM; m++) {
		if (w->files[m])
			host_file_destroy(w->files[m]);
		free(w->guest_pdes[m]);
		w->guest_pdes[m] = NULL;
	}
	if (w->l1)
		free((void *)w->l1->pdes);
	free(w->l1);
	w->l1 = NULL;
	/* Tables freed after a grace period are frames too. */
	rcu_barrier();
	if (w->phys) {
		frames = (u64)atomic64_read(&w->phys->nr_allocated) - w->kept_frames;
		host_phys_destroy(w->phys);
	}
	/*
	 * Nothing is left, vCPUs included, before the leak report: its
	 * on_violation callback may reach for them (world_stop_vcpus()).
	 */
	memset(w, 0, sizeof(*w));
	if (checked)
		check_after_teardown(frames);
	return frames;
}

void world_stop_vcpus(struct world *w)
{
	int i;

	for (i = 0; i < w->nr_vcpus; i++) {
		struct kvm_vcpu *v = w->vcpus[i];

		atomic_store(&v->sigpending, true);
		/* Out of guest mode at the next access. */
		atomic_fetch_add(&v->kick_req, 1);
		if (w->machine)
			hw_vcpu_release_spin(v->hw);
	}
}

/* ---- memslots ---------------------------------------------------------------------------------- */

int world_set_memslot(struct world *w, u32 slot, u32 flags, gpa_t gpa, u64 size,
		      unsigned long hva)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = size ? hva : 0,
	};

	return kvmmu_set_user_memory_region2(w->kvm, &m);
}

void world_mem_slot(const struct world *w, int m, int i, gpa_t *gpa, u64 *size,
		    unsigned long *hva)
{
	const struct world_mem_config *mc = &w->cfg.mem[m];
	u64 slot_size = mc->size / (u64)mc->nr_slots;

	*gpa = mc->gpa + (u64)i * slot_size;
	*size = slot_size;
	*hva = mc->hva + (u64)i * slot_size;
}

int world_mem_set_flags(struct world *w, int m, u32 flags)
{
	struct world_mem_config *mc = &w->cfg.mem[m];
	int i, r;

	for (i = 0; i < mc->nr_slots; i++) {
		unsigned long hva;
		gpa_t gpa;
		u64 size;

		world_mem_slot(w, m, i, &gpa, &size, &hva);
		r = world_set_memslot(w, mc->first_slot + (u32)i, flags, gpa, size, hva);
		if (r)
			return r;
	}
	mc->slot_flags = flags;
	return 0;
}

int world_mem_delete_slots(struct world *w, int m)
{
	const struct world_mem_config *mc = &w->cfg.mem[m];
	int i, r, ret = 0;

	for (i = 0; i < mc->nr_slots; i++) {
		r = world_set_memslot(w, mc->first_slot + (u32)i, 0, 0, 0, 0);
		if (r && !ret)
			ret = r;
	}
	return ret;
}
