/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bigcache.h - values larger than PS_SMALL_VAL_MAX (docs/tc-reply.md).
 * Their replies never fit an XDP frame on veth, so they live in a map of
 * their own with fewer, larger entries (ps_cache_big) and only the TC
 * ingress path answers them; ps_cache keeps its 16384 small entries.
 * Invalidation deletes from both maps (cache.h), a flush moves the one
 * generation both are checked against; a fill of either size drops the
 * key's entry in the other (cache_store).
 */
#ifndef PS_BIGCACHE_H
#define PS_BIGCACHE_H

#include "helpers.h"

/* the maps, ps_cache_big and ps_big_fill, are in maps.h */

/* The large entry for k if it is of generation gen and not about to
 * expire (the rules of cache_lookup). */
static __always_inline struct ps_cache_big_val *
big_lookup(const struct ps_cache_key *k, __u32 gen, __u64 now_ns)
{
	struct ps_cache_big_val *v = bpf_map_lookup_elem(&ps_cache_big, k);

	if (!v)
		return NULL;
	if (v->gen != gen) {
		if (!(v->gen & PS_GEN_PENDING))
			bpf_map_delete_elem(&ps_cache_big, k);
		return NULL;
	}
	if (v->expires_ns && now_ns + PS_TTL_MARGIN_NS >= v->expires_ns) {
		stat_inc(PS_ST_TTL_REFUSED);
		bpf_map_delete_elem(&ps_cache_big, k);
		return NULL;
	}
	return v;
}

/*
 * Stage rlen reply bytes at off of skb as a large value (the caller
 * checked the fill rule, epoch, generation and TTL, and stores it with
 * cache_store). No checksum is kept: TC ingress sums each segment it
 * sends. Returns the staged value, or NULL.
 */
static __always_inline struct ps_cache_big_val *
big_stage(struct __sk_buff *skb, __u32 off, __u32 rlen, __u32 val_len,
	  __u64 expires)
{
	struct ps_cache_big_val *v;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&ps_big_fill, &zero);
	if (!v || rlen == 0 || val_len > PS_VAL_MAX)
		return NULL;
	/* the bound on the register the helper gets (BOUND_1_TO's power of
	 * two is above PS_BIG_REPLY_MAX, so check again after it) */
	BOUND_1_TO(rlen, 32768);
	if (rlen > PS_BIG_REPLY_MAX)
		return NULL;
	if (bpf_skb_load_bytes(skb, off, v->reply, rlen))
		return NULL;
	v->reply_len = rlen;
	v->csum = 0;
	v->val_len = val_len;
	v->filled_ns = bpf_ktime_get_ns();
	v->source = PS_FILL_TC;
	v->expires_ns = expires;
	return v;
}

#endif
