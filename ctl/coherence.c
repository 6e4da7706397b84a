// SPDX-License-Identifier: GPL-2.0
/*
 * coherence.c - the coherence watcher: what no packet shows.
 *
 * Every write that reaches Redis over TCP is seen by a BPF program before
 * Redis reads it (XDP on the attached interface, the side path on every
 * other and on loopback) and invalidated there, its TTL read from the
 * request. What is left here (docs/guards-and-coherence.md, "What no
 * packet shows"):
 *  - expiry and eviction: keyspace events of exactly those classes
 *    (__keyevent@N__:expired, and :evicted when maxmemory-policy can
 *    evict); each key named is invalidated and its TTL learnt again;
 *  - TTLs the requests did not settle (a write that may fail, a condition
 *    on the key, two writes in flight, a script's keys, RENAME's
 *    destination): BPF hands the key over (the ps_ttl_ask ring); once
 *    every write of its slot is answered (ps_wr_inflight) its PTTL goes
 *    into ps_ttl, unless a write moved its epoch meanwhile;
 *  - every TTL learnt again (SCAN + PTTL, fills stopped) when BPF asks
 *    (PS_LEASE_TTL_LOST: SWAPDB, DEBUG, a TTL write whose key it did not
 *    see whole, a transaction that set TTLs), at start and after a
 *    reconnection, and when the wall clock steps;
 *  - Redis itself: a replica (writes by replication), modules or a Unix
 *    socket (writes no packet shows): looked at every second and after
 *    every REPLICAOF/MODULE/CONFIG SET (PS_LEASE_REVOKE, answered only
 *    after the watcher acknowledged it). A replica gets no lease; with a
 *    Unix socket or modules every write is also taken from keyspace events
 *    of every class, as before the side path (asynchronously);
 *  - interfaces that appear after attach: covered by the side path as
 *    they appear (netlink), the cache flushed; no lease while one is not;
 *  - the lease: a PING on the subscribed connection every LEASE_EVERY_MS;
 *    its PONG comes after every event published before it, all applied
 *    by then, so XDP may answer until LEASE_MS after the PING was sent. A
 *    dead, hung or disconnected watcher stops renewing;
 *  - the connection: while it is down nothing would be seen, so the cache
 *    is flushed and filling stopped until it is back.
 * Runs until Ctrl-C.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "deploy.h"
#include "keyhash.h"
#include "opts.h"
#include "redis.h"
#include "sidepath.h"

#define TRACK_CHANNEL "__redis__:invalidate"
#define NS_PER_MS       1000000ull
/* LEASE_MS, LEASE_EVERY_MS: deploy.h (the benchmarks grant the same lease) */
#define PROFILE_EVERY_MS 1000  /* Redis's role, maxmemory, modules looked at */
#define CLOCK_STEP_NS   (2 * NS_PER_MS) /* the wall clock moved against ours */
#define TTL_QUEUE       4096   /* keys waiting for PTTL */
#define SCAN_COUNT      1000
#define PINGS_MAX       16     /* PINGs awaiting a PONG: more means a hung Redis */

struct coh {
	const char *host;
	__u32 port, db;
	const char *password;
	const struct ps_maps *maps;
	const struct ps_target *t;
	bool fill;                      /* PS_CFG_FILL was on when we started */
	bool stopped_fill;              /* we turned filling off and not back on */
	bool all_events;                /* a Unix socket or modules: every write by events too */
	bool evicted;                   /* subscribed to evicted events */
	struct ps_redis_prof prof;
	redisContext *sub, *ctl;        /* subscriber; PTTL, SCAN, CONFIG */
	struct ring_buffer *rb;         /* ps_ttl_ask */
	int side_flows, side_resync;    /* the side path's maps (-1: none) */
	int nl;                         /* netlink: links appearing */
	long events, deleted, flushes, reconnects, ttls, renewals, asked, rescans,
	     covered, errors;
	struct ps_cache_key queue[TTL_QUEUE]; /* TTLs to ask once their writes end */
	unsigned queued;
	bool queue_lost;                /* a key did not fit: learn every TTL again */
	__u64 pings[PINGS_MAX];         /* send times of PINGs awaiting their PONG, */
	bool ping_ok[PINGS_MAX];        /* and whether all was well when sent; */
	unsigned ping_head, ping_n;     /* oldest first (PONGs come in order) */
	__u64 last_ping_ns, last_prof_ns, last_follow_ns, clock_off;
	int lost_conns;                 /* connections the side path does not follow */
	bool uncovered;                 /* an interface the side path is not on */
	bool said_replica;
};

static __u64 lease_get(struct coh *c, __u32 idx)
{
	__u64 v = 0;

	bpf_map_lookup_elem(c->maps->lease, &idx, &v);
	return v;
}

static int lease_put(struct coh *c, __u32 idx, __u64 v)
{
	if (bpf_map_update_elem(c->maps->lease, &idx, &v, BPF_ANY)) {
		ps_err("cannot write ps_lease[%u]: %s", idx, strerror(errno));
		c->errors++;
		return -1;
	}
	return 0;
}

static __u32 inflight(struct coh *c, __u32 slot)
{
	__u32 v = 1;

	bpf_map_lookup_elem(c->maps->inflight, &slot, &v);
	return v;
}

/* every write of k's slot (and every flushing command) answered */
static bool quiet(struct coh *c, const struct ps_cache_key *k)
{
	return !inflight(c, PS_WR_ANY) && (!k || !inflight(c, ps_key_slot(k)));
}

static __u32 epoch_of(struct coh *c, const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k), e = 0;

	bpf_map_lookup_elem(c->maps->epochs, &slot, &e);
	return e;
}

static void queue_key(struct coh *c, const struct ps_cache_key *k)
{
	if (c->queued < TTL_QUEUE)
		c->queue[c->queued++] = *k;
	else
		c->queue_lost = true;
}

/* The key's TTL is to be learnt: not filled meanwhile. */
static void ttl_unknown(struct coh *c, const struct ps_cache_key *k)
{
	__u64 unknown = PS_TTL_UNKNOWN;

	if (bpf_map_update_elem(c->maps->ttl, k, &unknown, BPF_ANY)) {
		/* not marked: the key could be filled with no TTL */
		ps_err("cannot mark the TTL of '%.*s' unknown: %s", (int)k->len, k->data,
		       strerror(errno));
		c->errors++;
		c->queue_lost = true;
	}
}

/* What PTTL said, sent at t_ns, into ps_ttl: an expiry on our clock, or
 * no entry when the key has no TTL (or is gone). */
static void ttl_learnt(struct coh *c, const struct ps_cache_key *k,
		       const redisReply *r, __u64 t_ns)
{
	__u64 exp;

	if (!r || r->type != REDIS_REPLY_INTEGER) {
		ttl_unknown(c, k);
		return;
	}
	if (r->integer < 0) {
		bpf_map_delete_elem(c->maps->ttl, k);
		return;
	}
	exp = ps_ttl_expiry(t_ns, r->integer);
	bpf_map_update_elem(c->maps->ttl, k, &exp, BPF_ANY);
	c->ttls++;
}

/*
 * PTTL for n keys, pipelined on the control connection, into ps_ttl. Only
 * a key whose writes are all answered is asked (its epoch read first, then
 * its slot found quiet: a write that moved the epoch before is counted in
 * flight until its reply, after which Redis has run it); one not quiet is
 * queued again, and with mark (a full scan: fills resume after it) marked
 * unknown meanwhile. A key whose epoch moved by the time PTTL answered,
 * or right after we stored it, is unknown and queued again: the write that
 * moved it may have set its TTL. -1: connection lost.
 */
static int ask_ttls(struct coh *c, const struct ps_cache_key *keys, unsigned n, bool mark)
{
	static struct ps_cache_key ask[SCAN_COUNT];
	__u32 ep[SCAN_COUNT];
	unsigned i, m = 0;
	__u64 t;

	if (n > SCAN_COUNT)
		return -1;
	for (i = 0; i < n; i++) {
		__u32 e = epoch_of(c, &keys[i]);

		if (!quiet(c, &keys[i])) {
			if (mark)
				ttl_unknown(c, &keys[i]);
			queue_key(c, &keys[i]);
			continue;
		}
		ep[m] = e;
		ask[m++] = keys[i];
	}
	t = ps_mono_ns();
	for (i = 0; i < m; i++)
		redisAppendCommand(c->ctl, "PTTL %b", ask[i].data, (size_t)ask[i].len);
	for (i = 0; i < m; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c->ctl, (void **)&r) != REDIS_OK)
			return -1;
		if (epoch_of(c, &ask[i]) == ep[i]) {
			ttl_learnt(c, &ask[i], r, t);
			if (epoch_of(c, &ask[i]) == ep[i]) {
				freeReplyObject(r);
				continue;
			}
		}
		/* a write came: what it did is its own to settle or ask */
		ttl_unknown(c, &ask[i]);
		queue_key(c, &ask[i]);
		freeReplyObject(r);
	}
	return 0;
}

/* The queued keys whose writes are answered, asked; the rest stay. */
static int drain_queue(struct coh *c)
{
	static struct ps_cache_key batch[SCAN_COUNT];
	unsigned i, n = 0, keep = 0;

	for (i = 0; i < c->queued; i++) {
		if (n < SCAN_COUNT && quiet(c, &c->queue[i]))
			batch[n++] = c->queue[i];
		else
			c->queue[keep++] = c->queue[i];
	}
	c->queued = keep;
	return n ? ask_ttls(c, batch, n, false) : 0;
}

/* a key handed over by BPF (ps_ttl_ask) */
static int on_ask(void *ctx, void *data, size_t sz)
{
	struct coh *c = ctx;

	if (sz == sizeof(struct ps_cache_key)) {
		queue_key(c, data);
		c->asked++;
	}
	return 0;
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

/*
 * Learn the TTL of every key that has one (SCAN + PTTL), after dropping
 * every TTL we knew. Fills stay stopped meanwhile: the caller stopped
 * them, or BPF did (PS_LEASE_TTL_LOST ahead of PS_LEASE_TTL_SEEN). Keys
 * that do not fit a cache key are never cached.
 */
static int scan_ttls(struct coh *c)
{
	static struct ps_cache_key keys[SCAN_COUNT];
	struct ps_cache_key k, next;
	char cursor[32] = "0";

	while (bpf_map_get_next_key(c->maps->ttl, NULL, &next) == 0) {
		k = next;
		bpf_map_delete_elem(c->maps->ttl, &k);
	}
	c->queued = 0;
	c->queue_lost = false;
	c->rescans++;
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
		if (ask_ttls(c, keys, n, true))
			return -1;
	} while (strcmp(cursor, "0"));
	return 0;
}

/* BPF asked for every TTL again: once every flushing command is
 * answered (a SWAPDB has run), scan; fills resume when SEEN catches up */
static int rescan_if_asked(struct coh *c)
{
	__u64 lost = lease_get(c, PS_LEASE_TTL_LOST);

	if (lost == lease_get(c, PS_LEASE_TTL_SEEN) && !c->queue_lost)
		return 0;
	if (!quiet(c, NULL))
		return 0;
	if (scan_ttls(c))
		return -1;
	lease_put(c, PS_LEASE_TTL_SEEN, lost);
	return 0;
}

/* Ask for a PONG on the subscribed connection (no reply awaited here). */
static int send_ping(struct coh *c, bool ok)
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
	c->ping_ok[(c->ping_head + c->ping_n) % PINGS_MAX] = ok;
	c->ping_n++;
	return 0;
}

/* A PONG: every event published before its PING has been applied. */
static void renew_lease(struct coh *c)
{
	__u64 until;
	bool ok;

	if (!c->ping_n)
		return;
	until = ps_lease_until(c->pings[c->ping_head]);
	ok = c->ping_ok[c->ping_head];
	c->ping_head = (c->ping_head + 1) % PINGS_MAX;
	c->ping_n--;
	if (!ok || c->queue_lost)
		return;
	if (!lease_put(c, PS_LEASE_UNTIL, until))
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

/* notify-keyspace-events with the classes we need added: keyevent ('E'),
 * expired ('x'), evicted ('e') if Redis can evict; every class ('A')
 * when writes may come by a Unix socket or a module */
static int enable_keyevents(struct coh *c, bool announce)
{
	char want[48];
	const char *need = c->all_events ? "EA" : c->prof.can_evict ? "Exe" : "Ex";
	size_t n;

	snprintf(want, sizeof(want), "%s", c->prof.notify);
	n = strlen(want);
	for (const char *p = need; *p; p++) {
		if (strchr(want, *p) ||
		    ((*p == 'x' || *p == 'e') && strchr(want, 'A')))
			continue;
		if (n + 1 < sizeof(want)) {
			want[n++] = *p;
			want[n] = 0;
		}
	}
	if (!strcmp(want, c->prof.notify))
		return 0;
	if (ps_redis_ok(c->ctl, "CONFIG SET notify-keyspace-events",
			redisCommand(c->ctl, "CONFIG SET notify-keyspace-events %s", want)))
		return -1;
	if (announce)
		printf("notify-keyspace-events \"%s\" (was \"%s\")\n", want, c->prof.notify);
	snprintf(c->prof.notify, sizeof(c->prof.notify), "%s", want);
	return 0;
}

/* PS_CFG_TTL_EXACT as Redis is now (ps_config_update flushes: only on a
 * change) */
static void set_exact(struct coh *c)
{
	struct ps_config cfg;
	bool want = c->prof.writes_sure;

	if (ps_config_read(c->maps, &cfg))
		return;
	if (!!(cfg.flags & PS_CFG_TTL_EXACT) == want)
		return;
	if (ps_config_update(c->maps->config, -1, want ? PS_CFG_TTL_EXACT : 0,
			     want ? 0 : PS_CFG_TTL_EXACT, NULL))
		c->errors++;
	printf("TTL writes %s\n", want ? "recorded as written (a write cannot fail)" :
	       "recorded at their earliest outcome (writes may fail)");
	fflush(stdout);
}

/* Both connections up, Redis looked at, subscribed; 0 on success. */
static int subscribe(struct coh *c, bool announce)
{
	redisReply *r = NULL;
	int ret = -1;

	c->sub = connect_one(c);
	c->ctl = c->sub ? connect_one(c) : NULL;
	if (!c->ctl || ps_redis_profile(c->ctl, &c->prof))
		goto cleanup;
	c->all_events = c->prof.unixsocket || c->prof.modules;
	c->last_prof_ns = ps_mono_ns();
	if (enable_keyevents(c, announce))
		goto cleanup;
	if (c->all_events) {
		/* the way before the side path: every event, and client
		 * tracking for FLUSHALL/FLUSHDB (no per-key event) */
		r = ps_redis_reply(c->sub, "CLIENT ID", redisCommand(c->sub, "CLIENT ID"),
				   REDIS_REPLY_INTEGER);
		if (!r ||
		    ps_redis_ok(c->sub, "PSUBSCRIBE",
				redisCommand(c->sub, "PSUBSCRIBE __keyevent@%u__:*", c->db)) ||
		    ps_redis_ok(c->sub, "SUBSCRIBE",
				redisCommand(c->sub, "SUBSCRIBE " TRACK_CHANNEL)) ||
		    ps_redis_ok(c->ctl, "CLIENT TRACKING",
				redisCommand(c->ctl, "CLIENT TRACKING on REDIRECT %lld BCAST",
					     r->integer)))
			goto cleanup;
	} else {
		if (ps_redis_ok(c->sub, "SUBSCRIBE",
				redisCommand(c->sub, "SUBSCRIBE __keyevent@%u__:expired", c->db)))
			goto cleanup;
		c->evicted = c->prof.can_evict;
		if (c->evicted &&
		    ps_redis_ok(c->sub, "SUBSCRIBE",
				redisCommand(c->sub, "SUBSCRIBE __keyevent@%u__:evicted", c->db)))
			goto cleanup;
	}
	if (announce)
		printf("subscribed to %s\n", c->all_events ?
		       "every keyevent (a Unix socket or modules: writes no packet shows)" :
		       c->evicted ? "expired and evicted events" : "expired events");
	set_exact(c);
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	if (ret)
		disconnect(c);
	return ret;
}

/* Redis looked at again (every PROFILE_EVERY_MS, and after a REVOKE):
 * a change of class is a new subscription (-1: reconnect) */
static int look_at_redis(struct coh *c)
{
	struct ps_redis_prof p;

	c->last_prof_ns = ps_mono_ns();
	if (ps_redis_profile(c->ctl, &p))
		return -1;
	if ((p.unixsocket || p.modules) != c->all_events ||
	    (!c->all_events && p.can_evict != c->evicted) ||
	    (!strchr(p.notify, 'E') || (!strchr(p.notify, 'x') && !strchr(p.notify, 'A')))) {
		printf("Redis changed (%s): subscribing again\n",
		       p.unixsocket || p.modules ? "a Unix socket or modules" :
		       p.can_evict != c->evicted ? "eviction" : "notify-keyspace-events");
		fflush(stdout);
		return -1;
	}
	c->prof = p;
	if (!p.master && !c->said_replica) {
		printf("Redis is %s: no lease, nothing answered\n", p.why);
		fflush(stdout);
	}
	c->said_replica = !p.master;
	set_exact(c);
	return 0;
}

/* A REPLICAOF, MODULE or CONFIG SET was seen (PS_LEASE_REVOKE): once it
 * is answered, look at Redis; acknowledged when it is a master without
 * modules (the cache flushed if it was not before: the data may be
 * another's now). */
static int revoke_if_asked(struct coh *c)
{
	__u64 rv = lease_get(c, PS_LEASE_REVOKE);
	bool was_master = c->prof.master && !c->prof.modules;

	if (rv == lease_get(c, PS_LEASE_REVOKE_ACK) || !quiet(c, NULL))
		return 0;
	if (look_at_redis(c))
		return -1;
	if (!c->prof.master || c->prof.modules)
		return 0;
	/* a replica become master again: its data came by replication */
	if (!was_master)
		flush(c, true);
	lease_put(c, PS_LEASE_REVOKE_ACK, rv);
	return 0;
}

/* A wall clock step moves every Redis expiry against our clock: every
 * TTL learnt again. The offset for absolute TTLs kept current. */
static void clock_check(struct coh *c)
{
	__u64 off = ps_clock_off();
	__s64 d = (__s64)(off - c->clock_off);

	if (c->clock_off && (d > (__s64)CLOCK_STEP_NS || d < -(__s64)CLOCK_STEP_NS)) {
		printf("the wall clock stepped by %lld us: every TTL learnt again\n",
		       (long long)d / 1000);
		fflush(stdout);
		c->queue_lost = true;
	}
	c->clock_off = off;
	lease_put(c, PS_LEASE_CLOCK_OFF, off);
}

/* The side path on every interface there is: one that appeared is
 * covered, and what was written through it before, flushed. */
static void interfaces_check(struct coh *c)
{
	char names[256];
	int before = ps_side_check(c->t, false, names, sizeof(names)), after;

	if (before <= 0) {
		c->uncovered = before < 0;
		return;
	}
	after = ps_side_check(c->t, true, NULL, 0);
	c->uncovered = after != 0;
	if (after < before) {
		flush(c, true);
		c->covered += before - (after > 0 ? after : 0);
		printf("side path: covered %s (appeared after attach)\n", names);
		fflush(stdout);
	}
	if (after)
		ps_err("side path: cannot cover %s: no lease", names);
}

/* the value of field `name=` in a CLIENT LIST line, into out */
static int client_field(const char *line, const char *name, char *out, size_t n)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), " %s=", name);
	p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	e = strpbrk(p, " \n");
	snprintf(out, n, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return 0;
}

/* Redis's side of a connection: at a command boundary, nothing owed (a
 * CLIENT LIST line): nothing buffered (qbuf, argv-mem: arguments of a
 * command not yet whole), no reply waiting (obl, oll), not in MULTI, not
 * blocked, not subscribed, not a monitor or a replica */
static bool client_idle(const char *line)
{
	static const char *const zero[] = { "qbuf", "argv-mem", "obl", "oll" };
	char v[64];

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (client_field(line, zero[i], v, sizeof(v)) || strcmp(v, "0"))
			return false;
	if (client_field(line, "multi", v, sizeof(v)) || strcmp(v, "-1"))
		return false;
	return !client_field(line, "flags", v, sizeof(v)) && !strpbrk(v, "bPOMSx");
}

/* "ip:port" or "[ip6]:port" (CLIENT LIST's) into a side-path address */
static int parse_addr(const char *t, __u32 a[4], __u16 *port_be)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(t, ':');
	unsigned port;

	if (!colon || (size_t)(colon - t) >= sizeof(ip) || sscanf(colon + 1, "%u", &port) != 1)
		return -1;
	snprintf(ip, sizeof(ip), "%.*s", (int)(colon - t), t);
	memset(a, 0, 16);
	*port_be = htons((__u16)port);
	if (ip[0] == '[') {
		ip[strlen(ip) - 1] = 0;
		return inet_pton(AF_INET6, ip + 1, a) == 1 ? 0 : -1;
	}
	a[2] = htonl(0xffff);
	return inet_pton(AF_INET, ip, &a[3]) == 1 ? 0 : -1;
}

#define LOST_MAX 256

/*
 * Connections the side path does not follow (open before attach), from
 * Redis's CLIENT LIST: one Redis shows at a command boundary is handed
 * to BPF to follow from its next command. One already lost (its writes
 * flushing, no fill) if the client sent no byte while we looked
 * (ps_side_resync); one not seen yet is put in the table ahead of its
 * first segment (PS_SF_AHEAD: BPF_NOEXIST, so that a segment that came
 * meanwhile wins). BPF checks the socket and the '*' itself. A closed
 * connection's entry (PS_SF_DEAD, kept until BPF deletes it) is none of
 * these. Returns the connections still lost (-1: the connection to Redis).
 */
static int follow_lost(struct coh *c)
{
	struct ps_side_key k, next, *prev = NULL, lost[LOST_MAX];
	__u32 at[LOST_MAX];
	struct ps_side_flow f;
	redisReply *r;
	char *text, *line, *save = NULL;
	unsigned n = 0;
	int still = 0;

	if (c->side_flows < 0)
		return 0;
	while (!bpf_map_get_next_key(c->side_flows, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(c->side_flows, &k, &f) &&
		    (f.flags & (PS_SF_LOST | PS_SF_REP_LOST | PS_SF_AHEAD | PS_SF_DEAD)) ==
		    PS_SF_LOST && n < LOST_MAX) {
			lost[n] = k;
			at[n++] = f.cli_nxt;
		}
	}
	r = redisCommand(c->ctl, "CLIENT LIST TYPE normal");
	if (!r || r->type != REDIS_REPLY_STRING) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	text = strdup(r->str);
	freeReplyObject(r);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char a[80], la[80];
		unsigned i;

		memset(&k, 0, sizeof(k));
		if (client_field(line, "addr", a, sizeof(a)) ||
		    client_field(line, "laddr", la, sizeof(la)) ||
		    parse_addr(a, k.cli, &k.cli_port) || parse_addr(la, k.srv, &k.srv_port) ||
		    ntohs(k.srv_port) != c->port || !client_idle(line))
			continue;
		for (i = 0; i < n; i++)
			if (!memcmp(&lost[i], &k, sizeof(k)))
				break;
		if (i < n) {
			struct ps_side_resync rs = { .cli_seq = at[i] };

			/* nothing arrived while we looked */
			if (!bpf_map_lookup_elem(c->side_flows, &k, &f) && f.cli_nxt == at[i] &&
			    (f.flags & (PS_SF_LOST | PS_SF_DEAD)) == PS_SF_LOST)
				bpf_map_update_elem(c->side_resync, &k, &rs, BPF_ANY);
			continue;
		}
		/* followed already; or closed, its entry not yet deleted:
		 * the update below could not take it, and its tuple's next
		 * segment reopens it (lost, if not its SYN) */
		if (!bpf_map_lookup_elem(c->side_flows, &k, &f))
			continue;
		if (k.cli[2] == htonl(0xffff) && c->maps->flows >= 0) {
			struct ps_flow_key fk = { .cli_addr = k.cli[3], .srv_addr = k.srv[3],
						  .cli_port = k.cli_port, .srv_port = k.srv_port };
			struct ps_flow xf;

			if (!bpf_map_lookup_elem(c->maps->flows, &fk, &xf))
				continue;   /* XDP's */
		}
		memset(&f, 0, sizeof(f));
		f.flags = PS_SF_LOST | PS_SF_AHEAD;
		bpf_map_update_elem(c->side_flows, &k, &f, BPF_NOEXIST);
	}
	free(text);
	for (unsigned i = 0; i < n; i++)
		still += !bpf_map_lookup_elem(c->side_flows, &lost[i], &f) &&
			 (f.flags & (PS_SF_LOST | PS_SF_DEAD)) == PS_SF_LOST;
	return still;
}

/* netlink: links appearing in the namespace (-1: none) */
static int netlink_open(void)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	return fd;
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
	if (m->elements == 3 && !strcmp(m->element[0]->str, "message") &&
	    !strcmp(m->element[1]->str, TRACK_CHANNEL)) {
		/* tracking (all events): a nil invalidation is a flush */
		if (m->element[2]->type == REDIS_REPLY_NIL) {
			c->events++;
			flush(c, true);
		}
		return;
	}
	/* message, __keyevent@N__:expired|evicted, key; or pmessage,
	 * pattern, __keyevent@N__:<event>, key (all events) */
	key = m->element[m->elements - 1];
	if (key->type != REDIS_REPLY_STRING)
		return;
	c->events++;
	if (!ps_cache_key_build(&k, key->str, key->len)) {
		int r;

		/* with every event, any write: not filled until learnt */
		if (c->all_events)
			ttl_unknown(c, &k);
		r = ps_invalidate_key(c->maps, &k);
		if (r < 0) {
			ps_err("cannot invalidate '%.*s': %s", (int)k.len, k.data,
			       strerror(errno));
			c->errors++;
		}
		c->deleted += r == 0;
		/* the key is gone (or changed): its TTL as Redis has it */
		queue_key(c, &k);
	}
}

static void report(const struct coh *c)
{
	printf("events %ld, cached keys invalidated %ld, flushes %ld, reconnects %ld, "
	       "TTLs learnt %ld (keys handed over %ld, full scans %ld), interfaces covered "
	       "later %ld, lease renewals %ld\n",
	       c->events, c->deleted, c->flushes, c->reconnects, c->ttls, c->asked,
	       c->rescans, c->covered, c->renewals);
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

/* Subscribed, every TTL learnt, interfaces covered, Redis acknowledged:
 * 0, or -1 (the connection). Filling stopped meanwhile, resumed after. */
static int start(struct coh *c, bool announce)
{
	__u64 lost = lease_get(c, PS_LEASE_TTL_LOST), rv = lease_get(c, PS_LEASE_REVOKE);

	if (subscribe(c, announce))
		return -1;
	flush(c, false);
	clock_check(c);
	interfaces_check(c);
	/* connections open before attach: followed from their next command */
	c->lost_conns = follow_lost(c);
	if (c->lost_conns < 0 || scan_ttls(c))
		return -1;
	lease_put(c, PS_LEASE_TTL_SEEN, lost);
	if (c->prof.master && !c->prof.modules)
		lease_put(c, PS_LEASE_REVOKE_ACK, rv);
	flush(c, true);
	return 0;
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
		.t = &call->t,
		.nl = -1,
		.side_flows = -1,
		.side_resync = -1,
	};
	char path[PATH_MAX];
	time_t last = time(NULL);
	struct ps_config cfg;
	int ret = 1, ring_fd = -1;

	if (ps_config_read(&call->maps, &cfg) || ps_netns_enter(call->t.netns))
		goto cleanup;
	c.fill = cfg.flags & PS_CFG_FILL;
	snprintf(path, sizeof(path), "%s/ps_ttl_ask", call->t.dir);
	ring_fd = bpf_obj_get(path);
	c.rb = ring_fd >= 0 ? ring_buffer__new(ring_fd, on_ask, &c, NULL) : NULL;
	if (!c.rb) {
		ps_err("cannot open %s: %s", path, strerror(errno));
		goto cleanup;
	}
	c.nl = netlink_open();
	snprintf(path, sizeof(path), "%s/ps_side_flows", call->t.dir);
	c.side_flows = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/ps_side_resync", call->t.dir);
	c.side_resync = bpf_obj_get(path);
	if (c.side_resync < 0 && c.side_flows >= 0) {
		close(c.side_flows);
		c.side_flows = -1;
	}
	if (start(&c, true)) {
		ps_err("cannot subscribe on %s", redis);
		goto cleanup;
	}
	printf("watching db %u on %s: expiry, eviction, TTLs to confirm, Redis itself, "
	       "new interfaces\n", c.db, redis);
	fflush(stdout);
	ps_stop_on_signals();

	while (!ps_stop) {
		struct pollfd pfd[3] = {
			{ .fd = c.sub->fd, .events = POLLIN },
			{ .fd = ring_buffer__epoll_fd(c.rb), .events = POLLIN },
			{ .fd = c.nl, .events = POLLIN },
		};
		void *rep = NULL;
		int n, lost = 0;

		/* a PING every LEASE_EVERY_MS, once the clock and the
		 * interfaces are looked at: it proves what it found */
		if (ps_mono_ns() - c.last_ping_ns >= LEASE_EVERY_MS * NS_PER_MS) {
			clock_check(&c);
			interfaces_check(&c);
			send_ping(&c, c.prof.master && !c.uncovered);
		}
		if (ps_mono_ns() - c.last_prof_ns >= PROFILE_EVERY_MS * NS_PER_MS &&
		    look_at_redis(&c))
			lost = 1;
		/* connections not followed: every lease round while there are
		 * some (their writes flush, nothing is filled), else each second */
		if (!lost && (c.lost_conns || ps_mono_ns() - c.last_follow_ns >=
			      PROFILE_EVERY_MS * NS_PER_MS) &&
		    ps_mono_ns() - c.last_follow_ns >= LEASE_EVERY_MS * NS_PER_MS) {
			c.last_follow_ns = ps_mono_ns();
			c.lost_conns = follow_lost(&c);
			if (c.lost_conns < 0)
				lost = 1;
		}
		n = poll(pfd, c.nl >= 0 ? 3 : 2, c.queued ? 1 : 10);
		if (n < 0 && errno != EINTR) {
			ps_err("poll: %s", strerror(errno));
			c.errors++;
			break;
		}
		if (n > 0 && (pfd[2].revents & POLLIN)) {
			char buf[8192];

			while (recv(c.nl, buf, sizeof(buf), 0) > 0)
				;
			interfaces_check(&c);
		}
		ring_buffer__consume(c.rb);
		if (!lost && (drain_queue(&c) || rescan_if_asked(&c) || revoke_if_asked(&c)))
			lost = 1;
		if (lost || (n > 0 && (pfd[0].revents & POLLIN) &&
			     redisBufferRead(c.sub) != REDIS_OK)) {
			/* nothing can be seen now: no cache until we are back */
			flush(&c, false);
			ps_err("connection lost or Redis changed (%s): cache flushed, filling "
			       "stopped; connecting again", c.sub && c.sub->err ? c.sub->errstr :
			       "-");
			disconnect(&c);
			c.ping_head = c.ping_n = 0;
			c.queued = 0;
			c.queue_lost = false;
			while (!ps_stop && start(&c, false)) {
				struct timespec ts = { 0, 250 * 1000 * 1000 };

				disconnect(&c);
				nanosleep(&ts, NULL);
			}
			if (ps_stop)
				break;
			c.reconnects++;
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
	ret = c.errors ? 1 : 0;
cleanup:
	/* stopped while Redis was away or its TTLs were being learnt: filling
	 * back as it was (with the lease on, XDP answers nothing anyway) */
	if (c.stopped_fill && c.fill && ps_config_update(c.maps->config, -1, PS_CFG_FILL, 0, NULL)) {
		ps_err("cannot switch filling back on: %s", strerror(errno));
		ret = 1;
	}
	disconnect(&c);
	ring_buffer__free(c.rb);
	if (ring_fd >= 0)
		close(ring_fd);
	if (c.nl >= 0)
		close(c.nl);
	if (c.side_flows >= 0)
		close(c.side_flows);
	if (c.side_resync >= 0)
		close(c.side_resync);
	return ret;
}

const struct ps_cmd ps_cmd_coherence = {
	.name = "coherence",
	.summary = "the coherence watcher: what no packet shows (expiry, eviction, ...)",
	.description =
		"Keep the cache coherent with what no packet shows. Writes over TCP are\n"
		"invalidated by XDP and the side path before Redis reads them; this\n"
		"watcher subscribes to the keyspace events of expiry (and eviction when\n"
		"maxmemory-policy can evict; it adds those classes to\n"
		"notify-keyspace-events), learns the TTLs the requests did not settle\n"
		"(PTTL once their writes are answered) and every TTL again when asked\n"
		"(SCAN), looks at Redis (a replica gets no lease; with a Unix socket or\n"
		"modules every keyspace event is taken, as their writes show in no\n"
		"packet), covers interfaces that appear with the side path, and renews\n"
		"the lease XDP answers under by a PING every 100 ms whose PONG proves\n"
		"every earlier event applied; a lease lasts 300 ms. If the connection\n"
		"drops (Redis restarted), the cache is flushed and not filled until it\n"
		"is back. Runs until Ctrl-C; counts every 10 s. It connects from inside\n"
		"--netns.",
	.opts = coherence_opts,
	.opts_size = sizeof(struct coherence_opts),
	.defaults = &coherence_defaults,
	.target = PS_TGT_ONE,
	.maps = PS_MAP_CONFIG | PS_MAP_CACHE | PS_MAP_EPOCHS | PS_MAP_TTL | PS_MAP_LEASE |
		PS_MAP_INFLIGHT | PS_MAP_FLOWS,
	.run = coherence_run,
};
