// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "common.h"
#include "loader.h"

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !ps_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int ps_loader_open(struct prestack_bpf **out, const char *pin_root, __u32 flow_entries,
		   __u32 rtx_entries)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct prestack_bpf *skel;
	struct bpf_map *m;
	int err;

	libbpf_set_print(print_fn);
	skel = prestack_bpf__open_opts(&opts);
	if (!skel) {
		ps_err("cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	/* the insertion builder's buffer: one per possible CPU */
	if (libbpf_num_possible_cpus() > 0)
		bpf_map__set_max_entries(skel->maps.ps_ins_kbuf,
					 (__u32)libbpf_num_possible_cpus());
	/* test knobs (attach --flow-entries/--rtx-entries): smaller tables
	 * that a soak can fill */
	if (flow_entries)
		bpf_map__set_max_entries(skel->maps.ps_flows, flow_entries);
	if (rtx_entries) {
		bpf_map__set_max_entries(skel->maps.ps_rtx, rtx_entries);
		bpf_map__set_max_entries(skel->maps.ps_tcr_refs, rtx_entries);
		bpf_map__set_max_entries(skel->maps.ps_tcr_asm, rtx_entries);
		skel->rodata->ps_tcr_slots = rtx_entries;
		if (rtx_entries < PS_TCR_BIG_ENTRIES)
			bpf_map__set_max_entries(skel->maps.ps_tcr_big, rtx_entries);
	}
	/* without a root libbpf would pin under /sys/fs/bpf itself */
	if (!pin_root)
		bpf_object__for_each_map(m, skel->obj)
			bpf_map__set_pin_path(m, NULL);
	err = prestack_bpf__load(skel);
	if (err) {
		ps_err("cannot load BPF programs (%d); -v shows the verifier log", err);
		prestack_bpf__destroy(skel);
		return -1;
	}
	*out = skel;
	return 0;
}

int ps_config_write(int fd, __u32 mode, __u32 flags, __u16 port, __u32 gen)
{
	struct ps_config c = { .mode = mode, .flags = flags, .port = port,
			       .cache_gen = gen };
	__u32 zero = 0;

	return bpf_map_update_elem(fd, &zero, &c, BPF_ANY);
}
