/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Observer hooks: the event stream that checkers and the tracer read.
 *
 * The core, the host model and the hardware model report what they do with
 * kvmmu_observe(TYPE, member, .field = value, ...).  Observers register a
 * callback and a mask of event types; an event nobody observes costs one
 * load and a branch.  Observers are read-only: they must not call back into
 * the code that emitted the event, take its locks or block.  They run in
 * the emitting thread, synchronously, in registration order.
 *
 * Every event carries the emitting thread's id and a global index (its
 * position in the total order of observed events, from 1), which violation
 * reports cite as event_index.  The most frequent events that nothing
 * orders by index (observe.c says which) are left unnumbered: index 0.
 */
#ifndef KVMMU_COMPAT_OBSERVE_H
#define KVMMU_COMPAT_OBSERVE_H

#include "atomic.h"
#include "bitops.h"
#include "compiler.h"
#include "types.h"

enum kvmmu_event_type {
	KVMMU_EV_SPTE_CHANGE,        /* .spte: an SPTE changed value */
	KVMMU_EV_TABLE_ALLOC,        /* .table: a page-table frame was allocated */
	KVMMU_EV_TABLE_FREE,         /* .table: a page-table frame was freed */
	KVMMU_EV_TABLE_READ,         /* .table: a lockless walker read a table */
	KVMMU_EV_ROOT_GET,           /* .root: a root reference was taken */
	KVMMU_EV_ROOT_PUT,           /* .root: a root reference was dropped */
	KVMMU_EV_ROOT_INVALIDATE,    /* .root: a root was marked invalid */
	KVMMU_EV_TLB_FILL,           /* .tlb: a vCPU cached a translation */
	KVMMU_EV_TLB_FLUSH,          /* .tlb: a vCPU dropped cached translations */
	KVMMU_EV_VCPU_MODE,          /* .vcpu: a vCPU changed mode */
	KVMMU_EV_VCPU_REQUEST,       /* .vcpu: a request was made to a vCPU */
	KVMMU_EV_PAGE_REF_GET,       /* .page: a page reference was taken */
	KVMMU_EV_PAGE_REF_PUT,       /* .page: a page reference was released */
	KVMMU_EV_PAGE_MARK_DIRTY,    /* .page: a folio was marked dirty */
	KVMMU_EV_PAGE_MARK_ACCESSED, /* .page: a folio was marked accessed */
	KVMMU_EV_FRAME_FREE,         /* .frame: a host frame was freed */
	KVMMU_EV_FRAME_REUSE,        /* .frame: a freed frame was allocated again */
	KVMMU_EV_FRAME_ZERO,         /* .frame: contents were zero-filled */
	KVMMU_EV_FRAME_COPY,         /* .frame: contents were copied from .src */
	KVMMU_EV_FRAME_DROP,         /* .frame: clean contents dropped by reclaim */
	KVMMU_EV_FRAME_MISUSE,       /* .misuse: a frame was used against its state */
	KVMMU_EV_NOTIFIER_START,     /* .notifier: invalidate_range_start */
	KVMMU_EV_NOTIFIER_END,       /* .notifier: invalidate_range_end */
	KVMMU_EV_GUEST_LOAD,         /* .access: a guest load completed */
	KVMMU_EV_GUEST_STORE,        /* .access: a guest store completed */
	KVMMU_EV_VMM_LOAD,           /* .access: the VMM read guest memory (.hva, vcpu -1) */
	KVMMU_EV_VMM_STORE,          /* .access: the VMM wrote guest memory (.hva, vcpu -1) */
	KVMMU_EV_DIRTY_LOG_GET,      /* .dirty_log: KVM_GET_DIRTY_LOG returns */
	KVMMU_EV_DIRTY_LOG_CLEAR,    /* .dirty_log: KVM_CLEAR_DIRTY_LOG returns */
	KVMMU_EV_DIRTY_RING_RESET,   /* .dirty_log: KVM_RESET_DIRTY_RINGS returns */
	KVMMU_EV_DIRTY_RING_PUSH,    /* .dirty_log: a vCPU pushed a page to its ring */
	KVMMU_EV_DIRTY_RING_HARVEST, /* .dirty_log: a reset collected a harvested entry */
	KVMMU_EV_SPAN_BEGIN,         /* .span: a traced operation begins */
	KVMMU_EV_SPAN_END,           /* .span: it ends */
	KVMMU_EV_RANGE_BEGIN,        /* .range: a walk over a gfn range of a root begins */
	KVMMU_EV_RANGE_END,          /* .range: it is done */
	KVMMU_EV_FAULT_DONE,         /* .fault: a vCPU's page fault returned */
	KVMMU_EV_WP_FAULT,           /* .fault: a write-protection fault emulated, or unprotected */
	KVMMU_EV_SLOT_ZAPPED,        /* .slot: a deleted or moved slot's mappings are gone (mmu_lock held) */
	KVMMU_EV_SPTE_HW_DIRTY,      /* .spte: the CPU set D in a leaf SPTE (kvm NULL) */
	KVMMU_EV_PML_LOG,            /* .pml: the CPU logged a gpa in a vCPU's PML buffer */
	KVMMU_EV_PML_FLUSH,          /* .pml: KVM drained a vCPU's PML buffer into the log */
	KVMMU_EV_RMAP_FREED_READ,    /* .rmap: a lockless rmap walker read a freed descriptor */
	KVMMU_EV_WARN,               /* .warn: a WARN fired */
	KVMMU_EV_NESTED,             /* .nested: a nested VM entry or exit, an INVEPT */
	KVMMU_EV_GUEST_FLUSH,        /* .guest_flush: the guest flushed its TLB or wrote a CR */
	KVMMU_EV_SLOT_META_TOUCH,    /* .slot: freed memslot metadata was reached for */
	KVMMU_EV_MMU_TEARDOWN,       /* .slot: the VM's MMU is empty, before it goes (mmu_lock held) */
	NR_KVMMU_EVENTS
};

/* Operations traced as spans (begin/end pairs). */
enum kvmmu_span {
	KVMMU_SPAN_FAULT,
	KVMMU_SPAN_ZAP,
	KVMMU_SPAN_FLUSH,
	KVMMU_SPAN_MEMSLOT_UPDATE,
	KVMMU_SPAN_ROOT_LOAD,
	NR_KVMMU_SPANS
};

/* What KVMMU_EV_FRAME_MISUSE reports. */
enum kvmmu_frame_misuse {
	KVMMU_MISUSE_REF_FROM_ZERO,   /* a reference raised from 0 */
	KVMMU_MISUSE_REF_NONCOUNTED,  /* a reference on a non-refcounted page */
	KVMMU_MISUSE_REF_UNDERFLOW,   /* a reference released below 0 */
	KVMMU_MISUSE_MARK_FREED,      /* dirty/accessed marking of a freed page */
	KVMMU_MISUSE_ACCESS_FREED,    /* an access to a freed or quarantined frame */
	KVMMU_MISUSE_DOUBLE_FREE,     /* a free of a frame that is not allocated */
	NR_KVMMU_MISUSES
};

/* Who read a table in KVMMU_EV_TABLE_READ. */
enum kvmmu_table_reader {
	KVMMU_READER_WALKER,
	KVMMU_READER_FAST_PF,
	KVMMU_READER_AGING,
	KVMMU_READER_ITER, /* the TDP iterator, under mmu_lock */
};

struct kvmmu_ev_spte {
	const void *kvm;
	const void *sptep;
	u64 old_spte;
	u64 new_spte;
	gfn_t gfn;
	u8 level;
	u8 as_id;
	bool shared;    /* made under the read lock */
	bool preserves; /* split/recovery: every gfn keeps its translation */
	/*
	 * A plain store under the write lock: @old_spte is the value KVM read
	 * before, not one the store returned.
	 */
	bool plain;
};

struct kvmmu_ev_table {
	const void *kvm;
	hfn_t pfn;
	gfn_t gfn;
	u8 level;
	u8 reader; /* enum kvmmu_table_reader, for TABLE_READ */
};

struct kvmmu_ev_root {
	const void *kvm;
	const void *root;
	hfn_t pfn;
	int refcount; /* after the change */
	bool long_lived;
	bool invalid;
};

struct kvmmu_ev_tlb {
	int vcpu;
	gfn_t gfn;
	u8 level;
	bool all; /* FLUSH: every entry */
	hfn_t pfn;
	const void *sptep; /* FILL: the entry the translation came from */
	u64 spte;          /* FILL: its value */
};

struct kvmmu_ev_vcpu {
	int vcpu;
	int old_mode;
	int new_mode;
	int request;
	/*
	 * MODE: the entry checks passed with the mode IN_GUEST_MODE (old and
	 * new are the mode found): the CPU runs guest code from here until
	 * the mode is OUTSIDE_GUEST_MODE again.
	 */
	bool entered;
};

struct kvmmu_ev_page {
	hfn_t pfn;
	int count;       /* the folio's count after the change */
	u8 state;        /* enum kvmmu_frame_state of the frame */
	bool noncounted; /* the host forbids refcounting this page */
};

struct kvmmu_ev_frame {
	hfn_t pfn;
	hfn_t src;    /* FRAME_COPY: the source frame, 0 if from swap or file */
	u8 order;     /* the block is 1 << order frames */
	u8 kind;      /* FRAME_ZERO/COPY: enum kvmmu_frame_fill */
};

/* Where the contents of KVMMU_EV_FRAME_ZERO/COPY come from. */
enum kvmmu_frame_fill {
	KVMMU_FILL_ZERO,    /* anonymous first touch, DONTNEED refault */
	KVMMU_FILL_MIGRATE, /* migration, compaction, THP collapse */
	KVMMU_FILL_SWAP,    /* swap-in */
	KVMMU_FILL_FILE,    /* read from the backing file */
};

struct kvmmu_ev_misuse {
	hfn_t pfn;
	u8 kind;  /* enum kvmmu_frame_misuse */
	u8 state; /* the frame's state at the time */
};

struct kvmmu_ev_notifier {
	const void *mm;
	hva_t start;
	hva_t end;
	int event;
};

struct kvmmu_ev_access {
	int vcpu;
	u8 size;
	gpa_t gpa;
	hva_t hva;
	hfn_t pfn;
	u64 value;
	/*
	 * Shadow paging with guest paging on: the CPU does not know the gpa
	 * (its page is all ones); it reports the gva and the leaf SPTE the
	 * translation came from, whose shadow page knows the gfn.
	 */
	u64 gva;
	const void *sptep;
	/*
	 * LOADs: an instruction fetch.  L2: the access was L2's, under nested
	 * EPT (its gva is an L2 gpa, its sptep the leaf of KVM's shadow of
	 * L1's EPT tables).
	 */
	bool fetch;
	bool l2;
	/*
	 * STOREs that are a read-modify-write (a compare-exchange setting A/D
	 * in a guest table): the word just before it, which a load racing
	 * with it may still return.  @prev_known: @prev is the word the store
	 * replaced (a read-modify-write's, or a plain store's that the CPU or
	 * the VMM did as an exchange because someone observes stores).
	 */
	bool rmw;
	bool prev_known;
	u64 prev;
	/*
	 * LOADs: kvmmu_observe_index() just before the memory was read.  Every
	 * store whose event has a lower index was visible to the load; one
	 * from @since on may have come after it (its event can still be
	 * numbered before the load's).  0 when the emitter does not say.
	 */
	u64 since;
};

struct kvmmu_ev_dirty_log {
	const void *kvm;
	int slot; /* as_id << 16 | id, as KVM encodes it */
	u64 first_page; /* ring PUSH and HARVEST: the page */
	u64 num_pages;
	/*
	 * GET: the pages reported, from page 0; CLEAR: the pages whose bits
	 * were cleared (and protected), from first_page.  Valid during the
	 * event only.
	 */
	const unsigned long *bitmap;
	u64 begin_index; /* kvmmu_observe_index() when the call began */
};

struct kvmmu_ev_pml {
	const void *kvm; /* NULL when the CPU logs */
	int vcpu;
	gpa_t gpa;       /* LOG: the 4K-aligned gpa logged */
	u16 nr;          /* FLUSH: how many entries were drained */
};

struct kvmmu_ev_span {
	u8 kind; /* enum kvmmu_span */
	u64 arg;
};

/*
 * What a walk of KVMMU_EV_RANGE_BEGIN/END leaves behind in [start, end) of
 * its root: the postcondition the range checker verifies.
 */
enum kvmmu_range_op {
	KVMMU_RANGE_ZAP,    /* no present leaf */
	KVMMU_RANGE_WRPROT, /* no writable leaf at or above .level (.mask: of those gfns) */
	KVMMU_RANGE_SPLIT,  /* no leaf above .level */
	NR_KVMMU_RANGE_OPS
};

struct kvmmu_ev_range {
	const void *kvm;
	const void *root;  /* the struct kvm_mmu_page walked */
	u8 op;             /* enum kvmmu_range_op */
	u8 level;
	gfn_t start, end;
	u64 mask;          /* WRPROT: only gfn start + i for each bit i (0: all) */
	u64 begin_index;   /* END: kvmmu_observe_index() when the walk began */
	bool done;         /* END: the walk ran to its end (a split may stop early) */
};

/* Why a fault returned RET_PF_RETRY (KVMMU_EV_FAULT_DONE). */
enum kvmmu_fault_retry {
	KVMMU_RETRY_NONE,         /* it did not retry */
	KVMMU_RETRY_INVALIDATION, /* mmu_invalidate_seq moved, or an invalidation covers the gfn */
	KVMMU_RETRY_SLOT_INVALID, /* the memslot is being deleted or moved */
	KVMMU_RETRY_STALE_ROOT,   /* a fast zap made the vCPU's root obsolete */
	KVMMU_RETRY_RACE,         /* another thread changed the SPTE first */
};

struct kvmmu_ev_fault {
	int vcpu;
	gpa_t gpa;        /* WP_FAULT: the gva (cr2) */
	u64 rip;          /* WP_FAULT: the faulting instruction */
	bool unprotected; /* WP_FAULT: the gfn was unprotected and the instruction is retried */
	int result;       /* RET_PF_*, or -errno */
	u8 retry;         /* enum kvmmu_fault_retry */
	u64 mmu_seq;      /* the fault's mmu_invalidate_seq snapshot */
	u64 seq_now;      /* mmu_invalidate_seq when it returned */
	long in_progress; /* mmu_invalidate_in_progress when it returned */
};

/*
 * RMAP_FREED_READ: a walker that holds no mmu_lock found the rmap
 * descriptor it was walking freed (poisoned, in the VM's quarantine).
 */
struct kvmmu_ev_rmap {
	const void *kvm;
	const void *desc;
	gfn_t gfn;   /* the rmap's gfn and level */
	u8 level;
	u8 reader;   /* enum kvmmu_table_reader */
};

struct kvmmu_ev_warn {
	const char *file;
	int line;
	const char *cond;
};

/*
 * SLOT_ZAPPED: kvm_arch_flush_shadow_memslot() is done with a slot being
 * deleted or moved; posted with mmu_lock held for write, so that observers
 * may look at every table.
 */
struct kvmmu_ev_slot {
	const void *kvm;
	int as_id, id;
	gfn_t start, end;
	/* SLOT_META_TOUCH: the gfn reached for, and which array (enum kvmmu_slot_meta). */
	gfn_t gfn;
	u8 meta;
	bool write;
};

/*
 * The arrays of a memslot's arch metadata, as SLOT_META_TOUCH names them.
 * SLOT_META_TOUCH: an accessor of the shadow MMU's per-slot metadata
 * (rmaps, write-track counts, lpage_info) was handed a slot whose
 * metadata was freed after a DELETE or MOVE; it reports instead of
 * touching it (the metadata is poisoned and kept until the VM goes).
 *
 * MMU_TEARDOWN: the VM's vCPUs have dropped their roots and every shadow
 * page is zapped; the MMU's state is about to be freed.  Posted with
 * mmu_lock held for write (only .kvm is set).
 */
enum kvmmu_slot_meta {
	KVMMU_SLOT_META_RMAP,
	KVMMU_SLOT_META_WRITE_TRACK,
	KVMMU_SLOT_META_LPAGE_INFO,
	NR_KVMMU_SLOT_META
};

enum kvmmu_nested_what {
	KVMMU_NESTED_VMENTRY, /* L1 resumed L2 (.eptp) */
	KVMMU_NESTED_VMEXIT,  /* an exit of L2 reflected to L1 (.gpa: where it faulted) */
	KVMMU_NESTED_INVEPT,  /* L1's INVEPT of .type for .eptp done (.failed: VMfail) */
};

struct kvmmu_ev_nested {
	int vcpu;
	u8 what; /* enum kvmmu_nested_what */
	u64 eptp;
	gpa_t gpa;
	u32 type;
	bool failed;
};

/* What the guest's instruction does to its TLB (KVMMU_EV_GUEST_FLUSH). */
enum kvmmu_guest_flush_kind {
	KVMMU_GUEST_FLUSH_NONE, /* nothing: only the paging registers change */
	KVMMU_GUEST_FLUSH_ADDR, /* INVLPG .gva */
	KVMMU_GUEST_FLUSH_ALL,  /* every (non-global) translation of the vCPU */
};

/*
 * GUEST_FLUSH: the guest (a kernel on its own tables) executed an
 * instruction that flushes its TLB or changes its paging registers, and
 * passed its #GP checks: MOV to CR0/CR3/CR4, WRMSR EFER, INVLPG, a full
 * flush.  Posted by the CPU when it executes the instruction, or, under
 * shadow paging, when it exits to KVM to have it emulated.  @kind is what
 * the architecture guarantees (SDM "Operations that Invalidate TLBs"):
 * CR3 loads; a CR0.PG change; a CR4.PGE or CR4.PAE change and CR4.SMEP
 * turning on.  The registers are those after the instruction.
 */
struct kvmmu_ev_guest_flush {
	int vcpu;
	u8 kind; /* enum kvmmu_guest_flush_kind */
	u64 gva;
	u64 cr0, cr3, cr4, efer;
};

struct kvmmu_event {
	u16 type; /* enum kvmmu_event_type */
	int thread;
	u64 index;
	union {
		struct kvmmu_ev_spte spte;
		struct kvmmu_ev_table table;
		struct kvmmu_ev_root root;
		struct kvmmu_ev_tlb tlb;
		struct kvmmu_ev_vcpu vcpu;
		struct kvmmu_ev_page page;
		struct kvmmu_ev_frame frame;
		struct kvmmu_ev_misuse misuse;
		struct kvmmu_ev_notifier notifier;
		struct kvmmu_ev_access access;
		struct kvmmu_ev_dirty_log dirty_log;
		struct kvmmu_ev_pml pml;
		struct kvmmu_ev_span span;
		struct kvmmu_ev_range range;
		struct kvmmu_ev_slot slot;
		struct kvmmu_ev_fault fault;
		struct kvmmu_ev_rmap rmap;
		struct kvmmu_ev_warn warn;
		struct kvmmu_ev_nested nested;
		struct kvmmu_ev_guest_flush guest_flush;
	};
};

struct kvmmu_observer {
	const char *name;
	u64 mask; /* BIT_ULL(type) for each type wanted */
	void (*notify)(struct kvmmu_observer *obs, const struct kvmmu_event *ev);
};

#define KVMMU_MAX_OBSERVERS 16

/* Register or remove an observer; only while no events are being emitted. */
int kvmmu_observer_register(struct kvmmu_observer *obs);
void kvmmu_observer_unregister(struct kvmmu_observer *obs);

const char *kvmmu_event_name(enum kvmmu_event_type type);

/*
 * The index the next event will get: events before it happened before now.
 * An acquire, paired with the numbering of every event (a release): what
 * the emitter of an event numbered below it did before the event (a
 * store's write) is visible to what the caller does next.
 */
u64 kvmmu_observe_index(void);
/*
 * Number events from 1 again.  Only while no other thread emits events: a
 * run that starts here numbers its events as the same run would in a fresh
 * process (check_begin() does it, so a violation's event_index and every
 * index a checker compares are the same in a run and in its replay).
 */
void kvmmu_observe_reset_index(void);
const char *kvmmu_span_name(enum kvmmu_span kind);
const char *kvmmu_misuse_name(enum kvmmu_frame_misuse kind);

extern u64 __kvmmu_observed_mask;

static __always_inline bool kvmmu_observing(enum kvmmu_event_type type)
{
	return unlikely(READ_ONCE(__kvmmu_observed_mask) & BIT_ULL(type));
}

void __kvmmu_observe(struct kvmmu_event *ev);

/*
 * kvmmu_observe(KVMMU_EV_X, member, .field = v, ...) - report an event.
 * @member names the payload in struct kvmmu_event; the fields are only
 * evaluated when someone observes the type.
 */
#define kvmmu_observe(_type, _member, ...)                                    \
	do {                                                                  \
		if (kvmmu_observing(_type)) {                                 \
			struct kvmmu_event __ev = {                           \
				.type = (_type),                              \
				._member = { __VA_ARGS__ },                   \
			};                                                    \
			__kvmmu_observe(&__ev);                               \
		}                                                             \
	} while (0)

/* The same with the payload given whole: kvmmu_observe_payload(KVMMU_EV_X, member, value). */
#define kvmmu_observe_payload(_type, _member, _value)                         \
	do {                                                                  \
		if (kvmmu_observing(_type)) {                                 \
			struct kvmmu_event __ev = {                           \
				.type = (_type),                              \
				._member = (_value),                          \
			};                                                    \
			__kvmmu_observe(&__ev);                               \
		}                                                             \
	} while (0)

#define kvmmu_span_begin(_kind, _arg)                                         \
	kvmmu_observe(KVMMU_EV_SPAN_BEGIN, span, .kind = (_kind), .arg = (_arg))
#define kvmmu_span_end(_kind, _arg)                                           \
	kvmmu_observe(KVMMU_EV_SPAN_END, span, .kind = (_kind), .arg = (_arg))

#endif /* KVMMU_COMPAT_OBSERVE_H */
