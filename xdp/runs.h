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
 * Retire the injected points both peers are past (seqadj_srv_retirable);
 * an inserted run's bytes go with its point. XDP only. Global: verified
 * once, its frame off its callers'.
 */
__noinline int srv_points_retire(struct ps_flow *f, const struct ps_flow_key *fk,
				 __u32 srv_una, __u32 ksnd_una)
{
	struct ps_seqadj *a;
	__u32 i;

	if (!f || !fk)
		return 0;
	a = &f->srv_adj;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		if (!seqadj_srv_retirable(a, srv_una, ksnd_una))
			break;
		runs_drop_point(fk, f, &a->pt[0]);
		seqadj_pop(a);
	}
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
