// SPDX-License-Identifier: GPL-2.0
/*
 * poststack.c - the post-stack programs of an attachment (xdp/poststack.bpf.c,
 * docs/poststack.md): loaded by attach next to XDP/TC, sharing the pinned
 * cache maps by name; the sk_skb and sk_msg programs attached to the
 * pinned sockhash, the sockops program to the cgroup-v2 root through a
 * pinned link. Everything is a pin in the attachment's dir, so detach
 * (which removes the dir) undoes it: the link goes, and with the sockhash
 * every psock, so Redis's sockets return to the plain stack.
 */
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"
#include "poststack.h"
#include "poststack.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

/* the pins this file adds to the attachment's dir, beyond the maps */
static const char *const post_pins[] = {
	PS_POST_LINK, "prog_post_sockops", "prog_post_verdict", "prog_post_msg",
	"ps_psockhash", "ps_psocks",
};

/* the current namespace's cookie, as bpf_get_netns_cookie() gives it */
static int netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -1;
	err = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len);
	close(fd);
	return err;
}

/* where cgroup v2 is mounted (/sys/fs/cgroup/unified on hybrid systems) */
static int cgroup2_root(char *path, size_t n)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int ret = -1;

	if (!f)
		return -1;
	while ((m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(path, n, "%s", m->mnt_dir);
			ret = 0;
			break;
		}
	endmntent(f);
	return ret;
}

static void post_unpin(const struct ps_target *t)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(post_pins) / sizeof(post_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, post_pins[i]);
		unlink(path);
	}
}

static int pin(struct bpf_program *p, struct bpf_link *l, const struct ps_target *t,
	       const char *name)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	err = p ? bpf_program__pin(p, path) : bpf_link__pin(l, path);
	if (err)
		ps_err("cannot pin %s: %s", path, strerror(-err));
	return err;
}

int ps_post_attach(const struct ps_target *t, __u32 *verdict_id)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = t->dir);
	struct poststack_bpf *skel = NULL;
	struct bpf_link *link = NULL;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	char cg[PATH_MAX];
	int cg_fd = -1, map_fd, err, ret = -1;
	__u64 cookie;

	if (netns_cookie(&cookie)) {
		ps_err("poststack: cannot read the namespace's cookie: %s", strerror(errno));
		return -1;
	}
	if (cgroup2_root(cg, sizeof(cg))) {
		ps_err("poststack: no cgroup v2 mount (sockops attaches to its root)");
		return -1;
	}
	skel = poststack_bpf__open_opts(&opts);
	if (!skel) {
		ps_err("poststack: cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	skel->rodata->ps_netns_cookie = cookie;
	/* maps of the XDP path this object declares but never touches */
	bpf_map__set_autocreate(skel->maps.ps_rtx, false);
	err = poststack_bpf__load(skel);
	if (err) {
		ps_err("poststack: cannot load the programs (%d); -v shows the verifier log", err);
		goto cleanup;
	}
	/* verdict-only (no stream parser): a parser would truncate or stall a
	 * reply whose length differs from the request's */
	map_fd = bpf_map__fd(skel->maps.ps_psockhash);
	err = bpf_prog_attach(bpf_program__fd(skel->progs.ps_post_verdict), map_fd,
			      BPF_SK_SKB_VERDICT, 0);
	if (!err)
		err = bpf_prog_attach(bpf_program__fd(skel->progs.ps_post_msg), map_fd,
				      BPF_SK_MSG_VERDICT, 0);
	if (err) {
		ps_err("poststack: cannot attach to the sockhash: %s", strerror(errno));
		goto cleanup;
	}
	cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		ps_err("poststack: cannot open %s: %s", cg, strerror(errno));
		goto cleanup;
	}
	/* the root: Redis's sockets keep the cgroup they were created in */
	link = bpf_program__attach_cgroup(skel->progs.ps_post_sockops, cg_fd);
	if (!link) {
		ps_err("poststack: cannot attach sockops to %s: %s", cg, strerror(errno));
		goto cleanup;
	}
	if (pin(NULL, link, t, PS_POST_LINK) ||
	    pin(skel->progs.ps_post_sockops, NULL, t, "prog_post_sockops") ||
	    pin(skel->progs.ps_post_verdict, NULL, t, "prog_post_verdict") ||
	    pin(skel->progs.ps_post_msg, NULL, t, "prog_post_msg"))
		goto cleanup;
	if (verdict_id && !bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.ps_post_verdict),
						  &info, &info_len))
		*verdict_id = info.id;
	ret = 0;
cleanup:
	if (ret)
		post_unpin(t);
	bpf_link__destroy(link);  /* the pin keeps it attached */
	if (cg_fd >= 0)
		close(cg_fd);
	poststack_bpf__destroy(skel);
	return ret;
}

bool ps_post_attached(const struct ps_target *t)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->dir, PS_POST_LINK);
	return access(path, F_OK) == 0;
}

long ps_post_sockets(const struct ps_target *t)
{
	char path[PATH_MAX];
	long n;
	int fd;

	snprintf(path, sizeof(path), "%s/ps_psocks", t->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	n = ps_map_count(fd, sizeof(__u64));
	close(fd);
	return n;
}

int ps_post_lagging(const struct ps_target *t, int *total)
{
	__u64 k, next, *prev = NULL;
	struct ps_psock ps;
	char path[PATH_MAX];
	int fd, n = 0, all = 0;

	*total = 0;
	snprintf(path, sizeof(path), "%s/ps_psocks", t->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &ps))
			continue;
		all++;
		n += ps.seq_lag != 0;
	}
	close(fd);
	*total = all;
	return n;
}
