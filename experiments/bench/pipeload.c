// SPDX-License-Identifier: GPL-2.0
/*
 * pipeload.c - a pipelined Redis load generator: C connections spread over
 * T threads, each connection with exactly P requests in flight (a new one
 * is queued for every reply, the shape memtier_benchmark --pipeline
 * produces), GETs and SETs in a G:S ratio over a key space of K keys.
 *
 *   pipeload [--host IP] [--port N] [-c CONNS] [-t THREADS] [-P DEPTH]
 *            [--ratio G:S] [--keys K] [--key-offset O] [--dist D]
 *            [-d BYTES] [--seconds S | -n REQUESTS] [--seed N]
 *            [--timeout S]
 *   pipeload --prefill [--host IP] [--port N] [-c CONNS] [-t THREADS]
 *            [-P DEPTH] [--keys K] [--key-offset O] [-d BYTES]
 *
 * Keys are "key:%012u" of O + i, i in 0..K-1 (the names redis-benchmark -r K
 * gives "key:__rand_int__", so both draw from one prefilled set), drawn
 * uniform, Zipf (s 0.99, rank i = key i, by a CDF computed once and a
 * binary search) or Gaussian (mean K/2, sd K/6, clamped to the key space).
 * A key's value is V bytes that depend only on its index (value()), so a
 * SET always writes what the prefill wrote and any GET that returns
 * something else is counted in get_wrong. --prefill SETs every key once
 * (pipelined, keys handed out in order to whichever connection has room)
 * and exits.
 *
 * One thread drives its connections with epoll over non-blocking sockets;
 * requests are written in RESP by hand, replies parsed with hiredis's
 * redisReader. The run stops queueing at --seconds (or when --requests
 * have been queued, over all connections) and waits for the replies in
 * flight; ops, throughput and latency cover every reply, the drain
 * included. Latency is per request: from the clock read when it was queued
 * to the clock read after the read() that delivered its reply (one clock
 * read per batch on each side), into a histogram of 1 us buckets to 10 ms
 * and 100 us buckets to 10 s.
 *
 * stdout: one JSON line (ops, ops_per_s, gets, sets, get_hits_nonnull,
 * get_wrong, errors, p50_us, p99_us, ...). errors counts error replies,
 * unexpected replies and the requests in flight on a connection that
 * failed (closed, reset, or nothing read for --timeout seconds while
 * requests were in flight). Exit 0; 1 when errors or get_wrong is non-zero
 * (the JSON is still printed) or when a connection cannot be opened; 2 for
 * bad arguments; 130 after SIGINT/SIGTERM (the replies in flight are
 * awaited and the JSON printed, "interrupted": true).
 *
 * stderr: every wrong value and unexpected reply (the first DIAG_MAX per
 * thread) as one "pipeload: wrong ..." line: the connection, the reply's
 * number and byte range in the connection's reply stream (tcpdump's
 * relative seq of its first byte is that offset + 1), the request's byte
 * offset in the request stream, the key asked for, the expected value's
 * length and first bytes, what came back, and whose value it is: a value
 * of this generator's shape belongs to every key n with n = r (mod 36)
 * (value() repeats with period 36), so the line names r and the requests
 * around this one (by distance: -1 is the reply before) whose key is r mod
 * 36; anything else is "not a value" with the first byte that differs.
 * A "pipeload: raw ..." line follows with the reply stream's bytes around
 * the reply's end (C-escaped, from the last RAW_KEEP bytes read).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define MAX_CONNS    10000u
#define MAX_THREADS  64u
#define MAX_PIPELINE 4096u
#define MAX_KEYS     10000000u
#define MAX_VALUE    (1u << 20)
#define ZIPF_S       0.99
#define RBUF         (256u * 1024u)
#define DIAG_MAX     20u        /* wrong-reply lines per thread */
#define HIST_N       64u        /* requests each connection remembers (power of 2) */
#define RAW_KEEP     4096u      /* reply-stream bytes each connection keeps (power of 2) */

enum dist { D_UNIFORM, D_ZIPF, D_GAUSSIAN };
static const char *const dist_names[] = { "uniform", "zipf", "gaussian" };
enum op { OP_GET, OP_SET };

static struct opts {
	const char *host;
	unsigned port, conns, threads, pipeline, ratio_get, ratio_set;
	unsigned keys, key_offset, value_size;
	enum dist dist;
	double seconds, timeout;
	uint64_t requests, seed;
	bool prefill;
} o = {
	.host = "127.0.0.1", .port = 6379, .conns = 50, .threads = 2, .pipeline = 1,
	.ratio_get = 10, .ratio_set = 1, .keys = 10000, .value_size = 64,
	.dist = D_ZIPF, .seconds = 5.0, .timeout = 10.0, .seed = 1,
};

/* ---- the latency histogram: microseconds */
#define H_FINE   10000u                  /* 0 .. 9,999 us, 1 us wide */
#define H_COARSE 99900u                  /* 10 ms .. 10 s, 100 us wide */
#define H_N      (H_FINE + H_COARSE + 1) /* and one past 10 s */

static unsigned h_bucket(uint64_t us)
{
	if (us < H_FINE)
		return (unsigned)us;
	if (us < 10000000u)
		return H_FINE + (unsigned)((us - H_FINE) / 100);
	return H_N - 1;
}

static double h_value(unsigned b) /* a bucket's lower edge, us */
{
	if (b < H_FINE)
		return b;
	return H_FINE + (double)(b - H_FINE) * 100;
}

/* ---- state shared by the threads */
static atomic_int stop_flag;       /* SIGINT/SIGTERM: queue nothing more */
static atomic_uint_fast64_t issued; /* --requests: requests queued so far */
static atomic_uint_fast64_t next_key; /* --prefill: the next key to SET */
static uint64_t t_start, deadline; /* ns, CLOCK_MONOTONIC */
static double *zipf_cdf;

struct pend {
	uint64_t t;     /* ns, when queued */
	uint64_t txoff; /* its first byte's offset in the request stream */
	uint32_t key;   /* index in the key space */
	uint8_t op;
};

struct conn {
	int fd;
	bool dead, out_armed;
	redisReader *rd;
	char *out;
	size_t out_len, out_off, out_cap;
	struct pend *ring; /* the requests in flight, oldest first */
	unsigned head, n;
	uint64_t last_rx; /* ns: the last read, or when requests were queued on an idle one */
	/* for the wrong-reply lines */
	unsigned id;
	uint64_t queued, replies; /* requests queued, replies read */
	uint64_t tx_total, rx_total; /* bytes queued, bytes read */
	uint64_t rep_end;         /* the last reply's end in the reply stream */
	struct pend hist[HIST_N]; /* request q at hist[q % HIST_N] */
	char raw[RAW_KEEP];       /* reply-stream byte x at raw[x % RAW_KEEP] */
};

struct thr {
	pthread_t tid;
	unsigned id, nc;
	struct conn **c;
	int ep;
	uint64_t rng;
	uint64_t ops, gets, sets, hits, nulls, wrong, errors, failed;
	uint64_t lat_sum_us, lat_max_us, end_ns;
	uint64_t *hist;
	char *vbuf, *rbuf;
	unsigned diags;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* a runtime error: exit 1 */
__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pipeload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- random numbers: splitmix64 per thread */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s) /* [0, 1) */
{
	return (double)(rnd(s) >> 11) * 0x1.0p-53;
}

static void zipf_init(void)
{
	double sum = 0, acc = 0;

	zipf_cdf = malloc(sizeof(*zipf_cdf) * o.keys);
	if (!zipf_cdf)
		die("out of memory (Zipf CDF)");
	for (unsigned i = 0; i < o.keys; i++)
		sum += 1.0 / pow(i + 1.0, ZIPF_S);
	for (unsigned i = 0; i < o.keys; i++) {
		acc += 1.0 / pow(i + 1.0, ZIPF_S) / sum;
		zipf_cdf[i] = acc;
	}
	zipf_cdf[o.keys - 1] = 1.0;
}

static uint32_t pick_key(uint64_t *s)
{
	if (o.dist == D_UNIFORM)
		return (uint32_t)(rnd(s) % o.keys);
	if (o.dist == D_ZIPF) {
		double u = unif(s);
		unsigned lo = 0, hi = o.keys - 1;

		while (lo < hi) {
			unsigned mid = lo + (hi - lo) / 2;

			if (zipf_cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo;
	}
	/* Gaussian by Box-Muller, mean K/2, sd K/6, clamped */
	double u1 = 1.0 - unif(s), u2 = unif(s);
	double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
	double x = floor(o.keys / 2.0 + z * (o.keys / 6.0) + 0.5);

	if (x < 0)
		x = 0;
	if (x > o.keys - 1.0)
		x = o.keys - 1.0;
	return (uint32_t)x;
}

/* key i's value: V bytes that depend on i alone */
static void value(char *buf, uint32_t idx)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t n = (uint64_t)o.key_offset + idx;

	for (unsigned j = 0; j < o.value_size; j++)
		buf[j] = al[(n * 7 + j) % 36];
}

/* ---- requests */
static bool out_room(struct conn *c, size_t need)
{
	if (c->out_len + need <= c->out_cap)
		return true;
	if (c->out_off) { /* what was sent goes first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + need <= c->out_cap)
			return true;
	}
	size_t cap = c->out_cap * 2 > c->out_len + need ? c->out_cap * 2 : c->out_len + need;
	char *p = realloc(c->out, cap);

	if (!p)
		return false;
	c->out = p;
	c->out_cap = cap;
	return true;
}

/* the next request of this connection's thread, or false: queue nothing */
static bool next_request(struct thr *t, uint64_t now, uint32_t *key, uint8_t *op)
{
	if (atomic_load_explicit(&stop_flag, memory_order_relaxed))
		return false;
	if (o.prefill) {
		uint64_t k = atomic_fetch_add_explicit(&next_key, 1, memory_order_relaxed);

		if (k >= o.keys)
			return false;
		*key = (uint32_t)k;
		*op = OP_SET;
		return true;
	}
	if (o.requests) {
		if (atomic_fetch_add_explicit(&issued, 1, memory_order_relaxed) >= o.requests)
			return false;
	} else if (now >= deadline) {
		return false;
	}
	*key = pick_key(&t->rng);
	*op = rnd(&t->rng) % (o.ratio_get + o.ratio_set) < o.ratio_get ? OP_GET : OP_SET;
	return true;
}

static bool queue_one(struct thr *t, struct conn *c, uint64_t now)
{
	char hdr[96];
	uint32_t key;
	uint8_t op;
	int n;

	if (c->n >= o.pipeline || !next_request(t, now, &key, &op))
		return false;
	char k[24];
	int klen = snprintf(k, sizeof(k), "key:%012u", o.key_offset + key);

	if (op == OP_GET)
		n = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", klen, k);
	else
		n = snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%u\r\n",
			     klen, k, o.value_size);
	size_t need = (size_t)n + (op == OP_SET ? o.value_size + 2 : 0);

	if (!out_room(c, need))
		die("out of memory (output buffer)");
	struct pend pd = { .t = now, .txoff = c->tx_total, .key = key, .op = op };

	c->tx_total += need;
	c->hist[c->queued++ % HIST_N] = pd;
	memcpy(c->out + c->out_len, hdr, (size_t)n);
	c->out_len += (size_t)n;
	if (op == OP_SET) {
		value(c->out + c->out_len, key);
		c->out_len += o.value_size;
		memcpy(c->out + c->out_len, "\r\n", 2);
		c->out_len += 2;
	}
	if (!c->n)
		c->last_rx = now; /* the stall clock starts with the first in flight */
	c->ring[(c->head + c->n) % o.pipeline] = pd;
	c->n++;
	return true;
}

static void arm_out(struct thr *t, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

	if (c->out_armed == on)
		return;
	c->out_armed = on;
	epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void fail_conn(struct thr *t, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	fprintf(stderr, "pipeload: thread %u: a connection failed (%s), %u requests in flight lost\n",
		t->id, why, c->n);
	t->errors += c->n;
	t->failed++;
	c->n = 0;
	c->dead = true;
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void flush_out(struct thr *t, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			arm_out(t, c, true);
			return;
		}
		fail_conn(t, c, n < 0 ? strerror(errno) : "send returned 0");
		return;
	}
	c->out_off = c->out_len = 0;
	arm_out(t, c, false);
}

/* ---- replies */
/* up to n bytes of b into out, C-escaped (out: 4n + 1 bytes) */
static void esc(char *out, const char *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (ch == '\r') {
			*out++ = '\\';
			*out++ = 'r';
		} else if (ch == '\n') {
			*out++ = '\\';
			*out++ = 'n';
		} else if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hx[ch >> 4];
			*out++ = hx[ch & 15];
		} else {
			*out++ = (char)ch;
		}
	}
	*out = 0;
}

/* r in 0..35 when b (n bytes) is value() of every key index n = r - O
 * (mod 36), or -1 */
static int value_class(const char *b, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	if (n != o.value_size)
		return -1;
	for (int r = 0; r < 36; r++) {
		size_t j;

		for (j = 0; j < n && b[j] == al[((unsigned)r * 7 + j) % 36]; j++)
			;
		if (j == n)
			return r; /* (O + idx) * 7 = r * 7 (mod 36): O + idx = r */
	}
	return -1;
}

/*
 * One "pipeload: wrong" line for request q of connection c (p), whose
 * reply r (NULL: none) ended at byte rend of the reply stream, and a
 * "pipeload: raw" line with the stream's bytes around its end.
 */
static void diag(struct thr *t, struct conn *c, const struct pend *p, uint64_t q,
		 const redisReply *r, uint64_t rend, const char *why)
{
	char want[4 * 16 + 1], got[4 * 32 + 1], near[512], raw[4 * 384 + 1];
	size_t nl = 0, gl = 0;
	uint64_t r0, r1;
	int cls = -1;

	if (t->diags++ >= DIAG_MAX)
		return;
	value(t->vbuf, p->key);
	esc(want, t->vbuf, o.value_size < 16 ? o.value_size : 16);
	got[0] = 0;
	near[0] = 0;
	if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
		  r->type == REDIS_REPLY_ERROR)) {
		gl = r->len;
		esc(got, r->str, gl < 32 ? gl : 32);
		if (r->type == REDIS_REPLY_STRING)
			cls = value_class(r->str, r->len);
	}
	if (cls >= 0) { /* whose value: the requests around q of key class cls */
		for (int64_t d = -(int64_t)HIST_N / 2; d < (int64_t)HIST_N / 2; d++) {
			int64_t j = (int64_t)q + d;
			const struct pend *h;

			if (j < 0 || (uint64_t)j >= c->queued || c->queued - (uint64_t)j > HIST_N)
				continue;
			h = &c->hist[(uint64_t)j % HIST_N];
			if (((uint64_t)o.key_offset + h->key) % 36 != (unsigned)cls || nl > sizeof(near) - 48)
				continue;
			nl += (size_t)snprintf(near + nl, sizeof(near) - nl, "%s%+lld:%s:%u", nl ? "," : "",
					       (long long)d, h->op == OP_GET ? "GET" : "SET", h->key);
		}
	} else if (r && r->type == REDIS_REPLY_STRING) {
		size_t j;

		value(t->vbuf, p->key);
		for (j = 0; j < r->len && j < o.value_size && r->str[j] == t->vbuf[j]; j++)
			;
		snprintf(near, sizeof(near), "not a value, first difference at byte %zu", j);
	}
	fprintf(stderr,
		"pipeload: wrong (%s) thread %u conn %u reply #%llu stream bytes [%llu, %llu) "
		"request at %llu: %s key %u (\"key:%012u\"), want %u bytes \"%s\"; got type %d "
		"len %zu \"%s\"; value of key class %d (mod 36): %s\n",
		why, t->id, c->id, (unsigned long long)q, (unsigned long long)c->rep_end,
		(unsigned long long)rend, (unsigned long long)p->txoff,
		p->op == OP_GET ? "GET" : "SET", p->key, o.key_offset + p->key, o.value_size, want,
		r ? r->type : -1, gl, got, cls, near[0] ? near : "-");
	/* the stream's bytes around the reply's end, those still kept */
	r0 = rend > 256 ? rend - 256 : 0;
	r1 = rend + 128 < c->rx_total ? rend + 128 : c->rx_total;
	if (c->rx_total - r0 > RAW_KEEP)
		r0 = c->rx_total - RAW_KEEP;
	char lin[384];
	size_t n = 0;

	for (uint64_t x = r0; x < r1 && n < sizeof(lin); x++)
		lin[n++] = c->raw[x % RAW_KEEP];
	esc(raw, lin, n);
	fprintf(stderr, "pipeload: raw conn %u stream bytes [%llu, %llu) (reply ends at %llu): \"%s\"\n",
		c->id, (unsigned long long)r0, (unsigned long long)(r0 + n),
		(unsigned long long)rend, raw);
}

static void account(struct thr *t, struct conn *c, redisReply *r, uint64_t now, uint64_t rend)
{
	struct pend p = c->ring[c->head];
	uint64_t us = now > p.t ? (now - p.t) / 1000 : 0;
	uint64_t q = c->replies++;

	c->head = (c->head + 1) % o.pipeline;
	c->n--;
	t->ops++;
	t->hist[h_bucket(us)]++;
	t->lat_sum_us += us;
	if (us > t->lat_max_us)
		t->lat_max_us = us;
	t->end_ns = now;
	if (p.op == OP_GET) {
		t->gets++;
		if (r->type == REDIS_REPLY_STRING) {
			t->hits++;
			value(t->vbuf, p.key);
			if (r->len != (size_t)o.value_size || memcmp(r->str, t->vbuf, o.value_size)) {
				t->wrong++;
				diag(t, c, &p, q, r, rend, "value");
			}
		} else if (r->type == REDIS_REPLY_NIL) {
			t->nulls++;
		} else {
			t->errors++;
			diag(t, c, &p, q, r, rend, "reply type");
		}
	} else {
		t->sets++;
		if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK")) {
			t->errors++;
			diag(t, c, &p, q, r, rend, "reply type");
		}
	}
	c->rep_end = rend;
}

static void on_readable(struct thr *t, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, t->rbuf, RBUF, 0);

		if (n > 0) {
			size_t keep = (size_t)n < RAW_KEEP ? (size_t)n : RAW_KEEP;

			for (size_t i = (size_t)n - keep; i < (size_t)n; i++)
				c->raw[(c->rx_total + i) % RAW_KEEP] = t->rbuf[i];
			c->rx_total += (uint64_t)n;
			if (redisReaderFeed(c->rd, t->rbuf, (size_t)n) != REDIS_OK) {
				fail_conn(t, c, "reader");
				return;
			}
			if ((size_t)n < RBUF)
				break;
			continue;
		}
		if (n == 0) {
			fail_conn(t, c, "closed by the server");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		fail_conn(t, c, strerror(errno));
		return;
	}
	uint64_t now = now_ns();
	void *r;

	c->last_rx = now;
	for (;;) {
		if (redisReaderGetReply(c->rd, &r) != REDIS_OK) {
			fail_conn(t, c, c->rd->errstr[0] ? c->rd->errstr : "protocol error");
			return;
		}
		if (!r)
			break;
		if (!c->n) { /* a reply to nothing we sent */
			freeReplyObject(r);
			t->errors++;
			fail_conn(t, c, "a reply with no request in flight");
			return;
		}
		/* its end: what was read less what the reader holds unparsed */
		account(t, c, r, now, c->rx_total - (c->rd->len - c->rd->pos));
		freeReplyObject(r);
	}
	while (queue_one(t, c, now))
		;
	flush_out(t, c);
}

/* ---- a thread: its connections, until none has a request in flight */
static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct epoll_event evs[64];
	uint64_t now = now_ns(), last_check = now;
	uint64_t tmo = (uint64_t)(o.timeout * 1e9);

	for (unsigned i = 0; i < t->nc; i++) {
		struct conn *c = t->c[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev))
			fail_conn(t, c, strerror(errno));
	}
	for (unsigned i = 0; i < t->nc; i++) {
		struct conn *c = t->c[i];

		if (c->dead)
			continue;
		while (queue_one(t, c, now))
			;
		flush_out(t, c);
	}
	for (;;) {
		unsigned busy = 0;

		for (unsigned i = 0; i < t->nc; i++)
			busy += t->c[i]->n > 0;
		if (!busy)
			break;
		int n = epoll_wait(t->ep, evs, 64, 50);

		if (n < 0 && errno != EINTR) {
			perror("pipeload: epoll_wait");
			for (unsigned i = 0; i < t->nc; i++)
				fail_conn(t, t->c[i], "epoll");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(t, c);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				flush_out(t, c);
		}
		now = now_ns();
		if (now - last_check > 100000000ull) { /* every 100 ms: stalls */
			last_check = now;
			for (unsigned i = 0; i < t->nc; i++) {
				struct conn *c = t->c[i];

				if (!c->dead && c->n && now - c->last_rx > tmo)
					fail_conn(t, c, "no reply within --timeout");
			}
		}
	}
	return NULL;
}

/* ---- connections */
static struct conn *conn_open(const struct sockaddr_in *sa)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c)
		die("out of memory");
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		fprintf(stderr, "pipeload: connect to %s:%u: %s\n", o.host, o.port, strerror(errno));
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK))
		die("fcntl: %s", strerror(errno));
	c->rd = redisReaderCreate();
	c->ring = calloc(o.pipeline, sizeof(*c->ring));
	c->out_cap = (size_t)o.pipeline * (o.value_size + 64);
	c->out = malloc(c->out_cap);
	if (!c->rd || !c->ring || !c->out)
		die("out of memory");
	return c;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	redisReaderFree(c->rd);
	free(c->ring);
	free(c->out);
	free(c);
}

/* ---- arguments */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: pipeload [--host IP] [--port N] [-c CONNS] [-t THREADS] [-P DEPTH]\n"
		"                [--ratio G:S] [--keys K] [--key-offset O] [--dist D] [-d BYTES]\n"
		"                [--seconds S | -n REQUESTS] [--seed N] [--timeout S]\n"
		"       pipeload --prefill [--host IP] [--port N] [-c CONNS] [-t THREADS]\n"
		"                [-P DEPTH] [--keys K] [--key-offset O] [-d BYTES]\n"
		"\n"
		"A pipelined Redis load generator: CONNS connections over THREADS threads,\n"
		"each with exactly DEPTH requests in flight; one JSON line on stdout.\n"
		"\n"
		"  --host IP          Redis's IPv4 address (127.0.0.1)\n"
		"  --port N           its port (6379)\n"
		"  -c, --conns N      connections, 1..%u (50)\n"
		"  -t, --threads N    threads, 1..%u, at most CONNS (2)\n"
		"  -P, --pipeline N   requests in flight per connection, 1..%u (1)\n"
		"  --ratio G:S        GETs to SETs, e.g. 10:1, 1:0 (GET only) (10:1)\n"
		"  --keys K           key space \"key:%%012u\" of O..O+K-1, 1..%u (10000)\n"
		"  --key-offset O     first key index (0); O+K must stay below 2^32\n"
		"  --dist D           uniform, zipf (s 0.99) or gaussian (mean K/2, sd K/6) (zipf)\n"
		"  -d, --value-size V value bytes, 1..%u (64); the content depends on the key\n"
		"  --seconds S        queue requests for S seconds, then wait for the replies (5)\n"
		"  -n, --requests N   or queue N requests over all connections\n"
		"  --seed N           random seed (1); thread i uses N + i\n"
		"  --timeout S        a connection with requests in flight and nothing read\n"
		"                     for S seconds has failed (10)\n"
		"  --prefill          SET every key once (pipelined) and exit\n"
		"  -h, --help         this text\n"
		"\n"
		"JSON: ops, seconds, ops_per_s, gets, sets, get_hits_nonnull, get_nulls,\n"
		"get_wrong (a value other than the key's), errors, conns_failed, p50_us, p90_us,\n"
		"p99_us, p999_us, max_us, mean_us (per request: queued to its reply read),\n"
		"and the settings. Exit 0; 1 if errors or get_wrong > 0 or a connection cannot\n"
		"be opened; 2 for bad arguments; 130 when interrupted.\n",
		MAX_CONNS, MAX_THREADS, MAX_PIPELINE, MAX_KEYS, MAX_VALUE);
}

/* a bad argument: one line on stderr, exit 2 */
__attribute__((format(printf, 1, 2), noreturn)) static void bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pipeload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (pipeload --help)\n");
	va_end(ap);
	exit(2);
}

static uint64_t num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		bad("%s: not a number: '%s'", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		bad("%s: not a number: '%s'", opt, s);
	if (errno == ERANGE || v < lo || v > hi)
		bad("%s: %s is out of range %llu..%llu", opt, s, (unsigned long long)lo,
		    (unsigned long long)hi);
	return v;
}

static double secs(const char *opt, const char *s, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v <= 0 || v > hi)
		bad("%s: not a number of seconds in (0, 1e5]: '%s'", opt, s);
	return v;
}

static void parse(int argc, char **argv)
{
	enum { O_HOST = 256, O_PORT, O_RATIO, O_KEYS, O_KOFF, O_DIST, O_SECONDS, O_SEED,
	       O_TIMEOUT, O_PREFILL };
	static const struct option lo[] = {
		{ "host", required_argument, 0, O_HOST },
		{ "port", required_argument, 0, O_PORT },
		{ "conns", required_argument, 0, 'c' },
		{ "threads", required_argument, 0, 't' },
		{ "pipeline", required_argument, 0, 'P' },
		{ "ratio", required_argument, 0, O_RATIO },
		{ "keys", required_argument, 0, O_KEYS },
		{ "key-offset", required_argument, 0, O_KOFF },
		{ "dist", required_argument, 0, O_DIST },
		{ "value-size", required_argument, 0, 'd' },
		{ "seconds", required_argument, 0, O_SECONDS },
		{ "requests", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, O_SEED },
		{ "timeout", required_argument, 0, O_TIMEOUT },
		{ "prefill", no_argument, 0, O_PREFILL },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	bool seconds_set = false, threads_set = false, mix_set = false;
	struct in_addr ia;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:t:P:d:n:h", lo, NULL)) != -1) {
		const char *opt = argv[optind - 1];

		switch (c) {
		case O_HOST:
			if (inet_pton(AF_INET, optarg, &ia) != 1)
				bad("--host: not an IPv4 address: '%s'", optarg);
			o.host = optarg;
			break;
		case O_PORT: o.port = (unsigned)num("--port", optarg, 1, 65535); break;
		case 'c': o.conns = (unsigned)num("--conns", optarg, 1, MAX_CONNS); break;
		case 't':
			o.threads = (unsigned)num("--threads", optarg, 1, MAX_THREADS);
			threads_set = true;
			break;
		case 'P': o.pipeline = (unsigned)num("--pipeline", optarg, 1, MAX_PIPELINE); break;
		case O_RATIO: {
			const char *colon = strchr(optarg, ':');
			char g[32];

			if (!colon || (size_t)(colon - optarg) >= sizeof(g))
				bad("--ratio: not G:S (e.g. 10:1): '%s'", optarg);
			memcpy(g, optarg, (size_t)(colon - optarg));
			g[colon - optarg] = 0;
			o.ratio_get = (unsigned)num("--ratio", g, 0, 1000000);
			o.ratio_set = (unsigned)num("--ratio", colon + 1, 0, 1000000);
			if (!o.ratio_get && !o.ratio_set)
				bad("--ratio: %s has neither GETs nor SETs", optarg);
			mix_set = true;
			break;
		}
		case O_KEYS: o.keys = (unsigned)num("--keys", optarg, 1, MAX_KEYS); break;
		case O_KOFF: o.key_offset = (unsigned)num("--key-offset", optarg, 0, UINT32_MAX); break;
		case O_DIST: {
			unsigned i;

			for (i = 0; i < 3 && strcmp(optarg, dist_names[i]); i++)
				;
			if (i == 3)
				bad("--dist: uniform, zipf or gaussian, not '%s'", optarg);
			o.dist = (enum dist)i;
			mix_set = true;
			break;
		}
		case 'd': o.value_size = (unsigned)num("--value-size", optarg, 1, MAX_VALUE); break;
		case O_SECONDS:
			o.seconds = secs("--seconds", optarg, 1e5);
			seconds_set = true;
			break;
		case 'n': o.requests = num("--requests", optarg, 1, 1000000000000ull); break;
		case O_SEED: o.seed = num("--seed", optarg, 0, UINT64_MAX); break;
		case O_TIMEOUT: o.timeout = secs("--timeout", optarg, 1e5); break;
		case O_PREFILL: o.prefill = true; break;
		case 'h': usage(stdout); exit(0);
		case ':': bad("%s needs a value", opt); break;
		default: bad("unknown option '%s'", opt);
		}
	}
	if (optind < argc)
		bad("unexpected argument '%s'", argv[optind]);
	if ((uint64_t)o.key_offset + o.keys > UINT32_MAX)
		bad("--key-offset + --keys must stay below 2^32");
	if (seconds_set && o.requests)
		bad("--seconds and --requests: one or the other");
	if (o.prefill && (seconds_set || o.requests || mix_set))
		bad("--prefill SETs every key once: no --seconds, --requests, --ratio or --dist");
	if (o.threads > o.conns) {
		if (threads_set)
			bad("--threads: more threads than connections");
		o.threads = o.conns;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

static double pct(const uint64_t *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)total), acc = 0;

	if (!total)
		return 0;
	if (!want)
		want = 1;
	for (unsigned b = 0; b < H_N; b++) {
		acc += h[b];
		if (acc >= want)
			return h_value(b);
	}
	return h_value(H_N - 1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction sg = { .sa_handler = on_signal };
	struct thr *th;
	struct conn **cs;

	parse(argc, argv);
	sa.sin_port = htons((uint16_t)o.port);
	inet_pton(AF_INET, o.host, &sa.sin_addr);
	if (o.dist == D_ZIPF && !o.prefill)
		zipf_init();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sg.sa_mask);
	sigaction(SIGINT, &sg, NULL);
	sigaction(SIGTERM, &sg, NULL);

	cs = calloc(o.conns, sizeof(*cs));
	th = calloc(o.threads, sizeof(*th));
	if (!cs || !th)
		die("out of memory");
	for (unsigned i = 0; i < o.conns; i++) {
		cs[i] = conn_open(&sa);
		cs[i]->id = i;
	}
	for (unsigned i = 0; i < o.threads; i++) {
		struct thr *t = &th[i];

		t->id = i;
		t->rng = o.seed + i;
		t->c = calloc(o.conns / o.threads + 1, sizeof(*t->c));
		t->hist = calloc(H_N, sizeof(*t->hist));
		t->vbuf = malloc(o.value_size);
		t->rbuf = malloc(RBUF);
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!t->c || !t->hist || !t->vbuf || !t->rbuf || t->ep < 0)
			die("out of memory or epoll");
	}
	for (unsigned i = 0; i < o.conns; i++) { /* connection i to thread i mod T */
		struct thr *t = &th[i % o.threads];

		t->c[t->nc++] = cs[i];
	}

	t_start = now_ns();
	deadline = t_start + (uint64_t)(o.seconds * 1e9);
	for (unsigned i = 0; i < o.threads; i++)
		if (pthread_create(&th[i].tid, NULL, thread_main, &th[i]))
			die("pthread_create failed");

	uint64_t ops = 0, gets = 0, sets = 0, hits = 0, nulls = 0, wrong = 0, errors = 0, failed = 0;
	uint64_t lat_sum = 0, lat_max = 0, t_end = t_start;
	uint64_t *hist = calloc(H_N, sizeof(*hist));

	if (!hist)
		die("out of memory");
	for (unsigned i = 0; i < o.threads; i++) {
		struct thr *t = &th[i];

		pthread_join(t->tid, NULL);
		ops += t->ops;
		gets += t->gets;
		sets += t->sets;
		hits += t->hits;
		nulls += t->nulls;
		wrong += t->wrong;
		errors += t->errors;
		failed += t->failed;
		lat_sum += t->lat_sum_us;
		if (t->lat_max_us > lat_max)
			lat_max = t->lat_max_us;
		if (t->end_ns > t_end)
			t_end = t->end_ns;
		for (unsigned b = 0; b < H_N; b++)
			hist[b] += t->hist[b];
	}
	double el = (double)(t_end - t_start) / 1e9;
	bool intr = atomic_load(&stop_flag);

	printf("{\"mode\":\"%s\",\"ops\":%llu,\"seconds\":%.3f,\"ops_per_s\":%.1f,"
	       "\"gets\":%llu,\"sets\":%llu,\"get_hits_nonnull\":%llu,\"get_nulls\":%llu,"
	       "\"get_wrong\":%llu,\"errors\":%llu,\"conns_failed\":%llu,"
	       "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,"
	       "\"max_us\":%llu,\"mean_us\":%.1f,\"latency\":\"per_request\","
	       "\"conns\":%u,\"threads\":%u,\"pipeline\":%u,\"ratio\":\"%u:%u\",\"dist\":\"%s\","
	       "\"keys\":%u,\"key_offset\":%u,\"value_size\":%u,\"seed\":%llu,\"interrupted\":%s}\n",
	       o.prefill ? "prefill" : "run", (unsigned long long)ops, el,
	       el > 0 ? (double)ops / el : 0.0, (unsigned long long)gets, (unsigned long long)sets,
	       (unsigned long long)hits, (unsigned long long)nulls, (unsigned long long)wrong,
	       (unsigned long long)errors, (unsigned long long)failed,
	       pct(hist, ops, 0.50), pct(hist, ops, 0.90), pct(hist, ops, 0.99), pct(hist, ops, 0.999),
	       (unsigned long long)lat_max, ops ? (double)lat_sum / (double)ops : 0.0,
	       o.conns, o.threads, o.pipeline, o.prefill ? 0 : o.ratio_get,
	       o.prefill ? 1 : o.ratio_set, o.prefill ? "sequential" : dist_names[o.dist],
	       o.keys, o.key_offset, o.value_size, (unsigned long long)o.seed,
	       intr ? "true" : "false");
	fflush(stdout);

	for (unsigned i = 0; i < o.conns; i++)
		conn_close(cs[i]);
	for (unsigned i = 0; i < o.threads; i++) {
		close(th[i].ep);
		free(th[i].c);
		free(th[i].hist);
		free(th[i].vbuf);
		free(th[i].rbuf);
	}
	free(cs);
	free(th);
	free(hist);
	free(zipf_cdf);
	if (intr)
		return 130;
	if (errors || wrong) {
		fprintf(stderr, "pipeload: %llu errors, %llu wrong values\n",
			(unsigned long long)errors, (unsigned long long)wrong);
		return 1;
	}
	return 0;
}
