// SPDX-License-Identifier: GPL-2.0
/*
 * test_prog.c - fixture packets through ps_xdp and ps_tc with
 * BPF_PROG_TEST_RUN: verdicts, exact output bytes, checksums, mirrors,
 * counters. Each test loads its own copy of the programs and maps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "prestack.skel.h"
#include "cachefmt.h"
#include "env.h"
#include "tap.h"

#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_OK 0

int tap_n, tap_fail, tap_case_fail;

void hexdiff(const unsigned char *got, const unsigned char *want, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i]) {
			printf("#   first difference at byte %zu: got %02x want %02x\n",
			       i, got[i], want[i]);
			return;
		}
}

#define GET_FOO "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
#define S(x) x, sizeof(x) - 1

static uint8_t in[1600], out[4096];
static size_t len, olen;

/* The reply prestack must produce for a request at e->cseq of plen bytes. */
static size_t expected_reply(struct env *e, uint8_t *buf, uint32_t srv_seq,
			     uint32_t ack, uint32_t tsval, uint32_t tsecr,
			     const char *payload, size_t plen)
{
	uint8_t opt[12] = { 1, 1, 8, 10 };
	struct pkt_spec s = { .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			      .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			      .seq = srv_seq, .ack = ack, .flags = TF_PSH | TF_ACK,
			      .window = SRV_WIN, .payload = payload,
			      .payload_len = plen, .ip_id_zero = 1 };

	if (e->ts) {
		opt[4] = tsval >> 24; opt[5] = tsval >> 16; opt[6] = tsval >> 8; opt[7] = tsval & 0xff;
		opt[8] = tsecr >> 24; opt[9] = tsecr >> 16; opt[10] = tsecr >> 8; opt[11] = tsecr & 0xff;
		s.tcpopt = opt;
		s.tcpopt_len = 12;
	}
	return pkt_build(buf, 1600, &s);
}

/* Send GET(s) at e->cseq and check the exact reply; advances the fixture. */
static void expect_answer(struct env *e, const char *req, size_t rlen,
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
	wlen = expected_reply(e, want, e->sseq, e->cseq + (uint32_t)rlen, tsval,
			      tsecr, reply, plen);
	CHECK_EQ(olen, wlen);
	CHECK(olen == wlen && !memcmp(out, want, wlen), "reply bytes differ");
	if (olen == wlen && memcmp(out, want, wlen))
		hexdiff(out, want, wlen);
	CHECK(pkt_csum_ok(out, olen), "reply checksums wrong");
	e->cseq += (uint32_t)rlen;
	e->sseq += (uint32_t)plen;
}

/* Send a segment that must pass translated by (consumed, injected). */
static void expect_pass(struct env *e, const char *req, size_t rlen,
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

/* The kernel replies: TC must shift seq by injected and ack by consumed. */
static void expect_srv(struct env *e, const char *rep, size_t plen,
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

static int setup(struct env *e, uint32_t mode, bool ts)
{
	if (env_open(e, mode, PS_CFG_FILL)) {
		CHECK(0, "cannot load the BPF object");
		return -1;
	}
	if (handshake(e, ts)) {
		CHECK(0, "handshake failed");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

static void t_syn_synack(void)
{
	uint8_t opt[20] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0,
			    1, 3, 3, 7 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = CISN, .flags = TF_SYN,
			      .window = 64240, .tcpopt = opt, .tcpopt_len = 20 };
	struct ps_flow f;
	struct env e;

	if (env_open(&e, PS_MODE_GUARDED, PS_CFG_FILL)) {
		CHECK(0, "load");
		return;
	}
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "SYN changed");
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_SYN);
	CHECK_EQ(f.cli_isn, CISN);
	CHECK_EQ(f.cli_nxt, CISN + 1);
	CHECK_EQ(f.mss_cli, 1460);
	CHECK_EQ(f.wscale_cli, 7);
	CHECK_EQ(stat_get(&e, PS_ST_FLOWS_NEW), 1);

	s = (struct pkt_spec){ .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			       .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			       .seq = SISN, .ack = CISN + 1, .flags = TF_SYN | TF_ACK,
			       .window = SRV_WIN, .tcpopt = opt, .tcpopt_len = 20 };
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(tc_run(&e, in, len, out, &olen), TC_OK);
	CHECK(olen == len && !memcmp(in, out, len), "SYN-ACK changed");
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_EST);
	CHECK_EQ(f.srv_isn, SISN);
	CHECK_EQ(f.ksnd_nxt, SISN + 1);
	CHECK_EQ(f.flags & (PS_F_TS | PS_F_SACK | PS_F_WSCALE),
		 PS_F_TS | PS_F_SACK | PS_F_WSCALE);
	env_close(&e);
}

static void hit_case(uint32_t mode, bool ts)
{
	struct ps_flow f;
	struct env e;

	if (setup(&e, mode, ts))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(&e, PS_ST_REPLIES), 1);
	CHECK_EQ(stat_get(&e, PS_ST_REPLY_BYTES), 9);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.consumed, sizeof(GET_FOO) - 1);
	CHECK_EQ(f.injected, 9);
	CHECK_EQ(f.cli_nxt, CISN + 1 + sizeof(GET_FOO) - 1);
	CHECK_EQ(f.hits, 1);
	if (ts)
		CHECK(rd32(out + OFF_TCP + 28) == e.tsval - 1, "TSecr is not the request's TSval");
	else
		CHECK_EQ(out[OFF_TCP + 12] >> 4, 5);
out:
	env_close(&e);
}

static void t_hit_guarded_ts(void) { hit_case(PS_MODE_GUARDED, true); }
static void t_hit_guarded_nots(void) { hit_case(PS_MODE_GUARDED, false); }
static void t_hit_naive(void) { hit_case(PS_MODE_NAIVE, true); }

static void t_pipelined(void)
{
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	cache_put(&e, "baz", "quux!");
	expect_answer(&e, S(GET_FOO "*2\r\n$3\r\nGET\r\n$3\r\nbaz\r\n"),
		      S("$3\r\nbar\r\n$5\r\nquux!\r\n"));
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 2);
	CHECK_EQ(stat_get(&e, PS_ST_REPLIES), 1);
	/* one key missing: the whole segment goes to Redis */
	expect_pass(&e, S(GET_FOO "*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"),
		    2 * (sizeof(GET_FOO) - 1), 9 + 11);
out:
	env_close(&e);
}

static void t_mixed_segment(void)
{
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_pass(&e, S(GET_FOO "*1\r\n$4\r\nPING\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_NOT_GET), 1);
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 0);
out:
	env_close(&e);
}

static void t_translation(void)
{
	const uint32_t C = sizeof(GET_FOO) - 1, I = 9;
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* a miss goes to the kernel, shifted into its sequence space */
	expect_pass(&e, S("*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"), C, I);
	CHECK_EQ(stat_get(&e, PS_ST_GET_MISSES), 1);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.pending, 1);
	/* its reply comes back shifted into the client's */
	expect_srv(&e, S("$-1\r\n"), C, I);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(f.ksnd_nxt, SISN + 1 + 5);
	/* and a hit after that continues after the kernel's bytes */
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.consumed, 2 * C);
	CHECK_EQ(f.injected, 2 * I);
	/* history: the kernel's "$-1" retransmitted maps with the old offset */
	e.kseq -= 5;
	e.sseq -= 5;
	len = srv_seg(&e, in, S("$-1\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(&e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), SISN + 1 + I);
out:
	env_close(&e);
}

static void t_set_invalidates(void)
{
	char v[64];
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	cache_put(&e, "k1", "1");
	cache_put(&e, "k2", "2");
	cache_put(&e, "k3", "3");
	expect_pass(&e, S("*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nnew\r\n"), 0, 0);
	CHECK(!cache_has(&e, "foo", NULL, 0), "foo still cached after SET");
	CHECK(stat_get(&e, PS_ST_INVALIDATIONS) >= 1, "no invalidation counted");
	expect_srv(&e, S("+OK\r\n"), 0, 0);
	expect_pass(&e, S(GET_FOO), 0, 0); /* a miss now */
	expect_srv(&e, S("$3\r\nnew\r\n"), 0, 0);
	CHECK(cache_has(&e, "foo", v, sizeof(v)) && !strcmp(v, "$3\r\nnew\r\n"),
	      "the reply to the missed GET did not fill the cache");
	expect_pass(&e, S("*3\r\n$3\r\nDEL\r\n$2\r\nk1\r\n$2\r\nk2\r\n"), 0, 0);
	CHECK(!cache_has(&e, "k1", NULL, 0) && !cache_has(&e, "k2", NULL, 0),
	      "DEL k1 k2 left a key cached");
	CHECK(cache_has(&e, "k3", NULL, 0), "DEL invalidated k3");
	expect_srv(&e, S(":2\r\n"), 0, 0);
	/* case-insensitive command names */
	expect_pass(&e, S("*2\r\n$4\r\nincr\r\n$2\r\nk3\r\n"), 0, 0);
	CHECK(!cache_has(&e, "k3", NULL, 0), "incr k3 left k3 cached");
out:
	env_close(&e);
}

static void t_fill_then_hit(void)
{
	const char *req = "*2\r\n$3\r\nGET\r\n$5\r\nmiss1\r\n";
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	expect_pass(&e, req, strlen(req), 0, 0);
	expect_srv(&e, S("$5\r\nhello\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FILLS), 1);
	expect_answer(&e, req, strlen(req), S("$5\r\nhello\r\n"));
out:
	env_close(&e);
}

static void t_ttl_not_filled(void)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\ntk\r\n";
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	/* SET with PX: Redis will expire it where we cannot see */
	expect_pass(&e, S("*5\r\n$3\r\nSET\r\n$2\r\ntk\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n100\r\n"), 0, 0);
	expect_srv(&e, S("+OK\r\n"), 0, 0);
	expect_pass(&e, get, strlen(get), 0, 0);
	expect_srv(&e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FILLS), 0);
	CHECK(!cache_has(&e, "tk", NULL, 0), "a key with a TTL was filled");
	/* a plain SET of another key still fills */
	expect_pass(&e, S("*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$1\r\nv\r\n"), 0, 0);
	expect_srv(&e, S("+OK\r\n"), 0, 0);
	expect_pass(&e, S("*2\r\n$3\r\nGET\r\n$2\r\npk\r\n"), 0, 0);
	expect_srv(&e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FILLS), 1);
out:
	env_close(&e);
}

static void t_fill_skipped_after_write(void)
{
	const char *req = "*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n";
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	expect_pass(&e, req, strlen(req), 0, 0);
	/* another connection's write to kk lands before the reply: the
	 * reply may hold the old value, it must not be cached */
	{
		struct env other = e;
		uint32_t slot;
		uint32_t ep;
		char key[] = "kk";

		slot = ps_key_slot((const __u8 *)key, 2);
		bpf_map_lookup_elem(other.epochs, &slot, &ep);
		ep++;
		bpf_map_update_elem(other.epochs, &slot, &ep, 0);
	}
	expect_srv(&e, S("$3\r\nold\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(&e, PS_ST_FILL_SKIPPED), 1);
	CHECK(!cache_has(&e, "kk", NULL, 0), "stale value cached");
out:
	env_close(&e);
}

static void t_not_ours(void)
{
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = 80, .seq = 1, .flags = TF_PSH | TF_ACK,
			      .payload = GET_FOO, .payload_len = sizeof(GET_FOO) - 1 };
	uint8_t v6[80] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60 };
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06 };
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "port 80 frame changed");
	s.dport = SRV_PORT;
	s.proto = 17; /* UDP to 6379 */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "UDP frame changed");
	CHECK_EQ(xdp_run(&e, v6, sizeof(v6), out, &olen), XDP_PASS);
	CHECK(!memcmp(v6, out, sizeof(v6)), "IPv6 frame changed");
	CHECK_EQ(xdp_run(&e, arp, sizeof(arp), out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(&e, PS_ST_NOT_OURS), 4);
	CHECK_EQ(stat_get(&e, PS_ST_FLOWS_NEW), 1);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.cli_nxt, CISN + 1);
out:
	env_close(&e);
}

static void t_malformed(void)
{
	struct ps_flow before, after;
	uint64_t m0;
	struct env e;
	uint8_t good[1600], bad[1600];
	size_t glen;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	glen = cli_seg(&e, good, S(GET_FOO), TF_PSH | TF_ACK);
	glen = OFF_TCP + 32 + sizeof(GET_FOO) - 1; /* no padding */
	flow_get(&e, &before);
	m0 = stat_get(&e, PS_ST_MALFORMED);
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
		v = xdp_run(&e, bad, l, out, &olen);
		CHECK(v == XDP_PASS, "%s: verdict %d", cases[i].what, v);
		CHECK(olen == l && !memcmp(bad, out, l), "%s: frame changed", cases[i].what);
	}
	CHECK_EQ(stat_get(&e, PS_ST_MALFORMED) - m0, 8);
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 0);
	flow_get(&e, &after);
	CHECK(!memcmp(&before, &after, offsetof(struct ps_flow, last_ns)),
	      "malformed frames changed the flow");
out:
	env_close(&e);
}

static void t_fragments_and_ipopts(void)
{
	uint8_t ipopt[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_PSH | TF_ACK,
			      .payload = GET_FOO, .payload_len = sizeof(GET_FOO) - 1 };
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, false))
		goto out;
	cache_put(&e, "foo", "bar");
	s.seq = e.cseq;
	s.ack = e.sseq;
	s.frag_off = 0x2000; /* MF */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "fragment changed");
	s.frag_off = 0x0010; /* offset 128 */
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(&e, PS_ST_FRAGMENTS), 2);
	/* IP options: parsed (ihl honoured), passed, never answered */
	s.frag_off = 0;
	s.ipopt = ipopt;
	s.ipopt_len = 4;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(pkt_csum_ok(out, olen), "checksum broken");
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_STATE), 1);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.cli_nxt, e.cseq + sizeof(GET_FOO) - 1);
out:
	env_close(&e);
}

static void t_mode_off(void)
{
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	env_set_mode(&e, PS_MODE_OFF, PS_CFG_FILL);
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "off changed a frame");
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 0);
out:
	env_close(&e);
}

static void t_ooo_and_split(void)
{
	struct ps_flow f;
	struct env e;
	int v;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	/* ahead of a hole: dropped, the client will resend it in order */
	e.cseq += 10;
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	v = xdp_run(&e, in, len, out, &olen);
	CHECK_EQ(v, XDP_DROP);
	CHECK_EQ(stat_get(&e, PS_ST_FB_OOO), 1);
	e.cseq -= 10;
	/* a GET split in two: both halves to the kernel, nothing answered */
	expect_pass(&e, S("*2\r\n$3\r\nGE"), 0, 0);
	expect_pass(&e, S("T\r\n$3\r\nfoo\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_PARTIAL), 1);
	CHECK_EQ(stat_get(&e, PS_ST_FLUSHES), 0);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.pending, 1);
	CHECK_EQ(f.flags & PS_F_UNTRUSTED, 0);
	/* the kernel's reply; then a whole GET is answered again */
	expect_srv(&e, S("$3\r\nbar\r\n"), 0, 0);
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
out:
	env_close(&e);
}

static void t_pending(void)
{
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_pass(&e, S("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n"), 0, 0);
	/* Redis has not answered the SET yet: a hit would overtake it */
	expect_pass(&e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_PENDING), 1);
	/* naive answers anyway */
	env_set_mode(&e, PS_MODE_NAIVE, PS_CFG_FILL);
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
out:
	env_close(&e);
}

static void t_retransmission(void)
{
	uint8_t first[1600];
	size_t flen;
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	memcpy(first, out, olen);
	flen = olen;
	/* the same request again: the very same reply, mirrors unchanged */
	e.cseq -= sizeof(GET_FOO) - 1;
	e.tsval--;
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(olen, flen);
	/* identical but for the TSval, which follows the clock */
	CHECK(!memcmp(out, first, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 28, first + OFF_TCP + 28, flen - OFF_TCP - 28),
	      "retransmitted reply differs");
	CHECK(pkt_csum_ok(out, olen), "retransmitted reply checksum");
	CHECK_EQ(stat_get(&e, PS_ST_RETRANS_REPLIES), 1);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.consumed, sizeof(GET_FOO) - 1);
	CHECK_EQ(f.injected, 9);
	/* if the value changed meanwhile the bytes cannot be reproduced:
	 * drop rather than hand consumed bytes to the kernel */
	cache_put(&e, "foo", "BAR!");
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(&e, PS_ST_DROPPED), 1);
	/* naive answers it again as new: injected counted twice */
	env_set_mode(&e, PS_MODE_NAIVE, PS_CFG_FILL);
	cache_put(&e, "foo", "bar");
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.injected, 18);
out:
	env_close(&e);
}

static void t_require_sock(void)
{
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	env_set_mode(&e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_REQUIRE_SOCK);
	cache_put(&e, "foo", "bar");
	expect_pass(&e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_NOSOCK), 1);
	CHECK_EQ(stat_get(&e, PS_ST_FB_DIVERGED), 1);
out:
	env_close(&e);
}

static void t_select_multi(void)
{
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_pass(&e, S("*1\r\n$5\r\nMULTI\r\n"), 0, 0);
	expect_srv(&e, S("+OK\r\n"), 0, 0);
	expect_pass(&e, S(GET_FOO), 0, 0); /* queued, not answered */
	CHECK_EQ(stat_get(&e, PS_ST_FB_STATE), 1);
	expect_srv(&e, S("+QUEUED\r\n"), 0, 0);
	expect_pass(&e, S("*1\r\n$4\r\nEXEC\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FLUSHES), 1);
	expect_srv(&e, S("*1\r\n$3\r\nbar\r\n"), 0, 0);
	cache_put(&e, "foo", "bar"); /* refill: EXEC flushed */
	{
		uint32_t zero = 0;
		struct ps_config c;

		bpf_map_lookup_elem(e.cfg, &zero, &c);
		struct ps_cache_key k;
		struct ps_cache_val v;

		ps_cache_key_build(&k, "foo", 3);
		ps_cache_val_build(&v, "bar", 3, c.cache_gen, PS_FILL_USER);
		bpf_map_update_elem(e.cache, &k, &v, 0);
	}
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	expect_pass(&e, S("*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n"), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK(f.flags & PS_F_OTHER_DB, "SELECT did not mark the flow");
out:
	env_close(&e);
}

static void t_sack_translation(void)
{
	const uint32_t I = 9;
	uint8_t opt[24] = { 1, 1, 5, 10 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .flags = TF_ACK, .window = 502,
			      .tcpopt = opt, .tcpopt_len = 12 };
	struct env e;
	uint32_t l, r;

	if (setup(&e, PS_MODE_GUARDED, false))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* a SACK block for server bytes after the injected reply */
	l = e.sseq + 100;
	r = e.sseq + 200;
	opt[4] = l >> 24; opt[5] = l >> 16; opt[6] = l >> 8; opt[7] = l & 0xff;
	opt[8] = r >> 24; opt[9] = r >> 16; opt[10] = r >> 8; opt[11] = r & 0xff;
	s.seq = e.cseq;
	s.ack = e.sseq;
	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 24), l - I);
	CHECK_EQ(rd32(out + OFF_TCP + 28), r - I);
	CHECK(pkt_csum_ok(out, olen), "SACK translation checksum");
out:
	env_close(&e);
}

static void t_close(void)
{
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* client FIN, translated */
	len = cli_seg(&e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e.cseq - (sizeof(GET_FOO) - 1));
	e.cseq++;
	e.kack++;
	/* server FIN+ACK, translated */
	len = srv_seg(&e, in, "", 0, TF_FIN | TF_ACK);
	CHECK_EQ(tc_run(&e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e.kseq + 9);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e.kack + (sizeof(GET_FOO) - 1));
	e.kseq++;
	e.sseq++;
	CHECK_EQ(flow_get(&e, &f), 0);
	/* the last ACK frees the flow */
	len = cli_seg(&e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(flow_get(&e, &f) != 0, "flow not freed after the last ACK");
	CHECK_EQ(stat_get(&e, PS_ST_FLOWS_CLOSED), 1);
	/* RST frees too */
	handshake(&e, true);
	len = cli_seg(&e, in, "", 0, TF_RST);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(flow_get(&e, &f) != 0, "flow not freed by RST");
out:
	env_close(&e);
}

static void t_auth(void)
{
	struct ps_flow f;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	env_set_mode(&e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_AUTH);
	cache_put(&e, "foo", "bar");
	/* not authenticated: Redis answers (with NOAUTH), never the cache */
	expect_pass(&e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_AUTH), 1);
	expect_srv(&e, S("-NOAUTH Authentication required.\r\n"), 0, 0);
	/* a wrong password is still not authenticated */
	expect_pass(&e, S("*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n"), 0, 0);
	expect_srv(&e, S("-WRONGPASS invalid username-password pair\r\n"), 0, 0);
	expect_pass(&e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FB_AUTH), 2);
	expect_srv(&e, S("-NOAUTH Authentication required.\r\n"), 0, 0);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK_EQ(f.flags & PS_F_AUTHED, 0);
	/* AUTH pipelined with a PING: its reply is the first of the two */
	expect_pass(&e, S("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n"), 0, 0);
	expect_srv(&e, S("+OK\r\n+PONG\r\n"), 0, 0);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK(f.flags & PS_F_AUTHED, "a successful AUTH did not mark the flow");
	CHECK_EQ(f.auth_reply_idx, 0);
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* authenticating as a named ACL user: never answered again */
	expect_pass(&e, S("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$2\r\npw\r\n"), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(flow_get(&e, &f), 0);
	CHECK(f.flags & PS_F_UNTRUSTED, "AUTH as a named user did not untrust the flow");
	/* naive never answers when Redis requires AUTH */
	env_set_mode(&e, PS_MODE_NAIVE, PS_CFG_FILL | PS_CFG_AUTH);
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
out:
	env_close(&e);
}

static void cmd_class(struct env *e, const char *name, uint32_t cls)
{
	struct ps_cmd_key k;

	CHECK(ps_cmd_key_build(&k, name, strlen(name)) == 0 &&
	      bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_cmds), &k, &cls, BPF_ANY) == 0,
	      "cannot load %s into ps_cmds", name);
}

/* Redis's command table (ps_cmds) overrides the built-in read/write guess,
 * never the special commands */
static void t_cmdtable(void)
{
	const char *hrand = "*2\r\n$10\r\nHRANDFIELD\r\n$3\r\nfoo\r\n";
	struct env e;
	uint64_t fl;

	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	cache_put(&e, "foo", "bar");
	expect_pass(&e, hrand, strlen(hrand), 0, 0);
	CHECK(!cache_has(&e, "foo", NULL, 0), "built-in: an unknown command did not invalidate");
	expect_srv(&e, S("$-1\r\n"), 0, 0);

	cmd_class(&e, "hrandfield", PS_CLASS_READ);
	cache_put(&e, "foo", "bar");
	expect_pass(&e, hrand, strlen(hrand), 0, 0);
	CHECK(cache_has(&e, "foo", NULL, 0), "a read in Redis's table invalidated its argument");
	expect_srv(&e, S("$-1\r\n"), 0, 0);

	cmd_class(&e, "XYZCMD", PS_CLASS_FLUSH);
	fl = stat_get(&e, PS_ST_FLUSHES);
	expect_pass(&e, S("*1\r\n$6\r\nxyzcmd\r\n"), 0, 0);
	CHECK_EQ(stat_get(&e, PS_ST_FLUSHES), fl + 1);
	expect_srv(&e, S("+OK\r\n"), 0, 0);

	/* a table cannot turn SET into a read */
	cmd_class(&e, "SET", PS_CLASS_READ);
	cache_put(&e, "foo", "bar");
	expect_pass(&e, S("*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nnew\r\n"), 0, 0);
	CHECK(!cache_has(&e, "foo", NULL, 0), "SET did not invalidate with a table saying read");
	expect_srv(&e, S("+OK\r\n"), 0, 0);
out:
	env_close(&e);
}

/* Flow map at capacity: the live translated flow keeps its offsets (no
 * eviction), a new flow is not tracked and its segments pass untouched. */
static void t_flows_full(void)
{
	struct pkt_spec syn = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				.daddr = SRV_IP, .sport = 50000, .dport = SRV_PORT,
				.seq = 77, .flags = TF_SYN, .window = 65535 };
	uint32_t i, n = PS_FLOW_ENTRIES - 1, filled = 0;
	struct ps_flow_key *keys = calloc(n, sizeof(*keys));
	struct ps_flow *vals = calloc(n, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, true) || !keys || !vals)
		goto out;
	cache_put(&e, "foo", "bar");
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));  /* offsets now 22/9 */
	for (i = 0; i < n; i++) {
		keys[i].cli_addr = htonl(0xc6130000u + i); /* 198.19.x.y: other clients */
		keys[i].srv_addr = htonl(SRV_IP);
		keys[i].cli_port = htons(1024 + (i & 0x7fff));
		keys[i].srv_port = htons(SRV_PORT);
		vals[i].state = PS_FLOW_EST;
	}
	filled = n;
	if (bpf_map_update_batch(e.flows, keys, vals, &filled, &bo))
		CHECK(0, "batch update failed: %s", strerror(errno));
	CHECK_EQ(filled, PS_FLOW_ENTRIES - 1);          /* the fixture flow is the last */
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(&e, PS_ST_FLOWS_FULL), 1);
	syn.flags = TF_PSH | TF_ACK;
	syn.seq = 78;
	syn.ack = 1;
	syn.payload = GET_FOO;
	syn.payload_len = sizeof(GET_FOO) - 1;
	len = pkt_build(in, sizeof(in), &syn);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "untracked flow's GET changed");
	/* the fixture flow is still tracked and translated, and answered */
	expect_pass(&e, S("*2\r\n$3\r\nGET\r\n$4\r\nmiss\r\n"), 22, 9);
	expect_srv(&e, S("$-1\r\n"), 22, 9);
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));
out:
	free(keys);
	free(vals);
	env_close(&e);
}

/*
 * A kernel reply, then a GET answered at XDP whose segment carries the
 * client's ACK of that reply; the kernel, never having seen the ACK,
 * retransmits its reply. Returns the ACK field TC gives the retransmission;
 * *get_seq gets the GET's first byte.
 */
static uint32_t retransmit_after_answer(struct env *e, uint32_t *get_seq,
					bool naive)
{
	const char *set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
	uint32_t kseq0;

	cache_put(e, "foo", "bar");
	expect_pass(e, set, strlen(set), 0, 0);
	kseq0 = e->kseq;
	expect_srv(e, S("+OK\r\n"), 0, 0); /* new data: the full ACK */
	*get_seq = e->cseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	e->kseq = kseq0;
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	e->kseq += 5;
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK(pkt_csum_ok(out, olen), "TC checksum wrong");
	/* nothing was injected before it (naive shifts it by the total) */
	CHECK_EQ(rd32(out + OFF_TCP + 4), kseq0 + (naive ? 9 : 0));
	return rd32(out + OFF_TCP + 8);
}

static void t_ack_hold(void)
{
	const char *ping = "*1\r\n$4\r\nPING\r\n";
	static const struct { uint32_t mode, flags; } nohold[] = {
		{ PS_MODE_NAIVE, PS_CFG_FILL },
		{ PS_MODE_RETRANS, PS_CFG_FILL },
		{ PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_NO_ACK_HOLD },
	};
	const uint32_t G = sizeof(GET_FOO) - 1, I = 9;
	uint32_t get_seq, ack, sseq;
	struct env e;

	/* guarded: the retransmission acks only up to the answered GET, so
	 * the client will resend the GET if it lost the reply */
	if (setup(&e, PS_MODE_GUARDED, true))
		goto out;
	ack = retransmit_after_answer(&e, &get_seq, false);
	CHECK_EQ(ack, get_seq);
	CHECK_EQ(stat_get(&e, PS_ST_ACK_HELD), 1);
	/* new kernel data while the reply is still unacked: the full ACK (a
	 * PING whose ACK field stops before the injected reply) */
	sseq = e.sseq;
	e.sseq -= I;
	len = cli_seg(&e, in, ping, strlen(ping), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	e.cseq += strlen(ping);
	e.kack += strlen(ping);
	e.sseq = sseq;
	expect_srv(&e, S("+PONG\r\n"), G, I);
	/* the client acks the reply: retransmissions ack everything again */
	len = cli_seg(&e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_PASS);
	e.kseq -= 7;
	len = srv_seg(&e, in, S("+PONG\r\n"), TF_PSH | TF_ACK);
	e.kseq += 7;
	CHECK_EQ(tc_run(&e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e.kack + G);
	CHECK_EQ(stat_get(&e, PS_ST_ACK_HELD), 1);
	env_close(&e);
	/* naive and retrans never hold the ACK back (retrans re-sends the
	 * stored reply on the client's D-SACK instead), nor does guarded with
	 * the ablation flag (attach --no-ack-hold) */
	for (size_t i = 0; i < sizeof(nohold) / sizeof(nohold[0]); i++) {
		if (env_open(&e, nohold[i].mode, nohold[i].flags) ||
		    handshake(&e, true)) {
			CHECK(0, "setup failed");
			goto out;
		}
		ack = retransmit_after_answer(&e, &get_seq,
					      nohold[i].mode == PS_MODE_NAIVE);
		CHECK_EQ(ack, get_seq + G);
		CHECK_EQ(stat_get(&e, PS_ST_ACK_HELD), 0);
		env_close(&e);
	}
out:
	env_close(&e);
}

/* retrans mode: an injected reply is kept until acked and re-sent, from
 * its stored bytes, for a retransmitted request that is not the last one
 * answered and for a duplicate ACK with a SACK block above it */
static void t_retrans_mode(void)
{
	uint8_t reply2[1600], opt[24] = { 1, 1, 8, 10 };
	uint32_t s1, c2, ss;
	size_t r2len;
	struct env e;

	if (setup(&e, PS_MODE_RETRANS, true))
		goto out;
	cache_put(&e, "foo", "bar");
	s1 = e.sseq;
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));   /* reply 1 at s1 */
	c2 = e.cseq;
	expect_answer(&e, S(GET_FOO), S("$3\r\nbar\r\n"));   /* reply 2 at s1+9 */
	memcpy(reply2, out, olen);
	r2len = olen;
	/* request 3 leaves before reply 2 arrives: it acks reply 1 only */
	ss = e.sseq;
	e.sseq = s1 + 9;
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e.sseq = ss;
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(rd32(out + OFF_TCP + 4), s1 + 18);
	e.cseq += sizeof(GET_FOO) - 1;
	e.sseq += 9;
	CHECK_EQ(stat_get(&e, PS_ST_RTX_STORED), 3);
	cache_put(&e, "foo", "BAR!");   /* the stored bytes count, not the cache */

	/* request 2 again (not the last answered: guarded would drop it);
	 * the same bytes but TSval/TSecr, which follow the clock and the
	 * client's newest TSval */
	ss = e.sseq;
	e.cseq = c2;
	e.sseq = s1 + 9;
	len = cli_seg(&e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e.cseq += 2 * (sizeof(GET_FOO) - 1);
	e.sseq = ss;
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(olen, r2len);
	CHECK(olen == r2len && !memcmp(out, reply2, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 32, reply2 + OFF_TCP + 32, r2len - OFF_TCP - 32),
	      "re-sent reply 2 differs from the original");
	CHECK(pkt_csum_ok(out, olen), "re-sent reply checksum");
	CHECK_EQ(stat_get(&e, PS_ST_RTX_REQ), 1);

	/* reply 2 lost, reply 3 arrived: ACK at s1+9 with SACK [s1+18, s1+27) */
	{
		struct pkt_spec sp = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				       .daddr = SRV_IP, .sport = CLI_PORT, .dport = SRV_PORT,
				       .seq = e.cseq, .ack = s1 + 9, .flags = TF_ACK,
				       .window = 502, .tcpopt = opt, .tcpopt_len = 24,
				       .pad_to = 1200 };
		uint32_t tv = e.tsval++, l = s1 + 18, r = s1 + 27;

		opt[4] = tv >> 24; opt[5] = tv >> 16; opt[6] = tv >> 8; opt[7] = tv;
		opt[8] = SRV_TSV >> 24; opt[9] = SRV_TSV >> 16; opt[10] = SRV_TSV >> 8;
		opt[11] = SRV_TSV & 0xff;
		opt[12] = 1; opt[13] = 1; opt[14] = 5; opt[15] = 10;
		opt[16] = l >> 24; opt[17] = l >> 16; opt[18] = l >> 8; opt[19] = l;
		opt[20] = r >> 24; opt[21] = r >> 16; opt[22] = r >> 8; opt[23] = r;
		len = pkt_build(in, sizeof(in), &sp);
	}
	CHECK_EQ(xdp_run(&e, in, len, out, &olen), XDP_TX);
	CHECK(olen == r2len && !memcmp(out, reply2, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 32, reply2 + OFF_TCP + 32, r2len - OFF_TCP - 32),
	      "reply 2 re-sent for the SACK hole differs from the original");
	CHECK_EQ(stat_get(&e, PS_ST_RTX_DUPACK), 1);
out:
	env_close(&e);
}

struct tcase {
	const char *name;
	void (*fn)(void);
};

static const struct tcase tests[] = {
	{ "SYN opens a flow, SYN-ACK learns the server side", t_syn_synack },
	{ "guarded: GET hit answered with exact bytes (timestamps)", t_hit_guarded_ts },
	{ "guarded: GET hit answered with exact bytes (no timestamps)", t_hit_guarded_nots },
	{ "naive: GET hit answered with exact bytes", t_hit_naive },
	{ "pipelined GETs answered in one reply; one miss passes all", t_pipelined },
	{ "GET mixed with another command is passed", t_mixed_segment },
	{ "miss passed translated, reply translated back, history", t_translation },
	{ "SET/DEL/INCR invalidate, a missed GET's reply fills", t_set_invalidates },
	{ "fill from TC, then answered", t_fill_then_hit },
	{ "fill skipped when the key's epoch moved", t_fill_skipped_after_write },
	{ "keys given a TTL are never filled", t_ttl_not_filled },
	{ "non-Redis TCP, UDP, IPv6, ARP pass untouched", t_not_ours },
	{ "malformed headers pass untouched, state unchanged", t_malformed },
	{ "fragments untouched, IP options never answered", t_fragments_and_ipopts },
	{ "mode off passes everything untouched", t_mode_off },
	{ "guarded: out of order dropped, split GET passed", t_ooo_and_split },
	{ "guarded: pending reply blocks a hit (naive answers)", t_pending },
	{ "retransmitted GET re-answered identically, or dropped", t_retransmission },
	{ "guarded + require_sock: no tcp_sock, no answer", t_require_sock },
	{ "MULTI/EXEC/SELECT", t_select_multi },
	{ "client SACK blocks translated", t_sack_translation },
	{ "FIN/ACK and RST free the flow", t_close },
	{ "AUTH required: only flows whose AUTH succeeded are answered", t_auth },
	{ "Redis's command table decides read/write/flush, not for specials", t_cmdtable },
	{ "flow map full: no eviction of a translated flow, new flow untouched", t_flows_full },
	{ "retrans: stored reply re-sent for an older request and a SACK hole", t_retrans_mode },
	{ "guarded: a kernel retransmission acks only up to an answered GET until its reply is acked", t_ack_hold },
};

int main(void)
{
	size_t n = sizeof(tests) / sizeof(tests[0]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("1..0 # SKIP BPF_PROG_TEST_RUN needs root\n");
		return 1;
	}
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		tap_case_fail = 0;
		tests[i].fn();
		tap_n++;
		if (tap_case_fail) {
			tap_fail++;
			printf("not ok %d - %s\n", tap_n, tests[i].name);
		} else {
			printf("ok %d - %s\n", tap_n, tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", tap_n - tap_fail, tap_fail);
	return tap_fail ? 1 : 0;
}
