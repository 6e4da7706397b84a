// SPDX-License-Identifier: GPL-2.0
/*
 * cmdtable.c - Redis's own command table (COMMAND) into the ps_cmds map,
 * so that what the XDP program invalidates follows the server it fronts
 * (modules, new versions) instead of a hand list:
 *   write, with key arguments (or movablekeys) -> write: every argument
 *                                that fits a cache key is invalidated
 *   write without key arguments -> flush (FLUSHALL, FLUSHDB, SWAPDB, ...)
 *   readonly                    -> read
 *   admin                       -> flush (DEBUG RELOAD, REPLICAOF, CONFIG
 *                                SET maxmemory: keys change unnamed)
 *   movablekeys, neither        -> flush (EVAL, FCALL: scripts)
 *   anything else               -> read (PING, PUBLISH, ...)
 * A container (CONFIG, OBJECT, FUNCTION, ...) takes the strongest class of
 * its subcommands. Commands the BPF side handles specially (GET, SET, AUTH,
 * SELECT, MULTI/EXEC, TTL setters, EVAL, ...) keep their built-in class.
 * Quirk: PFCOUNT is flagged readonly but rewrites the HyperLogLog's cached
 * cardinality in the value's bytes, so a GET after it differs: a write.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <bpf/bpf.h>
#include "common.h"
#include "cachefmt.h"
#include "redis.h"

static int has_flag(const redisReply *flags, const char *name)
{
	size_t i;

	if (!flags || flags->type != REDIS_REPLY_ARRAY)
		return 0;
	for (i = 0; i < flags->elements; i++) {
		const redisReply *f = flags->element[i];

		if ((f->type == REDIS_REPLY_STATUS || f->type == REDIS_REPLY_STRING) &&
		    !strcasecmp(f->str, name))
			return 1;
	}
	return 0;
}

/*
 * Admin subcommands that change no key. Redis flags CONFIG GET exactly as
 * CONFIG SET (admin, noscript, loading, stale), so the flags cannot tell
 * a read from a SET maxmemory that evicts; these are known reads. Every
 * other admin entry flushes. redis-benchmark opens with CONFIG GET save.
 */
static const char *const admin_reads[] = {
	"config|get", "config|help", "slowlog|get", "slowlog|len", "slowlog|help",
	"latency|latest", "latency|history", "latency|doctor", "latency|help",
	"module|list", "module|help",
};

static bool is_admin_read(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(admin_reads) / sizeof(admin_reads[0]); i++)
		if (!strcasecmp(name, admin_reads[i]))
			return true;
	return false;
}

/* PS_CLASS_* of one COMMAND entry by its own flags, 0 if malformed */
static __u32 flags_class(const redisReply *e)
{
	const redisReply *flags, *first;
	__u32 cls = PS_CLASS_READ;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 6 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return 0;
	flags = e->element[2];
	first = e->element[3];
	if (has_flag(flags, "write"))
		cls = (first->type == REDIS_REPLY_INTEGER && first->integer > 0) ||
		      has_flag(flags, "movablekeys") ? PS_CLASS_WRITE : PS_CLASS_FLUSH;
	else if (has_flag(flags, "readonly"))
		cls = PS_CLASS_READ;
	else if ((has_flag(flags, "admin") && !is_admin_read(e->element[0]->str)) ||
		 has_flag(flags, "movablekeys"))
		cls = PS_CLASS_FLUSH;
	if (!strcasecmp(e->element[0]->str, "pfcount"))
		cls = PS_CLASS_WRITE;
	return cls;
}

/* Redis >= 7: element 9 of an entry lists its subcommands */
static const redisReply *subcommands(const redisReply *e)
{
	if (e->elements >= 10 && e->element[9]->type == REDIS_REPLY_ARRAY &&
	    e->element[9]->elements)
		return e->element[9];
	return NULL;
}

/*
 * The class of one entry: its flags' class, or for a container whose
 * subcommands differ (CONFIG GET reads, CONFIG SET flushes), PS_CLASS_SUB,
 * the subcommands then stored on their own as "name|sub". A container
 * whose subcommand entries cannot all be stored takes the strongest.
 */
static __u32 entry_class(int map_fd, const redisReply *e,
			 struct ps_cmdtable_counts *n)
{
	const redisReply *subs = subcommands(e);
	__u32 cls = flags_class(e), lo = PS_CLASS_FLUSH, hi = 0, c;
	size_t i;

	if (!cls || !subs)
		return cls;
	for (i = 0; i < subs->elements; i++) {
		c = flags_class(subs->element[i]);
		if (!c)
			return PS_CLASS_FLUSH;
		lo = c < lo ? c : lo;
		hi = c > hi ? c : hi;
	}
	if (hi < cls)
		hi = cls;
	if (lo == hi)
		return hi;
	for (i = 0; i < subs->elements; i++) {
		const redisReply *sub = subs->element[i];
		struct ps_cmd_key k;

		c = flags_class(sub);
		/* a name over 16 bytes is never looked up: BPF flushes */
		if (ps_cmd_key_build(&k, sub->element[0]->str, sub->element[0]->len))
			continue;
		if (bpf_map_update_elem(map_fd, &k, &c, BPF_ANY))
			return hi;
		n->subcommands++;
	}
	return PS_CLASS_SUB;
}

int ps_cmdtable_load(int map_fd, __u32 port, const char *password,
		     struct ps_cmdtable_counts *n)
{
	redisContext *rc = ps_redis_connect("127.0.0.1", port, 2, password, true);
	redisReply *r = NULL;
	int ret = -1;
	size_t i;

	memset(n, 0, sizeof(*n));
	if (!rc)
		goto cleanup;
	r = redisCommand(rc, "COMMAND");
	if (!r || r->type != REDIS_REPLY_ARRAY)
		goto cleanup;
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		struct ps_cmd_key k;
		__u32 cls;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 6 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		cls = entry_class(map_fd, e, n);
		/* longer names are writes in BPF anyway (never looked up) */
		if (!cls || ps_cmd_key_build(&k, e->element[0]->str, e->element[0]->len)) {
			n->skipped++;
			continue;
		}
		if (bpf_map_update_elem(map_fd, &k, &cls, BPF_ANY)) {
			ps_err("cannot store command %s in ps_cmds: %s",
			       e->element[0]->str, strerror(errno));
			n->skipped++;
			continue;
		}
		n->total++;
		n->read += cls == PS_CLASS_READ;
		n->write += cls == PS_CLASS_WRITE;
		n->flush += cls == PS_CLASS_FLUSH;
		n->containers += cls == PS_CLASS_SUB;
	}
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	if (rc)
		redisFree(rc);
	return ret;
}
