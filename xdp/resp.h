/* SPDX-License-Identifier: GPL-2.0 */
/*
 * resp.h - RESP stream parsers run with bpf_loop, one step per call:
 *   requests (client -> server, XDP, scratch entry 0): count commands,
 *     find plain "GET key" commands, invalidate keys of writes;
 *   replies  (server -> client, TC, scratch entry 1): count top-level
 *     replies (so "pending" is exact) and find a bulk string to fill from.
 * Both keep their state in the flow across segments (guarded) or start
 * afresh in every segment (naive, like BMC).
 */
#ifndef PS_RESP_H
#define PS_RESP_H

#include "scratch.h"

enum ps_rq_state {
	PS_RQ_IDLE = 0,   /* between commands */
	PS_RQ_NARGS,      /* digits after '*' */
	PS_RQ_NARGS_LF,
	PS_RQ_DOLLAR,     /* expect '$' */
	PS_RQ_ARGLEN,     /* digits after '$' */
	PS_RQ_ARGLEN_LF,
	PS_RQ_ARG,        /* argument bytes + CRLF, rq.left to go */
	PS_RQ_INLINE,     /* inline command: up to '\n' */
};

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
	PS_CMD_TTL,      /* a write that gives arg 1 a TTL: never fill that key */
	PS_CMD_SET,      /* a write; with options (PX, EX, KEEPTTL...) a TTL too */
};

enum ps_rp_state {
	PS_RP_TYPE = 0,
	PS_RP_LINE,      /* simple string / error / integer ...: up to '\n' */
	PS_RP_NUM,       /* length or count after $ * % ~ = ! */
	PS_RP_NUM_LF,
	PS_RP_BULK,      /* rp.num bytes left (payload + CRLF) */
};

#define PS_NUM_MAX 536870912u /* Redis's proto-max-bulk-len default (512 MB) */

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
	/* cannot modify any key */
	if (IS("MGET") || IS("EXISTS") || IS("STRLEN") || IS("GETRANGE") ||
	    IS("SUBSTR") || IS("TTL") || IS("PTTL") || IS("EXPIRETIME") ||
	    IS("PEXPIRETIME") || IS("TYPE") || IS("PING") || IS("ECHO") ||
	    IS("INFO") || IS("DBSIZE") || IS("TIME") ||
	    IS("COMMAND") || IS("CONFIG") || IS("SCAN") ||
	    IS("KEYS") || IS("RANDOMKEY") || IS("LRANGE") || IS("LLEN") ||
	    IS("LINDEX") || IS("LPOS") || IS("HGET") || IS("HMGET") ||
	    IS("HGETALL") || IS("HLEN") || IS("HEXISTS") || IS("HKEYS") ||
	    IS("HVALS") || IS("HSTRLEN") || IS("HSCAN") || IS("SMEMBERS") ||
	    IS("SISMEMBER") || IS("SMISMEMBER") || IS("SCARD") ||
	    IS("SSCAN") || IS("SRANDMEMBER") || IS("ZRANGE") ||
	    IS("ZSCORE") || IS("ZMSCORE") || IS("ZCARD") || IS("ZRANK") ||
	    IS("ZREVRANK") || IS("ZCOUNT") || IS("ZSCAN") || IS("XRANGE") ||
	    IS("XREVRANGE") || IS("XLEN") || IS("QUIT") || IS("WATCH") ||
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
	if (IS("SET"))
		return PS_CMD_SET;
	if (IS("SETEX") || IS("PSETEX") || IS("EXPIRE") || IS("PEXPIRE") ||
	    IS("EXPIREAT") || IS("PEXPIREAT") || IS("GETEX") || IS("RESTORE"))
		return PS_CMD_TTL;
	if (IS("SELECT"))
		return PS_CMD_SELECT;
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

/* Keep the bytes of a command name that continues in the next segment. */
static __always_inline void rq_collect_name(struct ps_scratch *s,
					    struct ps_req_parser *rq,
					    __u32 pos, __u32 avail)
{
	__u32 i, have = rq->name_have, data_left;

	if (rq->arg_idx != 0 || rq->arg_len > 16)
		return;
	/* rq->left counts the CRLF too */
	data_left = rq->left > 2 ? rq->left - 2 : 0;
	for (i = 0; i < 16; i++) {
		if (i >= avail || i >= data_left || have >= 16)
			break;
		rq->name[have & 15] = s->buf[(pos + i) & PS_BUF_MASK];
		have++;
	}
	rq->name_have = have;
}

/* FNV-1a over the key bytes; the control tool computes the same. */
static __always_inline __u32 ps_key_hash(const struct ps_cache_key *k)
{
	__u32 h = 2166136261u;
	__u32 i;

	for (i = 0; i < PS_KEY_MAX; i++) {
		if (i >= k->len)
			break;
		h ^= k->data[i];
		h *= 16777619u;
	}
	return h;
}

static __always_inline void ps_epoch_bump(const struct ps_cache_key *k)
{
	__u32 slot = ps_key_hash(k) & (PS_EPOCH_SLOTS - 1);
	__u32 *e = bpf_map_lookup_elem(&ps_epochs, &slot);

	if (e)
		__sync_fetch_and_add(e, 1);
}

/* Build a zero-padded cache key from len bytes of buf at off. */
static __always_inline int ps_key_from_buf(struct ps_cache_key *k,
					   struct ps_scratch *s, __u32 off,
					   __u32 len)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (len == 0 || len > PS_KEY_MAX)
		return -1;
	BOUND_1_TO(len, PS_KEY_MAX);
	k->len = len;
	/* probe_read: a variable-length copy out of a map value; the
	 * destination bound (len <= PS_KEY_MAX) is what the verifier checks */
	if (bpf_probe_read_kernel(k->data, len, &s->buf[off & PS_BUF_MASK]))
		return -1;
	return 0;
}

static __always_inline void ps_flush(struct ps_scratch *s)
{
	__u32 zero = 0;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);

	if (cfg)
		__sync_fetch_and_add(&cfg->cache_gen, 1);
	s->flushes++;
}

static __always_inline void ps_invalidate(struct ps_scratch *s, __u32 off,
					  __u32 len, int volatile_key)
{
	struct ps_cache_key k;
	__u32 one = 1;

	if (ps_key_from_buf(&k, s, off, len))
		return;
	if (volatile_key)
		bpf_map_update_elem(&ps_volatile, &k, &one, BPF_ANY);
	/* the epoch moves even if the key is not cached: a fill that is
	 * in flight for it must not land */
	ps_epoch_bump(&k);
	if (bpf_map_delete_elem(&ps_cache, &k) == 0)
		s->invalidated++;
}

static __always_inline int ps_upper_is_reply(struct ps_scratch *s, __u32 off)
{
	__u64 w0, w1;

	ps_pack_upper(s->buf, off, PS_BUF_MASK, 5, &w0, &w1);
	return w0 == PS_W0("REPLY");
}

/* An argument is complete; it was entirely in this segment if arg_vis. */
static __always_inline void rq_arg_done(struct ps_scratch *s,
					struct ps_req_parser *rq)
{
	__u32 idx = rq->arg_idx, off = s->arg_off, alen = rq->arg_len;
	int vis = s->arg_vis;

	if (idx == 0) {
		__u64 w0, w1;

		if (alen > 16) {
			rq->cmd = PS_CMD_WRITE;
			return;
		}
		if (!vis) {
			/* the name came in pieces, collected in rq->name */
			if (rq->name_have != alen) {
				rq->cmd = PS_CMD_SPLIT;
				if (!s->naive)
					ps_flush(s);
				return;
			}
			ps_pack_upper(rq->name, 0, 15, alen, &w0, &w1);
		} else {
			ps_pack_upper(s->buf, off, PS_BUF_MASK, alen, &w0, &w1);
		}
		rq->cmd = ps_classify(w0, w1, alen);
		if (rq->cmd == PS_CMD_FLUSH)
			ps_flush(s);
		else if (rq->cmd == PS_CMD_UNTRUST)
			s->rq_out |= RQO_UNTRUST;
		return;
	}

	switch (rq->cmd) {
	case PS_CMD_GET:
		if (idx == 1 && vis && alen >= 1 && alen <= PS_KEY_MAX) {
			s->cur_key_off = off;
			s->cur_key_len = alen;
		}
		break;
	case PS_CMD_CLIENT:
		if (idx == 1 && vis && alen == 5 && ps_upper_is_reply(s, off))
			s->rq_out |= RQO_UNTRUST;
		break;
	case PS_CMD_WRITE:
	case PS_CMD_SPLIT:
	case PS_CMD_SET:
	case PS_CMD_TTL:
		/* only an argument that fits a cache key can name a cached key */
		if (alen >= 1 && alen <= PS_KEY_MAX) {
			/* SET k v with options may set a TTL: conservative */
			int ttl = idx == 1 && (rq->cmd == PS_CMD_TTL ||
					       (rq->cmd == PS_CMD_SET && rq->nargs > 3));

			if (vis)
				ps_invalidate(s, off, alen, ttl);
			else if (!s->naive)
				ps_flush(s);
		}
		break;
	}
}

static __always_inline void rq_cmd_done(struct ps_scratch *s,
					struct ps_req_parser *rq)
{
	s->ncmds++;
	if (rq->cmd == PS_CMD_GET && rq->nargs == 2 && s->cur_key_len) {
		__u32 n = s->ngets;

		if (n < PS_MAX_CMDS) {
			s->key_off[n] = s->cur_key_off;
			s->key_len[n] = s->cur_key_len;
			s->ngets = n + 1;
		} else {
			s->rq_out |= RQO_TOO_MANY;
		}
	} else {
		s->rq_out |= RQO_OTHER;
	}
	switch (rq->cmd) {
	case PS_CMD_SELECT:
		s->rq_out |= RQO_SELECT;
		break;
	case PS_CMD_MULTI:
		s->multi_last = 1;
		break;
	case PS_CMD_EXEC:
		ps_flush(s);
		s->multi_last = 2;
		break;
	case PS_CMD_DISCARD:
		s->multi_last = 2;
		break;
	case PS_CMD_AUTH:
		s->auth_pos = s->ncmds;
		/* AUTH user pass, HELLO n AUTH user pass: a named ACL user may
		 * not be allowed the key; such a flow is never answered */
		if (rq->nargs >= 3)
			s->rq_out |= RQO_UNTRUST;
		break;
	}
	rq->state = PS_RQ_IDLE;
	rq->cmd = PS_CMD_NONE;
	s->cur_key_len = 0;
}

static __always_inline int rq_error(struct ps_scratch *s)
{
	s->rq_out |= RQO_ERROR;
	return 1;
}

/*
 * One step of the request parser. Global so that the verifier checks its
 * many branches once instead of once per state of every caller.
 */
__noinline int ps_rq_step(struct ps_scratch *s)
{
	__u32 pos, len;
	struct ps_req_parser *rq;
	__u8 c;

	if (!s)
		return 1;
	pos = s->pos;
	len = s->len;
	if (pos >= len || pos >= PS_PAYLOAD_MAX)
		return 1;
	rq = &s->rq;
	c = s->buf[pos & PS_BUF_MASK];

	switch (rq->state) {
	case PS_RQ_IDLE:
		if (c == '*') {
			rq->state = PS_RQ_NARGS;
			rq->left = 0;
			rq->cmd = PS_CMD_NONE;
			s->cur_key_len = 0;
		} else if (c != '\r' && c != '\n') {
			/* inline command: we do not parse those, so it may
			 * write anything */
			rq->state = PS_RQ_INLINE;
			s->rq_out |= RQO_OTHER;
			if (!s->naive)
				ps_flush(s);
		}
		break;
	case PS_RQ_NARGS:
	case PS_RQ_ARGLEN:
		if (c >= '0' && c <= '9') {
			if (rq->left > PS_NUM_MAX / 10)
				return rq_error(s);
			rq->left = rq->left * 10 + (c - '0');
		} else if (c == '\r') {
			rq->state++;
		} else {
			return rq_error(s);
		}
		break;
	case PS_RQ_NARGS_LF:
		if (c != '\n')
			return rq_error(s);
		rq->nargs = rq->left;
		rq->arg_idx = 0;
		/* "*0\r\n" is ignored by Redis: no command, no reply */
		rq->state = rq->nargs ? PS_RQ_DOLLAR : PS_RQ_IDLE;
		break;
	case PS_RQ_DOLLAR:
		if (c != '$')
			return rq_error(s);
		rq->state = PS_RQ_ARGLEN;
		rq->left = 0;
		break;
	case PS_RQ_ARGLEN_LF:
		if (c != '\n')
			return rq_error(s);
		rq->arg_len = rq->left;
		rq->left = rq->arg_len + 2;
		rq->state = PS_RQ_ARG;
		rq->name_have = 0;
		s->arg_off = pos + 1;
		s->arg_vis = 1;
		break;
	case PS_RQ_ARG: {
		__u32 avail = len - pos, end;

		if (rq->left > avail) {
			/* continues in the next segment; if only its LF does,
			 * this segment's last byte must be the CR (the check
			 * below cannot see it any more; found by the fuzzer) */
			if (rq->left - avail == 1 &&
			    s->buf[(len - 1) & PS_BUF_MASK] != '\r')
				return rq_error(s);
			rq_collect_name(s, rq, pos, avail);
			rq->left -= avail;
			s->arg_vis = 0;
			s->pos = len;
			return 1;
		}
		end = pos + rq->left;
		if (!s->arg_vis)
			rq_collect_name(s, rq, pos, avail); /* the last piece */
		if (s->buf[(end - 1) & PS_BUF_MASK] != '\n' ||
		    (rq->left >= 2 && s->buf[(end - 2) & PS_BUF_MASK] != '\r'))
			return rq_error(s);
		rq_arg_done(s, rq);
		s->pos = end;
		rq->arg_idx++;
		if (rq->arg_idx >= rq->nargs)
			rq_cmd_done(s, rq);
		else
			rq->state = PS_RQ_DOLLAR;
		return 0;
	}
	case PS_RQ_INLINE:
		if (c == '\n') {
			rq->cmd = PS_CMD_FLUSH;
			rq_cmd_done(s, rq);
		}
		break;
	default:
		return rq_error(s);
	}
	s->pos = pos + 1;
	return 0;
}

/* Little-endian constants of the canonical GET header "*2\r\n$3\r\nGET\r\n$". */
#define PS_GET_HDR8 0x0a0d33240a0d322aull /* "*2\r\n$3\r\n" */
#define PS_GET_HDR4 0x0d544547u           /* "GET\r" */
#define PS_GET_HDR2 0x240au               /* "\n$" */

static __always_inline __u64 ld64(const struct ps_scratch *s, __u32 off)
{
	return *(const __u64 *)&s->buf[off & PS_BUF_MASK];
}

/*
 * Fast path for what clients send: one or more "*2\r\n$3\r\nGET\r\n$<n>\r\n
 * <key>\r\n" back to back, from a command boundary, filling the segment
 * exactly. Fills ngets/ncmds/key_off/key_len as the general parser would
 * and returns 1; returns 0 (nothing changed) for anything else, which then
 * goes through the general parser. Global: verified once.
 */
__noinline int ps_fast_gets(struct ps_scratch *s)
{
	__u32 pos = 0, len, n = 0, i;

	if (!s)
		return 0;
	len = s->len;
	if (s->pos || s->rq.state != PS_RQ_IDLE || len > PS_PAYLOAD_MAX)
		return 0;
	for (i = 0; i < PS_MAX_CMDS; i++) {
		__u32 klen, d0, d1, koff;

		/* 14 header bytes, 1-2 length digits, CRLF, key, CRLF */
		if (pos + 20 > len || pos > PS_PAYLOAD_MAX - 32)
			return 0;
		if (ld64(s, pos) != PS_GET_HDR8 ||
		    *(const __u32 *)&s->buf[(pos + 8) & PS_BUF_MASK] != PS_GET_HDR4 ||
		    *(const __u16 *)&s->buf[(pos + 12) & PS_BUF_MASK] != PS_GET_HDR2)
			return 0;
		d0 = s->buf[(pos + 14) & PS_BUF_MASK];
		d1 = s->buf[(pos + 15) & PS_BUF_MASK];
		if (d0 < '1' || d0 > '9')
			return 0;
		if (d1 == '\r') {
			klen = d0 - '0';
			koff = pos + 17;
		} else if (d1 >= '0' && d1 <= '9' &&
			   s->buf[(pos + 16) & PS_BUF_MASK] == '\r') {
			klen = (d0 - '0') * 10 + (d1 - '0');
			koff = pos + 18;
		} else {
			return 0;
		}
		if (klen > PS_KEY_MAX || koff + klen + 2 > len ||
		    s->buf[(koff - 1) & PS_BUF_MASK] != '\n' ||
		    s->buf[(koff + klen) & PS_BUF_MASK] != '\r' ||
		    s->buf[(koff + klen + 1) & PS_BUF_MASK] != '\n')
			return 0;
		s->key_off[i & (PS_MAX_CMDS - 1)] = koff;
		s->key_len[i & (PS_MAX_CMDS - 1)] = klen;
		n++;
		pos = koff + klen + 2;
		if (pos == len) {
			s->ngets = n;
			s->ncmds = n;
			s->pos = len;
			return 1;
		}
	}
	return 0;
}

/* bpf_loop callback around ps_rq_step */
static long rq_step(__u32 i, void *unused)
{
	__u32 idx = PS_SCR_XDP;

	/* bpf_loop wants exactly 0 or 1 back */
	return ps_rq_step(bpf_map_lookup_elem(&ps_scratch, &idx)) ? 1 : 0;
}

/* ---- replies ---- */

static __always_inline void rp_top_done(struct ps_scratch *s,
					struct ps_rep_parser *rp, __u32 end,
					int scalar)
{
	s->replies++;
	if (s->auth_idx && s->rep_base + s->replies == s->auth_idx)
		s->auth_result = s->top_type == '-' ? 2 : 1;
	if (s->replies == 1) {
		s->first_off = s->top_start;
		s->first_len = s->top_start != ~0u ? end - s->top_start : 0;
		/* scalar: the reply itself just ended, not an aggregate */
		s->first_bulk = scalar && rp->type == '$' && !rp->neg;
		s->first_val_len = s->bulk_len;
	}
	s->top_start = ~0u;
}

static __always_inline void rp_elem_done(struct ps_scratch *s,
					 struct ps_rep_parser *rp, __u32 end)
{
	int d;

	rp->state = PS_RP_TYPE;
	for (d = 0; d <= PS_RP_DEPTH; d++) {
		__u32 i;

		if (rp->depth == 0) {
			rp_top_done(s, rp, end, d == 0);
			return;
		}
		i = (rp->depth - 1) & (PS_RP_DEPTH - 1);
		if (rp->left[i] > 1) {
			rp->left[i]--;
			return;
		}
		rp->left[i] = 0;
		rp->depth--;
	}
}

static __always_inline int rp_error(struct ps_scratch *s)
{
	s->rp_error = 1;
	return 1;
}

/* One step of the reply parser; global like ps_rq_step. */
__noinline int ps_rp_step(struct ps_scratch *s)
{
	__u32 pos, len;
	struct ps_rep_parser *rp;
	__u8 c;

	if (!s)
		return 1;
	pos = s->pos;
	len = s->len;
	if (pos >= len || pos >= PS_PAYLOAD_MAX)
		return 1;
	rp = &s->rp;
	c = s->buf[pos & PS_BUF_MASK];

	switch (rp->state) {
	case PS_RP_TYPE:
		if (rp->depth == 0) {
			s->top_start = pos;
			s->top_type = c;
		}
		rp->type = c;
		rp->num = 0;
		rp->neg = 0;
		switch (c) {
		case '+': case '-': case ':': case '_': case '#': case ',':
		case '(':
			rp->state = PS_RP_LINE;
			break;
		case '$': case '=': case '!': case '*': case '%': case '~':
			rp->state = PS_RP_NUM;
			break;
		default:
			/* '>' push and '|' attribute break request/reply
			 * pairing; anything else is not RESP */
			return rp_error(s);
		}
		break;
	case PS_RP_LINE:
		if (c == '\n')
			rp_elem_done(s, rp, pos + 1);
		break;
	case PS_RP_NUM:
		if (c == '-' && rp->num == 0 && !rp->neg) {
			rp->neg = 1;
		} else if (c >= '0' && c <= '9') {
			if (rp->num > PS_NUM_MAX / 10)
				return rp_error(s);
			rp->num = rp->num * 10 + (c - '0');
		} else if (c == '\r') {
			rp->state = PS_RP_NUM_LF;
		} else {
			return rp_error(s);
		}
		break;
	case PS_RP_NUM_LF:
		if (c != '\n')
			return rp_error(s);
		if (rp->type == '$' || rp->type == '=' || rp->type == '!') {
			if (rp->neg) {
				rp_elem_done(s, rp, pos + 1);
			} else {
				s->bulk_len = rp->num;
				rp->num += 2;
				rp->state = PS_RP_BULK;
			}
		} else if (rp->neg || rp->num == 0) {
			rp_elem_done(s, rp, pos + 1);
		} else {
			if (rp->depth >= PS_RP_DEPTH)
				return rp_error(s);
			rp->left[rp->depth & (PS_RP_DEPTH - 1)] =
				rp->type == '%' ? rp->num * 2 : rp->num;
			rp->depth++;
			rp->state = PS_RP_TYPE;
		}
		break;
	case PS_RP_BULK: {
		__u32 avail = len - pos;

		if (rp->num > avail) {
			rp->num -= avail;
			s->pos = len;
			return 1;
		}
		s->pos = pos + rp->num;
		rp_elem_done(s, rp, s->pos);
		return 0;
	}
	default:
		return rp_error(s);
	}
	s->pos = pos + 1;
	return 0;
}

/* bpf_loop callback around ps_rp_step */
static long rp_step(__u32 i, void *unused)
{
	__u32 idx = PS_SCR_TC;

	return ps_rp_step(bpf_map_lookup_elem(&ps_scratch, &idx)) ? 1 : 0;
}

#endif
