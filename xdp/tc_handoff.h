/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tc_handoff.h - the XDP half of the TC ingress path (docs/tc-reply.md).
 * A GET whose reply XDP cannot carry (larger than the MSS, than the veth
 * frame can grow, or a value in ps_cache_big) is decided here with every
 * guard of guarded mode, and accounted in the mirrors as if answered; the
 * request then goes up untouched with a ps_tcr_meta in its data_meta, and
 * TC ingress (tc_ingress.h) builds the reply's segments from the entry
 * named in ps_tcr_refs. The same handoff re-sends a TC reply, whole or
 * from a hole, for guarded's retransmitted request and retrans mode.
 */
#ifndef PS_TC_HANDOFF_H
#define PS_TC_HANDOFF_H

#include "helpers.h"
#include "flow.h"
#include "scratch.h"
#include "cache.h"
#include "reply.h"
#include "ingress_common.h"

/* what each TC reply was made of: ps_tcr_refs (maps.h) */

/*
 * The segment's only GET is cached but its reply is not for XDP: take it
 * for TC ingress. small: the entry is in ps_cache (its reply exceeds the
 * MSS, or the frame could not grow), else the key missed ps_cache and is
 * looked up in ps_cache_big. Returns TCR_PICKED (s->tcr holds the entry,
 * s->tcr.tot its reply length) or TCR_NO_PICK.
 * Global: its locals stay out of guarded_data's frame (the verifier's
 * combined stack limit of 512 bytes along a call chain).
 */
enum tcr_pick_result {
	TCR_NO_PICK = 0,
	TCR_PICKED,
};

__noinline int tcr_pick(struct ps_scratch *s, struct ps_config *cfg, int small,
			__u64 now_ns)
{
	struct ps_tcr_ref *r;
	struct ps_cache_big_val *bv;
	struct ps_cache_val *sv;

	if (!s || !cfg)
		return TCR_NO_PICK;
	r = &s->tcr;
	s->tcr_on = 0;
	if (!(cfg->flags & PS_CFG_TC_REPLY) || s->ngets != 1 || s->ncmds != 1)
		return TCR_NO_PICK;
	/* the key: read in place by the canonical GET parse (key_ready), or
	 * from the payload copy */
	if (!s->key_ready &&
	    ps_key_from_buf(&s->key, s, s->key_off[0], s->key_len[0]))
		return TCR_NO_PICK;
	__builtin_memcpy(&r->key, &s->key, sizeof(r->key));
	if (small) {
		sv = cache_lookup(&r->key, cfg->cache_gen, now_ns);
		if (!sv || sv->reply_len == 0 || sv->reply_len > PS_REPLY_MAX)
			return TCR_NO_PICK;
		r->big = PS_TCR_SRC_CACHE;
		r->filled_ns = sv->filled_ns;
		r->tot = sv->reply_len;
	} else {
		bv = big_lookup(&r->key, cfg->cache_gen, now_ns);
		if (!bv || bv->reply_len == 0 || bv->reply_len > PS_BIG_REPLY_MAX)
			return TCR_NO_PICK;
		r->big = PS_TCR_SRC_BIG;
		r->filled_ns = bv->filled_ns;
		r->tot = bv->reply_len;
		s->asm_misses = 0;
	}
	r->gen = cfg->cache_gen;
	s->tcr_on = 1;
	return TCR_PICKED;
}

/*
 * A slot of ps_tcr_asm for a TC reply's bytes (maps.h): claim number n
 * (from 1, never 0) is the bytes' identity, the slot (n - 1) modulo the
 * ring. Its id is zeroed before anything else is written, so that a
 * reader copying the reply it held sees its id change (tc_ingress.h,
 * each segment's check after its copy); tcr_slot_publish writes the rest
 * and the new id last. A writer still copying when the ring comes round
 * to its slot again (ps_tcr_slots claims later) could mix two replies
 * under one id: not guarded against, as a claim is a few hundred
 * nanoseconds long.
 */
static __always_inline __u32 tcr_slot_of(__u64 n)
{
	return ps_tcr_slots ? (__u32)((n - 1) % ps_tcr_slots) : 0;
}

static __always_inline struct ps_tcr_slot *tcr_slot_claim(__u64 *n)
{
	struct ps_tcr_slot *v;
	__u32 i;

	*n = __sync_fetch_and_add(&ps_tcr_claims, 1) + 1;
	i = tcr_slot_of(*n);
	v = bpf_map_lookup_elem(&ps_tcr_asm, &i);
	if (!v)
		return NULL;
	*(volatile __u64 *)&v->id = 0;
	MEM_BARRIER();
	return v;
}

/* A claimed slot (claim in *n) holding n bytes copied from src (a map
 * value or the scratch), not yet published; NULL when none. The caller
 * checks src was not rewritten during the copy, then publishes. */
static __always_inline struct ps_tcr_slot *tcr_slot_copy(__u64 *claim,
							 const void *src, __u32 n)
{
	struct ps_tcr_slot *a;

	if (n == 0 || n > PS_RTX_BYTES)
		return NULL;
	a = tcr_slot_claim(claim);
	if (!a)
		return NULL;
	BOUND_1_TO(n, PS_RTX_BYTES);
	/* probe_read: a variable-length copy between two map values */
	if (bpf_probe_read_kernel(a->rep, n, src))
		return NULL;
	return a;
}

/* The reply at srv_seq answering request [req_seq, req_end), len bytes
 * already in v->rep, published under claim n. */
static __always_inline void tcr_slot_publish(struct ps_tcr_slot *v, __u32 len,
					     __u32 csum, __u64 n, __u32 srv_seq,
					     __u32 req_seq, __u32 req_end)
{
	v->len = len;
	v->csum = csum;
	v->srv_seq = srv_seq;
	v->req_seq = req_seq;
	v->req_end = req_end;
	MEM_BARRIER();
	*(volatile __u64 *)&v->id = n;
}

/* Put the handoff (reply at srv_seq, from byte from, from the slot of
 * claim or, with 0, through ps_tcr_refs) in front of the frame. Returns
 * PS_SENT_TC, or PS_SENT_NONE (no data_meta left behind). */
static __always_inline int tcr_meta_put(struct xdp_md *ctx, __u32 srv_seq,
					__u32 from, __u64 claim, int resend)
{
	struct ps_tcr_meta *m;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return PS_SENT_NONE;
	/* packet pointers are stale after the adjust: read them again */
	m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(m + 1) > data) {
		/* give the room back: no stale bytes in front of the frame */
		bpf_xdp_adjust_meta(ctx, (int)sizeof(*m));
		return PS_SENT_NONE;
	}
	m->magic = PS_TCR_MAGIC;
	m->srv_seq = srv_seq;
	m->from = from;
	m->pad = 0;
	m->claim = claim;
	stat_inc(PS_ST_TC_HANDOFFS);
	if (resend)
		stat_inc(PS_ST_TC_RESENDS);
	return PS_SENT_TC;
}

/*
 * Hand the reply at srv_seq of p's flow to TC ingress, from byte `from`:
 * with `store`, a new answer whose ref is stored first; without, a
 * re-send of a TC reply, if p's flow has one at srv_seq. Puts the
 * ps_tcr_meta in front of the frame. Returns PS_SENT_TC, or PS_SENT_NONE
 * (nothing done: no data_meta left behind).
 * Global: its stack is not added to the caller's (combined stack limit).
 */
__noinline int tcr_handoff(struct xdp_md *ctx, const struct ps_pkt *p,
			   __u32 srv_seq, __u32 from, struct ps_tcr_ref *store)
{
	struct ps_rtx_key k = {};
	struct ps_tcr_ref *r;

	if (!ctx || !p)
		return PS_SENT_NONE;
	flow_key(&k.flow, p, 1);
	k.srv_seq = srv_seq;
	if (store) {
		store->srv_seq = srv_seq;
		if (bpf_map_update_elem(&ps_tcr_refs, &k, store, BPF_ANY))
			return PS_SENT_NONE;
	} else {
		r = bpf_map_lookup_elem(&ps_tcr_refs, &k);
		if (!r || from >= r->tot)
			return PS_SENT_NONE;
	}
	return tcr_meta_put(ctx, srv_seq, from, 0, !store);
}

/*
 * Hand the reply in the ps_tcr_asm slot of claim to TC ingress, from byte
 * `from`, as the reply at srv_seq: no ps_tcr_refs entry, the slot holds
 * what TC needs (guarded's answers fixed at XDP, and their re-sends:
 * ps_flow.ans_claim). A slot claimed again since holds another id: gone,
 * as an evicted ref is. Returns PS_SENT_TC or PS_SENT_NONE.
 * Global: its stack is not added to the caller's (combined stack limit).
 */
__noinline int tcr_handoff_slot(struct xdp_md *ctx, __u32 srv_seq, __u32 from,
				__u64 claim, int resend)
{
	struct ps_tcr_slot *a;
	__u32 i = tcr_slot_of(claim);

	if (!ctx || !claim)
		return PS_SENT_NONE;
	a = bpf_map_lookup_elem(&ps_tcr_asm, &i);
	if (!a || a->id != claim || a->srv_seq != srv_seq || from >= a->len)
		return PS_SENT_NONE;
	return tcr_meta_put(ctx, srv_seq, from, claim, resend);
}

/* Hand the picked reply (s->tcr) to TC ingress as the answer to request
 * [seq, seq + len) at reply seq srv_seq. Returns tcr_handoff's. */
static __always_inline int tcr_answer(struct xdp_md *ctx, struct ps_scratch *s,
				      const struct ps_pkt *p, __u32 seq,
				      __u32 len, __u32 srv_seq)
{
	s->tcr.req_seq = seq;
	s->tcr.req_end = seq + len;
	return tcr_handoff(ctx, p, srv_seq, 0, &s->tcr);
}

/* Send the TC reply at srv_seq of flow f again from byte `from` in place
 * of segment p: from its slot when it is f's last answer and was sent
 * from one (guarded), else through its ref. Returns PS_SENT_TC or
 * PS_SENT_NONE (none there, or not sent). */
static __always_inline int tcr_resend(struct xdp_md *ctx,
				      const struct ps_pkt *p,
				      const struct ps_flow *f, __u32 srv_seq,
				      __u32 from)
{
	if (f->ans_claim && srv_seq == f->ans_srv_seq)
		return tcr_handoff_slot(ctx, srv_seq, from, f->ans_claim, 1);
	return tcr_handoff(ctx, p, srv_seq, from, NULL);
}

/*
 * Copy map element v into map dst under k, then check that the copy and
 * v both still hold the value they held before: identity id (the __u64
 * at id_off) and length len (the __u32 at len_off), the same offsets in
 * both, as both maps hold v's struct. An LRU element evicted and reused
 * while the helper copied it leaves a copy that may mix two values
 * (helpers.h, ENTRY_SAME): such a copy is deleted. The helper copies
 * between the two maps' elements: no buffer of our own (a ps_cache_big
 * value is 16 KB). Returns 1 when the copy stands, 0 when there is none.
 * Always inlined: dst is then each call site's own map (a constant
 * ld_imm64 for the map helpers) and the offsets constants, so each call
 * compiles to plain field loads, as if written out.
 */
static __always_inline int tcr_copy_same(void *dst, const struct ps_rtx_key *k,
					 const void *v, __u32 id_off, const __u64 *id,
					 __u32 len_off, const __u32 *len)
{
	const void *c;

	if (bpf_map_update_elem(dst, k, v, BPF_ANY))
		return 0;
	c = bpf_map_lookup_elem(dst, k);
	/* read v, *id and *len again after the copy, not values held from
	 * before it */
	MEM_BARRIER();
	if (!c || *(const __u64 *)(c + id_off) != *id ||
	    *(const __u32 *)(c + len_off) != *len ||
	    *(const __u64 *)(v + id_off) != *id ||
	    *(const __u32 *)(v + len_off) != *len) {
		bpf_map_delete_elem(dst, k);
		return 0;
	}
	return 1;
}

/* rtx_resend of a ring entry it could not send: a TC reply (its ref in
 * ps_tcr_refs) is sent again; an XDP reply whose bytes are in ps_rtx but
 * would not fit in the frame (RTX_NO_ROOM) is copied into a slot of ps_tcr_asm and
 * handed over as a TC reply of those bytes (PS_TCR_SRC_ASM), when TC
 * ingress is attached (PS_CFG_TC_REPLY). Returns PS_SENT_TC, else
 * PS_SENT_NONE (gone: nothing kept, or not sent). Global: rtx_resend's
 * frame stays as it was (combined stack limit). */
__noinline int tcr_resend_ent(struct xdp_md *ctx, struct ps_scratch *s,
			      const struct ps_pkt *p, const struct ps_rtx_ent *e)
{
	struct ps_rtx_key k = {};
	struct ps_tcr_slot *a;
	struct ps_rtx_val *v;
	struct ps_config *cfg;
	__u32 zero = 0, csum;
	__u64 id, claim;

	if (!ctx || !s || !p || !e)
		return PS_SENT_NONE;
	if (tcr_handoff(ctx, p, e->srv_seq, 0, NULL) == PS_SENT_TC)
		return PS_SENT_TC;
	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	flow_key(&k.flow, p, 1);
	k.srv_seq = e->srv_seq;
	v = bpf_map_lookup_elem(&ps_rtx, &k);
	if (!cfg || !(cfg->flags & PS_CFG_TC_REPLY) || !v ||
	    v->len != e->rep_len)
		goto gone;
	id = v->id;
	csum = v->csum;
	a = tcr_slot_copy(&claim, v->rep, e->rep_len);
	if (!a)
		goto gone;
	/* ps_rtx's element evicted and reused while it was copied: the
	 * copy may mix two replies (helpers.h, ENTRY_SAME); the slot stays
	 * unpublished */
	MEM_BARRIER();
	if (v->id != id || v->len != e->rep_len)
		goto gone;
	tcr_slot_publish(a, e->rep_len, csum, claim, e->srv_seq, e->req_seq,
			 e->req_seq + e->req_len);
	__builtin_memset(&s->tcr, 0, sizeof(s->tcr));
	s->tcr.big = PS_TCR_SRC_ASM;
	s->tcr.filled_ns = claim;
	s->tcr.tot = e->rep_len;
	s->tcr.gen = cfg->cache_gen;
	s->tcr.req_seq = e->req_seq;
	s->tcr.req_end = e->req_seq + e->req_len;
	if (tcr_handoff(ctx, p, e->srv_seq, 0, &s->tcr) == PS_SENT_TC)
		return PS_SENT_TC;
gone:
	stat_inc(PS_ST_RTX_GONE);
	return PS_SENT_NONE;
}

/* retrans mode: the ring entry of a TC reply (its bytes are not in
 * ps_rtx: rtx_resend finds them through ps_tcr_refs). */
static __always_inline void tcr_ring_add(struct ps_flow *f, __u32 seq,
					 __u32 len, __u32 srv_seq, __u32 tot)
{
	struct ps_rtx_ent *e = &f->rtx[f->rtx_next & (PS_RTX_RING - 1)];

	e->req_seq = seq;
	e->req_len = len;
	e->srv_seq = srv_seq;
	e->rep_len = tot;
	f->rtx_next++;
	stat_inc(PS_ST_RTX_STORED);
}

/* The first SACK block of p starts after its ACK: the client holds bytes
 * past a hole (a D-SACK, RFC 2883, starts below the ACK: it reports a
 * duplicate, not a hole). */
static __always_inline int sack_hole(struct xdp_md *ctx, const struct ps_pkt *p)
{
	__u32 left;

	if (!p->sack_n ||
	    bpf_xdp_load_bytes(ctx, p->l4_off + p->sack_off, &left, sizeof(left)))
		return 0;
	return after(bpf_ntohl(left), p->ack);
}

/*
 * A pure ACK inside a TC reply (or at its start) that the client has not wholly acked, with
 * a SACK block past it (the client holds later bytes) or repeated (a duplicate):
 * a segment in the middle was lost, and no retransmitted request will
 * come (the last segment acked it). Send the reply again from the ACK.
 * guarded looks at its last answer, retrans at its ring. Returns
 * PS_SENT_TC when handed over, PS_SENT_NONE otherwise.
 */
static __always_inline int tcr_ack_hole(struct xdp_md *ctx,
					const struct ps_config *cfg,
					const struct ps_pkt *p,
					struct ps_flow *f)
{
	__u32 i, start, len;

	if (!(cfg->flags & PS_CFG_TC_REPLY) || !(f->flags & PS_F_ANSWERED))
		return PS_SENT_NONE;
	if (p->sack_n ? !sack_hole(ctx, p) : p->ack != f->srv_una)
		return PS_SENT_NONE;
	for (i = 0; i <= PS_RTX_RING; i++) {
		if (i < PS_RTX_RING) {
			if (cfg->mode != PS_MODE_RETRANS)
				continue;
			start = f->rtx[i].srv_seq;
			len = f->rtx[i].rep_len;
		} else {
			start = f->ans_srv_seq;
			len = f->ans_reply_len;
		}
		/* inside; at the start only for guarded's last answer (in the
		 * ring an ACK at the start is rtx_dupack's): its first segment
		 * lost and its last one, which acks the request, received,
		 * no request retransmission will come */
		if (!len || before(p->ack, start) ||
		    (p->ack == start && i < PS_RTX_RING) ||
		    !before(p->ack, start + len))
			continue;
		return tcr_resend(ctx, p, f, start, p->ack - start);
	}
	return PS_SENT_NONE;
}

/*
 * Several GETs whose replies (s->rep, tot bytes, assembled by
 * assemble_many) the frame cannot carry: copy them into a slot of
 * ps_tcr_asm and pick that. The answer is what the cache held at
 * this XDP run, as for an XDP_TX reply; a write after it changes nothing
 * already answered. Returns TCR_PICKED or TCR_NO_PICK.
 */
static __always_inline int tcr_pick_asm(struct ps_scratch *s,
					const struct ps_config *cfg,
					const struct ps_pkt *p, __u32 srv_seq,
					__u32 tot)
{
	struct ps_tcr_slot *a;
	__u64 claim;

	if (!(cfg->flags & PS_CFG_TC_REPLY) || s->ngets < 2 || tot > PS_REP_MASK)
		return TCR_NO_PICK;
	a = tcr_slot_copy(&claim, s->rep, tot);
	if (!a)
		return TCR_NO_PICK;
	tcr_slot_publish(a, tot, s->asm_csum, claim, srv_seq, p->seq,
			 p->seq + p->payload_len);
	__builtin_memset(&s->tcr, 0, sizeof(s->tcr));
	s->tcr.big = PS_TCR_SRC_ASM;
	s->tcr.filled_ns = claim;
	s->tcr.tot = tot;
	s->tcr.gen = cfg->cache_gen;
	s->tcr_on = 1;
	return TCR_PICKED;
}

/*
 * guarded/retrans: answer segment p through TC ingress: the reply picked
 * by guarded_veto (s->tcr_on), or the one in ps_cache whose frame could
 * not grow, at reply seq s->em.seq. Accounted as XDP's answers are.
 * Returns PS_SENT_TC when handed over, PS_SENT_NONE when nothing was
 * done. Global: keeps guarded_data's frame small (combined stack limit).
 */
/*
 * A small cache entry picked for TC ingress: its bytes copied now into
 * ps_tcr_asm, as several GETs' are (tcr_pick_asm). By reference, a write
 * or a fill of its key between this XDP run and TC ingress (or the
 * request's retransmission) left TC nothing to send: the request had been
 * consumed, so the client waited for ever. Returns TCR_PICKED or
 * TCR_NO_PICK.
 */
static __always_inline int tcr_snapshot(struct ps_scratch *s,
					const struct ps_config *cfg,
					const struct ps_pkt *p, __u32 srv_seq)
{
	struct ps_cache_val *v;
	struct ps_tcr_slot *a;
	__u32 n = s->tcr.tot, csum;
	__u64 claim;

	v = cache_lookup(&s->tcr.key, cfg->cache_gen, p->now_ns);
	if (!v || v->filled_ns != s->tcr.filled_ns || v->reply_len != n ||
	    n > PS_REPLY_MAX)
		return TCR_NO_PICK;
	csum = v->csum;
	a = tcr_slot_copy(&claim, v->reply, n);
	if (!a)
		return TCR_NO_PICK;
	/* reused under us (helpers.h): the slot stays unpublished */
	if (!ENTRY_SAME(v, s->tcr.filled_ns, s->tcr.tot, csum))
		return TCR_NO_PICK;
	tcr_slot_publish(a, s->tcr.tot, csum, claim, srv_seq, p->seq,
			 p->seq + p->payload_len);
	s->tcr.big = PS_TCR_SRC_ASM;
	s->tcr.filled_ns = claim;
	return TCR_PICKED;
}

/*
 * retrans mode: a ps_cache_big entry picked for TC ingress, copied whole
 * now into ps_tcr_big under the ref's key. By reference, a write, a fill
 * or a flush of the cache (an untrusted flow flushes it on each of its
 * segments) between the answer and a re-send left TC nothing to send:
 * the request had been consumed, so each retransmission of it and each
 * duplicate ACK at the reply was shot at TC ingress (tc_lost) and the
 * client waited for ever (the campaign's seed 6: a lost 1209- or
 * 3009-byte reply). Guarded keeps the reference (its documented limit:
 * it re-sends only what the cache still gives). Returns TCR_PICKED or
 * TCR_NO_PICK.
 */
static __always_inline int tcr_copy_big(struct ps_scratch *s,
					const struct ps_config *cfg,
					const struct ps_pkt *p, __u32 srv_seq)
{
	struct ps_cache_big_val *v;
	struct ps_rtx_key k = {};

	v = big_lookup(&s->tcr.key, cfg->cache_gen, p->now_ns);
	if (!v || v->filled_ns != s->tcr.filled_ns || v->reply_len != s->tcr.tot)
		return TCR_NO_PICK;
	flow_key(&k.flow, p, 1);
	k.srv_seq = srv_seq;
	if (!tcr_copy_same(&ps_tcr_big, &k, v,
			   offsetof(struct ps_cache_big_val, filled_ns), &s->tcr.filled_ns,
			   offsetof(struct ps_cache_big_val, reply_len), &s->tcr.tot))
		return TCR_NO_PICK;
	s->tcr.big = PS_TCR_SRC_BIGCOPY;
	return TCR_PICKED;
}

__noinline int tcr_take(struct xdp_md *ctx, struct ps_scratch *s,
			struct ps_config *cfg, struct ps_pkt *p,
			struct ps_flow *f)
{
	__u32 seq, len, srv_seq, tot;
	__u64 claim;

	if (!ctx || !s || !cfg || !p || !f)
		return PS_SENT_NONE;
	seq = p->seq;
	len = p->payload_len;
	srv_seq = s->em.seq;
	if (!s->tcr_on && s->ngets > 1) {
		if (tcr_pick_asm(s, cfg, p, srv_seq, s->em.tot) != TCR_PICKED)
			return PS_SENT_NONE;
	} else if (!s->tcr_on && (tcr_pick(s, cfg, 1, p->now_ns) != TCR_PICKED ||
				  s->tcr.tot != s->em.tot)) {
		return PS_SENT_NONE;
	}
	if (s->tcr.big == PS_TCR_SRC_CACHE &&
	    tcr_snapshot(s, cfg, p, srv_seq) != TCR_PICKED)
		return PS_SENT_NONE;
	/* retrans re-sends what it answered, whatever the cache holds then */
	if (s->tcr.big == PS_TCR_SRC_BIG && cfg->mode == PS_MODE_RETRANS &&
	    tcr_copy_big(s, cfg, p, srv_seq) != TCR_PICKED)
		return PS_SENT_NONE;
	tot = s->tcr.tot;
	/* bytes in a slot: guarded needs no ref (re-sends go by the flow's
	 * ans_claim); retrans keeps one, its ring's re-sends look them up */
	claim = s->tcr.big == PS_TCR_SRC_ASM && cfg->mode != PS_MODE_RETRANS ?
		s->tcr.filled_ns : 0;
	if (claim ? tcr_handoff_slot(ctx, srv_seq, 0, claim, 0) != PS_SENT_TC :
		    tcr_answer(ctx, s, p, seq, len, srv_seq) != PS_SENT_TC)
		return PS_SENT_NONE;
	account_answer(f, seq, len, srv_seq, tot, s->asm_csum, s->ngets);
	f->ans_claim = claim;
	if (cfg->mode == PS_MODE_RETRANS)
		tcr_ring_add(f, seq, len, srv_seq, tot);
	return PS_SENT_TC;
}

#endif
