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
	case PS_CMD_SET:
		/* SET key value [options]: only argument 1 names a key */
		if (idx != 1)
			break;
		/* fallthrough */
	case PS_CMD_WRITE:
	case PS_CMD_SPLIT:
	case PS_CMD_TTL:
	case PS_CMD_TTL_DST:
		/* only an argument that fits a cache key can name a cached key */
		if (alen >= 1 && alen <= PS_KEY_MAX) {
			/* the key whose TTL may change (SET k v with options
			 * may set or keep one) is not filled until the
			 * watcher learns its TTL */
			int ttl = (idx == 1 && (rq->cmd == PS_CMD_TTL ||
						(rq->cmd == PS_CMD_SET && rq->nargs > 3))) ||
				  (idx == 2 && rq->cmd == PS_CMD_TTL_DST);

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
	case PS_CMD_QUIT:
		s->rq_out |= RQO_QUIT;
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

		/* header, 1-2 length digits, CRLF, key, CRLF (consts.h) */
		if (pos + PS_GET_MIN_LEN > len || pos > PS_PAYLOAD_MAX - 32)
			return 0;
		if (ld64(s, pos) != PS_GET_HDR8 ||
		    *(const __u32 *)&s->buf[(pos + PS_GET_HDR4_OFF) & PS_BUF_MASK] != PS_GET_HDR4 ||
		    *(const __u16 *)&s->buf[(pos + PS_GET_HDR2_OFF) & PS_BUF_MASK] != PS_GET_HDR2)
			return 0;
		d0 = s->buf[(pos + PS_GET_HDR_LEN) & PS_BUF_MASK];
		d1 = s->buf[(pos + PS_GET_HDR_LEN + 1) & PS_BUF_MASK];
		if (d0 < '1' || d0 > '9')
			return 0;
		if (d1 == '\r') {
			klen = d0 - '0';
			koff = pos + PS_GET_KEY_OFF1;
		} else if (d1 >= '0' && d1 <= '9' &&
			   s->buf[(pos + PS_GET_HDR_LEN + 2) & PS_BUF_MASK] == '\r') {
			klen = (d0 - '0') * 10 + (d1 - '0');
			koff = pos + PS_GET_KEY_OFF2;
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

#define PS_SET_HDR8 0x0a0d33240a0d332aull /* "*3\r\n$3\r\n" */
#define PS_SET_HDR4 0x0d544553u           /* "SET\r" */
#define PS_VLEN_DIGITS 5                   /* longer values: the general parser */

/*
 * Fast path for the commonest write: one "*3\r\n$3\r\nSET\r\n$<n>\r\n<key>
 * \r\n$<m>\r\n<value>\r\n" filling the segment exactly, from a command
 * boundary. Does what the general parser does with it (invalidates the
 * key, counts one command that is not a GET) and returns 1; returns 0
 * (nothing changed) for anything else. Global: verified once.
 */
__noinline int ps_fast_set(struct ps_scratch *s)
{
	__u32 len, klen, koff, pos, vlen = 0, voff, d0, d1, i;

	if (!s)
		return 0;
	len = s->len;
	if (s->pos || s->rq.state != PS_RQ_IDLE || len > PS_PAYLOAD_MAX ||
	    len < 26)
		return 0;
	if (ld64(s, 0) != PS_SET_HDR8 ||
	    *(const __u32 *)&s->buf[8] != PS_SET_HDR4 ||
	    *(const __u16 *)&s->buf[12] != PS_GET_HDR2)
		return 0;
	d0 = s->buf[14];
	d1 = s->buf[15];
	if (d0 < '1' || d0 > '9')
		return 0;
	if (d1 == '\r') {
		klen = d0 - '0';
		koff = 17;
	} else if (d1 >= '0' && d1 <= '9' && s->buf[16] == '\r') {
		klen = (d0 - '0') * 10 + (d1 - '0');
		koff = 18;
	} else {
		return 0;
	}
	pos = koff + klen;
	/* "\r\n$" after the key, then the value's length */
	if (klen > PS_KEY_MAX || pos + 3 > len ||
	    s->buf[(koff - 1) & PS_BUF_MASK] != '\n' ||
	    s->buf[pos & PS_BUF_MASK] != '\r' ||
	    s->buf[(pos + 1) & PS_BUF_MASK] != '\n' ||
	    s->buf[(pos + 2) & PS_BUF_MASK] != '$')
		return 0;
	pos += 3;
	for (i = 0; i <= PS_VLEN_DIGITS; i++) {
		__u8 c = s->buf[(pos + i) & PS_BUF_MASK];

		if (pos + i >= len)
			return 0;
		if (c == '\r')
			break;
		if (c < '0' || c > '9' || i == PS_VLEN_DIGITS)
			return 0;
		vlen = vlen * 10 + (c - '0');
	}
	if (i == 0 || s->buf[(pos + i + 1) & PS_BUF_MASK] != '\n')
		return 0;
	voff = pos + i + 2;
	if (voff + vlen + 2 != len ||
	    s->buf[(voff + vlen) & PS_BUF_MASK] != '\r' ||
	    s->buf[(voff + vlen + 1) & PS_BUF_MASK] != '\n')
		return 0;
	ps_invalidate(s, koff, klen, 0);
	s->ncmds = 1;
	s->ngets = 0;
	s->rq_out |= RQO_OTHER;
	s->pos = len;
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
	if (ps_fast_gets(s) || ps_fast_set(s))
		return;
	rq_run_general(s);
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
	s->first_off = 0;
	s->first_len = len;
	s->first_bulk = t == '$' && !rp->neg;
	s->first_val_len = s->bulk_len;
	s->top_start = ~0u;
	s->pos = len;
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
}

static __always_inline void rp_run(struct ps_scratch *s)
{
	bpf_loop(PS_PAYLOAD_MAX + 1, rp_step, NULL, 0);
}

/*
 * Run a stream parser over payload bytes [from, len) of the packet in ctx,
 * one window of at most PS_PAYLOAD_MAX bytes at a time: the request parser
 * at XDP (xdp, a constant at each call site), the reply parser at TC. The
 * parsers keep their state across windows as they do across segments; the
 * offsets they report are from the payload start (s->base). A bulk string
 * in a reply is skipped unread but for its last byte. The caller resets
 * the parse first. Returns 0, or -1 when a window could not be read.
 */
static __always_inline int ps_walk(void *ctx, int xdp, struct ps_scratch *s,
				   __u32 payload_off, __u32 from, __u32 len)
{
	__u32 base = from, n, w;

	for (w = 0; w < PS_WINDOWS_MAX; w++) {
		if (base >= len || (xdp ? s->rq_out & RQO_ERROR : s->rp_error))
			return 0;
		if (!xdp && s->rp.state == PS_RP_BULK && s->rp.num > 1) {
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
		BOUND_1_TO(n, PS_PAYLOAD_MAX);
		if (ps_load_bytes(ctx, xdp, payload_off + base, s->buf, n))
			return -1;
		s->base = base;
		s->len = n;
		s->pos = 0;
		if (xdp)
			bpf_loop(PS_PAYLOAD_MAX + 1, rq_step, NULL, 0);
		else
			rp_run(s);
		base += n;
	}
	return base >= len ? 0 : -1;
}

#endif
