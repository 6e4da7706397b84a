// SPDX-License-Identifier: GPL-2.0
/*
 * fill_harness.bpf.c - unit tests only: cache.h's cache_store with an
 * invalidation of the key (what ps_invalidate does on another CPU: the
 * epoch moved, the key deleted from both maps) put at one of its race
 * points, so a test can run each interleaving of a fill and a write that
 * two CPUs could produce, one BPF_PROG_TEST_RUN each; and the readers
 * of ps_ttl (fill_check) and ps_fillq (fq_take) with the element they
 * looked up taken by another key before they read it. Its maps are the
 * prestack object's (caches, epochs, TTLs, armings, stats).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prestack.h"
#include "helpers.h"

struct fh_in {
	struct ps_cache_key key; /* sealed (keyhash.h) by the test */
	__u32 race;  /* cache_store's race point to invalidate at, 0: none */
	__u32 epoch; /* the epoch the fill was armed at */
	__u32 gen;
	__u32 big;   /* store into ps_cache_big (a 9-byte stand-in value) */
	__u64 other; /* FH_RACE_TTL: the expiry the reused element holds */
	struct ps_fq_key fq; /* fh_fq: the arming to take */
};

/* race points of the readers (fh_in.race) */
#define FH_RACE_TTL 10 /* k's ps_ttl element: another key's expiry
			* (fh_in.other) written into it, k deleted */
#define FH_RACE_FQ  11 /* k's ps_fillq element: another arming (key "zzz")
			* written into it, k deleted */

/* what fh_check and fh_fq read */
struct fh_out {
	__u64 expires;
	struct ps_fq_val fqv;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fh_out);
} fh_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fh_in);
} fh_in SEC(".maps");

/* the small value to store, written by the test */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_cache_val);
} fh_val SEC(".maps");

static __always_inline void fh_race(__u32 point, const struct ps_cache_key *k);
#define PS_FILL_RACE(point, k) fh_race(point, k)
static __always_inline void fh_ttl_race(const struct ps_cache_key *k, __u64 *p);
#define PS_TTL_RACE(k, p) fh_ttl_race(k, p)
static __always_inline void fh_fq_race(const struct ps_fq_key *k, struct ps_fq_val *v);
#define PS_FQ_RACE(k, v) fh_fq_race(k, v)
#include "cache.h"

static __always_inline struct fh_in *fh_at(__u32 point)
{
	__u32 zero = 0;
	struct fh_in *t = bpf_map_lookup_elem(&fh_in, &zero);

	return t && t->race == point ? t : NULL;
}

/* another CPU deletes k and its element is the next key's (maps.h) */
static __always_inline void fh_ttl_race(const struct ps_cache_key *k, __u64 *p)
{
	struct fh_in *t = fh_at(FH_RACE_TTL);

	if (!t)
		return;
	*p = t->other;
	bpf_map_delete_elem(&ps_ttl, k);
}

/* 16,384 armings evict k; its element is the next arming's, key "zzz" */
static __always_inline void fh_fq_race(const struct ps_fq_key *k, struct ps_fq_val *v)
{
	if (!fh_at(FH_RACE_FQ))
		return;
	__builtin_memset(&v->key, 0, sizeof(v->key));
	v->key.len = 3;
	v->key.data[0] = 'z';
	v->key.data[1] = 'z';
	v->key.data[2] = 'z';
	ps_key_seal(&v->key);
	bpf_map_delete_elem(&ps_fillq, k);
}

static __always_inline void fh_race(__u32 point, const struct ps_cache_key *k)
{
	__u32 zero = 0, slot;
	struct fh_in *t = bpf_map_lookup_elem(&fh_in, &zero);

	if (!t || t->race != point)
		return;
	slot = ps_key_slot(k);
	ps_epoch_bump(&slot);
	bpf_map_delete_elem(&ps_cache, &k->hash);
	bpf_map_delete_elem(&ps_cache_big, k);
}

/* 1: published, 0: withdrawn, 2: no input */
SEC("tc")
int fh_store(struct __sk_buff *skb)
{
	struct ps_cache_big_val *bv;
	struct ps_cache_val *v;
	struct fh_in *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&fh_in, &zero);
	v = bpf_map_lookup_elem(&fh_val, &zero);
	if (!t || !v)
		return 2;
	if (!t->big)
		return cache_store(0, &t->key, v, t->gen, t->epoch) == 0;
	bv = bpf_map_lookup_elem(&ps_big_fill, &zero);
	if (!bv)
		return 2;
	__builtin_memcpy(bv->reply, v->reply, 16);
	bv->reply_len = v->reply_len;
	bv->val_len = v->val_len;
	bv->csum = 0;
	bv->filled_ns = v->filled_ns;
	bv->source = PS_FILL_TC;
	bv->expires_ns = 0;
	return cache_store(1, &t->key, bv, t->gen, t->epoch) == 0;
}

/* fill_check of fh_in.key armed now (its epoch, this generation): 1 with
 * the expiry to cache it with in fh_out, 0 skipped, 2 no input */
SEC("tc")
int fh_check(struct __sk_buff *skb)
{
	__u32 zero = 0, *e;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);
	struct fh_in *t = bpf_map_lookup_elem(&fh_in, &zero);
	struct fh_out *o = bpf_map_lookup_elem(&fh_out, &zero);

	if (!cfg || !t || !o)
		return 2;
	e = ps_epoch_of(&t->key);
	if (!e)
		return 2;
	return fill_check(cfg, &t->key, *e, cfg->cache_gen, ttl_now(),
			  &o->expires) == 0;
}

/* fq_take of fh_in.fq: 1 with the arming in fh_out, 0 none, 2 no input */
SEC("tc")
int fh_fq(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct fh_in *t = bpf_map_lookup_elem(&fh_in, &zero);
	struct fh_out *o = bpf_map_lookup_elem(&fh_out, &zero);

	if (!t || !o)
		return 2;
	return fq_take(&t->fq, &o->fqv) == 0;
}

char LICENSE[] SEC("license") = "GPL";
