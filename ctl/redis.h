/* SPDX-License-Identifier: GPL-2.0 */
/* redis.h - the hiredis calls every command makes the same way. */
#ifndef PS_REDIS_H
#define PS_REDIS_H

#include <stdbool.h>
#include <hiredis/hiredis.h>
#include <linux/types.h>

/* Connect with a timeout for the connect and every command, AUTH if a
 * password is given. NULL on failure; why is printed unless `quiet` (an
 * AUTH refused is always printed). */
redisContext *ps_redis_connect(const char *host, __u32 port, int secs,
			       const char *password, bool quiet);
/* r if it is a reply of `type` (0: any but an error); else it is freed
 * and NULL returned after "WHAT failed: why" */
redisReply *ps_redis_reply(redisContext *rc, const char *what, redisReply *r, int type);
/* 0 if r is no error (it is freed either way), else -1 after the message */
int ps_redis_ok(redisContext *rc, const char *what, redisReply *r);

/* What the coherence machinery must know of a Redis (ps_redis_profile:
 * CONFIG GET, ROLE, MODULE LIST): which writes no packet shows, and
 * whether a well-formed write can fail. */
struct ps_redis_prof {
	bool master;       /* ROLE: not a replica (whose writes come by replication) */
	bool modules;      /* modules loaded (or MODULE LIST refused): they may
			    * write keys their commands do not name */
	bool unixsocket;   /* clients may come by a Unix socket */
	bool can_evict;    /* maxmemory with a policy that evicts */
	bool writes_sure;  /* a master, no maxmemory that could refuse a write,
			    * no min-replicas-to-write: PS_CFG_TTL_EXACT */
	char notify[32];   /* notify-keyspace-events as it is */
	char why[160];     /* why not a master, or why writes may fail */
};
int ps_redis_profile(redisContext *rc, struct ps_redis_prof *p);

#endif
