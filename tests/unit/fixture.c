// SPDX-License-Identifier: GPL-2.0
/* fixture.c - per-case set-up and teardown, and the shared checks. */
#include <string.h>
#include "fixture.h"

uint8_t in[1600], out[4096];
size_t len, olen;

int fixture_setup(struct env *e, const struct fixture *fx)
{
	if (env_open(e, fx->mode, PS_CFG_FILL)) {
		CHECK(0, "cannot load the BPF object");
		return -1;
	}
	if (!fx->no_flow && handshake(e, fx->ts)) {
		CHECK(0, "handshake failed");
		return -1;
	}
	return 0;
}

/* Each hook counts its packets on entry and its verdict at its one exit
 * (xdp/prestack.bpf.c): whatever a case did, the two must agree. */
void check_verdicts(struct env *e)
{
	uint64_t pk = stat_get(e, PS_ST_PKTS), tc = stat_get(e, PS_ST_TC_PKTS),
		 tcin = stat_get(e, PS_ST_TCIN_PKTS);
	uint64_t xv = stat_get(e, PS_ST_PASSED) + stat_get(e, PS_ST_TX) +
		      stat_get(e, PS_ST_DROPPED) + stat_get(e, PS_ST_REDIRECTED);
	uint64_t tv = stat_get(e, PS_ST_TC_OK) + stat_get(e, PS_ST_TC_SHOT) +
		      stat_get(e, PS_ST_TC_REDIRECT);
	uint64_t iv = stat_get(e, PS_ST_TCIN_OK) + stat_get(e, PS_ST_TCIN_SHOT) +
		      stat_get(e, PS_ST_TCIN_REDIRECT);

	CHECK(pk == xv, "XDP: packets %llu != passed + tx + dropped + redirected %llu",
	      (unsigned long long)pk, (unsigned long long)xv);
	CHECK(tc == tv, "TC egress: tc_packets %llu != tc_ok + tc_shot + tc_redirect %llu",
	      (unsigned long long)tc, (unsigned long long)tv);
	CHECK(tcin == iv, "TC ingress: tcin_packets %llu != tcin_ok + tcin_shot + tcin_redirect %llu",
	      (unsigned long long)tcin, (unsigned long long)iv);
}

void fixture_teardown(struct env *e)
{
	if (e->skel)
		check_verdicts(e);
	env_close(e);
}

/* A server -> client segment as prestack must write it (IP id 0, the
 * server's window, NOP NOP TS when the flow has timestamps). */
size_t expected_srv_seg(struct env *e, uint8_t *buf, uint32_t srv_seq,
			uint32_t ack, uint8_t flags, uint32_t tsval, uint32_t tsecr,
			const char *payload, size_t plen)
{
	uint8_t opt[12] = { 1, 1, 8, 10 };
	struct pkt_spec s = { .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			      .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			      .seq = srv_seq, .ack = ack, .flags = flags,
			      .window = e->swin, .payload = payload,
			      .payload_len = plen, .ip_id_zero = 1 };

	if (e->ts) {
		opt[4] = tsval >> 24; opt[5] = tsval >> 16; opt[6] = tsval >> 8; opt[7] = tsval & 0xff;
		opt[8] = tsecr >> 24; opt[9] = tsecr >> 16; opt[10] = tsecr >> 8; opt[11] = tsecr & 0xff;
		s.tcpopt = opt;
		s.tcpopt_len = 12;
	}
	return pkt_build(buf, 1600, &s);
}

void expect_answer(struct env *e, const char *req, size_t rlen,
		   const char *reply, size_t plen)
{
	uint8_t want[1600];
	uint32_t tsecr = e->tsval, tsval = 0;
	size_t wlen;
	int v;

	len = cli_seg(e, in, req, rlen, TF_PSH | TF_ACK);
	v = xdp_run(e, in, len, out, &olen);
	CHECK_EQ(v, XDP_TX);
	if (v != XDP_TX)
		return;
	if (e->ts) {
		tsval = rd32(out + OFF_TCP + 24);
		CHECK(tsval >= SRV_TSV && tsval < SRV_TSV + 60000,
		      "reply TSval %u not derived from the server's %u", tsval, SRV_TSV);
	}
	wlen = expected_srv_seg(e, want, e->sseq, e->cseq + (uint32_t)rlen,
				TF_PSH | TF_ACK, tsval, tsecr, reply, plen);
	CHECK_EQ(olen, wlen);
	CHECK(olen == wlen && !memcmp(out, want, wlen), "reply bytes differ");
	if (olen == wlen && memcmp(out, want, wlen))
		hexdiff(out, want, wlen);
	CHECK(pkt_csum_ok(out, olen), "reply checksums wrong");
	e->cseq += (uint32_t)rlen;
	e->sseq += (uint32_t)plen;
}

void expect_pass(struct env *e, const char *req, size_t rlen,
		 uint32_t consumed, uint32_t injected)
{
	int v;

	len = cli_seg(e, in, req, rlen, TF_PSH | TF_ACK);
	v = xdp_run(e, in, len, out, &olen);
	CHECK_EQ(v, XDP_PASS);
	CHECK_EQ(olen, len);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->cseq - consumed);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->sseq - injected);
	CHECK(pkt_csum_ok(out, olen), "translated checksum wrong");
	/* nothing but seq, ack and the checksum may change */
	CHECK(!memcmp(out, in, OFF_TCP + 4) &&
	      !memcmp(out + OFF_TCP + 12, in + OFF_TCP + 12, 4) &&
	      !memcmp(out + OFF_TCP + 18, in + OFF_TCP + 18, len - OFF_TCP - 18),
	      "passed frame changed beyond seq/ack/csum");
	e->cseq += (uint32_t)rlen;
	e->kack += (uint32_t)rlen;
}

void expect_cut(struct env *e, const char *req, size_t rlen, const char *kept,
		size_t klen, uint32_t consumed, uint32_t injected)
{
	size_t doff, tot;

	len = cli_seg(e, in, req, rlen, TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	doff = (size_t)(out[OFF_TCP + 12] >> 4) * 4;
	tot = rd16(out + OFF_TCP - IP_LEN + 2);
	CHECK(tot == IP_LEN + doff + klen &&
	      !memcmp(out + OFF_TCP + doff, kept, klen),
	      "the segment the kernel gets is not the %zu bytes kept", klen);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->cseq - consumed);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->sseq - injected);
	CHECK(pkt_csum_ok(out, olen), "cut segment checksum wrong");
	e->cseq += (uint32_t)rlen;
	e->kack += (uint32_t)klen;
}

void expect_srv(struct env *e, const char *rep, size_t plen,
		uint32_t consumed, uint32_t injected)
{
	len = srv_seg(e, in, rep, plen, TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->kseq + injected);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kack + consumed);
	CHECK(pkt_csum_ok(out, olen), "TC checksum wrong");
	e->kseq += (uint32_t)plen;
	e->sseq += (uint32_t)plen;
}
