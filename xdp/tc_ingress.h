/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tc_ingress.h - the TC half of the TC ingress path (docs/tc-reply.md).
 * A request that XDP passed up with a ps_tcr_meta in its data_meta has
 * been answered already in the mirrors; here its skb becomes the reply:
 * for each segment of at most one MSS, resize (bpf_skb_change_tail),
 * write headers and payload, and bpf_clone_redirect a copy to the
 * device's egress; the last one goes with bpf_redirect. The segments
 * carry PS_TCR_MARK so that our own TC egress (ps_tc) lets them pass
 * untranslated: their seq/ack are in client space already.
 */
#ifndef PS_TC_INGRESS_H
#define PS_TC_INGRESS_H

#include "helpers.h"
#include "csum.h"
#include "flow.h"
#include "reply.h"
#include "tc_handoff.h"

/* skb->mark of the segments built here ("psRC"): ps_tc passes them */
#ifndef PS_TCR_MARK
#define PS_TCR_MARK       0x70735243u
#endif
/* a reply of PS_BIG_REPLY_MAX bytes in segments of the smallest MSS
 * (536 - 12 bytes of timestamps = 524): 16396 / 524 < 32 */
#define PS_TCR_SEGS_MAX   32

/* the builder's working memory: struct ps_tcr_work (scratch.h), per CPU
 * in ps_tcr_work (maps.h) */
/* bytes of headers written: struct ps_tcr_hdr less its alignment pad */
#define PS_TCR_HDR_MAX (sizeof(struct ps_tcr_hdr) - 2)

struct ps_tcr_pseudo {
	__u32 saddr, daddr;
	__u8 zero, proto;
	__u16 len;
};

/* What tcr_segment made of the skb. */
enum tcr_seg_result {
	TCR_SEG_SENT = 0, /* a copy went to egress; more segments to come */
	TCR_SEG_LAST,     /* the skb is the last segment: redirect it */
	TCR_SEG_FAILED,   /* nothing sent for this segment: shoot the skb */
};

/*
 * Make skb segment w->i of the reply: bytes [off, off + n) from w->from
 * on, at most w->mss of them, headers from w->h. Not the last: a copy
 * goes to the device's egress now. Returns an enum tcr_seg_result (with
 * w->hold, TCR_SEG_SENT without sending). Global: verified once, so the
 * caller's loop over segments stays small for the verifier.
 */
__noinline int tcr_segment(struct __sk_buff *skb, struct ps_tcr_work *w)
{
	struct ps_tcr_pseudo ph;
	__u32 thl, hlen, sum, pad, c, i, n, off, last;
	__u64 id;

	if (!skb || !w || w->mss == 0)
		return TCR_SEG_FAILED;
	off = w->from + w->i * w->mss;
	if (off >= w->tot || w->tot > PS_BIG_REPLY_MAX)
		return TCR_SEG_FAILED;
	n = w->tot - off;
	if (n > w->mss)
		n = w->mss;
	last = off + n >= w->tot;
	if (n == 0 || n > MTU_PAYLOAD_MAX)
		return TCR_SEG_FAILED;
	BOUND_1_TO(n, PS_TCR_SEG_BUF);
	/* w->src is the address of the cache entry's reply[] (either map),
	 * off + n <= its reply_len: probe_read checks nothing else */
	if (bpf_probe_read_kernel(w->seg, n, (void *)(long)(w->src + off)))
		return TCR_SEG_FAILED;
	/* the entry is still the one we began with (helpers.h, ENTRY_SAME) */
	MEM_BARRIER();
	if (bpf_probe_read_kernel(&id, sizeof(id), (void *)(long)w->idp) ||
	    id != w->id)
		return TCR_SEG_FAILED;
	/* zero the pad up to a multiple of 4 for the checksum */
	w->seg[n & (PS_TCR_SEG_BUF - 1)] = 0;
	w->seg[(n + 1) & (PS_TCR_SEG_BUF - 1)] = 0;
	w->seg[(n + 2) & (PS_TCR_SEG_BUF - 1)] = 0;
	thl = TCP_HDR_MIN + (w->ts ? TCPOLEN_TS_ALIGNED : 0);
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + thl;

	w->h.ip.tot_len = bpf_htons(sizeof(struct iphdr) + thl + n);
	w->h.ip.check = 0;
	w->h.ip.check = ~csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&w->h.ip,
						   sizeof(w->h.ip), 0));
	w->h.tcp.seq = bpf_htonl(w->srv_seq + off);
	/* earlier segments ack only up to the request: if the last one is
	 * lost, the client sends the request again */
	w->h.tcp.ack_seq = bpf_htonl(last ? w->req_end : w->req_seq);
	w->h.tcp.psh = !!last;
	w->h.tcp.check = 0;

	ph.saddr = w->h.ip.saddr;
	ph.daddr = w->h.ip.daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(thl + n);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	/* constant sizes: the verifier wants a known size for the header */
	if (w->ts)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&w->h.tcp,
				    TCP_HDR_MIN + TCPOLEN_TS_ALIGNED, sum);
	else
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&w->h.tcp, TCP_HDR_MIN, sum);
	/* the payload, PS_CSUM_CHUNK bytes a call (the pad is zero) */
	pad = (n + 3) & ~3u;
	for (i = 0; i < PS_TCR_SEG_BUF / PS_CSUM_CHUNK; i++) {
		if (i * PS_CSUM_CHUNK >= pad)
			break;
		c = pad - i * PS_CSUM_CHUNK;
		if (c > PS_CSUM_CHUNK)
			c = PS_CSUM_CHUNK;
		sum = csum_chunk(w->seg + i * PS_CSUM_CHUNK, c, sum);
	}
	w->h.tcp.check = ~csum_fold32(sum);

	if (skb->len != hlen + n && bpf_skb_change_tail(skb, hlen + n, 0))
		return TCR_SEG_FAILED;
	/* every packet pointer is stale from here: helpers only */
	if (w->ts) {
		if (bpf_skb_store_bytes(skb, 0, &w->h.eth, PS_TCR_HDR_MAX, 0))
			return TCR_SEG_FAILED;
	} else {
		if (bpf_skb_store_bytes(skb, 0, &w->h.eth,
					PS_TCR_HDR_MAX - TCPOLEN_TS_ALIGNED, 0))
			return TCR_SEG_FAILED;
	}
	BOUND_1_TO(n, PS_TCR_SEG_BUF);
	if (bpf_skb_store_bytes(skb, hlen, w->seg, n, 0))
		return TCR_SEG_FAILED;
	stat_inc(PS_ST_TC_SEGMENTS);
	stat_add(PS_ST_TC_REPLY_BYTES, n);
	if (last)
		return TCR_SEG_LAST;
	if (w->hold)
		return TCR_SEG_SENT;
	if (bpf_clone_redirect(skb, w->ifindex, 0))
		return TCR_SEG_FAILED;
	return TCR_SEG_SENT;
}

/* The request's addresses, as ps_tcr_run reads them. */
struct ps_tcr_req {
	struct ethhdr eth;
	struct iphdr ip;
	__be16 sport, dport;
} __attribute__((packed));

/* Unit tests only (PS_FAULT_ASM_REUSE): slot i of ps_tcr_asm, just looked
 * up, claimed again and rewritten under us with the reply of the next
 * slot, as a writer on another CPU may do once the ring came round: that
 * slot's whole value is copied over it. */
static __always_inline void fault_asm_reuse(__u32 i, struct ps_tcr_slot *av)
{
	struct ps_tcr_slot *ov;
	__u32 o = (i + 1) % (ps_tcr_slots ? ps_tcr_slots : 1);

	if (!(ps_fault & PS_FAULT_ASM_REUSE) || !av)
		return;
	ov = bpf_map_lookup_elem(&ps_tcr_asm, &o);
	if (!ov || ov == av)
		return;
	bpf_probe_read_kernel(av, sizeof(*av), ov);
}

/*
 * Everything the segments share, from the handoff m and the request in
 * skb: the flow, the ref, the cache entry (still the one XDP answered
 * from), the headers turned around. Returns the working memory, or NULL.
 */
static __always_inline struct ps_tcr_work *
tcr_prepare(struct __sk_buff *skb, const struct ps_tcr_meta *m)
{
	struct ps_cache_big_val *bv = NULL;
	struct ps_cache_val *sv = NULL;
	struct ps_flow_key fk = {};
	struct ps_rtx_key rk = {};
	struct ps_config *cfg;
	struct ps_tcr_work *w;
	struct ps_tcr_req q;
	struct ps_tcr_ref *r;
	struct ps_flow *f;
	__u64 now_ns = bpf_ktime_get_ns();
	__u32 zero = 0, tot, from, tsval;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	w = bpf_map_lookup_elem(&ps_tcr_work, &zero);
	if (!cfg || !w)
		return NULL;
	if (bpf_skb_load_bytes(skb, 0, &q, sizeof(q)) ||
	    q.ip.ihl != 5 || q.ip.protocol != IPPROTO_TCP)
		return NULL;
	fk.cli_addr = q.ip.saddr;
	fk.srv_addr = q.ip.daddr;
	fk.cli_port = q.sport;
	fk.srv_port = q.dport;
	f = bpf_map_lookup_elem(&ps_flows, &fk);
	if (!f)
		return NULL;
	if (m->claim) {
		/* no ref: the slot holds what it would (tc_handoff.h,
		 * tcr_handoff_slot), read once its id is checked */
		__builtin_memset(&w->ref, 0, sizeof(w->ref));
		w->ref.big = PS_TCR_SRC_ASM;
		w->ref.filled_ns = m->claim;
		w->ref.srv_seq = m->srv_seq;
	} else {
		rk.flow = fk;
		rk.srv_seq = m->srv_seq;
		r = bpf_map_lookup_elem(&ps_tcr_refs, &rk);
		if (!r)
			return NULL;
		/* a copy, checked to be of our key after it was taken: the
		 * element may be evicted and reused under us (helpers.h,
		 * ENTRY_SAME) */
		__builtin_memcpy(&w->ref, r, sizeof(w->ref));
		MEM_BARRIER();
		if (w->ref.srv_seq != m->srv_seq || r->srv_seq != m->srv_seq ||
		    r->filled_ns != w->ref.filled_ns)
			return NULL;
	}
	r = &w->ref;
	tot = r->tot;
	/* the entry must still be the one XDP answered from; its identity
	 * is checked again after each segment's bytes are copied */
	if (r->big == PS_TCR_SRC_ASM) {
		/* bytes fixed at XDP, in the slot of the ref's claim
		 * (tc_handoff.h, tcr_slot_claim): the slot must still hold
		 * that claim's bytes; a later claim (the ring came round, or
		 * a writer is rewriting it) changed its id. Each segment
		 * checks the id again after its copy. */
		__u32 i = tcr_slot_of(r->filled_ns);
		struct ps_tcr_slot *av = bpf_map_lookup_elem(&ps_tcr_asm, &i);

		fault_asm_reuse(i, av);
		if (!av)
			return NULL;
		w->id = *(volatile __u64 *)&av->id;
		MEM_BARRIER();
		if (w->id != r->filled_ns) {
			stat_inc(PS_ST_ENTRY_MOVED);
			return NULL;
		}
		if (m->claim) {
			if (av->srv_seq != m->srv_seq)
				return NULL;
			r->tot = tot = av->len;
			r->req_seq = av->req_seq;
			r->req_end = av->req_end;
		}
		if (av->len != tot || tot > PS_RTX_BYTES)
			return NULL;
		w->src = (__u64)(long)av->rep;
		w->idp = (__u64)(long)&av->id;
	} else if (r->big == PS_TCR_SRC_BIGCOPY) {
		/* retrans: the big entry as XDP answered from it (tc_handoff.h,
		 * tcr_copy_big), whatever the cache holds now */
		struct ps_cache_big_val *cv = bpf_map_lookup_elem(&ps_tcr_big, &rk);

		if (!cv || cv->filled_ns != r->filled_ns || cv->reply_len != tot)
			return NULL;
		w->src = (__u64)(long)cv->reply;
		w->idp = (__u64)(long)&cv->filled_ns;
		w->id = r->filled_ns;
	} else if (r->big) {
		bv = big_lookup(&r->key, cfg->cache_gen, now_ns);
		if (!bv || bv->filled_ns != r->filled_ns || bv->reply_len != tot)
			return NULL;
		w->src = (__u64)(long)bv->reply;
		w->idp = (__u64)(long)&bv->filled_ns;
		w->id = r->filled_ns;
	} else {
		sv = cache_lookup(&r->key, cfg->cache_gen, now_ns);
		if (!sv || sv->filled_ns != r->filled_ns || sv->reply_len != tot)
			return NULL;
		w->src = (__u64)(long)sv->reply;
		w->idp = (__u64)(long)&sv->filled_ns;
		w->id = r->filled_ns;
	}
	from = m->from;
	if (tot == 0 || tot > PS_BIG_REPLY_MAX || from >= tot)
		return NULL;
	w->tot = tot;
	w->from = from;
	w->mss = reply_limit(f);
	w->srv_seq = m->srv_seq;
	w->req_seq = r->req_seq;
	w->req_end = r->req_end;

	/* the headers every segment shares: the request's, turned around */
	__builtin_memset(&w->h, 0, sizeof(w->h));
	__builtin_memcpy(w->h.eth.h_dest, q.eth.h_source, ETH_ALEN);
	__builtin_memcpy(w->h.eth.h_source, q.eth.h_dest, ETH_ALEN);
	w->h.eth.h_proto = ETH_P_IP_BE;
	w->ts = !!(f->flags & PS_F_TS);
	w->h.ip.version = 4;
	w->h.ip.ihl = 5;
	w->h.ip.frag_off = bpf_htons(IP_DF);
	w->h.ip.ttl = IP_TTL_DEFAULT;
	w->h.ip.protocol = IPPROTO_TCP;
	w->h.ip.saddr = q.ip.daddr;
	w->h.ip.daddr = q.ip.saddr;
	w->h.tcp.source = q.dport;
	w->h.tcp.dest = q.sport;
	w->h.tcp.doff = (TCP_HDR_MIN + (w->ts ? TCPOLEN_TS_ALIGNED : 0)) / 4;
	w->h.tcp.ack = 1;
	w->h.tcp.window = bpf_htons(f->srv_wnd_raw);
	if (w->ts) {
		/* the kernel's clock, never behind what it sent (em_setup) */
		tsval = now_ms(cfg, now_ns) + f->ts_off;
		if (before(tsval, f->ts_srv_last))
			tsval = f->ts_srv_last;
		w->h.opts[0] = TCPOPT_NOP;
		w->h.opts[1] = TCPOPT_NOP;
		w->h.opts[2] = TCPOPT_TS;
		w->h.opts[3] = TCPOLEN_TS;
		*(__u32 *)&w->h.opts[4] = bpf_htonl(tsval);
		*(__u32 *)&w->h.opts[8] = bpf_htonl(f->ts_recent);
	}
	w->ifindex = skb->ifindex;
	w->hold = 0;
	return w;
}

/*
 * Build and send the reply XDP handed over (m, read from data_meta). The
 * request is never given to the kernel: its bytes are consumed in the
 * mirrors. Returns TC_ACT_REDIRECT (the last segment), or TC_ACT_SHOT
 * when the reply cannot be built (tc_lost; the request's retransmission
 * or the client's ACKs bring it back through the same handoff).
 */
static __always_inline int tcr_run(struct __sk_buff *skb,
				   const struct ps_tcr_meta *m)
{
	struct ps_tcr_work *w = tcr_prepare(skb, m);
	__u32 i;
	int r;

	if (!w)
		goto lost;
	skb->mark = PS_TCR_MARK;
	for (i = 0; i < PS_TCR_SEGS_MAX; i++) {
		w->i = i;
		r = tcr_segment(skb, w);
		if (r == TCR_SEG_FAILED)
			break;
		if (r == TCR_SEG_LAST) {
			stat_inc(PS_ST_TC_REPLIES);
			return bpf_redirect(w->ifindex, 0);
		}
	}
lost:
	stat_inc(PS_ST_TC_LOST);
	return TC_ACT_SHOT;
}

/* TC ingress: a request with a handoff, or anything else (passed). */
static __always_inline int ps_tc_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct ps_tcr_meta *mp = (void *)(long)skb->data_meta;
	struct ps_tcr_meta m;

	if ((void *)(mp + 1) > data || mp->magic != PS_TCR_MAGIC)
		return TC_ACT_OK;
	/* a copy: the helpers below invalidate packet pointers */
	m = *mp;
	return tcr_run(skb, &m);
}

#endif
