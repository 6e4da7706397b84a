/* SPDX-License-Identifier: GPL-2.0 */
/* common.h - shared by the control tool's subcommands. */
#ifndef PS_COMMON_H
#define PS_COMMON_H

#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <net/if.h>
#include <linux/types.h>
#include "prestack.h"
#include "log.h"

#define EXIT_USAGE 2
/* a macro's value as a string literal */
#define PS_STR_(x) #x
#define PS_STR(x) PS_STR_(x)

extern bool ps_verbose;

/* One attachment: its netns ("" for the current one), device, pin dir. */
struct ps_target {
	char netns[64];
	char dev[IF_NAMESIZE];
	char dir[256];
};

/* Fill t from --netns/--dev; both NULL: the only attachment there is.
 * Prints why on failure. */
int ps_target_find(struct ps_target *t, const char *netns, const char *dev);
void ps_target_set(struct ps_target *t, const char *netns, const char *dev);
/* attachments matching the filters (NULL: any); returns how many */
int ps_scan(const char *netns, const char *dev, struct ps_target *found, int max);
/* Enter a named network namespace (only the net namespace: the bpffs
 * mount stays the host's). NULL or "" does nothing. */
int ps_netns_enter(const char *netns);
/* Remove an attachment's pins (whatever is in its dir), the dir, and its
 * parents if empty. Prints why on failure. */
int ps_unpin_all(const struct ps_target *t);
int ps_mount_bpffs(void);

/* The pinned maps of one attachment (xdp/maps.h pins them by name), as
 * fds, -1 when not open. */
struct ps_maps {
	int config, stats, flows, cache, epochs, meta, ttl, cmds, lease;
	int inflight;  /* ps_wr_inflight: writes in flight per epoch slot */
	int cache_big; /* opened with PS_MAP_CACHE: values over PS_SMALL_VAL_MAX */
	int present;   /* opened with PS_MAP_CACHE: ps_present */
};
enum {
	PS_MAP_CONFIG = 1u << 0,
	PS_MAP_STATS = 1u << 1,
	PS_MAP_FLOWS = 1u << 2,
	PS_MAP_CACHE = 1u << 3,
	PS_MAP_EPOCHS = 1u << 4,
	PS_MAP_META = 1u << 5,
	PS_MAP_TTL = 1u << 6,
	PS_MAP_CMDS = 1u << 7,
	PS_MAP_LEASE = 1u << 8,
	PS_MAP_INFLIGHT = 1u << 9,
};
/* open the maps in `which` (PS_MAP_*), checking their value sizes; on
 * failure prints why, and what was opened is still to be closed */
int ps_maps_open(struct ps_maps *m, const struct ps_target *t, unsigned which);
void ps_maps_close(struct ps_maps *m);
/* ps_config's one entry; prints why on failure */
int ps_config_read(const struct ps_maps *m, struct ps_config *c);

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns() */
__u64 ps_mono_ns(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns (PS_LEASE_CLOCK_OFF): the
 * smallest of a few reads taken between two monotonic ones */
__u64 ps_clock_off(void);
/* a key's expiry on our clock from what PTTL said, asked at t_ns */
__u64 ps_ttl_expiry(__u64 t_ns, long long pttl_ms);

int ps_parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
/* HOST:PORT; -1 if the host does not fit in hn bytes or the port is bad */
int ps_parse_hostport(const char *s, char *host, size_t hn, __u32 *port);
int ps_mode_parse(const char *s);
const char *ps_mode_name(__u32 mode);
void ps_json_str(FILE *f, const void *s, size_t n);
/* move the key's invalidation epoch (a fill in flight will not land) */
int ps_epoch_bump(int epochs_fd, const struct ps_cache_key *k);
/* epoch, then delete from the cache (both maps); 0 if an entry was deleted,
 * 1 if there was none, -1 if the epoch could not be moved */
int ps_invalidate_key(const struct ps_maps *m, const struct ps_cache_key *k);
/* set by SIGINT/SIGTERM once ps_stop_on_signals() ran (no SA_RESTART:
 * sleeps and polls return early) */
extern volatile sig_atomic_t ps_stop;
void ps_stop_on_signals(void);
/* ps_config read-modify-write (mode < 0: unchanged); always moves
 * cache_gen, i.e. flushes the cache, so no concurrent BPF flush is lost */
int ps_config_update(int fd, int mode, __u32 set, __u32 clear, struct ps_config *out);
/* the counters' names, by enum ps_stat */
extern const char *const ps_stat_names[];
/* every counter of ps_stats summed over the possible CPUs; prints why on
 * failure */
int ps_stats_read(int fd, __u64 *out);
/* entries in a map (walks the keys) */
long ps_map_count(int fd, size_t key_size);
/* delete every entry: how many, or -1 (errno) if one could not be */
long ps_map_clear(int fd, size_t key_size);
/* flows with a non-zero offset: detaching or switching off corrupts them */
int ps_count_offset_flows(int flows_fd, int *total);

/* Redis's COMMAND table into ps_cmds (ctl/cmdtable.c); -1 if Redis on
 * 127.0.0.1:port (current netns) could not be asked */
struct ps_cmdtable_counts {
	unsigned total, read, write, flush, skipped;
	unsigned containers, subcommands; /* PS_CLASS_SUB, and their "name|sub" entries */
};
int ps_cmdtable_load(int map_fd, __u32 port, const char *password,
		     struct ps_cmdtable_counts *n);

/* The side path (ctl/sidepath.c, xdp/sidepath.bpf.c): TC on every other
 * interface of the namespace (loopback included) and, for what XDP does
 * not follow, on the attached one. All with the current netns entered. */
/* load it with the attachment's maps, pin its programs, cover every
 * interface there is now: 0, or -1 having said why and left none */
int ps_side_attach(const struct ps_target *t, __u32 att_ifindex, unsigned *covered);
/* take it off every interface it covers (the pins go with the dir) */
int ps_side_detach(const struct ps_target *t);
/* interfaces of the namespace it does not cover: their number, with
 * their names in `names` (comma separated); cover: attach to them first
 * (the count is then of those that could not be covered); -1 if the side
 * path is not attached */
int ps_side_check(const struct ps_target *t, bool cover, char *names, size_t n);
/* the side path's connections: followed, lost (-1 if not attached) */
long ps_side_conns(const struct ps_target *t, long *lost);

/* poststack mode (ctl/poststack.c): the post-stack programs of the
 * attachment in t's dir (current netns entered): 0, or -1 having said why
 * and left none of their pins. verdict_id: the sk_skb program's id. */
#define PS_POST_LINK "link_post_sockops"
int ps_post_attach(const struct ps_target *t, __u32 *verdict_id);
bool ps_post_attached(const struct ps_target *t);
/* Redis sockets in the post-stack path, -1 if it is not attached */
long ps_post_sockets(const struct ps_target *t);
/* of them, those whose copied_seq lags (answers shorter than their
 * requests): back on the plain stack their reads break */
int ps_post_lagging(const struct ps_target *t, int *total);

#endif
