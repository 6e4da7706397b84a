// SPDX-License-Identifier: GPL-2.0
/*
 * t_reuse.c - a deleted hash element is another key's at the next insert
 * on its CPU (tests/unit/bpf/reuse_harness.bpf.c), and what the programs
 * do so that no hook writes another flow's state through a pointer it
 * looked up before the delete.
 */
#include <sched.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fixture.h"
#include "cases.h"
#include "prestack.skel.h"
#include "reuse_harness.skel.h"

/* the harness with the prestack object's maps */
static struct reuse_harness_bpf *rh_open(struct env *e)
{
	struct reuse_harness_bpf *h = reuse_harness_bpf__open();

	if (!h)
		return NULL;
	if (env_share_maps(h->obj, &e->skel->obj, 1, "rh_") || reuse_harness_bpf__load(h)) {
		reuse_harness_bpf__destroy(h);
		return NULL;
	}
	return h;
}

static int rh_run(struct bpf_program *prog)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &r))
		return -1;
	return (int)r.retval;
}

struct rh_out_u {
	uint64_t same, old_read, new_read;
};

/*
 * What every map comment relies on: a hash without prealloc (and a
 * preallocated one) hands the element of a deleted key to the next
 * insert on the same CPU, while the pointer an earlier lookup gave still
 * points into it and reads the new key's value. No RCU grace period
 * keeps it back (Linux >= 6.1: bpf_mem_alloc's per-CPU free list).
 */
void t_hash_reuses_deleted(struct env *e)
{
	struct reuse_harness_bpf *h = rh_open(e);
	struct rh_out_u o;
	uint32_t i;

	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h)
		return;
	/* one program run: the delete and the insert on one CPU */
	CHECK_EQ(rh_run(h->progs.rh_hash_reuse), 0);
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(h->maps.rh_out), &i, &o), 0);
		printf("#   %s: same element %llu, old pointer reads %#llx\n",
		       i ? "prealloc" : "no prealloc", (unsigned long long)o.same,
		       (unsigned long long)o.old_read);
		CHECK_EQ(o.same, 1);
		CHECK_EQ(o.old_read, 0xbbbb0002ull);
		CHECK_EQ(o.new_read, 0xbbbb0002ull);
	}
	reuse_harness_bpf__destroy(h);
}

/* the address of key's value in ps_flows (0: none) */
static uint64_t flow_addr(struct reuse_harness_bpf *h, const struct ps_flow_key *key)
{
	struct { struct ps_flow_key key; uint64_t addr; } io = { .key = *key };
	uint32_t zero = 0;
	int fd = bpf_map__fd(h->maps.rh_flow_io);

	if (bpf_map_update_elem(fd, &zero, &io, BPF_ANY) ||
	    rh_run(h->progs.rh_flow_addr) ||
	    bpf_map_lookup_elem(fd, &zero, &io))
		return 0;
	return io.addr;
}

static void fixture_key(struct ps_flow_key *k, uint16_t cli_port)
{
	k->cli_addr = htonl(CLI_IP);
	k->srv_addr = htonl(SRV_IP);
	k->cli_port = htons(cli_port);
	k->srv_port = htons(SRV_PORT);
}

/* a SYN of another connection from the fixture client, port `port` */
static void other_syn(struct env *e, uint16_t port)
{
	struct pkt_spec s = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
			      .daddr = SRV_IP, .sport = port, .dport = SRV_PORT,
			      .seq = 777, .flags = TF_SYN, .window = 65535 };
	uint8_t in[256], out[256];
	size_t len, olen;

	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
}

/*
 * An RST ends a flow while the other hook, on another CPU, may be in the
 * middle of a segment of it with its ps_flows pointer (TC egress sending
 * the reply the client no longer wants, XDP taking a client segment as
 * the kernel resets). Deleted at once, the flow's element went to the
 * next flow opened on this CPU, and the holder wrote the dead flow's
 * mirrors, pending count and flags into the new one. The reset flow is
 * kept instead (done, no TIME_WAIT) until it has been idle for
 * PS_TIME_WAIT_NS: a SYN of another tuple now gets an element of its own.
 * Both RSTs: the client's at XDP, the kernel's at TC egress.
 */
void t_reset_flow_kept(struct env *e)
{
	struct reuse_harness_bpf *h = rh_open(e);
	struct ps_flow_key k, k2;
	uint8_t in[256], out[256];
	size_t len, olen;
	struct ps_flow f;
	uint64_t a, b;
	cpu_set_t was, one;

	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h)
		return;
	/* every run on one CPU: its free list is the one the delete fills */
	sched_getaffinity(0, sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);

	fixture_key(&k, CLI_PORT);
	fixture_key(&k2, 41001);
	a = flow_addr(h, &k);
	CHECK(a != 0, "no fixture flow");
	/* the client's RST at its next byte */
	len = cli_seg(e, in, "", 0, TF_RST);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 1);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(f.flags & PS_F_SRV_TW, 0);
	CHECK_EQ(flow_addr(h, &k), a);
	other_syn(e, 41001);
	b = flow_addr(h, &k2);
	CHECK(b != 0, "the other SYN opened no flow");
	CHECK(b != a, "the reset flow's element went to the next flow opened");
	/* a new SYN of the reset tuple opens a new flow (no TIME_WAIT) */
	CHECK_EQ(handshake(e, true), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_EST);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 3);
	a = flow_addr(h, &k);

	/* the kernel's RST, at TC egress */
	len = srv_seg(e, in, "", 0, TF_RST | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_CLOSED), 2);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.state, PS_FLOW_DONE);
	CHECK_EQ(flow_addr(h, &k), a);
	other_syn(e, 41002);
	fixture_key(&k2, 41002);
	b = flow_addr(h, &k2);
	CHECK(b != 0, "the other SYN opened no flow");
	CHECK(b != a, "the reset flow's element went to the next flow opened");
	/* idle for PS_TIME_WAIT_NS: the next segment forgets it */
	f.last_ns = 1;
	CHECK_EQ(bpf_map_update_elem(e->flows, &k, &f, BPF_EXIST), 0);
	len = cli_seg(e, in, "", 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	CHECK(flow_get(e, &f) != 0, "an idle reset flow was not forgotten");

	sched_setaffinity(0, sizeof(was), &was);
	reuse_harness_bpf__destroy(h);
}

/* a SYN from the fixture client's port with ISN isn */
static void port_syn(struct env *e, uint32_t isn)
{
	struct pkt_spec s = { .smac = CLI_MAC, .dmac = SRV_MAC, .saddr = CLI_IP,
			      .daddr = SRV_IP, .sport = CLI_PORT, .dport = SRV_PORT,
			      .seq = isn, .flags = TF_SYN, .window = 64240 };
	uint8_t in[256], out[256];
	size_t len, olen;

	len = pkt_build(in, sizeof(in), &s);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
}

/*
 * A SYN of another ISN on a flow still in SYN state replaces it, while
 * TC egress may be learning the old SYN-ACK in it on another CPU. A
 * replacing update freed the old element to the next flow opened on this
 * CPU, into which TC then wrote the old connection's server side. The
 * new flow is now written into the same element (flow_replace_syn), and
 * tc_synack, reading the ISN again after its writes, untrusts a flow
 * replaced under it (PS_FAULT_SYN_RACE puts the new ISN there).
 */
void t_syn_replaced_in_place(struct env *e)
{
	struct reuse_harness_bpf *h;
	struct ps_flow_key k;
	struct ps_flow f;
	uint64_t a;
	cpu_set_t was, one;

	fixture_teardown(e);
	if (env_open(e, PS_MODE_GUARDED, PS_CFG_FILL)) {
		CHECK(0, "setup failed");
		return;
	}
	h = rh_open(e);
	CHECK(h != NULL, "cannot load the reuse harness");
	if (!h)
		return;
	sched_getaffinity(0, sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	fixture_key(&k, CLI_PORT);
	port_syn(e, 5000);
	a = flow_addr(h, &k);
	CHECK(a != 0, "the SYN opened no flow");
	/* its retransmission keeps it; a SYN of another ISN rewrites it */
	port_syn(e, 5000);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 1);
	port_syn(e, 9000);
	CHECK_EQ(stat_get(e, PS_ST_FLOWS_NEW), 2);
	CHECK(flow_addr(h, &k) == a, "the replaced flow's element was freed (another went in its place)");
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_isn, 9000);
	CHECK_EQ(f.state, PS_FLOW_SYN);
	CHECK_EQ(f.flags & PS_F_UNTRUSTED, 0);
	sched_setaffinity(0, sizeof(was), &was);
	reuse_harness_bpf__destroy(h);

	/* TC learning the SYN-ACK as the new SYN lands */
	fixture_teardown(e);
	if (env_open_fault(e, PS_MODE_GUARDED, PS_CFG_FILL, PS_FAULT_SYN_RACE)) {
		CHECK(0, "setup failed");
		return;
	}
	handshake(e, true);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.cli_isn, CISN + PS_FAULT_SYN_ISN);
	CHECK(f.flags & PS_F_UNTRUSTED, "a flow replaced under tc_synack was left trusted");
	CHECK_EQ(f.untrusted_reason, PS_UT_SYN_RACE);
}
