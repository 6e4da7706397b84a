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
 * flows_full); entries go on FIN/RST and `prestack flows --reap`. */
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
 * an evicted entry would make a key with a TTL look like one without. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_TTL_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ps_cache_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ps_ttl SEC(".maps");

/* retrans mode: the exact bytes of each injected reply until acked (LRU:
 * an evicted one is counted rtx_gone when wanted) */
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
 * tc_lost) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_RTX_ENTRIES);
	__type(key, struct ps_rtx_key);
	__type(value, struct ps_tcr_ref);
} ps_tcr_refs SEC(".maps");

/* TC replies to several GETs (PS_TCR_SRC_ASM): the bytes as XDP assembled
 * them, keyed as ps_tcr_refs; LRU: an evicted one is a lost TC reply */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_RTX_ENTRIES);
	__type(key, struct ps_rtx_key);
	__type(value, struct ps_rtx_val);
} ps_tcr_asm SEC(".maps");

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

/* pipelined fills armed at XDP, taken by TC egress (cache.h, fq_*) */
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
 * past them. No prealloc: a deleted run is freed after an RCU grace
 * period, so a reader's pointer never sees another run's bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_RUN_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
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
