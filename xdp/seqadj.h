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
 * Points are appended at the stream's frontier, in order, by XDP only
 * (seqadj_add), and retired (seqadj_retire_*) once the peer can no longer
 * send a number before them. TC reads the lists while XDP may write them:
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
static __always_inline __u32 seqadj_seq_in(const struct ps_seqadj *a, __u32 x)
{
	__u32 i, n = a->n, prev = a->base;

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

/* Client-space ack or SACK edge -> kernel (the other side's stream). */
static __always_inline __u32 seqadj_ack_in(const struct ps_seqadj *a, __u32 x)
{
	__u32 i, n = a->n, prev = a->base, k, kc;

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

/* Kernel seq, ack or SACK edge -> client space. The byte at a point's
 * kernel position is the first after the run (an ack there covers it). */
static __always_inline __u32 seqadj_out(const struct ps_seqadj *a, __u32 k)
{
	__u32 i, n = a->n, prev = a->base;

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

/* Would a run starting at client-space `start` need a new point in a
 * full list? (It needs none when it touches the newest run.) */
static __always_inline int seqadj_full(const struct ps_seqadj *a, __u32 start)
{
	return a->n >= PS_SEQADJ_POINTS &&
	       a->pt[PS_SEQADJ_POINTS - 1].pos != start;
}

/*
 * Record a run of len bytes at client-space `start` (the frontier); the
 * caller has added len to the direction's total, `total`. A full list
 * (guarded never lets it fill: seqadj_full) folds its oldest point.
 */
static __always_inline void seqadj_add(struct ps_seqadj *a, __u32 start,
				       __u32 len, __u32 total)
{
	__u32 n = a->n, i;

	if (n > PS_SEQADJ_POINTS)
		n = PS_SEQADJ_POINTS;
	if (n && a->pt[(n - 1) & (PS_SEQADJ_POINTS - 1)].pos == start) {
		/* touches the newest run: one longer run. The offset first,
		 * so that a reader that already sees the new end also sees
		 * the new offset */
		a->pt[(n - 1) & (PS_SEQADJ_POINTS - 1)].off = total;
		SEQADJ_ORDER();
		a->pt[(n - 1) & (PS_SEQADJ_POINTS - 1)].pos = start + len;
		return;
	}
	if (n == PS_SEQADJ_POINTS) {
		a->base = a->pt[0].off;
		for (i = 0; i + 1 < PS_SEQADJ_POINTS; i++)
			a->pt[i] = a->pt[i + 1];
		n--;
	}
	a->pt[n & (PS_SEQADJ_POINTS - 1)].pos = start + len;
	a->pt[n & (PS_SEQADJ_POINTS - 1)].off = total;
	SEQADJ_ORDER();
	a->n = n + 1;
}

/* Fold the oldest point into base. */
static __always_inline void seqadj_pop(struct ps_seqadj *a)
{
	__u32 i;

	a->base = a->pt[0].off;
	SEQADJ_ORDER();
	for (i = 0; i + 1 < PS_SEQADJ_POINTS; i++)
		a->pt[i] = a->pt[i + 1];
	SEQADJ_ORDER();
	a->n--;
}

/*
 * Retire injected points the client and the kernel are both past: the
 * client acked the whole run (its acks and SACK edges are at or after
 * the point from now on) and the kernel's snd_una is at the point's
 * kernel position or beyond (it never again sends a byte before it; its
 * probe at snd_una - 1 lands inside the run, below the client's rcv_nxt,
 * as old for the client as it is for the kernel). D-SACK edges below the
 * client's ack map with the later offset.
 */
static __always_inline void seqadj_retire_srv(struct ps_seqadj *a,
					      __u32 srv_una, __u32 ksnd_una)
{
	__u32 i;

	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (a->n == 0 || before(srv_una, a->pt[0].pos) ||
		    before(ksnd_una, a->pt[0].pos - a->pt[0].off))
			break;
		seqadj_pop(a);
	}
}

/*
 * Retire every consumed point once the client acked the reply to the
 * newest answered request: that reply acked the request, so the client's
 * snd_una is past every consumed run and it sends no seq before them
 * again (its probe at snd_una - 1 inside the run maps as it did). The
 * kernel's acks never go back before its rcv_nxt, which is at or after
 * every point's kernel position.
 */
static __always_inline void seqadj_retire_cli(struct ps_flow *f)
{
	struct ps_seqadj *a = &f->cli_adj;

	if (a->n == 0 || !(f->flags & PS_F_ANSWERED) ||
	    before(f->srv_una, f->ans_srv_seq + f->ans_reply_len))
		return;
	a->base = seqadj_total(a, a->n);
	SEQADJ_ORDER();
	a->n = 0;
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

static __always_inline int seqadj_meet(const struct ps_seqadj *a, __u32 seq,
				       __u32 end)
{
	__u32 i, n = a->n, prev = a->base, start;
	int m;

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
