/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seqadj.h - sequence-space translation between the client's view and the
 * kernel's. netfilter's seqadj keeps one change per direction; prestack
 * answers many times per window, so each direction keeps a short list of
 * correction points (struct ps_seqadj, prestack.h): client space is kernel
 * space with runs of bytes added (answered requests in the client's
 * stream, injected replies in the server's), a point sits just after
 * each run and says the offset from there on.
 *
 *   client seq  -> kernel seq  : cli_adj, seqadj_seq_in
 *   client ack  -> kernel ack  : srv_adj, seqadj_ack_in (SACK edges too)
 *   kernel seq  -> client seq  : srv_adj, seqadj_out
 *   kernel ack  -> client ack  : cli_adj, seqadj_out (SACK edges too)
 *
 * A position inside a run has no kernel counterpart. A client seq there
 * (a keep-alive or window probe at snd_una - 1, a stray byte of an
 * answered request) maps with the offset after the run: it lands just
 * below the run's kernel position, which the kernel has already acked,
 * so the kernel takes it as old and answers with an ACK. An ack or SACK
 * edge there acks, for the kernel, only what it sent before the run.
 * Kernel positions never fall inside a run (runs have no kernel width).
 *
 * Points are appended at the stream's frontier, in order, by XDP
 * (seqadj_add) and, for srv_adj, by TC egress for the runs it inserts
 * (insert.h: ins_record), and retired (seqadj_retire_*) by XDP once the
 * peer can no longer send a number before them; srv_adj's two writers are
 * ordered by the flow's adj_lock (runs.h). TC reads the lists while XDP may
 * write them:
 * a point is written before the count that makes it visible, and readers
 * take the total from the list itself, so a reader sees the old list or
 * the new one; one that overlaps a retirement may see a retired point
 * folded or not, which maps every number the peer can still send alike.
 *
 * naive mode uses the current totals for everything (one offset).
 */
#ifndef PS_SEQADJ_H
#define PS_SEQADJ_H

#include "helpers.h"

/* stop the compiler from moving a store across this point */
#define SEQADJ_ORDER() asm volatile("" ::: "memory")

/* The offset after every point: the list's own total. */
static __always_inline __u32 seqadj_total(const struct ps_seqadj *a, __u32 n)
{
	if (n == 0 || n > PS_SEQADJ_POINTS)
		return a->base;
	return a->pt[(n - 1) & (PS_SEQADJ_POINTS - 1)].off;
}

/* Client-space seq -> kernel seq (the client's own stream). */
__noinline __u32 seqadj_seq_in_pts(const struct ps_seqadj *a, __u32 x)
{
	__u32 i, n, prev;

	if (!a)
		return x;
	n = a->n;
	prev = a->base;

	if (n == 0)
		return x - prev;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &a->pt[i];

		if (i >= n)
			break;
		if (before(x, c->pos))
			/* inside the run (after its first byte): aliased just
			 * below its kernel position, old for the kernel */
			return after(x, c->pos - (c->off - prev)) ? x - c->off :
								   x - prev;
		prev = c->off;
	}
	return x - prev;
}

/* Client-space seq -> kernel seq (the client's own stream). Global
 * functions behind the no-point case: each list walk is verified once,
 * not at every call site. */
static __always_inline __u32 seqadj_seq_in(const struct ps_seqadj *a, __u32 x)
{
	return a->n == 0 ? x - a->base : seqadj_seq_in_pts(a, x);
}

/* Client-space ack or SACK edge -> kernel (the other side's stream). */
__noinline __u32 seqadj_ack_in_pts(const struct ps_seqadj *a, __u32 x)
{
	__u32 i, n, prev, k, kc;

	if (!a)
		return x;
	n = a->n;
	prev = a->base;

	if (n == 0)
		return x - prev;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &a->pt[i];

		if (i >= n)
			break;
		if (before(x, c->pos)) {
			/* inside the run: only what the kernel sent before it */
			k = x - prev;
			kc = c->pos - c->off;
			return after(k, kc) ? kc : k;
		}
		prev = c->off;
	}
	return x - prev;
}

static __always_inline __u32 seqadj_ack_in(const struct ps_seqadj *a, __u32 x)
{
	return a->n == 0 ? x - a->base : seqadj_ack_in_pts(a, x);
}

/*
 * The client's ack field -> kernel. As seqadj_ack_in, except at a run
 * inserted at TC egress (PS_RUN_INS): an ack from the run's first byte up
 * to its last acks one byte less than the kernel sent before the run.
 * Such a run rides in segments of its own, or in one with the kernel's
 * bytes before it split off by the MSS; if it is lost while those arrive,
 * the kernel must still have something unacked before it, or nobody
 * would ever send the run again: it retransmits that last byte (RTO,
 * tail loss probe, or SACK recovery) and TC egress inserts the run after
 * it once more (docs/pipelines.md). SACK edges map as seqadj_ack_in.
 */
__noinline __u32 seqadj_ack_in_hold_pts(const struct ps_seqadj *a, __u32 x)
{
	__u32 i, n, prev, k, kc;

	if (!a)
		return x;
	n = a->n;
	prev = a->base;

	if (n == 0)
		return x - prev;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &a->pt[i];

		if (i >= n)
			break;
		if (before(x, c->pos)) {
			k = x - prev;
			kc = c->pos - c->off;
			/* from the run's first byte on: one byte less */
			if (c->kind == PS_RUN_INS && !before(k, kc))
				return kc - 1;
			return after(k, kc) ? kc : k;
		}
		prev = c->off;
	}
	return x - prev;
}

static __always_inline __u32 seqadj_ack_in_hold(const struct ps_seqadj *a,
						__u32 x)
{
	return a->n == 0 ? x - a->base : seqadj_ack_in_hold_pts(a, x);
}

/* Kernel seq, ack or SACK edge -> client space. The byte at a point's
 * kernel position is the first after the run (an ack there covers it). */
__noinline __u32 seqadj_out_pts(const struct ps_seqadj *a, __u32 k)
{
	__u32 i, n, prev;

	if (!a)
		return k;
	n = a->n;
	prev = a->base;

	if (n == 0)
		return k + prev;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &a->pt[i];

		if (i >= n)
			break;
		if (before(k, c->pos - c->off))
			return k + prev;
		prev = c->off;
	}
	return k + prev;
}

static __always_inline __u32 seqadj_out(const struct ps_seqadj *a, __u32 k)
{
	return a->n == 0 ? k + a->base : seqadj_out_pts(a, k);
}

/* Would a run starting at client-space `start` need a new point in a
 * full list? (It needs none when it touches the newest run.) */
static __always_inline int seqadj_full(const struct ps_seqadj *a, __u32 start)
{
	return a->n >= PS_SEQADJ_POINTS &&
	       (a->pt[PS_SEQADJ_POINTS - 1].pos != start ||
		a->pt[PS_SEQADJ_POINTS - 1].kind != PS_RUN_XDP);
}

/* Fold the oldest point into base. */
__noinline int seqadj_pop(struct ps_seqadj *a)
{
	__u32 i;

	if (!a)
		return 0;
	a->base = a->pt[0].off;
	SEQADJ_ORDER();
	/* word by word: a struct copy per point unrolls into stack copies */
	for (i = 0; i + 1 < PS_SEQADJ_POINTS; i++) {
		__u32 *d = (__u32 *)&a->pt[i];
		const __u32 *s = (const __u32 *)&a->pt[i + 1];

		d[0] = s[0];
		d[1] = s[1];
		d[2] = s[2];
		d[3] = s[3];
	}
	SEQADJ_ORDER();
	a->n--;
	return 0;
}

/*
 * Record a run of len bytes at client-space `start` (the frontier) of the
 * given kind (b, subs: PS_RUN_INS's reference to its bytes); the caller
 * has added len to the direction's total, `total`. A run touching the
 * newest of the same kind (and, inserted, of the same boundary) lengthens
 * it. A full list (guarded never lets it fill: seqadj_full) folds its
 * oldest point.
 */
static __always_inline void seqadj_add_run(struct ps_seqadj *a, __u32 start,
					   __u32 len, __u32 total, __u32 kind,
					   __u32 b, __u32 subs)
{
	__u32 n = a->n;

	if (n > PS_SEQADJ_POINTS)
		n = PS_SEQADJ_POINTS;
	if (n) {
		struct ps_corr *c = &a->pt[(n - 1) & (PS_SEQADJ_POINTS - 1)];

		if (c->pos == start && c->kind == kind &&
		    (kind != PS_RUN_INS || c->b == b)) {
			/* one longer run. The offset first, so that a reader
			 * that already sees the new end also sees the new
			 * offset */
			c->subs |= subs;
			c->off = total;
			SEQADJ_ORDER();
			c->pos = start + len;
			return;
		}
	}
	if (n == PS_SEQADJ_POINTS) {
		seqadj_pop(a);
		n--;
	}
	a->pt[n & (PS_SEQADJ_POINTS - 1)].pos = start + len;
	a->pt[n & (PS_SEQADJ_POINTS - 1)].off = total;
	a->pt[n & (PS_SEQADJ_POINTS - 1)].b = b;
	a->pt[n & (PS_SEQADJ_POINTS - 1)].kind = kind;
	a->pt[n & (PS_SEQADJ_POINTS - 1)].subs = subs;
	SEQADJ_ORDER();
	a->n = n + 1;
}

static __always_inline void seqadj_add(struct ps_seqadj *a, __u32 start,
				       __u32 len, __u32 total)
{
	seqadj_add_run(a, start, len, total, PS_RUN_XDP, 0, 0);
}

/*
 * May the oldest injected point retire? The client acked the whole run
 * (its acks and SACK edges are at or after the point from now on) and the
 * kernel's snd_una is at the point's kernel position or beyond (it never
 * again sends a byte before it; its probe at snd_una - 1 lands inside the
 * run, below the client's rcv_nxt, as old for the client as it is for the
 * kernel). D-SACK edges below the client's ack map with the later offset.
 * The caller pops it (runs.h: an inserted run's bytes go with it).
 */
static __always_inline int seqadj_srv_retirable(const struct ps_seqadj *a,
						__u32 srv_una, __u32 ksnd_una)
{
	return a->n != 0 && !before(srv_una, a->pt[0].pos) &&
	       !before(ksnd_una, a->pt[0].pos - a->pt[0].off);
}

/*
 * Retire the consumed points the client can no longer send a seq before:
 * those at or below a lower bound of its snd_una (cli_una_lb). The bound
 * moves when the client acks a server segment whose ack field it then
 * has: the reply to the newest request answered at XDP (it acked that
 * request), or one of the last PS_MARKS segments TC egress sent (their
 * ends and acks, one 64-bit word each). The client's probe at
 * snd_una - 1, inside a retired run, maps as it did. The kernel's acks
 * never go back before its rcv_nxt, which is at or after every point's
 * kernel position.
 */
__noinline int seqadj_retire_cli(struct ps_flow *f)
{
	struct ps_seqadj *a;
	__u32 lb, i, e, k;
	__u64 m;

	if (!f)
		return 0;
	a = &f->cli_adj;
	lb = f->cli_una_lb;
	if (a->n == 0)
		return 0;
	if ((f->flags & PS_F_ANSWERED) &&
	    !before(f->srv_una, f->ans_srv_seq + f->ans_reply_len) &&
	    after(f->ans_seq + f->ans_len, lb))
		lb = f->ans_seq + f->ans_len;
	for (i = 0; i < PS_MARKS; i++) {
		m = f->marks[i];
		e = m >> 32;
		k = (__u32)m;
		if (m && !before(f->srv_una, e) && after(k, lb))
			lb = k;
	}
	f->cli_una_lb = lb;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (a->n == 0 || after(a->pt[0].pos, lb))
			break;
		seqadj_pop(a);
	}
	return 0;
}

/* The flow's four mappings. */
static __always_inline __u32 cli_seq_to_k(const struct ps_flow *f, __u32 seq,
					  int naive)
{
	return naive ? seq - f->consumed : seqadj_seq_in(&f->cli_adj, seq);
}

static __always_inline __u32 cli_ack_to_k(const struct ps_flow *f, __u32 ack,
					  int naive)
{
	return naive ? ack - f->injected : seqadj_ack_in(&f->srv_adj, ack);
}

/* the ack field itself: with the hold at inserted runs */
static __always_inline __u32 cli_ack_field_to_k(const struct ps_flow *f,
						__u32 ack, int naive)
{
	return naive ? ack - f->injected : seqadj_ack_in_hold(&f->srv_adj, ack);
}

static __always_inline __u32 k_seq_to_cli(const struct ps_flow *f, __u32 k,
					  int naive)
{
	return naive ? k + f->injected : seqadj_out(&f->srv_adj, k);
}

static __always_inline __u32 k_ack_to_cli(const struct ps_flow *f, __u32 k,
					  int naive)
{
	return naive ? k + f->consumed : seqadj_out(&f->cli_adj, k);
}

/*
 * Where [seq, end) of the client's stream meets a consumed run still in
 * the list: SEQADJ_CLEAR (nowhere), SEQADJ_INSIDE (within one run after
 * its first byte: a probe or a stray old byte, old for the kernel once
 * mapped), SEQADJ_OVERLAP (covers a run's first byte or crosses its end).
 */
enum seqadj_meet { SEQADJ_CLEAR, SEQADJ_INSIDE, SEQADJ_OVERLAP };

/* Where [seq, end) meets the run [start, pos). */
static __always_inline int seqadj_meet_run(__u32 start, __u32 pos, __u32 seq,
					   __u32 end)
{
	if (!before(seq, pos) || !after(end, start))
		return SEQADJ_CLEAR;
	return after(seq, start) && !after(end, pos) ? SEQADJ_INSIDE :
						       SEQADJ_OVERLAP;
}

__noinline int seqadj_meet(const struct ps_seqadj *a, __u32 seq, __u32 end)
{
	__u32 i, n, prev, start;
	int m;

	if (!a)
		return SEQADJ_CLEAR;
	n = a->n;
	prev = a->base;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &a->pt[i];

		if (i >= n)
			break;
		start = c->pos - (c->off - prev);
		prev = c->off;
		m = seqadj_meet_run(start, c->pos, seq, end);
		if (m != SEQADJ_CLEAR)
			return m;
	}
	return SEQADJ_CLEAR;
}

/* Next server byte as the client sees it. */
static __always_inline __u32 srv_nxt(const struct ps_flow *f)
{
	return f->ksnd_nxt + f->injected;
}

#endif
