/* SPDX-License-Identifier: GPL-2.0 */
/*
 * consts.h - the BPF program's named numbers, each with where it comes
 * from. Limits shared with user space (cache sizes, map sizes) live in
 * prestack.h; these are the wire-format and verifier numbers only the
 * BPF side uses. Every one can be overridden with -D at build time.
 */
#ifndef PS_CONSTS_H
#define PS_CONSTS_H

/* ---- wire formats ---- */
#ifndef ETH_HDR_LEN
#define ETH_HDR_LEN       14    /* dst MAC + src MAC + EtherType */
#endif
#ifndef ETH_ALEN
#define ETH_ALEN          6     /* one MAC address */
#endif
#define ETH_P_IP_BE       bpf_htons(0x0800)
#define IP_HDR_MAX        60    /* ihl is 4 bits of 32-bit words: 15 * 4 */
#define TCP_HDR_MIN       20
#define TCP_HDR_MAX       60    /* doff is 4 bits of 32-bit words: 15 * 4 */
#define TCP_MAX_OPTLEN    (TCP_HDR_MAX - TCP_HDR_MIN) /* 40 */
/* the TCP header of a frame starts at most here: Ethernet + IPv4 with options */
#define L4_OFF_MAX        (ETH_HDR_LEN + IP_HDR_MAX)  /* 74 */
/* every header byte of a frame lies below this: Ethernet + IPv4 + TCP, maxima */
#define HDRS_MAX          (L4_OFF_MAX + TCP_HDR_MAX)  /* 134 */

#define IP_VER4_IHL5      0x45   /* first IPv4 header byte: version 4, 5 words */
#define IP_DF             0x4000 /* frag_off, host order: Don't Fragment */
#define IP_MF             0x2000 /* frag_off: More Fragments */
#define IP_OFFSET         0x1fff /* frag_off: fragment offset */
#define IP_TTL_DEFAULT    64     /* net.ipv4.ip_default_ttl */

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
/* byte 13 of the TCP header holds the flags above (CWR ECE URG ACK PSH RST SYN FIN) */
#define TCP_FLAGS_BYTE    13

#define TCPOPT_EOL        0
#define TCPOPT_NOP        1
#define TCPOPT_MSS        2
#define TCPOPT_WINDOW     3
#define TCPOPT_SACK_PERM  4
#define TCPOPT_SACK       5
#define TCPOPT_TS         8
#define TCPOLEN_MSS       4
#define TCPOLEN_WINDOW    3
#define TCPOLEN_SACK_PERM 2
#define TCPOLEN_SACK_BASE 2     /* kind + length, then 8 bytes a block */
#define TCPOLEN_SACK_BLOCK 8    /* left edge + right edge */
#define TCP_SACK_BLOCKS_MAX 4   /* (40 - 2) / 8 */
#define TCPOLEN_TS        10    /* kind, length, TSval, TSecr */
#define TCPOLEN_TS_ALIGNED 12   /* NOP NOP TS, the layout Linux sends */
#define TCP_WSCALE_MAX    14    /* RFC 7323: larger shifts are taken as 14 */

#define MSS_DEFAULT       536   /* RFC 9293: no MSS option means 536 */
#define MTU_PAYLOAD_MAX   1460  /* 1500 - IPv4 (20) - TCP without options (20) */

/* ---- the canonical GET: "*2\r\n$3\r\nGET\r\n$<n>\r\n<key>\r\n" ---- */
/* read as little-endian words: "*2\r\n$3\r\n" at 0, "GET\r" at 8, "\n$" at
 * 12 (PS_GET_HDR8/4/2, resp.h); the key length's digits start at 14 */
#define PS_GET_HDR4_OFF   8
#define PS_GET_HDR2_OFF   12
#define PS_GET_HDR_LEN    14
/* a key length of one digit: CRLF at 15, the key at 17; of two: at 18 */
#define PS_GET_KEY_OFF1   (PS_GET_HDR_LEN + 1 + 2)
#define PS_GET_KEY_OFF2   (PS_GET_HDR_LEN + 2 + 2)
/* the shortest: one digit, a 1-byte key, its CRLF */
#define PS_GET_MIN_LEN    (PS_GET_KEY_OFF1 + 1 + 2)  /* 20 */

/* ---- segments of any size ---- */
/* The parsers read a segment one window of PS_PAYLOAD_MAX bytes at a time.
 * TC egress sees the kernel's GSO super-segments, up to 64 KB whatever
 * ethtool says (software GSO runs after the hook): an IPv4 segment holds
 * at most 65535 - 20 - 20 payload bytes, 32 windows of 2048. */
#define PS_SEG_MAX        65535
#define PS_WINDOWS_MAX    ((PS_SEG_MAX + PS_PAYLOAD_MAX - 1) / PS_PAYLOAD_MAX)

/* ---- TC ---- */
#define TC_ACT_OK         0
#define TC_ACT_SHOT       2
#define TC_ACT_REDIRECT   7
/* bpf_skc_lookup_tcp's netns argument: the packet's own namespace */
#define BPF_F_CURRENT_NETNS_ (-1)

/* ---- reply frames ---- */
/*
 * A veth frame built on a small client skb has little tailroom, and its
 * head keeps room for struct xdp_frame: grow_frame tries these shares of
 * the growth at the head, largest first (multiples of 64 down to 128).
 */
#define PS_HEAD_SHARES    { 480, 384, 320, 256, 192, 128 }
#define PS_HEAD_SHARES_N  6

/* Helper size arguments are bounded with BOUND_1_TO(x, pow2): the powers
 * of two above the largest value they take. */
#define PS_REPLY_BOUND    2048  /* >= PS_REPLY_MAX (1040) */
#define PS_CSUM_CHUNK     512   /* bpf_csum_diff takes at most 512 bytes a call */

#endif
