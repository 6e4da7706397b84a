// SPDX-License-Identifier: GPL-2.0
/*
 * reflector.bpf.c - the floor for per-packet cost: swap Ethernet and IPv4
 * addresses and TCP ports and XDP_TX, nothing else (no parsing beyond the
 * fixed headers, no maps, no checksum update: swapping fields keeps the
 * sums valid); and its TC counterpart, tc_floor. Benchmarks only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef TC_ACT_OK
#define TC_ACT_OK 0 /* linux/pkt_cls.h: not in vmlinux.h */
#endif

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	unsigned char mac[6];
	__u32 a;
	__u16 p;

	if ((void *)(tcp + 1) > data_end || eth->h_proto != bpf_htons(0x0800) ||
	    ip->protocol != IPPROTO_TCP || ip->ihl != 5)
		return XDP_PASS;
	__builtin_memcpy(mac, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, mac, 6);
	a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	p = tcp->source;
	tcp->source = tcp->dest;
	tcp->dest = p;
	return XDP_TX;
}

/* The TC floor: the same header walk at TC egress, then the packet goes
 * on (what every server segment costs before any prestack work). */
SEC("tc")
int tc_floor(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > data_end || eth->h_proto != bpf_htons(0x0800) ||
	    ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
