// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>
#include "log.h"
#include "pcapio.h"

struct pio {
	pcap_t *pc;
	pcap_dumper_t *dump;
	const char *path;
};

struct pio *pio_open_read(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pio *p = calloc(1, sizeof(*p));

	if (!p) {
		ps_err("out of memory");
		return NULL;
	}
	p->path = path;
	p->pc = pcap_open_offline(path, err);
	if (!p->pc) {
		ps_err("pcap: %s", err);
		free(p);
		return NULL;
	}
	if (pcap_datalink(p->pc) != DLT_EN10MB) {
		ps_err("pcap: %s is not an Ethernet capture", path);
		pio_close(p);
		return NULL;
	}
	return p;
}

int pio_next(struct pio *p, struct pio_pkt *pkt)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int r = pcap_next_ex(p->pc, &h, &d);

	if (r == 1) {
		pkt->data = d;
		pkt->caplen = h->caplen;
		pkt->sec = (long)h->ts.tv_sec;
		pkt->usec = (long)h->ts.tv_usec;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0;
	ps_err("pcap: %s: %s", p->path, pcap_geterr(p->pc));
	return -1;
}

struct pio *pio_open_write(const char *path)
{
	struct pio *p = calloc(1, sizeof(*p));

	if (!p) {
		ps_err("out of memory");
		return NULL;
	}
	p->path = path;
	p->pc = pcap_open_dead(DLT_EN10MB, 65535);
	p->dump = p->pc ? pcap_dump_open(p->pc, path) : NULL;
	if (!p->dump) {
		ps_err("pcap: cannot write %s: %s", path, p->pc ? pcap_geterr(p->pc) : "no memory");
		pio_close(p);
		return NULL;
	}
	return p;
}

void pio_write(struct pio *p, const unsigned char *data, unsigned int len,
	       long sec, long usec)
{
	struct pcap_pkthdr h = { .caplen = len, .len = len };

	h.ts.tv_sec = sec;
	h.ts.tv_usec = usec;
	pcap_dump((u_char *)p->dump, &h, data);
}

void pio_close(struct pio *p)
{
	if (!p)
		return;
	if (p->dump)
		pcap_dump_close(p->dump);
	if (p->pc)
		pcap_close(p->pc);
	free(p);
}
