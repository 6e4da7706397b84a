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
 *
 * Two rules every hook shares (XDP/TC here, poststack's sk_msg too):
 * - fill_allowed: only a connection that could have been answered fills
 *   (database 0, not in MULTI, trusted, authenticated when AUTH is on, not
 *   draining): a SELECTed connection's reply is another database's value;
 * - cache_store: a fill is inserted as pending (a generation no lookup
 *   matches), the epoch is re-read atomically, and only then is the entry
 *   published by a compare-and-swap of its generation; so an invalidation
 *   on another CPU between the check and the insert can never leave the
 *   old value behind (the argument is at cache_store, docs/guards-and-coherence.md).
 */
#ifndef PS_CACHE_H
#define PS_CACHE_H

#include "helpers.h"
#include "keyhash.h"
#include "csum.h"
#include "scratch.h"
#include "flow.h"
#include "bigcache.h"

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

/* slot by reference: the map key must be on the stack, and a copy of it
 * in each inlined caller would add to the deepest chain's frame (512 B) */
static __always_inline __u32 *ps_epoch_at(const __u32 *slot)
{
	return bpf_map_lookup_elem(&ps_epochs, slot);
}

static __always_inline __u32 *ps_epoch_of(const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k->data, k->len);

	return ps_epoch_at(&slot);
}

static __always_inline void ps_epoch_bump(const __u32 *slot)
{
	__u32 *e = ps_epoch_at(slot);

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

/*
 * Writes in flight. XDP invalidates a write's keys when the write arrives,
 * but Redis runs commands of different connections in its own order: a
 * GET that arrives after the SET may run before it and read the old value,
 * and its fill (armed after the invalidation) would cache that for good.
 * So a write's slot is in flight (ps_wr_inflight) from the end of its XDP
 * run until its reply passes TC egress, and no fill of a key whose slot is
 * in flight is stored; at the reply the epoch moves again before the count
 * drops, so a fill that saw the count at 0 sees the move. A client learns
 * the write is done only from that reply, after both. The count rises at
 * the end of the write's XDP run, after its epoch moved: a GET that ran
 * in Redis before the write and was armed after the move would need its
 * reply at TC egress before that run ends (a round trip through Redis
 * within one XDP run, which cannot be preempted).
 */
static __always_inline void wr_slot_add(__u32 slot, __u32 delta)
{
	__u32 *n = bpf_map_lookup_elem(&ps_wr_inflight, &slot);

	if (n)
		__sync_fetch_and_add(n, delta);
}

/* GETs cut before command position c of the segment. */
static __always_inline __u32 cut_before(const struct ps_scratch *s, __u32 c)
{
	__u64 m = c >= 64 ? s->cut_mask : s->cut_mask & ((1ull << c) - 1);
	__u32 n = 0, i;

	for (i = 0; i < PS_MAX_CMDS; i++) {
		if (!m)
			break;
		m &= m - 1;
		n++;
	}
	return n;
}

/* After the parse of a segment handed to Redis (XDP): each write it holds
 * is completed by reply cmds_passed + (commands before it that Redis
 * gets: not the GETs cut, cut.h) + 1; what does not fit the flow's ring
 * holds PS_WR_ANY instead. */
__noinline int wr_push(struct ps_flow *f, struct ps_scratch *s)
{
	__u32 i, idx, last = 0, over;

	/* a global function (verified once, its frame off guarded_data's) */
	if (!f || !s)
		return 0;
	over = s->wr_n > PS_WR_SCR;
	if (over)
		last = f->cmds_passed + s->ncmds - s->ncut + 1;
	for (i = 0; i < PS_WR_SCR; i++) {
		if (i >= s->wr_n)
			break;
		idx = f->cmds_passed + s->wr_cmd[i] - cut_before(s, s->wr_cmd[i]) + 1;
		if (f->wr_head - f->wr_tail < PS_WR_RING) {
			struct ps_wr_ent *w = &f->wr[f->wr_head & (PS_WR_RING - 1)];

			w->idx = idx;
			w->slot = s->wr_slot[i];
			wr_slot_add(w->slot, 1);
			/* the entry first, then the head that shows it to TC
			 * (XDP is the head's one writer) */
			asm volatile("" ::: "memory");
			f->wr_head++;
		} else if (!over) {
			over = 1;
			last = idx;
		} else if ((__s32)(idx - last) > 0) {
			last = idx;
		}
	}
	if (!over)
		return 0;
	stat_inc(PS_ST_WR_OVERFLOW);
	if (!f->wr_any) {
		wr_slot_add(PS_WR_ANY, 1);
		f->wr_any = 1;
		f->wr_any_idx = last;
	} else if ((__s32)(last - f->wr_any_idx) > 0) {
		f->wr_any_idx = last;
	}
	return 0;
}

/* A flow's replies reached reply index upto: the writes they complete
 * are no longer in flight. TC egress only. */
static __always_inline void wr_release(struct ps_flow *f, __u32 upto,
				       struct ps_scratch *s)
{
	__u32 i;

	for (i = 0; i < PS_WR_RING; i++) {
		struct ps_wr_ent *w = &f->wr[f->wr_tail & (PS_WR_RING - 1)];

		if (f->wr_tail == f->wr_head || (__s32)(upto - w->idx) < 0)
			break;
		ps_epoch_bump(&w->slot);
		wr_slot_add(w->slot, -1);
		f->wr_tail++;
	}
	if (f->wr_any && (__s32)(upto - f->wr_any_idx) >= 0) {
		/* the whole cache moves on before the count drops */
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
		f->wr_any = 0;
		wr_slot_add(PS_WR_ANY, -1);
	}
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
	__u32 slot, n;

	if (ps_key_from_buf(k, s, off, len))
		return;
	/* before the epoch moves: a fill that sees the new epoch sees the mark */
	if (ttl_change)
		ps_ttl_unknown(s, k);
	/* the epoch moves even if the key is not cached: a fill that is
	 * in flight for it must not land */
	slot = ps_key_slot(k->data, k->len);
	ps_epoch_bump(&slot);
	/* a write Redis will run: remembered for wr_push */
	if (s->wr_track) {
		n = s->wr_n;
		if (n < PS_WR_SCR) {
			s->wr_slot[n] = slot;
			s->wr_cmd[n] = s->ncmds;
		}
		s->wr_n = n + 1;
	}
	if (bpf_map_delete_elem(&ps_cache, k) == 0)
		s->invalidated++;
	if (bpf_map_delete_elem(&ps_cache_big, k) == 0)
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
		/* flushed since it was filled; a pending fill is its filler's */
		if (!(v->gen & PS_GEN_PENDING))
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

/* Flow flags under which a reply may not fill: the connection could not
 * have been answered, so its reply need not be db 0's value of the key
 * (SELECT), a real value at all (MULTI's +QUEUED), or one it may read. */
#define PS_FILL_NEVER (PS_F_UNTRUSTED | PS_F_OTHER_DB | PS_F_IN_MULTI | \
		       PS_F_REQ_DESYNC | PS_F_REP_DESYNC)

/*
 * The one fill rule: may a reply seen on a connection fill the shared
 * cache? never: the hook's own "could not be answered" flags, already
 * reduced to a boolean; authed: the connection's AUTH succeeded.
 */
static __always_inline int fill_allowed(const struct ps_config *cfg,
					int never, int authed)
{
	if (!(cfg->flags & PS_CFG_FILL) || (cfg->flags & PS_CFG_DRAIN) || never)
		return 0;
	return !(cfg->flags & PS_CFG_AUTH) || authed;
}

/* fill_allowed for an XDP/TC flow: an established one, by its flags */
static __always_inline int flow_may_fill(const struct ps_config *cfg,
					 const struct ps_flow *f)
{
	return f->state == PS_FLOW_EST &&
	       fill_allowed(cfg, !!(f->flags & PS_FILL_NEVER),
			    !!(f->flags & PS_F_AUTHED));
}

/*
 * Before a fill is built: the key's TTL state, epoch and generation still
 * allow it (armed at epoch/gen). Returns 0 and the expiry to cache it with
 * (0: none), -1 to skip. The epoch is checked again after the insert
 * (cache_store); this early check only saves building a doomed entry.
 */
static __always_inline int fill_check(const struct ps_config *cfg,
				      const struct ps_cache_key *k, __u32 epoch,
				      __u32 gen, __u64 now, __u64 *expires)
{
	__u64 *ttl, *lost = ttl_lost();
	__u32 *e, *n, *a, slot, any;

	*expires = 0;
	if (!lost || *lost)
		return -1;
	/* in flight first, then the epoch: wr_release moves the epoch
	 * before it lowers the count */
	slot = ps_key_slot(k->data, k->len);
	n = bpf_map_lookup_elem(&ps_wr_inflight, &slot);
	any = PS_WR_ANY;
	a = bpf_map_lookup_elem(&ps_wr_inflight, &any);
	if (!n || !a || __sync_val_compare_and_swap(n, 0, 0) != 0 ||
	    __sync_val_compare_and_swap(a, 0, 0) != 0) {
		stat_inc(PS_ST_FILL_INFLIGHT);
		return -1;
	}
	e = ps_epoch_at(&slot);
	if (!e || *e != epoch || cfg->cache_gen != gen)
		return -1;
	/* a key with a TTL is cached with its expiry, one whose TTL is
	 * being learnt is not cached */
	ttl = bpf_map_lookup_elem(&ps_ttl, k);
	if (ttl) {
		*expires = *ttl;
		if (*expires == PS_TTL_UNKNOWN || !ttl_ok(*expires, now))
			return -1;
	}
	return 0;
}

/*
 * Insert v (struct ps_cache_val or ps_cache_big_val: gen is the first
 * field of both) as k's entry in map, and drop k's entry in twin (the
 * other size's map: a value that changed size must not hit there), for a
 * fill armed at epoch of k's slot, of generation gen. Returns 0 when the
 * entry is published.
 *
 * Why no invalidation can be lost. An invalidation (ps_invalidate) moves
 * the epoch with an atomic add, then deletes k from both maps. Here the
 * entry is inserted pending (gen = PS_GEN_PENDING | token: no lookup
 * matches it, none deletes it), then the epoch is read by a
 * compare-and-swap (a full barrier; the slot's atomics have one order):
 * - the add came first: the read sees the new epoch, the entry is deleted
 *   and never published;
 * - the add came after the read: the invalidation's delete comes after
 *   the insert. If it is before the publishing CAS, the CAS finds the
 *   element gone (or reused: another token) and fails; if after, it
 *   deletes the published entry.
 * Either way no entry of ours outlives the invalidation; the published
 * one is visible only between the invalidation's add and delete, which
 * run before the write reaches the kernel, so no client can have seen
 * the write done (the window an entry filled long before has too).
 */
/* The unit tests put an invalidation at these points of cache_store
 * (tests/unit/bpf/fill_harness.bpf.c); nothing anywhere else. */
#ifndef PS_FILL_RACE
#define PS_FILL_RACE(point, k) do { } while (0)
#endif

static __always_inline int cache_store(void *map, void *twin,
				       const struct ps_cache_key *k, void *v,
				       __u32 gen, __u32 epoch)
{
	__u32 token = PS_GEN_PENDING | bpf_get_prandom_u32(), *e, *cur;

	*(__u32 *)v = token;
	bpf_map_delete_elem(twin, k);
	PS_FILL_RACE(1, k);
	if (bpf_map_update_elem(map, k, v, BPF_ANY))
		return -1;
	e = ps_epoch_of(k);
	if (!e || __sync_val_compare_and_swap(e, epoch, epoch) != epoch) {
		bpf_map_delete_elem(map, k);
		stat_inc(PS_ST_FILL_RACED);
		return -1;
	}
	PS_FILL_RACE(2, k);
	cur = bpf_map_lookup_elem(map, k);
	if (!cur || __sync_val_compare_and_swap(cur, token, gen) != token) {
		stat_inc(PS_ST_FILL_RACED);
		return -1;
	}
	return 0;
}

/* A GET of the segment's first key missed and is all the kernel owes on
 * this flow: its reply is the next one, remember the key and its epoch. */
static __always_inline void arm_fill(struct ps_flow *f, struct ps_scratch *s,
				     struct ps_config *cfg)
{
	struct ps_cache_key *k = &f->fill_key;
	__u32 *e;

	if (!flow_may_fill(cfg, f))
		return;
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
 * Store the reply at payload offset off of skb (rlen bytes, a bulk
 * string of vlen value bytes) as the value of key k, for a fill armed at
 * (epoch, gen), unless the flow may not fill (fill_allowed, checked
 * again: the flow may have changed since the GET), or the key may have
 * changed since its GET passed (epoch, generation) or has a TTL.
 */
static __always_inline void cache_fill_at(struct __sk_buff *skb,
					  struct ps_scratch *s,
					  const struct ps_config *cfg,
					  struct ps_flow *f,
					  const struct ps_cache_key *k,
					  __u32 epoch, __u32 gen, __u32 off,
					  __u32 rlen, __u32 vlen)
{
	struct ps_cache_val *v = &s->fill;
	__u32 plen, c1, c2, c3, sum = 0;
	__u64 expires = 0, now = bpf_ktime_get_ns();

	if (!(cfg->flags & PS_CFG_FILL))
		return;
	if (!flow_may_fill(cfg, f))
		goto skipped;
	if (vlen > PS_VAL_MAX || rlen == 0 || rlen > PS_BIG_REPLY_MAX - 3)
		goto skipped;
	/* a large value is kept only for the TC ingress path */
	if (rlen > PS_REPLY_MAX - 3 && !(cfg->flags & PS_CFG_TC_REPLY))
		goto skipped;
	if (fill_check(cfg, k, epoch, gen, now, &expires))
		goto skipped;

	if (rlen > PS_REPLY_MAX - 3) {
		struct ps_cache_big_val *bv;

		bv = big_stage(skb, off, rlen, vlen, expires);
		if (!bv || cache_store(&ps_cache_big, &ps_cache, k, bv, gen, epoch))
			goto skipped;
		stat_inc(PS_ST_FILLS);
		stat_inc(PS_ST_TC_FILLS);
		return;
	}
	BOUND_1_TO(rlen, PS_REPLY_BOUND);
	if (rlen > PS_REPLY_MAX)
		goto skipped;
	if (bpf_skb_load_bytes(skb, off, v->reply, rlen))
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
	v->reply_len = rlen;
	v->val_len = vlen;
	v->filled_ns = now;
	v->source = PS_FILL_TC;
	v->expires_ns = expires;
	if (cache_store(&ps_cache, &ps_cache_big, k, v, gen, epoch) == 0) {
		stat_inc(PS_ST_FILLS);
		return;
	}
skipped:
	stat_inc(PS_ST_FILL_SKIPPED);
}

/* The armed single GET (fill_key): the first reply of this segment
 * (s->first_*, where the reply parser found it) is its reply. */
static __always_inline void cache_fill(struct __sk_buff *skb, __u32 payload_off,
				       struct ps_scratch *s,
				       const struct ps_config *cfg,
				       struct ps_flow *f)
{
	flow_clear(f, PS_F_FILL_ARMED);
	if (!(cfg->flags & PS_CFG_FILL))
		return;
	if (!s->first_bulk || s->first_off == ~0u) {
		stat_inc(PS_ST_FILL_SKIPPED);
		return;
	}
	cache_fill_at(skb, s, cfg, f, &f->fill_key, f->fill_epoch, f->fill_gen,
		      payload_off + s->first_off, s->first_len, s->first_val_len);
}

/*
 * Pipelined fills. A GET handed to Redis behind others (in a batch with
 * a miss, or behind replies still owed) is answered by the reply
 * whose 1-based index among the flow's replies is cmds_passed + its
 * position + 1: the same pairing the writes in flight and `pending` rely
 * on. fq_arm (XDP) stores (key, epoch, generation) in ps_fillq under
 * that index and sets bit idx % 64 of the flow's fq_mask; the reply
 * parser at TC egress notes each armed reply it completes (rp_fq_note)
 * and fq_fill stores it under the same rules as a single GET's fill
 * (cache_fill_at). An index whose bit is taken by an older arming (64
 * replies back) is not armed; an armed reply that is not a complete
 * bulk string in one segment clears its arming unfilled.
 *
 * One GET per segment is armed, the first that missed, and only in a
 * segment of GETs alone (a batch with a miss, or a GET behind replies
 * still owed): arming every GET cost an LRU update at XDP and a fill at
 * TC per GET, 0.35x Redis alone on a pipelined GET:SET mix whose
 * segments are never answered (bench-pipelined), and segments with
 * writes are not answered yet, so their fills served nothing.
 */
__noinline int fq_arm(struct ps_scratch *s, struct ps_config *cfg,
		      struct ps_flow *f, const struct ps_pkt *p)
{
	struct ps_fq_key k = {};
	__u32 i, idx, *e;
	__u64 bit;

	if (!s || !cfg || !f || !p)
		return 0;
	i = s->first_miss;
	if (!(cfg->flags & PS_CFG_FILL) || !flow_may_fill(cfg, f) ||
	    i >= s->ngets || i >= PS_MAX_CMDS)
		return 0;
	/* the GETs cut before it never reach Redis (cut.h) */
	idx = f->cmds_passed + s->get_pos[i & (PS_MAX_CMDS - 1)] - s->fq_shift + 1;
	bit = 1ull << (idx & 63);
	if (f->fq_mask & bit) {
		stat_inc(PS_ST_FQ_UNARMED);
		return 0;
	}
	/* GET 0's key may have been read in place (buf not loaded) */
	if (i == 0 && s->key_ready)
		__builtin_memcpy(&s->fqv.key, &s->key, sizeof(s->key));
	else if (ps_key_from_buf(&s->fqv.key, s, s->key_off[i & (PS_MAX_CMDS - 1)],
				 s->key_len[i & (PS_MAX_CMDS - 1)]))
		return 0;
	/* a write to its slot in Redis's hands now: its fill would most
	 * likely be refused (fill_check), so the arming is not paid for */
	{
		__u32 slot = ps_key_slot(s->fqv.key.data, s->fqv.key.len);
		__u32 *n = bpf_map_lookup_elem(&ps_wr_inflight, &slot);

		if (!n || *n) {
			stat_inc(PS_ST_FQ_BUSY);
			return 0;
		}
	}
	e = ps_epoch_of(&s->fqv.key);
	if (!e)
		return 0;
	s->fqv.epoch = *e;
	s->fqv.gen = cfg->cache_gen;
	flow_key(&k.flow, p, 1);
	k.isn = f->cli_isn;
	k.idx = idx;
	if (bpf_map_update_elem(&ps_fillq, &k, &s->fqv, BPF_ANY)) {
		stat_inc(PS_ST_FQ_UNARMED);
		return 0;
	}
	/* the entry first, then the bit that shows it to TC */
	__sync_fetch_and_or(&f->fq_mask, bit);
	stat_inc(PS_ST_FQ_ARMED);
	return 0;
}

/* TC egress: the armed reply j this segment completed (s->fq_*), filled
 * and its arming cleared. Global: verified once for all j. */
__noinline int fq_fill_one(struct __sk_buff *skb, struct ps_scratch *s,
			   struct ps_flow *f, const struct ps_pkt *p, __u32 j)
{
	struct ps_fq_key k = {};
	struct ps_fq_val *v;
	struct ps_config *cfg;
	__u32 zero = 0, idx;

	if (!skb || !s || !f || !p || j >= PS_FQ_SEG)
		return 0;
	/* looked up, not passed: a BPF call takes at most five arguments */
	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	if (!cfg)
		return 0;
	idx = s->fq_idx[j];
	flow_key(&k.flow, p, 0);
	k.isn = f->cli_isn;
	k.idx = idx;
	v = bpf_map_lookup_elem(&ps_fillq, &k);
	if (v) {
		if (s->fq_len[j])
			cache_fill_at(skb, s, cfg, f, &v->key, v->epoch, v->gen,
				      p->payload_off + s->fq_off[j], s->fq_len[j],
				      s->fq_vlen[j]);
		else
			stat_inc(PS_ST_FILL_SKIPPED);
		bpf_map_delete_elem(&ps_fillq, &k);
	}
	__sync_fetch_and_and(&f->fq_mask, ~(1ull << (idx & 63)));
	return 0;
}

static __always_inline void fq_fill(struct __sk_buff *skb, struct ps_scratch *s,
				    struct ps_flow *f, const struct ps_pkt *p)
{
	__u32 j;

	for (j = 0; j < PS_FQ_SEG; j++) {
		if (j >= s->fq_n)
			break;
		fq_fill_one(skb, s, f, p, j);
	}
	/* armed replies past PS_FQ_SEG in one segment: not filled */
	if (s->fq_over)
		__sync_fetch_and_and(&f->fq_mask, ~s->fq_over);
}

#endif
