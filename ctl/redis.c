// SPDX-License-Identifier: GPL-2.0
/* redis.c - hiredis connections and replies, checked in one place. */
#include "common.h"
#include "redis.h"

redisContext *ps_redis_connect(const char *host, __u32 port, int secs,
			       const char *password, bool quiet)
{
	struct timeval tv = { secs, 0 };
	redisContext *rc = redisConnectWithTimeout(host, (int)port, tv);

	if (!rc || rc->err) {
		if (!quiet)
			ps_err("cannot connect to %s:%u: %s", host, port,
			       rc ? rc->errstr : "out of memory");
		goto cleanup;
	}
	redisSetTimeout(rc, tv);
	if (password && ps_redis_ok(rc, "AUTH", redisCommand(rc, "AUTH %s", password)))
		goto cleanup;
	return rc;
cleanup:
	if (rc)
		redisFree(rc);
	return NULL;
}

redisReply *ps_redis_reply(redisContext *rc, const char *what, redisReply *r, int type)
{
	if (r && (type ? r->type == type : r->type != REDIS_REPLY_ERROR))
		return r;
	ps_err("%s failed: %s", what, r && r->type == REDIS_REPLY_ERROR ? r->str :
	       r ? "unexpected reply" : rc->errstr);
	if (r)
		freeReplyObject(r);
	return NULL;
}

int ps_redis_ok(redisContext *rc, const char *what, redisReply *r)
{
	r = ps_redis_reply(rc, what, r, 0);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}
