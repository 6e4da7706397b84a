/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scratch.h - per-CPU working memory. Entry 0 is XDP's, entry 1 is TC's.
 * Payloads are copied here so the RESP parsers index a map value with
 * masked offsets instead of chasing packet pointers through bpf_loop.
 */
#ifndef PS_SCRATCH_H
#define PS_SCRATCH_H

#include "prestack.h"
#include "consts.h"

#define PS_SCR_XDP 0
#define PS_SCR_TC  1

#define PS_BUF_MASK (PS_PAYLOAD_MAX - 1)
/* reply assembly: offsets are masked below PS_REPLY_BOUND, and one more
 * reply of up to PS_REPLY_MAX bytes must fit after any of them */
#define PS_REP_MASK (PS_REPLY_BOUND - 1)
#define PS_REP_BUF  (2 * PS_REPLY_BOUND)

/* request-parse outputs (ps_scratch.rq_out) */
#define RQO_ERROR     (1u << 0)  /* not RESP we follow */
#define RQO_OTHER     (1u << 1)  /* a command other than a plain GET completed */
#define RQO_FLUSH     (1u << 2)  /* a command that can write unknown keys */
#define RQO_SELECT    (1u << 3)
#define RQO_MULTI     (1u << 4)
#define RQO_EXEC      (1u << 5)  /* EXEC or DISCARD ended a MULTI */
#define RQO_UNTRUST   (1u << 6)  /* command changes reply accounting */
#define RQO_TOO_MANY  (1u << 7)  /* more than PS_MAX_CMDS commands */
#define RQO_GET_MISS  (1u << 8)  /* reserved */
#define RQO_BIG       (1u << 9)  /* parsed in windows: key offsets are not kept */
#define RQO_QUIT      (1u << 10) /* QUIT: Redis answers +OK and closes */

struct ps_scratch {
	__u8  buf[PS_PAYLOAD_MAX + PS_KEY_MAX];
	__u8  rep[PS_REP_BUF];
	struct ps_cache_val fill;     /* TC: value being filled */
	struct ps_flow newflow;       /* XDP: flow being created */
	struct ps_rtx_val rtx;        /* XDP: reply being stored (retrans) */
	struct ps_req_parser rq;
	struct ps_rep_parser rp;
	__u32 pos;                    /* parse position in buf */
	__u32 len;                    /* payload bytes in buf */
	__u32 base;                   /* payload offset of buf[0]: segments longer
				       * than buf are parsed one window at a time */
	/* request parse results for this segment */
	__u32 rq_out;                 /* RQO_* */
	__u32 ncmds;                  /* commands completed in this segment */
	__u32 ngets;                  /* of which plain GETs with a visible key */
	__u32 cur_key_off;            /* current command's GET key, if visible */
	__u32 cur_key_len;
	__u32 key_off[PS_MAX_CMDS];
	__u32 key_len[PS_MAX_CMDS];
	__u32 arg_off;                /* where the current argument's bytes begin */
	__u32 arg_vis;                /* ... and they began in this segment */
	__u32 multi_last;             /* 1: MULTI seen last, 2: EXEC/DISCARD seen last */
	__u32 auth_pos;               /* 1-based position among this segment's commands of its last AUTH/HELLO */
	__u32 invalidated;
	__u32 flushes;
	/* reply parse results */
	__u32 replies;                /* top-level replies completed in this segment */
	__u32 rp_error;
	__u32 top_start;              /* payload offset where the current top-level reply began, or ~0 */
	__u32 first_off;              /* first completed top-level reply: payload offset/len, ~0 if it began earlier */
	__u32 first_len;
	__u32 first_bulk;             /* it was a non-null bulk string */
	__u32 first_val_len;
	__u32 bulk_len;               /* length of the bulk being skipped */
	__u32 top_type;               /* type byte of the top-level reply being parsed */
	__u32 rep_base;               /* flow's replies_seen before this segment */
	__u32 auth_idx;               /* flow's auth_reply_idx */
	__u32 auth_result;            /* 0 none, 1 the AUTH reply was ok, 2 an error */
	__u32 naive;
	/* the key being looked up or invalidated (here, not on the stack:
	 * the call chain's stack is near the verifier's 512 bytes) */
	struct ps_cache_key key;
	__u32 key_ready;               /* key holds GET 0's key, built in place
				       * from the packet (buf was not loaded) */
	/* assemble() results */
	__u32 asm_csum;               /* partial sum of rep[0..tot) */
	__u32 asm_misses;
	/* XDP -> caller: commands now owed a reply by Redis */
	__u32 add_pending;
	/* emit_reply() arguments */
	struct {
		__u32 saddr, daddr;   /* of the request, network order */
		__u16 sport, dport;
		__u32 seq, ack;       /* of the reply, host order */
		__u32 tot, csum;      /* payload bytes in rep, their sum */
		__u32 tsval, tsecr;
		__u16 window;
		__u16 ts;
	} em;
	/* the TC ingress path's pick for this segment (tc_handoff.h) */
	struct ps_tcr_ref tcr;
	__u32 tcr_on;
	/* the payload's ones' complement sum, unfolded, written wherever the
	 * payload is read (rq_parse, xdp_payload_sum): hostile.h checks it */
	__u32 pl_sum;
	__u32 refused;                /* the segment was refused (hostile.h):
				       * the caller learns nothing from it */
	__u32 seg_ok;                 /* its checksum and tcp_refusal passed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ps_scratch);
} ps_scratch SEC(".maps");

#endif
