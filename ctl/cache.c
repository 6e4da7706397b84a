// SPDX-License-Identifier: GPL-2.0
/* cache.c - cache set|get|del|flush|list|warm. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <hiredis/hiredis.h>
#include "common.h"
#include "cachefmt.h"

struct cache_maps {
	int cache, epochs, config;
};

static void cache_usage(FILE *f)
{
	fprintf(f,
		"usage: prestack cache set KEY VALUE | get KEY | del KEY | flush | list [--json]\n"
		"                      | warm --redis HOST:PORT [--match PATTERN] [--max N] [--password P]\n"
		"       each also takes [--dev IF] [--netns NS]\n"
		"\n"
		"Keys are 1..%d bytes, values 0..%d bytes. set and del move the key's\n"
		"invalidation epoch (a fill in flight for it is dropped); flush bumps the\n"
		"cache generation. warm copies string keys without a TTL from Redis\n"
		"(connecting from inside --netns).\n", PS_KEY_MAX, PS_VAL_MAX);
}

static int open_maps(const struct ps_target *t, struct cache_maps *m)
{
	m->cache = ps_pin_open(t, "ps_cache", sizeof(struct ps_cache_val));
	m->epochs = ps_pin_open(t, "ps_epochs", sizeof(__u32));
	m->config = ps_pin_open(t, "ps_config", sizeof(struct ps_config));
	return m->cache < 0 || m->epochs < 0 || m->config < 0 ? -1 : 0;
}

static __u32 cache_gen(const struct cache_maps *m)
{
	struct ps_config c = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->config, &zero, &c);
	return c.cache_gen;
}

static int cache_put(const struct cache_maps *m, const void *key, size_t klen,
		     const void *val, size_t vlen)
{
	struct ps_cache_val v;
	struct ps_cache_key k;

	if (ps_cache_key_build(&k, key, klen) ||
	    ps_cache_val_build(&v, val, vlen, cache_gen(m), PS_FILL_USER))
		return -1;
	ps_epoch_bump(m->epochs, &k);
	return bpf_map_update_elem(m->cache, &k, &v, BPF_ANY);
}

/* flush: bump the generation (entries of an older one miss) and drop all */
static int cache_flush(const struct cache_maps *m)
{
	struct ps_cache_key k;
	struct ps_config c;
	long n = 0;

	if (ps_config_update(m->config, -1, 0, 0, &c))
		return -1;
	while (bpf_map_get_next_key(m->cache, NULL, &k) == 0) {
		bpf_map_delete_elem(m->cache, &k);
		n++;
	}
	printf("flushed %ld entries (generation %u)\n", n, c.cache_gen);
	return 0;
}

static int cache_list(const struct cache_maps *m, bool json)
{
	struct ps_cache_key k, next, *prev = NULL;
	struct ps_cache_val v;
	struct timespec now;
	__u32 gen = cache_gen(m);
	int n = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (json)
		printf("[");
	while (bpf_map_get_next_key(m->cache, prev, &next) == 0) {
		double age;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(m->cache, &k, &v) || v.gen != gen)
			continue;
		age = ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - (double)v.filled_ns) / 1e9;
		if (json) {
			printf("%s{\"key\":", n ? "," : "");
			ps_json_str(stdout, k.data, k.len);
			printf(",\"len\":%u,\"source\":\"%s\",\"age_s\":%.3f}", v.val_len,
			       v.source == PS_FILL_TC ? "tc" : "user", age);
		} else {
			printf("%-40.*s %5u bytes  %-4s  %.1fs\n", (int)k.len, k.data,
			       v.val_len, v.source == PS_FILL_TC ? "tc" : "user", age);
		}
		n++;
	}
	if (json)
		printf("]\n");
	else
		printf("%d entries\n", n);
	return 0;
}

static int parse_hostport(const char *s, char *host, size_t hn, int *port)
{
	const char *c = strrchr(s, ':');
	__u32 p;

	if (!c || c == s || (size_t)(c - s) >= hn || ps_parse_u32(c + 1, 1, 65535, &p))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	*port = (int)p;
	return 0;
}

static int cache_warm(const struct cache_maps *m, const char *redis,
		      const char *match, __u32 max, const char *password)
{
	long loaded = 0, big = 0, ttl = 0, notstr = 0;
	char host[256], cursor[32] = "0";
	struct timeval tv = { 5, 0 };
	redisContext *rc;
	int port, ret = 1;

	if (parse_hostport(redis, host, sizeof(host), &port)) {
		fprintf(stderr, "prestack cache warm: bad --redis '%s' (HOST:PORT)\n", redis);
		return EXIT_USAGE;
	}
	rc = redisConnectWithTimeout(host, port, tv);
	if (!rc || rc->err) {
		fprintf(stderr, "prestack cache warm: cannot connect to %s: %s\n", redis,
			rc ? rc->errstr : "out of memory");
		goto out;
	}
	redisSetTimeout(rc, tv);
	if (password) {
		redisReply *a = redisCommand(rc, "AUTH %s", password);

		if (!a || a->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "prestack cache warm: AUTH failed: %s\n", a ? a->str : rc->errstr);
			if (a)
				freeReplyObject(a);
			goto out;
		}
		freeReplyObject(a);
	}
	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, match);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			fprintf(stderr, "prestack cache warm: SCAN failed: %s\n",
				r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
			if (r)
				freeReplyObject(r);
			goto out;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && loaded < max; i++) {
			redisReply *kr = r->element[1]->element[i], *t, *v;

			if (kr->len == 0 || kr->len > PS_KEY_MAX) {
				big++;
				continue;
			}
			/* TTL keys expire where we cannot see it (issue 6) */
			t = redisCommand(rc, "PTTL %b", kr->str, kr->len);
			if (!t || t->type != REDIS_REPLY_INTEGER || t->integer != -1) {
				ttl++;
				if (t)
					freeReplyObject(t);
				continue;
			}
			freeReplyObject(t);
			v = redisCommand(rc, "GET %b", kr->str, kr->len);
			if (!v || v->type != REDIS_REPLY_STRING) {
				notstr++;
			} else if (v->len > PS_VAL_MAX) {
				big++;
			} else if (cache_put(m, kr->str, kr->len, v->str, v->len)) {
				fprintf(stderr, "prestack cache warm: insert failed: %s\n", strerror(errno));
			} else {
				loaded++;
			}
			if (v)
				freeReplyObject(v);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") && loaded < max);
	printf("warmed %ld keys from %s (skipped: %ld over the size limits, %ld with a TTL, %ld not strings)\n",
	       loaded, redis, big, ttl, notstr);
	ret = 0;
out:
	if (rc)
		redisFree(rc);
	return ret;
}

int cmd_cache(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "redis", required_argument, NULL, 'r' },
		{ "match", required_argument, NULL, 'M' },
		{ "max", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "password", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL, *redis = NULL, *match = "*", *sub;
	const char *password = NULL;
	__u32 max = PS_CACHE_ENTRIES;
	struct cache_maps m;
	struct ps_target t;
	bool json = false;
	int c, nargs;
	char **args;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+d:n:r:M:x:P:jh", opts, NULL)) != -1 ||
	       optind < argc) {
		if (c == -1) {
			/* a positional word: skip it and keep parsing options
			 * after it (cache set KEY VALUE --dev X) */
			optind++;
			continue;
		}
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'r': redis = optarg; break;
		case 'M': match = optarg; break;
		case 'x':
			if (ps_parse_u32(optarg, 1, PS_CACHE_ENTRIES, &max)) {
				fprintf(stderr, "prestack cache: bad --max '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'P': password = optarg; break;
		case 'h': cache_usage(stdout); return 0;
		default: cache_usage(stderr); return EXIT_USAGE;
		}
	}
	/* positional words, in order, wherever they stood */
	args = calloc((size_t)argc, sizeof(*args));
	if (!args)
		return 1;
	nargs = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			const char *o = argv[i] + (argv[i][1] == '-' ? 2 : 1);

			if (!strchr(o, '=') && (!strcmp(o, "dev") || !strcmp(o, "netns") ||
			    !strcmp(o, "redis") || !strcmp(o, "match") || !strcmp(o, "max") ||
			    !strcmp(o, "password") || !strcmp(o, "P") ||
			    !strcmp(o, "d") || !strcmp(o, "n") || !strcmp(o, "r") ||
			    !strcmp(o, "M") || !strcmp(o, "x")))
				i++; /* its value */
			continue;
		}
		args[nargs++] = argv[i];
	}
	if (!nargs) {
		cache_usage(stderr);
		free(args);
		return EXIT_USAGE;
	}
	sub = args[0];
#define NEED(n) do { if (nargs != (n)) { \
		fprintf(stderr, "prestack cache %s: wrong number of arguments\n", sub); \
		cache_usage(stderr); free(args); return EXIT_USAGE; } } while (0)
	if (!strcmp(sub, "set")) {
		NEED(3);
		if (!*args[1] || strlen(args[1]) > PS_KEY_MAX ||
		    strlen(args[2]) > PS_VAL_MAX) {
			fprintf(stderr, "prestack cache set: key must be 1..%d bytes, value 0..%d bytes\n",
				PS_KEY_MAX, PS_VAL_MAX);
			free(args);
			return EXIT_USAGE;
		}
	} else if (!strcmp(sub, "get") || !strcmp(sub, "del")) {
		NEED(2);
		if (!*args[1] || strlen(args[1]) > PS_KEY_MAX) {
			fprintf(stderr, "prestack cache %s: key must be 1..%d bytes\n", sub, PS_KEY_MAX);
			free(args);
			return EXIT_USAGE;
		}
	} else if (!strcmp(sub, "flush") || !strcmp(sub, "list")) {
		NEED(1);
	} else if (!strcmp(sub, "warm")) {
		NEED(1);
		if (!redis) {
			fprintf(stderr, "prestack cache warm: --redis HOST:PORT is required\n");
			free(args);
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "prestack cache: unknown subcommand '%s'\n", sub);
		cache_usage(stderr);
		free(args);
		return EXIT_USAGE;
	}

	c = 1;
	if (ps_target_find(&t, netns, dev) || open_maps(&t, &m))
		goto out;
	if (!strcmp(sub, "set")) {
		if (cache_put(&m, args[1], strlen(args[1]), args[2], strlen(args[2]))) {
			fprintf(stderr, "prestack cache set: %s\n", strerror(errno));
			goto out;
		}
		c = 0;
	} else if (!strcmp(sub, "get") || !strcmp(sub, "del")) {
		struct ps_cache_key k;
		struct ps_cache_val v;

		ps_cache_key_build(&k, args[1], strlen(args[1]));
		if (!strcmp(sub, "del")) {
			if (ps_invalidate_key(m.cache, m.epochs, &k)) {
				fprintf(stderr, "prestack cache del: %s: not cached\n", args[1]);
				goto out;
			}
			c = 0;
			goto out;
		}
		if (bpf_map_lookup_elem(m.cache, &k, &v) || v.gen != cache_gen(&m) ||
		    v.reply_len < v.val_len + 4 || v.reply_len > PS_REPLY_MAX) {
			fprintf(stderr, "prestack cache get: %s: not cached\n", args[1]);
			goto out;
		}
		/* the value sits between "$<n>\r\n" and the final "\r\n" */
		fwrite(v.reply + (v.reply_len - v.val_len - 2), 1, v.val_len, stdout);
		putchar('\n');
		c = 0;
	} else if (!strcmp(sub, "flush")) {
		c = cache_flush(&m) ? 1 : 0;
	} else if (!strcmp(sub, "list")) {
		c = cache_list(&m, json);
	} else {
		if (ps_netns_enter(t.netns))
			goto out;
		c = cache_warm(&m, redis, match, max, password);
	}
out:
	free(args);
	return c;
}
