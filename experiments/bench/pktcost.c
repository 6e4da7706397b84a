// SPDX-License-Identifier: GPL-2.0
/*
 * pktcost.c - per-packet cost of each path through ps_xdp, by mode, next
 * to a bare XDP reflector (the floor), and of ps_tc on a server segment next
 * to a bare TC header walk, measured with BPF_PROG_TEST_RUN.
 *
 * Every run starts from the same state: the flow entry (and the cache) is
 * restored from a snapshot before each single-packet run, so a guarded hit
 * is always a first answer, never a retransmission. The kernel's own
 * timing of the program (test_run's duration) is recorded per run; the
 * median of RUNS runs is reported. CSV on stdout.
 *
 * Configurations (the CSV's config column):
 *   deployed   the flags `prestack attach` leaves in ps_config without
 *              options (ps_deploy_flags, ctl/deploy.h: the socket required
 *              and checked, fills, the lease, no cut, the TC reply path,
 *              the side path, TTLs as written), a lease granted as the
 *              coherence watcher grants it, renewed before every run, and a
 *              real established socket for the fixture's 4-tuple, so that
 *              bpf_skc_lookup_tcp finds it and the tcp_sock check compares
 *              the mirrors with a kernel that has them (tests/unit/
 *              realsock.h: pktcost moves itself into a private network
 *              namespace, connects CLI_IP:CLI_PORT to SRV_IP:SRV_PORT over
 *              its loopback, and the fixture's handshake takes that
 *              connection's ISNs). Every mode runs in it.
 *   fill-only  PS_CFG_FILL alone, what the guarded and retrans rows measured
 *              before: no socket check, no lease. An ablation.
 *   floor      the reflector and the TC header walk.
 * A row whose verdict is not the one its path must give, or a deployed row
 * after which the programs counted a flow without a socket or a mirror
 * that disagrees with it, stops pktcost with an error: it prints no number
 * for a path it did not take.
 *
 * usage: pktcost [RUNS]            every path, every mode
 *        pktcost [RUNS] --dummy    the dummy-cache curve: a naive 16-byte hit
 *                                  with N empty bpf_loop iterations added
 *        pktcost [RUNS] --cut      per-command answering (attach --cut) on
 *                                  pipelined segments of 16 commands, XDP
 *                                  and the TC egress reply with the runs
 *        pktcost [RUNS] --cut-steps the same, by step (xdp/prof.h): only
 *                                  build/prof/pktcost (`make prof`) has
 *                                  the step clock
 *        pktcost [RUNS] --tc-reply the TC ingress path (docs/tc-reply.md) by
 *                                  value size: XDP's handoff, and TC's build
 *                                  of each segment (tests/unit/bpf/
 *                                  tcr_harness.bpf.c, as the unit tests run
 *                                  it: test_run cannot redirect, so the
 *                                  clone/redirect cost is not in it)
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "deploy.h"
#include "prof.h"
#include "env.h"
#include "realsock.h"
#include "prestack.skel.h"
#include "reflector.skel.h"
#include "tcr_harness.skel.h"

struct fixture {
	const char *path;
	int value_size;     /* for hits; 0 otherwise */
	const char *payload;
	uint16_t dport;
	uint8_t proto;      /* 0 TCP, 17 UDP */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int one_run(int prog, const uint8_t *in, size_t len, uint32_t *ns, int *verdict)
{
	static uint8_t out[4096];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	*ns = o.duration;
	*verdict = (int)o.retval;
	return 0;
}

static const char *vname(int v)
{
	return v == 1 ? "drop" : v == 2 ? "pass" : v == 3 ? "tx" : "?";
}

/* TC verdicts are another space: 0 is TC_ACT_OK */
static const char *tcname(int v)
{
	return v == 0 ? "ok" : v == 2 ? "shot" : "?";
}

enum config { CFG_DEPLOYED, CFG_FILL_ONLY };
static const char *const config_names[] = { "deployed", "fill-only" };

/* the connection whose server socket the deployed rows find (main) */
static struct realsock rs;

static uint32_t config_flags(enum config c)
{
	/* `prestack attach` with no option, Redis without a password
	 * whose writes cannot be refused */
	static const struct ps_deploy attach_defaults;

	return c == CFG_DEPLOYED ? ps_deploy_flags(&attach_defaults) : PS_CFG_FILL;
}

/* A fresh object with the fixture flow (on the real connection's ISNs)
 * in mode and config c. */
static int setup(struct env *e, uint32_t mode, enum config c)
{
	if (env_open(e, PS_MODE_GUARDED, PS_CFG_FILL) ||
	    handshake_isn(e, true, rs.cisn, rs.sisn)) {
		fprintf(stderr, "pktcost: setup failed\n");
		return -1;
	}
	env_set_mode(e, mode, config_flags(c));
	return 0;
}

/* The state each run starts from: the flow as snapped, and a lease as
 * fresh as the watcher keeps it (it renews every LEASE_EVERY_MS). */
static void restore(struct env *e, const struct ps_flow *snap)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };

	bpf_map_update_elem(e->flows, &k, snap, BPF_ANY);
	env_lease_grant(e);
}

/* After a deployed row: every tcp_sock lookup found the real socket and
 * it agreed with the mirrors (else the row timed another path). */
static int sock_agreed(struct env *e, const char *row)
{
	uint64_t nosock = stat_get(e, PS_ST_NOSOCK),
		 div = stat_get(e, PS_ST_DIV_RCV_NXT) + stat_get(e, PS_ST_DIV_SND_NXT) +
		       stat_get(e, PS_ST_DIV_SND_UNA);

	if (!nosock && !div)
		return 0;
	fprintf(stderr, "pktcost: %s: %llu lookups without a socket, %llu divergences: "
		"not the deployed path\n", row, (unsigned long long)nosock,
		(unsigned long long)div);
	return -1;
}

static int wrong_verdict(const char *mode, const char *config, const char *path,
			 const char *got, const char *want)
{
	fprintf(stderr, "pktcost: %s/%s %s: verdict %s, expected %s\n", mode, config, path,
		got, want);
	return -1;
}

/*
 * TC egress on a server segment carrying a reply, in a flow where an
 * answered GET moved the two sequence spaces apart (so every mode that
 * translates has something to translate). The same flow state each run.
 */
static int tc_median(uint32_t mode, enum config c, int runs, uint32_t *ns,
		     int *verdict)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	const char *req = "*2\r\n$3\r\nGET\r\n$4\r\nv016\r\n";
	uint8_t in[1600], out[1600];
	struct ps_flow snap;
	size_t len, outlen;
	struct env e;
	int v;

	if (setup(&e, mode, c))
		return -1;
	cache_put(&e, "v016", "xxxxxxxxxxxxxxxx");
	env_lease_grant(&e);
	len = cli_seg(&e, in, req, strlen(req), TF_PSH | TF_ACK);
	v = xdp_run(&e, in, len, out, &outlen);
	if (v != (mode == PS_MODE_OFF ? 2 : 3)) {
		env_close(&e);
		return wrong_verdict("tc_translate", config_names[c], "the GET before it",
				     vname(v), mode == PS_MODE_OFF ? "pass" : "tx");
	}
	len = srv_seg(&e, in, "+OK\r\n", 5, TF_PSH | TF_ACK);
	if (bpf_map_lookup_elem(e.flows, &k, &snap))
		return -1;
	for (int r = 0; r < runs; r++) {
		restore(&e, &snap);
		if (one_run(e.tc, in, len, &ns[r], verdict))
			return -1;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	if (c == CFG_DEPLOYED && sock_agreed(&e, "tc_translate"))
		return -1;
	env_close(&e);
	return 0;
}

static size_t build(struct env *e, const struct fixture *f, uint8_t *buf)
{
	if (f->dport == SRV_PORT && !f->proto)
		return cli_seg(e, buf, f->payload, strlen(f->payload), TF_PSH | TF_ACK);
	{
		struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
				      .dport = f->dport, .seq = e->cseq, .ack = e->sseq,
				      .flags = TF_PSH | TF_ACK, .window = 502,
				      .payload = f->payload, .payload_len = strlen(f->payload),
				      .proto = f->proto, .pad_to = 1200 };

		return pkt_build(buf, 1600, &s);
	}
}

/* a 16-byte hit, answered (tx) in every run, with `extra` empty loop
 * iterations added (BMC's dummy cache); 0 if it was not */
static uint32_t hit_median(uint32_t mode, enum config c, uint32_t extra, int runs,
			   uint32_t *ns)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	static char val[16] = "xxxxxxxxxxxxxxxx";
	const char *req = "*2\r\n$3\r\nGET\r\n$4\r\nv016\r\n";
	struct ps_cache_key ck;
	struct ps_cache_val cv;
	struct ps_config cfg;
	struct ps_flow snap;
	uint32_t zero = 0, med;
	uint8_t in[1600];
	struct env e;
	size_t len;
	int v = 0;

	if (setup(&e, mode, c))
		return 0;
	ps_cache_key_build(&ck, "v016", 4);
	ps_cache_val_build(&cv, val, 16, 1, PS_FILL_USER);
	ps_cache_put(e.cache, e.present, &ck, &cv);
	bpf_map_lookup_elem(e.cfg, &zero, &cfg);
	cfg.extra_work = extra;
	bpf_map_update_elem(e.cfg, &zero, &cfg, BPF_ANY);
	bpf_map_lookup_elem(e.flows, &k, &snap);
	len = cli_seg(&e, in, req, strlen(req), TF_PSH | TF_ACK);
	for (int r = 0; r < runs; r++) {
		restore(&e, &snap);
		if (one_run(e.xdp, in, len, &ns[r], &v))
			return 0;
		if (v != 3) {
			wrong_verdict(mode == PS_MODE_NAIVE ? "naive" : "guarded", config_names[c],
				      "get_hit", vname(v), "tx");
			return 0;
		}
	}
	if (c == CFG_DEPLOYED && sock_agreed(&e, "dummy get_hit"))
		return 0;
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	med = ns[runs / 2];
	env_close(&e);
	return med;
}

static int dummy_curve(int runs, uint32_t *ns)
{
	static const uint32_t extra[] = { 0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048 };
	struct utsname u;
	uint32_t base;

	uname(&u);
	printf("kernel,series,extra_iterations,ns_median,added_ns,mpps_per_core\n");
	/* the curve: a naive hit with fills only (no socket check, no
	 * lease), plus empty iterations */
	base = hit_median(PS_MODE_NAIVE, CFG_FILL_ONLY, 0, runs, ns);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint32_t m = hit_median(PS_MODE_NAIVE, CFG_FILL_ONLY, extra[i], runs, ns);

		if (!m)
			return 1;
		printf("%s,naive+dummy,%u,%u,%d,%.3f\n", u.release, extra[i], m,
		       (int)m - (int)base, 1000.0 / m);
	}
	/* where the guards sit on that curve: alone (fill-only), and as
	 * attach deploys them (the socket check on a real socket, the lease) */
	{
		uint32_t g = hit_median(PS_MODE_GUARDED, CFG_FILL_ONLY, 0, runs, ns);
		uint32_t gd = g ? hit_median(PS_MODE_GUARDED, CFG_DEPLOYED, 0, runs, ns) : 0;

		if (!g || !gd)
			return 1;
		printf("%s,guarded fill-only,0,%u,%d,%.3f\n", u.release, g, (int)g - (int)base,
		       1000.0 / g);
		printf("%s,guarded deployed,0,%u,%d,%.3f\n", u.release, gd, (int)gd - (int)base,
		       1000.0 / gd);
	}
	return 0;
}

static uint32_t median(uint32_t *ns, int runs)
{
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	return ns[runs / 2];
}

/* the TC ingress path, by value size, in the deployed configuration: XDP's
 * handoff and the build of each segment, medians of `runs` single runs
 * from the same state */
static int tc_reply_cost(int runs, uint32_t *ns)
{
	static const int sizes[] = { 1025, 1500, 4000, 8000, 16384 };
	static char val[PS_VAL_MAX];
	static struct ps_cache_big_val bv;
	struct utsname u;

	uname(&u);
	memset(val, 'x', sizeof(val));
	printf("kernel,config,value_size,reply_bytes,segments,xdp_handoff_ns,tc_build_ns,"
	       "tc_build_per_segment_ns,total_ns\n");
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
					 htons(SRV_PORT) };
		const char *req = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
		struct { struct ps_tcr_meta m; uint32_t seg; } t;
		struct tcr_harness_bpf *h;
		struct ps_cache_key ck;
		struct ps_flow snap;
		uint32_t zero = 0, xdp_ns, build = 0, nseg = 0;
		static uint8_t in[1600], out[4096];
		struct env e;
		size_t len;
		int v = 0;

		if (setup(&e, PS_MODE_GUARDED, CFG_DEPLOYED))
			return 1;
		ps_cache_key_build(&ck, "big", 3);
		ps_cache_big_val_build(&bv, val, (size_t)sizes[z], 1, PS_FILL_USER);
		ps_big_put(bpf_map__fd(e.skel->maps.ps_cache_big), &ck, &bv);
		bpf_map_lookup_elem(e.flows, &k, &snap);
		len = cli_seg(&e, in, req, strlen(req), TF_PSH | TF_ACK);
		for (int r = 0; r < runs; r++) {
			restore(&e, &snap);
			if (one_run(e.xdp, in, len, &ns[r], &v) || v != 2)
				return 1;
		}
		xdp_ns = median(ns, runs);
		/* one more run for its handoff (its ref is in ps_tcr_refs) */
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
				    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

			restore(&e, &snap);
			if (bpf_prog_test_run_opts(e.xdp, &o) || o.retval != 2)
				return 1;
			memcpy(&t.m, out, sizeof(t.m));
		}
		/* a pass that was a fallback hands nothing over: fail here */
		if (sock_agreed(&e, "tc-reply handoff") || stat_get(&e, PS_ST_FB_DIVERGED) ||
		    stat_get(&e, PS_ST_FB_LEASE)) {
			fprintf(stderr, "pktcost: tc-reply %d B: the GET was not handed over\n",
				sizes[z]);
			return 1;
		}
		h = tcr_harness_bpf__open();
		if (!h)
			return 1;
		if (env_share_maps(h->obj, &e.skel->obj, 1, "ps_tcr_work") ||
		    tcr_harness_bpf__load(h))
			return 1;
		for (t.seg = 0; t.seg < 64; t.seg++) {
			bpf_map_update_elem(bpf_map__fd(h->maps.tcr_test_in), &zero, &t, BPF_ANY);
			for (int r = 0; r < runs; r++)
				if (one_run(bpf_program__fd(h->progs.tcr_one), in, len, &ns[r], &v) ||
				    (v != 10 && v != 11))
					return 1;
			build += median(ns, runs);
			nseg++;
			if (v == 11)
				break;
		}
		printf("%s,deployed,%d,%u,%u,%u,%u,%u,%u\n", u.release, sizes[z], bv.reply_len,
		       nseg, xdp_ns, build, build / nseg, xdp_ns + build);
		fflush(stdout);
		tcr_harness_bpf__destroy(h);
		env_close(&e);
	}
	return 0;
}

/*
 * --cut: per-command answering (docs/pipelines.md, attach --cut) on the
 * client segment a pipelining client sends at depth 16 (pipeload -P 16
 * --ratio 10:1: 16-byte keys "key:%012u", 64-byte values), one reply owed
 * by Redis before it (the steady state at depth 16), and the server
 * segment that answers its Redis-bound commands, with the runs inserted
 * at TC egress. Each row next to the same segment under the deployed flags
 * without --cut. Every run starts from the same state: the flow, the
 * lease, and no run or armed fill left by the run before.
 */
#define CUT_KEYS 16
#define CUT_VAL  64

/* the segments, by their commands: G a cached GET, M a GET that misses,
 * S a SET (of a key no GET reads) */
static const struct cut_seg {
	const char *name;
	const char *cmds;
	int cut;         /* GETs cut with --cut */
} cut_segs[] = {
	{ "pipe16_14get", "GGGGGGGGGGGGGG", 14 },     /* one run: all cut */
	{ "pipe16_16get", "GGGGGGGGGGGGGGGG", 0 },    /* two runs behind an owed reply: ga_race */
	{ "pipe16_14get_2set", "GGGGGGGSGGGGGGGS", 14 },
	{ "pipe16_12get_2miss_2set", "GGGMGGGSGGGMGGGS", 12 },
};

static void cut_key(char *k, int i)
{
	snprintf(k, 17, "key:%012d", i);
}

static void cut_value(char *v, int i)
{
	for (int j = 0; j < CUT_VAL; j++)
		v[j] = (char)('a' + (i + j) % 26);
	v[CUT_VAL] = 0;
}

/* the segment's payload into buf; the replies Redis sends for what it
 * gets (the owed +OK first; with cut, the GET hits are not its) into rep */
static size_t cut_payload(const char *cmds, bool cut, char *buf, char *rep,
			  size_t *replen)
{
	size_t n = 0, r = 0;
	char k[32], v[CUT_VAL + 1];
	int g = 0, m = 100, s = 200;

	r += (size_t)sprintf(rep + r, "+OK\r\n");
	for (const char *c = cmds; *c; c++) {
		if (*c == 'S') {
			cut_key(k, s++);
			cut_value(v, 0);
			n += (size_t)sprintf(buf + n, "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n%s\r\n",
					     k, CUT_VAL, v);
			r += (size_t)sprintf(rep + r, "+OK\r\n");
		} else {
			int i = *c == 'G' ? g++ : m++;

			cut_key(k, i);
			n += (size_t)sprintf(buf + n, "*2\r\n$3\r\nGET\r\n$16\r\n%s\r\n", k);
			if (*c == 'M' || !cut) {
				cut_value(v, i);
				r += (size_t)sprintf(rep + r, "$%d\r\n%s\r\n", CUT_VAL, v);
			}
		}
	}
	*replen = r;
	return n;
}

static void map_clear(int fd, size_t ksz)
{
	uint8_t k[256], nk[256];

	if (ksz > sizeof(k))
		return;
	while (!bpf_map_get_next_key(fd, NULL, nk)) {
		memcpy(k, nk, ksz);
		if (bpf_map_delete_elem(fd, k))
			break;
	}
}

/* --cut-steps (build/prof/pktcost, `make prof`): the step clock of
 * xdp/prof.h, summed over every CPU, by step */
static const char *const prof_steps[PS_PROF_STEPS] = {
	[1] = "xdp: headers, flow lookup, clock",
	[2] = "xdp: request parse (rq_parse)",
	[3] = "xdp: guarded_veto (all-GET segments: lookups, replies assembled)",
	[4] = "xdp: cut_refusal, flow key",
	[10] = "xdp: cut_one entry (loop, call)",
	[11] = "xdp: cut_one key build + cache lookup",
	[12] = "xdp: cut_one run_store (ps_runs update)",
	[13] = "xdp: cut_one checks + reply copied into the run",
	[5] = "xdp: cut_plan's end",
	[6] = "xdp: cut_commit_runs (last run stored, published)",
	[7] = "xdp: cut_account (points)",
	[8] = "xdp: cut_gather (kept bytes, their sum)",
	[9] = "xdp: cut_finish (frame rewritten)",
	[14] = "xdp: guarded_misses (fills armed)",
	[15] = "xdp: guarded_writes",
	[16] = "xdp: the rest to the verdict",
	[20] = "tc: headers, flow lookup, translate",
	[21] = "tc: reply parse (tc_replies)",
	[22] = "tc: runs taken (ins_take_one)",
	[23] = "tc: ins_plan (kbuf, spans)",
	[24] = "tc: ins_record",
	[25] = "tc: ins_emit (pieces)",
	[26] = "tc: the rest to the verdict",
};
static bool prof_on;

static struct bpf_map *prof_map(struct env *e)
{
	return bpf_object__find_map_by_name(e->skel->obj, "ps_prof");
}

static void prof_reset(struct env *e)
{
	struct bpf_map *m = prof_map(e);
	int ncpu = libbpf_num_possible_cpus();
	size_t vs = m ? bpf_map__value_size(m) : 0;
	void *z = calloc((size_t)ncpu, vs);
	uint32_t zero = 0;

	if (m && z)
		bpf_map_update_elem(bpf_map__fd(m), &zero, z, BPF_ANY);
	free(z);
}

/* step rows for one path: mean ns per run, calls per run */
static void prof_print(struct env *e, const char *kernel, const char *path, int runs)
{
	struct bpf_map *m = prof_map(e);
	int ncpu = libbpf_num_possible_cpus();
	size_t vs = m ? bpf_map__value_size(m) : 0;
	uint64_t *v = calloc((size_t)ncpu, vs);
	uint32_t zero = 0;

	if (!m || !v || bpf_map_lookup_elem(bpf_map__fd(m), &zero, v)) {
		free(v);
		return;
	}
	for (int i = 0; i < PS_PROF_STEPS; i++) {
		uint64_t t = 0, n = 0;

		for (int c = 0; c < ncpu; c++) {
			const uint64_t *pc = (const uint64_t *)((const char *)v + (size_t)c * vs);

			t += pc[2 + i];
			n += pc[2 + PS_PROF_STEPS + i];
		}
		if (n)
			printf("%s,%s,%d,\"%s\",%.0f,%.2f\n", kernel, path, i,
			       prof_steps[i] ? prof_steps[i] : "?", (double)t / runs,
			       (double)n / runs);
	}
	fflush(stdout);
	free(v);
}

static int cut_row(const char *kernel, const struct cut_seg *cs, bool cut, int runs,
		   uint32_t *ns)
{
	static const struct ps_deploy with_cut = { .cut = true }, without;
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	static char pl[4096], rep[4096];
	static uint8_t in[4096], out[4096];
	static struct ps_run_key rkeys[64];
	static struct ps_run_val rvals[64];
	const char *cfgname = cut ? "deployed+cut" : "deployed";
	const char *set0 = "*3\r\n$3\r\nSET\r\n$4\r\nkkkk\r\n$1\r\nv\r\n";
	char key[32], val[CUT_VAL + 1], label[96];
	uint64_t cut0, cut1;
	struct ps_flow snap, snap2;
	size_t len, plen, rlen, olen;
	int runsfd, fqfd, nr = 0, v = 0;
	struct env e;

	if (setup(&e, PS_MODE_GUARDED, CFG_DEPLOYED))
		return -1;
	env_set_mode(&e, PS_MODE_GUARDED, ps_deploy_flags(cut ? &with_cut : &without));
	env_lease_grant(&e);
	runsfd = bpf_map__fd(e.skel->maps.ps_runs);
	fqfd = bpf_map__fd(e.skel->maps.ps_fillq);
	for (int i = 0; i < CUT_KEYS; i++) {
		cut_key(key, i);
		cut_value(val, i);
		cache_put(&e, key, val);
	}
	/* a reply owed: a SET handed to Redis, not answered yet */
	len = cli_seg(&e, in, set0, strlen(set0), TF_PSH | TF_ACK);
	if (xdp_run(&e, in, len, out, &olen) != 2)
		return wrong_verdict("guarded", cfgname, "owed SET", "?", "pass");
	e.cseq += (uint32_t)strlen(set0);
	e.kack += (uint32_t)strlen(set0);
	if (bpf_map_lookup_elem(e.flows, &k, &snap))
		return -1;
	plen = cut_payload(cs->cmds, cut && cs->cut, pl, rep, &rlen);
	len = cli_seg_cap(&e, in, sizeof(in), pl, plen, TF_PSH | TF_ACK);
	cut0 = stat_get(&e, PS_ST_CUT_GETS);
	prof_reset(&e);
	for (int r = 0; r < runs; r++) {
		restore(&e, &snap);
		map_clear(runsfd, sizeof(struct ps_run_key));
		map_clear(fqfd, bpf_map__key_size(e.skel->maps.ps_fillq));
		if (one_run(e.xdp, in, len, &ns[r], &v))
			return -1;
		if (v != 2 && v != 1)
			return wrong_verdict("guarded", cfgname, cs->name, vname(v), "pass");
	}
	cut1 = stat_get(&e, PS_ST_CUT_GETS);
	if (cut1 - cut0 != (uint64_t)runs * (uint64_t)(cut ? cs->cut : 0)) {
		fprintf(stderr, "pktcost: %s/%s: %llu GETs cut in %d runs, expected %d each\n",
			cfgname, cs->name, (unsigned long long)(cut1 - cut0), runs,
			cut ? cs->cut : 0);
		return -1;
	}
	if (sock_agreed(&e, cs->name))
		return -1;
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	if (prof_on) {
		snprintf(label, sizeof(label), "%s/xdp_%s", cut ? "cut" : "nocut", cs->name);
		printf("%s,%s,-1,\"median of the run (ns)\",%u,1\n", kernel, label,
		       ns[runs / 2]);
		prof_print(&e, kernel, label, runs);
	} else {
		printf("%s,guarded,%s,xdp_%s,%d,%s,%d,%u,%u,%u\n", kernel, cfgname, cs->name,
		       CUT_VAL, vname(v), runs, ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
	}
	fflush(stdout);

	/* TC egress: Redis's replies to what it got, the runs inserted; the
	 * flow and the runs as the last XDP run left them */
	if (bpf_map_lookup_elem(e.flows, &k, &snap2))
		return -1;
	{
		struct ps_run_key rk, *prev = NULL;

		while (nr < 64 && !bpf_map_get_next_key(runsfd, prev, &rk)) {
			rkeys[nr] = rk;
			if (bpf_map_lookup_elem(runsfd, &rk, &rvals[nr]))
				return -1;
			prev = &rkeys[nr++];
		}
	}
	if (!cut || cs->cut) {
		uint64_t t0 = stat_get(&e, PS_ST_RUNS_TAKEN);

		prof_reset(&e);
		len = srv_seg_at(&e, in, sizeof(in), e.kseq, rep, rlen, TF_PSH | TF_ACK);
		for (int r = 0; r < runs; r++) {
			restore(&e, &snap2);
			for (int j = 0; j < nr; j++)
				bpf_map_update_elem(runsfd, &rkeys[j], &rvals[j], BPF_ANY);
			if (one_run(e.tc, in, len, &ns[r], &v))
				return -1;
			if (v != 0)
				return wrong_verdict("guarded", cfgname, cs->name, tcname(v), "ok");
		}
		if (stat_get(&e, PS_ST_RUNS_TAKEN) - t0 != (uint64_t)runs * (uint64_t)nr) {
			fprintf(stderr, "pktcost: %s/tc_%s: %llu runs taken in %d runs, "
				"expected %d each\n", cfgname, cs->name,
				(unsigned long long)(stat_get(&e, PS_ST_RUNS_TAKEN) - t0), runs, nr);
			return -1;
		}
		if (sock_agreed(&e, cs->name))
			return -1;
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
		if (prof_on) {
			snprintf(label, sizeof(label), "%s/tc_%s", cut ? "cut" : "nocut",
				 cs->name);
			printf("%s,%s,-1,\"median of the run (ns)\",%u,1\n", kernel, label,
			       ns[runs / 2]);
			prof_print(&e, kernel, label, runs);
		} else {
			printf("%s,guarded,%s,tc_%s,%d,%s,%d,%u,%u,%u\n", kernel, cfgname,
			       cs->name, CUT_VAL, tcname(v), runs, ns[runs / 2], ns[runs / 10],
			       ns[runs * 9 / 10]);
		}
		fflush(stdout);
	}
	env_close(&e);
	return 0;
}

/* is this build's object the one with the step clock? */
static bool prof_map_present(void)
{
	struct prestack_bpf *o = prestack_bpf__open();
	bool yes = o && bpf_object__find_map_by_name(o->obj, "ps_prof");

	prestack_bpf__destroy(o);
	return yes;
}

static int cut_cost(int runs, uint32_t *ns)
{
	struct utsname u;

	uname(&u);
	if (prof_on && !prof_map_present()) {
		fprintf(stderr, "pktcost: --cut-steps needs the step clock: make prof, "
			"build/prof/pktcost\n");
		return 1;
	}
	if (prof_on)
		printf("kernel,path,step,what,ns_per_run,calls_per_run\n");
	else
		printf("kernel,mode,config,path,value_size,verdict,runs,ns_median,ns_p10,"
		       "ns_p90\n");
	for (size_t i = 0; i < sizeof(cut_segs) / sizeof(cut_segs[0]); i++)
		for (int c = 1; c >= 0; c--)
			if (cut_row(u.release, &cut_segs[i], c, runs, ns))
				return 1;
	return 0;
}

/* one row: fx in mode (named mname) and config c, printed if every run's
 * verdict is the one the path must give; -1 otherwise */
static int path_row(const char *kernel, uint32_t mode, const char *mname, enum config c,
		    const struct fixture *fx, int runs, uint32_t *ns)
{
	static char vals[4][1100];
	static const int sizes[] = { 16, 64, 256, 1024 };
	const char *keys[] = { "v016", "v064", "v256", "v1k_" };
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	/* hits are answered in every mode but off; the rest passed */
	const char *want = fx->value_size && mode != PS_MODE_OFF ? "tx" : "pass";
	bool is_set = !strcmp(fx->path, "set");
	struct ps_cache_key ck[4];
	struct ps_cache_val cv[4];
	struct ps_flow snap;
	uint8_t in[1600];
	struct env e;
	size_t len;
	int v = 0;

	if (setup(&e, mode, c))
		return -1;
	for (int i = 0; i < 4; i++) {
		memset(vals[i], 'x', (size_t)sizes[i]);
		ps_cache_key_build(&ck[i], keys[i], 4);
		ps_cache_val_build(&cv[i], vals[i], (size_t)sizes[i], 1, PS_FILL_USER);
		ps_cache_put(e.cache, e.present, &ck[i], &cv[i]);
	}
	if (bpf_map_lookup_elem(e.flows, &k, &snap))
		return -1;
	len = build(&e, fx, in);
	for (int r = 0; r < runs; r++) {
		/* the same starting state for every run: the flow, the lease,
		 * and the key a SET invalidates */
		restore(&e, &snap);
		if (is_set)
			ps_cache_put(e.cache, e.present, &ck[0], &cv[0]);
		if (one_run(e.xdp, in, len, &ns[r], &v))
			return -1;
		if (strcmp(vname(v), want))
			return wrong_verdict(mname, config_names[c], fx->path, vname(v), want);
	}
	if (c == CFG_DEPLOYED && sock_agreed(&e, fx->path))
		return -1;
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
	printf("%s,%s,%s,%s,%d,%s,%d,%u,%u,%u\n", kernel, mname, config_names[c], fx->path,
	       fx->value_size, vname(v), runs, ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
	fflush(stdout);
	env_close(&e);
	return 0;
}

int main(int argc, char **argv)
{
	/* every mode as attach deploys it, then the ablation */
	static const struct { const char *name; uint32_t mode; enum config c; } rows[] = {
		{ "off", PS_MODE_OFF, CFG_DEPLOYED },
		{ "naive", PS_MODE_NAIVE, CFG_DEPLOYED },
		{ "guarded", PS_MODE_GUARDED, CFG_DEPLOYED },
		{ "retrans", PS_MODE_RETRANS, CFG_DEPLOYED },
		{ "guarded", PS_MODE_GUARDED, CFG_FILL_ONLY },
		{ "retrans", PS_MODE_RETRANS, CFG_FILL_ONLY },
	};
	static const struct fixture fx[] = {
		{ "get_hit", 16, "*2\r\n$3\r\nGET\r\n$4\r\nv016\r\n", SRV_PORT, 0 },
		{ "get_hit", 64, "*2\r\n$3\r\nGET\r\n$4\r\nv064\r\n", SRV_PORT, 0 },
		{ "get_hit", 256, "*2\r\n$3\r\nGET\r\n$4\r\nv256\r\n", SRV_PORT, 0 },
		{ "get_hit", 1024, "*2\r\n$3\r\nGET\r\n$4\r\nv1k_\r\n", SRV_PORT, 0 },
		{ "get_miss", 0, "*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", SRV_PORT, 0 },
		{ "set", 0, "*3\r\n$3\r\nSET\r\n$4\r\nv016\r\n$3\r\nnew\r\n", SRV_PORT, 0 },
		{ "other_tcp", 0, "GET / HTTP/1.0\r\n\r\n", 80, 0 },
		{ "udp", 0, "datagram", SRV_PORT, 17 },
	};
	int runs = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 20000;
	struct reflector_bpf *refl;
	struct utsname u;
	uint32_t *ns = calloc((size_t)runs, sizeof(*ns));
	uint8_t in[1600];
	int ret = 1;

	if (!ns)
		return 1;
	/* before anything is loaded: the real connection, in a namespace of
	 * our own that goes away with us */
	if (realsock_open(&rs)) {
		fprintf(stderr, "pktcost: no real connection for the fixture's 4-tuple\n");
		free(ns);
		return 1;
	}
	if (argc > 2 && !strcmp(argv[2], "--dummy")) {
		ret = dummy_curve(runs, ns);
		goto out;
	}
	if (argc > 2 && !strcmp(argv[2], "--cut-steps")) {
		prof_on = true;
		ret = cut_cost(runs, ns);
		goto out;
	}
	if (argc > 2 && !strcmp(argv[2], "--cut")) {
		ret = cut_cost(runs, ns);
		goto out;
	}
	if (argc > 2 && !strcmp(argv[2], "--tc-reply")) {
		ret = tc_reply_cost(runs, ns);
		goto out;
	}
	uname(&u);
	printf("kernel,mode,config,path,value_size,verdict,runs,ns_median,ns_p10,ns_p90\n");

	/* the floor: a reflector on the hit frame */
	refl = reflector_bpf__open_and_load();
	if (!refl) {
		fprintf(stderr, "pktcost: cannot load the reflector\n");
		goto out;
	}
	{
		struct env e = { .ts = true, .cseq = CISN + 1, .sseq = SISN + 1, .tsval = 200 };
		size_t len = build(&e, &fx[0], in);
		int v = 0;

		for (int r = 0; r < runs; r++)
			if (one_run(bpf_program__fd(refl->progs.xdp_reflect), in, len, &ns[r], &v))
				goto out;
		if (v != 3) {
			wrong_verdict("reflector", "floor", "reflect", vname(v), "tx");
			goto out;
		}
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
		printf("%s,reflector,floor,reflect,0,%s,%d,%u,%u,%u\n", u.release, vname(v), runs,
		       ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
	}
	/* the TC floor: a header walk at TC on a server segment */
	{
		struct env e = { .ts = true, .cseq = CISN + 1, .sseq = SISN + 1,
				 .kseq = SISN + 1, .kack = CISN + 1, .tsval = 200 };
		size_t len = srv_seg(&e, in, "+OK\r\n", 5, TF_PSH | TF_ACK);
		int v = 0;

		for (int r = 0; r < runs; r++)
			if (one_run(bpf_program__fd(refl->progs.tc_floor), in, len, &ns[r], &v))
				goto out;
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
		printf("%s,reflector,floor,tc_floor,0,%s,%d,%u,%u,%u\n", u.release, tcname(v), runs,
		       ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
	}
	reflector_bpf__destroy(refl);

	for (size_t m = 0; m < sizeof(rows) / sizeof(rows[0]); m++) {
		int v = 0;

		for (size_t f = 0; f < sizeof(fx) / sizeof(fx[0]); f++)
			if (path_row(u.release, rows[m].mode, rows[m].name, rows[m].c, &fx[f], runs,
				     ns))
				goto out;
		if (tc_median(rows[m].mode, rows[m].c, runs, ns, &v)) {
			fprintf(stderr, "pktcost: TC setup failed\n");
			goto out;
		}
		if (v != 0) {
			wrong_verdict(rows[m].name, config_names[rows[m].c], "tc_translate",
				      tcname(v), "ok");
			goto out;
		}
		printf("%s,%s,%s,tc_translate,0,%s,%d,%u,%u,%u\n", u.release, rows[m].name,
		       config_names[rows[m].c], tcname(v), runs, ns[runs / 2], ns[runs / 10],
		       ns[runs * 9 / 10]);
	}
	ret = 0;
out:
	realsock_close(&rs);
	free(ns);
	return ret;
}
