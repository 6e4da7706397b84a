// SPDX-License-Identifier: GPL-2.0
/*
 * t_pipeline.c - per-command answering (xdp/cut.h, xdp/insert.h,
 * docs/pipelines.md) with exact bytes: the GET hits of a pipelined segment
 * cut out of what the kernel gets, their replies inserted into the
 * kernel's reply stream after the reply they follow, and the cases around
 * it: the client's and the kernel's retransmissions, a segment of hits
 * alone while Redis owes replies (and the handshake that withdraws its
 * run), the ACK hold at an inserted run, pieces over the MSS.
 */
#include <arpa/inet.h>
#include <string.h>
#include <bpf/bpf.h>
#include "fixture.h"
#include "cases.h"
#include "cachefmt.h"
#include "prestack.skel.h"

#define GETK(k) "*2\r\n$3\r\nGET\r\n$3\r\n" k "\r\n"
#define SETK(k, v) "*3\r\n$3\r\nSET\r\n$3\r\n" k "\r\n$1\r\n" v "\r\n"
#define L(x) ((uint32_t)(sizeof(x) - 1))

/* the payload of frame f, by its IP total length (a test frame may be
 * padded past it) */
static const uint8_t *payload_of(const uint8_t *f, size_t flen, size_t *plen)
{
	size_t doff = (size_t)(f[OFF_TCP + 12] >> 4) * 4;
	size_t tot = rd16(f + OFF_TCP - IP_LEN + 2);

	*plen = tot >= IP_LEN + doff && OFF_TCP - IP_LEN + tot <= flen ?
		tot - IP_LEN - doff : 0;
	return f + OFF_TCP + doff;
}

static void check_payload(const char *what, const char *want, size_t wlen)
{
	size_t plen;
	const uint8_t *pl = payload_of(out, olen, &plen);

	CHECK(plen == wlen && !memcmp(pl, want, wlen),
	      "%s: payload (%zu bytes) is not the %zu expected", what, plen, wlen);
}

/* a client segment at seq, acking ack, run at XDP: its verdict */
static int cli_at(struct env *e, uint32_t seq, uint32_t ack, const char *p,
		  size_t n)
{
	uint32_t cs = e->cseq, ss = e->sseq;
	int v;

	e->cseq = seq;
	e->sseq = ack;
	len = cli_seg(e, in, p, n, TF_PSH | TF_ACK);
	e->cseq = cs;
	e->sseq = ss;
	v = xdp_run(e, in, len, out, &olen);
	return v;
}

/*
 * GET hit, SET, GET hit with nothing owed: the kernel gets the SET alone
 * at the seq the segment had; Redis's +OK goes out with the first hit's
 * reply before it and the second's after it, at the client's seq, acking
 * all of the segment. Then its retransmissions: the kernel's (the runs go
 * in again, the same bytes at the same seq) and the client's (cut again,
 * no run queued twice).
 */
void t_cut_prefix_suffix(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v") GETK("baz");
	const char want[] = "$3\r\nbar\r\n+OK\r\n$3\r\nqux\r\n";
	uint32_t c0 = e->cseq, s0 = e->sseq, k0 = e->kseq, ka0 = e->kack;
	uint8_t first[4096];
	size_t flen;
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	cache_put(e, "baz", "qux");
	CHECK_EQ(cli_at(e, c0, s0, S(req)), XDP_PASS);
	check_payload("the kernel's segment", S(SETK("kkk", "v")));
	CHECK_EQ(rd32(out + OFF_TCP + 4), ka0);      /* kernel seq: nothing consumed before */
	CHECK_EQ(rd32(out + OFF_TCP + 8), k0);       /* nothing injected yet */
	CHECK(pkt_csum_ok(out, olen), "cut segment checksum");
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 2);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 2);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, 2 * L(GETK("foo")));
	CHECK_EQ(f.pending, 1);
	CHECK_EQ(f.cmds_passed, 1);
	CHECK_EQ(f.cli_nxt, c0 + L(req));
	CHECK_EQ(f.cli_adj.n, 2);
	CHECK_EQ(f.runq_head - f.runq_tail, 2);
	e->cseq += L(req);
	e->kack += L(SETK("kkk", "v"));

	/* Redis's reply: the runs around it */
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the reply stream", S(want));
	CHECK_EQ(rd32(out + OFF_TCP + 4), s0);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);   /* the whole segment acked */
	CHECK(pkt_csum_ok(out, olen), "rebuilt segment checksum");
	CHECK_EQ(stat_get(e, PS_ST_RUNS_TAKEN), 2);
	CHECK_EQ(stat_get(e, PS_ST_INS_SEGS), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(f.injected, 2 * 9);
	CHECK_EQ(f.srv_adj.n, 2);
	CHECK_EQ(f.srv_adj.pt[0].kind, PS_RUN_INS);
	CHECK_EQ(f.srv_adj.pt[0].pos, s0 + 9);
	CHECK_EQ(f.srv_adj.pt[1].pos, s0 + 9 + 5 + 9);
	CHECK_EQ(f.runq_head, f.runq_tail);
	memcpy(first, out, olen);
	flen = olen;

	/* the kernel sends it again: the same segment, runs and all */
	len = srv_seg_at(e, in, sizeof(in), k0, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK(olen == flen && !memcmp(out + OFF_TCP, first + OFF_TCP, 4) &&
	      !memcmp(out + olen - (sizeof(want) - 1), want, sizeof(want) - 1),
	      "the kernel's retransmission is not rebuilt the same");
	CHECK(pkt_csum_ok(out, olen), "re-inserted segment checksum");
	CHECK_EQ(stat_get(e, PS_ST_INS_RETRANS), 2);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_TAKEN), 2);
	e->kseq += 5;
	e->sseq += L(want);

	/* the client sends the request again: cut again, nothing queued */
	CHECK_EQ(cli_at(e, c0, s0, S(req)), XDP_PASS);
	check_payload("the client's retransmission", S(SETK("kkk", "v")));
	CHECK_EQ(rd32(out + OFF_TCP + 4), ka0);
	CHECK(pkt_csum_ok(out, olen), "re-cut checksum");
	CHECK_EQ(stat_get(e, PS_ST_RECUT_SEGS), 1);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 2);

	/* nothing owed, nothing queued: a lone hit is answered whole */
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
}

/*
 * Hits alone while Redis owes a reply: cut, and their run goes after the
 * reply owed; nothing is left for the kernel, whose ACK tells it nothing
 * new: dropped. If TC may already have sent that reply's end (tc_done has
 * reached it) the run is withdrawn and the segment goes to Redis whole.
 */
void t_cut_hits_behind_owed(struct env *e)
{
	uint32_t s0 = e->sseq;
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_pass(e, S(SETK("kkk", "v")), 0, 0);
	CHECK_EQ(cli_at(e, e->cseq, e->sseq, S(GETK("foo"))), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_CUT_EMPTY), 1);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
	e->cseq += L(GETK("foo"));
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the owed reply, then the run", S("+OK\r\n$3\r\nbar\r\n"));
	CHECK_EQ(rd32(out + OFF_TCP + 4), s0);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);
	CHECK(pkt_csum_ok(out, olen), "checksum");
	e->kseq += 5;
	e->sseq += 5 + 9;

	/* the handshake lost: TC is past the reply the run would follow */
	expect_pass(e, S(SETK("kkk", "w")), L(GETK("foo")), 9);
	CHECK_EQ(flow_get(e, &f), 0);
	f.tc_done = f.cmds_passed;
	{
		struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
					 htons(SRV_PORT) };

		CHECK_EQ(bpf_map_update_elem(e->flows, &k, &f, BPF_EXIST), 0);
	}
	expect_pass(e, S(GETK("foo")), L(GETK("foo")), 9);
	CHECK_EQ(stat_get(e, PS_ST_GA_RACE), 1);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_WITHDRAWN), 1);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 2);
}

/*
 * The ACK hold at an inserted run: an ack at the run's first byte (the
 * client has what came before, not the run) reaches the kernel one byte
 * short of the run's kernel position, so that the kernel still has a
 * byte to send again, and TC the run after it.
 */
void t_cut_ack_hold(struct env *e)
{
	const char req[] = SETK("kkk", "v") GETK("foo");
	uint32_t s0 = e->sseq, k0 = e->kseq;

	cache_put(e, "foo", "bar");
	CHECK_EQ(cli_at(e, e->cseq, e->sseq, S(req)), XDP_PASS);
	e->cseq += L(req);
	e->kack += L(SETK("kkk", "v"));
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("+OK then the run", S("+OK\r\n$3\r\nbar\r\n"));
	e->kseq += 5;
	/* acked up to the run: one byte short of it for the kernel */
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	{
		uint32_t ack = s0 + 5;

		in[OFF_TCP + 8] = ack >> 24;
		in[OFF_TCP + 9] = ack >> 16;
		in[OFF_TCP + 10] = ack >> 8;
		in[OFF_TCP + 11] = ack;
		/* (the checksum: rebuilt below by the helper) */
	}
	{
		struct pkt_spec sp = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				       .daddr = SRV_IP, .sport = CLI_PORT,
				       .dport = SRV_PORT, .seq = e->cseq,
				       .ack = s0 + 5, .flags = TF_ACK, .window = 502 };
		uint8_t opt[12] = { 1, 1, 8, 10 };
		uint32_t tv = e->tsval++;

		if (e->ts) {
			opt[4] = tv >> 24; opt[5] = tv >> 16; opt[6] = tv >> 8; opt[7] = tv;
			opt[8] = SRV_TSV >> 24; opt[9] = SRV_TSV >> 16;
			opt[10] = SRV_TSV >> 8; opt[11] = SRV_TSV & 0xff;
			sp.tcpopt = opt;
			sp.tcpopt_len = 12;
		}
		len = pkt_build(in, sizeof(in), &sp);
	}
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), k0 + 5 - 1);
	/* the whole run acked: the kernel's byte and the run's */
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), k0);
	e->sseq = s0;
	e->sseq += 5 + 9;
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), k0 + 5);
}

/*
 * A reply stream longer than the client's MSS with runs in it goes out
 * as MSS-sized pieces at consecutive seqs, PSH on the last only, each
 * with a right checksum. Piece i alone is returned through the unit-test
 * knob ps_ins_stop (BPF_PROG_TEST_RUN would really send the clones); the
 * second piece comes from the kernel's retransmission, rebuilt from the
 * points the first left.
 */
void t_cut_pieces(struct env *e)
{
	static char req[256], rep[1400], want[2600], val[601];
	const char getbig[] = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
	uint32_t s0 = e->sseq, k0 = e->kseq, mss = 1460 - 12;
	size_t rl, pl_n, wl = 0, n;
	const uint8_t *pl;

	memset(val, 'a', 600);
	cache_put(e, "foo", val);
	rl = (size_t)snprintf(req, sizeof(req), "%s%s%s", GETK("foo"), getbig,
			      GETK("foo"));
	CHECK_EQ(cli_at(e, e->cseq, e->sseq, req, rl), XDP_PASS);
	check_payload("the kernel's segment", S(getbig));
	e->cseq += (uint32_t)rl;
	e->kack += L(getbig);
	n = (size_t)snprintf(rep, sizeof(rep), "$1290\r\n");
	memset(rep + n, 'v', 1290);
	memcpy(rep + n + 1290, "\r\n", 2);
	n += 1292;
	wl += (size_t)sprintf(want + wl, "$600\r\n%s\r\n", val);
	memcpy(want + wl, rep, n);
	wl += n;
	wl += (size_t)sprintf(want + wl, "$600\r\n%s\r\n", val);

	e->skel->bss->ps_ins_stop = 1;
	len = srv_seg_at(e, in, sizeof(in), k0, rep, n, TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	pl = payload_of(out, olen, &pl_n);
	CHECK(pl_n == mss && !memcmp(pl, want, mss), "piece 0: %zu bytes", pl_n);
	CHECK_EQ(rd32(out + OFF_TCP + 4), s0);
	CHECK(!(out[OFF_TCP + 13] & TF_PSH), "PSH on a piece that is not the last");
	CHECK(pkt_csum_ok(out, olen), "piece 0 checksum");

	e->skel->bss->ps_ins_stop = 2;
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	pl = payload_of(out, olen, &pl_n);
	CHECK(pl_n == wl - mss && !memcmp(pl, want + mss, wl - mss),
	      "piece 1: %zu bytes", pl_n);
	CHECK_EQ(rd32(out + OFF_TCP + 4), s0 + mss);
	CHECK(out[OFF_TCP + 13] & TF_PSH, "no PSH on the last piece");
	CHECK(pkt_csum_ok(out, olen), "piece 1 checksum");
	e->skel->bss->ps_ins_stop = 0;
	CHECK_EQ(stat_get(e, PS_ST_INS_PIECES), 3); /* piece 0 twice */
}

/*
 * Aggregates around a cut GET: MGET before it, HGETALL after; the hit's
 * reply goes right after the MGET's whole array, before the HGETALL's.
 */
void t_cut_arrays(struct env *e)
{
	const char req[] = "*3\r\n$4\r\nMGET\r\n$1\r\nx\r\n$1\r\ny\r\n" GETK("foo")
			   "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n";
	const char kept[] = "*3\r\n$4\r\nMGET\r\n$1\r\nx\r\n$1\r\ny\r\n"
			    "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n";
	const char rep[] = "*2\r\n$1\r\n1\r\n*1\r\n:5\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
	const char want[] = "*2\r\n$1\r\n1\r\n*1\r\n:5\r\n$3\r\nbar\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";

	cache_put(e, "foo", "bar");
	expect_cut(e, S(req), S(kept), 0, 0);
	len = srv_seg(e, in, S(rep), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the array, the run, the array", S(want));
	CHECK(pkt_csum_ok(out, olen), "checksum");
}

/* A write behind a cut GET is in flight until its own reply: its reply
 * index counts only the commands Redis gets (cache.h, wr_push). */
void t_cut_write_in_flight(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v");
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_cut(e, S(req), S(SETK("kkk", "v")), 0, 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.wr_head - f.wr_tail, 1);
	CHECK_EQ(f.wr[f.wr_tail & (PS_WR_RING - 1)].idx, 1);
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the run, then +OK", S("$3\r\nbar\r\n+OK\r\n"));
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.wr_head, f.wr_tail);
}

/* Nine runs at nine boundaries in one server segment: 18 spans, past the
 * 16 a folded mask once kept (a 48-entry span list masked with 47 put
 * span 16 over span 0: the last run went out first, the kernel's bytes
 * after the first boundary never) */
void t_cut_many_runs(struct env *e)
{
	/* distinct keys, values and replies: a run or reply out of place
	 * shows in the bytes */
#define PING "*1\r\n$4\r\nPING\r\n"
#define PAIR(n) GETK("fo" #n) PING
	const char req[] = PAIR(1) PAIR(2) PAIR(3) PAIR(4) PAIR(5) PAIR(6) PAIR(7)
			   PAIR(8) PAIR(9);
	const char kept[] = PING PING PING PING PING PING PING PING PING;
#define PONG(n) "+P" #n "\r\n"
	const char rep[] = PONG(1) PONG(2) PONG(3) PONG(4) PONG(5) PONG(6) PONG(7)
			   PONG(8) PONG(9);
#define RUNPONG(n) "$3\r\nba" #n "\r\n" PONG(n)
	const char want[] = RUNPONG(1) RUNPONG(2) RUNPONG(3) RUNPONG(4) RUNPONG(5)
			    RUNPONG(6) RUNPONG(7) RUNPONG(8) RUNPONG(9);
#undef RUNPONG
#undef PONG
#undef PAIR
#undef PING
	char k[4] = "fo0", v[4] = "ba0";
	int i;

	for (i = 1; i <= 9; i++) {
		k[2] = v[2] = (char)('0' + i);
		cache_put(e, k, v);
	}
	expect_cut(e, S(req), S(kept), 0, 0);
	len = srv_seg(e, in, S(rep), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("nine runs, each before its own reply", S(want));
	CHECK(pkt_csum_ok(out, olen), "checksum");
}

/* the flow's entry, written back (a test's hand on a field) */
static void flow_put(struct env *e, const struct ps_flow *f)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };

	CHECK_EQ(bpf_map_update_elem(e->flows, &k, f, BPF_EXIST), 0);
}

/*
 * Hits alone behind an owed reply whose replies fill more than one run
 * (two 600-byte values: a full run and a second at the same boundary),
 * with TC already past that reply: the handshake can withdraw one run
 * only (TC takes runs one by one), so the segment is not cut at all and
 * nothing of it stays queued. Before, the last run was withdrawn and the
 * first left queued while Redis got both GETs: their replies went out
 * twice and every reply after them was read as the one before.
 */
void t_cut_racy_runs(struct env *e)
{
	char big[601], req[256];
	struct ps_flow f;
	uint64_t queued;
	int n;

	memset(big, 'v', 600);
	big[600] = 0;
	cache_put(e, "foo", big);
	cache_put(e, "baz", big);
	expect_pass(e, S(SETK("kkk", "v")), 0, 0);
	CHECK_EQ(flow_get(e, &f), 0);
	f.tc_done = f.cmds_passed;
	flow_put(e, &f);
	queued = stat_get(e, PS_ST_RUNS_QUEUED);
	n = snprintf(req, sizeof(req), "%s%s", GETK("foo"), GETK("baz"));
	expect_pass(e, req, (size_t)n, 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GA_RACE), 2);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 0);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), queued);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.runq_head, f.runq_tail);
	CHECK_EQ(f.runq_bytes, 0);
	CHECK_EQ(f.pending, 3);
	CHECK_EQ(f.consumed, 0);
}

/* with f->adj_lock set to lock (TC's hold on srv_adj, or none), the
 * client acks everything the kernel sent: XDP passes it, acking all of
 * it for the kernel; f is the flow's entry after */
static void ack_all_locked(struct env *e, struct ps_flow *f, uint32_t lock)
{
	f->adj_lock = lock;
	flow_put(e, f);
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kseq);
	CHECK_EQ(flow_get(e, f), 0);
}

/*
 * srv_adj's two writers (xdp/runs.h): while TC holds the list (inserting
 * runs), a client ACK that would retire injected points leaves them and
 * counts adj_busy; the next ACK after TC let go retires them.
 */
void t_cut_adj_lock(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v") GETK("baz");
	const char want[] = "$3\r\nbar\r\n+OK\r\n$3\r\nqux\r\n";
	struct ps_flow f;
	uint64_t busy;

	cache_put(e, "foo", "bar");
	cache_put(e, "baz", "qux");
	expect_cut(e, S(req), S(SETK("kkk", "v")), 0, 0);
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the reply stream", S(want));
	e->kseq += 5;
	e->sseq += L(want);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.srv_adj.n, 2);
	CHECK_EQ(f.adj_lock, 0);

	/* TC holds the list: the ACK of everything retires nothing */
	ack_all_locked(e, &f, 2);
	busy = stat_get(e, PS_ST_ADJ_BUSY);
	CHECK(busy >= 1, "adj_busy not counted");
	CHECK_EQ(f.srv_adj.n, 2);
	CHECK_EQ(f.adj_lock, 2);

	/* let go: the same ACK again retires both, and XDP lets go too */
	ack_all_locked(e, &f, 0);
	CHECK_EQ(f.srv_adj.n, 0);
	CHECK_EQ(f.srv_adj.base, 2 * 9);
	CHECK_EQ(f.adj_lock, 0);
	CHECK_EQ(stat_get(e, PS_ST_ADJ_BUSY), busy);
}

/* the cache entry of key with its csum off by one bit: what a copy torn
 * by a concurrent rewrite looks like to cut_one's check (the bytes do not
 * sum to the entry's sum) */
static void cache_put_torn(struct env *e, const char *key, const char *val)
{
	struct ps_cache_key k;
	struct ps_cache_val v;

	cache_put(e, key, val);
	ps_cache_key_build(&k, key, strlen(key));
	CHECK_EQ(ps_cache_get(e->cache, &k, &v), 0);
	v.csum ^= 1;
	CHECK_EQ(bpf_map_update_elem(e->cache, &k.hash, &v, BPF_EXIST), 0);
}

/*
 * A reply whose copy does not sum to its entry's sum is never put in a
 * run (TC sums a run's bytes as they are: a torn copy would reach the
 * client intact-looking): the GET goes to Redis, counted in ga_miss and
 * run_torn. Both ways a copy is made: cut_one's own lookup (a segment
 * with a SET), and assemble_many's copy reused (GETs alone, a reply owed).
 */
void t_cut_torn_copy(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v") GETK("baz");
	const char kept[] = SETK("kkk", "v") GETK("baz");
	const char req2[] = GETK("foo") GETK("baz");

	cache_put(e, "foo", "bar");
	cache_put_torn(e, "baz", "qux");
	expect_cut(e, S(req), S(kept), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
	CHECK_EQ(stat_get(e, PS_ST_RUN_TORN), 1);
	CHECK_EQ(stat_get(e, PS_ST_GA_MISS), 1);
	/* Redis owes two replies: the two GETs alone are cut from the copy
	 * guarded_veto assembled, all but the torn one */
	expect_cut(e, S(req2), S(GETK("baz")), L(GETK("foo")), 0);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 2);
	CHECK_EQ(stat_get(e, PS_ST_RUN_TORN), 2);
	CHECK_EQ(stat_get(e, PS_ST_GA_MISS), 2);
}

/*
 * A cache entry deleted and its element reused for another key between
 * its lookup and the read of its identity (PS_FAULT_REUSE_EARLY: "zzz"'s
 * entry copied over it, the key looked up gone): the copy is that key's
 * reply, consistent in itself (identity, length and sum all the other
 * key's), so ENTRY_SAME and the copy's sum passed it. Stored in a run and
 * inserted at TC, it was another key's value: what pipeload read once
 * under --cut (docs/pipelines.md). Every reader now looks the key up
 * again after it read the identity (helpers.h, ENTRY_OF): a single GET
 * goes to Redis before its frame is touched, GETs assembled for a segment
 * of GETs alone miss, a GET cut_one looked up goes to Redis.
 */
void t_cut_entry_rekeyed(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v");
	const char gets[] = GETK("foo") GETK("baz");

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_REUSE_EARLY) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "zzz", "other");
	/* one GET, nothing owed: answered whole from the entry (assemble,
	 * emit_reply) */
	cache_put(e, "foo", "bar");
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 1);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	/* Redis owes it; its reply goes back as it came */
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	/* two GETs alone (assemble_many): both entries reused, both miss */
	cache_put(e, "foo", "bar");
	cache_put(e, "baz", "qux");
	expect_pass(e, S(gets), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 3);
	CHECK_EQ(stat_get(e, PS_ST_FB_MISS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	/* a GET before a SET (cut_one's own lookup): not cut */
	cache_put(e, "foo", "bar");
	expect_pass(e, S(req), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 4);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 0);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
}

/*
 * A queued run withdrawn by XDP and its element reused for another run
 * between TC's lookup and its take (PS_FAULT_RUN_REUSE: the run of
 * b + PS_FAULT_RUN_B, queued, its bytes "zzz"): ps_runs frees a deleted
 * element to the next insert on that CPU at once (t_hash_reuses_deleted).
 * The take was a compare-and-swap of the state alone, from QUEUED: it
 * took the other run, sent its bytes in this run's place and left that
 * run TAKEN, never to be inserted where it belongs. The swap now
 * compares the run's tag too (runs.h, run_tag): it fails, the reply goes
 * out alone, the other run stays queued.
 */
void t_run_take_rekeyed(struct env *e)
{
	struct ps_run_val *v = calloc(1, sizeof(*v));
	struct ps_run_key k = { .flow = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
					  htons(SRV_PORT) },
				.isn = CISN, .b = 1 + PS_FAULT_RUN_B, .sub = 0 };
	uint32_t s0;

	fixture_teardown(e);
	if (!v || env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_RUN_REUSE) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		free(v);
		return;
	}
	s0 = e->sseq;
	cache_put(e, "foo", "bar");
	/* Redis owes the SET's reply: the GET is cut, its run queued after it */
	expect_pass(e, S(SETK("kkk", "v")), 0, 0);
	CHECK_EQ(cli_at(e, e->cseq, e->sseq, S(GETK("foo"))), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 1);
	e->cseq += L(GETK("foo"));
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	check_payload("the owed reply alone", S("+OK\r\n"));
	CHECK_EQ(rd32(out + OFF_TCP + 4), s0);
	CHECK(pkt_csum_ok(out, olen), "checksum");
	CHECK_EQ(stat_get(e, PS_ST_RUNS_TAKEN), 0);
	CHECK_EQ(stat_get(e, PS_ST_INS_SEGS), 0);
	/* the other run is still queued, for its own place */
	CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_runs), &k, v), 0);
	CHECK_EQ(v->state, PS_RUNQ_QUEUED);
	CHECK(!memcmp(v->rep, "$3\r\nzzz\r\n", 9), "the other run's bytes");
	free(v);
}

/* an entry under key's hash that holds other_key, with other_key's value:
 * what a colliding key's fill leaves (ps_cache is keyed by the hash) */
static void cache_put_colliding(struct env *e, const char *key, const char *other_key,
				const char *val)
{
	struct ps_cache_key k, o;
	struct ps_cache_val v;

	ps_cache_key_build(&k, key, strlen(key));
	ps_cache_key_build(&o, other_key, strlen(other_key));
	ps_cache_val_build(&v, val, strlen(val), 1, PS_FILL_USER);
	/* key's own put first: its bit in ps_present is set, as a fill of
	 * the colliding key would have set the same bit */
	CHECK_EQ(ps_cache_put(e->cache, e->present, &k, &v), 0);
	v.key = o;
	CHECK_EQ(bpf_map_update_elem(e->cache, &k.hash, &v, BPF_ANY), 0);
}

/*
 * ps_cache is keyed by the key's 64-bit hash; an entry found under the
 * hash that holds another key (a collision) is a miss wherever it is
 * looked up (cache_lookup, key_other): a single GET goes to Redis with
 * its frame untouched, two GETs alone and a GET before a SET are neither
 * answered nor cut. The reply fills the key's own entry over it, and
 * the GET is answered from that one.
 */
void t_cache_other_key(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v");
	const char gets[] = GETK("foo") GETK("baz");
	char got[64];

	cache_put_colliding(e, "foo", "zzz", "other");
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	CHECK(!cache_has(e, "foo", NULL, 0), "user space read another key's entry as foo's");
	/* the entry the reply fills holds foo */
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(cache_has(e, "foo", got, sizeof(got)) && !strcmp(got, "$3\r\nbar\r\n"),
	      "the fill did not store foo's entry holding foo");
	/* two GETs alone (assemble_many), each hash taken by another key */
	cache_put_colliding(e, "foo", "zzz", "other");
	cache_put_colliding(e, "baz", "zzz", "other");
	expect_pass(e, S(gets), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 3);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	expect_srv(e, S("$3\r\nbar\r\n$3\r\nqux\r\n"), 0, 0);
	/* a GET before a SET (cut_one's own lookup): not cut */
	cache_put_colliding(e, "foo", "zzz", "other");
	expect_pass(e, S(req), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 4);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 0);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 0);
	expect_srv(e, S("$3\r\nbar\r\n+OK\r\n"), 0, 0);
	/* foo's own entry (cache set writes the key into it) is its hit */
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 4);
}

static int present_bit(struct env *e, const char *key)
{
	struct ps_cache_key k;
	__u64 bit, w = 0;
	__u32 i;

	ps_cache_key_build(&k, key, strlen(key));
	i = ps_present_pos(k.hash, &bit);
	return !bpf_map_lookup_elem(e->present, &i, &w) && (w & bit);
}

/*
 * ps_present: a key whose bit is clear misses without ps_cache being
 * looked at, even with its entry there (a raw map update sets no bit);
 * the reply's fill sets the bit, and so does user space's put; a flush's
 * clear turns entries into misses (safe) until filled again.
 */
void t_cache_present(struct env *e)
{
	struct ps_cache_key k;
	struct ps_cache_val v;

	ps_cache_key_build(&k, "foo", 3);
	ps_cache_val_build(&v, "bar", 3, 1, PS_FILL_USER);
	v.key = k;
	CHECK_EQ(bpf_map_update_elem(e->cache, &k.hash, &v, BPF_ANY), 0);
	CHECK(!present_bit(e, "foo"), "a raw update set foo's bit");
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 0);
	/* the reply fills (cache_store), bit first */
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(present_bit(e, "foo"), "the fill set no bit");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	/* cleared (cache flush): the entry is there, the GET goes to Redis */
	CHECK_EQ(ps_present_clear(e->present), 0);
	CHECK(!present_bit(e, "foo") && cache_has(e, "foo", NULL, 0), "clear: bit or entry");
	/* the answer moved the offsets by its request and its reply */
	expect_pass(e, S(GET_FOO), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	expect_srv(e, S("$3\r\nbar\r\n"), sizeof(GET_FOO) - 1, 9);
	/* user space's put sets it */
	CHECK_EQ(ps_present_clear(e->present), 0);
	CHECK_EQ(cache_put(e, "foo", "baz"), 0);
	CHECK(present_bit(e, "foo"), "ps_cache_put set no bit");
	expect_answer(e, S(GET_FOO), S("$3\r\nbaz\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 2);
}

/*
 * The element reused, between a lookup and the read of its identity, for
 * a key of the same hash (PS_FAULT_REUSE_SAME_HASH: "zzz"'s whole entry
 * copied over it, the element left under the key's hash): the lookup
 * after the identity read finds it there and ENTRY_SAME passes it, so
 * only ENTRY_OF's comparison of the key it holds keeps another key's
 * value from the client: a single GET goes to Redis before its frame is
 * touched, GETs assembled for a segment of GETs alone miss, a GET cut_one
 * looked up goes to Redis (entry_moved each time).
 */
void t_cut_entry_same_hash(struct env *e)
{
	const char req[] = GETK("foo") SETK("kkk", "v");
	const char gets[] = GETK("foo") GETK("baz");

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_REUSE_SAME_HASH) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "zzz", "other");
	cache_put(e, "foo", "bar");
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 1);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	/* once emit_reply let the GET go on, its next lookup finds what is
	 * under foo's hash now, "zzz"'s entry: key_other */
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 1);
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	cache_put(e, "foo", "bar");
	cache_put(e, "baz", "qux");
	expect_pass(e, S(gets), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 3);
	CHECK_EQ(stat_get(e, PS_ST_FB_MISS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	expect_srv(e, S("$3\r\nbar\r\n$3\r\nqux\r\n"), 0, 0);
	cache_put(e, "foo", "bar");
	expect_pass(e, S(req), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 4);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 0);
	CHECK_EQ(stat_get(e, PS_ST_RUNS_QUEUED), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_KEY_OTHER), 1);
}
