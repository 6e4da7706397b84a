/* SPDX-License-Identifier: GPL-2.0 */
/*
 * runs.h - the replies of GETs cut from pipelined segments (docs/pipelines.md).
 * XDP stores each run (the replies of the hits that share a boundary) in
 * ps_runs and queues it in the flow's ring; TC egress takes it when it
 * emits the byte after kernel reply b and records it as a PS_RUN_INS
 * correction point, whose bytes stay in ps_runs until the point retires,
 * so that a kernel retransmission crossing it gets them again.
 *
 * Who decides: a run is taken by TC (QUEUED -> TAKEN) or withdrawn by XDP
 * (QUEUED -> WITHDRAWN), each a compare-and-swap on the entry's state, so
 * exactly one of them does. TC never withdraws; XDP withdraws only a run
 * whose boundary TC may already have passed (runs_handshake).
 */
#ifndef PS_RUNS_H
#define PS_RUNS_H

#include "helpers.h"
#include "flow.h"
#include "seqadj.h"

/*
 * A run's identity, in the word its state is swapped in (ps_run_val.st:
 * state, then tag): ps_runs hands a deleted element to the next insert on
 * the deleting CPU at once (maps.h), so TC's take and XDP's withdrawal,
 * each a compare-and-swap from QUEUED on an element looked up before,
 * would take or withdraw another run queued meanwhile in a run withdrawn
 * or forgotten since (its bytes sent in this run's place, that run's
 * never). The tag is a mix of every word of the key: with it in the word
 * compared, the swap succeeds only on the run the holder looked up (two
 * live runs' tags are equal once in 2^32).
 */
static __always_inline __u32 run_tag(const struct ps_run_key *k)
{
	__u32 w[6] = { k->flow.cli_addr, k->flow.srv_addr,
		       k->flow.cli_port | (__u32)k->flow.srv_port << 16,
		       k->isn, k->b, k->sub };
	__u32 h = 0x9e3779b9u, i;

	for (i = 0; i < 6; i++) {
		h = (h ^ w[i]) * 0x85ebca6bu;
		h ^= h >> 13;
	}
	return h ^ (h >> 16);
}

/* ps_run_val.st for a run of key k in state */
static __always_inline __u64 run_st(__u32 state, const struct ps_run_key *k)
{
	union {
		struct { __u32 state, tag; } w;
		__u64 st;
	} u = { .w = { state, run_tag(k) } };

	return u.st;
}

static __always_inline void run_key(struct ps_run_key *k,
				    const struct ps_flow_key *fk,
				    const struct ps_flow *f, __u32 b, __u32 sub)
{
	k->flow = *fk;
	k->isn = f->cli_isn;
	k->b = b;
	k->sub = sub;
}

/* Delete the runs an inserted point holds (b, every sub in subs).
 * Global: its loop is verified once. */
__noinline int runs_drop_point(const struct ps_flow_key *fk,
			       const struct ps_flow *f, const struct ps_corr *c)
{
	struct ps_run_key k;
	__u32 i;

	if (!fk || !f || !c || c->kind != PS_RUN_INS)
		return 0;
	for (i = 0; i < PS_RUN_SUBS; i++) {
		if (!(c->subs & (1u << i)))
			continue;
		run_key(&k, fk, f, c->b, i);
		bpf_map_delete_elem(&ps_runs, &k);
	}
	return 0;
}

/*
 * srv_adj has two writers on two CPUs: XDP retires its oldest points
 * (a shift of the list and n - 1), TC egress appends the runs it inserts
 * (ins_record: a point and n + 1) after walking the list (ins_plan). Done
 * at once they lose a point (each writes n from the n it read) and the
 * client's acks then map past what the kernel sent. f->adj_lock orders
 * them: XDP takes it only if free and otherwise retires later (a point
 * stays until a later ack: harmless); TC waits the short while XDP holds
 * it (XDP never waits on TC, and cannot run inside TC on one CPU).
 */
#define PS_ADJ_XDP 1u
#define PS_ADJ_TC  2u
#define PS_ADJ_SPIN 65536

static long adj_try_tc(__u32 i, void *data)
{
	struct ps_flow *f = *(struct ps_flow **)data;

	return __sync_val_compare_and_swap(&f->adj_lock, 0, PS_ADJ_TC) == 0;
}

/* TC: take srv_adj's lock. Returns 0, or -1: XDP held it for all of
 * PS_ADJ_SPIN tries (it holds it for one retirement; never seen). */
static __always_inline int adj_lock_tc(struct ps_flow *f)
{
	if (__sync_val_compare_and_swap(&f->adj_lock, 0, PS_ADJ_TC) == 0)
		return 0;
	return bpf_loop(PS_ADJ_SPIN, adj_try_tc, &f, 0) < PS_ADJ_SPIN ? 0 : -1;
}

static __always_inline void adj_unlock(struct ps_flow *f)
{
	__sync_lock_test_and_set(&f->adj_lock, 0);
}

/*
 * Retire the injected points both peers are past (seqadj_srv_retirable);
 * an inserted run's bytes go with its point. XDP only, and only while TC
 * is not inserting (adj_lock). Global: verified once, its frame off its
 * callers'.
 */
__noinline int srv_points_retire(struct ps_flow *f, const struct ps_flow_key *fk,
				 __u32 srv_una, __u32 ksnd_una)
{
	struct ps_seqadj *a;
	__u32 i;

	if (!f || !fk)
		return 0;
	a = &f->srv_adj;
	if (!seqadj_srv_retirable(a, srv_una, ksnd_una))
		return 0;
	if (__sync_val_compare_and_swap(&f->adj_lock, 0, PS_ADJ_XDP) != 0) {
		stat_inc(PS_ST_ADJ_BUSY);
		return 0;
	}
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (!seqadj_srv_retirable(a, srv_una, ksnd_una))
			break;
		runs_drop_point(fk, f, &a->pt[0]);
		seqadj_pop(a);
	}
	adj_unlock(f);
	return 0;
}

/* A flow going away (reset, done, replaced): every run it still holds,
 * inserted or queued. Global. */
__noinline int runs_forget(struct ps_flow *f, const struct ps_flow_key *fk)
{
	struct ps_run_key k;
	__u32 i, t;

	if (!f || !fk)
		return 0;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (i >= f->srv_adj.n)
			break;
		runs_drop_point(fk, f, &f->srv_adj.pt[i]);
	}
	for (i = 0; i < PS_RUNQ_RING; i++) {
		t = f->runq_tail + i;
		if (t == f->runq_head)
			break;
		run_key(&k, fk, f, f->runq[t & (PS_RUNQ_RING - 1)].b,
			f->runq[t & (PS_RUNQ_RING - 1)].sub);
		bpf_map_delete_elem(&ps_runs, &k);
	}
	return 0;
}

#endif
