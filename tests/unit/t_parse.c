// SPDX-License-Identifier: GPL-2.0
/*
 * t_parse.c - parsing: frames that are not ours, malformed headers,
 * fragments and IP options pass untouched.
 */
#include <stddef.h>
#include <string.h>
#include "fixture.h"
#include "cases.h"

void t_not_ours(struct env *e)
{
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = 80, .seq = 1, .flags = TF_PSH | TF_ACK,
			      .payload = GET_FOO, .payload_len = sizeof(GET_FOO) - 1 };
	uint8_t v6[80] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60 };
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06 };
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "port 80 frame changed");
	s.dport = SRV_PORT;
	s.proto = 17; /* UDP to 6379 */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "UDP frame changed");
	CHECK_EQ(xdp_run(e, v6, sizeof(v6), out, &olen), XDP_PASS);
	CHECK(!memcmp(v6, out, sizeof(v6)), "IPv6 frame changed");
	CHECK_EQ(xdp_run(e, arp, sizeof(arp), out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_NOT_OURS), 4);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_nxt, CISN + 1);
}

void t_malformed(struct env *e)
{
	struct ps_flow before, after;
	uint64_t m0;
	uint8_t good[1600], bad[1600];
	size_t glen;

	cache_put(e, "foo", "bar");
	glen = cli_seg(e, good, S(GET_FOO), TF_PSH | TF_ACK);
	glen = OFF_TCP + 32 + sizeof(GET_FOO) - 1; /* no padding */
	flow_get(e, &before);
	m0 = stat_get(e, PS_ST_MALFORMED);
	struct { const char *what; size_t cut; int byte; uint8_t val; } cases[] = {
		{ "ethernet only", 14, -1, 0 },
		{ "IP header cut", 30, -1, 0 },
		{ "TCP header cut", OFF_TCP + 10, -1, 0 },
		{ "doff < 5", 0, OFF_TCP + 12, 0x40 },
		{ "doff beyond frame", 0, OFF_TCP + 12, 0xf0 },
		{ "ihl < 5", 0, ETH_LEN, 0x44 },
		{ "tot_len beyond frame", 0, ETH_LEN + 2, 0x7f },
		{ "IP version 6 in IPv4 ethertype", 0, ETH_LEN, 0x65 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t l = cases[i].cut ? cases[i].cut : glen;
		int v;

		memcpy(bad, good, glen);
		if (cases[i].byte >= 0)
			bad[cases[i].byte] = cases[i].val;
		v = xdp_run(e, bad, l, out, &olen);
		CHECK(v == XDP_PASS, "%s: verdict %d", cases[i].what, v);
		CHECK(olen == l && !memcmp(bad, out, l), "%s: frame changed", cases[i].what);
	}
	CHECK_EQ(stat_get(e, PS_ST_MALFORMED) - m0, 8);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	flow_get(e, &after);
	CHECK(!memcmp(&before, &after, offsetof(struct ps_flow, last_ns)),
	      "malformed frames changed the flow");
}

void t_fragments_and_ipopts(struct env *e)
{
	uint8_t ipopt[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_PSH | TF_ACK,
			      .payload = GET_FOO, .payload_len = sizeof(GET_FOO) - 1 };
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	s.seq = e->cseq;
	s.ack = e->sseq;
	/* IP options: parsed (ihl honoured), passed, never answered */
	s.ipopt = ipopt;
	s.ipopt_len = 4;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(pkt_csum_ok(out, olen), "checksum broken");
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_STATE), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_nxt, e->cseq + sizeof(GET_FOO) - 1);
	/* fragments: a later one (no TCP header) untouched; a first one is
	 * translated (nothing to shift here: the frame is unchanged) and
	 * hands the flow to the kernel (t_hostile.c: with offsets) */
	s.ipopt = NULL;
	s.ipopt_len = 0;
	s.seq = e->cseq + sizeof(GET_FOO) - 1;
	s.frag_off = 0x0010; /* offset 128 */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "fragment changed");
	CHECK_EQ(stat_get(e, PS_ST_FB_FRAG), 0);
	s.frag_off = 0x2000; /* MF */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "fragment changed");
	CHECK_EQ(stat_get(e, PS_ST_FRAGMENTS), 2);
	CHECK_EQ(stat_get(e, PS_ST_FB_FRAG), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.untrusted_reason, PS_UT_FRAG);
	CHECK_EQ(f.flags & PS_F_REQ_DESYNC, PS_F_REQ_DESYNC);
}
