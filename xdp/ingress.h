/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ingress.h - a client segment at XDP: find its flow (or open one at the
 * SYN), refuse what the kernel would refuse (hostile.h), keep the
 * client-side mirrors (ack, window, timestamps, FIN), and give its data to
 * the mode's path: naive, or guarded (retrans is guarded plus the
 * retransmission buffer). Returns an XDP verdict.
 */
#ifndef PS_INGRESS_H
#define PS_INGRESS_H

#include "ingress_common.h"
#include "naive.h"
#include "hostile.h"
#include "guarded.h"
#include "rtx.h"

/*
 * A segment of a finished flow (PS_FLOW_DONE): translated, as TIME_WAIT
 * would still answer it, nothing learnt or answered; after
 * PS_TIME_WAIT_NS without a segment the flow is forgotten.
 */
static __always_inline int xdp_time_wait(struct xdp_md *ctx, struct ps_pkt *p,
					 struct ps_flow *f,
					 const struct ps_flow_key *key, int naive)
{
	if (p->now_ns - f->last_ns > PS_TIME_WAIT_NS) {
		bpf_map_delete_elem(&ps_flows, key);
		stat_inc(PS_ST_UNTRACKED);
		return XDP_PASS;
	}
	f->last_ns = p->now_ns;
	stat_inc(PS_ST_TIME_WAIT);
	xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
	return XDP_PASS;
}

static __always_inline int ingress_segment(struct xdp_md *ctx,
					   struct ps_scratch *s,
					   struct ps_config *cfg,
					   struct ps_pkt *p)
{
	struct ps_flow_key key;
	struct ps_flow *f;
	int naive = cfg->mode == PS_MODE_NAIVE, verdict;
	__u32 end, why;

	flow_key(&key, p, 1);
	s->refused = 0;
	s->seg_ok = 0;
	if (p->frag)
		stat_inc(PS_ST_FRAGMENTS);

	if ((p->flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		/* a SYN the kernel drops opens or replaces nothing */
		if (!naive && !p->frag &&
		    !(xdp_hdr_sums(ctx, p) && xdp_seg_csum_ok(ctx, s, p))) {
			stat_inc(PS_ST_FB_CSUM);
			return XDP_PASS;
		}
		return xdp_handle_syn(ctx, s, p, &key, naive,
				      cfg->flags & PS_CFG_DRAIN);
	}

	f = bpf_map_lookup_elem(&ps_flows, &key);
	if (!f) {
		stat_inc(PS_ST_UNTRACKED);
		return XDP_PASS;
	}
	p->now_ns = bpf_ktime_get_ns();
	p->now_ms = now_ms(cfg, p->now_ns);
	if (f->state == PS_FLOW_DONE)
		return xdp_time_wait(ctx, p, f, &key, naive);
	f->last_ns = p->now_ns;
	PROF_MARK(0, 1);
	if (p->frag)
		return xdp_first_frag(ctx, s, p, f, naive);

	if (!naive) {
		/* the checksums first: a segment the kernel drops moves
		 * nothing. A plain data segment's payload is summed where
		 * it is parsed (guarded_data); any other now. */
		if (!xdp_hdr_sums(ctx, p))
			return xdp_refuse(ctx, s, p, f, PS_ST_FB_CSUM);
		if (p->payload_len == 0 ||
		    (p->flags & (TCPF_SYN | TCPF_RST | TCPF_FIN | TCPF_URG))) {
			if (!xdp_seg_csum_ok(ctx, s, p))
				return xdp_refuse(ctx, s, p, f, PS_ST_FB_CSUM);
			if (f->state != PS_FLOW_SYN) {
				why = tcp_refusal(p, f);
				if (why)
					return xdp_refuse(ctx, s, p, f, why);
			}
			s->seg_ok = 1;
		}
	}
	/* a SYN with ACK (or more) on a tracked flow: Linux challenge-ACKs
	 * it, nothing changes */
	if (p->flags & TCPF_SYN) {
		stat_inc(PS_ST_SYN_KEPT);
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
		return XDP_PASS;
	}
	if (p->flags & TCPF_RST) {
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
		if (rst_closes(p, f)) {
			/* the kernel sends nothing more on it: TC would
			 * never forget the runs it holds */
			runs_forget(f, &key);
			flow_reset(f, p->now_ns);
		} else
			stat_inc(PS_ST_RST_KEPT);
		return XDP_PASS;
	}

	if (cfg->mode == PS_MODE_RETRANS && p->payload_len == 0 &&
	    (p->flags & (TCPF_ACK | TCPF_FIN | TCPF_SYN | TCPF_RST)) == TCPF_ACK) {
		if (p->ack == f->srv_una && before(p->ack, srv_nxt(f))) {
			verdict = rtx_dupack(ctx, s, p, f);
			if (verdict != PS_SENT_NONE)
				return sent_verdict(verdict);
		} else {
			f->dupacks = 0;
		}
	}
	/* a hole inside a multi-segment TC reply (tc_handoff.h) */
	if (!naive && p->payload_len == 0 &&
	    (p->flags & (TCPF_ACK | TCPF_FIN | TCPF_SYN | TCPF_RST)) == TCPF_ACK &&
	    tcr_ack_hole(ctx, cfg, p, f) == PS_SENT_TC)
		return XDP_PASS;

	if (p->payload_len == 0) {
		cli_mirrors(p, f);
		verdict = XDP_PASS;
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
	} else if (naive) {
		cli_mirrors(p, f);
		verdict = naive_data(ctx, s, cfg, p, f);
	} else {
		/* guarded_data learns the mirrors once the segment is judged */
		verdict = guarded_data(ctx, s, cfg, p, f);
		if (verdict == PS_GUARDED_TAIL)
			verdict = guarded_tail(ctx, s, cfg, p, f);
		else if (verdict == PS_GUARDED_OLD)
			verdict = guarded_old(ctx, s, cfg, p, f);
		else if (verdict == PS_GUARDED_INSIDE)
			verdict = guarded_inside(ctx, s, cfg, p, f);
		if (s->add_pending)
			__sync_fetch_and_add(&f->pending, s->add_pending);
	}
	if (verdict != XDP_PASS || s->refused)
		return verdict;

	if (p->flags & TCPF_FIN) {
		end = p->seq + p->payload_len;
		if (end == f->cli_nxt)
			f->cli_nxt = end + 1;
		flow_set(f, PS_F_FIN_CLI);
		f->state = PS_FLOW_CLOSING;
	}
	/* last ACK of the server's FIN after both FINs: the flow is done */
	if (flow_done(f, p, !before(p->ack, srv_nxt(f)))) {
		runs_forget(f, &key);
		flow_finish(f);
	}
	return XDP_PASS;
}

/*
 * A client segment at XDP. Whatever path it took, a frame that emit_reply
 * began to rewrite and did not complete (s->em_dirty) is dropped here,
 * never passed or sent: the kernel must not see half a reply.
 */
static __always_inline int ps_ingress(struct xdp_md *ctx,
				      struct ps_config *cfg, struct ps_pkt *p)
{
	__u32 sidx = PS_SCR_XDP;
	struct ps_scratch *s;
	int verdict;

	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!s)
		return XDP_PASS;
	s->em_dirty = 0;
	verdict = ingress_segment(ctx, s, cfg, p);
	if (s->em_dirty) {
		stat_inc(PS_ST_EMIT_BROKEN);
		return XDP_DROP;
	}
	return verdict;
}

#endif
