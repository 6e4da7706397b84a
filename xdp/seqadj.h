/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seqadj.h - sequence-space translation between the client's view and the
 * kernel's, in the manner of netfilter's seqadj: per direction the offset
 * before and after the last run of changed bytes, and the position of its
 * end. Consecutive runs with nothing in between coalesce into one.
 *
 *   client -> kernel seq  : client seq  - consumed   (cli_* history)
 *   client -> kernel ack  : client ack  - injected   (srv_* history)
 *   kernel -> client seq  : kernel seq  + injected
 *   kernel -> client ack  : kernel ack  + consumed
 *
 * naive mode uses the current totals for everything (one offset).
 */
#ifndef PS_SEQADJ_H
#define PS_SEQADJ_H

#include "helpers.h"

/* First client seq of the last consumed run. */
static __always_inline __u32 cli_run_start(const struct ps_flow *f)
{
	return f->cli_corr_pos - (f->consumed - f->cli_off_before);
}

/* Client seq -> kernel seq (bytes outside the last consumed run). */
static __always_inline __u32 cli_seq_to_k(const struct ps_flow *f, __u32 seq,
					  int naive)
{
	if (naive || f->consumed == f->cli_off_before ||
	    !before(seq, f->cli_corr_pos))
		return seq - f->consumed;
	return seq - f->cli_off_before;
}

/* Client ack (server stream, client space) -> kernel ack. An ack that ends
 * inside an injected run acknowledges, for the kernel, what it sent before
 * the run; older acks map with the older offset (so they stay old). */
static __always_inline __u32 cli_ack_to_k(const struct ps_flow *f, __u32 ack,
					  int naive)
{
	__u32 k, kc;

	if (naive || f->injected == f->srv_off_before ||
	    !before(ack, f->srv_corr_pos))
		return ack - f->injected;
	k = ack - f->srv_off_before;
	kc = f->srv_corr_pos - f->injected;
	return after(k, kc) ? kc : k;
}

/* Kernel seq (server stream) -> client seq. */
static __always_inline __u32 k_seq_to_cli(const struct ps_flow *f, __u32 k,
					  int naive)
{
	__u32 kc = f->srv_corr_pos - f->injected;

	if (naive || f->injected == f->srv_off_before || !before(k, kc))
		return k + f->injected;
	return k + f->srv_off_before;
}

/* Kernel ack (client stream, kernel space) -> client ack. */
static __always_inline __u32 k_ack_to_cli(const struct ps_flow *f, __u32 k,
					  int naive)
{
	__u32 kc = f->cli_corr_pos - f->consumed;

	if (naive || f->consumed == f->cli_off_before || !before(k, kc))
		return k + f->consumed;
	return k + f->cli_off_before;
}

/* Next server byte as the client sees it. */
static __always_inline __u32 srv_nxt(const struct ps_flow *f)
{
	return f->ksnd_nxt + f->injected;
}

#endif
