// SPDX-License-Identifier: GPL-2.0
/* main.c - prestack control tool: the table of commands, the options
 * before a command, and what the man page says beyond the tables. */
#include <stddef.h>
#include <string.h>
#include "opts.h"

static const struct ps_cmd *const cmds[] = {
	&ps_cmd_attach, &ps_cmd_detach, &ps_cmd_mode, &ps_cmd_status,
	&ps_cmd_stats, &ps_cmd_flows, &ps_cmd_cache, &ps_cmd_replay,
	&ps_cmd_coherence,
};

struct tool_opts {
	bool verbose, help, man;
};

static const struct ps_opt tool_opts[] = {
	PS_OPT("verbose", 'v', PS_OPT_FLAG, NULL, struct tool_opts, verbose,
	       "libbpf's debug output (and the verifier log on a load failure)"),
	PS_OPT("help", 'h', PS_OPT_FLAG, NULL, struct tool_opts, help,
	       "show this help"),
	PS_OPT("man", 0, PS_OPT_FLAG, NULL, struct tool_opts, man,
	       NULL),
	{}
};

static const struct ps_section sections[] = {
	{ "EXIT STATUS", NULL,
	  "0 on success, 1 on a runtime error (not attached, a map that cannot be\n"
	  "read, a refused detach, ...), 2 on bad arguments. Every error message\n"
	  "on standard error begins \"prestack: \" or \"prestack COMMAND: \"." },
	{ "FILES", PS_PIN_ROOT "/NETNS/IF/",
	  "one directory per attachment (NETNS is \"-\" for the current network\n"
	  "namespace): the maps, pinned by name when attach loads the programs,\n"
	  "and the programs, prog_xdp and prog_tc, and the post-stack ones\n"
	  "(prog_post_*, the sockhash ps_psockhash, the cgroup link\n"
	  "link_post_sockops). detach removes it." },
	{ "ENVIRONMENT", "REDISCLI_AUTH",
	  "the Redis password of attach and coherence when --password is not given." },
	{ "SEE ALSO", NULL,
	  "bpftool(8), ip-netns(8), tc(8), redis-server(1); README.md of prestack." },
	{}
};

static const struct ps_tool tool = {
	.summary = "pre-stack Redis GET responder: cached GETs answered at XDP",
	.description =
		"Pre-stack Redis GET responder: XDP answers cached GETs, TC egress keeps\n"
		"the TCP sequence spaces in step.",
	.opts = tool_opts,
	.cmds = cmds,
	.ncmds = sizeof(cmds) / sizeof(cmds[0]),
	.sections = sections,
};

int main(int argc, char **argv)
{
	struct tool_opts o = {};
	int i = ps_tool_opts(tool_opts, &o, argc, argv);

	if (i < 0) {
		ps_tool_usage(stderr, &tool);
		return EXIT_USAGE;
	}
	ps_verbose = o.verbose;
	if (o.man) {
		ps_man(stdout, &tool);
		return 0;
	}
	if (o.help) {
		ps_tool_usage(stdout, &tool);
		return 0;
	}
	if (i >= argc) {
		ps_tool_usage(stderr, &tool);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < tool.ncmds; c++)
		if (!strcmp(argv[i], cmds[c]->name))
			return ps_cmd_main(cmds[c], argc - i, argv + i);
	ps_err("unknown command '%s'", argv[i]);
	ps_tool_usage(stderr, &tool);
	return EXIT_USAGE;
}
