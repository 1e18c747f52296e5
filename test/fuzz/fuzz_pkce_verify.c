/*
 * fuzz_pkce_verify.c — libFuzzer harness for bf_pkce_verify and
 * bf_ct_equal. Input: method, verifier and challenge separated by '\n'.
 * Oracles: an unknown method is always BAD_METHOD; a match requires a valid
 * verifier and agrees with OpenSSL's SHA-256 (S256) or plain equality; a
 * valid verifier always matches its own S256 challenge; bf_ct_equal agrees
 * with memcmp.
 */
#include <openssl/evp.h>

#include "fuzz_common.h"

static void
sha256(const void *data, size_t len, unsigned char out[BF_SHA256_LEN])
{
	unsigned int n = 0;

	CHECK(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1);
	CHECK(n == BF_SHA256_LEN);
}

/* Splits off the next '\n'-terminated field (the last runs to the end). */
static const char *
field(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	const char *nl = memchr(s, '\n', (size_t) (end - s));

	*len = (size_t) ((nl ? nl : end) - s);
	*p = nl ? nl + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = exact_copy(data, size);
	const char *p = in,
			   *end = in + size;
	size_t		mlen,
				vlen,
				clen;
	const char *m = field(&p, end, &mlen);
	const char *v = field(&p, end, &vlen);
	const char *c = field(&p, end, &clen);
	bool		s256 = mlen == 4 && memcmp(m, "S256", 4) == 0;
	bool		plain = mlen == 5 && memcmp(m, "plain", 5) == 0;
	bool		valid = bf_pkce_verifier_valid(v, vlen);
	bf_pkce_result r = bf_pkce_verify(v, vlen, c, clen, m, mlen, sha256);

	CHECK(bf_ct_equal(v, vlen, c, clen) ==
		  (vlen == clen && (vlen == 0 || memcmp(v, c, vlen) == 0)));
	if (!s256 && !plain)
		CHECK(r == BF_PKCE_BAD_METHOD);
	else if (!valid)
		CHECK(r == BF_PKCE_MISMATCH);
	else if (plain)
		CHECK(r == (vlen == clen && memcmp(v, c, vlen) == 0 ?
					BF_PKCE_MATCH : BF_PKCE_MISMATCH));
	else
	{
		unsigned char d[BF_SHA256_LEN];
		char		expect[BF_S256_CHALLENGE_LEN];

		sha256(v, vlen, d);
		CHECK(bf_b64url_encode(d, sizeof(d), expect) == sizeof(expect));
		CHECK(r == (clen == sizeof(expect) && memcmp(expect, c, clen) == 0 ?
					BF_PKCE_MATCH : BF_PKCE_MISMATCH));
		CHECK(bf_pkce_verify(v, vlen, expect, sizeof(expect), "S256", 4,
							 sha256) == BF_PKCE_MATCH);
	}
	if (valid)
		CHECK(bf_pkce_verify(v, vlen, v, vlen, "plain", 5, sha256) == BF_PKCE_MATCH);
	free(in);
	return 0;
}
