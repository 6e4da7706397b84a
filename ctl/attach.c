// SPDX-License-Identifier: GPL-2.0
/* attach.c - attach and detach: programs on the interface, pins in bpffs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <hiredis/hiredis.h>
#include "deploy.h"
#include "loader.h"
#include "opts.h"
#include "redis.h"

/*
 * The attachment's dir, parents first. The dir itself must be new: its
 * existence is what "attached" means, and libbpf would reuse the maps
 * pinned in it (LIBBPF_PIN_BY_NAME) instead of creating fresh ones.
 */
static int make_pin_dir(const struct ps_target *t)
{
	char path[PATH_MAX];

	mkdir(PS_PIN_ROOT, 0700);
	snprintf(path, sizeof(path), "%s/%s", PS_PIN_ROOT, *t->netns ? t->netns : "-");
	mkdir(path, 0700);
	if (mkdir(t->dir, 0700) == 0)
		return 0;
	if (errno == EEXIST)
		ps_err("already attached to %s%s%s (%s); detach first", t->dev,
		       *t->netns ? " in netns " : "", t->netns, t->dir);
	else
		ps_err("cannot create %s: %s", t->dir, strerror(errno));
	return -1;
}

/* the maps were pinned at load; the programs are pinned here */
static int pin_prog(struct bpf_program *prog, const struct ps_target *t, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	if (bpf_program__pin(prog, path)) {
		ps_err("cannot pin %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
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
		goto cleanup;
	redisSetTimeout(rc, tv);
	r = redisCommand(rc, "PING");
	if (r) {
		ret = r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6);
		freeReplyObject(r);
	}
cleanup:
	if (rc)
		redisFree(rc);
	return ret;
}

struct attach_opts {
	__u32 port;
	int mode;
	bool skb, auth, builtin_cmds, no_ack_hold, no_coherence, no_tc_reply, cut;
	const char *password;
	__u32 flow_entries, rtx_entries;   /* 0: the sizes in prestack.h */
};

#define WATCHER_LOG_DIR "/run/prestack"
#define LEASE_WAIT_MS   5000  /* how long attach waits for the first lease */

static void watcher_log(const struct ps_target *t, char *path, size_t n)
{
	snprintf(path, n, WATCHER_LOG_DIR "/coherence-%s-%s.log",
		 *t->netns ? t->netns : "-", t->dev);
}

/*
 * Start `prestack coherence --supervise` for this attachment, detached from
 * our terminal, its output in WATCHER_LOG_DIR. Returns its PID, or 0.
 */
static pid_t start_watcher(const struct ps_target *t, __u32 port, const char *password)
{
	char redis[32], log[PATH_MAX];
	pid_t pid;

	snprintf(redis, sizeof(redis), "127.0.0.1:%u", port);
	watcher_log(t, log, sizeof(log));
	mkdir(WATCHER_LOG_DIR, 0755);
	pid = fork();
	if (pid < 0) {
		ps_err("cannot start the coherence watcher: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		char *argv[] = { "prestack", "coherence", "--supervise", "--redis", redis,
				 "--netns", *t->netns ? (char *)t->netns : "", "--dev",
				 (char *)t->dev, NULL };
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		/* the skeleton's descriptors would keep the programs alive */
		close_range(3, ~0u, 0);
		if (password)
			setenv("REDISCLI_AUTH", password, 1);
		if (!*t->netns) {
			argv[5] = "--dev";   /* no --netns: the current one */
			argv[6] = (char *)t->dev;
			argv[7] = NULL;
		}
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	return pid;
}

/* Wait for the watcher's first lease: 1 granted, 0 not within the wait. */
static int wait_lease(int lease_fd)
{
	__u32 idx = PS_LEASE_UNTIL;

	for (int i = 0; i < LEASE_WAIT_MS / 20; i++) {
		struct timespec now, ts = { 0, 20 * 1000 * 1000 };
		__u64 until = 0;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!bpf_map_lookup_elem(lease_fd, &idx, &until) &&
		    until > (__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/*
 * Stop the watcher attach started, if it is still ours (the PID could have
 * been reused): SIGTERM, then SIGKILL after 3 s. 0, or -1 if it stays.
 */
static int stop_watcher(pid_t pid, const char *dev)
{
	char path[64], cmd[512] = "";
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;                   /* gone already */
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	if (n <= 0 || !strstr(cmd, "coherence --supervise") || !strstr(cmd, dev))
		return 0;                   /* not ours */
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (kill(pid, 0) && errno == ESRCH)
			return 0;
		waitpid(pid, NULL, WNOHANG);
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
	ps_err("coherence watcher %d did not stop on SIGTERM: killed", (int)pid);
	return 0;
}

/*
 * Connections to Redis already open: the side path did not see them
 * begin, so it cannot tell where their commands start; until they close
 * each of their segments with data flushes the cache and nothing is
 * filled. Counted from /proc/net/tcp{,6} of the namespace entered.
 */
static void pre_attach_conns(__u32 port)
{
	static const char *const files[] = { "/proc/self/net/tcp", "/proc/self/net/tcp6" };
	char line[512], local[64];
	unsigned st, lport, n = 0;

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			/* "sl local rem st ...": local is ADDR:PORT in hex */
			if (sscanf(line, " %*s %63s %*s %x", local, &st) == 2 && st == 1 &&
			    sscanf(strrchr(local, ':') ? strrchr(local, ':') + 1 : "", "%x",
				   &lport) == 1 && lport == port)
				n++;
		fclose(f);
	}
	if (n)
		printf("%u connections to Redis were open before attach: the side path cannot "
		       "follow them; until they close each of their writes flushes the cache and "
		       "nothing is filled\n", n);
}

static const struct attach_opts attach_defaults = {
	.port = 6379,
	.mode = PS_MODE_GUARDED,
};

static const struct ps_opt attach_opts[] = {
	PS_OPT("port", 'p', PS_OPT_U32, "PORT", struct attach_opts, port,
	       "Redis port", .min = 1, .max = 65535),
	PS_OPT("mode", 'm', PS_OPT_MODE, "M", struct attach_opts, mode,
	       "off | naive | guarded | retrans | poststack"),
	PS_OPT("skb", 's', PS_OPT_FLAG, NULL, struct attach_opts, skb,
	       "generic (skb) XDP instead of native"),
	PS_OPT("auth", 0, PS_OPT_FLAG, NULL, struct attach_opts, auth,
	       "Redis requires AUTH: answer only flows whose AUTH\n"
	       "succeeded (detected by a PING to 127.0.0.1:PORT in\n"
	       "the namespace when possible)"),
	PS_OPT("password", 'P', PS_OPT_STR, "P", struct attach_opts, password,
	       "password to read Redis's command table with, when it\n"
	       "requires AUTH (or REDISCLI_AUTH in the environment)"),
	PS_OPT("builtin-commands", 'B', PS_OPT_FLAG, NULL, struct attach_opts, builtin_cmds,
	       "do not load Redis's command table (COMMAND);\n"
	       "use the built-in read/write list only"),
	PS_OPT("no-ack-hold", 'H', PS_OPT_FLAG, NULL, struct attach_opts, no_ack_hold,
	       "guarded: let the kernel's retransmissions acknowledge a\n"
	       "request answered at XDP before the client has acked\n"
	       "its reply (an ablation: a lost reply can then stall\n"
	       "the connection; see paper/, the ACK hold)"),
	PS_OPT("no-coherence", 'C', PS_OPT_FLAG, NULL, struct attach_opts, no_coherence,
	       "no side path, no coherence watcher, no lease. RISK: a\n"
	       "write XDP does not see (another interface, loopback,\n"
	       "a script, a TTL that ends) leaves the old value cached\n"
	       "and answered"),
	PS_OPT("cut", 'U', PS_OPT_FLAG, NULL, struct attach_opts, cut,
	       "guarded/retrans: answer GETs inside pipelined segments\n"
	       "one by one, their replies inserted into Redis's reply\n"
	       "stream (docs/pipelines.md). EXPERIMENTAL. RISK: under\n"
	       "heavy pipelined load a client has read another key's\n"
	       "value (once in about 15 runs of 5 s), and it costs\n"
	       "about 1 us of XDP time per GET cut (GET:SET 10:1 at\n"
	       "pipeline 16: half the rate without it)"),
	PS_OPT("no-tc-reply", 'T', PS_OPT_FLAG, NULL, struct attach_opts, no_tc_reply,
	       "do not attach the TC ingress reply program: GETs whose\n"
	       "reply does not fit XDP's frame (values over ~200 B on\n"
	       "veth, over one MSS anywhere, all of ps_cache_big) go to\n"
	       "Redis (docs/tc-reply.md)"),
	PS_OPT("flow-entries", 0, PS_OPT_U32, "N", struct attach_opts, flow_entries,
	       "size ps_flows for N flows instead of PS_FLOW_ENTRIES\n"
	       "(a test knob: the campaign's soak fills it; flows past\n"
	       "it are not tracked, counted flows_full)", .min = 1, .max = 1u << 24),
	PS_OPT("rtx-entries", 0, PS_OPT_U32, "N", struct attach_opts, rtx_entries,
	       "size ps_rtx, ps_tcr_refs and ps_tcr_asm for N replies\n"
	       "instead of PS_RTX_ENTRIES (a test knob: forces their\n"
	       "LRU eviction, counted rtx_gone / tc_lost)", .min = 1, .max = 1u << 24),
	{}
};

static int attach_run(struct ps_call *c, void *opts)
{
	const struct attach_opts *o = opts;
	const struct ps_target *t = &c->t;
	const char *password = o->password ? o->password : getenv("REDISCLI_AUTH");
	/* priority 2: the side path's filters (PS_SIDE_PRIO) go first */
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 2);
	LIBBPF_OPTS(bpf_tc_hook, hook_in, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco_in, .handle = 1, .priority = 2);
	__u32 xdp_flags = o->skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	/* the flags come from deploy.h (pktcost measures the same) */
	struct ps_deploy dep = { .auth = o->auth, .no_ack_hold = o->no_ack_hold,
				 .no_coherence = o->no_coherence, .cut = o->cut,
				 .no_tc_reply = o->no_tc_reply, .writes_unsure = true };
	__u32 cfg_flags;
	bool made_dir = false, xdp_on = false, tc_on = false, tc_in_on = false, created = false,
	     side_on = false;
	struct ps_redis_prof prof;
	unsigned side_ifs = 0;
	int have_prof = 0;
	struct prestack_bpf *skel = NULL;
	struct ps_cmdtable_counts cmds;
	struct ps_meta meta = {};
	__u32 post_id = 0;
	int err, ifindex = 0, auth, ret = 1;
	__u32 zero = 0;

	if (ps_mount_bpffs() || make_pin_dir(t))
		goto cleanup;
	made_dir = true;
	if (ps_netns_enter(c->netns))
		goto cleanup;
	ifindex = (int)if_nametoindex(t->dev);
	if (!ifindex) {
		ps_err("no interface '%s'%s%s", t->dev, *t->netns ? " in netns " : "", t->netns);
		goto cleanup;
	}
	auth = redis_requires_auth(o->port);
	if (auth == 1 && !dep.auth) {
		dep.auth = true;
		printf("Redis on 127.0.0.1:%u requires AUTH: only flows whose AUTH succeeded are answered\n",
		       o->port);
	} else if (auth < 0 && !dep.auth) {
		ps_err("could not reach Redis on 127.0.0.1:%u to check for AUTH; "
		       "pass --auth if it requires a password", o->port);
	}
	if (dep.no_ack_hold)
		printf("ACK hold off (--no-ack-hold): kernel retransmissions may ack requests "
		       "whose replies were lost\n");
	/* may a well-formed write fail here? (the watcher looks again) */
	if (!o->no_coherence) {
		redisContext *rc = ps_redis_connect("127.0.0.1", o->port, 1, password, true);

		have_prof = rc && !ps_redis_profile(rc, &prof);
		if (rc)
			redisFree(rc);
		dep.writes_unsure = !(have_prof && prof.writes_sure);
	}
	cfg_flags = ps_deploy_flags(&dep);
	if (!(cfg_flags & PS_CFG_NO_CUT))
		printf("per-command answering on (--cut, experimental): GETs are answered "
		       "inside pipelined segments; see docs/pipelines.md for what can go wrong\n");
	/* the maps are pinned in the new dir as they are created */
	if (ps_loader_open(&skel, t->dir, o->flow_entries, o->rtx_entries))
		goto cleanup;
	if (ps_config_write(bpf_map__fd(skel->maps.ps_config), (__u32)o->mode,
			    cfg_flags & ~PS_DEPLOY_LATE, (__u16)o->port, 1)) {
		ps_err("cannot write config: %s", strerror(errno));
		goto cleanup;
	}
	{
		/* absolute TTLs (EXAT, PXAT, ...) onto our clock */
		__u32 idx = PS_LEASE_CLOCK_OFF;
		__u64 off = ps_clock_off();

		bpf_map_update_elem(bpf_map__fd(skel->maps.ps_lease), &idx, &off, BPF_ANY);
	}
	/* before XDP sees a packet: no window with the built-in guesses */
	if (o->builtin_cmds) {
		printf("command table: built-in list only (--builtin-commands)\n");
	} else if (ps_cmdtable_load(bpf_map__fd(skel->maps.ps_cmds), o->port, password, &cmds)) {
		ps_err("could not read Redis's command table from 127.0.0.1:%u%s; "
		       "using the built-in list (unknown commands invalidate every key-sized argument)",
		       o->port, auth == 1 && !password ? " (it requires AUTH: pass --password)" : "");
	} else {
		printf("command table from Redis: %u commands (%u read, %u write, %u flush, "
		       "%u by subcommand: %u subcommands)\n", cmds.total, cmds.read, cmds.write,
		       cmds.flush, cmds.containers, cmds.subcommands);
	}

	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.ps_xdp),
			     xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		ps_err("cannot attach XDP to %s: %s%s", t->dev, strerror(-err),
		       err == -EBUSY || err == -EEXIST ? " (another XDP program is attached)" : "");
		goto cleanup;
	}
	xdp_on = true;

	hook.ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		ps_err("cannot create clsact on %s: %s", t->dev, strerror(-err));
		goto cleanup;
	}
	created = !err;
	tco.prog_fd = bpf_program__fd(skel->progs.ps_tc);
	err = bpf_tc_attach(&hook, &tco);
	if (err) {
		ps_err("cannot attach TC egress on %s: %s", t->dev, strerror(-err));
		goto cleanup;
	}
	tc_on = true;
	/* the reply path XDP hands over to; XDP does so only once the
	 * config says it is there (below) */
	if (!o->no_tc_reply) {
		hook_in.ifindex = ifindex;
		tco_in.prog_fd = bpf_program__fd(skel->progs.ps_tc_in);
		err = bpf_tc_attach(&hook_in, &tco_in);
		if (err) {
			ps_err("cannot attach TC ingress on %s: %s", t->dev, strerror(-err));
			goto cleanup;
		}
		tc_in_on = true;
		if (ps_config_update(bpf_map__fd(skel->maps.ps_config), -1,
				     cfg_flags & PS_CFG_TC_REPLY, 0, NULL)) {
			ps_err("cannot switch the TC reply path on: %s", strerror(errno));
			goto cleanup;
		}
	}

	if (pin_prog(skel->progs.ps_xdp, t, "prog_xdp") ||
	    pin_prog(skel->progs.ps_tc, t, "prog_tc"))
		goto cleanup;
	/* every other TCP path into Redis: loopback, the other interfaces,
	 * what XDP does not follow here */
	if (!o->no_coherence) {
		if (ps_side_attach(t, (__u32)ifindex, &side_ifs))
			goto cleanup;
		side_on = true;
		if (ps_config_update(bpf_map__fd(skel->maps.ps_config), -1, cfg_flags & PS_CFG_SIDE,
				     0, NULL)) {
			ps_err("cannot switch the side path on: %s", strerror(errno));
			goto cleanup;
		}
	}
	/* the post-stack programs, in every mode so that `mode poststack`
	 * works at run time: until then sockops puts no socket in the
	 * sockhash, and no other socket meets the sk_skb/sk_msg programs */
	if (ps_post_attach(t, &post_id)) {
		if (o->mode == PS_MODE_POSTSTACK)
			goto cleanup;
		ps_err("poststack unavailable on this attachment (the other modes are not affected)");
	}
	meta.ifindex = (__u32)ifindex;
	meta.created_clsact = created;
	meta.xdp_prog_id = prog_id(bpf_program__fd(skel->progs.ps_xdp));
	meta.tc_prog_id = prog_id(bpf_program__fd(skel->progs.ps_tc));
	meta.tc_handle = tco.handle;
	meta.tc_priority = tco.priority;
	meta.tc_in_prog_id = tc_in_on ? prog_id(bpf_program__fd(skel->progs.ps_tc_in)) : 0;
	meta.xdp_flags = xdp_flags;
	meta.port = (__u16)o->port;
	meta.attached_unix = (__u64)time(NULL);
	if (!o->no_coherence)
		meta.watcher_pid = (__u32)start_watcher(t, o->port, password);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ps_meta), &zero, &meta, BPF_ANY)) {
		ps_err("cannot write attachment record: %s", strerror(errno));
		goto cleanup;
	}
	printf("attached to %s%s%s (ifindex %d): xdp prog %u (%s), tc egress prog %u, mode %s, port %u\n",
	       t->dev, *t->netns ? " in netns " : "", t->netns, ifindex,
	       meta.xdp_prog_id, xdp_flags == XDP_FLAGS_SKB_MODE ? "skb" : "native",
	       meta.tc_prog_id, ps_mode_name((__u32)o->mode), o->port);
	if (tc_in_on)
		printf("tc ingress reply prog %u: replies XDP cannot carry, values up to %d bytes\n",
		       meta.tc_in_prog_id, PS_VAL_MAX);
	else
		printf("tc ingress reply path off (--no-tc-reply): values over %d bytes are not "
		       "cached, larger replies go to Redis\n", PS_SMALL_VAL_MAX);
	if (post_id)
		printf("poststack: sockops at the cgroup-v2 root, sk_skb verdict prog %u%s\n",
		       post_id, o->mode == PS_MODE_POSTSTACK ?
		       " (sockets Redis accepts from now on are answered after the stack)" : "");
	if (o->no_coherence) {
		printf("coherence off (--no-coherence): no side path, no watcher: writes XDP does "
		       "not see are served stale from the cache\n");
	} else {
		printf("side path on %u interfaces (loopback and every other, and what XDP does "
		       "not follow on %s): writes invalidated before Redis reads them\n",
		       side_ifs, t->dev);
		if (have_prof && !prof.writes_sure)
			printf("TTLs: %s: a TTL write is recorded at its earliest outcome until "
			       "the watcher confirms it\n", prof.why);
		if (have_prof && (prof.unixsocket || prof.modules))
			printf("%s: their writes reach the cache by keyspace events only "
			       "(asynchronously; the watcher subscribes to every class)\n",
			       prof.unixsocket ? "Redis listens on a Unix socket" : "Redis has modules");
		pre_attach_conns(o->port);
		char log[PATH_MAX];

		watcher_log(t, log, sizeof(log));
		if (meta.watcher_pid && wait_lease(bpf_map__fd(skel->maps.ps_lease)))
			printf("coherence watcher %u holds the lease (log %s)\n",
			       meta.watcher_pid, log);
		else
			ps_err("the coherence watcher has no lease yet (log %s): nothing is "
			       "answered at XDP until it has", log);
	}
	ret = 0;

cleanup:
	/* undo what was done; what stays behind is said (nothing records it) */
	if (ret) {
		stop_watcher((pid_t)meta.watcher_pid, t->dev);
		if (side_on)
			ps_side_detach(t);
		if (made_dir)
			ps_unpin_all(t);
		if (tc_in_on) {
			tco_in.prog_fd = 0;
			tco_in.prog_id = 0;
			tco_in.flags = 0;
			err = bpf_tc_detach(&hook_in, &tco_in);
			if (err)
				ps_err("left TC ingress attached on %s: %s", t->dev, strerror(-err));
		}
		if (tc_on) {
			tco.prog_fd = 0;
			tco.prog_id = 0;
			tco.flags = 0;
			err = bpf_tc_detach(&hook, &tco);
			if (err)
				ps_err("left TC egress attached on %s: %s", t->dev, strerror(-err));
		}
		if (created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			err = bpf_tc_hook_destroy(&hook);
			if (err)
				ps_err("left clsact on %s: %s", t->dev, strerror(-err));
		}
		if (xdp_on) {
			err = bpf_xdp_detach(ifindex, xdp_flags, NULL);
			if (err)
				ps_err("left XDP attached on %s: %s", t->dev, strerror(-err));
		}
	}
	prestack_bpf__destroy(skel);
	return ret;
}

const struct ps_cmd ps_cmd_attach = {
	.name = "attach",
	.summary = "load and attach to an interface (XDP + TC egress + TC ingress)",
	.description =
		"Load prestack and attach it to IF: XDP ingress (GET fast path) and\n"
		"TC egress (translation, cache fill), and unless --no-tc-reply TC\n"
		"ingress (replies XDP cannot carry). Maps are pinned under\n"
		PS_PIN_ROOT "/<netns>/<dev>/ so that later invocations share them;\n"
		"attaching where prestack is attached already is refused.\n"
		"\n"
		"Redis's command table is read from 127.0.0.1:PORT in the namespace:\n"
		"it decides which commands invalidate their key arguments (write),\n"
		"flush the cache (write without keys, scripts) or neither (read).\n"
		"\n"
		"Unless --no-coherence, attach puts the side path on every other\n"
		"interface of the namespace, loopback included (TC ingress and egress:\n"
		"the same request parser invalidates writes before Redis reads them;\n"
		"on IF itself, what XDP does not follow: IPv6, connections it does not\n"
		"track), starts `prestack coherence --supervise` on 127.0.0.1:PORT\n"
		"(expiry, eviction, TTLs to confirm, interfaces that appear later;\n"
		"stopped by detach, shown by status), and XDP answers only while the\n"
		"watcher's lease is fresh: a dead or hung watcher or a Redis restart\n"
		"stops the fast path within 300 ms instead of serving stale values.\n"
		"\n"
		"attach also loads the post-stack programs (poststack mode): a sockops\n"
		"program at the cgroup-v2 root that, in poststack mode, puts the sockets\n"
		"Redis accepts on PORT in this namespace in a sockhash, and the sk_skb\n"
		"and sk_msg programs on it. In poststack mode XDP and TC pass everything;\n"
		"only sockets accepted while the mode is poststack are answered.",
	.opts = attach_opts,
	.opts_size = sizeof(struct attach_opts),
	.defaults = &attach_defaults,
	.target = PS_TGT_NEW,
	.run = attach_run,
};

/*
 * Drain: stop answering and tracking new flows, keep translating the
 * flows that carry offsets until they close or `secs` pass. Returns the
 * flows still carrying offsets (0: safe to detach), -1 on an error; on a
 * timeout the fast path is switched back on.
 */
static int drain(const struct ps_maps *m, __u32 secs, int *total)
{
	struct timespec t0, now;
	int n = ps_count_offset_flows(m->flows, total);

	if (ps_config_update(m->config, -1, PS_CFG_DRAIN, 0, NULL)) {
		ps_err("cannot switch to draining: %s", strerror(errno));
		return -1;
	}
	printf("draining: nothing answered any more, %d flows with offsets still translated\n", n);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n > 0 && !ps_stop) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= (time_t)secs)
			break;
		nanosleep(&ts, NULL);
		n = ps_count_offset_flows(m->flows, total);
	}
	if (n && ps_config_update(m->config, -1, 0, PS_CFG_DRAIN, NULL)) {
		ps_err("cannot switch draining off again: %s", strerror(errno));
		return -1;
	}
	return n;
}

struct detach_opts {
	bool force;
	__u32 drain_secs;
};

static const struct ps_opt detach_opts[] = {
	PS_OPT("force", 'f', PS_OPT_FLAG, NULL, struct detach_opts, force,
	       "detach even if flows carry offsets (cuts them)"),
	PS_OPT("drain", 'D', PS_OPT_U32, "SECS", struct detach_opts, drain_secs,
	       "first stop answering and tracking new flows and wait\n"
	       "up to SECS for the flows with offsets to close\n"
	       "(still translated meanwhile); refused if some remain", .min = 1, .max = 86400),
	{}
};

static int detach_run(struct ps_call *c, void *opts)
{
	const struct detach_opts *o = opts;
	const struct ps_target *t = &c->t;
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco);
	struct ps_meta meta;
	int n, total = 0, n_post, total_post, err, ret = 0;
	__u32 zero = 0, cur = 0;

	ps_stop_on_signals();
	n = ps_count_offset_flows(c->maps.flows, &total);
	if (n && o->drain_secs && !o->force) {
		n = drain(&c->maps, o->drain_secs, &total);
		if (n < 0)
			return 1;
		if (n) {
			ps_err("%d of %d flows still carry offsets after %u s of draining;\n"
			       "not detached, answering again. Retry, or --force to cut them.",
			       n, total, o->drain_secs);
			return 1;
		}
	}
	if (n && !o->force) {
		ps_err("%d of %d flows carry a non-zero offset (bytes answered at XDP):\n"
		       "detaching now would corrupt those connections. Let them close, or use --force.",
		       n, total);
		return 1;
	}
	n_post = ps_post_lagging(t, &total_post);
	if (n_post && !o->force) {
		ps_err("%d of %d Redis sockets in the post-stack path have answers shorter than\n"
		       "their requests behind them (copied_seq lags): back on the plain stack their\n"
		       "reads would break. Let them close, or use --force.", n_post, total_post);
		return 1;
	}
	if (bpf_map_lookup_elem(c->maps.meta, &zero, &meta)) {
		ps_err("no attachment record in %s", t->dir);
		return 1;
	}
	/* the watcher first: it renews nothing once the programs are gone */
	stop_watcher((pid_t)meta.watcher_pid, t->dev);
	if (ps_netns_enter(t->netns))
		return 1;
	if (ps_side_detach(t))
		ret = 1;
	/* from here on every step is tried; any failure is the exit status */
	if (bpf_xdp_query_id((int)meta.ifindex, (int)meta.xdp_flags, &cur) == 0 &&
	    cur == meta.xdp_prog_id) {
		err = bpf_xdp_detach((int)meta.ifindex, meta.xdp_flags, NULL);
		if (err) {
			ps_err("XDP detach: %s", strerror(-err));
			ret = 1;
		}
	} else {
		ps_err("XDP program on %s is not ours (id %u), left alone", t->dev, cur);
	}
	hook.ifindex = (int)meta.ifindex;
	tco.handle = meta.tc_handle;
	tco.priority = meta.tc_priority;
	err = bpf_tc_detach(&hook, &tco);
	if (err && err != -ENOENT) {
		ps_err("TC detach: %s", strerror(-err));
		ret = 1;
	}
	if (meta.tc_in_prog_id) {
		hook.attach_point = BPF_TC_INGRESS;
		tco.prog_id = 0;
		tco.flags = 0;
		tco.prog_fd = 0;
		err = bpf_tc_detach(&hook, &tco);
		if (err && err != -ENOENT) {
			ps_err("TC ingress detach: %s", strerror(-err));
			ret = 1;
		}
	}
	if (meta.created_clsact) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err && err != -ENOENT) {
			ps_err("cannot remove clsact from %s: %s", t->dev, strerror(-err));
			ret = 1;
		}
	}
	if (ps_unpin_all(t))
		ret = 1;
	printf("detached from %s%s%s%s\n", t->dev, *t->netns ? " in netns " : "",
	       t->netns, n ? " (forced: flows with offsets were cut)" : "");
	return ret;
}

const struct ps_cmd ps_cmd_detach = {
	.name = "detach",
	.summary = "detach and remove the pins",
	.description =
		"Detach prestack and remove its pins. Refused while flows carry\n"
		"a non-zero offset (their streams would break), or while Redis sockets\n"
		"in the post-stack path have a copied_seq lag (docs/poststack.md),\n"
		"unless --force.",
	.opts = detach_opts,
	.opts_size = sizeof(struct detach_opts),
	.target = PS_TGT_ONE,
	.maps = PS_MAP_FLOWS | PS_MAP_META | PS_MAP_CONFIG,
	.run = detach_run,
};
