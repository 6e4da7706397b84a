/* SPDX-License-Identifier: GPL-2.0 */
/*
 * naive.h - the ideal-network prototype (BMC's design over TCP): every
 * segment parsed alone, every cached GET answered, one offset per
 * direction, no guards. Correct on a clean network; the failure
 * experiments show where it breaks.
 */
#ifndef PS_NAIVE_H
#define PS_NAIVE_H

#include "ingress_common.h"
#include "reply.h"
#include "tcpsock.h"

/* naive: BMC-style, every segment parsed alone, one offset, no guards. */
__noinline int naive_data(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_config *cfg, struct ps_pkt *p,
			  struct ps_flow *f)
{
	struct ps_cache_val *one = NULL;
	__u32 seq, len, end, srv_seq;
	int tot, r;

	if (!s || !cfg || !p || !f)
		return XDP_PASS;
	seq = p->seq;
	len = p->payload_len;
	end = seq + len;
	s->add_pending = 0;
	/* guarded can no longer trust this flow's parser state or pending */
	flow_clear(f, PS_F_STREAM);
	/* no guard reads it, but the divergences are what naive is for */
	if (cfg->flags & PS_CFG_CHECK_SOCK)
		sock_check(ctx, p, f);
	__builtin_memset(&s->rq, 0, sizeof(s->rq));
	/* a frame with IP options is never rewritten into a reply */
	s->pos = 0;
	s->naive = 1;
	if (rq_parse(ctx, s, p->payload_off, len) == 0 &&
	    all_gets(s, 1) && p->ihl == sizeof(struct iphdr) &&
	    f->state != PS_FLOW_SYN && !(cfg->flags & (PS_CFG_AUTH | PS_CFG_DRAIN)) &&
	    !(f->flags & (PS_F_OTHER_DB | PS_F_IN_MULTI | PS_F_QUIT)) && lease_ok(cfg, p->now_ns)) {
		tot = assemble(s, MTU_PAYLOAD_MAX - TCPOLEN_TS_ALIGNED, cfg->cache_gen,
			       p->now_ns, &one);
		if (s->asm_misses)
			stat_add(PS_ST_GET_MISSES, s->asm_misses);
		if (tot > 0) {
			srv_seq = srv_nxt(f);
			extra_work(cfg);
			em_setup(s, p, f, srv_seq, end, tot);
			r = emit_reply(ctx, s, one);
			if (r == PS_SENT_TX) {
				account_answer(f, seq, len, srv_seq, tot,
					       s->asm_csum, s->ngets);
				return XDP_TX;
			}
			/* never passed: the frame is no longer the request */
			if (r == PS_SENT_BROKEN)
				return XDP_DROP;
		} else if (tot < 0) {
			stat_inc(PS_ST_FB_MSS);
		} else {
			stat_inc(PS_ST_FB_MISS);
			if (s->ngets == 1 && s->ncmds == 1)
				arm_fill(f, s, cfg);
		}
	}
	apply_rq_flags(f, s);
	if (after(end, f->cli_nxt))
		f->cli_nxt = end;
	xdp_translate(ctx, p, f, cli_seq_to_k(f, seq, 1), 1);
	return XDP_PASS;
}

#endif
