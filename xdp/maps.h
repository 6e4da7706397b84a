/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h - every map of prestack.bpf.c (poststack.bpf.c adds its own
 * three). Those an attachment shares with later `prestack` invocations
 * are pinned by name: libbpf pins them at load under the pin_root_path
 * ctl gives at open, PS_PIN_ROOT/<netns or ->/<ifname>/<map name>
 * (ctl/loader.c). The rest (no pinning) are the programs' own: working
 * memory and what only the running programs need.
 */
#ifndef PS_MAPS_H
#define PS_MAPS_H

#include "prestack.h"
#include "scratch.h"
#include "prof.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_ST__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_stats SEC(".maps");

/* A plain hash, not LRU: evicting a flow whose offsets are not zero would
 * hand its later segments to the kernel untranslated, a corrupt stream.
 * When full, a new flow is simply not tracked (never answered, counted
 * flows_full).
 * XDP and TC each keep a flow's element through a whole segment, on two
 * CPUs at once, and a deleted element is the next insert's on the
 * deleting CPU at once (prealloc or not: t_hash_reuses_deleted): a holder
 * would write its flow's mirrors into the next flow opened. So a flow
 * either hook may be in is never deleted: FIN and RST leave it done
 * (flow.h), and it goes only once idle for PS_TIME_WAIT_NS
 * (xdp_time_wait), replaced by a SYN of its tuple, or by `prestack flows
 * --reap` (no server socket, idle). A holder such a delete can meet is in
 * a late segment of a connection over for that long (or that its own
 * client just replaced), which is only translated (XDP may still move
 * its last_ns and ksnd_una): the same microsecond as the delete and an
 * insert on the deleting CPU, never seen. A SYN of another ISN on a flow
 * still in SYN state, which TC may be learning the SYN-ACK of
 * (tc_synack), is written into the same element instead
 * (flow_replace_syn, ingress_common.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_FLOW_ENTRIES);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_flows SEC(".maps");

/* LRU: entries of an older cache_gen (after a flush) are never looked up
 * again and age out instead of filling the map. Keyed by the key's 64-bit
 * hash (ps_cache_key.hash, keyhash.h); the entry holds the key, which
 * every reader compares (cache.h, cache_lookup; helpers.h, ENTRY_OF) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_CACHE_ENTRIES);
	__type(key, __u64);
	__type(value, struct ps_cache_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_cache SEC(".maps");

/* A superset of the hashes of the keys in ps_cache, one bit each
 * (keyhash.h, ps_present_pos): every insert sets its key's bit first
 * (cache.h, cache_store; ctl's ps_cache_put), nothing clears one but a
 * flush. A lookup whose bit is clear is a miss without walking
 * ps_cache's bucket: a pipeline of misses costs an array read a key. A
 * bit left by an evicted or deleted entry only costs that key the walk. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_PRESENT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_present SEC(".maps");

/* Bumped on every invalidation of a key hashing to the slot: a fill is
 * stored only if its slot's epoch did not move since the GET passed. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_EPOCH_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_epochs SEC(".maps");

/* per epoch slot: writes to its keys that a hook handed to Redis and
 * whose reply has not passed egress (cache.h, wr_*); a fill of a key whose
 * slot has one is refused. Entry PS_WR_ANY counts flushing commands in
 * flight and flows holding writes that did not fit their ring: while it
 * is not 0 no fill is stored. Pinned: the side path counts here too, and
 * the watcher waits for a key's writes to end before it asks its TTL. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_EPOCH_SLOTS + 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_wr_inflight SEC(".maps");

/* keys whose TTL the watcher is to ask Redis (PTTL) once their writes
 * are done: a TTL write whose outcome the request does not settle
 * (cache.h, ttl_ask); a full queue counts PS_LEASE_TTL_LOST */
#define PS_TTL_ASK_BYTES (256 * 1024)
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PS_TTL_ASK_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ttl_ask SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_meta SEC(".maps");

/* The coherence lease and the TTL-lost mark (enum ps_lease_idx). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_LEASE__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_lease SEC(".maps");

/* Keys with a TTL: expiry or PS_TTL_UNKNOWN (prestack.h). A plain hash:
 * an evicted entry would make a key with a TTL look like one without.
 * A write replaces or deletes an entry, and its element is the next
 * insert's on that CPU at once: its readers (ttl_record and fill_check)
 * go through ttl_read (cache.h), which looks the key up again after the
 * load and takes an element that changed hands as "not known". */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_TTL_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ps_cache_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ttl SEC(".maps");

/* retrans mode: the exact bytes of each injected reply until acked (LRU:
 * an evicted one is counted rtx_gone when wanted). An evicted element is
 * another reply's at once, under a pointer looked up before: rtx_resend
 * finds the key again and the store's id unchanged after its copy
 * (helpers.h, ENTRY_OF). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_RTX_ENTRIES);
	__type(key, struct ps_rtx_key);
	__type(value, struct ps_rtx_val);
} ps_rtx SEC(".maps");

/* Redis's command table (COMMAND at attach, ctl/cmdtable.c): overrides
 * the built-in read/write guess of ps_classify for every command it names. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_CMD_ENTRIES);
	__type(key, struct ps_cmd_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_cmds SEC(".maps");

/* Values over PS_SMALL_VAL_MAX (bigcache.h): LRU like ps_cache;
 * 1024 x 16.4 KB = 17 MB, preallocated. Keyed by the whole key (its hash
 * included), so an entry is always its key's: only the TC ingress path
 * reads it, the hit path's cost is ps_cache's */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_BIG_ENTRIES);
	__type(key, struct ps_cache_key);
	__type(value, struct ps_cache_big_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_cache_big SEC(".maps");

/* TC egress: a large value being filled (too big for ps_scratch, whose
 * per-CPU value must stay under 32 KB) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_cache_big_val);
} ps_big_fill SEC(".maps");

/* TC ingress replies (tc_handoff.h): per flow and reply seq, what each
 * was made of (LRU: an evicted one is not sent again, counted rtx_gone /
 * tc_lost; reused at once: tcr_prepare copies it and checks the copy's
 * srv_seq and filled_ns against the element's after). Not for guarded's
 * replies in a ps_tcr_asm slot: the slot holds what the ref would */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_RTX_ENTRIES);
	__type(key, struct ps_rtx_key);
	__type(value, struct ps_tcr_ref);
} ps_tcr_refs SEC(".maps");

/* TC replies whose bytes XDP fixed (PS_TCR_SRC_ASM: the replies of
 * several GETs as assembled, a snapshot of one entry, a retrans ring entry
 * no frame could carry): a ring of slots that every CPU claims in turn
 * (tc_handoff.h, tcr_slot_claim). The claim's number is the bytes'
 * identity, kept in the ref (ps_tcr_ref.filled_ns) and in the slot once
 * written; a slot claimed again ps_tcr_slots claims later holds another
 * reply, and the old one is lost as an evicted one is (tc_lost, rtx_gone).
 * An array, not an LRU hash: a pipelined answer's handoff took an LRU
 * insert, whose free-list refill and eviction under the LRU lock cost
 * more than the rest of the handoff (docs/tc-reply.md). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_RTX_ENTRIES);
	__type(key, __u32);
	__type(value, struct ps_tcr_slot);
} ps_tcr_asm SEC(".maps");

/* ps_tcr_asm's size, as loaded (ctl/loader.c sets both), and the number of
 * the last slot claimed, by all CPUs */
const volatile __u32 ps_tcr_slots = PS_RTX_ENTRIES;
__u64 ps_tcr_claims;

/* retrans mode: TC replies from ps_cache_big, copied at XDP under the
 * ref's key (PS_TCR_SRC_BIGCOPY): a re-send must not depend on the cache
 * entry, which a write, a fill or a flush may change before the client
 * has the reply; LRU: an evicted one is a lost TC reply (tc_lost) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_TCR_BIG_ENTRIES);
	__type(key, struct ps_rtx_key);
	__type(value, struct ps_cache_big_val);
} ps_tcr_big SEC(".maps");

/* pipelined fills armed at XDP, taken by TC egress (cache.h, fq_*). An
 * entry is re-armed only after TC deleted it (the flow's fq_mask bit), so
 * only an eviction (LRU: 16384 arms, not taken, before it) reuses one
 * under TC, whose fill would then store this reply under the other key:
 * TC copies the arming and looks it up again (cache.h, fq_take). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_FQ_ENTRIES);
	__type(key, struct ps_fq_key);
	__type(value, struct ps_fq_val);
} ps_fillq SEC(".maps");

/* the TC ingress builder's working memory (tc_ingress.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_tcr_work);
} ps_tcr_work SEC(".maps");

/* per-CPU working memory (scratch.h): PS_SCR_XDP, PS_SCR_TC */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ps_scratch);
} ps_scratch SEC(".maps");

/* per-command answering (runs.h): the replies of cut GETs, queued by
 * XDP, inserted by TC egress, kept until the client and the kernel are
 * past them. Preallocated (PS_RUN_ENTRIES of about 2 KB): an insert and
 * a delete take and give back an element of the per-CPU free list, where
 * the BPF allocator of a hash without prealloc cost XDP about a third
 * more per cut segment, live (docs/pipelines.md). Either way a deleted
 * run's element is the next insert's on the deleting CPU at once
 * (t_hash_reuses_deleted), under any pointer looked up before. So TC's take and XDP's withdrawal swap the state together with
 * the run's tag (runs.h, run_tag) and never act on another run. TC keeps
 * an inserted run's address (ps_span.src) until it copies the bytes into
 * its pieces, after it let go of adj_lock; the deletes that can come
 * between are TC's own (runs_forget: a connection's segments pass TC
 * egress one at a time, under its socket's lock), XDP retiring the
 * point, which it does only once the client acked every byte of the run
 * (another run's bytes copied there are old data to the client's TCP,
 * which drops them), and XDP forgetting the flow's runs at the client's
 * RST (the client takes nothing more of that connection). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_RUN_ENTRIES);
	__type(key, struct ps_run_key);
	__type(value, struct ps_run_val);
} ps_runs SEC(".maps");

/* TC egress's insertion builder (insert.h): the kernel's payload, by
 * CPU id (the loader sizes it to the possible CPUs) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_INS_CPUS);
	__type(key, __u32);
	__type(value, struct ps_ins_kbuf);
} ps_ins_kbuf SEC(".maps");

/* TC egress's insertion builder (insert.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_ins_work);
} ps_ins_work SEC(".maps");

#endif
