/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rtx.h - answering again what was answered once. guarded re-answers a
 * retransmission of the last answered request when the cache still gives
 * the same bytes; retrans mode keeps every injected reply (ps_rtx) until
 * the client acks it and re-sends it for a retransmitted request or for a
 * duplicate ACK / SACK hole at its start. No timer is needed: every lost
 * reply leaves one of those at the hole.
 */
#ifndef PS_RTX_H
#define PS_RTX_H

#include "ingress_common.h"
#include "reply.h"

/* Re-send the reply to the last answered request if it is retransmitted
 * and the cache would still give the very same bytes. */
static __always_inline int guarded_retrans(struct xdp_md *ctx,
					   struct ps_scratch *s,
					   struct ps_config *cfg,
					   struct ps_pkt *p, struct ps_flow *f)
{
	struct ps_cache_val *one;
	int tot;

	if (!(f->flags & PS_F_ANSWERED) || p->seq != f->ans_seq ||
	    p->payload_len != f->ans_len)
		return -1;
	__builtin_memset(&s->rq, 0, sizeof(s->rq));
	/* naive=1: a fresh parse without side effects (GETs only anyway) */
	s->pos = 0;
	s->naive = 1;
	if (rq_parse(ctx, s, p->payload_off, p->payload_len) ||
	    !all_gets(s, 1))
		return -1;
	tot = assemble(s, MTU_PAYLOAD_MAX, cfg->cache_gen, p->now_ns, &one);
	if (tot <= 0 || (__u32)tot != f->ans_reply_len ||
	    csum_fold32(s->asm_csum) != csum_fold32(f->ans_csum))
		return -1;
	em_setup(s, p, f, f->ans_srv_seq, p->seq + p->payload_len, tot);
	if (emit_reply(ctx, s, one))
		return -1;
	stat_inc(PS_ST_RETRANS_REPLIES);
	return XDP_TX;
}

/*
 * retrans mode: keep the reply just emitted (one->reply, or s->rep and
 * s->asm_csum) until
 * the client acks it: bytes in ps_rtx, keyed by flow and reply seq; the
 * request it answered in the flow's ring.
 */
static __always_inline void rtx_store(struct ps_scratch *s,
				      const struct ps_pkt *p, struct ps_flow *f,
				      const struct ps_cache_val *one, __u32 seq, __u32 len, __u32 srv_seq,
				      __u32 tot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_ent *e;
	__u32 n = tot;

	if (n == 0 || n > PS_RTX_BYTES)
		return;
	BOUND_1_TO(n, PS_RTX_BYTES);
	/* probe_read: a variable-length copy between two map values */
	if (bpf_probe_read_kernel(s->rtx.rep, n, one ? one->reply : s->rep))
		return;
	s->rtx.len = tot;
	s->rtx.csum = s->asm_csum;
	flow_key(&k.flow, p, 1);
	k.srv_seq = srv_seq;
	if (bpf_map_update_elem(&ps_rtx, &k, &s->rtx, BPF_ANY))
		return;
	e = &f->rtx[f->rtx_next & (PS_RTX_RING - 1)];
	e->req_seq = seq;
	e->req_len = len;
	e->srv_seq = srv_seq;
	e->rep_len = tot;
	f->rtx_next++;
	stat_inc(PS_ST_RTX_STORED);
}

/* Re-send ring entry `slot` in place of segment p, acking its request
 * (as the original did). Global: verified once. */
__noinline int rtx_resend(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_pkt *p, struct ps_flow *f, __u32 slot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_val *v;
	struct ps_rtx_ent *e;
	__u32 n;

	if (!ctx || !s || !p || !f)
		return -1;
	e = &f->rtx[slot & (PS_RTX_RING - 1)];
	flow_key(&k.flow, p, 1);
	k.srv_seq = e->srv_seq;
	v = bpf_map_lookup_elem(&ps_rtx, &k);
	if (!v || v->len != e->rep_len) {
		stat_inc(PS_ST_RTX_GONE);
		return -1;
	}
	n = v->len;
	if (n == 0 || n > PS_RTX_BYTES)
		return -1;
	BOUND_1_TO(n, PS_RTX_BYTES);
	if (bpf_probe_read_kernel(s->rep, n, v->rep))
		return -1;
	s->asm_csum = v->csum;
	em_setup(s, p, f, e->srv_seq, e->req_seq + e->req_len, e->rep_len);
	return emit_reply(ctx, s, NULL) ? -1 : 0;
}

/* A retransmitted request we answered (from its first byte: Linux may
 * collapse several into one segment; the rest comes again once acked). */
static __always_inline int rtx_request(struct xdp_md *ctx, struct ps_scratch *s,
				       struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		if (e->rep_len && e->req_seq == p->seq && p->payload_len >= e->req_len &&
		    !before(e->srv_seq, f->srv_una) &&
		    rtx_resend(ctx, s, p, f, i) == 0) {
			stat_inc(PS_ST_RTX_REQ);
			return XDP_TX;
		}
	}
	return -1;
}

/* A pure ACK stuck at the start of a reply we injected: with a SACK block
 * (the client holds later data) or at the second one, the reply was lost;
 * this ACK becomes its retransmission (the kernel loses nothing by not
 * seeing it: the hole is in bytes it never sent). */
static __always_inline int rtx_dupack(struct xdp_md *ctx, struct ps_scratch *s,
				      struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		if (!e->rep_len || e->srv_seq != p->ack)
			continue;
		f->dupacks++;
		if (!p->sack_n && f->dupacks < 2)
			return -1;
		f->dupacks = 0;
		if (rtx_resend(ctx, s, p, f, i))
			return -1;
		stat_inc(PS_ST_RTX_DUPACK);
		return XDP_TX;
	}
	return -1;
}

#endif
