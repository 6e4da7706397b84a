/* SPDX-License-Identifier: GPL-2.0 */
/* cachefmt.h - cache entries as the BPF programs expect them, and the cache
 * maps read and written by key (the one place that knows the maps' key). */
#ifndef PS_CACHEFMT_H
#define PS_CACHEFMT_H

#include <stddef.h>
#include <linux/types.h>
#include "prestack.h"
#include "keyhash.h" /* ps_key_hash, ps_key_slot: the same code as the BPF side */

/* ones' complement sum over native-endian 16-bit loads, like csum_partial */
__u32 ps_csum_partial(const void *buf, size_t len, __u32 seed);
__u16 ps_csum_fold(__u32 sum);
/* key: zero padded; -1 if len is 0 or over PS_KEY_MAX */
int ps_cache_key_build(struct ps_cache_key *k, const void *key, size_t len);
/* value: reply "$<n>\r\n<val>\r\n", its sum, gen; -1 if len > PS_SMALL_VAL_MAX */
int ps_cache_val_build(struct ps_cache_val *v, const void *val, size_t len,
		       __u32 gen, __u32 source);
/* the same for ps_cache_big: -1 unless PS_SMALL_VAL_MAX < len <= PS_VAL_MAX */
int ps_cache_big_val_build(struct ps_cache_big_val *v, const void *val, size_t len,
			   __u32 gen, __u32 source);
/* ps_cache or ps_cache_big (fd), by key: v is the map's value type
 * (struct ps_cache_val or ps_cache_big_val). 0, or -1 with errno (ENOENT:
 * no entry for k). Every user-space reader and writer goes through these. */
int ps_cache_get(int fd, const struct ps_cache_key *k, void *v);
int ps_cache_put(int fd, const struct ps_cache_key *k, void *v);
int ps_cache_del(int fd, const struct ps_cache_key *k);
/* The maps' own key (what bpf_map_get_next_key walks) */
typedef struct ps_cache_key ps_cache_mkey;
/* the key of the entry v found at mk */
void ps_cache_key_of(const ps_cache_mkey *mk, const void *v, struct ps_cache_key *k);

/* command name packed as xdp/commands.h packs it (upper case, little-endian);
 * -1 if n is 0 or over 16 */
int ps_cmd_key_build(struct ps_cmd_key *k, const void *name, size_t n);

#endif
