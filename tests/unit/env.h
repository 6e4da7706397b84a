/* SPDX-License-Identifier: GPL-2.0 */
/* env.h - a loaded (not attached) prestack and the fixture flow. */
#ifndef PS_TEST_ENV_H
#define PS_TEST_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include "prestack.h"
#include "pkt.h"

#define CLI_IP   0xc6120002u /* 198.18.0.2 */
#define SRV_IP   0xc6120001u /* 198.18.0.1 */
#define CLI_PORT 40000
#define SRV_PORT 6379
#define CISN     1000000u
#define SISN     5000000u
#define SRV_WIN  65160
#define CLI_TSV  100u   /* client TSval in the SYN */
#define SRV_TSV  7000u  /* server TSval in the SYN-ACK */

extern const uint8_t CLI_MAC[6], SRV_MAC[6];

struct env {
	struct prestack_bpf *skel;
	int xdp, tc, cfg, flows, cache, present, stats, epochs;
	bool ts;            /* fixture flow negotiated timestamps */
	uint32_t cseq;      /* client's next seq (client space) */
	uint32_t sseq;      /* client's view of the server's next seq */
	uint32_t kseq;      /* kernel's next seq (kernel space) */
	uint32_t kack;      /* kernel's ack (kernel space) */
	uint32_t tsval;     /* client's TSval, bumped per segment */
	uint16_t swin;      /* the window prestack's replies must advertise: the
			     * SYN-ACK's (never scaled) shifted by the wscale,
			     * then the last server segment's */
};

/* the clock TTLs are read against in every object the tests load
 * (xdp/cache.h, ps_ttl_clock_ns): fixed, so that expiries are exact */
extern uint64_t env_ttl_clock;
/* realtime - monotonic as the tests tell it (PS_LEASE_CLOCK_OFF) */
#define ENV_CLOCK_OFF 1700000000000000000ull

int env_open(struct env *e, uint32_t mode, uint32_t flags);
/* ... with ps_fault (xdp/reply.h: PS_FAULT_*) set before load */
int env_open_fault(struct env *e, uint32_t mode, uint32_t flags, uint32_t fault);
void env_close(struct env *e);
/* Before obj's load: each of its maps that one of the n objects in from
 * declares by the same name (the first that does) becomes that map, its
 * fd reused; a map whose name starts with own (NULL: none) stays obj's.
 * Pins are dropped. 0, or -1 when a reuse failed. */
struct bpf_object;
int env_share_maps(struct bpf_object *obj, struct bpf_object *const *from, int n,
		   const char *own);
void env_set_mode(struct env *e, uint32_t mode, uint32_t flags);

/* run one frame; *outlen gets the output length; returns the verdict */
int xdp_run(struct env *e, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);
int tc_run(struct env *e, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);

uint64_t stat_get(struct env *e, int idx);
int flow_get(struct env *e, struct ps_flow *f);
int cache_put(struct env *e, const char *key, const char *val);
int cache_has(struct env *e, const char *key, char *val, size_t cap);

/* SYN, SYN-ACK, ACK of the fixture flow (with or without timestamps) */
int handshake(struct env *e, bool ts);
/* ... with these ISNs (a real socket's: realsock.h) instead of CISN, SISN */
int handshake_isn(struct env *e, bool ts, uint32_t cisn, uint32_t sisn);
/* the coherence watcher's lease, as it grants one on a PONG to a PING sent
 * now (ctl/deploy.h: LEASE_MS); 0 or -1 */
int env_lease_grant(struct env *e);

/* client -> server data segment in client space at e->cseq, acking e->sseq */
size_t cli_seg(struct env *e, uint8_t *buf, const char *payload, size_t len,
	       uint8_t flags);
/* ... into a buffer of cap bytes (longer segments) */
size_t cli_seg_cap(struct env *e, uint8_t *buf, size_t cap, const char *payload,
		   size_t len, uint8_t flags);
/* server -> client segment in kernel space at e->kseq, acking e->kack */
size_t srv_seg(struct env *e, uint8_t *buf, const char *payload, size_t len,
	       uint8_t flags);
/* ... at kernel seq `seq`, into a buffer of cap bytes (longer segments) */
size_t srv_seg_at(struct env *e, uint8_t *buf, size_t cap, uint32_t seq,
		  const char *payload, size_t len, uint8_t flags);

#endif
