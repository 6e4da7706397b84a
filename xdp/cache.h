/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cache.h - the in-kernel cache: keys, lookup, fill from a reply at TC
 * egress, invalidation of one key, flush of all.
 *
 * Coherence rests on two numbers. ps_config.cache_gen is bumped to flush:
 * an entry filled under an older generation misses (and is deleted when
 * looked up). ps_epochs holds one counter per key-hash slot, moved by every
 * invalidation of a key in that slot: a GET that missed records its slot's
 * epoch (arm_fill), and the reply is stored only if the epoch has not moved
 * since, so a write that overtakes a fill in flight always wins.
 */
#ifndef PS_CACHE_H
#define PS_CACHE_H

#include "helpers.h"
#include "keyhash.h"
#include "csum.h"
#include "scratch.h"
#include "flow.h"

/* Build a zero-padded cache key from len bytes of buf at off. */
static __always_inline int ps_key_from_buf(struct ps_cache_key *k,
					   struct ps_scratch *s, __u32 off,
					   __u32 len)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (len == 0 || len > PS_KEY_MAX)
		return -1;
	BOUND_1_TO(len, PS_KEY_MAX);
	k->len = len;
	/* probe_read: a variable-length copy out of a map value; the
	 * destination bound (len <= PS_KEY_MAX) is what the verifier checks */
	if (bpf_probe_read_kernel(k->data, len, &s->buf[off & PS_BUF_MASK]))
		return -1;
	return 0;
}

static __always_inline __u32 *ps_epoch_of(const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k->data, k->len);

	return bpf_map_lookup_elem(&ps_epochs, &slot);
}

static __always_inline void ps_epoch_bump(const struct ps_cache_key *k)
{
	__u32 *e = ps_epoch_of(k);

	if (e)
		__sync_fetch_and_add(e, 1);
}

/* Flush the whole cache: every entry of an older generation misses. */
static __always_inline void ps_flush(struct ps_scratch *s)
{
	__u32 zero = 0;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);

	if (cfg)
		__sync_fetch_and_add(&cfg->cache_gen, 1);
	s->flushes++;
}

/* ps_lease[PS_LEASE_TTL_LOST]: a TTL mark was lost, fill nothing. */
static __always_inline __u64 *ttl_lost(void)
{
	__u32 idx = PS_LEASE_TTL_LOST;

	return bpf_map_lookup_elem(&ps_lease, &idx);
}

/* The key's TTL may change: not filled until the watcher learns it. If
 * the mark does not fit, no key can be trusted to have no TTL: flush and
 * stop filling. */
static __always_inline void ps_ttl_unknown(struct ps_scratch *s,
					   const struct ps_cache_key *k)
{
	__u64 unknown = PS_TTL_UNKNOWN, *lost;

	if (!bpf_map_update_elem(&ps_ttl, k, &unknown, BPF_ANY))
		return;
	lost = ttl_lost();
	if (lost)
		*lost = 1;
	ps_flush(s);
	stat_inc(PS_ST_TTL_LOST);
}

/* Invalidate the key at buf[off..off+len); ttl_change: the command may
 * change its TTL too. */
static __always_inline void ps_invalidate(struct ps_scratch *s, __u32 off,
					  __u32 len, int ttl_change)
{
	struct ps_cache_key *k = &s->key;

	if (ps_key_from_buf(k, s, off, len))
		return;
	/* before the epoch moves: a fill that sees the new epoch sees the mark */
	if (ttl_change)
		ps_ttl_unknown(s, k);
	/* the epoch moves even if the key is not cached: a fill that is
	 * in flight for it must not land */
	ps_epoch_bump(k);
	if (bpf_map_delete_elem(&ps_cache, k) == 0)
		s->invalidated++;
}

/* Is an expiry (0: none) far enough away to answer now? */
static __always_inline int ttl_ok(__u64 expires_ns, __u64 now_ns)
{
	return !expires_ns || now_ns + PS_TTL_MARGIN_NS < expires_ns;
}

/* The entry for k if it is of generation gen and not about to expire; an
 * older one is deleted, one near its expiry is left to Redis. */
static __always_inline struct ps_cache_val *
cache_lookup(struct ps_cache_key *k, __u32 gen, __u64 now_ns)
{
	struct ps_cache_val *v = bpf_map_lookup_elem(&ps_cache, k);

	if (!v)
		return NULL;
	if (v->gen != gen) {
		/* flushed since it was filled */
		bpf_map_delete_elem(&ps_cache, k);
		return NULL;
	}
	if (!ttl_ok(v->expires_ns, now_ns)) {
		stat_inc(PS_ST_TTL_REFUSED);
		bpf_map_delete_elem(&ps_cache, k);
		return NULL;
	}
	return v;
}

/* A GET of the segment's first key missed and is all the kernel owes on
 * this flow: its reply is the next one, remember the key and its epoch. */
static __always_inline void arm_fill(struct ps_flow *f, struct ps_scratch *s,
				     struct ps_config *cfg)
{
	struct ps_cache_key *k = &f->fill_key;
	__u32 *e;

	if (s->key_ready)
		__builtin_memcpy(k, &s->key, sizeof(*k));
	else if (ps_key_from_buf(k, s, s->key_off[0], s->key_len[0]))
		return;
	e = ps_epoch_of(k);
	if (!e)
		return;
	f->fill_epoch = *e;
	f->fill_gen = cfg->cache_gen;
	flow_set(f, PS_F_FILL_ARMED);
}

/* Sum n (multiple of 4, <= PS_CSUM_CHUNK) bytes at p into seed. */
static __always_inline __u32 csum_chunk(__u8 *p, __u32 n, __u32 seed)
{
	if (n == 0 || n > PS_CSUM_CHUNK)
		return seed;
	BOUND_1_TO(n, PS_CSUM_CHUNK);
	return bpf_csum_diff(NULL, 0, (__be32 *)p, n, seed);
}

/*
 * Store the first reply of this segment (s->first_*: where the reply
 * parser found it in the payload at payload_off of skb) as the value of
 * the armed key, unless the key may have changed since its GET passed
 * (epoch, generation) or has a TTL.
 */
static __always_inline void cache_fill(struct __sk_buff *skb, __u32 payload_off,
				       struct ps_scratch *s,
				       const struct ps_config *cfg,
				       struct ps_flow *f)
{
	struct ps_cache_val *v = &s->fill;
	__u32 rlen = s->first_len, plen, c1, c2, c3, sum = 0, *e;
	__u64 *ttl, *lost, expires = 0, now = bpf_ktime_get_ns();

	flow_clear(f, PS_F_FILL_ARMED);
	if (!(cfg->flags & PS_CFG_FILL))
		return;
	lost = ttl_lost();
	if (!lost || *lost)
		goto skipped;
	if (!s->first_bulk || s->first_off == ~0u ||
	    s->first_val_len > PS_VAL_MAX || rlen == 0 ||
	    rlen > PS_REPLY_MAX - 3)
		goto skipped;
	e = ps_epoch_of(&f->fill_key);
	if (!e || *e != f->fill_epoch || cfg->cache_gen != f->fill_gen)
		goto skipped;
	/* a key with a TTL is cached with its expiry, one whose TTL is
	 * being learnt is not cached */
	ttl = bpf_map_lookup_elem(&ps_ttl, &f->fill_key);
	if (ttl) {
		expires = *ttl;
		if (expires == PS_TTL_UNKNOWN || !ttl_ok(expires, now))
			goto skipped;
	}

	BOUND_1_TO(rlen, PS_REPLY_BOUND);
	if (rlen > PS_REPLY_MAX)
		goto skipped;
	if (bpf_skb_load_bytes(skb, payload_off + s->first_off, v->reply, rlen))
		goto skipped;
	/* csum_diff takes multiples of 4 and at most PS_CSUM_CHUNK bytes a
	 * call: zero the pad up to the next multiple of 4, then three chunks
	 * cover PS_REPLY_MAX */
	plen = (rlen + 3) & ~3u;
#pragma unroll
	for (c3 = 0; c3 < 3; c3++) {
		c1 = rlen + c3;
		if (c1 < plen && c1 < PS_REPLY_MAX)
			v->reply[c1] = 0;
	}
	c1 = plen > PS_CSUM_CHUNK ? PS_CSUM_CHUNK : plen;
	c2 = plen > 2 * PS_CSUM_CHUNK ? PS_CSUM_CHUNK :
	     (plen > PS_CSUM_CHUNK ? plen - PS_CSUM_CHUNK : 0);
	c3 = plen > 2 * PS_CSUM_CHUNK ? plen - 2 * PS_CSUM_CHUNK : 0;
	sum = csum_chunk(v->reply, c1, 0);
	sum = csum_chunk(v->reply + PS_CSUM_CHUNK, c2, sum);
	sum = csum_chunk(v->reply + 2 * PS_CSUM_CHUNK, c3, sum);
	v->csum = csum_fold32(sum);
	v->gen = f->fill_gen;
	v->reply_len = rlen;
	v->val_len = s->first_val_len;
	v->filled_ns = now;
	v->source = PS_FILL_TC;
	v->expires_ns = expires;
	if (bpf_map_update_elem(&ps_cache, &f->fill_key, v, BPF_ANY) == 0) {
		stat_inc(PS_ST_FILLS);
		return;
	}
skipped:
	stat_inc(PS_ST_FILL_SKIPPED);
}

#endif
