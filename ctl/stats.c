// SPDX-License-Identifier: GPL-2.0
/* stats.c - stats and flows: counters (summed over CPUs) and per-flow mirrors. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "opts.h"

static __u64 sum_prefix(const __u64 *c, const char *prefix)
{
	__u64 s = 0;

	for (int k = 0; k < PS_ST__MAX; k++)
		if (!strncmp(ps_stat_names[k], prefix, strlen(prefix)))
			s += c[k];
	return s;
}

/* what one stats line shows */
struct snap {
	__u64 c[PS_ST__MAX];
	long flows, entries;
	__u32 mode;
};

static int take(const struct ps_maps *m, struct snap *s)
{
	struct ps_config cfg;

	if (ps_config_read(m, &cfg) || ps_stats_read(m->stats, s->c))
		return -1;
	s->mode = cfg.mode;
	s->flows = ps_map_count(m->flows, sizeof(struct ps_flow_key));
	s->entries = ps_map_count(m->cache, sizeof(ps_cache_mkey));
	return 0;
}

static void print_json(const struct snap *s)
{
	printf("{\"mode\":\"%s\"", ps_mode_name(s->mode));
	for (int k = 0; k < PS_ST__MAX; k++)
		printf(",\"%s\":%llu", ps_stat_names[k], (unsigned long long)s->c[k]);
	printf(",\"fallbacks\":%llu,\"divergences\":%llu,\"flows\":%ld,\"cache_entries\":%ld}\n",
	       (unsigned long long)sum_prefix(s->c, "fb_"),
	       (unsigned long long)sum_prefix(s->c, "div_"), s->flows, s->entries);
	fflush(stdout);
}

/* prev: NULL the first time (no deltas) */
static void print_table(const struct snap *s, const struct snap *prev, double secs)
{
	const __u64 *c = s->c;

	printf("mode %s, %ld flows, %ld cache entries\n", ps_mode_name(s->mode), s->flows,
	       s->entries);
	for (int k = 0; k < PS_ST__MAX; k++) {
		if (!c[k] && !prev)
			continue;
		if (prev)
			printf("  %-16s %14llu  %+12lld  %12.1f/s\n", ps_stat_names[k],
			       (unsigned long long)c[k],
			       (long long)(c[k] - prev->c[k]),
			       secs > 0 ? (double)(c[k] - prev->c[k]) / secs : 0.0);
		else
			printf("  %-16s %14llu\n", ps_stat_names[k], (unsigned long long)c[k]);
	}
	printf("  %-16s %14llu\n  %-16s %14llu\n", "fallbacks",
	       (unsigned long long)sum_prefix(c, "fb_"), "divergences",
	       (unsigned long long)sum_prefix(c, "div_"));
	fflush(stdout);
}

struct stats_opts {
	bool json;
	__u32 watch;
};

static const struct ps_opt stats_opts[] = {
	PS_OPT("json", 'j', PS_OPT_FLAG, NULL, struct stats_opts, json,
	       "one JSON object per line (keys: every counter, plus\n"
	       "fallbacks, divergences, flows, cache_entries, mode)"),
	PS_OPT("watch", 'w', PS_OPT_U32, "SECS", struct stats_opts, watch,
	       "repeat every SECS seconds with deltas and rates\nuntil Ctrl-C", .min = 1, .max = 3600),
	{}
};

static int stats_run(struct ps_call *c, void *opts)
{
	const struct stats_opts *o = opts;
	struct snap cur, prev;
	struct timespec t0, t1;

	if (take(&c->maps, &cur))
		return 1;
	if (o->json)
		print_json(&cur);
	else
		print_table(&cur, NULL, 0);
	if (!o->watch)
		return 0;

	ps_stop_on_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!ps_stop) {
		for (__u32 i = 0; i < o->watch * 10 && !ps_stop; i++)
			usleep(100000);
		if (ps_stop)
			break;
		prev = cur;
		if (take(&c->maps, &cur))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (o->json)
			print_json(&cur);
		else
			print_table(&cur, &prev, (double)(t1.tv_sec - t0.tv_sec) +
						 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		t0 = t1;
	}
	return 0;
}

const struct ps_cmd ps_cmd_stats = {
	.name = "stats",
	.summary = "counters (--json, --watch SECS)",
	.description =
		"Counters summed over CPUs: a table, or with --json one JSON object\n"
		"per line that scripts parse.",
	.opts = stats_opts,
	.opts_size = sizeof(struct stats_opts),
	.target = PS_TGT_ONE,
	.maps = PS_MAP_STATS | PS_MAP_FLOWS | PS_MAP_CACHE | PS_MAP_CONFIG,
	.run = stats_run,
};

static const char *const flag_names[] = PS_FLAG_NAMES;

static const char *const untrust_names[] = PS_UNTRUST_NAMES;
_Static_assert(sizeof(untrust_names) / sizeof(untrust_names[0]) == PS_UT__MAX,
	       "one name per untrust reason");

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
	       s == PS_FLOW_CLOSING ? "closing" : s == PS_FLOW_DONE ? "done" : "?";
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
	size_t ndead = 0, cap = 0, i;
	struct timespec now;
	struct ps_flow f;
	int total = 0, ret = 1;

	if (ps_netns_enter(t->netns))
		goto cleanup;
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
			ps_err("cannot read /proc/net/tcp");
			goto cleanup;
		}
		if (alive)
			continue;
		if (ndead == cap) {
			struct ps_flow_key *d = realloc(dead, (cap = cap ? cap * 2 : 64) * sizeof(*d));

			if (!d) {
				ps_err("out of memory");
				goto cleanup;
			}
			dead = d;
		}
		dead[ndead++] = k;
	}
	for (i = 0; i < ndead; i++)
		if (bpf_map_delete_elem(fd, &dead[i]) && errno != ENOENT) {
			ps_err("cannot remove a flow: %s", strerror(errno));
			goto cleanup;
		}
	printf("reaped %zu of %d flows (no server socket, idle >= %u s)\n", ndead, total, idle_s);
	ret = 0;
cleanup:
	free(dead);
	return ret;
}

struct flows_opts {
	bool json;
	struct ps_u32_opt reap;
};

static const struct flows_opts flows_defaults = { .reap = { .val = 60 } };

static const struct ps_opt flows_opts[] = {
	PS_OPT("json", 'j', PS_OPT_FLAG, NULL, struct flows_opts, json,
	       "one JSON array of objects"),
	PS_OPT("reap", 0, PS_OPT_U32_OPT, "IDLE_S", struct flows_opts, reap,
	       "remove flows the server has no socket for any more\n"
	       "(closed without a FIN/RST seen), idle >= IDLE_S s", .min = 0, .max = 86400),
	{}
};

/* One direction's offset history as JSON: the offset before the oldest
 * point and each point as [pos, offset after it] (xdp/seqadj.h). */
static void seqadj_json(char *buf, size_t cap, const struct ps_seqadj *a)
{
	size_t o = (size_t)snprintf(buf, cap, "{\"base\":%u,\"points\":[", a->base);

	for (__u32 i = 0; i < a->n && i < PS_SEQADJ_POINTS && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s[%u,%u]", i ? "," : "",
				      a->pt[i].pos, a->pt[i].off);
	if (o < cap)
		snprintf(buf + o, cap - o, "]}");
}

static void flow_json(const struct ps_flow_key *k, const struct ps_flow *f,
		      const char *cli, const char *srv, const char *fl, bool first)
{
	/* "{"base":N,"points":[" and each "[pos,off]" at most 2 + 2 * 10 + 2 */
	char ca[32 + PS_SEQADJ_POINTS * 24], sa[32 + PS_SEQADJ_POINTS * 24];

	seqadj_json(ca, sizeof(ca), &f->cli_adj);
	seqadj_json(sa, sizeof(sa), &f->srv_adj);
	printf("%s{\"client\":\"%s:%u\",\"server\":\"%s:%u\",\"state\":\"%s\","
	       "\"flags\":\"%s\",\"untrusted_reason\":\"%s\","
	       "\"cli_isn\":%u,\"cli_nxt\":%u,\"consumed\":%u,"
	       "\"cli_adj\":%s,"
	       "\"srv_isn\":%u,\"srv_nxt\":%u,\"ksnd_nxt\":%u,\"ksnd_una\":%u,"
	       "\"srv_una\":%u,\"injected\":%u,\"srv_adj\":%s,"
	       "\"pending\":%u,\"cmds_passed\":%u,"
	       "\"replies_seen\":%u,\"hits\":%llu,\"replies\":%llu,"
	       "\"reply_bytes\":%llu,\"mss_cli\":%u}",
	       first ? "" : ",", cli, ntohs(k->cli_port), srv, ntohs(k->srv_port),
	       state_name(f->state), fl,
	       f->untrusted_reason < sizeof(untrust_names) / sizeof(untrust_names[0]) ?
		       untrust_names[f->untrusted_reason] : "?",
	       f->cli_isn, f->cli_nxt, f->consumed, ca,
	       f->srv_isn, f->ksnd_nxt + f->injected,
	       f->ksnd_nxt, f->ksnd_una, f->srv_una, f->injected,
	       sa, f->pending,
	       f->cmds_passed, f->replies_seen,
	       (unsigned long long)f->hits, (unsigned long long)f->replies,
	       (unsigned long long)f->reply_bytes, f->mss_cli);
}

static void flow_row(const struct ps_flow_key *k, const struct ps_flow *f,
		     const char *cli, const char *fl, bool first)
{
	char ep[64], hist[24];

	if (first)
		printf("%-21s %-7s %10s %8s %10s %10s %8s %5s %7s %6s  %s\n",
		       "client", "state", "cli_nxt", "consumed", "srv_nxt",
		       "srv_una", "injected", "hist", "pending", "hits", "flags");
	snprintf(ep, sizeof(ep), "%s:%u", cli, ntohs(k->cli_port));
	/* hist: correction points held, client stream / server stream */
	snprintf(hist, sizeof(hist), "%u/%u", f->cli_adj.n, f->srv_adj.n);
	printf("%-21s %-7s %10u %8u %10u %10u %8u %5s %7u %6llu  %s%s%s\n",
	       ep, state_name(f->state), f->cli_nxt, f->consumed,
	       f->ksnd_nxt + f->injected, f->srv_una, f->injected, hist, f->pending,
	       (unsigned long long)f->hits, fl,
	       f->untrusted_reason ? " reason=" : "",
	       f->untrusted_reason && f->untrusted_reason < PS_UT__MAX ?
		       untrust_names[f->untrusted_reason] : "");
}

static int flows_run(struct ps_call *c, void *opts)
{
	const struct flows_opts *o = opts;
	struct ps_flow_key k, next, *prev = NULL;
	int fd = c->maps.flows, n = 0;
	struct ps_flow f;

	if (o->reap.on)
		return reap(&c->t, fd, o->reap.val);
	if (o->json)
		printf("[");
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		char cli[INET_ADDRSTRLEN], srv[INET_ADDRSTRLEN], fl[256];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f))
			continue;  /* gone since the key was read */
		inet_ntop(AF_INET, &k.cli_addr, cli, sizeof(cli));
		inet_ntop(AF_INET, &k.srv_addr, srv, sizeof(srv));
		flags_str(f.flags, fl, sizeof(fl));
		if (o->json)
			flow_json(&k, &f, cli, srv, fl, n == 0);
		else
			flow_row(&k, &f, cli, fl, n == 0);
		n++;
	}
	if (o->json)
		printf("]\n");
	else if (!n)
		printf("no flows\n");
	return 0;
}

const struct ps_cmd ps_cmd_flows = {
	.name = "flows",
	.summary = "per-flow mirrors (--json)",
	.description =
		"Each tracked flow's mirrors: cli_nxt, consumed, srv_nxt, srv_una,\n"
		"injected, the offset history (correction points held per stream;\n"
		"--json: each as [pos, offset after it] with the base offset before\n"
		"them), pending replies, hits.",
	.opts = flows_opts,
	.opts_size = sizeof(struct flows_opts),
	.defaults = &flows_defaults,
	.target = PS_TGT_ONE,
	.maps = PS_MAP_FLOWS,
	.run = flows_run,
};
