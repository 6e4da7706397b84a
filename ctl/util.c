// SPDX-License-Identifier: GPL-2.0
/* util.c - errors, pins, namespaces, number parsing, JSON strings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"
#include "cachefmt.h"

bool ps_verbose;

const char *const ps_stat_names[] = PS_STAT_NAMES;
_Static_assert(sizeof(ps_stat_names) / sizeof(ps_stat_names[0]) == PS_ST__MAX,
	       "PS_STAT_NAMES and enum ps_stat disagree");

static const char *log_cmd;

void ps_log_cmd(const char *name)
{
	log_cmd = name;
}

void ps_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "prestack%s%s: ", log_cmd ? " " : "", log_cmd ? log_cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ps_parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (__u32)v;
	return 0;
}

int ps_parse_hostport(const char *s, char *host, size_t hn, __u32 *port)
{
	const char *c = strrchr(s, ':');

	if (!c || c == s || (size_t)(c - s) >= hn || ps_parse_u32(c + 1, 1, 65535, port))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	return 0;
}

static const char *mode_names[] = { "off", "naive", "guarded", "retrans", "poststack" };
_Static_assert(sizeof(mode_names) / sizeof(mode_names[0]) == PS_MODE__MAX,
	       "mode_names and enum ps_mode disagree");

int ps_mode_parse(const char *s)
{
	for (unsigned i = 0; i < PS_MODE__MAX; i++)
		if (!strcmp(s, mode_names[i]))
			return (int)i;
	return -1;
}

const char *ps_mode_name(__u32 mode)
{
	return mode < PS_MODE__MAX ? mode_names[mode] : "?";
}

void ps_json_str(FILE *f, const void *buf, size_t n)
{
	const unsigned char *s = buf;

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			fprintf(f, "\\u%04x", s[i]);
		else
			fputc(s[i], f);
	}
	fputc('"', f);
}

int ps_mount_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir("/sys/fs/bpf", 0755);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
		ps_err("cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int ps_netns_enter(const char *netns)
{
	char path[PATH_MAX];
	int fd;

	if (!netns || !*netns)
		return 0;
	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ps_err("no network namespace '%s' (%s)", netns, strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET)) {
		ps_err("cannot enter netns '%s': %s", netns, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void ps_target_set(struct ps_target *t, const char *netns, const char *dev)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->netns, sizeof(t->netns), "%s", netns ? netns : "");
	snprintf(t->dev, sizeof(t->dev), "%s", dev ? dev : "");
	snprintf(t->dir, sizeof(t->dir), "%s/%s/%s", PS_PIN_ROOT,
		 *t->netns ? t->netns : "-", t->dev);
}

/* Every attachment under PS_PIN_ROOT matching the filters. */
int ps_scan(const char *netns, const char *dev, struct ps_target *found,
		int max)
{
	DIR *root, *sub;
	struct dirent *a, *b;
	int n = 0;

	root = opendir(PS_PIN_ROOT);
	if (!root)
		return 0;
	while ((a = readdir(root))) {
		char path[PATH_MAX];

		if (a->d_name[0] == '.')
			continue;
		if (netns && strcmp(a->d_name, *netns ? netns : "-"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", PS_PIN_ROOT, a->d_name);
		sub = opendir(path);
		if (!sub)
			continue;
		while ((b = readdir(sub))) {
			if (b->d_name[0] == '.')
				continue;
			if (dev && strcmp(b->d_name, dev))
				continue;
			if (n < max)
				ps_target_set(&found[n],
					      strcmp(a->d_name, "-") ? a->d_name : "",
					      b->d_name);
			n++;
		}
		closedir(sub);
	}
	closedir(root);
	return n;
}

int ps_target_find(struct ps_target *t, const char *netns, const char *dev)
{
	struct ps_target found[16];
	int n, i;

	n = ps_scan(netns, dev, found, 16);
	if (n == 1) {
		*t = found[0];
		return 0;
	}
	if (n == 0) {
		ps_err("not attached%s%s%s%s (see: prestack status)",
			dev ? " on " : "", dev ? dev : "",
			netns ? " in netns " : "", netns ? netns : "");
		return -1;
	}
	ps_err("%d attachments, choose one with --dev/--netns:", n);
	for (i = 0; i < n && i < 16; i++)
		fprintf(stderr, "  --netns %s --dev %s\n",
			*found[i].netns ? found[i].netns : "''", found[i].dev);
	return -1;
}

/* one table of the pinned maps' names and value sizes, for the openers */
static const struct {
	unsigned bit;
	size_t off;
	const char *name;
	__u32 value_size;
} pinned_maps[] = {
	{ PS_MAP_CONFIG, offsetof(struct ps_maps, config), "ps_config", sizeof(struct ps_config) },
	{ PS_MAP_STATS, offsetof(struct ps_maps, stats), "ps_stats", sizeof(__u64) },
	{ PS_MAP_FLOWS, offsetof(struct ps_maps, flows), "ps_flows", sizeof(struct ps_flow) },
	{ PS_MAP_CACHE, offsetof(struct ps_maps, cache), "ps_cache", sizeof(struct ps_cache_val) },
	{ PS_MAP_CACHE, offsetof(struct ps_maps, cache_big), "ps_cache_big",
	  sizeof(struct ps_cache_big_val) },
	{ PS_MAP_CACHE, offsetof(struct ps_maps, present), "ps_present", sizeof(__u64) },
	{ PS_MAP_EPOCHS, offsetof(struct ps_maps, epochs), "ps_epochs", sizeof(__u32) },
	{ PS_MAP_META, offsetof(struct ps_maps, meta), "ps_meta", sizeof(struct ps_meta) },
	{ PS_MAP_TTL, offsetof(struct ps_maps, ttl), "ps_ttl", sizeof(__u64) },
	{ PS_MAP_CMDS, offsetof(struct ps_maps, cmds), "ps_cmds", sizeof(__u32) },
	{ PS_MAP_LEASE, offsetof(struct ps_maps, lease), "ps_lease", sizeof(__u64) },
	{ PS_MAP_INFLIGHT, offsetof(struct ps_maps, inflight), "ps_wr_inflight", sizeof(__u32) },
};
#define N_PINNED_MAPS (sizeof(pinned_maps) / sizeof(pinned_maps[0]))

static int *map_fd(struct ps_maps *m, size_t i)
{
	return (int *)((char *)m + pinned_maps[i].off);
}

/* bpf_obj_get of <dir>/<name>, checking the value size */
static int pin_open(const struct ps_target *t, const char *name, __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		ps_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != value_size) {
		ps_err("%s has value size %u, this tool expects %u: rebuild or re-attach",
		       path, info.value_size, value_size);
		close(fd);
		return -1;
	}
	return fd;
}

int ps_maps_open(struct ps_maps *m, const struct ps_target *t, unsigned which)
{
	size_t i;

	for (i = 0; i < N_PINNED_MAPS; i++)
		*map_fd(m, i) = -1;
	for (i = 0; i < N_PINNED_MAPS; i++) {
		if (!(which & pinned_maps[i].bit))
			continue;
		*map_fd(m, i) = pin_open(t, pinned_maps[i].name, pinned_maps[i].value_size);
		if (*map_fd(m, i) < 0)
			return -1;
	}
	return 0;
}

void ps_maps_close(struct ps_maps *m)
{
	for (size_t i = 0; i < N_PINNED_MAPS; i++) {
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
		*map_fd(m, i) = -1;
	}
}

int ps_config_read(const struct ps_maps *m, struct ps_config *c)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->config, &zero, c)) {
		ps_err("cannot read ps_config: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* rmdir that tolerates "not there" and, with `if_empty`, "not empty" */
static int rmdir_quiet(const char *path, bool if_empty)
{
	if (rmdir(path) == 0 || errno == ENOENT ||
	    (if_empty && (errno == ENOTEMPTY || errno == EEXIST)))
		return 0;
	ps_err("cannot remove %s: %s", path, strerror(errno));
	return -1;
}

int ps_unpin_all(const struct ps_target *t)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	/* everything in the dir is a pin of ours: the maps libbpf pinned
	 * by name at load (pin_root_path) and the two programs */
	d = opendir(t->dir);
	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0)) {
				ps_err("cannot remove %s/%s: %s", t->dir, e->d_name,
				       strerror(errno));
				ret = -1;
			}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/%s", PS_PIN_ROOT, *t->netns ? t->netns : "-");
	if (rmdir_quiet(t->dir, false) || rmdir_quiet(path, true) ||
	    rmdir_quiet(PS_PIN_ROOT, true))
		ret = -1;
	return ret;
}

int ps_count_offset_flows(int fd, int *total)
{
	struct ps_flow_key k, next, *prev = NULL;
	struct ps_flow f;
	int n = 0, all = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f))
			continue;
		all++;
		/* a finished flow (kept only to translate late FIN/ACKs, as
		 * TIME_WAIT would answer them) has delivered all its bytes */
		if ((f.consumed || f.injected) && f.state != PS_FLOW_DONE)
			n++;
	}
	if (total)
		*total = all;
	return n;
}

/*
 * Entries in a hash map, or -1 if they cannot be counted. A get_next_key
 * whose key is no longer found starts again from the first bucket, so a
 * walk under deletions, or over an element the map cannot find again,
 * can go on forever: it is cut off after max_entries keys.
 */
long ps_map_count(int fd, size_t key_size)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	char k[128], next[128];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(k) || bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -1;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(k, next, key_size);
		prev = k;
		if (++n > (long)info.max_entries)
			return -1;
	}
	return n;
}

int ps_stats_read(int fd, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus(), ret = -1;
	__u64 *v = NULL;
	__u32 k;

	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v)))) {
		ps_err("cannot size the per-CPU counters");
		goto cleanup;
	}
	for (k = 0; k < PS_ST__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v)) {
			ps_err("cannot read counter %s: %s", ps_stat_names[k], strerror(errno));
			goto cleanup;
		}
		for (int i = 0; i < ncpu; i++)
			out[k] += v[i];
	}
	ret = 0;
cleanup:
	free(v);
	return ret;
}

long ps_map_clear(int fd, size_t key_size)
{
	char k[128];
	long n = 0;

	if (key_size > sizeof(k)) {
		errno = EINVAL;
		return -1;
	}
	/* the first key each time: the one before it is gone */
	while (bpf_map_get_next_key(fd, NULL, k) == 0) {
		if (bpf_map_delete_elem(fd, k) && errno != ENOENT)
			return -1;
		n++;
	}
	return n;
}

int ps_epoch_bump(int epochs_fd, const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k), e = 0;

	if (bpf_map_lookup_elem(epochs_fd, &slot, &e))
		return -1;
	e++;
	return bpf_map_update_elem(epochs_fd, &slot, &e, BPF_ANY);
}

int ps_invalidate_key(const struct ps_maps *m, const struct ps_cache_key *k)
{
	int small, big;

	/* the epoch first, as the XDP program does: a fill in flight for
	 * this key must not land after the delete */
	if (ps_epoch_bump(m->epochs, k))
		return -1;
	small = ps_cache_del(m->cache, k);
	big = ps_big_del(m->cache_big, k);
	return small && big ? 1 : 0;
}

int ps_config_update(int fd, int mode, __u32 set, __u32 clear, struct ps_config *out)
{
	struct ps_config c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &c))
		return -1;
	if (mode >= 0)
		c.mode = (__u32)mode;
	c.flags = (c.flags | set) & ~clear;
	/* BPF bumps cache_gen atomically in place; a whole-value write could
	 * undo a bump made since our read. Moving it once more makes such a
	 * lost flush a flush anyway. */
	c.cache_gen++;
	if (bpf_map_update_elem(fd, &zero, &c, BPF_ANY))
		return -1;
	if (out)
		*out = c;
	return 0;
}

volatile sig_atomic_t ps_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	ps_stop = 1;
}

void ps_stop_on_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

__u64 ps_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 ps_clock_off(void)
{
	__u64 best = 0, width = ~0ull;

	for (int i = 0; i < 5; i++) {
		struct timespec a, r, b;
		__u64 ma, mb, rt;

		clock_gettime(CLOCK_MONOTONIC, &a);
		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ma = (__u64)a.tv_sec * 1000000000ull + (__u64)a.tv_nsec;
		mb = (__u64)b.tv_sec * 1000000000ull + (__u64)b.tv_nsec;
		rt = (__u64)r.tv_sec * 1000000000ull + (__u64)r.tv_nsec;
		/* realtime read between ma and mb: its monotonic time is ma at
		 * the earliest, so rt - ma is the larger bound of the offset;
		 * taking it puts an absolute expiry on our clock no later */
		if (mb - ma < width) {
			width = mb - ma;
			best = rt - ma;
		}
	}
	return best;
}

/* NTP slews a clock by at most 500 ppm: an expiry learnt as "PTTL ms from
 * t_ns" is taken that much earlier on our clock than Redis's could be. */
#define SLEW_PPM 500

__u64 ps_ttl_expiry(__u64 t_ns, long long pttl_ms)
{
	__u64 d = (__u64)pttl_ms * 1000000ull;

	return t_ns + d - d / 1000000 * SLEW_PPM;
}
