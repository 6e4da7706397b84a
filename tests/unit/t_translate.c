// SPDX-License-Identifier: GPL-2.0
/*
 * t_translate.c - sequence space translation: seq/ack of passed segments
 * and the kernel's replies, the offset history, the client's SACK blocks.
 */
#include <string.h>
#include "fixture.h"
#include "cases.h"

void t_translation(struct env *e)
{
	const uint32_t C = sizeof(GET_FOO) - 1, I = 9;
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* a miss goes to the kernel, shifted into its sequence space */
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"), C, I);
	CHECK_EQ(stat_get(e, PS_ST_GET_MISSES), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 1);
	/* its reply comes back shifted into the client's */
	expect_srv(e, S("$-1\r\n"), C, I);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(f.ksnd_nxt, SISN + 1 + 5);
	/* and a hit after that continues after the kernel's bytes */
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, 2 * C);
	CHECK_EQ(f.injected, 2 * I);
	/* history: the kernel's "$-1" retransmitted maps with the old offset */
	e->kseq -= 5;
	e->sseq -= 5;
	len = srv_seg(e, in, S("$-1\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), SISN + 1 + I);
}

void t_sack_translation(struct env *e)
{
	const uint32_t I = 9;
	uint8_t opt[24] = { 1, 1, 5, 10 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_ACK, .window = 502,
			      .tcpopt = opt, .tcpopt_len = 12 };
	uint32_t l, r;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* a SACK block for server bytes after the injected reply */
	l = e->sseq + 100;
	r = e->sseq + 200;
	opt[4] = l >> 24; opt[5] = l >> 16; opt[6] = l >> 8; opt[7] = l & 0xff;
	opt[8] = r >> 24; opt[9] = r >> 16; opt[10] = r >> 8; opt[11] = r & 0xff;
	s.seq = e->cseq;
	s.ack = e->sseq;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 24), l - I);
	CHECK_EQ(rd32(out + OFF_TCP + 28), r - I);
	CHECK(pkt_csum_ok(out, olen), "SACK translation checksum");
}
