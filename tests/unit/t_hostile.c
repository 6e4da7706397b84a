// SPDX-License-Identifier: GPL-2.0
/*
 * t_hostile.c - segments the kernel refuses or reads differently (issue
 * 19): a stray RST or a duplicate SYN keeps the flow, a bad checksum is
 * passed untouched with nothing learnt, PAWS / unsent ACK / URG are never
 * answered, the first reply advertises the window the kernel would, a
 * first fragment is translated, nothing after QUIT is answered, and a
 * finished flow still translates its late FIN and TIME_WAIT's ACK.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"

#define GET_LEN (sizeof(GET_FOO) - 1)
#define BAR "$3\r\nbar\r\n"
#define BAR_LEN (sizeof(BAR) - 1)
/* the fixture's data segments: NOP NOP TS, the payload after it */
#define OFF_PL_TS (OFF_TCP + 32)

/* the frame passed with nothing but seq and ack (and the checksum)
 * rewritten into kernel space */
static void check_translated(uint32_t kseq, uint32_t kack)
{
	CHECK_EQ(olen, len);
	CHECK_EQ(rd32(out + OFF_TCP + 4), kseq);
	CHECK_EQ(rd32(out + OFF_TCP + 8), kack);
	CHECK(pkt_csum_ok(out, olen), "translated checksum wrong");
	CHECK(!memcmp(out, in, OFF_TCP + 4) &&
	      !memcmp(out + OFF_TCP + 12, in + OFF_TCP + 12, 4) &&
	      !memcmp(out + OFF_TCP + 18, in + OFF_TCP + 18, len - OFF_TCP - 18),
	      "passed frame changed beyond seq/ack/csum");
}

/* Class 2: an RST not at the next byte and a duplicate SYN keep the flow;
 * the kernel's next reply still reaches the client at the right seq. */
void t_stray_rst_syn(struct env *e)
{
	uint8_t opt[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0,
			    1, 3, 3, 7 };
	struct pkt_spec syn = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
				.dport = SRV_PORT, .seq = CISN, .flags = TF_SYN,
				.window = 64240, .tcpopt = opt, .tcpopt_len = 20 };
	struct ps_flow f;
	int v;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	/* far outside the window: Linux ignores it */
	e->cseq += 1000000;
	len = cli_seg(e, in, "", 0, TF_RST);
	e->cseq -= 1000000;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq + 1000000 - GET_LEN, e->sseq); /* no ACK flag */
	/* in the window, not at the next byte: a challenge ACK */
	e->cseq += 100;
	len = cli_seg(e, in, "", 0, TF_RST | TF_ACK);
	e->cseq -= 100;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq + 100 - GET_LEN, e->sseq - BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_RST_KEPT), 2);
	/* a late copy of the original SYN: the flow stays as it is */
	len = pkt_build(in, sizeof(in), &syn);
	v = xdp_run(e, in, len, out, &olen);
	CHECK_EQ(v, XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "SYN changed (its seq is before every run)");
	CHECK_EQ(stat_get(e, PS_ST_SYN_KEPT), 1);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 1);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_EST);
	CHECK_EQ(f.consumed, GET_LEN);
	CHECK_EQ(f.injected, BAR_LEN);
	/* the kernel still lands where the client expects it */
	expect_pass(e, S("*1\r\n$4\r\nPING\r\n"), GET_LEN, BAR_LEN);
	expect_srv(e, S("+PONG\r\n"), GET_LEN, BAR_LEN);
	/* the RST at the next byte resets: done, no TIME_WAIT (kept until
	 * idle: flow.h, flow_reset) */
	len = cli_seg(e, in, "", 0, TF_RST);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(f.flags & PS_F_SRV_TW, 0);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 1);
}

/* Class 3: a GET and a SET whose TCP checksum is wrong pass untouched and
 * move nothing; the SET's good retransmission is parsed and invalidates;
 * a bad IP header checksum the same. */
void t_bad_csum(struct env *e)
{
	static const char set[] = "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbaz\r\n";
	struct ps_flow before, f;
	char val[64];

	cache_put(e, "foo", "bar");
	cache_put(e, "fop", "xxx");
	flow_get(e, &before);
	/* "foo" -> "fop" in flight: the kernel drops it, so must we */
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	in[OFF_PL_TS + 19] ^= 0x1f;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "bad-checksum GET changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_CSUM), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	/* a corrupted SET: untouched, the parser and cli_nxt stay */
	len = cli_seg(e, in, S(set), TF_PSH | TF_ACK);
	in[OFF_PL_TS + 18] ^= 0x01; /* "foo" -> "fno" */
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "bad-checksum SET changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_CSUM), 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_nxt, before.cli_nxt);
	CHECK_EQ(f.rq.state, before.rq.state);
	CHECK_EQ(f.ts_recent, before.ts_recent);
	CHECK_EQ(f.pending, 0);
	CHECK(cache_has(e, "foo", val, sizeof(val)) == 1, "foo invalidated by a SET that never reached Redis");
	/* its good retransmission is new bytes: parsed, foo invalidated */
	expect_pass(e, S(set), 0, 0);
	CHECK(cache_has(e, "foo", val, sizeof(val)) != 1, "foo still cached after the SET");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 1);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	/* a bad IP header checksum: the same */
	len = cli_seg(e, in, "*2\r\n$3\r\nGET\r\n$3\r\nfop\r\n", GET_LEN, TF_PSH | TF_ACK);
	in[ETH_LEN + 8] = 1; /* TTL 1 */
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "bad-IP-checksum GET changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_CSUM), 3);
	/* a pure ACK with a bad checksum moves no mirror */
	flow_get(e, &before);
	len = cli_seg(e, in, "", 0, TF_ACK);
	in[OFF_TCP + 14] ^= 0x40; /* its window */
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "bad-checksum ACK changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_CSUM), 4);
	flow_get(e, &f);
	CHECK_EQ(f.cli_wnd_raw, before.cli_wnd_raw);
	CHECK_EQ(f.ts_recent, before.ts_recent);
	/* and a good GET is answered: nothing was lost */
	expect_answer(e, "*2\r\n$3\r\nGET\r\n$3\r\nfop\r\n", GET_LEN, S("$3\r\nxxx\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
}

/* Class 3: PAWS. A pure ACK whose TSval went back is passed translated and
 * teaches nothing; a GET the same is not answered and hands the flow over
 * (our ts_recent is not the kernel's: its writes could be unseen). */
void t_paws(struct env *e)
{
	struct ps_flow f;
	uint32_t ts;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	ts = e->tsval;
	e->tsval = ts - 10;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq - GET_LEN, e->sseq - BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_FB_PAWS), 1);
	flow_get(e, &f);
	CHECK_EQ(f.ts_recent, ts - 1);
	CHECK_EQ(f.flags & PS_F_UNTRUSTED, 0);
	/* one tick back is reordering Linux allows */
	e->tsval = ts - 2;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_FB_PAWS), 1);
	/* a GET that fails PAWS */
	e->tsval = ts - 10;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq - GET_LEN, e->sseq - BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_FB_PAWS), 2);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 1);
	flow_get(e, &f);
	CHECK_EQ(f.untrusted_reason, PS_UT_KDROP);
	CHECK_EQ(f.flags & PS_F_REQ_DESYNC, PS_F_REQ_DESYNC);
	CHECK_EQ(f.cli_nxt, e->cseq);
}

/* Class 3: a GET whose ACK covers data the server never sent, one without
 * ACK, one acking before the client's window: never answered. */
void t_ack_unsent(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	/* a pure ACK of unsent data teaches nothing (srv_una stays) */
	e->sseq += 5000;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq, e->sseq);
	CHECK_EQ(stat_get(e, PS_ST_FB_ACK), 1);
	flow_get(e, &f);
	CHECK_EQ(f.srv_una, SISN + 1);
	CHECK_EQ(f.flags & PS_F_UNTRUSTED, 0);
	/* a GET acking it */
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->sseq -= 5000;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq, e->sseq + 5000);
	CHECK_EQ(stat_get(e, PS_ST_FB_ACK), 2);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	flow_get(e, &f);
	CHECK_EQ(f.untrusted_reason, PS_UT_KDROP);
	CHECK_EQ(f.cli_nxt, e->cseq);
}

/* Class 3: a GET without the ACK flag (Linux drops it on an established
 * connection), and one beyond the kernel's receive window. */
void t_no_ack_rwnd(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	len = cli_seg(e, in, S(GET_FOO), TF_PSH);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_FB_ACK), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	flow_get(e, &f);
	CHECK_EQ(f.untrusted_reason, PS_UT_KDROP);
	/* the window: learnt from the SYN-ACK, never scaled */
	CHECK_EQ(f.rwnd_end, CISN + 1 + SRV_WIN);
}

/* Class 5: URG. Linux takes the urgent byte out of Redis's stream. */
void t_urg(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK | 0x20);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq - GET_LEN, e->sseq - BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_FB_URG), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	flow_get(e, &f);
	CHECK_EQ(f.untrusted_reason, PS_UT_URG);
	CHECK_EQ(f.flags & PS_F_REQ_DESYNC, PS_F_REQ_DESYNC);
}

/* Class 8: the first reply advertises the SYN-ACK's window >> wscale (its
 * field is never scaled), then the kernel's last window field. */
void t_first_window(struct env *e)
{
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	CHECK_EQ(rd16(out + OFF_TCP + 14), SRV_WIN >> 7);
	CHECK_EQ(e->swin, SRV_WIN >> 7);
	expect_pass(e, S("*1\r\n$4\r\nPING\r\n"), GET_LEN, BAR_LEN);
	expect_srv(e, S("+PONG\r\n"), GET_LEN, BAR_LEN);
	expect_answer(e, S(GET_FOO), S(BAR));
	CHECK_EQ(rd16(out + OFF_TCP + 14), SRV_WIN);
}

/* Class 9: the first fragment of a tracked flow's segment is translated
 * (its checksum updated incrementally: right for the reassembled one) and
 * the flow handed to the kernel; a later fragment is untouched. */
void t_frag_translated(struct env *e)
{
	uint8_t opt[12] = { 1, 1, 8, 10 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_PSH | TF_ACK, .window = 502,
			      .tcpopt = opt, .tcpopt_len = 12,
			      .payload = "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n", .payload_len = 22,
			      .frag_off = 0x2000 };
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	s.seq = e->cseq;
	s.ack = e->sseq;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(e->cseq - GET_LEN, e->sseq - BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_FB_FRAG), 1);
	/* the write is unseen: the cache flushed (its generation moved) */
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 1);
	flow_get(e, &f);
	CHECK_EQ(f.untrusted_reason, PS_UT_FRAG);
	/* the rest of it: no TCP header, untouched */
	s.frag_off = 0x0004;
	s.tcpopt_len = 0;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "later fragment changed");
	CHECK_EQ(stat_get(e, PS_ST_FRAGMENTS), 2);
}

/* Class 10: nothing after QUIT is answered; a finished flow (the server
 * closed first: TIME_WAIT) still translates a retransmitted FIN and the
 * kernel's ACK of it; a SYN TIME_WAIT would refuse keeps it, a later one
 * opens a new flow. */
void t_quit_time_wait(struct env *e)
{
	uint8_t opt[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0,
			    1, 3, 3, 7 };
	struct pkt_spec syn = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
				.dport = SRV_PORT, .seq = CISN, .flags = TF_SYN,
				.window = 64240, .tcpopt = opt, .tcpopt_len = 20 };
	struct ps_flow f;
	uint32_t fin_seq;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	expect_pass(e, S("*1\r\n$4\r\nQUIT\r\n"), GET_LEN, BAR_LEN);
	expect_srv(e, S("+OK\r\n"), GET_LEN, BAR_LEN);
	expect_pass(e, S(GET_FOO), GET_LEN, BAR_LEN);
	CHECK_EQ(stat_get(e, PS_ST_FB_QUIT), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	flow_get(e, &f);
	CHECK_EQ(f.flags & PS_F_QUIT, PS_F_QUIT);
	/* Redis closes first */
	len = srv_seg(e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	e->kseq++;
	e->sseq++;
	/* the client's FIN */
	fin_seq = e->cseq;
	len = cli_seg(e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(fin_seq - GET_LEN, e->sseq - BAR_LEN);
	e->cseq++;
	e->kack++;
	/* the kernel's last ACK: the flow is done, kept */
	len = srv_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kack + GET_LEN);
	flow_get(e, &f);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(f.flags & PS_F_SRV_TW, PS_F_SRV_TW);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 1);
	/* that ACK was lost: the client's FIN again, still translated */
	e->cseq = fin_seq;
	len = cli_seg(e, in, "", 0, TF_FIN | TF_ACK);
	e->cseq++;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	check_translated(fin_seq - GET_LEN, e->sseq - BAR_LEN);
	/* TIME_WAIT's ACK of it, translated */
	len = srv_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->kseq + BAR_LEN);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kack + GET_LEN);
	CHECK(pkt_csum_ok(out, olen), "TC checksum wrong");
	CHECK_EQ(stat_get(e, PS_ST_TIME_WAIT), 2);
	/* a SYN before the old stream with an older TSval: TIME_WAIT ACKs
	 * it, the flow stays */
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_SYN_KEPT), 1);
	flow_get(e, &f);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	/* beyond it: a new connection */
	syn.seq = e->cseq + 100000;
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "new SYN changed");
	flow_get(e, &f);
	CHECK_EQ(f.state, PS_FLOW_SYN);
	CHECK_EQ(f.cli_isn, e->cseq + 100000);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 2);
}

/* a frame cut to its first 16 TCP bytes, as a tiny first fragment (MF):
 * IP tot_len and header checksum fixed */
static size_t tiny_first_frag(uint8_t *frame)
{
	uint32_t sum = 0;

	frame[ETH_LEN + 2] = 0;
	frame[ETH_LEN + 3] = IP_LEN + 16;
	frame[ETH_LEN + 10] = frame[ETH_LEN + 11] = 0;
	for (int i = 0; i < IP_LEN; i += 2)
		sum += rd16(frame + ETH_LEN + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	frame[ETH_LEN + 10] = sum >> 8;
	frame[ETH_LEN + 11] = sum & 0xff;
	return OFF_TCP + 16;
}

/* Class 9, a tiny first fragment: its TCP checksum field is in the next
 * fragment, so its seq/ack cannot be translated in place; a tracked
 * flow's is dropped (never passed with client-space numbers), nothing
 * learnt; another flow's passes untouched. */
void t_frag_short(struct env *e)
{
	uint8_t opt[12] = { 1, 1, 8, 10 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_PSH | TF_ACK, .window = 502,
			      .tcpopt = opt, .tcpopt_len = 12,
			      .payload = GET_FOO, .payload_len = GET_LEN,
			      .frag_off = 0x2000 };
	struct ps_flow f0, f1;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S(BAR));
	flow_get(e, &f0);
	s.seq = e->cseq;
	s.ack = e->sseq;
	pkt_build(in, sizeof(in), &s);
	len = tiny_first_frag(in);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_FB_FRAG), 1);
	CHECK_EQ(stat_get(e, PS_ST_FRAGMENTS), 1);
	flow_get(e, &f1);
	CHECK_EQ(f1.cli_nxt, f0.cli_nxt);
	CHECK_EQ(f1.flags, f0.flags);
	/* the same from a port prestack does not track: untouched */
	s.sport = CLI_PORT + 1;
	pkt_build(in, sizeof(in), &s);
	len = tiny_first_frag(in);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "untracked tiny fragment changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_FRAG), 1);
	/* the segment sent again whole is answered from the flow's place */
	expect_answer(e, S(GET_FOO), S(BAR));
}
