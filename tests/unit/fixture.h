/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fixture.h - what every unit case starts from and the checks the cases
 * share. Before each case the runner loads a fresh copy of the programs
 * and maps (nothing carries over between cases), sets the mode with fills
 * on and, unless the case opens its own flow, completes the fixture flow's
 * handshake; after it, it destroys them.
 */
#ifndef PS_TEST_FIXTURE_H
#define PS_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "env.h"
#include "tap.h"

#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_OK 0

#define GET_FOO "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
/* a string literal as (pointer, length) */
#define S(x) x, sizeof(x) - 1

struct fixture {
	uint32_t mode;      /* PS_MODE_*, with PS_CFG_FILL */
	bool ts;            /* the handshake negotiates timestamps */
	bool no_flow;       /* loaded only: the case sends its own SYN */
};

/* 0, or -1 after a failed CHECK; fixture_teardown is due either way */
int fixture_setup(struct env *e, const struct fixture *fx);
/* checks the verdict invariant (check_verdicts) of a loaded object, then
 * destroys it: a case that reloads the object closes it with this too */
void fixture_teardown(struct env *e);
/* every hook's packets == the sum of its verdict counters */
void check_verdicts(struct env *e);

/* the frame last sent and the frame the program made of it */
extern uint8_t in[1600], out[4096];
extern size_t len, olen;

/* Send GET(s) at e->cseq and check the exact reply; advances the fixture. */
/* a server -> client segment as prestack must write it */
size_t expected_srv_seg(struct env *e, uint8_t *buf, uint32_t srv_seq,
			uint32_t ack, uint8_t flags, uint32_t tsval, uint32_t tsecr,
			const char *payload, size_t plen);

void expect_answer(struct env *e, const char *req, size_t rlen,
		   const char *reply, size_t plen);
/* Send a segment that must pass translated by (consumed, injected). */
void expect_pass(struct env *e, const char *req, size_t rlen,
		 uint32_t consumed, uint32_t injected);
/* Send a segment some GETs are cut from (xdp/cut.h): it must pass with
 * exactly `kept` as its payload, at seq translated by the bytes consumed
 * before it, acking translated by injected. */
void expect_cut(struct env *e, const char *req, size_t rlen, const char *kept,
		size_t klen, uint32_t consumed, uint32_t injected);
/* The kernel replies: TC must shift seq by injected and ack by consumed. */
void expect_srv(struct env *e, const char *rep, size_t plen,
		uint32_t consumed, uint32_t injected);

#endif
