// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu diff: guest writes on the host's /dev/kvm.  A stub guest of a few
 * hand-assembled instructions, in a memslot of its own: it points each
 * window of its page tables at a page to write, reloads CR3, stores 8
 * bytes through each window and halts.  Every KVM_EXIT_MMIO on the way is
 * a store that did not reach memory.
 *
 * Two stubs.  The long-mode one is what VMX and SVM run: a vCPU put in
 * 64-bit mode by KVM_SET_SREGS, no GDT, IDT or interrupts needed.  PVM
 * (kvm_pvm: the guest runs at hardware CPL 3 on shadow page tables, no
 * VMX or SVM) takes the same vCPU state but keeps it in its "non-PVM
 * mode", where KVM's instruction emulator runs every instruction.  It
 * switches to running the guest natively when the guest registers a PVCS
 * (its per-vCPU shared page) and the guest's pages are user pages (U/S
 * set): the PVM stub does both first.  A registered PVCS cannot be
 * unregistered (writing 0 is #GP) and must stay in a slot, which the
 * stub's may not between two writes, so on PVM each write after the
 * first runs on a new vCPU.
 *
 * The MSR numbers are those of the host this was built on, found by
 * probing (neither is in KVM_GET_MSR_INDEX_LIST): the signature "PVM" at
 * 0x4b564d11, the PVCS's gpa at 0x4b564d10 (a page-aligned gpa of guest
 * memory; anything else is #GP).  A PVM without that signature is not
 * offered the PVM stub, and runs the long-mode one, emulated.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include <kvmmu/uapi.h>

#include "compiler.h"
#include "diff.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)

/* The stub's pages: offsets from its base gpa, and from DIFF_STUB_VA. */
#define STUB_PML4 0x0000
#define STUB_PDPT 0x1000
#define STUB_PD 0x2000
#define STUB_PT 0x3000   /* maps the stub's own pages */
#define STUB_PTW 0x4000  /* the windows */
#define STUB_PVCS 0x5000 /* PVM's shared page */
#define STUB_CODE 0x6000

#define PVM_MSR_VCPU_STRUCT 0x4b564d10
#define PVM_MSR_SIGNATURE 0x4b564d11
#define PVM_SIGNATURE 0x4d5650 /* "PVM" */

#define GUEST_TIMEOUT_S 5 /* a stub that has not halted by then never will */

const char *diff_stub_name(enum diff_stub s)
{
	switch (s) {
	case DIFF_STUB_LONG_MODE:
		return "long-mode";
	case DIFF_STUB_PVM:
		return "pvm";
	default:
		return NULL;
	}
}

static unsigned int pt_index(u64 va, int level)
{
	return (unsigned int)(va >> (12 + 9 * (level - 1))) & 511;
}

void diff_stub_tables(u8 *image, u64 base, bool user)
{
	u64 flags = PTE_P | PTE_W | (user ? PTE_U : 0);
	u64 *pml4 = (u64 *)(image + STUB_PML4), *pdpt = (u64 *)(image + STUB_PDPT);
	u64 *pd = (u64 *)(image + STUB_PD), *pt = (u64 *)(image + STUB_PT);
	int i;

	memset(image, 0, DIFF_STUB_SIZE);
	BUILD_BUG_ON(DIFF_MAX_WRITE_GPAS > 512);
	pml4[pt_index(DIFF_STUB_VA, 4)] = (base + STUB_PDPT) | flags;
	pdpt[pt_index(DIFF_STUB_VA, 3)] = (base + STUB_PD) | flags;
	pd[pt_index(DIFF_STUB_VA, 2)] = (base + STUB_PT) | flags;
	pd[pt_index(DIFF_STUB_WINDOWS, 2)] = (base + STUB_PTW) | flags;
	for (i = 0; i < (int)(DIFF_STUB_SIZE >> 12); i++)
		pt[pt_index(DIFF_STUB_VA, 1) + i] = (base + ((u64)i << 12)) | flags;
}

u64 diff_stub_window_pte(int i)
{
	return DIFF_STUB_VA + STUB_PTW + 8ULL * (pt_index(DIFF_STUB_WINDOWS, 1) + (unsigned int)i);
}

u64 diff_stub_pte(u64 gpa, bool user)
{
	return (gpa & ~0xfffULL) | PTE_P | PTE_W | (user ? PTE_U : 0);
}

static bool stored_later(const u64 *gpas, int i, int n, int phys_bits, u64 gpa)
{
	for (; i < n; i++) {
		if (gpas[i] == gpa && (phys_bits >= 64 || !(gpas[i] >> phys_bits)))
			return true;
	}
	return false;
}

void diff_write_resolve(struct diff_write *w, const u64 *gpas, int n, int phys_bits,
			const u64 *exits, u64 nr_exits)
{
	int i, last = -1;
	u64 e = 0;

	w->nr = n;
	w->exits = nr_exits;
	w->stray = 0;
	for (i = 0; i < n; i++) {
		if (phys_bits < 64 && gpas[i] >> phys_bits) {
			w->store[i] = DIFF_STORE_BEYOND;
			continue;
		}
		/* An exit at no gpa still to come: a store that went elsewhere. */
		while (e < nr_exits && !stored_later(gpas, i, n, phys_bits, exits[e])) {
			w->stray++;
			e++;
		}
		if (e < nr_exits && exits[e] == gpas[i]) {
			w->store[i] = DIFF_STORE_MMIO;
			last = i;
			e++;
		} else {
			w->store[i] = DIFF_STORE_DONE;
		}
	}
	w->stray += nr_exits - e;
	/* Stopped: what came after the last exit is not known to have run. */
	for (i = last + 1; w->err && i < n; i++) {
		if (w->store[i] == DIFF_STORE_DONE)
			w->store[i] = DIFF_STORE_NOT_RUN;
	}
}

/* ---- the stub's code ------------------------------------------------------------------------ */

struct asm_buf {
	u8 *p;
};

static void emit(struct asm_buf *a, const void *bytes, size_t n)
{
	memcpy(a->p, bytes, n);
	a->p += n;
}

#define EMIT(a, ...)                                                          \
	do {                                                                  \
		const u8 __b[] = { __VA_ARGS__ };                             \
		emit((a), __b, sizeof(__b));                                  \
	} while (0)

static void emit_imm32(struct asm_buf *a, u8 opcode, u32 imm)
{
	EMIT(a, opcode);
	emit(a, &imm, 4);
}

/* movabs $imm, %reg (REX.W B8+r) */
static void emit_movabs(struct asm_buf *a, int reg, u64 imm)
{
	EMIT(a, 0x48, (u8)(0xb8 + reg));
	emit(a, &imm, 8);
}

#define RAX 0
#define RDX 2

static void stub_code(u8 *image, u64 base, const u64 *gpas, int n, enum diff_stub stub)
{
	struct asm_buf a = { image + STUB_CODE };
	bool user = stub == DIFF_STUB_PVM;
	int i;

	BUILD_BUG_ON(DIFF_MAX_WRITE_GPAS * 36 + 64 > 4096);
	if (user) {
		u64 pvcs = base + STUB_PVCS;

		emit_imm32(&a, 0xb9, PVM_MSR_VCPU_STRUCT); /* mov $msr,%ecx */
		emit_imm32(&a, 0xb8, (u32)pvcs);           /* mov $lo,%eax */
		emit_imm32(&a, 0xba, (u32)(pvcs >> 32));   /* mov $hi,%edx */
		EMIT(&a, 0x0f, 0x30);                      /* wrmsr */
	}
	/* Each window to its page: stores to the guest's own table. */
	for (i = 0; i < n; i++) {
		emit_movabs(&a, RAX, diff_stub_pte(gpas[i], user));
		emit_movabs(&a, RDX, diff_stub_window_pte(i));
		EMIT(&a, 0x48, 0x89, 0x02);         /* mov %rax,(%rdx) */
	}
	/* And no stale translation of a window. */
	EMIT(&a, 0x0f, 0x20, 0xd8);                 /* mov %cr3,%rax */
	EMIT(&a, 0x0f, 0x22, 0xd8);                 /* mov %rax,%cr3 */
	emit_movabs(&a, RAX, DIFF_STUB_VALUE);
	for (i = 0; i < n; i++) {
		emit_movabs(&a, RDX, DIFF_STUB_WINDOWS + ((u64)i << 12) + (gpas[i] & 0xfff));
		EMIT(&a, 0x48, 0x89, 0x02);         /* mov %rax,(%rdx) */
	}
	/* 1: */
	EMIT(&a, 0xf4);                             /* hlt */
	EMIT(&a, 0xeb, 0xfd);                       /* jmp 1b */
}

/* ---- the vCPU ------------------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

void diff_guest_place(struct diff_guest *g, u64 base)
{
	diff_stub_tables(g->mem, base, g->stub == DIFF_STUB_PVM);
}

void diff_guest_vm_reset(struct diff_guest *g)
{
	if (g->run)
		munmap(g->run, (size_t)g->run_size);
	g->run = NULL;
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	g->vcpu_fd = -1;
	g->next_vcpu_id = 0;
}

void diff_guest_close(struct diff_guest *g)
{
	diff_guest_vm_reset(g);
	if (g->mem)
		munmap(g->mem, DIFF_STUB_SIZE);
	g->mem = NULL;
	free(g->cpuid);
	g->cpuid = NULL;
	g->stub = DIFF_STUB_NONE;
}

int diff_guest_vcpu_create(struct diff_kvm *k, struct diff_guest *g)
{
	int id = g->next_vcpu_id;
	long fd;

	/* The one before stays in the VM, never to run again. */
	diff_guest_vm_reset(g);
	g->next_vcpu_id = id;
	fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)g->next_vcpu_id);
	if (fd < 0)
		return -errno;
	g->next_vcpu_id++;
	g->vcpu_fd = (int)fd;
	g->vcpu_ran = false;
	g->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (g->run_size < (long)sizeof(struct kvm_run))
		return -EINVAL;
	g->run = mmap(NULL, (size_t)g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		return -errno;
	}
	if (ioctl(g->vcpu_fd, KVM_SET_CPUID2, g->cpuid) < 0)
		return -errno;
	return 0;
}

static void set_segment(struct kvm_segment *s, u16 selector, u8 type, bool l, bool db)
{
	memset(s, 0, sizeof(*s));
	s->selector = selector;
	s->limit = 0xfffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->l = l;
	s->db = db;
	s->g = 1;
}

/* A 64-bit kernel at the stub's code, on its tables: what a VMM's KVM_SET_SREGS makes. */
static int setup_vcpu(struct diff_kvm *k, struct diff_guest *g, u64 base)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	int r;

	if (g->vcpu_fd < 0 || (g->stub == DIFF_STUB_PVM && g->vcpu_ran)) {
		r = diff_guest_vcpu_create(k, g);
		if (r)
			return r;
	}
	g->vcpu_ran = true;
	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	s.cr3 = base + STUB_PML4;
	s.cr4 = 1 << 5;     /* PAE */
	s.efer = 0xd01;     /* NXE, LMA, LME, SCE */
	set_segment(&s.cs, 0x10, 0xb, true, false);
	set_segment(&s.ds, 0x18, 0x3, false, true);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.ldt, 0, sizeof(s.ldt));
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.present = 1;
	s.tr.type = 11; /* a busy 64-bit TSS */
	s.tr.limit = 0x67;
	if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = DIFF_STUB_VA + STUB_CODE;
	regs.rflags = 0x2;
	if (ioctl(g->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

void diff_guest_write(struct diff_kvm *k, struct diff_guest *g, u64 base, const u64 *gpas,
		      int n, int phys_bits, struct diff_write *out)
{
	struct itimerval timer = { .it_value = { .tv_sec = GUEST_TIMEOUT_S } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	u64 run_gpas[DIFF_MAX_WRITE_GPAS], exits[DIFF_MAX_WRITE_GPAS];
	u64 nr_exits = 0;
	struct kvm_run *run;
	int i, m = 0, err;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (phys_bits >= 64 || !(gpas[i] >> phys_bits))
			run_gpas[m++] = gpas[i];
	}
	stub_code(g->mem, base, run_gpas, m, g->stub);
	err = setup_vcpu(k, g, base);
	run = g->run;
	setitimer(ITIMER_REAL, &timer, NULL);
	while (!err) {
		if (ioctl(g->vcpu_fd, KVM_RUN, NULL) < 0) {
			err = -errno;
			break;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
		    nr_exits < (u64)m) {
			exits[nr_exits++] = run->mmio.phys_addr;
			continue;
		}
		err = -EIO;
		out->exit_reason = (int)run->exit_reason;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	out->err = err;
	diff_write_resolve(out, gpas, n, phys_bits, exits, nr_exits);
}

/* ---- the probe ------------------------------------------------------------------------------ */

static bool host_is_pvm(struct diff_kvm *k)
{
	/* struct kvm_msrs ends in a flexible array: room for one entry after it. */
	_Alignas(struct kvm_msrs) unsigned char buf[sizeof(struct kvm_msrs) +
						    sizeof(struct kvm_msr_entry)] = { 0 };
	struct kvm_msrs *m = (struct kvm_msrs *)(void *)buf;
	long vm, vcpu;
	bool pvm = false;

	m->nmsrs = 1;
	m->entries[0].index = PVM_MSR_SIGNATURE;

	if (access("/sys/module/kvm_pvm", F_OK))
		return false;
	vm = ioctl(k->kvm_fd, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return false;
	vcpu = ioctl((int)vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu >= 0) {
		pvm = ioctl((int)vcpu, KVM_GET_MSRS, m) == 1 && m->entries[0].data == PVM_SIGNATURE;
		close((int)vcpu);
	}
	close((int)vm);
	return pvm;
}

#define PROBE_STUB 0x40000000ULL   /* 1G */
#define PROBE_LOG 0x80000000ULL    /* 2G: 256K with dirty logging */
#define PROBE_RO 0xc0000000ULL     /* 3G: 64K read-only */

/* Put the stub at @base: its tables, then its slot (0). */
static int probe_place(struct diff_kvm *k, struct diff_guest *g, u64 base, char *why,
		       size_t why_len)
{
	int r;

	diff_guest_place(g, base);
	r = diff_kvm_set_region(k, false, 0, 0, base, DIFF_STUB_SIZE, (unsigned long)g->mem);
	if (r)
		snprintf(why, why_len, "the stub's memslot: %s", strerror(-r));
	return r;
}

/* The stores of @gpas: each as @want says, then exactly @want_bits in the log of slot 1. */
static int probe_write(struct diff_kvm *k, struct diff_guest *g, u64 base, const u64 *gpas,
		       int n, const u8 *want, u64 want_bits, int phys_bits, char *why,
		       size_t why_len)
{
	struct diff_write w;
	u64 bitmap = 0;
	int r, i;

	diff_guest_write(k, g, base, gpas, n, phys_bits, &w);
	if (w.err == -EIO) {
		snprintf(why, why_len, "KVM_RUN exit %d before the stub's HLT", w.exit_reason);
		return -EIO;
	}
	if (w.err) {
		snprintf(why, why_len, "KVM_RUN: %s", w.err == -EINTR ?
			 "the stub did not halt" : strerror(-w.err));
		return w.err;
	}
	if (w.stray) {
		snprintf(why, why_len, "%llu KVM_EXIT_MMIO at gpas not stored to",
			 (unsigned long long)w.stray);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		if (w.store[i] != want[i]) {
			snprintf(why, why_len, "the store to %#llx %s KVM_EXIT_MMIO",
				 (unsigned long long)gpas[i],
				 want[i] == DIFF_STORE_MMIO ? "did not make" : "made");
			return -EIO;
		}
	}
	r = diff_kvm_get_dirty_log(k, 1, &bitmap);
	if (r || bitmap != want_bits) {
		snprintf(why, why_len, "KVM_GET_DIRTY_LOG: %d, bitmap %#llx after stores to pages "
			 "%#llx", r, (unsigned long long)bitmap, (unsigned long long)want_bits);
		return -EIO;
	}
	return 0;
}

/*
 * Stores to the slot that logs, the read-only one and no slot; again from
 * the same stub, a page harvested by the GET in between logged again; and
 * from the stub made again elsewhere.
 */
static int probe_stub(struct diff_kvm *k, struct diff_guest *g, u8 *log_mem, u8 *ro_mem,
		      int phys_bits, char *why, size_t why_len)
{
	static const u64 gpas1[] = { PROBE_LOG, PROBE_LOG + 0x3008, PROBE_RO + 0x1008,
				     PROBE_RO + (1 << 20) + 0x10 };
	static const u8 want1[] = { DIFF_STORE_DONE, DIFF_STORE_DONE, DIFF_STORE_MMIO,
				    DIFF_STORE_MMIO };
	static const u64 gpas2[] = { PROBE_LOG + 0x5ff8, PROBE_LOG + 0x3000 };
	static const u64 gpas3[] = { PROBE_LOG + 0x7000 };
	static const u8 want23[] = { DIFF_STORE_DONE, DIFF_STORE_DONE };
	const u64 base2 = PROBE_STUB + (2 << 20);
	u64 v;
	int r;

	r = diff_kvm_vm_create(k);
	if (r) {
		snprintf(why, why_len, "KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	diff_guest_vm_reset(g);
	memset(log_mem, 0, 256 << 10);
	r = diff_kvm_set_region(k, false, 1, KVM_MEM_LOG_DIRTY_PAGES, PROBE_LOG, 256 << 10,
				(unsigned long)log_mem);
	r = r ?: diff_kvm_set_region(k, false, 2, KVM_MEM_READONLY, PROBE_RO, 64 << 10,
				     (unsigned long)ro_mem);
	if (r) {
		snprintf(why, why_len, "a memslot: %s", strerror(-r));
		goto out;
	}
	r = probe_place(k, g, PROBE_STUB, why, why_len);
	r = r ?: probe_write(k, g, PROBE_STUB, gpas1, ARRAY_SIZE(gpas1), want1, 1 << 0 | 1 << 3,
			     phys_bits, why, why_len);
	if (r)
		goto out;
	memcpy(&v, log_mem + 0x3008, 8);
	if (v != DIFF_STUB_VALUE) {
		snprintf(why, why_len, "the stores did not reach memory");
		r = -EIO;
		goto out;
	}
	r = probe_write(k, g, PROBE_STUB, gpas2, ARRAY_SIZE(gpas2), want23, 1 << 3 | 1 << 5,
			phys_bits, why, why_len);
	if (r)
		goto out;
	diff_kvm_set_region(k, false, 0, 0, PROBE_STUB, 0, (unsigned long)g->mem);
	r = probe_place(k, g, base2, why, why_len);
	r = r ?: probe_write(k, g, base2, gpas3, ARRAY_SIZE(gpas3), want23, 1 << 7, phys_bits,
			     why, why_len);
out:
	diff_guest_vm_reset(g);
	diff_kvm_vm_destroy(k);
	return r;
}

static int get_cpuid(struct diff_kvm *k, struct diff_guest *g)
{
	int nent;

	for (nent = 128; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)nent *
					      sizeof(struct kvm_cpuid_entry2));

		if (!c)
			return -ENOMEM;
		c->nent = (u32)nent;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			g->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

int diff_guest_probe(struct diff_kvm *k, struct diff_guest *g, char *why, size_t why_len)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	enum diff_stub stubs[2];
	int nr = 0, i, r, phys_bits = 36;
	u8 *log_mem, *ro_mem;
	size_t used = 0;

	memset(g, 0, sizeof(*g));
	g->vcpu_fd = -1;
	why[0] = 0;
	/* No SA_RESTART: the alarm ends a KVM_RUN that would never return. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	r = get_cpuid(k, g);
	if (r) {
		snprintf(why, why_len, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		return r;
	}
	for (i = 0; i < (int)((struct kvm_cpuid2 *)g->cpuid)->nent; i++) {
		struct kvm_cpuid_entry2 *e = &((struct kvm_cpuid2 *)g->cpuid)->entries[i];

		if (e->function == 0x80000008)
			phys_bits = (int)(e->eax & 0xff);
	}
	g->mem = mmap(NULL, DIFF_STUB_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	log_mem = mmap(NULL, (256 << 10) + (64 << 10), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED || log_mem == MAP_FAILED) {
		if (g->mem != MAP_FAILED)
			munmap(g->mem, DIFF_STUB_SIZE);
		if (log_mem != MAP_FAILED)
			munmap(log_mem, (256 << 10) + (64 << 10));
		g->mem = NULL;
		diff_guest_close(g);
		snprintf(why, why_len, "mmap: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ro_mem = log_mem + (256 << 10);
	if (host_is_pvm(k))
		stubs[nr++] = DIFF_STUB_PVM;
	stubs[nr++] = DIFF_STUB_LONG_MODE;
	for (i = 0; i < nr; i++) {
		char line[160];

		g->stub = stubs[i];
		r = probe_stub(k, g, log_mem, ro_mem, phys_bits, line, sizeof(line));
		if (!r)
			break;
		used += (size_t)snprintf(why + used, used < why_len ? why_len - used : 0,
					 "%s%s stub: %s", used ? "; " : "",
					 diff_stub_name(stubs[i]), line);
		if (used >= why_len)
			used = why_len - 1;
	}
	munmap(log_mem, (256 << 10) + (64 << 10));
	if (r) {
		diff_guest_close(g);
		return r;
	}
	return 0;
}
