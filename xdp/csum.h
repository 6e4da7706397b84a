/* SPDX-License-Identifier: GPL-2.0 */
/*
 * csum.h - ones' complement helpers. All sums are over raw memory (network
 * byte order data loaded as host words), like csum_partial: byte order
 * does not matter as long as every term is taken the same way.
 */
#ifndef PS_CSUM_H
#define PS_CSUM_H

static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __always_inline __u32 csum_add32(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* Sum of a 16-bit partial sum placed at an odd byte offset: bytes swap. */
static __always_inline __u32 csum_at_offset(__u16 sum, __u32 off)
{
	if (off & 1)
		return (__u16)((sum << 8) | (sum >> 8));
	return sum;
}

/* A 64-bit accumulator of 32-bit terms folded to 16 bits. */
static __always_inline __u16 csum_fold64(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold32((__u32)s);
}

/* One byte's share of a sum over raw memory, at payload offset off: the
 * low byte of a little-endian 16-bit load at an even offset (the sums
 * are taken on little-endian hosts, as csum_partial's are). */
static __always_inline __u32 csum_byte(__u8 b, __u32 off)
{
	return (off & 1) ? (__u32)b << 8 : b;
}

/* RFC 1624 incremental update of a header checksum for a 32-bit field. */
static __always_inline void csum_replace4(__u16 *check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~*check;

	s = csum_add32(s, ~from >> 16);
	s = csum_add32(s, ~from & 0xffff);
	s = csum_add32(s, to >> 16);
	s = csum_add32(s, to & 0xffff);
	*check = ~csum_fold32(s);
}

#endif
