/* SPDX-License-Identifier: GPL-2.0 */
/*
 * opts.h - commands and their options as data. Each command file declares
 * one table of its options and one struct ps_cmd; main.c lists the
 * commands. The parser, every `--help`, the top-level usage and the man
 * page are generated from those tables (opts.c), so they cannot drift.
 */
#ifndef PS_OPTS_H
#define PS_OPTS_H

#include <stddef.h>
#include <stdio.h>
#include "common.h"

enum ps_opt_kind {
	PS_OPT_FLAG,     /* bool */
	PS_OPT_STR,      /* const char *, at most .max bytes (0: any) */
	PS_OPT_STRS,     /* struct ps_strs: repeatable */
	PS_OPT_U32,      /* __u32 in .min...max */
	PS_OPT_U32_OPT,  /* struct ps_u32_opt: --name or --name=N in .min...max */
	PS_OPT_MODE,     /* int: off | naive | guarded | retrans */
	PS_OPT_HOSTPORT, /* struct ps_hostport */
};

struct ps_strs {
	const char **v;
	int n;
};

struct ps_u32_opt {
	bool on;
	__u32 val;
};

struct ps_hostport {
	const char *text;   /* as given; NULL: not given */
	char host[256];
	__u32 port;
};

struct ps_opt {
	const char *name;
	char short_name;    /* 0: long form only */
	enum ps_opt_kind kind;
	const char *arg;    /* the argument's placeholder in usage lines */
	const char *help;   /* '\n' breaks a line in --help, not in the man page */
	size_t off;         /* where in the command's option struct */
	__u32 min, max;
	bool required;
};

/* One table entry: --NAME, -SHORT (0: none), its kind, the argument's
 * placeholder (NULL for flags), stored in STRUCT.MEMBER, then the help
 * (NULL: hidden), then .min/.max/.required as needed. A table ends with {}. */
#define PS_OPT(name_, short_, kind_, arg_, type_, member_, help_, ...) \
	{ .name = (name_), .short_name = (short_), .kind = (kind_), .arg = (arg_), \
	  .off = offsetof(type_, member_), .help = (help_), __VA_ARGS__ }

/* Which attachment a command works on, resolved before it runs. */
enum ps_target_kind {
	PS_TGT_NONE,    /* none: no --dev/--netns */
	PS_TGT_NEW,     /* a new one: --dev required (attach) */
	PS_TGT_FILTER,  /* --dev/--netns only filter (status) */
	PS_TGT_ONE,     /* exactly one existing: the only one, or the one chosen */
};

/* What a command's run() gets besides its own options. */
struct ps_call {
	const char *dev, *netns;  /* --dev, --netns; NULL if not given */
	struct ps_target t;       /* PS_TGT_NEW, PS_TGT_ONE */
	struct ps_maps maps;      /* PS_TGT_ONE: the maps in ps_cmd.maps */
	int argc;                 /* positional words */
	char **argv;
};

struct ps_cmd {
	const char *name;
	const char *summary;      /* one line in the top-level usage */
	const char *args;         /* positional words, for usage lines */
	const char *description;  /* paragraphs split by a blank line */
	const struct ps_opt *opts;   /* ends with an entry whose name is NULL */
	size_t opts_size;
	const void *defaults;     /* opts_size bytes, or NULL: all zero */
	enum ps_target_kind target;
	unsigned maps;            /* PS_MAP_* opened for PS_TGT_ONE */
	int min_args, max_args;
	/* more checks of the arguments, before any attachment is looked up:
	 * message and -1 when they are bad (exit 2) */
	int (*check)(const struct ps_call *c, void *opts);
	int (*run)(struct ps_call *c, void *opts);
};

/* parse, --help, target, maps, run, cleanup: the exit status */
int ps_cmd_main(const struct ps_cmd *cmd, int argc, char **argv);
void ps_cmd_usage(FILE *f, const struct ps_cmd *cmd);

/* A man page section beyond those generated from the tables; with a tag,
 * the text is a paragraph hanging under it. */
struct ps_section {
	const char *title, *tag, *text;
};

/* The tool: its options before the command, its commands (main.c). */
struct ps_tool {
	const char *summary;          /* the man page's NAME line */
	const char *description;
	const struct ps_opt *opts;    /* no help: hidden */
	const struct ps_cmd *const *cmds;
	size_t ncmds;
	const struct ps_section *sections;  /* ends with a NULL title */
};

/* the options before the command into base: the command's index in argv,
 * or -1 after a message */
int ps_tool_opts(const struct ps_opt *opts, void *base, int argc, char **argv);
void ps_tool_usage(FILE *f, const struct ps_tool *tool);
/* prestack(8) in groff man format */
void ps_man(FILE *f, const struct ps_tool *tool);

extern const struct ps_cmd ps_cmd_attach, ps_cmd_detach, ps_cmd_mode,
	ps_cmd_status, ps_cmd_stats, ps_cmd_flows, ps_cmd_cache,
	ps_cmd_replay, ps_cmd_coherence;

#endif
