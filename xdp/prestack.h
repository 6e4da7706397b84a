/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * prestack.h - plain structs and constants shared by the BPF programs
 * (xdp/prestack.bpf.c), the control tool (ctl/) and the tests.
 *
 * Names (docs/architecture.md): "client space" is the sequence space the client
 * sees on the wire, "kernel space" is what the server's tcp_sock holds.
 * consumed = client bytes answered at XDP (never given to the kernel),
 * injected = server bytes created at XDP (never sent by the kernel).
 */
#ifndef PRESTACK_H
#define PRESTACK_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Cache limits, chosen for the verifier and for one reply per MSS. */
#define PS_KEY_MAX        64     /* bytes of a cached key */
/* bytes of a cached value: values up to PS_SMALL_VAL_MAX live in ps_cache
 * and are answered at XDP when the reply fits the frame; larger ones live
 * in ps_cache_big and only the TC ingress path answers them (docs/tc-reply.md:
 * why 16384) */
#define PS_VAL_MAX        16384
#define PS_SMALL_VAL_MAX  1024
/* "$1024\r\n" + value + "\r\n", rounded up to a multiple of 4 (csum) */
#define PS_REPLY_MAX      1040
#define PS_CACHE_ENTRIES  16384
/* words of 64 bits in ps_present, a power of two: 2^20 bits, 64 per
 * cache entry, so that at most ~1.6% of absent keys look present when the
 * cache is full (keyhash.h, ps_present_pos) */
#define PS_PRESENT_WORDS  16384
#define PS_TTL_ENTRIES    262144 /* keys with a TTL (or an unknown one) */
#define PS_FLOW_ENTRIES   65536
#define PS_EPOCH_SLOTS    4096   /* power of two: invalidation epochs by key hash */
#define PS_RTX_ENTRIES    8192   /* retrans mode: injected replies kept */
/* retrans mode: TC replies from ps_cache_big kept as bytes (ps_tcr_big):
 * 256 x 16.4 KB = 4.2 MB, preallocated (an LRU map cannot be otherwise) */
#define PS_TCR_BIG_ENTRIES 256
#define PS_CMD_ENTRIES    1024   /* Redis command table (COMMAND) loaded at attach */
#define PS_MAX_CMDS       16     /* commands answered from one segment */
#define PS_PAYLOAD_MAX    2048   /* largest TCP payload the parsers look at */

enum ps_mode {
	PS_MODE_OFF     = 0, /* hook attached, everything passed untouched */
	PS_MODE_NAIVE   = 1, /* answer every cached GET, one offset, no guards */
	PS_MODE_GUARDED = 2, /* answer only when safe, never corrupt */
	PS_MODE_RETRANS = 3, /* guarded + a retransmission buffer for injected
			      * replies: re-sent on a retransmitted request or
			      * a duplicate ACK until the client acks them */
	PS_MODE_POSTSTACK = 4, /* answered after the TCP stack by the sk_skb
				* program on Redis's sockets (xdp/poststack.bpf.c);
				* XDP and TC pass everything, as in off */
	PS_MODE__MAX,
};

/* ps_config.flags */
#define PS_CFG_REQUIRE_SOCK  (1u << 0) /* guarded: answer only if tcp_sock found and agrees */
#define PS_CFG_FILL          (1u << 1) /* TC fills the cache from replies to missed GETs */
#define PS_CFG_CHECK_SOCK    (1u << 2) /* read tcp_sock to count divergences */
#define PS_CFG_AUTH          (1u << 3) /* Redis requires AUTH: answer only flows
					* whose AUTH/HELLO succeeded (guarded) */
#define PS_CFG_DRAIN         (1u << 4) /* detach --drain: answer nothing, track no new
					  * flow, keep translating the old ones */
#define PS_CFG_NO_ACK_HOLD   (1u << 5) /* guarded: let kernel retransmissions ack
					  * answered requests (the ablation of the
					  * ACK hold, attach --no-ack-hold) */
#define PS_CFG_TC_REPLY      (1u << 7) /* the TC ingress program is attached: XDP
					  * hands it the replies it cannot carry
					  * (docs/tc-reply.md) */
#define PS_CFG_LEASE         (1u << 6) /* answer only while the coherence watcher's
					  * lease (ps_lease) is fresh */
#define PS_CFG_TTL_EXACT     (1u << 8) /* a well-formed write cannot fail in this
					  * Redis (a master, no maxmemory that could
					  * refuse it, no min-replicas): a TTL read from
					  * a request is recorded as it stands (resp.h);
					  * set by attach and the coherence watcher */
#define PS_CFG_SIDE          (1u << 9) /* the side path (xdp/sidepath.bpf.c) is on
					  * every other interface of the namespace */
#define PS_CFG_NO_CUT        (1u << 10) /* guarded: answer a segment only whole,
					  * never cut GETs from a pipelined one
					  * (cut.h, docs/pipelines.md). Set by
					  * attach unless --cut: per-command
					  * answering is opt-in (its cost and a
					  * wrong value seen under load) */
#define PS_CFG_DEFAULT (PS_CFG_REQUIRE_SOCK | PS_CFG_FILL | PS_CFG_CHECK_SOCK)

/* Config map (array, 1 entry), written by the control tool at run time. */
struct ps_config {
	__u32 mode;      /* enum ps_mode */
	__u32 flags;     /* PS_CFG_* */
	__u16 port;      /* Redis port, host byte order */
	__u16 pad;
	__u32 cache_gen; /* bumped to flush the cache: entries of an older gen miss */
	__u32 clock_ms;  /* 0: real clock; else the ms clock the programs use
			  * (offline replay sets it from pcap timestamps so
			  * that reply TSvals are reproducible) */
	__u32 extra_work; /* benchmarks only: empty bpf_loop iterations spent
			   * on every answered segment (BMC's dummy cache) */
};

/* Faults the unit tests inject (the programs' rodata ps_fault, set
 * before load; never in an attached program) */
#define PS_FAULT_EMIT_ONE (1u << 0) /* emit_reply of a cache entry fails once
				     * the frame has grown */
#define PS_FAULT_EMIT_REP (1u << 1) /* ... of replies in scratch (several
				     * GETs, a retrans-mode re-send) */
#define PS_FAULT_REUSE    (1u << 2) /* a cache entry is reused for another
				     * key right after its reply was copied
				     * (emit_reply, assemble_many) */
#define PS_FAULT_REUSE_LATE (1u << 3) /* ... right after an answer was sent
				       * from it (before rtx_store) */
#define PS_FAULT_NO_GROW  (1u << 4) /* emit_reply of replies in scratch
				     * (a retrans-mode re-send) finds no
				     * room, frame untouched (a veth frame
				     * on a small skb) */
#define PS_FAULT_REUSE_EARLY (1u << 5) /* a cache entry is deleted and its
					* element reused for the key "zzz"
					* between its lookup and the read of
					* its identity (assemble,
					* assemble_many, cut_one) */
#define PS_FAULT_REUSE_SAME_HASH (1u << 6) /* ... the element left under
					    * the hash of the key looked
					    * up (a key of the same hash
					    * filled into it) */
#define PS_FAULT_RUN_REUSE (1u << 7) /* a queued run TC looked up is
				      * withdrawn and its element reused for
				      * another run (b + PS_FAULT_RUN_B, its
				      * value's bytes "zzz") before TC's
				      * compare-and-swap (ins_take_one) */
#define PS_FAULT_RUN_B 100
#define PS_FAULT_RTX_REUSE (1u << 8) /* a reply's entry in ps_rtx is evicted
				      * and its element reused for the reply
				      * at srv_seq + PS_FAULT_RTX_SEQ of the
				      * flow between its lookup and the read
				      * of its identity (rtx_resend) */
#define PS_FAULT_RTX_SEQ 0x10000
#define PS_FAULT_SIDE_REUSE (1u << 10) /* the side path's entry for a
				       * client segment is deleted and its
				       * element taken by another connection
				       * (client port + 1, cli_nxt
				       * PS_FAULT_SIDE_NXT) between ps_side_in's
				       * lookup and side_enter */
#define PS_FAULT_SIDE_NXT 0x5151
#define PS_FAULT_SYN_RACE (1u << 11) /* a SYN of ISN + PS_FAULT_SYN_ISN
				     * replaces the flow while tc_synack
				     * learns the SYN-ACK (after its check) */
#define PS_FAULT_SYN_ISN 1000
#define PS_FAULT_ASM_REUSE (1u << 9) /* a TC reply's slot in ps_tcr_asm
				      * claimed again and rewritten between
				      * tcr_prepare's lookup and its read of
				      * the slot's id */

/*
 * ps_lease (array): entries the control tool and the BPF program each
 * write alone, so that neither read-modify-writes what the other owns.
 */
enum ps_lease_idx {
	PS_LEASE_UNTIL = 0,   /* with PS_CFG_LEASE, XDP answers only before this
			       * CLOCK_MONOTONIC time (ns); the coherence watcher
			       * moves it forward after each round trip that
			       * proves it has applied every keyspace event
			       * published before it */
	PS_LEASE_TTL_LOST,    /* BPF counts here every time the TTL of some key
			       * it cannot name may have changed (a TTL mark
			       * that did not fit ps_ttl, a TTL write whose key
			       * was not seen whole, SWAPDB, DEBUG, a full ask
			       * queue): nothing is filled while it differs
			       * from PS_LEASE_TTL_SEEN */
	PS_LEASE_TTL_SEEN,    /* the watcher: the PS_LEASE_TTL_LOST value its last
			       * full TTL scan covers */
	PS_LEASE_CLOCK_OFF,   /* the control tool: CLOCK_REALTIME - CLOCK_MONOTONIC
			       * in ns (two's complement; 0: not known), to put
			       * an absolute TTL (EXAT, PXAT, EXPIREAT, ...) on
			       * the monotonic clock */
	PS_LEASE_REVOKE,      /* BPF counts here every command after which no
			       * packet shows every write (REPLICAOF, MODULE):
			       * with PS_CFG_LEASE nothing is answered while it
			       * differs from PS_LEASE_REVOKE_ACK */
	PS_LEASE_REVOKE_ACK,  /* the watcher: the PS_LEASE_REVOKE value after which
			       * it found Redis a master without modules */
	PS_LEASE_SIDE_FULL,   /* set by BPF when a connection on the side path
			       * could not be tracked (its table full): nothing
			       * is filled until the next attach */
	PS_LEASE__MAX,
};

/*
 * Keys with a TTL. Redis expires a key where we cannot see it (lazily, or
 * by its sampling cycle), so a cached value carries the key's expiry and
 * is answered only while it is more than PS_TTL_MARGIN_NS away. ps_ttl maps
 * a key to its expiry (CLOCK_MONOTONIC ns) or to PS_TTL_UNKNOWN: XDP marks
 * a key unknown when it sees a command that may change its TTL, the
 * coherence watcher replaces the mark with what PTTL says. A key without
 * an entry has no TTL: the watcher's scan at start and its keyspace events
 * afterwards put an entry for every key that has one.
 */
#define PS_TTL_UNKNOWN     (~0ull)
/* an expiry too far to matter (clamped: earlier is the safe side) */
#define PS_TTL_FAR         (~0ull - 1)
/* The margin covers the millisecond resolution of PTTL and of Redis's
 * clock and the time a reply spends in flight before Redis would judge
 * the key expired; the drift between our clock and Redis's (NTP slews by
 * at most 500 ppm) is taken off each expiry when it is learnt. */
#ifndef PS_TTL_MARGIN_NS
#define PS_TTL_MARGIN_NS   (5 * 1000000ull)
#endif

/*
 * A key as parsed, with its 64-bit hash (keyhash.h, ps_key_hash: taken
 * once, where the key is built). ps_cache is keyed by the hash alone and
 * its entries hold the key (ps_cache_val.key); the epoch slot is bits of
 * the hash. ps_ttl and ps_cache_big are keyed by the whole struct.
 */
struct ps_cache_key {
	__u64 hash;              /* ps_key_hash(len, data) */
	__u32 len;               /* key length, 1..PS_KEY_MAX */
	__u32 pad;               /* 0 (the struct is a map key) */
	__u8  data[PS_KEY_MAX];  /* key bytes, zero padded; 8-byte aligned:
				  * hashed and compared a word at a time */
};

/*
 * A cached value, stored as the exact RESP reply bytes "$<n>\r\n<value>\r\n"
 * (zero padded to a multiple of 4) together with their checksum, so the hit
 * path copies bytes and adds one precomputed sum.
 */
struct ps_cache_val {
	__u32 gen;        /* ps_config.cache_gen when filled */
	__u32 reply_len;  /* bytes of reply[] that are the RESP reply */
	__u32 csum;       /* 16-bit ones' complement sum of reply[0..reply_len)
			   * in host byte order (as csum_partial/bpf_csum_diff
			   * compute it), folded, not inverted */
	__u32 val_len;    /* value length (reply_len minus the RESP framing) */
	__u64 filled_ns;  /* bpf_ktime_get_ns() / CLOCK_MONOTONIC at fill */
	__u32 source;     /* PS_FILL_* */
	__u32 pad;
	__u64 expires_ns; /* the key's expiry, CLOCK_MONOTONIC; 0: no TTL */
	struct ps_cache_key key; /* whose value this is: ps_cache is keyed by
				  * the hash, every reader compares the key */
	__u8  reply[PS_REPLY_MAX];
};

/* gen of an entry being filled, not yet checked against its key's epoch
 * (cache.h, cache_store): no lookup matches it; cache_gen stays below */
#define PS_GEN_PENDING 0x80000000u

#define PS_FILL_USER 1 /* control tool (cache set / warm) */
#define PS_FILL_TC   2 /* TC egress, from a reply to a missed GET */

/*
 * A value larger than PS_SMALL_VAL_MAX (ps_cache_big): the same fields as
 * ps_cache_val, a larger reply. Only the TC ingress path answers it.
 */
/* "$16384\r\n" + value + "\r\n" = 16394, rounded up to a multiple of 4 */
#define PS_BIG_REPLY_MAX  16396
#define PS_BIG_ENTRIES    1024
struct ps_cache_big_val {
	__u32 gen;
	__u32 reply_len;
	__u32 csum;
	__u32 val_len;
	__u64 filled_ns;
	__u32 source;
	__u32 pad;
	__u64 expires_ns;
	__u8  reply[PS_BIG_REPLY_MAX];
};

/* Flow key: always client -> server orientation, network byte order. */
struct ps_flow_key {
	__u32 cli_addr;
	__u32 srv_addr;
	__u16 cli_port;
	__u16 srv_port;
};

/* ps_flow.state */
enum ps_flow_state {
	PS_FLOW_SYN     = 1, /* client SYN seen */
	PS_FLOW_EST     = 2, /* SYN-ACK seen: both ISNs and options known */
	PS_FLOW_CLOSING = 3, /* a FIN seen */
	PS_FLOW_DONE    = 4, /* both FINs acked (or the kernel's RST): kept as
			      * TIME_WAIT is, so that a late FIN or ACK is
			      * still translated; answers nothing, learns
			      * nothing; gone after PS_TIME_WAIT_NS idle, a
			      * new SYN of the tuple, or `flows --reap` */
};

/* how long a finished flow keeps translating (Linux's TCP_TIMEWAIT_LEN) */
#define PS_TIME_WAIT_NS (60ull * 1000000000ull)

/* ps_flow.flags: X(ID, name, what it means), bit i for the i-th; the
 * control tool prints the names (flows) */
#define PS_FLAGS(X) \
	X(TS, ts, "timestamps negotiated") \
	X(SACK, sack, "SACK permitted") \
	X(WSCALE, wscale, "window scaling negotiated") \
	X(UNTRUSTED, untrusted, "handed to the kernel for good (guarded)") \
	X(FIN_CLI, fin_cli, "") \
	X(FIN_SRV, fin_srv, "") \
	X(OTHER_DB, other_db, "SELECTed a database: never answered") \
	X(FILL_ARMED, fill_armed, "next reply is for fill_key") \
	X(ANSWERED, answered, "at least one segment answered (ans_* valid)") \
	X(REQ_DESYNC, req_desync, "request parser lost its place: writes unseen") \
	X(REP_DESYNC, rep_desync, "reply parser lost its place: pending unknown") \
	X(IN_MULTI, in_multi, "inside MULTI: replies are +QUEUED") \
	X(CLI_TS, cli_ts, "client offered timestamps in its SYN") \
	X(CLI_SACK, cli_sack, "") \
	X(CLI_WS, cli_ws, "") \
	X(STREAM, stream, "guarded has followed both streams since the SYN") \
	X(AUTHED, authed, "an AUTH/HELLO of this flow got a non-error reply") \
	X(QUIT, quit, "QUIT handed to Redis: nothing more is answered") \
	X(SRV_TW, srv_tw, "the server's FIN came first: its socket is in TIME_WAIT once the flow is done") \
	X(RUNS_LOST, runs_lost, "a cut GET's reply can no longer be placed: the server's segments are dropped, never delivered without it")

enum ps_flag_bit {
#define PS_FLAG_BIT_(id, name, doc) PS_FBIT_##id,
	PS_FLAGS(PS_FLAG_BIT_)
#undef PS_FLAG_BIT_
	PS_FBIT__MAX,
};
#define PS_FLAG_VAL_(id, name, doc) PS_F_##id = 1u << PS_FBIT_##id,
enum ps_flag { PS_FLAGS(PS_FLAG_VAL_) };
#undef PS_FLAG_VAL_
#define PS_FLAG_NAME_(id, name, doc) #name,
#define PS_FLAG_NAMES { PS_FLAGS(PS_FLAG_NAME_) }

/* Why a flow became untrusted (ps_flow.untrusted_reason): X(ID, name, why) */
#define PS_UNTRUSTS(X) \
	X(NONE, none, "") \
	X(OOO, ooo, "client data out of order: stream parser lost") \
	X(REQ_PARSE, req_parse, "request stream not RESP we can follow") \
	X(REP_PARSE, rep_parse, "reply stream not RESP we can follow") \
	X(PENDING, pending, "more replies than requests (push/monitor/...)") \
	X(CMD, cmd, "command that changes reply accounting (SUBSCRIBE, MONITOR, CLIENT REPLY, RESET...)") \
	X(UNREADABLE, unreadable, "a segment's payload could not be read (load failed)") \
	X(RETRANS, retrans, "retransmission overlapping consumed bytes we could not re-answer") \
	X(MODE, mode, "opened or seen in another mode: accounting incomplete") \
	X(FRAG, frag, "an IP fragment: the kernel reassembles bytes we did not parse") \
	X(URG, urg, "urgent data: Linux takes the urgent byte out of the stream") \
	X(KDROP, kdrop, "a data segment failed PAWS, the ACK range or the window: the kernel's copy of those mirrors may differ from ours") \
	X(SYN_RACE, syn_race, "a SYN of another ISN replaced the flow while TC egress was learning the old SYN-ACK: the mirrors may mix the two")

enum ps_untrust {
#define PS_UT_ENUM_(id, name, doc) PS_UT_##id,
	PS_UNTRUSTS(PS_UT_ENUM_)
#undef PS_UT_ENUM_
	PS_UT__MAX,
};
#define PS_UT_NAME_(id, name, doc) #name,
#define PS_UNTRUST_NAMES { PS_UNTRUSTS(PS_UT_NAME_) }

/*
 * What the command being parsed does to its key's TTL, read from its
 * arguments (resp.h, rq_ttl_*); and what the connection has done that
 * makes a TTL write's outcome uncertain (sess). Persisted with the parser.
 */
struct ps_ttl_parse {
	__u8  kind;   /* PS_TK_*: the command, 0: none that sets a TTL */
	__u8  opt;    /* PS_TO_*: its expiry option (EX, PXAT, KEEPTTL, ...) */
	__u8  want;   /* PS_TW_*: what the next argument is */
	__u8  flags;  /* PS_TF_* */
	__u8  cond;   /* PS_TC_*: NX, XX, GT, LT */
	__u8  sess;   /* PS_TS_*: MULTI, SELECT, a named AUTH seen on the flow */
	__u8  pad[2];
	__s64 num;    /* the TTL or time argument, as written */
};

/* A TTL command as it ended, until its window is settled (scratch.h) */
struct ps_ttl_rec {
	struct ps_ttl_parse t;
	__u16 key_off;   /* its key in the window's buffer */
	__u16 key_len;
	__u32 pad;
};

/* Request stream parser state (client -> server), persisted per flow. */
struct ps_req_parser {
	__u8  state;     /* PS_RQ_* (resp.h) */
	__u8  cmd;       /* PS_CMD_* of the command being parsed */
	__u8  name_have; /* bytes of a split command name collected in name[] */
	__u8  numf;      /* PS_RQN_*: what the number (or inline line) being
			  * parsed has shown so far */
	__u32 nargs;     /* arguments announced by '*' */
	__u32 arg_idx;   /* argument being parsed */
	__u32 left;      /* number being parsed, then bytes left of the argument */
	__u32 arg_len;   /* length of the argument being parsed */
	__u8  name[16];  /* command name split across segments */
	struct ps_ttl_parse ttl;
};

/* Reply stream parser state (server -> client), persisted per flow. */
#define PS_RP_DEPTH 8
struct ps_rep_parser {
	__u8  state;     /* PS_RP_* */
	__u8  type;      /* RESP type byte of the element being parsed */
	__u8  depth;     /* aggregate nesting depth */
	__u8  neg;
	__u32 num;       /* number being parsed, then bytes left of a bulk */
	__u32 left[PS_RP_DEPTH]; /* elements left at each depth */
};

/* retrans mode: one injected reply the client has perhaps not received */
#define PS_RTX_RING  4
#define PS_RTX_BYTES 2048      /* power of two >= the largest reply payload */
struct ps_rtx_ent {
	__u32 req_seq;         /* client seq of the request it answered */
	__u32 req_len;
	__u32 srv_seq;         /* client-space seq of the reply */
	__u32 rep_len;         /* 0: slot empty */
};

struct ps_rtx_key {
	struct ps_flow_key flow;
	__u32 srv_seq;
};

struct ps_rtx_val {
	__u32 len;             /* reply payload bytes */
	__u32 csum;            /* their partial sum */
	__u64 id;              /* when it was stored: its identity, checked
				* after a copy (an LRU element is reused at
				* once: xdp/helpers.h, ENTRY_SAME) */
	__u8  rep[PS_RTX_BYTES];
};

/* A slot of ps_tcr_asm (maps.h): a TC reply's bytes, fixed at XDP, and
 * what TC ingress needs to send them without a ps_tcr_refs entry. */
struct ps_tcr_slot {
	__u32 len;             /* reply payload bytes */
	__u32 csum;            /* their partial sum */
	__u64 id;              /* the claim whose bytes these are; 0 while a
				* claim writes them (tc_handoff.h) */
	__u32 srv_seq;         /* client-space seq of the reply */
	__u32 req_seq;         /* client seq of the request it answers */
	__u32 req_end;         /* ... and of the byte after it */
	__u32 pad;
	__u8  rep[PS_RTX_BYTES];
};

/*
 * The mirrors: what each field of struct ps_flow stands for in the server's
 * tcp_sock (tp->...), and in which sequence space it is kept. C = client
 * space (the numbers on the client's wire), K = kernel space (the
 * numbers tcp_sock holds). For every mirror, C = K + consumed on the
 * client stream and C = K + injected on the server stream, except where
 * the seqadj history (seqadj.h) says an older offset applies.
 *
 *   field        space  tcp_sock / meaning                       written by
 *   cli_isn      C=K    tcp_rsk(req)->rcv_isn (client's ISN)       XDP, SYN
 *   cli_nxt      C      rcv_nxt + consumed                         XDP, client data/FIN
 *   consumed     -      client bytes answered at XDP, never        XDP, an answer
 *                       given to the kernel
 *   srv_isn      C=K    tcp_rsk(req)->snt_isn (the SYN-ACK seq)   TC, SYN-ACK
 *   ksnd_nxt     K      snd_nxt (the highest end sent, seen at TC) TC, server data/FIN
 *   srv_nxt()    C      snd_nxt + injected (seqadj.h)              derived
 *   ksnd_una     K      snd_una (the highest ack handed to it)     XDP, translating an ack
 *   srv_una      C      snd_una + injected: the highest ack the    XDP, client ack
 *                       client sent
 *   injected     -      server bytes created at XDP, never sent    XDP, an answer
 *                       by the kernel
 *   cli_wnd_raw  -      snd_wnd >> rx_opt.snd_wscale (the client's XDP, every segment
 *                       window field)
 *   srv_wnd_raw  -      the window field the kernel last sent      TC
 *                       (rcv_wnd >> rx_opt.rcv_wscale)
 *   wscale_cli   -      rx_opt.snd_wscale                          SYN / SYN-ACK
 *   wscale_srv   -      rx_opt.rcv_wscale                          SYN-ACK
 *   mss_cli      -      rx_opt.mss_clamp (the client's MSS option) XDP, SYN
 *   ts_recent    client rx_opt.ts_recent (the client's clock)      XDP
 *   ts_srv_last  kernel the last TSval the kernel sent             TC
 *   ts_off       kernel tsoffset, as kernel TSval - our ms clock   TC, SYN-ACK
 *   pending      -      not in tcp_sock: replies Redis still owes  XDP adds, TC subtracts
 *
 * sock_check (tcpsock.h) compares rcv_nxt, snd_nxt and snd_una with
 * cli_nxt - consumed, ksnd_nxt and ksnd_una (div_* counters).
 */

/*
 * Offset history of one direction (xdp/seqadj.h, docs/architecture.md).
 * Client space holds runs of bytes the kernel never saw: client bytes
 * answered at XDP (cli_adj: consumed) or server bytes XDP created
 * (srv_adj: injected). Each correction point is the client-space position
 * just after a run and the total offset from there on (client - kernel);
 * the run's length is its offset minus the one before. Oldest first; a
 * point no one can still send a sequence number before is folded into
 * base. Runs of the same kind that touch coalesce into one point.
 * A pipelined segment cuts several runs, and the kernel's reply stream
 * takes several insertions per window (docs/pipelines.md): 16 points.
 */
#define PS_SEQADJ_POINTS 16
/* ps_corr.kind: where a run's bytes came from, and who sends them again */
enum ps_run_kind {
	PS_RUN_XDP = 0, /* answered at XDP (XDP_TX or the TC ingress path):
			 * client side, the request; server side, its reply,
			 * re-sent by guarded's re-answer or retrans' buffer */
	PS_RUN_CUT = 1, /* client side: commands cut from a pipelined segment,
			 * their replies inserted into the kernel's stream */
	PS_RUN_INS = 2, /* server side: replies inserted at TC egress after
			 * kernel reply `b`; the bytes are kept in ps_runs
			 * under (b, each sub in `subs`) and inserted again
			 * into a kernel retransmission that crosses them */
};

struct ps_corr {
	__u32 pos;   /* client-space seq just after the run */
	__u32 off;   /* client - kernel from pos on */
	__u32 b;     /* PS_RUN_INS: the boundary (kernel replies before it) */
	__u16 kind;  /* enum ps_run_kind */
	__u16 subs;  /* PS_RUN_INS: bit i for run (b, i) in ps_runs */
};

struct ps_seqadj {
	__u32 n;     /* points in use, 0..PS_SEQADJ_POINTS */
	__u32 base;  /* offset before pt[0] (every retired point folded in) */
	struct ps_corr pt[PS_SEQADJ_POINTS];
};

/*
 * Per-command answering (docs/pipelines.md). A GET hit cut from a
 * pipelined segment is answered by a *run*: the cached replies of the
 * hits that share a boundary, inserted into the kernel's reply stream
 * right after kernel reply b (b = replies the kernel owes before them).
 * XDP stores each run in ps_runs and queues (b, sub) in the flow's ring;
 * TC egress takes it (PS_RUNQ_QUEUED -> TAKEN, a compare-and-swap) when
 * it emits the byte after reply b, or XDP withdraws it (-> WITHDRAWN)
 * when it learns TC may have passed that byte already. Only one wins.
 */
#define PS_RUN_BYTES   2048  /* power of two, >= a run's replies */
#define PS_RUN_SUBS    16    /* runs one boundary may take (ps_corr.subs bits) */
#define PS_RUNQ_RING   16    /* runs queued per flow, not yet taken */
#define PS_RUN_ENTRIES 16384 /* ps_runs, all flows (preallocated: ~35 MB);
			      * full, a GET is not cut (ga_full) */

enum ps_runq_state {
	PS_RUNQ_QUEUED = 1,
	PS_RUNQ_TAKEN = 2,
	PS_RUNQ_WITHDRAWN = 3,
};

struct ps_run_key {
	struct ps_flow_key flow;
	__u32 isn;   /* the flow's client ISN: a new connection on the tuple
		      * never meets an old run */
	__u32 b;     /* kernel replies before the run */
	__u32 sub;   /* its place among the runs of b, in the client's order */
};

struct ps_run_val {
	union {
		struct {
			__u32 state; /* enum ps_runq_state */
			__u32 tag;   /* its key's run_tag (runs.h) */
		};
		__u64 st;            /* both: one compare-and-swap */
	};
	__u32 len;   /* reply bytes */
	__u32 ngets; /* GETs it answers */
	__u8  rep[PS_RUN_BYTES];
};

struct ps_runq_ent {
	__u32 b;
	__u32 sub;
};

/* writes handed to Redis whose reply has not passed TC egress yet
 * (cache.h, wr_*): per flow, a ring of (reply index, epoch slot) */
#define PS_WR_RING 8
/* ps_wr_inflight's last entry: flushing commands in flight and flows
 * holding writes that fit no ring (no fill anywhere while not 0) */
#define PS_WR_ANY PS_EPOCH_SLOTS
struct ps_wr_ent {
	__u32 idx;   /* 1-based reply index (replies_seen) that completes it */
	__u32 slot;  /* the key's epoch slot */
};

/* pipelined fills (cache.h, fq_*): a GET handed to Redis with others,
 * armed for the reply that answers it: keyed by its flow, the flow's ISN
 * (a new connection on the same 4-tuple never meets an old arming) and
 * the 1-based index of that reply among the flow's replies */
struct ps_fq_key {
	struct ps_flow_key flow;
	__u32 isn;
	__u32 idx;
};

struct ps_fq_val {
	struct ps_cache_key key;
	__u32 epoch;           /* the key's epoch slot when armed */
	__u32 gen;             /* cache_gen when armed */
};

#define PS_FQ_ENTRIES 16384 /* armed GETs, all flows (LRU) */
#define PS_FQ_SEG     16    /* armed replies one server segment can fill */
#define PS_MARKS      4     /* ps_flow.marks */

struct ps_flow {
	__u32 state;            /* enum ps_flow_state */
	__u32 flags;            /* PS_F_* */
	__u32 untrusted_reason; /* enum ps_untrust */
	__u32 pad0;

	/* client -> server stream */
	__u32 cli_isn;
	__u32 cli_nxt;        /* next client byte expected, client space (rcv_nxt + consumed) */
	__u32 consumed;       /* client bytes answered at XDP (= cli_adj's newest offset) */
	struct ps_seqadj cli_adj; /* consumed runs: client seq -> rcv_nxt space */

	/* server -> client stream */
	__u32 srv_isn;
	__u32 ksnd_nxt;       /* kernel's snd_nxt as seen at TC egress, kernel space */
	__u32 ksnd_una;       /* highest ack handed to the kernel, kernel space */
	__u32 srv_una;        /* highest ack from the client, client space */
	__u32 injected;       /* server bytes created at XDP (= srv_adj's newest offset) */
	struct ps_seqadj srv_adj; /* injected runs: client ack -> snd_una space */

	/* options */
	__u16 mss_cli;        /* MSS the client announced */
	__u8  wscale_cli;     /* shift applied to the client's window */
	__u8  wscale_srv;
	__u16 cli_wnd_raw;    /* last window field from the client */
	__u16 srv_wnd_raw;    /* last window field from the kernel */
	__u32 ts_recent;      /* client's last TSval (our TSecr) */
	__u32 ts_srv_last;    /* last TSval the kernel sent */
	__u32 ts_off;         /* kernel TSval - ktime ms */

	/* Redis request/reply accounting */
	__u32 pending;        /* commands handed to the kernel not yet replied */
	__u32 cmds_passed;
	__u32 replies_seen;
	struct ps_req_parser rq;
	struct ps_rep_parser rp;

	/* cache fill: the one pending GET that missed */
	struct ps_cache_key fill_key;
	__u32 fill_epoch;
	__u32 fill_gen;

	/* the reply (1-based, counting every reply of the flow) that answers
	 * the last AUTH/HELLO handed to the kernel; 0: none outstanding */
	__u32 auth_reply_idx;
	__u32 pad2;

	/* last answered segment, to recognise its retransmission */
	__u32 ans_seq;        /* client seq of the answered request */
	__u32 ans_len;        /* its payload length */
	__u32 ans_srv_seq;    /* client-space seq of the injected reply */
	__u32 ans_reply_len;
	__u32 ans_csum;

	/* retrans mode: the last PS_RTX_RING answers (bytes in ps_rtx) */
	struct ps_rtx_ent rtx[PS_RTX_RING];
	__u32 rtx_next;       /* ring slot the next answer goes to */
	__u32 dupacks;        /* consecutive ACKs stuck at an injected reply */
	__u64 ans_claim;      /* guarded: the last answer's ps_tcr_asm claim
			       * when TC ingress sent it from a slot, else 0 */

	/* per-flow counters */
	__u64 hits;           /* GETs answered */
	__u64 replies;        /* reply segments injected */
	__u64 reply_bytes;
	__u64 last_ns;

	/* the kernel's advertised receive window: client-space seq of its
	 * right edge (ack + window << wscale, from the last server segment) */
	__u32 rwnd_end;
	__u32 pad3;

	/* writes in flight (cache.h): XDP pushes at wr_head, TC pops at
	 * wr_tail; writes that did not fit hold PS_WR_ANY until wr_any_idx */
	struct ps_wr_ent wr[PS_WR_RING];
	__u32 wr_head;
	__u32 wr_tail;
	__u32 wr_any_idx;
	__u32 wr_any;

	/* pipelined fills armed (cache.h, fq_*): bit idx % 64 for each
	 * reply index with an entry in ps_fillq; XDP sets, TC clears */
	__u64 fq_mask;

	/* per-command answering (docs/pipelines.md): runs queued, XDP
	 * pushes at runq_head, TC pops at runq_tail */
	struct ps_runq_ent runq[PS_RUNQ_RING];
	__u32 runq_head;
	__u32 runq_tail;
	__u32 run_b;          /* XDP: the boundary of the last run queued ... */
	__u32 run_sub;        /* ... and the next sub for it */
	__u32 tc_done;        /* TC: kernel replies it has emitted the end of,
			       * published before it reads runq (the handshake) */
	__u32 runq_bytes;     /* reply bytes queued, not yet inserted */
	__u32 adj_lock;       /* srv_adj's writers: 0 free, 1 XDP retiring
			       * points, 2 TC walking and appending (runs.h) */
	/* the last PS_MARKS server segments TC sent: client-space end and
	 * translated ack, each pair one 64-bit store (end << 32 | ack): a
	 * client that acked the end has received the ack, so it sends no
	 * seq before it again (cut points retire, seqadj.h) */
	__u64 marks[PS_MARKS];
	__u32 mark_next;
	__u32 cli_una_lb;     /* XDP: the client's snd_una is at least this */
};

/*
 * Counters: one per-CPU array indexed by enum ps_stat, summed in user space.
 * The one list: X(ID, name, what it counts) gives PS_ST_<ID> and the name
 * the control tool prints (in this order), so the two cannot drift.
 * Post-stack counters (xdp/poststack.bpf.c) carry their own prefix, post_.
 */
#define PS_STATS(X) \
	X(PKTS, packets, "packets seen by XDP") \
	X(TC_PKTS, tc_packets, "packets seen by TC egress") \
	X(NOT_OURS, not_ours, "not IPv4/TCP to the port: passed untouched") \
	X(MALFORMED, malformed, "truncated/bad headers: passed untouched") \
	X(FRAGMENTS, fragments, "IPv4 fragments: passed untouched") \
	X(UNTRACKED, untracked, "TCP to the port of a flow we never saw open") \
	X(GET_HITS, get_hits, "GET commands answered at XDP") \
	X(GET_MISSES, get_misses, "GET commands whose key was not cached") \
	X(REPLIES, replies, "answers sent: XDP_TX'd, or handed to TC ingress") \
	X(REPLY_BYTES, reply_bytes, "RESP payload bytes in them") \
	X(RETRANS_REPLIES, retrans_replies, "replies re-sent for a retransmitted request") \
	X(PASSED, passed, "XDP_PASS verdicts (every packet XDP gives the kernel, ours or not)") \
	X(TRANSLATED, translated, "segments whose seq/ack/SACK were rewritten (both dirs)") \
	X(DROPPED, dropped, "XDP_DROP verdicts (data past a hole, retransmitted consumed bytes, a reply that could not be completed)") \
	X(INVALIDATIONS, invalidations, "cache keys invalidated by writes") \
	X(FLUSHES, flushes, "whole-cache flushes (FLUSH*, scripts, unparsable writes)") \
	X(FILLS, fills, "cache entries filled at TC egress") \
	X(FILL_SKIPPED, fill_skipped, "replies not filled: key may have changed") \
	X(FLOWS_NEW, flows_new, "") \
	X(FLOWS_CLOSED, flows_closed, "") \
	X(FLOWS_UNTRUSTED, flows_untrusted, "") \
	X(FLOWS_FULL, flows_full, "SYN not tracked: flow map full (never answered)") \
	X(DIV_RCV_NXT, div_rcv_nxt, "tcp_sock rcv_nxt != mirror") \
	X(DIV_SND_NXT, div_snd_nxt, "tcp_sock snd_nxt != mirror") \
	X(DIV_SND_UNA, div_snd_una, "tcp_sock snd_una != mirror") \
	X(NOSOCK, nosock, "tracked flow without a tcp_sock") \
	/* fallbacks: an answerable-looking segment passed to the kernel, by reason */ \
	X(FB_OOO, fb_ooo, "not in order (seq != cli_nxt)") \
	X(FB_PARTIAL, fb_partial, "command incomplete or split") \
	X(FB_NOT_GET, fb_not_get, "segment holds other commands too") \
	X(FB_MISS, fb_miss, "some key missed") \
	X(FB_PENDING, fb_pending, "kernel still owes replies on this flow") \
	X(FB_HISTORY, fb_history, "a new correction point would push out one still needed (offset ring full)") \
	X(FB_MSS, fb_mss, "reply larger than MSS / frame") \
	X(FB_WINDOW, fb_window, "reply beyond the client's window") \
	X(FB_TS, fb_ts, "timestamps negotiated but missing") \
	X(FB_UNTRUSTED, fb_untrusted, "flow handed to the kernel for good") \
	X(FB_DIVERGED, fb_diverged, "tcp_sock disagrees with the mirrors") \
	X(FB_STATE, fb_state, "flow not established / closing / other db") \
	X(FB_AUTH, fb_auth, "Redis requires AUTH and this flow has not passed it") \
	/* retrans mode */ \
	X(RTX_STORED, rtx_stored, "injected replies kept for retransmission") \
	X(RTX_REQ, rtx_req, "re-sent for a retransmitted request") \
	X(RTX_DUPACK, rtx_dupack, "re-sent for duplicate ACKs / a SACK hole") \
	X(RTX_GONE, rtx_gone, "a re-send wanted, nothing sent: evicted from ps_rtx, or no room in the frame without TC ingress") \
	/* guarded mode */ \
	X(ACK_HELD, ack_held, "kernel retransmissions whose ACK stopped at an answered request") \
	X(FB_BIG, fb_big, "GETs in a segment longer than the parser's window (parsed, not answered)") \
	X(FB_LEASE, fb_lease, "the coherence watcher's lease is stale") \
	X(TTL_REFUSED, ttl_refused, "cached keys refused: expiry within the margin") \
	X(TTL_LOST, ttl_lost, "TTL marks that did not fit in ps_ttl (fills stop)") \
	/* TC ingress replies (docs/tc-reply.md) */ \
	X(TC_HANDOFFS, tc_handoffs, "replies XDP handed to TC ingress (answers and resends)") \
	X(TC_REPLIES, tc_replies, "of which TC ingress built and sent") \
	X(TC_SEGMENTS, tc_segments, "reply segments TC ingress sent") \
	X(TC_REPLY_BYTES, tc_reply_bytes, "RESP payload bytes in them") \
	X(TC_RESENDS, tc_resends, "handoffs that re-send (part of) an earlier TC reply") \
	X(TC_LOST, tc_lost, "handoffs TC could not build (entry changed or gone, helper failed): the request is dropped, its retransmission re-answered") \
	X(TC_FILLS, tc_fills, "large values filled at TC egress (ps_cache_big)") \
	/* verdicts, counted at each hook's one exit (prestack.bpf.c):
	 * packets = passed + tx + dropped + redirected, and per TC hook
	 * its packets = ok + shot + redirect */ \
	X(TX, tx, "XDP_TX verdicts (replies and re-sent replies)") \
	X(REDIRECTED, redirected, "XDP_REDIRECT verdicts") \
	X(TC_OK, tc_ok, "TC egress: TC_ACT_OK verdicts") \
	X(TC_SHOT, tc_shot, "TC egress: TC_ACT_SHOT verdicts") \
	X(TC_REDIRECT, tc_redirect, "TC egress: TC_ACT_REDIRECT verdicts") \
	X(TCIN_PKTS, tcin_packets, "packets seen by TC ingress (ps_tc_in)") \
	X(TCIN_OK, tcin_ok, "TC ingress: TC_ACT_OK verdicts") \
	X(TCIN_SHOT, tcin_shot, "TC ingress: TC_ACT_SHOT verdicts (a reply that could not be built)") \
	X(TCIN_REDIRECT, tcin_redirect, "TC ingress: TC_ACT_REDIRECT verdicts (a reply's last segment)") \
	X(EMIT_BROKEN, emit_broken, "frames dropped because a reply rewrite began and could not complete") \
	X(ENTRY_MOVED, entry_moved, "GET replies from a cache entry no longer under their key when checked (deleted, replaced, or reused for another key since the lookup): not sent (a miss, or the GET left to Redis)") \
	X(KEY_OTHER, key_other, "cache lookups that found another key's entry under the key's 64-bit hash (a collision): a miss") \
	/* segments of a tracked flow the kernel would refuse (xdp/hostile.h): \
	 * never answered, nothing learnt from them, counted whatever they hold */ \
	X(FB_CSUM, fb_csum, "IP header or TCP checksum wrong: passed untouched (the kernel drops it)") \
	X(FB_PAWS, fb_paws, "TSval older than ts_recent (PAWS): passed translated") \
	X(FB_ACK, fb_ack, "ACK of data the server never sent, or older than the window allows") \
	X(FB_RWND, fb_rwnd, "data beyond the kernel's advertised receive window") \
	X(FB_URG, fb_urg, "URG set: the kernel's stream is not the wire's (flow untrusted)") \
	X(FB_FRAG, fb_frag, "first IP fragment of a tracked flow: translated, flow untrusted") \
	X(FB_QUIT, fb_quit, "segments after QUIT: Redis closes, nothing is answered") \
	X(RST_KEPT, rst_kept, "RSTs not at the next expected byte: passed translated, flow kept (RFC 5961)") \
	X(SYN_KEPT, syn_kept, "SYNs on an established or closing flow: passed translated, flow kept") \
	X(TIME_WAIT, time_wait, "segments of a finished flow translated (PS_FLOW_DONE)") \
	X(WR_OVERFLOW, wr_overflow, "segments whose writes did not fit the flow's ring: no fill anywhere until their reply, then a flush") \
	X(FILL_INFLIGHT, fill_inflight, "fills refused: a write to the key's slot was in Redis's hands (arrived, not yet replied)") \
	X(FILL_RACED, fill_raced, "fills withdrawn: the key was invalidated while they were stored") \
	X(GA_MISS, ga_miss, "GETs not answered: they or another GET of their segment missed") \
	X(GA_PARTIAL, ga_partial, "GETs not answered: their segment ended inside a command") \
	X(GA_MSS, ga_mss, "GETs not answered: their replies too large for XDP and TC ingress") \
	X(GA_OTHER, ga_other, "GETs not answered for another fallback (state, window, history, ...)") \
	X(FQ_ARMED, fq_armed, "GETs passed in a segment of GETs alone, armed to fill from their own reply (the first miss)") \
	X(FQ_UNARMED, fq_unarmed, "misses that could not be armed (their reply slot busy, ps_fillq full)") \
	X(FQ_BUSY, fq_busy, "misses not armed: a write to their key's slot was in Redis's hands (the fill would be refused)") \
	X(FQ_MOVED, fq_moved, "armed fills whose ps_fillq element was evicted and taken by another arming while TC read it: not filled") \
	/* per-command answering (docs/pipelines.md) */ \
	X(CUT_GETS, cut_gets, "GETs cut from pipelined segments and answered by a run inserted at TC egress (also in get_hits)") \
	X(CUT_SEGS, cut_segs, "client segments some GETs were cut from") \
	X(CUT_EMPTY, cut_empty, "... of which nothing was left: passed as a pure ACK, or dropped when its ACK told the kernel nothing new") \
	X(RECUT_SEGS, recut_segs, "retransmitted client segments cut again as first cut (their runs already queued or sent)") \
	X(GA_FULL, ga_full, "GETs not cut: the flow's run ring, correction points, a run's bytes, the runs table or the client's window were full, or more than 256 replies were owed before it") \
	X(GA_RACE, ga_race, "GETs not cut: the kernel may already have sent the reply they would follow (withdrawn)") \
	X(RUNS_QUEUED, runs_queued, "runs XDP queued for TC (the replies of cut GETs that share a boundary)") \
	X(RUNS_TAKEN, runs_taken, "runs TC egress took and inserted into the kernel's reply stream") \
	X(RUNS_WITHDRAWN, runs_withdrawn, "runs XDP withdrew after queueing them (the handshake lost)") \
	X(RUN_TORN, run_torn, "GETs not cut (counted in ga_miss too): the reply copied into the run did not sum to its cache entry's sum (a copy torn by a concurrent rewrite)") \
	X(INS_SEGS, ins_segs, "kernel segments rebuilt with runs inserted (or re-inserted into a retransmission)") \
	X(INS_PIECES, ins_pieces, "segments TC egress sent for them (clones and the rebuilt skb)") \
	X(INS_BYTES, ins_bytes, "run bytes inserted, re-insertions included") \
	X(INS_RETRANS, ins_retrans, "kernel retransmissions that crossed an inserted run: the run sent again") \
	X(INS_GAPS, ins_gaps, "kernel retransmissions split around a reply answered at XDP") \
	X(INS_TRUNC, ins_trunc, "rebuilt kernel segments longer than the builder's buffer: the rest left for the kernel to send again") \
	X(INS_BROKEN, ins_broken, "runs that could not be inserted (state lost): the flow's server segments are dropped from then on") \
	X(ADJ_BUSY, adj_busy, "retirements of injected points XDP put off: TC egress was inserting runs") \
	/* poststack mode (xdp/poststack.bpf.c, docs/poststack.md) */ \
	X(POST_SOCKS, post_socks, "Redis sockets put in the sockhash by sockops") \
	X(POST_SKBS, post_skbs, "request skbs seen by the sk_skb verdict program") \
	X(POST_HITS, post_hits, "GETs answered by sk_skb") \
	X(POST_REPLY_BYTES, post_reply_bytes, "RESP bytes of those answers") \
	X(POST_PASS_OWED, post_pass_owed, "cached GETs passed: Redis still owed this socket replies") \
	X(POST_PASS_MISS, post_pass_miss, "GET-only skbs passed: some key missed") \
	X(POST_PASS_OTHER, post_pass_other, "skbs passed holding other commands, or not whole commands") \
	X(POST_PASS_STATE, post_pass_state, "passed: mode, drain, AUTH, MULTI, SELECT, or socket lost") \
	X(POST_PASS_LEASE, post_pass_lease, "passed: the coherence watcher's lease is stale") \
	X(POST_PASS_BIG, post_pass_big, "passed: the replies are longer than the request bytes they replace plus the socket's seq_lag (poststack.h), or did not fit the skb") \
	X(POST_INVAL, post_inval, "cache keys invalidated by writes seen at sk_skb") \
	X(POST_FLUSHES, post_flushes, "whole-cache flushes from sk_skb") \
	X(POST_REPLIES, post_replies, "replies Redis sent, counted by sk_msg") \
	X(POST_LOST, post_lost, "sockets whose request or reply stream stopped being followed") \
	X(POST_OVERLAP, post_overlap, "request skbs that began with bytes sk_skb had already seen (a retransmission overlapping received data): those bytes trimmed off") \
	X(POST_NESTED, post_nested, "sk_skb runs that found the scratch busy (flushed, socket lost)") \
	X(POST_ERR, post_err, "a rewritten skb that could not be completed (dropped)") \
	X(POST_FILLS, post_fills, "cache entries filled by sk_msg from Redis's reply to a miss") \
	X(POST_FILL_SKIPPED, post_fill_skipped, "armed fills not stored: key may have changed, TTL, size") \
	/* TTLs read from the requests (resp.h, cache.h: ttl_*) */ \
	X(TTL_EXACT, ttl_exact, "TTL writes recorded as the request says (set, cleared)") \
	X(TTL_EARLIEST, ttl_earliest, "TTL writes recorded at their earliest outcome (a condition, a write that may fail, another write in flight), the watcher asked") \
	X(TTL_ASKED, ttl_asked, "keys handed to the watcher to learn their TTL after their write") \
	X(TTL_RESCANS, ttl_rescans, "TTL changes of keys not seen whole (fills stop until the watcher has scanned every TTL)") \
	X(TTL_MOVED, ttl_moved, "TTL marks whose element changed hands while read (another key's by then): taken as not known, the fill skipped or the write's TTL asked") \
	X(WR_FLUSH_HELD, wr_flush_held, "flushing commands held in flight until their reply (no fill anywhere meanwhile)") \
	X(REVOKED, revoked, "commands after which no packet shows every write (REPLICAOF, MODULE): nothing answered until the watcher checked") \
	/* the side path (xdp/sidepath.bpf.c): TC on loopback and every other \
	 * interface of the namespace, invalidation only */ \
	X(SIDE_PKTS, side_packets, "packets the side path looked at (both hooks; not XDP's own on the attached interface)") \
	X(SIDE_SEGS, side_segments, "client segments with data parsed on the side path") \
	X(SIDE_INVAL, side_invalidations, "cache keys invalidated by writes on the side path") \
	X(SIDE_FLUSHES, side_flushes, "whole-cache flushes from the side path") \
	X(SIDE_REPLIES, side_replies, "replies counted on side-path connections (writes in flight end at theirs)") \
	X(SIDE_OOO, side_ooo, "side-path client data past a hole: dropped, so the parser never loses its place") \
	X(SIDE_CSUM, side_csum, "side-path segments with a bad checksum: passed unparsed (the kernel drops them)") \
	X(SIDE_LOST, side_lost, "side-path connections not followed (opened before attach, unparsable, replies unpaired): each write flushes, no fill until they close") \
	X(SIDE_FULL, side_full, "side-path connections not tracked, the table full: flushes, fills stop until the next attach")

enum ps_stat {
#define PS_STAT_ENUM_(id, name, doc) PS_ST_##id,
	PS_STATS(PS_STAT_ENUM_)
#undef PS_STAT_ENUM_
	PS_ST__MAX,
};

#define PS_STAT_NAME_(id, name, doc) #name,
#define PS_STAT_NAMES { PS_STATS(PS_STAT_NAME_) }
/* derived in user space: fallbacks = sum(fb_*), divergences = sum(div_*),
 * flows = entries in the flow map */

/*
 * Attachment record (array map "ps_meta", 1 entry), pinned with the maps so
 * that detach knows what attach created.
 */
/* A command name as the RESP parser packs it: upper-cased, bytes 0-7
 * little-endian in w0, 8-15 in w1, n its length (1..16). */
struct ps_cmd_key {
	__u64 w0, w1;
	__u32 n;
	__u32 pad;
};

/* ps_cmds values: what Redis's own command table says a command may do */
enum ps_cmd_class {
	PS_CLASS_READ = 1,   /* modifies no key */
	PS_CLASS_WRITE = 2,  /* modifies keys among its arguments */
	PS_CLASS_FLUSH = 3,  /* modifies keys it does not name (flush) */
	PS_CLASS_SUB = 4,    /* a container: its subcommands, stored as
			      * "NAME|SUB", have classes of their own */
};

struct ps_meta {
	__u32 ifindex;
	__u32 created_clsact; /* 1 if attach created the clsact qdisc */
	__u32 xdp_prog_id;
	__u32 tc_prog_id;
	__u32 tc_handle;
	__u32 tc_priority;
	__u32 xdp_flags;
	__u16 port;
	__u16 pad;
	__u64 attached_unix; /* time(NULL) at attach */
	__u32 watcher_pid;   /* the coherence watcher attach started, 0: none */
	__u32 tc_in_prog_id; /* TC ingress reply program, 0: --no-tc-reply */
};

/*
 * TC ingress replies (docs/tc-reply.md). XDP decides and accounts, then
 * passes the request up with this in its data_meta (veth keeps it); TC
 * ingress turns the request skb into the reply's segments.
 */
#define PS_TCR_MAGIC 0x54435250u /* "TCRP" */
struct ps_tcr_meta {
	__u32 magic;   /* PS_TCR_MAGIC */
	__u32 srv_seq; /* client-space seq of the reply's first byte: with the
			* flow, the key of its ps_tcr_refs entry */
	__u32 from;    /* first reply byte to send (a re-send from a hole) */
	__u32 pad;
	__u64 claim;   /* 0, or the ps_tcr_asm claim whose slot holds the
			* reply and what the ref would (no ps_tcr_refs entry:
			* tc_handoff.h, tcr_handoff_slot) */
};

/* ps_tcr_refs values: what a TC reply was made of, kept (LRU) so that it
 * can be sent again while the cache still gives the same bytes */
/* ps_tcr_ref.big: where a TC reply's bytes are */
enum ps_tcr_src {
	PS_TCR_SRC_CACHE = 0, /* the entry in ps_cache (key, filled_ns its identity) */
	PS_TCR_SRC_BIG = 1,   /* the entry in ps_cache_big */
	PS_TCR_SRC_ASM = 2,   /* bytes fixed at XDP (the replies of several
			       * GETs, a snapshot of one entry), copied into
			       * the ps_tcr_asm slot of the ref's claim */
	PS_TCR_SRC_BIGCOPY = 3, /* retrans: the ps_cache_big entry as XDP
				 * answered from it, copied into ps_tcr_big
				 * under the ref's key */
};

struct ps_tcr_ref {
	struct ps_cache_key key;
	__u32 big;       /* where the bytes are: enum ps_tcr_src */
	__u32 gen;       /* cache_gen it was answered under */
	__u64 filled_ns; /* the entry's fill time: its identity; for
			  * PS_TCR_SRC_ASM the slot's claim (tc_handoff.h) */
	__u32 tot;       /* reply bytes (the entry's reply_len) */
	__u32 req_seq;   /* client seq of the request it answers */
	__u32 req_end;   /* ... and of the byte after it: the last segment acks it */
	__u32 srv_seq;   /* its own key's srv_seq: a copy of a reused element
			  * (another key's) is told by it */
};

/*
 * Pin layout: PS_PIN_ROOT/<netns or "-">/<ifname>/{ps_config,ps_stats,
 * ps_flows,ps_cache,ps_epochs,ps_meta,prog_xdp,prog_tc}
 */
#define PS_PIN_ROOT "/sys/fs/bpf/prestack"

#endif /* PRESTACK_H */
