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
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "opts.h"
#include "redis.h"

#define TRACK_CHANNEL "__redis__:invalidate"
#define NS_PER_MS       1000000ull
/* One proof of liveness lets XDP answer for LEASE_MS; one is sought every
 * LEASE_EVERY_MS, so a lease is renewed about three times before it ends
 * and a watcher that stops is noticed within LEASE_MS. */
#define LEASE_MS        300
#define LEASE_EVERY_MS  100
#define TTL_QUEUE       4096   /* keys waiting for PTTL */
#define SCAN_COUNT      1000
#define PINGS_MAX       16     /* PINGs awaiting a PONG: more means a hung Redis */


struct coh {
	const char *host;
	__u32 port, db;
	const char *password;
	const struct ps_maps *maps;
	bool fill;                      /* PS_CFG_FILL was on when we started */
	bool stopped_fill;              /* we turned filling off and not back on */
	redisContext *sub, *ctl;        /* subscriber; tracking owner, PTTL, SCAN */
	long events, deleted, flushes, reconnects, ttls, renewals;
	long errors;                    /* map updates that failed: exit 1 */
	struct ps_cache_key queue[TTL_QUEUE]; /* TTL unknown, to ask */
	unsigned queued;
	bool queue_lost;                /* a key did not fit: ask them all again */
	__u64 pings[PINGS_MAX];         /* send times of PINGs awaiting their PONG, */
	unsigned ping_head, ping_n;     /* oldest first (PONGs come in order) */
	__u64 last_ping_ns;
};
/* A key's TTL is about to be learnt: not filled meanwhile. The mark goes
 * in before the epoch moves, as the XDP program does it. */
static void ttl_unknown(struct coh *c, const struct ps_cache_key *k)
{
	__u64 unknown = PS_TTL_UNKNOWN;

	if (bpf_map_update_elem(c->maps->ttl, k, &unknown, BPF_ANY)) {
		/* not marked: the key could be filled with no TTL, so no answer
		 * is safe; the lease is not renewed until a new scan */
		ps_err("cannot mark the TTL of '%.*s' unknown: %s", (int)k->len, k->data,
		       strerror(errno));
		c->errors++;
		c->queue_lost = true;
		return;
	}
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
		bpf_map_delete_elem(c->maps->ttl, k);
		return;
	}
	exp = ps_ttl_expiry(t_ns, r->integer);
	bpf_map_update_elem(c->maps->ttl, k, &exp, BPF_ANY);
	c->ttls++;
}

static __u32 epoch_of(struct coh *c, const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k->data, k->len), e = 0;

	bpf_map_lookup_elem(c->maps->epochs, &slot, &e);
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
	t = ps_mono_ns();
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

	while (bpf_map_get_next_key(c->maps->ttl, NULL, &next) == 0) {
		k = next;
		bpf_map_delete_elem(c->maps->ttl, &k);
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

	c->last_ping_ns = ps_mono_ns();
	if (c->ping_n == PINGS_MAX)
		return 0;   /* nothing answers: the lease runs out */
	if (redisAppendCommand(c->sub, "PING") != REDIS_OK)
		return -1;
	while (!done)
		if (redisBufferWrite(c->sub, &done) != REDIS_OK)
			return -1;
	c->pings[(c->ping_head + c->ping_n) % PINGS_MAX] = c->last_ping_ns;
	c->ping_n++;
	return 0;
}

/* A PONG: every event published before its PING has been applied. */
static void renew_lease(struct coh *c)
{
	__u32 idx = PS_LEASE_UNTIL;
	__u64 until;

	if (!c->ping_n)
		return;
	until = c->pings[c->ping_head] + LEASE_MS * NS_PER_MS;
	c->ping_head = (c->ping_head + 1) % PINGS_MAX;
	c->ping_n--;
	if (c->queue_lost)
		return;   /* TTLs not asked are only unknown: safe, but say so */
	if (bpf_map_update_elem(c->maps->lease, &idx, &until, BPF_ANY)) {
		ps_err("cannot renew the lease: %s", strerror(errno));
		c->errors++;
		return;
	}
	c->renewals++;
}



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
	c->stopped_fill = !fill;
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
		int r;

		/* whatever the event, the key's TTL may have changed */
		ttl_unknown(c, &k);
		r = ps_invalidate_key(c->maps, &k);
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
	printf("events %ld, cached keys invalidated %ld, flushes %ld, reconnects %ld, "
	       "TTLs learnt %ld, lease renewals %ld\n",
	       c->events, c->deleted, c->flushes, c->reconnects, c->ttls, c->renewals);
	fflush(stdout);
}

struct coherence_opts {
	struct ps_hostport redis;
	__u32 db;
	const char *password;
	bool supervise;
};

static const struct ps_opt coherence_opts[] = {
	PS_OPT("redis", 'r', PS_OPT_HOSTPORT, "HOST:PORT", struct coherence_opts, redis,
	       "the Redis to watch", .required = true),
	PS_OPT("db", 'b', PS_OPT_U32, "N", struct coherence_opts, db,
	       "the database whose keyspace events count", .min = 0, .max = 65535),
	PS_OPT("password", 'P', PS_OPT_STR, "P", struct coherence_opts, password,
	       "AUTH with P (or REDISCLI_AUTH in the environment)"),
	PS_OPT("supervise", 'S', PS_OPT_FLAG, NULL, struct coherence_opts, supervise,
	       "run the watcher as a child and start it again\n"
	       "if it dies (how attach runs it)"),
	{}
};

static const struct coherence_opts coherence_defaults = { .db = 0 };

static int watch(struct ps_call *call, const struct coherence_opts *o);

/*
 * --supervise: the watcher runs in a child, started again a second after
 * it dies. While it is down its lease runs out and XDP answers nothing:
 * a crash costs answers, never coherence. SIGTERM/SIGINT stop both.
 */
static int supervise(struct ps_call *call, const struct coherence_opts *o)
{
	long restarts = 0;

	ps_stop_on_signals();
	while (!ps_stop) {
		int st = 0;
		pid_t pid = fork();

		if (pid < 0) {
			ps_err("fork: %s", strerror(errno));
			return 1;
		}
		if (pid == 0)
			_exit(watch(call, o));
		while (waitpid(pid, &st, 0) < 0) {
			if (errno != EINTR)
				return 1;
			if (ps_stop)
				kill(pid, SIGTERM);
		}
		if (ps_stop)
			break;
		restarts++;
		ps_err("watcher %s %d; starting it again (%ld)",
		       WIFSIGNALED(st) ? "killed by signal" : "exited with",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), restarts);
		sleep(1);
	}
	return 0;
}

static int coherence_run(struct ps_call *call, void *opts)
{
	const struct coherence_opts *o = opts;

	return o->supervise ? supervise(call, o) : watch(call, o);
}

static int watch(struct ps_call *call, const struct coherence_opts *o)
{
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
	/* no fill while the TTLs are learnt; then whatever was written before
	 * we listened goes */
	flush(&c, false);
	if (scan_ttls(&c)) {
		ps_err("cannot scan the TTLs on %s", redis);
		goto cleanup;
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
		if (ps_mono_ns() - c.last_ping_ns >= LEASE_EVERY_MS * NS_PER_MS)
			send_ping(&c);
		/* TTLs asked before waiting: a key stays unfillable until then */
		n = c.queued ? 0 : poll(&pfd, 1, 10);
		if (n < 0 && errno != EINTR) {
			ps_err("poll: %s", strerror(errno));
			c.errors++;
			break;
		}
		if ((c.queued && drain_queue(&c)) ||
		    (n > 0 && redisBufferRead(c.sub) != REDIS_OK)) {
			/* nothing can be seen now: no cache until we are back */
			flush(&c, false);
			ps_err("connection lost (%s): cache flushed, filling stopped; reconnecting",
			       c.sub->errstr);
			disconnect(&c);
			c.ping_head = c.ping_n = 0;
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
	ret = c.errors ? 1 : 0;
cleanup:
	/* stopped while Redis was away or its TTLs were being learnt: filling
	 * back as it was (with the lease on, XDP answers nothing anyway) */
	if (c.stopped_fill && c.fill && ps_config_update(c.maps->config, -1, PS_CFG_FILL, 0, NULL)) {
		ps_err("cannot switch filling back on: %s", strerror(errno));
		ret = 1;
	}
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
		"filled until it is back. Learns the TTL of every key an event names\n"
		"(PTTL) and, at start, of every key (SCAN). Renews the lease XDP\n"
		"answers under (attach sets it) by a PING every 100 ms whose PONG\n"
		"proves every earlier event applied; a lease lasts 300 ms.\n"
		"Runs until Ctrl-C; counts every 10 s.\n"
		"It connects from inside --netns.",
	.opts = coherence_opts,
	.opts_size = sizeof(struct coherence_opts),
	.defaults = &coherence_defaults,
	.target = PS_TGT_ONE,
	.maps = PS_MAP_CONFIG | PS_MAP_CACHE | PS_MAP_EPOCHS | PS_MAP_TTL | PS_MAP_LEASE,
	.run = coherence_run,
};
