/* SPDX-License-Identifier: GPL-2.0 */
/* cachefmt.h - cache entries as the BPF programs expect them, and the cache
 * maps read and written by key (the one place that knows the maps' key). */
#ifndef PS_CACHEFMT_H
#define PS_CACHEFMT_H

#include <stddef.h>
#include <linux/types.h>
#include "prestack.h"
#include "keyhash.h" /* ps_key_hash, ps_key_slot, ps_key_eq: the BPF side's code */

/* ones' complement sum over native-endian 16-bit loads, like csum_partial */
__u32 ps_csum_partial(const void *buf, size_t len, __u32 seed);
__u16 ps_csum_fold(__u32 sum);
/* key: zero padded, with its hash (ps_key_seal); -1 if len is 0 or over
 * PS_KEY_MAX */
int ps_cache_key_build(struct ps_cache_key *k, const void *key, size_t len);
/* the epoch slot of key (ps_key_slot of the key built); PS_EPOCH_SLOTS
 * when it is no key */
__u32 ps_key_slot_of(const void *key, size_t len);
/* value: reply "$<n>\r\n<val>\r\n", its sum, gen; -1 if len > PS_SMALL_VAL_MAX */
int ps_cache_val_build(struct ps_cache_val *v, const void *val, size_t len,
		       __u32 gen, __u32 source);
/* the same for ps_cache_big: -1 unless PS_SMALL_VAL_MAX < len <= PS_VAL_MAX */
int ps_cache_big_val_build(struct ps_cache_big_val *v, const void *val, size_t len,
			   __u32 gen, __u32 source);
/* ps_cache (fd), by key: under k's hash, the entry holding k (put writes
 * k into v; get finds no entry when the one under the hash holds another
 * key; del deletes whatever is under the hash, another key's entry too:
 * an extra miss, as the BPF side's invalidation). ps_big_*: ps_cache_big,
 * keyed by the whole key. 0, or -1 with errno (ENOENT: no entry for k).
 * Every user-space reader and writer goes through these. put sets k's
 * bit in ps_present (present_fd) before it inserts: the BPF side looks
 * up only keys whose bit is set (xdp/maps.h). */
int ps_cache_get(int fd, const struct ps_cache_key *k, struct ps_cache_val *v);
int ps_cache_put(int fd, int present_fd, const struct ps_cache_key *k, struct ps_cache_val *v);
/* ps_present cleared, every word (a flush, after the entries went) */
int ps_present_clear(int present_fd);
int ps_cache_del(int fd, const struct ps_cache_key *k);
int ps_big_get(int fd, const struct ps_cache_key *k, struct ps_cache_big_val *v);
int ps_big_put(int fd, const struct ps_cache_key *k, struct ps_cache_big_val *v);
int ps_big_del(int fd, const struct ps_cache_key *k);
/* The maps' own keys (what bpf_map_get_next_key walks): ps_cache's is the
 * key's hash, ps_cache_big's the key */
typedef __u64 ps_cache_mkey;
typedef struct ps_cache_key ps_big_mkey;

/* command name packed as xdp/commands.h packs it (upper case, little-endian);
 * -1 if n is 0 or over 16 */
int ps_cmd_key_build(struct ps_cmd_key *k, const void *name, size_t n);

#endif
