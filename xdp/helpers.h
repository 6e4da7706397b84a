/* SPDX-License-Identifier: GPL-2.0 */
/*
 * helpers.h - what every part of the program uses: counters, the clock,
 * sequence-number comparison and the verifier idioms.
 */
#ifndef PS_HELPERS_H
#define PS_HELPERS_H

#include "prestack.h"
#include "consts.h"
#include "maps.h"
#include "keyhash.h"

/* Make the verifier forget nothing but stop clang from merging or dropping
 * a bounds check on x (it emits no instruction). */
#define BARRIER_VAR(x) asm volatile("" : "+r"(x))

/* Keep memory accesses on their side of this point (no instruction). */
#define MEM_BARRIER() asm volatile("" ::: "memory")

/*
 * A cache value (ps_cache, ps_cache_big: LRU hashes, so preallocated) can
 * be rewritten under a reader at any time: an update puts the new value
 * in a free element and frees the old one at once, and the next update,
 * of any key, may reuse it. A reader that copies reply bytes out of an
 * entry therefore notes the entry's identity first (filled_ns: every fill
 * takes a new one; with reply_len and csum) and checks it after the copy.
 * A writer copies the whole value, head first, so a copy that took any
 * of a new value's bytes sees the new head.
 * XXX a string copy may make its stores visible out of order on x86
 * (fast-string operations); the window is a few bytes wide.
 */
#define ENTRY_SAME(v, id, len, sum) ({ MEM_BARRIER(); \
	(v)->filled_ns == (id) && (v)->reply_len == (len) && (v)->csum == (sum); })

/*
 * ENTRY_SAME says the bytes copied are those of the fill whose identity
 * was read, not that this fill is of the key looked up. ENTRY_OF checks
 * that too, with three checks, each for its own way of going wrong, all
 * made after the identity was read (before the copy or after it):
 * - the element reused for a key of another hash: an element deleted
 *   (an invalidation, a fill replacing it, an eviction) and reused
 *   between the lookup and the read of its identity holds that key's
 *   entry, consistent in itself, and passes ENTRY_SAME (the wrong value
 *   `attach --cut` once delivered under pipeload, docs/pipelines.md).
 *   So k's hash is looked up again: v is linked under it at that moment;
 * - another key under the same hash (ps_cache is keyed by the 64-bit
 *   hash, keyhash.h): that lookup finds such an entry too, so the key it
 *   holds is compared with k;
 * - a new fill of the element, for k or any key, after those two: its
 *   identity changes, so ENTRY_SAME, last, fails. With it passing, v
 *   held one fill from the identity read on (every fill takes a new
 *   identity), linked under k's hash and holding k: the bytes copied
 *   were k's. ENTRY_SAME must come after the lookup and the comparison,
 *   never before: an element reused once more, for k, after ENTRY_SAME
 *   would be found under k although the bytes copied were the other
 *   key's (emit_reply makes the first two checks before it touches the
 *   frame, ENTRY_SAME after its copy).
 * Counted (entry_moved) when the lookup or the comparison fails.
 */
#define ENTRY_OF(map, k, v, id, len, sum) ({ \
	int ok_ = bpf_map_lookup_elem(map, &(k)->hash) == (void *)(v) && \
		  ps_key_eq(&(v)->key, k); \
	if (!ok_) \
		stat_inc(PS_ST_ENTRY_MOVED); \
	ok_ && ENTRY_SAME(v, id, len, sum); })

/* For a helper's size argument already checked to be in 1..pow2: re-derive
 * the bound on the very register passed (clang otherwise checks a copy). */
#define BOUND_1_TO(x, pow2) do { BARRIER_VAR(x); \
		x = (((x) - 1) & ((pow2) - 1)) + 1; } while (0)

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&ps_stats, &idx);

	if (c)
		*c += v;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

/* The kernel's TCP timestamp clock is CLOCK_MONOTONIC in ms (plus a
 * per-connection offset learnt from the SYN-ACK); replay overrides it.
 * now_ns is the packet's one clock read (a read costs ~30 ns in a VM). */
static __always_inline __u32 now_ms(const struct ps_config *cfg, __u64 now_ns)
{
	if (cfg->clock_ms)
		return cfg->clock_ms;
	return (__u32)(now_ns / 1000000);
}

/* With PS_CFG_LEASE, answer only while the coherence watcher's lease
 * holds: a dead, hung or disconnected watcher can miss writes; and not
 * after a command that may bring writes no packet shows (REPLICAOF,
 * MODULE, CONFIG SET: PS_LEASE_REVOKE) until the watcher has looked. */
static __always_inline int lease_ok(const struct ps_config *cfg, __u64 now_ns)
{
	__u32 idx = PS_LEASE_UNTIL;
	__u64 *until, *rv, *ack;

	if (!(cfg->flags & PS_CFG_LEASE))
		return 1;
	until = bpf_map_lookup_elem(&ps_lease, &idx);
	idx = PS_LEASE_REVOKE;
	rv = bpf_map_lookup_elem(&ps_lease, &idx);
	idx = PS_LEASE_REVOKE_ACK;
	ack = bpf_map_lookup_elem(&ps_lease, &idx);
	return until && rv && ack && now_ns < *until && *rv == *ack;
}

/* Sequence-number order, modulo 2^32 (the kernel's before()/after()). */
static __always_inline int before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static __always_inline int after(__u32 a, __u32 b)
{
	return before(b, a);
}

#endif
