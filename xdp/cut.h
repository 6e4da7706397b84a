/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cut.h - per-command answering at XDP (docs/pipelines.md). A segment that
 * cannot be answered whole (it holds commands for Redis too, or Redis
 * still owes the flow replies) has its GET hits cut out: their replies,
 * read from the cache now, are stored as runs (runs.h) for TC egress to
 * insert into the kernel's reply stream right after the reply of the last
 * command before them that Redis answers; Redis gets the segment without
 * them. Three steps, each with what it may change:
 *
 *   cut_plan    decide GET by GET (nothing of the flow changes but the
 *               runs it stores, which cut_abort withdraws);
 *   cut_commit  the handshake for a run on a reply owed from before
 *               (the one case where TC may be emitting its boundary
 *               now), then the mirrors: consumed runs, pending, ...;
 *   cut_rewrite the frame: the kept bytes moved up, the tail cut, the
 *               checksums, seq/ack into the kernel's space.
 */
#ifndef PS_CUT_H
#define PS_CUT_H

#include "ingress_common.h"
#include "hostile.h"
#include "reply.h"
#include "runs.h"

/* what a segment may hold for none of its GETs to be cut: the replies of
 * SELECT, MULTI/EXEC, AUTH, QUIT and the untrusting commands change what
 * the GETs around them would get; a blocking command would hold the GETs
 * before it back for as long as it blocks */
#define CUT_NEVER (RQO_ERROR | RQO_BIG | RQO_SELECT | RQO_UNTRUST | \
		   RQO_QUIT | RQO_BLOCK)

/* Why this segment's GETs may not be cut (a PS_ST_GA_* counter), or 0. */
static __always_inline __u32 cut_refusal(const struct ps_scratch *s,
					 const struct ps_config *cfg,
					 const struct ps_pkt *p,
					 const struct ps_flow *f)
{
	if (s->ngets == 0 || (cfg->flags & PS_CFG_NO_CUT))
		return PS_ST_GA_OTHER;
	if ((s->rq_out & CUT_NEVER) || s->multi_last || s->auth_pos)
		return PS_ST_GA_OTHER;
	if (!lease_ok(cfg, p->now_ns))
		return PS_ST_GA_OTHER;
	/* XXX: a frame with IP options is never rewritten */
	if (p->ihl != sizeof(struct iphdr) ||
	    (p->flags & (TCPF_FIN | TCPF_URG | TCPF_SYN | TCPF_RST)))
		return PS_ST_GA_OTHER;
	if (f->state != PS_FLOW_EST || (cfg->flags & PS_CFG_DRAIN) ||
	    (f->flags & (PS_F_UNTRUSTED | PS_F_QUIT | PS_F_OTHER_DB |
			 PS_F_IN_MULTI | PS_F_REQ_DESYNC | PS_F_REP_DESYNC |
			 PS_F_RUNS_LOST)))
		return PS_ST_GA_OTHER;
	if ((cfg->flags & PS_CFG_AUTH) && !(f->flags & PS_F_AUTHED))
		return PS_ST_GA_OTHER;
	if ((f->flags & PS_F_TS) && !p->has_ts)
		return PS_ST_GA_OTHER;
	return 0;
}

/* Store the run in s->runv (boundary b) under the flow's next sub for b,
 * in the ring's slot after this segment's runs so far. TC sees none of
 * them until cut_commit_runs moves the ring's head past them all at once.
 * Returns 0 or -1. */
static __always_inline int run_store(struct ps_scratch *s,
				     const struct ps_flow_key *fk,
				     struct ps_flow *f, __u32 b)
{
	__u32 sub = b == f->run_b ? f->run_sub : 0, n = s->nruns;
	__u32 slot = f->runq_head + n;

	if (sub >= PS_RUN_SUBS || n >= PS_MAX_CMDS ||
	    slot - f->runq_tail >= PS_RUNQ_RING)
		return -1;
	run_key(&s->rkey, fk, f, b, sub);
	s->runv.state = PS_RUNQ_QUEUED;
	s->runv.tag = run_tag(&s->rkey);
	if (bpf_map_update_elem(&ps_runs, &s->rkey, &s->runv, BPF_NOEXIST))
		return -1;
	f->run_b = b;
	f->run_sub = sub + 1;
	s->run_b[n & (PS_MAX_CMDS - 1)] = b;
	s->run_sub[n & (PS_MAX_CMDS - 1)] = sub;
	s->run_len[n & (PS_MAX_CMDS - 1)] = s->runv.len;
	s->nruns = n + 1;
	f->runq[slot & (PS_RUNQ_RING - 1)].b = b;
	f->runq[slot & (PS_RUNQ_RING - 1)].sub = sub;
	__sync_fetch_and_add(&f->runq_bytes, s->runv.len);
	return 0;
}

/* XDP takes run i of this segment back, if TC has not taken it: returns 1
 * when withdrawn (deleted), 0 when TC has it. Counted by the caller when
 * TC could have seen it (runs_withdrawn). */
static __always_inline int run_withdraw(struct ps_scratch *s,
					const struct ps_flow_key *fk,
					const struct ps_flow *f, __u32 i)
{
	struct ps_run_val *v;

	run_key(&s->rkey, fk, f, s->run_b[i & (PS_MAX_CMDS - 1)],
		s->run_sub[i & (PS_MAX_CMDS - 1)]);
	v = bpf_map_lookup_elem(&ps_runs, &s->rkey);
	if (!v)
		return 1;
	/* (of this run's tag: the element may be another run's by now) */
	if (__sync_val_compare_and_swap(&v->st, run_st(PS_RUNQ_QUEUED, &s->rkey),
					run_st(PS_RUNQ_WITHDRAWN, &s->rkey)) !=
	    run_st(PS_RUNQ_QUEUED, &s->rkey))
		return 0;
	bpf_map_delete_elem(&ps_runs, &s->rkey);
	return 1;
}

/* Undo cut_plan's stores before cut_commit_runs published them: TC
 * cannot have taken any (the ring's head is where it was). */
static __always_inline void cut_abort(struct ps_scratch *s,
				      const struct ps_flow_key *fk,
				      struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_MAX_CMDS; i++) {
		if (i >= s->nruns)
			break;
		if (run_withdraw(s, fk, f, i))
			__sync_fetch_and_add(&f->runq_bytes,
					     -s->run_len[i & (PS_MAX_CMDS - 1)]);
	}
	s->nruns = 0;
	s->ncut = 0;
}

/*
 * The folded ones' complement sum of the run bytes [lim, lim + n) of
 * s->runv, as the cache entry's csum is taken (csum.h: raw memory, from
 * the reply's first byte). Global: its loops are verified once.
 */
__noinline int run_copy_sum(struct ps_scratch *s, __u32 lim, __u32 n)
{
	__u32 i, sum = 0, c, whole;

	if (!s || lim > PS_RUN_BYTES - PS_REPLY_MAX || n > PS_REPLY_MAX)
		return -1;
	whole = n & ~3u;
	for (i = 0; i < (PS_REPLY_MAX + PS_CSUM_CHUNK - 1) / PS_CSUM_CHUNK; i++) {
		if (i * PS_CSUM_CHUNK >= whole)
			break;
		c = whole - i * PS_CSUM_CHUNK;
		if (c > PS_CSUM_CHUNK)
			c = PS_CSUM_CHUNK;
		sum = csum_chunk(&s->runv.rep[(lim + i * PS_CSUM_CHUNK) &
					     (PS_RUN_BYTES - 1)], c, sum);
	}
	for (i = 0; i < 3; i++) {
		if (whole + i >= n)
			break;
		sum = csum_add32(sum, csum_byte(s->runv.rep[(lim + whole + i) &
							    (PS_RUN_BYTES - 1)],
						whole + i));
	}
	return csum_fold32(sum);
}

/* run_copy_sum's r the same folded ones' complement sum as want (0 and
 * 0xffff are one number) */
static __always_inline int csum16_same(int r, __u32 want)
{
	__u16 a = (__u16)r, b = (__u16)want;

	if (r < 0)
		return 0;
	return a == b || ((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff));
}

/*
 * Decide about GET s->cp_i, the next in the client's order: cut it if it
 * is a complete GET of this segment whose key is cached (small cache,
 * TTL not near), while the flow's ring, correction points, the run's
 * bytes and the client's window have room. Its reply follows kernel reply
 * b = commands handed to Redis before it; the replies of consecutive cut
 * GETs with the same b make one run, copied into s->runv from the cache
 * now and stored when the run is complete. A GET not cut is counted by
 * its reason (ga_*) and goes to Redis, which moves b for the GETs after
 * it. Returns 0, or -1 when a store failed (cut_abort undoes the rest).
 * Global: cut_plan's loop calls it, so its branches are verified once.
 */
__noinline int cut_one(struct ps_scratch *s, struct ps_config *cfg,
		       struct ps_flow *f, struct ps_pkt *p,
		       const struct ps_flow_key *fk)
{
	__u32 i, b, pos, start, end, rlen = 0, vsum = 0, lim, why = 0, from_asm = 0;
	struct ps_cache_val *v = NULL;
	__u64 id = 0;

	if (!s || !cfg || !f || !p || !fk)
		return -1;
	PROF_MARK(0, 10);
	i = s->cp_i;
	if (i >= PS_MAX_CMDS)
		return -1;
	pos = s->get_pos[i];
	start = s->get_start[i];
	end = s->key_off[i] + s->key_len[i] + 2;
	/* guarded_veto's assemble_many looked this key up a moment ago and
	 * copied its reply into s->rep (the entry's identity checked after
	 * the copy): that copy is the GET's, no second lookup */
	if (s->asm_ok && s->asm_len[i] != PS_ASM_NONE)
		from_asm = 1;
	if (pos >= 64)
		why = PS_ST_GA_FULL;
	else if (start == ~0u || start >= end || end > p->payload_len)
		why = PS_ST_GA_PARTIAL;
	else if (!from_asm && !(i == 0 && s->key_ready) &&
		 ps_key_from_buf(&s->key, s, s->key_off[i], s->key_len[i]))
		why = PS_ST_GA_PARTIAL;
	if (why) {
		stat_inc(why);
		return 0;
	}
	if (!from_asm) {
		v = cache_lookup(&s->key, cfg->cache_gen, p->now_ns);
		fault_reuse_early(s, &s->key, v);
	} else if (s->asm_len[i]) {
		rlen = s->asm_len[i];
	}
	PROF_MARK(0, 11);
	if (!v && !rlen) {
		if (!s->cut_misses)
			s->cut_first_miss = i;
		if (s->cut_misses < PS_FQ_ARM)
			s->miss_i[s->cut_misses & (PS_FQ_ARM - 1)] = i;
		s->cut_misses++;
		stat_inc(PS_ST_GA_MISS);
		return 0;
	}
	b = f->cmds_passed + pos - s->ncut;
	if (v) {
		rlen = v->reply_len;
		vsum = v->csum;
		id = v->filled_ns;
	}
	if (rlen == 0 || rlen > PS_REPLY_MAX)
		why = PS_ST_GA_MSS;
	else if ((__s64)rlen > s->cp_win)
		why = PS_ST_GA_FULL;
	/* TC places the run from the reply ends it records for the server
	 * segment that ends reply b, PS_REND_MAX of them from the first
	 * reply not yet emitted (tc_done, which only grows): behind more
	 * owed replies than that, b's end may go unrecorded (insert.h:
	 * runs_lost, a stall) */
	else if ((__s32)(b - f->tc_done) > PS_REND_MAX)
		why = PS_ST_GA_FULL;
	/* a new consumed range needs a point of its own */
	else if (!(s->nrange &&
		   s->range_e[(s->nrange - 1) & (PS_MAX_CMDS - 1)] == start) &&
		 f->cli_adj.n + s->nrange + 1 > PS_SEQADJ_POINTS)
		why = PS_ST_GA_FULL;
	/* a new run: at a new boundary, or when the open one is full (a
	 * second run at the same boundary follows it) */
	else if ((!s->run_open || b != s->open_b ||
		  s->runv.len + rlen > PS_RUN_BYTES - PS_REPLY_MAX) &&
		 s->nruns + s->run_open + 1 > s->cp_room)
		why = PS_ST_GA_FULL;
	if (why) {
		stat_inc(why);
		return 0;
	}
	if (s->run_open && (b != s->open_b ||
			    s->runv.len + rlen > PS_RUN_BYTES - PS_REPLY_MAX)) {
		/* the open run is complete: a command for Redis came between,
		 * or it is full */
		if (run_store(s, fk, f, s->open_b))
			return -1;
		s->run_open = 0;
		s->runv.len = 0;
		s->runv.ngets = 0;
		PROF_MARK(0, 12);
	}
	lim = s->runv.len;
	BOUND_1_TO(rlen, PS_REPLY_BOUND);
	/* the bound on the copy (checked above for the run's bytes) */
	if (rlen > PS_REPLY_MAX || lim > PS_RUN_BYTES - PS_REPLY_MAX ||
	    bpf_probe_read_kernel(&s->runv.rep[lim & (PS_RUN_BYTES - 1)], rlen,
				  v ? (const void *)v->reply :
				      (const void *)&s->rep[s->asm_off[i] & PS_REP_MASK])) {
		stat_inc(PS_ST_GA_FULL);
		return 0;
	}
	/* the entry reused under us (helpers.h), or before its identity
	 * was read (no longer under s->key): a miss */
	if (v && !ENTRY_OF(&ps_cache, &s->key, v, id, rlen, vsum)) {
		stat_inc(PS_ST_GA_MISS);
		return 0;
	}
	/* a copy torn by a writer whose string stores became visible out of
	 * order (helpers.h's XXX) passes ENTRY_SAME. A reply answered whole
	 * carries the entry's sum, so the client drops such a copy; a run's
	 * pieces are summed from their bytes at TC and would deliver it.
	 * The copy's own sum must be the entry's: else a miss */
	if (!csum16_same(run_copy_sum(s, lim, rlen), v ? vsum : s->asm_sum[i])) {
		stat_inc(PS_ST_GA_MISS);
		stat_inc(PS_ST_RUN_TORN);
		return 0;
	}
	s->runv.len = lim + rlen;
	s->runv.ngets++;
	s->run_open = 1;
	s->open_b = b;
	s->cp_win -= rlen;
	if (s->nrange && s->range_e[(s->nrange - 1) & (PS_MAX_CMDS - 1)] == start) {
		s->range_e[(s->nrange - 1) & (PS_MAX_CMDS - 1)] = end;
	} else {
		s->range_a[s->nrange & (PS_MAX_CMDS - 1)] = start;
		s->range_e[s->nrange & (PS_MAX_CMDS - 1)] = end;
		s->nrange++;
	}
	s->cut_len += end - start;
	s->cut_mask |= 1ull << (pos & 63);
	s->ncut++;
	PROF_MARK(0, 13);
	return 0;
}

/*
 * Decide GET by GET (cut_one). Returns the GETs cut, or -1 when a store
 * failed (cut_abort undoes the rest). The last run is left open in
 * s->runv (s->open_b): cut_commit_runs stores it.
 */
static __always_inline int cut_plan(struct ps_scratch *s, struct ps_config *cfg,
				    struct ps_flow *f, struct ps_pkt *p,
				    const struct ps_flow_key *fk)
{
	__u32 i, ring, room;

	s->cut_planned = 1;
	s->cut_mask = 0;
	s->ncut = 0;
	s->nruns = 0;
	s->run_open = 0;
	s->open_b = 0;
	s->nrange = 0;
	s->cut_len = 0;
	s->cut_misses = 0;
	s->cut_first_miss = 0;
	s->runv.len = 0;
	s->runv.ngets = 0;
	/* runs this segment may queue: the ring's room, and the injected
	 * points' (each queued run may take one of its own at TC) */
	ring = f->runq_head - f->runq_tail;
	room = f->srv_adj.n + ring;
	room = room < PS_SEQADJ_POINTS ? PS_SEQADJ_POINTS - room : 0;
	if (ring >= PS_RUNQ_RING)
		room = 0;
	else if (room > PS_RUNQ_RING - ring)
		room = PS_RUNQ_RING - ring;
	s->cp_room = room;
	/* the client's window, less what is in flight or queued */
	s->cp_win = (__s64)(__s32)(f->srv_una +
				   ((__u32)f->cli_wnd_raw << (f->wscale_cli & 15)) -
				   srv_nxt(f)) - f->runq_bytes;
	for (i = 0; i < PS_MAX_CMDS; i++) {
		if (i >= s->ngets)
			break;
		s->cp_i = i;
		if (cut_one(s, cfg, f, p, fk))
			return -1;
	}
	return s->ncut;
}

/*
 * Store the last run and publish the segment's runs to TC: one atomic add
 * to the ring's head (a full barrier), so TC sees all of them or none.
 * Then the handshake for a run on a reply owed from before the segment
 * when nothing of the segment goes to Redis (racy): TC may be emitting
 * that reply's end right now. XDP has published the run and reads
 * tc_done, the replies whose end TC has emitted; TC adds to tc_done (a
 * full barrier) before it reads the ring. So either XDP sees TC past the
 * boundary, and withdraws the run unless TC took it after all, or TC sees
 * the run and takes it. That works for one run only: a withdrawal of
 * several could race TC's taking them one by one and leave some taken, so
 * a racy segment whose replies took more than one run (a full run and a
 * second at the same boundary) is not cut. Returns 0, or -1: nothing cut
 * (everything stored withdrawn).
 */
static __always_inline int cut_commit_runs(struct ps_scratch *s,
					   struct ps_flow *f,
					   const struct ps_flow_key *fk,
					   __u32 last_b, int racy)
{
	__u32 done;

	if (s->run_open) {
		if (run_store(s, fk, f, last_b)) {
			cut_abort(s, fk, f);
			return -1;
		}
		s->run_open = 0;
	}
	if (racy && s->nruns > 1) {
		stat_add(PS_ST_GA_RACE, s->ncut);
		cut_abort(s, fk, f);
		return -1;
	}
	stat_add(PS_ST_RUNS_QUEUED, s->nruns);
	__sync_fetch_and_add(&f->runq_head, s->nruns);
	if (!racy)
		return 0;
	done = f->tc_done;
	if (before(done, last_b)) /* TC has not emitted reply b's end */
		return 0;
	if (run_withdraw(s, fk, f, s->nruns - 1)) {
		stat_inc(PS_ST_RUNS_WITHDRAWN);
		__sync_fetch_and_add(&f->runq_bytes,
				     -s->run_len[(s->nruns - 1) & (PS_MAX_CMDS - 1)]);
		s->nruns = 0;
		stat_add(PS_ST_GA_RACE, s->ncut);
		s->ncut = 0;
		return -1;
	}
	return 0;
}

/* The mirrors, once the runs are committed: the cut ranges are consumed
 * runs of the client's stream (PS_RUN_CUT points); Redis owes replies to
 * the commands left. kseq: the segment's seq in the kernel's space. */
static __always_inline __u32 cut_account(struct ps_scratch *s,
					 struct ps_flow *f, struct ps_pkt *p)
{
	__u32 i, a, e, kseq = p->seq - f->consumed;

	for (i = 0; i < PS_MAX_CMDS; i++) {
		if (i >= s->nrange)
			break;
		a = s->range_a[i];
		e = s->range_e[i];
		f->consumed += e - a;
		seqadj_add_run(&f->cli_adj, p->seq + a, e - a, f->consumed,
			       PS_RUN_CUT, 0, 0);
	}
	f->cli_nxt = p->seq + p->payload_len;
	f->hits += s->ncut;
	stat_add(PS_ST_GET_HITS, s->ncut);
	stat_add(PS_ST_CUT_GETS, s->ncut);
	stat_inc(PS_ST_CUT_SEGS);
	return kseq;
}

/* csum_replace4 for a 16-bit field (raw, as it sits in the packet) */
static __always_inline void csum_replace2(__u16 *check, __u16 from, __u16 to)
{
	__u32 s = (__u16)~*check;

	s = csum_add32(s, (__u16)~from);
	s = csum_add32(s, to);
	*check = ~csum_fold32(s);
}

/* The kept bytes (everything but the cut ranges) into s->out, zero padded
 * to a word, and their sum. Returns their length. */
__noinline int cut_gather(struct ps_scratch *s, __u32 len)
{
	__u32 i, from = 0, to = 0, n, a, e;

	if (!s || len > PS_PAYLOAD_MAX)
		return -1;
	for (i = 0; i <= PS_MAX_CMDS; i++) {
		if (i < s->nrange && i < PS_MAX_CMDS) {
			a = s->range_a[i];
			e = s->range_e[i];
		} else {
			a = len;
			e = len;
		}
		if (a > len || e > len || a < from)
			return -1;
		n = a - from;
		if (n) {
			if (to > PS_PAYLOAD_MAX - 1 || from > PS_PAYLOAD_MAX - 1)
				return -1;
			BOUND_1_TO(n, PS_PAYLOAD_MAX);
			if (bpf_probe_read_kernel(&s->out[to & PS_BUF_MASK], n,
						  &s->buf[from & PS_BUF_MASK]))
				return -1;
			to += n;
		}
		from = e;
		if (i >= s->nrange)
			break;
	}
	if (to > PS_PAYLOAD_MAX)
		return -1;
	/* zero the pad up to a word for the sum (out has room past
	 * PS_PAYLOAD_MAX: a mask would have put it at out[0]) */
	if (to < PS_PAYLOAD_MAX) {
		s->out[to] = 0;
		s->out[to + 1] = 0;
		s->out[to + 2] = 0;
	}
	s->kept_sum = 0;
	for (i = 0; i < PS_PAYLOAD_MAX / PS_CSUM_CHUNK; i++) {
		__u32 c;

		if (i * PS_CSUM_CHUNK >= ((to + 3) & ~3u))
			break;
		c = ((to + 3) & ~3u) - i * PS_CSUM_CHUNK;
		if (c > PS_CSUM_CHUNK)
			c = PS_CSUM_CHUNK;
		s->kept_sum = csum_chunk(&s->out[i * PS_CSUM_CHUNK], c,
					 s->kept_sum);
	}
	return to;
}

/*
 * The frame becomes the segment Redis gets: the kept bytes from the
 * payload's start, the tail cut, IP length and checksums updated (the
 * payload's sum and the pseudo header's length changed by difference),
 * seq/ack/SACK into the kernel's space. s->em_dirty from the first change:
 * a rewrite that cannot finish drops the frame (ps_ingress), and the
 * client's retransmission is cut again (the mirrors already hold the cut).
 * kseq (s->cut_kseq): the kept bytes' seq in the kernel's space; kept
 * (s->cut_kept): how many. Returns 0 or -1.
 */
__noinline int cut_rewrite(struct xdp_md *ctx, struct ps_scratch *s,
			   struct ps_pkt *p, struct ps_flow *f)
{
	void *data, *data_end;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 len, off, old_tl, new_tl, kept, kseq;

	if (!ctx || !s || !p || !f)
		return -1;
	kept = s->cut_kept;
	kseq = s->cut_kseq;
	len = p->payload_len;
	off = p->payload_off;
	if (kept > len || kept > PS_PAYLOAD_MAX || off > HDRS_MAX)
		return -1;
	s->em_dirty = 1;
	if (kept) {
		BOUND_1_TO(kept, PS_PAYLOAD_MAX);
		if (bpf_xdp_store_bytes(ctx, off, s->out, kept))
			return -1;
	}
	if (bpf_xdp_adjust_tail(ctx, -(int)(len - kept)))
		return -1;
	/* every packet pointer is stale after an adjust: read them again */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	ip = data + sizeof(struct ethhdr);
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;
	old_tl = bpf_ntohs(ip->tot_len);
	new_tl = old_tl - (len - kept);
	csum_replace2(&ip->check, ip->tot_len, bpf_htons(new_tl));
	ip->tot_len = bpf_htons(new_tl);
	/* TCP: the pseudo header's length, and the payload's sum (the kept
	 * bytes start where the old payload did: same byte parity) */
	csum_replace2(&tcp->check, bpf_htons(old_tl - sizeof(*ip)),
		      bpf_htons(new_tl - sizeof(*ip)));
	csum_replace2(&tcp->check, csum_fold32(s->pl_sum),
		      kept ? csum_fold32(s->kept_sum) : 0);
	p->payload_len = kept;
	xdp_translate(ctx, p, f, kseq, 0);
	s->em_dirty = 0;
	return 0;
}

/*
 * The end of a cut (first or again): with nothing kept, the segment goes
 * on as a pure ACK only if that ACK tells the kernel something new (the
 * acks it carries have retired points either way); otherwise the kept
 * bytes, at kernel seq kseq, replace the payload.
 */
static __always_inline int cut_finish(struct xdp_md *ctx, struct ps_scratch *s,
				      struct ps_pkt *p, struct ps_flow *f,
				      int kept, __u32 kseq)
{
	if (kept == 0 && (!(p->flags & TCPF_ACK) ||
			  !after(cli_ack_field_to_k(f, p->ack, 0), f->ksnd_una)))
		return XDP_DROP;
	s->cut_kept = kept;
	s->cut_kseq = kseq;
	if (cut_rewrite(ctx, s, p, f))
		return XDP_DROP;
	return XDP_PASS;
}

/*
 * Cut what can be cut from guarded_data's segment (parsed, in order, at
 * the stream's frontier, judged sound, not answered whole). Returns
 * XDP_PASS (the rest, translated), XDP_DROP (nothing was left and its ACK
 * tells the kernel nothing new), or -1: nothing cut, the segment is the
 * caller's as it came (with s->cut_misses for its fill arming).
 */
static __always_inline int guarded_cut(struct xdp_md *ctx, struct ps_scratch *s,
				       struct ps_config *cfg, struct ps_pkt *p,
				       struct ps_flow *f)
{
	struct ps_flow_key fk;
	__u32 why, kseq, racy;
	int n, kept;

	why = cut_refusal(s, cfg, p, f);
	if (why) {
		stat_add(why, s->ngets);
		return -1;
	}
	/* a segment of GETs alone, every one a miss in guarded_veto's
	 * lookups: nothing to cut (and no second lookup of each) */
	if (s->asm_misses && s->asm_misses == s->ngets && s->ngets == s->ncmds) {
		stat_add(PS_ST_GA_MISS, s->ngets);
		return -1;
	}
	flow_key(&fk, p, 1);
	PROF_MARK(0, 4);
	n = cut_plan(s, cfg, f, p, &fk);
	PROF_MARK(0, 5);
	if (n < 0) {
		cut_abort(s, &fk, f);
		return -1;
	}
	if (n == 0)
		return -1;
	/* every command cut and none left half-way: the run sits on a reply
	 * owed from an earlier segment (or on none: then the segment would
	 * have been answered whole, unless too large; leave it to Redis) */
	racy = s->ncut == s->ncmds && s->rq.state == PS_RQ_IDLE;
	if (racy && f->pending == 0) {
		cut_abort(s, &fk, f);
		stat_add(PS_ST_GA_OTHER, s->ngets);
		return -1;
	}
	/* the open run's boundary: the commands for Redis before its GETs */
	if (cut_commit_runs(s, f, &fk, s->open_b, racy))
		return -1;
	PROF_MARK(0, 6);
	kseq = cut_account(s, f, p);
	PROF_MARK(0, 7);
	kept = p->payload_len - s->cut_len;
	if (kept > 0 && cut_gather(s, p->payload_len) != kept)
		return XDP_DROP;
	PROF_MARK(0, 8);
	if (kept == 0)
		stat_inc(PS_ST_CUT_EMPTY);
	n = cut_finish(ctx, s, p, f, kept, kseq);
	PROF_MARK(0, 9);
	return n;
}

/*
 * A retransmission of client bytes some GETs were cut from: cut again
 * where they were first (the PS_RUN_CUT points say where; their runs are
 * queued or sent already) and the rest handed on, old for the kernel
 * unless it lost them. Only a retransmission within what was parsed,
 * whose every consumed run it meets is a cut one it holds whole. Returns
 * XDP_PASS or XDP_DROP as guarded_cut does, or -1: not such a segment.
 * s->pl_sum is the payload's sum (guarded_data verified it).
 */
static __always_inline int guarded_recut(struct xdp_md *ctx,
					 struct ps_scratch *s, struct ps_pkt *p,
					 struct ps_flow *f)
{
	__u32 i, st, prev, seq, len, end, kseq;
	int kept;

	if (!ctx || !s || !p || !f)
		return -1;
	prev = f->cli_adj.base;
	seq = p->seq;
	len = p->payload_len;
	end = seq + len;
	if (after(end, f->cli_nxt) || len > PS_PAYLOAD_MAX || len == 0 ||
	    p->ihl != sizeof(struct iphdr) ||
	    (p->flags & (TCPF_FIN | TCPF_URG | TCPF_SYN | TCPF_RST)))
		return -1;
	s->nrange = 0;
	s->cut_len = 0;
	for (i = 0; i < PS_SEQADJ_POINTS; i++) {
		const struct ps_corr *c = &f->cli_adj.pt[i];

		if (i >= f->cli_adj.n)
			break;
		st = c->pos - (c->off - prev);
		prev = c->off;
		if (!after(c->pos, seq) || !before(st, end))
			continue;
		if (c->kind != PS_RUN_CUT || before(st, seq) || after(c->pos, end) ||
		    s->nrange >= PS_MAX_CMDS)
			return -1;
		s->range_a[s->nrange & (PS_MAX_CMDS - 1)] = st - seq;
		s->range_e[s->nrange & (PS_MAX_CMDS - 1)] = c->pos - seq;
		s->nrange++;
		s->cut_len += c->pos - st;
	}
	if (!s->nrange || s->cut_len > len)
		return -1;
	kseq = cli_seq_to_k(f, seq, 0);
	kept = len - s->cut_len;
	stat_inc(PS_ST_RECUT_SEGS);
	if (kept > 0) {
		BOUND_1_TO(len, PS_PAYLOAD_MAX);
		if (bpf_xdp_load_bytes(ctx, p->payload_off, s->buf, len) ||
		    cut_gather(s, len) != kept)
			return XDP_DROP;
	}
	return cut_finish(ctx, s, p, f, kept, kseq);
}

#endif
