/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_user.h - just enough of the BPF environment to compile xdp/parsing.h
 * and xdp/resp.h as ordinary C for libFuzzer. Maps become small arrays
 * owned by the harness (fuzz_parsers.c); helpers become plain functions with
 * the semantics the parsers rely on. Nothing here is used by the BPF build.
 */
#ifndef PS_BPF_USER_H
#define PS_BPF_USER_H

#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#define SEC(name)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#define LIBBPF_PIN_BY_NAME 1 /* libbpf's enum; nothing is pinned here */
#define bpf_htons(x) htons(x)
#define bpf_ntohs(x) ntohs(x)
#define bpf_htonl(x) htonl(x)
#define bpf_ntohl(x) ntohl(x)

void *bpf_map_lookup_elem(void *map, const void *key);
long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags);
long bpf_map_delete_elem(void *map, const void *key);
long bpf_probe_read_kernel(void *dst, __u32 size, const void *src);
long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags);
/* declared for the headers' other functions; the harness never reaches
 * them, and its definitions abort if it ever does */
__u64 bpf_ktime_get_ns(void);
long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags);
__u32 bpf_get_prandom_u32(void);
long bpf_xdp_load_bytes(struct xdp_md *ctx, __u32 off, void *to, __u32 len);
long bpf_skb_load_bytes(const void *skb, __u32 off, void *to, __u32 len);
long bpf_msg_pull_data(struct sk_msg_md *msg, __u32 start, __u32 end, __u64 flags);
long bpf_skb_pull_data(struct __sk_buff *skb, __u32 len);
__s64 bpf_csum_diff(__be32 *from, __u32 from_size, __be32 *to, __u32 to_size, __u32 seed);

#endif
