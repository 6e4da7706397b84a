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

#endif
