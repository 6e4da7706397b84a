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
 * usage: pktcost [RUNS]            every path, every mode
 *        pktcost [RUNS] --dummy    the dummy-cache curve: a naive 16-byte hit
 *                                  with N empty bpf_loop iterations added
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "env.h"
#include "prestack.skel.h"
#include "reflector.skel.h"

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

/*
 * TC egress on a server segment carrying a reply, in a flow where an
 * answered GET moved the two sequence spaces apart (so every mode that
 * translates has something to translate). The same flow state each run.
 */
static int tc_median(uint32_t mode, uint32_t flags, int runs, uint32_t *ns,
		     int *verdict)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	const char *req = "*2\r\n$3\r\nGET\r\n$4\r\nv016\r\n";
	uint8_t in[1600], out[1600];
	struct ps_flow snap;
	size_t len, outlen;
	struct env e;

	if (env_open(&e, PS_MODE_GUARDED, PS_CFG_FILL) || handshake(&e, true))
		return -1;
	cache_put(&e, "v016", "xxxxxxxxxxxxxxxx");
	env_set_mode(&e, mode, flags);
	len = cli_seg(&e, in, req, strlen(req), TF_PSH | TF_ACK);
	xdp_run(&e, in, len, out, &outlen);
	len = srv_seg(&e, in, "+OK\r\n", 5, TF_PSH | TF_ACK);
	if (bpf_map_lookup_elem(e.flows, &k, &snap))
		return -1;
	for (int r = 0; r < runs; r++) {
		bpf_map_update_elem(e.flows, &k, &snap, BPF_ANY);
		if (one_run(e.tc, in, len, &ns[r], verdict))
			return -1;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
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

static uint32_t hit_median(uint32_t mode, uint32_t flags, uint32_t extra, int runs,
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

	if (env_open(&e, PS_MODE_GUARDED, PS_CFG_FILL) || handshake(&e, true))
		return 0;
	ps_cache_key_build(&ck, "v016", 4);
	ps_cache_val_build(&cv, val, 16, 1, PS_FILL_USER);
	bpf_map_update_elem(e.cache, &ck, &cv, BPF_ANY);
	env_set_mode(&e, mode, flags);
	bpf_map_lookup_elem(e.cfg, &zero, &cfg);
	cfg.extra_work = extra;
	bpf_map_update_elem(e.cfg, &zero, &cfg, BPF_ANY);
	bpf_map_lookup_elem(e.flows, &k, &snap);
	len = cli_seg(&e, in, req, strlen(req), TF_PSH | TF_ACK);
	for (int r = 0; r < runs; r++) {
		bpf_map_update_elem(e.flows, &k, &snap, BPF_ANY);
		if (one_run(e.xdp, in, len, &ns[r], &v) || v != 3)
			return 0;
	}
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
	base = hit_median(PS_MODE_NAIVE, PS_CFG_FILL, 0, runs, ns);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint32_t m = hit_median(PS_MODE_NAIVE, PS_CFG_FILL, extra[i], runs, ns);

		if (!m)
			return 1;
		printf("%s,naive+dummy,%u,%u,%d,%.3f\n", u.release, extra[i], m,
		       (int)m - (int)base, 1000.0 / m);
	}
	/* where the real guards sit on that curve */
	{
		uint32_t g = hit_median(PS_MODE_GUARDED, PS_CFG_FILL, 0, runs, ns);
		uint32_t gs = hit_median(PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_CHECK_SOCK, 0, runs, ns);

		printf("%s,guarded,0,%u,%d,%.3f\n", u.release, g, (int)g - (int)base, 1000.0 / g);
		printf("%s,guarded+sock,0,%u,%d,%.3f\n", u.release, gs, (int)gs - (int)base,
		       1000.0 / gs);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *modes[] = { "off", "naive", "guarded", "guarded+sock", "retrans" };
	static char vals[4][1100];
	static const int sizes[] = { 16, 64, 256, 1024 };
	struct fixture fx[] = {
		{ "get_hit", 16, "*2\r\n$3\r\nGET\r\n$4\r\nv016\r\n", SRV_PORT, 0 },
		{ "get_hit", 64, "*2\r\n$3\r\nGET\r\n$4\r\nv064\r\n", SRV_PORT, 0 },
		{ "get_hit", 256, "*2\r\n$3\r\nGET\r\n$4\r\nv256\r\n", SRV_PORT, 0 },
		{ "get_hit", 1024, "*2\r\n$3\r\nGET\r\n$4\r\nv1k_\r\n", SRV_PORT, 0 },
		{ "get_miss", 0, "*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", SRV_PORT, 0 },
		{ "set", 0, "*3\r\n$3\r\nSET\r\n$4\r\nv016\r\n$3\r\nnew\r\n", SRV_PORT, 0 },
		{ "other_tcp", 0, "GET / HTTP/1.0\r\n\r\n", 80, 0 },
		{ "udp", 0, "datagram", SRV_PORT, 17 },
	};
	const char *keys[] = { "v016", "v064", "v256", "v1k_" };
	int runs = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 20000;
	struct reflector_bpf *refl;
	struct utsname u;
	uint32_t *ns = calloc((size_t)runs, sizeof(*ns));
	uint8_t in[1600];

	if (!ns)
		return 1;
	if (argc > 2 && !strcmp(argv[2], "--dummy"))
		return dummy_curve(runs, ns);
	uname(&u);
	for (int i = 0; i < 4; i++)
		memset(vals[i], 'x', (size_t)sizes[i]);
	printf("kernel,mode,path,value_size,verdict,runs,ns_median,ns_p10,ns_p90\n");

	/* the floor: a reflector on the hit frame */
	refl = reflector_bpf__open_and_load();
	if (!refl) {
		fprintf(stderr, "pktcost: cannot load the reflector\n");
		return 1;
	}
	{
		struct env e = { .ts = true, .cseq = CISN + 1, .sseq = SISN + 1, .tsval = 200 };
		size_t len = build(&e, &fx[0], in);
		int v = 0;

		for (int r = 0; r < runs; r++)
			if (one_run(bpf_program__fd(refl->progs.xdp_reflect), in, len, &ns[r], &v))
				return 1;
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
		printf("%s,reflector,reflect,0,%s,%d,%u,%u,%u\n", u.release, vname(v), runs,
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
				return 1;
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
		printf("%s,reflector,tc_floor,0,%s,%d,%u,%u,%u\n", u.release, tcname(v), runs,
		       ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
	}
	reflector_bpf__destroy(refl);

	for (int m = 0; m < 5; m++) {
		uint32_t mode = m == 0 ? PS_MODE_OFF : m == 1 ? PS_MODE_NAIVE :
				m == 4 ? PS_MODE_RETRANS : PS_MODE_GUARDED;
		uint32_t flags = PS_CFG_FILL | (m == 3 ? PS_CFG_CHECK_SOCK : 0);

		for (size_t f = 0; f < sizeof(fx) / sizeof(fx[0]); f++) {
			struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
						 htons(SRV_PORT) };
			struct ps_cache_key ck[4];
			struct ps_cache_val cv[4];
			struct ps_flow snap;
			struct env e;
			size_t len;
			int v = 0;

			if (env_open(&e, PS_MODE_GUARDED, PS_CFG_FILL) || handshake(&e, true)) {
				fprintf(stderr, "pktcost: setup failed\n");
				return 1;
			}
			for (int i = 0; i < 4; i++) {
				ps_cache_key_build(&ck[i], keys[i], 4);
				ps_cache_val_build(&cv[i], vals[i], (size_t)sizes[i], 1, PS_FILL_USER);
				bpf_map_update_elem(e.cache, &ck[i], &cv[i], BPF_ANY);
			}
			env_set_mode(&e, mode, flags);
			if (bpf_map_lookup_elem(e.flows, &k, &snap))
				return 1;
			len = build(&e, &fx[f], in);
			for (int r = 0; r < runs; r++) {
				/* the same starting state for every run */
				bpf_map_update_elem(e.flows, &k, &snap, BPF_ANY);
				if (f == 5)
					bpf_map_update_elem(e.cache, &ck[0], &cv[0], BPF_ANY);
				if (one_run(e.xdp, in, len, &ns[r], &v))
					return 1;
			}
			qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
			printf("%s,%s,%s,%d,%s,%d,%u,%u,%u\n", u.release, modes[m], fx[f].path,
			       fx[f].value_size, vname(v), runs, ns[runs / 2], ns[runs / 10],
			       ns[runs * 9 / 10]);
			fflush(stdout);
			env_close(&e);
		}
		{
			int v = 0;

			if (tc_median(mode, flags, runs, ns, &v)) {
				fprintf(stderr, "pktcost: TC setup failed\n");
				return 1;
			}
			printf("%s,%s,tc_translate,0,%s,%d,%u,%u,%u\n", u.release, modes[m],
			       tcname(v), runs, ns[runs / 2], ns[runs / 10], ns[runs * 9 / 10]);
		}
	}
	free(ns);
	return 0;
}
