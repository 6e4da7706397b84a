// SPDX-License-Identifier: GPL-2.0
/*
 * t_guards.c - guarded mode's refusals: out of order and split requests,
 * a pending reply, no socket (and a real one that disagrees), MULTI/SELECT,
 * AUTH, and the ACK hold.
 */
#include <arpa/inet.h>
#include <string.h>
#include <bpf/bpf.h>
#include "cachefmt.h"
#include "fixture.h"
#include "cases.h"
#include "deploy.h"
#include "realsock.h"

void t_ooo_and_split(struct env *e)
{
	struct ps_flow f;
	int v;

	cache_put(e, "foo", "bar");
	/* ahead of a hole: dropped, the client will resend it in order */
	e->cseq += 10;
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	v = xdp_run(e, in, len, out, &olen);
	CHECK_EQ(v, XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_FB_OOO), 1);
	e->cseq -= 10;
	/* a GET split in two: both halves to the kernel, nothing answered */
	expect_pass(e, S("*2\r\n$3\r\nGE"), 0, 0);
	expect_pass(e, S("T\r\n$3\r\nfoo\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_GET_HITS), 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_PARTIAL), 1);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.pending, 1);
	CHECK_EQ(f.flags & PS_F_UNTRUSTED, 0);
	/* the kernel's reply; then a whole GET is answered again */
	expect_srv(e, S("$3\r\nbar\r\n"), 0, 0);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
}

void t_pending(struct env *e)
{
	cache_put(e, "foo", "bar");
	expect_pass(e, S("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n"), 0, 0);
	/* Redis has not answered the SET yet: a hit answered now would
	 * overtake it. It is cut, and its reply waits for the SET's
	 * (t_pipeline.c); nothing is left for the kernel */
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_DROP);
	CHECK_EQ(stat_get(e, PS_ST_FB_PENDING), 1);
	CHECK_EQ(stat_get(e, PS_ST_CUT_GETS), 1);
	CHECK_EQ(stat_get(e, PS_ST_TX), 0);
	e->cseq += sizeof(GET_FOO) - 1;
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK(olen >= 14 && !memcmp(out + olen - 14, "+OK\r\n$3\r\nbar\r\n", 14),
	      "the hit's reply does not follow the SET's");
	e->kseq += 5;
	e->sseq += 14;
	/* naive answers at once, whatever is owed */
	env_set_mode(e, PS_MODE_NAIVE, PS_CFG_FILL);
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_TX);
}

void t_require_sock(struct env *e)
{
	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_REQUIRE_SOCK);
	cache_put(e, "foo", "bar");
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_NOSOCK), 1);
	CHECK_EQ(stat_get(e, PS_ST_FB_DIVERGED), 1);
}

/* The flags attach deploys (ctl/deploy.h) and the watcher's lease, on a
 * real established socket for the fixture's 4-tuple (realsock.h): the
 * lookup finds it, it agrees with the mirrors, the GET is answered. With
 * the kernel's snd_nxt one byte off the mirror's: diverged, passed. */
void t_deployed_real_sock(struct env *e)
{
	static const struct ps_deploy attach_defaults;
	struct ps_flow_key k = { htonl(CLI_IP), htonl(SRV_IP), htons(CLI_PORT),
				 htons(SRV_PORT) };
	struct realsock r;
	struct ps_flow f;

	if (realsock_open(&r)) {
		CHECK(0, "no real connection for the fixture's 4-tuple");
		return;
	}
	CHECK_EQ(handshake_isn(e, true, r.cisn, r.sisn), 0);
	env_set_mode(e, PS_MODE_GUARDED, ps_deploy_flags(&attach_defaults));
	CHECK(ps_deploy_flags(&attach_defaults) & PS_CFG_REQUIRE_SOCK, "socket not required");
	CHECK(ps_deploy_flags(&attach_defaults) & PS_CFG_LEASE, "no lease");
	cache_put(e, "foo", "bar");
	CHECK_EQ(env_lease_grant(e), 0);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	CHECK_EQ(stat_get(e, PS_ST_NOSOCK), 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_DIVERGED), 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_LEASE), 0);
	CHECK_EQ(flow_get(e, &f), 0);
	f.ksnd_nxt++;
	CHECK_EQ(bpf_map_update_elem(e->flows, &k, &f, BPF_EXIST), 0);
	expect_pass(e, S(GET_FOO), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(stat_get(e, PS_ST_DIV_SND_NXT), 1);
	CHECK_EQ(stat_get(e, PS_ST_FB_DIVERGED), 1);
	realsock_close(&r);
}

void t_select_multi(struct env *e)
{
	struct ps_flow f;

	cache_put(e, "foo", "bar");
	expect_pass(e, S("*1\r\n$5\r\nMULTI\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n"), 0, 0);
	expect_pass(e, S(GET_FOO), 0, 0); /* queued, not answered */
	CHECK_EQ(stat_get(e, PS_ST_FB_STATE), 1);
	expect_srv(e, S("+QUEUED\r\n"), 0, 0);
	expect_pass(e, S("*1\r\n$4\r\nEXEC\r\n"), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FLUSHES), 1);
	expect_srv(e, S("*1\r\n$3\r\nbar\r\n"), 0, 0);
	cache_put(e, "foo", "bar"); /* refill: EXEC flushed */
	{
		uint32_t zero = 0;
		struct ps_config c;

		bpf_map_lookup_elem(e->cfg, &zero, &c);
		struct ps_cache_key k;
		struct ps_cache_val v;

		ps_cache_key_build(&k, "foo", 3);
		ps_cache_val_build(&v, "bar", 3, c.cache_gen, PS_FILL_USER);
		ps_cache_put(e->cache, e->present, &k, &v);
	}
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	expect_pass(e, S("*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n"), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK(f.flags & PS_F_OTHER_DB, "SELECT did not mark the flow");
}

void t_auth(struct env *e)
{
	struct ps_flow f;

	env_set_mode(e, PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_AUTH);
	cache_put(e, "foo", "bar");
	/* not authenticated: Redis answers (with NOAUTH), never the cache */
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_AUTH), 1);
	expect_srv(e, S("-NOAUTH Authentication required.\r\n"), 0, 0);
	/* a wrong password is still not authenticated */
	expect_pass(e, S("*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n"), 0, 0);
	expect_srv(e, S("-WRONGPASS invalid username-password pair\r\n"), 0, 0);
	expect_pass(e, S(GET_FOO), 0, 0);
	CHECK_EQ(stat_get(e, PS_ST_FB_AUTH), 2);
	expect_srv(e, S("-NOAUTH Authentication required.\r\n"), 0, 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK_EQ(f.flags & PS_F_AUTHED, 0);
	/* AUTH pipelined with a PING: its reply is the first of the two */
	expect_pass(e, S("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n"), 0, 0);
	expect_srv(e, S("+OK\r\n+PONG\r\n"), 0, 0);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK(f.flags & PS_F_AUTHED, "a successful AUTH did not mark the flow");
	CHECK_EQ(f.auth_reply_idx, 0);
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	/* authenticating as a named ACL user: never answered again */
	expect_pass(e, S("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$2\r\npw\r\n"), sizeof(GET_FOO) - 1, 9);
	CHECK_EQ(flow_get(e, &f), 0);
	CHECK(f.flags & PS_F_UNTRUSTED, "AUTH as a named user did not untrust the flow");
	/* naive never answers when Redis requires AUTH */
	env_set_mode(e, PS_MODE_NAIVE, PS_CFG_FILL | PS_CFG_AUTH);
	len = cli_seg(e, in, S(GET_FOO), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
}

/*
 * A kernel reply, then a GET answered at XDP whose segment carries the
 * client's ACK of that reply; the kernel, never having seen the ACK,
 * retransmits its reply. Returns the ACK field TC gives the retransmission;
 * *get_seq gets the GET's first byte.
 */
static uint32_t retransmit_after_answer(struct env *e, uint32_t *get_seq,
					bool naive)
{
	const char *set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
	uint32_t kseq0;

	cache_put(e, "foo", "bar");
	expect_pass(e, set, strlen(set), 0, 0);
	kseq0 = e->kseq;
	expect_srv(e, S("+OK\r\n"), 0, 0); /* new data: the full ACK */
	*get_seq = e->cseq;
	expect_answer(e, S(GET_FOO), S("$3\r\nbar\r\n"));
	e->kseq = kseq0;
	len = srv_seg(e, in, S("+OK\r\n"), TF_PSH | TF_ACK);
	e->kseq += 5;
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK(pkt_csum_ok(out, olen), "TC checksum wrong");
	/* nothing was injected before it (naive shifts it by the total) */
	CHECK_EQ(rd32(out + OFF_TCP + 4), kseq0 + (naive ? 9 : 0));
	return rd32(out + OFF_TCP + 8);
}

void t_ack_hold(struct env *e)
{
	const char *ping = "*1\r\n$4\r\nPING\r\n";
	static const struct { uint32_t mode, flags; } nohold[] = {
		{ PS_MODE_NAIVE, PS_CFG_FILL },
		{ PS_MODE_RETRANS, PS_CFG_FILL },
		{ PS_MODE_GUARDED, PS_CFG_FILL | PS_CFG_NO_ACK_HOLD },
	};
	const uint32_t G = sizeof(GET_FOO) - 1, I = 9;
	uint32_t get_seq, ack, sseq;

	/* guarded: the retransmission acks only up to the answered GET, so
	 * the client will resend the GET if it lost the reply */
	ack = retransmit_after_answer(e, &get_seq, false);
	CHECK_EQ(ack, get_seq);
	CHECK_EQ(stat_get(e, PS_ST_ACK_HELD), 1);
	/* new kernel data while the reply is still unacked: the full ACK (a
	 * PING whose ACK field stops before the injected reply) */
	sseq = e->sseq;
	e->sseq -= I;
	len = cli_seg(e, in, ping, strlen(ping), TF_PSH | TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	e->cseq += strlen(ping);
	e->kack += strlen(ping);
	e->sseq = sseq;
	expect_srv(e, S("+PONG\r\n"), G, I);
	/* the client acks the reply: retransmissions ack everything again */
	len = cli_seg(e, in, NULL, 0, TF_ACK);
	CHECK_EQ(xdp_run(e, in, len, out, &olen), XDP_PASS);
	e->kseq -= 7;
	len = srv_seg(e, in, S("+PONG\r\n"), TF_PSH | TF_ACK);
	e->kseq += 7;
	CHECK_EQ(tc_run(e, in, len, out, &olen), TC_OK);
	CHECK_EQ(rd32(out + OFF_TCP + 8), e->kack + G);
	CHECK_EQ(stat_get(e, PS_ST_ACK_HELD), 1);
	fixture_teardown(e);
	/* naive and retrans never hold the ACK back (retrans re-sends the
	 * stored reply on the client's D-SACK instead), nor does guarded with
	 * the ablation flag (attach --no-ack-hold) */
	for (size_t i = 0; i < sizeof(nohold) / sizeof(nohold[0]); i++) {
		if (env_open(e, nohold[i].mode, nohold[i].flags) ||
		    handshake(e, true)) {
			CHECK(0, "setup failed");
			return;
		}
		ack = retransmit_after_answer(e, &get_seq,
					      nohold[i].mode == PS_MODE_NAIVE);
		CHECK_EQ(ack, get_seq + G);
		CHECK_EQ(stat_get(e, PS_ST_ACK_HELD), 0);
		fixture_teardown(e);
	}
}
