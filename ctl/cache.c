// SPDX-License-Identifier: GPL-2.0
/* cache.c - cache set|get|del|flush|list|warm. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "opts.h"
#include "redis.h"

struct cache_opts {
	struct ps_hostport redis;
	const char *match, *password;
	__u32 max;
	bool json;
	const struct cache_sub *sub;  /* the subcommand, found by cache_check */
};

/* a key or value of the command line into an entry of the current
 * generation; the key's epoch moves first; -1 after a message */
/* expires_ns: the key's expiry (CLOCK_MONOTONIC), 0 for none */
static int cache_put(const struct ps_maps *m, const void *key, size_t klen,
		     const void *val, size_t vlen, __u64 expires_ns)
{
	static struct ps_cache_big_val bv; /* 16 KB: not on the stack */
	struct ps_config cfg;
	struct ps_cache_val v;
	struct ps_cache_key k;
	bool big = vlen > PS_SMALL_VAL_MAX;

	if (ps_cache_key_build(&k, key, klen) || ps_config_read(m, &cfg) ||
	    (big ? ps_cache_big_val_build(&bv, val, vlen, cfg.cache_gen, PS_FILL_USER) :
		   ps_cache_val_build(&v, val, vlen, cfg.cache_gen, PS_FILL_USER)))
		return -1;
	v.expires_ns = expires_ns;
	bv.expires_ns = expires_ns;
	/* the TTL first: a fill after the epoch moves reads it; a value in
	 * the other map (the other size class) goes */
	if ((expires_ns && bpf_map_update_elem(m->ttl, &k, &expires_ns, BPF_ANY)) ||
	    ps_epoch_bump(m->epochs, &k) ||
	    ((big ? ps_cache_del(m->cache, &k) : ps_big_del(m->cache_big, &k)) &&
	     errno != ENOENT) ||
	    (big ? ps_big_put(m->cache_big, &k, &bv) : ps_cache_put(m->cache, m->present, &k, &v))) {
		ps_err("cannot insert '%.*s': %s", (int)klen, (const char *)key, strerror(errno));
		return -1;
	}
	return 0;
}

static int cache_set(struct ps_call *c, const struct cache_opts *o)
{
	(void)o;
	return cache_put(&c->maps, c->argv[1], strlen(c->argv[1]), c->argv[2],
			 strlen(c->argv[2]), 0) ? 1 : 0;
}

static int cache_get(struct ps_call *c, const struct cache_opts *o)
{
	static struct ps_cache_big_val bv;
	struct ps_cache_key k;
	struct ps_cache_val v;
	struct ps_config cfg;
	const __u8 *reply;
	__u32 gen, rlen, vlen;

	(void)o;
	if (ps_config_read(&c->maps, &cfg))
		return 1;
	ps_cache_key_build(&k, c->argv[1], strlen(c->argv[1]));
	if (!ps_cache_get(c->maps.cache, &k, &v)) {
		gen = v.gen, rlen = v.reply_len, vlen = v.val_len, reply = v.reply;
		if (rlen > PS_REPLY_MAX)
			rlen = 0;
	} else if (!ps_big_get(c->maps.cache_big, &k, &bv)) {
		gen = bv.gen, rlen = bv.reply_len, vlen = bv.val_len, reply = bv.reply;
		if (rlen > PS_BIG_REPLY_MAX)
			rlen = 0;
	} else {
		rlen = 0, gen = cfg.cache_gen, vlen = 0, reply = NULL;
	}
	if (!rlen || gen != cfg.cache_gen || rlen < vlen + 4) {
		ps_err("%s: not cached", c->argv[1]);
		return 1;
	}
	/* the value sits between "$<n>\r\n" and the final "\r\n" */
	fwrite(reply + (rlen - vlen - 2), 1, vlen, stdout);
	putchar('\n');
	return 0;
}

static int cache_del(struct ps_call *c, const struct cache_opts *o)
{
	struct ps_cache_key k;
	int r;

	(void)o;
	ps_cache_key_build(&k, c->argv[1], strlen(c->argv[1]));
	r = ps_invalidate_key(&c->maps, &k);
	if (r < 0)
		ps_err("%s: cannot move its epoch: %s", c->argv[1], strerror(errno));
	else if (r)
		ps_err("%s: not cached", c->argv[1]);
	return r ? 1 : 0;
}

/* flush: bump the generation (entries of an older one miss) and drop all */
static int cache_flush(struct ps_call *c, const struct cache_opts *o)
{
	struct ps_config cfg;
	long n;

	(void)o;
	if (ps_config_update(c->maps.config, -1, 0, 0, &cfg)) {
		ps_err("cannot bump the cache generation: %s", strerror(errno));
		return 1;
	}
	n = ps_map_clear(c->maps.cache, sizeof(ps_cache_mkey));
	if (n >= 0) {
		long nb = ps_map_clear(c->maps.cache_big, sizeof(ps_big_mkey));

		n = nb < 0 ? nb : n + nb;
	}
	/* the bits last: a bit cleared under a new entry costs it a miss */
	if (n >= 0 && ps_present_clear(c->maps.present))
		n = -1;
	if (n < 0) {
		ps_err("generation %u is new, but the old entries could not be deleted: %s",
		       cfg.cache_gen, strerror(errno));
		return 1;
	}
	printf("flushed %ld entries (generation %u)\n", n, cfg.cache_gen);
	return 0;
}

/* the entry at map key mk of ps_cache (a hash: the key is the one the
 * entry holds) or at big_mk of ps_cache_big (the key itself) as the
 * header fields of a ps_cache_val (reply not copied) and its key k; -1
 * if it is gone */
static int entry_head(const struct ps_maps *m, const ps_cache_mkey *mk,
		      const ps_big_mkey *big_mk, struct ps_cache_val *v,
		      struct ps_cache_key *k)
{
	static struct ps_cache_big_val bv;

	if (!big_mk) {
		if (bpf_map_lookup_elem(m->cache, mk, v) || v->key.len > PS_KEY_MAX)
			return -1;
		*k = v->key;
		return 0;
	}
	if (bpf_map_lookup_elem(m->cache_big, big_mk, &bv))
		return -1;
	*k = *big_mk;
	v->gen = bv.gen;
	v->val_len = bv.val_len;
	v->source = bv.source;
	v->filled_ns = bv.filled_ns;
	return 0;
}

/* one entry of the listing, if it is of the current generation */
static void list_entry(const struct cache_opts *o, const struct ps_config *cfg,
		       const struct timespec *now, const struct ps_cache_key *k,
		       const struct ps_cache_val *v, int *n)
{
	double age;

	if (v->gen != cfg->cache_gen)
		return;
	age = ((double)now->tv_sec * 1e9 + (double)now->tv_nsec - (double)v->filled_ns) / 1e9;
	if (o->json) {
		printf("%s{\"key\":", *n ? "," : "");
		ps_json_str(stdout, k->data, k->len);
		printf(",\"len\":%u,\"source\":\"%s\",\"age_s\":%.3f}", v->val_len,
		       v->source == PS_FILL_TC ? "tc" : "user", age);
	} else {
		printf("%-40.*s %5u bytes  %-4s  %.1fs\n", (int)k->len, k->data,
		       v->val_len, v->source == PS_FILL_TC ? "tc" : "user", age);
	}
	(*n)++;
}

static int cache_list(struct ps_call *c, const struct cache_opts *o)
{
	ps_cache_mkey mk, next;
	ps_big_mkey bmk, bnext;
	struct ps_cache_key k;
	struct ps_cache_val v;
	struct ps_config cfg;
	struct timespec now;
	bool first;
	int n = 0;

	if (ps_config_read(&c->maps, &cfg))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (o->json)
		printf("[");
	/* ps_cache (keyed by hash: the key is the entry's), then ps_cache_big */
	for (first = true; !bpf_map_get_next_key(c->maps.cache, first ? NULL : &mk, &next);
	     first = false) {
		mk = next;
		if (!entry_head(&c->maps, &mk, NULL, &v, &k))
			list_entry(o, &cfg, &now, &k, &v, &n);
	}
	for (first = true; !bpf_map_get_next_key(c->maps.cache_big, first ? NULL : &bmk, &bnext);
	     first = false) {
		bmk = bnext;
		if (!entry_head(&c->maps, NULL, &bmk, &v, &k))
			list_entry(o, &cfg, &now, &k, &v, &n);
	}
	if (o->json)
		printf("]\n");
	else
		printf("%d entries\n", n);
	return 0;
}

static int cache_warm(struct ps_call *c, const struct cache_opts *o)
{
	long loaded = 0, big = 0, ttl = 0, notstr = 0, gone = 0;
	__u64 now, exp;
	redisContext *rc = NULL;
	redisReply *r = NULL;
	char cursor[32] = "0";
	int ret = 1;

	if (ps_netns_enter(c->t.netns))
		goto cleanup;
	rc = ps_redis_connect(o->redis.host, o->redis.port, 5, o->password, false);
	if (!rc)
		goto cleanup;
	do {
		r = ps_redis_reply(rc, "SCAN", redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor,
						      o->match), REDIS_REPLY_ARRAY);
		if (!r)
			goto cleanup;
		if (r->elements != 2) {
			ps_err("SCAN failed: %zu elements in its reply", r->elements);
			goto cleanup;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && loaded < o->max; i++) {
			redisReply *kr = r->element[1]->element[i], *t, *v;

			if (kr->len == 0 || kr->len > PS_KEY_MAX) {
				big++;
				continue;
			}
			/* a key with a TTL is copied with its expiry, a little
			 * early on our clock (as the coherence watcher takes it) */
			now = ps_mono_ns();
			redisAppendCommand(rc, "PTTL %b", kr->str, kr->len);
			redisAppendCommand(rc, "GET %b", kr->str, kr->len);
			t = v = NULL;
			if (redisGetReply(rc, (void **)&t) != REDIS_OK ||
			    redisGetReply(rc, (void **)&v) != REDIS_OK) {
				ps_err("lost %s: %s", o->redis.text, rc->errstr);
				if (t)
					freeReplyObject(t);
				goto cleanup;
			}
			exp = t && t->type == REDIS_REPLY_INTEGER && t->integer >= 0 ?
			      ps_ttl_expiry(now, t->integer) : 0;
			if (!t || t->type != REDIS_REPLY_INTEGER || t->integer == -2 ||
			    (exp && exp <= ps_mono_ns() + PS_TTL_MARGIN_NS))
				gone++;
			else if (!v || v->type != REDIS_REPLY_STRING)
				notstr++;
			else if (v->len > PS_VAL_MAX)
				big++;
			else if (!cache_put(&c->maps, kr->str, kr->len, v->str, v->len, exp)) {
				loaded++;
				ttl += exp != 0;
			}
			if (t)
				freeReplyObject(t);
			if (v)
				freeReplyObject(v);
		}
		freeReplyObject(r);
		r = NULL;
	} while (strcmp(cursor, "0") && loaded < o->max);
	printf("warmed %ld keys from %s, %ld of them with a TTL (skipped: %ld over the size "
	       "limits, %ld not strings, %ld gone or about to expire)\n",
	       loaded, o->redis.text, ttl, big, notstr, gone);
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	if (rc)
		redisFree(rc);
	return ret;
}

struct cache_sub {
	const char *name;
	int nargs;              /* words, the subcommand's included */
	bool key, value;        /* argv[1] is a key, argv[2] a value */
	int (*run)(struct ps_call *c, const struct cache_opts *o);
};

static const struct cache_sub cache_subs[] = {
	{ "set", 3, true, true, cache_set },
	{ "get", 2, true, false, cache_get },
	{ "del", 2, true, false, cache_del },
	{ "flush", 1, false, false, cache_flush },
	{ "list", 1, false, false, cache_list },
	{ "warm", 1, false, false, cache_warm },
};

static int cache_check(const struct ps_call *c, void *opts)
{
	struct cache_opts *o = opts;
	const struct cache_sub *s = NULL;

	for (size_t i = 0; i < sizeof(cache_subs) / sizeof(cache_subs[0]); i++)
		if (!strcmp(c->argv[0], cache_subs[i].name))
			s = &cache_subs[i];
	if (!s) {
		ps_err("unknown subcommand '%s'", c->argv[0]);
		return -1;
	}
	if (c->argc != s->nargs) {
		ps_err("%s: wrong number of arguments", s->name);
		return -1;
	}
	if ((s->key && (!*c->argv[1] || strlen(c->argv[1]) > PS_KEY_MAX)) ||
	    (s->value && strlen(c->argv[2]) > PS_VAL_MAX)) {
		if (s->value)
			ps_err("%s: key must be 1..%d bytes, value 0..%d bytes", s->name,
			       PS_KEY_MAX, PS_VAL_MAX);
		else
			ps_err("%s: key must be 1..%d bytes", s->name, PS_KEY_MAX);
		return -1;
	}
	if (s->run == cache_warm && !o->redis.text) {
		ps_err("warm: --redis HOST:PORT is required");
		return -1;
	}
	o->sub = s;
	return 0;
}

static int cache_run(struct ps_call *c, void *opts)
{
	const struct cache_opts *o = opts;

	return o->sub->run(c, o);
}

static const struct cache_opts cache_defaults = {
	.match = "*",
	.max = PS_CACHE_ENTRIES,
};

static const struct ps_opt cache_opts[] = {
	PS_OPT("json", 'j', PS_OPT_FLAG, NULL, struct cache_opts, json,
	       "list: one JSON array of objects"),
	PS_OPT("redis", 'r', PS_OPT_HOSTPORT, "HOST:PORT", struct cache_opts, redis,
	       "warm: the Redis to copy from"),
	PS_OPT("match", 'M', PS_OPT_STR, "PATTERN", struct cache_opts, match,
	       "warm: only keys matching PATTERN"),
	PS_OPT("max", 'x', PS_OPT_U32, "N", struct cache_opts, max,
	       "warm: at most N keys", .min = 1, .max = PS_CACHE_ENTRIES),
	PS_OPT("password", 'P', PS_OPT_STR, "P", struct cache_opts, password,
	       "warm: AUTH with P"),
	{}
};

const struct ps_cmd ps_cmd_cache = {
	.name = "cache",
	.summary = "cache set|get|del|flush|list|warm",
	.args = "set KEY VALUE | get KEY | del KEY | flush | list | warm",
	.description =
		"Keys are 1.." PS_STR(PS_KEY_MAX) " bytes, values 0.." PS_STR(PS_VAL_MAX)
		" bytes. set and del move\n"
		"the key's invalidation epoch (a fill in flight for it is dropped);\n"
		"flush bumps the cache generation. warm copies string keys without a\n"
		"TTL from Redis (connecting from inside --netns).",
	.opts = cache_opts,
	.opts_size = sizeof(struct cache_opts),
	.defaults = &cache_defaults,
	.target = PS_TGT_ONE,
	.maps = PS_MAP_CACHE | PS_MAP_EPOCHS | PS_MAP_CONFIG | PS_MAP_TTL,
	.min_args = 1,
	.max_args = 3,
	.check = cache_check,
	.run = cache_run,
};
