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

#define EXIT_USAGE 2

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
/* bpf_obj_get of PS_PIN_ROOT/<ns>/<dev>/<name>, checking the value size */
int ps_pin_open(const struct ps_target *t, const char *name, __u32 value_size);
int ps_mount_bpffs(void);

int ps_parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
int ps_mode_parse(const char *s);
const char *ps_mode_name(__u32 mode);
void ps_json_str(FILE *f, const void *s, size_t n);
/* move the key's invalidation epoch (a fill in flight will not land) */
void ps_epoch_bump(int epochs_fd, const struct ps_cache_key *k);
/* epoch, then delete from the cache; 0 if an entry was deleted */
int ps_invalidate_key(int cache_fd, int epochs_fd, const struct ps_cache_key *k);
/* set by SIGINT/SIGTERM once ps_stop_on_signals() ran (no SA_RESTART:
 * sleeps and polls return early) */
extern volatile sig_atomic_t ps_stop;
void ps_stop_on_signals(void);
/* ps_config read-modify-write (mode < 0: unchanged); always moves
 * cache_gen, i.e. flushes the cache, so no concurrent BPF flush is lost */
int ps_config_update(int fd, int mode, __u32 set, __u32 clear, struct ps_config *out);
/* entries in a map (walks the keys) */
long ps_map_count(int fd, size_t key_size);
/* flows with a non-zero offset: detaching or switching off corrupts them */
int ps_count_offset_flows(int flows_fd, int *total);

/* Redis's COMMAND table into ps_cmds (ctl/cmdtable.c); -1 if Redis on
 * 127.0.0.1:port (current netns) could not be asked */
struct ps_cmdtable_counts {
	unsigned total, read, write, flush, skipped;
};
int ps_cmdtable_load(int map_fd, __u32 port, const char *password,
		     struct ps_cmdtable_counts *n);

/* the common --dev/--netns options, for getopt_long tables */
#define PS_TARGET_OPTS \
	{ "dev", required_argument, NULL, 'd' }, \
	{ "netns", required_argument, NULL, 'n' }

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_mode(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_coherence(int argc, char **argv);

#endif
