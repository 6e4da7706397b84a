/* SPDX-License-Identifier: GPL-2.0 */
/* pkt.h - build Ethernet/IPv4/TCP test frames with our own checksums. */
#ifndef PS_TEST_PKT_H
#define PS_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

struct pkt_spec {
	const uint8_t *smac, *dmac;
	uint32_t saddr, daddr;       /* host order */
	uint16_t sport, dport;       /* host order */
	uint32_t seq, ack;
	uint8_t flags;               /* TCP flags byte */
	uint16_t window;
	const uint8_t *tcpopt;       /* raw options, len multiple of 4 */
	size_t tcpopt_len;
	const uint8_t *ipopt;        /* raw IP options, len multiple of 4 */
	size_t ipopt_len;
	const void *payload;
	size_t payload_len;
	uint16_t frag_off;           /* host order, flags + offset */
	uint8_t proto;               /* 0: TCP */
	size_t pad_to;               /* append zero bytes up to this frame size */
	int ip_id_zero;              /* IP id 0 (as prestack's replies) instead of 0x1234 */
};

/* returns the frame length */
size_t pkt_build(uint8_t *buf, size_t cap, const struct pkt_spec *s);
/* 1 if the IPv4 header and TCP checksums of a frame are right */
int pkt_csum_ok(const uint8_t *frame, size_t len);
/* offsets into a frame built without IP options */
#define ETH_LEN 14
#define IP_LEN 20
#define OFF_TCP (ETH_LEN + IP_LEN)

uint32_t rd32(const uint8_t *p);
uint16_t rd16(const uint8_t *p);

#define TF_FIN 0x01
#define TF_SYN 0x02
#define TF_RST 0x04
#define TF_PSH 0x08
#define TF_ACK 0x10

#endif
