/* SPDX-License-Identifier: GPL-2.0 */
/*
 * commands.h - what a Redis command may do to the cache, by name: a
 * built-in table of the commands handled specially (GET, AUTH, SELECT,
 * MULTI, TTLs, ...) with a read/write guess for the rest, overridden by
 * Redis's own command table (ps_cmds, loaded by the control tool at
 * attach). Names are compared packed into two words, upper-cased.
 */
#ifndef PS_COMMANDS_H
#define PS_COMMANDS_H

#include "helpers.h"

enum ps_cmd {
	PS_CMD_NONE = 0,
	PS_CMD_GET,
	PS_CMD_READ,     /* cannot modify a key */
	PS_CMD_WRITE,    /* may modify its arguments (every arg that could be a key is invalidated) */
	PS_CMD_FLUSH,    /* may modify keys we cannot see: flush the cache */
	PS_CMD_SELECT,
	PS_CMD_MULTI,
	PS_CMD_EXEC,     /* EXEC: queued writes happen now -> flush */
	PS_CMD_DISCARD,
	PS_CMD_UNTRUST,  /* changes how replies pair with requests */
	PS_CMD_CLIENT,   /* CLIENT REPLY OFF|SKIP untrusts, other CLIENT reads */
	PS_CMD_SPLIT,    /* name split across segments: treat as FLUSH */
	PS_CMD_AUTH,     /* AUTH or HELLO: its reply says whether the flow may be answered */
	PS_CMD_TTL,      /* a write that may change arg 1's TTL: unknown until learnt */
	PS_CMD_SET,      /* a write; with options (PX, EX, KEEPTTL...) a TTL too */
	PS_CMD_TTL_DST,  /* RENAME/COPY: arg 2 takes arg 1's value and TTL */
	PS_CMD_QUIT,     /* Redis replies +OK and closes: nothing after it is answered */
	PS_CMD_SUBCMD,   /* a container (CONFIG, OBJECT, ...) whose subcommands differ:
			  * argument 1 decides (ps_classify_sub) */
	PS_CMD_BLOCK,    /* may block (BLPOP, XREAD ... BLOCK, WAIT): a write for
			  * the cache; replies after it wait for it, so no GET
			  * of its segment is cut (docs/pipelines.md) */
};

/* Pack an upper-cased command name of up to 16 bytes into two words. */
#define PS_C(s, i) ((i) < sizeof(s) - 1 ? (__u64)(__u8)(s)[i] << (8 * ((i) & 7)) : 0)
#define PS_W0(s) (PS_C(s, 0) | PS_C(s, 1) | PS_C(s, 2) | PS_C(s, 3) | \
		  PS_C(s, 4) | PS_C(s, 5) | PS_C(s, 6) | PS_C(s, 7))
#define PS_W1(s) (PS_C(s, 8) | PS_C(s, 9) | PS_C(s, 10) | PS_C(s, 11) | \
		  PS_C(s, 12) | PS_C(s, 13) | PS_C(s, 14) | PS_C(s, 15))
#define IS(s) (n == sizeof(s) - 1 && w0 == PS_W0(s) && w1 == PS_W1(s))

/* The built-in table: the commands whose handling is special (GET, AUTH,
 * SELECT, MULTI, TTLs, ...) and a read/write guess for the rest. */
static __always_inline int ps_classify_builtin(__u64 w0, __u64 w1, __u32 n)
{
	if (IS("GET"))
		return PS_CMD_GET;
	/* the commonest write, before the long list of reads */
	if (IS("SET"))
		return PS_CMD_SET;
	/* cannot modify any key */
	if (IS("MGET") || IS("EXISTS") || IS("STRLEN") || IS("GETRANGE") ||
	    IS("SUBSTR") || IS("TTL") || IS("PTTL") || IS("EXPIRETIME") ||
	    IS("PEXPIRETIME") || IS("TYPE") || IS("PING") || IS("ECHO") ||
	    IS("INFO") || IS("DBSIZE") || IS("TIME") ||
	    IS("COMMAND") || IS("SCAN") ||
	    IS("KEYS") || IS("RANDOMKEY") || IS("LRANGE") || IS("LLEN") ||
	    IS("LINDEX") || IS("LPOS") || IS("HGET") || IS("HMGET") ||
	    IS("HGETALL") || IS("HLEN") || IS("HEXISTS") || IS("HKEYS") ||
	    IS("HVALS") || IS("HSTRLEN") || IS("HSCAN") || IS("SMEMBERS") ||
	    IS("SISMEMBER") || IS("SMISMEMBER") || IS("SCARD") ||
	    IS("SSCAN") || IS("SRANDMEMBER") || IS("ZRANGE") ||
	    IS("ZSCORE") || IS("ZMSCORE") || IS("ZCARD") || IS("ZRANK") ||
	    IS("ZREVRANK") || IS("ZCOUNT") || IS("ZSCAN") || IS("XRANGE") ||
	    IS("XREVRANGE") || IS("XLEN") || IS("WATCH") ||
	    IS("UNWATCH") || IS("OBJECT") || IS("DUMP") || IS("LASTSAVE") ||
	    IS("ROLE") || IS("MEMORY") || IS("SLOWLOG") || IS("LATENCY") ||
	    IS("BITCOUNT") || IS("GETBIT") || IS("BITPOS") || IS("LCS") ||
	    IS("SINTER") || IS("SUNION") || IS("SDIFF") || IS("TOUCH") ||
	    IS("GEOPOS") || IS("GEODIST") || IS("GEOHASH"))
		return PS_CMD_READ;
	/* may modify keys that are not among its arguments */
	if (IS("FLUSHDB") || IS("FLUSHALL") || IS("SWAPDB") || IS("EVAL") ||
	    IS("EVALSHA") || IS("EVAL_RO") || IS("EVALSHA_RO") ||
	    IS("FCALL") || IS("FCALL_RO") || IS("MIGRATE") || IS("DEBUG") ||
	    IS("RESTORE-ASKING") || IS("SCRIPT") || IS("FUNCTION"))
		return PS_CMD_FLUSH;
	if (IS("AUTH") || IS("HELLO"))
		return PS_CMD_AUTH;
	if (IS("SETEX") || IS("PSETEX") || IS("EXPIRE") || IS("PEXPIRE") ||
	    IS("EXPIREAT") || IS("PEXPIREAT") || IS("GETEX") || IS("RESTORE") ||
	    IS("PERSIST"))
		return PS_CMD_TTL;
	if (IS("RENAME") || IS("RENAMENX") || IS("COPY"))
		return PS_CMD_TTL_DST;
	if (IS("BLPOP") || IS("BRPOP") || IS("BLMOVE") || IS("BRPOPLPUSH") ||
	    IS("BLMPOP") || IS("BZPOPMIN") || IS("BZPOPMAX") || IS("BZMPOP") ||
	    IS("XREAD") || IS("XREADGROUP") || IS("WAIT") || IS("WAITAOF"))
		return PS_CMD_BLOCK;
	if (IS("SELECT"))
		return PS_CMD_SELECT;
	if (IS("QUIT"))
		return PS_CMD_QUIT;
	if (IS("MULTI"))
		return PS_CMD_MULTI;
	if (IS("EXEC"))
		return PS_CMD_EXEC;
	if (IS("DISCARD"))
		return PS_CMD_DISCARD;
	if (IS("SUBSCRIBE") || IS("PSUBSCRIBE") || IS("SSUBSCRIBE") ||
	    IS("MONITOR") || IS("RESET") || IS("SYNC") || IS("PSYNC") ||
	    IS("REPLCONF"))
		return PS_CMD_UNTRUST;
	if (IS("CLIENT"))
		return PS_CMD_CLIENT;
	/* CONFIG GET reads, CONFIG SET may evict: the subcommand decides
	 * (without Redis's table in ps_cmds, every CONFIG flushes) */
	if (IS("CONFIG"))
		return PS_CMD_SUBCMD;
	/* everything else, known writes and unknown commands alike */
	return PS_CMD_WRITE;
}
#undef IS

/*
 * Special commands keep their built-in class; for the others Redis's own
 * table (ps_cmds, loaded at attach) decides read, write or flush when it
 * has the command, else the built-in guess stands (unknown: a write).
 * Global (not static): the verifier checks it once, not at every call.
 */
__noinline int ps_classify(__u64 w0, __u64 w1, __u32 n)
{
	int c = ps_classify_builtin(w0, w1, n);
	struct ps_cmd_key k = { .w0 = w0, .w1 = w1, .n = n };
	__u32 *cls;

	if (c != PS_CMD_READ && c != PS_CMD_WRITE)
		return c;
	cls = bpf_map_lookup_elem(&ps_cmds, &k);
	if (!cls)
		return c;
	if (*cls == PS_CLASS_READ)
		return PS_CMD_READ;
	if (*cls == PS_CLASS_FLUSH)
		return PS_CMD_FLUSH;
	if (*cls == PS_CLASS_SUB)
		return PS_CMD_SUBCMD;
	return PS_CMD_WRITE;
}

/* Upper-case n <= 16 bytes of base[(off + i) & mask] into two words. */
static __always_inline void ps_pack_upper(const __u8 *base, __u32 off,
					  __u32 mask, __u32 n, __u64 *w0,
					  __u64 *w1)
{
	__u64 a = 0, b = 0;
	__u32 i;

	for (i = 0; i < 16; i++) {
		__u8 c;

		if (i >= n)
			break;
		c = base[(off + i) & mask];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (i < 8)
			a |= (__u64)c << (8 * i);
		else
			b |= (__u64)c << (8 * (i - 8));
	}
	*w0 = a;
	*w1 = b;
}

#endif
