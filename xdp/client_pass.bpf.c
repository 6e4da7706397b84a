// SPDX-License-Identifier: GPL-2.0
/*
 * client_pass.bpf.c - XDP_PASS everything. Loaded on the client end of the
 * testbed veth: veth delivers XDP_TX frames from its peer only to a device
 * that runs an XDP program (or has NAPI/GRO enabled).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
