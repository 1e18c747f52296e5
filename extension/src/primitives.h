/*
 * primitives.h — backend-free cores of the oauth.* security primitives.
 *
 * Everything declared here is implemented in form.c in plain C (no
 * PostgreSQL headers, no allocation, no ereport) so that the libFuzzer
 * harnesses in test/fuzz/ can compile form.c alone. The cores report
 * failures as a bf_err code plus a byte offset; crypto.c turns them into
 * ereport(ERROR) with the right SQLSTATE and a message from bf_err_message().
 * Output buffers are provided by the caller; each function says how large.
 */
#ifndef BF_PRIMITIVES_H
#define BF_PRIMITIVES_H

#include <stdbool.h>
#include <stddef.h>

/* Most pairs oauth.form_decode accepts in one body (more: ERROR 54000). */
#define BF_FORM_MAX_PAIRS 1000

/* SHA-256 output size, and the length of its unpadded base64url form. */
#define BF_SHA256_LEN 32
#define BF_S256_CHALLENGE_LEN 43

typedef enum bf_err
{
	BF_OK = 0,
	BF_ERR_PERCENT,				/* '%' not followed by two hex digits */
	BF_ERR_UTF8,				/* bytes are not valid UTF-8 */
	BF_ERR_NUL,					/* a NUL byte, raw or decoded from %00 */
	BF_ERR_EMPTY_KEY,			/* "=x" or "&=" in a form body */
	BF_ERR_DUP_KEY,				/* a form parameter given more than once */
	BF_ERR_TOO_MANY,			/* more than BF_FORM_MAX_PAIRS pairs */
	BF_ERR_B64_CHAR,			/* a byte outside the base64(url) alphabet */
	BF_ERR_B64_LENGTH,			/* a length no encoding can have */
	BF_ERR_B64_PADDING,			/* padding missing, misplaced or not allowed */
	BF_ERR_B64_BITS,			/* non-zero unused bits: not canonical */
	BF_ERR_BASIC_EMPTY,			/* "Basic" without credentials */
	BF_ERR_BASIC_SEPARATOR,		/* scheme and credentials not separated by spaces */
	BF_ERR_BASIC_NO_COLON,		/* decoded credentials lack ':' */
	BF_ERR_BASIC_CTL,			/* control character in decoded credentials */
	BF_ERR_BASIC_EMPTY_ID		/* empty client_id */
} bf_err;

/* A fixed English message for an error code, fit for error_description. */
extern const char *bf_err_message(bf_err e);

/* Constant-time equality: time depends only on the two lengths. */
extern bool bf_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
extern bool bf_utf8_valid(const unsigned char *s, size_t len);

/*
 * application/x-www-form-urlencoded unescaping of one name or value:
 * '+' is a space, %XX a byte. out needs len bytes and may equal in. The
 * result must be UTF-8 without NUL. On error *err_pos is the offset in `in`.
 */
extern bf_err bf_form_unescape(const char *in, size_t len, char *out,
							   size_t *outlen, size_t *err_pos);

typedef struct bf_form_pair
{
	const char *key;
	size_t		key_len;
	const char *val;
	size_t		val_len;
	size_t		pos;			/* offset of the pair in the input */
} bf_form_pair;

typedef struct bf_form
{
	bf_form_pair pairs[BF_FORM_MAX_PAIRS];	/* in input order */
	const bf_form_pair *sorted[BF_FORM_MAX_PAIRS];	/* scratch */
	int			npairs;
	size_t		err_pos;		/* on error: offset in the input */
	const bf_form_pair *dup;	/* on BF_ERR_DUP_KEY: the second occurrence */
} bf_form;

/*
 * Strict form body parser. buf needs len bytes (keys and values point into
 * it). Empty segments are skipped, a segment without '=' has value "".
 */
extern bf_err bf_form_decode(const char *in, size_t len, char *buf, bf_form *out);

/* Percent-encoding: all but [A-Za-z0-9-._~] as %XX upper-case. */
extern size_t bf_url_encoded_len(const char *in, size_t len);
extern size_t bf_url_encode(const char *in, size_t len, char *out);

/* HTML escaping of & < > " ' as entities. */
extern size_t bf_html_escaped_len(const char *in, size_t len);
extern size_t bf_html_escape(const char *in, size_t len, char *out);

/* base64url without padding (RFC 4648 §5); out needs bf_b64url_encoded_len. */
extern size_t bf_b64url_encoded_len(size_t n);
extern size_t bf_b64url_encode(const unsigned char *in, size_t n, char *out);

/*
 * Strict decoders; out needs len bytes (at least 1). base64url: no padding,
 * no whitespace, length % 4 != 1. base64 (RFC 4648 §4): padding required,
 * length % 4 == 0. Both reject non-zero unused bits (non-canonical input).
 */
extern bf_err bf_b64url_decode(const char *in, size_t len, unsigned char *out,
							   size_t *outlen, size_t *err_pos);
extern bf_err bf_b64_decode(const char *in, size_t len, unsigned char *out,
							size_t *outlen, size_t *err_pos);

/*
 * HTTP Authorization value with the Basic scheme (RFC 7617, RFC 6749
 * §2.3.1). *is_basic is false (and BF_OK returned) for any other scheme.
 * buf needs len bytes; id and secret point into it, form-unescaped.
 */
typedef struct bf_basic
{
	bool		is_basic;
	const char *id;
	size_t		id_len;
	const char *secret;
	size_t		secret_len;
	size_t		err_pos;
} bf_basic;

extern bf_err bf_basic_parse(const char *in, size_t len, char *buf, bf_basic *out);

/* RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~]. */
extern bool bf_pkce_verifier_valid(const char *v, size_t len);

typedef void (*bf_sha256_fn) (const void *data, size_t len,
							  unsigned char out[BF_SHA256_LEN]);

typedef enum bf_pkce_result
{
	BF_PKCE_MISMATCH = 0,
	BF_PKCE_MATCH = 1,
	BF_PKCE_BAD_METHOD = 2
} bf_pkce_result;

/*
 * RFC 7636 §4.6: method "S256" compares base64url(SHA-256(verifier)) with
 * the challenge, "plain" the verifier itself, both in constant time. A
 * verifier of invalid syntax never matches; any other method is BAD_METHOD.
 */
extern bf_pkce_result bf_pkce_verify(const char *verifier, size_t vlen,
									 const char *challenge, size_t clen,
									 const char *method, size_t mlen,
									 bf_sha256_fn sha256);

#endif							/* BF_PRIMITIVES_H */
