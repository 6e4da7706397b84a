/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ingress.h - a client segment at XDP: find its flow (or open one at the
 * SYN), keep the client-side mirrors (ack, window, timestamps, FIN), and
 * give its data to the mode's path: naive, or guarded (retrans is guarded
 * plus the retransmission buffer). Returns an XDP verdict.
 */
#ifndef PS_INGRESS_H
#define PS_INGRESS_H

#include "ingress_common.h"
#include "naive.h"
#include "guarded.h"
#include "rtx.h"

static __always_inline int ps_ingress(struct xdp_md *ctx,
				      struct ps_config *cfg, struct ps_pkt *p)
{
	__u32 sidx = PS_SCR_XDP, end;
	struct ps_flow_key key;
	struct ps_scratch *s;
	struct ps_flow *f;
	int naive = cfg->mode == PS_MODE_NAIVE, verdict;

	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!s)
		return XDP_PASS;
	flow_key(&key, p, 1);

	if ((p->flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		/* draining: a new connection is never tracked (nor an old
		 * entry of the same 4-tuple kept for it) */
		if (cfg->flags & PS_CFG_DRAIN) {
			bpf_map_delete_elem(&ps_flows, &key);
			return XDP_PASS;
		}
		return xdp_handle_syn(s, p, &key, naive);
	}

	f = bpf_map_lookup_elem(&ps_flows, &key);
	if (!f) {
		stat_inc(PS_ST_UNTRACKED);
		return XDP_PASS;
	}
	p->now_ns = bpf_ktime_get_ns();
	p->now_ms = now_ms(cfg, p->now_ns);
	f->last_ns = p->now_ns;
	if (p->flags & TCPF_SYN)
		return XDP_PASS;

	if (p->flags & TCPF_RST) {
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
		flow_close(&key);
		return XDP_PASS;
	}

	if (cfg->mode == PS_MODE_RETRANS && p->payload_len == 0 &&
	    (p->flags & (TCPF_ACK | TCPF_FIN | TCPF_SYN | TCPF_RST)) == TCPF_ACK) {
		if (p->ack == f->srv_una && before(p->ack, srv_nxt(f))) {
			verdict = rtx_dupack(ctx, s, p, f);
			if (verdict == XDP_TX || verdict == XDP_PASS)
				return verdict;
		} else {
			f->dupacks = 0;
		}
	}
	/* a hole inside a multi-segment TC reply (tc_handoff.h) */
	if (!naive && p->payload_len == 0 &&
	    (p->flags & (TCPF_ACK | TCPF_FIN | TCPF_SYN | TCPF_RST)) == TCPF_ACK &&
	    tcr_ack_hole(ctx, cfg, p, f) == XDP_PASS)
		return XDP_PASS;
	if ((p->flags & TCPF_ACK) && after(p->ack, f->srv_una) &&
	    !after(p->ack, srv_nxt(f)))
		f->srv_una = p->ack;
	/* correction points no one can send a number before any more
	 * (ksnd_una: what the kernel has been told before this segment) */
	if (f->cli_adj.n | f->srv_adj.n) {
		seqadj_retire_cli(f);
		seqadj_retire_srv(&f->srv_adj, f->srv_una, f->ksnd_una);
	}
	if (p->has_ts && !before(p->tsval, f->ts_recent))
		f->ts_recent = p->tsval;
	f->cli_wnd_raw = p->window;

	if (p->payload_len == 0) {
		verdict = XDP_PASS;
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
	} else if (naive) {
		verdict = naive_data(ctx, s, cfg, p, f);
	} else {
		verdict = guarded_data(ctx, s, cfg, p, f);
		if (s->add_pending)
			__sync_fetch_and_add(&f->pending, s->add_pending);
	}
	if (verdict != XDP_PASS)
		return verdict;

	if (p->flags & TCPF_FIN) {
		end = p->seq + p->payload_len;
		if (end == f->cli_nxt)
			f->cli_nxt = end + 1;
		flow_set(f, PS_F_FIN_CLI);
		f->state = PS_FLOW_CLOSING;
	}
	/* last ACK of the server's FIN after both FINs: the flow is done */
	if (flow_done(f, p, !before(p->ack, srv_nxt(f))))
		flow_close(&key);
	return XDP_PASS;
}

#endif
