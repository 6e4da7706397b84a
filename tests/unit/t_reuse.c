// SPDX-License-Identifier: GPL-2.0
/*
 * t_reuse.c - a deleted hash element is another key's at the next insert
 * on its CPU (tests/unit/bpf/reuse_harness.bpf.c), and what the programs
 * do so that no hook writes another flow's state through a pointer it
 * looked up before the delete.
 */
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"
#include "reuse_harness.skel.h"

/* the harness with the prestack object's maps */
static struct reuse_harness_bpf *rh_open(struct env *e)
{
	struct reuse_harness_bpf *h = reuse_harness_bpf__open();
	struct bpf_map *m;

	if (!h)
		return NULL;
	bpf_object__for_each_map(m, h->obj) {
		struct bpf_map *own;

		bpf_map__set_pin_path(m, NULL);
		own = bpf_object__find_map_by_name(e->skel->obj, bpf_map__name(m));
		if (own && strncmp(bpf_map__name(m), "rh_", 3) &&
		    bpf_map__reuse_fd(m, bpf_map__fd(own))) {
			reuse_harness_bpf__destroy(h);
			return NULL;
		}
	}
	if (reuse_harness_bpf__load(h)) {
		reuse_harness_bpf__destroy(h);
		return NULL;
	}
	return h;
}

static int rh_run(struct bpf_program *prog)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &r))
		return -1;
	return (int)r.retval;
}

struct rh_out_u {
	uint64_t same, old_read, new_read;
};

/*
 * What every map comment relies on: a hash without prealloc (and a
 * preallocated one) hands the element of a deleted key to the next
 * insert on the same CPU, while the pointer an earlier lookup gave still
 * points into it and reads the new key's value. No RCU grace period
 * keeps it back (Linux >= 6.1: bpf_mem_alloc's per-CPU free list).
 */
void t_hash_reuses_deleted(struct env *e)
{
	struct reuse_harness_bpf *h = rh_open(e);
	struct rh_out_u o;
	uint32_t i;

	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h)
		return;
	/* one program run: the delete and the insert on one CPU */
	CHECK_EQ(rh_run(h->progs.rh_hash_reuse), 0);
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(h->maps.rh_out), &i, &o), 0);
		printf("#   %s: same element %llu, old pointer reads %#llx\n",
		       i ? "prealloc" : "no prealloc", (unsigned long long)o.same,
		       (unsigned long long)o.old_read);
		CHECK_EQ(o.same, 1);
		CHECK_EQ(o.old_read, 0xbbbb0002ull);
		CHECK_EQ(o.new_read, 0xbbbb0002ull);
	}
	reuse_harness_bpf__destroy(h);
}
