// SPDX-License-Identifier: GPL-2.0
/*
 * t_hit.c - answers: single and pipelined GET hits with exact bytes,
 * what makes a segment pass instead, mode off.
 */
#include <string.h>
#include "fixture.h"
#include "cases.h"

void t_hit(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(e, PS_ST_REPLIES), 1);
	CHECK_EQ(stat_get(e, PS_ST_REPLY_BYTES), 9);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.consumed, sizeof(GET_FOO) - 1);
	CHECK_EQ(f.injected, 9);
	CHECK_EQ(f.cli_nxt, CISN + 1 + sizeof(GET_FOO) - 1);
	CHECK_EQ(f.hits, 1);
	if (e->ts)
		CHECK(rd32(out + OFF_TCP + 28) == e->tsval - 1, "TSecr is not the request's TSval");
	else
		CHECK_EQ(out[OFF_TCP + 12] >> 4, 5);
}

void t_pipelined(struct env *e)
{
	cache_put(e, "foo", "bar");
	cache_put(e, "baz", "quux!");
	expect_answer(e, S(GET_FOO "*2\r\n$3\r\nGET\r\n$3\r\nbaz\r\n"),
		      S("$3\r\nbar\r\n$5\r\nquux!\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 2);
	CHECK_EQ(stat_get(e, PS_ST_REPLIES), 1);
	/* one key missing: the hit is cut, the miss goes to Redis, and the
	 * hit's reply will go in front of Redis's (t_pipeline.c) */
	expect_cut(e, S(GET_FOO "*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"),
		   S("*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n"),
		   2 * (sizeof(GET_FOO) - 1), 9 + 11);
	CHECK_EQ(stat_get(e, PS_ST_FB_MISS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GA_MISS), 1);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 3);
}

void t_mixed_segment(struct env *e)
{
	cache_put(e, "foo", "bar");
	/* not answered whole; the GET is cut, PING goes to Redis */
	expect_cut(e, S(GET_FOO "*1\r\n$4\r\nPING\r\n"), S("*1\r\n$4\r\nPING\r\n"),
		   0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_NOT_GET), 1);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 1);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
}

void t_mode_off(struct env *e)
{
	cache_put(e, "foo", "bar");
	env_set_mode(e, PS_MODE_OFF, PS_CFG_FILL);
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(olen == len && !memcmp(in, out, len), "off changed a frame");
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
}
