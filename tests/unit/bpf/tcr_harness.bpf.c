// SPDX-License-Identifier: GPL-2.0
/*
 * tcr_harness.bpf.c - unit tests only: BPF_PROG_TEST_RUN of an skb takes
 * no data_meta, so the TC ingress builder (xdp/tc_ingress.h) is driven
 * here with the handoff from a map instead, one segment at a time and
 * without sending anything (w->hold): the test sees each segment's exact
 * bytes as the program's output. The test reuses the prestack object's
 * maps (flows, caches, refs, config, stats) for this object's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prestack.h"
#include "helpers.h"
#include "tc_ingress.h"

struct tcr_test_in {
	struct ps_tcr_meta m;
	__u32 seg;      /* the segment to build */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcr_test_in);
} tcr_test_in SEC(".maps");

/* 10 + tcr_segment's result (TCR_SEG_SENT 0, TCR_SEG_LAST 1), 1 failed or no such reply */
SEC("tc")
int tcr_one(struct __sk_buff *skb)
{
	struct tcr_test_in *t;
	struct ps_tcr_work *w;
	__u32 zero = 0;
	int r;

	t = bpf_map_lookup_elem(&tcr_test_in, &zero);
	if (!t)
		return 1;
	w = tcr_prepare(skb, &t->m);
	if (!w)
		return 1;
	w->hold = 1;
	w->i = t->seg;
	r = tcr_segment(skb, w);
	return r == TCR_SEG_FAILED ? 1 : 10 + r;
}

char LICENSE[] SEC("license") = "GPL";
