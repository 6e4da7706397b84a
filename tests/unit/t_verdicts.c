// SPDX-License-Identifier: GPL-2.0
/*
 * t_verdicts.c - every verdict counted by name at its hook's one exit,
 * and a reply whose rewrite fails part way: dropped, never passed on.
 */
#include <string.h>
#include "fixture.h"
#include "cases.h"

/* one of each verdict, counted exactly (check_verdicts then sums them) */
void t_verdict_counts(struct env *e)
{
	struct pkt_spec udp = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				.daddr = SRV_IP, .sport = CLI_PORT, .dport = SRV_PORT,
				.proto = 17, .payload = "x", .payload_len = 1 };
	uint8_t buf[1600];
	size_t n;

	/* the handshake: SYN and ACK passed at XDP, the SYN-ACK at TC */
	CHECK_EQ(stat_get(e, PS_ST_PKTS), 2);
	CHECK_EQ(stat_get(e, PS_ST_PASSED), 2);
	CHECK_EQ(stat_get(e, PS_ST_TC_PKTS), 1);
	CHECK_EQ(stat_get(e, PS_ST_TC_OK), 1);
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_TX), 1);
	/* data past a hole: dropped */
	e->cseq += 5;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->cseq -= 5;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 1);
	/* not ours: passed untouched, counted passed all the same */
	n = pkt_build(buf, sizeof(buf), &udp);
	CHECK_EQ(xdp_run(e, buf, n, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_PASSED), 3);
	CHECK_EQ(stat_get(e, PS_ST_PKTS), 5);
	CHECK_EQ(stat_get(e, PS_ST_TX) + stat_get(e, PS_ST_DROPPED) +
		 stat_get(e, PS_ST_REDIRECTED), 2);
	/* the kernel's reply to nothing: TC passes it */
	len = srv_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(stat_get(e, PS_ST_TC_OK), 2);
	CHECK_EQ(stat_get(e, PS_ST_TC_SHOT) + stat_get(e, PS_ST_TC_REDIRECT), 0);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 0);
	check_verdicts(e);
}

/* A GET whose reply cannot be completed once the frame has grown: the
 * frame is dropped (the client sends the GET again), nothing accounted. */
void t_emit_broken(struct env *e)
{
	struct ps_flow f;

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_EMIT_ONE) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "foo", "bar");
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 1);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 1);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_REPLIES), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, 0);
	CHECK_EQ(f.injected, 0);
	CHECK_EQ(f.cli_nxt, e->cseq);
	CHECK(!(f.flags & PS_F_ANSWERED), "a dropped reply marked answered");
	/* its retransmission meets the same fault: dropped again, the flow
	 * still where it was */
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_nxt, e->cseq);
	/* what is not answered still passes, translated */
	expect_pass(e, S("*1\r\n$4\r\nPING\r\n"), 0, 0);
}

/* retrans mode: the second duplicate ACK at a kept reply re-sends it in
 * place of the ACK; when that rewrite fails the ACK is dropped, not
 * handed to the kernel as a half-written reply (it went on to be
 * translated and passed before: rtx_dupack's failure read as "nothing
 * sent"). */
void t_emit_broken_resend(struct env *e)
{
	uint32_t s1, ss;

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_RETRANS, PS_CFG_FILL, PS_FAULT_EMIT_REP) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "foo", "bar");
	s1 = e->sseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 1);
	/* two ACKs stuck at the reply's start */
	ss = e->sseq;
	e->sseq = s1;
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	e->sseq = ss;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 1);
	CHECK_EQ(stat_get(e, PS_ST_RTX_DUPACK), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 1);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 1);
}

/* A cache entry reused for another key while its reply is copied out (an
 * LRU element is reused at once, xdp/helpers.h): a single GET's frame is
 * dropped (the client sends the GET again), several GETs are a miss. */
void t_entry_reused(struct env *e)
{
	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_REUSE) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "foo", "bar");
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_EMIT_BROKEN), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	/* two GETs: assembled in scratch, the reused entry a miss */
	expect_pass(e, S(GET_FOO GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_MISS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
}

/* retrans mode keeps the bytes it sent, not what the entry holds after:
 * an entry reused right after the answer (PS_FAULT_REUSE_LATE scribbles
 * on it) must not change what the retransmitted request gets again. */
void t_rtx_kept_bytes(struct env *e)
{
	uint32_t c1, s1, ss;

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_RETRANS, PS_CFG_FILL, PS_FAULT_REUSE_LATE) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		return;
	}
	cache_put(e, "foo", "bar");
	c1 = e->cseq;
	s1 = e->sseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 1);
	/* the request again, its reply unacked */
	ss = e->sseq;
	e->cseq = c1;
	e->sseq = s1;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->cseq += sizeof(GET_FOO) - 1;
	e->sseq = ss;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(stat_get(e, PS_ST_RTX_REQ), 1);
	CHECK(olen >= 9 && !memcmp(out + olen - 9, "$3\r\nbar\r\n", 9),
	      "the re-sent reply is not the bytes first sent");
	CHECK(pkt_csum_ok(out, olen), "re-sent reply checksum");
}
