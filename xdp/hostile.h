/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hostile.h - client segments of a tracked flow that the kernel would
 * refuse or read differently, recognised before anything is learnt from
 * them (guarded and retrans; docs/guards-and-coherence.md, "Segments the
 * kernel refuses"):
 *
 *   - a wrong IP header or TCP checksum: the kernel drops the segment, so
 *     it is passed untouched and nothing moves (cli_nxt, the request
 *     parser, the ACK and timestamp mirrors);
 *   - PAWS (TSval more than one tick before ts_recent), an ACK of data the
 *     server never sent or older than the client's window, no ACK at all,
 *     data beyond the kernel's advertised receive window: the kernel
 *     drops it too, but its ts_recent, snd_una and window are not exactly
 *     our mirrors of them, so a data segment refused so also hands the
 *     flow to the kernel with its writes unseen (flush);
 *   - URG: Linux takes the urgent byte out of the stream Redis reads, so
 *     our parser no longer reads what Redis reads: the same.
 *
 * The checksums are summed inline from the headers already read; the
 * payload's sum comes from wherever the payload is read (rq_parse,
 * xdp_fast_get, xdp_payload_sum). Verifying needs complete checksums on
 * the wire: on veth, TX checksum offload off on the client's end (the
 * testbed does that; a partial checksum fails and nothing is answered).
 */
#ifndef PS_HOSTILE_H
#define PS_HOSTILE_H

#include "ingress_common.h"
#include "cache.h"

/*
 * The IP header's checksum (returns 0 when wrong) and the TCP pseudo
 * header plus TCP header sum into p->l4_sum, summed inline: the headers
 * were bounds-checked by ps_parse; doff 32 (NOP NOP TS) unrolled.
 */
static __always_inline int xdp_hdr_sums(struct xdp_md *ctx, struct ps_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *w, i, off = p->l4_off, doff = p->doff;
	__u64 sum;

	w = data + ETH_HDR_LEN;
	if ((void *)(w + 5) > data_end)
		return 0;
	sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
	for (i = 5; i < IP_HDR_MAX / 4; i++) {
		if (i * 4 >= p->ihl || (void *)(w + i + 1) > data_end)
			break;
		sum += w[i];
	}
	if (csum_fold64(sum) != 0xffff)
		return 0;

	if (off > L4_OFF_MAX)
		return 0;
	w = data + off;
	sum = (__u64)p->saddr + p->daddr + bpf_htons(IPPROTO_TCP) +
	      bpf_htons(doff + p->payload_len);
	if (doff == TCP_HDR_MIN + TCPOLEN_TS_ALIGNED) {
		if ((void *)(w + 8) > data_end)
			return 0;
		sum += (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] +
		       w[7];
	} else {
		for (i = 0; i < TCP_HDR_MAX / 4; i++) {
			if (i * 4 >= doff || (void *)(w + i + 1) > data_end)
				break;
			sum += w[i];
		}
	}
	p->l4_sum = csum_fold64(sum);
	return 1;
}

/* The whole segment sums to 0xffff with the payload's sum added. */
static __always_inline int seg_csum_ok(const struct ps_pkt *p, __u32 pl_sum)
{
	return csum_fold32(csum_add32(p->l4_sum, pl_sum)) == 0xffff;
}

/* The whole segment's checksum, its payload read for it if it has one
 * (segments with SYN, RST or FIN: rare, and acted on before any parse). */
static __always_inline int xdp_seg_csum_ok(struct xdp_md *ctx,
					   struct ps_scratch *s,
					   struct ps_pkt *p)
{
	s->pl_sum = 0;
	if (p->payload_len)
		xdp_payload_sum(ctx, s, p->payload_off, p->payload_len);
	return seg_csum_ok(p, s->pl_sum);
}

/*
 * What Linux would refuse of a segment of an established or closing flow
 * whose checksum is right (tcp_validate_incoming, tcp_ack,
 * tcp_sequence): the PS_ST_FB_* counter that says why, or 0.
 */
static __always_inline __u32 tcp_refusal(const struct ps_pkt *p,
					 const struct ps_flow *f)
{
	__u32 wnd;

	if (p->flags & TCPF_URG)
		return PS_ST_FB_URG;
	/* PAWS (RFC 7323 5.3): Linux allows one tick of reordering */
	if ((f->flags & PS_F_TS) && p->has_ts &&
	    (__s32)(f->ts_recent - p->tsval) > 1)
		return PS_ST_FB_PAWS;
	/* an RST is judged by its seq alone (ps_ingress) */
	if (p->flags & TCPF_RST)
		return 0;
	if (!(p->flags & TCPF_ACK))
		return PS_ST_FB_ACK;
	/* ACK of unsent data, or older than the client's window (Linux
	 * takes the largest the peer ever sent; the last one is smaller,
	 * so this refuses at least what it refuses) */
	wnd = (__u32)f->cli_wnd_raw << (f->wscale_cli & 15);
	if (after(p->ack, srv_nxt(f)) || before(p->ack, f->srv_una - wnd))
		return PS_ST_FB_ACK;
	/* beyond the kernel's receive window (0: not learnt) */
	if (p->payload_len && f->rwnd_end &&
	    after(p->seq + p->payload_len, f->rwnd_end))
		return PS_ST_FB_RWND;
	return 0;
}

/*
 * Hand a refused segment on and learn nothing from it (s->refused): a bad
 * checksum untouched (the kernel drops it); the rest translated, and a
 * data segment (or any URG) takes the request parser with it: the flow is
 * untrusted, its writes unseen from now on, the cache flushed.
 */
static __always_inline int xdp_refuse(struct xdp_md *ctx, struct ps_scratch *s,
				      struct ps_pkt *p, struct ps_flow *f,
				      __u32 why)
{
	stat_inc(why);
	s->refused = 1;
	if (why == PS_ST_FB_CSUM)
		return XDP_PASS;
	if (why == PS_ST_FB_URG || p->payload_len)
		writes_unseen(f, s, why == PS_ST_FB_URG ? PS_UT_URG : PS_UT_KDROP);
	xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, 0), 0);
	return XDP_PASS;
}

/*
 * A first fragment whose TCP header goes on in the next fragment (a tiny
 * fragment, RFC 1858): the checksum field is not in this frame, so its
 * seq/ack cannot be translated here, and passed raw the kernel would
 * queue client-space bytes at a kernel-space position. A tracked flow's
 * is dropped (its sender resends the segment); others pass untouched.
 * XXX: the headers could be translated across both fragments by keeping
 * the checksum difference until the fragment that holds the field.
 */
static __always_inline int xdp_short_frag(const struct ps_pkt *p)
{
	struct ps_flow_key key;

	stat_inc(PS_ST_FRAGMENTS);
	flow_key(&key, p, 1);
	if (!bpf_map_lookup_elem(&ps_flows, &key))
		return XDP_PASS;
	stat_inc(PS_ST_FB_FRAG);
	return XDP_DROP;
}

/*
 * The first fragment of a fragmented segment of a tracked flow: its TCP
 * header is there, so seq/ack/SACK are translated (an incremental update
 * of the checksum stays right for the reassembled segment); the bytes of
 * the later fragments are never parsed, so the flow's writes are unseen
 * from now on: untrusted, flushed (guarded). Later fragments hold no
 * header and pass untouched (ps_core).
 */
static __always_inline int xdp_first_frag(struct xdp_md *ctx,
					  struct ps_scratch *s,
					  struct ps_pkt *p, struct ps_flow *f,
					  int naive)
{
	stat_inc(PS_ST_FB_FRAG);
	if (!naive)
		writes_unseen(f, s, PS_UT_FRAG);
	xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
	return XDP_PASS;
}

/* Learn from a segment the kernel accepts: the client's ACK (in what the
 * server sent), its TSval (as tcp_replace_ts_recent, only from a segment
 * that does not start after the next expected byte), its window. */
static __always_inline void cli_mirrors(const struct ps_pkt *p,
					struct ps_flow *f)
{
	if ((p->flags & TCPF_ACK) && after(p->ack, f->srv_una) &&
	    !after(p->ack, srv_nxt(f)))
		f->srv_una = p->ack;
	/* correction points no one can send a number before any more
	 * (ksnd_una: what the kernel has been told before this segment) */
	if (f->cli_adj.n | f->srv_adj.n) {
		struct ps_flow_key fk;

		seqadj_retire_cli(f);
		flow_key(&fk, p, 1);
		srv_points_retire(f, &fk, f->srv_una, f->ksnd_una);
	}
	if (p->has_ts && !before(p->tsval, f->ts_recent) &&
	    !after(p->seq, f->cli_nxt))
		f->ts_recent = p->tsval;
	f->cli_wnd_raw = p->window;
}

/* A reply XDP sent advertises the kernel's window from its own ack on:
 * the client may use it. */
static __always_inline void rwnd_advertised(struct ps_flow *f, __u32 ack)
{
	__u32 e = ack + ((__u32)f->srv_wnd_raw << (f->wscale_srv & 15));

	if (after(e, f->rwnd_end))
		f->rwnd_end = e;
}

/*
 * RFC 5961 3.2 as Linux has it: only an RST at exactly the next expected
 * byte resets; one elsewhere in the window gets a challenge ACK and one
 * outside is ignored, and both keep the connection. Returns 1 when the
 * flow is over.
 */
static __always_inline int rst_closes(const struct ps_pkt *p,
				      const struct ps_flow *f)
{
	return p->seq == f->cli_nxt;
}

#endif
