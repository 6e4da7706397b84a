// SPDX-License-Identifier: GPL-2.0
/*
 * fill_harness.bpf.c - unit tests only: cache.h's cache_store with an
 * invalidation of the key (what ps_invalidate does on another CPU: the
 * epoch moved, the key deleted from both maps) put at one of its race
 * points, so a test can run each interleaving of a fill and a write that
 * two CPUs could produce, one BPF_PROG_TEST_RUN each. Its maps are the
 * prestack object's (caches, epochs, stats).
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
};

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
#include "cache.h"

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

char LICENSE[] SEC("license") = "GPL";
