// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "env.h"
#include "cachefmt.h"
#include "deploy.h"
#include "prestack.skel.h"

uint64_t env_ttl_clock;

const uint8_t CLI_MAC[6] = { 2, 0, 0, 0, 0, 2 };
const uint8_t SRV_MAC[6] = { 2, 0, 0, 0, 0, 1 };

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (l == LIBBPF_DEBUG || getenv("PS_TEST_QUIET"))
		return 0;
	return vfprintf(stderr, f, ap);
}

void env_set_mode(struct env *e, uint32_t mode, uint32_t flags)
{
	struct ps_config c = { .mode = mode, .flags = flags, .port = SRV_PORT,
			       .cache_gen = 1 };
	uint32_t zero = 0;

	bpf_map_update_elem(e->cfg, &zero, &c, BPF_ANY);
}

int env_open(struct env *e, uint32_t mode, uint32_t flags)
{
	return env_open_fault(e, mode, flags, 0);
}

int env_open_fault(struct env *e, uint32_t mode, uint32_t flags, uint32_t fault)
{
	struct bpf_map *m;

	memset(e, 0, sizeof(*e));
	libbpf_set_print(quiet);
	e->skel = prestack_bpf__open();
	if (!e->skel)
		return -1;
	/* each test owns fresh maps: none of xdp/maps.h's pins by name */
	bpf_object__for_each_map(m, e->skel->obj)
		bpf_map__set_pin_path(m, NULL);
	e->skel->rodata->ps_fault = fault;
	e->skel->rodata->ps_ttl_clock_ns = env_ttl_clock;
	if (prestack_bpf__load(e->skel)) {
		env_close(e);
		return -1;
	}
	e->xdp = bpf_program__fd(e->skel->progs.ps_xdp);
	e->tc = bpf_program__fd(e->skel->progs.ps_tc);
	e->cfg = bpf_map__fd(e->skel->maps.ps_config);
	e->flows = bpf_map__fd(e->skel->maps.ps_flows);
	e->cache = bpf_map__fd(e->skel->maps.ps_cache);
	e->present = bpf_map__fd(e->skel->maps.ps_present);
	e->stats = bpf_map__fd(e->skel->maps.ps_stats);
	e->epochs = bpf_map__fd(e->skel->maps.ps_epochs);
	env_set_mode(e, mode, flags);
	{
		uint32_t idx = PS_LEASE_CLOCK_OFF;
		uint64_t off = ENV_CLOCK_OFF;

		bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &off, BPF_ANY);
	}
	return 0;
}

int env_lease_grant(struct env *e)
{
	uint32_t idx = PS_LEASE_UNTIL;
	struct timespec now;
	uint64_t until;

	clock_gettime(CLOCK_MONOTONIC, &now);
	until = ps_lease_until((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec);
	return bpf_map_update_elem(bpf_map__fd(e->skel->maps.ps_lease), &idx, &until, BPF_ANY);
}

void env_close(struct env *e)
{
	prestack_bpf__destroy(e->skel);
	e->skel = NULL;
}

static int run(int fd, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = 4096, .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &o);

	if (err) {
		fprintf(stderr, "# test_run failed: %d\n", err);
		return -1000;
	}
	if (outlen)
		*outlen = o.data_size_out;
	return (int)o.retval;
}

int xdp_run(struct env *e, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	return run(e->xdp, in, len, out, outlen);
}

int tc_run(struct env *e, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	return run(e->tc, in, len, out, outlen);
}

uint64_t stat_get(struct env *e, int idx)
{
	int n = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)n, sizeof(*v)), s = 0;
	uint32_t k = (uint32_t)idx;

	if (v && !bpf_map_lookup_elem(e->stats, &k, v))
		for (int i = 0; i < n; i++)
			s += v[i];
	free(v);
	return s;
}

int flow_get(struct env *e, struct ps_flow *f)
{
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };

	return bpf_map_lookup_elem(e->flows, &k, f);
}

int cache_put(struct env *e, const char *key, const char *val)
{
	struct ps_cache_key k;
	struct ps_cache_val v;

	ps_cache_key_build(&k, key, strlen(key));
	ps_cache_val_build(&v, val, strlen(val), 1, PS_FILL_USER);
	return ps_cache_put(e->cache, e->present, &k, &v);
}

int cache_has(struct env *e, const char *key, char *val, size_t cap)
{
	struct ps_cache_key k;
	struct ps_cache_val v;

	ps_cache_key_build(&k, key, strlen(key));
	if (ps_cache_get(e->cache, &k, &v))
		return 0;
	if (val && cap > v.reply_len) {
		memcpy(val, v.reply, v.reply_len);
		val[v.reply_len] = 0;
	}
	return 1;
}

static size_t ts_opt(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
	o[4] = tsval >> 24; o[5] = tsval >> 16; o[6] = tsval >> 8; o[7] = tsval & 0xff;
	o[8] = tsecr >> 24; o[9] = tsecr >> 16; o[10] = tsecr >> 8; o[11] = tsecr & 0xff;
	return 12;
}

static size_t syn_opts(uint8_t *o, bool ts, uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;

	o[n++] = 2; o[n++] = 4; o[n++] = 0x05; o[n++] = 0xb4; /* MSS 1460 */
	o[n++] = 4; o[n++] = 2;                              /* SACK_PERM */
	if (ts) {
		o[n++] = 8; o[n++] = 10;
		o[n++] = tsval >> 24; o[n++] = tsval >> 16; o[n++] = tsval >> 8; o[n++] = tsval & 0xff;
		o[n++] = tsecr >> 24; o[n++] = tsecr >> 16; o[n++] = tsecr >> 8; o[n++] = tsecr & 0xff;
	} else {
		o[n++] = 1; o[n++] = 1;
	}
	o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = 7; /* NOP WS 7 */
	return n;
}

int handshake(struct env *e, bool ts)
{
	return handshake_isn(e, ts, CISN, SISN);
}

int handshake_isn(struct env *e, bool ts, uint32_t cisn, uint32_t sisn)
{
	uint8_t in[256], out[4096], opt[40];
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = cisn, .flags = TF_SYN,
			      .window = 64240, .tcpopt = opt };
	size_t len, olen;

	e->ts = ts;
	s.tcpopt_len = syn_opts(opt, ts, CLI_TSV, 0);
	len = pkt_build(in, sizeof(in), &s);
	if (xdp_run(e, in, len, out, &olen) != 2 /* XDP_PASS */)
		return -1;
	s = (struct pkt_spec){ .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			       .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			       .seq = sisn, .ack = cisn + 1, .flags = TF_SYN | TF_ACK,
			       .window = SRV_WIN, .tcpopt = opt };
	s.tcpopt_len = syn_opts(opt, ts, SRV_TSV, CLI_TSV);
	len = pkt_build(in, sizeof(in), &s);
	if (tc_run(e, in, len, out, &olen) != 0)
		return -1;
	e->cseq = cisn + 1;
	e->sseq = sisn + 1;
	e->kseq = sisn + 1;
	e->kack = cisn + 1;
	e->tsval = CLI_TSV + 1;
	e->swin = SRV_WIN >> 7; /* syn_opts: wscale 7 both ways */
	len = cli_seg(e, in, "", 0, TF_ACK);
	return xdp_run(e, in, len, out, &olen) == 2 ? 0 : -1;
}

size_t cli_seg_cap(struct env *e, uint8_t *buf, size_t cap, const char *payload,
		   size_t len, uint8_t flags)
{
	uint8_t opt[12];
	struct pkt_spec s = { .saddr = CLI_IP, .daddr = SRV_IP, .sport = CLI_PORT,
			      .dport = SRV_PORT, .seq = e->cseq, .ack = e->sseq,
			      .flags = flags, .window = 502, .payload = payload,
			      .payload_len = len };

	if (e->ts) {
		s.tcpopt = opt;
		s.tcpopt_len = ts_opt(opt, e->tsval++, SRV_TSV);
	}
	/* room for a reply: frames from BPF_PROG_TEST_RUN cannot grow much */
	s.pad_to = 1200;
	return pkt_build(buf, cap, &s);
}

size_t cli_seg(struct env *e, uint8_t *buf, const char *payload, size_t len,
	       uint8_t flags)
{
	return cli_seg_cap(e, buf, 1600, payload, len, flags);
}

size_t srv_seg_at(struct env *e, uint8_t *buf, size_t cap, uint32_t seq,
		  const char *payload, size_t len, uint8_t flags)
{
	uint8_t opt[12];
	struct pkt_spec s = { .smac = SRV_MAC, .dmac = CLI_MAC, .saddr = SRV_IP,
			      .daddr = CLI_IP, .sport = SRV_PORT, .dport = CLI_PORT,
			      .seq = seq, .ack = e->kack, .flags = flags,
			      .window = SRV_WIN, .payload = payload,
			      .payload_len = len };

	e->swin = SRV_WIN;
	if (e->ts) {
		s.tcpopt = opt;
		s.tcpopt_len = ts_opt(opt, SRV_TSV + 1, e->tsval - 1);
	}
	return pkt_build(buf, cap, &s);
}

size_t srv_seg(struct env *e, uint8_t *buf, const char *payload, size_t len,
	       uint8_t flags)
{
	return srv_seg_at(e, buf, 1600, e->kseq, payload, len, flags);
}

int env_share_maps(struct bpf_object *obj, struct bpf_object *const *from, int n,
		   const char *own)
{
	struct bpf_map *m, *src;
	const char *name;
	int i;

	bpf_object__for_each_map(m, obj) {
		bpf_map__set_pin_path(m, NULL);
		name = bpf_map__name(m);
		if (own && !strncmp(name, own, strlen(own)))
			continue;
		for (i = 0, src = NULL; i < n && !src; i++)
			src = bpf_object__find_map_by_name(from[i], name);
		if (src && bpf_map__reuse_fd(m, bpf_map__fd(src)))
			return -1;
	}
	return 0;
}
