// SPDX-License-Identifier: GPL-2.0
/*
 * t_seqadj.c - the offset history (xdp/seqadj.h) with exact numbers:
 * keep-alive and window probes after answered requests, ACKs and SACK
 * edges of a client with several answered runs outstanding, the kernel's
 * retransmissions and SACK blocks across several correction points, and
 * answering stopping when the list is full.
 *
 * The runs are built by rounds of: a GET answered at XDP (22 client bytes
 * consumed, 9 injected), a SET passed to the kernel (27 bytes), the
 * kernel's +OK (5 bytes). The client's ACK stays where it was before the
 * first round (a pipelining client that has read nothing yet), so no
 * point can retire.
 */
#include <string.h>
#include "fixture.h"
#include "cases.h"

#define SET_X "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n"
#define GC (sizeof(GET_FOO) - 1) /* 22 */
#define GI 9u                    /* "$3\r\nbar\r\n" */
#define SC (sizeof(SET_X) - 1)   /* 27 */
#define OK 5u                    /* "+OK\r\n" */
#define ROUNDS_MAX PS_SEQADJ_POINTS

static int before32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* where each round's pieces are, in both spaces */
struct rounds {
	uint32_t ack;                 /* the client's ACK throughout */
	uint32_t c[ROUNDS_MAX];       /* client seq of round j's GET */
	uint32_t s[ROUNDS_MAX];       /* client-space seq of its reply */
	uint32_t kset[ROUNDS_MAX];    /* kernel seq of its SET (rcv_nxt space) */
	uint32_t kok[ROUNDS_MAX];     /* kernel seq of its +OK (snd space) */
};

/* A client segment at cseq acking `ack` (not e->sseq). */
static size_t cli_seg_ack(struct env *e, uint8_t *buf, uint32_t ack,
			  const char *pl, size_t plen, uint8_t flags)
{
	uint32_t sseq = e->sseq;
	size_t n;

	e->sseq = ack;
	n = cli_seg(e, buf, pl, plen, flags);
	e->sseq = sseq;
	return n;
}

/* A pure ACK without timestamps, with SACK blocks (client space). */
static size_t cli_ack_sack(struct env *e, uint8_t *buf, uint32_t ack,
			   const uint32_t *edges, int nblocks)
{
	uint8_t opt[40] = { 1, 1, 5 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = e->cseq, .ack = ack,
			      .flags = TF_ACK, .window = 502, .tcpopt = opt };
	int i;

	opt[3] = (uint8_t)(2 + 8 * nblocks);
	for (i = 0; i < 2 * nblocks; i++) {
		opt[4 + 4 * i] = edges[i] >> 24;
		opt[5 + 4 * i] = edges[i] >> 16;
		opt[6 + 4 * i] = edges[i] >> 8;
		opt[7 + 4 * i] = edges[i] & 0xff;
	}
	s.tcpopt_len = (4 + 8 * (size_t)nblocks + 3) & ~(size_t)3;
	if (nblocks == 0)
		s.tcpopt = NULL, s.tcpopt_len = 0;
	return pkt_build(buf, 1600, &s);
}

/* n rounds with the client's ACK held at r->ack: each GET answered at the
 * right seq, each SET reaching the kernel at its rcv_nxt acking what the
 * kernel sent before the first reply, each +OK landing after its round's
 * reply. */
static void build_rounds(struct env *e, struct rounds *r, int n)
{
	struct ps_flow f;
	int j;

	cache_put(e, "foo", "bar");
	r->ack = e->sseq;
	for (j = 0; j < n && j < ROUNDS_MAX; j++) {
		r->c[j] = e->cseq;
		r->s[j] = e->sseq;
		len = cli_seg_ack(e, in, r->ack, S(GET_FOO), TF_PSH | TF_ACK);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
		CHECK_EQ(rd32(out + OFF_TCP + 4), r->s[j]);
		CHECK_EQ(rd32(out + OFF_TCP + 8), r->c[j] + GC);
		e->cseq += GC;
		e->sseq += GI;
		r->kset[j] = e->kack;
		len = cli_seg_ack(e, in, r->ack, S(SET_X), TF_PSH | TF_ACK);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
		CHECK_EQ(rd32(out + OFF_TCP + 4), r->kset[j]);
		CHECK_EQ(rd32(out + OFF_TCP + 8), SISN + 1);
		CHECK(pkt_csum_ok(out, olen), "SET %d checksum", j);
		e->cseq += SC;
		e->kack += SC;
		r->kok[j] = e->kseq;
		CHECK_EQ(flow_get(e, &f), 0);
		expect_srv(e, S("+OK\r\n"), f.consumed, f.injected);
	}
}

/* A pure ACK (optionally a probe at `seq`) through XDP: its kernel seq
 * and ack. */
static void xdp_ack(struct env *e, uint32_t seq, uint32_t ack, const char *pl,
		    size_t plen, uint32_t want_seq, uint32_t want_ack)
{
	uint32_t cseq = e->cseq;

	e->cseq = seq;
	len = cli_seg_ack(e, in, ack, pl, plen, plen ? TF_PSH | TF_ACK : TF_ACK);
	e->cseq = cseq;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len);
	CHECK_EQ(rd32(out + OFF_TCP + 4), want_seq);
	CHECK_EQ(rd32(out + OFF_TCP + 8), want_ack);
	CHECK(pkt_csum_ok(out, olen), "probe checksum");
}

/*
 * Keep-alive after one answered GET and after several: the probe at
 * snd_una - 1 (with or without the garbage byte) must reach the kernel at
 * its rcv_nxt - 1, old, so that it ACKs; the kernel's ACK then acks the
 * client's next seq.
 */
void t_keepalive_probe(struct env *e)
{
	struct rounds r;
	struct ps_flow f;
	uint32_t cnext;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* before the client acked the reply: the point is held */
	xdp_ack(e, e->cseq - 1, SISN + 1, NULL, 0, CISN, SISN + 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, 1);
	CHECK_EQ(f.cli_adj.pt[0].pos, CISN + 1 + GC);
	CHECK_EQ(f.cli_adj.pt[0].off, GC);
	/* acking it (the probe of an idle pooled connection): retired, the
	 * same seq; the ack is at the run's end, the kernel's snd_nxt */
	xdp_ack(e, e->cseq - 1, e->sseq, NULL, 0, CISN, SISN + 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, 0);
	CHECK_EQ(f.cli_adj.base, GC);
	CHECK_EQ(f.srv_adj.n, 0);
	CHECK_EQ(f.srv_adj.base, GI);
	/* BSD's keep-alive carries one garbage byte: old too, [rcv_nxt-1, rcv_nxt) */
	xdp_ack(e, e->cseq - 1, e->sseq, "x", 1, CISN, SISN + 1);
	/* the kernel's (dup) ACK acks the client's next seq */
	len = srv_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->sseq);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 0);

	/* three more answered runs, the client's ACK lagging behind all */
	build_rounds(e, &r, 3);
	cnext = e->cseq;
	/* the last thing sent was a SET (to the kernel): the probe is its
	 * last byte, one below the kernel's rcv_nxt */
	xdp_ack(e, cnext - 1, r.ack, NULL, 0, e->kack - 1, SISN + 1);
	/* a GET answered last: the probe is inside its run */
	len = cli_seg_ack(e, in, r.ack, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	e->cseq += GC;
	e->sseq += GI;
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, 4);
	xdp_ack(e, e->cseq - 1, r.ack, NULL, 0, e->kack - 1, SISN + 1);
	xdp_ack(e, e->cseq - 1, r.ack, "x", 1, e->kack - 1, SISN + 1);
	/* and the kernel's answer to it */
	len = srv_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 0);
}

/*
 * Zero-window probes: Linux's is the keep-alive's shape (snd_una - 1, no
 * data); others send the next byte, which is new data at rcv_nxt. The
 * kernel's own probe at its snd_una - 1 after an injected reply lands
 * below the client's rcv_nxt.
 */
void t_zero_window_probe(struct env *e)
{
	uint32_t s0 = e->sseq;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* the kernel's window is closed: the client probes */
	xdp_ack(e, e->cseq - 1, s0, NULL, 0, CISN, SISN + 1);
	xdp_ack(e, e->cseq, e->sseq, "*", 1, CISN + 1, SISN + 1);
	/* the kernel's probe: snd_una - 1, the injected point retired (the
	 * client acked the reply): inside the run, below the client's rcv_nxt */
	len = srv_seg_at(e, in, 1600, SISN, "", 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), SISN + GI);
	CHECK(before32(rd32(out + OFF_TCP + 4), e->sseq), "kernel probe not old");
}

/*
 * n answered runs outstanding: every ACK and SACK edge, at each run's
 * start, inside it, at its end, inside the kernel's bytes after it,
 * maps to what the kernel sent before (the old one-level history sent
 * the second run's acks before the server's ISN).
 */
static void acks_outstanding(struct env *e, int n)
{
	struct rounds r;
	struct ps_flow f;
	uint32_t edges[6], k;
	int j;

	build_rounds(e, &r, n);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, (uint32_t)n);
	CHECK_EQ(f.srv_adj.n, (uint32_t)n);
	/* SACK blocks first (the ACK still at the start): one from inside
	 * reply 1 to the end of +OK 1, one wholly inside the last reply, the
	 * last +OK */
	edges[0] = r.s[1] + 3;
	edges[1] = r.s[1] + GI + OK;
	edges[2] = r.s[n - 1] + 2;
	edges[3] = r.s[n - 1] + 7;
	edges[4] = r.s[n - 1] + GI;
	edges[5] = r.s[n - 1] + GI + OK;
	len = cli_ack_sack(e, in, r.ack, edges, 3);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), SISN + 1);
	CHECK_EQ(rd32(out + OFF_TCP + 24), r.kok[0] + OK);
	CHECK_EQ(rd32(out + OFF_TCP + 28), r.kok[1] + OK);
	CHECK_EQ(rd32(out + OFF_TCP + 32), r.kok[n - 1]);
	CHECK_EQ(rd32(out + OFF_TCP + 36), r.kok[n - 1]);
	CHECK_EQ(rd32(out + OFF_TCP + 40), r.kok[n - 1]);
	CHECK_EQ(rd32(out + OFF_TCP + 44), r.kok[n - 1] + OK);
	CHECK(pkt_csum_ok(out, olen), "SACK checksum");
	/* then the ACK moving through every run */
	for (j = 0; j < n; j++) {
		k = r.kok[j];   /* the kernel's position of reply j */
		len = cli_ack_sack(e, in, r.s[j] + 4, NULL, 0);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
		CHECK_EQ(rd32(out + OFF_TCP + 8), k);
		len = cli_ack_sack(e, in, r.s[j] + GI, NULL, 0);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
		CHECK_EQ(rd32(out + OFF_TCP + 8), k);
		len = cli_ack_sack(e, in, r.s[j] + GI + 2, NULL, 0);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
		CHECK_EQ(rd32(out + OFF_TCP + 8), k + 2);
		len = cli_ack_sack(e, in, r.s[j] + GI + OK, NULL, 0);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
		CHECK_EQ(rd32(out + OFF_TCP + 8), k + OK);
		CHECK(pkt_csum_ok(out, olen), "ACK %d checksum", j);
	}
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.ksnd_una, e->kseq);
	/* all acked: every point retired, both directions */
	CHECK_EQ(f.srv_adj.n, 0);
	CHECK_EQ(f.srv_adj.base, GI * (uint32_t)n);
	CHECK_EQ(f.cli_adj.n, 0);
	CHECK_EQ(f.cli_adj.base, GC * (uint32_t)n);
}

void t_acks_outstanding_2(struct env *e) { acks_outstanding(e, 2); }
void t_acks_outstanding_3(struct env *e) { acks_outstanding(e, 3); }
void t_acks_outstanding_4(struct env *e) { acks_outstanding(e, PS_SEQADJ_POINTS); }

/*
 * The kernel retransmits each +OK while every run is outstanding: each
 * lands where the client expects it, between its round's reply and the
 * next round's; its ACK is held at the last answered request (guarded's
 * ACK hold). A kernel SACK block of a SET maps to that SET's client bytes.
 */
void t_kernel_rtx_points(struct env *e)
{
	uint8_t opt[12] = { 1, 1, 5, 10 };
	struct pkt_spec s = { .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			      .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			      .flags = TF_ACK, .window = SRV_WIN, .tcpopt = opt,
			      .tcpopt_len = 12 };
	struct rounds r;
	uint32_t l, rr;
	int j;

	build_rounds(e, &r, 4);
	for (j = 3; j >= 0; j--) {
		len = srv_seg_at(e, in, 1600, r.kok[j], S("+OK\r\n"), TF_PSH | TF_ACK);
		CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
		CHECK_EQ(rd32(out + OFF_TCP + 4), r.s[j] + GI);
		CHECK_EQ(rd32(out + OFF_TCP + 8), r.c[3]);
		CHECK(pkt_csum_ok(out, olen), "retransmission %d checksum", j);
	}
	CHECK_EQ(stat_get(e, PS_ST_ACK_HELD), 4);
	/* a D-SACK of SET 1 (kernel space): its right edge is GET 2's kernel
	 * position, which (as an ack there does) covers the answered GET 2 */
	l = r.kset[1];
	rr = r.kset[1] + SC;
	opt[4] = l >> 24; opt[5] = l >> 16; opt[6] = l >> 8; opt[7] = l & 0xff;
	opt[8] = rr >> 24; opt[9] = rr >> 16; opt[10] = rr >> 8; opt[11] = rr & 0xff;
	s.seq = e->kseq;
	s.ack = e->kack;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->sseq);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);
	CHECK_EQ(rd32(out + OFF_TCP + 24), r.c[1] + GC);
	CHECK_EQ(rd32(out + OFF_TCP + 28), r.c[2] + GC);
	CHECK(pkt_csum_ok(out, olen), "kernel SACK checksum");
}

/*
 * A fifth non-adjacent run while four are outstanding would push out a
 * point the client can still ack before: the GET goes to the kernel
 * (fb_history); once the client acks, the points retire and answering
 * resumes. A run that touches the newest one needs no point.
 */
void t_history_full(struct env *e)
{
	struct rounds r;
	struct ps_flow f;

	build_rounds(e, &r, PS_SEQADJ_POINTS);
	len = cli_seg_ack(e, in, r.ack, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->kack);
	CHECK_EQ(rd32(out + OFF_TCP + 8), SISN + 1);
	CHECK_EQ(stat_get(e, PS_ST_FB_HISTORY), 1);
	e->cseq += GC;
	e->kack += GC;
	/* Redis answers it */
	expect_srv(e, S("$3\r\nbar\r\n"), GC * PS_SEQADJ_POINTS, GI * PS_SEQADJ_POINTS);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(f.cli_adj.n, PS_SEQADJ_POINTS);
	/* the client reads everything */
	len = cli_ack_sack(e, in, e->sseq, NULL, 0);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kseq);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, 0);
	CHECK_EQ(f.srv_adj.n, 0);
	/* answered again, and the next one touches it: still one point */
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	len = cli_seg_ack(e, in, e->sseq - GI, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->sseq);
	e->cseq += GC;
	e->sseq += GI;
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_adj.n, 1);
	CHECK_EQ(f.cli_adj.pt[0].pos, e->cseq);
	CHECK_EQ(f.cli_adj.pt[0].off, GC * (PS_SEQADJ_POINTS + 2));
	CHECK_EQ(f.srv_adj.n, 1);
	CHECK_EQ(f.srv_adj.pt[0].pos, e->sseq);
	CHECK_EQ(f.srv_adj.pt[0].off, GI * (PS_SEQADJ_POINTS + 2));
	CHECK_EQ(stat_get(e, PS_ST_FB_HISTORY), 1);
}
