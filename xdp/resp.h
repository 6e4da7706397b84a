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
#include "parsing.h"
#include "commands.h"
#include "cache.h"

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

enum ps_rp_state {
	PS_RP_TYPE = 0,
	PS_RP_LINE,      /* simple string / error / integer ...: up to '\n' */
	PS_RP_NUM,       /* length or count after $ * % ~ = ! */
	PS_RP_NUM_LF,
	PS_RP_BULK,      /* rp.num bytes left (payload + CRLF) */
};

#define PS_NUM_MAX 536870912u /* Redis's proto-max-bulk-len default (512 MB) */

/*
 * rq->numf: Redis reads a count ("*<n>\r") or a length ("$<n>\r") with
 * string2ll, which takes "0", or an optional '-' then 1-9 then digits, and
 * nothing else: no '+', no leading zero, no "-0", not empty. The parser
 * checks the same byte by byte. Redis skips the byte after that CR, and
 * the two after an argument, unread; so does the parser.
 */
#define PS_RQN_DIGIT 1 /* a digit was seen */
#define PS_RQN_NEG   2 /* a '-' was seen (counts only: "*-1" is no command) */
#define PS_RQN_ZERO  4 /* the first digit was 0: nothing may follow it */
#define PS_RQN_WORD  1 /* (inline) a byte that is not space was seen */

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

static __always_inline int ps_upper_is_reply(struct ps_scratch *s, __u32 off)
{
	__u64 w0, w1;

	ps_pack_upper(s->buf, off, PS_BUF_MASK, 5, &w0, &w1);
	return w0 == PS_W0("REPLY");
}

/*
 * A container's subcommand (argument 1 of a PS_CMD_SUBCMD command, alen
 * bytes at off in s->buf): its class from ps_cmds, where the control tool
 * stored "NAME|SUB" (CONFIG|GET reads, CONFIG|SET flushes). A name that
 * does not fit 16 bytes or is not there takes the strongest class, a
 * flush. Global: verified once, not inside every parser step.
 */
__noinline int ps_classify_sub(struct ps_scratch *s, __u32 off, __u32 alen)
{
	struct ps_cmd_key k = {};
	__u64 a, b, c;
	__u32 i, n, pos, *cls;

	if (!s)
		return PS_CMD_FLUSH;
	n = s->sub_n;
	if (n == 0 || n > 14 || alen == 0 || alen > 15 - n)
		return PS_CMD_FLUSH;
	a = s->sub_w0;
	b = s->sub_w1;
	for (i = 0; i < 16; i++) {
		if (i > alen)
			break;
		c = i ? s->buf[(off + i - 1) & PS_BUF_MASK] : '|';
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		pos = (n + i) & 15;
		if (pos < 8)
			a |= c << (8 * pos);
		else
			b |= c << (8 * (pos - 8));
	}
	k.w0 = a;
	k.w1 = b;
	k.n = n + 1 + alen;
	cls = bpf_map_lookup_elem(&ps_cmds, &k);
	if (!cls || *cls == PS_CLASS_FLUSH)
		return PS_CMD_FLUSH;
	return *cls == PS_CLASS_READ ? PS_CMD_READ : PS_CMD_WRITE;
}

/* ---- TTLs read from the requests (cache.h: ttl_settle) ---- */

/* rq->ttl.kind: the commands whose arguments say what becomes of a TTL,
 * or after which the watcher must look (RELOAD, REVOKE) */
enum ps_ttl_kind {
	PS_TK_NONE = 0,
	PS_TK_SET,       /* SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT n | KEEPTTL] */
	PS_TK_SETEX,     /* SETEX key seconds value */
	PS_TK_PSETEX,    /* PSETEX key milliseconds value */
	PS_TK_EXPIRE,    /* EXPIRE key seconds [NX|XX|GT|LT]... */
	PS_TK_PEXPIRE,   /* PEXPIRE key milliseconds [...] */
	PS_TK_EXPIREAT,  /* EXPIREAT key unix-seconds [...] */
	PS_TK_PEXPIREAT, /* PEXPIREAT key unix-milliseconds [...] */
	PS_TK_PERSIST,   /* PERSIST key */
	PS_TK_GETEX,     /* GETEX key [EX|PX|EXAT|PXAT n | PERSIST] */
	PS_TK_RESTORE,   /* RESTORE key ttl value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] */
	PS_TK_SCRIPT,    /* EVAL, EVALSHA, FCALL script numkeys key...: the keys it names */
	PS_TK_RELOAD,    /* SWAPDB, DEBUG, RESTORE-ASKING: any TTL may change */
	PS_TK_REVOKE,    /* REPLICAOF, SLAVEOF, FAILOVER, MODULE, CONFIG SET: the
			  * watcher must look at Redis again before anything
			  * is answered */
	PS_TK_DST,       /* (records only) RENAME's, COPY's destination: takes
			  * the source's TTL */
};

/* rq->ttl.opt: the expiry option */
enum ps_ttl_opt {
	PS_TO_NONE = 0,
	PS_TO_EX,        /* relative seconds */
	PS_TO_PX,        /* relative milliseconds */
	PS_TO_EXAT,      /* unix seconds */
	PS_TO_PXAT,      /* unix milliseconds */
	PS_TO_KEEPTTL,
	PS_TO_PERSIST,
};

/* rq->ttl.want: what the next argument is */
enum ps_ttl_want {
	PS_TW_OPT = 0,   /* an option */
	PS_TW_NUM,       /* the expiry option's number */
	PS_TW_SKIP,      /* a value or a number we do not need */
};

/* rq->ttl.flags */
#define PS_TF_KEY     0x01 /* the key was seen whole (in this window: ttl_key_*) */
#define PS_TF_NOKEY   0x02 /* the key was not seen whole */
#define PS_TF_COUNTED 0x04 /* the write is counted in flight (wr_record) */
#define PS_TF_BAD     0x08 /* not a command Redis runs as we read it: asked */
#define PS_TF_DONE    0x10 /* settled already, at the end of a segment */
#define PS_TF_COND    0x20 /* runs or not by whether the key exists (SET NX|XX,
			    * RESTORE without REPLACE) */
#define PS_TF_ABS     0x40 /* RESTORE ... ABSTTL */
#define PS_TF_MAYSET  0x80 /* may give the key a TTL (not plain SET, PERSIST) */

/* rq->ttl.sess: what the connection did that makes a TTL write unsure */
#define PS_TS_MULTI     0x01 /* inside MULTI: writes are queued, run at EXEC or never */
#define PS_TS_MULTI_TTL 0x02 /* ... and a TTL write was queued: every TTL is
			      * learnt again at EXEC/DISCARD */
#define PS_TS_DB        0x04 /* SELECT seen: writes may go to another database */
#define PS_TS_ACL       0x08 /* AUTH as a named user: a write may be refused */
#define PS_TS_MULTI_REV 0x10 /* ... and a REVOKE command was queued: again at EXEC */

#define PS_TTL_NUM_DIGITS 19 /* digits of LLONG_MAX */
#define PS_TTL_SEC_MAX    9223372036854775ll /* LLONG_MAX / 1000 */
#define PS_TTL_MS_FAR     10000000000000ll   /* 1e13 ms, 317 years: PS_TTL_FAR beyond */

/* A command's kind, by its packed upper-cased name (n bytes). */
static __always_inline __u32 rq_ttl_kind(__u64 w0, __u64 w1, __u32 n)
{
#define IS(str) (n == sizeof(str) - 1 && w0 == PS_W0(str) && w1 == PS_W1(str))
	if (IS("SET"))
		return PS_TK_SET;
	if (IS("SETEX"))
		return PS_TK_SETEX;
	if (IS("PSETEX"))
		return PS_TK_PSETEX;
	if (IS("EXPIRE"))
		return PS_TK_EXPIRE;
	if (IS("PEXPIRE"))
		return PS_TK_PEXPIRE;
	if (IS("EXPIREAT"))
		return PS_TK_EXPIREAT;
	if (IS("PEXPIREAT"))
		return PS_TK_PEXPIREAT;
	if (IS("PERSIST"))
		return PS_TK_PERSIST;
	if (IS("GETEX"))
		return PS_TK_GETEX;
	if (IS("RESTORE"))
		return PS_TK_RESTORE;
	if (IS("EVAL") || IS("EVALSHA") || IS("FCALL"))
		return PS_TK_SCRIPT;
	if (IS("SWAPDB") || IS("DEBUG") || IS("RESTORE-ASKING"))
		return PS_TK_RELOAD;
	if (IS("REPLICAOF") || IS("SLAVEOF") || IS("FAILOVER") || IS("MODULE") ||
	    IS("CONFIG"))
		return PS_TK_REVOKE;
	return PS_TK_NONE;
#undef IS
}

/*
 * A command's name was read (its nargs arguments announced): what it
 * does to a TTL, and whether Redis takes it at all (its arity).
 *
 * The parser only notes, in rq->ttl and in records (rq_ttl_note), what a
 * command does; the map work is done after the window's parse
 * (rq_ttl_window_end): the parser's frames are at the verifier's 512-byte
 * limit. Global: verified once.
 */
__noinline int rq_ttl_start(struct ps_scratch *s, __u64 w0, __u64 w1, __u32 n)
{
	struct ps_ttl_parse *t;
	__u32 kind, nargs;

	if (!s)
		return 0;
	t = &s->rq.ttl;
	nargs = s->rq.nargs;
	kind = rq_ttl_kind(w0, w1, n);
	t->kind = kind;
	t->opt = PS_TO_NONE;
	t->want = PS_TW_OPT;
	t->flags = PS_TF_MAYSET;
	t->cond = 0;
	t->num = 0;
	switch (kind) {
	case PS_TK_SET:
		if (nargs < 3)
			t->flags |= PS_TF_BAD;
		else if (nargs == 3)
			t->flags = 0;    /* SET key value: no TTL after it */
		break;
	case PS_TK_SETEX:
	case PS_TK_PSETEX:
		if (nargs != 4)
			t->flags |= PS_TF_BAD;
		break;
	case PS_TK_EXPIRE:
	case PS_TK_PEXPIRE:
	case PS_TK_EXPIREAT:
	case PS_TK_PEXPIREAT:
		if (nargs < 3)
			t->flags |= PS_TF_BAD;
		break;
	case PS_TK_PERSIST:
		t->flags = nargs != 2 ? PS_TF_BAD | PS_TF_MAYSET : 0;
		break;
	case PS_TK_GETEX:
		if (nargs == 2)
			t->flags = 0;    /* GETEX key: the TTL stays */
		break;
	case PS_TK_RESTORE:
		if (nargs < 4)
			t->flags |= PS_TF_BAD;
		t->flags |= PS_TF_COND;  /* BUSYKEY unless REPLACE */
		break;
	}
	return 0;
}

/* Note a TTL command (t, as it is now) for rq_ttl_window_end, with its
 * key at off, len in this window (len 0: not seen whole there). */
static __always_inline void rq_ttl_note(struct ps_scratch *s, const struct ps_ttl_parse *t,
					__u32 kind, __u32 off, __u32 len)
{
	__u32 n = s->ttl_n;
	struct ps_ttl_rec *r;

	s->ttl_n = n + 1;
	if (n >= PS_TTL_REC)
		return;
	r = &s->ttl_rec[n];
	r->t = *t;
	r->t.kind = kind;
	r->key_off = off;
	r->key_len = len;
}

/* Redis's string2ll on an argument of alen bytes at off (visible), into
 * t->num: 1, or 0 where Redis refuses the number. */
static __always_inline int rq_ttl_num(struct ps_scratch *s, struct ps_ttl_parse *t,
				      __u32 off, __u32 alen)
{
	__u64 v = 0, lim;
	__u32 i, neg;

	if (alen == 0 || alen > PS_TTL_NUM_DIGITS + 1)
		return 0;
	neg = s->buf[off & PS_BUF_MASK] == '-';
	if (alen == 1 && s->buf[off & PS_BUF_MASK] == '0') {
		t->num = 0;
		return 1;
	}
	/* LLONG_MAX, or one more for -LLONG_MIN */
	lim = 0x7fffffffffffffffull + neg;
	for (i = neg; i < PS_TTL_NUM_DIGITS + 1; i++) {
		__u8 c;

		if (i >= alen)
			break;
		c = s->buf[(off + i) & PS_BUF_MASK];
		/* the first digit 1-9: no "-0", no leading zero, no "+" */
		if (c < '0' || c > '9' || (i == neg && c == '0'))
			return 0;
		if (v > (lim - (c - '0')) / 10)
			return 0;
		v = v * 10 + (c - '0');
	}
	if (i == neg)
		return 0;
	t->num = neg ? -(__s64)v : (__s64)v;
	return 1;
}

/* Up to 8 bytes at off, upper-cased, packed as ps_pack_upper's w0. */
static __always_inline __u64 rq_upper8(struct ps_scratch *s, __u32 off, __u32 n)
{
	__u64 w = 0;
	__u32 i;

	for (i = 0; i < 8; i++) {
		__u8 c;

		if (i >= n)
			break;
		c = s->buf[(off + i) & PS_BUF_MASK];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		w |= (__u64)c << (8 * i);
	}
	return w;
}

/* An option of a TTL command (alen bytes at off): its effect on t, or
 * PS_TF_BAD where Redis would refuse the command. */
static __always_inline void rq_ttl_opt(struct ps_scratch *s, struct ps_ttl_parse *t,
				       __u32 off, __u32 alen)
{
	__u32 kind = t->kind, opt = PS_TO_NONE;
	__u64 w0;

	if (alen == 0 || alen > 8) {
		t->flags |= PS_TF_BAD;
		return;
	}
	w0 = rq_upper8(s, off, alen);
#define OPT_IS(str) (alen == sizeof(str) - 1 && w0 == PS_W0(str))
	if (kind == PS_TK_SET || kind == PS_TK_GETEX) {
		if (OPT_IS("EX"))
			opt = PS_TO_EX;
		else if (OPT_IS("PX"))
			opt = PS_TO_PX;
		else if (OPT_IS("EXAT"))
			opt = PS_TO_EXAT;
		else if (OPT_IS("PXAT"))
			opt = PS_TO_PXAT;
		else if (kind == PS_TK_SET && OPT_IS("KEEPTTL"))
			opt = PS_TO_KEEPTTL;
		else if (kind == PS_TK_GETEX && OPT_IS("PERSIST"))
			opt = PS_TO_PERSIST;
		if (opt != PS_TO_NONE) {
			/* one expiry option (parseExtendedStringArgumentsOrReply) */
			if (t->opt != PS_TO_NONE)
				t->flags |= PS_TF_BAD;
			t->opt = opt;
			if (opt <= PS_TO_PXAT)
				t->want = PS_TW_NUM;
		} else if (kind == PS_TK_SET && OPT_IS("NX")) {
			if (t->cond & PS_TC_XX)
				t->flags |= PS_TF_BAD;
			t->cond |= PS_TC_NX;
			t->flags |= PS_TF_COND;
		} else if (kind == PS_TK_SET && OPT_IS("XX")) {
			if (t->cond & PS_TC_NX)
				t->flags |= PS_TF_BAD;
			t->cond |= PS_TC_XX;
			t->flags |= PS_TF_COND;
		} else if (!(kind == PS_TK_SET && OPT_IS("GET"))) {
			t->flags |= PS_TF_BAD;
		}
	} else if (kind == PS_TK_RESTORE) {
		if (OPT_IS("REPLACE"))
			t->flags &= ~PS_TF_COND;
		else if (OPT_IS("ABSTTL"))
			t->flags |= PS_TF_ABS;
		else if (OPT_IS("IDLETIME") || OPT_IS("FREQ"))
			t->want = PS_TW_SKIP;
		else
			t->flags |= PS_TF_BAD;
	} else {
		/* EXPIRE and the like: NX alone, or XX with GT or LT, not both */
		if (OPT_IS("NX"))
			t->cond |= PS_TC_NX;
		else if (OPT_IS("XX"))
			t->cond |= PS_TC_XX;
		else if (OPT_IS("GT"))
			t->cond |= PS_TC_GT;
		else if (OPT_IS("LT"))
			t->cond |= PS_TC_LT;
		else
			t->flags |= PS_TF_BAD;
		if (((t->cond & PS_TC_NX) && (t->cond & ~PS_TC_NX)) ||
		    ((t->cond & PS_TC_GT) && (t->cond & PS_TC_LT)))
			t->flags |= PS_TF_BAD;
	}
#undef OPT_IS
}

/*
 * Argument idx >= 2 of a command with a TTL kind (alen bytes at off,
 * visible in this window if vis): options, numbers, a script's keys.
 * Global: verified once; no stack (it runs under the parser's frames).
 */
__noinline int rq_ttl_arg(struct ps_scratch *s, __u32 off, __u32 alen, __u32 vis)
{
	struct ps_ttl_parse *t;
	__u32 idx, kind, want;

	if (!s)
		return 0;
	t = &s->rq.ttl;
	idx = s->rq.arg_idx;
	kind = t->kind;
	if (kind == PS_TK_NONE || kind >= PS_TK_RELOAD || (t->flags & PS_TF_BAD))
		return 0;
	if (kind == PS_TK_SCRIPT) {
		/* numkeys, then the keys the script names: their TTLs are
		 * learnt after it (a script may set any) */
		if (idx == 2) {
			if (!vis || !rq_ttl_num(s, t, off, alen) || t->num < 0)
				t->flags |= PS_TF_BAD;
			return 0;
		}
		if ((__s64)(idx - 3) < t->num && alen >= 1 && alen <= PS_KEY_MAX)
			rq_ttl_note(s, t, PS_TK_SCRIPT, off, vis ? alen : 0);
		return 0;
	}
	want = t->want;
	/* the fixed positions: SET's value, the TTL argument, RESTORE's payload */
	if (idx == 2 && kind == PS_TK_SET)
		return 0;
	if (idx == 3 && (kind == PS_TK_SETEX || kind == PS_TK_PSETEX || kind == PS_TK_RESTORE))
		return 0;
	if (idx == 2 && kind != PS_TK_GETEX)
		want = PS_TW_NUM;
	if (want == PS_TW_SKIP) {
		t->want = PS_TW_OPT;
		return 0;
	}
	if (!vis) {
		t->flags |= PS_TF_BAD;
		return 0;
	}
	if (want == PS_TW_OPT) {
		rq_ttl_opt(s, t, off, alen);
		return 0;
	}
	t->want = PS_TW_OPT;
	if (!rq_ttl_num(s, t, off, alen)) {
		t->flags |= PS_TF_BAD;
		return 0;
	}
	/* the checks that make Redis refuse the command (getExpireMillisecondsOrReply,
	 * expireGenericCommand, restoreCommand) */
	switch (kind) {
	case PS_TK_SET:
	case PS_TK_GETEX:
	case PS_TK_SETEX:
	case PS_TK_PSETEX:
		if (t->num <= 0 || ((kind == PS_TK_SETEX || t->opt == PS_TO_EX ||
				     t->opt == PS_TO_EXAT) && t->num > PS_TTL_SEC_MAX))
			t->flags |= PS_TF_BAD;
		break;
	case PS_TK_EXPIRE:
	case PS_TK_EXPIREAT:
		if (t->num > PS_TTL_SEC_MAX || t->num < -PS_TTL_SEC_MAX)
			t->flags |= PS_TF_BAD;
		break;
	case PS_TK_RESTORE:
		if (t->num < 0)
			t->flags |= PS_TF_BAD;
		break;
	}
	return 0;
}

/* ms (relative when rel, else unix) as an expiry on our clock: 1 for one
 * past, PS_TTL_FAR beyond PS_TTL_MS_FAR; 0 when an absolute time cannot
 * be put on our clock (the control tool has not told the offset). */
static __always_inline __u64 rq_ttl_expiry(__s64 ms, int rel)
{
	__u64 *off, at;

	if (ms > PS_TTL_MS_FAR)
		return PS_TTL_FAR;
	if (rel)
		return ms <= 0 ? 1 : ttl_now() + (__u64)ms * 1000000ull;
	off = lease_at(PS_LEASE_CLOCK_OFF);
	if (!off || !*off)
		return 0;
	if (ms <= 0)
		return 1;
	at = (__u64)ms * 1000000ull;
	return at > *off + 1 ? at - *off : 1;
}

/* Does Redis run a well-formed write of this connection as written: it
 * cannot fail (PS_CFG_TTL_EXACT, no AUTH to pass), goes to database 0 and
 * is not refused by an ACL? (sess: rq->ttl.sess) */
static __always_inline int rq_ttl_sure(__u32 sess)
{
	__u32 zero = 0;
	struct ps_config *cfg = bpf_map_lookup_elem(&ps_config, &zero);

	return cfg && (cfg->flags & PS_CFG_TTL_EXACT) && !(cfg->flags & PS_CFG_AUTH) &&
	       !(sess & (PS_TS_DB | PS_TS_ACL));
}

/*
 * One noted command: its outcome for ttl_settle_s in s->ttl_args, its key
 * built from the window's buffer into s->key; 1 when there is one to
 * settle. Global: verified once.
 */
__noinline int rq_ttl_prepare(struct ps_scratch *s, __u32 i)
{
	__u32 kind, flags, eff = PS_TE_KEEP, sure;
	struct ps_ttl_parse *t;
	struct ps_ttl_rec *r;
	__u64 exp = 0, *rv;
	__s64 ms;
	int rel = 1;

	if (!s || i >= PS_TTL_REC)
		return 0;
	r = &s->ttl_rec[i];
	t = &r->t;
	kind = t->kind;
	flags = t->flags;
	/* queued in MULTI: done at EXEC (PS_TS_MULTI_TTL, _REV) */
	if ((kind == PS_TK_RELOAD || kind == PS_TK_REVOKE) && (t->sess & PS_TS_MULTI))
		return 0;
	if (kind == PS_TK_RELOAD) {
		ttl_rescan();
		return 0;
	}
	if (kind == PS_TK_REVOKE) {
		rv = lease_at(PS_LEASE_REVOKE);
		if (rv)
			__sync_fetch_and_add(rv, 1);
		stat_inc(PS_ST_REVOKED);
		return 0;
	}
	/* no TTL set: not clearing one is the safe side */
	if (!(flags & PS_TF_MAYSET) && kind != PS_TK_SCRIPT && kind != PS_TK_DST &&
	    ((t->sess & PS_TS_MULTI) || !r->key_len))
		return 0;
	if (!r->key_len) {
		/* a TTL write of a key not seen whole */
		ttl_rescan();
		return 0;
	}
	if (ps_key_from_buf(&s->key, s, r->key_off, r->key_len))
		return 0;
	if (t->sess & PS_TS_MULTI) {
		/* queued: run at EXEC or never; every TTL learnt again then
		 * (PS_TS_MULTI_TTL) */
		ps_ttl_unknown(s, &s->key);
		return 0;
	}
	ms = t->num;
	switch (kind) {
	case PS_TK_SCRIPT:
	case PS_TK_DST:
		flags |= PS_TF_BAD;
		break;
	case PS_TK_SET:
	case PS_TK_GETEX:
		if (t->want == PS_TW_NUM) {
			flags |= PS_TF_BAD;   /* an option without its number */
			break;
		}
		switch (t->opt) {
		case PS_TO_NONE:
			eff = kind == PS_TK_SET ? PS_TE_CLEAR : PS_TE_KEEP;
			break;
		case PS_TO_KEEPTTL:
			eff = PS_TE_KEEP;
			break;
		case PS_TO_PERSIST:
			eff = PS_TE_CLEAR;
			break;
		default:
			eff = PS_TE_SET;
			if (t->opt == PS_TO_EX || t->opt == PS_TO_EXAT)
				ms *= 1000;
			rel = t->opt == PS_TO_EX || t->opt == PS_TO_PX;
		}
		break;
	case PS_TK_SETEX:
	case PS_TK_EXPIRE:
	case PS_TK_EXPIREAT:
		ms *= 1000;
		/* fallthrough */
	case PS_TK_PSETEX:
	case PS_TK_PEXPIRE:
	case PS_TK_PEXPIREAT:
		eff = PS_TE_SET;
		rel = kind != PS_TK_EXPIREAT && kind != PS_TK_PEXPIREAT;
		break;
	case PS_TK_PERSIST:
		eff = PS_TE_CLEAR;
		break;
	case PS_TK_RESTORE:
		eff = ms == 0 ? PS_TE_CLEAR : PS_TE_SET;
		rel = !(flags & PS_TF_ABS);
		break;
	}
	if (eff == PS_TE_SET) {
		exp = rq_ttl_expiry(ms, rel);
		if (!exp)
			flags |= PS_TF_BAD;
	}
	if (flags & PS_TF_BAD)
		eff = PS_TE_UNKNOWN;
	/* most SETs: a key with no TTL keeps none */
	if (eff == PS_TE_CLEAR && !bpf_map_lookup_elem(&ps_ttl, &s->key))
		return 0;
	/* RESTORE may fail on its payload: never sure */
	sure = rq_ttl_sure(t->sess) && !(flags & PS_TF_COND) && kind != PS_TK_RESTORE;
	s->ttl_args.eff = eff;
	s->ttl_args.exp = exp;
	s->ttl_args.cond = t->cond;
	s->ttl_args.sure = sure;
	s->ttl_args.counted = 0;
	if (flags & PS_TF_COUNTED) {
		/* this segment's writes of the slot: in its order, no conflict */
		__u32 slot = ps_key_slot(&s->key), j, own = 0;

		for (j = 0; j < PS_WR_SCR; j++)
			if (j < s->wr_n && s->wr_slot[j] == slot)
				own++;
		s->ttl_args.counted = own ? own : 1;
	}
	return 1;
}

/*
 * A window's parse ended (the end of a segment, or of a 2 KB window of a
 * longer one): the TTL commands it ended settled into ps_ttl, in order.
 * The one going on into the next window loses its key (the buffer's):
 * if it may give the key a TTL, the key's TTL is unknown now and asked of
 * Redis once the write is answered; SET key value and PERSIST clear
 * nothing (the safe side). Global: verified once.
 */
__noinline int rq_ttl_window_end(struct ps_scratch *s)
{
	struct ps_ttl_parse *t;
	__u32 i;

	if (!s)
		return 0;
	for (i = 0; i < PS_TTL_REC; i++) {
		if (i >= s->ttl_n)
			break;
		/* two calls, not one inside the other: each frame apart */
		if (rq_ttl_prepare(s, i))
			ttl_settle_s(s);
	}
	if (s->ttl_n > PS_TTL_REC)
		ttl_rescan();   /* more TTL commands than records */
	s->ttl_n = 0;
	t = &s->rq.ttl;
	if (s->rq.state != PS_RQ_IDLE && t->kind != PS_TK_NONE && t->kind < PS_TK_SCRIPT &&
	    (t->flags & PS_TF_KEY) && !(t->flags & PS_TF_DONE) && s->ttl_key_len) {
		if ((t->flags & PS_TF_MAYSET) &&
		    !ps_key_from_buf(&s->key, s, s->ttl_key_off, s->ttl_key_len)) {
			if (t->sess & PS_TS_MULTI) {
				ps_ttl_unknown(s, &s->key);
			} else {
				ttl_settle_unknown(s, &s->key);
			}
		}
		t->flags |= PS_TF_DONE;
	}
	s->ttl_key_len = 0;
	return 0;
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
				if (!s->naive) {
					ps_flush_cmd(s, s->ncmds);
					rq_ttl_note(s, &rq->ttl, PS_TK_RELOAD, 0, 0);
				}
				return;
			}
			ps_pack_upper(rq->name, 0, 15, alen, &w0, &w1);
		} else {
			ps_pack_upper(s->buf, off, PS_BUF_MASK, alen, &w0, &w1);
		}
		rq->cmd = ps_classify(w0, w1, alen);
		if (rq->cmd == PS_CMD_SET || rq->cmd == PS_CMD_TTL || rq->cmd == PS_CMD_FLUSH ||
		    rq->cmd == PS_CMD_WRITE || rq->cmd == PS_CMD_SUBCMD)
			rq_ttl_start(s, w0, w1, alen);
		if (rq->cmd == PS_CMD_SUBCMD) {
			s->sub_w0 = w0;
			s->sub_w1 = w1;
			s->sub_n = alen;
		} else if (rq->cmd == PS_CMD_FLUSH) {
			ps_flush_cmd(s, s->ncmds);
		}
		else if (rq->cmd == PS_CMD_UNTRUST)
			s->rq_out |= RQO_UNTRUST;
		else if (rq->cmd == PS_CMD_BLOCK)
			s->rq_out |= RQO_BLOCK;
		return;
	}

	switch (rq->cmd) {
	case PS_CMD_SUBCMD:
		/* the subcommand decides; one seen in a later segment than
		 * its name (sub_n cleared) flushes */
		rq->cmd = vis ? ps_classify_sub(s, off, alen) : PS_CMD_FLUSH;
		s->sub_n = 0;
		if (rq->cmd == PS_CMD_FLUSH)
			ps_flush_cmd(s, s->ncmds);
		else if (rq->cmd != PS_CMD_READ)
			rq->cmd = PS_CMD_WRITE;
		/* CONFIG GET and the like: nothing for the watcher to see */
		if (rq->cmd == PS_CMD_READ)
			rq->ttl.kind = PS_TK_NONE;
		break;
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
	case PS_CMD_SET:
	case PS_CMD_TTL:
		/* SET, SETEX, EXPIRE, ...: argument 1 is the key, the others
		 * say what becomes of its TTL (rq_ttl_*) */
		if (idx != 1) {
			rq_ttl_arg(s, off, alen, vis);
			break;
		}
		if (alen == 0 || alen > PS_KEY_MAX) {
			/* never cached: neither is its TTL of interest */
			rq->ttl.kind = PS_TK_NONE;
		} else if (vis) {
			rq->ttl.flags |= PS_TF_KEY |
				(ps_invalidate(s, off, alen, 0) ? PS_TF_COUNTED : 0);
			s->ttl_key_off = off;
			s->ttl_key_len = alen;
		} else {
			rq->ttl.flags |= PS_TF_NOKEY;
			if (!s->naive)
				ps_flush_cmd(s, s->ncmds);
		}
		break;
	case PS_CMD_FLUSH:
		/* a script's keys (its TTLs are learnt after it) */
		if (idx >= 2 && rq->ttl.kind == PS_TK_SCRIPT)
			rq_ttl_arg(s, off, alen, vis);
		break;
	case PS_CMD_WRITE:
	case PS_CMD_BLOCK:
	case PS_CMD_SPLIT:
	case PS_CMD_TTL_DST:
		/* only an argument that fits a cache key can name a cached key */
		if (alen >= 1 && alen <= PS_KEY_MAX) {
			/* RENAME's and COPY's destination takes the source's
			 * TTL: unknown until Redis is asked */
			if (vis)
				ps_invalidate(s, off, alen, 0);
			else if (!s->naive)
				ps_flush_cmd(s, s->ncmds);
			if (idx == 2 && rq->cmd == PS_CMD_TTL_DST)
				rq_ttl_note(s, &rq->ttl, PS_TK_DST, off, vis ? alen : 0);
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
			s->get_pos[n] = s->ncmds - 1;
			s->get_start[n] = s->cmd_start;
			s->ngets = n + 1;
		} else {
			s->rq_out |= RQO_TOO_MANY;
		}
	} else {
		s->rq_out |= RQO_OTHER;
	}
	/* settled after the window's parse (rq_ttl_window_end) */
	if (rq->ttl.kind && rq->ttl.kind != PS_TK_SCRIPT && !(rq->ttl.flags & PS_TF_DONE))
		rq_ttl_note(s, &rq->ttl, rq->ttl.kind, s->ttl_key_off,
			    (rq->ttl.flags & PS_TF_KEY) ? s->ttl_key_len : 0);
	/* queued in MULTI: what it does to TTLs is learnt after EXEC */
	if (rq->ttl.sess & PS_TS_MULTI) {
		if (rq->ttl.kind == PS_TK_REVOKE)
			rq->ttl.sess |= PS_TS_MULTI_REV;
		else if (rq->ttl.kind || rq->cmd == PS_CMD_TTL_DST)
			rq->ttl.sess |= PS_TS_MULTI_TTL;
	}
	switch (rq->cmd) {
	case PS_CMD_SELECT:
		s->rq_out |= RQO_SELECT;
		rq->ttl.sess |= PS_TS_DB;
		break;
	case PS_CMD_QUIT:
		s->rq_out |= RQO_QUIT;
		break;
	case PS_CMD_MULTI:
		s->multi_last = 1;
		rq->ttl.sess |= PS_TS_MULTI;
		break;
	case PS_CMD_EXEC:
		/* the queued writes run now: in flight until EXEC's reply */
		ps_flush_cmd(s, s->ncmds - 1);
		/* fallthrough */
	case PS_CMD_DISCARD:
		s->multi_last = 2;
		/* TTL writes were queued: learnt again once they ran (the
		 * watcher waits for EXEC's reply: it is in flight) */
		rq->ttl.sess &= ~PS_TS_MULTI;
		if (rq->ttl.sess & PS_TS_MULTI_TTL)
			rq_ttl_note(s, &rq->ttl, PS_TK_RELOAD, 0, 0);
		if (rq->ttl.sess & PS_TS_MULTI_REV)
			rq_ttl_note(s, &rq->ttl, PS_TK_REVOKE, 0, 0);
		rq->ttl.sess &= ~(PS_TS_MULTI_TTL | PS_TS_MULTI_REV);
		break;
	case PS_CMD_AUTH:
		s->auth_pos = s->ncmds;
		/* AUTH user pass, HELLO n AUTH user pass: a named ACL user may
		 * not be allowed the key; such a flow is never answered */
		if (rq->nargs >= 3) {
			s->rq_out |= RQO_UNTRUST;
			rq->ttl.sess |= PS_TS_ACL;
		}
		break;
	}
	rq->state = PS_RQ_IDLE;
	rq->cmd = PS_CMD_NONE;
	rq->ttl.kind = PS_TK_NONE;
	rq->ttl.flags = 0;
	s->cur_key_len = 0;
	s->ttl_key_len = 0;
}

static __always_inline int rq_error(struct ps_scratch *s)
{
	s->rq_out |= RQO_ERROR;
	return 1;
}

/*
 * A byte of an inline command line (before its LF). We do not parse those,
 * so one with a word may write anything: the cache is flushed at its first
 * word. Redis splits the line with sdssplitargs: a line of spaces only is
 * no command; a NUL ends its C string there (Redis then waits for an LF it
 * never finds): the stream is lost to us, as with a quote.
 */
static __always_inline int rq_inline_byte(struct ps_scratch *s,
					  struct ps_req_parser *rq, __u8 c)
{
	/* quotes: sdssplitargs's quoting rules are not modelled; Redis
	 * closes on unbalanced ones. We give the stream up (never answered) */
	if (c == 0 || c == '"' || c == '\'')
		return rq_error(s);
	if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' ||
	    (rq->numf & PS_RQN_WORD))
		return 0;
	rq->numf |= PS_RQN_WORD;
	s->rq_out |= RQO_OTHER;
	if (!s->naive) {
		/* it may write anything, TTLs too */
		ps_flush_cmd(s, s->ncmds);
		rq_ttl_note(s, &rq->ttl, PS_TK_RELOAD, 0, 0);
	}
	return 0;
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
		/* Redis: '*' starts a multibulk command, anything else an
		 * inline one (a CR before '*' too); a lone LF is an empty line */
		if (c == '*') {
			rq->state = PS_RQ_NARGS;
			rq->left = 0;
			rq->numf = 0;
			rq->cmd = PS_CMD_NONE;
			s->cur_key_len = 0;
			s->cmd_start = s->base + pos;
		} else if (c != '\n') {
			rq->state = PS_RQ_INLINE;
			rq->numf = 0;
			if (rq_inline_byte(s, rq, c))
				return 1;
		}
		break;
	case PS_RQ_NARGS:
	case PS_RQ_ARGLEN:
		if (c >= '0' && c <= '9') {
			/* a digit after a leading 0, "-0", or past the limit */
			if ((rq->numf & PS_RQN_ZERO) ||
			    (c == '0' && (rq->numf & PS_RQN_NEG) && !(rq->numf & PS_RQN_DIGIT)) ||
			    rq->left > PS_NUM_MAX / 10)
				return rq_error(s);
			if (c == '0' && !(rq->numf & PS_RQN_DIGIT))
				rq->numf |= PS_RQN_ZERO;
			rq->numf |= PS_RQN_DIGIT;
			rq->left = rq->left * 10 + (c - '0');
			/* a larger length Redis refuses; a larger count it
			 * would wait for: never answered either way */
			if (rq->left > PS_NUM_MAX)
				return rq_error(s);
		} else if (c == '-' && rq->state == PS_RQ_NARGS && !rq->numf) {
			rq->numf = PS_RQN_NEG;
		} else if (c == '\r' && (rq->numf & PS_RQN_DIGIT)) {
			rq->state++;
		} else {
			return rq_error(s);
		}
		break;
	case PS_RQ_NARGS_LF:
		/* (the byte after the CR is not looked at) */
		rq->nargs = (rq->numf & PS_RQN_NEG) ? 0 : rq->left;
		rq->arg_idx = 0;
		/* "*0\r\n" and "*-1\r\n" are ignored by Redis: no command,
		 * no reply */
		rq->state = rq->nargs ? PS_RQ_DOLLAR : PS_RQ_IDLE;
		break;
	case PS_RQ_DOLLAR:
		if (c != '$')
			return rq_error(s);
		rq->state = PS_RQ_ARGLEN;
		rq->left = 0;
		rq->numf = 0;
		break;
	case PS_RQ_ARGLEN_LF:
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
			/* continues in the next segment */
			rq_collect_name(s, rq, pos, avail);
			rq->left -= avail;
			s->arg_vis = 0;
			s->pos = len;
			return 1;
		}
		end = pos + rq->left;
		if (!s->arg_vis)
			rq_collect_name(s, rq, pos, avail); /* the last piece */
		/* the two bytes after the argument: skipped unread, as Redis
		 * does */
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
		if (c != '\n') {
			if (rq_inline_byte(s, rq, c))
				return 1;
			break;
		}
		if (rq->numf & PS_RQN_WORD) {
			rq->cmd = PS_CMD_FLUSH;
			rq_cmd_done(s, rq);
		} else {
			/* only spaces: Redis splits it into no argument */
			rq->state = PS_RQ_IDLE;
		}
		break;
	default:
		return rq_error(s);
	}
	s->pos = pos + 1;
	return 0;
}

/* Little-endian constants of the canonical GET header "*2\r\n$3\r\nGET\r\n$". */
/* a three-letter command name word ("GET\r") or'ed with this reads the
 * same in either case: bit 5 of a letter is its case, and only the
 * letters' bits are set */
#define PS_NAME3_CASE 0x00202020u
#define PS_GET_HDR8 0x0a0d33240a0d322aull /* "*2\r\n$3\r\n" */
#define PS_GET_HDR4 0x0d544547u           /* "GET\r" */
#define PS_GET_HDR2 0x240au               /* "\n$" */

static __always_inline __u64 ld64(const struct ps_scratch *s, __u32 off)
{
	return *(const __u64 *)&s->buf[off & PS_BUF_MASK];
}

/* A little-endian word of the stream, at any alignment: BPF loads it as
 * it is (the hooks allow unaligned packet and map reads); the user-space
 * build (the fuzzer) spells the copy out for the sanitizer. */
#ifdef __bpf__
#define PS_LDW(type, p) (*(const type *)(p))
#else
#define PS_LDW(type, p) ({ type w_; __builtin_memcpy(&w_, (p), sizeof(w_)); w_; })
#endif

/* bytes resp_cmd_head reads: the header, two length digits, CR, LF */
#define PS_GET_HEAD 18

#define PS_SET_HDR8 0x0a0d33240a0d332aull /* "*3\r\n$3\r\n" */
#define PS_SET_HDR4 0x0d544553u           /* "SET\r" */

/*
 * The one decoder of a canonical command's head, "*<c>\r\n$3\r\n<NAME>\r\n
 * $<n>\r\n": hdr8 its first eight bytes (the argument count), name4 the
 * three-letter name and its CR (read in any case, as Redis reads it), n
 * of 1 or 2 digits (no leading zero), at h: h[0..PS_GET_HEAD) must be
 * readable (a 1-digit length reads the key's first byte). Returns the key
 * length with *koff its offset from h, or 0. The key and what follows
 * it are the caller's to bound and check. Every hook's canonical GET and
 * SET go through it (resp_get_head, resp_set_at).
 */
static __always_inline __u32 resp_cmd_head(const __u8 *h, __u64 hdr8, __u32 name4,
					   __u32 *koff)
{
	__u32 d0 = h[PS_GET_HDR_LEN], d1 = h[PS_GET_HDR_LEN + 1];

	/* the name in any case, as Redis reads it (ioredis sends "get") */
	if (PS_LDW(__u64, h) != hdr8 ||
	    (PS_LDW(__u32, h + PS_GET_HDR4_OFF) | PS_NAME3_CASE) !=
	    (name4 | PS_NAME3_CASE) ||
	    PS_LDW(__u16, h + PS_GET_HDR2_OFF) != PS_GET_HDR2 || d0 < '1' || d0 > '9')
		return 0;
	if (d1 == '\r') {
		if (h[PS_GET_HDR_LEN + 2] != '\n')
			return 0;
		*koff = PS_GET_KEY_OFF1;
		return d0 - '0';
	}
	if (d1 < '0' || d1 > '9' || h[PS_GET_HDR_LEN + 2] != '\r' ||
	    h[PS_GET_HDR_LEN + 3] != '\n')
		return 0;
	*koff = PS_GET_KEY_OFF2;
	return (d0 - '0') * 10 + (d1 - '0');
}

/*
 * A canonical GET's head, "*2\r\n$3\r\nGET\r\n$<n>\r\n" (resp_cmd_head):
 * in place at XDP (xdp_fast_get), from scratch for the others
 * (ps_fast_cmds: XDP's copied segments, the side path, poststack, the
 * fuzzer).
 */
static __always_inline __u32 resp_get_head(const __u8 *h, __u32 *koff)
{
	return resp_cmd_head(h, PS_GET_HDR8, PS_GET_HDR4, koff);
}

#define PS_VLEN_DIGITS 5                   /* longer values: the general parser */

/*
 * The canonical SET without options, "*3\r\n$3\r\nSET\r\n$<n>\r\n<key>\r\n
 * $<m>\r\n<value>\r\n", at buf[pos..len): its key (koff, returned length,
 * 1..PS_KEY_MAX) and the offset after it (*end), or 0 when it is not one,
 * whole in the buffer. Numbers as Redis reads them (string2ll: no leading
 * zero), the name in any case.
 */
static __always_inline __u32 resp_set_at(const struct ps_scratch *s, __u32 pos,
					 __u32 len, __u32 *koff, __u32 *end)
{
	__u32 klen, ko = 0, vlen = 0, voff, i, p;

	if (pos + 26 > len || pos > PS_PAYLOAD_MAX - 32)
		return 0;
	/* the head as a GET's is read, by the same decoder */
	klen = resp_cmd_head(&s->buf[pos & PS_BUF_MASK], PS_SET_HDR8, PS_SET_HDR4, &ko);
	if (!klen)
		return 0;
	ko += pos;
	p = ko + klen;
	/* "\r\n$" after the key, then the value's length */
	if (klen > PS_KEY_MAX || p + 3 > len ||
	    s->buf[p & PS_BUF_MASK] != '\r' ||
	    s->buf[(p + 1) & PS_BUF_MASK] != '\n' ||
	    s->buf[(p + 2) & PS_BUF_MASK] != '$')
		return 0;
	p += 3;
	for (i = 0; i <= PS_VLEN_DIGITS; i++) {
		__u8 c = s->buf[(p + i) & PS_BUF_MASK];

		if (p + i >= len)
			return 0;
		if (c == '\r')
			break;
		/* string2ll: no digit after a leading 0 (found by the fuzzer) */
		if (c < '0' || c > '9' || i == PS_VLEN_DIGITS || (i && !vlen))
			return 0;
		vlen = vlen * 10 + (c - '0');
	}
	if (i == 0 || s->buf[(p + i + 1) & PS_BUF_MASK] != '\n')
		return 0;
	voff = p + i + 2;
	if (voff + vlen + 2 > len ||
	    s->buf[(voff + vlen) & PS_BUF_MASK] != '\r' ||
	    s->buf[(voff + vlen + 1) & PS_BUF_MASK] != '\n')
		return 0;
	*koff = ko;
	*end = voff + vlen + 2;
	return klen;
}

/* commands ps_fast_cmds reads from one segment (SETs among them: at most
 * PS_FAST_SETS, scratch.h) */
#define PS_FAST_CMDS 64

/*
 * One command for ps_fast_cmds at s->fc_pos: a canonical GET (recorded as
 * the general parser records it) or a canonical SET (its key noted for
 * ps_fast_cmds's second pass). Returns 0 after one, 1 at the segment's
 * end, -1 for anything else. Global: ps_fast_cmds's loop over commands
 * is verified once, not once per command.
 */
__noinline int ps_fast_cmd(struct ps_scratch *s)
{
	__u32 pos, len, klen, koff = 0, end, n, c;

	if (!s)
		return -1;
	pos = s->fc_pos;
	len = s->len;
	if (pos >= len)
		return 1;
	if (pos + PS_GET_MIN_LEN > len || pos > PS_PAYLOAD_MAX - 32 ||
	    len > PS_PAYLOAD_MAX)
		return -1;
	n = s->ngets;
	c = s->ncmds;
	klen = resp_get_head(&s->buf[pos & PS_BUF_MASK], &koff);
	if (klen) {
		/* header, 1-2 length digits, CRLF, key, CRLF (consts.h) */
		koff += pos;
		if (klen > PS_KEY_MAX || koff + klen + 2 > len ||
		    s->buf[(koff + klen) & PS_BUF_MASK] != '\r' ||
		    s->buf[(koff + klen + 1) & PS_BUF_MASK] != '\n')
			return -1;
		if (n < PS_MAX_CMDS) {
			s->key_off[n & (PS_MAX_CMDS - 1)] = koff;
			s->key_len[n & (PS_MAX_CMDS - 1)] = klen;
			s->get_pos[n & (PS_MAX_CMDS - 1)] = c;
			s->get_start[n & (PS_MAX_CMDS - 1)] = pos;
			s->ngets = n + 1;
		} else {
			s->fc_too_many = 1;
		}
		s->fc_pos = koff + klen + 2;
		s->ncmds = c + 1;
		return 0;
	}
	klen = resp_set_at(s, pos, len, &koff, &end);
	n = s->fc_nset;
	if (!klen || n >= PS_FAST_SETS)
		return -1;
	s->fc_set_off[n & (PS_FAST_SETS - 1)] = koff;
	s->fc_set_len[n & (PS_FAST_SETS - 1)] = klen;
	s->fc_set_cmd[n & (PS_FAST_SETS - 1)] = c;
	s->fc_nset = n + 1;
	s->fc_pos = end;
	s->ncmds = c + 1;
	return 0;
}

/* A canonical SET of ps_fast_cmds, as the general parser ends it: its key
 * invalidated (a write in flight), no TTL on the key after it
 * (rq_ttl_window_end settles the record). */
static __always_inline void ps_fast_set_done(struct ps_scratch *s, __u32 koff,
					     __u32 klen)
{
	struct ps_ttl_parse *t = &s->rq.ttl;

	t->kind = PS_TK_SET;
	t->opt = PS_TO_NONE;
	t->cond = 0;
	t->flags = PS_TF_KEY | (ps_invalidate(s, koff, klen, 0) ? PS_TF_COUNTED : 0);
	rq_ttl_note(s, t, PS_TK_SET, koff, klen);
	t->kind = PS_TK_NONE;
	t->flags = 0;
}

/*
 * Fast path for what clients send most, pipelined or not: canonical GETs
 * and canonical SETs (resp_get_head, resp_set_at) back to back from a
 * command boundary, filling the segment exactly. Two passes: the first
 * (ps_fast_cmd) reads every command and changes nothing the general
 * parser would not redo; only if every one is such does the second
 * invalidate the SETs' keys, in order, each as the command it is
 * (wr_cmd), as the general parser would. Fills what the general parser
 * fills (ngets, ncmds, key_off/len, get_pos, get_start, RQO_OTHER for a
 * SET, RQO_TOO_MANY past PS_MAX_CMDS GETs) and returns 1; returns 0 for
 * anything else (ngets and ncmds back at 0), which then goes through the
 * general parser. The fuzzer holds it to the general parser.
 * Global: verified once.
 */
__noinline int ps_fast_cmds(struct ps_scratch *s)
{
	__u32 i, c;
	int r = -1;

	if (!s)
		return 0;
	if (s->pos || s->rq.state != PS_RQ_IDLE || s->len > PS_PAYLOAD_MAX || !s->len)
		return 0;
	s->fc_pos = 0;
	s->fc_nset = 0;
	s->fc_too_many = 0;
	s->ngets = 0;
	s->ncmds = 0;
	for (i = 0; i <= PS_FAST_CMDS; i++) {
		r = ps_fast_cmd(s);
		if (r)
			break;
	}
	if (r != 1) {
		s->ngets = 0;
		s->ncmds = 0;
		return 0;
	}
	/* every command read: now what they do */
	c = s->ncmds;
	for (i = 0; i < PS_FAST_SETS; i++) {
		if (i >= s->fc_nset)
			break;
		s->ncmds = s->fc_set_cmd[i];
		ps_fast_set_done(s, s->fc_set_off[i], s->fc_set_len[i]);
	}
	s->ncmds = c;
	if (s->fc_nset)
		s->rq_out |= RQO_OTHER;
	if (s->fc_too_many)
		s->rq_out |= RQO_TOO_MANY;
	s->pos = s->len;
	return 1;
}

/* bpf_loop callback around ps_rq_step */
static long rq_step(__u32 i, void *unused)
{
	__u32 idx = PS_SCR_XDP;

	/* bpf_loop wants exactly 0 or 1 back */
	return ps_rq_step(bpf_map_lookup_elem(&ps_scratch, &idx)) ? 1 : 0;
}

/*
 * A request parse of len bytes in s->buf: clear every per-segment output.
 * The caller sets where to start (s->pos), the carried-over parser state
 * (s->rq) and s->naive. The fuzzer starts its parses here too, so a new
 * output field is reset in one place.
 */
static __always_inline void rq_reset(struct ps_scratch *s, __u32 len)
{
	s->len = len;
	s->base = 0;
	s->rq_out = 0;
	s->ncmds = 0;
	s->ngets = 0;
	s->cur_key_len = 0;
	s->arg_vis = 0;
	s->multi_last = 0;
	s->auth_pos = 0;
	s->invalidated = 0;
	s->flushes = 0;
	s->sub_n = 0;
	/* a command under way when the segment begins began before it */
	s->cmd_start = ~0u;
	s->ttl_n = 0;
	s->ttl_key_len = 0;
}

/* The general parser alone, byte by byte from s->pos. */
static __always_inline void rq_run_general(struct ps_scratch *s)
{
	s->ngets = 0;
	s->ncmds = 0;
	bpf_loop(PS_PAYLOAD_MAX + 1, rq_step, NULL, 0);
}

/* Parse the segment: the canonical-GET fast path, else the general one. */
static __always_inline void rq_run(struct ps_scratch *s)
{
	if (ps_fast_cmds(s))
		return;
	rq_run_general(s);
}

/* ---- replies ---- */

/* A top-level reply (1-based flow index idx) ended: if a pipelined fill is
 * armed for it (fq_mask), note where it is; len 0 unless it is a
 * complete non-null bulk string begun in this segment. */
static __always_inline void rp_fq_note(struct ps_scratch *s, __u32 idx,
				       __u32 off, __u32 len, int bulk)
{
	__u64 bit = 1ull << (idx & 63);
	__u32 j = s->fq_n;

	if (!(s->fq_mask & bit))
		return;
	if (j >= PS_FQ_SEG) {
		s->fq_over |= bit;
		return;
	}
	s->fq_idx[j] = idx;
	s->fq_off[j] = off;
	s->fq_len[j] = bulk && off != ~0u ? len : 0;
	s->fq_vlen[j] = s->bulk_len;
	s->fq_n = j + 1;
}

static __always_inline void rp_top_done(struct ps_scratch *s,
					struct ps_rep_parser *rp, __u32 end,
					int scalar)
{
	if (s->replies < PS_REND_MAX)
		s->rend[s->replies & (PS_REND_MAX - 1)] = s->base + end;
	s->replies++;
	if (s->auth_idx && s->rep_base + s->replies == s->auth_idx)
		s->auth_result = s->top_type == '-' ? 2 : 1;
	if (s->fq_mask)
		rp_fq_note(s, s->rep_base + s->replies, s->top_start,
			   s->top_start != ~0u ? s->base + end - s->top_start : 0,
			   scalar && rp->type == '$' && !rp->neg);
	if (s->replies == 1) {
		s->first_off = s->top_start;
		s->first_len = s->top_start != ~0u ? s->base + end - s->top_start : 0;
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
			s->top_start = s->base + pos;
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

#define PS_FAST_REPLY_HEAD 24 /* reply bytes ps_fast_reply reads from the start */

/*
 * Fast path for what Redis sends most: one complete reply filling the
 * segment, a bulk string ("$<n>\r\n...\r\n", "$-1\r\n") or a one-line
 * reply ("+OK\r\n", ":1\r\n", "-ERR ...\r\n") of at most
 * PS_FAST_REPLY_HEAD bytes, from a reply boundary, no AUTH reply
 * awaited. It reads only buf[0..PS_FAST_REPLY_HEAD) and the last two
 * bytes (buf[len - 2], buf[len - 1]), so that TC loads only those and
 * not the value. Leaves what the general parser leaves and returns 1;
 * returns 0 (nothing changed) for anything else. Global: verified once.
 */
__noinline int ps_fast_reply(struct ps_scratch *s)
{
	struct ps_rep_parser *rp;
	__u32 len, n = 0, i, h;
	__u8 c, t;

	if (!s)
		return 0;
	rp = &s->rp;
	len = s->len;
	if (s->pos || s->base || rp->state != PS_RP_TYPE || rp->depth ||
	    s->auth_idx || len < 4 || len > PS_PAYLOAD_MAX)
		return 0;
	t = s->buf[0];
	if (t == '+' || t == '-' || t == ':') {
		/* the first LF ends it: it must be the last byte */
		if (len > PS_FAST_REPLY_HEAD)
			return 0;
		for (i = 1; i < PS_FAST_REPLY_HEAD; i++) {
			if (i >= len - 1)
				break;
			if (s->buf[i] == '\n')
				return 0;
		}
		if (s->buf[(len - 1) & PS_BUF_MASK] != '\n')
			return 0;
		rp->num = 0;
	} else if (t == '$') {
		if (s->buf[1] == '-') {
			/* a null bulk: "$-1\r\n" exactly */
			if (len != 5 || s->buf[2] != '1' || s->buf[3] != '\r' ||
			    s->buf[4] != '\n')
				return 0;
			rp->type = t;
			rp->num = 1;
			rp->neg = 1;
			goto done;
		}
		for (i = 1; i < PS_FAST_REPLY_HEAD - 1; i++) {
			c = s->buf[i];
			if (c == '\r')
				break;
			if (c < '0' || c > '9' || n > PS_NUM_MAX / 10)
				return 0;
			n = n * 10 + (c - '0');
		}
		h = i + 2; /* the value starts here */
		if (i == 1 || i >= PS_FAST_REPLY_HEAD - 1 ||
		    s->buf[(i + 1) & PS_BUF_MASK] != '\n' || h + n + 2 != len ||
		    s->buf[(len - 2) & PS_BUF_MASK] != '\r' ||
		    s->buf[(len - 1) & PS_BUF_MASK] != '\n')
			return 0;
		s->bulk_len = n;
		rp->num = n + 2;
	} else {
		return 0;
	}
	rp->type = t;
	rp->neg = 0;
done:
	rp->state = PS_RP_TYPE;
	s->top_type = t;
	s->replies = 1;
	s->rend[0] = len;
	s->first_off = 0;
	s->first_len = len;
	s->first_bulk = t == '$' && !rp->neg;
	s->first_val_len = s->bulk_len;
	s->top_start = ~0u;
	s->pos = len;
	if (s->fq_mask)
		rp_fq_note(s, s->rep_base + 1, 0, len, s->first_bulk);
	return 1;
}

/* bpf_loop callback around ps_rp_step */
static long rp_step(__u32 i, void *unused)
{
	__u32 idx = PS_SCR_TC;

	return ps_rp_step(bpf_map_lookup_elem(&ps_scratch, &idx)) ? 1 : 0;
}

/*
 * A reply parse of len bytes in s->buf: clear every per-segment output.
 * rep_base: replies the flow has seen before this segment; auth_idx: the
 * 1-based index of the reply that answers an AUTH/HELLO, 0 for none. The
 * caller sets s->pos and the carried-over state s->rp.
 */
static __always_inline void rp_reset(struct ps_scratch *s, __u32 len,
				     __u32 rep_base, __u32 auth_idx)
{
	s->len = len;
	s->base = 0;
	s->replies = 0;
	s->rp_error = 0;
	s->rep_base = rep_base;
	s->auth_idx = auth_idx;
	s->auth_result = 0;
	s->top_start = ~0u;
	s->first_off = ~0u;
	s->first_bulk = 0;
	s->fq_n = 0;
	s->fq_over = 0;
}

static __always_inline void rp_run(struct ps_scratch *s)
{
	bpf_loop(PS_PAYLOAD_MAX + 1, rp_step, NULL, 0);
}

/* ---- the window walkers: one per direction, for every hook ---- */

/*
 * Every hook walks a stream's bytes the same way: one window of at most
 * PS_PAYLOAD_MAX bytes at a time, copied to s->buf and parsed, the
 * parser's state carried across windows as across segments. The hooks
 * differ only in how a window's bytes are read, named here; every call
 * site passes a constant, so one branch of ps_window_load is emitted.
 */
enum ps_hook {
	PS_HOOK_XDP,    /* xdp_md: bpf_xdp_load_bytes, offsets from the frame */
	PS_HOOK_SKB,    /* __sk_buff (TC, sk_skb): bpf_skb_load_bytes, from
			 * skb->data, paged data too */
	PS_HOOK_MSG,    /* sk_msg_md: the window pulled into one linear piece,
			 * then copied */
};

/* n bytes (1..PS_PAYLOAD_MAX) at off of the hook's packet or message
 * into buf: the thin per-hook part of a walk. 0, or <0 if unreadable. */
static __always_inline long ps_window_load(void *ctx, int hook, __u32 off,
					   __u8 *buf, __u32 n)
{
	struct sk_msg_md *msg = ctx;
	void *data, *data_end;

	if (hook == PS_HOOK_XDP)
		return bpf_xdp_load_bytes(ctx, off, buf, n);
	if (hook == PS_HOOK_SKB)
		return bpf_skb_load_bytes(ctx, off, buf, n);
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return -1;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + n > data_end)
		return -1;
	/* a bounded copy out of the message's linear piece */
	return bpf_probe_read_kernel(buf, n, data);
}

/*
 * One window, n bytes at off, loaded and parsed: by the request parser
 * (rq, its TTL commands settled after the window) or the reply parser.
 * Returns 0, or -1 when it could not be read.
 */
static __always_inline int ps_window(void *ctx, int hook, int rq,
				     struct ps_scratch *s, __u32 off, __u32 n)
{
	if (!s || n == 0 || n > PS_PAYLOAD_MAX)
		return -1;
	BOUND_1_TO(n, PS_PAYLOAD_MAX);
	if (ps_window_load(ctx, hook, off, s->buf, n))
		return -1;
	s->len = n;
	s->pos = 0;
	if (rq) {
		bpf_loop(PS_PAYLOAD_MAX + 1, rq_step, NULL, 0);
		rq_ttl_window_end(s);
	} else {
		rp_run(s);
	}
	return 0;
}

/*
 * The windows as global functions, one per hook and direction: one-line
 * shims over ps_window, because the verifier takes a global function's
 * context argument only typed as the program's context (a void * one
 * fails the call: "arg#0 reference type('UNKNOWN ') size cannot be
 * determined", "Caller passes invalid args into func"). Not inlined into
 * the walk: a window is verified once, not once per window and caller
 * state (inlined, every program still loads on 6.18 but verifies more:
 * ps_xdp +5.5k instructions, ps_tc +8.8k, ps_side_in +7.3k, ps_side_out
 * +6.6k, ps_post_verdict +7.3k, ps_post_msg +8.0k); the side path's own
 * walk had failed "backtracking call unexpected regs" on the walk's
 * loop-carried values in the frame calling bpf_loop. An object that does
 * not call one drops it at load (libbpf loads only the subprograms a
 * program calls).
 */
__noinline int rq_window_xdp(struct xdp_md *ctx, struct ps_scratch *s,
			     __u32 off, __u32 n)
{
	return ctx ? ps_window(ctx, PS_HOOK_XDP, 1, s, off, n) : -1;
}

__noinline int rq_window_skb(struct __sk_buff *skb, struct ps_scratch *s,
			     __u32 off, __u32 n)
{
	return skb ? ps_window(skb, PS_HOOK_SKB, 1, s, off, n) : -1;
}

__noinline int rp_window_skb(struct __sk_buff *skb, struct ps_scratch *s,
			     __u32 off, __u32 n)
{
	return skb ? ps_window(skb, PS_HOOK_SKB, 0, s, off, n) : -1;
}

__noinline int rp_window_msg(struct sk_msg_md *msg, struct ps_scratch *s,
			     __u32 off, __u32 n)
{
	return msg ? ps_window(msg, PS_HOOK_MSG, 0, s, off, n) : -1;
}

/*
 * The request parser over payload bytes [s->pos, len) at pl_off of the
 * hook's packet, a window at a time: XDP's segments past one window, the
 * side path's at TC, poststack's skbs. The caller resets the parse and
 * sets s->pos; offsets reported are from the payload start (s->base).
 * Returns 0, or -1 when a window could not be read.
 */
static __always_inline int ps_rq_walk(void *ctx, int hook, struct ps_scratch *s,
				      __u32 pl_off, __u32 len)
{
	__u32 base, n, w;
	int r;

	/* from memory: a base the verifier knows exactly would make every
	 * window a new state, past its budget */
	base = s->pos;
	for (w = 0; w < PS_WINDOWS_MAX; w++) {
		if (base >= len || (s->rq_out & RQO_ERROR))
			return 0;
		n = len - base;
		if (n > PS_PAYLOAD_MAX)
			n = PS_PAYLOAD_MAX;
		s->base = base;
		if (hook == PS_HOOK_XDP)
			r = rq_window_xdp(ctx, s, pl_off + base, n);
		else
			r = rq_window_skb(ctx, s, pl_off + base, n);
		if (r)
			return -1;
		base += n;
	}
	return base >= len ? 0 : -1;
}

/*
 * The reply parser over bytes [s->pos, len) at pl_off, a window at a
 * time (TC egress, the side path, poststack's sk_msg). A bulk string's
 * body is skipped unread but for its last byte: a value is never copied
 * to be skipped. The caller resets the parse and sets s->pos. Returns 0,
 * or -1 when a window could not be read.
 */
static __always_inline int ps_rp_walk(void *ctx, int hook, struct ps_scratch *s,
				      __u32 pl_off, __u32 len)
{
	__u32 base, n, w;
	int r;

	base = s->pos; /* from memory, as in ps_rq_walk */
	for (w = 0; w < PS_WINDOWS_MAX; w++) {
		if (base >= len || s->rp_error)
			return 0;
		if (s->rp.state == PS_RP_BULK && s->rp.num > 1) {
			n = s->rp.num - 1;
			if (n > len - base)
				n = len - base;
			s->rp.num -= n;
			base += n;
			if (base >= len)
				return 0;
		}
		n = len - base;
		if (n > PS_PAYLOAD_MAX)
			n = PS_PAYLOAD_MAX;
		s->base = base;
		if (hook == PS_HOOK_MSG)
			r = rp_window_msg(ctx, s, pl_off + base, n);
		else
			r = rp_window_skb(ctx, s, pl_off + base, n);
		if (r)
			return -1;
		base += n;
	}
	return base >= len ? 0 : -1;
}

/* The walks as global functions per context type (verified once each;
 * see rq_window_xdp for why per type). */
__noinline int rq_walk_skb(struct __sk_buff *skb, struct ps_scratch *s,
			   __u32 pl_off, __u32 len)
{
	if (!skb || !s)
		return -1;
	return ps_rq_walk(skb, PS_HOOK_SKB, s, pl_off, len);
}

__noinline int rp_walk_skb(struct __sk_buff *skb, struct ps_scratch *s,
			   __u32 pl_off, __u32 len)
{
	if (!skb || !s)
		return -1;
	return ps_rp_walk(skb, PS_HOOK_SKB, s, pl_off, len);
}

__noinline int rp_walk_msg(struct sk_msg_md *msg, struct ps_scratch *s,
			   __u32 pl_off, __u32 len)
{
	if (!msg || !s)
		return -1;
	return ps_rp_walk(msg, PS_HOOK_MSG, s, pl_off, len);
}

/*
 * The fast paths (ps_fast_cmds) on a payload that fits one window, at
 * pl_off of an skb, before the walk: the side path's and poststack's
 * requests (XDP's reads its frame in place, or copies it once for the
 * parser and its sum: rq_parse). 1 if they took it, as the general parser
 * would leave it; 0 with nothing changed. Global: verified once.
 */
__noinline int rq_fast_skb(struct __sk_buff *skb, struct ps_scratch *s,
			   __u32 pl_off, __u32 len)
{
	__u32 n = len;

	if (!skb || !s || s->pos || s->rq.state != PS_RQ_IDLE || n == 0 ||
	    n > PS_PAYLOAD_MAX)
		return 0;
	BOUND_1_TO(n, PS_PAYLOAD_MAX);
	if (ps_window_load(skb, PS_HOOK_SKB, pl_off, s->buf, n))
		return 0;
	s->len = n;
	/* (a canonical SET is taken too: it invalidates its key, and its
	 * key's TTL goes) */
	if (!ps_fast_cmds(s))
		return 0;
	rq_ttl_window_end(s);
	return 1;
}

/* ---- the request parse as XDP runs it ---- */

/*
 * A payload longer than the scratch buffer (a multi-buffer frame, a jumbo
 * MTU), parsed in windows of PS_PAYLOAD_MAX bytes from s->pos on (the
 * shared walk, ps_rq_walk): the parser's state carries across windows as
 * across segments, so commands are counted and writes invalidated (an
 * argument split by a window edge flushes, as one split by a segment edge
 * does). GET key offsets are not kept (RQO_BIG): such a segment is never
 * answered. Global: verified once.
 */
__noinline int rq_walk(struct xdp_md *ctx, struct ps_scratch *s,
		       __u32 payload_off, __u32 len)
{
	if (!ctx || !s)
		return -1;
	rq_reset(s, 0);   /* (s->pos stays) */
	s->rq_out |= RQO_BIG;
	return ps_rq_walk(ctx, PS_HOOK_XDP, s, payload_off, len);
}

/* a canonical single GET is at most this long: 2 length digits, a key of
 * PS_KEY_MAX bytes, CRLF */
#define PS_GET1_MAX (PS_GET_KEY_OFF2 + PS_KEY_MAX + 2)

/*
 * The commonest segment, one "*2\r\n$3\r\nGET\r\n$<n>\r\n<key>\r\n" filling
 * it, read in place: its key goes straight from the packet into s->key
 * (key_ready), the payload is not copied to scratch. The head is read by
 * resp_get_head, as ps_fast_cmds reads it; the fuzzer runs this function
 * on frames and holds it to its model of Redis's parser.
 * Returns 1 when it was that, 0 (nothing changed) otherwise.
 */
static __always_inline int xdp_fast_get(struct xdp_md *ctx,
					struct ps_scratch *s, __u32 payload_off,
					__u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 klen, koff = 0, end;
	__u8 *pl, *tail;

	if (payload_off > HDRS_MAX || len < PS_GET_MIN_LEN || len > PS_GET1_MAX)
		return 0;
	pl = data + payload_off;
	if ((void *)(pl + PS_GET_MIN_LEN) > data_end)
		return 0;
	klen = resp_get_head(pl, &koff);
	end = koff + klen;
	if (!klen || klen > PS_KEY_MAX || end + 2 != len)
		return 0;
	/* the CRLF after the key, at an offset below PS_GET1_MAX */
	end &= 127;
	tail = pl + end;
	/* one pointer for the check and both reads: the verifier knows the
	 * range of the register it checked, not of a recomputed one */
	BARRIER_VAR(tail);
	if ((void *)(tail + 2) > data_end || tail[0] != '\r' || tail[1] != '\n')
		return 0;
	__builtin_memset(&s->key, 0, sizeof(s->key));
	s->key.len = klen;
	BOUND_1_TO(klen, PS_KEY_MAX);
	if (bpf_xdp_load_bytes(ctx, payload_off + koff, s->key.data, klen))
		return 0;
	ps_key_seal(&s->key);
	/* its ones' complement sum for hostile.h, from what was read: the
	 * header words resp_get_head compared, the length digits, the key
	 * (zero padded to PS_KEY_MAX: every word summed, no branch), the
	 * CRLFs */
	{
		const __u32 *kw = (const __u32 *)s->key.data;
		__u32 d0 = pl[PS_GET_HDR_LEN], d1 = pl[PS_GET_HDR_LEN + 1];
		/* the name as sent: its case is the client's */
		__u64 sum = (PS_GET_HDR8 & 0xffffffff) + (PS_GET_HDR8 >> 32) +
			    PS_LDW(__u32, pl + PS_GET_HDR4_OFF) + PS_GET_HDR2 +
			    d0 + (d1 << 8);
		__u64 ks = 0;
		__u32 i;

		sum += koff == PS_GET_KEY_OFF1 ? '\n' : '\r' + ('\n' << 8);
#pragma unroll
		for (i = 0; i < PS_KEY_MAX / 4; i++)
			ks += kw[i];
		sum += csum_at_offset(csum_fold64(ks), koff);
		sum += csum_byte('\r', end) + csum_byte('\n', end + 1);
		s->pl_sum = csum_fold64(sum);
	}
	rq_reset(s, len);
	s->key_off[0] = koff;
	s->key_len[0] = klen;
	s->get_pos[0] = 0;
	s->get_start[0] = 0;
	s->ngets = 1;
	s->ncmds = 1;
	s->pos = len;
	s->key_ready = 1;
	return 1;
}

/*
 * The ones' complement sum of buf[0..len) (len <= PS_PAYLOAD_MAX), by
 * bpf_csum_diff over whole words (at most 512 bytes a call): the bytes
 * after len up to the next word are zeroed first.
 */
static __always_inline __u32 ps_buf_sum(struct ps_scratch *s, __u32 len)
{
	__u64 sum = 0;
	__u32 i, n;

	if (len > PS_PAYLOAD_MAX)
		return 0;
	s->buf[len] = 0;
	s->buf[len + 1] = 0;
	s->buf[len + 2] = 0;
	for (i = 0; i < PS_PAYLOAD_MAX / 512; i++) {
		if (i * 512 >= len)
			break;
		n = len - i * 512;
		if (n > 512)
			n = 512;
		n = (n + 3) & ~3u;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)&s->buf[i * 512],
					    n, 0);
	}
	return csum_fold64(sum);
}

/* bpf_loop's context for xdp_payload_sum: one 512-byte piece a call */
struct ps_sum_loop {
	struct xdp_md *ctx;
	struct ps_scratch *s;
	__u32 payload_off, len;
	__u64 sum;
	__u32 err;
};

static long ps_sum_step(__u32 i, void *data)
{
	struct ps_sum_loop *l = data;
	struct ps_scratch *s = l->s;
	__u32 off = i * 512, n;

	if (!s || off >= l->len)
		return 1;
	n = l->len - off;
	if (n > 512)
		n = 512;
	BOUND_1_TO(n, 512);
	if (bpf_xdp_load_bytes(l->ctx, l->payload_off + off, s->buf, n)) {
		l->err = 1;
		return 1;
	}
	s->buf[n] = 0;
	s->buf[n + 1] = 0;
	s->buf[n + 2] = 0;
	l->sum += (__u32)bpf_csum_diff(NULL, 0, (void *)s->buf, (n + 3) & ~3u, 0);
	return 0;
}

/*
 * The ones' complement sum of a payload the parser does not read
 * (a retransmission, a segment longer than its window) into s->pl_sum,
 * 512 bytes at a time through s->buf. bpf_loop: an unrolled loop over a
 * 64 KB segment took the verifier 400k instructions. Global.
 */
__noinline int xdp_payload_sum(struct xdp_md *ctx, struct ps_scratch *s,
			       __u32 payload_off, __u32 len)
{
	struct ps_sum_loop l = { .ctx = ctx, .s = s, .payload_off = payload_off,
				 .len = len };

	if (!ctx || !s)
		return 0;
	bpf_loop(PS_SEG_MAX / 512 + 1, ps_sum_step, &l, 0);
	s->pl_sum = l.err ? 0 : csum_fold64(l.sum);
	return 0;
}

/*
 * Copy the payload into scratch and run the request parser from s->pos,
 * starting in state s->rq, with s->naive: the caller sets all three.
 * Returns 0, or -1 when the payload could not be read.
 */
__noinline int rq_parse(struct xdp_md *ctx, struct ps_scratch *s,
			__u32 payload_off, __u32 len)
{
	if (!s || len == 0)
		return -1;
	s->key_ready = 0;
	if (s->pos == 0 && s->rq.state == PS_RQ_IDLE &&
	    xdp_fast_get(ctx, s, payload_off, len))
		return 0;
	if (len > PS_PAYLOAD_MAX) {
		/* the sum first: the walk reuses buf */
		xdp_payload_sum(ctx, s, payload_off, len);
		if (rq_walk(ctx, s, payload_off, len))
			return -1;
	} else {
		BOUND_1_TO(len, PS_PAYLOAD_MAX);
		if (bpf_xdp_load_bytes(ctx, payload_off, s->buf, len))
			return -1;
		s->pl_sum = ps_buf_sum(s, len);
		rq_reset(s, len);
		/* the common case without the byte-by-byte parser */
		if (!ps_fast_cmds(s))
			rq_run_general(s);
		rq_ttl_window_end(s);
	}
	if (s->invalidated)
		stat_add(PS_ST_INVALIDATIONS, s->invalidated);
	if (s->flushes)
		stat_add(PS_ST_FLUSHES, s->flushes);
	return 0;
}

#endif
