/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * keyhash.h - the one definition of the cache key hash, compiled into both
 * the BPF programs and the control tool. A key's 64-bit hash is taken once,
 * where the key is built (ps_key_seal), and kept in struct ps_cache_key:
 * it is ps_cache's map key (the entry holds the key itself, compared by
 * every reader: ps_key_eq) and, by its high bits, the key's
 * invalidation-epoch slot.
 *
 * The hash reads the zero-padded key a 64-bit word at a time (data is
 * 8-byte aligned), one multiply and xor-shift a word, then murmur3's
 * 64-bit finalizer. Each word's step is a bijection of the state for a
 * given word and of the word for a given state, so two keys of one length
 * that differ in a single word never collide before the finalizer, which
 * is a bijection too. Words past len are zero in every key of that length
 * and are skipped (len itself seeds the state). Collisions are harmless
 * for correctness (another key's entry is a miss, its invalidation an
 * extra one); the mix only has to spread keys over buckets and slots.
 */
#ifndef PS_KEYHASH_H
#define PS_KEYHASH_H

#include "prestack.h"

#define PS_KH_SEED 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */
#define PS_KH_MUL  0xff51afd7ed558ccdull /* murmur3 fmix64's constants */
#define PS_KH_MUL2 0xc4ceb9fe1a85ec53ull
#define PS_KEY_WORDS (PS_KEY_MAX / 8)

static inline __attribute__((always_inline)) __u64
ps_key_hash(const struct ps_cache_key *k)
{
	const __u64 *w = (const __u64 *)k->data;
	__u64 h = PS_KH_SEED ^ k->len;
	__u32 i;

	/* a constant bound (eight words at most), which the verifier
	 * accepts as it is; clang unrolls it */
	for (i = 0; i < PS_KEY_WORDS; i++) {
		if (i * 8 >= k->len)
			break;
		h = (h ^ w[i]) * PS_KH_MUL;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= PS_KH_MUL;
	h ^= h >> 33;
	h *= PS_KH_MUL2;
	h ^= h >> 33;
	return h;
}

/* k's len and data are set, the rest zero: its hash, taken once */
static inline __attribute__((always_inline)) void
ps_key_seal(struct ps_cache_key *k)
{
	k->hash = ps_key_hash(k);
}

/* the invalidation-epoch slot of a sealed key (PS_EPOCH_SLOTS is a power
 * of two): bits of the hash's high half */
static inline __attribute__((always_inline)) __u32
ps_key_slot(const struct ps_cache_key *k)
{
	return (__u32)(k->hash >> 32) & (PS_EPOCH_SLOTS - 1);
}

/* The key's bit in ps_present (maps.h): bits 6..19 of the hash pick the
 * word, bits 0..5 the bit (the epoch slot takes the high half) */
static inline __attribute__((always_inline)) __u32
ps_present_pos(__u64 hash, __u64 *bit)
{
	*bit = 1ull << (hash & 63);
	return (__u32)(hash >> 6) & (PS_PRESENT_WORDS - 1);
}

/* Is a the same key as b (length and bytes; both zero padded)? */
static inline __attribute__((always_inline)) int
ps_key_eq(const struct ps_cache_key *a, const struct ps_cache_key *b)
{
	const __u64 *x = (const __u64 *)a->data, *y = (const __u64 *)b->data;
	__u32 len = a->len, i;
	__u64 d = 0;

	if (len != b->len)
		return 0;
	for (i = 0; i < PS_KEY_WORDS; i++) {
		if (i * 8 >= len)
			break;
		d |= x[i] ^ y[i];
	}
	return d == 0;
}

#endif
