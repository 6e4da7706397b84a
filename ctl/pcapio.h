/* SPDX-License-Identifier: GPL-2.0 */
/* pcapio.h - libpcap behind a small API: pcap/bpf.h and linux/bpf.h cannot
 * be included in one file. Ethernet captures only. */
#ifndef PS_PCAPIO_H
#define PS_PCAPIO_H

struct pio;

struct pio_pkt {
	const unsigned char *data;
	unsigned int caplen;
	long sec, usec;
};

/* NULL with a message on stderr */
struct pio *pio_open_read(const char *path);
/* 1: a packet, 0: end, -1: error (message on stderr) */
int pio_next(struct pio *p, struct pio_pkt *pkt);
struct pio *pio_open_write(const char *path);
void pio_write(struct pio *p, const unsigned char *data, unsigned int len,
	       long sec, long usec);
void pio_close(struct pio *p);

#endif
