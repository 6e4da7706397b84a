// SPDX-License-Identifier: GPL-2.0
/*
 * prestack.bpf.c - pre-stack Redis GET responder.
 *
 * ps_xdp (ingress of the server's interface): answers complete RESP GETs of
 * cached keys by rewriting the frame into the reply and XDP_TX; invalidates
 * on writes; translates everything else into the kernel's sequence space.
 * ps_tc (egress, clsact): learns the server side of each flow, translates
 * the kernel's segments into the client's space, counts replies and fills
 * the cache from replies to GETs that missed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prestack.h"
#include "maps.h"
#include "scratch.h"
#include "csum.h"
#include "parsing.h"
#include "flow.h"
#include "resp.h"

#define TC_ACT_OK 0
#define BPF_F_CURRENT_NETNS_ (-1)
#define MSS_DEFAULT 536
#define MTU_PAYLOAD_MAX 1460 /* 1500 - IPv4 - TCP without options */

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&ps_stats, &idx);

	if (c)
		*c += v;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

/* The kernel's TCP timestamp clock is CLOCK_MONOTONIC in ms (plus a
 * per-connection offset learnt from the SYN-ACK); replay overrides it. */
static __always_inline __u32 now_ms(void)
{
	__u32 zero = 0;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);

	if (cfg && cfg->clock_ms)
		return cfg->clock_ms;
	return (__u32)(bpf_ktime_get_ns() / 1000000);
}

static __always_inline void untrust(struct ps_flow *f, __u32 reason)
{
	if (!(f->flags & PS_F_UNTRUSTED)) {
		flow_set(f, PS_F_UNTRUSTED);
		f->untrusted_reason = reason;
		stat_inc(PS_ST_FLOWS_UNTRUSTED);
	}
}

static __always_inline void flow_key_cli(struct ps_flow_key *k,
					 const struct ps_pkt *p)
{
	k->cli_addr = p->saddr;
	k->srv_addr = p->daddr;
	k->cli_port = p->sport;
	k->srv_port = p->dport;
}

/* ---------------------------------------------------------------- XDP -- */

/*
 * Rewrite seq, ack and SACK edges of a client segment in place.
 * Global functions (no `static`) are verified once, on their own; the
 * verifier would otherwise walk them again for every caller state. They
 * see map values as plain memory, so atomics stay in the static callers.
 */
__noinline int xdp_translate(struct xdp_md *ctx, struct ps_pkt *p,
			     struct ps_flow *f, __u32 kseq, __u32 naive)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off, o, n, i;
	struct tcphdr *tcp;
	int changed = 0;

	if (!p || !f)
		return 0;
	off = p->l4_off;

	/* l4_off <= 14 + 60: the bound the verifier needs for data + off */
	if (off > 74)
		return 0;
	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return 0;
	n = bpf_htonl(kseq);
	if (tcp->seq != n) {
		csum_replace4(&tcp->check, tcp->seq, n);
		tcp->seq = n;
		changed = 1;
	}
	if (p->flags & TCPF_ACK) {
		n = cli_ack_to_k(f, p->ack, naive);
		/* what the kernel has been told (answered segments' acks
		 * never reach it) */
		if (after(n, f->ksnd_una))
			f->ksnd_una = n;
		n = bpf_htonl(n);
		if (tcp->ack_seq != n) {
			csum_replace4(&tcp->check, tcp->ack_seq, n);
			tcp->ack_seq = n;
			changed = 1;
		}
	}
	/* SACK blocks name server bytes in client space, like the ack */
	for (i = 0; i < 4; i++) {
		__u32 *edge;

		if (i >= p->sack_n)
			break;
		o = off + p->sack_off + i * 8;
		if (o > 74 + 60)
			break;
		edge = data + o;
		if ((void *)(edge + 2) > data_end)
			break;
		n = bpf_htonl(cli_ack_to_k(f, bpf_ntohl(edge[0]), naive));
		if (edge[0] != n) {
			csum_replace4(&tcp->check, edge[0], n);
			edge[0] = n;
			changed = 1;
		}
		n = bpf_htonl(cli_ack_to_k(f, bpf_ntohl(edge[1]), naive));
		if (edge[1] != n) {
			csum_replace4(&tcp->check, edge[1], n);
			edge[1] = n;
			changed = 1;
		}
	}
	if (changed)
		stat_inc(PS_ST_TRANSLATED);
	return changed;
}

static __always_inline int xdp_handle_syn(struct ps_scratch *s,
					  const struct ps_pkt *p,
					  const struct ps_flow_key *key,
					  int naive)
{
	struct ps_flow *old = bpf_map_lookup_elem(&ps_flows, key);
	struct ps_flow *f = &s->newflow;

	/* a retransmitted SYN keeps the flow it opened */
	if (old && old->state == PS_FLOW_SYN && old->cli_isn == p->seq)
		return XDP_PASS;
	__builtin_memset(f, 0, sizeof(*f));
	f->state = PS_FLOW_SYN;
	f->cli_isn = p->seq;
	f->cli_nxt = p->seq + 1;
	f->cli_corr_pos = f->cli_nxt;
	f->mss_cli = p->has_mss ? p->mss : MSS_DEFAULT;
	f->wscale_cli = p->has_ws ? p->ws : 0;
	if (p->has_ts) {
		f->flags |= PS_F_CLI_TS;
		f->ts_recent = p->tsval;
	}
	if (p->has_sackperm)
		f->flags |= PS_F_CLI_SACK;
	if (p->has_ws)
		f->flags |= PS_F_CLI_WS;
	f->cli_wnd_raw = p->window;
	if (!naive)
		f->flags |= PS_F_STREAM;
	f->last_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&ps_flows, key, f, BPF_ANY) == 0)
		stat_inc(PS_ST_FLOWS_NEW);
	else
		stat_inc(PS_ST_FLOWS_FULL);
	return XDP_PASS;
}

/*
 * Copy the payload into scratch and run the request parser from s->pos,
 * starting in state s->rq, with s->naive: the caller sets all three.
 */
__noinline int rq_parse(struct xdp_md *ctx, struct ps_scratch *s,
			__u32 payload_off, __u32 len)
{
	if (!s)
		return -1;
	if (len == 0 || len > PS_PAYLOAD_MAX)
		return -1;
	BOUND_1_TO(len, PS_PAYLOAD_MAX);
	if (bpf_xdp_load_bytes(ctx, payload_off, s->buf, len))
		return -1;
	s->len = len;
	s->rq_out = 0;
	s->ncmds = 0;
	s->ngets = 0;
	s->cur_key_len = 0;
	s->arg_vis = 0;
	s->multi_last = 0;
	s->auth_pos = 0;
	s->invalidated = 0;
	s->flushes = 0;
	/* the common case without the byte-by-byte parser */
	if (ps_fast_gets(s))
		return 0;
	s->ngets = 0;
	s->ncmds = 0;
	bpf_loop(PS_PAYLOAD_MAX + 1, rq_step, NULL, 0);
	if (s->invalidated)
		stat_add(PS_ST_INVALIDATIONS, s->invalidated);
	if (s->flushes)
		stat_add(PS_ST_FLUSHES, s->flushes);
	return 0;
}

/*
 * Look up every GET key of the segment and assemble the replies in
 * s->rep (sum in s->asm_csum, misses in s->asm_misses). Returns the
 * payload length, 0 if some key missed, -1 if the replies exceed `limit`.
 */
__noinline int assemble(struct ps_scratch *s, __u32 limit, __u32 gen)
{
	__u32 tot = 0, sum = 0, miss = 0, i;

	if (!s)
		return -1;
	for (i = 0; i < PS_MAX_CMDS; i++) {
		struct ps_cache_val *v;
		struct ps_cache_key k;
		__u32 rlen;

		if (i >= s->ngets)
			break;
		if (ps_key_from_buf(&k, s, s->key_off[i], s->key_len[i])) {
			miss++;
			continue;
		}
		v = bpf_map_lookup_elem(&ps_cache, &k);
		if (!v) {
			miss++;
			continue;
		}
		if (v->gen != gen) {
			/* flushed since it was filled */
			bpf_map_delete_elem(&ps_cache, &k);
			miss++;
			continue;
		}
		rlen = v->reply_len;
		if (rlen == 0 || rlen > PS_REPLY_MAX || tot + rlen > limit ||
		    tot + rlen > PS_REP_MASK)
			return -1;
		BOUND_1_TO(rlen, 2048);
		if (rlen > PS_REPLY_MAX)
			return -1;
		/* a bounded copy between two map values */
		if (bpf_probe_read_kernel(&s->rep[tot & PS_REP_MASK], rlen,
					  v->reply))
			return -1;
		sum = csum_add32(sum, csum_at_offset(v->csum, tot));
		tot += rlen;
	}
	s->asm_misses = miss;
	s->asm_csum = sum;
	return miss ? 0 : tot;
}

/* pad: keeps ip and tcp 4-byte aligned on the stack (Ethernet is 14) */
struct ps_reply_hdr {
	__u8 pad[2];
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 opts[12]; /* NOP NOP TS */
};
#define PS_REPLY_HDR_MAX (sizeof(struct ps_reply_hdr) - 2)

struct ps_pseudo {
	__u32 saddr, daddr;
	__u8 zero, proto;
	__u16 len;
};

/*
 * Grow (or shrink) the frame by delta bytes: at the tail if it has room,
 * else partly at the head. A veth frame built on the client's small linear
 * skb has little tailroom, and the head keeps room for struct xdp_frame:
 * try decreasing head shares. Returns 0 or -1 (frame unchanged).
 */
static __always_inline int grow_frame(struct xdp_md *ctx, int delta)
{
	const int shares[] = { 480, 384, 320, 256, 192, 128 };
	int i;

	if (!bpf_xdp_adjust_tail(ctx, delta))
		return 0;
	if (delta <= 0)
		return -1;
	for (i = 0; i < 6; i++) {
		int head = delta < shares[i] ? delta : shares[i];

		if (bpf_xdp_adjust_head(ctx, -head))
			continue;
		if (head == delta || !bpf_xdp_adjust_tail(ctx, delta - head))
			return 0;
		bpf_xdp_adjust_head(ctx, head);
	}
	return -1;
}

/*
 * Turn the request frame into the reply described by s->em: fresh headers
 * (no IP options; TCP options NOP NOP TS when em.ts), payload from s->rep.
 * Returns 0 when the frame holds the reply, -1 when nothing was changed,
 * -2 when the frame is broken (drop it).
 */
__noinline int emit_reply(struct xdp_md *ctx, struct ps_scratch *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ps_reply_hdr h;
	struct ps_pseudo ph;
	__u32 thl, hlen, sum, tot;
	int ts, delta;

	if (!s)
		return -1;
	if ((void *)(eth + 1) > data_end)
		return -1;
	tot = s->em.tot;
	if (tot == 0 || tot > MTU_PAYLOAD_MAX)
		return -1;
	BOUND_1_TO(tot, 2048);
	ts = s->em.ts;
	__builtin_memset(&h, 0, sizeof(h));
	__builtin_memcpy(h.eth.h_dest, eth->h_source, 6);
	__builtin_memcpy(h.eth.h_source, eth->h_dest, 6);
	h.eth.h_proto = ETH_P_IP_BE;

	thl = ts ? 32 : 20;
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + thl;

	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(sizeof(struct iphdr) + thl + tot);
	h.ip.frag_off = bpf_htons(0x4000); /* DF, like the kernel's */
	h.ip.ttl = 64;
	h.ip.protocol = IPPROTO_TCP;
	h.ip.saddr = s->em.daddr;
	h.ip.daddr = s->em.saddr;
	h.ip.check = ~csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&h.ip,
						sizeof(h.ip), 0));

	h.tcp.source = s->em.dport;
	h.tcp.dest = s->em.sport;
	h.tcp.seq = bpf_htonl(s->em.seq);
	h.tcp.ack_seq = bpf_htonl(s->em.ack);
	h.tcp.doff = thl / 4;
	h.tcp.psh = 1;
	h.tcp.ack = 1;
	h.tcp.window = bpf_htons(s->em.window);
	if (ts) {
		h.opts[0] = TCPOPT_NOP;
		h.opts[1] = TCPOPT_NOP;
		h.opts[2] = TCPOPT_TS;
		h.opts[3] = 10;
		*(__u32 *)&h.opts[4] = bpf_htonl(s->em.tsval);
		*(__u32 *)&h.opts[8] = bpf_htonl(s->em.tsecr);
	}

	ph.saddr = s->em.daddr;
	ph.daddr = s->em.saddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = bpf_htons(thl + tot);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	if (ts)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp, 32, sum);
	else
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp, 20, sum);
	sum = csum_add32(sum, s->em.csum);
	h.tcp.check = ~csum_fold32(sum);

	/* grow at the tail, or at the head when the tail has no room (a veth
	 * frame built on a small skb); headers are written from offset 0 */
	delta = (int)(hlen + tot) - (int)(data_end - data);
	if (grow_frame(ctx, delta))
		return -1;
	/* every packet pointer is stale from here: helpers only */
	if (ts) {
		if (bpf_xdp_store_bytes(ctx, 0, &h.eth, PS_REPLY_HDR_MAX))
			return -2;
	} else {
		if (bpf_xdp_store_bytes(ctx, 0, &h.eth, PS_REPLY_HDR_MAX - 12))
			return -2;
	}
	if (bpf_xdp_store_bytes(ctx, hlen, s->rep, tot))
		return -2;
	return 0;
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
	tsval = now_ms() + f->ts_off;
	if (before(tsval, f->ts_srv_last))
		tsval = f->ts_srv_last;
	s->em.tsval = tsval;
	s->em.tsecr = f->ts_recent;
}

/*
 * Read the kernel's tcp_sock for this flow and compare it with the mirrors
 * (counting divergences). Returns 1 if the kernel is idle on this flow: it
 * has every byte we passed, nothing unsent, nothing it believes unacked;
 * 0 if not; -1 without a socket.
 */
__noinline int sock_check(struct xdp_md *ctx, struct ps_pkt *p,
			  struct ps_flow *f)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u32 rcv_nxt, snd_nxt, snd_una, write_seq;
	int idle = 1;

	if (!p || !f)
		return -1;
	t.ipv4.saddr = p->saddr;
	t.ipv4.daddr = p->daddr;
	t.ipv4.sport = p->sport;
	t.ipv4.dport = p->dport;
	sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS_, 0);
	if (!sk) {
		stat_inc(PS_ST_NOSOCK);
		return -1;
	}
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp) {
		bpf_sk_release(sk);
		stat_inc(PS_ST_NOSOCK);
		return -1;
	}
	rcv_nxt = tp->rcv_nxt;
	snd_nxt = tp->snd_nxt;
	snd_una = tp->snd_una;
	write_seq = tp->write_seq;
	bpf_sk_release(sk);

	if (rcv_nxt != f->cli_nxt - f->consumed) {
		stat_inc(PS_ST_DIV_RCV_NXT);
		idle = 0;
	}
	if (snd_nxt != f->ksnd_nxt) {
		stat_inc(PS_ST_DIV_SND_NXT);
		idle = 0;
	}
	/* the acks the kernel has been handed so far */
	if (snd_una != f->ksnd_una) {
		stat_inc(PS_ST_DIV_SND_UNA);
		idle = 0;
	}
	/* idle: nothing unsent (the mirrors agreeing covers the rest) */
	if (write_seq != snd_nxt)
		idle = 0;
	return idle;
}

/* Record an answered run in the mirrors (both modes). */
static __always_inline void account_answer(struct ps_flow *f, __u32 seq,
					   __u32 len, __u32 srv_seq, __u32 tot,
					   __u32 csum, __u32 ngets)
{
	/* seqadj: a run adjacent to the previous one extends it */
	if (f->cli_corr_pos != seq || f->consumed == f->cli_off_before)
		f->cli_off_before = f->consumed;
	if (f->srv_corr_pos != srv_seq || f->injected == f->srv_off_before)
		f->srv_off_before = f->injected;
	f->consumed += len;
	f->cli_corr_pos = seq + len;
	f->srv_corr_pos = srv_seq + tot;
	f->injected += tot;
	f->cli_nxt = seq + len;
	f->ans_seq = seq;
	f->ans_len = len;
	f->ans_srv_seq = srv_seq;
	f->ans_reply_len = tot;
	f->ans_csum = csum;
	flow_set(f, PS_F_ANSWERED);
	f->hits += ngets;
	f->replies++;
	f->reply_bytes += tot;
	stat_add(PS_ST_GET_HITS, ngets);
	stat_inc(PS_ST_REPLIES);
	stat_add(PS_ST_REPLY_BYTES, tot);
}

static __always_inline void arm_fill(struct ps_flow *f, struct ps_scratch *s,
				     struct ps_config *cfg)
{
	struct ps_cache_key *k = &f->fill_key;
	__u32 slot, *e;

	if (ps_key_from_buf(k, s, s->key_off[0], s->key_len[0]))
		return;
	slot = ps_key_hash(k) & (PS_EPOCH_SLOTS - 1);
	e = bpf_map_lookup_elem(&ps_epochs, &slot);
	if (!e)
		return;
	f->fill_epoch = *e;
	f->fill_gen = cfg->cache_gen;
	flow_set(f, PS_F_FILL_ARMED);
}

static __always_inline __u32 reply_limit(const struct ps_flow *f)
{
	__u32 mss = f->mss_cli ? f->mss_cli : MSS_DEFAULT;

	if (mss > MTU_PAYLOAD_MAX)
		mss = MTU_PAYLOAD_MAX;
	if (f->flags & PS_F_TS)
		mss -= 12;
	return mss;
}

/* The segment is one or more complete plain GETs and nothing else. */
static __always_inline int all_gets(const struct ps_scratch *s, int idle_start)
{
	return idle_start && s->rq.state == PS_RQ_IDLE && s->ngets > 0 &&
	       s->ngets == s->ncmds &&
	       !(s->rq_out & (RQO_ERROR | RQO_OTHER | RQO_TOO_MANY));
}

/* Apply what the parser saw to the flow's command-level state. */
static __always_inline void apply_rq_flags(struct ps_flow *f,
					   const struct ps_scratch *s)
{
	if (s->rq_out & RQO_SELECT)
		flow_set(f, PS_F_OTHER_DB);
	if (s->multi_last == 1)
		flow_set(f, PS_F_IN_MULTI);
	else if (s->multi_last == 2)
		flow_clear(f, PS_F_IN_MULTI);
}

/* naive: BMC-style, every segment parsed alone, one offset, no guards. */
__noinline int naive_data(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_config *cfg, struct ps_pkt *p,
			  struct ps_flow *f)
{
	__u32 seq, len, end, srv_seq;
	int tot, r;

	if (!s || !cfg || !p || !f)
		return XDP_PASS;
	seq = p->seq;
	len = p->payload_len;
	end = seq + len;
	s->add_pending = 0;
	/* guarded can no longer trust this flow's parser state or pending */
	flow_clear(f, PS_F_STREAM);
	/* no guard reads it, but the divergences are what naive is for */
	if (cfg->flags & PS_CFG_CHECK_SOCK)
		sock_check(ctx, p, f);
	__builtin_memset(&s->rq, 0, sizeof(s->rq));
	/* a frame with IP options is never rewritten into a reply */
	s->pos = 0;
	s->naive = 1;
	if (rq_parse(ctx, s, p->payload_off, len) == 0 &&
	    all_gets(s, 1) && p->ihl == sizeof(struct iphdr) &&
	    f->state != PS_FLOW_SYN && !(cfg->flags & (PS_CFG_AUTH | PS_CFG_DRAIN)) &&
	    !(f->flags & (PS_F_OTHER_DB | PS_F_IN_MULTI))) {
		tot = assemble(s, MTU_PAYLOAD_MAX - 12, cfg->cache_gen);
		if (s->asm_misses)
			stat_add(PS_ST_GET_MISSES, s->asm_misses);
		if (tot > 0) {
			srv_seq = srv_nxt(f);
			extra_work(cfg);
			em_setup(s, p, f, srv_seq, end, tot);
			r = emit_reply(ctx, s);
			if (r == 0) {
				account_answer(f, seq, len, srv_seq, tot,
					       s->asm_csum, s->ngets);
				return XDP_TX;
			}
			if (r == -2)
				return XDP_DROP;
		} else if (tot < 0) {
			stat_inc(PS_ST_FB_MSS);
		} else {
			stat_inc(PS_ST_FB_MISS);
			if (s->ngets == 1 && s->ncmds == 1)
				arm_fill(f, s, cfg);
		}
	}
	apply_rq_flags(f, s);
	if (after(end, f->cli_nxt))
		f->cli_nxt = end;
	xdp_translate(ctx, p, f, cli_seq_to_k(f, seq, 1), 1);
	stat_inc(PS_ST_PASSED);
	return XDP_PASS;
}

/* Re-send the reply to the last answered request if it is retransmitted
 * and the cache would still give the very same bytes. */
static __always_inline int guarded_retrans(struct xdp_md *ctx,
					   struct ps_scratch *s,
					   struct ps_config *cfg,
					   struct ps_pkt *p, struct ps_flow *f)
{
	int tot;

	if (!(f->flags & PS_F_ANSWERED) || p->seq != f->ans_seq ||
	    p->payload_len != f->ans_len)
		return -1;
	__builtin_memset(&s->rq, 0, sizeof(s->rq));
	/* naive=1: a fresh parse without side effects (GETs only anyway) */
	s->pos = 0;
	s->naive = 1;
	if (rq_parse(ctx, s, p->payload_off, p->payload_len) ||
	    !all_gets(s, 1))
		return -1;
	tot = assemble(s, MTU_PAYLOAD_MAX, cfg->cache_gen);
	if (tot <= 0 || (__u32)tot != f->ans_reply_len ||
	    csum_fold32(s->asm_csum) != csum_fold32(f->ans_csum))
		return -1;
	em_setup(s, p, f, f->ans_srv_seq, p->seq + p->payload_len, tot);
	if (emit_reply(ctx, s))
		return -1;
	stat_inc(PS_ST_RETRANS_REPLIES);
	return XDP_TX;
}

/*
 * retrans mode: keep the reply just emitted (s->rep, s->asm_csum) until
 * the client acks it: bytes in ps_rtx, keyed by flow and reply seq; the
 * request it answered in the flow's ring.
 */
static __always_inline void rtx_store(struct ps_scratch *s,
				      const struct ps_pkt *p, struct ps_flow *f,
				      __u32 seq, __u32 len, __u32 srv_seq,
				      __u32 tot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_ent *e;
	__u32 n = tot;

	if (n == 0 || n > PS_RTX_BYTES)
		return;
	BOUND_1_TO(n, PS_RTX_BYTES);
	/* probe_read: a variable-length copy between two map values */
	if (bpf_probe_read_kernel(s->rtx.rep, n, s->rep))
		return;
	s->rtx.len = tot;
	s->rtx.csum = s->asm_csum;
	flow_key_cli(&k.flow, p);
	k.srv_seq = srv_seq;
	if (bpf_map_update_elem(&ps_rtx, &k, &s->rtx, BPF_ANY))
		return;
	e = &f->rtx[f->rtx_next & (PS_RTX_RING - 1)];
	e->req_seq = seq;
	e->req_len = len;
	e->srv_seq = srv_seq;
	e->rep_len = tot;
	f->rtx_next++;
	stat_inc(PS_ST_RTX_STORED);
}

/* Re-send ring entry `slot` in place of segment p, acking its request
 * (as the original did). Global: verified once. */
__noinline int rtx_resend(struct xdp_md *ctx, struct ps_scratch *s,
			  struct ps_pkt *p, struct ps_flow *f, __u32 slot)
{
	struct ps_rtx_key k = {};
	struct ps_rtx_val *v;
	struct ps_rtx_ent *e;
	__u32 n;

	if (!ctx || !s || !p || !f)
		return -1;
	e = &f->rtx[slot & (PS_RTX_RING - 1)];
	flow_key_cli(&k.flow, p);
	k.srv_seq = e->srv_seq;
	v = bpf_map_lookup_elem(&ps_rtx, &k);
	if (!v || v->len != e->rep_len) {
		stat_inc(PS_ST_RTX_GONE);
		return -1;
	}
	n = v->len;
	if (n == 0 || n > PS_RTX_BYTES)
		return -1;
	BOUND_1_TO(n, PS_RTX_BYTES);
	if (bpf_probe_read_kernel(s->rep, n, v->rep))
		return -1;
	s->asm_csum = v->csum;
	em_setup(s, p, f, e->srv_seq, e->req_seq + e->req_len, e->rep_len);
	return emit_reply(ctx, s) ? -1 : 0;
}

/* A retransmitted request we answered (from its first byte: Linux may
 * collapse several into one segment; the rest comes again once acked). */
static __always_inline int rtx_request(struct xdp_md *ctx, struct ps_scratch *s,
				       struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		if (e->rep_len && e->req_seq == p->seq && p->payload_len >= e->req_len &&
		    !before(e->srv_seq, f->srv_una) &&
		    rtx_resend(ctx, s, p, f, i) == 0) {
			stat_inc(PS_ST_RTX_REQ);
			return XDP_TX;
		}
	}
	return -1;
}

/* A pure ACK stuck at the start of a reply we injected: with a SACK block
 * (the client holds later data) or at the second one, the reply was lost;
 * this ACK becomes its retransmission (the kernel loses nothing by not
 * seeing it: the hole is in bytes it never sent). */
static __always_inline int rtx_dupack(struct xdp_md *ctx, struct ps_scratch *s,
				      struct ps_pkt *p, struct ps_flow *f)
{
	__u32 i;

	for (i = 0; i < PS_RTX_RING; i++) {
		struct ps_rtx_ent *e = &f->rtx[i];

		if (!e->rep_len || e->srv_seq != p->ack)
			continue;
		f->dupacks++;
		if (!p->sack_n && f->dupacks < 2)
			return -1;
		f->dupacks = 0;
		if (rtx_resend(ctx, s, p, f, i))
			return -1;
		stat_inc(PS_ST_RTX_DUPACK);
		return XDP_TX;
	}
	return -1;
}

/* guarded: answer only when it is safe, otherwise hand to the kernel. */
__noinline int guarded_data(struct xdp_md *ctx, struct ps_scratch *s,
			    struct ps_config *cfg, struct ps_pkt *p,
			    struct ps_flow *f)
{
	__u32 seq, len, end, from = 0, srv_seq, fb = 0, ngets;
	int idle_start, tot, r, pending_before;

	if (!s || !cfg || !p || !f)
		return XDP_PASS;
	seq = p->seq;
	len = p->payload_len;
	end = seq + len;
	s->add_pending = 0;

	if (!(f->flags & PS_F_STREAM))
		untrust(f, PS_UT_MODE);
	if (f->flags & PS_F_REQ_DESYNC) {
		/* we no longer see this flow's writes: nothing cached can be
		 * trusted once its data reaches Redis */
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
		stat_inc(PS_ST_FB_UNTRUSTED);
		goto pass;
	}
	if (after(seq, f->cli_nxt)) {
		/* Ahead of a hole. Dropping it keeps the request parser in
		 * step; the client sends it again after the hole fills. */
		stat_inc(PS_ST_FB_OOO);
		stat_inc(PS_ST_DROPPED);
		return XDP_DROP;
	}
	if (before(seq, f->cli_nxt)) {
		if (f->consumed != f->cli_off_before &&
		    before(seq, f->cli_corr_pos) &&
		    after(end, cli_run_start(f))) {
			if (cfg->mode == PS_MODE_RETRANS &&
			    rtx_request(ctx, s, p, f) == XDP_TX)
				return XDP_TX;
			r = guarded_retrans(ctx, s, cfg, p, f);
			if (r == XDP_TX)
				return r;
			/* the kernel must never see consumed bytes */
			stat_inc(PS_ST_DROPPED);
			return XDP_DROP;
		}
		if (!after(end, f->cli_nxt))
			goto pass; /* old bytes the kernel has: it acks them */
		from = f->cli_nxt - seq; /* parse only the new part */
	}

	s->rq = f->rq;
	idle_start = from == 0 && f->rq.state == PS_RQ_IDLE;
	s->pos = from;
	s->naive = 0;
	if (rq_parse(ctx, s, p->payload_off, len)) {
		flow_set(f, PS_F_REQ_DESYNC);
		untrust(f, PS_UT_BIG_SEG);
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
		f->cli_nxt = end;
		goto pass;
	}
	if (s->rq_out & RQO_ERROR) {
		flow_set(f, PS_F_REQ_DESYNC);
		untrust(f, PS_UT_REQ_PARSE);
		ps_flush(s);
		stat_inc(PS_ST_FLUSHES);
	} else {
		f->rq = s->rq;
	}
	if (s->rq_out & RQO_UNTRUST)
		untrust(f, PS_UT_CMD);
	apply_rq_flags(f, s);

	ngets = s->ngets;
	pending_before = f->pending;
	if (!all_gets(s, idle_start)) {
		if (ngets || f->rq.cmd == PS_CMD_GET)
			fb = (s->rq_out & RQO_OTHER) ? PS_ST_FB_NOT_GET :
							PS_ST_FB_PARTIAL;
		goto passed_cmds;
	}
	tot = assemble(s, reply_limit(f), cfg->cache_gen);
	if (s->asm_misses) {
		stat_add(PS_ST_GET_MISSES, s->asm_misses);
		fb = PS_ST_FB_MISS;
		if (ngets == 1 && pending_before == 0 &&
		    !(f->flags & PS_F_UNTRUSTED))
			arm_fill(f, s, cfg);
		goto passed_cmds;
	}
	if (tot < 0) {
		fb = PS_ST_FB_MSS;
		goto passed_cmds;
	}
	if (p->ihl != sizeof(struct iphdr)) {
		/* XXX: a frame with IP options is never rewritten */
		fb = PS_ST_FB_STATE;
		goto passed_cmds;
	}
	if (f->flags & PS_F_UNTRUSTED) {
		fb = PS_ST_FB_UNTRUSTED;
		goto passed_cmds;
	}
	if (f->state != PS_FLOW_EST || (cfg->flags & PS_CFG_DRAIN) ||
	    (f->flags & (PS_F_OTHER_DB | PS_F_IN_MULTI))) {
		fb = PS_ST_FB_STATE;
		goto passed_cmds;
	}
	if ((cfg->flags & PS_CFG_AUTH) && !(f->flags & PS_F_AUTHED)) {
		fb = PS_ST_FB_AUTH;
		goto passed_cmds;
	}
	if (pending_before) {
		fb = PS_ST_FB_PENDING;
		goto passed_cmds;
	}
	if ((f->flags & PS_F_TS) && !p->has_ts) {
		fb = PS_ST_FB_TS;
		goto passed_cmds;
	}
	/*
	 * The kernel may retransmit what it believes unacked: [ksnd_una,
	 * ksnd_nxt). Answered segments never hand it their ack, so that
	 * range can lag behind the client. One level of seqadj history maps
	 * those bytes right only if they were all sent after the previous
	 * injected run (or the new run extends that run): otherwise a
	 * retransmission would be shifted into the client's window.
	 */
	srv_seq = srv_nxt(f);
	if (before(f->ksnd_una, f->ksnd_nxt) &&
	    f->injected != f->srv_off_before && f->srv_corr_pos != srv_seq &&
	    after(f->srv_corr_pos - f->injected, f->ksnd_una)) {
		fb = PS_ST_FB_UNACKED;
		goto passed_cmds;
	}
	if (after(srv_seq + tot,
		  f->srv_una + ((__u32)f->cli_wnd_raw << (f->wscale_cli & 15)))) {
		fb = PS_ST_FB_WINDOW;
		goto passed_cmds;
	}
	if (cfg->flags & (PS_CFG_CHECK_SOCK | PS_CFG_REQUIRE_SOCK)) {
		r = sock_check(ctx, p, f);
		if ((cfg->flags & PS_CFG_REQUIRE_SOCK) && r != 1) {
			fb = PS_ST_FB_DIVERGED;
			goto passed_cmds;
		}
	}
	extra_work(cfg);
	em_setup(s, p, f, srv_seq, end, tot);
	r = emit_reply(ctx, s);
	if (r == 0) {
		account_answer(f, seq, len, srv_seq, tot, s->asm_csum, ngets);
		if (cfg->mode == PS_MODE_RETRANS)
			rtx_store(s, p, f, seq, len, srv_seq, tot);
		return XDP_TX;
	}
	if (r == -2)
		return XDP_DROP;
	fb = PS_ST_FB_MSS;

passed_cmds:
	if (fb)
		stat_inc(fb);
	/* Redis owes one reply per command completed in what we pass; the
	 * caller adds it atomically (TC subtracts on the other CPU) */
	s->add_pending = s->ncmds;
	if (s->auth_pos)
		f->auth_reply_idx = f->cmds_passed + s->auth_pos;
	f->cmds_passed += s->ncmds;
	f->cli_nxt = end;
pass:
	xdp_translate(ctx, p, f, cli_seq_to_k(f, seq, 0), 0);
	stat_inc(PS_ST_PASSED);
	return XDP_PASS;
}

static __always_inline int xdp_tcp(struct xdp_md *ctx,
				   struct ps_config *cfg, struct ps_pkt *p)
{
	__u32 sidx = PS_SCR_XDP, end;
	struct ps_flow_key key;
	struct ps_scratch *s;
	struct ps_flow *f;
	int naive = cfg->mode == PS_MODE_NAIVE, verdict;

	s = bpf_map_lookup_elem(&ps_scratch, &sidx);
	if (!s)
		return XDP_PASS;
	flow_key_cli(&key, p);

	if ((p->flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
		/* draining: a new connection is never tracked (nor an old
		 * entry of the same 4-tuple kept for it) */
		if (cfg->flags & PS_CFG_DRAIN) {
			bpf_map_delete_elem(&ps_flows, &key);
			return XDP_PASS;
		}
		return xdp_handle_syn(s, p, &key, naive);
	}

	f = bpf_map_lookup_elem(&ps_flows, &key);
	if (!f) {
		stat_inc(PS_ST_UNTRACKED);
		return XDP_PASS;
	}
	f->last_ns = bpf_ktime_get_ns();
	if (p->flags & TCPF_SYN)
		return XDP_PASS;

	if (p->flags & TCPF_RST) {
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
		bpf_map_delete_elem(&ps_flows, &key);
		stat_inc(PS_ST_FLOWS_CLOSED);
		return XDP_PASS;
	}

	if (cfg->mode == PS_MODE_RETRANS && p->payload_len == 0 &&
	    (p->flags & (TCPF_ACK | TCPF_FIN | TCPF_SYN | TCPF_RST)) == TCPF_ACK) {
		if (p->ack == f->srv_una && before(p->ack, srv_nxt(f))) {
			if (rtx_dupack(ctx, s, p, f) == XDP_TX)
				return XDP_TX;
		} else {
			f->dupacks = 0;
		}
	}
	if ((p->flags & TCPF_ACK) && after(p->ack, f->srv_una) &&
	    !after(p->ack, srv_nxt(f)))
		f->srv_una = p->ack;
	if (p->has_ts && !before(p->tsval, f->ts_recent))
		f->ts_recent = p->tsval;
	f->cli_wnd_raw = p->window;

	if (p->payload_len == 0) {
		verdict = XDP_PASS;
		xdp_translate(ctx, p, f, cli_seq_to_k(f, p->seq, naive), naive);
	} else if (naive) {
		verdict = naive_data(ctx, s, cfg, p, f);
	} else {
		verdict = guarded_data(ctx, s, cfg, p, f);
		if (s->add_pending)
			__sync_fetch_and_add(&f->pending, s->add_pending);
	}
	if (verdict != XDP_PASS)
		return verdict;

	if (p->flags & TCPF_FIN) {
		end = p->seq + p->payload_len;
		if (end == f->cli_nxt)
			f->cli_nxt = end + 1;
		flow_set(f, PS_F_FIN_CLI);
		f->state = PS_FLOW_CLOSING;
	}
	/* last ACK of the server's FIN after both FINs: the flow is done */
	if ((f->flags & PS_F_FIN_SRV) && (f->flags & PS_F_FIN_CLI) &&
	    (p->flags & TCPF_ACK) && !before(p->ack, srv_nxt(f)) &&
	    !(p->flags & TCPF_FIN)) {
		bpf_map_delete_elem(&ps_flows, &key);
		stat_inc(PS_ST_FLOWS_CLOSED);
	}
	return XDP_PASS;
}

SEC("xdp")
int ps_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ps_config *cfg;
	struct ps_pkt p = {};
	__u32 zero = 0;
	int r;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	if (!cfg)
		return XDP_PASS;
	stat_inc(PS_ST_PKTS);
	if (cfg->mode == PS_MODE_OFF || cfg->mode >= PS_MODE__MAX)
		return XDP_PASS;
	r = ps_parse(data, data_end, (__u32)(data_end - data), &p,
		     bpf_htons(cfg->port), 1);
	if (r == PS_PARSE_OK && p.doff > sizeof(struct tcphdr)) {
		struct ps_opts o = {};
		__u32 olen = p.doff - sizeof(struct tcphdr);

		if (olen > TCP_MAX_OPTLEN ||
		    bpf_xdp_load_bytes(ctx, p.l4_off + sizeof(struct tcphdr),
				       &o, olen))
			r = PS_PARSE_MALFORMED;
		else
			parse_tcp_opts(&o, olen, &p);
	}
	if (r == PS_PARSE_NOT_OURS) {
		stat_inc(PS_ST_NOT_OURS);
		return XDP_PASS;
	}
	if (r == PS_PARSE_MALFORMED) {
		stat_inc(PS_ST_MALFORMED);
		return XDP_PASS;
	}
	if (r == PS_PARSE_FRAG) {
		stat_inc(PS_ST_FRAGMENTS);
		return XDP_PASS;
	}
	return xdp_tcp(ctx, cfg, &p);
}

/* ----------------------------------------------------------------- TC -- */

/* Replace the 32-bit field at `off` (from the frame start) of a segment
 * whose TCP header starts at l4_off. */
static __always_inline void tc_store32(struct __sk_buff *skb, __u32 l4_off,
				       __u32 off, __u32 old, __u32 new)
{
	if (old == new)
		return;
	bpf_skb_store_bytes(skb, off, &new, 4, 0);
	/* l4_csum_replace handles CHECKSUM_PARTIAL skbs correctly */
	bpf_l4_csum_replace(skb, l4_off + 16, old, new, 4);
}

/*
 * guarded: should this kernel segment's ACK stop at the last answered
 * request? The client's ACK of the kernel's previous reply rides on that
 * request, which the kernel never sees; if the injected reply is lost, the
 * kernel retransmits its own reply at RTO with an ACK field that, translated,
 * covers the request. The client then takes the request as delivered, never
 * resends it, and nobody resends the injected bytes: a stall (README, the
 * random-loss cells). Until the client has acked the injected reply, a
 * retransmission by the kernel therefore acks only up to the request, so the
 * client's own RTO resends it and guarded_retrans answers it again. New
 * kernel data keeps the full ACK: the client did send what it acks, and
 * holding it back would make the client resend requests the kernel has.
 */
static __always_inline int tc_hold_ack(const struct ps_config *cfg,
				       const struct ps_pkt *p,
				       const struct ps_flow *f)
{
	return cfg->mode == PS_MODE_GUARDED &&
	       !(cfg->flags & PS_CFG_NO_ACK_HOLD) && (f->flags & PS_F_ANSWERED) &&
	       p->payload_len && before(p->seq, f->ksnd_nxt) &&
	       before(f->srv_una, f->ans_srv_seq + f->ans_reply_len);
}

static __always_inline void tc_translate(struct __sk_buff *skb,
					 const struct ps_pkt *p,
					 const struct ps_flow *f, int naive,
					 int hold)
{
	__u32 i, e[2], ack;
	int changed = 0;

	if (f->injected) {
		tc_store32(skb, p->l4_off, p->l4_off + 4, bpf_htonl(p->seq),
			   bpf_htonl(k_seq_to_cli(f, p->seq, naive)));
		changed = 1;
	}
	if (f->consumed && (p->flags & TCPF_ACK)) {
		ack = k_ack_to_cli(f, p->ack, naive);
		if (hold && after(ack, f->ans_seq)) {
			ack = f->ans_seq;
			stat_inc(PS_ST_ACK_HELD);
		}
		tc_store32(skb, p->l4_off, p->l4_off + 8, bpf_htonl(p->ack),
			   bpf_htonl(ack));
		changed = 1;
	}
	/* the kernel's SACK blocks name client bytes in kernel space */
	for (i = 0; i < 4 && f->consumed; i++) {
		__u32 o = p->l4_off + p->sack_off + i * 8;

		if (i >= p->sack_n)
			break;
		if (bpf_skb_load_bytes(skb, o, e, 8))
			break;
		tc_store32(skb, p->l4_off, o, e[0],
			   bpf_htonl(k_ack_to_cli(f, bpf_ntohl(e[0]), naive)));
		tc_store32(skb, p->l4_off, o + 4, e[1],
			   bpf_htonl(k_ack_to_cli(f, bpf_ntohl(e[1]), naive)));
		changed = 1;
	}
	if (changed)
		stat_inc(PS_ST_TRANSLATED);
}

static __always_inline void tc_synack(struct ps_flow *f, const struct ps_pkt *p)
{
	f->srv_isn = p->seq;
	f->ksnd_nxt = p->seq + 1;
	f->ksnd_una = p->seq + 1;
	f->srv_una = p->seq + 1;
	f->srv_corr_pos = p->seq + 1;
	if ((f->flags & PS_F_CLI_TS) && p->has_ts) {
		flow_set(f, PS_F_TS);
		f->ts_srv_last = p->tsval;
		f->ts_off = p->tsval - now_ms();
	}
	if ((f->flags & PS_F_CLI_SACK) && p->has_sackperm)
		flow_set(f, PS_F_SACK);
	if ((f->flags & PS_F_CLI_WS) && p->has_ws) {
		flow_set(f, PS_F_WSCALE);
		f->wscale_srv = p->ws;
	} else {
		f->wscale_cli = 0;
		f->wscale_srv = 0;
	}
	f->srv_wnd_raw = p->window;
	f->state = PS_FLOW_EST;
}

/* Sum n (multiple of 4, <= 512) bytes at p into seed. */
static __always_inline __u32 csum_chunk(__u8 *p, __u32 n, __u32 seed)
{
	if (n == 0 || n > 512)
		return seed;
	BOUND_1_TO(n, 512);
	return bpf_csum_diff(NULL, 0, (__be32 *)p, n, seed);
}

/* Store the first reply of this segment as the value of the armed key. */
static __always_inline void tc_fill(struct ps_scratch *s,
				    const struct ps_config *cfg,
				    struct ps_flow *f)
{
	struct ps_cache_val *v = &s->fill;
	__u32 rlen = s->first_len, plen, c1, c2, c3, sum = 0, slot, *e;

	flow_clear(f, PS_F_FILL_ARMED);
	if (!(cfg->flags & PS_CFG_FILL))
		return;
	if (!s->first_bulk || s->first_off == ~0u ||
	    s->first_val_len > PS_VAL_MAX || rlen == 0 ||
	    rlen > PS_REPLY_MAX - 3)
		goto skipped;
	slot = ps_key_hash(&f->fill_key) & (PS_EPOCH_SLOTS - 1);
	e = bpf_map_lookup_elem(&ps_epochs, &slot);
	if (!e || *e != f->fill_epoch || cfg->cache_gen != f->fill_gen)
		goto skipped;
	/* a key with a TTL expires where we cannot see it */
	if (bpf_map_lookup_elem(&ps_volatile, &f->fill_key))
		goto skipped;

	BOUND_1_TO(rlen, 2048);
	if (rlen > PS_REPLY_MAX)
		goto skipped;
	if (bpf_probe_read_kernel(v->reply, rlen,
				  &s->buf[s->first_off & PS_BUF_MASK]))
		goto skipped;
	/* csum_diff takes multiples of 4 and at most 512 bytes a call:
	 * zero the pad up to the next multiple of 4 */
	plen = (rlen + 3) & ~3u;
#pragma unroll
	for (c3 = 0; c3 < 3; c3++) {
		c1 = rlen + c3;
		if (c1 < plen && c1 < PS_REPLY_MAX)
			v->reply[c1] = 0;
	}
	c1 = plen > 512 ? 512 : plen;
	c2 = plen > 1024 ? 512 : (plen > 512 ? plen - 512 : 0);
	c3 = plen > 1024 ? plen - 1024 : 0;
	sum = csum_chunk(v->reply, c1, 0);
	sum = csum_chunk(v->reply + 512, c2, sum);
	sum = csum_chunk(v->reply + 1024, c3, sum);
	v->csum = csum_fold32(sum);
	v->gen = f->fill_gen;
	v->reply_len = rlen;
	v->val_len = s->first_val_len;
	v->filled_ns = bpf_ktime_get_ns();
	v->source = PS_FILL_TC;
	if (bpf_map_update_elem(&ps_cache, &f->fill_key, v, BPF_ANY) == 0) {
		stat_inc(PS_ST_FILLS);
		return;
	}
skipped:
	stat_inc(PS_ST_FILL_SKIPPED);
}

/* Count replies in new server bytes; fill the cache when one answers the
 * armed GET. */
static __always_inline void tc_replies(struct __sk_buff *skb,
				       const struct ps_config *cfg,
				       const struct ps_pkt *p, struct ps_flow *f,
				       __u32 from, int naive)
{
	__u32 sidx = PS_SCR_TC, len = p->payload_len, pending;
	struct ps_scratch *s = bpf_map_lookup_elem(&ps_scratch, &sidx);

	if (!s)
		return;
	if (!naive && (f->flags & (PS_F_UNTRUSTED | PS_F_REP_DESYNC)))
		return;
	if (len == 0 || len > PS_PAYLOAD_MAX ||
	    bpf_skb_load_bytes(skb, p->payload_off, s->buf, len)) {
		if (!naive) {
			flow_set(f, PS_F_REP_DESYNC);
			untrust(f, PS_UT_BIG_SEG);
		}
		return;
	}
	s->len = len;
	s->pos = from;
	if (naive)
		__builtin_memset(&s->rp, 0, sizeof(s->rp));
	else
		s->rp = f->rp;
	s->replies = 0;
	s->rp_error = 0;
	s->rep_base = f->replies_seen;
	s->auth_idx = naive ? 0 : f->auth_reply_idx;
	s->auth_result = 0;
	s->top_start = ~0u;
	s->first_off = ~0u;
	s->first_bulk = 0;
	bpf_loop(PS_PAYLOAD_MAX + 1, rp_step, NULL, 0);

	if (naive) {
		flow_clear(f, PS_F_STREAM);
		/* one segment, one complete bulk reply, or nothing */
		if ((f->flags & PS_F_FILL_ARMED) && !s->rp_error &&
		    s->replies == 1 && s->first_off == 0 && s->first_len == len)
			tc_fill(s, cfg, f);
		flow_clear(f, PS_F_FILL_ARMED);
		return;
	}
	if (s->rp_error) {
		flow_set(f, PS_F_REP_DESYNC);
		untrust(f, PS_UT_REP_PARSE);
		return;
	}
	f->rp = s->rp;
	f->replies_seen += s->replies;
	if (s->auth_result) {
		if (s->auth_result == 1)
			flow_set(f, PS_F_AUTHED);
		f->auth_reply_idx = 0;
	}
	if (!s->replies)
		return;
	pending = f->pending;
	if (s->replies > pending) {
		/* more replies than requests: pushes, MONITOR, ... */
		untrust(f, PS_UT_PENDING);
		flow_clear(f, PS_F_FILL_ARMED);
		return;
	}
	/* no atomic sub in the BPF ISA: add the two's complement */
	__sync_fetch_and_add(&f->pending, -s->replies);
	/* armed only when the GET was all that was pending: the first reply
	 * completed since is its reply */
	if (f->flags & PS_F_FILL_ARMED)
		tc_fill(s, cfg, f);
}

SEC("tc")
int ps_tc(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct ps_config *cfg;
	struct ps_flow_key key;
	struct ps_pkt p = {};
	struct ps_flow *f;
	__u32 zero = 0, pull, end, from = 0;
	int naive, r;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	if (!cfg)
		return TC_ACT_OK;
	stat_inc(PS_ST_TC_PKTS);
	if (cfg->mode == PS_MODE_OFF || cfg->mode >= PS_MODE__MAX)
		return TC_ACT_OK;
	naive = cfg->mode == PS_MODE_NAIVE;

	/* headers into the linear area: Ethernet + max IPv4 + max TCP */
	pull = skb->len < 134 ? skb->len : 134;
	bpf_skb_pull_data(skb, pull);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	r = ps_parse(data, data_end, skb->len, &p, bpf_htons(cfg->port), 0);
	if (r != PS_PARSE_OK)
		return TC_ACT_OK;
	if (p.doff > sizeof(struct tcphdr)) {
		struct ps_opts o = {};
		__u32 olen = p.doff - sizeof(struct tcphdr);

		if (olen > TCP_MAX_OPTLEN ||
		    bpf_skb_load_bytes(skb, p.l4_off + sizeof(struct tcphdr),
				       &o, olen))
			return TC_ACT_OK;
		parse_tcp_opts(&o, olen, &p);
	}

	key.cli_addr = p.daddr;
	key.srv_addr = p.saddr;
	key.cli_port = p.dport;
	key.srv_port = p.sport;
	f = bpf_map_lookup_elem(&ps_flows, &key);
	if (!f)
		return TC_ACT_OK;

	if ((p.flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK)) {
		if (f->state == PS_FLOW_SYN && p.ack == f->cli_isn + 1)
			tc_synack(f, &p);
		return TC_ACT_OK;
	}
	if (f->state == PS_FLOW_SYN)
		return TC_ACT_OK;

	tc_translate(skb, &p, f, naive, tc_hold_ack(cfg, &p, f));
	if (p.flags & TCPF_RST) {
		bpf_map_delete_elem(&ps_flows, &key);
		stat_inc(PS_ST_FLOWS_CLOSED);
		return TC_ACT_OK;
	}

	end = p.seq + p.payload_len;
	if (p.payload_len && after(end, f->ksnd_nxt)) {
		/* new bytes from the kernel (skip what was counted already) */
		if (before(p.seq, f->ksnd_nxt))
			from = f->ksnd_nxt - p.seq;
		tc_replies(skb, cfg, &p, f, from, naive);
	}
	if (p.flags & TCPF_FIN)
		end++;
	if (after(end, f->ksnd_nxt))
		f->ksnd_nxt = end;
	f->srv_wnd_raw = p.window;
	if (p.has_ts && !before(p.tsval, f->ts_srv_last)) {
		f->ts_srv_last = p.tsval;
		f->ts_off = p.tsval - now_ms();
	}

	if (p.flags & TCPF_FIN) {
		flow_set(f, PS_F_FIN_SRV);
		f->state = PS_FLOW_CLOSING;
	}
	/* the kernel acks the client's FIN after both FINs: done */
	if ((f->flags & PS_F_FIN_SRV) && (f->flags & PS_F_FIN_CLI) &&
	    (p.flags & TCPF_ACK) && !(p.flags & TCPF_FIN) &&
	    !before(k_ack_to_cli(f, p.ack, naive), f->cli_nxt)) {
		bpf_map_delete_elem(&ps_flows, &key);
		stat_inc(PS_ST_FLOWS_CLOSED);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
