// SPDX-License-Identifier: GPL-2.0
/*
 * reuse_harness.bpf.c - unit tests only: what a BPF hash does with a
 * deleted element on this kernel, and where the prestack object's maps
 * put an entry. Since the BPF memory allocator (Linux 6.1), a hash
 * without prealloc frees a deleted element onto a per-CPU list that the
 * next insert on that CPU takes at once (no RCU grace period first); a
 * preallocated hash does the same with its per-CPU free list. A pointer
 * a program got from a lookup then reads, and writes, another key's
 * value. rh_hash_reuse shows it on two maps of its own; rh_flow_addr
 * gives the element ps_flows holds for a key, so that a test can tell
 * whether an insert took the element a holder of another flow may still
 * use; rh_side_addr the same for the side path's ps_side_flows. Its other
 * maps are the prestack object's and the side path's (t_reuse.c,
 * rh_open; t_side.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prestack.h"
#include "sidepath.h"
#include "helpers.h"

struct rh_val {
	__u64 v;
	__u8 pad[56];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct rh_val);
} rh_noprealloc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct rh_val);
} rh_prealloc SEC(".maps");

/* rh_hash_reuse's findings, one slot per map (0: no prealloc, 1: prealloc) */
struct rh_out {
	__u64 same;      /* B's element is the one A was deleted from */
	__u64 old_read;  /* what the pointer A's lookup gave reads now */
	__u64 new_read;  /* what B's own lookup reads */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct rh_out);
} rh_out SEC(".maps");

/* rh_flow_addr: the flow key in, the value's address out (0: none) */
struct rh_flow_io {
	struct ps_flow_key key;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rh_flow_io);
} rh_flow_io SEC(".maps");

#define RH_A_VAL 0xaaaa0001ull
#define RH_B_VAL 0xbbbb0002ull

/* Insert A, look it up (p), delete A, insert B; then compare p with B's
 * lookup and read through p. Returns 0, or -1 when a map call failed. */
static __always_inline int rh_reuse(void *map, __u32 slot)
{
	struct rh_val va = { .v = RH_A_VAL }, vb = { .v = RH_B_VAL };
	__u32 a = 1, b = 2;
	struct rh_val *p, *q;
	struct rh_out *o;

	o = bpf_map_lookup_elem(&rh_out, &slot);
	if (!o)
		return -1;
	if (bpf_map_update_elem(map, &a, &va, BPF_NOEXIST))
		return -1;
	p = bpf_map_lookup_elem(map, &a);
	if (!p)
		return -1;
	bpf_map_delete_elem(map, &a);
	if (bpf_map_update_elem(map, &b, &vb, BPF_NOEXIST))
		return -1;
	q = bpf_map_lookup_elem(map, &b);
	if (!q)
		return -1;
	/* p outlives A's delete: the verifier lets a program keep a map
	 * value pointer after any delete, which is the hazard itself.
	 * Comparing two map value pointers needs a privileged loader
	 * (the tests are root) */
	o->same = p == q;
	o->old_read = p->v;
	o->new_read = q->v;
	bpf_map_delete_elem(map, &b);
	return 0;
}

SEC("tc")
int rh_hash_reuse(struct __sk_buff *skb)
{
	if (rh_reuse(&rh_noprealloc, 0) || rh_reuse(&rh_prealloc, 1))
		return 1;
	return 0;
}

SEC("tc")
int rh_flow_addr(struct __sk_buff *skb)
{
	struct rh_flow_io *io;
	__u32 zero = 0;

	io = bpf_map_lookup_elem(&rh_flow_io, &zero);
	if (!io)
		return 1;
	/* the address as a number (a privileged loader may store one) */
	io->addr = (__u64)(long)bpf_map_lookup_elem(&ps_flows, &io->key);
	return 0;
}

/* the side path's table (the fd of the object under test, t_side.c) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_SIDE_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ps_side_key);
	__type(value, struct ps_side_flow);
} ps_side_flows SEC(".maps");

/* rh_side_addr: a side-path key in, its value's address out (0: none) */
struct rh_side_io {
	struct ps_side_key key;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rh_side_io);
} rh_side_io SEC(".maps");

SEC("tc")
int rh_side_addr(struct __sk_buff *skb)
{
	struct rh_side_io *io;
	__u32 zero = 0;

	io = bpf_map_lookup_elem(&rh_side_io, &zero);
	if (!io)
		return 1;
	io->addr = (__u64)(long)bpf_map_lookup_elem(&ps_side_flows, &io->key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
