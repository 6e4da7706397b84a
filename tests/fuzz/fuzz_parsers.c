// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_parsers.c - libFuzzer harness for the parsers of the XDP program,
 * compiled as user-space C from the very headers the BPF object is built
 * from (xdp/parsing.h, xdp/resp.h and what they include) through tests/fuzz/bpf_user.h.
 *
 * Input: byte 0 picks the target, byte 1 a split point, the rest is data.
 *   requests: the request parse as XDP runs it (rq_parse on a frame:
 *     the canonical GET read in place, else the copy, the fast paths, the
 *     byte-by-byte parser) and the stream parser alone, checked against a
 *     model of Redis 7.0's reader (commands, GET keys, streams Redis
 *     refuses or never reads on), against
 *     itself split in two segments (command counts add up; every key the
 *     whole segment invalidates is invalidated, or the cache flushed), and
 *     the fast path against the general parser on the same bytes;
 *   replies: the RESP2/3 reply parser as TC runs it, against a reference
 *     (top-level replies, errors, first bulk string) and split in two;
 *   both: the shared window walks every hook runs (resp.h: rq_walk at
 *     XDP, rq_fast_skb/rq_walk_skb for the side path and poststack's
 *     sk_skb, rp_walk_skb for TC egress and the side path, rp_walk_msg for
 *     poststack's sk_msg) on the whole input, up to four windows, through
 *     the hooks' loaders, against the same references;
 *   frame: ps_parse + parse_tcp_opts on an exactly-sized heap copy, so
 *     ASan sees any read past the frame; offsets must stay in the frame.
 * Any disagreement aborts with a message (a crash for libFuzzer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/mman.h>
#include "bpf_user.h"
#include "prestack.h"
#include "maps.h"
#include "scratch.h"
#include "parsing.h"
#include "resp.h"

/* ---- the maps the parsers touch ---- */

static struct ps_config cfg;
static __u32 epochs[PS_EPOCH_SLOTS];
static struct ps_scratch scratch[2];
static __u64 stats[PS_ST__MAX];
static __u32 wr_inflight[PS_EPOCH_SLOTS + 1];
static __u64 lease[PS_LEASE__MAX];

#define LOG_MAX 4096
static struct ps_cache_key inval_log[LOG_MAX]; /* keys invalidated */
static unsigned inval_n;
static __u64 inval_hash;  /* the hash ps_cache's last delete had */
static int inval_hashed;  /* ... and ps_cache_big's delete is owed */

void *bpf_map_lookup_elem(void *map, const void *key)
{
	__u32 i = *(const __u32 *)key;

	if (map == &ps_config)
		return i == 0 ? &cfg : NULL;
	if (map == &ps_epochs)
		return i < PS_EPOCH_SLOTS ? &epochs[i] : NULL;
	if (map == &ps_scratch)
		return i < 2 ? &scratch[i] : NULL;
	if (map == &ps_stats)
		return i < PS_ST__MAX ? &stats[i] : NULL;
	if (map == &ps_cmds)
		return NULL; /* no command table: the built-in one decides */
	if (map == &ps_ttl)
		return NULL; /* no key has a TTL */
	if (map == &ps_wr_inflight)
		return i <= PS_EPOCH_SLOTS ? &wr_inflight[i] : NULL;
	if (map == &ps_lease)
		return i < PS_LEASE__MAX ? &lease[i] : NULL;
	fprintf(stderr, "fuzz: lookup in an unexpected map\n");
	abort();
}

long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	(void)key; (void)value; (void)flags;
	if (map != &ps_ttl) {
		fprintf(stderr, "fuzz: update of an unexpected map\n");
		abort();
	}
	return 0;
}

long bpf_map_delete_elem(void *map, const void *key)
{
	const struct ps_cache_key *k = key;

	/* an invalidation deletes from both caches, ps_cache under the key's
	 * hash, then ps_cache_big under the key: the log keeps the key, whose
	 * hash must be the one ps_cache's delete had, taken by ps_key_hash */
	if (map == &ps_cache) {
		memcpy(&inval_hash, key, sizeof(inval_hash));
		inval_hashed = 1;
		return -ENOENT;
	}
	if (map != &ps_cache_big) {
		fprintf(stderr, "fuzz: delete from an unexpected map\n");
		abort();
	}
	if (!inval_hashed || k->hash != inval_hash || k->hash != ps_key_hash(k)) {
		fprintf(stderr, "fuzz: a key deleted from ps_cache_big not under its hash "
			"in ps_cache\n");
		abort();
	}
	inval_hashed = 0;
	if (inval_n < LOG_MAX)
		memcpy(&inval_log[inval_n++], key, sizeof(struct ps_cache_key));
	return -ENOENT; /* nothing is cached here */
}

long bpf_probe_read_kernel(void *dst, __u32 size, const void *src)
{
	memcpy(dst, src, size);
	return 0;
}

long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags)
{
	long (*cb)(__u32, void *) = (long (*)(__u32, void *))callback_fn;
	__u32 i;

	(void)flags;
	for (i = 0; i < nr_loops; i++)
		if (cb(i, callback_ctx))
			return i + 1;
	return i;
}

/* helpers the parsers never call: reaching one is a harness bug */
#define UNREACHED(name) do { fprintf(stderr, "fuzz: %s called\n", name); abort(); } while (0)
/* TTL writes read the clock, and ask the watcher through the ring */
__u64 bpf_ktime_get_ns(void) { return 1000000000ull; }
long bpf_ringbuf_output(void *r, void *d, __u64 n, __u64 f)
{ (void)r; (void)d; (void)n; (void)f; return 0; }
__u32 bpf_get_prandom_u32(void) { UNREACHED("bpf_get_prandom_u32"); }
long bpf_skb_pull_data(struct __sk_buff *c, __u32 l) { (void)c; (void)l; UNREACHED("bpf_skb_pull_data"); }
/* the kernel's csum_partial of to[] minus from[], 32 bits with end-around
 * carry (the payload sum rq_parse takes for the checksum check) */
__s64 bpf_csum_diff(__be32 *f, __u32 fs, __be32 *t, __u32 ts, __u32 seed)
{
	__u64 sum = seed;
	__u32 w;

	for (__u32 i = 0; i + 4 <= ts; i += 4) {
		memcpy(&w, (const __u8 *)t + i, 4);
		sum += w;
	}
	for (__u32 i = 0; i + 4 <= fs; i += 4) {
		memcpy(&w, (const __u8 *)f + i, 4);
		sum += (__u32)~w;
	}
	while (sum >> 32)
		sum = (sum & 0xffffffff) + (sum >> 32);
	return (__s64)sum;
}

#define FAIL(...) do { fprintf(stderr, "fuzz: " __VA_ARGS__); \
		       fputc('\n', stderr); abort(); } while (0)

/* ---- the other hooks' loaders: an skb or sk_msg in the harness ---- */

/*
 * The shared walks (resp.h, ps_rq_walk/ps_rp_walk) read windows through
 * the hook's loader: bpf_skb_load_bytes (TC, the side path, poststack's
 * sk_skb), bpf_msg_pull_data and a copy (poststack's sk_msg). Here both
 * read hook_bytes, an exactly-sized heap copy (ASan sees a read past it);
 * a pulled message is linear in one piece, [start, end).
 */
static __u8 *hook_bytes;
static __u32 hook_len;

long bpf_skb_load_bytes(const void *c, __u32 o, void *t, __u32 l)
{
	(void)c;
	if (!hook_bytes || (__u64)o + l > hook_len)
		return -EFAULT;
	memcpy(t, hook_bytes + o, l);
	return 0;
}

long bpf_msg_pull_data(struct sk_msg_md *msg, __u32 start, __u32 end, __u64 flags)
{
	(void)flags;
	if (!hook_bytes || start >= end || end > hook_len)
		return -EINVAL;
	msg->data = hook_bytes + start;
	msg->data_end = hook_bytes + end;
	return 0;
}

/* d[0..n) after hdr bytes of headers as the hook's packet; free with
 * hook_free */
static void hook_set(const __u8 *d, __u32 n, __u32 hdr)
{
	hook_bytes = malloc(hdr + n + 1);
	if (!hook_bytes)
		abort();
	memset(hook_bytes, 0, hdr);
	memcpy(hook_bytes + hdr, d, n);
	hook_len = hdr + n;
}

static void hook_free(void)
{
	free(hook_bytes);
	hook_bytes = NULL;
	hook_len = 0;
}

/* ---- requests ---- */

/* One segment through the request parser the way rq_parse() runs it. */
static struct ps_scratch *rq_segment(const __u8 *d, __u32 n, int fresh)
{
	struct ps_scratch *s = &scratch[PS_SCR_XDP];

	if (fresh)
		memset(&s->rq, 0, sizeof(s->rq));
	memcpy(s->buf, d, n);
	s->pos = 0;
	s->naive = 0;
	rq_reset(s, n);
	rq_run(s);
	return s;
}

struct ref_rq {
	unsigned ncmds, ngets, error;
	__u32 koff[PS_MAX_CMDS + 1], klen[PS_MAX_CMDS + 1];
};

/*
 * A model of Redis 7.0's request reader (networking.c: processInputBuffer,
 * processMultibulkBuffer, processInlineBuffer; util.c: string2ll), written
 * from its code and checked on redis-server 7.0 over loopback. It reads
 * the whole input as Redis would and says what Redis makes of it: the
 * commands it runs (one reply each), the GET keys, and whether the stream
 * is doomed (Redis replies with a protocol error and closes, or waits
 * forever; every continuation of the input ends so). Where prestack's
 * parser gives a stream up that Redis would still read, the model says so
 * too, each marked DEVIATION: never answered, so never wrong.
 */

/* A count or length after '*' or '$', as string2ll reads the bytes up to
 * the first CR (Redis finds it with strchr, which stops at a NUL: then it
 * waits forever). 1: read, *p past the CR and the byte after it (never
 * looked at); 0: more data could still make it valid; -1: doomed. */
static int ref_num(const __u8 *b, __u32 n, __u32 *p, int count, __s64 *v)
{
	__u32 i = *p, digits = 0;
	int neg = 0, zero = 0;
	__u64 m = 0;

	for (; i < n && b[i] != '\r'; i++) {
		__u8 c = b[i];

		if (c == '-' && count && !neg && !digits) {
			neg = 1; /* "*-1": a count <= 0 is no command */
			continue;
		}
		if (c < '0' || c > '9' || zero || (c == '0' && !digits && neg))
			return -1; /* '+', a space, a NUL, "01", "-0" */
		zero = c == '0' && !digits;
		digits++;
		m = m * 10 + (__u64)(c - '0');
		/* lengths: Redis's proto-max-bulk-len; counts: DEVIATION,
		 * Redis reads up to INT_MAX */
		if (m > PS_NUM_MAX)
			return -1;
	}
	if (i >= n)
		return 0;
	if (!digits)
		return -1; /* "*\r", "$\r", "*-\r" */
	if (i + 1 >= n)
		return 0;  /* the byte after the CR is needed, not read */
	*p = i + 2;
	*v = neg ? -(__s64)m : (__s64)m;
	return 1;
}

static int ref_is_get(const __u8 *name, __u64 len)
{
	return len == 3 && (name[0] | 0x20) == 'g' && (name[1] | 0x20) == 'e' &&
	       (name[2] | 0x20) == 't';
}

static int sabotage;

static void ref_requests(const __u8 *b, __u32 n, struct ref_rq *r)
{
	__u32 p = 0;

	memset(r, 0, sizeof(*r));
	while (p < n) {
		__s64 nargs, i, alen;
		__u32 koff = 0, klen = 0, q;
		int is_get = 0, rc, word = 0;

		if (b[p] != '*') {
			/* inline: the line up to LF, split on spaces */
			for (q = p; q < n && b[q] != '\n'; q++) {
				/* NUL: Redis's strchr never finds the LF;
				 * quotes: DEVIATION, not modelled, given up */
				if (b[q] == 0 || b[q] == '"' || b[q] == '\'') {
					r->error = 1;
					return;
				}
				if (!strchr(" \t\r\v\f", b[q]))
					word = 1;
			}
			if (q >= n)
				return;
			r->ncmds += word; /* a line of spaces is no command */
			p = q + 1;
			continue;
		}
		q = p + 1;
		rc = ref_num(b, n, &q, 1, &nargs);
		if (rc <= 0) {
			r->error = rc < 0;
			return;
		}
		p = q;
		if (nargs <= 0)
			continue;              /* "*0", "*-1": no command */
		for (i = 0; i < nargs; i++) {
			if (p >= n)
				return;
			if (b[p] != '$') {    /* "expected '$'" */
				r->error = 1;
				return;
			}
			q = p + 1;
			rc = ref_num(b, n, &q, 0, &alen);
			if (rc <= 0) {
				r->error = rc < 0;
				return;
			}
			p = q;
			/* the argument and two bytes Redis skips unread */
			if ((__u64)p + (__u64)alen + 2 > n)
				return;
			if (i == 0)
				is_get = ref_is_get(b + p, (__u64)alen);
			if (i == 1 && alen >= 1 && alen <= PS_KEY_MAX) {
				koff = p;
				/* PS_FUZZ_SABOTAGE: a wrong reference, to show
				 * that the comparison can fail (tests/fuzz/run.sh) */
				klen = (__u32)alen - (sabotage && alen == 3);
			}
			p += (__u32)alen + 2;
		}
		r->ncmds++;
		if (is_get && nargs == 2 && klen && r->ngets <= PS_MAX_CMDS) {
			r->koff[r->ngets] = koff;
			r->klen[r->ngets] = klen;
			r->ngets++;
		}
	}
}

/* ---- the request parse XDP runs, on a frame ---- */

/*
 * rq_parse (resp.h) reads the frame through an xdp_md whose data fields
 * are 32-bit: the frame lives in memory mapped below 4 GB, so a pointer
 * fits them exactly as it does in the kernel's view of the program.
 */
static __u8 *lowmem;
#define LOWMEM_SIZE (8 * PS_PAYLOAD_MAX + 256)

long bpf_xdp_load_bytes(struct xdp_md *c, __u32 o, void *t, __u32 l)
{
	if ((__u64)c->data + o + l > c->data_end)
		return -EFAULT;
	memcpy(t, (void *)(long)c->data + o, l);
	return 0;
}

/* The payload d[0..n) as a frame's payload at offset HDRS of lowmem,
 * through rq_parse from a command boundary; returns its scratch. */
#define FRAME_HDRS 54 /* Ethernet, IPv4, TCP without options */
static struct ps_scratch *rq_frame(const __u8 *d, __u32 n, int *rc)
{
	struct ps_scratch *s = &scratch[PS_SCR_XDP];
	struct xdp_md ctx = {0};

	memset(lowmem, 0, FRAME_HDRS);
	memcpy(lowmem + FRAME_HDRS, d, n);
	ctx.data = (__u32)(unsigned long)lowmem;
	ctx.data_end = ctx.data + FRAME_HDRS + n;
	memset(&s->rq, 0, sizeof(s->rq));
	s->pos = 0;
	s->naive = 0;
	*rc = rq_parse(&ctx, s, FRAME_HDRS, n);
	return s;
}

static int key_in_log(const struct ps_cache_key *k, unsigned from, unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++)
		if (!memcmp(&inval_log[i], k, sizeof(*k)))
			return 1;
	return 0;
}

/* headers in front of the payload the skb walks read (TC's offsets are
 * from skb->data: Ethernet, IPv4, TCP with timestamps) */
#define WALK_HDRS 66

/*
 * The request walk as every hook runs it, on the whole input (up to four
 * windows): XDP's (rq_parse on a frame; past one window, rq_walk) and the
 * skb hooks' (rq_fast_skb, else rq_walk_skb: the side path at TC,
 * poststack's sk_skb), held to the model: the same commands, the same
 * verdict on the stream, and within one window the same GET keys.
 */
static void fuzz_rq_walks(const __u8 *d, __u32 n)
{
	struct ps_scratch *s = &scratch[PS_SCR_XDP];
	struct __sk_buff skb = {0};
	struct ref_rq ref;
	unsigned i, err;
	int rc;

	if (!n)
		return;
	ref_requests(d, n, &ref);
	if (n > PS_PAYLOAD_MAX) { /* (within one window: fuzz_requests) */
		s = rq_frame(d, n, &rc);
		err = !!(s->rq_out & RQO_ERROR);
		if (rc || s->ncmds != ref.ncmds || err != ref.error || !(s->rq_out & RQO_BIG))
			FAIL("request walk at XDP: %d, %u commands (error %u, out %#x), "
			     "Redis %u (error %u)", rc, s->ncmds, err, s->rq_out, ref.ncmds,
			     ref.error);
	}
	hook_set(d, n, WALK_HDRS);
	memset(&s->rq, 0, sizeof(s->rq));
	rq_reset(s, 0);
	s->naive = 0;
	s->pos = 0;
	/* as the side path and poststack run it: the fast paths, else the walk */
	rc = 0;
	if (!rq_fast_skb(&skb, s, WALK_HDRS, n))
		rc = rq_walk_skb(&skb, s, WALK_HDRS, n);
	hook_free();
	err = !!(s->rq_out & RQO_ERROR);
	if (rc || s->ncmds != ref.ncmds || err != ref.error)
		FAIL("request walk of an skb: %d, %u commands (error %u), Redis %u (error %u)",
		     rc, s->ncmds, err, ref.ncmds, ref.error);
	if (n <= PS_PAYLOAD_MAX && !(s->rq_out & RQO_TOO_MANY)) {
		if (s->ngets != ref.ngets)
			FAIL("request walk of an skb: %u GETs, Redis %u", s->ngets, ref.ngets);
		for (i = 0; i < s->ngets && i < PS_MAX_CMDS; i++)
			if (s->key_off[i] != ref.koff[i] || s->key_len[i] != ref.klen[i])
				FAIL("request walk of an skb: GET %u key at %u+%u, Redis %u+%u",
				     i, s->key_off[i], s->key_len[i], ref.koff[i], ref.klen[i]);
	}
}

static void fuzz_requests(const __u8 *d, __u32 n, __u32 split)
{
	struct ref_rq ref;
	struct ps_scratch *s;
	unsigned whole_ncmds, whole_err, whole_flush, w_from, w_to, i;
	unsigned ncmds2, err2, flush2, s_from;
	__u32 n_all = n;

	if (n > PS_PAYLOAD_MAX)
		n = PS_PAYLOAD_MAX;
	ref_requests(d, n, &ref);

	inval_n = 0;
	s = rq_segment(d, n, 1);
	w_from = 0;
	w_to = inval_n;
	whole_ncmds = s->ncmds;
	whole_err = !!(s->rq_out & RQO_ERROR);
	whole_flush = s->flushes;
	if (whole_ncmds != ref.ncmds || whole_err != ref.error)
		FAIL("requests: parser %u commands (error %u), reference %u (error %u)",
		     whole_ncmds, whole_err, ref.ncmds, ref.error);
	if (!(s->rq_out & RQO_TOO_MANY)) {
		if (s->ngets != ref.ngets)
			FAIL("requests: parser %u GETs, Redis %u", s->ngets, ref.ngets);
		for (i = 0; i < s->ngets; i++)
			if (s->key_off[i] != ref.koff[i] || s->key_len[i] != ref.klen[i])
				FAIL("requests: GET %u key at %u+%u, reference %u+%u", i,
				     s->key_off[i], s->key_len[i], ref.koff[i], ref.klen[i]);
	}
	for (i = 0; i < s->ngets && i < PS_MAX_CMDS; i++)
		if (s->key_off[i] + s->key_len[i] + 2 > n || s->key_len[i] > PS_KEY_MAX)
			FAIL("requests: GET key outside the segment");

	/* what XDP runs (xdp_fast_get in place, else the copy and the fast
	 * paths or the general parser) must say what the model says */
	if (n) { /* (an empty segment is never parsed) */
		int rc;
		unsigned fn, fe;

		s = rq_frame(d, n, &rc);
		fn = s->ncmds;
		fe = !!(s->rq_out & RQO_ERROR);
		if (rc || fn != ref.ncmds || fe != ref.error)
			FAIL("requests at XDP: rq_parse %d, %u commands (error %u), Redis %u (error %u)",
			     rc, fn, fe, ref.ncmds, ref.error);
		if (!(s->rq_out & RQO_TOO_MANY) && s->ngets != ref.ngets)
			FAIL("requests at XDP: %u GETs, Redis %u", s->ngets, ref.ngets);
		for (i = 0; i < s->ngets && i < ref.ngets && i < PS_MAX_CMDS; i++)
			if (s->key_off[i] != ref.koff[i] || s->key_len[i] != ref.klen[i])
				FAIL("requests at XDP: GET %u key at %u+%u, Redis %u+%u", i,
				     s->key_off[i], s->key_len[i], ref.koff[i], ref.klen[i]);
		if (s->key_ready && (s->ngets != 1 || s->key.len != s->key_len[0] ||
				     memcmp(s->key.data, d + s->key_off[0], s->key.len) ||
				     s->key.hash != ps_key_hash(&s->key)))
			FAIL("requests at XDP: the key loaded in place differs");
	}

	/* the fast path must agree with the general parser on its inputs:
	 * GETs (where each is, which command, where it starts), commands,
	 * flags, and the invalidations with the command each belongs to */
	memset(&s->rq, 0, sizeof(s->rq));
	rq_reset(s, n);
	s->pos = 0;
	s->wr_track = 1;
	s->wr_n = 0;
	i = inval_n;
	if (ps_fast_cmds(s)) {
		struct ps_scratch fast = scratch[PS_SCR_XDP];
		unsigned fast_from = i, fast_to = inval_n, j;

		s->pos = 0;
		rq_reset(s, n);
		memset(&s->rq, 0, sizeof(s->rq));
		s->wr_n = 0;
		rq_run_general(s);
		if (fast.ngets != s->ngets || fast.ncmds != s->ncmds || fast.rq_out != s->rq_out ||
		    fast.flushes != s->flushes || fast.invalidated != s->invalidated)
			FAIL("fast path: %u GETs/%u commands (out %#x), general parser %u/%u (out %#x)",
			     fast.ngets, fast.ncmds, fast.rq_out, s->ngets, s->ncmds, s->rq_out);
		for (j = 0; j < fast.ngets && j < PS_MAX_CMDS; j++)
			if (fast.key_off[j] != s->key_off[j] || fast.key_len[j] != s->key_len[j] ||
			    fast.get_pos[j] != s->get_pos[j] || fast.get_start[j] != s->get_start[j])
				FAIL("fast path: GET %u differs", j);
		if (fast.wr_n != s->wr_n)
			FAIL("fast path: %u writes, general parser %u", fast.wr_n, s->wr_n);
		for (j = 0; j < fast.wr_n && j < PS_WR_SCR; j++)
			if (fast.wr_cmd[j] != s->wr_cmd[j] || fast.wr_slot[j] != s->wr_slot[j])
				FAIL("fast path: write %u differs", j);
		if (fast_to - fast_from != inval_n - fast_to ||
		    (fast_to > fast_from &&
		     memcmp(&inval_log[fast_from], &inval_log[fast_to],
			    (fast_to - fast_from) * sizeof(inval_log[0]))))
			FAIL("fast path: invalidated other keys than the general parser");
	}
	s->wr_track = 0;

	/* the same bytes in two segments, parser state carried over */
	split = n ? split % (n + 1) : 0;
	s_from = inval_n;
	s = rq_segment(d, split, 1);
	ncmds2 = s->ncmds;
	err2 = !!(s->rq_out & RQO_ERROR);
	flush2 = s->flushes;
	if (!err2) {
		s = rq_segment(d + split, n - split, 0);
		ncmds2 += s->ncmds;
		err2 = !!(s->rq_out & RQO_ERROR);
		flush2 += s->flushes;
	}
	if (ncmds2 != whole_ncmds || err2 != whole_err)
		FAIL("requests split at %u: %u commands (error %u), whole %u (error %u)",
		     split, ncmds2, err2, whole_ncmds, whole_err);
	/* coherence: what the whole segment invalidates, the split one must
	 * invalidate too, unless it flushed the cache instead */
	if (!flush2 && inval_n < LOG_MAX)
		for (i = w_from; i < w_to; i++)
			if (!key_in_log(&inval_log[i], s_from, inval_n))
				FAIL("requests split at %u: a key invalidated whole was not "
				     "invalidated split, and nothing was flushed", split);
	(void)whole_flush;

	fuzz_rq_walks(d, n_all);
}

/* ---- replies ---- */

struct ref_rp {
	unsigned replies, error;
	__u32 first_len, first_bulk, first_val_len;
};

/* One element at nesting depth `depth`: 1 complete, 0 out of data, -1 error.
 * bulk, blen: it was a non-null '$' bulk string of that length. */
static int ref_elem(const __u8 *b, __u32 n, __u32 *p, unsigned depth,
		    int *bulk, __u64 *blen)
{
	__u8 t;
	__u64 v = 0, i, cnt;
	int neg = 0, rc;

	*bulk = 0;
	if (*p >= n)
		return 0;
	t = b[(*p)++];
	switch (t) {
	case '+': case '-': case ':': case '_': case '#': case ',': case '(': {
		const __u8 *lf = memchr(b + *p, '\n', n - *p);

		if (!lf)
			return 0;
		*p = (__u32)(lf - b) + 1;
		return 1;
	}
	case '$': case '=': case '!': case '*': case '%': case '~':
		break;
	default:
		return -1;
	}
	/* the parser's number: digits, one '-' while the value is still 0 */
	for (;;) {
		__u8 c;

		if (*p >= n)
			return 0;
		c = b[(*p)++];
		if (c == '-' && v == 0 && !neg)
			neg = 1;
		else if (c >= '0' && c <= '9') {
			if (v > PS_NUM_MAX / 10)
				return -1;
			v = v * 10 + (c - '0');
		} else if (c == '\r')
			break;
		else
			return -1;
	}
	if (*p >= n)
		return 0;
	if (b[(*p)++] != '\n')
		return -1;
	if (t == '$' || t == '=' || t == '!') {
		if (neg)
			return 1;
		if ((__u64)*p + v + 2 > n)
			return 0;
		*p += (__u32)v + 2;
		*bulk = t == '$';
		*blen = v;
		return 1;
	}
	if (neg || v == 0)
		return 1;
	if (depth >= PS_RP_DEPTH)
		return -1;
	cnt = t == '%' ? v * 2 : v;
	for (i = 0; i < cnt; i++) {
		int sub_bulk;
		__u64 sub_len;

		rc = ref_elem(b, n, p, depth + 1, &sub_bulk, &sub_len);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

static void ref_replies(const __u8 *b, __u32 n, struct ref_rp *r)
{
	__u32 p = 0;

	memset(r, 0, sizeof(*r));
	while (p < n) {
		__u32 start = p;
		__u64 blen = 0;
		int bulk, rc = ref_elem(b, n, &p, 0, &bulk, &blen);

		if (rc <= 0) {
			r->error = rc < 0;
			return;
		}
		if (++r->replies == 1) {
			r->first_len = p - start;
			r->first_bulk = bulk;
			r->first_val_len = (__u32)blen;
		}
	}
}

static struct ps_scratch *rp_segment(const __u8 *d, __u32 n, int fresh)
{
	struct ps_scratch *s = &scratch[PS_SCR_TC];

	if (fresh)
		memset(&s->rp, 0, sizeof(s->rp));
	memcpy(s->buf, d, n);
	s->pos = 0;
	rp_reset(s, n, 0, 0);
	rp_run(s);
	return s;
}

/*
 * The reply walk as every hook runs it, on the whole input (up to four
 * windows, bulk bodies skipped unread): rp_walk_skb (TC egress, the side
 * path) and rp_walk_msg (poststack's sk_msg), held to the reference.
 */
static void fuzz_rp_walks(const __u8 *d, __u32 n)
{
	struct ps_scratch *s = &scratch[PS_SCR_TC];
	struct __sk_buff skb = {0};
	struct sk_msg_md msg = {0};
	struct ref_rp ref;
	int rc, msg_hook;

	ref_replies(d, n, &ref);
	for (msg_hook = 0; msg_hook < 2; msg_hook++) {
		hook_set(d, n, msg_hook ? 0 : WALK_HDRS);
		memset(&s->rp, 0, sizeof(s->rp));
		rp_reset(s, 0, 0, 0);
		s->fq_mask = 0;
		s->pos = 0;
		rc = msg_hook ? rp_walk_msg(&msg, s, 0, n) : rp_walk_skb(&skb, s, WALK_HDRS, n);
		hook_free();
		if (rc || s->replies != ref.replies || s->rp_error != ref.error)
			FAIL("reply walk of an %s: %d, %u replies (error %u), reference %u "
			     "(error %u)", msg_hook ? "sk_msg" : "skb", rc, s->replies,
			     s->rp_error, ref.replies, ref.error);
	}
}

static void fuzz_replies(const __u8 *d, __u32 n, __u32 split)
{
	struct ref_rp ref;
	struct ps_scratch *s;
	unsigned replies, err;
	__u32 n_all = n;

	if (n > PS_PAYLOAD_MAX)
		n = PS_PAYLOAD_MAX;
	ref_replies(d, n, &ref);
	s = rp_segment(d, n, 1);
	if (s->replies != ref.replies || s->rp_error != ref.error)
		FAIL("replies: parser %u (error %u), reference %u (error %u)",
		     s->replies, s->rp_error, ref.replies, ref.error);
	if (s->replies >= 1) {
		if (s->first_off != 0 || s->first_len != ref.first_len ||
		    s->first_bulk != ref.first_bulk ||
		    (ref.first_bulk && s->first_val_len != ref.first_val_len))
			FAIL("replies: first reply %u+%u bulk %u/%u, reference 0+%u bulk %u/%u",
			     s->first_off, s->first_len, s->first_bulk, s->first_val_len,
			     ref.first_len, ref.first_bulk, ref.first_val_len);
	}
	replies = s->replies;
	err = s->rp_error;

	/* the fast path must leave what the general parser leaves */
	memset(&s->rp, 0, sizeof(s->rp));
	s->pos = 0;
	rp_reset(s, n, 0, 0);
	if (ps_fast_reply(s)) {
		struct ps_scratch fast = scratch[PS_SCR_TC];

		rp_segment(d, n, 1);
		if (fast.replies != s->replies || s->rp_error ||
		    fast.first_off != s->first_off || fast.first_len != s->first_len ||
		    fast.first_bulk != s->first_bulk ||
		    fast.first_val_len != s->first_val_len || fast.bulk_len != s->bulk_len ||
		    fast.top_start != s->top_start || fast.top_type != s->top_type ||
		    memcmp(&fast.rp, &s->rp, sizeof(s->rp)))
			FAIL("reply fast path: %u replies, first %u+%u bulk %u/%u; "
			     "general parser %u, %u+%u bulk %u/%u", fast.replies,
			     fast.first_off, fast.first_len, fast.first_bulk,
			     fast.first_val_len, s->replies, s->first_off, s->first_len,
			     s->first_bulk, s->first_val_len);
	}

	split = n ? split % (n + 1) : 0;
	s = rp_segment(d, split, 1);
	if (!s->rp_error) {
		unsigned first = s->replies;

		s = rp_segment(d + split, n - split, 0);
		s->replies += first;
	}
	if (s->replies != replies || s->rp_error != err)
		FAIL("replies split at %u: %u (error %u), whole %u (error %u)",
		     split, s->replies, s->rp_error, replies, err);

	fuzz_rp_walks(d, n_all);
}

/* ---- frames ---- */

static void fuzz_frame(const __u8 *d, __u32 n, __u32 sel)
{
	/* two bytes of headroom put the IP header on a 4-byte boundary, as
	 * NET_IP_ALIGN does for the kernel's buffers; the end is exact */
	__u8 *mem = malloc(n + 2), *f = mem + 2;
	struct ps_pkt p;
	int r;

	if (!mem)
		abort();
	memcpy(f, d, n);
	memset(&p, 0, sizeof(p));
	r = ps_parse(f, f + n, n, &p, htons(6379), sel & 1);
	if (r == PS_PARSE_OK) {
		struct ps_opts o;
		__u32 optlen = p.doff - sizeof(struct tcphdr);

		if (p.payload_off + p.payload_len > n || p.l4_off + p.doff > n ||
		    p.payload_off != p.l4_off + p.doff || p.doff > 60 || p.ihl > 60)
			FAIL("frame: offsets %u/%u+%u outside %u bytes", p.l4_off,
			     p.payload_off, p.payload_len, n);
		memset(&o, 0, sizeof(o));
		memcpy(o.b, f + p.l4_off + sizeof(struct tcphdr), optlen);
		parse_tcp_opts(&o, optlen, &p);
		if (p.sack_n && p.sack_off + 8u * p.sack_n > p.doff)
			FAIL("frame: SACK blocks %u+%u past the header (%u)", p.sack_off,
			     8u * p.sack_n, p.doff);
		if (p.has_ws && p.ws > 14)
			FAIL("frame: window scale %u", p.ws);
	}
	free(mem);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	lowmem = mmap(NULL, LOWMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (lowmem == MAP_FAILED)
		FAIL("no memory below 4 GB for frames");
	sabotage = getenv("PS_FUZZ_SABOTAGE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u32 n;

	if (size < 2)
		return 0;
	n = size - 2 > 4 * PS_PAYLOAD_MAX ? 4 * PS_PAYLOAD_MAX : (__u32)(size - 2);
	switch (data[0] % 3) {
	case 0: fuzz_requests(data + 2, n, data[1] * 7u); break;
	case 1: fuzz_replies(data + 2, n, data[1] * 7u); break;
	default: fuzz_frame(data + 2, n, data[0] / 3); break;
	}
	return 0;
}
