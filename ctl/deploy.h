/* SPDX-License-Identifier: GPL-2.0 */
/*
 * deploy.h - the configuration `prestack attach` deploys: its ps_config
 * flags and the coherence watcher's lease. One definition for attach, the
 * watcher and the benchmarks that measure "the deployed configuration"
 * (experiments/bench/pktcost.c), so that what is measured cannot drift
 * from what is attached.
 */
#ifndef PS_DEPLOY_H
#define PS_DEPLOY_H

#include <stdbool.h>
#include <linux/types.h>
#include "prestack.h"

/* One proof of liveness lets XDP answer for LEASE_MS after the PING that
 * proved it was sent (coherence.c); one is sought every LEASE_EVERY_MS, so
 * a lease is renewed about three times before it ends and a watcher that
 * stops is noticed within LEASE_MS. */
#define LEASE_MS        300
#define LEASE_EVERY_MS  100

/* PS_LEASE_UNTIL for a PING sent at ping_ns (CLOCK_MONOTONIC) whose PONG
 * came back: every keyspace event published before it has been applied */
static inline __u64 ps_lease_until(__u64 ping_ns)
{
	return ping_ns + LEASE_MS * 1000000ull;
}

/* attach's options and what it learns about Redis, as far as they change
 * the flags; all false is `prestack attach` with no option against a
 * Redis without a password */
struct ps_deploy {
	bool auth;          /* --auth, or Redis was found to require AUTH */
	bool no_ack_hold;   /* --no-ack-hold */
	bool no_coherence;  /* --no-coherence: no watcher, no lease, no side path */
	bool cut;           /* --cut */
	bool no_tc_reply;   /* --no-tc-reply */
	bool writes_unsure; /* Redis may refuse a well-formed write (redis.h:
			     * !writes_sure, or not known) */
};

/* switched on only once the program they name is attached: XDP hands
 * replies to TC ingress, and trusts the side path, only when it is there */
#define PS_DEPLOY_LATE (PS_CFG_TC_REPLY | PS_CFG_SIDE)

/* every flag attach leaves in ps_config once it has attached */
static inline __u32 ps_deploy_flags(const struct ps_deploy *d)
{
	return PS_CFG_DEFAULT |
	       (d->auth ? PS_CFG_AUTH : 0) |
	       (d->no_ack_hold ? PS_CFG_NO_ACK_HOLD : 0) |
	       (d->no_coherence ? 0 : PS_CFG_LEASE | PS_CFG_SIDE) |
	       (d->no_coherence || d->writes_unsure ? 0 : PS_CFG_TTL_EXACT) |
	       (d->cut ? 0 : PS_CFG_NO_CUT) |
	       (d->no_tc_reply ? 0 : PS_CFG_TC_REPLY);
}

#endif
