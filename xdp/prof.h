/* SPDX-License-Identifier: GPL-2.0 */
/*
 * prof.h - where a program's time goes, step by step, in a test build
 * only (`make prof`: -DPS_PROF). PROF_START(h) takes the clock;
 * PROF_MARK(h, i) adds the time since the last mark to step i's sum and
 * counts it. h is the hook (0 XDP, 1 TC), so that TC's marks never mix
 * with XDP's. experiments/bench/pktcost.c (--cut-steps) reads the sums
 * around each BPF_PROG_TEST_RUN. Without PS_PROF both are nothing and the
 * map does not exist.
 */
#ifndef PS_PROF_H
#define PS_PROF_H

#define PS_PROF_STEPS 32

#ifdef PS_PROF
struct ps_prof {
	__u64 last[2];
	__u64 ns[PS_PROF_STEPS];
	__u64 n[PS_PROF_STEPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_prof);
} ps_prof SEC(".maps");

static __always_inline void prof_mark(__u32 h, __u32 i, int start)
{
	__u32 zero = 0;
	struct ps_prof *pr = bpf_map_lookup_elem(&ps_prof, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!pr)
		return;
	h &= 1;
	if (!start && i < PS_PROF_STEPS) {
		pr->ns[i] += now - pr->last[h];
		pr->n[i]++;
	}
	/* the mark's own cost goes to the next step, not this one */
	pr->last[h] = bpf_ktime_get_ns();
}
#define PROF_START(h)   prof_mark((h), 0, 1)
#define PROF_MARK(h, i) prof_mark((h), (i), 0)
#else
#define PROF_START(h)   do { } while (0)
#define PROF_MARK(h, i) do { } while (0)
#endif

#endif
