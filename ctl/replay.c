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
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cachefmt.h"
#include "loader.h"
#include "opts.h"
#include "pcapio.h"

#define XDP_ABORTED_ 0
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3
#define XDP_REDIRECT_ 4
#define TC_ACT_REDIRECT_ 7

struct replay {
	struct prestack_bpf *skel;
	int xdp, tc, cfg, flows, cache, present, stats;
	__u16 port;
	__u64 prev[PS_ST__MAX];
};

static int load_cache_line(struct replay *r, const char *kv)
{
	const char *eq = strchr(kv, '=');
	struct ps_cache_key k;
	struct ps_cache_val v;

	if (!eq || eq == kv ||
	    ps_cache_key_build(&k, kv, (size_t)(eq - kv)) ||
	    ps_cache_val_build(&v, eq + 1, strlen(eq + 1), 1, PS_FILL_USER)) {
		ps_err("bad cache entry '%s' (KEY=VALUE, key 1..%d, value ..%d bytes)",
		       kv, PS_KEY_MAX, PS_SMALL_VAL_MAX);
		return -1;
	}
	if (ps_cache_put(r->cache, r->present, &k, &v)) {
		ps_err("cannot preload '%s': %s", kv, strerror(errno));
		return -1;
	}
	return 0;
}

static int load_cache_file(struct replay *r, const char *path)
{
	char line[PS_KEY_MAX + PS_VAL_MAX + 8];
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f) {
		ps_err("%s: %s", path, strerror(errno));
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
	if (ferror(f)) {
		ps_err("%s: %s", path, strerror(errno));
		ret = -1;
	}
	fclose(f);
	return ret;
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

/* The SACK blocks of an Ethernet/IPv4/TCP frame as "left-right;..."
 * (empty without any). */
static void sack_str(const __u8 *f, size_t len, char *buf, size_t cap)
{
	size_t ihl, doff, o, end, w = 0;

	buf[0] = 0;
	if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6)
		return;
	ihl = (size_t)(f[14] & 15) * 4;
	if (14 + ihl + 20 > len)
		return;
	doff = (size_t)(f[14 + ihl + 12] >> 4) * 4;
	o = 14 + ihl + 20;
	end = 14 + ihl + doff;
	if (end > len)
		return;
	while (o < end && f[o] != 0) {
		if (f[o] == 1) {
			o++;
			continue;
		}
		if (o + 1 >= end || f[o + 1] < 2 || o + f[o + 1] > end)
			return;
		if (f[o] == 5)
			for (size_t b = o + 2; b + 8 <= o + f[o + 1] && w < cap; b += 8) {
				__u32 l, r;

				memcpy(&l, f + b, 4);
				memcpy(&r, f + b + 4, 4);
				w += (size_t)snprintf(buf + w, cap - w, "%s%u-%u", w ? ";" : "",
						      ntohl(l), ntohl(r));
			}
		o += f[o + 1];
	}
}

static const char *verdict_name(int dir, int v)
{
	if (dir == 2)
		return v == 0 ? "ok" : v == 2 ? "shot" : v == TC_ACT_REDIRECT_ ? "redirect" : "tc?";
	switch (v) {
	case XDP_DROP_: return "drop";
	case XDP_PASS_: return "pass";
	case XDP_TX_: return "tx";
	case XDP_ABORTED_: return "aborted";
	default: return "xdp?";
	}
}

struct replay_opts {
	int mode;
	const char *out, *csv, *cache_file;
	__u32 port;
	struct ps_strs cache;
};

static const struct replay_opts replay_defaults = {
	.mode = PS_MODE_GUARDED,
	.port = 6379,
};

static const struct ps_opt replay_opts[] = {
	PS_OPT("mode", 'm', PS_OPT_MODE, "M", struct replay_opts, mode,
	       "off | naive | guarded | retrans"),
	PS_OPT("output", 'o', PS_OPT_STR, "OUT.pcap", struct replay_opts, out,
	       "what the programs emitted"),
	PS_OPT("csv", 'c', PS_OPT_STR, "FILE", struct replay_opts, csv,
	       "one row per input frame"),
	PS_OPT("port", 'p', PS_OPT_U32, "PORT", struct replay_opts, port,
	       "Redis port", .min = 1, .max = 65535),
	PS_OPT("cache", 'k', PS_OPT_STRS, "KEY=VALUE", struct replay_opts, cache,
	       "preload the cache (repeatable)"),
	PS_OPT("cache-file", 'K', PS_OPT_STR, "F", struct replay_opts, cache_file,
	       "preload the cache: one KEY=VALUE per line"),
	{}
};

/* the input frame's row: what went in, what came out, the flow after it,
 * the counters it moved */
static void csv_row(FILE *csv, const struct replay *r, const struct pio_pkt *pk, long idx,
		    int dir, int v, __u32 len_out, const __u32 *in, const __u32 *out,
		    const struct ps_flow *f, const __u64 *cur, const char *sack)
{
	fprintf(csv, "%ld,%ld.%06ld,%s,%s,%u,%u,", idx, pk->sec, pk->usec,
		dir == 1 ? "c2s" : dir == 2 ? "s2c" : "other",
		verdict_name(dir == 2 ? 2 : 1, v), pk->caplen, len_out);
	if (dir)
		fprintf(csv, "%u,%u,%u,%u,%u,", in[0], in[1], out[0], out[1], in[2]);
	else
		fprintf(csv, ",,,,,");
	if (f)
		fprintf(csv, "%u,%u,%u,%u,%u,%u,0x%x,", f->cli_nxt, f->consumed,
			f->ksnd_nxt + f->injected, f->srv_una, f->injected,
			f->pending, f->flags);
	else
		fprintf(csv, ",,,,,,,");
	for (int s = 0, first = 1; s < PS_ST__MAX; s++) {
		if (cur[s] == r->prev[s] || s == PS_ST_PKTS || s == PS_ST_TC_PKTS)
			continue;
		fprintf(csv, "%s%s=+%llu", first ? "" : ";", ps_stat_names[s],
			(unsigned long long)(cur[s] - r->prev[s]));
		first = 0;
	}
	fprintf(csv, ",%s\n", sack);
}

/* The frame's hook counts it on entry and its verdict at its one exit
 * (xdp/prestack.bpf.c): exactly one packet and one verdict, the one the
 * program returned, must have moved. 0, or -1 after a message. */
static int verdict_counted(long idx, int tc, int v, const __u64 *cur, const __u64 *prev)
{
	static const int xdp_st[] = { PS_ST_PASSED, PS_ST_TX, PS_ST_DROPPED, PS_ST_REDIRECTED };
	static const int tc_st[] = { PS_ST_TC_OK, PS_ST_TC_SHOT, PS_ST_TC_REDIRECT };
	const int *st = tc ? tc_st : xdp_st;
	int n = tc ? 3 : 4, pkts = tc ? PS_ST_TC_PKTS : PS_ST_PKTS, want;

	if (tc)
		want = v == 0 ? PS_ST_TC_OK : v == TC_ACT_REDIRECT_ ? PS_ST_TC_REDIRECT :
							       PS_ST_TC_SHOT;
	else
		want = v == XDP_PASS_ ? PS_ST_PASSED : v == XDP_TX_ ? PS_ST_TX :
		       v == XDP_REDIRECT_ ? PS_ST_REDIRECTED : PS_ST_DROPPED;
	if (cur[pkts] - prev[pkts] != 1)
		goto bad;
	for (int i = 0; i < n; i++)
		if (cur[st[i]] - prev[st[i]] != (st[i] == want))
			goto bad;
	return 0;
bad:
	ps_err("frame %ld: verdict %s not counted once at the %s exit", idx,
	       verdict_name(tc ? 2 : 1, v), tc ? "TC" : "XDP");
	return -1;
}

/* one frame through its program; -1 after a message */
static int replay_frame(struct replay *r, const struct pio_pkt *pk, long idx,
			struct pio *dump, FILE *csv)
{
	__u8 outbuf[4096];
	char sack[128];
	/* seq, ack, payload length of the frame in and the frame out */
	__u32 in[3] = {}, out[3] = {};
	struct ps_flow_key k = {}, k2;
	struct ps_config cfg;
	struct ps_flow f = {};
	__u64 cur[PS_ST__MAX];
	__u32 zero = 0;
	int dir, v, have_flow;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk->data,
		    .data_size_in = pk->caplen, .data_out = outbuf,
		    .data_size_out = sizeof(outbuf), .repeat = 1);

	dir = tcp_info(pk->data, pk->caplen, &in[0], &in[1], &in[2], &k, r->port);
	/* the capture's clock, in ms, is the programs' clock */
	if (bpf_map_lookup_elem(r->cfg, &zero, &cfg)) {
		ps_err("frame %ld: cannot read ps_config: %s", idx, strerror(errno));
		return -1;
	}
	cfg.clock_ms = (__u32)((__u64)pk->sec * 1000 + (__u64)pk->usec / 1000);
	if (!cfg.clock_ms)
		cfg.clock_ms = 1;
	if (bpf_map_update_elem(r->cfg, &zero, &cfg, BPF_ANY)) {
		ps_err("frame %ld: cannot set the clock: %s", idx, strerror(errno));
		return -1;
	}
	if (bpf_prog_test_run_opts(dir == 2 ? r->tc : r->xdp, &o)) {
		ps_err("frame %ld: test run failed: %s", idx, strerror(errno));
		return -1;
	}
	v = (int)o.retval;
	if (dump && ((dir == 2 && v == 0) || (dir != 2 && (v == XDP_PASS_ || v == XDP_TX_))))
		pio_write(dump, outbuf, o.data_size_out, pk->sec, pk->usec);
	tcp_info(outbuf, o.data_size_out, &out[0], &out[1], &out[2], &k2, r->port);
	have_flow = dir && !bpf_map_lookup_elem(r->flows, &k, &f);
	if (ps_stats_read(r->stats, cur))
		return -1;
	if (verdict_counted(idx, dir == 2, v, cur, r->prev))
		return -1;
	sack_str(outbuf, o.data_size_out, sack, sizeof(sack));
	if (csv)
		csv_row(csv, r, pk, idx, dir, v, o.data_size_out, in, out,
			have_flow ? &f : NULL, cur, sack);
	memcpy(r->prev, cur, sizeof(cur));
	return 0;
}

static int replay_run(struct ps_call *c, void *opts)
{
	const struct replay_opts *o = opts;
	struct pio *pin = NULL, *dump = NULL;
	struct replay r = {};
	struct pio_pkt pk;
	FILE *csv = NULL;
	int n, ret = 1;
	long idx = 0;

	pin = pio_open_read(c->argv[0]);
	if (!pin)
		goto cleanup;
	/* no pins: the maps are this replay's own */
	if (ps_loader_open(&r.skel, NULL, 0, 0))
		goto cleanup;
	/* a rebuilt server segment (xdp/insert.h) returns its first piece
	 * and sends no clone: offline, nothing may leave on a real device
	 * (the scenarios keep every rebuilt segment within one piece) */
	r.skel->bss->ps_ins_stop = 1;
	r.xdp = bpf_program__fd(r.skel->progs.ps_xdp);
	r.tc = bpf_program__fd(r.skel->progs.ps_tc);
	r.cfg = bpf_map__fd(r.skel->maps.ps_config);
	r.flows = bpf_map__fd(r.skel->maps.ps_flows);
	r.cache = bpf_map__fd(r.skel->maps.ps_cache);
	r.present = bpf_map__fd(r.skel->maps.ps_present);
	r.stats = bpf_map__fd(r.skel->maps.ps_stats);
	r.port = (__u16)o->port;
	/* no socket exists offline: no tcp_sock checks */
	if (ps_config_write(r.cfg, (__u32)o->mode, PS_CFG_FILL, r.port, 1)) {
		ps_err("cannot write config: %s", strerror(errno));
		goto cleanup;
	}
	for (int i = 0; i < o->cache.n; i++)
		if (load_cache_line(&r, o->cache.v[i]))
			goto cleanup;
	if (o->cache_file && load_cache_file(&r, o->cache_file))
		goto cleanup;
	if (o->out && !(dump = pio_open_write(o->out)))
		goto cleanup;
	if (o->csv) {
		csv = fopen(o->csv, "w");
		if (!csv) {
			ps_err("%s: %s", o->csv, strerror(errno));
			goto cleanup;
		}
		fprintf(csv, "index,time,dir,verdict,len_in,len_out,seq_in,ack_in,seq_out,ack_out,"
			     "payload_len,cli_nxt,consumed,srv_nxt,srv_una,injected,pending,"
			     "flow_flags,counters,sack_out\n");
	}
	if (ps_stats_read(r.stats, r.prev))
		goto cleanup;
	while ((n = pio_next(pin, &pk)) == 1)
		if (replay_frame(&r, &pk, ++idx, dump, csv))
			goto cleanup;
	if (n < 0)
		goto cleanup;
	ret = 0;
cleanup:
	if (csv && fclose(csv) && !ret) {
		ps_err("%s: %s", o->csv, strerror(errno));
		ret = 1;
	}
	pio_close(dump);
	pio_close(pin);
	prestack_bpf__destroy(r.skel);
	return ret;
}

/* poststack runs on a live socket's receive path (sk_skb, sk_msg):
 * BPF_PROG_TEST_RUN has no socket to give them, so there is nothing to
 * replay (the XDP and TC programs only pass in that mode) */
static int replay_check(const struct ps_call *c, void *opts)
{
	const struct replay_opts *o = opts;

	(void)c;
	if (o->mode == PS_MODE_POSTSTACK) {
		ps_err("poststack cannot be replayed offline: its programs need a live socket "
		       "(tests/live/test-poststack.sh tests it)");
		return -1;
	}
	return 0;
}

const struct ps_cmd ps_cmd_replay = {
	.name = "replay",
	.summary = "offline: a pcap through the programs (test run)",
	.args = "IN.pcap",
	.description =
		"Push every frame of IN.pcap through the BPF programs without attaching\n"
		"them: TCP to --port goes to ps_xdp, TCP from it to ps_tc, anything else\n"
		"to ps_xdp. The maps keep state across frames. OUT.pcap gets what the\n"
		"programs emitted (XDP_TX replies, passed and translated frames; drops\n"
		"leave nothing), --csv one row per input frame. --cache preloads the\n"
		"cache (--cache-file: one KEY=VALUE per line). The programs' clock is\n"
		"the capture's, so the same input gives the same bytes. poststack is\n"
		"refused: its programs run on a live socket, not on a frame.",
	.opts = replay_opts,
	.opts_size = sizeof(struct replay_opts),
	.defaults = &replay_defaults,
	.target = PS_TGT_NONE,
	.min_args = 1,
	.max_args = 1,
	.check = replay_check,
	.run = replay_run,
};
