// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reverse-map lists (see rmap.h): one word for one entry, a chain of
 * descriptors for more, the head descriptor the only one not full.
 */
#include <stdlib.h>
#include <string.h>

#include "rmap.h"

static struct pte_list_desc *rmap_desc(unsigned long val)
{
	return (struct pte_list_desc *)(val & ~1UL);
}

static struct pte_list_desc *pte_list_desc_alloc(struct kvm *kvm,
						 struct kvm_mmu_memory_cache *cache)
{
	struct pte_list_desc *desc;

	/* The cache was topped up for the whole fault; running dry is a bug. */
	if (!WARN_ON_ONCE(!cache || !cache->nobjs)) {
		desc = cache->objects[--cache->nobjs];
	} else {
		desc = malloc(sizeof(*desc));
		if (!desc)
			abort();
	}
	memset(desc, 0, sizeof(*desc));
	atomic64_inc(&kvm->arch.nr_pte_list_descs);
	return desc;
}

static void pte_list_desc_free(struct kvm *kvm, struct pte_list_desc *desc)
{
	atomic64_dec(&kvm->arch.nr_pte_list_descs);
	free(desc);
}

int pte_list_add(struct kvm *kvm, struct kvm_mmu_memory_cache *cache, _Atomic u64 *spte,
		 struct kvm_rmap_head *rmap_head)
{
	struct pte_list_desc *desc;
	int count = 0;

	if (!rmap_head->val) {
		rmap_head->val = (unsigned long)spte;
	} else if (!(rmap_head->val & 1)) {
		/* One entry becomes a descriptor holding two. */
		desc = pte_list_desc_alloc(kvm, cache);
		desc->sptes[0] = (_Atomic u64 *)rmap_head->val;
		desc->sptes[1] = spte;
		desc->spte_count = 2;
		desc->tail_count = 0;
		rmap_head->val = (unsigned long)desc | 1;
		count = 1;
	} else {
		desc = rmap_desc(rmap_head->val);
		count = (int)(desc->tail_count + desc->spte_count);
		/* A full head gets a new, empty head in front of it. */
		if (desc->spte_count == PTE_LIST_EXT) {
			struct pte_list_desc *head = pte_list_desc_alloc(kvm, cache);

			head->more = desc;
			head->tail_count = (u32)count;
			head->spte_count = 0;
			desc = head;
			rmap_head->val = (unsigned long)desc | 1;
		}
		desc->sptes[desc->spte_count++] = spte;
	}
	return count;
}

/* Fill the hole at @desc->sptes[@i] with the head's last entry. */
static void pte_list_desc_remove_entry(struct kvm *kvm, struct kvm_rmap_head *rmap_head,
				       struct pte_list_desc *desc, int i)
{
	struct pte_list_desc *head = rmap_desc(rmap_head->val);
	int j = (int)head->spte_count - 1;

	/*
	 * Tails are full, so the entry to move is the head's last.  A
	 * mismatch in the counts means a corrupted chain.
	 */
	if (KVM_BUG_ON(j < 0, kvm))
		return;
	desc->sptes[i] = head->sptes[j];
	head->sptes[j] = NULL;
	head->spte_count--;
	if (head->spte_count)
		return;

	/* The head is empty: the next descriptor (full) takes its place. */
	if (!head->more)
		rmap_head->val = 0;
	else
		rmap_head->val = (unsigned long)head->more | 1;
	pte_list_desc_free(kvm, head);
}

void pte_list_remove(struct kvm *kvm, _Atomic u64 *spte, struct kvm_rmap_head *rmap_head)
{
	struct pte_list_desc *desc;
	int i;

	if (KVM_BUG_ON(!rmap_head->val, kvm))
		return;
	if (!(rmap_head->val & 1)) {
		if (KVM_BUG_ON((_Atomic u64 *)rmap_head->val != spte, kvm))
			return;
		rmap_head->val = 0;
		return;
	}
	for (desc = rmap_desc(rmap_head->val); desc; desc = desc->more) {
		for (i = 0; i < (int)desc->spte_count; i++) {
			if (desc->sptes[i] == spte) {
				pte_list_desc_remove_entry(kvm, rmap_head, desc, i);
				return;
			}
		}
	}
	KVM_BUG_ON(true, kvm);
}

void pte_list_destroy(struct kvm *kvm, struct kvm_rmap_head *rmap_head)
{
	struct pte_list_desc *desc, *next;

	if (rmap_head->val & 1) {
		for (desc = rmap_desc(rmap_head->val); desc; desc = next) {
			next = desc->more;
			pte_list_desc_free(kvm, desc);
		}
	}
	rmap_head->val = 0;
}

unsigned int pte_list_count(const struct kvm_rmap_head *rmap_head)
{
	struct pte_list_desc *desc;

	if (!rmap_head->val)
		return 0;
	if (!(rmap_head->val & 1))
		return 1;
	desc = rmap_desc(rmap_head->val);
	return desc->tail_count + desc->spte_count;
}

_Atomic u64 *rmap_get_first(const struct kvm_rmap_head *rmap_head, struct rmap_iterator *iter)
{
	if (!rmap_head->val)
		return NULL;
	if (!(rmap_head->val & 1)) {
		iter->desc = NULL;
		return (_Atomic u64 *)rmap_head->val;
	}
	iter->desc = rmap_desc(rmap_head->val);
	iter->pos = 0;
	return iter->desc->sptes[0];
}

_Atomic u64 *rmap_get_next(struct rmap_iterator *iter)
{
	if (!iter->desc)
		return NULL;
	if (iter->pos < PTE_LIST_EXT - 1) {
		++iter->pos;
		if (iter->pos < (int)iter->desc->spte_count && iter->desc->sptes[iter->pos])
			return iter->desc->sptes[iter->pos];
	}
	iter->desc = iter->desc->more;
	if (iter->desc) {
		iter->pos = 0;
		/* Descriptors after the head are full. */
		return iter->desc->sptes[0];
	}
	return NULL;
}
