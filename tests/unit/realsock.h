/* SPDX-License-Identifier: GPL-2.0 */
/*
 * realsock.h - a real, established TCP connection for the fixture's
 * 4-tuple (CLI_IP:CLI_PORT -> SRV_IP:SRV_PORT), so that the programs'
 * bpf_skc_lookup_tcp finds the server's socket under BPF_PROG_TEST_RUN and
 * the tcp_sock check (xdp/tcpsock.h) compares the mirrors with a kernel
 * that has them, as it does on an attached interface.
 *
 * BPF_PROG_TEST_RUN runs an XDP program in the caller's network namespace
 * (its frame "arrives" on that namespace's loopback), and that is where
 * the lookup searches. realsock_open moves the caller into a private
 * namespace (unshare(CLONE_NEWNET): nothing outside sees it, it goes with
 * the last socket and thread in it, nothing to clean up), brings lo up,
 * puts SRV_IP and CLI_IP on it, and connects a client bound to
 * CLI_IP:CLI_PORT to a listener on SRV_IP:SRV_PORT through the kernel's
 * own handshake. The ISNs that handshake chose are then read from the
 * accepted socket (TCP_REPAIR_QUEUE + TCP_QUEUE_SEQ, repair mode left
 * again at once without a window probe) for the fixture's own handshake
 * (handshake_isn), so that the flow's mirrors start where the socket is.
 * Nothing is ever sent on the connection afterwards: frames given to
 * test_run never reach the stack.
 */
#ifndef PS_TEST_REALSOCK_H
#define PS_TEST_REALSOCK_H

#include <stdint.h>

struct realsock {
	int lfd, cfd, sfd;  /* listener, client, accepted (server) socket */
	int home;           /* the namespace the caller came from */
	uint32_t cisn;      /* client ISN: the server socket's rcv_nxt - 1 */
	uint32_t sisn;      /* server ISN: its snd_nxt - 1 (= snd_una - 1) */
};

/* 0, or -1 with a message on stderr (the caller stays where it was) */
int realsock_open(struct realsock *r);
/* close the sockets and go back to the caller's namespace */
void realsock_close(struct realsock *r);

#endif
