// SPDX-License-Identifier: GPL-2.0
/*
 * poststack.bpf.c - the poststack mode: cached GETs answered after the TCP
 * stack, on Redis's own sockets (docs/poststack.md).
 *
 * ps_post_sockops (cgroup sockops): puts each socket Redis accepts on the
 *   attached port, in the attached netns, in the sockhash.
 * ps_post_verdict (sk_skb verdict, no stream parser): parses every request
 *   skb with the XDP path's request parser (writes invalidate, flushes
 *   flush, the same cache, epochs, TTLs and lease); an skb that is whole
 *   GETs of cached keys, on a socket Redis owes nothing, is rewritten into
 *   the replies and redirected to the same socket's egress. Everything
 *   else is passed to Redis.
 * ps_post_msg (sk_msg): parses Redis's replies on the same sockets with the
 *   TC path's reply parser, so that "Redis owes nothing" is exact.
 *
 * The cache maps are the attachment's pinned ones (shared by name with
 * prestack.bpf.c), so `cache warm` and the coherence watcher serve both.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "prestack.h"
#include "poststack.h"
#include "helpers.h"
#include "resp.h"
#include "reply.h"

#define SK_DROP_ 0
#define SK_PASS_ 1
#define AF_INET_ 2
#define IN_LOOPBACKNET_ 127 /* 127.0.0.0/8 */

/* the attached namespace (SO_NETNS_COOKIE), set by attach before load: the
 * sockops program sits at the cgroup root and sees every namespace */
const volatile __u64 ps_netns_cookie = 0;

/* Redis's sockets, by socket cookie; pinned so that detach (unpin) frees it
 * and with it every psock: the sockets go back to the plain stack. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, PS_PSOCK_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_psockhash SEC(".maps");

/* per socket: parsers and the reply debt (poststack.h); entries go when
 * the socket closes (sockops state callback) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_PSOCK_ENTRIES);
	__type(key, __u64);
	__type(value, struct ps_psock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_psocks SEC(".maps");

/* Per-CPU "scratch in use" mark. sk_skb runs in softirq and, for a
 * socket's backlog, in process context with softirqs enabled: a softirq
 * can then run it again on the same CPU, on the same scratch entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ps_post_busy SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *) __ksym;

/* ---- sockops ---- */

SEC("sockops")
int ps_post_sockops(struct bpf_sock_ops *ops)
{
	struct ps_psock fresh = {};
	struct ps_config *cfg;
	__u32 zero = 0;
	__u64 cookie;

	if (ops->op == BPF_SOCK_OPS_STATE_CB) {
		/* args[1] is the new state */
		if (ops->args[1] == BPF_TCP_CLOSE) {
			cookie = bpf_get_socket_cookie(ops);
			bpf_map_delete_elem(&ps_psocks, &cookie);
		}
		return 1;
	}
	if (ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	if (!cfg || cfg->mode != PS_MODE_POSTSTACK || (cfg->flags & PS_CFG_DRAIN))
		return 1;
	/* local_port is in host order in bpf_sock_ops. Loopback clients
	 * (the coherence watcher among them) stay on the plain path, as they
	 * do for XDP: their writes reach the cache through the watcher. */
	if (ops->family != AF_INET_ || ops->local_port != cfg->port ||
	    (bpf_ntohl(ops->remote_ip4) >> 24) == IN_LOOPBACKNET_ ||
	    bpf_get_netns_cookie(ops) != ps_netns_cookie)
		return 1;
	cookie = bpf_get_socket_cookie(ops);
	/* the first request byte: nothing has been received yet (the ACK
	 * that completes the handshake is queued after this callback) */
	fresh.rcv_seq = ops->rcv_nxt;
	/* state first: the verdict program passes a socket it has no entry for */
	if (bpf_map_update_elem(&ps_psocks, &cookie, &fresh, BPF_ANY))
		return 1;
	if (bpf_sock_hash_update(ops, &ps_psockhash, &cookie, BPF_NOEXIST)) {
		bpf_map_delete_elem(&ps_psocks, &cookie);
		return 1;
	}
	bpf_sock_ops_cb_flags_set(ops, BPF_SOCK_OPS_STATE_CB_FLAG);
	stat_inc(PS_ST_POST_SOCKS);
	return 1;
}

/* ---- requests: sk_skb verdict ---- */

/* What the parse says about the socket from now on. */
static __always_inline void post_rq_after(struct ps_psock *ps, struct ps_scratch *s)
{
	__u32 lost = 0;

	if (s->rq_out & RQO_ERROR)
		lost |= PS_PSF_REQ_LOST | PS_PSF_REP_LOST;
	if (s->rq_out & RQO_UNTRUST)
		lost |= PS_PSF_REP_LOST;
	if (s->rq_out & RQO_SELECT)
		lost |= PS_PSF_OTHER_DB;
	if (lost) {
		if (!(ps->flags & (PS_PSF_REQ_LOST | PS_PSF_REP_LOST)) &&
		    (lost & (PS_PSF_REQ_LOST | PS_PSF_REP_LOST)))
			stat_inc(PS_ST_POST_LOST);
		__sync_fetch_and_or(&ps->flags, lost);
	}
	if (s->multi_last == 1)
		__sync_fetch_and_or(&ps->flags, PS_PSF_IN_MULTI);
	else if (s->multi_last == 2)
		__sync_fetch_and_and(&ps->flags, ~PS_PSF_IN_MULTI);
}

/*
 * Why the parsed skb cannot be answered (a PS_ST_POST_PASS_* counter), or 0:
 * it is one or more whole canonical GETs and nothing else, from a command
 * boundary to a command boundary, on a socket in a state we can answer.
 */
static __always_inline __u32 post_veto(const struct ps_config *cfg,
				       const struct ps_psock *ps,
				       const struct ps_scratch *s, int at_boundary,
				       __u32 len)
{
	if (cfg->mode != PS_MODE_POSTSTACK || (cfg->flags & (PS_CFG_DRAIN | PS_CFG_AUTH)) ||
	    (ps->flags & (PS_PSF_NEVER | PS_PSF_IN_MULTI)) || s->multi_last)
		return PS_ST_POST_PASS_STATE;
	if (!at_boundary || s->rq.state != PS_RQ_IDLE || len > PS_PAYLOAD_MAX ||
	    s->ngets == 0 || s->ngets != s->ncmds ||
	    (s->rq_out & (RQO_OTHER | RQO_ERROR | RQO_TOO_MANY | RQO_UNTRUST)))
		return PS_ST_POST_PASS_OTHER;
	if (!lease_ok(cfg, bpf_ktime_get_ns()))
		return PS_ST_POST_PASS_LEASE;
	return 0;
}

/* cache.h's fill rule for a Redis socket: one poststack could answer (it
 * never answers with AUTH on, so authed is 0) */
static __always_inline int post_may_fill(const struct ps_config *cfg,
					 const struct ps_psock *ps)
{
	return cfg->mode == PS_MODE_POSTSTACK &&
	       fill_allowed(cfg, !!(*(volatile __u32 *)&ps->flags &
				    (PS_PSF_NEVER | PS_PSF_IN_MULTI)), 0);
}

/*
 * One GET that missed, and Redis owes this socket nothing else: its reply
 * will be the next one, so sk_msg may store it (as TC egress does for the
 * XDP modes), if the key's epoch and the generation have not moved by then.
 */
static __always_inline void post_arm_fill(struct ps_psock *ps, struct ps_scratch *s,
					  const struct ps_config *cfg)
{
	struct ps_cache_key k;
	__u32 *e;

	if (!post_may_fill(cfg, ps) || s->ngets != 1 ||
	    ps->cmds_passed != *(volatile __u64 *)&ps->replies)
		return;
	if (ps_key_from_buf(&k, s, s->key_off[0], s->key_len[0]))
		return;
	e = ps_epoch_of(&k);
	if (!e)
		return;
	ps->fill_key = k;
	ps->fill_epoch = *e;
	ps->fill_gen = cfg->cache_gen;
	/* last: sk_msg acts on fill_idx alone */
	ps->fill_idx = ps->cmds_passed + 1;
}

/* Hand the skb to Redis: its commands are now owed a reply. */
static __always_inline int post_pass(struct ps_psock *ps, __u32 ncmds, __u32 why)
{
	ps->cmds_passed += ncmds;
	if (why)
		stat_inc(why);
	return SK_PASS_;
}

/*
 * Rewrite the request skb into the tot bytes assembled in s->rep and send
 * it back out of the same socket. Returns the verdict, or -1 if the skb
 * was left untouched (then it is still the request).
 */
static __always_inline int post_answer(struct __sk_buff *skb, struct ps_scratch *s,
				       __u32 tot, __u64 *cookie)
{
	if (tot == 0 || tot > PS_REP_MASK)
		return -1;
	if (bpf_skb_change_tail(skb, tot, 0))
		return -1;
	BOUND_1_TO(tot, PS_REPLY_BOUND);
	/* from here the skb is no longer the request: it must go out whole */
	if (bpf_skb_store_bytes(skb, 0, s->rep, tot, 0)) {
		stat_inc(PS_ST_POST_ERR);
		return SK_DROP_;
	}
	/* flags 0: the socket's egress; the send happens from the psock's
	 * work queue, in order with everything queued before it */
	if (bpf_sk_redirect_hash(skb, &ps_psockhash, cookie, 0) != SK_PASS_) {
		/* the socket left the sockhash meanwhile (closing) */
		stat_inc(PS_ST_POST_ERR);
		return SK_DROP_;
	}
	return SK_PASS_;
}

static __always_inline int post_verdict(struct __sk_buff *skb, struct ps_config *cfg,
					struct ps_psock *ps, __u64 *cookie)
{
	__u32 idx = PS_SCR_XDP, len = skb->len, why, owed;
	struct ps_scratch *s = bpf_map_lookup_elem(&ps_scratch, &idx);
	int at_boundary, tot, v;

	if (!s)
		return SK_PASS_;
	/* a socket whose request stream we lost: its writes are unseen */
	if (ps->flags & PS_PSF_REQ_LOST) {
		ps_flush(s);
		stat_inc(PS_ST_POST_FLUSHES);
		return post_pass(ps, 0, PS_ST_POST_PASS_STATE);
	}
	rq_reset(s, len);
	s->rq = ps->rq;
	s->naive = 0;
	s->pos = 0;
	at_boundary = ps->rq.state == PS_RQ_IDLE;
	/* the fast paths, else the shared walk (resp.h): as the side
	 * path's; an sk_skb's data starts at the TCP payload */
	if (!rq_fast_skb(skb, s, 0, len) && rq_walk_skb(skb, s, 0, len))
		s->rq_out |= RQO_ERROR;
	if (s->rq_out & RQO_ERROR)
		ps_flush(s);
	ps->rq = s->rq;
	post_rq_after(ps, s);
	if (s->invalidated)
		stat_add(PS_ST_POST_INVAL, s->invalidated);
	if (s->flushes)
		stat_add(PS_ST_POST_FLUSHES, s->flushes);

	why = post_veto(cfg, ps, s, at_boundary, len);
	if (why)
		return post_pass(ps, s->ncmds, why);
	tot = assemble_many(s, PS_REP_MASK, cfg->cache_gen, bpf_ktime_get_ns());
	if (tot == 0) {
		post_arm_fill(ps, s, cfg);
		return post_pass(ps, s->ncmds, PS_ST_POST_PASS_MISS);
	}
	if (tot < 0)
		return post_pass(ps, s->ncmds, PS_ST_POST_PASS_BIG);
	/* every earlier reply of this socket has gone through Redis's
	 * sendmsg, so ours (queued after them) cannot overtake one */
	owed = (__u32)(ps->cmds_passed - *(volatile __u64 *)&ps->replies);
	if (owed || (*(volatile __u32 *)&ps->flags & PS_PSF_REP_LOST))
		return post_pass(ps, s->ncmds, PS_ST_POST_PASS_OWED);
	/*
	 * The kernel advances copied_seq by the skb's length after we return
	 * (tcp_eat_skb), that is by the reply's, not the request's. Ahead of
	 * rcv_nxt it stops waking the socket for new data (tcp_data_ready
	 * sees nothing available): measured, a 1,009-byte answer to a
	 * 24-byte GET stalled the connection. So the reply may be longer
	 * than the request only by what earlier, shorter answers left
	 * copied_seq behind (seq_lag).
	 */
	if ((__u64)tot > ps->seq_lag + len)
		return post_pass(ps, s->ncmds, PS_ST_POST_PASS_BIG);
	ps->seq_lag = ps->seq_lag + len - (__u32)tot;
	/* before the redirect: sk_msg may see the answer at once */
	__sync_fetch_and_add(&ps->inj_pending, (__u32)tot);
	v = post_answer(skb, s, (__u32)tot, cookie);
	if (v < 0 || v == SK_DROP_)
		__sync_fetch_and_sub(&ps->inj_pending, (__u32)tot);
	if (v < 0) {
		ps->seq_lag = ps->seq_lag + (__u32)tot - len;
		return post_pass(ps, s->ncmds, PS_ST_POST_PASS_BIG);
	}
	if (v == SK_DROP_)
		return v;
	ps->hits += s->ngets;
	stat_add(PS_ST_POST_HITS, s->ngets);
	stat_add(PS_ST_POST_REPLY_BYTES, (__u32)tot);
	return v;
}

/*
 * Cut off the bytes of this skb the program has already seen. In
 * verdict-only mode the kernel hands us whole receive-queue skbs
 * (tcp_read_skb), and TCP queues a segment that overlaps received data
 * (a retransmission that the sender, or a middlebox, merged with new
 * data) whole, old bytes in front: tcp_recvmsg skips them by sequence
 * number, tcp_read_skb does not. Passed as is, Redis would read those
 * commands twice, and the verdict program would parse, and maybe answer,
 * them twice (measured: experiments/failures, coalesced). Trimmed, the
 * skb is exactly the new bytes, so copied_seq (tcp_eat_skb) advances by
 * them alone. Returns 0 (the skb now starts at rcv_seq), or -1: the
 * socket's stream is lost (a gap, or the trim failed).
 */
static __always_inline int post_trim_seen(struct __sk_buff *skb, struct ps_psock *ps)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct tcp_skb_cb *cb = (struct tcp_skb_cb *)kskb->cb;
	__u32 seq = BPF_CORE_READ(cb, seq), len = skb->len;
	__s32 seen = (__s32)(ps->rcv_seq - seq);

	if (seen < 0)
		/* bytes no run of ours saw: cannot happen while every skb of
		 * the socket reaches this program */
		return -1;
	if (seen > 0) {
		/* TCP drops a segment with nothing new (tcp_data_queue), so
		 * at least one byte is left */
		if ((__u32)seen >= len)
			return -1;
		/* mode 0 with a negative difference pulls bytes off the
		 * front (sk_skb's own adjust_room: no headers here) */
		if (bpf_skb_adjust_room(skb, -seen, 0, 0))
			return -1;
		ps->overlaps++;
		stat_inc(PS_ST_POST_OVERLAP);
	}
	ps->rcv_seq = seq + (__u32)seen + skb->len;
	return 0;
}

SEC("sk_skb")
int ps_post_verdict(struct __sk_buff *skb)
{
	struct ps_config *cfg;
	struct ps_psock *ps;
	__u32 zero = 0, *busy;
	__u64 cookie;
	int v;

	cfg = bpf_map_lookup_elem(&ps_config, &zero);
	busy = bpf_map_lookup_elem(&ps_post_busy, &zero);
	if (!cfg || !busy)
		return SK_PASS_;
	cookie = bpf_get_socket_cookie(skb);
	ps = bpf_map_lookup_elem(&ps_psocks, &cookie);
	if (!ps)
		return SK_PASS_;
	stat_inc(PS_ST_POST_SKBS);
	/* a FIN's empty skb: nothing to parse, nothing owed */
	if (skb->len == 0)
		return SK_PASS_;
	if (post_trim_seen(skb, ps)) {
		/* XXX: Redis may read bytes twice from here on; the socket
		 * is lost, so at least the cache cannot be wrong */
		if (!(ps->flags & PS_PSF_REQ_LOST))
			stat_inc(PS_ST_POST_LOST);
		__sync_fetch_and_or(&ps->flags, PS_PSF_REQ_LOST | PS_PSF_REP_LOST);
	}
	if (*busy) {
		/* nested on this CPU: this skb cannot be parsed, so its writes
		 * are unseen and the parser's place is lost for good */
		__u32 idx = PS_SCR_TC;
		struct ps_scratch *s = bpf_map_lookup_elem(&ps_scratch, &idx);

		if (s)
			ps_flush(s);
		stat_inc(PS_ST_POST_NESTED);
		if (!(ps->flags & PS_PSF_REQ_LOST))
			stat_inc(PS_ST_POST_LOST);
		__sync_fetch_and_or(&ps->flags, PS_PSF_REQ_LOST | PS_PSF_REP_LOST);
		return SK_PASS_;
	}
	*busy = 1;
	v = post_verdict(skb, cfg, ps, &cookie);
	*busy = 0;
	return v;
}

/* ---- replies: sk_msg ---- */

/*
 * Will the kernel queue all of this message now? Redis's sockets are
 * non-blocking: if the send buffer is short, the tail of the message is
 * freed and Redis sends it again later, and the parser would count those
 * bytes twice. So a message that may not fit whole loses the count.
 */
static __always_inline int post_msg_fits(struct sk_msg_md *msg, struct sock *sk)
{
	return (__s64)BPF_CORE_READ(sk, sk_wmem_queued) + msg->size <=
	       (__s64)BPF_CORE_READ(sk, sk_sndbuf);
}

/* The socket behind msg (NULL if none). */
static __always_inline struct sock *post_msg_sock(struct sk_msg_md *msg)
{
	struct bpf_sock *bsk = msg->sk;
	struct tcp_sock *tp;

	if (!bsk)
		return NULL;
	tp = bpf_skc_to_tcp_sock(bsk);
	return tp ? &tp->inet_conn.icsk_inet.sk : NULL;
}

/*
 * sk_msg's fill: the first reply that completed in this message is the
 * armed one, began in it, and the message fit one scratch window, so its
 * bytes are in s->buf. Stored with its checksum (the XDP modes send it
 * from the same cache) unless the key may have changed since its GET
 * passed, or has a TTL not yet learnt: cache.h's fill_check and
 * cache_store, as cache_fill.
 */
static __always_inline void post_fill(struct ps_psock *ps, struct ps_scratch *s,
				      __u32 size)
{
	struct ps_cache_val *v = &s->fill;
	__u32 zero = 0, rlen = s->first_len, off = s->first_off, plen, i;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);
	__u64 expires = 0, sum = 0;

	if (!cfg || !post_may_fill(cfg, ps))
		goto skipped;
	if (size > PS_PAYLOAD_MAX || !s->first_bulk || off == ~0u ||
	    s->first_val_len > PS_VAL_MAX || rlen == 0 || rlen > PS_REPLY_MAX - 3 ||
	    off + rlen > size)
		goto skipped;
	/* a private copy: sk_skb on another CPU may rearm ps->fill_key */
	__builtin_memcpy(&s->fill_key, &ps->fill_key, sizeof(s->fill_key));
	if (fill_check(cfg, &s->fill_key, ps->fill_epoch, ps->fill_gen,
		       bpf_ktime_get_ns(), &expires))
		goto skipped;
	BOUND_1_TO(rlen, PS_REPLY_BOUND);
	if (rlen > PS_REPLY_MAX)
		goto skipped;
	/* a bounded copy between two parts of the scratch map value */
	if (bpf_probe_read_kernel(v->reply, rlen, &s->buf[off & PS_BUF_MASK]))
		goto skipped;
	/* no bpf_csum_diff in sk_msg: the same ones' complement sum by
	 * hand, 32-bit words over the reply zero-padded to a multiple of 4 */
	plen = (rlen + 3) & ~3u;
	/* (three stores, not a loop clang would turn into memset) */
	if (rlen < PS_REPLY_MAX)
		v->reply[rlen & (PS_REPLY_BOUND - 1)] = 0;
	if (rlen + 1 < PS_REPLY_MAX)
		v->reply[(rlen + 1) & (PS_REPLY_BOUND - 1)] = 0;
	if (rlen + 2 < PS_REPLY_MAX)
		v->reply[(rlen + 2) & (PS_REPLY_BOUND - 1)] = 0;
	for (i = 0; i < PS_REPLY_MAX / 4; i++) {
		if (i * 4 >= plen)
			break;
		sum += *(__u32 *)&v->reply[i * 4];
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	v->csum = csum_fold32((__u32)sum);
	v->reply_len = rlen;
	v->val_len = s->first_val_len;
	v->filled_ns = bpf_ktime_get_ns();
	v->source = PS_FILL_TC;
	v->expires_ns = expires;
	/* the store XDP's fills use: its large twin goes, a racing
	 * invalidation wins */
	if (cache_store(0, &s->fill_key, v, ps->fill_gen, ps->fill_epoch) == 0) {
		stat_inc(PS_ST_POST_FILLS);
		return;
	}
skipped:
	stat_inc(PS_ST_POST_FILL_SKIPPED);
}

SEC("sk_msg")
int ps_post_msg(struct sk_msg_md *msg)
{
	__u32 idx = PS_SCR_TC, size = msg->size, skip;
	struct ps_scratch *s;
	struct ps_psock *ps;
	struct sock *sk;
	__u64 cookie;

	sk = post_msg_sock(msg);
	if (!sk)
		return SK_PASS_;
	/* bpf_get_socket_cookie is not offered to sk_msg: the cookie sockops
	 * generated is in the socket */
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	ps = bpf_map_lookup_elem(&ps_psocks, &cookie);
	if (!ps || (ps->flags & PS_PSF_REP_LOST))
		return SK_PASS_;
	s = bpf_map_lookup_elem(&ps_scratch, &idx);
	if (!s)
		return SK_PASS_;
	rp_reset(s, size, 0, 0);
	s->rp = ps->rp;
	s->pos = 0;
	/* our own answers, sent ahead of whatever Redis sends next: skipped */
	skip = *(volatile __u32 *)&ps->inj_pending;
	if (skip) {
		if (skip > size)
			skip = size;
		__sync_fetch_and_sub(&ps->inj_pending, skip);
		if (skip == size)
			return SK_PASS_;
		s->pos = skip;
	}
	ps->redis_bytes += size - skip;
	/* the shared walk (resp.h), from s->pos: past our answers */
	if (!post_msg_fits(msg, sk) || rp_walk_msg(msg, s, 0, size) || s->rp_error) {
		stat_inc(PS_ST_POST_LOST);
		__sync_fetch_and_or(&ps->flags, PS_PSF_REP_LOST);
		return SK_PASS_;
	}
	ps->rp = s->rp;
	if (ps->fill_idx && s->replies) {
		if (ps->fill_idx == ps->replies + 1)
			post_fill(ps, s, size);
		ps->fill_idx = 0;
	}
	/* after the parser state: the sk_skb side reads only this */
	__sync_fetch_and_add(&ps->replies, s->replies);
	stat_add(PS_ST_POST_REPLIES, s->replies);
	return SK_PASS_;
}

char LICENSE[] SEC("license") = "GPL";
