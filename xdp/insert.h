/* SPDX-License-Identifier: GPL-2.0 */
/*
 * insert.h - TC egress's half of per-command answering (docs/pipelines.md):
 * the runs XDP queued (runs.h) go into the kernel's reply stream right
 * after the reply they follow, and a kernel retransmission that crosses a
 * run inserted before gets it again. The kernel segment is rebuilt as
 * spans in client order (its bytes, the runs, a gap where a reply answered
 * at XDP sits) and sent as pieces of at most one MSS: every piece but the
 * last is a clone sent to the device's egress (marked, so that ps_tc lets
 * it pass), the last is the skb itself. Steps:
 *
 *   ins_take    after the reply parse: publish the replies emitted
 *               (tc_done, the handshake's TC side), take the queued runs
 *               whose boundary is in this segment's new bytes;
 *   ins_plan    the spans (and the kernel's payload copied into kbuf);
 *   ins_piece   one piece: the skb resized and rewritten, checksums by
 *               difference (right for CHECKSUM_PARTIAL skbs too);
 *   ins_record  the runs taken become PS_RUN_INS points (their bytes stay
 *               in ps_runs), injected grows.
 */
#ifndef PS_INSERT_H
#define PS_INSERT_H

#include "helpers.h"
#include "csum.h"
#include "flow.h"
#include "seqadj.h"
#include "runs.h"
#include "cache.h"
#include "reply.h"

/* skb->mark of the pieces sent as clones: tc_ingress.h's mark, so that
 * ps_tc passes them (they are in client space already) */
#ifndef PS_TCR_MARK
#define PS_TCR_MARK 0x70735243u
#endif

/* pieces of one rebuilt segment: (PS_INS_BUF + runs) / the smallest MSS */
#define PS_INS_PIECES_MAX 64

/* Unit tests only (BPF_PROG_TEST_RUN would send the clones for real):
 * i + 1 builds pieces up to piece i, sends none, and returns piece i as
 * the skb. 0 in every attached program. */
volatile __u32 ps_ins_stop = 0;

/* Unit tests only (PS_FAULT_RUN_REUSE): the queued run v, just looked up
 * under k, is withdrawn by XDP (deleted) and its element reused for the
 * run (b + PS_FAULT_RUN_B, sub), queued, whose bytes say "zzz" where
 * this run's value was: what XDP on another CPU may do at once. */
static __always_inline void fault_run_reuse(struct ps_scratch *s,
					    const struct ps_run_key *k,
					    struct ps_run_val *v)
{
	if (!(ps_fault & PS_FAULT_RUN_REUSE) || !v || v->state != PS_RUNQ_QUEUED)
		return;
	if (bpf_probe_read_kernel(&s->runv, sizeof(s->runv), v))
		return;
	s->rkey = *k;
	s->rkey.b += PS_FAULT_RUN_B;
	s->runv.tag = run_tag(&s->rkey);
	/* "$3\r\nbar\r\n": the value's bytes from the fifth */
	s->runv.rep[4] = 'z';
	s->runv.rep[5] = 'z';
	s->runv.rep[6] = 'z';
	bpf_map_delete_elem(&ps_runs, k);
	bpf_map_update_elem(&ps_runs, &s->rkey, &s->runv, BPF_NOEXIST);
}

/*
 * The ring's oldest entry, for a segment whose replies (rs0, rs0 + nrep]
 * end in it: a boundary b in that range sits at the end of reply b
 * (s->rend); b == rs0 at the new bytes' start when they begin a reply
 * (w->at_boundary), the first byte after reply b. An entry before that
 * was passed already: XDP withdraws such a run (it was queued under the
 * handshake). A run is taken by a compare-and-swap (QUEUED -> TAKEN); one
 * XDP withdrew, or that is gone, is skipped. Returns 1 when the entry is
 * for a later segment (it stays), 0 when it was popped.
 * Global: verified once, not once per iteration of ins_take's loop.
 */
__noinline int ins_take_one(struct ps_scratch *s, struct ps_flow *f,
			    const struct ps_flow_key *fk, struct ps_ins_work *w)
{
	struct ps_run_key k;
	struct ps_run_val *v;
	__u32 t, b, at, n, rs0;

	if (!s || !f || !fk || !w)
		return 1;
	t = f->runq_tail;
	if (t == f->runq_head)
		return 1;
	rs0 = w->rs0;
	b = f->runq[t & (PS_RUNQ_RING - 1)].b;
	if (after(b, rs0 + s->replies))
		return 1;
	/* popped whatever becomes of it: TC is the tail's one writer */
	f->runq_tail = t + 1;
	if ((b == rs0 && !w->at_boundary) || before(b, rs0)) {
		/* its place went by before it was queued: a run withdrawn
		 * (runs_handshake) is gone from ps_runs; one still queued
		 * cannot be placed any more (the handshake prevents it) */
		run_key(&k, fk, f, b, f->runq[t & (PS_RUNQ_RING - 1)].sub);
		v = bpf_map_lookup_elem(&ps_runs, &k);
		if (v && v->st == run_st(PS_RUNQ_QUEUED, &k)) {
			flow_set(f, PS_F_RUNS_LOST);
			stat_inc(PS_ST_INS_BROKEN);
		}
		return 0;
	}
	if (b == rs0) {
		at = w->from;
	} else if (b - rs0 - 1 < PS_REND_MAX) {
		at = s->rend[(b - rs0 - 1) & (PS_REND_MAX - 1)];
	} else {
		/* more replies in one segment than the parse kept: the run
		 * cannot be placed */
		flow_set(f, PS_F_RUNS_LOST);
		stat_inc(PS_ST_INS_BROKEN);
		return 0;
	}
	run_key(&k, fk, f, b, f->runq[t & (PS_RUNQ_RING - 1)].sub);
	v = bpf_map_lookup_elem(&ps_runs, &k);
	fault_run_reuse(s, &k, v);
	/* taken only if still this run (runs.h, run_tag) */
	if (!v || __sync_val_compare_and_swap(&v->st, run_st(PS_RUNQ_QUEUED, &k),
					      run_st(PS_RUNQ_TAKEN, &k)) !=
		  run_st(PS_RUNQ_QUEUED, &k))
		return 0;
	n = w->nnew;
	if (n >= PS_RUNQ_RING || v->len == 0 || v->len > PS_RUN_BYTES) {
		/* taken and not placed: cannot happen (the ring bounds n) */
		flow_set(f, PS_F_RUNS_LOST);
		stat_inc(PS_ST_INS_BROKEN);
		return 0;
	}
	w->new_at[n & (PS_RUNQ_RING - 1)] = at;
	w->new_b[n & (PS_RUNQ_RING - 1)] = b;
	w->new_sub[n & (PS_RUNQ_RING - 1)] = k.sub;
	w->new_len[n & (PS_RUNQ_RING - 1)] = v->len;
	w->new_src[n & (PS_RUNQ_RING - 1)] = (__u64)(long)v->rep;
	w->nnew = n + 1;
	stat_inc(PS_ST_RUNS_TAKEN);
	return 0;
}

/* Append a span. Returns 0, or -1 when the list is full. */
static __always_inline int ins_span(struct ps_ins_work *w, __u32 kind,
				    __u32 off, __u32 len, __u64 src)
{
	__u32 i = w->nspan;
	struct ps_span *sp;

	if (len == 0)
		return 0;
	if (i >= PS_INS_SPANS)
		return -1;
	sp = &w->span[i & (PS_INS_SPANS - 1)];
	sp->kind = kind;
	sp->off = off;
	sp->len = len;
	sp->src = src;
	w->nspan = i + 1;
	return 0;
}

/* The kernel's bytes [cur, to) of the payload (clamped to what kbuf
 * holds). Returns 0, 1 when the rest does not fit kbuf, -1 on a full list. */
static __always_inline int ins_kspan(struct ps_ins_work *w, __u32 cur, __u32 to)
{
	if (to > w->kbytes) {
		if (cur < w->kbytes && ins_span(w, PS_SPAN_K, cur, w->kbytes - cur, 0))
			return -1;
		return 1;
	}
	return to > cur ? ins_span(w, PS_SPAN_K, cur, to - cur, 0) : 0;
}

/* bpf_loop's context for the builder's loops */
struct ins_loop {
	struct ps_ins_work *w;
	struct ps_ins_kbuf *kb;
	struct __sk_buff *skb;
	__u32 off;     /* ins_load_step: the payload's offset in the skb */
	__u32 sum;
	__u32 n;       /* ins_gather_step: bytes gathered */
	__u32 stop;
};

/* This CPU's kernel-payload buffer. */
static __always_inline struct ps_ins_kbuf *ins_kbuf(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&ps_ins_kbuf, &cpu);
}

/* The kernel's payload into kb, PS_TCR_SEG_BUF bytes a call. */
static long ins_load_step(__u32 i, void *data)
{
	struct ins_loop *l = data;
	struct ps_ins_work *w = l->w;
	struct ps_ins_kbuf *kb = l->kb;
	__u32 o = i * PS_TCR_SEG_BUF, c;

	if (!w || !kb || !l->skb || o >= w->kbytes || o >= PS_INS_BUF)
		return 1;
	c = w->kbytes - o;
	if (c > PS_TCR_SEG_BUF)
		c = PS_TCR_SEG_BUF;
	BOUND_1_TO(c, PS_TCR_SEG_BUF);
	if (bpf_skb_load_bytes(l->skb, l->off + o, &kb->b[o & (PS_INS_BUF - 1)], c)) {
		l->stop = 1;
		return 1;
	}
	return 0;
}

/* kbuf's sum, PS_CSUM_CHUNK bytes a call (the pad after kbytes is zero) */
static long ins_sum_step(__u32 i, void *data)
{
	struct ins_loop *l = data;
	struct ps_ins_work *w = l->w;
	struct ps_ins_kbuf *kb = l->kb;
	__u32 o = i * PS_CSUM_CHUNK, c;

	if (!w || !kb || o >= ((w->kbytes + 3) & ~3u) || o >= PS_INS_BUF)
		return 1;
	c = ((w->kbytes + 3) & ~3u) - o;
	if (c > PS_CSUM_CHUNK)
		c = PS_CSUM_CHUNK;
	l->sum = csum_chunk(&kb->b[o & (PS_INS_BUF - 1)], c, l->sum);
	return 0;
}

/*
 * Point w->pi of the injected list, for a segment from kernel seq k0: if
 * it lies in (k0, w->kold], the kernel's bytes up to it, then its run
 * again (PS_RUN_INS: each sub's bytes from ps_runs) or a gap (PS_RUN_XDP).
 * w->cur: payload offset reached; w->pprev: the offset before the point.
 * Returns 0, or -1 when a run's bytes are missing or the spans are full.
 * Global: ins_plan's loop over the points is verified once.
 */
__noinline int ins_plan_point(struct ps_ins_work *w, struct ps_flow *f,
			      const struct ps_flow_key *fk, __u32 k0)
{
	struct ps_run_key k;
	struct ps_run_val *v;
	struct ps_corr *pt;
	__u32 j, kp, rl, o, tot = 0;
	int r;

	if (!w || !f || !fk || w->pi >= PS_SEQADJ_POINTS)
		return -1;
	pt = &f->srv_adj.pt[w->pi & (PS_SEQADJ_POINTS - 1)];
	kp = pt->pos - pt->off;
	rl = pt->off - w->pprev;
	w->pprev = pt->off;
	if (kp == k0 && before(k0, w->kold)) {
		/* a retransmission from a run's kernel position: the run goes
		 * in front (the client may have lost it with what followed;
		 * if not, it takes the copy as a duplicate). A reply answered
		 * at XDP there is the client's already, unless a run came
		 * first: a gap then */
		if (pt->kind == PS_RUN_INS && !w->nspan)
			w->cseq = pt->pos - rl;
		else if (pt->kind != PS_RUN_INS && !w->nspan)
			return 0;
	} else if (!(after(kp, k0) && !after(kp, w->kold))) {
		return 0;
	}
	o = kp - k0;
	r = ins_kspan(w, w->cur, o);
	if (r < 0)
		return -1;
	if (r > 0) {
		w->trunc = 1;
		return 0;
	}
	w->cur = o;
	if (pt->kind != PS_RUN_INS) {
		/* a reply answered at XDP: re-sent by its own means */
		if (ins_span(w, PS_SPAN_GAP, 0, rl, 0))
			return -1;
		w->gaps++;
		return 0;
	}
	for (j = 0; j < PS_RUN_SUBS; j++) {
		if (!(pt->subs & (1u << j)))
			continue;
		run_key(&k, fk, f, pt->b, j);
		v = bpf_map_lookup_elem(&ps_runs, &k);
		if (!v || v->len == 0 || v->len > PS_RUN_BYTES)
			return -1;
		if (ins_span(w, PS_SPAN_RUN, 0, v->len, (__u64)(long)v->rep))
			return -1;
		tot += v->len;
	}
	if (tot != rl)
		return -1;
	stat_add(PS_ST_INS_BYTES, tot);
	stat_inc(PS_ST_INS_RETRANS);
	return 0;
}

/*
 * Does a retransmission from kernel seq k0, its old bytes ending at kold,
 * cross a run inserted before: a point in (k0, kold], or an inserted one
 * at k0 (ins_plan_point)? Global: its loop is verified once.
 */
__noinline int ins_crosses(const struct ps_flow *f, __u32 k0, __u32 kold)
{
	__u32 i, kp;

	if (!f || !before(k0, kold))
		return 0;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (i >= f->srv_adj.n)
			break;
		kp = f->srv_adj.pt[i].pos - f->srv_adj.pt[i].off;
		if (after(kp, k0) ? !after(kp, kold) :
		    kp == k0 && f->srv_adj.pt[i].kind == PS_RUN_INS)
			return 1;
	}
	return 0;
}

/*
 * The spans of kernel segment p (payload [k0, k0 + len)): the runs
 * inserted before whose point lies in (k0, kold] (kold: where the bytes
 * the kernel sent before end in this segment) again, as their bytes
 * (PS_RUN_INS) or as gaps (PS_RUN_XDP), and the runs just taken where
 * they go; the kernel's bytes between, from kbuf. Returns 1 when the
 * segment must be rebuilt, 0 when not (nothing crossed or taken), -1
 * when an inserted run's bytes are missing (the flow cannot go on).
 * Global: verified once.
 */
__noinline int ins_plan(struct __sk_buff *skb, struct ps_ins_work *w,
			struct ps_flow *f, const struct ps_flow_key *fk,
			struct ps_pkt *p)
{
	__u32 i, o, cur = 0, len, k0, c, mss, trunc = 0, kold;
	struct ps_ins_kbuf *kb;
	int r;

	if (!skb || !w || !f || !fk || !p)
		return -1;
	kold = w->kold;
	len = p->payload_len;
	k0 = p->seq;
	w->nspan = 0;
	w->gaps = 0;
	if (!w->nnew && !ins_crosses(f, k0, kold))
		return 0;

	/* the kernel's payload, as far as kbuf holds it */
	kb = ins_kbuf();
	if (!kb)
		return -1;
	w->kbytes = len < PS_INS_BUF ? len : PS_INS_BUF;
	{
		struct ins_loop l = { .w = w, .kb = kb, .skb = skb,
				      .off = p->payload_off };

		bpf_loop(PS_INS_BUF / PS_TCR_SEG_BUF, ins_load_step, &l, 0);
		if (l.stop)
			return -1;
	}

	/* the client seq of the first byte: after every run at k0, unless
	 * ins_plan_point puts one at k0 in front */
	w->cseq = k_seq_to_cli(f, k0, 0);
	w->pprev = f->srv_adj.base;
	w->cur = 0;
	w->trunc = 0;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (i >= f->srv_adj.n || w->trunc)
			break;
		w->pi = i;
		if (ins_plan_point(w, f, fk, k0))
			return -1;
	}
	cur = w->cur;
	trunc = w->trunc;
	for (i = 0; i < PS_RUNQ_RING && !trunc; i++) {
		if (i >= w->nnew)
			break;
		o = w->new_at[i & (PS_RUNQ_RING - 1)];
		if (o < cur || o > len)
			return -1;
		r = ins_kspan(w, cur, o);
		if (r < 0)
			return -1;
		if (r > 0) {
			trunc = 1;
			break;
		}
		cur = o;
		if (ins_span(w, PS_SPAN_RUN, 0, w->new_len[i & (PS_RUNQ_RING - 1)],
			     w->new_src[i & (PS_RUNQ_RING - 1)]))
			return -1;
		stat_add(PS_ST_INS_BYTES, w->new_len[i & (PS_RUNQ_RING - 1)]);
	}
	if (!trunc) {
		r = ins_kspan(w, cur, len);
		if (r < 0)
			return -1;
		trunc = r;
	}
	if (trunc)
		stat_inc(PS_ST_INS_TRUNC);
	if (w->gaps)
		stat_inc(PS_ST_INS_GAPS);

	/* the pieces' shape: the skb's own headers, at most an MSS each */
	mss = f->mss_cli ? f->mss_cli : MSS_DEFAULT;
	if (mss > MTU_PAYLOAD_MAX)
		mss = MTU_PAYLOAD_MAX;
	if (p->doff > TCP_HDR_MIN)
		mss -= p->doff - TCP_HDR_MIN;
	w->mss = mss;
	w->l4_off = p->l4_off;
	w->hlen = p->payload_off;
	w->si = 0;
	w->so = 0;
	w->cur_len = len;
	w->ifindex = skb->ifindex;
	w->mark = skb->mark;
	/* the header as tc_translate left it */
	if (bpf_skb_load_bytes(skb, p->l4_off + offsetof(struct tcphdr, seq),
			       &w->cur_seq, 4) ||
	    bpf_skb_load_bytes(skb, p->l4_off + 12, &w->cur_fw, 2) ||
	    bpf_skb_load_bytes(skb, sizeof(struct ethhdr) +
			       offsetof(struct iphdr, tot_len), &w->cur_iplen, 2))
		return -1;
	w->cur_seq = bpf_ntohl(w->cur_seq);
	w->fw = w->cur_fw;
	/* byte 13 of the header is the flags byte: the high byte of the raw
	 * little-endian word */
	w->fw_mid = w->cur_fw & ~(__u16)((TCPF_FIN | TCPF_PSH) << 8);
	/* the payload's sum now, for the first piece's difference: zero pad
	 * to a word, then 512 bytes a call */
	/* (kbuf has room past PS_INS_BUF: a full kbuf needs no pad, and a
	 * mask would have put it at kbuf[0]) */
	c = w->kbytes;
	if (c < PS_INS_BUF) {
		kb->b[c] = 0;
		kb->b[c + 1] = 0;
		kb->b[c + 2] = 0;
	}
	{
		struct ins_loop l = { .w = w, .kb = kb };

		bpf_loop(PS_INS_BUF / PS_CSUM_CHUNK, ins_sum_step, &l, 0);
		w->cur_sum = l.sum;
	}
	/* bytes kbuf does not hold are not summed: the first piece's payload
	 * difference is then skipped, right only for CHECKSUM_PARTIAL skbs
	 * (what TCP hands TC egress: the sum is taken after us). XXX */
	w->sum_ok = len <= w->kbytes;
	return 1;
}

/*
 * One step of gathering a piece from the cursor (w->si, w->so): a gap
 * with nothing gathered yet is stepped over (the piece starts after it,
 * w->pseq), one after some bytes ends the piece; else as many bytes of
 * the span as the piece takes. l->n: bytes gathered; l->stop 2: failed.
 */
static long ins_gather_step(__u32 i, void *data)
{
	struct ins_loop *l = data;
	struct ps_ins_work *w = l->w;
	struct ps_ins_kbuf *kb = l->kb;
	struct ps_span *sp;
	__u32 take, o, n = l->n;

	if (!w || !kb || w->si >= w->nspan || w->si >= PS_INS_SPANS || n >= w->mss)
		return 1;
	sp = &w->span[w->si & (PS_INS_SPANS - 1)];
	if (sp->kind == PS_SPAN_GAP) {
		if (n)
			return 1;
		w->cseq += sp->len;
		w->pseq = w->cseq;
		w->si++;
		w->so = 0;
		return 0;
	}
	if (w->so >= sp->len) {
		w->si++;
		w->so = 0;
		return 0;
	}
	take = sp->len - w->so;
	if (take > w->mss - n)
		take = w->mss - n;
	if (take == 0 || n > MTU_PAYLOAD_MAX) {
		l->stop = 2;
		return 1;
	}
	BOUND_1_TO(take, PS_TCR_SEG_BUF);
	if (sp->kind == PS_SPAN_K) {
		o = sp->off + w->so;
		if (o >= PS_INS_BUF ||
		    bpf_probe_read_kernel(&w->seg[n & (PS_TCR_SEG_BUF - 1)], take,
					  &kb->b[o & (PS_INS_BUF - 1)])) {
			l->stop = 2;
			return 1;
		}
	} else if (bpf_probe_read_kernel(&w->seg[n & (PS_TCR_SEG_BUF - 1)], take,
					 (void *)(long)(sp->src + w->so))) {
		l->stop = 2;
		return 1;
	}
	l->n = n + take;
	w->so += take;
	w->cseq += take;
	if (w->so >= sp->len) {
		w->si++;
		w->so = 0;
	}
	return 0;
}

/* What ins_piece made of the skb. */
enum ins_piece_result {
	INS_PIECE_SENT = 0, /* a clone went out; more to come */
	INS_PIECE_LAST,     /* the skb is the last piece */
	INS_PIECE_FAILED,   /* the skb is no longer the kernel's segment:
			     * shoot it, the kernel sends it again */
};

/*
 * The next piece from the cursor: at most w->mss bytes of the spans, a
 * gap ending it; the skb resized to it and rewritten (payload, seq, the
 * flags word: PSH and FIN only on the last, IP length), every checksum
 * moved by difference: the payload's sums, the pseudo header's length
 * (BPF_F_PSEUDO_HDR), the fields. For a CHECKSUM_PARTIAL skb (what TCP
 * hands TC egress) only the pseudo header counts; for any other the
 * whole. Not the last: a marked clone goes to the device's egress.
 * Global: verified once.
 */
__noinline int ins_piece(struct __sk_buff *skb, struct ps_ins_work *w)
{
	__u32 i, n = 0, sum = 0, nseq, c, o, csum_off, last;
	__u16 fw, iplen, tl_old, tl_new;
	struct ps_span *sp;

	if (!skb || !w || w->mss == 0 || w->mss > MTU_PAYLOAD_MAX)
		return INS_PIECE_FAILED;
	w->pseq = w->cseq;
	{
		struct ins_loop l = { .w = w, .kb = ins_kbuf() };

		bpf_loop(2 * PS_INS_SPANS, ins_gather_step, &l, 0);
		if (l.stop > 1)
			return INS_PIECE_FAILED;
		n = l.n;
	}
	nseq = w->pseq;
	/* trailing gaps end nothing: skip them to see whether this is the last */
	for (i = 0; i < PS_INS_SPANS; i++) {
		if (w->si >= w->nspan || w->si >= PS_INS_SPANS)
			break;
		sp = &w->span[w->si & (PS_INS_SPANS - 1)];
		if (sp->kind != PS_SPAN_GAP)
			break;
		w->si++;
	}
	last = w->si >= w->nspan;
	if (n == 0 || n > MTU_PAYLOAD_MAX)
		return INS_PIECE_FAILED;
	/* zero the pad up to a word, then the piece's sum */
	w->seg[n & (PS_TCR_SEG_BUF - 1)] = 0;
	w->seg[(n + 1) & (PS_TCR_SEG_BUF - 1)] = 0;
	w->seg[(n + 2) & (PS_TCR_SEG_BUF - 1)] = 0;
	for (i = 0; i < PS_TCR_SEG_BUF / PS_CSUM_CHUNK; i++) {
		o = i * PS_CSUM_CHUNK;
		if (o >= ((n + 3) & ~3u))
			break;
		c = ((n + 3) & ~3u) - o;
		if (c > PS_CSUM_CHUNK)
			c = PS_CSUM_CHUNK;
		sum = csum_chunk(&w->seg[o & (PS_TCR_SEG_BUF - 1)], c, sum);
	}

	if (skb->len != w->hlen + n && bpf_skb_change_tail(skb, w->hlen + n, 0))
		return INS_PIECE_FAILED;
	BOUND_1_TO(n, PS_TCR_SEG_BUF);
	if (bpf_skb_store_bytes(skb, w->hlen, w->seg, n, 0))
		return INS_PIECE_FAILED;
	csum_off = w->l4_off + offsetof(struct tcphdr, check);
	/* the payload, by difference (nothing for CHECKSUM_PARTIAL) */
	if (w->sum_ok)
		bpf_l4_csum_replace(skb, csum_off, 0,
				    csum_add32(sum, ~w->cur_sum), 0);
	/* the pseudo header's TCP length */
	tl_old = bpf_htons(w->cur_len + w->hlen - w->l4_off);
	tl_new = bpf_htons(n + w->hlen - w->l4_off);
	if (tl_old != tl_new)
		bpf_l4_csum_replace(skb, csum_off, tl_old, tl_new,
				    BPF_F_PSEUDO_HDR | sizeof(__u16));
	if (nseq != w->cur_seq) {
		__u32 be = bpf_htonl(nseq), old = bpf_htonl(w->cur_seq);

		bpf_skb_store_bytes(skb, w->l4_off + offsetof(struct tcphdr, seq),
				    &be, 4, 0);
		bpf_l4_csum_replace(skb, csum_off, old, be, sizeof(__u32));
	}
	fw = last ? w->fw : w->fw_mid;
	if (fw != w->cur_fw) {
		bpf_skb_store_bytes(skb, w->l4_off + 12, &fw, 2, 0);
		bpf_l4_csum_replace(skb, csum_off, w->cur_fw, fw, sizeof(__u16));
	}
	iplen = bpf_htons(w->hlen - sizeof(struct ethhdr) + n);
	if (iplen != w->cur_iplen) {
		bpf_skb_store_bytes(skb, sizeof(struct ethhdr) +
				    offsetof(struct iphdr, tot_len), &iplen, 2, 0);
		bpf_l3_csum_replace(skb, sizeof(struct ethhdr) +
				    offsetof(struct iphdr, check),
				    w->cur_iplen, iplen, sizeof(__u16));
	}
	w->cur_len = n;
	w->cur_sum = sum;
	w->sum_ok = 1;
	w->cur_seq = nseq;
	w->cur_fw = fw;
	w->cur_iplen = iplen;
	stat_inc(PS_ST_INS_PIECES);
	if (last)
		return INS_PIECE_LAST;
	if (w->hold)
		return INS_PIECE_SENT;
	skb->mark = PS_TCR_MARK;
	if (bpf_clone_redirect(skb, w->ifindex, 0)) {
		skb->mark = w->mark;
		return INS_PIECE_FAILED;
	}
	skb->mark = w->mark;
	return INS_PIECE_SENT;
}

/*
 * The runs taken become inserted points, in order: run j follows kernel
 * byte k0 + new_at[j] - 1, at client seq k0 + new_at[j] + injected (every
 * earlier point is before it); the runs of one boundary that touch are one
 * point with their subs. Before pending drops (egress.h): XDP answers a
 * segment whole only when nothing is pending, and then its srv_nxt must
 * count every inserted byte. Global.
 */
__noinline int ins_record(struct ps_flow *f, const struct ps_ins_work *w,
			  __u32 k0)
{
	__u32 i, kp, len;

	if (!f || !w)
		return 0;
	for (i = 0; i < PS_RUNQ_RING; i++) {
		if (i >= w->nnew)
			break;
		kp = k0 + w->new_at[i & (PS_RUNQ_RING - 1)];
		len = w->new_len[i & (PS_RUNQ_RING - 1)];
		f->injected += len;
		seqadj_add_run(&f->srv_adj, kp + f->injected - len, len,
			       f->injected, PS_RUN_INS,
			       w->new_b[i & (PS_RUNQ_RING - 1)],
			       1u << (w->new_sub[i & (PS_RUNQ_RING - 1)] &
				      (PS_RUN_SUBS - 1)));
		__sync_fetch_and_add(&f->runq_bytes, -len);
	}
	return 0;
}

/* Send the rebuilt segment: every piece but the last as a clone, the last
 * as the skb itself. Returns TC_ACT_OK, or TC_ACT_SHOT when a piece could
 * not be built (the kernel retransmits; the runs are points by then).
 * Global. */
__noinline int ins_emit(struct __sk_buff *skb, struct ps_ins_work *w)
{
	__u32 i;
	int r;

	if (!skb || !w)
		return TC_ACT_SHOT;
	stat_inc(PS_ST_INS_SEGS);
	w->hold = ps_ins_stop != 0;
	for (i = 0; i < PS_INS_PIECES_MAX; i++) {
		r = ins_piece(skb, w);
		if (r == INS_PIECE_LAST || (w->hold && i + 1 == ps_ins_stop))
			return r == INS_PIECE_FAILED ? TC_ACT_SHOT : TC_ACT_OK;
		if (r != INS_PIECE_SENT)
			return TC_ACT_SHOT;
	}
	return TC_ACT_SHOT;
}

#endif
