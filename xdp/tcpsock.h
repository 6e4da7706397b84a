/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpsock.h - the kernel's own tcp_sock, read (never written: BPF cannot)
 * to check the mirrors against the truth and to tell whether the kernel is
 * idle on a flow before guarded answers on its behalf.
 */
#ifndef PS_TCPSOCK_H
#define PS_TCPSOCK_H

#include "helpers.h"
#include "parsing.h"

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

#endif
