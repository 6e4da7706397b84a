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

/* PS_CLASS_* of one COMMAND entry (or subcommand entry), 0 if malformed */
static __u32 entry_class(const redisReply *e)
{
	const redisReply *flags, *first;
	__u32 cls = PS_CLASS_READ;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 6)
		return 0;
	flags = e->element[2];
	first = e->element[3];
	if (has_flag(flags, "write"))
		cls = (first->type == REDIS_REPLY_INTEGER && first->integer > 0) ||
		      has_flag(flags, "movablekeys") ? PS_CLASS_WRITE : PS_CLASS_FLUSH;
	else if (has_flag(flags, "readonly"))
		cls = PS_CLASS_READ;
	else if (has_flag(flags, "admin") || has_flag(flags, "movablekeys"))
		cls = PS_CLASS_FLUSH;
	if (e->element[0]->type == REDIS_REPLY_STRING &&
	    !strcasecmp(e->element[0]->str, "pfcount"))
		cls = PS_CLASS_WRITE;

	/* Redis >= 7: element 9 lists subcommands */
	if (e->elements >= 10 && e->element[9]->type == REDIS_REPLY_ARRAY) {
		const redisReply *subs = e->element[9];
		size_t i;

		for (i = 0; i < subs->elements; i++) {
			__u32 c = entry_class(subs->element[i]);

			if (c > cls)
				cls = c;
		}
	}
	return cls;
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
		cls = entry_class(e);
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
	}
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	if (rc)
		redisFree(rc);
	return ret;
}
