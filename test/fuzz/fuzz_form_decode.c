/*
 * fuzz_form_decode.c — libFuzzer harness for bf_form_decode (the core of
 * oauth.form_decode). Besides memory safety it checks what a success
 * promises (non-empty, NUL-free UTF-8 names and values, no repeated name,
 * at most BF_FORM_MAX_PAIRS pairs) and that percent-encoding the pairs back
 * and decoding again gives the same pairs.
 */
#include "fuzz_common.h"

static void
check_pairs(const bf_form *f)
{
	int			i,
				j;

	CHECK(f->npairs >= 0 && f->npairs <= BF_FORM_MAX_PAIRS);
	for (i = 0; i < f->npairs; i++)
	{
		const bf_form_pair *p = &f->pairs[i];

		CHECK(p->key_len > 0);
		CHECK(memchr(p->key, 0, p->key_len) == NULL);
		CHECK(p->val_len == 0 || memchr(p->val, 0, p->val_len) == NULL);
		CHECK(bf_utf8_valid((const unsigned char *) p->key, p->key_len));
		CHECK(bf_utf8_valid((const unsigned char *) p->val, p->val_len));
		for (j = 0; j < i; j++)
			CHECK(!(f->pairs[j].key_len == p->key_len &&
					memcmp(f->pairs[j].key, p->key, p->key_len) == 0));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = exact_copy(data, size);
	char	   *buf = malloc(size ? size : 1);
	bf_form    *f = malloc(sizeof(bf_form));
	bf_form    *g = malloc(sizeof(bf_form));
	bf_err		e;

	e = bf_form_decode(in, size, buf, f);
	CHECK(f->err_pos <= size);
	if (e == BF_OK)
	{
		size_t		cap = 1,
					o = 0;
		char	   *enc,
				   *buf2;
		int			i;

		check_pairs(f);
		for (i = 0; i < f->npairs; i++)
			cap += bf_url_encoded_len(f->pairs[i].key, f->pairs[i].key_len) +
				bf_url_encoded_len(f->pairs[i].val, f->pairs[i].val_len) + 2;
		enc = malloc(cap);
		for (i = 0; i < f->npairs; i++)
		{
			if (i)
				enc[o++] = '&';
			o += bf_url_encode(f->pairs[i].key, f->pairs[i].key_len, enc + o);
			enc[o++] = '=';
			o += bf_url_encode(f->pairs[i].val, f->pairs[i].val_len, enc + o);
		}
		CHECK(o < cap);
		buf2 = malloc(o ? o : 1);
		CHECK(bf_form_decode(enc, o, buf2, g) == BF_OK);
		CHECK(g->npairs == f->npairs);
		for (i = 0; i < f->npairs; i++)
		{
			CHECK(g->pairs[i].key_len == f->pairs[i].key_len);
			CHECK(memcmp(g->pairs[i].key, f->pairs[i].key, f->pairs[i].key_len) == 0);
			CHECK(g->pairs[i].val_len == f->pairs[i].val_len);
			CHECK(f->pairs[i].val_len == 0 ||
				  memcmp(g->pairs[i].val, f->pairs[i].val, f->pairs[i].val_len) == 0);
		}
		free(buf2);
		free(enc);
	}
	else if (e == BF_ERR_DUP_KEY)
		CHECK(f->dup != NULL);
	else
		CHECK(e == BF_ERR_PERCENT || e == BF_ERR_UTF8 || e == BF_ERR_NUL ||
			  e == BF_ERR_EMPTY_KEY || e == BF_ERR_TOO_MANY);
	free(g);
	free(f);
	free(buf);
	free(in);
	return 0;
}
