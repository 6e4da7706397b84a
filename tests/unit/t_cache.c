// SPDX-License-Identifier: GPL-2.0
/*
 * t_cache.c - cache coherence: writes invalidate, missed GETs' replies
 * fill, but never a key with a TTL or one written while the GET was in
 * flight.
 */
#include <string.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"

void t_set_invalidates(struct env *e)
{
	char v[64];

	cache_put(e, "foo", "bar");
	cache_put(e, "k1", "1");
	cache_put(e, "k2", "2");
	cache_put(e, "k3", "3");
	expect_pass(e, S("*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nnew\r\n"), 0, 0);
	CHECK(!cache_has(e, "foo", NULL, 0), "foo still cached after SET");
	CHECK(stat_get(e, PS_ST_INVALIDATIONS) >= 1, "no invalidation counted");
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, S(GET_FOO), 0, 0); /* a miss now */
	expect_srv(e, S("$3\r\nnew\r\n"), 0, 0);
	CHECK(cache_has(e, "foo", v, sizeof(v)) && !strcmp(v, "$3\r\nnew\r\n"),
	      "the reply to the missed GET did not fill the cache");
	expect_pass(e, S("*3\r\n$3\r\nDEL\r\n$2\r\nk1\r\n$2\r\nk2\r\n"), 0, 0);
	CHECK(!cache_has(e, "k1", NULL, 0) && !cache_has(e, "k2", NULL, 0),
	      "DEL k1 k2 left a key cached");
	CHECK(cache_has(e, "k3", NULL, 0), "DEL invalidated k3");
	expect_srv(e, S(":2\r\n"), 0, 0);
	/* case-insensitive command names */
	expect_pass(e, S("*2\r\n$4\r\nincr\r\n$2\r\nk3\r\n"), 0, 0);
	CHECK(!cache_has(e, "k3", NULL, 0), "incr k3 left k3 cached");
}

void t_fill_then_hit(struct env *e)
{
	const char *req = "*2\r\n$3\r\nGET\r\n$5\r\nmiss1\r\n";

	expect_pass(e, req, strlen(req), 0, 0);
	expect_srv(e, S("$5\r\nhello\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	expect_answer(e, req, strlen(req), S("$5\r\nhello\r\n"));
}

void t_ttl_not_filled(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\ntk\r\n";

	/* RENAME gives tk sk's TTL: unknown until the watcher asks Redis */
	expect_pass(e, S("*3\r\n$6\r\nRENAME\r\n$2\r\nsk\r\n$2\r\ntk\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 1);
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK(!cache_has(e, "tk", NULL, 0), "a key whose TTL is unknown was filled");
	/* a plain SET of another key still fills */
	expect_pass(e, S("*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$1\r\nv\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$2\r\npk\r\n"), 0, 0);
	expect_srv(e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
}

void t_fill_skipped_after_write(struct env *e)
{
	const char *req = "*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n";

	expect_pass(e, req, strlen(req), 0, 0);
	/* another connection's write to kk lands before the reply: the
	 * reply may hold the old value, it must not be cached */
	{
		struct env other = *e;
		uint32_t slot;
		uint32_t ep;
		char key[] = "kk";

		slot = ps_key_slot((const __u8 *)key, 2);
		bpf_map_lookup_elem(other.epochs, &slot, &ep);
		ep++;
		bpf_map_update_elem(other.epochs, &slot, &ep, 0);
	}
	expect_srv(e, S("$3\r\nold\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FILL_SKIPPED), 1);
	CHECK(!cache_has(e, "kk", NULL, 0), "stale value cached");
}

#define GETK(k) "*2\r\n$3\r\nGET\r\n$2\r\n" k "\r\n"
#define SETK(k, v) "*3\r\n$3\r\nSET\r\n$2\r\n" k "\r\n$2\r\n" v "\r\n"

/*
 * Pipelined fills: in a segment of GETs alone that goes to Redis (a miss
 * among them, or replies still owed), the first GET that missed fills
 * from its own reply, wherever it sits among the replies and segments; a
 * reply split across segments, a nil, or a write to the key before its
 * reply fills nothing; a fill never lands on another key. A batch with a
 * write arms nothing (it is not answered either).
 */
void t_fill_pipelined(struct env *e)
{
	char v[64];
	uint64_t fills;

	/* a write and two misses: counted per GET, nothing armed */
	expect_pass(e, S(SETK("aa", "va") GETK("bb") GETK("cc")), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_NOT_GET), 1);
	CHECK_EQ(stat_get(e, PS_ST_GA_NOT_GET), 2);
	CHECK_EQ(stat_get(e, PS_ST_FQ_ARMED), 0);
	expect_srv(e, S("+OK\r\n$2\r\nvb\r\n$2\r\nvc\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);

	/* two misses: the first fills from its reply, the second does not */
	expect_pass(e, S(GETK("dd") GETK("ee")), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GA_MISS), 2);
	CHECK_EQ(stat_get(e, PS_ST_FQ_ARMED), 1);
	expect_srv(e, S("$2\r\nvd\r\n$2\r\nve\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(cache_has(e, "dd", v, sizeof(v)) && !strcmp(v, "$2\r\nvd\r\n"), "dd not filled");
	CHECK(!cache_has(e, "ee", NULL, 0), "a second miss was filled");

	/* dd is cached, ee the first miss: ee is armed at its own reply,
	 * the second; split across segments it fills nothing */
	expect_pass(e, S(GETK("dd") GETK("ee")), 0, 0);
	expect_srv(e, S("$2\r\nvd\r\n$2\r\nv"), 0, 0);
	expect_srv(e, S("e\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(!cache_has(e, "ee", NULL, 0), "a reply split across segments was filled");
	/* again, in one segment: filled with ee's reply, not dd's */
	expect_pass(e, S(GETK("dd") GETK("ee")), 0, 0);
	expect_srv(e, S("$2\r\nvd\r\n$2\r\nve\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 2);
	CHECK(cache_has(e, "ee", v, sizeof(v)) && !strcmp(v, "$2\r\nve\r\n"),
	      "ee not filled with its own reply");

	/* a lone canonical GET (XDP's in-place parse) behind a batch whose
	 * replies are owed: armed at its own index */
	fills = stat_get(e, PS_ST_FILLS);
	expect_pass(e, S(SETK("jj", "vj") GETK("kk")), 0, 0);
	expect_pass(e, S(GETK("ll")), 0, 0);
	expect_srv(e, S("+OK\r\n$2\r\nvk\r\n$2\r\nvl\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), fills + 1);
	CHECK(cache_has(e, "ll", v, sizeof(v)) && !strcmp(v, "$2\r\nvl\r\n"),
	      "a lone GET behind a batch not filled with its own reply");

	/* a GET behind an owed reply, then a write of its key before the
	 * replies: Redis may have read either value, nothing cached; a nil
	 * fills nothing */
	fills = stat_get(e, PS_ST_FILLS);
	expect_pass(e, S(SETK("mm", "vm")), 0, 0);
	expect_pass(e, S(GETK("gg")), 0, 0);
	expect_pass(e, S(SETK("gg", "g2")), 0, 0);
	expect_srv(e, S("+OK\r\n$2\r\ng1\r\n+OK\r\n"), 0, 0);
	CHECK(!cache_has(e, "gg", NULL, 0), "a GET's reply cached past a later write of its key");
	expect_pass(e, S(SETK("mm", "vm")), 0, 0);
	expect_pass(e, S(GETK("hh")), 0, 0);
	expect_srv(e, S("+OK\r\n$-1\r\n"), 0, 0);
	CHECK(!cache_has(e, "hh", NULL, 0), "a nil was cached");
	CHECK_EQ(stat_get(e, PS_ST_FILLS), fills);

	/* armings are gone once their replies passed: none left in the flow */
	{
		struct ps_flow f;

		CHECK_EQ(flow_get(e, &f), 0);
		CHECK_EQ(f.fq_mask, 0);
	}
	/* and the filled keys are answered */
	expect_answer(e, S(GETK("dd") GETK("ll")), S("$2\r\nvd\r\n$2\r\nvl\r\n"));
}
