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
#include "tc_handoff.h"

/* Re-send the reply to the last answered request if it is retransmitted
 * and the cache would still give the very same bytes. Returns an enum
 * ps_sent (reply.h). */
static __always_inline int guarded_retrans(struct xdp_md *ctx,
					   struct ps_scratch *s,
					   struct ps_config *cfg,
					   struct ps_pkt *p, struct ps_flow *f)
{
	struct ps_cache_val *one;
	int tot, r;

	if (!(f->flags & PS_F_ANSWERED) || p->seq != f->ans_seq ||
	    p->payload_len != f->ans_len)
		return PS_SENT_NONE;
	/* a TC reply: TC ingress sends it again if the entry is unchanged */
	if ((cfg->flags & PS_CFG_TC_REPLY) &&
	    tcr_resend(ctx, p, f, f->ans_srv_seq, 0) == PS_SENT_TC)
		return PS_SENT_TC;
	__builtin_memset(&s->rq, 0, sizeof(s->rq));
	/* naive=1: a fresh parse without side effects (GETs only anyway) */
	s->pos = 0;
	s->naive = 1;
	if (rq_parse(ctx, s, p->payload_off, p->payload_len) ||
	    !all_gets(s, 1))
		return PS_SENT_NONE;
	tot = assemble(s, MTU_PAYLOAD_MAX, cfg->cache_gen, p->now_ns, &one);
	if (tot <= 0 || (__u32)tot != f->ans_reply_len ||
	    csum_fold32(s->asm_csum) != csum_fold32(f->ans_csum))
		return PS_SENT_NONE;
	em_setup(s, p, f, f->ans_srv_seq, p->seq + p->payload_len, tot);
	r = emit_reply(ctx, s, one);
	if (r == PS_SENT_TX)
		stat_inc(PS_ST_RETRANS_REPLIES);
	return r;
}

/*
 * retrans mode: keep the reply just emitted until the client acks it:
 * bytes in ps_rtx, keyed by flow and reply seq; the request it answered
 * in the flow's ring. The bytes are read back from the frame, which holds
 * exactly what was sent: the cache entry they came from may already hold
 * another key's value (helpers.h, ENTRY_SAME).
 */
static __always_inline void rtx_store(struct xdp_md *ctx, struct ps_scratch *s,
				      const struct ps_pkt *p, struct ps_flow *f,
				      __u32 seq, __u32 len, __u32 srv_seq,
				      __u32 tot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_ent *e;
	__u32 n = tot, hlen;

	if (n == 0 || n > PS_RTX_BYTES)
		return;
	BOUND_1_TO(n, PS_RTX_BYTES);
	/* emit_reply's layout: no IP options, NOP NOP TS when em.ts */
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + TCP_HDR_MIN +
	       (s->em.ts ? TCPOLEN_TS_ALIGNED : 0);
	if (bpf_xdp_load_bytes(ctx, hlen, s->rtx.rep, n))
		return;
	s->rtx.len = tot;
	s->rtx.csum = s->asm_csum;
	s->rtx.id = p->now_ns;
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

/* Unit tests only (PS_FAULT_RTX_REUSE): v, just looked up under k in
 * ps_rtx, is evicted and its element reused for the reply at
 * k->srv_seq + PS_FAULT_RTX_SEQ, as an LRU hash may do at once: that
 * entry's whole value is copied over it. */
static __always_inline void fault_rtx_reuse(struct ps_scratch *s,
					    const struct ps_rtx_key *k,
					    struct ps_rtx_val *v)
{
	struct ps_rtx_key o = *k;
	struct ps_rtx_val *ov;

	if (!(ps_fault & PS_FAULT_RTX_REUSE) || !v)
		return;
	o.srv_seq += PS_FAULT_RTX_SEQ;
	ov = bpf_map_lookup_elem(&ps_rtx, &o);
	if (!ov || ov == v)
		return;
	bpf_map_delete_elem(&ps_rtx, k);
	bpf_probe_read_kernel(v, sizeof(*v), ov);
}

/* Re-send ring entry `slot` in place of segment p, acking its request
 * (as the original did). Returns an enum ps_sent (emit_reply's), or
 * RTX_NOT_KEPT: its bytes are not in ps_rtx, or RTX_NO_ROOM: they are
 * but p's frame could not grow to hold them, untouched (the caller tries
 * tcr_resend_ent for both). Global: verified once. */
#define RTX_NOT_KEPT (PS_SENT_BROKEN + 1)
#define RTX_NO_ROOM  (PS_SENT_BROKEN + 2)
__noinline int rtx_resend(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_pkt *p, struct ps_flow *f, __u32 slot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_val *v;
	struct ps_rtx_ent *e;
	__u32 n, sum;
	__u64 id;
	int r;

	if (!ctx || !s || !p || !f)
		return PS_SENT_NONE;
	e = &f->rtx[slot & (PS_RTX_RING - 1)];
	flow_key(&k.flow, p, 1);
	k.srv_seq = e->srv_seq;
	v = bpf_map_lookup_elem(&ps_rtx, &k);
	fault_rtx_reuse(s, &k, v);
	/* not in ps_rtx: perhaps a TC reply (the caller asks tc_handoff.h;
	 * a call from here would exceed the combined stack limit) */
	if (!v)
		return RTX_NOT_KEPT;
	if (v->len != e->rep_len) {
		stat_inc(PS_ST_RTX_GONE);
		return PS_SENT_NONE;
	}
	n = v->len;
	sum = v->csum;
	id = v->id;
	if (n == 0 || n > PS_RTX_BYTES)
		return PS_SENT_NONE;
	BOUND_1_TO(n, PS_RTX_BYTES);
	if (bpf_probe_read_kernel(s->rep, n, v->rep))
		return PS_SENT_NONE;
	/* evicted and reused for another reply while we copied, or before
	 * the identity was read (helpers.h, ENTRY_OF): k's still, and the
	 * same store of it */
	MEM_BARRIER();
	if (bpf_map_lookup_elem(&ps_rtx, &k) != v ||
	    v->id != id || v->len != n || v->csum != sum) {
		stat_inc(PS_ST_RTX_GONE);
		return PS_SENT_NONE;
	}
	s->asm_csum = sum;
	em_setup(s, p, f, e->srv_seq, e->req_seq + e->req_len, e->rep_len);
	r = emit_reply(ctx, s, NULL);
	/* the frame could not grow (a veth frame on a small skb: an ACK,
	 * a short request): TC ingress builds the reply in an skb of its
	 * own. Before, nothing was sent: the ACK passed, a retransmitted
	 * request dropped, and each one after it alike (campaign seeds 6
	 * and 4, a lost XDP reply never re-sent) */
	return r == PS_SENT_NONE ? RTX_NO_ROOM : r;
}

/* A retransmitted request we answered, from its first byte (Linux may
 * collapse several into one segment; the rest comes again once acked) or
 * from inside it (a middlebox split the retransmission: the reply acks
 * the whole request, which the client did send). Returns an enum ps_sent. */
static __always_inline int rtx_request(struct xdp_md *ctx, struct ps_scratch *s,
				       struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		int r;

		if (!e->rep_len || before(p->seq, e->req_seq) ||
		    !before(p->seq, e->req_seq + e->req_len) ||
		    before(e->srv_seq, f->srv_una))
			continue;
		r = rtx_resend(ctx, s, p, f, i);
		if (r == RTX_NOT_KEPT || r == RTX_NO_ROOM)
			r = tcr_resend_ent(ctx, s, p, e);
		switch (r) {
		case PS_SENT_TX:
		case PS_SENT_TC:
			stat_inc(PS_ST_RTX_REQ);
			return r;
		case PS_SENT_BROKEN:
			return r;
		default: /* PS_SENT_NONE: the frame as it came, try the next */
			break;
		}
	}
	return PS_SENT_NONE;
}

/* A pure ACK stuck at the start of a reply we injected: with a SACK block
 * (the client holds later data) or at the second one, the reply was lost;
 * this ACK becomes its retransmission (the kernel loses nothing by not
 * seeing it: the hole is in bytes it never sent). Returns an enum ps_sent. */
static __always_inline int rtx_dupack(struct xdp_md *ctx, struct ps_scratch *s,
				      struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;
	int r;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		if (!e->rep_len || e->srv_seq != p->ack)
			continue;
		f->dupacks++;
		if (!p->sack_n && f->dupacks < 2)
			return PS_SENT_NONE;
		f->dupacks = 0;
		r = rtx_resend(ctx, s, p, f, i);
		if (r == RTX_NOT_KEPT || r == RTX_NO_ROOM)
			r = tcr_resend_ent(ctx, s, p, e);
		if (r == PS_SENT_TX || r == PS_SENT_TC)
			stat_inc(PS_ST_RTX_DUPACK);
		return r;
	}
	return PS_SENT_NONE;
}

#endif
