/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * sidepath.h - the side path's plain structs, shared by
 * xdp/sidepath.bpf.c and the control tool (docs/guards-and-coherence.md,
 * "Every TCP path").
 *
 * The side path is a pair of TC programs on every interface of the
 * attached namespace, loopback included: ingress runs the request parser
 * on each TCP connection to Redis's port that XDP does not follow and
 * invalidates before the kernel sees the segment (it changes no byte and
 * no sequence number); egress counts Redis's replies on those connections,
 * so that each write stays in flight, no fill of its key landing, until
 * its reply passes.
 */
#ifndef PS_SIDEPATH_H
#define PS_SIDEPATH_H

#include "prestack.h"

#define PS_SIDE_FLOWS  16384 /* connections followed (a plain hash: an evicted
			      * one would strand its writes in flight) */
#define PS_SIDE_IFS    256   /* interfaces covered */
/* TC filters of the side path: before prestack's own (priority 2) on
 * the attached interface, alone on the others */
#define PS_SIDE_HANDLE 0x5053 /* "PS" */
#define PS_SIDE_PRIO   1

/* A connection, client -> server, IPv4 as ::ffff:a.b.c.d, network order */
struct ps_side_key {
	__u32 cli[4];
	__u32 srv[4];
	__u16 cli_port;
	__u16 srv_port;
};

/* ps_side_flow.flags */
#define PS_SF_SYN     (1u << 0) /* the client's SYN seen: cli_nxt is known */
#define PS_SF_SRV     (1u << 1) /* the SYN-ACK seen: srv_nxt is known */
#define PS_SF_LOST    (1u << 2) /* requests not followed (opened before attach,
				 * not RESP, a hole): every segment with data
				 * flushes */
#define PS_SF_REP_LOST (1u << 3) /* replies no longer pair with requests
				  * (SUBSCRIBE, MONITOR, CLIENT REPLY, a hole) */
#define PS_SF_HOLD    (1u << 4) /* holding PS_WR_ANY (no fill anywhere) until
				 * the connection closes: writes that cannot
				 * be followed to their reply */
#define PS_SF_AHEAD   (1u << 5) /* (with LOST) put here by the watcher for a
				 * connection open before attach that Redis
				 * showed at a command boundary: followed from
				 * its first segment if that starts with '*'
				 * where Redis has read to (the socket) */
/* An entry's life (sidepath.bpf.c, side_enter ... side_reap): a closed
 * connection is kept, dead, rather than deleted, so that no hook still
 * holding its element writes into the next connection opened on it */
#define PS_SF_DEAD     (1u << 6) /* closed: absent to both hooks */
#define PS_SF_RELEASED (1u << 7) /* dead, and its writes in flight and hold
				  * released (by its last run) */
#define PS_SF_REAPED   (1u << 8) /* dead, being deleted */
#define PS_SF_USER     (1u << 16) /* runs inside the entry now, counted in
				   * bits 16..31 */
#define PS_SF_USERS    0xffff0000u
/* a dead entry is deleted only once dead this long: longer than any
 * program run, so no run that looked it up before is still in it */
#define PS_SIDE_GRACE_NS 1000000000ull

struct ps_side_flow {
	__u32 flags;     /* PS_SF_*, and the runs inside (PS_SF_USERS) */
	__u32 cli_nxt;   /* the client's next byte (what Redis will read next) */
	__u32 srv_nxt;   /* the server's next byte (its replies) */
	__u32 cmds;      /* commands parsed (1-based reply index of the last) */
	__u32 replies;   /* replies counted */
	__u32 ifindex;   /* where its client segments arrive */
	__u64 last_ns;
	__u64 dead_ns;   /* when it was closed (PS_SF_DEAD) */
	struct ps_req_parser rq;
	struct ps_rep_parser rp;
	/* writes in flight (cache.h, ps_wr_view): pushed at ingress, popped
	 * at egress when their reply passes */
	struct ps_wr_ent wr[PS_WR_RING];
	__u32 wr_head, wr_tail;
	__u32 wr_any, wr_any_idx;
};

/* ps_side_resync: a connection not followed that the watcher found at a
 * command boundary in Redis (CLIENT LIST: nothing buffered, nothing owed,
 * not blocked, not in MULTI) while the client had sent cli_seq bytes:
 * followed from there if its next segment starts at cli_seq with '*' and
 * Redis has read every byte before it (the socket) */
struct ps_side_resync {
	__u32 cli_seq;
	__u32 srv_seq;   /* unit tests only (no socket): Redis's next byte */
};

/* ps_side_ifs: the interfaces the side path covers, by ifindex */
struct ps_side_if {
	__u32 ifindex;
	__u32 created_clsact; /* 1: we created the clsact qdisc (detach removes it) */
	__u32 in_id, eg_id;   /* the filters' program ids */
	char  name[16];
};

#endif
