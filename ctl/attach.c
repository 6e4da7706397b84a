// SPDX-License-Identifier: GPL-2.0
/* attach.c - attach, detach, mode, status. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <hiredis/hiredis.h>
#include "common.h"
#include "loader.h"

static const char *pin_names[] = { "ps_config", "ps_stats", "ps_flows",
				   "ps_cache", "ps_epochs", "ps_meta",
				   "ps_ttl", "ps_cmds", "prog_xdp", "prog_tc" };
#define N_PINS (sizeof(pin_names) / sizeof(pin_names[0]))

static void unpin_all(const struct ps_target *t)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < N_PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, pin_names[i]);
		unlink(path);
	}
	rmdir(t->dir);
	snprintf(path, sizeof(path), "%s/%s", PS_PIN_ROOT,
		 *t->netns ? t->netns : "-");
	rmdir(path); /* only if empty */
	rmdir(PS_PIN_ROOT);
}

static int mkdirs(const struct ps_target *t)
{
	char path[PATH_MAX];

	mkdir(PS_PIN_ROOT, 0700);
	snprintf(path, sizeof(path), "%s/%s", PS_PIN_ROOT,
		 *t->netns ? t->netns : "-");
	mkdir(path, 0700);
	if (mkdir(t->dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "prestack: cannot create %s: %s\n", t->dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int pin_skel(struct prestack_bpf *skel, const struct ps_target *t)
{
	struct { struct bpf_map *m; const char *name; } maps[] = {
		{ skel->maps.ps_config, "ps_config" },
		{ skel->maps.ps_stats, "ps_stats" },
		{ skel->maps.ps_flows, "ps_flows" },
		{ skel->maps.ps_cache, "ps_cache" },
		{ skel->maps.ps_epochs, "ps_epochs" },
		{ skel->maps.ps_meta, "ps_meta" },
		{ skel->maps.ps_ttl, "ps_ttl" },
		{ skel->maps.ps_cmds, "ps_cmds" },
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, maps[i].name);
		if (bpf_map__pin(maps[i].m, path))
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/prog_xdp", t->dir);
	if (bpf_program__pin(skel->progs.ps_xdp, path))
		goto fail;
	snprintf(path, sizeof(path), "%s/prog_tc", t->dir);
	if (bpf_program__pin(skel->progs.ps_tc, path))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "prestack: cannot pin %s: %s\n", path, strerror(errno));
	return -1;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * Does the Redis on 127.0.0.1:port (in the current netns) require AUTH?
 * 1 yes, 0 no, -1 could not tell.
 */
static int redis_requires_auth(__u32 port)
{
	struct timeval tv = { 1, 0 };
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", (int)port, tv);
	redisReply *r;
	int ret = -1;

	if (!rc || rc->err)
		goto out;
	redisSetTimeout(rc, tv);
	r = redisCommand(rc, "PING");
	if (r) {
		ret = r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6);
		freeReplyObject(r);
	}
out:
	if (rc)
		redisFree(rc);
	return ret;
}

static void attach_usage(FILE *f)
{
	fprintf(f,
		"usage: prestack attach --dev IF [--netns NS] [--port PORT] [--mode M] [--skb]\n"
		"                       [--auth] [--password P] [--builtin-commands] [--no-ack-hold]\n"
		"\n"
		"Load prestack and attach it to IF: XDP ingress (GET fast path) and\n"
		"TC egress (translation, cache fill). Maps are pinned under\n"
		PS_PIN_ROOT "/<netns>/<dev>/ so that later invocations share them.\n"
		"\n"
		"  --dev IF       interface facing the clients (required)\n"
		"  --netns NS     named network namespace of IF (ip netns)\n"
		"  --port PORT    Redis port (default 6379)\n"
		"  --mode M       off | naive | guarded | retrans (default guarded)\n"
		"  --skb          generic (skb) XDP instead of native\n"
		"  --auth         Redis requires AUTH: answer only flows whose AUTH\n"
		"                 succeeded (detected by a PING to 127.0.0.1:PORT in\n"
		"                 the namespace when possible)\n"
		"  --password P   password to read Redis's command table with, when it\n"
		"                 requires AUTH (or REDISCLI_AUTH in the environment)\n"
		"  --builtin-commands  do not load Redis's command table (COMMAND);\n"
		"                 use the built-in read/write list only\n"
		"  --no-ack-hold  guarded: let the kernel's retransmissions acknowledge a\n"
		"                 request answered at XDP before the client has acked\n"
		"                 its reply (an ablation: a lost reply can then stall\n"
		"                 the connection; see README, live failures)\n"
		"\n"
		"Redis's command table is read from 127.0.0.1:PORT in the namespace:\n"
		"it decides which commands invalidate their key arguments (write),\n"
		"flush the cache (write without keys, scripts) or neither (read).\n");
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "port", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "skb", no_argument, NULL, 's' },
		{ "auth", no_argument, NULL, 'a' },
		{ "password", required_argument, NULL, 'P' },
		{ "builtin-commands", no_argument, NULL, 'B' },
		{ "no-ack-hold", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	__u32 cfg_flags = PS_CFG_DEFAULT;
	int auth;
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 1);
	const char *dev = NULL, *netns = NULL, *password = getenv("REDISCLI_AUTH");
	struct ps_cmdtable_counts cmds;
	bool builtin_cmds = false;
	struct prestack_bpf *skel = NULL;
	__u32 port = 6379, xdp_flags = XDP_FLAGS_DRV_MODE;
	int mode = PS_MODE_GUARDED, c, err, ifindex, ret = 1;
	bool xdp_on = false, tc_on = false, created = false, pinned = false;
	struct ps_meta meta = {};
	struct ps_target t;
	struct stat st;
	__u32 zero = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:p:m:sP:BHh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'p':
			if (ps_parse_u32(optarg, 1, 65535, &port)) {
				fprintf(stderr, "prestack attach: bad --port '%s' (1..65535)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			mode = ps_mode_parse(optarg);
			if (mode < 0) {
				fprintf(stderr, "prestack attach: bad --mode '%s' (off, naive, guarded, retrans)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's': xdp_flags = XDP_FLAGS_SKB_MODE; break;
		case 'a': cfg_flags |= PS_CFG_AUTH; break;
		case 'P': password = optarg; break;
		case 'B': builtin_cmds = true; break;
		case 'H': cfg_flags |= PS_CFG_NO_ACK_HOLD; break;
		case 'h': attach_usage(stdout); return 0;
		default: attach_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !dev) {
		fprintf(stderr, "prestack attach: %s\n", dev ? "unexpected argument" : "--dev is required");
		attach_usage(stderr);
		return EXIT_USAGE;
	}
	if (strlen(dev) >= IF_NAMESIZE) {
		fprintf(stderr, "prestack attach: interface name too long\n");
		return EXIT_USAGE;
	}
	if (ps_mount_bpffs())
		return 1;
	ps_target_set(&t, netns, dev);
	if (stat(t.dir, &st) == 0) {
		fprintf(stderr, "prestack: already attached to %s%s%s (%s); detach first\n",
			dev, netns ? " in netns " : "", netns ? netns : "", t.dir);
		return 1;
	}
	if (ps_netns_enter(netns))
		return 1;
	ifindex = (int)if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "prestack: no interface '%s'%s%s\n", dev,
			netns ? " in netns " : "", netns ? netns : "");
		return 1;
	}
	auth = redis_requires_auth(port);
	if (auth == 1 && !(cfg_flags & PS_CFG_AUTH)) {
		cfg_flags |= PS_CFG_AUTH;
		printf("Redis on 127.0.0.1:%u requires AUTH: only flows whose AUTH succeeded are answered\n",
		       port);
	} else if (auth < 0 && !(cfg_flags & PS_CFG_AUTH)) {
		fprintf(stderr, "prestack: could not reach Redis on 127.0.0.1:%u to check for AUTH; "
			"pass --auth if it requires a password\n", port);
	}
	if (cfg_flags & PS_CFG_NO_ACK_HOLD)
		printf("ACK hold off (--no-ack-hold): kernel retransmissions may ack requests "
		       "whose replies were lost\n");
	if (ps_loader_open(&skel, ps_verbose))
		return 1;
	if (ps_config_write(bpf_map__fd(skel->maps.ps_config), (__u32)mode,
			    cfg_flags, (__u16)port, 1)) {
		fprintf(stderr, "prestack: cannot write config: %s\n", strerror(errno));
		goto cleanup;
	}
	/* before XDP sees a packet: no window with the built-in guesses */
	if (builtin_cmds) {
		printf("command table: built-in list only (--builtin-commands)\n");
	} else if (ps_cmdtable_load(bpf_map__fd(skel->maps.ps_cmds), port, password, &cmds)) {
		fprintf(stderr, "prestack: could not read Redis's command table from 127.0.0.1:%u%s; "
			"using the built-in list (unknown commands invalidate every key-sized argument)\n",
			port, auth == 1 && !password ? " (it requires AUTH: pass --password)" : "");
	} else {
		printf("command table from Redis: %u commands (%u read, %u write, %u flush)\n",
		       cmds.total, cmds.read, cmds.write, cmds.flush);
	}

	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.ps_xdp),
			     xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "prestack: cannot attach XDP to %s: %s%s\n", dev,
			strerror(-err), err == -EBUSY || err == -EEXIST ?
			" (another XDP program is attached)" : "");
		goto cleanup;
	}
	xdp_on = true;

	hook.ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "prestack: cannot create clsact on %s: %s\n", dev,
			strerror(-err));
		goto cleanup;
	}
	created = !err;
	tco.prog_fd = bpf_program__fd(skel->progs.ps_tc);
	err = bpf_tc_attach(&hook, &tco);
	if (err) {
		fprintf(stderr, "prestack: cannot attach TC egress on %s: %s\n", dev,
			strerror(-err));
		goto cleanup;
	}
	tc_on = true;

	if (mkdirs(&t) || pin_skel(skel, &t))
		goto cleanup;
	pinned = true;
	meta.ifindex = (__u32)ifindex;
	meta.created_clsact = created;
	meta.xdp_prog_id = prog_id(bpf_program__fd(skel->progs.ps_xdp));
	meta.tc_prog_id = prog_id(bpf_program__fd(skel->progs.ps_tc));
	meta.tc_handle = tco.handle;
	meta.tc_priority = tco.priority;
	meta.xdp_flags = xdp_flags;
	meta.port = (__u16)port;
	meta.attached_unix = (__u64)time(NULL);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ps_meta), &zero, &meta, BPF_ANY)) {
		fprintf(stderr, "prestack: cannot write attachment record: %s\n", strerror(errno));
		goto cleanup;
	}
	printf("attached to %s%s%s (ifindex %d): xdp prog %u (%s), tc egress prog %u, mode %s, port %u\n",
	       dev, netns ? " in netns " : "", netns ? netns : "", ifindex,
	       meta.xdp_prog_id, xdp_flags == XDP_FLAGS_SKB_MODE ? "skb" : "native",
	       meta.tc_prog_id, ps_mode_name((__u32)mode), port);
	ret = 0;

cleanup:
	if (ret) {
		if (pinned || access(t.dir, F_OK) == 0)
			unpin_all(&t);
		if (tc_on) {
			tco.prog_fd = 0;
			tco.prog_id = 0;
			tco.flags = 0;
			bpf_tc_detach(&hook, &tco);
		}
		if (created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		if (xdp_on)
			bpf_xdp_detach(ifindex, xdp_flags, NULL);
	}
	prestack_bpf__destroy(skel);
	return ret;
}

static void target_usage(FILE *f, const char *cmd, const char *args,
			 const char *what)
{
	fprintf(f, "usage: prestack %s%s [--dev IF] [--netns NS]\n\n%s\n"
		"  --dev IF, --netns NS  the attachment (default: the only one)\n",
		cmd, args, what);
}

/*
 * Drain: stop answering and tracking new flows, keep translating the
 * flows that carry offsets until they close or `secs` pass. Returns the
 * flows still carrying offsets (0: safe to detach); on a timeout the
 * fast path is switched back on.
 */
static int drain(const struct ps_target *t, int flows_fd, __u32 secs, int *total)
{
	struct timespec t0, now;
	int cfg_fd = ps_pin_open(t, "ps_config", sizeof(struct ps_config));
	int n = ps_count_offset_flows(flows_fd, total);

	if (cfg_fd < 0 || ps_config_update(cfg_fd, -1, PS_CFG_DRAIN, 0, NULL))
		return n ? n : -1;
	printf("draining: nothing answered any more, %d flows with offsets still translated\n", n);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n > 0 && !ps_stop) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= (time_t)secs)
			break;
		nanosleep(&ts, NULL);
		n = ps_count_offset_flows(flows_fd, total);
	}
	if (n)
		ps_config_update(cfg_fd, -1, 0, PS_CFG_DRAIN, NULL);
	return n;
}

static int do_detach(const struct ps_target *t, bool force, __u32 drain_secs)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco);
	struct ps_meta meta;
	int flows_fd, meta_fd, n, total = 0, err;
	__u32 zero = 0, cur = 0;

	flows_fd = ps_pin_open(t, "ps_flows", sizeof(struct ps_flow));
	meta_fd = ps_pin_open(t, "ps_meta", sizeof(struct ps_meta));
	if (flows_fd < 0 || meta_fd < 0)
		return 1;
	n = ps_count_offset_flows(flows_fd, &total);
	if (n && drain_secs && !force) {
		n = drain(t, flows_fd, drain_secs, &total);
		if (n) {
			fprintf(stderr,
				"prestack: %d of %d flows still carry offsets after %u s of draining;\n"
				"not detached, answering again. Retry, or --force to cut them.\n",
				n, total, drain_secs);
			return 1;
		}
	}
	if (n && !force) {
		fprintf(stderr,
			"prestack: %d of %d flows carry a non-zero offset (bytes answered at XDP):\n"
			"detaching now would corrupt those connections. Let them close, or use --force.\n",
			n, total);
		return 1;
	}
	if (bpf_map_lookup_elem(meta_fd, &zero, &meta)) {
		fprintf(stderr, "prestack: no attachment record in %s\n", t->dir);
		return 1;
	}
	if (ps_netns_enter(t->netns))
		return 1;
	if (bpf_xdp_query_id((int)meta.ifindex, (int)meta.xdp_flags, &cur) == 0 &&
	    cur == meta.xdp_prog_id) {
		err = bpf_xdp_detach((int)meta.ifindex, meta.xdp_flags, NULL);
		if (err)
			fprintf(stderr, "prestack: XDP detach: %s\n", strerror(-err));
	} else {
		fprintf(stderr, "prestack: XDP program on %s is not ours (id %u), left alone\n",
			t->dev, cur);
	}
	hook.ifindex = (int)meta.ifindex;
	tco.handle = meta.tc_handle;
	tco.priority = meta.tc_priority;
	err = bpf_tc_detach(&hook, &tco);
	if (err && err != -ENOENT)
		fprintf(stderr, "prestack: TC detach: %s\n", strerror(-err));
	if (meta.created_clsact) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	unpin_all(t);
	printf("detached from %s%s%s%s\n", t->dev, *t->netns ? " in netns " : "",
	       t->netns, n ? " (forced: flows with offsets were cut)" : "");
	return 0;
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "force", no_argument, NULL, 'f' },
		{ "drain", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL;
	bool force = false;
	__u32 drain_secs = 0;
	struct ps_target t;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:fD:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'f': force = true; break;
		case 'D':
			if (ps_parse_u32(optarg, 1, 86400, &drain_secs)) {
				fprintf(stderr, "prestack detach: bad --drain '%s' (1..86400 s)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			target_usage(stdout, "detach", " [--drain SECS] [--force]",
				     "Detach prestack and remove its pins. Refused while flows carry\n"
				     "a non-zero offset (their streams would break), unless --force.\n"
				     "  --drain SECS  first stop answering and tracking new flows and wait\n"
				     "                up to SECS for the flows with offsets to close\n"
				     "                (still translated meanwhile); refused if some remain");
			return 0;
		default:
			target_usage(stderr, "detach", " [--drain SECS] [--force]", "");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prestack detach: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (ps_target_find(&t, netns, dev))
		return 1;
	ps_stop_on_signals();
	return do_detach(&t, force, drain_secs);
}

int cmd_mode(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL;
	struct ps_config cfg;
	struct ps_target t;
	bool force = false;
	int c, mode, fd, ffd, n, total;
	__u32 zero = 0, old;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'f': force = true; break;
		case 'h':
			target_usage(stdout, "mode", " off|naive|guarded|retrans [--force]",
				     "Switch mode at run time. Switching to off forgets every flow; it is\n"
				     "refused while flows carry a non-zero offset unless --force.");
			return 0;
		default:
			target_usage(stderr, "mode", " off|naive|guarded|retrans [--force]", "");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (mode = ps_mode_parse(argv[optind])) < 0) {
		fprintf(stderr, "prestack mode: give one of off, naive, guarded, retrans\n");
		return EXIT_USAGE;
	}
	if (ps_target_find(&t, netns, dev))
		return 1;
	fd = ps_pin_open(&t, "ps_config", sizeof(struct ps_config));
	ffd = ps_pin_open(&t, "ps_flows", sizeof(struct ps_flow));
	if (fd < 0 || ffd < 0 || bpf_map_lookup_elem(fd, &zero, &cfg))
		return 1;
	old = cfg.mode;
	if (mode == PS_MODE_OFF && old != PS_MODE_OFF) {
		n = ps_count_offset_flows(ffd, &total);
		if (n && !force) {
			fprintf(stderr,
				"prestack: %d of %d flows carry a non-zero offset: off stops translating\n"
				"them and would corrupt those connections. Let them close, or use --force.\n",
				n, total);
			return 1;
		}
	}
	if (ps_config_update(fd, mode, 0, 0, NULL)) {
		fprintf(stderr, "prestack: cannot update config: %s\n", strerror(errno));
		return 1;
	}
	if (mode == PS_MODE_OFF) {
		/* off touches no flow: whatever is tracked now would be stale
		 * when a mode comes back, so forget it (those connections
		 * stay unanswered, never corrupted) */
		struct ps_flow_key k;

		while (bpf_map_get_next_key(ffd, NULL, &k) == 0)
			bpf_map_delete_elem(ffd, &k);
	}
	printf("mode %s -> %s\n", ps_mode_name(old), ps_mode_name((__u32)mode));
	return 0;
}

static void status_one(const struct ps_target *t, bool json, bool first)
{
	struct ps_meta meta = {};
	struct ps_config cfg = {};
	int mfd, cfd, ffd, kfd;
	long flows, entries;
	__u32 zero = 0;

	mfd = ps_pin_open(t, "ps_meta", sizeof(meta));
	cfd = ps_pin_open(t, "ps_config", sizeof(cfg));
	ffd = ps_pin_open(t, "ps_flows", sizeof(struct ps_flow));
	kfd = ps_pin_open(t, "ps_cache", sizeof(struct ps_cache_val));
	if (mfd < 0 || cfd < 0 || ffd < 0 || kfd < 0)
		goto out;
	bpf_map_lookup_elem(mfd, &zero, &meta);
	bpf_map_lookup_elem(cfd, &zero, &cfg);
	flows = ps_map_count(ffd, sizeof(struct ps_flow_key));
	entries = ps_map_count(kfd, sizeof(struct ps_cache_key));
	if (json)
		printf("%s{\"netns\":\"%s\",\"dev\":\"%s\",\"ifindex\":%u,\"port\":%u,"
		       "\"mode\":\"%s\",\"xdp_prog_id\":%u,\"tc_prog_id\":%u,"
		       "\"flows\":%ld,\"cache_entries\":%ld,\"cache_gen\":%u}",
		       first ? "" : ",", t->netns, t->dev, meta.ifindex, meta.port,
		       ps_mode_name(cfg.mode), meta.xdp_prog_id, meta.tc_prog_id,
		       flows, entries, cfg.cache_gen);
	else
		printf("%s%s%s: ifindex %u, port %u, mode %s, xdp prog %u, tc prog %u, "
		       "%ld flows, %ld cache entries (generation %u)\n",
		       t->dev, *t->netns ? " in netns " : "", t->netns, meta.ifindex,
		       meta.port, ps_mode_name(cfg.mode), meta.xdp_prog_id,
		       meta.tc_prog_id, flows, entries, cfg.cache_gen);
out:
	if (mfd >= 0) close(mfd);
	if (cfd >= 0) close(cfd);
	if (ffd >= 0) close(ffd);
	if (kfd >= 0) close(kfd);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		PS_TARGET_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dev = NULL, *netns = NULL;
	struct ps_target all[16];
	bool json = false;
	int c, n, i;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:n:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'n': netns = optarg; break;
		case 'j': json = true; break;
		case 'h':
			target_usage(stdout, "status", " [--json]",
				     "Show the attachments (all, or the one chosen), their mode,\n"
				     "programs, flows and cache size.");
			return 0;
		default:
			target_usage(stderr, "status", " [--json]", "");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prestack status: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	n = ps_scan(netns, dev, all, 16);
	if (json)
		printf("[");
	else if (!n)
		printf("not attached%s%s\n", dev || netns ? " there" : " anywhere", "");
	for (i = 0; i < n && i < 16; i++)
		status_one(&all[i], json, i == 0);
	if (json)
		printf("]\n");
	return 0;
}
