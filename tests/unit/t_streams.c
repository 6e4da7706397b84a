// SPDX-License-Identifier: GPL-2.0
/*
 * t_streams.c - the reply stream followed through segments longer than
 * the parser's window (TC egress sees GSO super-segments of up to 64 KB;
 * BPF_PROG_TEST_RUN takes a few KB, enough for two windows).
 */
#include <string.h>
#include <bpf/bpf.h>
#include "fixture.h"
#include "cases.h"

#define ELEMS 200
#define ELEM "$7\r\nabcdefg\r\n"    /* 13 bytes: elements cross the window edge */

void t_big_reply(struct env *e)
{
	static char rep[4096];
	static uint8_t frame[4096], res[4096];
	const char *get = "*2\r\n$3\r\nGET\r\n$5\r\nmiss1\r\n";
	const char *hello = "$5\r\nhello\r\n";
	size_t n = 0, flen, rlen;
	uint32_t a_seq;
	struct ps_flow f;
	char v[64];

	/* a 200-element array: 2606 bytes, more than one parser window */
	n = (size_t)snprintf(rep, sizeof(rep), "*%d\r\n", ELEMS);
	for (int i = 0; i < ELEMS; i++) {
		memcpy(rep + n, ELEM, strlen(ELEM));
		n += strlen(ELEM);
	}
	CHECK(n > PS_PAYLOAD_MAX, "reply of %zu bytes fits one window", n);
	expect_pass(e, S("*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n"), 0, 0);
	a_seq = e->kseq;
	flen = srv_seg_at(e, frame, sizeof(frame), a_seq, rep, n, TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, frame, flen, res, &rlen), TC_OK);
	e->kseq += (uint32_t)n;
	e->sseq += (uint32_t)n;
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.replies_seen, 1);
	CHECK_EQ(f.pending, 0);
	CHECK(!(f.flags & (PS_F_UNTRUSTED | PS_F_REP_DESYNC)),
	      "a reply longer than the window untrusted the flow (reason %u)", f.untrusted_reason);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_UNTRUSTED), 0);

	/* the GET that misses is all that is pending: its reply fills. The
	 * kernel sends it behind a retransmission of the whole array, so the
	 * reply starts 2606 bytes in, in the second window */
	expect_pass(e, get, strlen(get), 0, 0);
	memcpy(rep + n, hello, strlen(hello));
	flen = srv_seg_at(e, frame, sizeof(frame), a_seq, rep, n + strlen(hello),
			  TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, frame, flen, res, &rlen), TC_OK);
	e->kseq += (uint32_t)strlen(hello);
	e->sseq += (uint32_t)strlen(hello);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.replies_seen, 2);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(cache_has(e, "miss1", v, sizeof(v)) && !strcmp(v, hello),
	      "the reply at offset %zu did not fill the cache", n);
	expect_answer(e, get, strlen(get), hello, strlen(hello));
}

void t_big_request(struct env *e)
{
	static char req[4096];
	static uint8_t frame[4096], res[4096];
	size_t n, flen, rlen;
	struct ps_flow f;

	/* SET bigk <2100 bytes>, then SET k2 x in the same segment: longer
	 * than one window, both keys invalidated, two replies owed */
	cache_put(e, "bigk", "old");
	cache_put(e, "k2", "old");
	n = (size_t)snprintf(req, sizeof(req), "*3\r\n$3\r\nSET\r\n$4\r\nbigk\r\n$2100\r\n");
	memset(req + n, 'x', 2100);
	n += 2100;
	n += (size_t)snprintf(req + n, sizeof(req) - n,
			      "\r\n*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$1\r\nx\r\n");
	flen = cli_seg_cap(e, frame, sizeof(frame), req, n, TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, frame, flen, res, &rlen), XDP_PASS);
	e->cseq += (uint32_t)n;
	e->kack += (uint32_t)n;
	CHECK(!cache_has(e, "bigk", NULL, 0), "bigk still cached");
	CHECK(!cache_has(e, "k2", NULL, 0), "k2, after the window edge, still cached");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 2);
	CHECK(!(f.flags & (PS_F_UNTRUSTED | PS_F_REQ_DESYNC)),
	      "a request longer than the window untrusted the flow (reason %u)", f.untrusted_reason);
	expect_srv(e, S("+OK\r\n+OK\r\n"), 0, 0);
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
}
