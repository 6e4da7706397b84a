/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reply.h - building a reply at XDP: the cached replies of a segment's GETs
 * assembled into scratch (assemble), the headers of the reply segment
 * (em_setup: seq, ack, window, timestamps), and the request frame turned
 * into that reply in place (emit_reply).
 */
#ifndef PS_REPLY_H
#define PS_REPLY_H

#include "helpers.h"
#include "csum.h"
#include "scratch.h"
#include "cache.h"

/*
 * Look up every GET key of the segment and assemble the replies in
 * s->rep (sum in s->asm_csum, misses in s->asm_misses). Returns the
 * payload length, 0 if some key missed, -1 if the replies exceed `limit`.
 */
__noinline int assemble(struct ps_scratch *s, __u32 limit, __u32 gen)
{
	__u32 tot = 0, sum = 0, miss = 0, i;

	if (!s)
		return -1;
	for (i = 0; i < PS_MAX_CMDS; i++) {
		struct ps_cache_val *v;
		struct ps_cache_key k;
		__u32 rlen;

		if (i >= s->ngets)
			break;
		if (ps_key_from_buf(&k, s, s->key_off[i], s->key_len[i])) {
			miss++;
			continue;
		}
		v = cache_lookup(&k, gen);
		if (!v) {
			miss++;
			continue;
		}
		rlen = v->reply_len;
		if (rlen == 0 || rlen > PS_REPLY_MAX || tot + rlen > limit ||
		    tot + rlen > PS_REP_MASK)
			return -1;
		BOUND_1_TO(rlen, PS_REPLY_BOUND);
		if (rlen > PS_REPLY_MAX)
			return -1;
		/* a bounded copy between two map values */
		if (bpf_probe_read_kernel(&s->rep[tot & PS_REP_MASK], rlen,
					  v->reply))
			return -1;
		sum = csum_add32(sum, csum_at_offset(v->csum, tot));
		tot += rlen;
	}
	s->asm_misses = miss;
	s->asm_csum = sum;
	return miss ? 0 : tot;
}

/* pad: keeps ip and tcp 4-byte aligned on the stack (Ethernet is 14) */
struct ps_reply_hdr {
	__u8 pad[2];
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 opts[TCPOLEN_TS_ALIGNED]; /* NOP NOP TS */
};
/* bytes of headers written: the struct less its alignment pad */
#define PS_REPLY_HDR_MAX (sizeof(struct ps_reply_hdr) - 2)

struct ps_pseudo {
	__u32 saddr, daddr;
	__u8 zero, proto;
	__u16 len;
};

/*
 * Grow (or shrink) the frame by delta bytes: at the tail if it has room,
 * else partly at the head. A veth frame built on the client's small linear
 * skb has little tailroom, and the head keeps room for struct xdp_frame:
 * try decreasing head shares. Returns 0 or -1 (frame unchanged).
 */
static __always_inline int grow_frame(struct xdp_md *ctx, int delta)
{
	const int shares[] = PS_HEAD_SHARES;
	int i;

	if (!bpf_xdp_adjust_tail(ctx, delta))
		return 0;
	if (delta <= 0)
		return -1;
	for (i = 0; i < PS_HEAD_SHARES_N; i++) {
		int head = delta < shares[i] ? delta : shares[i];

		if (bpf_xdp_adjust_head(ctx, -head))
			continue;
		if (head == delta || !bpf_xdp_adjust_tail(ctx, delta - head))
			return 0;
		bpf_xdp_adjust_head(ctx, head);
	}
	return -1;
}

/*
 * Turn the request frame into the reply described by s->em: fresh headers
 * (no IP options; TCP options NOP NOP TS when em.ts), payload from s->rep.
 * Returns 0 when the frame holds the reply, -1 when nothing was changed,
 * -2 when the frame is broken (drop it).
 */
__noinline int emit_reply(struct xdp_md *ctx, struct ps_scratch *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ps_reply_hdr h;
	struct ps_pseudo ph;
	__u32 thl, hlen, sum, tot;
	int ts, delta;

	if (!s)
		return -1;
	if ((void *)(eth + 1) > data_end)
		return -1;
	tot = s->em.tot;
	if (tot == 0 || tot > MTU_PAYLOAD_MAX)
		return -1;
	BOUND_1_TO(tot, PS_REPLY_BOUND);
	ts = s->em.ts;
	__builtin_memset(&h, 0, sizeof(h));
	__builtin_memcpy(h.eth.h_dest, eth->h_source, 6);
	__builtin_memcpy(h.eth.h_source, eth->h_dest, 6);
	h.eth.h_proto = ETH_P_IP_BE;

	thl = TCP_HDR_MIN + (ts ? TCPOLEN_TS_ALIGNED : 0);
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + thl;

	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(sizeof(struct iphdr) + thl + tot);
	h.ip.frag_off = bpf_htons(IP_DF); /* like the kernel's */
	h.ip.ttl = IP_TTL_DEFAULT;
	h.ip.protocol = IPPROTO_TCP;
	h.ip.saddr = s->em.daddr;
	h.ip.daddr = s->em.saddr;
	h.ip.check = ~csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&h.ip,
						sizeof(h.ip), 0));

	h.tcp.source = s->em.dport;
	h.tcp.dest = s->em.sport;
	h.tcp.seq = bpf_htonl(s->em.seq);
	h.tcp.ack_seq = bpf_htonl(s->em.ack);
	h.tcp.doff = thl / 4;
	h.tcp.psh = 1;
	h.tcp.ack = 1;
	h.tcp.window = bpf_htons(s->em.window);
	if (ts) {
		h.opts[0] = TCPOPT_NOP;
		h.opts[1] = TCPOPT_NOP;
		h.opts[2] = TCPOPT_TS;
		h.opts[3] = TCPOLEN_TS;
		*(__u32 *)&h.opts[4] = bpf_htonl(s->em.tsval);
		*(__u32 *)&h.opts[8] = bpf_htonl(s->em.tsecr);
	}

	ph.saddr = s->em.daddr;
	ph.daddr = s->em.saddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(thl + tot);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	/* constant sizes: the verifier wants a known size for the stack */
	if (ts)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp,
				    TCP_HDR_MIN + TCPOLEN_TS_ALIGNED, sum);
	else
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp, TCP_HDR_MIN, sum);
	sum = csum_add32(sum, s->em.csum);
	h.tcp.check = ~csum_fold32(sum);

	/* grow at the tail, or at the head when the tail has no room (a veth
	 * frame built on a small skb); headers are written from offset 0 */
	delta = (int)(hlen + tot) - (int)(data_end - data);
	if (grow_frame(ctx, delta))
		return -1;
	/* every packet pointer is stale from here: helpers only */
	if (ts) {
		if (bpf_xdp_store_bytes(ctx, 0, &h.eth, PS_REPLY_HDR_MAX))
			return -2;
	} else {
		if (bpf_xdp_store_bytes(ctx, 0, &h.eth,
					PS_REPLY_HDR_MAX - TCPOLEN_TS_ALIGNED))
			return -2;
	}
	if (bpf_xdp_store_bytes(ctx, hlen, s->rep, tot))
		return -2;
	return 0;
}

static long noop_step(__u32 i, void *ctx)
{
	return 0;
}

/* Benchmarks: the dummy-cache experiment's extra work per answer. */
static __always_inline void extra_work(const struct ps_config *cfg)
{
	if (cfg->extra_work)
		bpf_loop(cfg->extra_work, noop_step, NULL, 0);
}

static __always_inline __u32 reply_limit(const struct ps_flow *f)
{
	__u32 mss = f->mss_cli ? f->mss_cli : MSS_DEFAULT;

	if (mss > MTU_PAYLOAD_MAX)
		mss = MTU_PAYLOAD_MAX;
	if (f->flags & PS_F_TS)
		mss -= TCPOLEN_TS_ALIGNED;
	return mss;
}

/* Fill s->em for a reply to request p on flow f. */
static __always_inline void em_setup(struct ps_scratch *s,
				     const struct ps_pkt *p,
				     const struct ps_flow *f, __u32 seq,
				     __u32 ack, __u32 tot)
{
	__u32 tsval;

	s->em.saddr = p->saddr;
	s->em.daddr = p->daddr;
	s->em.sport = p->sport;
	s->em.dport = p->dport;
	s->em.seq = seq;
	s->em.ack = ack;
	s->em.tot = tot;
	s->em.csum = s->asm_csum;
	s->em.window = f->srv_wnd_raw;
	s->em.ts = !!(f->flags & PS_F_TS);
	/* the kernel's clock (ms + per-connection offset), never behind
	 * what the kernel already sent: PAWS on the client */
	tsval = now_ms() + f->ts_off;
	if (before(tsval, f->ts_srv_last))
		tsval = f->ts_srv_last;
	s->em.tsval = tsval;
	s->em.tsecr = f->ts_recent;
}

#endif
