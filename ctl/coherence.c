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
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include "common.h"
#include "cachefmt.h"

#define TRACK_CHANNEL "__redis__:invalidate"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prestack coherence --redis HOST:PORT [--db N] [--password P]\n"
		"                          [--dev IF] [--netns NS]\n"
		"\n"
		"Invalidate what XDP cannot see being written: subscribes to keyspace\n"
		"notifications (__keyevent@N__:*: writes by other clients, expiry,\n"
		"eviction; enables notify-keyspace-events \"KEA\" if off) and to client\n"
		"tracking broadcasts (FLUSHALL/FLUSHDB flush the cache). If the\n"
		"connection drops (Redis restarted), the cache is flushed and not\n"
		"filled until it is back. Runs until Ctrl-C; counts every 10 s.\n"
		"  --password P   AUTH with P (or REDISCLI_AUTH in the environment)\n");
}

struct coh {
	const char *host;
	__u32 port, db;
	const char *password;
	int cfg_fd, cache_fd, epoch_fd, vol_fd;
	bool fill;                      /* PS_CFG_FILL was on when we started */
	redisContext *sub, *ctl;        /* subscriber; tracking owner */
	long events, deleted, flushes, reconnects;
};

static redisReply *cmd_ok(redisContext *rc, const char *what, redisReply *r)
{
	if (!r || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "prestack coherence: %s failed: %s\n", what,
			r ? r->str : rc->errstr);
		if (r)
			freeReplyObject(r);
		return NULL;
	}
	return r;
}

static redisContext *connect_one(struct coh *c)
{
	struct timeval tv = { 2, 0 };
	redisContext *rc = redisConnectWithTimeout(c->host, (int)c->port, tv);
	redisReply *r;

	if (!rc || rc->err) {
		if (rc)
			redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (c->password) {
		r = cmd_ok(rc, "AUTH", redisCommand(rc, "AUTH %s", c->password));
		if (!r) {
			redisFree(rc);
			return NULL;
		}
		freeReplyObject(r);
	}
	return rc;
}

static void disconnect(struct coh *c)
{
	if (c->sub)
		redisFree(c->sub);
	if (c->ctl)
		redisFree(c->ctl);
	c->sub = c->ctl = NULL;
}

/* Both connections up and subscribed; 0 on success. */
static int subscribe(struct coh *c, bool announce)
{
	redisReply *r;
	long long id;

	c->sub = connect_one(c);
	c->ctl = c->sub ? connect_one(c) : NULL;
	if (!c->ctl)
		goto fail;
	r = cmd_ok(c->ctl, "CONFIG GET", redisCommand(c->ctl, "CONFIG GET notify-keyspace-events"));
	if (!r)
		goto fail;
	{
		const char *cur = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ?
				  r->element[1]->str : "";

		/* keyevent ('E') for every class ('A' includes expired, evicted) */
		if (!strchr(cur, 'E') || !strchr(cur, 'A')) {
			redisReply *s = cmd_ok(c->ctl, "CONFIG SET notify-keyspace-events",
					       redisCommand(c->ctl, "CONFIG SET notify-keyspace-events KEA"));

			if (!s) {
				freeReplyObject(r);
				goto fail;
			}
			if (announce)
				printf("enabled notify-keyspace-events KEA (was \"%s\")\n", cur);
			freeReplyObject(s);
		}
		freeReplyObject(r);
	}
	r = cmd_ok(c->sub, "CLIENT ID", redisCommand(c->sub, "CLIENT ID"));
	if (!r)
		goto fail;
	id = r->integer;
	freeReplyObject(r);
	r = cmd_ok(c->sub, "PSUBSCRIBE", redisCommand(c->sub, "PSUBSCRIBE __keyevent@%u__:*", c->db));
	if (!r)
		goto fail;
	freeReplyObject(r);
	r = cmd_ok(c->sub, "SUBSCRIBE", redisCommand(c->sub, "SUBSCRIBE " TRACK_CHANNEL));
	if (!r)
		goto fail;
	freeReplyObject(r);
	r = cmd_ok(c->ctl, "CLIENT TRACKING",
		   redisCommand(c->ctl, "CLIENT TRACKING on REDIRECT %lld BCAST", id));
	if (!r)
		goto fail;
	freeReplyObject(r);
	return 0;
fail:
	disconnect(c);
	return -1;
}

/* Flush the cache; fill on or off. */
static void flush(struct coh *c, bool fill)
{
	ps_config_update(c->cfg_fd, -1, fill && c->fill ? PS_CFG_FILL : 0,
			 fill ? 0 : PS_CFG_FILL, NULL);
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
		__u64 unknown = PS_TTL_UNKNOWN;

		/* a TTL set behind XDP's back: never fill it */
		if (ch->type == REDIS_REPLY_STRING && ch->len > 7 &&
		    !strcmp(ch->str + ch->len - 7, ":expire"))
			bpf_map_update_elem(c->vol_fd, &k, &unknown, BPF_ANY);
		if (!ps_invalidate_key(c->cache_fd, c->epoch_fd, &k))
			c->deleted++;
	}
}

static void report(const struct coh *c)
{
	printf("events %ld, cached keys invalidated %ld, flushes %ld, reconnects %ld\n",
	       c->events, c->deleted, c->flushes, c->reconnects);
	fflush(stdout);
}

int cmd_coherence(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "redis", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'b' },
		{ "password", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL, *redis = NULL;
	struct coh c = { .password = getenv("REDISCLI_AUTH") };
	struct ps_config cfg;
	struct ps_target t;
	char host[256], *colon;
	int ch, ret = 1;
	__u32 zero = 0;
	time_t last = time(NULL);

	optind = 0;
	while ((ch = getopt_long(argc, argv, "d:n:r:b:P:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'r': redis = optarg; break;
		case 'P': c.password = optarg; break;
		case 'b':
			if (ps_parse_u32(optarg, 0, 65535, &c.db)) {
				fprintf(stderr, "prestack coherence: bad --db '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	colon = redis ? strrchr(redis, ':') : NULL;
	if (optind < argc || !colon || colon == redis || (size_t)(colon - redis) >= sizeof(host) ||
	    ps_parse_u32(colon + 1, 1, 65535, &c.port)) {
		fprintf(stderr, "prestack coherence: --redis HOST:PORT is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	memcpy(host, redis, (size_t)(colon - redis));
	host[colon - redis] = 0;
	c.host = host;
	if (ps_target_find(&t, netns, dev))
		return 1;
	c.cfg_fd = ps_pin_open(&t, "ps_config", sizeof(struct ps_config));
	c.cache_fd = ps_pin_open(&t, "ps_cache", sizeof(struct ps_cache_val));
	c.epoch_fd = ps_pin_open(&t, "ps_epochs", sizeof(__u32));
	c.vol_fd = ps_pin_open(&t, "ps_ttl", sizeof(__u64));
	if (c.cfg_fd < 0 || c.cache_fd < 0 || c.epoch_fd < 0 || c.vol_fd < 0 ||
	    bpf_map_lookup_elem(c.cfg_fd, &zero, &cfg) || ps_netns_enter(t.netns))
		return 1;
	c.fill = cfg.flags & PS_CFG_FILL;

	if (subscribe(&c, true)) {
		fprintf(stderr, "prestack coherence: cannot subscribe on %s\n", redis);
		return 1;
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

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && redisBufferRead(c.sub) != REDIS_OK) {
			/* nothing can be seen now: no cache until we are back */
			flush(&c, false);
			fprintf(stderr, "prestack coherence: connection lost (%s): cache flushed, "
				"filling stopped; reconnecting\n", c.sub->errstr);
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
	if (!c.sub && c.fill)
		ps_config_update(c.cfg_fd, -1, PS_CFG_FILL, 0, NULL);
	ret = 0;
	disconnect(&c);
	return ret;
}
