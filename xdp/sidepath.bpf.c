// SPDX-License-Identifier: GPL-2.0
/*
 * sidepath.bpf.c - coherence on every TCP path into Redis that XDP does
 * not follow (docs/guards-and-coherence.md, "Every TCP path"): TC on
 * loopback and on every other interface of the attached namespace, and,
 * on the attached interface, for what XDP does not follow there (IPv6,
 * connections it does not track).
 *
 * ps_side_in (TC ingress): a client segment to Redis's port runs the
 * request parser XDP runs (xdp/resp.h), per connection and in order, and
 * its writes are invalidated, their TTLs recorded, before the kernel sees
 * the segment: synchronously, as at XDP. Nothing is rewritten; data past
 * a hole is dropped (the client sends it again), so the parser never
 * loses its place. A connection it cannot follow (opened before attach,
 * not RESP) flushes the cache at each segment with data, and no fill
 * lands anywhere until it closes.
 * ps_side_out (TC egress): Redis's replies on those connections are
 * counted with the reply parser: a write is in flight (its key's fills
 * refused) until its reply passes, as on the XDP path (cache.h, wr_*).
 *
 * It shares the attachment's pinned maps by name (cache, epochs, TTLs,
 * writes in flight, the config) and has its own working memory.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "prestack.h"
#include "sidepath.h"
#include "helpers.h"
#include "resp.h"

#define TC_ACT_UNSPEC_  (-1) /* nothing to say: the next filter, or pass */
#define ETH_P_IPV6_BE   bpf_htons(0x86dd)
#define NH_HOP          0
#define NH_TCP          6
#define NH_ROUTING      43
#define NH_FRAGMENT     44
#define NH_DEST         60
#define SIDE_EXT_MAX    4    /* IPv6 extension headers walked */
#define CSUM_UNNECESSARY 1   /* skb->ip_summed */
#define CSUM_PARTIAL     3
#define SIDE_EEXIST      17  /* -errno of bpf_map_update_elem */
#define SIDE_E2BIG       7
/* one load or store of the word, as the other CPU's atomics see it */
#define READ_ONCE(x)     (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* the attached interface (XDP follows its IPv4 connections) */
const volatile __u32 ps_side_attached = 0;
/* unit tests: every segment is taken as one to a local socket (no
 * socket to look up under BPF_PROG_TEST_RUN) */
const volatile __u32 ps_side_all_local = 0;

/* the connections followed. No prealloc: memory only for the connections
 * in use; no reuse is deferred by it. A deleted element is the next
 * insert's on the deleting CPU at once (t_hash_reuses_deleted), and
 * ps_side_in and ps_side_out each keep a connection's element through a
 * whole segment, on two CPUs at once: a connection deleted at its close
 * would hand its element, under the other hook's pointer, to the next
 * connection opened on that CPU, and that hook would write the old
 * parser, cli_nxt or srv_nxt, reply count and write ring into the new
 * one. So a closed connection is kept, dead (side_close), absent to both
 * hooks; a SYN of its tuple reopens the element in place once no run of
 * the old connection is inside it (side_revive); it is deleted only once
 * dead for PS_SIDE_GRACE_NS (side_reap: met again, side_dead_pop, or a
 * full table's pass). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_SIDE_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ps_side_key);
	__type(value, struct ps_side_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_side_flows SEC(".maps");

/* Connections closed, oldest first: each open and close deletes the
 * oldest once past their grace (side_dead_pop), so that short connections
 * do not fill the table with dead entries (a queue of keys: a hash cannot
 * be walked a little at a time). One queue for every CPU: a connection's
 * close runs on Redis's CPU, its client's open on another, and a per-CPU
 * queue was left full on a CPU Redis had left (measured live). A bounded
 * multi-producer, multi-consumer queue: slot i of lap n has sequence
 * number i + n * size while free, i + n * size + 1 once written. */
#define SIDE_DEAD_Q    PS_SIDE_FLOWS  /* as many as the table: a power of two */
#define SIDE_DEAD_POP  2              /* entries deleted per open or close, at most */

struct side_dead {
	__u32 seq;        /* minus the slot's index (an array starts zeroed) */
	__u32 pad;
	__u64 dead_ns;
	struct ps_side_key k;
};

struct side_dead_pos {
	__u32 head, tail;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SIDE_DEAD_Q);
	__type(key, __u32);
	__type(value, struct side_dead);
} ps_side_dead SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct side_dead_pos);
} ps_side_dead_pos SEC(".maps");

/* when the last pass over a full table began (side_open): one pass per
 * SIDE_PASS_NS at most, so that a table full of live connections costs
 * a failed insert, not a walk of every entry, per segment */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ps_side_pass SEC(".maps");
#define SIDE_PASS_NS 100000000ull   /* 100 ms */

/* connections not followed, to follow from a command boundary (written
 * by the watcher, ps_side_resync) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ps_side_key);
	__type(value, struct ps_side_resync);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_side_resync SEC(".maps");

/* the interfaces covered (written by the control tool) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_SIDE_IFS);
	__type(key, __u32);
	__type(value, struct ps_side_if);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_side_ifs SEC(".maps");

/* a connection being opened, built here (too big for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_side_flow);
} ps_side_tmp SEC(".maps");

/* connections followed on the attached interface: egress there looks
 * for one only while this is not 0 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ps_side_on_att SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *) __ksym;

enum side_parse_res { SP_OURS = 0, SP_NOT_OURS, SP_FRAG };

/* Bytes from skb->data to the network header (the link layer's: 14 on
 * Ethernet and loopback, 0 on an L3 device) as TC sees the skb: offsets
 * for bpf_skb_load_bytes, which reads paged data too (its _relative twin
 * reads the linear part only, and loopback's payloads are paged). */
static __always_inline __u32 side_net_off(struct __sk_buff *skb)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	unsigned char *head = BPF_CORE_READ(k, head), *data = BPF_CORE_READ(k, data);
	__u16 nh = BPF_CORE_READ(k, network_header);

	return (__u32)(head + nh - data) & 0xff;
}
#define LOAD(skb, off, to, len) bpf_skb_load_bytes(skb, net + (off), to, len)

struct side_pkt {
	struct ps_side_key k;  /* client -> server */
	__u32 seq;
	__u32 net;             /* the network header, from skb->data */
	__u32 l4_off;          /* from skb->data */
	__u32 pl_off;
	__u32 pl_len;
	__u32 l4_len;
	__u8  flags;           /* TCP flags */
	__u8  v6;
	__u8  nexthdr;
};

/* IPv4 or IPv6 and TCP, from the network header whatever the device's
 * link layer; to_srv: to Redis's port (ingress), else from it (egress). */
static __always_inline int side_parse(struct __sk_buff *skb, __u32 net, __u16 port_be,
				      int to_srv, struct side_pkt *p)
{
	struct tcphdr tcp;
	__u32 off, doff, i;
	__u8 nh;

	if (skb->protocol == ETH_P_IP_BE) {
		struct iphdr ip;

		if (LOAD(skb, 0, &ip, sizeof(ip)) ||
		    ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP)
			return SP_NOT_OURS;
		/* a later fragment has no ports: it may be ours */
		if (ip.frag_off & bpf_htons(IP_OFFSET))
			return SP_FRAG;
		off = ip.ihl * 4;
		p->v6 = 0;
		p->k.cli[0] = p->k.cli[1] = p->k.srv[0] = p->k.srv[1] = 0;
		p->k.cli[2] = p->k.srv[2] = bpf_htonl(0xffff);
		p->k.cli[3] = to_srv ? ip.saddr : ip.daddr;
		p->k.srv[3] = to_srv ? ip.daddr : ip.saddr;
		p->l4_len = bpf_ntohs(ip.tot_len);
		if (p->l4_len < off)
			return SP_NOT_OURS;
		p->l4_len -= off;
		p->nexthdr = ip.frag_off & bpf_htons(IP_MF) ? NH_FRAGMENT : NH_TCP;
	} else if (skb->protocol == ETH_P_IPV6_BE) {
		struct ipv6hdr ip6;
		__u8 ext[2];

		if (LOAD(skb, 0, &ip6, sizeof(ip6)) ||
		    ip6.version != 6)
			return SP_NOT_OURS;
		p->v6 = 1;
		__builtin_memcpy(p->k.cli, to_srv ? &ip6.saddr : &ip6.daddr, 16);
		__builtin_memcpy(p->k.srv, to_srv ? &ip6.daddr : &ip6.saddr, 16);
		off = sizeof(ip6);
		nh = ip6.nexthdr;
		p->l4_len = bpf_ntohs(ip6.payload_len);
		/* hop-by-hop, routing, destination options: skipped */
		for (i = 0; i < SIDE_EXT_MAX; i++) {
			if (nh != NH_HOP && nh != NH_ROUTING && nh != NH_DEST)
				break;
			if (LOAD(skb, off, ext, 2))
				return SP_NOT_OURS;
			nh = ext[0];
			off += (ext[1] + 1) * 8;
			if (p->l4_len < (ext[1] + 1) * 8u)
				return SP_NOT_OURS;
			p->l4_len -= (ext[1] + 1) * 8;
		}
		if (nh == NH_FRAGMENT)
			return SP_FRAG;
		if (nh != NH_TCP)
			return SP_NOT_OURS;
		p->nexthdr = nh;
	} else {
		return SP_NOT_OURS;
	}
	if (LOAD(skb, off, &tcp, sizeof(tcp)))
		return SP_NOT_OURS;
	if (to_srv ? tcp.dest != port_be : tcp.source != port_be)
		return SP_NOT_OURS;
	/* a first IPv4 fragment to the port: its bytes go on where we do
	 * not look */
	if (p->nexthdr == NH_FRAGMENT)
		return SP_FRAG;
	doff = tcp.doff * 4;
	if (doff < sizeof(tcp) || p->l4_len < doff)
		return SP_NOT_OURS;
	p->k.cli_port = to_srv ? tcp.source : tcp.dest;
	p->k.srv_port = to_srv ? tcp.dest : tcp.source;
	p->seq = bpf_ntohl(tcp.seq);
	p->flags = ((__u8 *)&tcp)[TCP_FLAGS_BYTE];
	p->l4_off = net + off;
	p->pl_off = net + off + doff;
	p->pl_len = p->l4_len - doff;
	return SP_OURS;
}

/* A segment to a socket of this namespace (not one it routes on)? */
static __always_inline int side_local(struct __sk_buff *skb, const struct side_pkt *p)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 len;

	if (ps_side_all_local)
		return 1;
	if (p->v6) {
		__builtin_memcpy(t.ipv6.saddr, p->k.cli, 16);
		__builtin_memcpy(t.ipv6.daddr, p->k.srv, 16);
		t.ipv6.sport = p->k.cli_port;
		t.ipv6.dport = p->k.srv_port;
		len = sizeof(t.ipv6);
	} else {
		t.ipv4.saddr = p->k.cli[3];
		t.ipv4.daddr = p->k.srv[3];
		t.ipv4.sport = p->k.cli_port;
		t.ipv4.dport = p->k.srv_port;
		len = sizeof(t.ipv4);
	}
	sk = bpf_skc_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/*
 * Would the kernel take this segment's checksum? Loopback and most
 * devices have checked it (CHECKSUM_UNNECESSARY) or the stack that sent
 * it will (CHECKSUM_PARTIAL); otherwise it is summed here: a corrupted
 * segment, parsed, could put the parser out of step with Redis, which
 * reads the good copy sent again. Global: verified once.
 */
__noinline int side_csum_ok(struct __sk_buff *skb, struct ps_scratch *s, __u32 l4_off,
			    __u32 l4_len, __u32 v6_net)
{
	struct sk_buff *kskb;
	__u32 i, n, off;
	__u64 sum = 0;
	__u8 summed;

	if (!skb || !s)
		return 0;
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0)
		return 1;
	kskb = bpf_cast_to_kern_ctx(skb);
	summed = BPF_CORE_READ_BITFIELD_PROBED(kskb, ip_summed);
	if (summed == CSUM_UNNECESSARY || summed == CSUM_PARTIAL)
		return 1;
	/* the pseudo header: addresses, the protocol, the TCP length */
	/* v6_net: the network header's offset, with bit 16 for IPv6 */
	if (v6_net >> 16) {
		if (bpf_skb_load_bytes(skb, (v6_net & 0xff) + 8, s->buf, 32))
			return 0;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)s->buf, 32, 0);
	} else {
		if (bpf_skb_load_bytes(skb, (v6_net & 0xff) + 12, s->buf, 8))
			return 0;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)s->buf, 8, 0);
	}
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons(l4_len & 0xffff) + bpf_htons(l4_len >> 16);
	for (i = 0; i < PS_SEG_MAX / 512 + 1; i++) {
		off = i * 512;
		if (off >= l4_len)
			break;
		n = l4_len - off;
		if (n > 512)
			n = 512;
		BOUND_1_TO(n, 512);
		if (bpf_skb_load_bytes(skb, l4_off + off, s->buf, n))
			return 0;
		s->buf[n] = 0;
		s->buf[n + 1] = 0;
		s->buf[n + 2] = 0;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)s->buf, (n + 3) & ~3u, 0);
	}
	return csum_fold64(sum) == 0xffff;
}

static __always_inline void side_view(struct ps_side_flow *f, struct ps_wr_view *v)
{
	v->ent = f->wr;
	v->head = &f->wr_head;
	v->tail = &f->wr_tail;
	v->any = &f->wr_any;
	v->any_idx = &f->wr_any_idx;
}

/* No fill anywhere until the connection closes (PS_WR_ANY). */
static __always_inline void side_hold(struct ps_side_flow *f)
{
	if (__sync_fetch_and_or(&f->flags, PS_SF_HOLD) & PS_SF_HOLD)
		return;
	wr_slot_add(PS_WR_ANY, 1);
}

/* The connection is gone: every write it had in flight is over (Redis
 * runs nothing of a closed client), with the epochs and the cache moved
 * on as at their replies. Its last run's, once (side_leave). */
static __always_inline void side_release(struct ps_side_flow *f, struct ps_scratch *s)
{
	struct ps_wr_view v;

	side_view(f, &v);
	wr_release_view(&v, f->cmds + 0x40000000u, s);
	if (__sync_fetch_and_and(&f->flags, ~PS_SF_HOLD) & PS_SF_HOLD) {
		ps_flush(s);
		wr_slot_add(PS_WR_ANY, -1);
	}
}

/* side_release for side_leave, which every way out of both programs
 * takes: a global function (verified once; inlined at each of them, the
 * release loop grew the two programs by half) */
__noinline int side_release_last(struct ps_side_flow *f, struct ps_scratch *s)
{
	if (!f || !s)
		return 0;
	side_release(f, s);
	return 0;
}

static __always_inline void side_att_count(__u32 ifindex, __u64 delta)
{
	__u32 zero = 0;
	__u64 *n;

	if (ifindex != ps_side_attached)
		return;
	n = bpf_map_lookup_elem(&ps_side_on_att, &zero);
	if (n)
		__sync_fetch_and_add(n, delta);
}

/*
 * An entry's life, in its flags word (sidepath.h). A run (one program
 * run, one segment) that works on a connection enters it (side_enter:
 * counted in PS_SF_USERS, unless it is dead) and leaves it at its end
 * (side_leave). A close marks it dead (side_close): nobody enters it any
 * more; the runs inside finish their segment, and the last to leave
 * releases its writes in flight and its hold, once, and marks it
 * released. A run that looked the element up before the close and
 * enters after it finds it dead: absent. A dead, released entry that no
 * run is inside is reopened in place by its tuple's SYN (side_revive), or
 * deleted once dead for PS_SIDE_GRACE_NS (side_reap): a run that looked
 * it up and has not entered yet (a few instructions) has long ended by
 * then, so the element's next key is nobody's old pointer.
 */
#define SIDE_CAS_TRIES 8

/* Faults the unit tests inject (prestack.h, PS_FAULT_*) */
const volatile __u32 ps_fault = 0;

/* PS_FAULT_SIDE_REUSE: what another CPU's reap of k and open of another
 * connection would do between our lookup of f and side_enter */
static __always_inline void fault_side_reuse(const struct ps_side_key *k,
					     const struct ps_side_flow *f)
{
	struct ps_side_flow *t;
	struct ps_side_key o;
	__u32 zero = 0;

	if (!(ps_fault & PS_FAULT_SIDE_REUSE) || !f)
		return;
	t = bpf_map_lookup_elem(&ps_side_tmp, &zero);
	if (!t)
		return;
	__builtin_memset(t, 0, sizeof(*t));
	t->flags = PS_SF_SYN;
	t->cli_nxt = PS_FAULT_SIDE_NXT;
	o = *k;
	o.cli_port = bpf_htons(bpf_ntohs(k->cli_port) + 1);
	bpf_map_delete_elem(&ps_side_flows, k);
	bpf_map_update_elem(&ps_side_flows, &o, t, BPF_NOEXIST);
}

/* Is f still k's element? Asked once a compare-and-swap on f's word
 * holds it (a run inside, or a claim): from then on it cannot be deleted,
 * so the answer stays true. Before, it may have been: a pointer looked up
 * before a delete whose element the next insert took (another
 * connection's, the grace long past when the lookup was late) */
static __always_inline int side_is(const struct ps_side_key *k, const struct ps_side_flow *f)
{
	return bpf_map_lookup_elem(&ps_side_flows, k) == f;
}

static __always_inline void side_leave(struct ps_side_flow *f, struct ps_scratch *s);

enum { SIDE_OTHER = -1, SIDE_DEAD = 0, SIDE_IN = 1 };

/* Count this run inside f, k's entry: SIDE_IN; SIDE_DEAD when it is dead
 * (absent), or, never in practice, the word kept changing under us;
 * SIDE_OTHER when the element is no longer k's (absent too: k has no
 * entry, or another one) */
static __always_inline int side_enter(const struct ps_side_key *k, struct ps_side_flow *f,
				      struct ps_scratch *s)
{
	__u32 old, i;

	/* (a bounded loop: the verifier needs its end) */
	for (i = 0; i < SIDE_CAS_TRIES; i++) {
		old = READ_ONCE(f->flags);
		if (old & PS_SF_DEAD)
			return SIDE_DEAD;
		if (__sync_val_compare_and_swap(&f->flags, old, old + PS_SF_USER) != old)
			continue;
		if (side_is(k, f))
			return SIDE_IN;
		/* another connection's: our count is one of its runs,
		 * which leaves as any other (and releases it if last) */
		side_leave(f, s);
		return SIDE_OTHER;
	}
	return SIDE_DEAD;
}

/* The run is done with f; the last run out of a dead entry releases it. */
static __always_inline void side_leave(struct ps_side_flow *f, struct ps_scratch *s)
{
	__u32 old = __sync_fetch_and_add(&f->flags, -PS_SF_USER);

	if ((old & PS_SF_DEAD) && (old & PS_SF_USERS) == PS_SF_USER) {
		/* nobody else can be inside: no run enters a dead entry,
		 * and reopening or deleting it waits for PS_SF_RELEASED */
		side_release_last(f, s);
		__sync_fetch_and_or(&f->flags, PS_SF_RELEASED);
	}
}

/* A dead connection's key, for side_dead_pop; on a full queue it is
 * left out (met again, or the full-table pass, deletes it). Global
 * functions, this and side_dead_pop: verified once, not at each close and
 * open they are inlined into. */
__noinline int side_dead_push(const struct ps_side_key *k, __u64 now)
{
	struct side_dead_pos *q;
	struct side_dead *d;
	__u32 zero = 0, pos, idx, i;

	q = bpf_map_lookup_elem(&ps_side_dead_pos, &zero);
	if (!q || !k)
		return 0;
	/* (bounded: another CPU may take the slot first) */
	for (i = 0; i < SIDE_CAS_TRIES; i++) {
		pos = READ_ONCE(q->head);
		idx = pos & (SIDE_DEAD_Q - 1);
		d = bpf_map_lookup_elem(&ps_side_dead, &idx);
		if (!d)
			return 0;
		if ((__s32)(READ_ONCE(d->seq) + idx - pos) < 0)
			return 0;   /* full: its slot not yet freed */
		if (READ_ONCE(d->seq) + idx != pos ||
		    __sync_val_compare_and_swap(&q->head, pos, pos + 1) != pos)
			continue;
		d->k = *k;
		d->dead_ns = now;
		asm volatile("" ::: "memory");
		WRITE_ONCE(d->seq, pos + 1 - idx);   /* written */
		return 0;
	}
	return 0;
}

__noinline int side_dead_pop(__u64 now);

/* The connection closed (by a run inside it): dead from now on; the
 * first close counts, later ones (the other side's) change nothing. */
static __always_inline void side_close(const struct ps_side_key *k, struct ps_side_flow *f)
{
	__u64 now = bpf_ktime_get_ns();

	/* the time first, for whoever sees the entry dead (side_reap): a
	 * second close only moves it later */
	f->dead_ns = now;
	asm volatile("" ::: "memory");
	if (__sync_fetch_and_or(&f->flags, PS_SF_DEAD) & PS_SF_DEAD)
		return;
	side_att_count(f->ifindex, -1);
	side_dead_push(k, now);
	side_dead_pop(now);
}

/* dead, released, nobody inside, not being deleted */
static __always_inline int side_idle_dead(__u32 flags)
{
	return (flags & (PS_SF_DEAD | PS_SF_RELEASED | PS_SF_REAPED | PS_SF_USERS)) ==
	       (PS_SF_DEAD | PS_SF_RELEASED);
}

/* Delete a dead entry once dead for PS_SIDE_GRACE_NS; 1 if it went. */
static __always_inline int side_reap(const struct ps_side_key *k, struct ps_side_flow *f,
				     __u64 now)
{
	__u32 old = READ_ONCE(f->flags);

	if (!side_idle_dead(old) || now - f->dead_ns < PS_SIDE_GRACE_NS)
		return 0;
	/* claimed: no SYN reopens it meanwhile, no other run deletes it */
	if (__sync_val_compare_and_swap(&f->flags, old, old | PS_SF_REAPED) != old)
		return 0;
	if (!side_is(k, f)) {
		/* another connection's, dead too: not ours to delete */
		__sync_fetch_and_and(&f->flags, ~PS_SF_REAPED);
		return 0;
	}
	bpf_map_delete_elem(&ps_side_flows, k);
	return 1;
}

/* The oldest connections closed, once past their grace: deleted if
 * still dead (side_reap checks; one reopened meanwhile stays), and off
 * the queue either way. */
__noinline int side_dead_pop(__u64 now)
{
	struct ps_side_flow *f;
	struct side_dead_pos *q;
	struct side_dead *d;
	struct ps_side_key k;
	__u32 zero = 0, pos, idx, i;

	q = bpf_map_lookup_elem(&ps_side_dead_pos, &zero);
	if (!q)
		return 0;
	for (i = 0; i < SIDE_DEAD_POP; i++) {
		pos = READ_ONCE(q->tail);
		idx = pos & (SIDE_DEAD_Q - 1);
		d = bpf_map_lookup_elem(&ps_side_dead, &idx);
		/* empty, or its oldest not written yet, or young */
		if (!d || READ_ONCE(d->seq) + idx != pos + 1 ||
		    now - READ_ONCE(d->dead_ns) < PS_SIDE_GRACE_NS)
			return 0;
		if (__sync_val_compare_and_swap(&q->tail, pos, pos + 1) != pos)
			return 0;   /* another CPU took it */
		k = d->k;
		asm volatile("" ::: "memory");
		WRITE_ONCE(d->seq, pos + SIDE_DEAD_Q - idx);   /* free for the next lap */
		f = bpf_map_lookup_elem(&ps_side_flows, &k);
		if (f)
			side_reap(&k, f, now);
	}
	return 0;
}

/* bpf_for_each_map_elem's callback: deletes what side_reap would */
static long side_reap_cb(struct bpf_map *map, const struct ps_side_key *k,
			 struct ps_side_flow *f, __u64 *now)
{
	side_reap(k, f, *now);
	return 0;
}

/* A connection we cannot follow: every segment with data flushes, and
 * nothing is filled until it closes. */
static __always_inline void side_lost(struct ps_side_flow *f, struct ps_scratch *s)
{
	if (!(__sync_fetch_and_or(&f->flags, PS_SF_LOST) & PS_SF_LOST))
		stat_inc(PS_ST_SIDE_LOST);
	side_hold(f);
	ps_flush(s);
}

/* Track a new connection (its SYN, or data of one opened before we
 * looked: lost); on a full table dead entries are reclaimed, and if
 * none can be, nothing can be followed: no fill until the next attach.
 * Returns the flow, entered (side_leave it), or NULL; *drop: the segment
 * must wait (its tuple is being opened on another CPU). */
static __always_inline struct ps_side_flow *side_open(const struct side_pkt *p,
						      struct ps_scratch *s,
						      struct __sk_buff *skb, int lost,
						      int *drop)
{
	__u32 idx = PS_LEASE_SIDE_FULL, zero = 0;
	struct ps_side_flow *f;
	__u64 *full, now;
	long err;

	/* room first: the oldest closed connections past their grace */
	side_dead_pop(bpf_ktime_get_ns());
	f = bpf_map_lookup_elem(&ps_side_tmp, &zero);
	if (!f)
		return NULL;
	__builtin_memset(f, 0, sizeof(*f));
	f->ifindex = skb->ifindex;
	f->cli_nxt = lost ? p->seq + p->pl_len : p->seq + 1;
	/* born entered: nobody reopens or deletes it before this run is done */
	f->flags = (lost ? 0 : PS_SF_SYN) + PS_SF_USER;
	err = bpf_map_update_elem(&ps_side_flows, &p->k, f, BPF_NOEXIST);
	if (err == -SIDE_E2BIG) {
		/* full: the dead entries past their grace make room, by one
		 * pass (the CPU that moves the time) every SIDE_PASS_NS */
		__u64 *last = bpf_map_lookup_elem(&ps_side_pass, &zero), t;

		now = bpf_ktime_get_ns();
		t = last ? READ_ONCE(*last) : 0;
		if (last && now - t >= SIDE_PASS_NS &&
		    __sync_val_compare_and_swap(last, t, now) == t) {
			bpf_for_each_map_elem(&ps_side_flows, side_reap_cb, &now, 0);
			err = bpf_map_update_elem(&ps_side_flows, &p->k, f, BPF_NOEXIST);
		}
	}
	if (err == -SIDE_EEXIST) {
		/* another CPU opened (or reopens, or deletes) it meanwhile */
		*drop = 1;
		return NULL;
	}
	if (err) {
		ps_flush(s);
		full = bpf_map_lookup_elem(&ps_lease, &idx);
		if (full)
			*full = 1;
		stat_inc(PS_ST_SIDE_FULL);
		return NULL;
	}
	side_att_count(skb->ifindex, 1);
	f = bpf_map_lookup_elem(&ps_side_flows, &p->k);
	if (f && lost)
		side_lost(f, s);
	return f;
}

/*
 * Reopen a dead entry in place for a new connection of its tuple (its
 * SYN, or lost: data of one we did not see open), once released and no
 * run is inside it. Returns it entered, or NULL: the old connection's last
 * run is still inside, or it is being deleted; the caller drops the
 * segment (sent again, it finds the entry free).
 */
static __always_inline struct ps_side_flow *side_revive(struct ps_side_flow *f,
							const struct side_pkt *p,
							struct ps_scratch *s,
							struct __sk_buff *skb, int lost)
{
	__u32 old = READ_ONCE(f->flags);

	if (!side_idle_dead(old) ||
	    __sync_val_compare_and_swap(&f->flags, old, old + PS_SF_USER) != old)
		return NULL;
	if (!side_is(&p->k, f)) {
		/* another connection's (dead, released: nothing to release) */
		__sync_fetch_and_add(&f->flags, -PS_SF_USER);
		return NULL;
	}
	/* ours alone: still dead to every other run, and no reopen or
	 * reap takes an entry with a run inside. Its ring is empty and its
	 * hold gone (side_release) */
	f->cli_nxt = lost ? p->seq + p->pl_len : p->seq + 1;
	f->srv_nxt = 0;
	f->cmds = 0;
	f->replies = 0;
	f->ifindex = skb->ifindex;
	f->last_ns = 0;
	f->dead_ns = 0;
	__builtin_memset(&f->rq, 0, sizeof(f->rq));
	__builtin_memset(&f->rp, 0, sizeof(f->rp));
	f->wr_head = f->wr_tail = 0;
	f->wr_any = f->wr_any_idx = 0;
	asm volatile("" ::: "memory");
	/* alive again, this run inside; a plain store: no other run writes
	 * the word of a dead entry with a run inside */
	WRITE_ONCE(f->flags, (lost ? 0 : PS_SF_SYN) + PS_SF_USER);
	side_att_count(skb->ifindex, 1);
	if (lost)
		side_lost(f, s);
	return f;
}

/* Data in order from byte `from` of the payload: parsed as XDP parses,
 * writes in flight until their replies. */
static __always_inline int side_data(struct __sk_buff *skb, struct side_pkt *p,
				     struct ps_side_flow *f, struct ps_scratch *s,
				     __u32 from)
{
	struct ps_wr_view v;
	int r;

	rq_reset(s, 0);
	s->rq = f->rq;
	s->naive = 0;
	s->pos = from;
	s->wr_track = 1;
	s->wr_n = 0;
	s->cut_mask = 0;   /* nothing is cut here (wr_push_view) */
	s->ncut = 0;
	/* the fast paths, else the shared walk (resp.h): as poststack's */
	r = 0;
	if (!rq_fast_skb(skb, s, p->pl_off, p->pl_len))
		r = rq_walk_skb(skb, s, p->pl_off, p->pl_len);
	s->wr_track = 0;
	side_view(f, &v);
	wr_push_view(&v, f->cmds, s);
	f->cmds += s->ncmds;
	f->rq = s->rq;
	f->cli_nxt = p->seq + p->pl_len;
	stat_inc(PS_ST_SIDE_SEGS);
	if (s->invalidated)
		stat_add(PS_ST_SIDE_INVAL, s->invalidated);
	if (r || (s->rq_out & RQO_ERROR)) {
		/* Redis refuses and closes, or we could not read: lost */
		side_lost(f, s);
		return 0;
	}
	/* replies that no longer pair with requests: writes from now on
	 * cannot be followed to theirs */
	if (s->rq_out & RQO_UNTRUST)
		__sync_fetch_and_or(&f->flags, PS_SF_REP_LOST);
	if ((f->flags & PS_SF_REP_LOST) && s->wr_n)
		side_hold(f);
	return 0;
}

/*
 * A connection not followed, whose next command the watcher says starts
 * at byte `at` (ps_side_resync), or at its next byte (PS_SF_AHEAD: put
 * there before its first segment since attach): this segment starts there
 * with '*', nothing came since, and Redis has read every byte before it
 * (rcv_nxt and copied_seq at `at`): followed from here, its replies
 * counted from what Redis has written so far (write_seq). Its hold goes:
 * what it wrote before has run. Returns 1 when it is followed now.
 */
static __always_inline int side_resync(struct __sk_buff *skb, const struct side_pkt *p,
				       struct ps_side_flow *f, struct ps_scratch *s)
{
	struct ps_side_resync *r = NULL;
	__u32 at, srv;
	__u8 c = 0;

	if (f->flags & PS_SF_AHEAD) {
		/* its first segment since the watcher looked: where Redis is
		 * is where the socket says it has read to */
		__sync_fetch_and_and(&f->flags, ~PS_SF_AHEAD);
		at = p->seq;
		srv = f->srv_nxt;
	} else {
		r = bpf_map_lookup_elem(&ps_side_resync, &p->k);
		if (!r)
			return 0;
		at = r->cli_seq;
		srv = r->srv_seq;
		bpf_map_delete_elem(&ps_side_resync, &p->k);
		if (f->cli_nxt != at)
			return 0;
	}
	if (p->seq != at || !p->pl_len ||
	    bpf_skb_load_bytes(skb, p->pl_off, &c, 1) || c != '*')
		return 0;
	if (!ps_side_all_local) {
		struct bpf_sock_tuple t = {};
		struct bpf_sock *sk;
		struct tcp_sock *tp;
		__u32 len, rcv = 0, copied = 1;

		if (p->v6) {
			__builtin_memcpy(t.ipv6.saddr, p->k.cli, 16);
			__builtin_memcpy(t.ipv6.daddr, p->k.srv, 16);
			t.ipv6.sport = p->k.cli_port;
			t.ipv6.dport = p->k.srv_port;
			len = sizeof(t.ipv6);
		} else {
			t.ipv4.saddr = p->k.cli[3];
			t.ipv4.daddr = p->k.srv[3];
			t.ipv4.sport = p->k.cli_port;
			t.ipv4.dport = p->k.srv_port;
			len = sizeof(t.ipv4);
		}
		sk = bpf_skc_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
		if (!sk)
			return 0;
		tp = bpf_skc_to_tcp_sock(sk);
		if (tp) {
			rcv = BPF_CORE_READ(tp, rcv_nxt);
			copied = BPF_CORE_READ(tp, copied_seq);
			srv = BPF_CORE_READ(tp, write_seq);
		}
		bpf_sk_release(sk);
		if (!tp || rcv != at || copied != at)
			return 0;
	}
	/* what it wrote before has run (Redis had nothing buffered and
	 * nothing came since): its hold goes; nothing was filled meanwhile,
	 * and the cache was flushed at each of those writes */
	if (__sync_fetch_and_and(&f->flags, ~PS_SF_HOLD) & PS_SF_HOLD)
		wr_slot_add(PS_WR_ANY, -1);
	__builtin_memset(&f->rq, 0, sizeof(f->rq));
	__builtin_memset(&f->rp, 0, sizeof(f->rp));
	f->cmds = f->replies = 0;
	f->cli_nxt = at;
	f->srv_nxt = srv;
	/* followed: known first, then no longer lost (egress, meanwhile,
	 * sees it lost, not as one whose start it missed); the runs count
	 * in the same word is kept */
	__sync_fetch_and_or(&f->flags, PS_SF_SYN | PS_SF_SRV);
	__sync_fetch_and_and(&f->flags, ~(PS_SF_LOST | PS_SF_REP_LOST | PS_SF_AHEAD));
	return 1;
}

/*
 * On the attached interface most segments are XDP's: IPv4 to the port
 * of a connection in ps_flows. Told from the linear headers in place (the
 * interface is Ethernet: XDP runs there), with one lookup: 1 for such a
 * segment (nothing for us), 0 to look at it the long way.
 */
static __always_inline int side_xdps(struct __sk_buff *skb, __u16 port_be)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ps_flow_key fk;
	struct tcphdr *tcp;
	struct iphdr *ip;

	if (skb->protocol != ETH_P_IP_BE)
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5 || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
		return 0;
	if (ip->protocol != IPPROTO_TCP)
		return 1;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > end)
		return 0;
	if (tcp->dest != port_be)
		return 1;
	fk.cli_addr = ip->saddr;
	fk.srv_addr = ip->daddr;
	fk.cli_port = tcp->source;
	fk.srv_port = tcp->dest;
	return bpf_map_lookup_elem(&ps_flows, &fk) != NULL;
}

static __always_inline int side_in(struct __sk_buff *skb)
{
	__u32 zero = 0, sidx = PS_SCR_XDP, from;
	struct ps_side_flow *f;
	int in;
	struct ps_config *cfg;
	struct ps_scratch *s;
	struct side_pkt p = {};
	int r, verdict = TC_ACT_UNSPEC_, drop = 0;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	if (!cfg)
		return TC_ACT_UNSPEC_;
	/* on the attached interface XDP follows the IPv4 connections it
	 * tracks: nothing to do for theirs (most segments there) */
	if (ps_side_attached && skb->ifindex == ps_side_attached &&
	    side_xdps(skb, bpf_htons(cfg->port)))
		return TC_ACT_UNSPEC_;
	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!s)
		return TC_ACT_UNSPEC_;
	stat_inc(PS_ST_SIDE_PKTS);
	p.net = side_net_off(skb);
	r = side_parse(skb, p.net, bpf_htons(cfg->port), 1, &p);
	if (r == SP_NOT_OURS)
		return TC_ACT_UNSPEC_;
	s->flushes = 0;
	if (r == SP_FRAG) {
		/* a fragment's bytes are reassembled where we do not look */
		ps_flush(s);
		goto out;
	}
	/* (XDP's own, with headers the fast look could not read) */
	if (skb->ifindex == ps_side_attached && ps_side_attached && !p.v6) {
		struct ps_flow_key fk = { .cli_addr = p.k.cli[3], .srv_addr = p.k.srv[3],
					  .cli_port = p.k.cli_port, .srv_port = p.k.srv_port };

		if (bpf_map_lookup_elem(&ps_flows, &fk))
			goto out;
	}
	f = bpf_map_lookup_elem(&ps_side_flows, &p.k);
	fault_side_reuse(&p.k, f);
	in = f ? side_enter(&p.k, f, s) : SIDE_OTHER;
	if (in == SIDE_OTHER)
		f = NULL;   /* k has no entry (or another element) */
	if ((p.flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		/* a new connection (or the same SYN again): follow it from
		 * its first byte */
		if (f && in == SIDE_IN) {
			if (!(f->flags & PS_SF_LOST) && f->cli_nxt == p.seq + 1 && !f->cmds) {
				side_leave(f, s);
				goto out;
			}
			/* it replaces the connection: that one is over
			 * (released here, unless the other hook is inside) */
			side_close(&p.k, f);
			side_leave(f, s);
		}
		if (!side_local(skb, &p))
			goto out;
		if (f) {
			f = side_revive(f, &p, s, skb, 0);
			/* else the old connection's last run is still
			 * inside: the client sends its SYN again */
			drop = !f;
		} else {
			f = side_open(&p, s, skb, 0, &drop);
		}
		if (f)
			side_leave(f, s);
		if (drop)
			verdict = TC_ACT_SHOT;
		goto out;
	}
	if (f && in != SIDE_IN) {
		/* dead: absent. Its tuple's data opens it again (lost, as
		 * below); anything else deletes it once old enough */
		if (!p.pl_len) {
			side_reap(&p.k, f, bpf_ktime_get_ns());
			goto out;
		}
		if (!side_local(skb, &p))
			goto out;
		f = side_revive(f, &p, s, skb, 1);
		if (f)
			side_leave(f, s);
		else
			/* not parsed, so not for Redis yet: sent again */
			verdict = TC_ACT_SHOT;
		goto out;
	}
	if (!f) {
		/* data of a connection opened before we looked: lost */
		if (p.pl_len && side_local(skb, &p)) {
			f = side_open(&p, s, skb, 1, &drop);
			if (f)
				side_leave(f, s);
			else if (drop)
				verdict = TC_ACT_SHOT;
		}
		goto out;
	}
	/* entered: every way out below leaves (side_leave) */
	/* put here by the watcher (PS_SF_AHEAD), which cannot tell the
	 * interface: egress there must look for it */
	if (!f->ifindex) {
		f->ifindex = skb->ifindex;
		side_att_count(skb->ifindex, 1);
	}
	if (p.flags & TCPF_RST) {
		side_close(&p.k, f);
		goto leave;
	}
	if (!p.pl_len)
		goto leave;
	if ((f->flags & PS_SF_LOST) && !side_resync(skb, &p, f, s)) {
		side_lost(f, s);
		/* where the client is: the watcher's resync starts from it */
		if (after(p.seq + p.pl_len, f->cli_nxt))
			f->cli_nxt = p.seq + p.pl_len;
		goto leave;
	}
	if (!side_csum_ok(skb, s, p.l4_off, p.l4_len, p.net | (p.v6 << 16))) {
		/* the kernel drops it; its good copy comes again */
		stat_inc(PS_ST_SIDE_CSUM);
		goto leave;
	}
	if (after(p.seq, f->cli_nxt)) {
		/* past a hole: dropped, sent again once the hole is filled */
		stat_inc(PS_ST_SIDE_OOO);
		verdict = TC_ACT_SHOT;
		goto leave;
	}
	if (!after(p.seq + p.pl_len, f->cli_nxt))
		goto leave;   /* all of it parsed before (a retransmission) */
	from = f->cli_nxt - p.seq;
	f->last_ns = bpf_ktime_get_ns();
	/* if the connection closes meanwhile (its server FIN, an RST on
	 * another CPU), what this pushes is released with the rest when the
	 * last run leaves */
	side_data(skb, &p, f, s, from);
leave:
	side_leave(f, s);
out:
	if (s->flushes)
		stat_add(PS_ST_SIDE_FLUSHES, s->flushes);
	return verdict;
}

/* Redis's replies on a followed connection: counted, releasing the writes
 * they answer. */
static __always_inline void side_replies(struct __sk_buff *skb, struct side_pkt *p,
					 struct ps_side_flow *f, struct ps_scratch *s)
{
	struct ps_wr_view v;
	__u32 from;

	if (after(p->seq, f->srv_nxt)) {
		/* never at egress; if so, the count is lost */
		__sync_fetch_and_or(&f->flags, PS_SF_REP_LOST);
		side_hold(f);
		return;
	}
	if (!after(p->seq + p->pl_len, f->srv_nxt))
		return;
	from = f->srv_nxt - p->seq;
	rp_reset(s, 0, f->replies, 0);
	s->rp = f->rp;
	s->fq_mask = 0;
	s->pos = from;
	if (rp_walk_skb(skb, s, p->pl_off, p->pl_len) || s->rp_error) {
		__sync_fetch_and_or(&f->flags, PS_SF_REP_LOST);
		side_hold(f);
		return;
	}
	f->rp = s->rp;
	f->srv_nxt = p->seq + p->pl_len;
	f->replies += s->replies;
	stat_add(PS_ST_SIDE_REPLIES, s->replies);
	side_view(f, &v);
	wr_release_view(&v, f->replies, s);
}

static __always_inline int side_out(struct __sk_buff *skb)
{
	__u32 zero = 0, sidx = PS_SCR_TC;
	struct ps_side_flow *f;
	int in;
	struct ps_config *cfg;
	struct ps_scratch *s;
	struct side_pkt p = {};
	__u64 *n;

	/* on the attached interface: only while it has connections of ours */
	if (ps_side_attached && skb->ifindex == ps_side_attached) {
		n = bpf_map_lookup_elem(&ps_side_on_att, &zero);
		if (!n || !*n)
			return TC_ACT_UNSPEC_;
	}
	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!cfg || !s)
		return TC_ACT_UNSPEC_;
	stat_inc(PS_ST_SIDE_PKTS);
	p.net = side_net_off(skb);
	if (side_parse(skb, p.net, bpf_htons(cfg->port), 0, &p) != SP_OURS)
		return TC_ACT_UNSPEC_;
	f = bpf_map_lookup_elem(&ps_side_flows, &p.k);
	if (!f)
		return TC_ACT_UNSPEC_;
	s->flushes = 0;
	in = side_enter(&p.k, f, s);
	if (in == SIDE_OTHER)
		return TC_ACT_UNSPEC_;
	if (in == SIDE_DEAD) {
		/* dead: absent; deleted once old enough */
		side_reap(&p.k, f, bpf_ktime_get_ns());
		return TC_ACT_UNSPEC_;
	}
	if ((p.flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK)) {
		f->srv_nxt = p.seq + 1;
		__sync_fetch_and_or(&f->flags, PS_SF_SRV);
		side_leave(f, s);
		return TC_ACT_UNSPEC_;
	}
	if (p.pl_len && (f->flags & (PS_SF_SRV | PS_SF_LOST | PS_SF_REP_LOST)) == PS_SF_SRV)
		side_replies(skb, &p, f, s);
	else if (p.pl_len && !(f->flags & PS_SF_SRV))
		side_hold(f);   /* replies of a connection whose start we missed */
	/* Redis closed it: nothing more of it runs */
	if (p.flags & (TCPF_FIN | TCPF_RST))
		side_close(&p.k, f);
	side_leave(f, s);
	if (s->flushes)
		stat_add(PS_ST_SIDE_FLUSHES, s->flushes);
	return TC_ACT_UNSPEC_;
}

SEC("tc")
int ps_side_in(struct __sk_buff *skb)
{
	return side_in(skb);
}

SEC("tc")
int ps_side_out(struct __sk_buff *skb)
{
	return side_out(skb);
}

char LICENSE[] SEC("license") = "GPL";
