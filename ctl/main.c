// SPDX-License-Identifier: GPL-2.0
/* main.c - prestack control tool: a table of subcommands. */
#include <string.h>
#include "common.h"

struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcmd cmds[] = {
	{ "attach", cmd_attach, "load and attach to an interface (XDP + TC egress)" },
	{ "detach", cmd_detach, "detach and remove the pins" },
	{ "mode", cmd_mode, "switch mode: off | naive | guarded | retrans" },
	{ "status", cmd_status, "show attachments" },
	{ "stats", cmd_stats, "counters (--json, --watch SECS)" },
	{ "flows", cmd_flows, "per-flow mirrors (--json)" },
	{ "cache", cmd_cache, "cache set|get|del|flush|list|warm" },
	{ "replay", cmd_replay, "offline: a pcap through the programs (test run)" },
	{ "coherence", cmd_coherence, "invalidate on Redis keyspace events (other writers, expiry)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: prestack [-v] COMMAND [ARGS]   (prestack COMMAND --help)\n\n"
		   "Pre-stack Redis GET responder: XDP answers cached GETs, TC egress keeps\n"
		   "the TCP sequence spaces in step.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			ps_verbose = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "prestack: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(argc - i, argv + i);
	fprintf(stderr, "prestack: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
