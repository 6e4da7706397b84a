// SPDX-License-Identifier: GPL-2.0
/* redis.c - hiredis connections and replies, checked in one place. */
#include <stdio.h>
#include <string.h>
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

/* CONFIG GET name: its value into out (empty if Redis has none) */
static int config_get(redisContext *rc, const char *name, char *out, size_t n)
{
	redisReply *r = ps_redis_reply(rc, "CONFIG GET",
				       redisCommand(rc, "CONFIG GET %s", name),
				       REDIS_REPLY_ARRAY);

	if (!r)
		return -1;
	snprintf(out, n, "%s", r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING ?
		 r->element[1]->str : "");
	freeReplyObject(r);
	return 0;
}

int ps_redis_profile(redisContext *rc, struct ps_redis_prof *p)
{
	char maxmem[32], policy[32], minrep[16], unixsock[256];
	redisReply *r;

	memset(p, 0, sizeof(*p));
	if (config_get(rc, "maxmemory", maxmem, sizeof(maxmem)) ||
	    config_get(rc, "maxmemory-policy", policy, sizeof(policy)) ||
	    config_get(rc, "min-replicas-to-write", minrep, sizeof(minrep)) ||
	    config_get(rc, "unixsocket", unixsock, sizeof(unixsock)) ||
	    config_get(rc, "notify-keyspace-events", p->notify, sizeof(p->notify)))
		return -1;
	r = ps_redis_reply(rc, "ROLE", redisCommand(rc, "ROLE"), REDIS_REPLY_ARRAY);
	if (!r)
		return -1;
	p->master = r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[0]->str, "master");
	freeReplyObject(r);
	r = redisCommand(rc, "MODULE LIST");
	/* (an ACL may forbid MODULE: then we cannot tell, and assume some) */
	p->modules = !r || r->type != REDIS_REPLY_ARRAY || r->elements > 0;
	if (r)
		freeReplyObject(r);
	p->unixsocket = unixsock[0] != 0;
	p->can_evict = strcmp(maxmem, "0") && strcmp(policy, "noeviction");
	p->writes_sure = p->master && !strcmp(minrep, "0") &&
			 (!strcmp(maxmem, "0") || !strncmp(policy, "allkeys-", 8));
	if (!p->master)
		snprintf(p->why, sizeof(p->why), "a replica: writes arrive by replication");
	else if (!p->writes_sure)
		snprintf(p->why, sizeof(p->why), "writes may be refused (maxmemory %s, %s, "
			 "min-replicas-to-write %s)", maxmem, policy, minrep);
	return 0;
}
