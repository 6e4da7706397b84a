/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cache.h - the in-kernel cache: keys, lookup, fill from a reply at TC
 * egress, invalidation of one key, flush of all.
 *
 * Coherence rests on two numbers. ps_config.cache_gen is bumped to flush:
 * an entry filled under an older generation misses (and is deleted when
 * looked up). ps_epochs holds one counter per key-hash slot (ps_key_slot:
 * bits of the key's 64-bit hash, keyhash.h), moved by every
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

/* Build a zero-padded cache key from len bytes of buf at off, with its
 * hash (taken here, once: every later use reads k->hash). */
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
	ps_key_seal(k);
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
	__u32 slot = ps_key_slot(k);

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

static __always_inline void wr_slot_add(__u32 slot, __u32 delta)
{
	__u32 *n = bpf_map_lookup_elem(&ps_wr_inflight, &slot);

	if (n)
		__sync_fetch_and_add(n, delta);
}

/*
 * A write Redis will run, at its epoch slot (PS_WR_ANY: one that may
 * change any key), the pos-th command of the segment (0-based): counted
 * in flight now, remembered for wr_push, which moves it to the flow's
 * ring (or, not fitting there, to the flow's PS_WR_ANY hold). Counted
 * before the caller moves the epoch: whoever reads the epoch and then
 * finds the count at 0 (the watcher, before it asks a TTL) knows every
 * write that moved it has been answered. Returns 1 when it was counted.
 */
static __always_inline int wr_record(struct ps_scratch *s, __u32 slot, __u32 pos)
{
	__u32 n = s->wr_n;

	if (!s->wr_track)
		return 0;
	s->wr_n = n + 1;
	if (n >= PS_WR_SCR)
		return 0;
	s->wr_slot[n] = slot;
	s->wr_cmd[n] = pos;
	wr_slot_add(slot, 1);
	return 1;
}

/*
 * A flush for the pos-th command of the segment, which Redis will run:
 * in flight like a write (no fill anywhere) until its reply, when the
 * cache is flushed again (wr_release). Otherwise a GET that arrives after
 * a FLUSHALL but runs in Redis before it could fill the old value after
 * the flush.
 */
static __always_inline void ps_flush_cmd(struct ps_scratch *s, __u32 pos)
{
	if (wr_record(s, PS_WR_ANY, pos))
		stat_inc(PS_ST_WR_FLUSH_HELD);
	ps_flush(s);
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
/*
 * A flow's writes in flight, wherever the flow keeps them: XDP/TC's
 * struct ps_flow and the side path's struct ps_side_flow hold the same
 * ring (XDP or the side path's ingress pushes at head, egress pops at
 * tail) and PS_WR_ANY hold under their own names.
 */
struct ps_wr_view {
	struct ps_wr_ent *ent;  /* PS_WR_RING entries */
	__u32 *head, *tail;
	__u32 *any, *any_idx;   /* holding PS_WR_ANY until reply any_idx */
};

/* GETs cut before command position c of the segment (cut.h; none on
 * the side path, which cuts nothing). */
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

/* After the parse of a segment handed to Redis: each write it holds is
 * completed by reply base + (commands before it that Redis gets: not the
 * GETs cut) + 1, base being the flow's commands before the segment; what does not fit the ring holds
 * PS_WR_ANY instead (its own count, recorded by wr_record, is dropped). */
static __always_inline void wr_push_view(const struct ps_wr_view *v, __u32 base,
					 struct ps_scratch *s)
{
	__u32 i, idx, last = 0, over, slot;

	over = s->wr_n > PS_WR_SCR;
	if (over)
		last = base + s->ncmds - s->ncut + 1;
	for (i = 0; i < PS_WR_SCR; i++) {
		if (i >= s->wr_n)
			break;
		idx = base + s->wr_cmd[i] - cut_before(s, s->wr_cmd[i]) + 1;
		slot = s->wr_slot[i];
		if (*v->head - *v->tail < PS_WR_RING) {
			struct ps_wr_ent *w = &v->ent[*v->head & (PS_WR_RING - 1)];

			w->idx = idx;
			w->slot = slot;
			/* the entry first, then the head that shows it to
			 * egress (the parse is the head's one writer) */
			asm volatile("" ::: "memory");
			*v->head += 1;
			continue;
		}
		/* held by PS_WR_ANY below instead */
		wr_slot_add(slot, -1);
		if (!over) {
			over = 1;
			last = idx;
		} else if ((__s32)(idx - last) > 0) {
			last = idx;
		}
	}
	if (!over)
		return;
	stat_inc(PS_ST_WR_OVERFLOW);
	if (!*v->any) {
		wr_slot_add(PS_WR_ANY, 1);
		*v->any = 1;
		*v->any_idx = last;
	} else if ((__s32)(last - *v->any_idx) > 0) {
		*v->any_idx = last;
	}
}

/* XDP's: a global function (verified once, its frame off guarded_data's) */
__noinline int wr_push(struct ps_flow *f, struct ps_scratch *s)
{
	struct ps_wr_view v;

	if (!f || !s)
		return 0;
	v.ent = f->wr;
	v.head = &f->wr_head;
	v.tail = &f->wr_tail;
	v.any = &f->wr_any;
	v.any_idx = &f->wr_any_idx;
	wr_push_view(&v, f->cmds_passed, s);
	return 0;
}

/* A flow's replies reached reply index upto: the writes they complete
 * are no longer in flight; a flushing command's flushes the cache again
 * (and any fill it overtook). Egress only. */
static __always_inline void wr_release_view(const struct ps_wr_view *v, __u32 upto,
					    struct ps_scratch *s)
{
	__u32 i;

	for (i = 0; i < PS_WR_RING; i++) {
		struct ps_wr_ent *w = &v->ent[*v->tail & (PS_WR_RING - 1)];

		if (*v->tail == *v->head || (__s32)(upto - w->idx) < 0)
			break;
		/* the epoch (or, for PS_WR_ANY, the generation) moves
		 * before the count drops */
		if (w->slot == PS_WR_ANY) {
			ps_flush(s);
			stat_inc(PS_ST_FLUSHES);
		} else {
			ps_epoch_bump(&w->slot);
		}
		wr_slot_add(w->slot, -1);
		*v->tail += 1;
	}
	if (*v->any && (__s32)(upto - *v->any_idx) >= 0) {
		/* the whole cache moves on before the count drops */
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
		*v->any = 0;
		wr_slot_add(PS_WR_ANY, -1);
	}
}

static __always_inline void wr_release(struct ps_flow *f, __u32 upto,
				       struct ps_scratch *s)
{
	struct ps_wr_view v = {
		.ent = f->wr, .head = &f->wr_head, .tail = &f->wr_tail,
		.any = &f->wr_any, .any_idx = &f->wr_any_idx,
	};

	wr_release_view(&v, upto, s);
}

/* ---- TTLs (docs/guards-and-coherence.md, "TTLs from the requests") ---- */

static __always_inline __u64 *lease_at(__u32 idx)
{
	return bpf_map_lookup_elem(&ps_lease, &idx);
}

/*
 * Nothing may be filled: the TTL of some key we cannot name may have
 * changed (until the watcher has scanned every TTL: PS_LEASE_TTL_SEEN
 * catches up with PS_LEASE_TTL_LOST), or a side-path connection could
 * not be tracked.
 */
static __always_inline int ttl_fill_stopped(const struct ps_config *cfg)
{
	__u64 *lost = lease_at(PS_LEASE_TTL_LOST), *seen = lease_at(PS_LEASE_TTL_SEEN),
	      *full = lease_at(PS_LEASE_SIDE_FULL);

	if (!lost || !seen || !full || *full)
		return 1;
	/* without the watcher (--no-coherence) nobody learns them again:
	 * TTLs of what XDP does not see are not looked after there */
	return (cfg->flags & PS_CFG_LEASE) && *lost != *seen;
}

/* A key's TTL may have changed and we cannot say which key's: fills
 * stop until the watcher has learnt every TTL again. */
static __always_inline void ttl_rescan(void)
{
	__u64 *lost = lease_at(PS_LEASE_TTL_LOST);

	if (lost)
		__sync_fetch_and_add(lost, 1);
	stat_inc(PS_ST_TTL_RESCANS);
}

/* Ask the watcher to learn k's TTL from Redis once k's writes in flight
 * are answered (it waits for ps_wr_inflight); a full queue: rescan. */
static __always_inline void ttl_ask(const struct ps_cache_key *k)
{
	if (bpf_ringbuf_output(&ps_ttl_ask, (void *)k, sizeof(*k), 0))
		ttl_rescan();
	else
		stat_inc(PS_ST_TTL_ASKED);
}

/* The key's TTL may change: not filled until the watcher learns it. If
 * the mark does not fit, no key can be trusted to have no TTL: flush and
 * stop filling until the watcher has scanned them. */
static __always_inline void ps_ttl_unknown(struct ps_scratch *s,
					   const struct ps_cache_key *k)
{
	s->ttl_args.val = PS_TTL_UNKNOWN;
	if (!bpf_map_update_elem(&ps_ttl, k, &s->ttl_args.val, BPF_ANY))
		return;
	ttl_rescan();
	ps_flush(s);
	stat_inc(PS_ST_TTL_LOST);
}

/* The unit tests put a reuse of k's ps_ttl element at this point of
 * ttl_read (tests/unit/bpf/fill_harness.bpf.c); nothing anywhere else. */
#ifndef PS_TTL_RACE
#define PS_TTL_RACE(k, p) do { } while (0)
#endif

/*
 * k's TTL mark: 1 with *val (an expiry or PS_TTL_UNKNOWN), 0 when k has
 * none, -1 when its element changed hands under the read. A deleted
 * key's element is the next insert's at once (maps.h): loaded after
 * another CPU deleted k and inserted another key, it holds that key's
 * expiry. So k is looked up again after the load: the same element
 * still under k held k's mark when it was read (k back in it would be a
 * write of k, and so a moved epoch, which every fill checks after it
 * inserts; ttl_record reads k's own current mark then). Counted
 * ttl_moved; the callers take -1 as "not known".
 */
static __always_inline int ttl_read(const struct ps_cache_key *k, __u64 *val)
{
	__u64 *p = bpf_map_lookup_elem(&ps_ttl, k);

	if (!p)
		return 0;
	PS_TTL_RACE(k, p);
	*val = *(volatile __u64 *)p;
	MEM_BARRIER();
	if (bpf_map_lookup_elem(&ps_ttl, k) != p) {
		stat_inc(PS_ST_TTL_MOVED);
		return -1;
	}
	return 1;
}

/* The unit tests fix the clock TTLs are read against (0: the real one,
 * CLOCK_MONOTONIC, as everywhere else). */
const volatile __u64 ps_ttl_clock_ns = 0;

static __always_inline __u64 ttl_now(void)
{
	return ps_ttl_clock_ns ? ps_ttl_clock_ns : bpf_ktime_get_ns();
}

/* What a write does to its key's TTL when Redis runs it (resp.h reads it
 * from the request, rq_ttl_done) */
enum ps_ttl_eff {
	PS_TE_KEEP = 0,  /* nothing (KEEPTTL, GETEX without an option) */
	PS_TE_CLEAR,     /* no TTL from now on (SET, PERSIST, RESTORE 0) */
	PS_TE_SET,       /* expires at exp */
	PS_TE_UNKNOWN,   /* not to be told from the request: asked of Redis */
};

/* EXPIRE's conditions on the key's TTL now (no TTL counts as infinite) */
#define PS_TC_NX 1   /* set only if it has none */
#define PS_TC_XX 2   /* only if it has one */
#define PS_TC_GT 4   /* only if later */
#define PS_TC_LT 8   /* only if earlier */

/* The key's TTL is unknown from now on, and asked of Redis. */
static __always_inline void ttl_settle_unknown(struct ps_scratch *s,
					       const struct ps_cache_key *k)
{
	ps_ttl_unknown(s, k);
	ttl_ask(k);
}

/* How many writes of k's slot are in flight (atomically read). */
static __always_inline __u32 ttl_slot_writes(const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k), *n;

	n = bpf_map_lookup_elem(&ps_wr_inflight, &slot);
	return n ? __sync_val_compare_and_swap(n, 0, 0) : ~0u;
}

/*
 * Record in ps_ttl what a write does to k's TTL: eff (exp for PS_TE_SET)
 * under cond (PS_TC_*). sure: Redis runs the write as it is written (it
 * cannot fail or be queued, nothing but the key's TTL decides), so the
 * outcome is stored as it stands (ttl_exact). Otherwise the outcome is
 * one of two, the write run or not: the earlier expiry of the two is
 * stored (no TTL counts as infinite; an expiry too early costs answers,
 * one too late would serve a value Redis has expired) and the watcher
 * is asked for the truth once the write is answered (ttl_earliest).
 * counted: the write is in flight in ps_wr_inflight, with counted - 1
 * other writes of its slot from the same segment (Redis runs them in
 * their order); with any other write of the slot in flight, Redis may
 * run the two in either order, so the outcome is not sure; one that
 * arrives on another CPU while this one stores is caught by the count
 * read after the store.
 * The expiry is only ever recorded before Redis runs the write, and a
 * relative TTL counted from now: Redis counts it from when it runs the
 * write, later, so ours comes first (docs/guards-and-coherence.md).
 */
static __always_inline void ttl_settle(struct ps_scratch *s, const struct ps_cache_key *k,
				       __u32 eff, __u64 exp, __u32 cond, int sure,
				       int counted)
{
	__u64 old = 0, r = 0;
	int had = 0, unk = 0, none = 0, pass = 1, cur;

	if (eff == PS_TE_KEEP)
		return;
	if (eff == PS_TE_UNKNOWN)
		goto unknown;
	/* (values through s->ttl_args.val: this runs at the bottom of the
	 * XDP program's deepest call chain, stack is short) */
	cur = ttl_read(k, &old);
	if (cur < 0)
		goto unknown;
	/* no TTL before, none after: whatever happens (the common SET) */
	if (eff == PS_TE_CLEAR && !cur)
		return;
	if (cur) {
		unk = old == PS_TTL_UNKNOWN;
		had = !unk;
	}
	/* being learnt: only a sure outcome that does not depend on it
	 * replaces the mark (an ask in flight finds the epoch moved and
	 * keeps out) */
	if (unk && (cond || !sure)) {
		ttl_ask(k);
		return;
	}
	/* EXPIRE's conditions as Redis 7.0 tests them (expireGenericCommand).
	 * Our old and exp are at or before the truth, so a comparison that
	 * goes the other way in Redis still leaves r at or before it. */
	if (cond & PS_TC_NX)
		pass = !had;
	if (cond & PS_TC_XX)
		pass = pass && had;
	if (cond & PS_TC_GT)
		pass = pass && had && exp > old;
	if (cond & PS_TC_LT)
		pass = pass && (!had || exp < old);
	if (!pass) {
		none = !had;
		r = old;
	} else if (eff == PS_TE_CLEAR) {
		none = 1;
	} else {
		r = exp;
	}
	if (counted && ttl_slot_writes(k) > (__u32)counted)
		sure = 0;
	if (sure) {
		if (none) {
			if (cur)
				bpf_map_delete_elem(&ps_ttl, k);
		} else if (!had || old != r) {
			s->ttl_args.val = r;
			if (bpf_map_update_elem(&ps_ttl, k, &s->ttl_args.val, BPF_ANY))
				goto unknown;
		}
		stat_inc(PS_ST_TTL_EXACT);
		/* another write of the slot arrived meanwhile */
		if (counted && ttl_slot_writes(k) > (__u32)counted)
			goto unknown;
		return;
	}
	/* the outcomes: old (the write not run) and r; the earlier is kept */
	if (!had) {
		if (none)
			return;    /* no TTL either way */
		s->ttl_args.val = r;
		if (bpf_map_update_elem(&ps_ttl, k, &s->ttl_args.val, BPF_ANY))
			goto unknown;
	} else if (!none && r == old) {
		return;            /* the same either way */
	} else if (!none && r < old) {
		s->ttl_args.val = r;
		if (bpf_map_update_elem(&ps_ttl, k, &s->ttl_args.val, BPF_ANY))
			goto unknown;
	}
	stat_inc(PS_ST_TTL_EARLIEST);
	ttl_ask(k);
	return;
unknown:
	ttl_settle_unknown(s, k);
}

/* ttl_settle of s->key with s->ttl_args (rq_ttl_prepare's). Global:
 * verified once, its frame apart from its caller's. */
__noinline int ttl_settle_s(struct ps_scratch *s)
{
	if (!s)
		return 0;
	ttl_settle(s, &s->key, s->ttl_args.eff, s->ttl_args.exp, s->ttl_args.cond,
		   s->ttl_args.sure, s->ttl_args.counted);
	return 0;
}

/* Invalidate the key at buf[off..off+len), the key of a write Redis will
 * run; ttl_change: its TTL becomes unknown (RENAME's destination), asked
 * of Redis after the write. Leaves the key in s->key; returns 1 when the
 * write is counted in flight (wr_record). */
static __always_inline int ps_invalidate(struct ps_scratch *s, __u32 off,
					 __u32 len, int ttl_change)
{
	struct ps_cache_key *k = &s->key;
	__u32 slot;
	int counted;

	if (ps_key_from_buf(k, s, off, len))
		return 0;
	slot = ps_key_slot(k);
	/* in flight before the epoch moves (wr_record) */
	counted = wr_record(s, slot, s->ncmds);
	/* before the epoch moves: a fill that sees the new epoch sees the mark */
	if (ttl_change)
		ttl_settle_unknown(s, k);
	/* the epoch moves even if the key is not cached: a fill that is
	 * in flight for it must not land */
	ps_epoch_bump(&slot);
	/* by hash: an entry of another key under the same hash goes too,
	 * which costs that key a miss and nothing else */
	if (bpf_map_delete_elem(&ps_cache, &k->hash) == 0)
		s->invalidated++;
	if (bpf_map_delete_elem(&ps_cache_big, k) == 0)
		s->invalidated++;
	return counted;
}

/* Set the bit of hash in ps_present before its entry is inserted (a
 * reader that sees the entry without the bit only misses: safe either
 * way). Read first: most fills find it set, and an atomic OR would take
 * the line exclusive on every one. */
static __always_inline void present_set(__u64 hash)
{
	__u64 bit, *w;
	__u32 i = ps_present_pos(hash, &bit);

	w = bpf_map_lookup_elem(&ps_present, &i);
	if (w && !(*w & bit))
		__sync_fetch_and_or(w, bit);
}

/* Is an expiry (0: none) far enough away to answer now? */
static __always_inline int ttl_ok(__u64 expires_ns, __u64 now_ns)
{
	return !expires_ns || now_ns + PS_TTL_MARGIN_NS < expires_ns;
}

/* The entry for k if it holds k (not another key of the same hash), is
 * of generation gen and not about to expire; an older one is deleted, one
 * near its expiry is left to Redis. A reader that copies from the entry
 * checks the key again after it read the entry's identity (helpers.h,
 * ENTRY_OF). */
static __always_inline struct ps_cache_val *
cache_lookup(struct ps_cache_key *k, __u32 gen, __u64 now_ns)
{
	struct ps_cache_val *v;
	__u64 bit, *w;
	__u32 i = ps_present_pos(k->hash, &bit);

	/* no bit: no entry was ever inserted under this hash since the
	 * last flush (ps_present); an array read instead of a bucket walk */
	w = bpf_map_lookup_elem(&ps_present, &i);
	if (!w || !(*w & bit))
		return NULL;
	v = bpf_map_lookup_elem(&ps_cache, &k->hash);
	if (!v)
		return NULL;
	if (!ps_key_eq(&v->key, k)) {
		stat_inc(PS_ST_KEY_OTHER);
		return NULL;
	}
	if (v->gen != gen) {
		/* flushed since it was filled; a pending fill is its filler's */
		if (!(v->gen & PS_GEN_PENDING))
			bpf_map_delete_elem(&ps_cache, &k->hash);
		return NULL;
	}
	if (!ttl_ok(v->expires_ns, now_ns)) {
		stat_inc(PS_ST_TTL_REFUSED);
		bpf_map_delete_elem(&ps_cache, &k->hash);
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
	__u32 *e, *n, *a, slot, any;
	int had;

	*expires = 0;
	if (ttl_fill_stopped(cfg))
		return -1;
	/* in flight first, then the epoch: wr_release moves the epoch
	 * before it lowers the count */
	slot = ps_key_slot(k);
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
	had = ttl_read(k, expires);
	if (had < 0 || (had && (*expires == PS_TTL_UNKNOWN ||
				!ttl_ok(*expires, now))))
		return -1;
	return 0;
}

/*
 * Insert v as k's entry, for a fill armed at epoch of k's slot, of
 * generation gen: big 0, v a struct ps_cache_val, into ps_cache under
 * k's hash, with k written into v (its readers compare it); big 1, v a
 * ps_cache_big_val, into ps_cache_big under k. k's entry in the other
 * map goes (a value that changed size must not hit there). Returns 0
 * when the entry is published.
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

static __always_inline int cache_store(int big, const struct ps_cache_key *k,
				       void *v, __u32 gen, __u32 epoch)
{
	__u32 token = PS_GEN_PENDING | bpf_get_prandom_u32(), *e, *cur;
	/* (big is a constant at every call: one branch of each is emitted) */
	void *map = big ? (void *)&ps_cache_big : (void *)&ps_cache;
	const void *mk = big ? (const void *)k : (const void *)&k->hash;

	/* gen is the first field of both value structs */
	*(__u32 *)v = token;
	if (big) {
		bpf_map_delete_elem(&ps_cache, &k->hash);
	} else {
		__builtin_memcpy(&((struct ps_cache_val *)v)->key, k, sizeof(*k));
		bpf_map_delete_elem(&ps_cache_big, k);
	}
	if (!big)
		present_set(k->hash);
	PS_FILL_RACE(1, k);
	if (bpf_map_update_elem(map, mk, v, BPF_ANY))
		return -1;
	e = ps_epoch_of(k);
	if (!e || __sync_val_compare_and_swap(e, epoch, epoch) != epoch) {
		bpf_map_delete_elem(map, mk);
		stat_inc(PS_ST_FILL_RACED);
		return -1;
	}
	PS_FILL_RACE(2, k);
	cur = bpf_map_lookup_elem(map, mk);
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
	/* a private copy: k may be in a map value another CPU writes */
	__builtin_memcpy(&s->fill_key, k, sizeof(s->fill_key));
	k = &s->fill_key;
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
		if (!bv || cache_store(1, k, bv, gen, epoch))
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
	if (cache_store(0, k, v, gen, epoch) == 0) {
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
		__u32 slot = ps_key_slot(&s->fqv.key);
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

/* The unit tests put an eviction and reuse of k's ps_fillq element at
 * this point of fq_take (tests/unit/bpf/fill_harness.bpf.c). */
#ifndef PS_FQ_RACE
#define PS_FQ_RACE(k, v) do { } while (0)
#endif

/*
 * TC: the arming of reply k, copied into *out. Returns 0, or -1 when
 * there is none or its element changed hands under the copy. ps_fillq
 * is an LRU: 16,384 armings on other flows, not yet taken, evict this
 * one, and the element is the next arming's at once; copied then, it
 * would fill this reply's bytes under another GET's key. The copy is
 * therefore checked by a second lookup after it: k is armed again only
 * after TC deleted it (the flow's fq_mask bit is set until then), so
 * the same element still under k held k's arming all along.
 */
static __always_inline int fq_take(const struct ps_fq_key *k,
				   struct ps_fq_val *out)
{
	struct ps_fq_val *v = bpf_map_lookup_elem(&ps_fillq, k);

	if (!v)
		return -1;
	PS_FQ_RACE(k, v);
	__builtin_memcpy(out, v, sizeof(*out));
	MEM_BARRIER();
	if (bpf_map_lookup_elem(&ps_fillq, k) != v) {
		stat_inc(PS_ST_FQ_MOVED);
		return -1;
	}
	return 0;
}

/* TC egress: the armed reply j this segment completed (s->fq_*), filled
 * and its arming cleared. Global: verified once for all j. */
__noinline int fq_fill_one(struct __sk_buff *skb, struct ps_scratch *s,
			   struct ps_flow *f, const struct ps_pkt *p, __u32 j)
{
	struct ps_fq_key k = {};
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
	/* (into s->fqv: fq_arm's, XDP's; this is TC's scratch) */
	if (!fq_take(&k, &s->fqv)) {
		if (s->fq_len[j])
			cache_fill_at(skb, s, cfg, f, &s->fqv.key, s->fqv.epoch,
				      s->fqv.gen, p->payload_off + s->fq_off[j],
				      s->fq_len[j], s->fq_vlen[j]);
		else
			stat_inc(PS_ST_FILL_SKIPPED);
	}
	bpf_map_delete_elem(&ps_fillq, &k);
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
