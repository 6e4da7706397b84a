// SPDX-License-Identifier: GPL-2.0
/*
 * opts.c - from the tables of opts.h: getopt_long's tables and the stores
 * behind them, every usage line and --help, the man page, and the one
 * place where a command's --dev/--netns become an attachment and its maps.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "opts.h"

#define HELP_COL 24      /* where option help starts in --help */
#define WRAP_COL 78      /* usage lines are wrapped before it */
#define MAX_OPTS 32      /* options of one command, the shared ones included */
#define DEV_MAX (IF_NAMESIZE - 1)
#define NETNS_MAX (sizeof(((struct ps_target *)0)->netns) - 1)

struct parsed {
	bool help;
};

static const struct ps_opt help_opts[] = {
	PS_OPT("help", 'h', PS_OPT_FLAG, NULL, struct parsed, help,
	       "show this help"),
	{}
};

/* --dev/--netns: for attach they name the new attachment ... */
static const struct ps_opt new_target_opts[] = {
	PS_OPT("dev", 'd', PS_OPT_STR, "IF", struct ps_call, dev,
	       "interface facing the clients", .max = DEV_MAX, .required = true),
	PS_OPT("netns", 'n', PS_OPT_STR, "NS", struct ps_call, netns,
	       "named network namespace of IF (ip netns)", .max = NETNS_MAX),
	{}
};

/* ... for the other commands they choose among the existing ones */
static const struct ps_opt target_opts[] = {
	PS_OPT("dev", 'd', PS_OPT_STR, "IF", struct ps_call, dev,
	       "the attachment on IF (default: the only one)", .max = DEV_MAX),
	PS_OPT("netns", 'n', PS_OPT_STR, "NS", struct ps_call, netns,
	       "the attachment in network namespace NS", .max = NETNS_MAX),
	{}
};

static const struct ps_opt *cmd_target_opts(const struct ps_cmd *cmd)
{
	return cmd->target == PS_TGT_NONE ? NULL :
	       cmd->target == PS_TGT_NEW ? new_target_opts : target_opts;
}

/* ---- parsing */

/* One option table and the struct its offsets point into. */
struct opt_set {
	const struct ps_opt *opts;
	void *base;
};

static int store(const struct ps_opt *o, void *base, const char *arg, int argc)
{
	void *p = (char *)base + o->off;

	switch (o->kind) {
	case PS_OPT_FLAG:
		*(bool *)p = true;
		return 0;
	case PS_OPT_STR:
		if (o->max && strlen(arg) > o->max) {
			ps_err("--%s '%s' is too long (at most %u bytes)", o->name, arg, o->max);
			return -1;
		}
		*(const char **)p = arg;
		return 0;
	case PS_OPT_STRS: {
		struct ps_strs *s = p;

		/* never more than there are words */
		if (!s->v && !(s->v = calloc((size_t)argc, sizeof(*s->v)))) {
			ps_err("out of memory");
			return -1;
		}
		s->v[s->n++] = arg;
		return 0;
	}
	case PS_OPT_U32:
		if (ps_parse_u32(arg, o->min, o->max, p)) {
			ps_err("bad --%s '%s' (%u..%u)", o->name, arg, o->min, o->max);
			return -1;
		}
		return 0;
	case PS_OPT_U32_OPT: {
		struct ps_u32_opt *u = p;

		u->on = true;
		if (arg && ps_parse_u32(arg, o->min, o->max, &u->val)) {
			ps_err("bad --%s '%s' (%u..%u)", o->name, arg, o->min, o->max);
			return -1;
		}
		return 0;
	}
	case PS_OPT_MODE:
		*(int *)p = ps_mode_parse(arg);
		if (*(int *)p < 0) {
			ps_err("bad --%s '%s' (off, naive, guarded, retrans)", o->name, arg);
			return -1;
		}
		return 0;
	case PS_OPT_HOSTPORT: {
		struct ps_hostport *h = p;

		if (ps_parse_hostport(arg, h->host, sizeof(h->host), &h->port)) {
			ps_err("bad --%s '%s' (HOST:PORT)", o->name, arg);
			return -1;
		}
		h->text = arg;
		return 0;
	}
	}
	return -1;
}

static int has_arg(const struct ps_opt *o)
{
	return o->kind == PS_OPT_FLAG ? no_argument :
	       o->kind == PS_OPT_U32_OPT ? optional_argument : required_argument;
}

/*
 * getopt_long over the option sets; stop_at_word: stop at the first
 * positional word (the options before a command), else take options
 * wherever they stand. Returns optind, or -1 after a message.
 */
static int parse(const struct opt_set *sets, int nsets, int argc, char **argv,
		 bool stop_at_word)
{
	struct option lopts[MAX_OPTS + 1] = {};
	struct opt_set where[MAX_OPTS];
	char shorts[3 * MAX_OPTS + 3], *sp = shorts;
	int n = 0, c, i;

	if (stop_at_word)
		*sp++ = '+';
	*sp++ = ':';  /* a missing argument is ':', not '?' */
	for (int s = 0; s < nsets; s++) {
		for (const struct ps_opt *o = sets[s].opts; o && o->name; o++) {
			if (n == MAX_OPTS) {
				ps_err("more than %d options: raise MAX_OPTS", MAX_OPTS);
				return -1;
			}
			where[n] = (struct opt_set){ o, sets[s].base };
			lopts[n] = (struct option){ o->name, has_arg(o), NULL,
						    o->short_name ? o->short_name : 256 + n };
			if (o->short_name) {
				*sp++ = o->short_name;
				if (has_arg(o) != no_argument)
					*sp++ = ':';
				if (has_arg(o) == optional_argument)
					*sp++ = ':';
			}
			n++;
		}
	}
	*sp = 0;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		const char *bad = argv[optind - 1];

		if (c == '?' || c == ':') {
			if (optopt && optopt < 256 && strncmp(bad, "--", 2))
				ps_err(c == ':' ? "option -%c needs an argument" :
				       "unknown option -%c", optopt);
			else
				ps_err(c == ':' ? "option '%s' needs an argument" :
				       "bad option '%s'", bad);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (lopts[i].val == c)
				break;
		if (i == n || store(where[i].opts, where[i].base, optarg, argc))
			return -1;
	}
	return optind;
}

/* required: PS_OPT_STR and PS_OPT_HOSTPORT only */
static int check_required(const struct opt_set *sets, int nsets)
{
	for (int s = 0; s < nsets; s++) {
		for (const struct ps_opt *o = sets[s].opts; o && o->name; o++) {
			const void *p = (const char *)sets[s].base + o->off;

			if (o->required && !(o->kind == PS_OPT_HOSTPORT ?
					     ((const struct ps_hostport *)p)->text :
					     *(const char *const *)p)) {
				ps_err("--%s is required", o->name);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- --help and usage lines */

/* "--name ARG", "--name[=ARG]", "--name" */
static int opt_form(char *buf, size_t n, const struct ps_opt *o)
{
	if (o->kind == PS_OPT_FLAG)
		return snprintf(buf, n, "--%s", o->name);
	if (o->kind == PS_OPT_U32_OPT)
		return snprintf(buf, n, "--%s[=%s]", o->name, o->arg);
	return snprintf(buf, n, "--%s %s", o->name, o->arg);
}

/* words of a usage line, wrapped under the first one's end */
struct line {
	FILE *f;
	int col, indent;
};

static void word(struct line *l, const char *w)
{
	int len = (int)strlen(w);

	if (l->col + 1 + len > WRAP_COL && l->col > l->indent) {
		fprintf(l->f, "\n%*s", l->indent, "");
		l->col = l->indent;
	}
	l->col += fprintf(l->f, " %s", w);
}

static void synopsis_opts(struct line *l, const struct ps_opt *opts)
{
	char form[96], w[100];

	for (const struct ps_opt *o = opts; o && o->name; o++) {
		if (!o->help)
			continue;
		opt_form(form, sizeof(form), o);
		snprintf(w, sizeof(w), o->required ? "%s" : o->kind == PS_OPT_STRS ?
			 "[%s]..." : "[%s]", form);
		word(l, w);
	}
}

void ps_cmd_usage(FILE *f, const struct ps_cmd *cmd)
{
	struct line l = { f, 0, 0 };

	l.col = l.indent = fprintf(f, "usage: prestack %s", cmd->name);
	if (cmd->args)
		word(&l, cmd->args);
	synopsis_opts(&l, cmd_target_opts(cmd));
	synopsis_opts(&l, cmd->opts);
	fputc('\n', f);
}

/* " (1..65535, default 6379)": what the table knows beyond the help text */
static void opt_note(char *buf, size_t n, const struct ps_opt *o, const void *defaults)
{
	const void *d = defaults ? (const char *)defaults + o->off : NULL;
	char def[64] = "";

	if (d && o->kind == PS_OPT_U32 && *(const __u32 *)d >= o->min)
		snprintf(def, sizeof(def), "default %u", *(const __u32 *)d);
	else if (d && o->kind == PS_OPT_U32_OPT)
		snprintf(def, sizeof(def), "default %u", ((const struct ps_u32_opt *)d)->val);
	else if (d && o->kind == PS_OPT_MODE)
		snprintf(def, sizeof(def), "default %s", ps_mode_name((__u32)*(const int *)d));
	else if (d && o->kind == PS_OPT_STR && *(const char *const *)d)
		snprintf(def, sizeof(def), "default %s", *(const char *const *)d);
	if (o->kind == PS_OPT_U32 || o->kind == PS_OPT_U32_OPT)
		snprintf(buf, n, " (%u..%u%s%s)", o->min, o->max, *def ? ", " : "", def);
	else
		snprintf(buf, n, *def ? " (%s)" : "%s", def);
}

static void help_opts_of(FILE *f, const struct ps_opt *opts, const void *defaults)
{
	char form[96], note[96];

	for (const struct ps_opt *o = opts; o && o->name; o++) {
		const char *h = o->help;
		int col;

		if (!h)
			continue;
		opt_form(form, sizeof(form), o);
		opt_note(note, sizeof(note), o, defaults);
		col = o->short_name ? fprintf(f, "  -%c, %s", o->short_name, form) :
				      fprintf(f, "      %s", form);
		if (col >= HELP_COL - 1)
			fprintf(f, "\n%*s", HELP_COL, "");
		else
			fprintf(f, "%*s", HELP_COL - col, "");
		/* continuation lines of the help under its first */
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COL, "");
		/* the note on a line of its own when it would not fit */
		if (HELP_COL + strlen(h) + strlen(note) > WRAP_COL && *note)
			fprintf(f, "%s%s\n%*s%s\n", h, o->required ? " (required)" : "",
				HELP_COL, "", note + 1);
		else
			fprintf(f, "%s%s%s\n", h, o->required ? " (required)" : "", note);
	}
}

static void cmd_help(FILE *f, const struct ps_cmd *cmd)
{
	ps_cmd_usage(f, cmd);
	fprintf(f, "\n%s\n\noptions:\n", cmd->description);
	help_opts_of(f, cmd_target_opts(cmd), NULL);
	help_opts_of(f, cmd->opts, cmd->defaults);
	help_opts_of(f, help_opts, NULL);
}

/* ---- running a command */

static void free_strs(const struct ps_cmd *cmd, void *opts)
{
	for (const struct ps_opt *o = cmd->opts; o && o->name; o++)
		if (o->kind == PS_OPT_STRS)
			free(((struct ps_strs *)((char *)opts + o->off))->v);
}

static int bad_usage(const struct ps_cmd *cmd)
{
	ps_cmd_usage(stderr, cmd);
	fprintf(stderr, "(prestack %s --help for more)\n", cmd->name);
	return EXIT_USAGE;
}

int ps_cmd_main(const struct ps_cmd *cmd, int argc, char **argv)
{
	struct ps_call call = {};
	struct opt_set sets[3];
	struct parsed p = {};
	void *opts;
	int ret = 1, first;

	ps_log_cmd(cmd->name);
	ps_maps_open(&call.maps, NULL, 0);  /* every fd -1 */
	opts = calloc(1, cmd->opts_size ? cmd->opts_size : 1);
	if (!opts) {
		ps_err("out of memory");
		return 1;
	}
	if (cmd->defaults)
		memcpy(opts, cmd->defaults, cmd->opts_size);
	sets[0] = (struct opt_set){ cmd_target_opts(cmd), &call };
	sets[1] = (struct opt_set){ cmd->opts, opts };
	sets[2] = (struct opt_set){ help_opts, &p };
	first = parse(sets, 3, argc, argv, false);
	if (first >= 0 && p.help) {
		cmd_help(stdout, cmd);
		ret = 0;
		goto cleanup;
	}
	if (first < 0 || check_required(sets, 3)) {
		ret = bad_usage(cmd);
		goto cleanup;
	}
	call.argc = argc - first;
	call.argv = argv + first;
	if (call.argc > cmd->max_args || call.argc < cmd->min_args) {
		if (call.argc > cmd->max_args)
			ps_err("unexpected argument '%s'", call.argv[cmd->max_args]);
		else
			ps_err("missing argument: %s", cmd->args);
		ret = bad_usage(cmd);
		goto cleanup;
	}
	if (cmd->check && cmd->check(&call, opts)) {
		ret = bad_usage(cmd);
		goto cleanup;
	}
	if (cmd->target == PS_TGT_NEW) {
		ps_target_set(&call.t, call.netns, call.dev);
	} else if (cmd->target == PS_TGT_ONE) {
		if (ps_target_find(&call.t, call.netns, call.dev) ||
		    ps_maps_open(&call.maps, &call.t, cmd->maps))
			goto cleanup;
	}
	ret = cmd->run(&call, opts);
cleanup:
	ps_maps_close(&call.maps);
	free_strs(cmd, opts);
	free(opts);
	return ret;
}

/* ---- the options before the command */

int ps_tool_opts(const struct ps_opt *opts, void *base, int argc, char **argv)
{
	const struct opt_set set = { opts, base };

	return parse(&set, 1, argc, argv, true);
}

void ps_tool_usage(FILE *f, const struct ps_tool *tool)
{
	fprintf(f, "usage: prestack [-v] COMMAND [ARGS]   (prestack COMMAND --help)\n\n"
		   "%s\n\ncommands:\n", tool->description);
	for (size_t i = 0; i < tool->ncmds; i++)
		fprintf(f, "  %-9s %s\n", tool->cmds[i]->name, tool->cmds[i]->summary);
	fprintf(f, "\noptions:\n");
	help_opts_of(f, tool->opts, NULL);
}

/* ---- the man page */

/* text for groff: no requests by accident, backslashes and minus signs
 * escaped, a blank line a new paragraph */
static void man_text(FILE *f, const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol) {
			while (*s == ' ')
				s++;
			if (*s == '\n') {
				fputs(".PP\n", f);
				continue;
			}
			if (*s == '.' || *s == '\'')
				fputs("\\&", f);
		}
		bol = *s == '\n';
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
	if (!bol)
		fputc('\n', f);
}

static void man_opts(FILE *f, const struct ps_opt *opts, const void *defaults)
{
	char note[96];

	for (const struct ps_opt *o = opts; o && o->name; o++) {
		if (!o->help)
			continue;
		fputs(".TP\n", f);
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fprintf(f, "\\fB\\-\\-%s\\fR", o->name);
		if (o->kind == PS_OPT_U32_OPT)
			fprintf(f, "[=\\fI%s\\fR]", o->arg);
		else if (o->kind != PS_OPT_FLAG)
			fprintf(f, " \\fI%s\\fR", o->arg);
		fputc('\n', f);
		opt_note(note, sizeof(note), o, defaults);
		man_text(f, o->help);
		if (o->required || *note) {
			char tail[128];

			snprintf(tail, sizeof(tail), "%s%s", o->required ? " (required)" : "", note);
			man_text(f, tail + 1);
		}
	}
}

/* the command's heading, its usage line left-adjusted under it */
static void man_synopsis(FILE *f, const struct ps_cmd *cmd)
{
	char *buf = NULL, *c, *w;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	ps_cmd_usage(m, cmd);
	fclose(m);
	/* one line: the wrapping's newlines and indents folded */
	for (c = w = buf; *c; c++) {
		if (*c == '\n')
			*c = ' ';
		if (!(*c == ' ' && w > buf && w[-1] == ' '))
			*w++ = *c;
	}
	*w = 0;
	fprintf(f, ".SS %s\n.ad l\n\\fBprestack %s\\fR\n", cmd->name, cmd->name);
	man_text(f, buf + strlen("usage: prestack ") + strlen(cmd->name));
	fputs(".ad\n.PP\n", f);
	free(buf);
}

void ps_man(FILE *f, const struct ps_tool *tool)
{
	fputs(".\\\" prestack(8): generated by `prestack --man` from the tool's tables\n"
	      ".TH PRESTACK 8 \"\" \"prestack\" \"System Administration\"\n"
	      ".SH NAME\nprestack \\- ", f);
	man_text(f, tool->summary);
	fputs(".SH SYNOPSIS\n.B prestack\n[\\fB\\-v\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
	      ".SH DESCRIPTION\n", f);
	man_text(f, tool->description);
	fputs(".SH OPTIONS\n", f);
	man_opts(f, tool->opts, NULL);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < tool->ncmds; i++) {
		const struct ps_cmd *cmd = tool->cmds[i];

		man_synopsis(f, cmd);
		man_text(f, cmd->description);
		man_opts(f, cmd_target_opts(cmd), NULL);
		man_opts(f, cmd->opts, cmd->defaults);
		man_opts(f, help_opts, NULL);
	}
	for (const struct ps_section *s = tool->sections; s && s->title; s++) {
		fprintf(f, ".SH %s\n", s->title);
		if (s->tag) {
			fputs(".TP\n", f);
			man_text(f, s->tag);
		}
		man_text(f, s->text);
	}
}
