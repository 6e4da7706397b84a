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

#define PS_REND_MAX 256 /* reply ends one server segment's parse records */

#define PS_BUF_MASK (PS_PAYLOAD_MAX - 1)
/* reply assembly: offsets are masked below PS_REPLY_BOUND, and one more
 * reply of up to PS_REPLY_MAX bytes must fit after any of them */
#define PS_REP_MASK (PS_REPLY_BOUND - 1)
#define PS_REP_BUF  (2 * PS_REPLY_BOUND)

/* What the programs need from one segment; seq/ack in host order. */
struct ps_pkt {
	__u32 l4_off;       /* TCP header offset from the frame start */
	__u32 payload_off;
	__u32 payload_len;
	__u32 saddr, daddr; /* network order */
	__u16 sport, dport; /* network order */
	__u32 seq, ack;
	__u16 window;
	__u8  flags;        /* TCPF_* */
	__u8  doff;         /* TCP header bytes */
	__u8  ihl;          /* IP header bytes */
	__u8  has_ts, has_mss, has_ws, has_sackperm;
	__u8  ws;
	__u8  opts_done;    /* options already parsed in place */
	__u8  sack_n;       /* SACK blocks present */
	__u8  sack_off;     /* first SACK block, from the TCP header start */
	__u16 mss;
	__u32 tsval, tsecr;
	__u8  frag;         /* first fragment of a fragmented segment (XDP) */
	__u32 l4_sum;       /* pseudo header + TCP header, folded (hostile.h) */
	__u64 now_ns;       /* bpf_ktime_get_ns(), read once where needed */
	__u32 now_ms;       /* the TSval clock (now_ms()) at now_ns */
};

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
#define RQO_BLOCK     (1u << 11) /* a command that may block (PS_CMD_BLOCK) */

/*
 * Fields are grouped by the function that writes them; a group's callers
 * read them after it returns. Per-CPU entry PS_SCR_XDP serves one client
 * segment, PS_SCR_TC one server segment: nothing in them outlives it.
 */
struct ps_scratch {
	/* ps_core (prestack.bpf.c): the packet's headers, as parsed */
	struct ps_pkt pkt;

	/* the walks (ps_rq_walk, ps_rp_walk) / rq_load (resp.h,
	 * ingress_common.h): the payload copy, one window at a time */
	__u8  buf[PS_PAYLOAD_MAX + PS_KEY_MAX];
	__u32 pos;                    /* parse position in buf */
	__u32 len;                    /* payload bytes in buf */
	__u32 base;                   /* payload offset of buf[0]: segments longer
				       * than buf are parsed one window at a time */

	/* cut.h: the bytes a cut segment keeps (zero padded to a word) and
	 * the run being stored. Near the top: a masked offset plus a bounded
	 * length must stay inside the map value for the verifier */
	__u8  out[PS_PAYLOAD_MAX + 4];
	struct ps_run_val runv;

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
	__u32 get_start[PS_MAX_CMDS]; /* ... and the payload offset of its '*' (~0: it
				       * began in an earlier segment) */
	__u32 cmd_start;              /* the current command's '*', or ~0 */
	/* ps_fast_cmds / ps_fast_cmd: where the next command is, the SETs
	 * read (their keys and command positions), GETs past PS_MAX_CMDS */
#define PS_FAST_SETS 16
	__u32 fc_pos, fc_nset, fc_too_many;
	__u32 fc_set_off[PS_FAST_SETS];
	__u32 fc_set_len[PS_FAST_SETS];
	__u32 fc_set_cmd[PS_FAST_SETS];
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
	/* assemble_many went over every GET (asm_ok): where GET i's reply
	 * is in rep (asm_off) and its length (asm_len: 0 a miss,
	 * PS_ASM_NONE not looked up or reused under the copy), so that
	 * cut_one copies it from there instead of a second lookup */
#define PS_ASM_NONE 0xffff
	__u32 asm_ok;
	__u16 asm_off[PS_MAX_CMDS];
	__u16 asm_len[PS_MAX_CMDS];
	__u16 asm_sum[PS_MAX_CMDS];   /* the entry's csum (cut_one checks the copy) */
	__u32 fq_shift;               /* GETs cut before it (fq_arm's reply index) */

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
	/* guarded_data -> guarded_tail: where the new bytes begin, and the
	 * replies owed before the segment */
	__u32 g_from;
	__u32 g_pending_before;

	/* cache_fill_at (cache.h), post_fill (poststack.bpf.c): the key
	 * being filled, copied out of the flow (or socket) it was armed
	 * in. The map hashes the key it is given and then copies it: a
	 * key in a shared map value that another CPU rearms in between
	 * (naive arms every GET that misses) left an element stored under
	 * another key's hash, which no lookup finds and on which every
	 * get_next_key walk over ps_cache started again from the top */
	struct ps_cache_key fill_key;

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
	/* where each top-level reply completed in this segment ends (payload
	 * offset), the first PS_REND_MAX of them: insert.h places runs there */
	__u32 rend[PS_REND_MAX];
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


	/* cut_plan, cut_commit, cut_rewrite (cut.h): the GETs cut from this
	 * segment, by position among its commands; the runs their replies
	 * make (boundary, sub, bytes) and the client byte ranges they leave
	 * (payload offsets, merged); the bytes kept for Redis */
	__u64 cut_mask;
	__u32 ncut;
	__u32 cut_planned;            /* cut_plan ran: cut_misses counts the misses */
	__u32 cut_misses;             /* GETs of the segment that missed */
	__u32 cut_first_miss;         /* index among the GETs of the first */
#define PS_FQ_ARM 8                   /* misses of a segment armed to fill */
	__u32 miss_i[PS_FQ_ARM];      /* index among the GETs of the first few */
	__u32 nruns;
	__u32 run_b[PS_MAX_CMDS];
	__u32 run_sub[PS_MAX_CMDS];
	__u32 run_len[PS_MAX_CMDS];
	__u32 cp_i;                   /* cut_one's GET */
	__u32 cp_room;                /* runs the segment may still queue */
	__s64 cp_win;                 /* bytes the client's window still takes */
	__u32 run_open;               /* runv holds a run not yet stored ... */
	__u32 open_b;                 /* ... whose boundary is this */
	__u32 nrange;
	__u32 range_a[PS_MAX_CMDS];
	__u32 range_e[PS_MAX_CMDS];
	__u32 cut_len;                /* bytes cut: the ranges' total */
	__u32 cut_kept, cut_kseq;     /* cut_rewrite's: bytes kept, their kernel seq */
	__u32 kept_sum;               /* ones' complement sum of out[0..kept) */
	struct ps_run_key rkey;       /* the run being stored or withdrawn
				       * (its value runv, and the bytes kept,
				       * out, are at the top) */

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

/*
 * TC egress's insertion builder (insert.h), per CPU in ps_ins_work: a
 * kernel segment that runs go into (or that crosses runs inserted
 * before) is rebuilt as *spans* in client order (kernel bytes from kbuf,
 * a run's bytes, or a gap where a reply answered at XDP sits), and sent
 * as pieces of at most one MSS. Nested runs of ps_tc (the clones of the
 * pieces) return before they reach it.
 */
#define PS_INS_BUF   65536 /* kernel payload bytes one rebuild holds (power of
			    * two): a GSO skb's most */
#define PS_INS_CPUS  64    /* ps_ins_kbuf's entries unless the loader sets them
			    * to the possible CPUs */
#define PS_INS_SPANS 64 /* power of two (indices are masked) */

enum ps_span_kind {
	PS_SPAN_K = 0,   /* kernel bytes: kbuf[off, off + len) */
	PS_SPAN_RUN = 1, /* run bytes: src + off, len of them */
	PS_SPAN_GAP = 2, /* a reply answered at XDP: len client bytes we do
			  * not send again here (a new piece after it) */
};

struct ps_span {
	__u32 kind;
	__u32 len;
	__u32 off;
	__u32 pad;
	__u64 src;       /* PS_SPAN_RUN: the run's rep[] in ps_runs, read
			  * when a piece is gathered: by then another run's
			  * only if the client acked this one whole (maps.h,
			  * ps_runs) */
};

/* the kernel's payload of the segment being rebuilt, per CPU in
 * ps_ins_kbuf (a plain array by CPU id: a per-CPU value is at most 32 KB) */
struct ps_ins_kbuf {
	__u8 b[PS_INS_BUF + 8];
};

struct ps_ins_work {
	struct ps_span span[PS_INS_SPANS];
	__u32 nspan;
	__u32 si, so;                /* the cursor: span, byte within it */
	__u32 cseq;                  /* client seq at the cursor */
	__u32 mss;                   /* payload bytes a piece may carry */
	__u32 l4_off, hlen;          /* the skb's TCP header offset; all its headers */
	__u32 cur_len;               /* the skb's payload now: bytes ... */
	__u32 cur_sum;               /* ... their sum ... */
	__u32 cur_seq;               /* ... its seq field (host order) ... */
	__u16 cur_fw;                /* ... its data offset and flags word ... */
	__u16 cur_iplen;             /* ... and IP total length (network order) */
	__u16 fw;                    /* the kernel's flags word (the last piece's) */
	__u16 fw_mid;                /* ... without PSH and FIN (the others') */
	__u32 ifindex;
	__u32 mark;                  /* the skb's own mark, put back */
	__u32 kbytes;                /* kernel payload bytes copied into kbuf */
	__u32 hold;                  /* unit tests: build the piece, send nothing */
	/* the caller's (egress.h): replies counted before this segment, the
	 * payload offset of its new bytes and whether they begin a reply;
	 * where the bytes sent before end */
	__u32 rs0, from, at_boundary, kold;
	/* ins_plan's walk of the points: which, the offset before it, the
	 * payload offset reached, whether kbuf ran out */
	__u32 pi, pprev, cur, trunc;
	__u32 pseq;                  /* client seq of the piece being gathered */
	__u32 sent_end;              /* tc_runs: client seq after what went out */
	__u32 sum_ok;                /* cur_sum is the payload's whole sum */
	__u32 gaps;
	/* the runs taken for this segment, in order: where they go (payload
	 * offset of the kernel bytes they follow), boundary, sub, bytes */
	__u32 nnew;
	__u32 new_at[PS_RUNQ_RING];
	__u32 new_b[PS_RUNQ_RING];
	__u32 new_sub[PS_RUNQ_RING];
	__u32 new_len[PS_RUNQ_RING];
	__u64 new_src[PS_RUNQ_RING];
	/* one piece's payload, zero padded; last and twice the bound, so
	 * that a masked offset plus a bounded length stays in the value */
	__u8  seg[2 * PS_TCR_SEG_BUF];
};

/*
 * Every size below indexes an array through a mask (i & (N - 1)): a size
 * that is not a power of two folds indices onto the wrong entries (a
 * 48-span list once put span 16 over span 0: a run sent before the
 * kernel's bytes it follows). Checked here, where they are all visible.
 */
#define PS_POW2(n) ((n) > 0 && ((n) & ((n) - 1)) == 0)
_Static_assert(PS_POW2(PS_EPOCH_SLOTS), "PS_EPOCH_SLOTS: power of two");
_Static_assert(PS_POW2(PS_MAX_CMDS), "PS_MAX_CMDS: power of two");
_Static_assert(PS_POW2(PS_RP_DEPTH), "PS_RP_DEPTH: power of two");
_Static_assert(PS_POW2(PS_RTX_RING), "PS_RTX_RING: power of two");
_Static_assert(PS_POW2(PS_SEQADJ_POINTS), "PS_SEQADJ_POINTS: power of two");
_Static_assert(PS_POW2(PS_RUN_BYTES), "PS_RUN_BYTES: power of two");
_Static_assert(PS_POW2(PS_RUN_SUBS), "PS_RUN_SUBS: power of two");
_Static_assert(PS_POW2(PS_RUNQ_RING), "PS_RUNQ_RING: power of two");
_Static_assert(PS_POW2(PS_WR_RING), "PS_WR_RING: power of two");
_Static_assert(PS_POW2(PS_MARKS), "PS_MARKS: power of two");
_Static_assert(PS_POW2(PS_REND_MAX), "PS_REND_MAX: power of two");
_Static_assert(PS_POW2(PS_PAYLOAD_MAX), "PS_PAYLOAD_MAX: power of two (PS_BUF_MASK)");
_Static_assert(PS_POW2(PS_FAST_SETS), "PS_FAST_SETS: power of two");
_Static_assert(PS_POW2(PS_FQ_ARM), "PS_FQ_ARM: power of two");
_Static_assert(PS_POW2(PS_TCR_SEG_BUF), "PS_TCR_SEG_BUF: power of two");
_Static_assert(PS_POW2(PS_INS_BUF), "PS_INS_BUF: power of two");
_Static_assert(PS_POW2(PS_INS_SPANS), "PS_INS_SPANS: power of two");

#endif
