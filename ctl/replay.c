// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - offline replay: the BPF programs loaded but not attached, each
 * frame of a pcap pushed through BPF_PROG_TEST_RUN in capture order (client
 * -> server frames to ps_xdp, server -> client frames to ps_tc), the maps
 * carrying state from one frame to the next. Writes what the programs
 * emitted, with the input timestamps, and one CSV row per frame.
 * Deterministic: the programs' clock is the capture's (ps_config.clock_ms).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"
#include "cachefmt.h"
#include "loader.h"
#include "pcapio.h"

#define XDP_ABORTED_ 0
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3

static const char *stat_names[] = PS_STAT_NAMES;

struct replay {
	struct prestack_bpf *skel;
	int xdp, tc, cfg, flows, cache, stats;
	__u16 port;
	int ncpu;
	__u64 prev[PS_ST__MAX];
};

static void replay_usage(FILE *f)
{
	fprintf(f,
		"usage: prestack replay IN.pcap [--mode M] [-o OUT.pcap] [--csv FILE]\n"
		"                       [--port 6379] [--cache KEY=VALUE]... [--cache-file F]\n"
		"\n"
		"Push every frame of IN.pcap through the BPF programs without attaching\n"
		"them: TCP to --port goes to ps_xdp, TCP from it to ps_tc, anything else\n"
		"to ps_xdp. The maps keep state across frames. OUT.pcap gets what the\n"
		"programs emitted (XDP_TX replies, passed and translated frames; drops\n"
		"leave nothing), --csv one row per input frame. --cache preloads the\n"
		"cache (--cache-file: one KEY=VALUE per line). The programs' clock is\n"
		"the capture's, so the same input gives the same bytes.\n"
		"\n"
		"  --mode M   off | naive | guarded | retrans (default guarded)\n");
}

static int load_cache_line(struct replay *r, const char *kv)
{
	const char *eq = strchr(kv, '=');
	struct ps_cache_key k;
	struct ps_cache_val v;

	if (!eq || eq == kv ||
	    ps_cache_key_build(&k, kv, (size_t)(eq - kv)) ||
	    ps_cache_val_build(&v, eq + 1, strlen(eq + 1), 1, PS_FILL_USER)) {
		fprintf(stderr, "prestack replay: bad cache entry '%s' (KEY=VALUE, key 1..%d, value ..%d bytes)\n",
			kv, PS_KEY_MAX, PS_VAL_MAX);
		return -1;
	}
	return bpf_map_update_elem(r->cache, &k, &v, BPF_ANY);
}

static int load_cache_file(struct replay *r, const char *path)
{
	char line[PS_KEY_MAX + PS_VAL_MAX + 8];
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f) {
		fprintf(stderr, "prestack replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!*line || *line == '#')
			continue;
		if (load_cache_line(r, line)) {
			ret = -1;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void read_stats(struct replay *r, __u64 *out)
{
	__u64 *v = calloc((size_t)r->ncpu, sizeof(*v));

	for (__u32 k = 0; k < PS_ST__MAX; k++) {
		out[k] = 0;
		if (v && !bpf_map_lookup_elem(r->stats, &k, v))
			for (int i = 0; i < r->ncpu; i++)
				out[k] += v[i];
	}
	free(v);
}

/* seq/ack and the flow key of an Ethernet/IPv4/TCP frame; 0 if not one */
static int tcp_info(const __u8 *f, size_t len, __u32 *seq, __u32 *ack,
		    __u32 *plen, struct ps_flow_key *k, __u16 port)
{
	size_t ihl, doff, tot;
	__u16 sp, dp;

	if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4 ||
	    f[23] != 6)
		return 0;
	ihl = (size_t)(f[14] & 15) * 4;
	tot = (size_t)f[16] << 8 | f[17];
	if (14 + ihl + 20 > len || ihl < 20)
		return 0;
	doff = (size_t)(f[14 + ihl + 12] >> 4) * 4;
	memcpy(&sp, f + 14 + ihl, 2);
	memcpy(&dp, f + 14 + ihl + 2, 2);
	memcpy(seq, f + 14 + ihl + 4, 4);
	memcpy(ack, f + 14 + ihl + 8, 4);
	*seq = ntohl(*seq);
	*ack = ntohl(*ack);
	*plen = tot >= ihl + doff ? (__u32)(tot - ihl - doff) : 0;
	if (ntohs(dp) == port) {
		memcpy(&k->cli_addr, f + 26, 4);
		memcpy(&k->srv_addr, f + 30, 4);
		k->cli_port = sp;
		k->srv_port = dp;
		return 1;
	}
	if (ntohs(sp) == port) {
		memcpy(&k->cli_addr, f + 30, 4);
		memcpy(&k->srv_addr, f + 26, 4);
		k->cli_port = dp;
		k->srv_port = sp;
		return 2;
	}
	return 0;
}

static const char *verdict_name(int dir, int v)
{
	if (dir == 2)
		return v == 0 ? "ok" : v == 2 ? "shot" : "tc?";
	switch (v) {
	case XDP_DROP_: return "drop";
	case XDP_PASS_: return "pass";
	case XDP_TX_: return "tx";
	case XDP_ABORTED_: return "aborted";
	default: return "xdp?";
	}
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "csv", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "cache", required_argument, NULL, 'k' },
		{ "cache-file", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *in = NULL, *outp = NULL, *csvp = NULL, *cache_file = NULL;
	char **cache_kv;
	int c, mode = PS_MODE_GUARDED, ncache = 0, ret = 1;
	struct pio *pin = NULL, *dump = NULL;
	struct pio_pkt pk;
	struct replay r = {};
	FILE *csv = NULL;
	__u32 port = 6379, zero = 0;
	long idx = 0;

	cache_kv = calloc((size_t)argc, sizeof(*cache_kv));
	if (!cache_kv)
		return 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "m:o:c:p:k:K:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode = ps_mode_parse(optarg);
			if (mode < 0) {
				fprintf(stderr, "prestack replay: bad --mode '%s'\n", optarg);
				goto usage;
			}
			break;
		case 'o': outp = optarg; break;
		case 'c': csvp = optarg; break;
		case 'p':
			if (ps_parse_u32(optarg, 1, 65535, &port)) {
				fprintf(stderr, "prestack replay: bad --port '%s'\n", optarg);
				goto usage;
			}
			break;
		case 'k': cache_kv[ncache++] = optarg; break;
		case 'K': cache_file = optarg; break;
		case 'h': replay_usage(stdout); free(cache_kv); return 0;
		default: goto usage;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "prestack replay: give exactly one input pcap\n");
		goto usage;
	}
	in = argv[optind];

	pin = pio_open_read(in);
	if (!pin)
		goto out;
	if (ps_loader_open(&r.skel, ps_verbose))
		goto out;
	r.xdp = bpf_program__fd(r.skel->progs.ps_xdp);
	r.tc = bpf_program__fd(r.skel->progs.ps_tc);
	r.cfg = bpf_map__fd(r.skel->maps.ps_config);
	r.flows = bpf_map__fd(r.skel->maps.ps_flows);
	r.cache = bpf_map__fd(r.skel->maps.ps_cache);
	r.stats = bpf_map__fd(r.skel->maps.ps_stats);
	r.port = (__u16)port;
	r.ncpu = libbpf_num_possible_cpus();
	/* no socket exists offline: no tcp_sock checks */
	if (ps_config_write(r.cfg, (__u32)mode, PS_CFG_FILL, r.port, 1))
		goto out;
	for (int i = 0; i < ncache; i++)
		if (load_cache_line(&r, cache_kv[i]))
			goto out;
	if (cache_file && load_cache_file(&r, cache_file))
		goto out;
	if (outp && !(dump = pio_open_write(outp)))
		goto out;
	if (csvp) {
		csv = fopen(csvp, "w");
		if (!csv) {
			fprintf(stderr, "prestack replay: %s: %s\n", csvp, strerror(errno));
			goto out;
		}
		fprintf(csv, "index,time,dir,verdict,len_in,len_out,seq_in,ack_in,seq_out,ack_out,"
			     "payload_len,cli_nxt,consumed,srv_nxt,srv_una,injected,pending,"
			     "flow_flags,counters\n");
	}
	read_stats(&r, r.prev);

	while ((c = pio_next(pin, &pk)) == 1) {
		__u8 outbuf[4096];
		__u32 seq = 0, ack = 0, plen = 0, oseq = 0, oack = 0, oplen = 0;
		struct ps_flow_key k = {}, k2;
		struct ps_config cfg;
		struct ps_flow f = {};
		__u64 cur[PS_ST__MAX];
		int dir, v, have_flow;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk.data,
			    .data_size_in = pk.caplen, .data_out = outbuf,
			    .data_size_out = sizeof(outbuf), .repeat = 1);

		idx++;
		dir = tcp_info(pk.data, pk.caplen, &seq, &ack, &plen, &k, r.port);
		/* the capture's clock, in ms, is the programs' clock */
		bpf_map_lookup_elem(r.cfg, &zero, &cfg);
		cfg.clock_ms = (__u32)((__u64)pk.sec * 1000 + (__u64)pk.usec / 1000);
		if (!cfg.clock_ms)
			cfg.clock_ms = 1;
		bpf_map_update_elem(r.cfg, &zero, &cfg, BPF_ANY);
		if (bpf_prog_test_run_opts(dir == 2 ? r.tc : r.xdp, &o)) {
			fprintf(stderr, "prestack replay: frame %ld: test run failed: %s\n",
				idx, strerror(errno));
			goto out;
		}
		v = (int)o.retval;
		if (dump && ((dir == 2 && v == 0) || (dir != 2 && (v == XDP_PASS_ || v == XDP_TX_))))
			pio_write(dump, outbuf, o.data_size_out, pk.sec, pk.usec);
		tcp_info(outbuf, o.data_size_out, &oseq, &oack, &oplen, &k2, r.port);
		have_flow = dir && !bpf_map_lookup_elem(r.flows, &k, &f);
		read_stats(&r, cur);
		if (csv) {
			fprintf(csv, "%ld,%ld.%06ld,%s,%s,%u,%u,", idx, pk.sec, pk.usec,
				dir == 1 ? "c2s" : dir == 2 ? "s2c" : "other",
				verdict_name(dir == 2 ? 2 : 1, v), pk.caplen, o.data_size_out);
			if (dir)
				fprintf(csv, "%u,%u,%u,%u,%u,", seq, ack, oseq, oack, plen);
			else
				fprintf(csv, ",,,,,");
			if (have_flow)
				fprintf(csv, "%u,%u,%u,%u,%u,%u,0x%x,", f.cli_nxt, f.consumed,
					f.ksnd_nxt + f.injected, f.srv_una, f.injected,
					f.pending, f.flags);
			else
				fprintf(csv, ",,,,,,,");
			for (int s = 0, first = 1; s < PS_ST__MAX; s++) {
				if (cur[s] == r.prev[s] || s == PS_ST_PKTS || s == PS_ST_TC_PKTS)
					continue;
				fprintf(csv, "%s%s=+%llu", first ? "" : ";", stat_names[s],
					(unsigned long long)(cur[s] - r.prev[s]));
				first = 0;
			}
			fputc('\n', csv);
		}
		memcpy(r.prev, cur, sizeof(cur));
	}
	if (c < 0)
		goto out;
	ret = 0;
	goto out;
usage:
	replay_usage(stderr);
	free(cache_kv);
	return EXIT_USAGE;
out:
	if (csv)
		fclose(csv);
	pio_close(dump);
	pio_close(pin);
	prestack_bpf__destroy(r.skel);
	free(cache_kv);
	return ret;
}
