// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "pkt.h"

uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v & 0xff;
}

/* plain RFC 1071 sum over big-endian words: independent of the BPF code */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t l4_sum(const uint8_t *ip, const uint8_t *l4, size_t l4len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = ip[9];
	wr16(ph + 10, (uint16_t)l4len);
	return fold(sum16(l4, l4len, sum16(ph, 12, 0)));
}

size_t pkt_build(uint8_t *buf, size_t cap, const struct pkt_spec *s)
{
	static const uint8_t m1[6] = { 2, 0, 0, 0, 0, 2 }, m2[6] = { 2, 0, 0, 0, 0, 1 };
	size_t ihl = IP_LEN + s->ipopt_len, thl = 20 + s->tcpopt_len;
	uint8_t proto = s->proto ? s->proto : 6;
	size_t l4len = (proto == 6 ? thl : 8) + s->payload_len;
	size_t len = ETH_LEN + ihl + l4len;
	uint8_t *ip = buf + ETH_LEN, *l4 = ip + ihl;

	if (len > cap)
		return 0;
	memset(buf, 0, cap < 1600 ? cap : 1600);
	memcpy(buf, s->dmac ? s->dmac : m2, 6);
	memcpy(buf + 6, s->smac ? s->smac : m1, 6);
	wr16(buf + 12, 0x0800);
	ip[0] = 0x40 | (uint8_t)(ihl / 4);
	wr16(ip + 2, (uint16_t)(ihl + l4len));
	wr16(ip + 4, s->ip_id_zero ? 0 : 0x1234);
	wr16(ip + 6, s->frag_off ? s->frag_off : 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	wr32(ip + 12, s->saddr);
	wr32(ip + 16, s->daddr);
	if (s->ipopt_len)
		memcpy(ip + 20, s->ipopt, s->ipopt_len);
	wr16(ip + 10, (uint16_t)~fold(sum16(ip, ihl, 0)));
	wr16(l4, s->sport);
	wr16(l4 + 2, s->dport);
	if (proto == 6) {
		wr32(l4 + 4, s->seq);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)((thl / 4) << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, s->window);
		if (s->tcpopt_len)
			memcpy(l4 + 20, s->tcpopt, s->tcpopt_len);
		memcpy(l4 + thl, s->payload, s->payload_len);
		wr16(l4 + 16, (uint16_t)~l4_sum(ip, l4, l4len));
	} else {
		wr16(l4 + 4, (uint16_t)l4len);
		memcpy(l4 + 8, s->payload, s->payload_len);
		wr16(l4 + 6, (uint16_t)~l4_sum(ip, l4, l4len));
	}
	if (s->pad_to > len && s->pad_to <= cap)
		len = s->pad_to;
	return len;
}

int pkt_csum_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t ihl, tot;

	if (len < ETH_LEN + IP_LEN)
		return 0;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if (ETH_LEN + tot > len || fold(sum16(ip, ihl, 0)) != 0xffff)
		return 0;
	return l4_sum(ip, ip + ihl, tot - ihl) == 0xffff;
}
