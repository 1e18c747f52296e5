/*
 * fuzz_basic_credentials.c — libFuzzer harness for bf_basic_parse (the core
 * of oauth.basic_credentials). Checks that results point into the buffer,
 * that a client_id is never empty and both parts are NUL-free UTF-8, and
 * that re-encoding the credentials as a Basic header parses back to them.
 */
#include "fuzz_common.h"

static void
check_within(const char *buf, size_t cap, const char *p, size_t len)
{
	CHECK(p >= buf && p + len <= buf + cap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = exact_copy(data, size);
	char	   *buf = malloc(size ? size : 1);
	bf_basic	b;
	bf_err		e;

	e = bf_basic_parse(in, size, buf, &b);
	CHECK(e == BF_OK || b.is_basic);
	if (e == BF_OK && b.is_basic)
	{
		size_t		ilen = bf_url_encoded_len(b.id, b.id_len);
		size_t		slen = bf_url_encoded_len(b.secret, b.secret_len);
		size_t		plain = ilen + 1 + slen;
		char	   *cred = malloc(plain);
		char	   *hdr = malloc(6 + 4 * ((plain + 2) / 3));
		char	   *buf2;
		size_t		h;
		bf_basic	b2;

		check_within(buf, size, b.id, b.id_len);
		check_within(buf, size, b.secret, b.secret_len);
		CHECK(b.id_len > 0);
		CHECK(memchr(b.id, 0, b.id_len) == NULL);
		CHECK(b.secret_len == 0 || memchr(b.secret, 0, b.secret_len) == NULL);
		CHECK(bf_utf8_valid((const unsigned char *) b.id, b.id_len));
		CHECK(bf_utf8_valid((const unsigned char *) b.secret, b.secret_len));

		bf_url_encode(b.id, b.id_len, cred);
		cred[ilen] = ':';
		bf_url_encode(b.secret, b.secret_len, cred + ilen + 1);
		memcpy(hdr, "BASIC ", 6);
		h = 6 + std_b64_encode((unsigned char *) cred, plain, hdr + 6);
		buf2 = malloc(h);
		CHECK(bf_basic_parse(hdr, h, buf2, &b2) == BF_OK);
		CHECK(b2.is_basic);
		CHECK(b2.id_len == b.id_len && memcmp(b2.id, b.id, b.id_len) == 0);
		CHECK(b2.secret_len == b.secret_len &&
			  (b.secret_len == 0 || memcmp(b2.secret, b.secret, b.secret_len) == 0));
		free(buf2);
		free(hdr);
		free(cred);
	}
	free(buf);
	free(in);
	return 0;
}
