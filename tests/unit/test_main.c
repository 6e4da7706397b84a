// SPDX-License-Identifier: GPL-2.0
/*
 * test_main.c - the unit tests: fixture packets through ps_xdp and ps_tc
 * with BPF_PROG_TEST_RUN, checking verdicts, exact output bytes,
 * checksums, flow state and counters. One table of cases, run in order,
 * each between fixture_setup and fixture_teardown; prints TAP.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "fixture.h"
#include "cases.h"

int tap_n, tap_fail, tap_case_fail;

void hexdiff(const unsigned char *got, const unsigned char *want, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i]) {
			printf("#   first difference at byte %zu: got %02x want %02x\n",
			       i, got[i], want[i]);
			return;
		}
}

/* the fixture a case starts from: the fixture flow set up with or without
 * timestamps, or the object only loaded */
#define TS(m)     { .mode = PS_MODE_##m, .ts = true }
#define NOTS(m)   { .mode = PS_MODE_##m, .ts = false }
#define LOADED(m) { .mode = PS_MODE_##m, .no_flow = true }

static const struct tcase {
	const char *name;
	void (*fn)(struct env *e);
	struct fixture fx;
} tests[] = {
	{ "SYN opens a flow, SYN-ACK learns the server side", t_syn_synack, LOADED(GUARDED) },
	{ "guarded: GET hit answered with exact bytes (timestamps)", t_hit, TS(GUARDED) },
	{ "guarded: GET hit answered with exact bytes (no timestamps)", t_hit, NOTS(GUARDED) },
	{ "naive: GET hit answered with exact bytes", t_hit, TS(NAIVE) },
	{ "pipelined GETs answered in one reply; with a miss, the hit is cut", t_pipelined,
	  TS(GUARDED) },
	{ "GET mixed with another command: the GET cut, the rest passed", t_mixed_segment,
	  TS(GUARDED) },
	{ "miss passed translated, reply translated back, history", t_translation, TS(GUARDED) },
	{ "SET/DEL/INCR invalidate, a missed GET's reply fills", t_set_invalidates, TS(GUARDED) },
	{ "fill from TC, then answered", t_fill_then_hit, TS(GUARDED) },
	{ "pipelined fills: each GET of a batch from its own reply, never across a split or a later write",
	  t_fill_pipelined, TS(GUARDED) },
	{ "pipelined fills in retrans mode", t_fill_pipelined, NOTS(RETRANS) },
	{ "fill skipped when the key's epoch moved", t_fill_skipped_after_write, TS(GUARDED) },
	{ "a key whose TTL is unknown (RENAME's destination) is not filled", t_ttl_not_filled,
	  TS(GUARDED) },
	{ "non-Redis TCP, UDP, IPv6, ARP pass untouched", t_not_ours, TS(GUARDED) },
	{ "malformed headers pass untouched, state unchanged", t_malformed, TS(GUARDED) },
	{ "fragments untouched, IP options never answered", t_fragments_and_ipopts, NOTS(GUARDED) },
	{ "mode off passes everything untouched", t_mode_off, TS(GUARDED) },
	{ "guarded: out of order dropped, split GET passed", t_ooo_and_split, TS(GUARDED) },
	{ "guarded: a hit behind an owed reply waits for it (naive answers at once)", t_pending,
	  TS(GUARDED) },
	{ "retransmitted GET re-answered identically, or dropped", t_retransmission, TS(GUARDED) },
	{ "guarded + require_sock: no tcp_sock, no answer", t_require_sock, TS(GUARDED) },
	{ "deployed flags, lease, a real socket: answered; the socket one byte off: passed",
	  t_deployed_real_sock, LOADED(GUARDED) },
	{ "MULTI/EXEC/SELECT", t_select_multi, TS(GUARDED) },
	{ "client SACK blocks translated", t_sack_translation, NOTS(GUARDED) },
	{ "keep-alive probe after one and after several answered runs reaches the kernel at rcv_nxt - 1",
	  t_keepalive_probe, TS(GUARDED) },
	{ "zero-window probes: the client's (old and new-byte) and the kernel's", t_zero_window_probe,
	  TS(GUARDED) },
	{ "ACKs and SACK edges with 2 answered runs outstanding", t_acks_outstanding_2, NOTS(GUARDED) },
	{ "ACKs and SACK edges with 3 answered runs outstanding", t_acks_outstanding_3, NOTS(GUARDED) },
	{ "ACKs and SACK edges with a full offset history outstanding", t_acks_outstanding_4,
	  NOTS(GUARDED) },
	{ "kernel retransmissions and SACK blocks across several correction points", t_kernel_rtx_points,
	  NOTS(GUARDED) },
	{ "offset history full: fb_history, answering resumes once acked", t_history_full,
	  NOTS(GUARDED) },
	{ "FIN/ACK and RST free the flow", t_close, TS(GUARDED) },
	{ "AUTH required: only flows whose AUTH succeeded are answered", t_auth, TS(GUARDED) },
	{ "Redis's command table decides read/write/flush, not for specials", t_cmdtable,
	  TS(GUARDED) },
	{ "a container's subcommand decides (CONFIG GET reads, CONFIG SET flushes)",
	  t_cmdtable_sub, TS(GUARDED) },
	{ "flow map full: no eviction of a translated flow, new flow untouched", t_flows_full,
	  TS(GUARDED) },
	{ "retrans: stored reply re-sent for an older request and a SACK hole", t_retrans_mode,
	  TS(RETRANS) },
	{ "retrans: a stored reply evicted and its element reused before its identity was read is never re-sent",
	  t_rtx_entry_rekeyed, TS(RETRANS) },
	{ "retrans: a lost reply re-sent for each piece of its request's split retransmission",
	  t_retrans_split, TS(RETRANS) },
	{ "guarded: a kernel retransmission acks only up to an answered GET until its reply is acked",
	  t_ack_hold, TS(GUARDED) },
	{ "a reply longer than the parser's window is followed; a fill past it lands",
	  t_big_reply, TS(GUARDED) },
	{ "a request longer than the parser's window is followed: writes seen, replies owed",
	  t_big_request, TS(GUARDED) },
	{ "a key with a TTL is cached with its expiry and refused within the margin",
	  t_ttl_expiry, TS(GUARDED) },
	{ "with the lease on, nothing is answered while the watcher's lease is stale",
	  t_lease, TS(GUARDED) },
	{ "a flushing command is in flight until its reply: no fill meanwhile, a flush at both ends",
	  t_flush_in_flight, TS(GUARDED) },
	{ "REPLICAOF, CONFIG SET: nothing answered until the watcher has looked at Redis",
	  t_revoke, TS(GUARDED) },
	/* t_side.c: the side path (loopback, other interfaces, IPv6) */
	{ "side path: a write invalidated on arrival, in flight until its reply",
	  t_side_write, TS(GUARDED) },
	{ "side path: split commands followed, data past a hole dropped, old bytes not parsed",
	  t_side_stream, TS(GUARDED) },
	{ "side path: segments longer than a window walked whole, requests and replies",
	  t_side_windows, TS(GUARDED) },
	{ "side path: a connection opened before attach flushes, holds fills until followed from a command boundary",
	  t_side_lost, TS(GUARDED) },
	{ "side path: a connection put ahead by the watcher is followed from its first command",
	  t_side_ahead, TS(GUARDED) },
	{ "side path: TTLs read; after SUBSCRIBE a write holds fills until close",
	  t_side_ttl_subscribe, TS(GUARDED) },
	{ "side path: IPv6", t_side_ipv6, TS(GUARDED) },
	{ "side path on the attached interface: XDP's connections left alone, the others followed",
	  t_side_attached, TS(GUARDED) },
	{ "side path: a segment with a bad checksum is not parsed", t_side_csum, TS(GUARDED) },
	{ "side path: a closed connection is kept dead, released once, absent to both hooks; the next one gets its own element",
	  t_side_close_kept, TS(GUARDED) },
	{ "side path: a run entering an element another connection took leaves it untouched, its own connection absent",
	  t_side_enter_reused, TS(GUARDED) },
	{ "side path: a SYN reopens a dead connection in place, not while a run of the old one is inside",
	  t_side_reopen, TS(GUARDED) },
	{ "side path: a dead connection is deleted once past its grace, not before; a full table reclaims them",
	  t_side_reap, TS(GUARDED) },
	/* t_ttl.c: TTLs read from the requests, exact values */
	{ "TTL: SET EX, PX, EXAT, PXAT, KEEPTTL, none; what Redis refuses is asked",
	  t_ttl_set, TS(GUARDED) },
	{ "TTL: SET NX/XX keep the earlier outcome and ask", t_ttl_set_cond, TS(GUARDED) },
	{ "TTL: SETEX, PSETEX", t_ttl_setex, TS(GUARDED) },
	{ "TTL: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, past and far times", t_ttl_expire,
	  TS(GUARDED) },
	{ "TTL: EXPIRE NX, XX, GT, LT decided from the TTL held", t_ttl_expire_cond, TS(GUARDED) },
	{ "TTL: PERSIST, GETEX EX/PX/EXAT/PXAT/PERSIST", t_ttl_persist_getex, TS(GUARDED) },
	{ "TTL: RESTORE (relative, ABSTTL, 0) never sure", t_ttl_restore, TS(GUARDED) },
	{ "TTL: writes that may fail, AUTH, SELECT keep the earlier; MULTI waits for EXEC",
	  t_ttl_unsure, TS(GUARDED) },
	{ "TTL: two writes of a key in flight: the earlier, asked", t_ttl_conflict, TS(GUARDED) },
	{ "TTL: a TTL command split over segments", t_ttl_split, TS(GUARDED) },
	{ "TTL: a script's keys and RENAME's destination asked; SWAPDB, DEBUG rescan",
	  t_ttl_script_reload, TS(GUARDED) },
	{ "TTL: a key SET with a TTL is answered from the next GET on, refused in its margin",
	  t_ttl_answered, TS(GUARDED) },
	{ "TC reply: a 3000-byte value handed over, three exact segments, a hole re-sent",
	  t_tc_reply_big, TS(GUARDED) },
	{ "TC reply: the same without timestamps", t_tc_reply_big, NOTS(GUARDED) },
	{ "TC reply: retrans mode hands over and re-sends the same", t_tc_reply_big, TS(RETRANS) },
	{ "TC reply: a small entry over the client's MSS, fb_mss without the path",
	  t_tc_reply_small_mss, TS(GUARDED) },
	{ "TC reply: a pipelined batch of GETs over one segment, assembled and handed over",
	  t_tc_reply_pipelined, TS(GUARDED) },
	{ "TC reply: the same pipelined batch in retrans mode", t_tc_reply_pipelined,
	  TS(RETRANS) },
	{ "TC reply: a TC reply's bytes evicted and reused before their id was read are never sent",
	  t_tc_reply_asm_rekeyed, TS(GUARDED) },
	{ "TC reply: marked segments pass TC egress untranslated; TC ingress passes the rest",
	  t_tc_reply_marks, TS(GUARDED) },
	{ "TC reply: retrans re-sends a lost big reply's own bytes after a cache flush",
	  t_tc_reply_rtx_flushed, TS(RETRANS) },
	{ "TC reply: the same without timestamps", t_tc_reply_rtx_flushed, NOTS(RETRANS) },
	{ "TC reply: retrans re-sends a lost small reply for the D-SACK of the kernel's own reply before it",
	  t_tc_reply_rtx_dsack_small, TS(RETRANS) },
	{ "TC reply: retrans hands a kept XDP reply to TC ingress when the frame cannot grow",
	  t_tc_reply_rtx_no_room, TS(RETRANS) },
	{ "TC reply: a kept XDP reply handed to TC ingress, no timestamps",
	  t_tc_reply_rtx_no_room, NOTS(RETRANS) },
	{ "verdicts: each counted by name at its hook's one exit", t_verdict_counts, TS(GUARDED) },
	{ "a reply rewrite that fails part way is dropped, nothing accounted", t_emit_broken,
	  TS(GUARDED) },
	{ "retrans: a re-send for a duplicate ACK that fails part way drops the ACK",
	  t_emit_broken_resend, TS(RETRANS) },
	{ "a cache entry reused for another key while copied: dropped / a miss, never sent",
	  t_entry_reused, TS(GUARDED) },
	{ "retrans: keeps the bytes it sent, whatever the cache entry holds after",
	  t_rtx_kept_bytes, TS(RETRANS) },
	/* t_pipeline.c: per-command answering */
	{ "pipeline: hits cut around a SET, their replies inserted around +OK; both sides' retransmissions",
	  t_cut_prefix_suffix, TS(GUARDED) },
	{ "pipeline: the same in retrans", t_cut_prefix_suffix, TS(RETRANS) },
	{ "pipeline: the same without timestamps", t_cut_prefix_suffix, NOTS(GUARDED) },
	{ "pipeline: hits alone behind an owed reply; the handshake withdraws a late run",
	  t_cut_hits_behind_owed, TS(GUARDED) },
	{ "pipeline: an ack at an inserted run reaches the kernel one byte short",
	  t_cut_ack_hold, TS(GUARDED) },
	{ "pipeline: a rebuilt reply stream over the MSS goes out in pieces", t_cut_pieces,
	  TS(GUARDED) },
	{ "pipeline: a hit between two arrays goes after the first whole", t_cut_arrays,
	  TS(GUARDED) },
	{ "pipeline: a write behind a cut GET is in flight until its own reply",
	  t_cut_write_in_flight, TS(GUARDED) },
	{ "pipeline: nine runs in one server segment, each in its place", t_cut_many_runs,
	  TS(GUARDED) },
	{ "pipeline: hits behind an owed reply that take two runs are not cut when TC may be past it",
	  t_cut_racy_runs, TS(GUARDED) },
	{ "pipeline: XDP retires no injected point while TC holds the list", t_cut_adj_lock,
	  TS(GUARDED) },
	{ "pipeline: a reply copy that does not sum to its entry's sum goes to Redis",
	  t_cut_torn_copy, TS(GUARDED) },
	{ "pipeline: an entry reused for another key before its identity was read is never sent",
	  t_cut_entry_rekeyed, TS(GUARDED) },
	{ "cache: an entry of another key under the key's hash is a miss everywhere; the fill replaces it",
	  t_cache_other_key, TS(GUARDED) },
	{ "ps_present: a clear bit is a miss whatever ps_cache holds; fills and puts set it, a flush clears it",
	  t_cache_present, TS(GUARDED) },
	{ "pipeline: an entry reused for a key of the same hash before its identity was read is never sent",
	  t_cut_entry_same_hash, TS(GUARDED) },
	{ "pipeline: a run withdrawn and its element reused for another run before TC takes it is never sent",
	  t_run_take_rekeyed, TS(GUARDED) },
	/* t_reuse.c: a deleted hash element is the next insert's */
	{ "kernel: a hash (no prealloc, or prealloc) gives a deleted element to the next insert, under an old pointer",
	  t_hash_reuses_deleted, LOADED(GUARDED) },
	{ "an RST keeps its flow until idle: the next flow opened never takes an element a holder may use",
	  t_reset_flow_kept, TS(GUARDED) },
	{ "a SYN of another ISN rewrites a SYN-state flow in place; one under tc_synack is untrusted",
	  t_syn_replaced_in_place, TS(GUARDED) },
	/* t_hostile.c: segments the kernel refuses or reads differently */
	{ "hostile: a stray RST and a duplicate SYN keep the flow (RFC 5961)", t_stray_rst_syn,
	  TS(GUARDED) },
	{ "hostile: the same in retrans", t_stray_rst_syn, TS(RETRANS) },
	{ "hostile: bad TCP/IP checksums pass untouched, nothing learnt, the SET resent is parsed",
	  t_bad_csum, TS(GUARDED) },
	{ "hostile: the same in retrans", t_bad_csum, TS(RETRANS) },
	{ "hostile: PAWS failures never answered, teach nothing", t_paws, TS(GUARDED) },
	{ "hostile: ACK of unsent data never answered, teaches nothing", t_ack_unsent, TS(GUARDED) },
	{ "hostile: a GET without ACK never answered; the SYN-ACK's window unscaled",
	  t_no_ack_rwnd, TS(GUARDED) },
	{ "hostile: URG never answered, the flow handed over", t_urg, TS(GUARDED) },
	{ "hostile: the first reply advertises the SYN-ACK's window >> wscale", t_first_window,
	  TS(GUARDED) },
	{ "hostile: a first fragment translated, the flow handed over", t_frag_translated,
	  TS(GUARDED) },
	{ "hostile: a tiny first fragment (TCP header split) of a tracked flow dropped, another passed",
	  t_frag_short, TS(GUARDED) },
	{ "hostile: nothing after QUIT answered; a done flow translates its late FIN and TIME_WAIT ACK",
	  t_quit_time_wait, TS(GUARDED) },
	{ "hostile: the same in retrans", t_quit_time_wait, TS(RETRANS) },
	{ "a SELECTed flow's miss fills nothing (no other database's value cached)",
	  t_fill_rule, TS(GUARDED) },
	{ "the fill rule is checked again at the reply (MULTI entered meanwhile)",
	  t_fill_rule_late, TS(GUARDED) },
	{ "coherence: a write is in flight from XDP to its reply at TC (ring, count, epoch moved twice)",
	  t_write_in_flight, TS(GUARDED) },
	{ "coherence: no fill of a slot with a write in flight", t_fill_refused_in_flight, TS(GUARDED) },
	{ "requests Redis 7.0 refuses are never answered; what it reads alike is",
	  t_rq_redis_rules, TS(GUARDED) },
	{ "a fill raced by an invalidation at each point never stays (small and large)",
	  t_fill_race, TS(GUARDED) },
	{ "a TTL mark or a pipelined arming read from an element another key took is never used",
	  t_fill_readers_reused, TS(GUARDED) },
};

int main(void)
{
	size_t n = sizeof(tests) / sizeof(tests[0]);
	struct env e;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("1..0 # SKIP BPF_PROG_TEST_RUN needs root\n");
		return 1;
	}
	printf("1..%zu\n", n);
	{
		struct timespec ts;

		/* every TTL a request gives counts from here (exact values) */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		env_ttl_clock = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	for (size_t i = 0; i < n; i++) {
		tap_case_fail = 0;
		if (!fixture_setup(&e, &tests[i].fx))
			tests[i].fn(&e);
		fixture_teardown(&e);
		tap_n++;
		if (tap_case_fail) {
			tap_fail++;
			printf("not ok %d - %s\n", tap_n, tests[i].name);
		} else {
			printf("ok %d - %s\n", tap_n, tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", tap_n - tap_fail, tap_fail);
	return tap_fail ? 1 : 0;
}
