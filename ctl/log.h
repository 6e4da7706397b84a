/* SPDX-License-Identifier: GPL-2.0 */
/* log.h - every error of the tool with one prefix: "prestack: ", or
 * "prestack COMMAND: " once a command runs. No BPF headers here: pcapio.c
 * (pcap/bpf.h) includes it too. */
#ifndef PS_LOG_H
#define PS_LOG_H

/* the command the errors are about (NULL: the tool itself) */
void ps_log_cmd(const char *name);
/* one message on stderr, prefixed, a newline added */
void ps_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
