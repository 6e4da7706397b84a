// SPDX-License-Identifier: GPL-2.0
/*
 * prestack.bpf.c - pre-stack Redis GET responder: the two entry points.
 *
 * ps_xdp (ingress of the server's interface): answers complete RESP GETs of
 * cached keys by rewriting the frame into the reply and XDP_TX; invalidates
 * on writes; translates everything else into the kernel's sequence space.
 * ps_tc (egress, clsact): learns the server side of each flow, translates
 * the kernel's segments into the client's space, counts replies and fills
 * the cache from replies to GETs that missed.
 *
 * Both are thin wrappers over one core that count the packet on entry
 * and its verdict at their one exit; docs/architecture.md maps the
 * headers (one concern each) that the core is built from.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prestack.h"
#include "helpers.h"
#include "parsing.h"
#include "ingress.h"
#include "egress.h"
#include "tc_ingress.h"

/*
 * What both hooks do with a packet: the config, the packet counter, the
 * mode, the headers; then the direction's own handling. xdp is a constant
 * at each call site. The verdict is in the hook's own space (XDP_* or
 * TC_ACT_*): the two are never mixed (in TC, 2 is TC_ACT_SHOT, not pass).
 */
static __always_inline int ps_core(void *ctx, int xdp)
{
	const int pass = xdp ? XDP_PASS : TC_ACT_OK;
	__u32 zero = 0, sidx = xdp ? PS_SCR_XDP : PS_SCR_TC;
	struct ps_config *cfg;
	struct ps_scratch *s;
	struct ps_pkt *p;
	int r;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	/* the packet's parsed headers live in the hook's scratch entry, not
	 * on the stack: the deepest call chains under the entry points need
	 * every byte of the verifier's 512 */
	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!cfg || !s)
		return pass;
	p = &s->pkt;
	__builtin_memset(p, 0, sizeof(*p));
	/* poststack answers after the stack (poststack.bpf.c): here as off */
	if (cfg->mode == PS_MODE_OFF || cfg->mode == PS_MODE_POSTSTACK ||
	    cfg->mode >= PS_MODE__MAX)
		return pass;
	r = ps_parse_ctx(ctx, xdp, bpf_htons(cfg->port), p);
	if (xdp && r == PS_PARSE_FRAG_SHORT)
		return xdp_short_frag(p);
	if (r != PS_PARSE_OK) {
		/* counted at ingress only: egress sees the server's own
		 * traffic, which is the kernel's business */
		if (xdp)
			stat_inc(r == PS_PARSE_NOT_OURS ? PS_ST_NOT_OURS :
				 r == PS_PARSE_FRAG ? PS_ST_FRAGMENTS :
						      PS_ST_MALFORMED);
		return pass;
	}
	return xdp ? ps_ingress(ctx, cfg, p) : ps_egress(ctx, cfg, p);
}

/*
 * Each hook's one exit: the verdict counted by name, so that a hook's
 * packets equal the sum of its verdicts (the unit tests and replay check
 * it). A value the kernel does not know drops the packet, and is counted
 * so (XDP_ABORTED too; in TC, anything but OK or REDIRECT as SHOT).
 */
static __always_inline int xdp_out(int verdict)
{
	switch (verdict) {
	case XDP_PASS:
		stat_inc(PS_ST_PASSED);
		break;
	case XDP_TX:
		stat_inc(PS_ST_TX);
		break;
	case XDP_REDIRECT:
		stat_inc(PS_ST_REDIRECTED);
		break;
	default:
		stat_inc(PS_ST_DROPPED);
		break;
	}
	return verdict;
}

/* TC: the three verdicts a direct-action program means, by counter base
 * (PS_ST_TC_OK or PS_ST_TCIN_OK; OK, SHOT, REDIRECT follow in that order) */
static __always_inline int tc_out(__u32 base, int verdict)
{
	stat_inc(base + (verdict == TC_ACT_OK ? 0 :
			 verdict == TC_ACT_REDIRECT ? 2 : 1));
	return verdict;
}

_Static_assert(PS_ST_TC_SHOT == PS_ST_TC_OK + 1 &&
	       PS_ST_TC_REDIRECT == PS_ST_TC_OK + 2 &&
	       PS_ST_TCIN_SHOT == PS_ST_TCIN_OK + 1 &&
	       PS_ST_TCIN_REDIRECT == PS_ST_TCIN_OK + 2,
	       "tc_out: OK, SHOT, REDIRECT counters in that order");

SEC("xdp")
int ps_xdp(struct xdp_md *ctx)
{
	int v;

	PROF_START(0);
	stat_inc(PS_ST_PKTS);
	v = xdp_out(ps_core(ctx, 1));
	PROF_MARK(0, 16);
	return v;
}

SEC("tc")
int ps_tc(struct __sk_buff *skb)
{
	int v;

	PROF_START(1);
	stat_inc(PS_ST_TC_PKTS);
	/* a reply segment TC ingress built: in client space already */
	if (skb->mark == PS_TCR_MARK)
		return tc_out(PS_ST_TC_OK, TC_ACT_OK);
	v = tc_out(PS_ST_TC_OK, ps_core(skb, 0));
	PROF_MARK(1, 26);
	return v;
}

/* TC ingress (attach --no-tc-reply leaves it out): the replies XDP
 * cannot carry, built from the request XDP handed over (tc_ingress.h) */
SEC("tc")
int ps_tc_in(struct __sk_buff *skb)
{
	stat_inc(PS_ST_TCIN_PKTS);
	return tc_out(PS_ST_TCIN_OK, ps_tc_ingress(skb));
}

char LICENSE[] SEC("license") = "GPL";
