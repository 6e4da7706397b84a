// SPDX-License-Identifier: GPL-2.0
/* t_cmdtable.c - Redis's command table (ps_cmds) against built-in guesses. */
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "prestack.skel.h"
#include "fixture.h"
#include "cases.h"

static void cmd_class(struct env *e, const char *name, uint32_t cls)
{
	struct ps_cmd_key k;

	CHECK(ps_cmd_key_build(&k, name, strlen(name)) == 0 &&
	      bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_cmds), &k, &cls, BPF_ANY) == 0,
	      "cannot load %s into ps_cmds", name);
}

/* Redis's command table (ps_cmds) overrides the built-in read/write guess,
 * never the special commands */
void t_cmdtable(struct env *e)
{
	const char *hrand = "*2\r\n$10\r\nHRANDFIELD\r\n$3\r\nfoo\r\n";
	uint64_t fl;

	cache_put(e, "foo", "bar");
	expect_pass(e, hrand, strlen(hrand), 0, 0);
	CHECK(!cache_has(e, "foo", NULL, 0), "built-in: an unknown command did not invalidate");
	expect_srv(e, S("$-1\r\n"), 0, 0);

	cmd_class(e, "hrandfield", PS_CLASS_READ);
	cache_put(e, "foo", "bar");
	expect_pass(e, hrand, strlen(hrand), 0, 0);
	CHECK(cache_has(e, "foo", NULL, 0), "a read in Redis's table invalidated its argument");
	expect_srv(e, S("$-1\r\n"), 0, 0);

	cmd_class(e, "XYZCMD", PS_CLASS_FLUSH);
	fl = stat_get(e, PS_ST_FLUSHES);
	expect_pass(e, S("*1\r\n$6\r\nxyzcmd\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 1);
	expect_srv(e, S("+OK\r\n"), 0, 0);

	/* a table cannot turn SET into a read */
	cmd_class(e, "SET", PS_CLASS_READ);
	cache_put(e, "foo", "bar");
	expect_pass(e, S("*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nnew\r\n"), 0, 0);
	CHECK(!cache_has(e, "foo", NULL, 0), "SET did not invalidate with a table saying read");
	expect_srv(e, S("+OK\r\n"), 0, 0);
}

/* A container whose subcommands differ (PS_CLASS_SUB): the subcommand,
 * looked up as "NAME|SUB", decides; one not in the table, too long, or
 * in a later segment than the name flushes. redis-benchmark opens with
 * CONFIG GET save: a flush there emptied the cache it measures. */
void t_cmdtable_sub(struct env *e)
{
	const char *get = "*3\r\n$6\r\nCONFIG\r\n$3\r\nget\r\n$4\r\nsave\r\n";
	const char *set = "*4\r\n$6\r\nconfig\r\n$3\r\nSET\r\n$9\r\nmaxmemory\r\n$2\r\n1m\r\n";
	const char *unk = "*2\r\n$6\r\nCONFIG\r\n$9\r\nRESETSTAT\r\n";
	const char *cfg_rep = "*2\r\n$4\r\nsave\r\n$0\r\n\r\n";
	uint64_t fl = stat_get(e, PS_ST_FLUSHES);

	/* Redis's table: CONFIG GET is a read, the cache stays and answers */
	cmd_class(e, "config", PS_CLASS_SUB);
	cmd_class(e, "config|get", PS_CLASS_READ);
	cmd_class(e, "config|set", PS_CLASS_FLUSH);
	cache_put(e, "foo", "bar");
	expect_pass(e, get, strlen(get), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl);
	expect_srv(e, cfg_rep, strlen(cfg_rep), 0, 0);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));

	/* the flushes (each moves cache_gen: every entry is gone at once) */
	const uint32_t c = sizeof(GET_FOO) - 1, i = 9; /* the answer's offsets */

	/* each flushes when it arrives and again at its reply: in flight
	 * between the two, nothing is filled (t_flush_in_flight) */
	expect_pass(e, set, strlen(set), c, i);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 1);
	expect_srv(e, S("+OK\r\n"), c, i);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 2);
	/* a subcommand the table does not hold */
	expect_pass(e, unk, strlen(unk), c, i);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 3);
	expect_srv(e, S("+OK\r\n"), c, i);
	/* the name in one segment, the subcommand in the next */
	expect_pass(e, get, 16, c, i);
	expect_pass(e, get + 16, strlen(get) - 16, c, i);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 5);
	expect_srv(e, cfg_rep, strlen(cfg_rep), c, i);
	/* without "config|get" in the table (the built-in list), it flushes */
	{
		struct ps_cmd_key k;

		ps_cmd_key_build(&k, "config|get", 10);
		CHECK_EQ(bpf_map_delete_elem(bpf_map__fd(e->skel->maps.ps_cmds), &k), 0);
	}
	expect_pass(e, get, strlen(get), c, i);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), fl + 7);
	expect_srv(e, cfg_rep, strlen(cfg_rep), c, i);
}
