// SPDX-License-Identifier: GPL-2.0
/*
 * t_flows.c - flow lifecycle: the handshake opens a flow, FIN/ACK and
 * RST end it, a full flow map evicts nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fixture.h"
#include "cases.h"

void t_syn_synack(struct env *e)
{
	uint8_t opt[20] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0,
			    1, 3, 3, 7 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = CISN, .flags = TF_SYN,
			      .window = 64240, .tcpopt = opt, .tcpopt_len = 20 };
	struct ps_flow f;

	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "SYN changed");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_SYN);
	CHECK_EQ(f.cli_isn, CISN);
	CHECK_EQ(f.cli_nxt, CISN + 1);
	CHECK_EQ(f.mss_cli, 1460);
	CHECK_EQ(f.wscale_cli, 7);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 1);

	s = (struct pkt_spec){ .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			       .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			       .seq = SISN, .ack = CISN + 1, .flags = TF_SYN | TF_ACK,
			       .window = SRV_WIN, .tcpopt = opt, .tcpopt_len = 20 };
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK(olen == len && !memcmp(in, out, len), "SYN-ACK changed");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_EST);
	CHECK_EQ(f.srv_isn, SISN);
	CHECK_EQ(f.ksnd_nxt, SISN + 1);
	CHECK_EQ(f.flags & (PS_F_TS | PS_F_SACK | PS_F_WSCALE),
		 PS_F_TS | PS_F_SACK | PS_F_WSCALE);
}

void t_close(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* client FIN, translated */
	len = cli_seg(e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->cseq - (sizeof(GET_FOO) - 1));
	e->cseq++;
	e->kack++;
	/* server FIN+ACK, translated */
	len = srv_seg(e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->kseq + 9);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kack + (sizeof(GET_FOO) - 1));
	e->kseq++;
	e->sseq++;
	CHECK_EQ(flow_get(e, &f), 0);
	/* the last ACK finishes the flow: kept, done, as TIME_WAIT is
	 * (t_hostile.c: what it still translates) */
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 1);
	/* the client closed first: the server has no TIME_WAIT socket, a
	 * new SYN of the tuple opens a new flow; an RST at its next byte
	 * ends it (done, kept until idle: t_reuse.c) */
	CHECK_EQ(handshake(e, true), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_EST);
	len = cli_seg(e, in, "", 0, TF_RST);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 2);
}

/* Flow map at capacity: the live translated flow keeps its offsets (no
 * eviction), a new flow is not tracked and its segments pass untouched. */
void t_flows_full(struct env *e)
{
	struct pkt_spec syn = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				.daddr = SRV_IP, .sport = 50000, .dport = SRV_PORT,
				.seq = 77, .flags = TF_SYN, .window = 65535 };
	uint32_t i, n = PS_FLOW_ENTRIES - 1, filled = 0;
	struct ps_flow_key *keys = calloc(n, sizeof(*keys));
	struct ps_flow *vals = calloc(n, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	if (!keys || !vals)
		goto out;
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));  /* offsets now 22/9 */
	for (i = 0; i < n; i++) {
		keys[i].cli_addr = htonl(0xc6130000u + i); /* 198.19.x.y: other clients */
		keys[i].srv_addr = htonl(SRV_IP);
		keys[i].cli_port = htons(1024 + (i & 0x7fff));
		keys[i].srv_port = htons(SRV_PORT);
		vals[i].state = PS_FLOW_EST;
	}
	filled = n;
	if (bpf_map_update_batch(e->flows, keys, vals, &filled, &bo))
		CHECK(0, "batch update failed: %s", strerror(errno));
	CHECK_EQ(filled, PS_FLOW_ENTRIES - 1);          /* the fixture flow is the last */
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_FULL), 1);
	syn.flags = TF_PSH | TF_ACK;
	syn.seq = 78;
	syn.ack = 1;
	syn.payload = GET_FOO;
	syn.payload_len = sizeof(GET_FOO) - 1;
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "untracked flow's GET changed");
	/* the fixture flow is still tracked and translated, and answered */
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$4\r\nmiss\r\n"), 22, 9);
	expect_srv(e, S("$-1\r\n"), 22, 9);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
out:
	free(keys);
	free(vals);
}
