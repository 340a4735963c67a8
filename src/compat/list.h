/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Doubly linked lists (list_head) and hash-bucket lists (hlist) with the
 * kernel's names and semantics.  Not thread-safe: the owner's lock protects
 * them.  RCU-safe variants are in rculist.h.
 */
#ifndef KVMMU_COMPAT_LIST_H
#define KVMMU_COMPAT_LIST_H

#include "atomic.h"
#include "compiler.h"

struct list_head {
	struct list_head *next, *prev;
};

struct hlist_head {
	struct hlist_node *first;
};

struct hlist_node {
	struct hlist_node *next, **pprev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	WRITE_ONCE(list->next, list);
	list->prev = list;
}

static inline void __list_add(struct list_head *new, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = new;
	new->next = next;
	new->prev = prev;
	WRITE_ONCE(prev->next, new);
}

static inline void list_add(struct list_head *new, struct list_head *head)
{
	__list_add(new, head, head->next);
}

static inline void list_add_tail(struct list_head *new, struct list_head *head)
{
	__list_add(new, head->prev, head);
}

static inline void __list_del(struct list_head *prev, struct list_head *next)
{
	next->prev = prev;
	WRITE_ONCE(prev->next, next);
}

/* Poison values make a use of a deleted entry fault at once. */
#define LIST_POISON1 ((struct list_head *)0x100)
#define LIST_POISON2 ((struct list_head *)0x122)

static inline void list_del(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
	entry->next = LIST_POISON1;
	entry->prev = LIST_POISON2;
}

static inline void list_del_init(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
	INIT_LIST_HEAD(entry);
}

static inline void list_move(struct list_head *list, struct list_head *head)
{
	__list_del(list->prev, list->next);
	list_add(list, head);
}

static inline void list_move_tail(struct list_head *list,
				  struct list_head *head)
{
	__list_del(list->prev, list->next);
	list_add_tail(list, head);
}

static inline bool list_empty(const struct list_head *head)
{
	return READ_ONCE(head->next) == head;
}

static inline bool list_is_singular(const struct list_head *head)
{
	return !list_empty(head) && head->next == head->prev;
}

/* Move every entry of @list to the front of @head; @list is reinitialised. */
static inline void list_splice_init(struct list_head *list,
				    struct list_head *head)
{
	if (!list_empty(list)) {
		struct list_head *first = list->next, *last = list->prev;
		struct list_head *at = head->next;

		first->prev = head;
		head->next = first;
		last->next = at;
		at->prev = last;
		INIT_LIST_HEAD(list);
	}
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_last_entry(ptr, type, member) list_entry((ptr)->prev, type, member)
#define list_first_entry_or_null(ptr, type, member)                           \
	(list_empty(ptr) ? NULL : list_first_entry(ptr, type, member))
#define list_next_entry(pos, member)                                          \
	list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_prev_entry(pos, member)                                          \
	list_entry((pos)->member.prev, __typeof__(*(pos)), member)

#define list_for_each(pos, head)                                              \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#define list_for_each_entry(pos, head, member)                                \
	for ((pos) = list_first_entry(head, __typeof__(*(pos)), member);      \
	     &(pos)->member != (head); (pos) = list_next_entry(pos, member))

#define list_for_each_entry_reverse(pos, head, member)                        \
	for ((pos) = list_last_entry(head, __typeof__(*(pos)), member);       \
	     &(pos)->member != (head); (pos) = list_prev_entry(pos, member))

/* Safe against removal of the current entry. */
#define list_for_each_entry_safe(pos, n, head, member)                        \
	for ((pos) = list_first_entry(head, __typeof__(*(pos)), member),      \
	    (n) = list_next_entry(pos, member);                               \
	     &(pos)->member != (head);                                        \
	     (pos) = (n), (n) = list_next_entry(n, member))

/* The same, from the tail. */
#define list_for_each_entry_safe_reverse(pos, n, head, member)                \
	for ((pos) = list_last_entry(head, __typeof__(*(pos)), member),       \
	    (n) = list_prev_entry(pos, member);                               \
	     &(pos)->member != (head);                                        \
	     (pos) = (n), (n) = list_prev_entry(n, member))

/* ---- RCU lists ----------------------------------------------------------
 *
 * Writers serialise among themselves (a lock); readers walk with
 * list_for_each_entry_rcu() inside rcu_read_lock().  Every store to a
 * ->next that a reader may be following is a release store, every reader
 * load an acquire load: a node is fully initialised before it can be
 * reached.  A deleted node keeps its ->next, so a reader standing on it
 * can go on; it may be freed only after a grace period.
 */

#define list_next_rcu(p) __atomic_load_n(&(p)->next, __ATOMIC_ACQUIRE)

static inline void __list_add_rcu(struct list_head *new, struct list_head *prev,
				  struct list_head *next)
{
	new->next = next;
	new->prev = prev;
	/* Release: pairs with the acquire in list_next_rcu(). */
	__atomic_store_n(&prev->next, new, __ATOMIC_RELEASE);
	next->prev = new;
}

static inline void list_add_rcu(struct list_head *new, struct list_head *head)
{
	__list_add_rcu(new, head, head->next);
}

static inline void list_add_tail_rcu(struct list_head *new, struct list_head *head)
{
	__list_add_rcu(new, head->prev, head);
}

static inline void list_del_rcu(struct list_head *entry)
{
	struct list_head *prev = entry->prev, *next = entry->next;

	next->prev = prev;
	/* Release: pairs with the acquire in list_next_rcu(). */
	__atomic_store_n(&prev->next, next, __ATOMIC_RELEASE);
	entry->prev = NULL;
}

#define list_entry_rcu(ptr, type, member) container_of(ptr, type, member)

#define list_for_each_entry_rcu(pos, head, member)                            \
	for ((pos) = list_entry_rcu(list_next_rcu(head), __typeof__(*(pos)), member); \
	     &(pos)->member != (head);                                        \
	     (pos) = list_entry_rcu(list_next_rcu(&(pos)->member),            \
				    __typeof__(*(pos)), member))

/* The entry after @ptr in the list at @head, or NULL at the end. */
#define list_next_or_null_rcu(head, ptr, type, member)                        \
	({                                                                    \
		struct list_head *__head = (head);                            \
		struct list_head *__next = list_next_rcu(ptr);                \
		__next != __head ? list_entry_rcu(__next, type, member) : NULL; \
	})

#define list_first_or_null_rcu(head, type, member)                            \
	list_next_or_null_rcu(head, head, type, member)

/* ---- hlist -------------------------------------------------------------- */

#define HLIST_HEAD_INIT { .first = NULL }

static inline void INIT_HLIST_HEAD(struct hlist_head *h)
{
	h->first = NULL;
}

static inline void INIT_HLIST_NODE(struct hlist_node *n)
{
	n->next = NULL;
	n->pprev = NULL;
}

static inline bool hlist_unhashed(const struct hlist_node *n)
{
	return !n->pprev;
}

static inline bool hlist_empty(const struct hlist_head *h)
{
	return !READ_ONCE(h->first);
}

static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	n->next = first;
	if (first)
		first->pprev = &n->next;
	WRITE_ONCE(h->first, n);
	n->pprev = &h->first;
}

static inline void __hlist_del(struct hlist_node *n)
{
	struct hlist_node *next = n->next;
	struct hlist_node **pprev = n->pprev;

	WRITE_ONCE(*pprev, next);
	if (next)
		next->pprev = pprev;
}

static inline void hlist_del_init(struct hlist_node *n)
{
	if (!hlist_unhashed(n)) {
		__hlist_del(n);
		INIT_HLIST_NODE(n);
	}
}

#define hlist_entry(ptr, type, member) container_of(ptr, type, member)
#define hlist_entry_safe(ptr, type, member)                                   \
	({                                                                    \
		__typeof__(ptr) ____ptr = (ptr);                              \
		____ptr ? hlist_entry(____ptr, type, member) : NULL;          \
	})

#define hlist_for_each_entry(pos, head, member)                               \
	for ((pos) = hlist_entry_safe((head)->first, __typeof__(*(pos)),      \
				      member);                                \
	     (pos);                                                           \
	     (pos) = hlist_entry_safe((pos)->member.next, __typeof__(*(pos)), \
				      member))

#define hlist_for_each_entry_safe(pos, n, head, member)                       \
	for ((pos) = hlist_entry_safe((head)->first, __typeof__(*(pos)),      \
				      member);                                \
	     (pos) && ({                                                      \
		     (n) = (pos)->member.next;                                \
		     1;                                                       \
	     });                                                              \
	     (pos) = hlist_entry_safe(n, __typeof__(*(pos)), member))

#endif /* KVMMU_COMPAT_LIST_H */
