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
