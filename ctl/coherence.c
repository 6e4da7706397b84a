// SPDX-License-Identifier: GPL-2.0
/*
 * coherence.c - keep the cache coherent with writes XDP never sees (other
 * interfaces, loopback clients, expiry, eviction, scripts): subscribe to
 * Redis keyspace notifications and invalidate every key an event names,
 * the way the XDP program does (epoch bump, then delete). Runs until
 * Ctrl-C.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include "common.h"
#include "cachefmt.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prestack coherence --redis HOST:PORT [--db N] [--dev IF] [--netns NS]\n"
		"\n"
		"Subscribe to Redis keyspace notifications (__keyevent@N__:*) and\n"
		"invalidate each key an event names: writes by other clients, expiry,\n"
		"eviction. Enables notify-keyspace-events \"KEA\" in Redis if it is off.\n"
		"Runs until Ctrl-C; one line of counts every 10 s.\n");
}

int cmd_coherence(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "redis", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL, *redis = NULL;
	struct timeval tv = { 5, 0 };
	redisContext *rc = NULL;
	struct ps_target t;
	char host[256], *colon;
	long events = 0, deleted = 0;
	int c, cache_fd, epoch_fd, vol_fd, ret = 1;
	__u32 port = 0, db = 0;
	time_t last = time(NULL);

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:r:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'r': redis = optarg; break;
		case 'b':
			if (ps_parse_u32(optarg, 0, 65535, &db)) {
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
	    ps_parse_u32(colon + 1, 1, 65535, &port)) {
		fprintf(stderr, "prestack coherence: --redis HOST:PORT is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	memcpy(host, redis, (size_t)(colon - redis));
	host[colon - redis] = 0;
	if (ps_target_find(&t, netns, dev))
		return 1;
	cache_fd = ps_pin_open(&t, "ps_cache", sizeof(struct ps_cache_val));
	epoch_fd = ps_pin_open(&t, "ps_epochs", sizeof(__u32));
	vol_fd = ps_pin_open(&t, "ps_volatile", sizeof(__u32));
	if (cache_fd < 0 || epoch_fd < 0 || vol_fd < 0 || ps_netns_enter(t.netns))
		return 1;

	rc = redisConnectWithTimeout(host, (int)port, tv);
	if (!rc || rc->err) {
		fprintf(stderr, "prestack coherence: cannot connect to %s: %s\n", redis,
			rc ? rc->errstr : "out of memory");
		goto out;
	}
	{
		redisReply *r = redisCommand(rc, "CONFIG GET notify-keyspace-events");
		const char *cur = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ?
				  r->element[1]->str : "";

		/* we need keyevent ('E') for every class ('A' includes
		 * expired and evicted) */
		if (!strchr(cur, 'E') || !strchr(cur, 'A')) {
			redisReply *s = redisCommand(rc, "CONFIG SET notify-keyspace-events KEA");

			if (!s || s->type == REDIS_REPLY_ERROR) {
				fprintf(stderr, "prestack coherence: cannot enable keyspace events: %s\n",
					s ? s->str : rc->errstr);
				if (s)
					freeReplyObject(s);
				if (r)
					freeReplyObject(r);
				goto out;
			}
			printf("enabled notify-keyspace-events KEA (was \"%s\")\n", cur);
			freeReplyObject(s);
		}
		if (r)
			freeReplyObject(r);
	}
	{
		redisReply *r = redisCommand(rc, "PSUBSCRIBE __keyevent@%u__:*", db);

		if (!r || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "prestack coherence: PSUBSCRIBE failed\n");
			if (r)
				freeReplyObject(r);
			goto out;
		}
		freeReplyObject(r);
	}
	printf("watching db %u on %s: invalidating keys written behind XDP's back\n", db, redis);
	fflush(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	while (!stop) {
		struct pollfd pfd = { .fd = rc->fd, .events = POLLIN };
		void *rep = NULL;
		int n = poll(&pfd, 1, 500);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && redisBufferRead(rc) != REDIS_OK) {
			fprintf(stderr, "prestack coherence: connection lost: %s\n", rc->errstr);
			goto out;
		}
		while (redisGetReplyFromReader(rc, &rep) == REDIS_OK && rep) {
			redisReply *m = rep;

			/* pmessage, pattern, channel (__keyevent@0__:set), key */
			if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 &&
			    m->element[3]->type == REDIS_REPLY_STRING) {
				const redisReply *key = m->element[3];
				struct ps_cache_key k;

				events++;
				if (!ps_cache_key_build(&k, key->str, key->len)) {
					const redisReply *ch = m->element[2];
					__u32 one = 1;

					/* a TTL set behind XDP's back: never fill it */
					if (ch->type == REDIS_REPLY_STRING && ch->len > 7 &&
					    !strcmp(ch->str + ch->len - 7, ":expire"))
						bpf_map_update_elem(vol_fd, &k, &one, BPF_ANY);
					if (!ps_invalidate_key(cache_fd, epoch_fd, &k))
						deleted++;
				}
			}
			freeReplyObject(rep);
			rep = NULL;
		}
		if (time(NULL) - last >= 10) {
			printf("events %ld, cached keys invalidated %ld\n", events, deleted);
			fflush(stdout);
			last = time(NULL);
		}
	}
	printf("events %ld, cached keys invalidated %ld\n", events, deleted);
	ret = 0;
out:
	if (rc)
		redisFree(rc);
	return ret;
}
