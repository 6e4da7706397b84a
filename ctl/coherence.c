// SPDX-License-Identifier: GPL-2.0
/*
 * coherence.c - keep the cache coherent with writes XDP never sees (other
 * interfaces, loopback clients, expiry, eviction, scripts):
 *  - keyspace notifications (__keyevent@N__:*): every key an event names
 *    is invalidated the way the XDP program does (epoch bump, delete);
 *  - client tracking in broadcast mode, redirected to the same connection:
 *    Redis sends a null invalidation on FLUSHALL/FLUSHDB, which names no
 *    key and has no keyspace event: the whole cache is flushed;
 *  - TTLs: every key an event names is marked "TTL unknown" in ps_ttl
 *    (not filled) and then asked with PTTL; its expiry, on our clock, goes
 *    into ps_ttl, or the entry goes if the key has no TTL. At start, and
 *    after each reconnection, a SCAN learns the TTL of every key that has
 *    one, with filling stopped meanwhile;
 *  - the lease: a PING on the subscribed connection every LEASE_EVERY_MS;
 *    its PONG comes after every event published before the PING, all of
 *    them applied by then, so XDP may answer until LEASE_MS after the PING
 *    was sent (ps_lease). A dead, hung or disconnected watcher stops
 *    renewing: XDP answers nothing once the lease runs out;
 *  - the connection itself: while it is down (Redis restarted, network)
 *    nothing would be seen, so the cache is flushed and filling stopped
 *    until it is back, subscribed, scanned, and flushed once more.
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
#define NS_PER_MS       1000000ull
/* One proof of liveness lets XDP answer for LEASE_MS; one is sought every
 * LEASE_EVERY_MS, so a lease is renewed about three times before it ends
 * and a watcher that stops is noticed within LEASE_MS. */
#define LEASE_MS        300
#define LEASE_EVERY_MS  100
/* NTP slews a clock by at most 500 ppm: an expiry learnt as "PTTL ms from
 * now" is taken that much earlier on our clock than on Redis's. */
#define SLEW_PPM        500
#define TTL_QUEUE       4096   /* keys waiting for PTTL */
#define SCAN_COUNT      1000

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
	int cfg_fd, cache_fd, epoch_fd, ttl_fd, lease_fd;
	bool fill;                      /* PS_CFG_FILL was on when we started */
	redisContext *sub, *ctl;        /* subscriber; tracking owner, PTTL, SCAN */
	long events, deleted, flushes, reconnects, ttls, renewals;
	struct ps_cache_key queue[TTL_QUEUE]; /* TTL unknown, to ask */
	unsigned queued;
	bool queue_lost;                /* a key did not fit: ask them all again */
	bool ping_out;                  /* a PING awaits its PONG */
	__u64 ping_ns;                  /* when it was sent */
	__u64 last_ping_ns;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* A key's TTL is about to be learnt: not filled meanwhile. The mark goes
 * in before the epoch moves, as the XDP program does it. */
static void ttl_unknown(struct coh *c, const struct ps_cache_key *k)
{
	__u64 unknown = PS_TTL_UNKNOWN;

	bpf_map_update_elem(c->ttl_fd, k, &unknown, BPF_ANY);
	if (c->queued < TTL_QUEUE)
		c->queue[c->queued++] = *k;
	else
		c->queue_lost = true;
}

/* What PTTL said, sent at t_ns, into ps_ttl: an expiry on our clock, a
 * little early for the drift, or no entry when the key has no TTL. */
static void ttl_learnt(struct coh *c, const struct ps_cache_key *k,
		       const redisReply *r, __u64 t_ns)
{
	__u64 exp;

	if (!r || r->type != REDIS_REPLY_INTEGER)
		return;   /* stays unknown: never filled */
	if (r->integer < 0) {
		bpf_map_delete_elem(c->ttl_fd, k);
		return;
	}
	exp = (__u64)r->integer * NS_PER_MS;
	exp = t_ns + exp - exp / 1000000 * SLEW_PPM;
	bpf_map_update_elem(c->ttl_fd, k, &exp, BPF_ANY);
	c->ttls++;
}

static __u32 epoch_of(struct coh *c, const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k->data, k->len), e = 0;

	bpf_map_lookup_elem(c->epoch_fd, &slot, &e);
	return e;
}

/*
 * PTTL for n keys, pipelined on the control connection. A key whose
 * invalidation epoch moved meanwhile (XDP saw a write to it, which may
 * have marked its TTL unknown after our read) is left unknown; the
 * keyspace event of that write brings it back here. -1: connection lost.
 */
static int ask_ttls(struct coh *c, const struct ps_cache_key *keys, unsigned n)
{
	__u32 ep[SCAN_COUNT];
	__u64 t;
	unsigned i;

	if (n > SCAN_COUNT)
		return -1;
	for (i = 0; i < n; i++)
		ep[i] = epoch_of(c, &keys[i]);
	t = mono_ns();
	for (i = 0; i < n; i++)
		redisAppendCommand(c->ctl, "PTTL %b", keys[i].data, (size_t)keys[i].len);
	for (i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c->ctl, (void **)&r) != REDIS_OK)
			return -1;
		if (epoch_of(c, &keys[i]) == ep[i])
			ttl_learnt(c, &keys[i], r, t);
		freeReplyObject(r);
	}
	return 0;
}

static int drain_queue(struct coh *c)
{
	unsigned i, n;

	for (i = 0; i < c->queued; i += n) {
		n = c->queued - i < SCAN_COUNT ? c->queued - i : SCAN_COUNT;
		if (ask_ttls(c, c->queue + i, n))
			return -1;
	}
	c->queued = 0;
	return 0;
}

/*
 * Learn the TTL of every key that has one (SCAN + PTTL), after dropping
 * every TTL we knew: run with filling stopped, so no key is cached on a
 * TTL not yet known. Keys that do not fit a cache key are never cached.
 */
static int scan_ttls(struct coh *c)
{
	struct ps_cache_key k, next;
	struct ps_cache_key *keys = c->queue;
	char cursor[32] = "0";

	while (bpf_map_get_next_key(c->ttl_fd, NULL, &next) == 0) {
		k = next;
		bpf_map_delete_elem(c->ttl_fd, &k);
	}
	c->queued = 0;
	do {
		redisReply *r = redisCommand(c->ctl, "SCAN %s COUNT %d", cursor, SCAN_COUNT);
		unsigned n = 0;

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			if (r)
				freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && n < SCAN_COUNT; i++) {
			const redisReply *e = r->element[1]->element[i];

			if (e->type == REDIS_REPLY_STRING &&
			    !ps_cache_key_build(&keys[n], e->str, e->len))
				n++;
		}
		freeReplyObject(r);
		if (ask_ttls(c, keys, n))
			return -1;
	} while (strcmp(cursor, "0"));
	return 0;
}

/* Ask for a PONG on the subscribed connection (no reply awaited here). */
static int send_ping(struct coh *c)
{
	int done = 0;

	c->ping_ns = mono_ns();
	c->last_ping_ns = c->ping_ns;
	if (redisAppendCommand(c->sub, "PING") != REDIS_OK)
		return -1;
	while (!done)
		if (redisBufferWrite(c->sub, &done) != REDIS_OK)
			return -1;
	c->ping_out = true;
	return 0;
}

/* The PONG: every event before it has been applied. */
static void renew_lease(struct coh *c)
{
	__u32 idx = PS_LEASE_UNTIL;
	__u64 until = c->ping_ns + LEASE_MS * NS_PER_MS;

	c->ping_out = false;
	if (c->queue_lost)
		return;   /* TTLs not asked are only unknown: safe, but say so */
	bpf_map_update_elem(c->lease_fd, &idx, &until, BPF_ANY);
	c->renewals++;
}

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

	/* ["pong", ""]: the answer to our PING in subscribed mode */
	if (m->type == REDIS_REPLY_ARRAY && m->elements == 2 &&
	    m->element[0]->type == REDIS_REPLY_STRING &&
	    !strcmp(m->element[0]->str, "pong")) {
		renew_lease(c);
		return;
	}
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
		/* whatever the event, the key's TTL may have changed */
		ttl_unknown(c, &k);
		if (!ps_invalidate_key(c->cache_fd, c->epoch_fd, &k))
			c->deleted++;
	}
}

static void report(const struct coh *c)
{
	printf("events %ld, cached keys invalidated %ld, flushes %ld, reconnects %ld, "
	       "TTLs learnt %ld, lease renewals %ld\n",
	       c->events, c->deleted, c->flushes, c->reconnects, c->ttls, c->renewals);
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
	c.ttl_fd = ps_pin_open(&t, "ps_ttl", sizeof(__u64));
	c.lease_fd = ps_pin_open(&t, "ps_lease", sizeof(__u64));
	if (c.cfg_fd < 0 || c.cache_fd < 0 || c.epoch_fd < 0 || c.ttl_fd < 0 || c.lease_fd < 0 ||
	    bpf_map_lookup_elem(c.cfg_fd, &zero, &cfg) || ps_netns_enter(t.netns))
		return 1;
	c.fill = cfg.flags & PS_CFG_FILL;

	if (subscribe(&c, true)) {
		fprintf(stderr, "prestack coherence: cannot subscribe on %s\n", redis);
		return 1;
	}
	/* no fill while the TTLs are learnt; then whatever was written before
	 * we listened goes */
	flush(&c, false);
	if (scan_ttls(&c)) {
		fprintf(stderr, "prestack coherence: cannot scan the TTLs on %s\n", redis);
		return 1;
	}
	flush(&c, true);
	printf("watching db %u on %s: invalidating keys written behind XDP's back\n", c.db, redis);
	fflush(stdout);
	ps_stop_on_signals();

	while (!ps_stop) {
		struct pollfd pfd = { .fd = c.sub->fd, .events = POLLIN };
		void *rep = NULL;
		int n;

		/* a PING every LEASE_EVERY_MS (one that fails to go out is
		 * noticed by the read below); one never answered renews nothing */
		if (!c.ping_out && mono_ns() - c.last_ping_ns >= LEASE_EVERY_MS * NS_PER_MS)
			send_ping(&c);
		n = poll(&pfd, 1, 10);
		if (n < 0 && errno != EINTR)
			break;
		if (c.ping_out && mono_ns() - c.ping_ns > LEASE_MS * NS_PER_MS)
			c.ping_out = false;   /* lost: ask again (the lease ran out) */
		if ((n > 0 && redisBufferRead(c.sub) != REDIS_OK) ||
		    (c.queued && drain_queue(&c))) {
			/* nothing can be seen now: no cache until we are back */
			flush(&c, false);
			fprintf(stderr, "prestack coherence: connection lost (%s): cache flushed, "
				"filling stopped; reconnecting\n", c.sub->errstr);
			disconnect(&c);
			c.ping_out = false;
			c.queued = 0;
			c.queue_lost = false;
			while (!ps_stop && (subscribe(&c, false) || scan_ttls(&c))) {
				disconnect(&c);
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
		if (c.queue_lost && !c.queued) {
			/* more keys than the queue held: learn every TTL again */
			flush(&c, false);
			if (scan_ttls(&c) == 0) {
				c.queue_lost = false;
				flush(&c, true);
			}
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
