/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reply.h - building a reply at XDP: the cached replies of a segment's GETs
 * assembled into scratch (assemble), the headers of the reply segment
 * (em_setup: seq, ack, window, timestamps), and the request frame turned
 * into that reply in place (emit_reply).
 */
#ifndef PS_REPLY_H
#define PS_REPLY_H

#include "helpers.h"
#include "csum.h"
#include "scratch.h"
#include "cache.h"

/*
 * What an attempt to answer (or answer again) did with the frame: emit_reply,
 * the retransmission helpers (rtx.h) and the TC handoff (tc_handoff.h)
 * return one of these, and each caller switches on it for its verdict.
 */
enum ps_sent {
	PS_SENT_NONE = 0, /* nothing sent, the frame as it came: carry on */
	PS_SENT_TX,       /* the frame is the reply: XDP_TX */
	PS_SENT_TC,       /* handed to TC ingress in data_meta: XDP_PASS,
			   * untranslated (the request is consumed) */
	PS_SENT_BROKEN,   /* a rewrite began and could not complete: XDP_DROP */
};

/* The verdict of a frame something was sent for (never PS_SENT_NONE). */
static __always_inline int sent_verdict(int r)
{
	switch (r) {
	case PS_SENT_TX:
		return XDP_TX;
	case PS_SENT_TC:
		return XDP_PASS;
	default: /* PS_SENT_BROKEN */
		return XDP_DROP;
	}
}

/* Unit tests only: PS_FAULT_* (prestack.h), set before load; 0 in every
 * attached program, where the verifier removes the branches it guards */
const volatile __u32 ps_fault = 0;

/* Unit tests only (PS_FAULT_REUSE_EARLY): v, just looked up under k in
 * ps_cache, is deleted and its element reused for the key "zzz", as an
 * LRU hash may do at once: that key's whole entry is copied over it.
 * PS_FAULT_REUSE_SAME_HASH: the same copy, the element left under k's
 * hash, as if "zzz" had k's hash (a fill of a colliding key). */
static __always_inline void fault_reuse_early(struct ps_scratch *s,
					      const struct ps_cache_key *k,
					      struct ps_cache_val *v)
{
	struct ps_cache_key *o = &s->fill_key;
	struct ps_cache_val *ov;

	if (!(ps_fault & (PS_FAULT_REUSE_EARLY | PS_FAULT_REUSE_SAME_HASH)) || !v)
		return;
	__builtin_memset(o, 0, sizeof(*o));
	o->len = 3;
	o->data[0] = 'z';
	o->data[1] = 'z';
	o->data[2] = 'z';
	ps_key_seal(o);
	ov = bpf_map_lookup_elem(&ps_cache, &o->hash);
	if (!ov || ov == v)
		return;
	if (!(ps_fault & PS_FAULT_REUSE_SAME_HASH))
		bpf_map_delete_elem(&ps_cache, &k->hash);
	bpf_probe_read_kernel(v, sizeof(*v), ov);
}

/*
 * Look up every GET key of the segment and assemble the replies in
 * s->rep (sum in s->asm_csum, misses in s->asm_misses). Returns the
 * payload length, 0 if some key missed, -1 if the replies exceed `limit`.
 */
__noinline int assemble_many(struct ps_scratch *s, __u32 limit, __u32 gen,
			     __u64 now_ns)
{
	__u32 tot = 0, sum = 0, miss = 0, i, vsum;
	__u64 id;

	if (!s)
		return -1;
	s->asm_misses = 0; /* a -1 below must not leave an older count */
	s->first_miss = 0;
	s->asm_ok = 0;
	for (i = 0; i < PS_MAX_CMDS; i++) {
		struct ps_cache_key *k = &s->key;
		struct ps_cache_val *v;
		__u32 rlen;

		if (i >= s->ngets)
			break;
		s->asm_len[i] = PS_ASM_NONE;
		if (ps_key_from_buf(k, s, s->key_off[i], s->key_len[i])) {
			miss++;
			continue;
		}
		v = cache_lookup(k, gen, now_ns);
		if (!v) {
			if (!miss)
				s->first_miss = i;
			miss++;
			s->asm_len[i] = 0;
			continue;
		}
		fault_reuse_early(s, k, v);
		rlen = v->reply_len;
		vsum = v->csum;
		id = v->filled_ns;
		if (rlen == 0 || rlen > PS_REPLY_MAX || tot + rlen > limit ||
		    tot + rlen > PS_REP_MASK)
			return -1;
		BOUND_1_TO(rlen, PS_REPLY_BOUND);
		if (rlen > PS_REPLY_MAX)
			return -1;
		/* a bounded copy between two map values */
		if (bpf_probe_read_kernel(&s->rep[tot & PS_REP_MASK], rlen,
					  v->reply))
			return -1;
		if (ps_fault & PS_FAULT_REUSE)
			v->filled_ns++;
		/* reused under us (helpers.h): another key's bytes, a miss */
		if (!ENTRY_OF(&ps_cache, k, v, id, rlen, vsum)) {
			if (!miss)
				s->first_miss = i;
			miss++;
			continue;
		}
		sum = csum_add32(sum, csum_at_offset(vsum, tot));
		s->asm_off[i] = tot;
		s->asm_len[i] = rlen;
		s->asm_sum[i] = vsum;
		tot += rlen;
	}
	s->asm_ok = 1;
	s->asm_misses = miss;
	s->asm_csum = sum;
	return miss ? 0 : tot;
}

/*
 * The replies to the segment's GETs: as assemble_many, except that a
 * single GET (the common case) is not copied: *one is its cache entry,
 * which emit_reply writes into the frame directly. *one is NULL when the
 * replies are in s->rep.
 */
static __always_inline int assemble(struct ps_scratch *s, __u32 limit,
				    __u32 gen, __u64 now_ns,
				    struct ps_cache_val **one)
{
	struct ps_cache_val *v = NULL;
	__u32 rlen;

	*one = NULL;
	if (s->ngets != 1)
		return assemble_many(s, limit, gen, now_ns);
	if (s->key_ready ||
	    !ps_key_from_buf(&s->key, s, s->key_off[0], s->key_len[0]))
		v = cache_lookup(&s->key, gen, now_ns);
	if (!v) {
		s->asm_misses = 1;
		s->first_miss = 0;
		s->asm_csum = 0;
		return 0;
	}
	fault_reuse_early(s, &s->key, v);
	rlen = v->reply_len;
	if (rlen == 0 || rlen > PS_REPLY_MAX || rlen > limit)
		return -1;
	s->asm_misses = 0;
	s->asm_csum = v->csum;
	*one = v;
	return rlen;
}

/*
 * Sum of n 32-bit words at w into a 64-bit accumulator, and the fold of
 * such an accumulator to 16 bits: the ones' complement sum of a few
 * header words without a helper call (bpf_csum_diff costs ~15 ns a call).
 */
static __always_inline __u64 csum_words(const __u32 *w, int n, __u64 acc)
{
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		acc += w[i];
	return acc;
}

/*
 * Grow (or shrink) the frame by delta bytes: at the tail if it has room,
 * else partly at the head. A veth frame built on the client's small linear
 * skb has little tailroom, and the head keeps room for struct xdp_frame:
 * try decreasing head shares. Returns 0 or -1 (frame unchanged).
 */
static __always_inline int grow_frame(struct xdp_md *ctx, int delta)
{
	const int shares[] = PS_HEAD_SHARES;
	int i;

	if (!bpf_xdp_adjust_tail(ctx, delta))
		return 0;
	if (delta <= 0)
		return -1;
	for (i = 0; i < PS_HEAD_SHARES_N; i++) {
		int head = delta < shares[i] ? delta : shares[i];

		if (bpf_xdp_adjust_head(ctx, -head))
			continue;
		if (head == delta || !bpf_xdp_adjust_tail(ctx, delta - head))
			return 0;
		bpf_xdp_adjust_head(ctx, head);
	}
	return -1;
}

/* Ethernet + IPv4 without options + TCP with NOP NOP TS: the most a reply
 * header holds; what emit_reply checks before writing it in place */
#define PS_REPLY_HDR_MAX (sizeof(struct ethhdr) + sizeof(struct iphdr) + \
			  TCP_HDR_MIN + TCPOLEN_TS_ALIGNED)

/*
 * Turn the request frame into the reply described by s->em: fresh headers
 * (no IP options; TCP options NOP NOP TS when em.ts), written in place,
 * and the payload from v->reply (one GET: v looked up under s->key,
 * assemble) or s->rep (v NULL). Returns an
 * enum ps_sent: PS_SENT_TX (the frame holds the reply), PS_SENT_NONE
 * (nothing changed: every check that can fail before the frame is
 * touched comes first) or PS_SENT_BROKEN (the frame was grown or written
 * and could not be completed). From the first change until completion
 * s->em_dirty is set: ps_ingress drops such a frame whatever its caller
 * returns, so a half-written reply never reaches the kernel.
 * Global: returns int (the enum's values).
 */
__noinline int emit_reply(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_cache_val *v)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 cli_mac[ETH_ALEN], srv_mac[ETH_ALEN];
	__u32 thl, hlen, tot, csum, *opt;
	__u64 id;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u64 acc;
	int ts, delta;

	if (!s)
		return PS_SENT_NONE;
	if ((void *)(eth + 1) > data_end)
		return PS_SENT_NONE;
	tot = s->em.tot;
	if (tot == 0 || tot > MTU_PAYLOAD_MAX)
		return PS_SENT_NONE;
	BOUND_1_TO(tot, PS_REPLY_BOUND);
	if (v && tot != v->reply_len)
		return PS_SENT_NONE;
	csum = v ? v->csum : s->em.csum;
	id = v ? v->filled_ns : 0;
	/* still under the hash of the key assemble looked it up by (s->key),
	 * and holding that key? Reused before its identity was read, it
	 * holds another key's entry, whole (helpers.h, ENTRY_OF: the lookup
	 * and the comparison may come any time after that read; here,
	 * before the frame is touched, the GET just goes on) */
	if (v && (bpf_map_lookup_elem(&ps_cache, &s->key.hash) != v ||
		  !ps_key_eq(&v->key, &s->key))) {
		stat_inc(PS_ST_ENTRY_MOVED);
		return PS_SENT_NONE;
	}
	ts = s->em.ts;
	__builtin_memcpy(cli_mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(srv_mac, eth->h_dest, ETH_ALEN);
	thl = TCP_HDR_MIN + (ts ? TCPOLEN_TS_ALIGNED : 0);
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + thl;

	/* grow at the tail, or at the head when the tail has no room (a veth
	 * frame built on a small skb); headers are written from offset 0 */
	delta = (int)(hlen + tot) - (int)(data_end - data);
	if ((!v && (ps_fault & PS_FAULT_NO_GROW)) ||
	    grow_frame(ctx, delta))
		return PS_SENT_NONE;
	/* from here the frame is no longer the request */
	s->em_dirty = 1;
	if (ps_fault & (v ? PS_FAULT_EMIT_ONE : PS_FAULT_EMIT_REP))
		return PS_SENT_BROKEN;
	/* every packet pointer is stale after an adjust: read them again */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + PS_REPLY_HDR_MAX - TCPOLEN_TS_ALIGNED > data_end)
		return PS_SENT_BROKEN;
	eth = data;
	ip = data + sizeof(*eth);
	tcp = (void *)(ip + 1);
	opt = (void *)(tcp + 1);
	if (ts && (void *)(opt + 3) > data_end)
		return PS_SENT_BROKEN;

	__builtin_memcpy(eth->h_dest, cli_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, srv_mac, ETH_ALEN);
	eth->h_proto = ETH_P_IP_BE;

	*(__u16 *)ip = bpf_htons(IP_VER4_IHL5 << 8); /* tos 0 */
	ip->tot_len = bpf_htons(sizeof(struct iphdr) + thl + tot);
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF); /* like the kernel's */
	ip->ttl = IP_TTL_DEFAULT;
	ip->protocol = IPPROTO_TCP;
	ip->check = 0;
	ip->saddr = s->em.daddr;
	ip->daddr = s->em.saddr;
	ip->check = ~csum_fold64(csum_words((__u32 *)ip, 5, 0));

	tcp->source = s->em.dport;
	tcp->dest = s->em.sport;
	tcp->seq = bpf_htonl(s->em.seq);
	tcp->ack_seq = bpf_htonl(s->em.ack);
	/* data offset, then the flags byte */
	*((__u16 *)tcp + 6) = bpf_htons((thl / 4) << 12 | TCPF_PSH | TCPF_ACK);
	tcp->window = bpf_htons(s->em.window);
	tcp->check = 0;
	tcp->urg_ptr = 0;
	if (ts) {
		opt[0] = bpf_htonl(TCPOPT_NOP << 24 | TCPOPT_NOP << 16 |
				   TCPOPT_TS << 8 | TCPOLEN_TS);
		opt[1] = bpf_htonl(s->em.tsval);
		opt[2] = bpf_htonl(s->em.tsecr);
	}
	/* pseudo header (addresses, protocol, TCP length), header, payload */
	acc = (__u64)s->em.saddr + s->em.daddr +
	      bpf_htonl(IPPROTO_TCP) + bpf_htonl(thl + tot) + csum;
	acc = csum_words((__u32 *)tcp, TCP_HDR_MIN / 4, acc);
	if (ts)
		acc = csum_words(opt, 3, acc);
	tcp->check = ~csum_fold64(acc);

	if (v) {
		__u32 n = tot;

		/* the bound the verifier needs for v->reply, on the very
		 * register passed (the check above was on another copy) */
		BARRIER_VAR(n);
		if (n == 0 || n > PS_REPLY_MAX)
			return PS_SENT_BROKEN;
		if (bpf_xdp_store_bytes(ctx, hlen, v->reply, n))
			return PS_SENT_BROKEN;
		if (ps_fault & PS_FAULT_REUSE)
			v->filled_ns++;
		/* the entry may have been reused while we read it (helpers.h);
		 * its identity, not only its sum: values that differ by bytes
		 * swapped two apart have the same sum */
		if (!ENTRY_SAME(v, id, tot, csum))
			return PS_SENT_BROKEN;
	} else if (bpf_xdp_store_bytes(ctx, hlen, s->rep, tot)) {
		return PS_SENT_BROKEN;
	}
	s->em_dirty = 0;
	return PS_SENT_TX;
}

static long noop_step(__u32 i, void *ctx)
{
	return 0;
}

/* Benchmarks: the dummy-cache experiment's extra work per answer. */
static __always_inline void extra_work(const struct ps_config *cfg)
{
	if (cfg->extra_work)
		bpf_loop(cfg->extra_work, noop_step, NULL, 0);
}

static __always_inline __u32 reply_limit(const struct ps_flow *f)
{
	__u32 mss = f->mss_cli ? f->mss_cli : MSS_DEFAULT;

	if (mss > MTU_PAYLOAD_MAX)
		mss = MTU_PAYLOAD_MAX;
	if (f->flags & PS_F_TS)
		mss -= TCPOLEN_TS_ALIGNED;
	return mss;
}

/* Fill s->em for a reply to request p on flow f. */
static __always_inline void em_setup(struct ps_scratch *s,
				     const struct ps_pkt *p,
				     const struct ps_flow *f, __u32 seq,
				     __u32 ack, __u32 tot)
{
	__u32 tsval;

	s->em.saddr = p->saddr;
	s->em.daddr = p->daddr;
	s->em.sport = p->sport;
	s->em.dport = p->dport;
	s->em.seq = seq;
	s->em.ack = ack;
	s->em.tot = tot;
	s->em.csum = s->asm_csum;
	s->em.window = f->srv_wnd_raw;
	s->em.ts = !!(f->flags & PS_F_TS);
	/* the kernel's clock (ms + per-connection offset), never behind
	 * what the kernel already sent: PAWS on the client */
	tsval = p->now_ms + f->ts_off;
	if (before(tsval, f->ts_srv_last))
		tsval = f->ts_srv_last;
	s->em.tsval = tsval;
	s->em.tsecr = f->ts_recent;
}

#endif
