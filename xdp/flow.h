/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flow.h - per-flow state shared by both hooks: the flow key (always in
 * client -> server orientation, whichever direction the segment goes),
 * flag updates that tolerate the other hook running at once, handing a
 * flow to the kernel for good, and ending a flow (reset or finished:
 * kept until idle, never deleted under the other hook).
 */
#ifndef PS_FLOW_H
#define PS_FLOW_H

#include "helpers.h"
#include "parsing.h"

/*
 * ps_flow.flags is written by XDP (client segments) and TC (server
 * segments), which may run on two CPUs at once for one flow: a plain
 * |= or &= could lose the other side's bit (PS_F_UNTRUSTED, PS_F_AUTHED,
 * FIN). Atomic or/and (BPF_ATOMIC, needs -mcpu=v3) cannot.
 */
static __always_inline void flow_set(struct ps_flow *f, __u32 bits)
{
	__sync_fetch_and_or(&f->flags, bits);
}

static __always_inline void flow_clear(struct ps_flow *f, __u32 bits)
{
	__sync_fetch_and_and(&f->flags, ~bits);
}

/* The flow a segment belongs to: from_cli for client -> server segments
 * (XDP ingress), 0 for the server's (TC egress). */
static __always_inline void flow_key(struct ps_flow_key *k,
				     const struct ps_pkt *p, int from_cli)
{
	k->cli_addr = from_cli ? p->saddr : p->daddr;
	k->srv_addr = from_cli ? p->daddr : p->saddr;
	k->cli_port = from_cli ? p->sport : p->dport;
	k->srv_port = from_cli ? p->dport : p->sport;
}

/* Hand the flow to the kernel for good (guarded), remembering why. */
static __always_inline void untrust(struct ps_flow *f, __u32 reason)
{
	if (!(f->flags & PS_F_UNTRUSTED)) {
		flow_set(f, PS_F_UNTRUSTED);
		f->untrusted_reason = reason;
		stat_inc(PS_ST_FLOWS_UNTRUSTED);
	}
}

/* The last ACK after both FINs: the flow is done but kept (PS_FLOW_DONE)
 * so that a retransmitted FIN or the TIME_WAIT ACK is still translated. */
static __always_inline void flow_finish(struct ps_flow *f)
{
	if (f->state != PS_FLOW_DONE)
		stat_inc(PS_ST_FLOWS_CLOSED);
	f->state = PS_FLOW_DONE;
}

/*
 * The flow is reset (an RST at the next expected byte, or the kernel's):
 * done, without TIME_WAIT (any SYN of the tuple opens a new flow,
 * syn_reuses). Not deleted: the other hook may be in a segment of it on
 * another CPU with this element, and a deleted element is the next
 * insert's on the deleting CPU at once (maps.h, ps_flows): that holder
 * would write this flow's mirrors into the next flow opened. Forgotten
 * once idle for PS_TIME_WAIT_NS (xdp_time_wait), as a finished flow.
 */
static __always_inline void flow_reset(struct ps_flow *f, __u64 now_ns)
{
	flow_clear(f, PS_F_SRV_TW);
	f->last_ns = now_ns;
	flow_finish(f);
}

/*
 * Both FINs have been seen and this pure ACK (no FIN of its own) acks the
 * peer's FIN: `acked` says the latter, in the caller's direction.
 */
static __always_inline int flow_done(const struct ps_flow *f,
				     const struct ps_pkt *p, int acked)
{
	return (f->flags & PS_F_FIN_SRV) && (f->flags & PS_F_FIN_CLI) &&
	       (p->flags & TCPF_ACK) && !(p->flags & TCPF_FIN) && acked;
}

#endif
