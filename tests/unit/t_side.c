// SPDX-License-Identifier: GPL-2.0
/*
 * t_side.c - the side path (xdp/sidepath.bpf.c): its two TC programs,
 * loaded on the fixture's maps (shared by name, as attach shares the
 * pins), fed a connection to Redis's port that XDP does not follow: a
 * loopback client's, or an IPv6 one's. Each write is invalidated when its
 * segment arrives and stays in flight (no fill of its slot) until its
 * reply passes egress.
 */
#include <arpa/inet.h>
#include <sched.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"
#include "sidepath.h"
#include "sidepath.skel.h"
#include "keyhash.h"
#include "reuse_harness.skel.h"

#define SIDE_PORT 42000        /* the side client's port */
#define SIDE_ISN  7000000u
#define REDIS_ISN 9000000u

struct side {
	struct sidepath_bpf *skel;
	int in, eg;
	uint32_t cseq, sseq;    /* next client / server byte */
	int v6;
};

static struct side sd;

/* the attached interface as the side path's object is told it: a test
 * run's skb arrives on loopback (1); 7 is none of them */
static unsigned side_att = 7;
/* the programs' ps_fault at the next load */
static unsigned side_fault;

static int side_load(struct env *e)
{
	memset(&sd, 0, sizeof(sd));
	sd.skel = sidepath_bpf__open();
	if (!sd.skel)
		return -1;
	/* the fixture's maps, by name (attach: the pins) */
	if (env_share_maps(sd.skel->obj, &e->skel->obj, 1, NULL))
		return -1;
	sd.skel->rodata->ps_side_all_local = 1;
	sd.skel->rodata->ps_side_attached = side_att;
	sd.skel->rodata->ps_fault = side_fault;
	sd.skel->rodata->ps_ttl_clock_ns = env_ttl_clock;
	if (sidepath_bpf__load(sd.skel))
		return -1;
	sd.in = bpf_program__fd(sd.skel->progs.ps_side_in);
	sd.eg = bpf_program__fd(sd.skel->progs.ps_side_out);
	return 0;
}

static void side_unload(void)
{
	sidepath_bpf__destroy(sd.skel);
	sd.skel = NULL;
}

/* frames up to two parser windows of payload and more (t_side_windows) */
#define SIDE_FRAME_MAX 4096

static int run(int fd, const uint8_t *f, size_t n)
{
	static uint8_t o[SIDE_FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f, .data_size_in = (__u32)n,
		    .data_out = o, .data_size_out = sizeof(o), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &opts))
		return -1000;
	return (int)opts.retval;
}

/* a frame of the side connection, client -> server (to_srv) or back */
static size_t frame(uint8_t *buf, int to_srv, uint32_t seq, uint8_t flags,
		    const char *pl, size_t n)
{
	struct pkt_spec s = { .saddr = to_srv ? CLI_IP : SRV_IP, .daddr = to_srv ? SRV_IP : CLI_IP,
			      .sport = to_srv ? SIDE_PORT : SRV_PORT,
			      .dport = to_srv ? SRV_PORT : SIDE_PORT, .seq = seq,
			      .ack = 1, .flags = flags, .window = 512, .payload = pl,
			      .payload_len = n };

	return pkt_build(buf, SIDE_FRAME_MAX, &s);
}

/* the same as IPv6 (2001:db8::2 -> 2001:db8::1) */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

static size_t frame6(uint8_t *buf, int to_srv, uint32_t seq, uint8_t flags,
		     const char *pl, size_t n)
{
	uint8_t *ip = buf + 14, *t = ip + 40, a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint32_t s;

	memset(buf, 0, 14 + 40 + 20 + n);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip[0] = 0x60;
	ip[4] = (uint8_t)((20 + n) >> 8);
	ip[5] = (uint8_t)(20 + n);
	ip[6] = 6;
	ip[7] = 64;
	a[15] = to_srv ? 2 : 1;
	memcpy(ip + 8, a, 16);
	a[15] = to_srv ? 1 : 2;
	memcpy(ip + 24, a, 16);
	t[0] = (uint8_t)((to_srv ? SIDE_PORT : SRV_PORT) >> 8);
	t[1] = (uint8_t)(to_srv ? SIDE_PORT : SRV_PORT);
	t[2] = (uint8_t)((to_srv ? SRV_PORT : SIDE_PORT) >> 8);
	t[3] = (uint8_t)(to_srv ? SRV_PORT : SIDE_PORT);
	t[4] = (uint8_t)(seq >> 24); t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8); t[7] = (uint8_t)seq;
	t[11] = 1;
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 2;
	memcpy(t + 20, pl, n);
	s = sum16(ip + 8, 32, 0) + 6 + 20 + (uint32_t)n;
	s = sum16(t, 20 + n, s);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	t[16] = (uint8_t)(s >> 8);
	t[17] = (uint8_t)s;
	return 14 + 40 + 20 + n;
}

static int cli(uint32_t seq, uint8_t flags, const char *pl, size_t n)
{
	static uint8_t f[SIDE_FRAME_MAX];

	return run(sd.in, f, sd.v6 ? frame6(f, 1, seq, flags, pl, n) :
				     frame(f, 1, seq, flags, pl, n));
}

static int srv(uint32_t seq, uint8_t flags, const char *pl, size_t n)
{
	static uint8_t f[SIDE_FRAME_MAX];

	return run(sd.eg, f, sd.v6 ? frame6(f, 0, seq, flags, pl, n) :
				     frame(f, 0, seq, flags, pl, n));
}

/* handshake, then data in order */
static void open_conn(void)
{
	CHECK_EQ(cli(SIDE_ISN, TF_SYN, "", 0), -1);
	CHECK_EQ(srv(REDIS_ISN, TF_SYN | TF_ACK, "", 0), -1);
	sd.cseq = SIDE_ISN + 1;
	sd.sseq = REDIS_ISN + 1;
}

static int send_req(const char *pl, size_t n)
{
	int v = cli(sd.cseq, TF_ACK | TF_PSH, pl, n);

	sd.cseq += (uint32_t)n;
	return v;
}

static int send_rep(const char *pl, size_t n)
{
	int v = srv(sd.sseq, TF_ACK | TF_PSH, pl, n);

	sd.sseq += (uint32_t)n;
	return v;
}

static uint32_t inflight(struct env *e, const char *key)
{
	uint32_t slot = key ? ps_key_slot_of(key, strlen(key)) :
			      PS_EPOCH_SLOTS, v = ~0u;

	bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_wr_inflight), &slot, &v);
	return v;
}

static uint32_t epoch(struct env *e, const char *key)
{
	uint32_t slot = ps_key_slot_of(key, strlen(key)), v = ~0u;

	bpf_map_lookup_elem(e->epochs, &slot, &v);
	return v;
}

static uint32_t gen(struct env *e)
{
	struct ps_config c = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(e->cfg, &zero, &c);
	return c.cache_gen;
}

static int setup(struct env *e)
{
	if (side_load(e)) {
		CHECK(0, "cannot load the side path");
		return -1;
	}
	return 0;
}

#define SET_K "*3\r\n$3\r\nSET\r\n$2\r\nsk\r\n$2\r\nv2\r\n"

/* A write on the side path: invalidated as its segment arrives, in flight
 * until its reply; a fill of the key meanwhile is refused */
void t_side_write(struct env *e)
{
	const char *get = "*2\r\n$3\r\nGET\r\n$2\r\nsk\r\n";
	uint32_t e0;

	if (setup(e))
		return;
	cache_put(e, "sk", "v1");
	e0 = epoch(e, "sk");
	open_conn();
	CHECK_EQ(send_req(S("*2\r\n$3\r\nGET\r\n$2\r\nsk\r\n")), -1);
	CHECK(cache_has(e, "sk", NULL, 0), "a GET invalidated");
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "the side path's SET left the key cached");
	CHECK_EQ(epoch(e, "sk"), e0 + 1);
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_INVAL), 1);
	/* a GET over the attached interface that Redis runs before the SET:
	 * its old value is not filled */
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$2\r\nv1\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FILL_INFLIGHT), 1);
	/* the GET's reply, then the SET's: the write is over */
	CHECK_EQ(send_rep(S("$2\r\nv1\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(epoch(e, "sk"), e0 + 2);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_REPLIES), 2);
	/* now a GET's reply fills */
	expect_pass(e, get, strlen(get), 0, 0);
	expect_srv(e, S("$2\r\nv2\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FILLS), 1);
	/* Redis closes: the connection is over, kept dead (t_side_close_kept) */
	CHECK_EQ(srv(sd.sseq, TF_FIN | TF_ACK, "", 0), -1);
	{
		struct ps_side_key nk;
		struct ps_side_flow f;
		int fd = bpf_map__fd(sd.skel->maps.ps_side_flows);

		CHECK(!bpf_map_get_next_key(fd, NULL, &nk) && !bpf_map_lookup_elem(fd, &nk, &f) &&
		      f.flags == (PS_SF_SYN | PS_SF_SRV | PS_SF_DEAD | PS_SF_RELEASED),
		      "a closed connection is still followed: flags %#x", f.flags);
	}
	side_unload();
}

/* Split commands are followed across segments; data past a hole is
 * dropped; bytes already parsed are not parsed again */
void t_side_stream(struct env *e)
{
	const char *two = "*3\r\n$3\r\nSET\r\n$2\r\nsa\r\n$1\r\nx\r\n*2\r\n$3\r\nDEL\r\n$2\r\nsb\r\n";
	size_t cut = 18; /* between "s" and "a": the key split */
	uint32_t g0;

	if (setup(e))
		return;
	cache_put(e, "sa", "1");
	cache_put(e, "sb", "2");
	open_conn();
	/* past a hole: dropped, nothing parsed */
	CHECK_EQ(cli(sd.cseq + 5, TF_ACK | TF_PSH, S(SET_K)), 2 /* TC_ACT_SHOT */);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_OOO), 1);
	g0 = gen(e);
	/* the key split over two segments: a flush (not seen whole) */
	CHECK_EQ(send_req(two, cut), -1);
	CHECK(cache_has(e, "sa", NULL, 0), "invalidated before the key was complete");
	CHECK_EQ(send_req(two + cut, strlen(two) - cut), -1);
	CHECK(gen(e) != g0, "a write whose key was split did not flush");
	CHECK(!cache_has(e, "sb", NULL, 0), "the DEL after it was not seen");
	/* a retransmission of the whole: nothing again */
	g0 = gen(e);
	cache_put(e, "sb", "2");
	CHECK_EQ(cli(SIDE_ISN + 1, TF_ACK | TF_PSH, two, strlen(two)), -1);
	CHECK(cache_has(e, "sb", NULL, 0), "a retransmission was parsed again");
	/* a segment partly new: only its new bytes */
	CHECK_EQ(cli(sd.cseq - 4, TF_ACK | TF_PSH, "sb\r\n" SET_K, 4 + strlen(SET_K)), -1);
	sd.cseq += (uint32_t)strlen(SET_K);
	CHECK(cache_has(e, "sb", NULL, 0), "old bytes parsed again");
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(send_rep(S("+OK\r\n:1\r\n+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(inflight(e, "sa"), 0);
	CHECK_EQ(inflight(e, NULL), 0);
	side_unload();
}

/* Segments longer than the parser's window (loopback's GSO segments run
 * to 64 KB), walked a window at a time by the walks XDP, TC and poststack
 * run (resp.h): a write in each window invalidated, and a reply stream
 * whose bulk string crosses the window edge counted whole */
void t_side_windows(struct env *e)
{
	static char req[3000], rep[3000];
	/* the SET fills the first window exactly: no argument crosses its
	 * edge (one that did would flush, as at a segment edge) */
	size_t vlen = PS_PAYLOAD_MAX - 30, n, m;
	uint32_t g0;

	if (setup(e))
		return;
	cache_put(e, "sa", "1");
	cache_put(e, "sb", "2");
	cache_put(e, "sx", "3");
	open_conn();
	g0 = gen(e);
	n = (size_t)sprintf(req, "*3\r\n$3\r\nSET\r\n$2\r\nsa\r\n$%zu\r\n", vlen);
	memset(req + n, 'v', vlen);
	n += vlen;
	n += (size_t)sprintf(req + n, "\r\n");
	CHECK_EQ(n, PS_PAYLOAD_MAX);
	n += (size_t)sprintf(req + n, "*2\r\n$3\r\nGET\r\n$2\r\nsx\r\n"
			     "*2\r\n$3\r\nDEL\r\n$2\r\nsb\r\n");
	CHECK_EQ(send_req(req, n), -1);
	CHECK(!cache_has(e, "sa", NULL, 0), "the SET of the first window left its key cached");
	CHECK(!cache_has(e, "sb", NULL, 0), "the DEL of the second window left its key cached");
	CHECK(cache_has(e, "sx", NULL, 0), "a GET invalidated");
	CHECK_EQ(gen(e), g0);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_INVAL), 2);
	CHECK_EQ(inflight(e, "sa"), 1);
	CHECK_EQ(inflight(e, "sb"), 1);
	/* three replies, the GET's a 2,500-byte value across the edge */
	m = (size_t)sprintf(rep, "+OK\r\n$2500\r\n");
	memset(rep + m, 'x', 2500);
	m += 2500;
	m += (size_t)sprintf(rep + m, "\r\n:1\r\n");
	CHECK(m > PS_PAYLOAD_MAX, "a reply stream of %zu bytes fits one window", m);
	CHECK_EQ(send_rep(rep, m), -1);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_REPLIES), 3);
	CHECK_EQ(inflight(e, "sa"), 0);
	CHECK_EQ(inflight(e, "sb"), 0);
	/* the count held: no hold on every fill */
	CHECK_EQ(inflight(e, NULL), 0);
	side_unload();
}

/* A connection opened before we looked: every segment with data
 * flushes, and no fill anywhere until it closes */
void t_side_lost(struct env *e)
{
	uint32_t g0;

	if (setup(e))
		return;
	sd.cseq = 123456;
	sd.sseq = 654321;
	g0 = gen(e);
	CHECK_EQ(send_req(S("*2\r\n$3\r\nGET\r\n$1\r\nx\r\n")), -1);
	CHECK(gen(e) != g0, "data of an unknown connection did not flush");
	CHECK_EQ(stat_get(e, PS_ST_SIDE_LOST), 1);
	CHECK_EQ(inflight(e, NULL), 1);
	g0 = gen(e);
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(gen(e) != g0, "a later segment did not flush");
	CHECK_EQ(inflight(e, NULL), 1);
	CHECK_EQ(send_rep(S("$-1\r\n+OK\r\n")), -1);
	CHECK_EQ(inflight(e, NULL), 1);
	/* the watcher found it at a command boundary in Redis (CLIENT LIST):
	 * followed from its next command; not from bytes that are no command
	 * start, nor from another place */
	{
		struct ps_side_key k = { .cli = { 0, 0, htonl(0xffff), htonl(CLI_IP) },
					 .srv = { 0, 0, htonl(0xffff), htonl(SRV_IP) },
					 .cli_port = htons(SIDE_PORT), .srv_port = htons(SRV_PORT) };
		struct ps_side_resync r = { .cli_seq = sd.cseq, .srv_seq = sd.sseq };
		int fd = bpf_map__fd(sd.skel->maps.ps_side_resync);

		r.cli_seq = sd.cseq + 1;
		CHECK_EQ(bpf_map_update_elem(fd, &k, &r, BPF_ANY), 0);
		CHECK_EQ(send_req(S(SET_K)), -1);
		CHECK_EQ(inflight(e, NULL), 1);          /* not there: still lost */
		r.cli_seq = sd.cseq;
		CHECK_EQ(bpf_map_update_elem(fd, &k, &r, BPF_ANY), 0);
		CHECK_EQ(send_req(S("$3\r\nfoo\r\n")), -1);
		CHECK_EQ(inflight(e, NULL), 1);          /* no '*': still lost */
		r.cli_seq = sd.cseq;
		CHECK_EQ(bpf_map_update_elem(fd, &k, &r, BPF_ANY), 0);
		cache_put(e, "sk", "v1");
		CHECK_EQ(send_req(S(SET_K)), -1);
		CHECK_EQ(inflight(e, NULL), 0);          /* followed: its hold gone */
		CHECK_EQ(inflight(e, "sk"), 1);
		CHECK(!cache_has(e, "sk", NULL, 0), "the followed SET left the key cached");
		CHECK_EQ(send_rep(S("+OK\r\n")), -1);
		CHECK_EQ(inflight(e, "sk"), 0);
	}
	CHECK_EQ(cli(sd.cseq, TF_RST, "", 0), -1);
	CHECK_EQ(inflight(e, NULL), 0);
	side_unload();
}

/* TTLs read on the side path too; SUBSCRIBE: replies no longer pair, a
 * write after it holds every fill until the connection closes */
void t_side_ttl_subscribe(struct env *e)
{
	const char *set = "*5\r\n$3\r\nSET\r\n$2\r\ntt\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n";
	struct ps_cache_key k;
	uint64_t v = 0;

	if (setup(e))
		return;
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_TTL_EXACT);
	open_conn();
	CHECK_EQ(send_req(set, strlen(set)), -1);
	ps_cache_key_build(&k, "tt", 2);
	CHECK(!bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ps_ttl), &k, &v) &&
	      v == env_ttl_clock + 1500ull * 1000000ull, "SET PX 1500 on the side path: %llu",
	      (unsigned long long)v);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(send_req(S("*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n")), -1);
	CHECK_EQ(inflight(e, NULL), 0);
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK_EQ(inflight(e, NULL), 1);
	CHECK_EQ(send_rep(S("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n+OK\r\n")), -1);
	CHECK_EQ(inflight(e, NULL), 1);
	CHECK_EQ(srv(sd.sseq, TF_FIN | TF_ACK, "", 0), -1);
	CHECK_EQ(inflight(e, NULL), 0);
	CHECK_EQ(inflight(e, "sk"), 0);
	side_unload();
}

/* IPv6: the same parser, the same invalidation */
void t_side_ipv6(struct env *e)
{
	if (setup(e))
		return;
	sd.v6 = 1;
	cache_put(e, "sk", "v1");
	open_conn();
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "an IPv6 SET left the key cached");
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	side_unload();
}

/* A segment with a bad checksum is not parsed (the kernel drops it, the
 * client sends it again) */
void t_side_csum(struct env *e)
{
	static uint8_t f[1600];
	size_t n;

	if (setup(e))
		return;
	cache_put(e, "sk", "v1");
	open_conn();
	n = frame(f, 1, sd.cseq, TF_ACK | TF_PSH, S(SET_K));
	f[n - 3] ^= 0x20;   /* "v2" -> "V2": the sum no longer matches */
	CHECK_EQ(run(sd.in, f, n), -1);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_CSUM), 1);
	CHECK(cache_has(e, "sk", NULL, 0), "a segment the kernel drops was parsed");
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "its good copy was not parsed");
	side_unload();
}

/* A connection the watcher put in the table ahead of its first segment
 * (PS_SF_AHEAD): followed from that segment when it starts a command,
 * from its first byte on */
void t_side_ahead(struct env *e)
{
	struct ps_side_key k = { .cli = { 0, 0, htonl(0xffff), htonl(CLI_IP) },
				 .srv = { 0, 0, htonl(0xffff), htonl(SRV_IP) },
				 .cli_port = htons(SIDE_PORT), .srv_port = htons(SRV_PORT) };
	struct ps_side_flow f = { .flags = PS_SF_LOST | PS_SF_AHEAD, .srv_nxt = 777 };
	int fd;

	if (setup(e))
		return;
	fd = bpf_map__fd(sd.skel->maps.ps_side_flows);
	CHECK_EQ(bpf_map_update_elem(fd, &k, &f, BPF_NOEXIST), 0);
	cache_put(e, "sk", "v1");
	sd.cseq = 0x90000000u;   /* anywhere: the client's next byte */
	sd.sseq = 777;
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "the first command of a connection put ahead missed");
	CHECK_EQ(inflight(e, NULL), 0);
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_LOST), 0);
	CHECK_EQ(bpf_map_lookup_elem(fd, &k, &f), 0);
	CHECK(f.cli_nxt == sd.cseq && !(f.flags & (PS_SF_LOST | PS_SF_AHEAD)),
	      "not followed: cli_nxt %u flags %#x", f.cli_nxt, f.flags);
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK_EQ(inflight(e, "sk"), 2);
	CHECK_EQ(send_rep(S("+OK\r\n+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	/* one whose first segment starts inside a command: lost */
	side_unload();
	if (setup(e))
		return;
	fd = bpf_map__fd(sd.skel->maps.ps_side_flows);
	f = (struct ps_side_flow){ .flags = PS_SF_LOST | PS_SF_AHEAD };
	CHECK_EQ(bpf_map_update_elem(fd, &k, &f, BPF_ANY), 0);
	{
		uint32_t g0 = gen(e);

		CHECK_EQ(send_req(S("v2\r\n")), -1);
		CHECK(gen(e) != g0, "a lost connection's data did not flush");
	}
	CHECK_EQ(inflight(e, NULL), 1);
	CHECK_EQ(cli(sd.cseq, TF_RST, "", 0), -1);
	CHECK_EQ(inflight(e, NULL), 0);
	side_unload();
}

/* On the attached interface (here loopback: where a test run's skb
 * arrives) the side path leaves XDP's connections alone and follows the
 * others; egress looks for them only while there is one */
void t_side_attached(struct env *e)
{
	uint8_t f[1600];
	size_t n;

	side_att = 1;
	if (setup(e)) {
		side_att = 7;
		return;
	}
	side_att = 7;
	cache_put(e, "sk", "v1");
	/* the fixture's own connection, in ps_flows: XDP's, not ours */
	n = cli_seg(e, f, S(SET_K), TF_ACK | TF_PSH);
	CHECK_EQ(run(sd.in, f, n), -1);
	CHECK(cache_has(e, "sk", NULL, 0), "the side path took XDP's connection");
	CHECK_EQ(stat_get(e, PS_ST_SIDE_PKTS), 0);
	/* another (open before attach, say): followed */
	open_conn();
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "a connection XDP does not track was not followed");
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_REPLIES), 1);
	side_unload();
}

/* ---- a closed connection's element (sidepath.bpf.c, side_enter ... side_reap) ---- */

static struct ps_side_key side_key(uint16_t port)
{
	struct ps_side_key k = { .cli = { 0, 0, htonl(0xffff), htonl(CLI_IP) },
				 .srv = { 0, 0, htonl(0xffff), htonl(SRV_IP) },
				 .cli_port = htons(port), .srv_port = htons(SRV_PORT) };

	return k;
}

static int side_flow(uint16_t port, struct ps_side_flow *f)
{
	struct ps_side_key k = side_key(port);

	return bpf_map_lookup_elem(bpf_map__fd(sd.skel->maps.ps_side_flows), &k, f);
}

static int side_flow_put(uint16_t port, const struct ps_side_flow *f)
{
	struct ps_side_key k = side_key(port);

	return bpf_map_update_elem(bpf_map__fd(sd.skel->maps.ps_side_flows), &k, f, BPF_EXIST);
}

/* the reuse harness on the side path's table (the rest the fixture's) */
static struct reuse_harness_bpf *side_rh_open(struct env *e)
{
	struct reuse_harness_bpf *h = reuse_harness_bpf__open();
	struct bpf_object *from[2] = { sd.skel->obj, e->skel->obj };

	if (!h)
		return NULL;
	if (env_share_maps(h->obj, from, 2, "rh_") || reuse_harness_bpf__load(h)) {
		reuse_harness_bpf__destroy(h);
		return NULL;
	}
	return h;
}

/* the address of the side connection's element for port (0: none) */
static uint64_t side_addr(struct reuse_harness_bpf *h, uint16_t port)
{
	struct { struct ps_side_key key; uint64_t addr; } io = { .key = side_key(port) };
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);
	uint32_t zero = 0;
	int fd = bpf_map__fd(h->maps.rh_side_io);

	if (bpf_map_update_elem(fd, &zero, &io, BPF_ANY) ||
	    bpf_prog_test_run_opts(bpf_program__fd(h->progs.rh_side_addr), &r) || r.retval ||
	    bpf_map_lookup_elem(fd, &zero, &io))
		return 0;
	return io.addr;
}

/* every run on this CPU (its free list is the one a delete fills) */
static cpu_set_t side_pin(void)
{
	cpu_set_t was, one;

	sched_getaffinity(0, sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	return was;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define DEAD_DONE (PS_SF_DEAD | PS_SF_RELEASED)

/*
 * Redis's FIN (egress) or the client's RST (ingress) ends a connection
 * while the other hook, on the other CPU, may be inside a segment of it
 * with its element. Deleted at once, that element went to the next
 * connection opened on this CPU, and the holder wrote the old
 * connection's parser, cli_nxt/srv_nxt, reply count and write ring into
 * the new one. It is kept instead, dead: its writes released once,
 * absent to both hooks, and the next connection gets an element of its own.
 */
void t_side_close_kept(struct env *e)
{
	struct reuse_harness_bpf *h;
	struct ps_side_flow f;
	uint64_t a, b;
	uint32_t e0, g0;
	cpu_set_t was;

	if (setup(e))
		return;
	h = side_rh_open(e);
	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h) {
		side_unload();
		return;
	}
	was = side_pin();
	cache_put(e, "sk", "v1");
	e0 = epoch(e, "sk");
	open_conn();
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK_EQ(inflight(e, "sk"), 1);
	a = side_addr(h, SIDE_PORT);
	CHECK(a != 0, "the connection has no element");
	/* Redis closes before the SET's reply: the write is over, once */
	CHECK_EQ(srv(sd.sseq, TF_FIN | TF_ACK, "", 0), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(epoch(e, "sk"), e0 + 2);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN | PS_SF_SRV | DEAD_DONE);
	CHECK(f.dead_ns != 0, "no time of death");
	CHECK_EQ(side_addr(h, SIDE_PORT), a);
	/* absent to both hooks: a reply is not counted and holds nothing,
	 * the client's FIN and RST release nothing again, ACKs change nothing */
	g0 = gen(e);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_REPLIES), 0);
	CHECK_EQ(srv(sd.sseq, TF_RST, "", 0), -1);
	CHECK_EQ(cli(sd.cseq, TF_FIN | TF_ACK, "", 0), -1);
	CHECK_EQ(cli(sd.cseq + 1, TF_RST, "", 0), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(inflight(e, NULL), 0);
	CHECK_EQ(epoch(e, "sk"), e0 + 2);
	CHECK_EQ(gen(e), g0);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN | PS_SF_SRV | DEAD_DONE);
	CHECK_EQ(f.cli_nxt, sd.cseq);
	CHECK_EQ(f.replies, 0);
	/* another connection opened on this CPU: an element of its own */
	{
		static uint8_t fr[SIDE_FRAME_MAX];
		struct pkt_spec sp = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = SIDE_PORT + 1,
				       .dport = SRV_PORT, .seq = 5, .flags = TF_SYN, .window = 512 };

		CHECK_EQ(run(sd.in, fr, pkt_build(fr, sizeof(fr), &sp)), -1);
	}
	b = side_addr(h, SIDE_PORT + 1);
	CHECK(b != 0, "the other SYN opened no connection");
	CHECK(b != a, "the closed connection's element went to the next connection opened");
	CHECK_EQ(side_flow(SIDE_PORT + 1, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN);
	sched_setaffinity(0, sizeof(was), &was);
	reuse_harness_bpf__destroy(h);
	side_unload();
}

/*
 * A run that looked a connection up and enters its element after the
 * element went to another connection (k reaped and another opened on
 * that CPU, PS_FAULT_SIDE_REUSE) leaves it as it found it: the client's
 * RST closes nothing, k is absent.
 */
void t_side_enter_reused(struct env *e)
{
	struct ps_side_flow f;
	cpu_set_t was;

	side_fault = PS_FAULT_SIDE_REUSE;
	if (setup(e)) {
		side_fault = 0;
		return;
	}
	side_fault = 0;
	was = side_pin();
	open_conn();   /* the SYN found no entry: no fault */
	CHECK_EQ(cli(sd.cseq, TF_RST, "", 0), -1);
	CHECK_EQ(side_flow(SIDE_PORT + 1, &f), 0);
	CHECK(f.flags == PS_SF_SYN && f.cli_nxt == PS_FAULT_SIDE_NXT,
	      "the other connection's entry was touched: flags %#x cli_nxt %#x",
	      f.flags, f.cli_nxt);
	CHECK(side_flow(SIDE_PORT, &f) != 0, "the reset connection has an entry again");
	CHECK_EQ(stat_get(e, PS_ST_SIDE_LOST), 0);
	sched_setaffinity(0, sizeof(was), &was);
	side_unload();
}

/*
 * A SYN of a dead connection's tuple reopens its element in place, every
 * field of the old connection gone; not while a run of the old one is
 * still inside (its last run releases it): that SYN is dropped, and its
 * copy sent again opens it. The client's RST releases the writes in
 * flight once, whatever closes after.
 */
void t_side_reopen(struct env *e)
{
	struct reuse_harness_bpf *h;
	struct ps_side_flow f, inside;
	uint64_t a;
	uint32_t e0;
	cpu_set_t was;

	if (setup(e))
		return;
	h = side_rh_open(e);
	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h) {
		side_unload();
		return;
	}
	was = side_pin();
	cache_put(e, "sk", "v1");
	e0 = epoch(e, "sk");
	open_conn();
	CHECK_EQ(send_req(S("*2\r\n$3\r\nGET\r\n$2\r\nsk\r\n" SET_K)), -1);
	CHECK_EQ(send_rep(S("$2\r\nv1\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 1);
	a = side_addr(h, SIDE_PORT);
	/* the client resets: released once; Redis's RST after changes nothing */
	CHECK_EQ(cli(sd.cseq, TF_RST, "", 0), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(epoch(e, "sk"), e0 + 2);
	CHECK_EQ(srv(sd.sseq, TF_RST | TF_ACK, "", 0), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(epoch(e, "sk"), e0 + 2);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN | PS_SF_SRV | DEAD_DONE);
	CHECK_EQ(f.cmds, 2);
	CHECK_EQ(f.replies, 1);

	/* a run of the old connection still inside (its count in the word,
	 * not yet released): the SYN cannot take the element */
	inside = f;
	inside.flags = PS_SF_SYN | PS_SF_SRV | PS_SF_DEAD | PS_SF_USER;
	CHECK_EQ(side_flow_put(SIDE_PORT, &inside), 0);
	CHECK_EQ(cli(SIDE_ISN + 5000, TF_SYN, "", 0), 2 /* TC_ACT_SHOT */);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, inside.flags);
	CHECK_EQ(f.cli_nxt, inside.cli_nxt);
	/* its data waits too (not parsed: sent again) */
	cache_put(e, "sk", "v1");
	CHECK_EQ(cli(SIDE_ISN + 5001, TF_ACK | TF_PSH, S(SET_K)), 2);
	CHECK(cache_has(e, "sk", NULL, 0), "data dropped for later was parsed");
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, inside.flags);
	/* released (the run left): the SYN sent again reopens it in place */
	f.flags = PS_SF_SYN | PS_SF_SRV | DEAD_DONE;
	CHECK_EQ(side_flow_put(SIDE_PORT, &f), 0);
	a = side_addr(h, SIDE_PORT);
	CHECK_EQ(cli(SIDE_ISN + 5000, TF_SYN, "", 0), -1);
	CHECK_EQ(side_addr(h, SIDE_PORT), a);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN);
	CHECK_EQ(f.cli_nxt, SIDE_ISN + 5001);
	CHECK_EQ(f.srv_nxt, 0);
	CHECK_EQ(f.cmds, 0);
	CHECK_EQ(f.replies, 0);
	CHECK_EQ(f.dead_ns, 0);
	CHECK_EQ(f.wr_head, f.wr_tail);
	CHECK_EQ(f.ifindex, 1);
	/* the new connection, followed from its first byte */
	CHECK_EQ(srv(REDIS_ISN + 7000, TF_SYN | TF_ACK, "", 0), -1);
	sd.cseq = SIDE_ISN + 5001;
	sd.sseq = REDIS_ISN + 7001;
	cache_put(e, "sk", "v1");
	CHECK_EQ(send_req(S(SET_K)), -1);
	CHECK(!cache_has(e, "sk", NULL, 0), "the reopened connection's SET left the key cached");
	CHECK_EQ(inflight(e, "sk"), 1);
	CHECK_EQ(send_rep(S("+OK\r\n")), -1);
	CHECK_EQ(inflight(e, "sk"), 0);
	CHECK_EQ(stat_get(e, PS_ST_SIDE_REPLIES), 2);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.cmds, 1);
	CHECK_EQ(f.replies, 1);
	CHECK_EQ(f.flags, PS_SF_SYN | PS_SF_SRV);
	sched_setaffinity(0, sizeof(was), &was);
	reuse_harness_bpf__destroy(h);
	side_unload();
}

/*
 * A dead entry goes once dead for PS_SIDE_GRACE_NS, not before: deleted
 * by the next segment of its tuple that does not reopen it, by a later
 * open or close (the queue of closed connections), or, on a full table,
 * by the SYN that needs the room.
 */
void t_side_reap(struct env *e)
{
	struct ps_side_flow f;
	struct ps_side_key k, nk;
	uint32_t i, n;
	int fd;

	if (setup(e))
		return;
	fd = bpf_map__fd(sd.skel->maps.ps_side_flows);
	open_conn();
	CHECK_EQ(srv(sd.sseq, TF_FIN | TF_ACK, "", 0), -1);
	/* dead just now: kept by both hooks */
	CHECK_EQ(cli(sd.cseq, TF_ACK, "", 0), -1);
	CHECK_EQ(srv(sd.sseq + 1, TF_ACK, "", 0), -1);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN | PS_SF_SRV | DEAD_DONE);
	/* dead a little less than the grace: kept */
	f.dead_ns = mono_ns() - PS_SIDE_GRACE_NS + 200000000ull;
	CHECK_EQ(side_flow_put(SIDE_PORT, &f), 0);
	CHECK_EQ(cli(sd.cseq, TF_ACK, "", 0), -1);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	/* not released yet (a run inside), however old: kept */
	f.dead_ns = 1;
	f.flags = PS_SF_SYN | PS_SF_SRV | PS_SF_DEAD;
	CHECK_EQ(side_flow_put(SIDE_PORT, &f), 0);
	CHECK_EQ(srv(sd.sseq + 1, TF_ACK, "", 0), -1);
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	/* past the grace: egress deletes it */
	f.flags = PS_SF_SYN | PS_SF_SRV | DEAD_DONE;
	CHECK_EQ(side_flow_put(SIDE_PORT, &f), 0);
	CHECK_EQ(srv(sd.sseq + 1, TF_ACK, "", 0), -1);
	CHECK(side_flow(SIDE_PORT, &f) != 0, "a dead entry past its grace was kept (egress)");
	/* and ingress */
	CHECK_EQ(bpf_map_update_elem(fd, (k = side_key(SIDE_PORT), &k), &f, BPF_NOEXIST), 0);
	CHECK_EQ(cli(sd.cseq, TF_ACK, "", 0), -1);
	CHECK(side_flow(SIDE_PORT, &f) != 0, "a dead entry past its grace was kept (ingress)");

	/* a closed connection is deleted by an open after its grace
	 * (side_dead_pop), not by one before */
	{
		static uint8_t fr[SIDE_FRAME_MAX];
		struct pkt_spec sp = { .saddr = CLI_IP, .daddr = SRV_IP, .dport = SRV_PORT,
				       .seq = 5, .flags = TF_SYN, .window = 512 };
		struct timespec nap = { 1, 100000000 };

		CHECK_EQ(cli(SIDE_ISN, TF_SYN, "", 0), -1);
		CHECK_EQ(srv(sd.sseq, TF_RST | TF_ACK, "", 0), -1);
		CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
		CHECK_EQ(f.flags, PS_SF_SYN | DEAD_DONE);
		sp.sport = SIDE_PORT + 1;
		CHECK_EQ(run(sd.in, fr, pkt_build(fr, sizeof(fr), &sp)), -1);
		CHECK(side_flow(SIDE_PORT, &f) == 0, "deleted by an open before its grace");
		nanosleep(&nap, NULL);
		sp.sport = SIDE_PORT + 2;
		CHECK_EQ(run(sd.in, fr, pkt_build(fr, sizeof(fr), &sp)), -1);
		CHECK(side_flow(SIDE_PORT, &f) != 0, "not deleted by an open after its grace");
		CHECK_EQ(side_flow(SIDE_PORT + 1, &f), 0);
		CHECK_EQ(side_flow(SIDE_PORT + 2, &f), 0);
		CHECK_EQ(bpf_map_delete_elem(fd, (k = side_key(SIDE_PORT + 1), &k)), 0);
		CHECK_EQ(bpf_map_delete_elem(fd, (k = side_key(SIDE_PORT + 2), &k)), 0);
	}

	/* a table full of dead entries, all but one past the grace: the
	 * next SYN reclaims those and opens */
	memset(&f, 0, sizeof(f));
	f.flags = PS_SF_SYN | DEAD_DONE;
	f.dead_ns = 1;
	for (i = 0; i < PS_SIDE_FLOWS; i++) {
		k = side_key(SIDE_PORT);
		k.cli[3] = htonl(0x0a000000u + i);   /* 10.0.0.0/16 */
		if (i == 7)
			f.dead_ns = mono_ns();
		CHECK_EQ(bpf_map_update_elem(fd, &k, &f, BPF_NOEXIST), 0);
		f.dead_ns = 1;
	}
	{
		static uint8_t fr[SIDE_FRAME_MAX];
		size_t len = frame(fr, 1, SIDE_ISN, TF_SYN, "", 0);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr, .data_size_in = (__u32)len,
			    .repeat = 1);

		CHECK_EQ(bpf_prog_test_run_opts(sd.in, &o), 0);
		CHECK_EQ((int)o.retval, -1);
		/* what the pass over a full table costs that one SYN */
		printf("#   SYN on a full table (%u dead, all but one reclaimed): %u ns\n",
		       PS_SIDE_FLOWS, o.duration);
	}
	CHECK_EQ(stat_get(e, PS_ST_SIDE_FULL), 0);
	for (n = 0, k = side_key(0); !bpf_map_get_next_key(fd, n ? &k : NULL, &nk); n++)
		k = nk;
	CHECK_EQ(n, 2);   /* the young dead one and the new connection */
	CHECK_EQ(side_flow(SIDE_PORT, &f), 0);
	CHECK_EQ(f.flags, PS_SF_SYN);
	side_unload();
}
