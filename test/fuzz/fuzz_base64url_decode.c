/*
 * fuzz_base64url_decode.c — libFuzzer harness for the strict base64url and
 * base64 decoders. Strictness makes decoding injective, so a successful
 * decode must re-encode to exactly the input; and encoding the raw input
 * must always decode back to it.
 */
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = exact_copy(data, size);
	unsigned char *out = malloc(size ? size : 1);
	char	   *enc = malloc(4 * ((size + 2) / 3) + 1);
	size_t		n,
				pos,
				o;
	bf_err		e;

	/* base64url: decode, then re-encode */
	e = bf_b64url_decode(in, size, out, &n, &pos);
	if (e == BF_OK)
	{
		CHECK(n == size * 3 / 4);
		o = bf_b64url_encode(out, n, enc);
		CHECK(o == size && memcmp(enc, in, size) == 0);
	}
	else
		CHECK(pos <= size && n == 0);

	/* base64url: encode the raw bytes, then decode */
	o = bf_b64url_encode((const unsigned char *) in, size, enc);
	CHECK(o == bf_b64url_encoded_len(size));
	CHECK(bf_b64url_decode(enc, o, out, &n, &pos) == BF_OK);
	CHECK(n == size && memcmp(out, in, size) == 0);

	/* standard base64 with padding: the same two properties */
	e = bf_b64_decode(in, size, out, &n, &pos);
	if (e == BF_OK)
	{
		CHECK(size % 4 == 0);
		o = std_b64_encode(out, n, enc);
		CHECK(o == size && memcmp(enc, in, size) == 0);
	}
	else
		CHECK(pos <= size && n == 0);
	o = std_b64_encode((const unsigned char *) in, size, enc);
	CHECK(bf_b64_decode(enc, o, out, &n, &pos) == BF_OK);
	CHECK(n == size && memcmp(out, in, size) == 0);

	free(enc);
	free(out);
	free(in);
	return 0;
}
