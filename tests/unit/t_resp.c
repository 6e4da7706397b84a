// SPDX-License-Identifier: GPL-2.0
/*
 * t_resp.c - what may fill the cache and what may be answered at all:
 * only a connection that could have been answered fills (SELECT, MULTI);
 * only requests Redis 7.0's reader takes the same way are answered (the
 * byte strings below were sent to a redis-server 7.0: its replies are in
 * the comments); and a fill that races an invalidation never leaves the
 * old value cached, in each interleaving two CPUs can produce (driven by
 * tests/unit/bpf/fill_harness.bpf.c).
 */
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "keyhash.h"
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"
#include "fill_harness.skel.h"

/* Class 1: a SELECTed connection's miss fills nothing, so a db-0
 * connection is never answered with another database's value. */
void t_fill_rule(struct env *e)
{
	struct ps_flow f;

	/* SELECT 1, then a miss of foo: db 1's value comes back */
	expect_pass(e, S("*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_STATE), 0); /* (the miss is what counts) */
	CHECK_EQ(stat_get(e, PS_ST_FB_MISS), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK(!(f.flags & PS_F_FILL_ARMED), "a SELECTed flow armed a fill");
	expect_srv(e, S("$4\r\ndb-1\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FILL_SKIPPED), 0);
	CHECK(!cache_has(e, "foo", NULL, 0), "db 1's value was cached");
}

/* The rule is checked again when the reply comes: a flow that SELECTs
 * (or enters MULTI) while its miss is in flight fills nothing. */
void t_fill_rule_late(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n";

	expect_pass(e, get, strlen(get), 0, 0);
	expect_pass(e, S("*1\r\n$5\r\nMULTI\r\n"), 0, 0);
	expect_srv(e, S("$3\r\nold\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FILL_SKIPPED), 1);
	CHECK(!cache_has(e, "kk", NULL, 0), "filled from a flow now in MULTI");
	/* and the same flow, out of MULTI, fills again */
	expect_pass(e, S("*1\r\n$7\r\nDISCARD\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$3\r\nnew\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK(cache_has(e, "kk", NULL, 0), "a db-0 flow out of MULTI did not fill");
}

/* one request on a fresh fixture flow: Redis rejects it, so it is never
 * answered, the flow is given up (its writes may have been misread) */
static void refused(struct env *e, const char *req, size_t rlen)
{
	struct fixture fx = { .mode = PS_MODE_GUARDED, .ts = true };
	struct ps_flow f;

	fixture_teardown(e);
	if (fixture_setup(e, &fx))
		return;
	cache_put(e, "foo", "bar");
	expect_pass(e, req, rlen, 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_REPLIES), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK(f.flags & PS_F_REQ_DESYNC, "a request Redis refuses left the stream followed");
	CHECK_EQ(f.untrusted_reason, PS_UT_REQ_PARSE);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 1);
}

/* Class 4: Redis's reader, byte for byte */
void t_rq_redis_rules(struct env *e)
{
	struct fixture fx = { .mode = PS_MODE_GUARDED, .ts = true };
	struct ps_flow f;

	/* -ERR Protocol error: invalid bulk length, connection closed */
	refused(e, S("*2\r\n$03\r\nGET\r\n$3\r\nfoo\r\n"));
	refused(e, S("*2\r\n$3\r\nGET\r\n$03\r\nfoo\r\n"));
	refused(e, S("*2\r\n$+3\r\nGET\r\n$3\r\nfoo\r\n"));
	refused(e, S("*2\r\n$3\r\nGET\r\n$-1\r\n"));
	refused(e, S("*2\r\n$3\r\nGET\r\n$\r\n"));
	/* -ERR Protocol error: invalid multibulk length */
	refused(e, S("*02\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"));
	refused(e, S("*\r\n"));
	refused(e, S("*+2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"));
	refused(e, S("*-0\r\n"));
	refused(e, S("*2 \r\n$3\r\nGET\r\n$3\r\nfoo\r\n"));
	/* -ERR Protocol error: expected '$', got ' ' */
	refused(e, S("*2\r\n $3\r\nGET\r\n$3\r\nfoo\r\n"));
	/* an inline line with a NUL: Redis waits forever; quotes: not read */
	refused(e, S("\0\r\n"));
	refused(e, S("\"\r\n"));

	fixture_teardown(e);
	if (fixture_setup(e, &fx))
		return;
	cache_put(e, "foo", "bar");
	/* a CR before '*' makes it inline: five commands Redis refuses one
	 * by one ("-ERR unknown command '*2'", ...), five replies owed */
	expect_pass(e, S("\r*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_NOT_GET), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 5);
	CHECK(!(f.flags & PS_F_REQ_DESYNC), "inline commands Redis reads lost the stream");

	fixture_teardown(e);
	if (fixture_setup(e, &fx))
		return;
	cache_put(e, "foo", "bar");
	/* what Redis takes the same way is answered: "*-1" and "*0" are no
	 * command, a line of spaces none; the byte after a CR and the two
	 * after an argument are skipped unread ("$3\r\nbar\r\n" from Redis) */
	expect_answer(e, S("*-1\r\n*0\r\n \t\r\n*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"),
		      S("$3\r\nbar\r\n"));
	expect_answer(e, S("*2\rX$3\rYGETxy$3\r\nfooAB"), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 0);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 0);
}

/* the harness with the prestack object's maps */
static struct fill_harness_bpf *fh_open(struct env *e)
{
	struct fill_harness_bpf *h = fill_harness_bpf__open();

	if (!h)
		return NULL;
	if (env_share_maps(h->obj, &e->skel->obj, 1, "fh_") || fill_harness_bpf__load(h)) {
		fill_harness_bpf__destroy(h);
		return NULL;
	}
	return h;
}

struct fh_in_u {
	struct ps_cache_key key;
	uint32_t race, epoch, gen, big;
	uint64_t other;
	struct ps_fq_key fq;
};

struct fh_out_u {
	uint64_t expires;
	struct ps_fq_val fqv;
};

/* a fill of key "rk" armed now, stored with an invalidation at race */
static int fh_fill(struct env *e, struct fill_harness_bpf *h, uint32_t race, uint32_t big)
{
	struct fh_in_u t = { .race = race, .big = big };
	struct ps_cache_val v;
	struct ps_config c;
	uint8_t pkt[64] = { 0 };
	uint32_t zero = 0, slot;
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	ps_cache_key_build(&t.key, "rk", 2);
	slot = ps_key_slot(&t.key);
	if (bpf_map_lookup_elem(e->epochs, &slot, &t.epoch) ||
	    bpf_map_lookup_elem(e->cfg, &zero, &c))
		return -1;
	t.gen = c.cache_gen;
	ps_cache_val_build(&v, "old", 3, 0, PS_FILL_TC);
	if (bpf_map_update_elem(bpf_map__fd(h->maps.fh_in), &zero, &t, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(h->maps.fh_val), &zero, &v, BPF_ANY) ||
	    bpf_prog_test_run_opts(bpf_program__fd(h->progs.fh_store), &r))
		return -1;
	return (int)r.retval;
}

static int big_has(struct env *e, const char *key, uint32_t *gen)
{
	struct ps_cache_big_val *bv = calloc(1, sizeof(*bv));
	struct ps_cache_key k;
	int r;

	ps_cache_key_build(&k, key, strlen(key));
	r = bv && !ps_big_get(bpf_map__fd(e->skel->maps.ps_cache_big), &k, bv);
	if (r && gen)
		*gen = bv->gen;
	free(bv);
	return r;
}

/* Class 11: every interleaving of a fill and an invalidation of its key */
void t_fill_race(struct env *e)
{
	struct fill_harness_bpf *h = fh_open(e);
	struct ps_cache_key k;
	struct ps_cache_val v;
	struct ps_config c;
	uint32_t zero = 0, gen = 0;

	CHECK(h != NULL, "cannot load the fill harness");
	if (!h)
		return;
	bpf_map_lookup_elem(e->cfg, &zero, &c);
	ps_cache_key_build(&k, "rk", 2);
	/* no race: published, of the fill's generation */
	CHECK_EQ(fh_fill(e, h, 0, 0), 1);
	CHECK(!ps_cache_get(e->cache, &k, &v) && v.gen == c.cache_gen,
	      "the fill was not published with its generation");
	CHECK_EQ(stat_get(e, PS_ST_FILL_RACED), 0);
	/* the write lands between the fill's epoch check and its insert (the
	 * old code's window: check, then insert, the old value stayed) */
	CHECK_EQ(fh_fill(e, h, 1, 0), 0);
	CHECK(!cache_has(e, "rk", NULL, 0), "a fill raced by a write left the old value");
	CHECK_EQ(stat_get(e, PS_ST_FILL_RACED), 1);
	/* the write lands after the epoch re-read, before the publish */
	CHECK_EQ(fh_fill(e, h, 2, 0), 0);
	CHECK(!cache_has(e, "rk", NULL, 0), "a fill raced late by a write left the old value");
	CHECK_EQ(stat_get(e, PS_ST_FILL_RACED), 2);
	/* the large-value cache, with a small twin to drop */
	CHECK_EQ(fh_fill(e, h, 0, 0), 1);
	CHECK_EQ(fh_fill(e, h, 0, 1), 1);
	CHECK(big_has(e, "rk", &gen) && gen == c.cache_gen, "large fill not published");
	CHECK(!cache_has(e, "rk", NULL, 0), "the small twin of a large fill stayed");
	CHECK_EQ(fh_fill(e, h, 1, 1), 0);
	CHECK(!big_has(e, "rk", NULL), "a large fill raced by a write stayed");
	CHECK_EQ(fh_fill(e, h, 2, 1), 0);
	CHECK(!big_has(e, "rk", NULL), "a large fill raced late by a write stayed");
	CHECK_EQ(stat_get(e, PS_ST_FILL_RACED), 4);
	CHECK_EQ(fh_fill(e, h, 0, 1), 1);
	CHECK_EQ(fh_fill(e, h, 0, 0), 1);
	CHECK(!big_has(e, "rk", NULL), "the large twin of a small fill stayed");
	fill_harness_bpf__destroy(h);

	/* a pending entry (a fill between its insert and its publish) is no
	 * hit, and a lookup leaves it to its filler */
	ps_cache_val_build(&v, "old", 3, PS_GEN_PENDING | 7, PS_FILL_TC);
	CHECK_EQ(ps_cache_put(e->cache, e->present, &k, &v), 0);
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$2\r\nrk\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK(!ps_cache_get(e->cache, &k, &v) && v.gen == (PS_GEN_PENDING | 7),
	      "a lookup deleted or changed a pending entry");
}

/* A write is in flight from its XDP run until its reply passes TC egress:
 * its slot counted in ps_wr_inflight (no fill of the slot meanwhile), the
 * flow's ring holding the reply index; at the reply the epoch moves again
 * and the count drops. */
void t_write_in_flight(struct env *e)
{
	const char *set = "*3\r\n$3\r\nSET\r\n$2\r\nkk\r\n$3\r\nnew\r\n";
	int fd = bpf_map__fd(e->skel->maps.ps_wr_inflight);
	__u32 slot = ps_key_slot_of("kk", 2), n = 9, ep0 = 0, ep = 0;
	struct ps_flow f;

	bpf_map_lookup_elem(e->epochs, &slot, &ep0);
	expect_pass(e, set, strlen(set), 0, 0);
	CHECK_EQ(bpf_map_lookup_elem(fd, &slot, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.wr_head - f.wr_tail, 1);
	CHECK_EQ(f.wr[f.wr_tail & (PS_WR_RING - 1)].idx, f.replies_seen + 1);
	bpf_map_lookup_elem(e->epochs, &slot, &ep);
	CHECK_EQ(ep, ep0 + 1);
	/* Redis's +OK: no longer in flight, the epoch moved once more */
	expect_srv(e, S("+OK\r\n"), 0, 0);
	CHECK_EQ(bpf_map_lookup_elem(fd, &slot, &n), 0);
	CHECK_EQ(n, 0);
	bpf_map_lookup_elem(e->epochs, &slot, &ep);
	CHECK_EQ(ep, ep0 + 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.wr_head, f.wr_tail);
	/* and a miss of the key fills again */
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n"), 0, 0);
	expect_srv(e, S("$3\r\nnew\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	CHECK_EQ(stat_get(e, PS_ST_FILL_INFLIGHT), 0);
}

/* While a write's slot is in flight no fill of it is stored: a miss armed
 * before the write's reply (the GET ran in Redis before the SET) fills
 * nothing, counted fill_inflight. The count is set by hand here: the
 * fixture has one flow, whose own GET would wait for its SET's reply. */
void t_fill_refused_in_flight(struct env *e)
{
	int fd = bpf_map__fd(e->skel->maps.ps_wr_inflight);
	__u32 slot = ps_key_slot_of("kk", 2), one = 1, zero = 0;

	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$2\r\nkk\r\n"), 0, 0);
	CHECK_EQ(bpf_map_update_elem(fd, &slot, &one, 0), 0);
	expect_srv(e, S("$3\r\nold\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FILL_INFLIGHT), 1);
	CHECK(!cache_has(e, "kk", NULL, 0), "filled while a write was in flight");
	CHECK_EQ(bpf_map_update_elem(fd, &slot, &zero, 0), 0);
}

/* one run of the harness's reader prog with input t; its output in *o */
static int fh_read(struct fill_harness_bpf *h, struct bpf_program *prog,
		   const struct fh_in_u *t, struct fh_out_u *o)
{
	uint8_t pkt[64] = { 0 };
	uint32_t zero = 0;
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	memset(o, 0, sizeof(*o));
	if (bpf_map_update_elem(bpf_map__fd(h->maps.fh_out), &zero, o, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(h->maps.fh_in), &zero, t, BPF_ANY) ||
	    bpf_prog_test_run_opts(bpf_program__fd(prog), &r) ||
	    bpf_map_lookup_elem(bpf_map__fd(h->maps.fh_out), &zero, o))
		return -1;
	return (int)r.retval;
}

/*
 * Class 11's other readers. ps_ttl (a plain hash) and ps_fillq (an LRU)
 * hand a deleted element to the next insert at once, so a reader that
 * looked one up and loaded it after that loaded another key's mark:
 * fill_check took another key's expiry and cached the fill with it (a
 * value served past its own TTL), and TC's pipelined fill took another
 * GET's arming and stored this reply under that GET's key. Each reader
 * looks its key up again after the load (cache.h, ttl_read and fq_take);
 * the harness takes the element at that point (FH_RACE_TTL, FH_RACE_FQ).
 */
void t_fill_readers_reused(struct env *e)
{
	struct fill_harness_bpf *h = fh_open(e);
	struct fh_in_u t = { 0 };
	struct fh_out_u o;
	struct ps_fq_val fv = { 0 }, rv;
	struct timespec ts;
	uint64_t now, want, other;
	int fd_ttl = bpf_map__fd(e->skel->maps.ps_ttl);
	int fd_fq = bpf_map__fd(e->skel->maps.ps_fillq);
	uint32_t zero = 0;
	struct ps_config c;

	CHECK(h != NULL, "cannot load the fill harness");
	if (!h)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	want = now + 60ull * 1000000000ull;
	other = now + 3600ull * 1000000000ull;
	ps_cache_key_build(&t.key, "tk", 2);
	t.other = other;

	/* the key's own expiry, read whole */
	CHECK_EQ(bpf_map_update_elem(fd_ttl, &t.key, &want, BPF_ANY), 0);
	CHECK_EQ(fh_read(h, h->progs.fh_check, &t, &o), 1);
	CHECK(o.expires == want, "the fill would be cached with another expiry");
	/* its element another key's by the load: never used */
	t.race = 10; /* FH_RACE_TTL */
	CHECK_EQ(bpf_map_update_elem(fd_ttl, &t.key, &want, BPF_ANY), 0);
	CHECK(fh_read(h, h->progs.fh_check, &t, &o) == 0,
	      "a fill went on with the expiry of the key its TTL element went to (%s)",
	      o.expires == other ? "the other key's" : "another");
	CHECK_EQ(stat_get(e, PS_ST_TTL_MOVED), 1);

	/* an arming of reply 5 for GET "bb", taken whole */
	bpf_map_lookup_elem(e->cfg, &zero, &c);
	t.race = 0;
	t.fq.isn = 1000;
	t.fq.idx = 5;
	ps_cache_key_build(&fv.key, "bb", 2);
	fv.gen = c.cache_gen;
	CHECK_EQ(bpf_map_update_elem(fd_fq, &t.fq, &fv, BPF_ANY), 0);
	CHECK_EQ(fh_read(h, h->progs.fh_fq, &t, &o), 1);
	CHECK(o.fqv.key.len == 2 && !memcmp(o.fqv.key.data, "bb", 2), "not the arming stored");
	CHECK_EQ(bpf_map_lookup_elem(fd_fq, &t.fq, &rv), 0);
	/* evicted, its element another GET's arming by the copy: not taken */
	t.race = 11; /* FH_RACE_FQ */
	CHECK(fh_read(h, h->progs.fh_fq, &t, &o) == 0,
	      "TC took another GET's arming (key %.*s) for this reply",
	      (int)(o.fqv.key.len < 8 ? o.fqv.key.len : 8), (const char *)o.fqv.key.data);
	CHECK_EQ(stat_get(e, PS_ST_FQ_MOVED), 1);
	fill_harness_bpf__destroy(h);
}
