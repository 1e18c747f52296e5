/*
 * fuzz_common.h — helpers shared by the libFuzzer harnesses of test/fuzz/:
 * an exact-size copy of the input (so ASan sees any over-read), an oracle
 * check that aborts with a message, and standard padded base64 built on
 * the core's base64url encoder.
 */
#ifndef BF_FUZZ_COMMON_H
#define BF_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "primitives.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "oracle failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

/* malloc(0) may be NULL: always allocate at least one byte. */
static inline char *
exact_copy(const uint8_t *data, size_t size)
{
	char	   *p = malloc(size ? size : 1);

	CHECK(p != NULL);
	if (size)
		memcpy(p, data, size);
	return p;
}

/* RFC 4648 §4 base64 with padding; out needs 4 * ((n + 2) / 3) bytes. */
static inline size_t
std_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t		o = bf_b64url_encode(in, n, out),
				i;

	for (i = 0; i < o; i++)
		out[i] = out[i] == '-' ? '+' : (out[i] == '_' ? '/' : out[i]);
	while (o % 4)
		out[o++] = '=';
	return o;
}

#endif
