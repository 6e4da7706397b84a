// SPDX-License-Identifier: GPL-2.0
/* util.c - pins, namespaces, number parsing, JSON strings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "common.h"
#include "cachefmt.h"

bool ps_verbose;

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

static const char *mode_names[] = { "off", "naive", "guarded", "retrans" };

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
		fprintf(stderr, "prestack: cannot mount bpffs on /sys/fs/bpf: %s\n",
			strerror(errno));
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
		fprintf(stderr, "prestack: no network namespace '%s' (%s)\n", netns,
			strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "prestack: cannot enter netns '%s': %s\n", netns,
			strerror(errno));
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
		fprintf(stderr, "prestack: not attached%s%s%s%s (see: prestack status)\n",
			dev ? " on " : "", dev ? dev : "",
			netns ? " in netns " : "", netns ? netns : "");
		return -1;
	}
	fprintf(stderr, "prestack: %d attachments, choose one with --dev/--netns:\n", n);
	for (i = 0; i < n && i < 16; i++)
		fprintf(stderr, "  --netns %s --dev %s\n",
			*found[i].netns ? found[i].netns : "''", found[i].dev);
	return -1;
}

int ps_pin_open(const struct ps_target *t, const char *name, __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "prestack: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (value_size) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.value_size != value_size) {
			fprintf(stderr, "prestack: %s has value size %u, this tool expects %u: rebuild or re-attach\n",
				path, info.value_size, value_size);
			close(fd);
			return -1;
		}
	}
	return fd;
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
		if (f.consumed || f.injected)
			n++;
	}
	if (total)
		*total = all;
	return n;
}

long ps_map_count(int fd, size_t key_size)
{
	char k[128], next[128];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(k))
		return -1;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(k, next, key_size);
		prev = k;
		n++;
	}
	return n;
}

void ps_epoch_bump(int epochs_fd, const struct ps_cache_key *k)
{
	__u32 slot = ps_key_slot(k->data, k->len), e = 0;

	bpf_map_lookup_elem(epochs_fd, &slot, &e);
	e++;
	bpf_map_update_elem(epochs_fd, &slot, &e, BPF_ANY);
}

int ps_invalidate_key(int cache_fd, int epochs_fd, const struct ps_cache_key *k)
{
	/* the epoch first, as the XDP program does: a fill in flight for
	 * this key must not land after the delete */
	ps_epoch_bump(epochs_fd, k);
	return bpf_map_delete_elem(cache_fd, k);
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
