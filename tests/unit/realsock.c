// SPDX-License-Identifier: GPL-2.0
/* realsock.c - a real established connection for the fixture's 4-tuple
 * in a private network namespace (realsock.h says why and how). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include "env.h"
#include "realsock.h"

static int fail(const char *what)
{
	fprintf(stderr, "realsock: %s: %s\n", what, strerror(errno));
	return -1;
}

/* lo up, and addr on it under label (an alias: the old ioctl, no netlink) */
static int lo_setup(int fd, const char *label, uint32_t addr)
{
	struct sockaddr_in *sin;
	struct ifreq ifr = {};

	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		return fail("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		return fail("SIOCSIFFLAGS lo");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", label);
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		return fail("SIOCSIFADDR");
	return 0;
}

static int bound(uint32_t addr, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return fail("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return fail("bind");
	}
	return fd;
}

/* rcv_nxt and write_seq of an established socket, read in repair mode
 * (left at once, TCP_REPAIR_OFF_NO_WP: no window probe is sent) */
static int queue_seqs(int fd, uint32_t *rcv_nxt, uint32_t *write_seq)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP, q, err = 0;
	socklen_t l = sizeof(*rcv_nxt);

	if (setsockopt(fd, SOL_TCP, TCP_REPAIR, &on, sizeof(on)))
		return fail("TCP_REPAIR on");
	q = TCP_RECV_QUEUE;
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, rcv_nxt, &l))
		err = fail("TCP_QUEUE_SEQ (receive queue)");
	q = TCP_SEND_QUEUE;
	l = sizeof(*write_seq);
	if (!err && (setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
		     getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, write_seq, &l)))
		err = fail("TCP_QUEUE_SEQ (send queue)");
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR, &off, sizeof(off)))
		err = fail("TCP_REPAIR off");
	return err;
}

int realsock_open(struct realsock *r)
{
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(SRV_PORT),
				   .sin_addr.s_addr = htonl(SRV_IP) };
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	uint32_t rcv_nxt, write_seq;
	int fd, outq = -1, unsent = -1;

	*r = (struct realsock){ .lfd = -1, .cfd = -1, .sfd = -1 };
	r->home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r->home < 0)
		return fail("/proc/self/ns/net");
	if (unshare(CLONE_NEWNET)) {
		fail("unshare(CLONE_NEWNET)");
		close(r->home);
		r->home = -1;
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || lo_setup(fd, "lo:1", SRV_IP) || lo_setup(fd, "lo:2", CLI_IP)) {
		if (fd >= 0)
			close(fd);
		goto err;
	}
	close(fd);
	r->lfd = bound(SRV_IP, SRV_PORT);
	if (r->lfd < 0 || (listen(r->lfd, 1) && fail("listen")))
		goto err;
	r->cfd = bound(CLI_IP, CLI_PORT);
	if (r->cfd < 0 ||
	    (connect(r->cfd, (struct sockaddr *)&srv, sizeof(srv)) && fail("connect")))
		goto err;
	r->sfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (r->sfd < 0 && fail("accept"))
		goto err;
	/* established, nothing unsent, nothing unacked: snd_una == snd_nxt
	 * == write_seq, as sock_check wants of an idle kernel */
	if (getsockopt(r->sfd, SOL_TCP, TCP_INFO, &ti, &l) || ti.tcpi_state != TCP_ESTABLISHED ||
	    ioctl(r->sfd, SIOCOUTQ, &outq) || ioctl(r->sfd, SIOCOUTQNSD, &unsent) ||
	    outq || unsent) {
		fprintf(stderr, "realsock: server socket not idle and established (state %u, "
			"outq %d, unsent %d)\n", ti.tcpi_state, outq, unsent);
		goto err;
	}
	if (queue_seqs(r->sfd, &rcv_nxt, &write_seq))
		goto err;
	r->cisn = rcv_nxt - 1;
	r->sisn = write_seq - 1;
	return 0;
err:
	realsock_close(r);
	return -1;
}

void realsock_close(struct realsock *r)
{
	if (r->sfd >= 0)
		close(r->sfd);
	if (r->cfd >= 0)
		close(r->cfd);
	if (r->lfd >= 0)
		close(r->lfd);
	r->lfd = r->cfd = r->sfd = -1;
	if (r->home >= 0) {
		if (setns(r->home, CLONE_NEWNET))
			fail("setns (back home)");
		close(r->home);
		r->home = -1;
	}
}
