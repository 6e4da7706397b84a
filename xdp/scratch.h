/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scratch.h - per-CPU working memory (the maps are in maps.h). Entry 0 of
 * ps_scratch is XDP's, entry 1 is TC's. Payloads are copied here so the
 * RESP parsers index a map value with masked offsets instead of chasing
 * packet pointers through bpf_loop.
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

/*
 * Fields are grouped by the function that writes them; a group's callers
 * read them after it returns. Per-CPU entry PS_SCR_XDP serves one client
 * segment, PS_SCR_TC one server segment: nothing in them outlives it.
 */
struct ps_scratch {
	/* ps_walk / rq_load (resp.h, ingress_common.h): the payload copy,
	 * one window at a time */
	__u8  buf[PS_PAYLOAD_MAX + PS_KEY_MAX];
	__u32 pos;                    /* parse position in buf */
	__u32 len;                    /* payload bytes in buf */
	__u32 base;                   /* payload offset of buf[0]: segments longer
				       * than buf are parsed one window at a time */

	/* the caller of a request parse (guarded_data, naive_data,
	 * guarded_retrans): its inputs, and the parser state it carries
	 * from the flow and back */
	struct ps_req_parser rq;
	__u32 naive;                  /* 1: parse without side effects on the flow */

	/* rq_run and its fast paths (resp.h, xdp_fast_get): what this
	 * segment's requests hold; invalidated/flushes from the
	 * invalidations it makes (cache.h) */
	__u32 rq_out;                 /* RQO_* */
	__u32 ncmds;                  /* commands completed in this segment */
	__u32 ngets;                  /* of which plain GETs with a visible key */
	__u32 cur_key_off;            /* current command's GET key, if visible */
	__u32 cur_key_len;
	__u32 key_off[PS_MAX_CMDS];
	__u32 key_len[PS_MAX_CMDS];
	__u32 get_pos[PS_MAX_CMDS];   /* each GET's 0-based position among the segment's commands */
	__u32 arg_off;                /* where the current argument's bytes begin */
	__u32 arg_vis;                /* ... and they began in this segment */
	__u32 multi_last;             /* 1: MULTI seen last, 2: EXEC/DISCARD seen last */
	__u32 auth_pos;               /* 1-based position among this segment's commands of its last AUTH/HELLO */
	__u32 invalidated;
	__u32 flushes;
	/* a PS_CMD_SUBCMD container's name, packed (ps_classify_sub); sub_n
	 * 0: not seen in this segment */
	__u64 sub_w0, sub_w1;
	__u32 sub_n;

	/* the key being looked up or invalidated (here, not on the stack:
	 * the call chain's stack is near the verifier's 512 bytes), written
	 * by ps_key_from_buf or, in place from the packet, by xdp_fast_get */
	struct ps_cache_key key;
	__u32 key_ready;              /* key holds GET 0's key, built in place
				       * from the packet (buf was not loaded) */

	/* assemble / assemble_many (reply.h), or rtx_resend's copy of a
	 * kept reply: the replies of this segment's GETs */
	__u8  rep[PS_REP_BUF];
	__u32 asm_csum;               /* partial sum of rep[0..tot) */
	__u32 asm_misses;
	__u32 first_miss;             /* index among the GETs of the first that missed */

	/* tcr_pick (tc_handoff.h): the TC ingress path's pick */
	struct ps_tcr_ref tcr;
	__u32 tcr_on;

	/* em_setup (reply.h): emit_reply's arguments */
	struct {
		__u32 saddr, daddr;   /* of the request, network order */
		__u16 sport, dport;
		__u32 seq, ack;       /* of the reply, host order */
		__u32 tot, csum;      /* payload bytes in rep, their sum */
		__u32 tsval, tsecr;
		__u16 window;
		__u16 ts;
	} em;
	/* emit_reply: set from the frame's first change until the reply is
	 * complete (ps_ingress clears it per segment and drops on it) */
	__u32 em_dirty;

	/* guarded_data -> ps_ingress: commands now owed a reply by Redis */
	__u32 add_pending;

	/* cache_fill (cache.h): the value being filled. Never the last
	 * field: its checksum reads whole PS_CSUM_CHUNK chunks, which the
	 * verifier bounds by the end of the map value, not of reply[] */
	struct ps_cache_val fill;

	/* xdp_handle_syn (ingress_common.h): the flow being created */
	struct ps_flow newflow;

	/* rtx_store (rtx.h): the reply being kept (retrans) */
	struct ps_rtx_val rtx;

	/* TC egress: tc_replies (egress.h) seeds rp from the flow, rp_reset
	 * rep_base and auth_idx; rp_run (resp.h) writes the rest */
	struct ps_rep_parser rp;
	__u32 rep_base;               /* flow's replies_seen before this segment */
	__u32 auth_idx;               /* flow's auth_reply_idx */
	__u32 replies;                /* top-level replies completed in this segment */
	__u32 rp_error;
	__u32 top_start;              /* payload offset where the current top-level reply began, or ~0 */
	__u32 first_off;              /* first completed top-level reply: payload offset/len, ~0 if it began earlier */
	__u32 first_len;
	__u32 first_bulk;             /* it was a non-null bulk string */
	__u32 first_val_len;
	__u32 bulk_len;               /* length of the bulk being skipped */
	__u32 top_type;               /* type byte of the top-level reply being parsed */
	__u32 auth_result;            /* 0 none, 1 the AUTH reply was ok, 2 an error */
	/* pipelined fills (cache.h, fq_*): the flow's armed bits when the
	 * walk began; each armed reply completed in this segment: index,
	 * payload offset and length (0: not a complete bulk, nothing to
	 * store) and value length; fq_over: armed bits past PS_FQ_SEG */
	__u64 fq_mask;
	__u64 fq_over;
	__u32 fq_n;
	__u32 fq_idx[PS_FQ_SEG];
	__u32 fq_off[PS_FQ_SEG];
	__u32 fq_len[PS_FQ_SEG];
	__u32 fq_vlen[PS_FQ_SEG];
	struct ps_fq_val fqv;         /* fq_arm's entry being built */

	/* the payload's ones' complement sum, unfolded, written wherever the
	 * payload is read (rq_parse, xdp_payload_sum): hostile.h checks it;
	 * refused: the segment was refused (hostile.h), the caller learns
	 * nothing from it; seg_ok: its checksum and tcp_refusal passed */
	__u32 pl_sum;
	__u32 refused;
	__u32 seg_ok;


	/* ps_invalidate (cache.h), when guarded_data sets wr_track: the
	 * epoch slot of each key this segment writes and the commands
	 * completed before it; wr_push moves them to the flow's ring */
#define PS_WR_SCR 8
	__u32 wr_track;
	__u32 wr_n;                   /* > PS_WR_SCR: some did not fit */
	__u32 wr_slot[PS_WR_SCR];
	__u32 wr_cmd[PS_WR_SCR];

	/* the request parser (resp.h, rq_ttl_*): what the TTL commands of
	 * this window do, recorded as they end and settled into ps_ttl
	 * after the window's parse (rq_ttl_window_end: its stack is off
	 * the parser's, which is at the verifier's limit); the key of the
	 * command being parsed, if it is in this window */
#define PS_TTL_REC 64
	__u32 ttl_n;                  /* > PS_TTL_REC: some did not fit */
	__u32 ttl_key_off;
	__u32 ttl_key_len;            /* 0: the key is not in this window */
	struct ps_ttl_rec ttl_rec[PS_TTL_REC];
	/* rq_ttl_prepare -> ttl_settle_s: one record's outcome (cache.h) */
	struct {
		__u32 eff, cond, sure, counted;
		__u64 exp;
		__u64 val;            /* a value for bpf_map_update_elem */
	} ttl_args;
};

/*
 * TC ingress reply builder's working memory (tc_ingress.h), per CPU in
 * ps_tcr_work (not ps_scratch: ps_tc runs nested inside
 * bpf_clone_redirect on this CPU and uses its own entry, but this keeps
 * the two apart by construction). tcr_prepare writes all of it but i and
 * hold, which tcr_run (or the unit tests' harness) sets per segment.
 */
#define PS_TCR_SEG_BUF    2048  /* >= MTU_PAYLOAD_MAX, power of two */

/* a segment's headers; pad keeps ip and tcp 4-byte aligned (Ethernet is 14) */
struct ps_tcr_hdr {
	__u8 pad[2];
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 opts[TCPOLEN_TS_ALIGNED]; /* NOP NOP TS */
};

struct ps_tcr_work {
	__u8  seg[PS_TCR_SEG_BUF];   /* one segment's payload, zero padded */
	struct ps_tcr_hdr h;         /* the reply's headers, seq/ack/len per segment */
	__u32 ifindex;
	__u32 ts;                    /* timestamps option present */
	/* the reply, for tcr_segment: where its bytes are (the address of
	 * the cache entry's reply[], read with bpf_probe_read_kernel), how
	 * many, and what the segments carry */
	__u64 src;
	__u64 idp, id;               /* the address of the source's identity
				      * (filled_ns, or ps_rtx_val.id) and its
				      * value: checked after every copy */
	struct ps_tcr_ref ref;       /* tcr_prepare's copy of the ref */
	__u32 tot, from, mss;        /* reply bytes, first to send, per segment */
	__u32 srv_seq;               /* client-space seq of reply byte 0 */
	__u32 req_seq, req_end;      /* acked by earlier segments / the last */
	__u32 i;                     /* segment to build */
	__u32 hold;                  /* unit tests: build segment i, send nothing */
};

#endif
