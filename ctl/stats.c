// SPDX-License-Identifier: GPL-2.0
/* stats.c - counters (summed over CPUs) and per-flow mirrors. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"

static const char *stat_names[] = PS_STAT_NAMES;
_Static_assert(sizeof(stat_names) / sizeof(stat_names[0]) == PS_ST__MAX,
	       "PS_STAT_NAMES and enum ps_stat disagree");


/* Sum every counter over the possible CPUs. */
static int read_stats(int fd, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__u64 *v;
	__u32 k;

	if (ncpu <= 0)
		return -1;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -1;
	for (k = 0; k < PS_ST__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (i = 0; i < ncpu; i++)
			out[k] += v[i];
	}
	free(v);
	return 0;
}

static __u64 sum_prefix(const __u64 *c, const char *prefix)
{
	__u64 s = 0;

	for (int k = 0; k < PS_ST__MAX; k++)
		if (!strncmp(stat_names[k], prefix, strlen(prefix)))
			s += c[k];
	return s;
}

static void print_json(const __u64 *c, long flows, long entries, __u32 mode)
{
	printf("{\"mode\":\"%s\"", ps_mode_name(mode));
	for (int k = 0; k < PS_ST__MAX; k++)
		printf(",\"%s\":%llu", stat_names[k], (unsigned long long)c[k]);
	printf(",\"fallbacks\":%llu,\"divergences\":%llu,\"flows\":%ld,\"cache_entries\":%ld}\n",
	       (unsigned long long)sum_prefix(c, "fb_"),
	       (unsigned long long)sum_prefix(c, "div_"), flows, entries);
	fflush(stdout);
}

static void print_table(const __u64 *c, const __u64 *prev, double secs,
			long flows, long entries, __u32 mode)
{
	printf("mode %s, %ld flows, %ld cache entries\n", ps_mode_name(mode), flows, entries);
	for (int k = 0; k < PS_ST__MAX; k++) {
		if (!c[k] && !prev)
			continue;
		if (prev)
			printf("  %-16s %14llu  %+12lld  %12.1f/s\n", stat_names[k],
			       (unsigned long long)c[k],
			       (long long)(c[k] - prev[k]),
			       secs > 0 ? (double)(c[k] - prev[k]) / secs : 0.0);
		else
			printf("  %-16s %14llu\n", stat_names[k], (unsigned long long)c[k]);
	}
	printf("  %-16s %14llu\n  %-16s %14llu\n", "fallbacks",
	       (unsigned long long)sum_prefix(c, "fb_"), "divergences",
	       (unsigned long long)sum_prefix(c, "div_"));
	fflush(stdout);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL;
	__u64 cur[PS_ST__MAX], prev[PS_ST__MAX];
	struct ps_config cfg = {};
	__u32 watch = 0, zero = 0;
	struct ps_target t;
	bool json = false;
	int c, sfd, ffd, kfd, cfd;
	struct timespec t0, t1;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:jw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'j': json = true; break;
		case 'w':
			if (ps_parse_u32(optarg, 1, 3600, &watch)) {
				fprintf(stderr, "prestack stats: bad --watch '%s' (1..3600 seconds)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: prestack stats [--dev IF] [--netns NS] [--json] [--watch SECS]\n\n"
			       "Counters summed over CPUs. --json prints one JSON object per line\n"
			       "(keys: every counter, plus fallbacks, divergences, flows,\n"
			       "cache_entries, mode); --watch repeats every SECS seconds with\n"
			       "deltas and rates until Ctrl-C.\n");
			return 0;
		default:
			fprintf(stderr, "usage: prestack stats [--dev IF] [--netns NS] [--json] [--watch SECS]\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prestack stats: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (ps_target_find(&t, netns, dev))
		return 1;
	sfd = ps_pin_open(&t, "ps_stats", sizeof(__u64));
	ffd = ps_pin_open(&t, "ps_flows", sizeof(struct ps_flow));
	kfd = ps_pin_open(&t, "ps_cache", sizeof(struct ps_cache_val));
	cfd = ps_pin_open(&t, "ps_config", sizeof(struct ps_config));
	if (sfd < 0 || ffd < 0 || kfd < 0 || cfd < 0)
		return 1;
	bpf_map_lookup_elem(cfd, &zero, &cfg);
	if (read_stats(sfd, cur))
		return 1;
	if (json)
		print_json(cur, ps_map_count(ffd, sizeof(struct ps_flow_key)),
			   ps_map_count(kfd, sizeof(struct ps_cache_key)), cfg.mode);
	else
		print_table(cur, NULL, 0, ps_map_count(ffd, sizeof(struct ps_flow_key)),
			    ps_map_count(kfd, sizeof(struct ps_cache_key)), cfg.mode);
	if (!watch)
		return 0;

	ps_stop_on_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!ps_stop) {
		for (__u32 i = 0; i < watch * 10 && !ps_stop; i++)
			usleep(100000);
		if (ps_stop)
			break;
		memcpy(prev, cur, sizeof(cur));
		if (read_stats(sfd, cur))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		bpf_map_lookup_elem(cfd, &zero, &cfg);
		if (json)
			print_json(cur, ps_map_count(ffd, sizeof(struct ps_flow_key)),
				   ps_map_count(kfd, sizeof(struct ps_cache_key)), cfg.mode);
		else
			print_table(cur, prev,
				    (double)(t1.tv_sec - t0.tv_sec) +
					    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
				    ps_map_count(ffd, sizeof(struct ps_flow_key)),
				    ps_map_count(kfd, sizeof(struct ps_cache_key)), cfg.mode);
		t0 = t1;
	}
	return 0;
}

static const char *flag_names[] = {
	"ts", "sack", "wscale", "untrusted", "fin_cli", "fin_srv", "other_db",
	"fill_armed", "answered", "req_desync", "rep_desync", "in_multi",
	"cli_ts", "cli_sack", "cli_ws", "stream", "authed",
};

static const char *untrust_names[] = {
	"none", "ooo", "req_parse", "rep_parse", "pending", "cmd", "big_seg",
	"retrans", "mode",
};

static void flags_str(__u32 flags, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & (1u << i)))
			continue;
		used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "%s%s",
					 used ? "," : "", flag_names[i]);
	}
}

static const char *state_name(__u32 s)
{
	return s == PS_FLOW_SYN ? "syn" : s == PS_FLOW_EST ? "est" :
	       s == PS_FLOW_CLOSING ? "closing" : "?";
}

/* Is there a live TCP socket local srv:sport, remote cli:cport in this
 * netns (any state but TIME_WAIT/CLOSE)? -1 if /proc/net/tcp unreadable. */
static int sock_alive(const struct ps_flow_key *k)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	int found = 0;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {      /* header */
		fclose(f);
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned int la, lp, ra, rp, st;

		/* addresses are the raw network-order words printed %08X */
		if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X", &la, &lp, &ra, &rp, &st) != 5)
			continue;
		found = la == k->srv_addr && lp == ntohs(k->srv_port) &&
			ra == k->cli_addr && rp == ntohs(k->cli_port) &&
			st != 6 /* TIME_WAIT */ && st != 7 /* CLOSE */;
	}
	fclose(f);
	return found;
}

/*
 * Entries whose connection is gone without a FIN or RST seen (timeouts,
 * a vanished peer) are never evicted (ps_flows is not LRU): remove them
 * when the server has no socket for them any more and they were idle for
 * `idle_s` seconds. Never touches a live connection's state.
 */
static int reap(const struct ps_target *t, int fd, __u32 idle_s)
{
	struct ps_flow_key k, next, *prev = NULL, *dead = NULL;
	struct timespec now;
	size_t ndead = 0, cap = 0, i;
	int total = 0;
	struct ps_flow f;

	if (ps_netns_enter(t->netns))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);  /* bpf_ktime_get_ns's clock */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		__u64 now_ns = (__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec;
		int alive;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f))
			continue;
		total++;
		if (now_ns - f.last_ns < (__u64)idle_s * 1000000000ull)
			continue;
		alive = sock_alive(&k);
		if (alive < 0) {
			fprintf(stderr, "prestack flows: cannot read /proc/net/tcp\n");
			free(dead);
			return 1;
		}
		if (alive)
			continue;
		if (ndead == cap) {
			struct ps_flow_key *d = realloc(dead, (cap = cap ? cap * 2 : 64) * sizeof(*d));

			if (!d) {
				free(dead);
				return 1;
			}
			dead = d;
		}
		dead[ndead++] = k;
	}
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	printf("reaped %zu of %d flows (no server socket, idle >= %u s)\n", ndead, total, idle_s);
	free(dead);
	return 0;
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "reap", optional_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL;
	struct ps_flow_key k, next, *prev = NULL;
	struct ps_target t;
	struct ps_flow f;
	bool json = false, do_reap = false;
	__u32 idle_s = 60;
	int c, fd, n = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'j': json = true; break;
		case 'r':
			do_reap = true;
			if (optarg && ps_parse_u32(optarg, 0, 86400, &idle_s)) {
				fprintf(stderr, "prestack flows: bad --reap '%s' (idle seconds)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: prestack flows [--dev IF] [--netns NS] [--json | --reap[=IDLE_S]]\n\n"
			       "Each tracked flow's mirrors: cli_nxt, consumed, srv_nxt, srv_una,\n"
			       "injected, the offset history, pending replies, hits.\n"
			       "  --reap[=IDLE_S]  remove flows the server has no socket for any more\n"
			       "                   (closed without a FIN/RST seen), idle >= IDLE_S s (60)\n");
			return 0;
		default:
			fprintf(stderr, "usage: prestack flows [--dev IF] [--netns NS] [--json | --reap[=IDLE_S]]\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prestack flows: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (ps_target_find(&t, netns, dev))
		return 1;
	fd = ps_pin_open(&t, "ps_flows", sizeof(struct ps_flow));
	if (fd < 0)
		return 1;
	if (do_reap)
		return reap(&t, fd, idle_s);
	if (json)
		printf("[");
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		char cli[INET_ADDRSTRLEN], srv[INET_ADDRSTRLEN], fl[256], ep[64];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f))
			continue;
		inet_ntop(AF_INET, &k.cli_addr, cli, sizeof(cli));
		inet_ntop(AF_INET, &k.srv_addr, srv, sizeof(srv));
		flags_str(f.flags, fl, sizeof(fl));
		if (json) {
			printf("%s{\"client\":\"%s:%u\",\"server\":\"%s:%u\",\"state\":\"%s\","
			       "\"flags\":\"%s\",\"untrusted_reason\":\"%s\","
			       "\"cli_isn\":%u,\"cli_nxt\":%u,\"consumed\":%u,"
			       "\"cli_corr_pos\":%u,\"cli_off_before\":%u,"
			       "\"srv_isn\":%u,\"srv_nxt\":%u,\"ksnd_nxt\":%u,\"ksnd_una\":%u,"
			       "\"srv_una\":%u,\"injected\":%u,\"srv_corr_pos\":%u,"
			       "\"srv_off_before\":%u,\"pending\":%u,\"cmds_passed\":%u,"
			       "\"replies_seen\":%u,\"hits\":%llu,\"replies\":%llu,"
			       "\"reply_bytes\":%llu,\"mss_cli\":%u}",
			       n ? "," : "", cli, ntohs(k.cli_port), srv, ntohs(k.srv_port),
			       state_name(f.state), fl,
			       f.untrusted_reason < sizeof(untrust_names) / sizeof(untrust_names[0]) ?
				       untrust_names[f.untrusted_reason] : "?",
			       f.cli_isn, f.cli_nxt, f.consumed, f.cli_corr_pos,
			       f.cli_off_before, f.srv_isn, f.ksnd_nxt + f.injected,
			       f.ksnd_nxt, f.ksnd_una, f.srv_una, f.injected,
			       f.srv_corr_pos, f.srv_off_before, f.pending,
			       f.cmds_passed, f.replies_seen,
			       (unsigned long long)f.hits, (unsigned long long)f.replies,
			       (unsigned long long)f.reply_bytes, f.mss_cli);
		} else {
			if (!n)
				printf("%-21s %-7s %10s %8s %10s %10s %8s %7s %6s  %s\n",
				       "client", "state", "cli_nxt", "consumed", "srv_nxt",
				       "srv_una", "injected", "pending", "hits", "flags");
			printf("%-21s %-7s %10u %8u %10u %10u %8u %7u %6llu  %s%s%s\n",
			       (snprintf(ep, sizeof(ep), "%s:%u", cli, ntohs(k.cli_port)), ep),
			       state_name(f.state), f.cli_nxt, f.consumed,
			       f.ksnd_nxt + f.injected, f.srv_una, f.injected, f.pending,
			       (unsigned long long)f.hits, fl,
			       f.untrusted_reason ? " reason=" : "",
			       f.untrusted_reason && f.untrusted_reason < PS_UT__MAX ?
				       untrust_names[f.untrusted_reason] : "");
		}
		n++;
	}
	if (json)
		printf("]\n");
	else if (!n)
		printf("no flows\n");
	return 0;
}
