// SPDX-License-Identifier: GPL-2.0
/*
 * coherence.c - keep the cache coherent with writes XDP never sees (other
 * interfaces, loopback clients, expiry, eviction, scripts):
 *  - keyspace notifications (__keyevent@N__:*): every key an event names
 *    is invalidated the way the XDP program does (epoch bump, delete);
 *  - client tracking in broadcast mode, redirected to the same connection:
 *    Redis sends a null invalidation on FLUSHALL/FLUSHDB, which names no
 *    key and has no keyspace event: the whole cache is flushed;
 *  - the connection itself: while it is down (Redis restarted, network)
 *    nothing would be seen, so the cache is flushed and filling stopped
 *    until it is back, subscribed, and flushed once more.
 * Runs until Ctrl-C.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "opts.h"
#include "redis.h"

#define TRACK_CHANNEL "__redis__:invalidate"

struct coh {
	const char *host;
	__u32 port, db;
	const char *password;
	const struct ps_maps *maps;
	bool fill;                      /* PS_CFG_FILL was on when we started */
	redisContext *sub, *ctl;        /* subscriber; tracking owner */
	long events, deleted, flushes, reconnects;
	long errors;                    /* map updates that failed: exit 1 */
};

static redisContext *connect_one(const struct coh *c)
{
	return ps_redis_connect(c->host, c->port, 2, c->password, true);
}

static void disconnect(struct coh *c)
{
	if (c->sub)
		redisFree(c->sub);
	if (c->ctl)
		redisFree(c->ctl);
	c->sub = c->ctl = NULL;
}

/* keyevent ('E') for every class ('A' includes expired, evicted) */
static int enable_keyevents(struct coh *c, bool announce)
{
	redisReply *r;
	const char *cur;
	int ret = -1;

	r = ps_redis_reply(c->ctl, "CONFIG GET",
			   redisCommand(c->ctl, "CONFIG GET notify-keyspace-events"), 0);
	if (!r)
		goto cleanup;
	cur = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->str : "";
	if (!strchr(cur, 'E') || !strchr(cur, 'A')) {
		if (ps_redis_ok(c->ctl, "CONFIG SET notify-keyspace-events",
				redisCommand(c->ctl, "CONFIG SET notify-keyspace-events KEA")))
			goto cleanup;
		if (announce)
			printf("enabled notify-keyspace-events KEA (was \"%s\")\n", cur);
	}
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	return ret;
}

/* Both connections up and subscribed; 0 on success. */
static int subscribe(struct coh *c, bool announce)
{
	redisReply *r = NULL;
	int ret = -1;

	c->sub = connect_one(c);
	c->ctl = c->sub ? connect_one(c) : NULL;
	if (!c->ctl || enable_keyevents(c, announce))
		goto cleanup;
	r = ps_redis_reply(c->sub, "CLIENT ID", redisCommand(c->sub, "CLIENT ID"),
			   REDIS_REPLY_INTEGER);
	if (!r ||
	    ps_redis_ok(c->sub, "PSUBSCRIBE",
			redisCommand(c->sub, "PSUBSCRIBE __keyevent@%u__:*", c->db)) ||
	    ps_redis_ok(c->sub, "SUBSCRIBE", redisCommand(c->sub, "SUBSCRIBE " TRACK_CHANNEL)) ||
	    ps_redis_ok(c->ctl, "CLIENT TRACKING",
			redisCommand(c->ctl, "CLIENT TRACKING on REDIRECT %lld BCAST", r->integer)))
		goto cleanup;
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	if (ret)
		disconnect(c);
	return ret;
}

/* Flush the cache; fill on or off. */
static void flush(struct coh *c, bool fill)
{
	if (ps_config_update(c->maps->config, -1, fill && c->fill ? PS_CFG_FILL : 0,
			     fill ? 0 : PS_CFG_FILL, NULL)) {
		ps_err("cannot flush the cache: %s", strerror(errno));
		c->errors++;
		return;
	}
	c->flushes++;
}

static void on_message(struct coh *c, const redisReply *m)
{
	const redisReply *key;
	struct ps_cache_key k;

	if (m->type != REDIS_REPLY_ARRAY || m->elements < 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING)
		return;
	/* message, __redis__:invalidate, [keys] or nil (a flush) */
	if (m->elements == 3 && !strcmp(m->element[0]->str, "message")) {
		if (m->element[2]->type == REDIS_REPLY_NIL) {
			c->events++;
			flush(c, true);
		}
		/* named keys: the keyspace events of our db cover them */
		return;
	}
	/* pmessage, pattern, __keyevent@N__:<event>, key */
	if (m->elements != 4 || m->element[3]->type != REDIS_REPLY_STRING)
		return;
	key = m->element[3];
	c->events++;
	if (!ps_cache_key_build(&k, key->str, key->len)) {
		const redisReply *ch = m->element[2];
		__u32 one = 1;
		int r;

		/* a TTL set behind XDP's back: never fill it */
		if (ch->type == REDIS_REPLY_STRING && ch->len > 7 &&
		    !strcmp(ch->str + ch->len - 7, ":expire") &&
		    bpf_map_update_elem(c->maps->vol, &k, &one, BPF_ANY)) {
			ps_err("cannot mark '%.*s' volatile: %s", (int)k.len, k.data,
			       strerror(errno));
			c->errors++;
		}
		r = ps_invalidate_key(c->maps->cache, c->maps->epochs, &k);
		if (r < 0) {
			ps_err("cannot invalidate '%.*s': %s", (int)k.len, k.data,
			       strerror(errno));
			c->errors++;
		}
		c->deleted += r == 0;
	}
}

static void report(const struct coh *c)
{
	printf("events %ld, cached keys invalidated %ld, flushes %ld, reconnects %ld\n",
	       c->events, c->deleted, c->flushes, c->reconnects);
	fflush(stdout);
}

struct coherence_opts {
	struct ps_hostport redis;
	__u32 db;
	const char *password;
};

static const struct ps_opt coherence_opts[] = {
	PS_OPT("redis", 'r', PS_OPT_HOSTPORT, "HOST:PORT", struct coherence_opts, redis,
	       "the Redis to watch", .required = true),
	PS_OPT("db", 'b', PS_OPT_U32, "N", struct coherence_opts, db,
	       "the database whose keyspace events count", .min = 0, .max = 65535),
	PS_OPT("password", 'P', PS_OPT_STR, "P", struct coherence_opts, password,
	       "AUTH with P (or REDISCLI_AUTH in the environment)"),
	{}
};

static const struct coherence_opts coherence_defaults = { .db = 0 };

static int coherence_run(struct ps_call *call, void *opts)
{
	const struct coherence_opts *o = opts;
	const char *redis = o->redis.text;
	struct coh c = {
		.host = o->redis.host,
		.port = o->redis.port,
		.db = o->db,
		.password = o->password ? o->password : getenv("REDISCLI_AUTH"),
		.maps = &call->maps,
	};
	time_t last = time(NULL);
	struct ps_config cfg;
	int ret = 1;

	if (ps_config_read(&call->maps, &cfg) || ps_netns_enter(call->t.netns))
		goto cleanup;
	c.fill = cfg.flags & PS_CFG_FILL;

	if (subscribe(&c, true)) {
		ps_err("cannot subscribe on %s", redis);
		goto cleanup;
	}
	/* whatever was written before we listened */
	flush(&c, true);
	printf("watching db %u on %s: invalidating keys written behind XDP's back\n", c.db, redis);
	fflush(stdout);
	ps_stop_on_signals();

	while (!ps_stop) {
		struct pollfd pfd = { .fd = c.sub->fd, .events = POLLIN };
		void *rep = NULL;
		int n = poll(&pfd, 1, 500);

		if (n < 0 && errno != EINTR) {
			ps_err("poll: %s", strerror(errno));
			c.errors++;
			break;
		}
		if (n > 0 && redisBufferRead(c.sub) != REDIS_OK) {
			/* nothing can be seen now: no cache until we are back */
			flush(&c, false);
			ps_err("connection lost (%s): cache flushed, filling stopped; reconnecting",
			       c.sub->errstr);
			disconnect(&c);
			while (!ps_stop && subscribe(&c, false)) {
				struct timespec ts = { 0, 250 * 1000 * 1000 };

				nanosleep(&ts, NULL);
			}
			if (ps_stop)
				break;
			c.reconnects++;
			flush(&c, true);
			printf("reconnected to %s: cache flushed, filling resumed\n", redis);
			fflush(stdout);
			continue;
		}
		while (redisGetReplyFromReader(c.sub, &rep) == REDIS_OK && rep) {
			on_message(&c, rep);
			freeReplyObject(rep);
			rep = NULL;
		}
		if (time(NULL) - last >= 10) {
			report(&c);
			last = time(NULL);
		}
	}
	report(&c);
	/* stopped while Redis was away: filling back as it was */
	if (!c.sub && c.fill && ps_config_update(c.maps->config, -1, PS_CFG_FILL, 0, NULL)) {
		ps_err("cannot switch filling back on: %s", strerror(errno));
		c.errors++;
	}
	ret = c.errors ? 1 : 0;
cleanup:
	disconnect(&c);
	return ret;
}

const struct ps_cmd ps_cmd_coherence = {
	.name = "coherence",
	.summary = "invalidate on Redis keyspace events (other writers, expiry)",
	.description =
		"Invalidate what XDP cannot see being written: subscribes to keyspace\n"
		"notifications (__keyevent@N__:*: writes by other clients, expiry,\n"
		"eviction; enables notify-keyspace-events \"KEA\" if off) and to client\n"
		"tracking broadcasts (FLUSHALL/FLUSHDB flush the cache). If the\n"
		"connection drops (Redis restarted), the cache is flushed and not\n"
		"filled until it is back. Runs until Ctrl-C; counts every 10 s.\n"
		"It connects from inside --netns.",
	.opts = coherence_opts,
	.opts_size = sizeof(struct coherence_opts),
	.defaults = &coherence_defaults,
	.target = PS_TGT_ONE,
	.maps = PS_MAP_CONFIG | PS_MAP_CACHE | PS_MAP_EPOCHS | PS_MAP_VOLATILE,
	.run = coherence_run,
};
