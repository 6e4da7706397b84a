// SPDX-License-Identifier: GPL-2.0
/*
 * t_coherence.c - what the coherence watcher's two maps do to the fast
 * path: a key with a TTL is cached with its expiry and refused a margin
 * before it; nothing is answered while the watcher's lease is stale.
 */
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ttl_set(struct env *e, const char *key, uint64_t v)
{
	struct ps_cache_key k;

	ps_cache_key_build(&k, key, strlen(key));
	return bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_ttl), &k, &v, BPF_ANY);
}

static uint64_t ttl_get(struct env *e, const char *key)
{
	struct ps_cache_key k;
	uint64_t v = 0;

	ps_cache_key_build(&k, key, strlen(key));
	bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_ttl), &k, &v);
	return v;
}

void t_ttl_expiry(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\ntk\r\n";
	struct ps_cache_key k;
	struct ps_cache_val v;
	uint64_t exp;

	/* SET ... EX read from the request (a write that cannot fail): the
	 * expiry is known at once, the reply to the next GET fills with it
	 * and the GET after that is answered: no miss more than a SET
	 * without TTL costs */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT);
	/* a day: the expiry counts from the suite's start (env_ttl_clock), and
	 * the fill below reads the real clock, well over 100 s later on a
	 * loaded machine */
	expect_pass(e, S("*5\r\n$3\r\nSET\r\n$2\r\ntk\r\n$1\r\nv\r\n$2\r\nEX\r\n$5\r\n86400\r\n"), 0, 0);
	exp = env_ttl_clock + 86400ull * 1000000000ull;
	CHECK(ttl_get(e, "tk") == exp, "SET EX 86400 did not record its expiry");
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 0);
	ps_cache_key_build(&k, "tk", 2);
	CHECK(!ps_cache_get(e->cache, &k, &v) && v.expires_ns == exp,
	      "filled without the key's expiry");
	expect_answer(e, get, strlen(get), S("$1\r\nv\r\n"));
	/* within the margin of its expiry (the watcher learnt a shorter
	 * TTL): left to Redis and forgotten, and its reply not filled */
	exp = mono_ns() + PS_TTL_MARGIN_NS / 2;
	CHECK_EQ(ttl_set(e, "tk", exp), 0);
	v.expires_ns = exp;
	CHECK_EQ(ps_cache_put(e->cache, e->present, &k, &v), 0);
	expect_pass(e, get, strlen(get), 21, 7);
	CHECK_EQ(stat_get(e, PS_ST_TTL_REFUSED), 1);
	CHECK(!cache_has(e, "tk", NULL, 0), "an entry past its margin stayed cached");
	expect_srv(e, S("$1\r\nv\r\n"), 21, 7);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(!cache_has(e, "tk", NULL, 0), "filled within the margin of the expiry");
	/* RENAME gives the destination the source's TTL: unknown */
	expect_pass(e, S("*3\r\n$6\r\nRENAME\r\n$2\r\nsk\r\n$2\r\ndk\r\n"), 21, 7);
	CHECK(ttl_get(e, "dk") == PS_TTL_UNKNOWN, "RENAME's destination TTL not marked unknown");
	CHECK(ttl_get(e, "sk") == 0, "RENAME's source was marked");
}

static int lease_set(struct env *e, uint64_t until)
{
	uint32_t idx = PS_LEASE_UNTIL;

	return bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &until, BPF_ANY);
}

void t_lease(struct env *e)
{
	/* attach's default: answer only under the watcher's lease */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_LEASE);
	cache_put(e, "foo", "bar");
	/* never granted */
	expect_pass(e, S(GET_FOO), 0, 0);
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_LEASE), 1);
	/* granted */
	CHECK_EQ(lease_set(e, mono_ns() + 1000000000ull), 0);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* ran out: the watcher died or hung */
	CHECK_EQ(lease_set(e, mono_ns() - 1), 0);
	expect_pass(e, S(GET_FOO), 22, 9);
	CHECK_EQ(stat_get(e, PS_ST_FB_LEASE), 2);
	/* without PS_CFG_LEASE (attach --no-coherence) the lease is not asked */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL);
	cache_put(e, "foo", "bar");
	expect_srv(e, S("$3\r\nbar\r\n"), 22, 9);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
}

static uint32_t inflight_any(struct env *e)
{
	uint32_t idx = PS_EPOCH_SLOTS, v = ~0u;

	bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_wr_inflight), &idx, &v);
	return v;
}

/* FLUSHALL reaches XDP: the cache is flushed, and until its reply nothing
 * is filled (a GET that Redis runs before it would fill the old value);
 * at the reply the cache is flushed again */
void t_flush_in_flight(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$1\r\nf\r\n";
	uint64_t fl = stat_get(e, PS_ST_FLUSHES);

	expect_pass(e, S("*1\r\n$8\r\nFLUSHALL\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 1);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 1);
	CHECK_EQ(stat_get(e, PS_ST_WR_FLUSH_HELD), 1);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 0);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 2);
	/* held: a fill on the way is refused */
	expect_pass(e, get, strlen(get), 0, 0);
	expect_pass(e, S("*1\r\n$7\r\nFLUSHDB\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 1);
	expect_srv(e, S("$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK(!cache_has(e, "f", NULL, 0), "filled while a FLUSHDB was in flight");
	expect_srv(e, S("+OK\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 0);
	/* EXEC too (the queued writes run then) */
	expect_pass(e, S("*1\r\n$5\r\nMULTI\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, S("*1\r\n$4\r\nEXEC\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 1);
	expect_srv(e, S("*0\r\n"), 0, 0);
	CHECK_EQ(inflight_any(e), 0);
}

static void lease_put(struct env *e, uint32_t idx, uint64_t v)
{
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &v, BPF_ANY);
}

/* A command after which no packet shows every write: nothing answered
 * until the watcher has looked at Redis (PS_LEASE_REVOKE_ACK) */
void t_revoke(struct env *e)
{
	const char *rof = "*3\r\n$9\r\nREPLICAOF\r\n$10\r\n198.18.9.9\r\n$4\r\n6379\r\n";
	const char *cget = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n";
	const char *cset = "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$9\r\nmaxmemory\r\n$2\r\n1m\r\n";

	struct ps_cmd_key ck;
	uint32_t cls = PS_CLASS_SUB;

	/* Redis's table: CONFIG's subcommands decide */
	ps_cmd_key_build(&ck, "config", 6);
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_cmds), &ck, &cls, BPF_ANY);
	ps_cmd_key_build(&ck, "config|get", 10);
	cls = PS_CLASS_READ;
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_cmds), &ck, &cls, BPF_ANY);
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_LEASE);
	lease_put(e, PS_LEASE_UNTIL, mono_ns() + 10ull * 1000000000ull);
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* CONFIG GET: nothing to look at */
	expect_pass(e, cget, strlen(cget), 22, 9);
	expect_srv(e, S("*2\r\n$4\r\nsave\r\n$0\r\n\r\n"), 22, 9);
	CHECK_EQ(stat_get(e, PS_ST_REVOKED), 0);
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	expect_pass(e, rof, strlen(rof), 44, 18);
	CHECK_EQ(stat_get(e, PS_ST_REVOKED), 1);
	expect_srv(e, S("+OK\r\n"), 44, 18);
	cache_put(e, "foo", "bar");
	expect_pass(e, S(GET_FOO), 44, 18);
	CHECK_EQ(stat_get(e, PS_ST_FB_LEASE), 1);
	expect_srv(e, S("$3\r\nbar\r\n"), 44, 18);
	/* the watcher found Redis a master again */
	lease_put(e, PS_LEASE_REVOKE_ACK, 1);
	cache_put(e, "foo", "bar");
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	expect_pass(e, cset, strlen(cset), 66, 27);
	CHECK_EQ(stat_get(e, PS_ST_REVOKED), 2);
	expect_srv(e, S("+OK\r\n"), 66, 27);
	cache_put(e, "foo", "bar");
	expect_pass(e, S(GET_FOO), 66, 27);
	CHECK_EQ(stat_get(e, PS_ST_FB_LEASE), 2);
}
