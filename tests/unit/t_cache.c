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

		slot = ps_key_slot_of(key, 2);
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

/* The kernel's reply segment rep: TC sends the stream `want` (the reply
 * with the runs of cut GETs inserted) at the client's next seq. */
static void expect_stream(struct env *e, const char *rep, size_t rlen,
			  const char *want, size_t wlen)
{
	size_t doff, tot;

	len = srv_seg(e, in, rep, rlen, TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	doff = (size_t)(out[OFF_TCP + 12] >> 4) * 4;
	tot = rd16(out + OFF_TCP - IP_LEN + 2);
	CHECK(tot == IP_LEN + doff + wlen && !memcmp(out + OFF_TCP + doff, want, wlen),
	      "the client's stream is not the %zu bytes expected", wlen);
	CHECK_EQ(rd32(out + OFF_TCP + 4), e->sseq);
	CHECK(pkt_csum_ok(out, olen), "checksum");
	e->kseq += (uint32_t)rlen;
	e->sseq += (uint32_t)wlen;
}

/*
 * Pipelined fills: each GET of a segment that missed (the first
 * PS_FQ_ARM) fills from its own reply, wherever it sits among the
 * replies and segments, the GETs
 * cut before it not counted (they never reach Redis); a reply split
 * across segments, a nil, or a write to the key before its reply fills
 * nothing; a fill never lands on another key.
 */
void t_fill_pipelined(struct env *e)
{
	const uint32_t g = sizeof(GETK("xx")) - 1, r = 8; /* "$2\r\nvx\r\n" */
	uint32_t cons = 0, inj = 0;
	uint64_t fills;
	char v[64];

	/* a write and two misses: each miss fills from its own reply */
	expect_pass(e, S(SETK("aa", "va") GETK("bb") GETK("cc")), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GA_MISS), 2);
	CHECK_EQ(stat_get(e, PS_ST_FQ_ARMED), 2);
	expect_srv(e, S("+OK\r\n$2\r\nvb\r\n$2\r\nvc\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 2);
	CHECK(cache_has(e, "bb", v, sizeof(v)) && !strcmp(v, "$2\r\nvb\r\n"), "bb not filled");
	CHECK(cache_has(e, "cc", v, sizeof(v)) && !strcmp(v, "$2\r\nvc\r\n"), "cc not filled");

	/* bb cached, dd a miss: bb cut (its reply goes in front of dd's),
	 * dd armed at its own reply, the first Redis sends; split across
	 * segments it fills nothing */
	expect_cut(e, S(GETK("bb") GETK("dd")), S(GETK("dd")), cons, inj);
	cons += g;
	expect_stream(e, S("$2\r\nv"), S("$2\r\nvb\r\n$2\r\nv"));
	inj += r;
	expect_stream(e, S("d\r\n"), S("d\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 2);
	CHECK(!cache_has(e, "dd", NULL, 0), "a reply split across segments was filled");
	/* again, in one segment: filled with dd's reply, not bb's */
	expect_cut(e, S(GETK("bb") GETK("dd")), S(GETK("dd")), cons, inj);
	cons += g;
	expect_stream(e, S("$2\r\nvd\r\n"), S("$2\r\nvb\r\n$2\r\nvd\r\n"));
	inj += r;
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 3);
	CHECK(cache_has(e, "dd", v, sizeof(v)) && !strcmp(v, "$2\r\nvd\r\n"),
	      "dd not filled with its own reply");

	/* a lone canonical GET (XDP's in-place parse) behind a batch whose
	 * replies are owed: armed at its own index */
	fills = stat_get(e, PS_ST_FILLS);
	expect_pass(e, S(SETK("jj", "vj") GETK("kk")), cons, inj);
	expect_pass(e, S(GETK("ll")), cons, inj);
	expect_srv(e, S("+OK\r\n$2\r\nvk\r\n$2\r\nvl\r\n"), cons, inj);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), fills + 2);
	CHECK(cache_has(e, "ll", v, sizeof(v)) && !strcmp(v, "$2\r\nvl\r\n"),
	      "a lone GET behind a batch not filled with its own reply");

	/* a GET behind an owed reply, then a write of its key before the
	 * replies: Redis may have read either value, nothing cached; a nil
	 * fills nothing */
	fills = stat_get(e, PS_ST_FILLS);
	expect_pass(e, S(SETK("mm", "vm")), cons, inj);
	expect_pass(e, S(GETK("gg")), cons, inj);
	expect_pass(e, S(SETK("gg", "g2")), cons, inj);
	expect_srv(e, S("+OK\r\n$2\r\ng1\r\n+OK\r\n"), cons, inj);
	CHECK(!cache_has(e, "gg", NULL, 0), "a GET's reply cached past a later write of its key");
	expect_pass(e, S(SETK("mm", "vm")), cons, inj);
	expect_pass(e, S(GETK("hh")), cons, inj);
	expect_srv(e, S("+OK\r\n$-1\r\n"), cons, inj);
	CHECK(!cache_has(e, "hh", NULL, 0), "a nil was cached");
	CHECK_EQ(stat_get(e, PS_ST_FILLS), fills);

	/* armings are gone once their replies passed: none left in the flow */
	{
		struct ps_flow f;

		CHECK_EQ(flow_get(e, &f), 0);
		CHECK_EQ(f.fq_mask, 0);
	}
	/* and the filled keys are answered */
	expect_answer(e, S(GETK("bb") GETK("ll")), S("$2\r\nvb\r\n$2\r\nvl\r\n"));
}
