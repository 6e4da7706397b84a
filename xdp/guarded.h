/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guarded.h - answer only when it is safe, otherwise hand the segment to
 * the kernel, and never corrupt the stream. Both RESP streams are followed
 * across segments from the SYN; each reason not to answer is counted
 * (fb_*); a flow whose state can no longer be trusted is handed to the
 * kernel for good (untrusted_reason).
 */
#ifndef PS_GUARDED_H
#define PS_GUARDED_H

#include "ingress_common.h"
#include "hostile.h"
#include "reply.h"
#include "rtx.h"
#include "tcpsock.h"
#include "cut.h"

/* guarded_data's answers when guarded_tail, or guarded_old, is to finish
 * the segment */
#define PS_GUARDED_TAIL 0x100
#define PS_GUARDED_OLD  0x101
#define PS_GUARDED_INSIDE 0x102

/* guarded_veto's answers besides a PS_ST_FB_* counter */
#define PS_FB_NONE   0     /* pass, count no fallback (PS_ST_PKTS is never one) */
#define PS_FB_ANSWER (~0u) /* every guard holds: answer */

/*
 * May the segment just parsed be answered? Its GETs are looked up and
 * their replies assembled on the way (s->rep, *tot). Returns PS_FB_ANSWER,
 * or the fallback counter that says why not (PS_FB_NONE when the segment
 * held no GET at all), checked in this order: what the segment holds, the
 * coherence lease, the cache, the frame, the flow's state, Redis's replies owed, timestamps,
 * room in the offset history, the client's window, the tcp_sock.
 */
static __always_inline __u32 guarded_veto(struct xdp_md *ctx,
					  struct ps_scratch *s,
					  struct ps_config *cfg,
					  struct ps_pkt *p, struct ps_flow *f,
					  int idle_start, __u32 pending_before,
					  int *tot, __u32 *srv_seq,
					  struct ps_cache_val **one)
{
	__u32 ngets = s->ngets;
	int r;

	if (s->rq_out & RQO_BIG)
		return ngets ? PS_ST_FB_BIG : PS_FB_NONE;
	if (!all_gets(s, idle_start)) {
		if (ngets || f->rq.cmd == PS_CMD_GET)
			return (s->rq_out & RQO_OTHER) ? PS_ST_FB_NOT_GET :
							 PS_ST_FB_PARTIAL;
		return PS_FB_NONE;
	}
	if (!lease_ok(cfg, p->now_ns))
		return PS_ST_FB_LEASE;
	/* several GETs' replies may exceed one segment: TC ingress sends
	 * them in several (tcr_pick_asm) */
	*tot = assemble(s, s->ngets > 1 && (cfg->flags & PS_CFG_TC_REPLY) ?
			   PS_REP_MASK : reply_limit(f),
			cfg->cache_gen, p->now_ns, one);
	/* what XDP cannot carry, TC ingress may (tc_handoff.h) */
	if ((*tot < 0 || s->asm_misses == 1) &&
	    tcr_pick(s, cfg, *tot < 0, p->now_ns) == TCR_PICKED)
		*tot = s->tcr.tot;
	/* guarded_data counts the misses and arms a fill, once it knows
	 * what was cut */
	if (s->asm_misses)
		return PS_ST_FB_MISS;
	if (*tot < 0)
		return PS_ST_FB_MSS;
	/* XXX: a frame with IP options is never rewritten */
	if (p->ihl != sizeof(struct iphdr))
		return PS_ST_FB_STATE;
	if (f->flags & PS_F_UNTRUSTED)
		return PS_ST_FB_UNTRUSTED;
	if (f->flags & PS_F_QUIT)
		return PS_ST_FB_QUIT;
	if (f->state != PS_FLOW_EST || (cfg->flags & PS_CFG_DRAIN) ||
	    (f->flags & (PS_F_OTHER_DB | PS_F_IN_MULTI)))
		return PS_ST_FB_STATE;
	if ((cfg->flags & PS_CFG_AUTH) && !(f->flags & PS_F_AUTHED))
		return PS_ST_FB_AUTH;
	/* replies owed, or runs of cut GETs still to go out before ours */
	if (pending_before || f->runq_head != f->runq_tail)
		return PS_ST_FB_PENDING;
	if ((f->flags & PS_F_TS) && !p->has_ts)
		return PS_ST_FB_TS;
	/*
	 * The answer adds a correction point in each direction (unless its
	 * runs touch the newest ones). A full list would have to fold a
	 * point the client or the kernel can still send a number before
	 * (seqadj.h retires the others on every ACK): answering stops until
	 * the acks catch up.
	 */
	*srv_seq = srv_nxt(f);
	if (seqadj_full(&f->cli_adj, p->seq) || seqadj_full(&f->srv_adj, *srv_seq))
		return PS_ST_FB_HISTORY;
	if (after(*srv_seq + *tot,
		  f->srv_una + ((__u32)f->cli_wnd_raw << (f->wscale_cli & 15))))
		return PS_ST_FB_WINDOW;
	if (cfg->flags & (PS_CFG_CHECK_SOCK | PS_CFG_REQUIRE_SOCK)) {
		r = sock_check(ctx, p, f);
		if ((cfg->flags & PS_CFG_REQUIRE_SOCK) && r != 1)
			return PS_ST_FB_DIVERGED;
	}
	return PS_FB_ANSWER;
}

/*
 * The misses of a segment not answered whole, and fills for the first
 * PS_FQ_ARM of them (one, when the segment was not planned for cutting):
 * the reply index that answers each counts only the commands Redis gets
 * (cut GETs do not). A pipelining client's misses fill from their own
 * replies, and its next batch is cut from the cache. Global: its frame
 * stays off guarded_data's.
 */
__noinline int guarded_misses(struct ps_scratch *s, struct ps_config *cfg,
			      struct ps_flow *f, struct ps_pkt *p,
			      __u32 pending_before)
{
	__u32 misses, i, j;

	if (!s || !cfg || !f || !p)
		return 0;
	misses = s->cut_planned ? s->cut_misses : s->asm_misses;
	if (!misses)
		return 0;
	stat_add(PS_ST_GET_MISSES, misses);
	i = s->cut_planned ? s->cut_first_miss : s->first_miss;
	if (i >= s->ngets || i >= PS_MAX_CMDS)
		return 0;
	/* arm_fill applies the fill rule (the flow's state) */
	if (s->ngets == 1 && s->ncmds == 1 && pending_before == 0) {
		arm_fill(f, s, cfg);
		return 0;
	}
	if (!s->cut_planned) {
		s->first_miss = i;
		s->fq_shift = 0;
		fq_arm(s, cfg, f, p);
		return 0;
	}
	for (j = 0; j < PS_FQ_ARM; j++) {
		if (j >= misses)
			break;
		i = s->miss_i[j];
		if (i >= PS_MAX_CMDS)
			break;
		s->first_miss = i;
		s->fq_shift = cut_before(s, s->get_pos[i]);
		fq_arm(s, cfg, f, p);
	}
	return 0;
}

/* Queue the writes the segment hands to Redis (cache.h, wr_push), once it
 * is known which of its commands go (cut GETs do not). */
static __always_inline void guarded_writes(struct ps_flow *f,
					   struct ps_scratch *s)
{
	if (s->wr_track) {
		s->wr_track = 0;
		wr_push(f, s);
	}
}

/* Hand the segment to the kernel, translated into its sequence space
 * (counted passed at the hook's exit). */
static __always_inline int guarded_pass(struct xdp_md *ctx, struct ps_pkt *p,
					struct ps_flow *f)
{
	xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, 0), 0);
	return XDP_PASS;
}

/* guarded: answer only when it is safe, otherwise hand to the kernel. */
__noinline int guarded_data(struct xdp_md *ctx, struct ps_scratch *s,
			    struct ps_config *cfg, struct ps_pkt *p,
			    struct ps_flow *f)
{
	__u32 seq, len, end, from = 0, srv_seq = 0, fb, ngets, pending_before;
	struct ps_cache_val *one = NULL;
	int idle_start, tot = 0, r, meet;

	if (!s || !cfg || !p || !f)
		return XDP_PASS;
	seq = p->seq;
	len = p->payload_len;
	end = seq + len;
	s->add_pending = 0;
	s->tcr_on = 0;

	if (!(f->flags & PS_F_STREAM))
		untrust(f, PS_UT_MODE);
	/* judged before anything is learnt from it (hostile.h): an in-order
	 * segment once parsed (its payload summed on the way), any other now */
	if (!s->seg_ok &&
	    (seq != f->cli_nxt || (f->flags & PS_F_REQ_DESYNC))) {
		xdp_payload_sum(ctx, s, p->payload_off, len);
		if (!seg_csum_ok(p, s->pl_sum))
			return xdp_refuse(ctx, s, p, f, PS_ST_FB_CSUM);
		fb = tcp_refusal(p, f);
		if (fb)
			return xdp_refuse(ctx, s, p, f, fb);
		s->seg_ok = 1;
	}
	if (s->seg_ok)
		cli_mirrors(p, f);
	if (f->flags & PS_F_REQ_DESYNC) {
		/* we no longer see this flow's writes: nothing cached can be
		 * trusted once its data reaches Redis */
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
		stat_inc(PS_ST_FB_UNTRUSTED);
		return guarded_pass(ctx, p, f);
	}
	if (after(seq, f->cli_nxt)) {
		/* Ahead of a hole. Dropping it keeps the request parser in
		 * step; the client sends it again after the hole fills. */
		stat_inc(PS_ST_FB_OOO);
		return XDP_DROP;
	}
	if (before(seq, f->cli_nxt)) {
		meet = seqadj_meet(&f->cli_adj, seq, end);
		/* the last answered request stays known after its point
		 * retired (a stale duplicate, a test's replay of it) */
		if (meet == SEQADJ_CLEAR && (f->flags & PS_F_ANSWERED))
			meet = seqadj_meet_run(f->ans_seq, f->ans_seq + f->ans_len,
					       seq, end);
		/* old bytes within an answered request (a keep-alive's
		 * garbage byte at snd_una - 1): mapped below the kernel's
		 * rcv_nxt, the kernel drops them and ACKs */
		if (meet == SEQADJ_INSIDE) {
			/* retrans: perhaps a piece of a request whose reply
			 * was lost (its retransmission split on the way):
			 * guarded_inside */
			if (cfg->mode == PS_MODE_RETRANS && len)
				return PS_GUARDED_INSIDE;
			return guarded_pass(ctx, p, f);
		}
		/* answered bytes again: guarded_old */
		if (meet == SEQADJ_OVERLAP)
			return PS_GUARDED_OLD;
		if (!after(end, f->cli_nxt))
			return guarded_pass(ctx, p, f); /* old bytes the kernel has: it acks them */
		from = f->cli_nxt - seq; /* parse only the new part */
	}

	s->rq = f->rq;
	idle_start = from == 0 && f->rq.state == PS_RQ_IDLE;
	s->pos = from;
	s->naive = 0;
	/* writes in flight are followed on flows whose replies TC counts */
	s->wr_track = !(f->flags & (PS_F_UNTRUSTED | PS_F_REP_DESYNC));
	s->wr_n = 0;
	s->cut_mask = 0;
	s->ncut = 0;
	s->cut_planned = 0;
	s->asm_misses = 0;
	s->asm_ok = 0;
	r = rq_parse(ctx, s, p->payload_off, len);
	PROF_MARK(0, 2);
	if (r) {
		guarded_writes(f, s);
		writes_unseen(f, s, PS_UT_UNREADABLE);
		f->cli_nxt = end;
		return guarded_pass(ctx, p, f);
	}
	if (!s->seg_ok) {
		/* nothing of the parse is kept (f->rq, cli_nxt) if the
		 * kernel would drop the segment; its invalidations stand */
		if (!seg_csum_ok(p, s->pl_sum)) {
			guarded_writes(f, s);
			return xdp_refuse(ctx, s, p, f, PS_ST_FB_CSUM);
		}
		fb = tcp_refusal(p, f);
		if (fb) {
			guarded_writes(f, s);
			return xdp_refuse(ctx, s, p, f, fb);
		}
		cli_mirrors(p, f);
	}
	if (s->rq_out & RQO_ERROR) {
		writes_unseen(f, s, PS_UT_REQ_PARSE);
	} else {
		f->rq = s->rq;
	}
	if (s->rq_out & RQO_UNTRUST)
		untrust(f, PS_UT_CMD);
	apply_rq_flags(f, s);

	ngets = s->ngets;
	pending_before = f->pending;
	fb = guarded_veto(ctx, s, cfg, p, f, idle_start, pending_before, &tot,
			  &srv_seq, &one);
	PROF_MARK(0, 3);
	if (fb == PS_FB_ANSWER) {
		extra_work(cfg);
		if (!s->tcr_on && (__u32)tot <= reply_limit(f)) {
			em_setup(s, p, f, srv_seq, end, tot);
			r = emit_reply(ctx, s, one);
			if (r == PS_SENT_TX) {
				account_answer(f, seq, len, srv_seq, tot,
					       s->asm_csum, ngets);
				rwnd_advertised(f, end);
				if (one && (ps_fault & PS_FAULT_REUSE_LATE))
					one->reply[0] = '-';
				if (cfg->mode == PS_MODE_RETRANS)
					rtx_store(ctx, s, p, f, seq, len, srv_seq, tot);
				return XDP_TX;
			}
			/* never handed on: the frame is no longer the request */
			if (r == PS_SENT_BROKEN)
				return XDP_DROP;
		}
		/* a reply XDP cannot carry (or the frame could not grow, and
		 * is untouched): the request goes up untranslated with the
		 * handoff in its data_meta, TC ingress builds the reply */
		s->em.seq = srv_seq;
		s->em.tot = tot;
		if (tcr_take(ctx, s, cfg, p, f) == PS_SENT_TC) {
			rwnd_advertised(f, end);
			return XDP_PASS;
		}
		fb = PS_ST_FB_MSS;
	}
	if (fb != PS_FB_NONE)
		stat_inc(fb);
	/* not answered whole: guarded_tail answers what it can, command by
	 * command, and passes the rest */
	s->g_from = from;
	s->g_pending_before = pending_before;
	return PS_GUARDED_TAIL;
}

/*
 * guarded_data's segment, parsed and not answered whole: cut the GETs
 * that can be (cut.h), count the misses and arm a fill, queue the writes,
 * account what Redis now owes, and hand the rest to the kernel. A global
 * function of its own, called by ps_ingress after guarded_data returned
 * PS_GUARDED_TAIL: the cut's frames would not fit under guarded_data's
 * (the verifier's combined stack limit of 512 bytes).
 */
__noinline int guarded_tail(struct xdp_md *ctx, struct ps_scratch *s,
			    struct ps_config *cfg, struct ps_pkt *p,
			    struct ps_flow *f)
{
	int r = -1;

	if (!ctx || !s || !cfg || !p || !f)
		return XDP_PASS;
	if (s->ngets && s->g_from == 0)
		r = guarded_cut(ctx, s, cfg, p, f);
	else if (s->ngets)
		stat_add(PS_ST_GA_OTHER, s->ngets);
	guarded_misses(s, cfg, f, p, s->g_pending_before);
	PROF_MARK(0, 14);
	guarded_writes(f, s);
	PROF_MARK(0, 15);
	/* Redis owes one reply per command completed in what we pass; the
	 * caller adds it atomically (TC subtracts on the other CPU) */
	s->add_pending = s->ncmds - s->ncut;
	if (s->auth_pos)
		f->auth_reply_idx = f->cmds_passed + s->auth_pos;
	f->cmds_passed += s->ncmds - s->ncut;
	if (r >= 0)
		return r; /* cut: the mirrors hold it (cut_account) */
	f->cli_nxt = p->seq + p->payload_len;
	return guarded_pass(ctx, p, f);
}

/*
 * A retransmission that covers answered bytes (guarded_data found them):
 * GETs cut from it are cut again and the rest handed on (cut.h); a
 * request answered whole is answered again (rtx.h); anything else is
 * dropped, the kernel must never see consumed bytes. Called by ps_ingress
 * after guarded_data returned PS_GUARDED_OLD: its callees' frames would
 * not fit under guarded_data's.
 */
__noinline int guarded_old(struct xdp_md *ctx, struct ps_scratch *s,
			   struct ps_config *cfg, struct ps_pkt *p,
			   struct ps_flow *f)
{
	int r;

	if (!ctx || !s || !cfg || !p || !f)
		return XDP_DROP;
	r = guarded_recut(ctx, s, p, f);
	if (r >= 0)
		return r;
	/* XDP_PASS: handed to TC ingress (tc_handoff.h) */
	if (cfg->mode == PS_MODE_RETRANS) {
		r = rtx_request(ctx, s, p, f);
		if (r != PS_SENT_NONE)
			return sent_verdict(r);
	}
	r = guarded_retrans(ctx, s, cfg, p, f);
	if (r != PS_SENT_NONE)
		return sent_verdict(r);
	return XDP_DROP;
}

/*
 * retrans: old bytes within an answered request (guarded_data found them).
 * A piece of the request whose reply the client has not acked, its
 * retransmission split on the way, gets the reply again (rtx_request).
 * Passed, the kernel ACKed it at its rcv_nxt, which the client reads as
 * its whole request delivered: it never sent the request again and no
 * one re-sent the lost reply (campaign seed 6: an XDP reply lost, the
 * request's retransmission split in three). Anything else (a keep-alive's
 * garbage byte, its reply acked) is passed as in guarded. Called by
 * ps_ingress after guarded_data returned PS_GUARDED_INSIDE.
 */
__noinline int guarded_inside(struct xdp_md *ctx, struct ps_scratch *s,
			      struct ps_config *cfg, struct ps_pkt *p,
			      struct ps_flow *f)
{
	int r;

	if (!ctx || !s || !cfg || !p || !f)
		return XDP_DROP;
	r = rtx_request(ctx, s, p, f);
	if (r != PS_SENT_NONE)
		return sent_verdict(r);
	return guarded_pass(ctx, p, f);
}

#endif
