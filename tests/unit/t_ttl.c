// SPDX-License-Identifier: GPL-2.0
/*
 * t_ttl.c - TTLs read from the requests (xdp/resp.h rq_ttl_*, xdp/cache.h
 * ttl_settle): every form Redis 7.0 has, each with the exact value it
 * leaves in ps_ttl. The programs read the clock the tests fixed
 * (env_ttl_clock, T below), absolute times go through the offset the
 * tests set (ENV_CLOCK_OFF). Sure: PS_CFG_TTL_EXACT, a write that cannot
 * fail; unsure outcomes keep the earlier expiry and ask the watcher.
 */
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"

#define SEC_NS 1000000000ull
#define MS_NS  1000000ull
#define NONE   0ull            /* ttl_of: no entry */
#define T      env_ttl_clock

static uint64_t ttl_of(struct env *e, const char *key)
{
	struct ps_cache_key k;
	uint64_t v = NONE;

	ps_cache_key_build(&k, key, strlen(key));
	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_ttl), &k, &v))
		return NONE;
	return v;
}

static void ttl_put(struct env *e, const char *key, uint64_t v)
{
	struct ps_cache_key k;

	ps_cache_key_build(&k, key, strlen(key));
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_ttl), &k, &v, BPF_ANY);
}

/* what XDP answered on the fixture flow so far (expect_pass's offsets) */
static uint32_t cons_, inj_;

/* One command, as RESP, built from its words; then Redis's reply. */
static void cmd(struct env *e, const char *reply, int argc, const char *const *argv)
{
	static char buf[1024];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);

	for (int i = 0; i < argc; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n",
				      strlen(argv[i]), argv[i]);
	expect_pass(e, buf, n, cons_, inj_);
	expect_srv(e, reply, strlen(reply), cons_, inj_);
}
#define CMD(e, reply, ...) do { \
	const char *const a_[] = { __VA_ARGS__ }; \
	cmd(e, reply, (int)(sizeof(a_) / sizeof(a_[0])), a_); } while (0)

#define TTL_IS(e, key, want, what) do { \
	uint64_t g_ = ttl_of(e, key), w_ = (want); \
	CHECK(g_ == w_, "%s: ps_ttl[%s] = %llu, want %llu (T%+lld ns)", what, key, \
	      (unsigned long long)g_, (unsigned long long)w_, (long long)(g_ - T)); } while (0)

/* an absolute time delta units (SEC_NS or MS_NS) after T, as Redis is
 * sent it, and the expiry it must leave */
static const char *at(uint64_t unit, uint64_t delta)
{
	static char b[4][32];
	static int i;

	i = (i + 1) & 3;
	snprintf(b[i], sizeof(b[i]), "%llu",
		 (unsigned long long)((ENV_CLOCK_OFF + T) / unit + delta));
	return b[i];
}
#define AT_EXP(unit, delta) ((ENV_CLOCK_OFF + T) / (unit) * (unit) + (delta) * (unit) - ENV_CLOCK_OFF)

static void sure(struct env *e)
{
	cons_ = inj_ = 0;
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT);
}

/* SET's options: EX, PX, EXAT, PXAT, KEEPTTL, none; any case; and what
 * Redis refuses */
void t_ttl_set(struct env *e)
{
	sure(e);
	CMD(e, "+OK\r\n", "SET", "k", "v", "EX", "100");
	TTL_IS(e, "k", T + 100 * SEC_NS, "SET EX 100");
	CMD(e, "+OK\r\n", "set", "k", "v", "px", "1500");
	TTL_IS(e, "k", T + 1500 * MS_NS, "SET PX 1500");
	/* absolute: unix time minus (realtime - monotonic) */
	CMD(e, "+OK\r\n", "SET", "k", "v", "EXAT", at(SEC_NS, 3600));
	TTL_IS(e, "k", AT_EXP(SEC_NS, 3600), "SET EXAT T+3600 s");
	CMD(e, "+OK\r\n", "SET", "k", "v", "GET", "PXAT", at(MS_NS, 2500));
	TTL_IS(e, "k", AT_EXP(MS_NS, 2500), "SET GET PXAT T+2500 ms");
	CMD(e, "+OK\r\n", "SET", "k", "v", "KeepTTL");
	TTL_IS(e, "k", AT_EXP(MS_NS, 2500), "SET KEEPTTL");
	CMD(e, "+OK\r\n", "SET", "k", "v");
	TTL_IS(e, "k", NONE, "SET without TTL");
	CMD(e, "+OK\r\n", "SET", "k", "v", "EX", "7", "GET");
	TTL_IS(e, "k", T + 7 * SEC_NS, "SET EX 7 GET");
	/* (KEEPTTL changed nothing) */
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 6);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 0);
	/* Redis refuses these: the TTL is learnt from Redis, never guessed */
	CMD(e, "-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EX", "0");
	TTL_IS(e, "k", PS_TTL_UNKNOWN, "SET EX 0");
	CMD(e, "-ERR syntax error\r\n", "SET", "k2", "v", "EX", "5", "PX", "5");
	TTL_IS(e, "k2", PS_TTL_UNKNOWN, "SET EX PX");
	CMD(e, "-ERR syntax error\r\n", "SET", "k3", "v", "EX");
	TTL_IS(e, "k3", PS_TTL_UNKNOWN, "SET EX without a number");
	CMD(e, "-ERR value is not an integer or out of range\r\n", "SET", "k4", "v", "PX", "01");
	TTL_IS(e, "k4", PS_TTL_UNKNOWN, "SET PX 01");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 4);
}

/* SET NX/XX runs or not by whether the key exists: the earlier of the
 * two outcomes, and the watcher asked */
void t_ttl_set_cond(struct env *e)
{
	sure(e);
	CMD(e, "+OK\r\n", "SET", "k", "v", "NX", "EX", "10");
	TTL_IS(e, "k", T + 10 * SEC_NS, "SET NX EX 10, no TTL before");
	CMD(e, "$-1\r\n", "SET", "k", "v", "XX", "EX", "20");
	TTL_IS(e, "k", T + 10 * SEC_NS, "SET XX EX 20 after 10: the earlier");
	CMD(e, "+OK\r\n", "SET", "k", "v", "XX", "PX", "300");
	TTL_IS(e, "k", T + 300 * MS_NS, "SET XX PX 300 after 10 s");
	CMD(e, "+OK\r\n", "SET", "k", "v", "XX");
	TTL_IS(e, "k", T + 300 * MS_NS, "SET XX: no TTL or the old one: the old");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EARLIEST), 4);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 4);
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 0);
	CMD(e, "-ERR syntax error\r\n", "SET", "k", "v", "NX", "XX");
	TTL_IS(e, "k", PS_TTL_UNKNOWN, "SET NX XX");
}

void t_ttl_setex(struct env *e)
{
	sure(e);
	CMD(e, "+OK\r\n", "SETEX", "k", "100", "v");
	TTL_IS(e, "k", T + 100 * SEC_NS, "SETEX 100");
	CMD(e, "+OK\r\n", "PSETEX", "k", "250", "v");
	TTL_IS(e, "k", T + 250 * MS_NS, "PSETEX 250");
	CMD(e, "+OK\r\n", "setex", "k", "86400", "v");
	TTL_IS(e, "k", T + 86400 * SEC_NS, "setex 86400");
	CMD(e, "-ERR invalid expire time in 'setex' command\r\n", "SETEX", "j", "-1", "v");
	TTL_IS(e, "j", PS_TTL_UNKNOWN, "SETEX -1");
	CMD(e, "-ERR wrong number of arguments for 'psetex' command\r\n", "PSETEX", "i", "5");
	TTL_IS(e, "i", PS_TTL_UNKNOWN, "PSETEX without a value");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 3);
}

void t_ttl_expire(struct env *e)
{
	sure(e);
	CMD(e, ":1\r\n", "EXPIRE", "k", "100");
	TTL_IS(e, "k", T + 100 * SEC_NS, "EXPIRE 100");
	CMD(e, ":1\r\n", "PEXPIRE", "k", "1234");
	TTL_IS(e, "k", T + 1234 * MS_NS, "PEXPIRE 1234");
	CMD(e, ":1\r\n", "EXPIREAT", "k", at(SEC_NS, 60));
	TTL_IS(e, "k", AT_EXP(SEC_NS, 60), "EXPIREAT T+60 s");
	CMD(e, ":1\r\n", "PEXPIREAT", "k", at(MS_NS, 61));
	TTL_IS(e, "k", AT_EXP(MS_NS, 61), "PEXPIREAT T+61 ms");
	/* in the past (Redis deletes the key): expired for us too */
	CMD(e, ":1\r\n", "EXPIRE", "k", "-5");
	TTL_IS(e, "k", 1, "EXPIRE -5");
	CMD(e, ":1\r\n", "PEXPIREAT", "k", "1");
	TTL_IS(e, "k", 1, "PEXPIREAT 1");
	/* a time beyond what matters: far, never unknown */
	CMD(e, ":1\r\n", "PEXPIRE", "k", "9223372036854775807");
	TTL_IS(e, "k", PS_TTL_FAR, "PEXPIRE LLONG_MAX");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 7);
	CMD(e, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k", "9223372036854776");
	TTL_IS(e, "k", PS_TTL_UNKNOWN, "EXPIRE beyond LLONG_MAX ms");
	CMD(e, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "j", "1.5");
	TTL_IS(e, "j", PS_TTL_UNKNOWN, "EXPIRE 1.5");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 2);
}

/* EXPIRE NX|XX|GT|LT decided from the TTL we hold, as Redis decides it
 * from its own (no TTL counts as infinite) */
void t_ttl_expire_cond(struct env *e)
{
	sure(e);
	/* k has no TTL */
	CMD(e, ":0\r\n", "EXPIRE", "k", "80", "XX");
	TTL_IS(e, "k", NONE, "XX without TTL");
	CMD(e, ":0\r\n", "EXPIRE", "k", "80", "GT");
	TTL_IS(e, "k", NONE, "GT without TTL");
	CMD(e, ":1\r\n", "EXPIRE", "k", "50", "NX");
	TTL_IS(e, "k", T + 50 * SEC_NS, "NX without TTL");
	/* k expires at T+50 s */
	CMD(e, ":0\r\n", "EXPIRE", "k", "80", "NX");
	TTL_IS(e, "k", T + 50 * SEC_NS, "NX with a TTL");
	CMD(e, ":1\r\n", "EXPIRE", "k", "80", "xx");
	TTL_IS(e, "k", T + 80 * SEC_NS, "XX with a TTL");
	CMD(e, ":0\r\n", "EXPIRE", "k", "60", "GT");
	TTL_IS(e, "k", T + 80 * SEC_NS, "GT earlier");
	CMD(e, ":1\r\n", "PEXPIRE", "k", "90000", "GT");
	TTL_IS(e, "k", T + 90 * SEC_NS, "GT later");
	CMD(e, ":1\r\n", "EXPIRE", "k", "70", "LT");
	TTL_IS(e, "k", T + 70 * SEC_NS, "LT earlier");
	CMD(e, ":0\r\n", "EXPIRE", "k", "75", "XX", "LT");
	TTL_IS(e, "k", T + 70 * SEC_NS, "XX LT later");
	CMD(e, ":1\r\n", "EXPIRE", "k", "75", "XX", "GT");
	TTL_IS(e, "k", T + 75 * SEC_NS, "XX GT later");
	/* LT on a key without TTL: set (infinite is later) */
	CMD(e, ":1\r\n", "EXPIRE", "j", "30", "LT");
	TTL_IS(e, "j", T + 30 * SEC_NS, "LT without TTL");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 0);
	/* refused by Redis */
	CMD(e, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
	    "EXPIRE", "i", "5", "NX", "GT");
	TTL_IS(e, "i", PS_TTL_UNKNOWN, "NX GT");
	CMD(e, "-ERR GT and LT options at the same time are not compatible\r\n",
	    "EXPIRE", "h", "5", "GT", "LT");
	TTL_IS(e, "h", PS_TTL_UNKNOWN, "GT LT");
	/* a condition on a TTL being learnt: stays unknown, asked again */
	CMD(e, ":1\r\n", "EXPIRE", "h", "5", "XX");
	TTL_IS(e, "h", PS_TTL_UNKNOWN, "XX on an unknown TTL");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 3);
}

void t_ttl_persist_getex(struct env *e)
{
	sure(e);
	CMD(e, "+OK\r\n", "SETEX", "k", "100", "v");
	CMD(e, ":1\r\n", "PERSIST", "k");
	TTL_IS(e, "k", NONE, "PERSIST");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k", "EX", "5");
	TTL_IS(e, "k", T + 5 * SEC_NS, "GETEX EX 5");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k");
	TTL_IS(e, "k", T + 5 * SEC_NS, "GETEX without option");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k", "PX", "40");
	TTL_IS(e, "k", T + 40 * MS_NS, "GETEX PX 40");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k", "exat", at(SEC_NS, 9));
	TTL_IS(e, "k", AT_EXP(SEC_NS, 9), "GETEX EXAT T+9 s");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k", "PXAT", at(MS_NS, 9));
	TTL_IS(e, "k", AT_EXP(MS_NS, 9), "GETEX PXAT T+9 ms");
	CMD(e, "$1\r\nv\r\n", "GETEX", "k", "PERSIST");
	TTL_IS(e, "k", NONE, "GETEX PERSIST");
	CMD(e, "-ERR syntax error\r\n", "GETEX", "j", "EX", "5", "PERSIST");
	TTL_IS(e, "j", PS_TTL_UNKNOWN, "GETEX EX PERSIST");
}

/* RESTORE may fail on its payload (or BUSYKEY without REPLACE): never
 * sure, the earlier outcome and an ask */
void t_ttl_restore(struct env *e)
{
	sure(e);
	CMD(e, "+OK\r\n", "RESTORE", "k", "5000", "\x00\x01v", "REPLACE");
	TTL_IS(e, "k", T + 5000 * MS_NS, "RESTORE 5000 REPLACE, no TTL before");
	CMD(e, "+OK\r\n", "RESTORE", "k", at(MS_NS, 1000), "payload", "ABSTTL", "REPLACE",
	    "IDLETIME", "10");
	TTL_IS(e, "k", AT_EXP(MS_NS, 1000), "RESTORE ABSTTL T+1000 ms: the earlier");
	CMD(e, "+OK\r\n", "RESTORE", "k", "0", "payload", "REPLACE");
	TTL_IS(e, "k", AT_EXP(MS_NS, 1000), "RESTORE 0 (no TTL) after one: the old, earlier");
	CMD(e, "-BUSYKEY Target key name already exists.\r\n", "RESTORE", "k", "99", "payload");
	TTL_IS(e, "k", T + 99 * MS_NS, "RESTORE 99 without REPLACE: the earlier");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 0);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 4);
	CMD(e, "-ERR Invalid TTL value, must be >= 0\r\n", "RESTORE", "j", "-1", "payload");
	TTL_IS(e, "j", PS_TTL_UNKNOWN, "RESTORE -1");
}

/* What makes a write's outcome unsure: no PS_CFG_TTL_EXACT (maxmemory,
 * a replica), AUTH to pass, SELECT, a named user; MULTI defers it all to
 * EXEC */
void t_ttl_unsure(struct env *e)
{
	__u64 lost = 0, seen = 0;
	uint32_t idx;

	/* the default of the tests' config: writes may fail */
	cons_ = inj_ = 0;
	CMD(e, "+OK\r\n", "SET", "k", "v", "EX", "100");
	TTL_IS(e, "k", T + 100 * SEC_NS, "unsure SET EX 100, no TTL before");
	CMD(e, "+OK\r\n", "SET", "k", "v", "EX", "200");
	TTL_IS(e, "k", T + 100 * SEC_NS, "unsure SET EX 200 after 100: the earlier");
	CMD(e, "+OK\r\n", "SET", "k", "v");
	TTL_IS(e, "k", T + 100 * SEC_NS, "unsure SET: no TTL or the old: the old");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 3);
	/* AUTH on: unsure */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT | PS_CFG_AUTH);
	CMD(e, "+OK\r\n", "SET", "j", "v", "EX", "100");
	CMD(e, "+OK\r\n", "SET", "j", "v", "EX", "300");
	TTL_IS(e, "j", T + 100 * SEC_NS, "AUTH on: the earlier");
	/* sure again (and a watcher to learn TTLs again: the lease on); but
	 * inside MULTI nothing is known until EXEC runs */
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT | PS_CFG_LEASE);
	{
		struct timespec ts;
		uint32_t li = PS_LEASE_UNTIL;
		uint64_t until;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		until = (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec + 100 * SEC_NS;
		bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &li, &until, BPF_ANY);
	}
	CMD(e, "+OK\r\n", "MULTI");
	CMD(e, "+QUEUED\r\n", "SET", "m", "v", "EX", "100");
	TTL_IS(e, "m", PS_TTL_UNKNOWN, "queued SET EX");
	CMD(e, "+QUEUED\r\n", "SET", "m2", "v");
	TTL_IS(e, "m2", NONE, "queued plain SET");
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 0);
	CMD(e, "*2\r\n+OK\r\n+OK\r\n", "EXEC");
	/* every TTL learnt again: fills stop until the watcher has */
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 1);
	idx = PS_LEASE_TTL_LOST;
	bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &lost);
	idx = PS_LEASE_TTL_SEEN;
	bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &seen);
	CHECK(lost == 1 && seen == 0, "rescan not asked: lost %llu seen %llu",
	      (unsigned long long)lost, (unsigned long long)seen);
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$1\r\nz\r\n"), 0, 0);
	expect_srv(e, S("$1\r\nz\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	/* the watcher scanned: fills again */
	seen = 1;
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &seen, BPF_ANY);
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$1\r\nz\r\n"), 0, 0);
	expect_srv(e, S("$1\r\nz\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	/* without the watcher (--no-coherence) fills do not wait for one */
	lost = 5;
	idx = PS_LEASE_TTL_LOST;
	bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &lost, BPF_ANY);
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT);
	expect_pass(e, S("*2\r\n$3\r\nGET\r\n$1\r\ny\r\n"), 0, 0);
	expect_srv(e, S("$1\r\ny\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 2);
	/* after SELECT the write may go to another database */
	CMD(e, "+OK\r\n", "SELECT", "1");
	CMD(e, "+OK\r\n", "SET", "z", "v", "EX", "100");
	CMD(e, "+OK\r\n", "SET", "z", "v");
	TTL_IS(e, "z", T + 100 * SEC_NS, "after SELECT: never cleared");
}

/* Two writes of one key in flight (here in one segment): Redis may run
 * them in either order, so the second is unsure */
void t_ttl_conflict(struct env *e)
{
	const char *one = "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n100\r\n";
	const char *two = "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n200\r\n";
	char both[128];

	sure(e);
	/* one segment: Redis runs them in their order, both sure */
	snprintf(both, sizeof(both), "%s%s", one, two);
	expect_pass(e, both, strlen(both), 0, 0);
	TTL_IS(e, "k", T + 200 * SEC_NS, "two SET EX in one segment: the last");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 2);
	expect_srv(e, S("+OK\r\n+OK\r\n"), 0, 0);
	/* the second arrives while the first is in flight (not answered) */
	expect_pass(e, one, strlen(one), 0, 0);
	TTL_IS(e, "k", T + 100 * SEC_NS, "alone: sure");
	expect_pass(e, two, strlen(two), 0, 0);
	TTL_IS(e, "k", T + 100 * SEC_NS, "another in flight: the earlier");
	CHECK_EQ(stat_get(e, PS_ST_TTL_EXACT), 3);
	CHECK_EQ(stat_get(e, PS_ST_TTL_EARLIEST), 1);
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 1);
	expect_srv(e, S("+OK\r\n+OK\r\n"), 0, 0);
	/* once they are answered, a write is sure again */
	CMD(e, "+OK\r\n", "SET", "k", "v", "EX", "300");
	TTL_IS(e, "k", T + 300 * SEC_NS, "alone again");
}

/* A TTL command split over segments: its key in one, its TTL in the next
 * (unknown at once, asked); its key itself split (every TTL learnt again) */
void t_ttl_split(struct env *e)
{
	const char *set = "*5\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n100\r\n";
	size_t cut = strlen("*5\r\n$3\r\nSET\r\n$5\r\nsplit\r\n");

	sure(e);
	expect_pass(e, set, cut, 0, 0);
	TTL_IS(e, "split", PS_TTL_UNKNOWN, "key seen, TTL in the next segment");
	CHECK_EQ(stat_get(e, PS_ST_TTL_ASKED), 1);
	expect_pass(e, set + cut, strlen(set) - cut, 0, 0);
	TTL_IS(e, "split", PS_TTL_UNKNOWN, "the rest: still asked");
	expect_srv(e, S("+OK\r\n"), 0, 0);
	/* split inside the key: its name never seen whole */
	cut = strlen("*5\r\n$3\r\nSET\r\n$5\r\nspl");
	expect_pass(e, set, cut, 0, 0);
	expect_pass(e, set + cut, strlen(set) - cut, 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 1);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	/* a plain SET split the same way: clearing nothing is the safe side */
	expect_pass(e, S("*3\r\n$3\r\nSET\r\n$5\r\nspl"), 0, 0);
	expect_pass(e, S("it\r\n$1\r\nv\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 1);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	/* the canonical SET (the fast path) clears a TTL */
	ttl_put(e, "fast", T + SEC_NS);
	CMD(e, "+OK\r\n", "SET", "fast", "v");
	TTL_IS(e, "fast", NONE, "fast-path SET");
}

/* what the watcher would read from ps_ttl_ask */
static char asked[8][PS_KEY_MAX + 1];
static int n_asked;

static int on_ask(void *ctx, void *data, size_t sz)
{
	const struct ps_cache_key *k = data;

	(void)ctx;
	if (sz == sizeof(*k) && n_asked < 8 && k->len <= PS_KEY_MAX)
		snprintf(asked[n_asked++], PS_KEY_MAX + 1, "%.*s", (int)k->len, k->data);
	return 0;
}

/* A script's keys: unknown, asked after it ran (it may set any TTL);
 * RENAME's destination likewise; SWAPDB/DEBUG: every TTL again */
void t_ttl_script_reload(struct env *e)
{
	struct ring_buffer *rb;

	sure(e);
	CMD(e, "$1\r\nx\r\n", "EVAL", "return redis.call('set', KEYS[1], 'x', 'EX', 5)", "2",
	    "ek1", "ek2", "arg");
	TTL_IS(e, "ek1", PS_TTL_UNKNOWN, "EVAL's key 1");
	TTL_IS(e, "ek2", PS_TTL_UNKNOWN, "EVAL's key 2");
	TTL_IS(e, "arg", NONE, "EVAL's argument");
	CMD(e, ":1\r\n", "RENAMENX", "a", "b");
	TTL_IS(e, "b", PS_TTL_UNKNOWN, "RENAMENX's destination");
	TTL_IS(e, "a", NONE, "RENAMENX's source");
	/* what the watcher reads, in order */
	n_asked = 0;
	rb = ring_buffer__new(bpf_map__fd(e->skel->maps.ps_ttl_ask), on_ask, NULL, NULL);
	CHECK(rb != NULL, "ring buffer");
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	CHECK_EQ(n_asked, 3);
	CHECK(n_asked == 3 && !strcmp(asked[0], "ek1") && !strcmp(asked[1], "ek2") &&
	      !strcmp(asked[2], "b"), "asked %s %s %s", asked[0], asked[1], asked[2]);
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 0);
	CMD(e, "+OK\r\n", "SWAPDB", "0", "1");
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 1);
	CMD(e, "+OK\r\n", "DEBUG", "RELOAD");
	CHECK_EQ(stat_get(e, PS_ST_TTL_RESCANS), 2);
}

/* A key written with a TTL over the attached interface: the next GET
 * (the miss every write costs) fills it with its expiry, the one after is
 * answered, and from PS_TTL_MARGIN_NS before the expiry it is refused */
void t_ttl_answered(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\ntk\r\n";
	struct ps_cache_key k;
	struct ps_cache_val v;
	struct timespec ts;
	uint64_t now;

	sure(e);
	CMD(e, "+OK\r\n", "SET", "tk", "v", "PX", "3600000");
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$1\r\nv\r\n"), 0, 0);
	ps_cache_key_build(&k, "tk", 2);
	CHECK(!ps_cache_get(e->cache, &k, &v) && v.expires_ns == T + 3600 * SEC_NS,
	      "filled without its expiry");
	expect_answer(e, get, strlen(get), S("$1\r\nv\r\n"));
	cons_ = 21;
	inj_ = 7;
	/* one miss: the one any write costs */
	CHECK_EQ(stat_get(e, PS_ST_GET_MISSES), 1);
	/* a TTL ending within the margin from now: refused, left to Redis */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
	{
		char px[32];
		/* T + px ms lands PS_TTL_MARGIN_NS / 2 after now */
		snprintf(px, sizeof(px), "%llu",
			 (unsigned long long)((now - T + PS_TTL_MARGIN_NS / 2) / MS_NS));
		CMD(e, "+OK\r\n", "SET", "tk", "v", "PX", px);
	}
	expect_pass(e, get, strlen(get), cons_, inj_);
	expect_srv(e, S("$1\r\nv\r\n"), cons_, inj_);
	CHECK(cache_has(e, "tk", NULL, 0) == 0, "filled within the margin of its expiry");
}
