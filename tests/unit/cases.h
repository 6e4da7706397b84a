/* SPDX-License-Identifier: GPL-2.0 */
/* cases.h - every unit case, by file; test_main.c lists them in one table. */
#ifndef PS_TEST_CASES_H
#define PS_TEST_CASES_H

#include "env.h"

/* t_hostile.c */
void t_stray_rst_syn(struct env *e);
void t_bad_csum(struct env *e);
void t_paws(struct env *e);
void t_ack_unsent(struct env *e);
void t_no_ack_rwnd(struct env *e);
void t_urg(struct env *e);
void t_first_window(struct env *e);
void t_frag_translated(struct env *e);
void t_frag_short(struct env *e);
void t_quit_time_wait(struct env *e);
/* t_flows.c */
void t_syn_synack(struct env *e);
void t_close(struct env *e);
void t_flows_full(struct env *e);
/* t_hit.c */
void t_hit(struct env *e);
void t_pipelined(struct env *e);
void t_mixed_segment(struct env *e);
void t_mode_off(struct env *e);
/* t_translate.c */
void t_translation(struct env *e);
void t_sack_translation(struct env *e);
/* t_seqadj.c */
void t_keepalive_probe(struct env *e);
void t_zero_window_probe(struct env *e);
void t_acks_outstanding_2(struct env *e);
void t_acks_outstanding_3(struct env *e);
void t_acks_outstanding_4(struct env *e);
void t_kernel_rtx_points(struct env *e);
void t_history_full(struct env *e);
/* t_cache.c */
void t_set_invalidates(struct env *e);
void t_fill_then_hit(struct env *e);
void t_fill_pipelined(struct env *e);
void t_fill_readers_reused(struct env *e);
void t_ttl_not_filled(struct env *e);
void t_fill_skipped_after_write(struct env *e);
/* t_parse.c */
void t_not_ours(struct env *e);
void t_malformed(struct env *e);
void t_fragments_and_ipopts(struct env *e);
/* t_guards.c */
void t_ooo_and_split(struct env *e);
void t_pending(struct env *e);
void t_require_sock(struct env *e);
void t_deployed_real_sock(struct env *e);
void t_select_multi(struct env *e);
void t_auth(struct env *e);
void t_ack_hold(struct env *e);
/* t_retrans.c */
void t_retransmission(struct env *e);
void t_retrans_mode(struct env *e);
void t_rtx_entry_rekeyed(struct env *e);
void t_retrans_split(struct env *e);
/* t_cmdtable.c */
void t_cmdtable(struct env *e);
void t_cmdtable_sub(struct env *e);
/* t_streams.c */
void t_big_reply(struct env *e);
void t_big_request(struct env *e);
/* t_coherence.c */
void t_ttl_expiry(struct env *e);
void t_lease(struct env *e);
void t_tc_reply_big(struct env *e);
void t_tc_reply_small_mss(struct env *e);
void t_tc_reply_pipelined(struct env *e);
void t_tc_reply_asm_rekeyed(struct env *e);
void t_tc_reply_marks(struct env *e);
void t_tc_reply_rtx_flushed(struct env *e);
void t_tc_reply_rtx_dsack_small(struct env *e);
void t_tc_reply_rtx_no_room(struct env *e);
void t_verdict_counts(struct env *e);
void t_emit_broken(struct env *e);
void t_emit_broken_resend(struct env *e);
void t_entry_reused(struct env *e);
void t_cut_prefix_suffix(struct env *e);
void t_cut_hits_behind_owed(struct env *e);
void t_cut_ack_hold(struct env *e);
void t_cut_pieces(struct env *e);
void t_cut_arrays(struct env *e);
void t_cut_write_in_flight(struct env *e);
void t_cut_many_runs(struct env *e);
void t_cut_racy_runs(struct env *e);
void t_cut_adj_lock(struct env *e);
void t_cut_torn_copy(struct env *e);
void t_cut_entry_rekeyed(struct env *e);
void t_cache_other_key(struct env *e);
void t_cache_present(struct env *e);
void t_cut_entry_same_hash(struct env *e);
void t_run_take_rekeyed(struct env *e);
void t_rtx_kept_bytes(struct env *e);
/* t_reuse.c */
void t_hash_reuses_deleted(struct env *e);
void t_reset_flow_kept(struct env *e);
void t_syn_replaced_in_place(struct env *e);
/* t_resp.c */
void t_fill_rule(struct env *e);
void t_fill_rule_late(struct env *e);
void t_write_in_flight(struct env *e);
void t_fill_refused_in_flight(struct env *e);
void t_rq_redis_rules(struct env *e);
void t_fill_race(struct env *e);

/* t_ttl.c */
void t_ttl_set(struct env *e);
void t_ttl_set_cond(struct env *e);
void t_ttl_setex(struct env *e);
void t_ttl_expire(struct env *e);
void t_ttl_expire_cond(struct env *e);
void t_ttl_persist_getex(struct env *e);
void t_ttl_restore(struct env *e);
void t_ttl_unsure(struct env *e);
void t_ttl_conflict(struct env *e);
void t_ttl_split(struct env *e);
void t_ttl_script_reload(struct env *e);
void t_ttl_answered(struct env *e);
/* t_side.c */
void t_side_write(struct env *e);
void t_side_stream(struct env *e);
void t_side_windows(struct env *e);
void t_side_lost(struct env *e);
void t_side_ahead(struct env *e);
void t_side_attached(struct env *e);
void t_side_ttl_subscribe(struct env *e);
void t_side_ipv6(struct env *e);
void t_side_csum(struct env *e);
void t_side_close_kept(struct env *e);
void t_side_enter_reused(struct env *e);
void t_side_reopen(struct env *e);
void t_side_reap(struct env *e);
/* t_coherence.c */
void t_flush_in_flight(struct env *e);
void t_revoke(struct env *e);

#endif
