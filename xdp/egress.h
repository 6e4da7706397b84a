/* SPDX-License-Identifier: GPL-2.0 */
/*
 * egress.h - the kernel's segments at TC egress: seq/ack/SACK translated
 * into the client's space (with guarded's ACK hold), Redis's replies
 * counted so that "pending" is exact, the cache filled from the reply to
 * a GET that missed, flow state kept from the server's side.
 */
#ifndef PS_EGRESS_H
#define PS_EGRESS_H

#include "helpers.h"
#include "parsing.h"
#include "flow.h"
#include "seqadj.h"
#include "scratch.h"
#include "resp.h"
#include "cache.h"
#include "insert.h"

/* Replace the 32-bit field at `off` (from the frame start) of a segment
 * whose TCP header starts at l4_off. */
static __always_inline void tc_store32(struct __sk_buff *skb, __u32 l4_off,
				       __u32 off, __u32 old, __u32 new)
{
	if (old == new)
		return;
	bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0);
	/* l4_csum_replace handles CHECKSUM_PARTIAL skbs correctly */
	bpf_l4_csum_replace(skb, l4_off + offsetof(struct tcphdr, check), old,
			    new, sizeof(new));
}

/*
 * guarded: should this kernel segment's ACK stop at the last answered
 * request? The client's ACK of the kernel's previous reply rides on that
 * request, which the kernel never sees; if the injected reply is lost, the
 * kernel retransmits its own reply at RTO with an ACK field that, translated,
 * covers the request. The client then takes the request as delivered, never
 * resends it, and nobody resends the injected bytes: a stall (paper/, "The
 * ACK hold"; the random-loss cells). Until the client has acked the injected reply, a
 * retransmission by the kernel therefore acks only up to the request, so the
 * client's own RTO resends it and guarded_retrans answers it again. New
 * kernel data keeps the full ACK: the client did send what it acks, and
 * holding it back would make the client resend requests the kernel has.
 */
static __always_inline int tc_hold_ack(const struct ps_config *cfg,
				       const struct ps_pkt *p,
				       const struct ps_flow *f)
{
	return cfg->mode == PS_MODE_GUARDED &&
	       !(cfg->flags & PS_CFG_NO_ACK_HOLD) && (f->flags & PS_F_ANSWERED) &&
	       p->payload_len && before(p->seq, f->ksnd_nxt) &&
	       before(f->srv_una, f->ans_srv_seq + f->ans_reply_len);
}

/* Returns the ack field as written (client space). */
static __always_inline __u32 tc_translate(struct __sk_buff *skb,
					  const struct ps_pkt *p,
					  const struct ps_flow *f, int naive,
					  int hold)
{
	__u32 i, e[2], ack = p->ack, w[2];
	int changed = 0;
	__u64 diff;

	if (f->consumed && (p->flags & TCPF_ACK)) {
		ack = k_ack_to_cli(f, p->ack, naive);
		if (hold && after(ack, f->ans_seq)) {
			ack = f->ans_seq;
			stat_inc(PS_ST_ACK_HELD);
		}
	}
	/* A segment maps by its first byte. Kernel segments never span a
	 * correction point when first sent (an injection happens at the
	 * kernel's snd_nxt); XXX a retransmission that the kernel collapses
	 * (tcp_retrans_try_collapse) across one would arrive with the
	 * injected run missing in the middle: not detected.
	 * seq and ack are adjacent: one store and one checksum update by
	 * their joint difference (two helper calls where four were) */
	w[0] = bpf_htonl(f->injected ? k_seq_to_cli(f, p->seq, naive) : p->seq);
	w[1] = bpf_htonl(ack);
	if (w[0] != bpf_htonl(p->seq) || w[1] != bpf_htonl(p->ack)) {
		diff = (__u64)(__u32)~bpf_htonl(p->seq) + w[0] +
		       (__u32)~bpf_htonl(p->ack) + w[1];
		diff = (diff & 0xffffffff) + (diff >> 32);
		diff = (diff & 0xffffffff) + (diff >> 32);
		bpf_skb_store_bytes(skb, p->l4_off + offsetof(struct tcphdr, seq),
				    w, sizeof(w), 0);
		/* size 0: `to` is a difference; right for CHECKSUM_PARTIAL
		 * skbs too (seq and ack are not in the pseudo header) */
		bpf_l4_csum_replace(skb, p->l4_off + offsetof(struct tcphdr, check),
				    0, (__u32)diff, 0);
	}
	if (f->injected || (f->consumed && (p->flags & TCPF_ACK)))
		changed = 1;
	/* the kernel's SACK blocks name client bytes in kernel space */
	for (i = 0; i < TCP_SACK_BLOCKS_MAX && f->consumed; i++) {
		__u32 o = p->l4_off + p->sack_off + i * TCPOLEN_SACK_BLOCK;

		if (i >= p->sack_n)
			break;
		if (bpf_skb_load_bytes(skb, o, e, 8))
			break;
		tc_store32(skb, p->l4_off, o, e[0],
			   bpf_htonl(k_ack_to_cli(f, bpf_ntohl(e[0]), naive)));
		tc_store32(skb, p->l4_off, o + 4, e[1],
			   bpf_htonl(k_ack_to_cli(f, bpf_ntohl(e[1]), naive)));
		changed = 1;
	}
	if (changed)
		stat_inc(PS_ST_TRANSLATED);
	return ack;
}

static __always_inline void tc_synack(const struct ps_config *cfg,
				      struct ps_flow *f, const struct ps_pkt *p)
{
	/* unit tests: the SYN of another ISN lands here (its ISN first) */
	if (ps_fault & PS_FAULT_SYN_RACE)
		f->cli_isn += PS_FAULT_SYN_ISN;
	f->srv_isn = p->seq;
	f->ksnd_nxt = p->seq + 1;
	f->ksnd_una = p->seq + 1;
	f->srv_una = p->seq + 1;
	if ((f->flags & PS_F_CLI_TS) && p->has_ts) {
		flow_set(f, PS_F_TS);
		f->ts_srv_last = p->tsval;
		f->ts_off = p->tsval - now_ms(cfg, bpf_ktime_get_ns());
	}
	if ((f->flags & PS_F_CLI_SACK) && p->has_sackperm)
		flow_set(f, PS_F_SACK);
	if ((f->flags & PS_F_CLI_WS) && p->has_ws) {
		flow_set(f, PS_F_WSCALE);
		f->wscale_srv = p->ws;
	} else {
		f->wscale_cli = 0;
		f->wscale_srv = 0;
	}
	/* the SYN-ACK's window is never scaled (RFC 7323 2.2); the kernel's
	 * next segments carry rcv_wnd >> rcv_wscale: what our first reply
	 * advertises until one of them is seen */
	f->srv_wnd_raw = p->window >> (f->wscale_srv & 15);
	f->rwnd_end = p->ack + p->window;
	f->state = PS_FLOW_EST;
	/* a SYN of another ISN may have replaced the flow meanwhile
	 * (flow_replace_syn, XDP, ISN first): read again after every write
	 * above (a compare-and-swap: a full barrier); changed, some of
	 * those writes may be in the new flow */
	if (__sync_val_compare_and_swap(&f->cli_isn, 0, 0) + 1 != p->ack)
		untrust(f, PS_UT_SYN_RACE);
}

/* The reply parser over a segment of any size, from byte `from`: the
 * shared walk (resp.h, rp_walk_skb, as the side path's). */
static __always_inline int tc_walk(struct __sk_buff *skb, struct ps_scratch *s,
				   __u32 payload_off, __u32 from, __u32 len)
{
	s->pos = from;
	return rp_walk_skb(skb, s, payload_off, len);
}

/*
 * One complete reply filling the segment (ps_fast_reply), reading only
 * its head and its last two bytes: a value is never copied to be skipped.
 * Returns 1 when it was, 0 when the general walk must run.
 */
static __always_inline int tc_fast_reply(struct __sk_buff *skb,
					 struct ps_scratch *s, __u32 payload_off,
					 __u32 from, __u32 len)
{
	__u32 head = len < PS_FAST_REPLY_HEAD ? len : PS_FAST_REPLY_HEAD;

	if (from || len < 4 || len > PS_PAYLOAD_MAX)
		return 0;
	BOUND_1_TO(head, 32);
	if (head > PS_FAST_REPLY_HEAD ||
	    bpf_skb_load_bytes(skb, payload_off, s->buf, head))
		return 0;
	if (len > head &&
	    bpf_skb_load_bytes(skb, payload_off + len - 2,
			       &s->buf[(len - 2) & PS_BUF_MASK], 2))
		return 0;
	s->len = len;
	s->pos = 0;
	return ps_fast_reply(s);
}

/*
 * Count replies in new server bytes; fill the cache when one answers the
 * armed GET. Returns the replies to take off `pending`, which the caller
 * does once the runs that go into this segment are recorded (insert.h);
 * s->replies and s->rend say where they end.
 */
static __always_inline __u32 tc_replies(struct __sk_buff *skb,
					const struct ps_config *cfg,
					const struct ps_pkt *p, struct ps_flow *f,
					struct ps_scratch *s, __u32 from, int naive)
{
	__u32 len = p->payload_len, pending;

	s->replies = 0;
	/* runs still queued need every reply counted, untrusted or not */
	if (!naive && (f->flags & PS_F_REP_DESYNC) &&
	    f->runq_head != f->runq_tail) {
		flow_set(f, PS_F_RUNS_LOST);
		stat_inc(PS_ST_INS_BROKEN);
	}
	if (!naive && ((f->flags & PS_F_REP_DESYNC) ||
		       ((f->flags & PS_F_UNTRUSTED) &&
			f->runq_head == f->runq_tail))) {
		/* replies no longer counted: what was in flight is let go
		 * now, with the whole cache.
		 * XXX: a fill racing one of those writes inside Redis can
		 * still land after this flush (the watcher's window) */
		if (f->wr_head != f->wr_tail || f->wr_any) {
			wr_release(f, f->replies_seen + 0x40000000u, s);
			ps_flush(s);
			stat_inc(PS_ST_FLUSHES);
		}
		return 0;
	}
	if (naive)
		__builtin_memset(&s->rp, 0, sizeof(s->rp));
	else
		s->rp = f->rp;
	rp_reset(s, 0, f->replies_seen, naive ? 0 : f->auth_reply_idx);
	s->fq_mask = naive ? 0 : f->fq_mask;
	if (len == 0 || (!tc_fast_reply(skb, s, p->payload_off, from, len) &&
			 tc_walk(skb, s, p->payload_off, from, len))) {
		if (!naive) {
			flow_set(f, PS_F_REP_DESYNC);
			untrust(f, PS_UT_UNREADABLE);
		}
		s->replies = 0;
		return 0;
	}

	if (naive) {
		flow_clear(f, PS_F_STREAM);
		/* one segment, one complete bulk reply, or nothing */
		if ((f->flags & PS_F_FILL_ARMED) && !s->rp_error &&
		    s->replies == 1 && s->first_off == 0 && s->first_len == len)
			cache_fill(skb, p->payload_off, s, cfg, f);
		flow_clear(f, PS_F_FILL_ARMED);
		return 0;
	}
	if (s->rp_error) {
		flow_set(f, PS_F_REP_DESYNC);
		untrust(f, PS_UT_REP_PARSE);
		s->replies = 0;
		return 0;
	}
	f->rp = s->rp;
	f->replies_seen += s->replies;
	if (f->wr_head != f->wr_tail || f->wr_any)
		wr_release(f, f->replies_seen, s);
	if (s->auth_result) {
		if (s->auth_result == 1)
			flow_set(f, PS_F_AUTHED);
		f->auth_reply_idx = 0;
	}
	if (!s->replies)
		return 0;
	pending = f->pending;
	if (s->replies > pending) {
		/* more replies than requests: pushes, MONITOR, ... */
		untrust(f, PS_UT_PENDING);
		flow_clear(f, PS_F_FILL_ARMED);
		if (f->runq_head != f->runq_tail) {
			flow_set(f, PS_F_RUNS_LOST);
			stat_inc(PS_ST_INS_BROKEN);
		}
		s->replies = 0;
		return 0;
	}
	/* the fills read the reply from the skb: before insert.h rebuilds it */
	if (s->fq_n || s->fq_over)
		fq_fill(skb, s, f, p);
	/* armed only when the GET was all that was pending: the first reply
	 * completed since is its reply */
	if (f->flags & PS_F_FILL_ARMED)
		cache_fill(skb, p->payload_off, s, cfg, f);
	return s->replies;
}

/*
 * Runs for this segment (insert.h): those queued whose boundary is in its
 * new bytes, taken after the reply parse, and those inserted before that
 * its retransmitted bytes cross. The caller put in w: rs0, from,
 * at_boundary, kold, new_bytes (w->nnew), and the default sent_end.
 * Returns the verdict: TC_ACT_OK (the segment as it was, or rebuilt: its
 * last piece), TC_ACT_SHOT (a piece could not be built, or the runs'
 * state is lost). w->sent_end: the client seq just after what goes out.
 * Global: its loops are verified once, not in ps_tc's main body.
 */
__noinline int tc_runs(struct __sk_buff *skb, struct ps_ins_work *w,
		       struct ps_flow *f, const struct ps_flow_key *key,
		       struct ps_pkt *p)
{
	__u32 sidx = PS_SCR_TC, i;
	struct ps_scratch *s;
	int r, new_bytes;

	if (!skb || !w || !f || !key || !p)
		return TC_ACT_OK;
	new_bytes = w->nnew;
	w->nnew = 0;
	w->hold = 0;
	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (new_bytes && s && (s->replies || f->runq_head != f->runq_tail)) {
		if (s->replies)
			__sync_fetch_and_add(&f->tc_done, s->replies);
		for (i = 0; i < PS_RUNQ_RING; i++)
			if (ins_take_one(s, f, key, w))
				break;
	}
	PROF_MARK(1, 22);
	if (!w->nnew && (!f->srv_adj.n || !before(p->seq, w->kold)))
		return TC_ACT_OK;
	/* the list walked and appended to with XDP's retirements held off
	 * (runs.h) */
	if (adj_lock_tc(f)) {
		r = -1;
	} else {
		r = ins_plan(skb, w, f, key, p);
		PROF_MARK(1, 23);
		if (r > 0)
			ins_record(f, w, p->seq);
		PROF_MARK(1, 24);
		adj_unlock(f);
	}
	if (r == 0)
		return TC_ACT_OK;
	if (r < 0) {
		flow_set(f, PS_F_RUNS_LOST);
		stat_inc(PS_ST_INS_BROKEN);
		return TC_ACT_SHOT;
	}
	r = ins_emit(skb, w);
	PROF_MARK(1, 25);
	w->sent_end = w->cseq;
	return r;
}

/*
 * A server segment at TC egress: learn the server side of its flow from
 * the SYN-ACK, translate seq/ack/SACK into the client's space, count the
 * replies in its new bytes (filling the cache), insert the runs of GETs
 * cut from pipelined segments (insert.h), keep the server-side mirrors.
 * Returns TC_ACT_OK, or TC_ACT_SHOT for a segment that cannot go out as
 * the client must see it (the kernel sends it again, or, once the runs'
 * state is lost, never: the flow stalls rather than deliver replies out
 * of place).
 */
static __always_inline int ps_egress(struct __sk_buff *skb,
				     struct ps_config *cfg, struct ps_pkt *p)
{
	struct ps_flow_key key;
	struct ps_scratch *s = NULL;
	struct ps_flow *f;
	__u32 end, from = 0, kold, rs0, at_boundary, nrep = 0, ack, sidx = PS_SCR_TC;
	__u32 sent_end;
	int naive = cfg->mode == PS_MODE_NAIVE, verdict = TC_ACT_OK, new_bytes;

	flow_key(&key, p, 0);
	f = bpf_map_lookup_elem(&ps_flows, &key);
	if (!f)
		return TC_ACT_OK;

	if ((p->flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK)) {
		if (f->state == PS_FLOW_SYN && p->ack == f->cli_isn + 1)
			tc_synack(cfg, f, p);
		return TC_ACT_OK;
	}
	if (f->state == PS_FLOW_SYN)
		return TC_ACT_OK;
	/* finished: translated (a retransmitted FIN, TIME_WAIT's ACK) */
	if (f->state == PS_FLOW_DONE) {
		stat_inc(PS_ST_TIME_WAIT);
		tc_translate(skb, p, f, naive, 0);
		return TC_ACT_OK;
	}
	/* a cut GET's reply can no longer be placed: nothing more goes out
	 * without it (a stall, never replies out of place) */
	if (f->flags & PS_F_RUNS_LOST)
		return TC_ACT_SHOT;

	ack = tc_translate(skb, p, f, naive, tc_hold_ack(cfg, p, f));
	PROF_MARK(1, 20);
	if (p->flags & TCPF_RST) {
		runs_forget(f, &key);
		flow_reset(f, bpf_ktime_get_ns());
		return TC_ACT_OK;
	}

	end = p->seq + p->payload_len;
	/* where the bytes the kernel sent before end in this segment */
	kold = after(end, f->ksnd_nxt) ? f->ksnd_nxt : end;
	sent_end = k_seq_to_cli(f, p->seq, naive) + p->payload_len;
	new_bytes = p->payload_len && after(end, f->ksnd_nxt);
	rs0 = f->replies_seen;
	/* the new bytes begin a reply: runs may go before them */
	at_boundary = f->rp.state == PS_RP_TYPE && f->rp.depth == 0;
	if (new_bytes) {
		/* new bytes from the kernel (skip what was counted already) */
		if (before(p->seq, f->ksnd_nxt))
			from = f->ksnd_nxt - p->seq;
		s = bpf_map_lookup_elem(&ps_scratch, &sidx);
		if (s)
			nrep = tc_replies(skb, cfg, p, f, s, from, naive);
	}
	PROF_MARK(1, 21);
	if (!naive && p->payload_len) {
		__u32 zero = 0;
		struct ps_ins_work *w = bpf_map_lookup_elem(&ps_ins_work, &zero);

		if (w) {
			w->rs0 = rs0;
			w->from = from;
			w->at_boundary = at_boundary;
			w->kold = kold;
			w->nnew = new_bytes; /* tc_runs' input */
			w->sent_end = sent_end;
			verdict = tc_runs(skb, w, f, &key, p);
			sent_end = w->sent_end;
		}
	}
	if (p->flags & TCPF_FIN)
		end++;
	if (after(end, f->ksnd_nxt))
		f->ksnd_nxt = end;
	/* replies owed drop only now: XDP answers a segment whole when none
	 * are, at srv_nxt, which must count what was just inserted and sent
	 * (no atomic sub in the BPF ISA: add the two's complement) */
	if (nrep)
		__sync_fetch_and_add(&f->pending, -nrep);
	f->srv_wnd_raw = p->window;
	if (p->flags & TCPF_ACK) {
		/* the receive window's right edge, client space (hostile.h) */
		__u32 edge = k_ack_to_cli(f, p->ack, naive) +
			     ((__u32)p->window << (f->wscale_srv & 15));

		if (after(edge, f->rwnd_end))
			f->rwnd_end = edge;
		/* a client that acks this segment's end has its ack (seqadj.h,
		 * seqadj_retire_cli): only a first transmission says so. The
		 * client may have the bytes of a retransmission, whose ack is
		 * newer, from the copy before it */
		if (new_bytes && !from && verdict == TC_ACT_OK) {
			f->marks[f->mark_next & (PS_MARKS - 1)] =
				(__u64)sent_end << 32 | ack;
			f->mark_next++;
		}
	}
	/* ts_off, learnt at the SYN-ACK, holds: the kernel's TSval is its
	 * monotonic ms clock plus a per-connection constant (no clock read
	 * per segment; em_setup never goes behind ts_srv_last anyway) */
	if (p->has_ts && !before(p->tsval, f->ts_srv_last))
		f->ts_srv_last = p->tsval;

	if (p->flags & TCPF_FIN) {
		if (!(f->flags & (PS_F_FIN_CLI | PS_F_FIN_SRV)))
			flow_set(f, PS_F_SRV_TW);
		flow_set(f, PS_F_FIN_SRV);
		f->state = PS_FLOW_CLOSING;
	}
	/* the kernel acks the client's FIN after both FINs: done */
	if (flow_done(f, p, !before(k_ack_to_cli(f, p->ack, naive), f->cli_nxt))) {
		runs_forget(f, &key);
		flow_finish(f);
	}
	return verdict;
}

#endif
