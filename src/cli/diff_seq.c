// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmmu diff: sequences of operations, from the text format of
 * docs/diff.md or from a seed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmmu/uapi.h>

#include "compiler.h"
#include "diff.h"

struct diff_name {
	const char *name;
	u64 value;
};

static const struct diff_name cap_names[] = {
	{ "USER_MEMORY", KVM_CAP_USER_MEMORY },
	{ "USER_MEMORY2", KVM_CAP_USER_MEMORY2 },
	{ "SYNC_MMU", KVM_CAP_SYNC_MMU },
	{ "READONLY_MEM", KVM_CAP_READONLY_MEM },
	{ "NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS },
	{ "MULTI_ADDRESS_SPACE", KVM_CAP_MULTI_ADDRESS_SPACE },
	{ "X86_SMM", KVM_CAP_X86_SMM },
	{ "MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 },
	{ "DIRTY_LOG_RING", KVM_CAP_DIRTY_LOG_RING },
	{ "DIRTY_LOG_RING_ACQ_REL", KVM_CAP_DIRTY_LOG_RING_ACQ_REL },
	{ "DIRTY_LOG_RING_WITH_BITMAP", KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP },
	{ "DISABLE_QUIRKS2", KVM_CAP_DISABLE_QUIRKS2 },
	{ "VM_TYPES", KVM_CAP_VM_TYPES },
	{ "PRE_FAULT_MEMORY", KVM_CAP_PRE_FAULT_MEMORY },
};

const u32 diff_caps[] = {
	KVM_CAP_USER_MEMORY, KVM_CAP_USER_MEMORY2, KVM_CAP_SYNC_MMU, KVM_CAP_READONLY_MEM,
	KVM_CAP_NR_MEMSLOTS, KVM_CAP_MULTI_ADDRESS_SPACE, KVM_CAP_X86_SMM,
	KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CAP_DIRTY_LOG_RING, KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
	KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, KVM_CAP_DISABLE_QUIRKS2, KVM_CAP_VM_TYPES,
	KVM_CAP_PRE_FAULT_MEMORY,
};
const int diff_nr_caps = ARRAY_SIZE(diff_caps);

static const struct diff_name mem_flag_names[] = {
	{ "LOG_DIRTY_PAGES", KVM_MEM_LOG_DIRTY_PAGES },
	{ "READONLY", KVM_MEM_READONLY },
	{ "GUEST_MEMFD", KVM_MEM_GUEST_MEMFD },
};

static const struct diff_name protect_names[] = {
	{ "MANUAL_PROTECT_ENABLE", KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	{ "INITIALLY_SET", KVM_DIRTY_LOG_INITIALLY_SET },
};

const char *diff_cap_name(u32 cap)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cap_names); i++) {
		if (cap_names[i].value == cap)
			return cap_names[i].name;
	}
	return NULL;
}

/* ---- parsing -------------------------------------------------------------------------------- */

static int __printf(3, 4) perr(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A number with an optional K/M/G/T/P/E suffix (powers of 2); no overflow. */
static int parse_number(const char *s, size_t n, u64 *out)
{
	static const char suffixes[] = "KMGTPE";
	char buf[64], *end;
	const char *suf;
	unsigned long long v;
	int shift = 0;

	if (!n || n >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno)
		return -EINVAL;
	if (*end) {
		suf = strchr(suffixes, toupper((unsigned char)*end));
		if (!suf || end[1])
			return -EINVAL;
		shift = 10 * (int)(suf - suffixes + 1);
		if (shift && v > (~0ULL >> shift))
			return -EINVAL;
	}
	*out = (u64)v << shift;
	return 0;
}

/* VALUE := TERM (('+'|'-') TERM)*; TERM := NUMBER | MAXGPA | NRSLOTS */
static int parse_value(const char *s, struct diff_value *v)
{
	int sign = 1;

	memset(v, 0, sizeof(*v));
	if (!*s)
		return -EINVAL;
	for (;;) {
		size_t n = strcspn(s, "+-");
		u64 num;

		if (n == 6 && !strncmp(s, "MAXGPA", 6))
			v->maxgpa += sign;
		else if (n == 7 && !strncmp(s, "NRSLOTS", 7))
			v->nrslots += sign;
		else if (!parse_number(s, n, &num))
			v->constant += sign > 0 ? num : -num;
		else
			return -EINVAL;
		s += n;
		if (!*s)
			return 0;
		sign = *s == '+' ? 1 : -1;
		s++;
	}
}

/* FLAGS := TERM ('|' TERM)*; TERM := a name of @names or a number */
static int parse_flags(const char *s, const struct diff_name *names, size_t nr, u64 *out)
{
	*out = 0;
	if (!*s)
		return -EINVAL;
	for (;;) {
		size_t n = strcspn(s, "|"), i;
		u64 num;

		for (i = 0; i < nr; i++) {
			if (strlen(names[i].name) == n && !strncmp(s, names[i].name, n))
				break;
		}
		if (i < nr)
			*out |= names[i].value;
		else if (!parse_number(s, n, &num))
			*out |= num;
		else
			return -EINVAL;
		s += n;
		if (!*s)
			return 0;
		s++;
	}
}

static int parse_cap(const char *s, u32 *cap)
{
	size_t i;
	u64 v;

	for (i = 0; i < ARRAY_SIZE(cap_names); i++) {
		if (!strcmp(s, cap_names[i].name)) {
			*cap = (u32)cap_names[i].value;
			return 0;
		}
	}
	if (parse_number(s, strlen(s), &v) || v > 0xffffffffULL)
		return -EINVAL;
	*cap = (u32)v;
	return 0;
}

/* Which key=value pairs an operation takes. */
enum {
	K_SLOT = 1 << 0, K_AS = 1 << 1, K_GPA = 1 << 2, K_SIZE = 1 << 3, K_FLAGS = 1 << 4,
	K_HVA = 1 << 5, K_UADDR = 1 << 6, K_FIRST = 1 << 7, K_NUM = 1 << 8, K_MASK = 1 << 9,
	K_ARGS = 1 << 10,
};

static const char *const key_names[] = {
	"slot", "as", "gpa", "size", "flags", "hva", "uaddr", "first", "num", "mask", "args",
};

static int parse_key(const char *word, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(key_names); i++) {
		if (strlen(key_names[i]) == n && !strncmp(word, key_names[i], n))
			return (int)i;
	}
	return -1;
}

#define MAX_WORDS 24

int diff_seq_parse_line(const char *text, struct diff_op *op, char *why, size_t why_len)
{
	char buf[512], *words[MAX_WORDS], *p, *save = NULL;
	int nr = 0, w, allowed, required, seen = 0;
	const char *verb;

	memset(op, 0, sizeof(*op));
	if (strlen(text) >= sizeof(buf))
		return perr(why, why_len, "line too long");
	strcpy(buf, text);
	p = strchr(buf, '#');
	if (p)
		*p = 0;
	for (p = strtok_r(buf, " \t\r", &save); p; p = strtok_r(NULL, " \t\r", &save)) {
		if (nr == MAX_WORDS)
			return perr(why, why_len, "too many words");
		words[nr++] = p;
	}
	if (!nr)
		return 1;
	verb = words[0];
	w = 1;
	if (!strcmp(verb, "region") || !strcmp(verb, "delete")) {
		op->kind = DIFF_OP_REGION;
		if (w < nr && !strcmp(words[w], "v1")) {
			op->v1 = true;
			w++;
		}
		allowed = K_SLOT | K_AS | K_GPA | K_FLAGS | K_HVA | K_UADDR;
		required = K_SLOT;
		if (verb[0] == 'r') {
			allowed |= K_SIZE;
			required |= K_GPA | K_SIZE;
		}
	} else if (!strcmp(verb, "get")) {
		op->kind = DIFF_OP_GET;
		allowed = required = K_SLOT;
		allowed |= K_AS;
	} else if (!strcmp(verb, "clear")) {
		op->kind = DIFF_OP_CLEAR;
		allowed = K_SLOT | K_AS | K_FIRST | K_NUM | K_MASK;
		required = K_SLOT | K_FIRST | K_NUM;
	} else if (!strcmp(verb, "enable-cap") || !strcmp(verb, "check-extension")) {
		op->kind = verb[0] == 'e' ? DIFF_OP_ENABLE_CAP : DIFF_OP_CHECK_EXT;
		if (w == nr || strchr(words[w], '='))
			return perr(why, why_len, "%s: which capability?", verb);
		if (parse_cap(words[w], &op->cap))
			return perr(why, why_len, "%s: unknown capability '%s'", verb, words[w]);
		w++;
		allowed = op->kind == DIFF_OP_ENABLE_CAP ? K_ARGS | K_FLAGS : 0;
		required = 0;
	} else if (!strcmp(verb, "write")) {
		op->kind = DIFF_OP_WRITE;
		if (w == nr)
			return perr(why, why_len, "write: which gpa?");
		for (; w < nr; w++) {
			struct diff_value *v = &op->gpas[op->nr_gpas];

			if (strchr(words[w], '='))
				return perr(why, why_len, "write takes gpas, not '%s'", words[w]);
			if (op->nr_gpas == DIFF_MAX_WRITE_GPAS)
				return perr(why, why_len, "write: at most %d gpas a line",
					    DIFF_MAX_WRITE_GPAS);
			if (parse_value(words[w], v) || v->nrslots)
				return perr(why, why_len, "write: bad gpa '%s'", words[w]);
			if (v->constant % 8)
				return perr(why, why_len, "write: gpa '%s' is not 8-byte aligned",
					    words[w]);
			op->nr_gpas++;
		}
		return 0;
	} else {
		return perr(why, why_len, "unknown operation '%s' (region, delete, get, clear, "
			    "write, enable-cap, check-extension)", verb);
	}

	for (; w < nr; w++) {
		char *eq = strchr(words[w], '='), *val;
		int k;
		u64 v;

		if (!eq)
			return perr(why, why_len, "%s: '%s' is not KEY=VALUE", verb, words[w]);
		k = parse_key(words[w], (size_t)(eq - words[w]));
		val = eq + 1;
		if (k < 0 || !(allowed & (1 << k)))
			return perr(why, why_len, "%s takes no '%.*s'", verb,
				    (int)(eq - words[w]), words[w]);
		if (seen & (1 << k))
			return perr(why, why_len, "%s: '%s' given twice", verb, key_names[k]);
		seen |= 1 << k;
		switch (1 << k) {
		case K_SLOT:
			if (parse_value(val, &op->slot))
				goto bad;
			break;
		case K_AS:
			if (parse_number(val, strlen(val), &v) || v > 0xffff)
				goto bad;
			op->as_id = (u32)v;
			break;
		case K_GPA:
			if (parse_value(val, &op->gpa))
				goto bad;
			break;
		case K_SIZE:
			if (parse_value(val, &op->size))
				goto bad;
			break;
		case K_FLAGS:
			if (op->kind == DIFF_OP_REGION ?
			    parse_flags(val, mem_flag_names, ARRAY_SIZE(mem_flag_names), &v) :
			    parse_flags(val, NULL, 0, &v))
				goto bad;
			if (v > 0xffffffffULL)
				goto bad;
			op->flags = (u32)v;
			break;
		case K_HVA:
		case K_UADDR:
			if ((seen & K_HVA) && (seen & K_UADDR))
				return perr(why, why_len, "%s: hva= or uaddr=, not both", verb);
			op->uaddr = (1 << k) == K_UADDR;
			if (parse_value(val, &op->hva))
				goto bad;
			break;
		case K_FIRST:
			if (parse_value(val, &op->first))
				goto bad;
			break;
		case K_NUM:
			if (parse_value(val, &op->num))
				goto bad;
			break;
		case K_MASK:
			if (!strcmp(val, "all")) {
				op->mask = DIFF_MASK_ALL;
			} else if (!strcmp(val, "none")) {
				op->mask = DIFF_MASK_NONE;
			} else {
				if (parse_number(val, strlen(val), &op->pattern))
					goto bad;
				op->mask = DIFF_MASK_PATTERN;
			}
			break;
		case K_ARGS:
			if (parse_flags(val, protect_names, ARRAY_SIZE(protect_names), &op->arg0))
				goto bad;
			break;
		}
		continue;
bad:
		return perr(why, why_len, "%s: bad %s '%s'", verb, key_names[k], val);
	}
	if ((seen & required) != required) {
		int k;

		for (k = 0; !((required & ~seen) & (1 << k)); k++)
			;
		return perr(why, why_len, "%s needs %s=", verb, key_names[k]);
	}
	return 0;
}

static int add_op(struct diff_seq *seq, const struct diff_op *op)
{
	if (seq->nr_ops == seq->cap_ops) {
		int cap = seq->cap_ops ? 2 * seq->cap_ops : 32;
		struct diff_op *ops = realloc(seq->ops, (size_t)cap * sizeof(*ops));

		if (!ops)
			return -ENOMEM;
		seq->ops = ops;
		seq->cap_ops = cap;
	}
	seq->ops[seq->nr_ops++] = *op;
	return 0;
}

#define DIFF_MAX_OPS 100000

int diff_seq_parse_file(const char *path, struct diff_seq *seq, char *why, size_t why_len)
{
	char line[1024], err[256];
	const char *base;
	int lineno = 0, r;
	FILE *f;

	memset(seq, 0, sizeof(*seq));
	base = strrchr(path, '/');
	snprintf(seq->name, sizeof(seq->name), "%s", base ? base + 1 : path);
	f = fopen(path, "r");
	if (!f)
		return perr(why, why_len, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct diff_op op;
		size_t n = strlen(line);

		lineno++;
		if (n && line[n - 1] == '\n') {
			line[--n] = 0;
		} else if (!feof(f)) {
			fclose(f);
			return perr(why, why_len, "%s:%d: line too long", path, lineno);
		}
		r = diff_seq_parse_line(line, &op, err, sizeof(err));
		if (r < 0) {
			fclose(f);
			return perr(why, why_len, "%s:%d: %s", path, lineno, err);
		}
		if (r)
			continue;
		op.line = lineno;
		if (seq->nr_ops == DIFF_MAX_OPS || add_op(seq, &op)) {
			fclose(f);
			return perr(why, why_len, "%s:%d: too many operations", path, lineno);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return perr(why, why_len, "%s: read error", path);
	}
	fclose(f);
	if (!seq->nr_ops)
		return perr(why, why_len, "%s: no operations", path);
	return 0;
}

void diff_seq_free(struct diff_seq *seq)
{
	free(seq->ops);
	seq->ops = NULL;
	seq->nr_ops = seq->cap_ops = 0;
}

/* ---- formatting ----------------------------------------------------------------------------- */

static void put(char **p, size_t *left, const char *fmt, ...) __printf(3, 4);
static void put(char **p, size_t *left, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!*left)
		return;
	va_start(ap, fmt);
	n = vsnprintf(*p, *left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= *left)
		n = (int)*left - 1;
	*p += n;
	*left -= (size_t)n;
}

static void put_value(char **p, size_t *left, const char *key, const struct diff_value *v)
{
	bool any = false;
	s64 i;

	if (key)
		put(p, left, " %s=", key);
	else
		put(p, left, " ");
	for (i = 0; i < llabs(v->maxgpa); i++, any = true)
		put(p, left, "%sMAXGPA", v->maxgpa < 0 ? "-" : any ? "+" : "");
	for (i = 0; i < llabs(v->nrslots); i++, any = true)
		put(p, left, "%sNRSLOTS", v->nrslots < 0 ? "-" : any ? "+" : "");
	if (!any)
		put(p, left, v->constant < 4096 ? "%llu" : "0x%llx",
		    (unsigned long long)v->constant);
	else if (v->constant && (s64)v->constant < 0)
		put(p, left, "-0x%llx", (unsigned long long)-v->constant);
	else if (v->constant)
		put(p, left, "+0x%llx", (unsigned long long)v->constant);
}

void diff_op_format(const struct diff_op *op, char *buf, size_t len)
{
	char *p = buf;
	size_t left = len;
	const char *cap;

	buf[0] = 0;
	switch (op->kind) {
	case DIFF_OP_REGION:
		put(&p, &left, "region%s", op->v1 ? " v1" : "");
		put_value(&p, &left, "slot", &op->slot);
		if (op->as_id)
			put(&p, &left, " as=%u", op->as_id);
		put_value(&p, &left, "gpa", &op->gpa);
		put_value(&p, &left, "size", &op->size);
		if (op->flags)
			put(&p, &left, " flags=0x%x", op->flags);
		put_value(&p, &left, op->uaddr ? "uaddr" : "hva", &op->hva);
		break;
	case DIFF_OP_GET:
	case DIFF_OP_CLEAR:
		put(&p, &left, op->kind == DIFF_OP_GET ? "get" : "clear");
		put_value(&p, &left, "slot", &op->slot);
		if (op->as_id)
			put(&p, &left, " as=%u", op->as_id);
		if (op->kind == DIFF_OP_GET)
			break;
		put_value(&p, &left, "first", &op->first);
		put_value(&p, &left, "num", &op->num);
		if (op->mask == DIFF_MASK_NONE)
			put(&p, &left, " mask=none");
		else if (op->mask == DIFF_MASK_PATTERN)
			put(&p, &left, " mask=0x%llx", (unsigned long long)op->pattern);
		break;
	case DIFF_OP_WRITE: {
		int i;

		put(&p, &left, "write");
		for (i = 0; i < op->nr_gpas; i++)
			put_value(&p, &left, NULL, &op->gpas[i]);
		break;
	}
	case DIFF_OP_ENABLE_CAP:
	case DIFF_OP_CHECK_EXT:
		cap = diff_cap_name(op->cap);
		put(&p, &left, "%s ", op->kind == DIFF_OP_ENABLE_CAP ? "enable-cap" :
		    "check-extension");
		if (cap)
			put(&p, &left, "%s", cap);
		else
			put(&p, &left, "%u", op->cap);
		if (op->kind == DIFF_OP_ENABLE_CAP)
			put(&p, &left, " args=0x%llx", (unsigned long long)op->arg0);
		if (op->kind == DIFF_OP_ENABLE_CAP && op->flags)
			put(&p, &left, " flags=0x%x", op->flags);
		break;
	}
}

/* ---- generated sequences -------------------------------------------------------------------- */

static u64 splitmix64(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 rnd(u64 *s, u64 n)
{
	return splitmix64(s) % n;
}

static struct diff_value cval(u64 c)
{
	return (struct diff_value){ .constant = c };
}

/* Mostly the ids a sequence uses; now and then the limits. */
static void random_slot(u64 *s, struct diff_op *op)
{
	static const s64 edges[][2] = { { 0, 1 }, { -1, 1 }, { 0, 0 }, { 32767, 0 },
					{ 65535, 0 } };
	u64 r = rnd(s, 100);

	op->as_id = 0;
	if (r < 85) {
		op->slot = cval(rnd(s, 4));
	} else if (r < 95) {
		u64 e = rnd(s, ARRAY_SIZE(edges));

		op->slot = (struct diff_value){ .constant = (u64)edges[e][0],
						.nrslots = edges[e][1] };
	} else {
		op->slot = cval(rnd(s, 4));
		op->as_id = 1 + (u32)rnd(s, 2);
	}
}

/*
 * What the generator last asked of each of the ids 0..3 (not what either
 * side did): a later region of the same id keeps its size and hva now and
 * then, so that slots move, change flags and are deleted, not only fail.
 */
struct random_state {
	u64 size[4];
};

static void random_region(u64 *s, struct random_state *st, struct diff_op *op)
{
	static const u64 gpas[] = { 0, 1ULL << 20, 2ULL << 20, 3ULL << 20, 4ULL << 20,
				    1ULL << 30, (4ULL << 30) - (2ULL << 20), 4ULL << 30 };
	static const u64 sizes[] = { 0, 4096, 8192, 64 << 10, 256 << 10, 1 << 20, 2 << 20,
				     (2 << 20) + 4096, 4 << 20 };
	static const u32 flags[] = { 0, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_LOG_DIRTY_PAGES,
				     KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY };
	u64 r;

	op->kind = DIFF_OP_REGION;
	op->v1 = rnd(s, 5) == 0;
	random_slot(s, op);
	r = rnd(s, 100);
	if (r < 85) {
		op->gpa = cval(gpas[rnd(s, ARRAY_SIZE(gpas))]);
	} else if (r < 92) {
		op->gpa = (struct diff_value){ .maxgpa = 1,
					       .constant = -(rnd(s, 3) << 20) };
	} else if (r < 96) {
		op->gpa = cval(gpas[rnd(s, ARRAY_SIZE(gpas))] + (1 + rnd(s, 4095)));
	} else {
		op->gpa = cval(-(rnd(s, 4) << 20));
	}
	r = rnd(s, 100);
	if (r < 45 && !op->as_id && op->slot.constant < 4 && !op->slot.nrslots &&
	    st->size[op->slot.constant])
		op->size = cval(st->size[op->slot.constant]);
	else if (r < 90)
		op->size = cval(sizes[rnd(s, ARRAY_SIZE(sizes))]);
	else if (r < 94)
		op->size = cval(sizes[rnd(s, ARRAY_SIZE(sizes))] | (1 + rnd(s, 4095)));
	else if (r < 97)
		op->size = cval(((1ULL << 31) - rnd(s, 2)) << 12);
	else
		op->size = cval(1ULL << (40 + rnd(s, 24)));
	r = rnd(s, 100);
	if (r < 93)
		op->flags = flags[rnd(s, ARRAY_SIZE(flags))];
	else
		op->flags = 1u << (2 + rnd(s, 30));
	if (!op->as_id && op->slot.constant < 4 && !op->slot.nrslots)
		st->size[op->slot.constant] = op->size.constant;
	/* Each id its own 16M of the arena, so that a move keeps its hva. */
	r = rnd(s, 100);
	if (r < 90)
		op->hva = cval((op->slot.constant & 3) << 24);
	else if (r < 95)
		op->hva = cval(rnd(s, 64) << 20 | (rnd(s, 2) ? 0 : 1 + rnd(s, 4095)));
	else
		op->uaddr = true, op->hva = cval((1ULL << 47) - (rnd(s, 4) << 12));
}

static void random_clear(u64 *s, struct diff_op *op)
{
	static const u64 firsts[] = { 0, 0, 0, 64, 128, 256, 512, 1, 63, 1024 };
	static const u64 nums[] = { 0, 1, 2, 63, 64, 65, 128, 192, 256, 512, 1024, 4096 };

	op->kind = DIFF_OP_CLEAR;
	random_slot(s, op);
	op->first = cval(firsts[rnd(s, ARRAY_SIZE(firsts))]);
	op->num = cval(nums[rnd(s, ARRAY_SIZE(nums))]);
	switch (rnd(s, 4)) {
	case 0:
		op->mask = DIFF_MASK_NONE;
		break;
	case 1:
		op->mask = DIFF_MASK_PATTERN;
		op->pattern = splitmix64(s);
		break;
	default:
		op->mask = DIFF_MASK_ALL;
	}
}

/*
 * Stores where the generator puts its slots: mostly in their first 64K,
 * now and then anywhere in their 4M, or at the top of guest-physical space.
 */
static void random_write(u64 *s, struct diff_op *op)
{
	static const u64 bases[] = { 0, 1ULL << 20, 2ULL << 20, 3ULL << 20, 4ULL << 20,
				     1ULL << 30, (4ULL << 30) - (2ULL << 20), 4ULL << 30 };
	int i;

	memset(op->gpas, 0, sizeof(op->gpas));
	op->kind = DIFF_OP_WRITE;
	op->nr_gpas = 1 + (int)rnd(s, 3);
	for (i = 0; i < op->nr_gpas; i++) {
		u64 r = rnd(s, 100), base = bases[rnd(s, ARRAY_SIZE(bases))];

		if (r < 60)
			op->gpas[i] = cval(base + (rnd(s, 1 << 13) << 3));
		else if (r < 95)
			op->gpas[i] = cval(base + (rnd(s, 1 << 19) << 3));
		else
			op->gpas[i] = (struct diff_value){ .maxgpa = 1, .constant = -8ULL };
	}
}

bool diff_seq_writes(const struct diff_seq *seq)
{
	int i;

	for (i = 0; i < seq->nr_ops; i++) {
		if (seq->ops[i].kind == DIFF_OP_WRITE)
			return true;
	}
	return false;
}

void diff_seq_random(struct diff_seq *seq, u64 seed, u64 index, int nr_ops, bool writes)
{
	u64 s = seed * 0x100000001b3ULL + index;
	/* Writes from a stream of their own: the other operations do not change. */
	u64 ws = s ^ 0x7772697465733a31ULL;
	struct random_state st = { { 0 } };
	int i;

	memset(seq, 0, sizeof(*seq));
	snprintf(seq->name, sizeof(seq->name), "random seed %llu #%llu",
		 (unsigned long long)seed, (unsigned long long)index);
	splitmix64(&s);
	for (i = 0; i < nr_ops; i++) {
		struct diff_op op = { .line = i + 1 };
		u64 r = rnd(&s, 100);

		if (r < 45) {
			random_region(&s, &st, &op);
		} else if (r < 68) {
			op.kind = DIFF_OP_GET;
			random_slot(&s, &op);
		} else if (r < 90) {
			random_clear(&s, &op);
		} else if (r < 97) {
			static const u64 args[] = { 0, 1, 2, 3, 3, 4, 7 };

			op.kind = DIFF_OP_ENABLE_CAP;
			op.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
			op.arg0 = args[rnd(&s, ARRAY_SIZE(args))];
			op.flags = rnd(&s, 20) ? 0 : 1;
		} else {
			/*
			 * The capabilities kvmmu is configured to match; the
			 * others are compared once per run (docs/diff.md).
			 */
			static const u32 caps[] = {
				KVM_CAP_USER_MEMORY, KVM_CAP_USER_MEMORY2, KVM_CAP_READONLY_MEM,
				KVM_CAP_NR_MEMSLOTS, KVM_CAP_MULTI_ADDRESS_SPACE, KVM_CAP_X86_SMM,
				KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CAP_SYNC_MMU,
				KVM_CAP_VM_TYPES, KVM_CAP_PRE_FAULT_MEMORY,
			};

			op.kind = DIFF_OP_CHECK_EXT;
			op.cap = caps[rnd(&s, ARRAY_SIZE(caps))];
		}
		if (writes && rnd(&ws, 100) < 12) {
			op = (struct diff_op){ .line = i + 1 };
			random_write(&ws, &op);
		}
		if (add_op(seq, &op))
			break;
	}
}
