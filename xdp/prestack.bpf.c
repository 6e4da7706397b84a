// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"

SEC("xdp")
int ps_xdp(struct xdp_md *ctx) { return XDP_PASS; }

SEC("tc")
int ps_tc(struct __sk_buff *skb) { return 0; }

char LICENSE[] SEC("license") = "GPL";
