/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ingress_common.h - what every ingress path (naive, guarded, retrans)
 * does with a client segment: track a new flow from its SYN, rewrite its
 * seq/ack/SACK into the kernel's space (the request parse, rq_parse, is
 * resp.h's), and record an answered run in the mirrors.
 */
#ifndef PS_INGRESS_COMMON_H
#define PS_INGRESS_COMMON_H

#include "helpers.h"
#include "parsing.h"
#include "flow.h"
#include "seqadj.h"
#include "runs.h"
#include "scratch.h"
#include "resp.h"

/*
 * Rewrite seq, ack and SACK edges of a client segment in place.
 * Global functions (no `static`) are verified once, on their own; the
 * verifier would otherwise walk them again for every caller state. They
 * see map values as plain memory, so atomics stay in the static callers.
 */
__noinline int xdp_translate(struct xdp_md *ctx, struct ps_pkt *p,
			     struct ps_flow *f, __u32 kseq, __u32 naive)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off, o, n, i;
	struct tcphdr *tcp;
	int changed = 0;

	if (!p || !f)
		return 0;
	off = p->l4_off;

	/* the bound the verifier needs for data + off */
	if (off > L4_OFF_MAX)
		return 0;
	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return 0;
	n = bpf_htonl(kseq);
	if (tcp->seq != n) {
		csum_replace4(&tcp->check, tcp->seq, n);
		tcp->seq = n;
		changed = 1;
	}
	if (p->flags & TCPF_ACK) {
		n = cli_ack_field_to_k(f, p->ack, naive);
		/* what the kernel has been told (answered segments' acks
		 * never reach it) */
		if (after(n, f->ksnd_una)) {
			f->ksnd_una = n;
			/* the kernel has been told: points it is past retire */
			if (f->srv_adj.n) {
				struct ps_flow_key fk;

				flow_key(&fk, p, 1);
				srv_points_retire(f, &fk, f->srv_una, n);
			}
		}
		n = bpf_htonl(n);
		if (tcp->ack_seq != n) {
			csum_replace4(&tcp->check, tcp->ack_seq, n);
			tcp->ack_seq = n;
			changed = 1;
		}
	}
	/* SACK blocks name server bytes in client space, like the ack */
	for (i = 0; i < TCP_SACK_BLOCKS_MAX; i++) {
		__u32 *edge;

		if (i >= p->sack_n)
			break;
		o = off + p->sack_off + i * TCPOLEN_SACK_BLOCK;
		if (o > HDRS_MAX)
			break;
		edge = data + o;
		if ((void *)(edge + 2) > data_end)
			break;
		n = bpf_htonl(cli_ack_to_k(f, bpf_ntohl(edge[0]), naive));
		if (edge[0] != n) {
			csum_replace4(&tcp->check, edge[0], n);
			edge[0] = n;
			changed = 1;
		}
		n = bpf_htonl(cli_ack_to_k(f, bpf_ntohl(edge[1]), naive));
		if (edge[1] != n) {
			csum_replace4(&tcp->check, edge[1], n);
			edge[1] = n;
			changed = 1;
		}
	}
	if (changed)
		stat_inc(PS_ST_TRANSLATED);
	return changed;
}

/*
 * May a SYN open a new connection on a finished flow's tuple? When the
 * client closed first the server's socket is gone: any SYN does. When the
 * server did, its socket is in TIME_WAIT and Linux takes a SYN as a new
 * connection only beyond the old stream or with a newer TSval
 * (tcp_timewait_state_process); any other gets an ACK from TIME_WAIT.
 * After PS_TIME_WAIT_NS there is no TIME_WAIT any more.
 */
static __always_inline int syn_reuses(const struct ps_flow *old,
				      const struct ps_pkt *p)
{
	if (!(old->flags & PS_F_SRV_TW) ||
	    bpf_ktime_get_ns() - old->last_ns > PS_TIME_WAIT_NS)
		return 1;
	return after(p->seq, old->cli_nxt) ||
	       (p->has_ts && (old->flags & PS_F_TS) &&
		(__s32)(old->ts_recent - p->tsval) < 0);
}

/*
 * A SYN of another ISN on a flow still in SYN state: the new flow n is
 * written into the old one's element, never into a new element. A
 * replacing update would free the old element, the next flow opened on
 * this CPU would get it, and TC egress, which may be learning the old
 * SYN-ACK in it right now (tc_synack), would write the old connection's
 * server side into that other flow. Written in place, those writes can
 * only land in this tuple's new flow, and tc_synack sees that they may
 * have: the ISN goes first, then the rest; TC reads the ISN again after
 * its writes, with a full barrier, and untrusts the flow if it changed.
 * If it read the old ISN, every one of its writes came before this copy,
 * which overwrites them all. If it read the new one, the untrust stays:
 * the flags are rewritten keeping PS_F_UNTRUSTED (this copy keeps the
 * untrusted reason too, and a flow untrusted before stays so; rare, and
 * the safe way). The ISN's word and the state are whole words; the
 * copy goes word by word (clang will not inline a memcpy this large).
 */
static __always_inline void flow_replace_syn(struct ps_flow *old,
					     const struct ps_flow *n)
{
	const __u32 *src = (const __u32 *)n;
	__u32 *dst = (__u32 *)old, i, keep, fl = __builtin_offsetof(struct ps_flow, flags) / 4,
	      ur = __builtin_offsetof(struct ps_flow, untrusted_reason) / 4;

	_Static_assert(sizeof(*n) % 4 == 0, "ps_flow: whole words");
	_Static_assert(__builtin_offsetof(struct ps_flow, flags) % 4 == 0 &&
		       __builtin_offsetof(struct ps_flow, untrusted_reason) % 4 == 0 &&
		       sizeof(n->untrusted_reason) == 4, "ps_flow: flags words");
	__sync_lock_test_and_set(&old->cli_isn, n->cli_isn);
	for (i = 0; i < sizeof(*n) / 4; i++) {
		if (i == fl || i == ur)
			continue;
		dst[i] = src[i];
		asm volatile("" ::: "memory");
	}
	keep = __sync_fetch_and_and(&old->flags, PS_F_UNTRUSTED) & PS_F_UNTRUSTED;
	__sync_fetch_and_or(&old->flags, n->flags);
	if (!keep)
		old->untrusted_reason = n->untrusted_reason;
}

/*
 * A SYN (without ACK) from the client. A new tuple opens a flow. On a
 * tracked one, as Linux does: a retransmitted SYN keeps the flow it
 * opened; a SYN on an established or closing flow changes nothing (Linux
 * answers it with a challenge ACK, RFC 5961 4.2), so it is passed
 * translated; only a flow that is not yet established or already done
 * (TIME_WAIT reuse) is replaced, unless the SYN is a late copy of the
 * finished flow's own. Draining: nothing new is tracked.
 */
static __always_inline int xdp_handle_syn(struct xdp_md *ctx,
					  struct ps_scratch *s,
					  struct ps_pkt *p,
					  const struct ps_flow_key *key,
					  int naive, int drain)
{
	struct ps_flow *old = bpf_map_lookup_elem(&ps_flows, key);
	struct ps_flow *f = &s->newflow;

	if (old) {
		if (old->state == PS_FLOW_SYN && old->cli_isn == p->seq)
			return XDP_PASS;
		if (old->state == PS_FLOW_EST || old->state == PS_FLOW_CLOSING ||
		    (old->state == PS_FLOW_DONE && !syn_reuses(old, p))) {
			stat_inc(PS_ST_SYN_KEPT);
			xdp_translate(ctx, p, old, cli_seq_to_k(old, p->seq, naive),
				      naive);
			return XDP_PASS;
		}
	}
	if (drain) {
		if (old)
			bpf_map_delete_elem(&ps_flows, key);
		return XDP_PASS;
	}
	/* word by word: clang will not inline a memset this large */
	{
		__u64 *w = (__u64 *)f;
		__u32 i;

		_Static_assert(sizeof(*f) % 8 == 0, "ps_flow: whole words");
		/* (the empty asm keeps clang from turning the loop back
		 * into a memset call) */
		for (i = 0; i < sizeof(*f) / 8; i++) {
			w[i] = 0;
			asm volatile("" ::: "memory");
		}
	}
	f->state = PS_FLOW_SYN;
	f->cli_isn = p->seq;
	f->cli_nxt = p->seq + 1;
	f->cli_una_lb = p->seq + 1;
	f->mss_cli = p->has_mss ? p->mss : MSS_DEFAULT;
	f->wscale_cli = p->has_ws ? p->ws : 0;
	if (p->has_ts) {
		f->flags |= PS_F_CLI_TS;
		f->ts_recent = p->tsval;
	}
	if (p->has_sackperm)
		f->flags |= PS_F_CLI_SACK;
	if (p->has_ws)
		f->flags |= PS_F_CLI_WS;
	f->cli_wnd_raw = p->window;
	if (!naive)
		f->flags |= PS_F_STREAM;
	f->last_ns = bpf_ktime_get_ns();
	if (old && old->state == PS_FLOW_SYN) {
		flow_replace_syn(old, f);
		stat_inc(PS_ST_FLOWS_NEW);
		return XDP_PASS;
	}
	if (bpf_map_update_elem(&ps_flows, key, f, BPF_ANY) == 0)
		stat_inc(PS_ST_FLOWS_NEW);
	else
		stat_inc(PS_ST_FLOWS_FULL);
	return XDP_PASS;
}

/* Record an answered run in the mirrors (both modes): the request's
 * bytes [seq, seq + len) consumed, the reply's [srv_seq, srv_seq + tot)
 * injected, a correction point after each (seqadj.h). */
static __always_inline void account_answer(struct ps_flow *f, __u32 seq,
					   __u32 len, __u32 srv_seq, __u32 tot,
					   __u32 csum, __u32 ngets)
{
	f->consumed += len;
	seqadj_add(&f->cli_adj, seq, len, f->consumed);
	f->injected += tot;
	seqadj_add(&f->srv_adj, srv_seq, tot, f->injected);
	f->cli_nxt = seq + len;
	f->ans_seq = seq;
	f->ans_len = len;
	f->ans_srv_seq = srv_seq;
	f->ans_reply_len = tot;
	f->ans_csum = csum;
	f->ans_claim = 0;
	flow_set(f, PS_F_ANSWERED);
	f->hits += ngets;
	f->replies++;
	f->reply_bytes += tot;
	stat_add(PS_ST_GET_HITS, ngets);
	stat_inc(PS_ST_REPLIES);
	stat_add(PS_ST_REPLY_BYTES, tot);
}

/* The segment is one or more complete plain GETs and nothing else. */
static __always_inline int all_gets(const struct ps_scratch *s, int idle_start)
{
	return idle_start && s->rq.state == PS_RQ_IDLE && s->ngets > 0 &&
	       s->ngets == s->ncmds &&
	       !(s->rq_out & (RQO_ERROR | RQO_OTHER | RQO_TOO_MANY | RQO_BIG));
}

/* The request parser can no longer follow this flow: its writes are
 * unseen from now on, so it is handed to the kernel for good and the
 * cache flushed (once; guarded_data flushes on each later segment). */
static __always_inline void writes_unseen(struct ps_flow *f,
					  struct ps_scratch *s, __u32 reason)
{
	untrust(f, reason);
	if (f->flags & PS_F_REQ_DESYNC)
		return;
	flow_set(f, PS_F_REQ_DESYNC);
	ps_flush(s);
	stat_inc(PS_ST_FLUSHES);
}

/* Apply what the parser saw to the flow's command-level state. */
static __always_inline void apply_rq_flags(struct ps_flow *f,
					   const struct ps_scratch *s)
{
	if (s->rq_out & RQO_SELECT)
		flow_set(f, PS_F_OTHER_DB);
	if (s->rq_out & RQO_QUIT)
		flow_set(f, PS_F_QUIT);
	if (s->multi_last == 1)
		flow_set(f, PS_F_IN_MULTI);
	else if (s->multi_last == 2)
		flow_clear(f, PS_F_IN_MULTI);
}

#endif
