// SPDX-License-Identifier: GPL-2.0
/*
 * t_tcreply.c - the TC ingress path (docs/tc-reply.md): XDP's handoff
 * (verdict, the exact data_meta, the untouched request, the mirrors),
 * each segment TC ingress builds (exact bytes, seq/ack/flags/checksums),
 * re-sends from a hole, an entry that changed in between, and our TC
 * egress letting the marked segments pass untranslated.
 *
 * BPF_PROG_TEST_RUN of an skb takes no data_meta: the segments are built
 * by tests/unit/bpf/tcr_harness.bpf.c, which runs the same builder with
 * the handoff from a map, one segment per run, sending nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fixture.h"
#include "cases.h"
#include "cachefmt.h"
#include "prestack.skel.h"
#include "tcr_harness.skel.h"

#define TCR_MARK 0x70735243u /* PS_TCR_MARK, xdp/tc_ingress.h */

static char val[PS_VAL_MAX + 1];
static char rep[PS_BIG_REPLY_MAX];
static struct ps_cache_big_val bv;
/* the cache generation put_val writes (t_tc_reply_rtx_flushed moves it) */
static uint32_t put_gen = 1;

/* a value of n bytes under key (ps_cache_big above PS_SMALL_VAL_MAX);
 * rep/the returned length: its RESP reply */
static size_t put_val(struct env *e, const char *key, size_t n, char seed)
{
	struct ps_cache_key k;
	struct ps_cache_val v;
	size_t i;

	for (i = 0; i < n; i++)
		val[i] = (char)('a' + (seed + i * 7) % 26);
	ps_cache_key_build(&k, key, strlen(key));
	if (n > PS_SMALL_VAL_MAX) {
		ps_cache_big_val_build(&bv, val, n, put_gen, PS_FILL_USER);
		ps_big_put(bpf_map__fd(e->skel->maps.ps_cache_big), &k, &bv);
		memcpy(rep, bv.reply, bv.reply_len);
		return bv.reply_len;
	}
	ps_cache_val_build(&v, val, n, put_gen, PS_FILL_USER);
	ps_cache_put(e->cache, e->present, &k, &v);
	memcpy(rep, v.reply, v.reply_len);
	return v.reply_len;
}

static size_t get_req(char *buf, const char *key)
{
	return (size_t)sprintf(buf, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
}

/* the harness, its maps the prestack object's */
static struct tcr_harness_bpf *harness_open_fault(struct env *e, uint32_t fault)
{
	struct tcr_harness_bpf *h = tcr_harness_bpf__open();

	if (!h)
		return NULL;
	h->rodata->ps_fault = fault;
	if (env_share_maps(h->obj, &e->skel->obj, 1, "ps_tcr_work") ||
	    tcr_harness_bpf__load(h)) {
		tcr_harness_bpf__destroy(h);
		return NULL;
	}
	return h;
}

static struct tcr_harness_bpf *harness_open(struct env *e)
{
	return harness_open_fault(e, 0);
}

/* segment `seg` of the handoff m built from request frame req */
static int harness_seg(struct tcr_harness_bpf *h, const struct ps_tcr_meta *m,
		       uint32_t seg, const uint8_t *req, size_t rlen, uint8_t *o, size_t *olen)
{
	struct { struct ps_tcr_meta m; uint32_t seg; } t = { *m, seg };
	uint32_t zero = 0;
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = req, .data_size_in = (__u32)rlen,
		    .data_out = o, .data_size_out = 4096, .repeat = 1);

	if (bpf_map_update_elem(bpf_map__fd(h->maps.tcr_test_in), &zero, &t, BPF_ANY) ||
	    bpf_prog_test_run_opts(bpf_program__fd(h->progs.tcr_one), &r))
		return -1000;
	*olen = r.data_size_out;
	return (int)r.retval;
}

/* the segment a client must see */
static size_t want_seg(struct env *e, uint8_t *buf, uint32_t seq, uint32_t ack,
		       uint8_t flags, uint32_t tsval, uint32_t tsecr,
		       const char *payload, size_t plen)
{
	return expected_srv_seg(e, buf, seq, ack, flags, tsval, tsecr, payload, plen);
}

/*
 * Check that the handoff (meta) makes exactly the segments of
 * rep[from..tot) at MSS mss, the earlier ones acking req_seq, the last
 * req_end with PSH; and nothing past the last.
 */
static void check_segments(struct env *e, struct tcr_harness_bpf *h,
			   const struct ps_tcr_meta *m, const uint8_t *req, size_t rlen,
			   size_t tot, uint32_t from, uint32_t mss, uint32_t req_seq,
			   uint32_t req_end, uint32_t tsecr)
{
	uint8_t o[4096], want[1600];
	size_t ol, wl;
	uint32_t i, off, n;
	int v;

	for (i = 0, off = from; off < tot; i++, off += n) {
		int last;
		uint32_t tsval = 0;

		n = (uint32_t)(tot - off) < mss ? (uint32_t)(tot - off) : mss;
		last = off + n >= tot;
		v = harness_seg(h, m, i, req, rlen, o, &ol);
		CHECK_EQ(v, last ? 11 : 10);
		if (e->ts && ol > OFF_TCP + 28)
			tsval = rd32(o + OFF_TCP + 24);
		if (e->ts)
			CHECK(tsval >= SRV_TSV && tsval < SRV_TSV + 60000,
			      "segment %u TSval %u not from the server's clock", i, tsval);
		wl = want_seg(e, want, m->srv_seq + off, last ? req_end : req_seq,
			      last ? TF_PSH | TF_ACK : TF_ACK, tsval, tsecr, rep + off, n);
		CHECK(ol == wl && !memcmp(o, want, wl),
		      "segment %u (bytes %u..%u) differs (len %zu, want %zu)", i, off, off + n,
		      ol, wl);
		if (ol == wl && memcmp(o, want, wl)) {
			hexdiff(o, want, wl);
			if (e->ts)
				printf("#   TSecr %u, expected %u\n", rd32(o + OFF_TCP + 28), tsecr);
		}
		CHECK(pkt_csum_ok(o, ol), "segment %u checksums", i);
	}
	/* no segment after the last */
	CHECK_EQ(harness_seg(h, m, i, req, rlen, o, &ol), 1);
}

/* a pure ACK of e->sseq with one SACK block [left, right) (and TS) */
static size_t ack_sack(struct env *e, uint8_t *buf, uint32_t left, uint32_t right)
{
	uint8_t o[24] = { 1, 1, 5, 10 };
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = e->cseq, .ack = e->sseq,
			      .flags = TF_ACK, .window = 502, .tcpopt = o, .tcpopt_len = 12,
			      .pad_to = 1200 };
	size_t i;

	for (i = 0; i < 4; i++) {
		o[4 + i] = (uint8_t)(left >> (24 - 8 * i));
		o[8 + i] = (uint8_t)(right >> (24 - 8 * i));
	}
	if (e->ts) {
		uint32_t v = e->tsval++;

		o[12] = 1, o[13] = 1, o[14] = 8, o[15] = 10;
		for (i = 0; i < 4; i++) {
			o[16 + i] = (uint8_t)(v >> (24 - 8 * i));
			o[20 + i] = (uint8_t)(SRV_TSV >> (24 - 8 * i));
		}
		s.tcpopt_len = 24;
	}
	return pkt_build(buf, 1600, &s);
}

static void read_meta(struct ps_tcr_meta *m, const uint8_t *o)
{
	memcpy(m, o, sizeof(*m));
}

/* Run the segment in[0..len) through XDP: it must pass up with a
 * handoff for the reply at reply_seq from byte `from` (in *m) in front. */
static void expect_meta(struct env *e, uint32_t reply_seq, uint32_t from,
			struct ps_tcr_meta *m)
{
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len + sizeof(*m));
	read_meta(m, out);
	CHECK_EQ(m->magic, PS_TCR_MAGIC);
	CHECK_EQ(m->srv_seq, reply_seq);
	CHECK_EQ(m->from, from);
}

/* Send request req as the client's next segment: XDP must pass it up
 * untouched with a handoff for a reply at the client's next server seq
 * from byte 0 (in *m). */
static void expect_handoff(struct env *e, const char *req, size_t rl,
			   struct ps_tcr_meta *m)
{
	uint32_t reply_seq = e->sseq;

	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	expect_meta(e, reply_seq, 0, m);
	CHECK(olen == len + sizeof(*m) && !memcmp(out + sizeof(*m), in, len),
	      "the request was changed");
}

/*
 * The kernel's ":1" (sent at kseq0, before the lost reply at reply_seq)
 * again at RTO, its ACK covering the GET it never saw; the client
 * D-SACKs it, an ACK at the reply's first byte: XDP must hand the reply
 * over again whole (in *m, the frame in out[0..olen), the ACK in
 * in[0..len)), counted as rtx_dupack.
 */
static void dsack_handoff(struct env *e, uint32_t kseq0, uint32_t reply_seq,
			  struct ps_tcr_meta *m)
{
	len = srv_seg_at(e, in, sizeof(in), kseq0, ":1\r\n", 4, TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), reply_seq - 4);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->cseq);
	len = ack_sack(e, in, reply_seq - 4, reply_seq);
	expect_meta(e, reply_seq, 0, m);
	CHECK_EQ(stat_get(e, PS_ST_RTX_DUPACK), 1);
}

void t_tc_reply_big(struct env *e)
{
	struct tcr_harness_bpf *h = harness_open(e);
	struct ps_tcr_meta m;
	struct ps_flow f;
	char req[128];
	size_t rl, tot;
	uint32_t req_seq, tsecr, reply_seq;

	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TC_REPLY);
	tot = put_val(e, "big", 3000, 1);
	CHECK_EQ(tot, 3009);
	rl = get_req(req, "big");
	req_seq = e->cseq;
	reply_seq = e->sseq;
	tsecr = e->tsval;
	/* XDP: passed up untouched, the handoff in front of it */
	expect_handoff(e, req, rl, &m);
	/* accounted as an answer */
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, rl);
	CHECK_EQ(f.injected, tot);
	CHECK_EQ(f.cli_nxt, req_seq + rl);
	CHECK_EQ(f.ans_srv_seq, reply_seq);
	CHECK_EQ(f.ans_reply_len, tot);
	CHECK_EQ(stat_get(e, PS_ST_TC_HANDOFFS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(e, PS_ST_REPLIES), 1);
	/* TC: three segments of at most 1448 bytes (MSS 1460 less TS) */
	check_segments(e, h, &m, in, len, tot, 0, e->ts ? 1448 : 1460, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(stat_get(e, PS_ST_TC_SEGMENTS), e->ts ? 3 : 3);
	CHECK_EQ(stat_get(e, PS_ST_TC_REPLY_BYTES), tot);
	e->cseq += (uint32_t)rl;

	/* the client acks the first segment, then again (a duplicate: the
	 * second was lost): the reply again from the hole */
	e->sseq = reply_seq + 1448;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len); /* a partial ACK alone: no re-send */
	len = cli_seg(e, in, "", 0, TF_ACK);
	expect_meta(e, reply_seq, 1448, &m);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 1);
	if (e->ts) {
		/* TSecr: the partial ACK's TSval (the duplicate that asks
		 * for the re-send is not echoed, as in rtx_dupack) */
		check_segments(e, h, &m, out + sizeof(m), len, tot, 1448, 1448, req_seq,
			       req_seq + (uint32_t)rl, e->tsval - 2);
	}
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.injected, tot); /* a re-send adds nothing */

	/* a D-SACK (a duplicate reported below the ACK) is no hole; a SACK
	 * block past the ACK is: the reply again from the ACK */
	e->sseq = reply_seq + 2896;
	len = ack_sack(e, in, reply_seq, reply_seq + 1448);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len);
	len = ack_sack(e, in, reply_seq + 2960, reply_seq + (uint32_t)tot);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len + sizeof(m));
	read_meta(&m, out);
	CHECK_EQ(m.from, 2896);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 2);
	/* the first segment lost, the last (which acks the request) received:
	 * an ACK at the reply's first byte with a SACK past it. guarded: the
	 * whole reply again; retrans: its ring does it (rtx_dupack) */
	e->sseq = reply_seq;
	len = ack_sack(e, in, reply_seq + 2896, reply_seq + (uint32_t)tot);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len + sizeof(m));
	read_meta(&m, out);
	CHECK_EQ(m.srv_seq, reply_seq);
	CHECK_EQ(m.from, 0);

	/* the entry changed between XDP and TC: nothing is built */
	put_val(e, "big", 3000, 2);
	CHECK_EQ(harness_seg(h, &m, 0, out + sizeof(m), len, out, &olen), 1);
	tcr_harness_bpf__destroy(h);
	e->sseq = reply_seq + (uint32_t)tot;
}

void t_tc_reply_small_mss(struct env *e)
{
	struct tcr_harness_bpf *h = harness_open(e);
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT), htons(SRV_PORT) };
	struct ps_tcr_meta m;
	struct ps_flow f;
	char req[128];
	size_t rl, tot;
	uint32_t req_seq, tsecr;

	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	/* a small entry whose reply exceeds the client's MSS of 536 */
	CHECK_EQ(flow_get(e, &f), 0);
	f.mss_cli = 536;
	bpf_map_update_elem(e->flows, &k, &f, BPF_EXIST);
	tot = put_val(e, "mid", 1000, 3);
	rl = get_req(req, "mid");
	/* without the TC path: fb_mss, passed translated (nothing consumed) */
	expect_pass(e, req, rl, 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_MSS), 1);
	/* with it: two segments of 524 and 485 */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TC_REPLY);
	/* the kernel's reply to the passed GET first: nothing pending */
	expect_srv(e, rep, tot, 0, 0);
	req_seq = e->cseq;
	tsecr = e->tsval;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len + sizeof(m));
	read_meta(&m, out);
	CHECK_EQ(m.srv_seq, e->sseq);
	check_segments(e, h, &m, in, len, tot, 0, 536 - (e->ts ? 12 : 0), req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, rl);
	CHECK_EQ(f.injected, tot);
	tcr_harness_bpf__destroy(h);
}

/* TC egress lets the marked segments pass untranslated; TC ingress
 * passes what carries no handoff */
void t_tc_reply_marks(struct env *e)
{
	uint8_t o[4096];
	struct __sk_buff ctx = { .mark = TCR_MARK };
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_out = o, .data_size_out = sizeof(o),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* a segment in client space already, marked: untouched */
	len = srv_seg(e, in, S("$3\r\nbar\r\n"), TF_PSH | TF_ACK);
	r.data_in = in;
	r.data_size_in = (__u32)len;
	CHECK_EQ(bpf_prog_test_run_opts(e->tc, &r), 0);
	CHECK_EQ(r.retval, TC_OK);
	CHECK(r.data_size_out == len && !memcmp(o, in, len), "a marked segment was translated");
	/* the same unmarked: translated (seq + injected) */
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->kseq + 9);
	/* TC ingress: no handoff, passed as it is */
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	r.data_in = in;
	r.data_size_in = (__u32)len;
	r.data_size_out = sizeof(o);
	ctx.mark = 0;
	CHECK_EQ(bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.ps_tc_in), &r), 0);
	CHECK_EQ(r.retval, TC_OK);
	CHECK(r.data_size_out == len && !memcmp(o, in, len), "TC ingress changed a plain request");
	CHECK_EQ(stat_get(e, PS_ST_TC_LOST), 0);
}

/*
 * A pipelined batch of GETs whose replies exceed one segment (9 values of
 * 200 bytes: 1872 bytes): XDP assembles them, copies them into
 * ps_tcr_asm and hands over; TC builds two segments of the concatenated
 * replies. The bytes are the cache's at the XDP run: a write after it
 * changes nothing already answered. A batch over PS_REP_MASK still falls
 * back (fb_mss).
 */
void t_tc_reply_pipelined(struct env *e)
{
	struct tcr_harness_bpf *h = harness_open(e);
	static char all[4096], req[2048];
	static struct ps_tcr_slot slot[1];
	struct ps_tcr_meta m;
	struct ps_flow f;
	size_t rl = 0, tot = 0, n;
	uint32_t req_seq, tsecr, reply_seq, i, v;
	uint64_t claim;
	char key[8];

	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TC_REPLY);
	for (i = 0; i < 9; i++) {
		snprintf(key, sizeof(key), "p%u", i);
		n = put_val(e, key, 200, (char)i);
		memcpy(all + tot, rep, n);
		tot += n;
		rl += get_req(req + rl, key);
	}
	CHECK_EQ(tot, 9 * 208);
	req_seq = e->cseq;
	reply_seq = e->sseq;
	tsecr = e->tsval;
	expect_handoff(e, req, rl, &m);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 9);
	CHECK_EQ(stat_get(e, PS_ST_TC_HANDOFFS), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, rl);
	CHECK_EQ(f.injected, tot);
	/* a write to one key after the XDP run: the answer stands */
	put_val(e, "p3", 200, 42);
	memcpy(rep, all, tot);
	check_segments(e, h, &m, in, len, tot, 0, e->ts ? 1448 : 1460, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	/* a re-send from a hole reads the same bytes */
	m.from = 1000;
	check_segments(e, h, &m, in, len, tot, 1000, e->ts ? 1448 : 1460, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	/* guarded stores no ref for bytes in a slot: its re-sends go by the
	 * flow's claim. The first segment acked twice (the second lost):
	 * the reply again from the hole, the same bytes */
	CHECK(m.claim != 0, "the handoff names no slot");
	CHECK_EQ(f.ans_claim, m.claim);
	claim = m.claim;
	e->cseq += (uint32_t)rl;
	e->sseq = reply_seq + 1448;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len);
	len = cli_seg(e, in, "", 0, TF_ACK);
	expect_meta(e, reply_seq, 1448, &m);
	CHECK_EQ(m.claim, claim);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 1);
	/* the request again (the client's RTO): the reply again whole */
	e->cseq = req_seq;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	expect_meta(e, reply_seq, 0, &m);
	CHECK_EQ(m.claim, claim);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 2);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 9);
	check_segments(e, h, &m, in, len, tot, 0, e->ts ? 1448 : 1460, req_seq,
		       req_seq + (uint32_t)rl, e->tsval - 1);
	/* the slot claimed again (the ring came round): the re-send is
	 * gone, no handoff */
	v = (uint32_t)((claim - 1) % PS_RTX_ENTRIES);
	CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_tcr_asm), &v, slot), 0);
	slot->id = claim + PS_RTX_ENTRIES;
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_tcr_asm), &v, slot, BPF_ANY), 0);
	e->cseq = req_seq + (uint32_t)rl;
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 2);
	e->cseq = req_seq + (uint32_t)rl;
	e->sseq = reply_seq + (uint32_t)tot;

	/* 11 replies of 208 bytes (2288) exceed what XDP assembles */
	rl = 0;
	for (i = 0; i < 11; i++) {
		snprintf(key, sizeof(key), "q%u", i);
		put_val(e, key, 200, (char)i);
		rl += get_req(req + rl, key);
	}
	expect_pass(e, req, rl, f.consumed, f.injected);
	CHECK_EQ(stat_get(e, PS_ST_FB_MSS), 1);
	tcr_harness_bpf__destroy(h);
}

/* the cache flushed: every entry of the older generation misses (what an
 * untrusted flow's every segment does, cache.h ps_flush) */
static void cache_flush_gen(struct env *e, uint32_t gen)
{
	struct ps_config c = { .mode = PS_MODE_RETRANS,
			       .flags = PS_CFG_FILL | PS_CFG_TC_REPLY,
			       .port = SRV_PORT, .cache_gen = gen };
	uint32_t zero = 0;

	bpf_map_update_elem(e->cfg, &zero, &c, BPF_ANY);
	put_gen = gen;
}

/*
 * retrans: a TC reply from ps_cache_big is re-sent with the bytes it was
 * answered with after the cache was flushed (campaign seed 6). Two ways a
 * lost TC reply comes back: the last of three segments lost, the client
 * acks the first two and retransmits its request; a one-segment reply
 * lost whole, the kernel's retransmission of its earlier reply (+OK) acks
 * the request for the client, which D-SACKs it: an ACK at the reply's
 * first byte. Before the copy in ps_tcr_big, TC ingress found no entry of
 * the current generation and shot each re-send (tc_lost): a stall.
 */
void t_tc_reply_rtx_flushed(struct env *e)
{
	struct tcr_harness_bpf *h = harness_open(e);
	static char rep1[PS_BIG_REPLY_MAX];
	struct ps_tcr_meta m;
	char req[128];
	size_t rl, tot, tot2;
	uint32_t req_seq, reply_seq, tsecr;

	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	env_set_mode(e, PS_MODE_RETRANS, PS_CFG_FILL | PS_CFG_TC_REPLY);
	tot = put_val(e, "big", 3000, 1);
	CHECK_EQ(tot, 3009);
	memcpy(rep1, rep, tot);
	rl = get_req(req, "big");
	req_seq = e->cseq;
	reply_seq = e->sseq;
	tsecr = e->tsval;
	expect_handoff(e, req, rl, &m);
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 1);
	check_segments(e, h, &m, in, len, tot, 0, e->ts ? 1448 : 1460, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	e->cseq += (uint32_t)rl;
	/* the third segment lost: the client acks the first two */
	e->sseq = reply_seq + 2 * (e->ts ? 1448 : 1460);
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(olen, len);
	cache_flush_gen(e, 2);
	/* its request again (RTO): the whole reply again, its bytes as sent */
	e->cseq = req_seq;
	tsecr = e->tsval;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	e->cseq += (uint32_t)rl;
	expect_meta(e, reply_seq, 0, &m);
	CHECK_EQ(stat_get(e, PS_ST_TC_RESENDS), 1);
	memcpy(rep, rep1, tot);
	check_segments(e, h, &m, out + sizeof(m), len, tot, 0, e->ts ? 1448 : 1460,
		       req_seq, req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(stat_get(e, PS_ST_TC_LOST), 0);
	e->sseq = reply_seq + (uint32_t)tot;

	/* a 1200-byte value (ps_cache_big), one segment, lost whole */
	tot2 = put_val(e, "mid", 1200, 5);
	CHECK_EQ(tot2, 1209);
	memcpy(rep1, rep, tot2);
	rl = get_req(req, "mid");
	req_seq = e->cseq;
	reply_seq = e->sseq;
	/* TSecr: the request's TSval (the duplicate ACK that asks for the
	 * re-send is not echoed, as in t_tc_reply_big) */
	tsecr = e->tsval;
	expect_handoff(e, req, rl, &m);
	e->cseq += (uint32_t)rl;
	cache_flush_gen(e, 3);
	/* an ACK at the reply's first byte with a D-SACK of 5 bytes below
	 * it (the kernel's +OK again): rtx_dupack sends the reply again */
	len = ack_sack(e, in, reply_seq - 5, reply_seq);
	expect_meta(e, reply_seq, 0, &m);
	CHECK_EQ(stat_get(e, PS_ST_RTX_DUPACK), 1);
	memcpy(rep, rep1, tot2);
	check_segments(e, h, &m, out + sizeof(m), len, tot2, 0, e->ts ? 1448 : 1460,
		       req_seq, req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(stat_get(e, PS_ST_TC_LOST), 0);
	e->sseq = reply_seq + (uint32_t)tot2;
	put_gen = 1;
	tcr_harness_bpf__destroy(h);
}

/*
 * retrans: a one-segment TC reply of a small value (its bytes copied in
 * ps_tcr_asm) lost whole, right after a reply of the kernel's own whose
 * ACK rode on the GET (campaign seed 6, a 708-byte reply): the kernel,
 * which never saw that ACK, sends its reply again at RTO with an ACK that
 * covers the GET; the client D-SACKs it, an ACK at the lost reply's first
 * byte, and waits: that ACK must bring the reply back.
 */
void t_tc_reply_rtx_dsack_small(struct env *e)
{
	struct tcr_harness_bpf *h = harness_open(e);
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT), htons(SRV_PORT) };
	static const char incr[] = "*2\r\n$4\r\nincr\r\n$2\r\nk3\r\n";
	static char rep1[PS_BIG_REPLY_MAX];
	struct ps_tcr_meta m;
	struct ps_flow f;
	char req[128];
	size_t rl, tot;
	uint32_t req_seq, reply_seq, kseq0, tsecr;

	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	env_set_mode(e, PS_MODE_RETRANS, PS_CFG_FILL | PS_CFG_TC_REPLY);
	/* a reply over the client's MSS goes to TC ingress (in the campaign
	 * the frame could not grow: one segment; here two) */
	CHECK_EQ(flow_get(e, &f), 0);
	f.mss_cli = 700;
	bpf_map_update_elem(e->flows, &k, &f, BPF_EXIST);
	tot = put_val(e, "mid", 700, 4);
	CHECK_EQ(tot, 708);
	memcpy(rep1, rep, tot);
	/* the kernel answers a command; the GET acks that reply */
	expect_pass(e, incr, sizeof(incr) - 1, 0, 0);
	kseq0 = e->kseq;
	expect_srv(e, ":1\r\n", 4, 0, 0);
	rl = get_req(req, "mid");
	req_seq = e->cseq;
	reply_seq = e->sseq;
	tsecr = e->tsval;
	expect_handoff(e, req, rl, &m);
	check_segments(e, h, &m, in, len, tot, 0, 700 - (e->ts ? 12 : 0), req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	e->cseq += (uint32_t)rl;
	/* the reply lost; the kernel's ":1" again, the client's D-SACK */
	dsack_handoff(e, kseq0, reply_seq, &m);
	memcpy(rep, rep1, tot);
	check_segments(e, h, &m, out + sizeof(m), len, tot, 0, 700 - (e->ts ? 12 : 0),
		       req_seq, req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(stat_get(e, PS_ST_TC_LOST), 0);
	e->sseq = reply_seq + (uint32_t)tot;
	tcr_harness_bpf__destroy(h);
}

/*
 * retrans: an XDP reply kept in ps_rtx, lost, whose re-send would not fit
 * in the frame that asks for it (a veth frame on a small skb: the
 * campaign's seeds 4 and 6; PS_FAULT_NO_GROW here). rtx_resend returned
 * "nothing sent": a retransmitted request was dropped, every time (seed
 * 4, a 308-byte reply), a D-SACK ACK at the reply's first byte passed
 * (seed 6, a 708-byte reply after the kernel's own reply, re-sent at RTO
 * with an ACK over the GET): the client waited for ever. The kept bytes
 * now go to TC ingress (ps_tcr_asm), which builds the reply as sent.
 */
void t_tc_reply_rtx_no_room(struct env *e)
{
	static const char incr[] = "*2\r\n$4\r\nincr\r\n$2\r\nk3\r\n";
	struct tcr_harness_bpf *h;
	struct ps_tcr_meta m;
	char req[128];
	size_t rl, tot;
	uint32_t req_seq, reply_seq, kseq0, tsecr, mss;
	bool ts = e->ts;

	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_RETRANS, PS_CFG_FILL | PS_CFG_TC_REPLY,
			   PS_FAULT_NO_GROW) || handshake(e, ts)) {
		CHECK(0, "setup failed");
		return;
	}
	h = harness_open(e);
	CHECK(h != NULL, "harness did not load");
	if (!h)
		return;
	mss = 1460 - (e->ts ? 12 : 0);
	tot = put_val(e, "mid", 700, 4);
	CHECK_EQ(tot, 708);
	rl = get_req(req, "mid");

	/* seed 4: answered at XDP, lost; the request again */
	req_seq = e->cseq;
	reply_seq = e->sseq;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(rd32(out + OFF_TCP + 4), reply_seq);
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 1);
	e->cseq = req_seq;
	tsecr = e->tsval;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	e->cseq += (uint32_t)rl;
	expect_meta(e, reply_seq, 0, &m);
	CHECK_EQ(stat_get(e, PS_ST_RTX_REQ), 1);
	check_segments(e, h, &m, out + sizeof(m), len, tot, 0, mss, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	e->sseq = reply_seq + (uint32_t)tot;

	/* seed 6: the kernel answers a command; the next GET acks that
	 * reply and is answered at XDP, lost */
	expect_pass(e, incr, sizeof(incr) - 1, (uint32_t)rl, (uint32_t)tot);
	kseq0 = e->kseq;
	expect_srv(e, ":1\r\n", 4, (uint32_t)rl, (uint32_t)tot);
	req_seq = e->cseq;
	reply_seq = e->sseq;
	tsecr = e->tsval;
	len = cli_seg(e, in, req, rl, TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(rd32(out + OFF_TCP + 4), reply_seq);
	e->cseq += (uint32_t)rl;
	/* the kernel's ":1" again (it never saw the GET that acked it), the
	 * client's D-SACK */
	dsack_handoff(e, kseq0, reply_seq, &m);
	check_segments(e, h, &m, out + sizeof(m), len, tot, 0, mss, req_seq,
		       req_seq + (uint32_t)rl, tsecr);
	CHECK_EQ(stat_get(e, PS_ST_RTX_GONE), 0);
	CHECK_EQ(stat_get(e, PS_ST_TC_LOST), 0);
	e->sseq = reply_seq + (uint32_t)tot;
	tcr_harness_bpf__destroy(h);
}

/*
 * A TC reply's bytes in a slot of ps_tcr_asm claimed again and rewritten
 * with another reply of the same length between tcr_prepare's lookup and
 * its read of their id (PS_FAULT_ASM_REUSE: the next slot's value, its
 * bytes all 'z', copied over it), as a writer on another CPU does once
 * the ring came round. The id read is then that reply's, not the claim
 * the ref names: no segment is built (tc_lost, the request's
 * retransmission brings the reply back), counted entry_moved. Without
 * the comparison with the ref, each segment's check after its copy
 * passes and the other reply's bytes go out.
 */
void t_tc_reply_asm_rekeyed(struct env *e)
{
	struct ps_rtx_key k = { .flow = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
					  htons(SRV_PORT) } };
	struct ps_tcr_slot *v = calloc(1, sizeof(*v));
	struct tcr_harness_bpf *h = harness_open_fault(e, PS_FAULT_ASM_REUSE);
	static char req[2048];
	struct ps_tcr_meta m;
	struct ps_tcr_ref r;
	struct ps_flow f;
	uint8_t o[4096];
	size_t rl = 0, ol;
	uint32_t i, slot;
	int fd = bpf_map__fd(e->skel->maps.ps_tcr_asm);
	char key[8];

	CHECK(h != NULL && v != NULL, "harness did not load");
	if (!h || !v) {
		free(v);
		return;
	}
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TC_REPLY);
	for (i = 0; i < 9; i++) {
		snprintf(key, sizeof(key), "p%u", i);
		put_val(e, key, 200, (char)i);
		rl += get_req(req + rl, key);
	}
	expect_handoff(e, req, rl, &m);
	CHECK_EQ(stat_get(e, PS_ST_TC_HANDOFFS), 1);
	/* guarded: no ref, the handoff and the flow name the claim, whose
	 * slot holds the bytes under that id and what the ref would */
	k.srv_seq = m.srv_seq;
	CHECK(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_tcr_refs), &k, &r) != 0,
	      "a ref stored for a reply in a slot");
	CHECK(m.claim != 0, "no claim in the handoff");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.ans_claim, m.claim);
	slot = (uint32_t)((m.claim - 1) % PS_RTX_ENTRIES);
	CHECK_EQ(bpf_map_lookup_elem(fd, &slot, v), 0);
	CHECK_EQ(v->len, 9 * 208);
	CHECK_EQ(v->id, m.claim);
	CHECK_EQ(v->srv_seq, m.srv_seq);
	CHECK_EQ(v->req_end - v->req_seq, (uint32_t)rl);
	/* another reply of the same length, where the fault finds it */
	memset(v->rep, 'z', v->len);
	v->id += PS_RTX_ENTRIES;
	slot = (slot + 1) % PS_RTX_ENTRIES;
	CHECK_EQ(bpf_map_update_elem(fd, &slot, v, BPF_ANY), 0);
	CHECK_EQ(harness_seg(h, &m, 0, in, len, o, &ol), 1);
	CHECK(memmem(o, ol, "zzzz", 4) == NULL, "another reply's bytes sent");
	CHECK_EQ(stat_get(e, PS_ST_ENTRY_MOVED), 1);
	tcr_harness_bpf__destroy(h);
	free(v);
}
