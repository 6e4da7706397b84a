/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * poststack.h - the post-stack path's own state (xdp/poststack.bpf.c,
 * docs/poststack.md): one entry per Redis socket that sockops put in the
 * sockhash, keyed by the socket cookie as the sockhash is. Plain structs,
 * shared with the control tool.
 */
#ifndef PS_POSTSTACK_H
#define PS_POSTSTACK_H

#include "prestack.h"

#define PS_PSOCK_ENTRIES PS_FLOW_ENTRIES

/* ps_psock.flags */
#define PS_PSF_REQ_LOST  (1u << 0) /* request stream not followed: every later
				    * skb of the socket flushes the cache */
#define PS_PSF_REP_LOST  (1u << 1) /* replies no longer pair with requests */
#define PS_PSF_OTHER_DB  (1u << 2) /* SELECTed a database */
#define PS_PSF_IN_MULTI  (1u << 3) /* inside MULTI: replies are +QUEUED */
#define PS_PSF_NEVER     (PS_PSF_REQ_LOST | PS_PSF_REP_LOST | PS_PSF_OTHER_DB)

/*
 * Each counter has one writer: cmds_passed and rq the sk_skb program
 * (serialized per socket by the socket's receive path), replies and rp
 * the sk_msg program (under the socket lock of Redis's sendmsg). Redis owes
 * this socket cmds_passed - replies replies; the sk_skb side reads
 * `replies` racily, and a stale value only makes the debt look larger.
 */
struct ps_psock {
	__u64 cmds_passed;  /* commands handed to Redis (SK_PASS) */
	__u64 replies;      /* top-level replies Redis sent (sk_msg) */
	__u64 hits;         /* GETs answered by sk_skb */
	__u64 redis_bytes;  /* bytes Redis sent, as sk_msg saw them */
	__u64 seq_lag;      /* request bytes answered minus reply bytes sent in
			     * their place: how far the kernel's copied_seq is
			     * behind rcv_nxt (docs/poststack.md); never < 0 */
	__u32 flags;        /* PS_PSF_* */
	__u32 inj_pending;  /* bytes of our answers not yet through sk_msg: the
			     * redirected skb is sent with the socket's sendmsg,
			     * so sk_msg sees it, before any later Redis reply */
	__u32 rcv_seq;      /* TCP sequence number of the next request byte the
			     * verdict program has not seen (rcv_nxt at accept,
			     * then each skb's end); an skb that starts before it
			     * holds bytes it already saw (docs/poststack.md) */
	__u32 overlaps;     /* skbs trimmed for that */
	struct ps_req_parser rq;
	struct ps_rep_parser rp;
	/* fill: the reply numbered fill_idx (1-based, as `replies` counts)
	 * answers a GET of fill_key that missed with nothing else owed;
	 * armed by sk_skb, consumed by sk_msg; 0: none */
	__u64 fill_idx;
	__u32 fill_epoch;   /* the key's epoch slot when the GET passed */
	__u32 fill_gen;     /* ps_config.cache_gen then */
	struct ps_cache_key fill_key;
};

#endif /* PS_POSTSTACK_H */
