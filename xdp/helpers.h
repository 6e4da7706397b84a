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
 * was read, not that this fill is of the key looked up: an element
 * deleted (an invalidation, a fill replacing it, an eviction) and reused
 * for another key between the lookup and the read of its identity holds
 * that key's entry, consistent in itself, and passes (the wrong value
 * `attach --cut` once delivered under pipeload, docs/pipelines.md).
 * ENTRY_OF adds a lookup of k before ENTRY_SAME: v linked under k at
 * that moment, with the identity read before the copy still there after
 * it (every fill takes a new one), held one fill from that read to
 * ENTRY_SAME, and it was k's. The lookup must come between the read of
 * the identity and ENTRY_SAME, never after ENTRY_SAME: an element reused
 * once more, for k, after ENTRY_SAME would be found under k although the
 * bytes copied were the other key's (emit_reply makes it before it
 * touches the frame). Counted (entry_moved) when the lookup fails.
 */
#define ENTRY_OF(map, k, v, id, len, sum) ({ \
	int ok_ = bpf_map_lookup_elem(map, k) == (void *)(v); \
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
