/* SPDX-License-Identifier: GPL-2.0 */
/*
 * parsing.h - Ethernet/IPv4/TCP parsing shared by XDP and TC, on direct
 * packet pointers (TC pulls the headers into the linear area first).
 * Honours ihl and doff; the payload length comes from tot_len, not from the
 * frame, so Ethernet padding is never taken for data.
 */
#ifndef PS_PARSING_H
#define PS_PARSING_H

#include "helpers.h"

enum ps_parse_res {
	PS_PARSE_OK = 0,
	PS_PARSE_NOT_OURS,
	PS_PARSE_MALFORMED,
	PS_PARSE_FRAG,
	PS_PARSE_FRAG_SHORT, /* a first fragment to the port whose TCP header
			      * goes on in the next fragment: ports known */
};

/* struct ps_pkt, what the programs need from one segment, is in scratch.h
 * (ps_core keeps it in the hook's scratch entry) */

/* 64 bytes so that every index can be masked with 63 for the verifier */
struct ps_opts {
	__u8 b[64];
};

/* Index masked with 63 after an empty asm: clang knows the index is small
 * and would drop a plain mask, but the verifier does not know it. */
#define OPT(o, x) ({ __u32 __i = (x); asm volatile("" : "+r"(__i)); \
		     (o)->b[__i & 63]; })

/*
 * One TCP option at `off` of the copied options: records what we use and
 * returns the offset of the next option, or TCP_MAX_OPTLEN to stop. A bad
 * length ends the walk (the kernel judges the segment; we read what is
 * sane). Global: each call returns an unknown scalar, so the states at
 * the head of the caller's loop do not multiply by option kind.
 */
__noinline int tcp_opt_step(struct ps_opts *o, __u32 off, __u32 optlen,
			    struct ps_pkt *p)
{
	__u8 kind, len;

	if (!o || !p || off >= optlen || off >= TCP_MAX_OPTLEN - 1)
		return TCP_MAX_OPTLEN;
	kind = OPT(o, off);
	if (kind == TCPOPT_EOL)
		return TCP_MAX_OPTLEN;
	if (kind == TCPOPT_NOP)
		return off + 1;
	len = OPT(o, off + 1);
	if (len < 2 || off + len > optlen)
		return TCP_MAX_OPTLEN;
	if (kind == TCPOPT_MSS && len == TCPOLEN_MSS) {
		p->has_mss = 1;
		p->mss = ((__u16)OPT(o, off + 2) << 8) | OPT(o, off + 3);
	} else if (kind == TCPOPT_WINDOW && len == TCPOLEN_WINDOW) {
		p->has_ws = 1;
		p->ws = OPT(o, off + 2) > TCP_WSCALE_MAX ? TCP_WSCALE_MAX :
							    OPT(o, off + 2);
	} else if (kind == TCPOPT_SACK_PERM && len == TCPOLEN_SACK_PERM) {
		p->has_sackperm = 1;
	} else if (kind == TCPOPT_SACK &&
		   len >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_BLOCK &&
		   ((len - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_BLOCK) == 0) {
		p->sack_n = (len - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_BLOCK;
		p->sack_off = TCP_HDR_MIN + off + TCPOLEN_SACK_BASE;
	} else if (kind == TCPOPT_TS && len == TCPOLEN_TS) {
		p->has_ts = 1;
		p->tsval = ((__u32)OPT(o, off + 2) << 24) |
			   ((__u32)OPT(o, off + 3) << 16) |
			   ((__u32)OPT(o, off + 4) << 8) | OPT(o, off + 5);
		p->tsecr = ((__u32)OPT(o, off + 6) << 24) |
			   ((__u32)OPT(o, off + 7) << 16) |
			   ((__u32)OPT(o, off + 8) << 8) | OPT(o, off + 9);
	}
	return off + len;
}

/* Options copied out of the packet, at most 40 bytes. */
static __always_inline void parse_tcp_opts(struct ps_opts *o, __u32 optlen,
					   struct ps_pkt *p)
{
	int off = 0, i;

	/* Fast path: the Linux data segment layout NOP NOP TS. */
	if (optlen == TCPOLEN_TS_ALIGNED && o->b[0] == TCPOPT_NOP &&
	    o->b[1] == TCPOPT_NOP && o->b[2] == TCPOPT_TS &&
	    o->b[3] == TCPOLEN_TS) {
		p->has_ts = 1;
		p->tsval = bpf_ntohl(*(__u32 *)&o->b[4]);
		p->tsecr = bpf_ntohl(*(__u32 *)&o->b[8]);
		return;
	}
	for (i = 0; i < TCP_MAX_OPTLEN; i++) {
		off = tcp_opt_step(o, off, optlen, p);
		if (off < 0 || off >= (int)optlen)
			break;
	}
}

/*
 * Parse one frame's headers (not the TCP options); frame_len is the whole
 * frame (XDP: data_end - data; TC: skb->len). to_port: the TCP destination port must be `port`
 * (client -> server, XDP); otherwise the source port must (TC egress).
 */
static __always_inline int ps_parse(void *data, void *data_end,
				    __u32 frame_len, struct ps_pkt *p,
				    __u16 port_be, int to_port)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 ihl, doff, tot_len;

	if ((void *)(eth + 1) > data_end)
		return PS_PARSE_MALFORMED;
	if (eth->h_proto != ETH_P_IP_BE)
		return PS_PARSE_NOT_OURS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PS_PARSE_MALFORMED;
	if (ip->protocol != IPPROTO_TCP)
		return PS_PARSE_NOT_OURS;
	if (ip->version != 4)
		return PS_PARSE_MALFORMED;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return PS_PARSE_MALFORMED;
	/* a later fragment holds no TCP header; a first one does, and at
	 * XDP its flow's seq/ack must still be translated (ps_ingress) */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return PS_PARSE_FRAG;
	/* no branch around the store: clang would duplicate what follows and
	 * the verifier then sees the bounds check on one copy only */
	p->frag = (ip->frag_off & bpf_htons(IP_MF)) != 0;
	if (!to_port && p->frag)
		return PS_PARSE_FRAG;
	tcp = (void *)ip + ihl;
	/* a first fragment carries at least 8 bytes (offsets count 8-byte
	 * units): the ports are there even when the rest of the header is
	 * not, and without the checksum field nothing can be translated */
	if (p->frag && (void *)(tcp + 1) > data_end &&
	    (void *)tcp + 2 * sizeof(__u32) <= data_end) {
		if (tcp->dest != port_be)
			return PS_PARSE_NOT_OURS;
		goto short_frag;
	}
	if ((void *)(tcp + 1) > data_end)
		return PS_PARSE_MALFORMED;
	if (to_port ? tcp->dest != port_be : tcp->source != port_be)
		return PS_PARSE_NOT_OURS;
	doff = tcp->doff * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (p->frag && doff >= sizeof(*tcp) &&
	    (tot_len < ihl + doff || (void *)tcp + doff > data_end))
		goto short_frag;
	/* the payload may sit in skb fragments: check tot_len against the
	 * frame length, the headers against the linear data */
	if (doff < sizeof(*tcp) || tot_len < ihl + doff ||
	    sizeof(*eth) + tot_len > frame_len ||
	    (void *)tcp + doff > data_end)
		return PS_PARSE_MALFORMED;

	p->l4_off = sizeof(*eth) + ihl;
	p->payload_off = p->l4_off + doff;
	p->payload_len = tot_len - ihl - doff;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->sport = tcp->source;
	p->dport = tcp->dest;
	p->seq = bpf_ntohl(tcp->seq);
	p->ack = bpf_ntohl(tcp->ack_seq);
	p->window = bpf_ntohs(tcp->window);
	p->flags = ((__u8 *)tcp)[TCP_FLAGS_BYTE];
	p->doff = doff;
	p->ihl = ihl;
	/* The layout Linux puts on every data segment, NOP NOP TS, read in
	 * place (the headers are in the linear data, checked above); any
	 * other: the caller copies the options out for parse_tcp_opts. */
	if (doff == sizeof(*tcp) + TCPOLEN_TS_ALIGNED) {
		__u32 *o = (void *)(tcp + 1);

		/* checked above with a variable doff: again, constant */
		if ((void *)(o + 3) <= data_end &&
		    o[0] == bpf_htonl(TCPOPT_NOP << 24 | TCPOPT_NOP << 16 |
				      TCPOPT_TS << 8 | TCPOLEN_TS)) {
			p->has_ts = 1;
			p->tsval = bpf_ntohl(o[1]);
			p->tsecr = bpf_ntohl(o[2]);
			p->opts_done = 1;
		}
	}
	return PS_PARSE_OK;
short_frag:
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->sport = tcp->source;
	p->dport = tcp->dest;
	return PS_PARSE_FRAG_SHORT;
}

/* Bytes of the packet, by the hook's own helper (xdp is a constant at
 * every call site, so only one branch is ever emitted). */
static __always_inline long ps_load_bytes(void *ctx, int xdp, __u32 off,
					  void *to, __u32 len)
{
	if (xdp)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * Headers and TCP options of the segment in ctx, for either hook: to the
 * Redis port at XDP (ingress), from it at TC (egress). TC pulls the headers
 * into the linear area only if they are not there. Returns PS_PARSE_*.
 */
static __always_inline int ps_parse_ctx(void *ctx, int xdp, __u16 port_be,
					struct ps_pkt *p)
{
	void *data, *data_end;
	__u32 frame_len;
	int r;

	if (xdp) {
		struct xdp_md *x = ctx;

		data = (void *)(long)x->data;
		data_end = (void *)(long)x->data_end;
		frame_len = (__u32)(data_end - data);
	} else {
		struct __sk_buff *skb = ctx;

		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		frame_len = skb->len;
		/* The kernel's TCP segments have their headers in the linear
		 * data; pull only when they do not (a pull of a cloned skb,
		 * as every TCP segment on its way out is, copies its head) */
		r = ps_parse(data, data_end, frame_len, p, port_be, xdp);
		if (r != PS_PARSE_MALFORMED || data_end - data >= frame_len)
			goto parsed;
		bpf_skb_pull_data(skb, skb->len < HDRS_MAX ? skb->len : HDRS_MAX);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	r = ps_parse(data, data_end, frame_len, p, port_be, xdp);
parsed:
	if (r == PS_PARSE_OK && p->doff > sizeof(struct tcphdr) && !p->opts_done) {
		struct ps_opts o = {};
		__u32 olen = p->doff - sizeof(struct tcphdr);

		if (olen > TCP_MAX_OPTLEN ||
		    ps_load_bytes(ctx, xdp, p->l4_off + sizeof(struct tcphdr),
				  &o, olen))
			return PS_PARSE_MALFORMED;
		parse_tcp_opts(&o, olen, p);
	}
	return r;
}

#endif
