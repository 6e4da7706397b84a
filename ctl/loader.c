// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "loader.h"

static bool loader_verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !loader_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int ps_loader_open(struct prestack_bpf **out, bool verbose)
{
	struct prestack_bpf *skel;
	int err;

	loader_verbose = verbose;
	libbpf_set_print(print_fn);
	skel = prestack_bpf__open();
	if (!skel) {
		fprintf(stderr, "prestack: cannot open BPF object: %s\n", strerror(errno));
		return -1;
	}
	err = prestack_bpf__load(skel);
	if (err) {
		fprintf(stderr, "prestack: cannot load BPF programs (%d); -v shows the verifier log\n", err);
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
