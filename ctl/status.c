// SPDX-License-Identifier: GPL-2.0
/* status.c - mode and status: an attachment's configuration, switched and shown. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "opts.h"

struct mode_opts {
	bool force;
	int mode;       /* the positional word */
};

static const struct ps_opt mode_opts[] = {
	PS_OPT("force", 'f', PS_OPT_FLAG, NULL, struct mode_opts, force,
	       "switch to off or poststack even if flows carry offsets"),
	{}
};

/* modes in which XDP and TC pass everything untouched */
static bool xdp_off(int mode)
{
	return mode == PS_MODE_OFF || mode == PS_MODE_POSTSTACK;
}

static int mode_check(const struct ps_call *c, void *opts)
{
	struct mode_opts *o = opts;

	o->mode = ps_mode_parse(c->argv[0]);
	if (o->mode < 0) {
		ps_err("give one of off, naive, guarded, retrans, poststack");
		return -1;
	}
	return 0;
}

static int mode_run(struct ps_call *c, void *opts)
{
	const struct mode_opts *o = opts;
	struct ps_config cfg;
	long forgotten = 0;
	int n, total;

	if (ps_config_read(&c->maps, &cfg))
		return 1;
	if (o->mode == PS_MODE_POSTSTACK && !ps_post_attached(&c->t)) {
		ps_err("the post-stack programs are not attached here (attach said why);\n"
		       "detach and attach again with --mode poststack");
		return 1;
	}
	/* for XDP and TC, poststack is off: flows with offsets would break */
	if (xdp_off(o->mode) && !xdp_off((int)cfg.mode)) {
		n = ps_count_offset_flows(c->maps.flows, &total);
		if (n && !o->force) {
			ps_err("%d of %d flows carry a non-zero offset: off stops translating\n"
			       "them and would corrupt those connections. Let them close, or use --force.",
			       n, total);
			return 1;
		}
	}
	if (ps_config_update(c->maps.config, o->mode, 0, 0, NULL)) {
		ps_err("cannot update config: %s", strerror(errno));
		return 1;
	}
	/* off touches no flow: whatever is tracked now would be stale when a
	 * mode comes back, so forget it (those connections stay unanswered,
	 * never corrupted) */
	if (xdp_off(o->mode))
		forgotten = ps_map_clear(c->maps.flows, sizeof(struct ps_flow_key));
	if (forgotten < 0) {
		ps_err("mode is off, but the tracked flows could not be forgotten: %s",
		       strerror(errno));
		return 1;
	}
	printf("mode %s -> %s\n", ps_mode_name(cfg.mode), ps_mode_name((__u32)o->mode));
	return 0;
}

const struct ps_cmd ps_cmd_mode = {
	.name = "mode",
	.summary = "switch mode: off | naive | guarded | retrans | poststack",
	.args = "off|naive|guarded|retrans|poststack",
	.description =
		"Switch mode at run time. Switching to off forgets every flow; it is\n"
		"refused while flows carry a non-zero offset unless --force.\n"
		"poststack is off for XDP and TC (the same rules), and answers after the\n"
		"TCP stack on the sockets Redis accepts from then on.",
	.opts = mode_opts,
	.opts_size = sizeof(struct mode_opts),
	.target = PS_TGT_ONE,
	.maps = PS_MAP_CONFIG | PS_MAP_FLOWS,
	.min_args = 1,
	.max_args = 1,
	.check = mode_check,
	.run = mode_run,
};

/* ms the coherence lease has left (<= 0: stale, nothing answered) */
static long long lease_left_ms(const struct ps_maps *m)
{
	__u32 idx = PS_LEASE_UNTIL;
	struct timespec now;
	__u64 until = 0;

	bpf_map_lookup_elem(m->lease, &idx, &until);
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long long)until - ((long long)now.tv_sec * 1000000000ll + now.tv_nsec)) /
	       1000000;
}

static __u64 lease_at(const struct ps_maps *m, __u32 idx)
{
	__u64 v = 0;

	bpf_map_lookup_elem(m->lease, &idx, &v);
	return v;
}

/* the side path's interfaces: those of t's namespace it does not cover
 * (-1: not attached); entering the namespace for the look and back */
static int side_uncovered(const struct ps_target *t, char *names, size_t n)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), r = -1;

	if (self < 0)
		return -1;
	if (!ps_netns_enter(t->netns))
		r = ps_side_check(t, false, names, n);
	if (setns(self, CLONE_NEWNET))
		ps_err("cannot go back to our namespace: %s", strerror(errno));
	close(self);
	return r;
}

/* the watcher attach started: its PID while it runs, else 0 */
static unsigned watcher_alive(__u32 pid)
{
	return pid && !kill((pid_t)pid, 0) ? pid : 0;
}

/* one attachment's line (or JSON object); -1 after a message */
static int status_one(const struct ps_target *t, bool json, bool first)
{
	struct ps_meta meta;
	struct ps_config cfg;
	struct ps_maps m;
	long flows, entries, post, side, side_lost = 0;
	char uncov[256] = "";
	int missing;
	long long left;
	bool lease, revoked, rescan;
	__u32 zero = 0;
	int ret = -1;

	if (ps_maps_open(&m, t, PS_MAP_META | PS_MAP_CONFIG | PS_MAP_FLOWS | PS_MAP_CACHE |
			 PS_MAP_LEASE) ||
	    ps_config_read(&m, &cfg))
		goto cleanup;
	if (bpf_map_lookup_elem(m.meta, &zero, &meta)) {
		ps_err("cannot read ps_meta of %s: %s", t->dir, strerror(errno));
		goto cleanup;
	}
	flows = ps_map_count(m.flows, sizeof(struct ps_flow_key));
	post = ps_post_sockets(t);  /* -1: post-stack programs not attached */
	entries = ps_map_count(m.cache, sizeof(ps_cache_mkey));
	lease = cfg.flags & PS_CFG_LEASE;
	left = lease ? lease_left_ms(&m) : 0;
	side = ps_side_conns(t, &side_lost);
	missing = side >= 0 ? side_uncovered(t, uncov, sizeof(uncov)) : -1;
	revoked = lease_at(&m, PS_LEASE_REVOKE) != lease_at(&m, PS_LEASE_REVOKE_ACK);
	rescan = lease_at(&m, PS_LEASE_TTL_LOST) != lease_at(&m, PS_LEASE_TTL_SEEN);
	if (json)
		printf("%s{\"netns\":\"%s\",\"dev\":\"%s\",\"ifindex\":%u,\"port\":%u,"
		       "\"mode\":\"%s\",\"xdp_prog_id\":%u,\"tc_prog_id\":%u,\"tc_in_prog_id\":%u,"
		       "\"flows\":%ld,\"cache_entries\":%ld,\"cache_gen\":%u,"
		       "\"coherence\":%s,\"watcher_pid\":%u,\"lease_left_ms\":%lld,"
		       "\"poststack_sockets\":%ld,\"side_conns\":%ld,\"side_lost\":%ld,"
		       "\"side_uncovered\":%d,\"revoked\":%s,\"ttl_rescan\":%s,"
		       "\"ttl_exact\":%s}",
		       first ? "" : ",", t->netns, t->dev, meta.ifindex, meta.port,
		       ps_mode_name(cfg.mode), meta.xdp_prog_id, meta.tc_prog_id,
		       meta.tc_in_prog_id, flows, entries, cfg.cache_gen, lease ? "true" : "false",
		       watcher_alive(meta.watcher_pid), left, post, side, side_lost, missing,
		       revoked ? "true" : "false", rescan ? "true" : "false",
		       cfg.flags & PS_CFG_TTL_EXACT ? "true" : "false");
	else
		printf("%s%s%s: ifindex %u, port %u, mode %s, xdp prog %u, tc prog %u, "
		       "%ld flows, %ld cache entries (generation %u); %s\n",
		       t->dev, *t->netns ? " in netns " : "", t->netns, meta.ifindex,
		       meta.port, ps_mode_name(cfg.mode), meta.xdp_prog_id,
		       meta.tc_prog_id, flows, entries, cfg.cache_gen,
		       !lease ? "coherence off (--no-coherence)" :
		       left > 0 ? "coherence watcher holds the lease" :
		       "coherence lease STALE: nothing answered at XDP");
	if (!json)
		printf("  tc ingress reply path: %s\n",
		       meta.tc_in_prog_id ? "on" : "off (--no-tc-reply)");
	if (!json && lease)
		printf("  watcher %s, lease %lld ms left%s%s\n",
		       watcher_alive(meta.watcher_pid) ? "running" : "not running", left,
		       revoked ? "; REVOKED until the watcher has looked at Redis" : "",
		       rescan ? "; fills stopped until every TTL is learnt again" : "");
	if (!json && side >= 0)
		printf("  side path: %ld connections followed (%ld not followed: no fill until "
		       "they close); TTLs %s\n", side, side_lost,
		       cfg.flags & PS_CFG_TTL_EXACT ? "recorded as written" :
		       "recorded at their earliest outcome (writes may fail)");
	else if (!json)
		printf("  side path: off (--no-coherence): writes by other paths are not seen\n");
	if (!json && missing > 0)
		printf("  WARNING: interfaces the side path does not cover (the watcher covers "
		       "them within 100 ms; without it, re-attach): %s\n", uncov);
	if (!json && post >= 0)
		printf("  poststack: %ld Redis sockets in the post-stack path\n", post);
	else if (!json)
		printf("  poststack: not attached (attach said why)\n");
	ret = 0;
cleanup:
	ps_maps_close(&m);
	return ret;
}

struct status_opts {
	bool json;
};

static const struct ps_opt status_opts[] = {
	PS_OPT("json", 'j', PS_OPT_FLAG, NULL, struct status_opts, json,
	       "one JSON array of objects"),
	{}
};

static int status_run(struct ps_call *c, void *opts)
{
	const struct status_opts *o = opts;
	struct ps_target all[16];
	int n, i, shown = 0, ret = 0;

	n = ps_scan(c->netns, c->dev, all, 16);
	if (o->json)
		printf("[");
	else if (!n)
		printf("not attached%s\n", c->dev || c->netns ? " there" : " anywhere");
	for (i = 0; i < n && i < 16; i++) {
		if (status_one(&all[i], o->json, shown == 0))
			ret = 1;
		else
			shown++;
	}
	if (o->json)
		printf("]\n");
	return ret;
}

const struct ps_cmd ps_cmd_status = {
	.name = "status",
	.summary = "show attachments",
	.description =
		"Show the attachments (all, or the one chosen), their mode,\n"
		"programs, flows and cache size.",
	.opts = status_opts,
	.opts_size = sizeof(struct status_opts),
	.target = PS_TGT_FILTER,
	.run = status_run,
};
