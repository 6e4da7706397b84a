/* SPDX-License-Identifier: GPL-2.0 */
/* cachefmt.h - cache entries as the BPF programs expect them (no libbpf). */
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
/* command name packed as xdp/commands.h packs it (upper case, little-endian);
 * -1 if n is 0 or over 16 */
int ps_cmd_key_build(struct ps_cmd_key *k, const void *name, size_t n);

#endif
