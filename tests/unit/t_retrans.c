// SPDX-License-Identifier: GPL-2.0
/*
 * t_retrans.c - retransmitted requests: re-answered identically or
 * dropped, and retrans mode's stored replies.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"

void t_retransmission(struct env *e)
{
	uint8_t first[1600];
	size_t flen;
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	memcpy(first, out, olen);
	flen = olen;
	/* the same request again: the very same reply, mirrors unchanged */
	e->cseq -= sizeof(GET_FOO) - 1;
	e->tsval--;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(olen, flen);
	/* identical but for the TSval, which follows the clock */
	CHECK(!memcmp(out, first, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 28, first + OFF_TCP + 28, flen - OFF_TCP - 28),
	      "retransmitted reply differs");
	CHECK(pkt_csum_ok(out, olen), "retransmitted reply checksum");
	CHECK_EQ(stat_get(e, PS_ST_RETRANS_REPLIES), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, sizeof(GET_FOO) - 1);
	CHECK_EQ(f.injected, 9);
	/* if the value changed meanwhile the bytes cannot be reproduced:
	 * drop rather than hand consumed bytes to the kernel */
	cache_put(e, "foo", "BAR!");
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_DROPPED), 1);
	/* naive answers it again as new: injected counted twice */
	env_set_mode(e, PS_MODE_NAIVE, PS_CFG_FILL);
	cache_put(e, "foo", "bar");
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.injected, 18);
}

/* retrans mode: an injected reply is kept until acked and re-sent, from
 * its stored bytes, for a retransmitted request that is not the last one
 * answered and for a duplicate ACK with a SACK block above it */
void t_retrans_mode(struct env *e)
{
	uint8_t reply2[1600], opt[24] = { 1, 1, 8, 10 };
	uint32_t s1, c2, ss;
	size_t r2len;

	cache_put(e, "foo", "bar");
	s1 = e->sseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));   /* reply 1 at s1 */
	c2 = e->cseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));   /* reply 2 at s1+9 */
	memcpy(reply2, out, olen);
	r2len = olen;
	/* request 3 leaves before reply 2 arrives: it acks reply 1 only */
	ss = e->sseq;
	e->sseq = s1 + 9;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->sseq = ss;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(rd32(out + OFF_TCP + 4), s1 + 18);
	e->cseq += sizeof(GET_FOO) - 1;
	e->sseq += 9;
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 3);
	cache_put(e, "foo", "BAR!");   /* the stored bytes count, not the cache */

	/* request 2 again (not the last answered: guarded would drop it);
	 * the same bytes but TSval/TSecr, which follow the clock and the
	 * client's newest TSval */
	ss = e->sseq;
	e->cseq = c2;
	e->sseq = s1 + 9;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->cseq += 2 * (sizeof(GET_FOO) - 1);
	e->sseq = ss;
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK_EQ(olen, r2len);
	CHECK(olen == r2len && !memcmp(out, reply2, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 32, reply2 + OFF_TCP + 32, r2len - OFF_TCP - 32),
	      "re-sent reply 2 differs from the original");
	CHECK(pkt_csum_ok(out, olen), "re-sent reply checksum");
	CHECK_EQ(stat_get(e, PS_ST_RTX_REQ), 1);

	/* reply 2 lost, reply 3 arrived: ACK at s1+9 with SACK [s1+18, s1+27) */
	{
		struct pkt_spec sp = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
				       .daddr = SRV_IP, .sport = CLI_PORT, .dport = SRV_PORT,
				       .seq = e->cseq, .ack = s1 + 9, .flags = TF_ACK,
				       .window = 502, .tcpopt = opt, .tcpopt_len = 24,
				       .pad_to = 1200 };
		uint32_t tv = e->tsval++, l = s1 + 18, r = s1 + 27;

		opt[4] = tv >> 24; opt[5] = tv >> 16; opt[6] = tv >> 8; opt[7] = tv;
		opt[8] = SRV_TSV >> 24; opt[9] = SRV_TSV >> 16; opt[10] = SRV_TSV >> 8;
		opt[11] = SRV_TSV & 0xff;
		opt[12] = 1; opt[13] = 1; opt[14] = 5; opt[15] = 10;
		opt[16] = l >> 24; opt[17] = l >> 16; opt[18] = l >> 8; opt[19] = l;
		opt[20] = r >> 24; opt[21] = r >> 16; opt[22] = r >> 8; opt[23] = r;
		len = pkt_build(in, sizeof(in), &sp);
	}
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
	CHECK(olen == r2len && !memcmp(out, reply2, OFF_TCP + 16) &&
	      !memcmp(out + OFF_TCP + 32, reply2 + OFF_TCP + 32, r2len - OFF_TCP - 32),
	      "reply 2 re-sent for the SACK hole differs from the original");
	CHECK_EQ(stat_get(e, PS_ST_RTX_DUPACK), 1);
}

/* retrans: the reply lost, the request's retransmission split in three on
 * the way (campaign seed 6): each piece lies inside the answered request.
 * Passed, the kernel ACKed it at its rcv_nxt, which the client reads as
 * its request delivered: it waited for ever. Each piece gets the reply
 * again, acking the whole request. */
void t_retrans_split(struct env *e)
{
	uint8_t first[1600];
	size_t flen, n = sizeof(GET_FOO) - 1, i, k = 3;
	uint32_t c1;

	cache_put(e, "foo", "bar");
	c1 = e->cseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	memcpy(first, out, olen);
	flen = olen;
	e->sseq -= 9;   /* the reply lost: the client acks up to it only */
	for (i = 0; i < k; i++) {
		size_t a = i * n / k, b = (i + 1) * n / k;

		e->cseq = c1 + (uint32_t)a;
		len = cli_seg(e, in, GET_FOO + a, b - a, TF_PSH | TF_ACK);
		CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
		CHECK_EQ(olen, flen);
		/* the same reply (seq, ack of the whole request) but TSval/TSecr */
		CHECK(olen == flen && !memcmp(out, first, OFF_TCP + 16) &&
		      !memcmp(out + OFF_TCP + 32, first + OFF_TCP + 32, flen - OFF_TCP - 32),
		      "piece %zu: re-sent reply differs from the original", i);
		CHECK_EQ(rd32(out + OFF_TCP + 8), c1 + (uint32_t)n);
		CHECK(pkt_csum_ok(out, olen), "re-sent reply checksum");
	}
	CHECK_EQ(stat_get(e, PS_ST_RTX_REQ), k);
	e->cseq = c1 + (uint32_t)n;
	e->sseq += 9;
}

/*
 * retrans: a reply's entry in ps_rtx evicted and its element reused for
 * another reply between rtx_resend's lookup and its read of the entry's
 * identity (PS_FAULT_RTX_REUSE: the flow's entry at srv_seq +
 * PS_FAULT_RTX_SEQ copied over it, the key looked up gone). The copy is
 * that reply's, consistent in itself (id, length and sum all its own, the
 * length the same as the lost reply's), so the check after the copy
 * passed and the other reply's bytes went out as this one. rtx_resend
 * now looks its key up again before that check (ENTRY_OF): nothing is
 * re-sent from ps_rtx, counted rtx_gone, and the request goes on as when
 * nothing is kept (here: answered again from the cache).
 */
void t_rtx_entry_rekeyed(struct env *e)
{
	struct ps_rtx_key k = { .flow = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
					  htons(SRV_PORT) } };
	struct ps_rtx_val *v = calloc(1, sizeof(*v));
	uint32_t s1, c1, ss;
	int verdict;

	fixture_teardown(e);
	if (!v || env_open_fault(e, PS_MODE_RETRANS, PS_CFG_FILL, PS_FAULT_RTX_REUSE) ||
	    handshake(e, true)) {
		CHECK(0, "setup failed");
		free(v);
		return;
	}
	cache_put(e, "foo", "bar");
	s1 = e->sseq;
	c1 = e->cseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_RTX_STORED), 1);
	/* another reply of the same length, stored where the fault finds it */
	k.srv_seq = s1 + PS_FAULT_RTX_SEQ;
	v->len = 9;
	v->id = 42;
	memcpy(v->rep, "$3\r\nzzz\r\n", 9);
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_rtx), &k, v, BPF_ANY), 0);
	/* the request again (its reply lost): re-sent from ps_rtx */
	ss = e->sseq;
	e->cseq = c1;
	e->sseq = s1;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	e->cseq += sizeof(GET_FOO) - 1;
	e->sseq = ss;
	verdict = xdp_run(e, in, len, out, &olen);
	CHECK(verdict != XDP_TX || memmem(out, olen, "zzz", 3) == NULL,
	      "another reply's bytes re-sent as this one's");
	/* answered again from the cache, as guarded re-answers */
	CHECK_EQ(verdict, XDP_TX);
	CHECK(olen >= 9 && !memcmp(out + olen - 9, "$3\r\nbar\r\n", 9),
	      "the re-answer is not the key's reply");
	CHECK(pkt_csum_ok(out, olen), "re-answer checksum");
	CHECK_EQ(stat_get(e, PS_ST_RTX_GONE), 1);
	CHECK_EQ(stat_get(e, PS_ST_RTX_REQ), 0);
	free(v);
}
