/* SPDX-License-Identifier: GPL-2.0 */
/* tap.h - minimal TAP output. */
#ifndef PS_TEST_TAP_H
#define PS_TEST_TAP_H

#include <stdio.h>

extern int tap_n, tap_fail, tap_case_fail;

/* one assertion inside a test case; a case is ok if all of them held */
#define CHECK(cond, ...) do { if (!(cond)) { tap_case_fail++; \
	printf("#   %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
	printf("\n"); } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long _a = (a), _b = (b); \
	CHECK(_a == _b, "%s == %llu (0x%llx), expected %s == %llu (0x%llx)", \
	      #a, _a, _a, #b, _b, _b); } while (0)

void hexdiff(const unsigned char *got, const unsigned char *want, size_t len);

#endif
