/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * keyhash.h - the one definition of the cache key hash, compiled into both
 * the BPF program (invalidation epochs) and the control tool (cache set/del
 * move the same epoch slot). FNV-1a, 32 bit; the loop is bounded by
 * PS_KEY_MAX so the verifier accepts it as it is.
 */
#ifndef PS_KEYHASH_H
#define PS_KEYHASH_H

#include "prestack.h"

#define PS_FNV32_BASIS 2166136261u
#define PS_FNV32_PRIME 16777619u

static inline __attribute__((always_inline)) __u32
ps_key_hash(const __u8 *data, __u32 len)
{
	__u32 h = PS_FNV32_BASIS, i;

	for (i = 0; i < PS_KEY_MAX; i++) {
		if (i >= len)
			break;
		h ^= data[i];
		h *= PS_FNV32_PRIME;
	}
	return h;
}

/* the invalidation-epoch slot of a key (PS_EPOCH_SLOTS is a power of two) */
static inline __attribute__((always_inline)) __u32
ps_key_slot(const __u8 *data, __u32 len)
{
	return ps_key_hash(data, len) & (PS_EPOCH_SLOTS - 1);
}

#endif
