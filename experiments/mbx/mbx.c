// SPDX-License-Identifier: GPL-2.0
/*
 * mbx.c - a fault-injecting L2 forwarder ("middlebox") for the testbed (the
 * kernel here has no netem). It runs in a namespace between two veths:
 * frames arriving on --a (client side) leave on --b ("c2s"), frames arriving
 * on --b leave on --a ("s2c"), byte for byte, unless a rule acts on them.
 *
 *   mbx --a IF --b IF [--rule RULE]... [--rules-file F] [--log F.csv]
 *       [--seed N] [--quiet]
 *
 * RULE is one string of comma-separated key=value pairs, in any order:
 *   dir=c2s|s2c|any        direction (any)
 *   flags=LETTERS          these TCP flags are all set (F S R P A), e.g. SA
 *   payload=1|0            TCP payload is non-empty / is empty
 *   prefix=STR             payload starts with STR (escapes \r \n \\ \xHH;
 *                          a comma is \x2c)
 *   port=N                 either TCP port is N
 *   ipid0=1|0              IP id is zero (prestack's XDP replies) / is not
 *   nth=N [count=K]        act on matches N..N+K-1 (1-based, per rule);
 *                          the default is nth=1,count=1
 *   every=1 | p=P          act on every match / with probability P (--seed)
 *   action=drop|dup|delay|reorder|split|coalesce|clamp   (required)
 *   ms=D                   delay: hold D ms; reorder, coalesce: give up
 *                          waiting after D ms (200)
 *   k=K                    split: into K segments (2)
 *   win=W                  clamp: the TCP window field becomes min(field, W)
 *                          (the raw field: the sender's window scale applies)
 * Non-TCP frames only match rules without TCP fields. The first rule that
 * matches and acts wins; every matching rule counts the frame for nth.
 *
 * reorder: the frame leaves right after the next frame of its direction
 * has been forwarded. split: the payload into K near-equal segments,
 * headers copied, seq advanced, IP id bumped per extra segment, PSH/FIN on
 * the last only, checksums recomputed. coalesce: the next data segment of
 * the same flow and direction is appended if it is in sequence and the
 * result fits the MTU; otherwise both leave unchanged.
 *
 * --log writes one CSV row per action (for reorder and coalesce when the
 * held frame leaves, the note says how). SIGUSR1 prints the counts;
 * SIGINT/SIGTERM send whatever is held, print the counts and exit 0; an
 * interface that goes away (down, its namespace deleted) exits 1. Bad
 * arguments exit 2. TSO, GSO and GRO must be off on the veths (frames
 * over RX_CAP are not forwarded, over the MTU the peer refuses them); a TCP
 * checksum left to tx offload is filled in here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_CAP 65536            /* receive buffer (4 spare for a VLAN tag) */
#define MAX_RULES 64
#define MAX_HELD 100000         /* frames held at once; beyond, rules do not act */
#define RX_BATCH 256            /* frames read per socket per loop turn */

enum { C2S, S2C, ANY };
enum { A_DROP, A_DUP, A_DELAY, A_REORDER, A_SPLIT, A_COALESCE, A_CLAMP, A_N };
static const char *const act_names[A_N] = { "drop", "dup", "delay", "reorder", "split",
					    "coalesce", "clamp" };
static const char *const dir_names[3] = { "c2s", "s2c", "any" };

/* TCP flag bits, as in byte 13 of the header */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

struct rule {
	int dir, action;
	int payload, ipid0, port;      /* -1: not a condition */
	unsigned flags;
	unsigned char prefix[256];
	size_t prefix_len;
	int every;
	double p;                      /* > 0: act with this probability */
	unsigned long nth, count, matched;
	unsigned ms, k, win;
	int tcp_only;                  /* has a condition only TCP can meet */
	char text[1024];
};

/* a frame held back: delayed, waiting to be reordered, or to coalesce */
struct pkt {
	struct pkt *next;
	uint64_t due_us;               /* leaves at this time at the latest */
	unsigned long idx;             /* per-direction index when it arrived */
	int dir, kind, rule;
	size_t len;
	unsigned char b[];
};

/* offsets into an Ethernet/IPv4/TCP frame */
struct tcpv {
	size_t ip, tcp, pay, plen;
	uint32_t seq, ack;
	unsigned flags, sport, dport, ipid;
};

static struct rule rules[MAX_RULES];
static int nrules;
static struct pkt *held, *tail;        /* sorted by due_us */
static unsigned long nheld, nkind[A_N][2];  /* held, by action and direction */
static int sock[2];                    /* [C2S] bound to A, [S2C] bound to B */
static unsigned mtu[2] = { 1500, 1500 };   /* of the output interface */
static FILE *logf;
static uint64_t t0_us, rng;
static unsigned long idx[2], n_tx, n_fwd, n_act[A_N], n_txerr, n_rxtrunc;
static int quiet, lost_if;            /* lost_if: an interface went away */
static volatile sig_atomic_t stop, want_summary;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64; the seed goes through splitmix64 so that 0, 1, 2... all work */
static void seed_rng(uint64_t s)
{
	s += 0x9e3779b97f4a7c15ull;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ull;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebull;
	rng = (s ^ (s >> 31)) | 1;
}

static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;     /* [0, 1) */
}

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}
static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* 1 if b is untagged Ethernet + IPv4 (not a fragment) + TCP, all in bounds */
static int parse(const unsigned char *b, size_t len, struct tcpv *t)
{
	size_t ihl, tot, doff;

	if (len < 14 + 20 || get16(b + 12) != ETH_P_IP)
		return 0;
	t->ip = 14;
	ihl = (size_t)(b[14] & 15) * 4;
	tot = get16(b + 16);
	if ((b[14] >> 4) != 4 || ihl < 20 || b[14 + 9] != 6)
		return 0;
	if (get16(b + 20) & 0x3fff)            /* MF or a fragment offset */
		return 0;
	if (tot < ihl + 20 || 14 + tot > len)  /* len may include padding */
		return 0;
	t->tcp = 14 + ihl;
	doff = (size_t)(b[t->tcp + 12] >> 4) * 4;
	if (doff < 20 || ihl + doff > tot)
		return 0;
	t->pay = t->tcp + doff;
	t->plen = tot - ihl - doff;
	t->sport = get16(b + t->tcp);
	t->dport = get16(b + t->tcp + 2);
	t->seq = get32(b + t->tcp + 4);
	t->ack = get32(b + t->tcp + 8);
	t->flags = b[t->tcp + 13];
	t->ipid = get16(b + 18);
	return 1;
}

/* ones' complement sum of 16-bit big-endian words, odd byte padded */
static uint64_t sum16(const unsigned char *p, size_t n, uint64_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint64_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint64_t)p[n - 1] << 8;
	return s;
}

static unsigned fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned)~s & 0xffff;
}

static void ip_csum(unsigned char *ip)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, fold(sum16(ip, ihl, 0)));
}

/* TCP checksum over the pseudo-header (addresses, proto, TCP length) */
static void tcp_csum(unsigned char *ip)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, tcplen = get16(ip + 2) - ihl;
	unsigned char *tcp = ip + ihl;
	uint64_t s = sum16(ip + 12, 8, 0) + 6 + tcplen;

	put16(tcp + 16, 0);
	put16(tcp + 16, fold(sum16(tcp, tcplen, s)));
}

/* ---- output and log ---- */

static void xmit(int d, const unsigned char *b, size_t len)
{
	n_tx++;
	if (send(sock[!d], b, len, 0) == (ssize_t)len) {
		n_fwd++;
		return;
	}
	if (!n_txerr++ && !quiet)
		fprintf(stderr, "mbx: send on %s side: %s (further errors only counted)\n",
			d == C2S ? "b" : "a", strerror(errno));
}

/* one CSV row; note must not contain commas */
static void log_row(int d, unsigned long i, int action, int rule, const unsigned char *b,
		    size_t len, const char *note)
{
	static const struct { unsigned bit; char c; } fl[] = {
		{ F_SYN, 'S' }, { F_FIN, 'F' }, { F_RST, 'R' }, { F_PSH, 'P' }, { F_ACK, 'A' } };
	struct tcpv t;
	char flags[8] = "";
	size_t j, n = 0;

	if (!logf)
		return;
	if (!parse(b, len, &t)) {
		fprintf(logf, "%llu,%lu,%s,%s,%d,%zu,,,,,%s\n",
			(unsigned long long)(now_us() - t0_us), i, dir_names[d], act_names[action],
			rule + 1, len, note);
	} else {
		for (j = 0; j < sizeof(fl) / sizeof(fl[0]); j++)
			if (t.flags & fl[j].bit)
				flags[n++] = fl[j].c;
		fprintf(logf, "%llu,%lu,%s,%s,%d,%zu,%s,%lu,%lu,%zu,%s\n",
			(unsigned long long)(now_us() - t0_us), i, dir_names[d], act_names[action],
			rule + 1, len, flags, (unsigned long)t.seq, (unsigned long)t.ack, t.plen,
			note);
	}
	fflush(logf);
}

/* ---- the held queue, sorted by due time (FIFO among equal times) ---- */

static int hold(int d, const unsigned char *b, size_t len, int kind, int rule,
		unsigned long i, uint64_t due)
{
	struct pkt *p, **pp;

	if (nheld >= MAX_HELD || !(p = malloc(sizeof(*p) + len)))
		return 0;
	memcpy(p->b, b, len);
	p->len = len;
	p->dir = d;
	p->kind = kind;
	p->rule = rule;
	p->idx = i;
	p->due_us = due;
	if (!tail || tail->due_us <= due)       /* the usual case: goes last */
		pp = tail ? &tail->next : &held;
	else
		for (pp = &held; (*pp)->due_us <= due; pp = &(*pp)->next)
			;
	p->next = *pp;
	*pp = p;
	if (!p->next)
		tail = p;
	nheld++;
	nkind[kind][d]++;
	return 1;
}

/* take *pp out of the queue; pp is &held or &prev->next */
static struct pkt *unlink_held(struct pkt **pp)
{
	struct pkt *p = *pp;

	*pp = p->next;
	if (tail == p)
		tail = pp == &held ? NULL : (struct pkt *)((char *)pp - offsetof(struct pkt, next));
	nheld--;
	nkind[p->kind][p->dir]--;
	return p;
}

/* send and free *pp (unlinking it); reorder and coalesce are logged now */
static void release(struct pkt **pp, const char *note)
{
	struct pkt *p = unlink_held(pp);

	xmit(p->dir, p->b, p->len);
	if (p->kind == A_REORDER || p->kind == A_COALESCE)
		log_row(p->dir, p->idx, p->kind, p->rule, p->b, p->len, note);
	free(p);
}

static void expire(int all)
{
	uint64_t now = now_us();
	char note[64];

	while (held && (all || held->due_us <= now)) {
		snprintf(note, sizeof(note), all ? "flushed at exit" :
			 held->kind == A_REORDER ? "timeout: nothing followed in %u ms" :
			 "timeout: no follower in %u ms", rules[held->rule].ms);
		release(&held, note);
	}
}

/* ---- actions ---- */

/* the payload in k segments of near-equal size, back to back */
static void split(int d, const unsigned char *b, const struct tcpv *t, unsigned k)
{
	unsigned char o[RX_CAP];
	size_t off = 0, n, base, extra, i;

	if (k > t->plen)
		k = (unsigned)t->plen;
	base = t->plen / k;
	extra = t->plen % k;                   /* the first `extra` get one more byte */
	for (i = 0; i < k; i++) {
		n = base + (i < extra);
		memcpy(o, b, t->pay);
		memcpy(o + t->pay, b + t->pay + off, n);
		put16(o + t->ip + 2, (unsigned)(t->pay - t->ip + n));
		put16(o + t->ip + 4, (unsigned)(t->ipid + i) & 0xffff);
		put32(o + t->tcp + 4, t->seq + (uint32_t)off);
		if (i != k - 1)
			o[t->tcp + 13] &= (unsigned char)~(F_PSH | F_FIN);
		ip_csum(o + t->ip);
		tcp_csum(o + t->ip);
		xmit(d, o, t->pay + n);
		off += n;
	}
}

static int same_flow(const unsigned char *a, const struct tcpv *ta, const unsigned char *b,
		     const struct tcpv *tb)
{
	return !memcmp(a + ta->ip + 12, b + tb->ip + 12, 8) && ta->sport == tb->sport &&
	       ta->dport == tb->dport;
}

/*
 * The held segment h and its follower g (same flow and direction): one
 * segment with h's headers and options, g's ack, window and flags, and both
 * payloads. Returns NULL if sent, else why not.
 */
static const char *merge(const struct pkt *h, int d, const unsigned char *g,
			 const struct tcpv *tg)
{
	unsigned char o[RX_CAP];
	struct tcpv th;
	size_t iplen;

	if (!parse(h->b, h->len, &th))
		return "unparsable";           /* cannot happen: checked when held */
	if (tg->plen == 0 || (tg->flags & (F_SYN | F_RST)))
		return "follower has no data";
	if (tg->seq != th.seq + (uint32_t)th.plen)
		return "follower not in sequence";
	iplen = th.pay - th.ip + th.plen + tg->plen;
	if (iplen > mtu[d] || th.ip + iplen > sizeof(o))
		return "too big for the MTU";
	memcpy(o, h->b, th.pay + th.plen);
	memcpy(o + th.pay + th.plen, g + tg->pay, tg->plen);
	put16(o + th.ip + 2, (unsigned)iplen);
	memcpy(o + th.tcp + 8, g + tg->tcp + 8, 4);    /* ack */
	o[th.tcp + 13] = g[tg->tcp + 13];               /* flags */
	memcpy(o + th.tcp + 14, g + tg->tcp + 14, 2);  /* window */
	ip_csum(o + th.ip);
	tcp_csum(o + th.ip);
	xmit(d, o, th.ip + iplen);
	return NULL;
}

static int rule_matches(struct rule *r, int d, const unsigned char *b, const struct tcpv *t,
			int tcp)
{
	if (r->dir != ANY && r->dir != d)
		return 0;
	if (r->tcp_only && !tcp)
		return 0;
	if (r->flags && (t->flags & r->flags) != r->flags)
		return 0;
	if (r->payload >= 0 && (t->plen > 0) != r->payload)
		return 0;
	if (r->ipid0 >= 0 && (t->ipid == 0) != r->ipid0)
		return 0;
	if (r->port >= 0 && t->sport != (unsigned)r->port && t->dport != (unsigned)r->port)
		return 0;
	if (r->prefix_len && (t->plen < r->prefix_len ||
			      memcmp(b + t->pay, r->prefix, r->prefix_len)))
		return 0;
	r->matched++;
	if (r->every)
		return 1;
	if (r->p > 0)
		return rnd() < r->p;
	return r->matched >= r->nth && r->matched - r->nth < r->count;
}

/* rule i acts on the frame: 1 if it did (the frame is taken care of) */
static int act(int i, int d, const unsigned char *b, size_t len, const struct tcpv *t, int tcp,
	       unsigned long n)
{
	const struct rule *r = &rules[i];
	uint64_t due = now_us() + (uint64_t)r->ms * 1000u;
	char note[64] = "";

	switch (r->action) {
	case A_DROP:
		break;
	case A_DUP:
		xmit(d, b, len);
		xmit(d, b, len);
		snprintf(note, sizeof(note), "sent twice");
		break;
	case A_DELAY:
		if (!hold(d, b, len, A_DELAY, i, n, due))
			return 0;
		snprintf(note, sizeof(note), "held %u ms", r->ms);
		break;
	case A_REORDER:
		if (!hold(d, b, len, A_REORDER, i, n, due))
			return 0;
		n_act[A_REORDER]++;
		return 1;                       /* logged when it leaves */
	case A_SPLIT:
		if (!tcp || t->plen < 2 || (t->flags & (F_SYN | F_RST)))
			return 0;
		split(d, b, t, r->k);
		snprintf(note, sizeof(note), "%zu segments",
			 t->plen < r->k ? t->plen : (size_t)r->k);
		break;
	case A_COALESCE:
		if (!tcp || t->plen == 0 || (t->flags & (F_SYN | F_FIN | F_RST)) ||
		    !hold(d, b, len, A_COALESCE, i, n, due))
			return 0;
		n_act[A_COALESCE]++;
		return 1;                       /* logged when it leaves */
	case A_CLAMP: {
		unsigned char o[RX_CAP];
		unsigned w;

		/* a SYN's window is never scaled: clamp only what follows it */
		if (!tcp || (t->flags & (F_SYN | F_RST)))
			return 0;
		w = get16(b + t->tcp + 14);
		if (w <= r->win)
			return 0;
		memcpy(o, b, len);
		put16(o + t->tcp + 14, r->win);
		tcp_csum(o + t->ip);
		xmit(d, o, len);
		snprintf(note, sizeof(note), "window %u -> %u", w, r->win);
		break;
	}
	}
	n_act[r->action]++;
	log_row(d, n, r->action, i, b, len, note);
	return 1;
}

static void on_frame(int d, const unsigned char *b, size_t len)
{
	unsigned long n = ++idx[d], tx0 = n_tx;
	struct tcpv t = { 0 };
	int tcp = parse(b, len, &t), i;
	struct pkt **pp;
	char note[80];

	/*
	 * A segment held for coalescing is settled by the next segment of its
	 * flow that carries data or SYN/FIN/RST (pure ACKs pass it by). That
	 * follower is not matched against the rules.
	 */
	for (pp = &held; tcp && nkind[A_COALESCE][d] && *pp; pp = &(*pp)->next) {
		const char *why;
		struct tcpv th;

		if ((*pp)->kind != A_COALESCE || (*pp)->dir != d ||
		    !parse((*pp)->b, (*pp)->len, &th) || !same_flow((*pp)->b, &th, b, &t))
			continue;
		if (t.plen == 0 && !(t.flags & (F_SYN | F_FIN | F_RST)))
			break;
		why = merge(*pp, d, b, &t);
		if (!why) {
			snprintf(note, sizeof(note), "merged with idx %lu (+%zu bytes)", n, t.plen);
			log_row(d, (*pp)->idx, A_COALESCE, (*pp)->rule, (*pp)->b, (*pp)->len, note);
			free(unlink_held(pp));
		} else {
			snprintf(note, sizeof(note), "sent unchanged before idx %lu: %s", n, why);
			release(pp, note);
			xmit(d, b, len);
		}
		goto done;
	}

	for (i = 0; i < nrules; i++)
		if (rule_matches(&rules[i], d, b, &t, tcp) && act(i, d, b, len, &t, tcp, n))
			goto done;
	xmit(d, b, len);
done:
	/* something of this frame went out: frames held to reorder follow it */
	if (n_tx == tx0)
		return;
	for (pp = &held; nkind[A_REORDER][d] && *pp;) {
		if ((*pp)->kind == A_REORDER && (*pp)->dir == d && (*pp)->idx < n) {
			snprintf(note, sizeof(note), "sent after idx %lu", n);
			release(pp, note);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* ---- setup ---- */

/* \r \n \\ \xHH; -1 on a bad escape or overflow */
static long unescape(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	unsigned hi, lo;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\') {
			s++;
			if (*s == 'r') {
				c = '\r';
			} else if (*s == 'n') {
				c = '\n';
			} else if (*s == '\\') {
				c = '\\';
			} else if (*s == 'x' && sscanf(s + 1, "%1x%1x", &hi, &lo) == 2) {
				c = (unsigned char)(hi << 4 | lo);
				s += 2;
			} else {
				return -1;
			}
		}
		if (n == cap)
			return -1;
		out[n++] = c;
	}
	return (long)n;
}

static int num(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(v, &end, 10);
	return *v >= '0' && *v <= '9' && !*end && !errno && *out <= max;
}

/* parse spec into r; on error, a message in err */
static int parse_rule(const char *spec, struct rule *r, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *kv;
	int have_action = 0, have_nth = 0, have_count = 0;
	unsigned long x;

	memset(r, 0, sizeof(*r));
	r->dir = ANY;
	r->payload = r->ipid0 = r->port = -1;
	r->nth = r->count = 1;
	r->ms = 200;
	r->k = 2;
	r->win = 1024;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, spec);
	strcpy(r->text, spec);
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');

		if (!v) {
			snprintf(err, errlen, "'%s' is not key=value", kv);
			return -1;
		}
		*v++ = 0;
		if (!strcmp(kv, "dir")) {
			for (r->dir = 0; r->dir < 3 && strcmp(v, dir_names[r->dir]); r->dir++)
				;
			if (r->dir == 3)
				goto bad;
		} else if (!strcmp(kv, "flags")) {
			static const char letters[] = "FSRPA";     /* bits 0..4 */

			if (!*v)
				goto bad;
			for (; *v; v++) {
				const char *c = strchr(letters, *v);

				if (!c)
					goto bad;
				r->flags |= 1u << (c - letters);
			}
		} else if (!strcmp(kv, "payload") || !strcmp(kv, "ipid0")) {
			if (!num(v, 1, &x))
				goto bad;
			*(kv[0] == 'p' ? &r->payload : &r->ipid0) = (int)x;
		} else if (!strcmp(kv, "port")) {
			if (!num(v, 65535, &x))
				goto bad;
			r->port = (int)x;
		} else if (!strcmp(kv, "prefix")) {
			long n = unescape(v, r->prefix, sizeof(r->prefix));

			if (n <= 0)
				goto bad;
			r->prefix_len = (size_t)n;
		} else if (!strcmp(kv, "nth")) {
			if (!num(v, ~0ul >> 1, &r->nth) || !r->nth)
				goto bad;
			have_nth = 1;
		} else if (!strcmp(kv, "count")) {
			if (!num(v, ~0ul >> 1, &r->count) || !r->count)
				goto bad;
			have_count = 1;
		} else if (!strcmp(kv, "every")) {
			if (!num(v, 1, &x))
				goto bad;
			r->every = (int)x;
		} else if (!strcmp(kv, "p")) {
			char *end;

			r->p = strtod(v, &end);
			if (!*v || *end || !(r->p > 0 && r->p <= 1))
				goto bad;
		} else if (!strcmp(kv, "ms")) {
			if (!num(v, 3600000, &x))
				goto bad;
			r->ms = (unsigned)x;
		} else if (!strcmp(kv, "win")) {
			if (!num(v, 65535, &x))
				goto bad;
			r->win = (unsigned)x;
		} else if (!strcmp(kv, "k")) {
			if (!num(v, 65535, &x) || x < 2)
				goto bad;
			r->k = (unsigned)x;
		} else if (!strcmp(kv, "action")) {
			for (r->action = 0; r->action < A_N && strcmp(v, act_names[r->action]);
			     r->action++)
				;
			if (r->action == A_N)
				goto bad;
			have_action = 1;
		} else {
			snprintf(err, errlen, "unknown key '%s'", kv);
			return -1;
		}
		continue;
bad:
		snprintf(err, errlen, "bad value for %s: '%s'", kv, v);
		return -1;
	}
	if (!have_action) {
		snprintf(err, errlen, "no action=");
		return -1;
	}
	if (have_nth + r->every + (r->p > 0) > 1 || (have_count && (r->every || r->p > 0))) {
		snprintf(err, errlen, "use one of nth=N[,count=K], every=1, p=P");
		return -1;
	}
	r->tcp_only = r->flags || r->payload >= 0 || r->prefix_len || r->port >= 0 ||
		      r->ipid0 >= 0;
	return 0;
}

static int add_rule(const char *spec, const char *where)
{
	char err[160] = "";

	if (nrules == MAX_RULES) {
		fprintf(stderr, "mbx: more than %d rules\n", MAX_RULES);
		return -1;
	}
	if (parse_rule(spec, &rules[nrules], err, sizeof(err))) {
		fprintf(stderr, "mbx: %sbad rule '%s': %s\n", where, spec, err);
		return -1;
	}
	nrules++;
	return 0;
}

static int read_rules(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1100], where[300];
	int ln = 0, rc = 0;

	if (!f) {
		fprintf(stderr, "mbx: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		ln++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*s || *s == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%d: ", path, ln);
		rc = add_rule(s, where);
	}
	fclose(f);
	return rc;
}

/* a raw socket on one interface: every frame in, none of our own */
static int open_sock(const char *ifname, unsigned *ifmtu)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	struct ifreq ifr = { 0 };
	int one = 1, buf = 4 << 20, fd;

	sa.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sa.sll_ifindex) {
		fprintf(stderr, "mbx: no interface '%s' here\n", ifname);
		return -2;
	}
	/* protocol 0 until bound: otherwise frames of every interface queue up */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "mbx: socket: %s (root needed)\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	mr.mr_ifindex = sa.sll_ifindex;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "mbx: %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFMTU, &ifr) && ifr.ifr_mtu >= 68)
		*ifmtu = (unsigned)ifr.ifr_mtu;
	return fd;
}

/*
 * Read up to RX_BATCH frames from direction d. The kernel strips a VLAN tag
 * into the auxdata (put back), and a frame whose TCP checksum was left to
 * offload (CSUMNOTREADY) gets it computed, since the peer will verify it.
 */
static void drain(int d)
{
	static unsigned char b[RX_CAP + 4];
	union {
		struct cmsghdr h;
		char c[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	int k;

	for (k = 0; k < RX_BATCH; k++) {
		struct iovec iov = { .iov_base = b, .iov_len = RX_CAP };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.c,
				    .msg_controllen = sizeof(ctl.c) };
		struct tpacket_auxdata *aux = NULL;
		struct cmsghdr *c;
		struct tcpv t;
		ssize_t r = recvmsg(sock[d], &m, MSG_DONTWAIT | MSG_TRUNC);
		size_t len;

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/*
			 * The interface is gone (its namespace deleted) or down: poll
			 * would report the error forever. Exit, non-zero, instead of
			 * spinning on it: whoever runs us sees a dead middlebox.
			 */
			fprintf(stderr, "mbx: receive on %s: %s\n", d == C2S ? "a" : "b",
				strerror(errno));
			if (errno == ENETDOWN || errno == ENXIO || errno == ENODEV) {
				lost_if = 1;
				stop = 1;
			}
			return;
		}
		if (r > RX_CAP || r < 14) {            /* a GSO giant or a runt */
			n_rxtrunc++;
			continue;
		}
		len = (size_t)r;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
				aux = (struct tpacket_auxdata *)CMSG_DATA(c);
		if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID)) {
			memmove(b + 16, b + 12, len - 12);
			put16(b + 12, (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ?
				      aux->tp_vlan_tpid : ETH_P_8021Q);
			put16(b + 14, aux->tp_vlan_tci);
			len += 4;
		}
		if (aux && (aux->tp_status & TP_STATUS_CSUMNOTREADY) && parse(b, len, &t))
			tcp_csum(b + t.ip);
		on_frame(d, b, len);
	}
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_summary = 1;
	else
		stop = 1;
}

static void summary(void)
{
	fprintf(stderr, "mbx: forwarded=%lu dropped=%lu duplicated=%lu delayed=%lu reordered=%lu "
		"split=%lu coalesced=%lu clamped=%lu\n", n_fwd, n_act[A_DROP], n_act[A_DUP],
		n_act[A_DELAY], n_act[A_REORDER], n_act[A_SPLIT], n_act[A_COALESCE],
		n_act[A_CLAMP]);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mbx --a IF --b IF [--rule RULE]... [--rules-file F] [--log F.csv]\n"
		"           [--seed N] [--quiet]\n"
		"Forwards frames between IF a (client side) and IF b (server side) and\n"
		"injects faults by rule. RULE: comma-separated key=value:\n"
		"  match:  dir=c2s|s2c|any  flags=FSRPA  payload=1|0  prefix=STR (\\r \\n\n"
		"          \\\\ \\xHH)  port=N  ipid0=1|0\n"
		"  when:   nth=N [count=K] (default nth=1)  |  every=1  |  p=P\n"
		"  action: drop | dup | delay ms=D | reorder [ms=D] | split [k=K] |\n"
		"          coalesce [ms=D] | clamp [win=W]\n"
		"e.g. --rule 'dir=c2s,payload=1,nth=3,action=drop'. --rules-file: one rule\n"
		"a line, # comments. Runs until SIGINT/SIGTERM; SIGUSR1 prints counts.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "rule", required_argument, NULL, 'r' },
		{ "rules-file", required_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *ia = NULL, *ib = NULL, *logpath = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	unsigned long long seed = 1;
	int c, i;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': ia = optarg; break;
		case 'b': ib = optarg; break;
		case 'l': logpath = optarg; break;
		case 'q': quiet = 1; break;
		case 'r':
			if (add_rule(optarg, ""))
				return 2;
			break;
		case 'f':
			if (read_rules(optarg))
				return 2;
			break;
		case 's': {
			char *end;

			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (!*optarg || *end || errno || *optarg == '-') {
				fprintf(stderr, "mbx: bad --seed '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mbx: bad option '%s' (unknown, or a value missing)\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mbx: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!ia || !ib || !strcmp(ia, ib)) {
		fprintf(stderr, "mbx: need --a IF and --b IF, two different interfaces\n");
		usage(stderr);
		return 2;
	}
	seed_rng(seed);
	sock[C2S] = open_sock(ia, &mtu[S2C]);  /* A's MTU limits what leaves on A */
	if (sock[C2S] < 0)
		return sock[C2S] == -2 ? 2 : 1;
	sock[S2C] = open_sock(ib, &mtu[C2S]);
	if (sock[S2C] < 0)
		return sock[S2C] == -2 ? 2 : 1;
	if (logpath) {
		logf = fopen(logpath, "w");
		if (!logf) {
			fprintf(stderr, "mbx: %s: %s\n", logpath, strerror(errno));
			return 1;
		}
		fprintf(logf, "t_us,idx,dir,action,rule,len,flags,seq,ack,payload_len,note\n");
		fflush(logf);
	}
	/* the signals are only delivered inside ppoll: none lands unseen */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	t0_us = now_us();
	/* testbed.sh waits for "rule(s)": the sockets are bound by now */
	fprintf(stderr, "mbx: %s <-> %s, %d rule(s)\n", ia, ib, nrules);
	for (i = 0; i < nrules && !quiet; i++)
		fprintf(stderr, "mbx: rule %d: %s\n", i + 1, rules[i].text);

	while (!stop) {
		struct pollfd pfd[2] = { { .fd = sock[C2S], .events = POLLIN },
					 { .fd = sock[S2C], .events = POLLIN } };
		struct timespec ts, *tp = NULL;
		int n;

		if (held) {                            /* sleep until the next is due */
			uint64_t now = now_us(), wait = held->due_us > now ? held->due_us - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000u);
			ts.tv_nsec = (long)(wait % 1000000u) * 1000;
			tp = &ts;
		}
		n = ppoll(pfd, 2, tp, &unblocked);
		if (want_summary) {
			want_summary = 0;
			summary();
		}
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "mbx: poll: %s\n", strerror(errno));
			break;
		}
		expire(0);
		for (i = 0; i < 2 && n > 0; i++)
			if (pfd[i].revents)
				drain(i);
	}
	expire(1);
	summary();
	if (!quiet && (n_txerr || n_rxtrunc))
		fprintf(stderr, "mbx: %lu send errors, %lu frames too big or short to forward\n",
			n_txerr, n_rxtrunc);
	if (logf)
		fclose(logf);
	close(sock[C2S]);
	close(sock[S2C]);
	return lost_if ? 1 : 0;
}
