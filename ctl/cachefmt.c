// SPDX-License-Identifier: GPL-2.0
/* cachefmt.c - cache keys and values in the layout of xdp/prestack.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cachefmt.h"

__u32 ps_csum_partial(const void *buf, size_t len, __u32 seed)
{
	const unsigned char *p = buf;
	__u64 sum = seed;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		__u16 w;

		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (len & 1) {
		unsigned char last[2] = { p[len - 1], 0 };
		__u16 w;

		memcpy(&w, last, 2);
		sum += w;
	}
	while (sum >> 32)
		sum = (sum & 0xffffffff) + (sum >> 32);
	return (__u32)sum;
}

__u16 ps_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

int ps_cache_key_build(struct ps_cache_key *k, const void *key, size_t len)
{
	memset(k, 0, sizeof(*k));
	if (len == 0 || len > PS_KEY_MAX)
		return -1;
	k->len = (__u32)len;
	memcpy(k->data, key, len);
	ps_key_seal(k);
	return 0;
}

__u32 ps_key_slot_of(const void *key, size_t len)
{
	struct ps_cache_key k;

	return ps_cache_key_build(&k, key, len) ? PS_EPOCH_SLOTS : ps_key_slot(&k);
}

/* the RESP reply "$<n>\r\n<val>\r\n" into reply[size]; its length */
static __u32 reply_build(__u8 *reply, size_t size, const void *val, size_t len)
{
	int n = snprintf((char *)reply, size, "$%zu\r\n", len);

	memcpy(reply + n, val, len);
	memcpy(reply + n + len, "\r\n", 2);
	return (__u32)(n + len + 2);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int ps_cache_val_build(struct ps_cache_val *v, const void *val, size_t len,
		       __u32 gen, __u32 source)
{
	memset(v, 0, sizeof(*v));
	if (len > PS_SMALL_VAL_MAX)
		return -1;
	v->reply_len = reply_build(v->reply, sizeof(v->reply), val, len);
	v->val_len = (__u32)len;
	v->csum = ps_csum_fold(ps_csum_partial(v->reply, v->reply_len, 0));
	v->gen = gen;
	v->source = source;
	v->filled_ns = mono_ns();
	return 0;
}

int ps_cache_big_val_build(struct ps_cache_big_val *v, const void *val, size_t len,
			   __u32 gen, __u32 source)
{
	memset(v, 0, sizeof(*v));
	if (len <= PS_SMALL_VAL_MAX || len > PS_VAL_MAX)
		return -1;
	v->reply_len = reply_build(v->reply, sizeof(v->reply), val, len);
	v->val_len = (__u32)len;
	v->csum = ps_csum_fold(ps_csum_partial(v->reply, v->reply_len, 0));
	v->gen = gen;
	v->source = source;
	v->filled_ns = mono_ns();
	return 0;
}

int ps_cmd_key_build(struct ps_cmd_key *k, const void *name, size_t n)
{
	const unsigned char *p = name;
	size_t i;

	memset(k, 0, sizeof(*k));
	if (n == 0 || n > 16)
		return -1;
	for (i = 0; i < n; i++) {
		__u64 c = p[i] >= 'a' && p[i] <= 'z' ? p[i] - ('a' - 'A') : p[i];

		if (i < 8)
			k->w0 |= c << (8 * i);
		else
			k->w1 |= c << (8 * (i - 8));
	}
	k->n = (__u32)n;
	return 0;
}

int ps_cache_get(int fd, const struct ps_cache_key *k, struct ps_cache_val *v)
{
	if (bpf_map_lookup_elem(fd, &k->hash, v))
		return -1;
	if (!ps_key_eq(&v->key, k)) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int ps_cache_put(int fd, int present_fd, const struct ps_cache_key *k, struct ps_cache_val *v)
{
	__u64 bit, w;
	__u32 i = ps_present_pos(k->hash, &bit);

	/* read, OR, write back: a bit the BPF side sets between the two is
	 * lost, which costs that key misses until it is filled again (a
	 * clear bit is always safe, a miss) */
	if (bpf_map_lookup_elem(present_fd, &i, &w))
		return -1;
	if (!(w & bit)) {
		w |= bit;
		if (bpf_map_update_elem(present_fd, &i, &w, BPF_ANY))
			return -1;
	}
	v->key = *k;
	return bpf_map_update_elem(fd, &k->hash, v, BPF_ANY);
}

int ps_present_clear(int present_fd)
{
	__u64 zero = 0;
	__u32 i;

	for (i = 0; i < PS_PRESENT_WORDS; i++)
		if (bpf_map_update_elem(present_fd, &i, &zero, BPF_ANY))
			return -1;
	return 0;
}

int ps_cache_del(int fd, const struct ps_cache_key *k)
{
	return bpf_map_delete_elem(fd, &k->hash);
}

int ps_big_get(int fd, const struct ps_cache_key *k, struct ps_cache_big_val *v)
{
	return bpf_map_lookup_elem(fd, k, v);
}

int ps_big_put(int fd, const struct ps_cache_key *k, struct ps_cache_big_val *v)
{
	return bpf_map_update_elem(fd, k, v, BPF_ANY);
}

int ps_big_del(int fd, const struct ps_cache_key *k)
{
	return bpf_map_delete_elem(fd, k);
}
