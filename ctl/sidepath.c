// SPDX-License-Identifier: GPL-2.0
/*
 * sidepath.c - the side path of an attachment (xdp/sidepath.bpf.c,
 * docs/guards-and-coherence.md "Every TCP path"): loaded by attach next to
 * XDP/TC with the attachment's maps (pinned by name), its two programs
 * pinned in the attachment's dir and attached as TC filters (ingress and
 * egress, handle PS_SIDE_HANDLE, priority PS_SIDE_PRIO) on every
 * interface of the namespace. ps_side_ifs records each interface covered
 * and whether we created its clsact qdisc, for detach, status and the
 * coherence watcher, which covers the interfaces that appear later.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"
#include "sidepath.h"
#include "sidepath.skel.h"

static int pin_fd(const struct ps_target *t, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	return bpf_obj_get(path);
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Both filters on one interface (the current netns), recorded in ifs. */
static int cover(int in_fd, int eg_fd, int ifs_fd, unsigned ifindex, const char *name)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PS_SIDE_HANDLE, .priority = PS_SIDE_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	struct ps_side_if rec = { .ifindex = ifindex };
	libbpf_print_fn_t print;
	int err;

	/* a clsact there already (ours on the attached interface) is fine:
	 * libbpf's report of the kernel's "exclusivity flag" is not shown */
	print = libbpf_set_print(NULL);
	err = bpf_tc_hook_create(&hook);
	libbpf_set_print(print);
	if (err && err != -EEXIST) {
		ps_err("side path: cannot create clsact on %s: %s", name, strerror(-err));
		return -1;
	}
	rec.created_clsact = !err;
	hook.attach_point = BPF_TC_INGRESS;
	o.prog_fd = in_fd;
	err = bpf_tc_attach(&hook, &o);
	if (!err) {
		hook.attach_point = BPF_TC_EGRESS;
		o.prog_fd = eg_fd;
		o.prog_id = 0;
		err = bpf_tc_attach(&hook, &o);
	}
	if (err) {
		ps_err("side path: cannot attach to %s: %s", name, strerror(-err));
		if (rec.created_clsact) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return -1;
	}
	rec.in_id = prog_id(in_fd);
	rec.eg_id = prog_id(eg_fd);
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	if (bpf_map_update_elem(ifs_fd, &ifindex, &rec, BPF_ANY)) {
		ps_err("side path: cannot record %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Our filters off one interface, if they are still ours; the clsact
 * qdisc too if we made it. Gone interfaces are fine. */
static int uncover(const struct ps_side_if *r)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)r->ifindex);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = PS_SIDE_HANDLE, .priority = PS_SIDE_PRIO);
	static const int points[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	int err, ret = 0;

	for (int i = 0; i < 2; i++) {
		hook.attach_point = points[i];
		o.prog_fd = o.prog_id = 0;
		o.flags = 0;
		if (bpf_tc_query(&hook, &o))
			continue;    /* gone with the interface, or removed */
		if (o.prog_id != (i ? r->eg_id : r->in_id))
			continue;    /* not ours any more */
		o.prog_id = 0;
		err = bpf_tc_detach(&hook, &o);
		if (err && err != -ENOENT && err != -ENODEV) {
			ps_err("side path: cannot detach from %s: %s", r->name, strerror(-err));
			ret = -1;
		}
	}
	if (r->created_clsact) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL) {
			ps_err("side path: cannot remove clsact from %s: %s", r->name,
			       strerror(-err));
			ret = -1;
		}
	}
	return ret;
}

/*
 * The pinned maps this object shares with the answering path keep the
 * sizes attach gave them (attach --flow-entries/--rtx-entries): libbpf
 * refuses to reuse a pin whose max_entries differs from the declaration.
 */
static void match_pinned_sizes(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *pin = bpf_map__pin_path(m);
		int fd;

		if (!pin || !bpf_map__autocreate(m))
			continue;
		fd = bpf_obj_get(pin);
		if (fd < 0)
			continue;        /* not pinned yet: created as declared */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.max_entries)
			bpf_map__set_max_entries(m, info.max_entries);
		close(fd);
	}
}

int ps_side_attach(const struct ps_target *t, __u32 att_ifindex, unsigned *covered)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = t->dir);
	struct sidepath_bpf *skel;
	struct if_nameindex *ifs, *i;
	char path[PATH_MAX];
	int err, ret = -1;

	*covered = 0;
	skel = sidepath_bpf__open_opts(&opts);
	if (!skel) {
		ps_err("side path: cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	skel->rodata->ps_side_attached = att_ifindex;
	/* maps of the answering path this object declares, never touches */
	bpf_map__set_autocreate(skel->maps.ps_rtx, false);
	match_pinned_sizes(skel->obj);
	err = sidepath_bpf__load(skel);
	if (err) {
		ps_err("side path: cannot load the programs (%d); -v shows the verifier log", err);
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/prog_side_in", t->dir);
	if (bpf_program__pin(skel->progs.ps_side_in, path))
		goto pin_failed;
	snprintf(path, sizeof(path), "%s/prog_side_out", t->dir);
	if (bpf_program__pin(skel->progs.ps_side_out, path))
		goto pin_failed;
	ifs = if_nameindex();
	if (!ifs) {
		ps_err("side path: cannot list the interfaces: %s", strerror(errno));
		goto cleanup;
	}
	ret = 0;
	for (i = ifs; i->if_index; i++) {
		if (cover(bpf_program__fd(skel->progs.ps_side_in),
			  bpf_program__fd(skel->progs.ps_side_out),
			  bpf_map__fd(skel->maps.ps_side_ifs), i->if_index, i->if_name)) {
			ret = -1;
			break;
		}
		(*covered)++;
	}
	if_freenameindex(ifs);
	if (ret)
		ps_side_detach(t);
	goto cleanup;
pin_failed:
	ps_err("side path: cannot pin %s: %s", path, strerror(errno));
cleanup:
	sidepath_bpf__destroy(skel);
	return ret;
}

int ps_side_detach(const struct ps_target *t)
{
	struct ps_side_if r;
	__u32 k, next, *prev = NULL;
	int fd, ret = 0;

	fd = pin_fd(t, "ps_side_ifs");
	if (fd < 0)
		return 0;   /* never attached (--no-coherence) */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &r) && uncover(&r))
			ret = -1;
	}
	close(fd);
	return ret;
}

int ps_side_check(const struct ps_target *t, bool do_cover, char *names, size_t n)
{
	struct if_nameindex *ifs, *i;
	struct ps_side_if r;
	int ifs_fd, in_fd = -1, eg_fd = -1, missing = 0;
	size_t used = 0;

	if (names && n)
		names[0] = 0;
	ifs_fd = pin_fd(t, "ps_side_ifs");
	if (ifs_fd < 0)
		return -1;
	ifs = if_nameindex();
	if (!ifs) {
		close(ifs_fd);
		return -1;
	}
	for (i = ifs; i->if_index; i++) {
		if (!bpf_map_lookup_elem(ifs_fd, &i->if_index, &r))
			continue;
		if (do_cover) {
			if (in_fd < 0) {
				in_fd = pin_fd(t, "prog_side_in");
				eg_fd = pin_fd(t, "prog_side_out");
			}
			if (in_fd >= 0 && eg_fd >= 0 &&
			    !cover(in_fd, eg_fd, ifs_fd, i->if_index, i->if_name))
				continue;
		}
		missing++;
		if (names && used + strlen(i->if_name) + 2 < n)
			used += (size_t)snprintf(names + used, n - used, "%s%s",
						 used ? "," : "", i->if_name);
	}
	if_freenameindex(ifs);
	if (in_fd >= 0)
		close(in_fd);
	if (eg_fd >= 0)
		close(eg_fd);
	close(ifs_fd);
	return missing;
}

long ps_side_conns(const struct ps_target *t, long *lost)
{
	struct ps_side_key k, next, *prev = NULL;
	struct ps_side_flow f;
	long n = 0;
	int fd;

	*lost = 0;
	fd = pin_fd(t, "ps_side_flows");
	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		/* a closed connection's entry (kept until BPF deletes it) */
		if (bpf_map_lookup_elem(fd, &k, &f) || (f.flags & PS_SF_DEAD))
			continue;
		n++;
		*lost += !!(f.flags & (PS_SF_LOST | PS_SF_HOLD));
	}
	close(fd);
	return n;
}
