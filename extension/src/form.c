/*
 * form.c — backend-free parsing and encoding cores of the oauth.* security
 * primitives: application/x-www-form-urlencoded bodies, percent-encoding,
 * HTML escaping, base64 / base64url, HTTP Basic credentials, UTF-8
 * validation, constant-time comparison and the RFC 7636 PKCE check.
 *
 * Plain C on purpose: no PostgreSQL header, no allocation, no ereport, so
 * test/fuzz/ compiles this file alone under libFuzzer and the sanitizers.
 * Errors are returned as bf_err codes; crypto.c holds the SQL-callable
 * wrappers that turn them into ereport(ERROR) with proper SQLSTATEs.
 */
#include <stdlib.h>
#include <string.h>

#include "primitives.h"

const char *
bf_err_message(bf_err e)
{
	switch (e)
	{
		case BF_OK:
			return "no error";
		case BF_ERR_PERCENT:
			return "invalid percent-encoding (% must be followed by two hex digits)";
		case BF_ERR_UTF8:
			return "not valid UTF-8";
		case BF_ERR_NUL:
			return "NUL byte not allowed";
		case BF_ERR_EMPTY_KEY:
			return "parameter with an empty name";
		case BF_ERR_DUP_KEY:
			return "parameter included more than once";
		case BF_ERR_TOO_MANY:
			return "more than 1000 parameters";
		case BF_ERR_B64_CHAR:
			return "invalid base64 character";
		case BF_ERR_B64_LENGTH:
			return "impossible base64 length";
		case BF_ERR_B64_PADDING:
			return "missing or misplaced base64 padding";
		case BF_ERR_B64_BITS:
			return "non-canonical base64 (non-zero unused bits)";
		case BF_ERR_BASIC_EMPTY:
			return "no credentials after the Basic scheme";
		case BF_ERR_BASIC_SEPARATOR:
			return "scheme and credentials must be separated by spaces";
		case BF_ERR_BASIC_NO_COLON:
			return "decoded credentials contain no colon";
		case BF_ERR_BASIC_CTL:
			return "control character in decoded credentials";
		case BF_ERR_BASIC_EMPTY_ID:
			return "empty client_id";
	}
	return "unknown error";
}

/* ---------- constant-time comparison ---------- */

bool
bf_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *pa = a;
	const volatile unsigned char *pb = b;
	size_t		n = alen > blen ? alen : blen;
	volatile unsigned char diff = (alen != blen);
	size_t		i;

	/* Every byte of the longer input is visited, whatever the content. */
	for (i = 0; i < n; i++)
	{
		unsigned char x = i < alen ? pa[i] : 0;
		unsigned char y = i < blen ? pb[i] : 0;

		diff |= x ^ y;
	}
	return diff == 0;
}

/* ---------- UTF-8 ---------- */

/* Offset of the first ill-formed sequence, or len when all is well-formed. */
static size_t
utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		unsigned char lo = 0x80,
					hi = 0xBF;
		size_t		n,
					k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;		/* overlong */
			else if (c == 0xED)
				hi = 0x9F;		/* surrogates */
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			if (c == 0xF0)
				lo = 0x90;		/* overlong */
			else if (c == 0xF4)
				hi = 0x8F;		/* above U+10FFFF */
		}
		else
			return i;
		if (len - i - 1 < n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += n + 1;
	}
	return len;
}

bool
bf_utf8_valid(const unsigned char *s, size_t len)
{
	return utf8_invalid_at(s, len) == len;
}

/* ---------- application/x-www-form-urlencoded ---------- */

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bf_err
bf_form_unescape(const char *in, size_t len, char *out, size_t *outlen,
				 size_t *err_pos)
{
	size_t		i = 0,
				o = 0;

	*outlen = 0;
	*err_pos = 0;
	while (i < len)
	{
		unsigned char c = (unsigned char) in[i];

		if (c == '%')
		{
			int			h,
						l;

			if (len - i < 3 ||
				(h = hex_value((unsigned char) in[i + 1])) < 0 ||
				(l = hex_value((unsigned char) in[i + 2])) < 0)
			{
				*err_pos = i;
				return BF_ERR_PERCENT;
			}
			c = (unsigned char) (h * 16 + l);
			if (c == 0)
			{
				*err_pos = i;
				return BF_ERR_NUL;
			}
			i += 3;
		}
		else
		{
			if (c == 0)
			{
				*err_pos = i;
				return BF_ERR_NUL;
			}
			if (c == '+')
				c = ' ';
			i++;
		}
		/* o < i here, so decoding in place never overtakes the reader */
		out[o++] = (char) c;
	}
	if (utf8_invalid_at((const unsigned char *) out, o) != o)
		return BF_ERR_UTF8;
	*outlen = o;
	return BF_OK;
}

static int
pair_cmp(const void *a, const void *b)
{
	const bf_form_pair *x = *(const bf_form_pair *const *) a;
	const bf_form_pair *y = *(const bf_form_pair *const *) b;
	int			c;

	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	c = memcmp(x->key, y->key, x->key_len);
	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

bf_err
bf_form_decode(const char *in, size_t len, char *buf, bf_form *out)
{
	size_t		start = 0;
	const char *nul;
	size_t		bad;
	int			i;

	out->npairs = 0;
	out->err_pos = 0;
	out->dup = NULL;

	if (len == 0)
		return BF_OK;
	/* The raw body itself must be NUL-free UTF-8, escapes aside. */
	nul = memchr(in, 0, len);
	if (nul != NULL)
	{
		out->err_pos = (size_t) (nul - in);
		return BF_ERR_NUL;
	}
	bad = utf8_invalid_at((const unsigned char *) in, len);
	if (bad != len)
	{
		out->err_pos = bad;
		return BF_ERR_UTF8;
	}

	while (start <= len)
	{
		const char *amp = memchr(in + start, '&', len - start);
		size_t		end = amp ? (size_t) (amp - in) : len;
		const char *eq;
		size_t		klen,
					vstart,
					pos;
		bf_form_pair *p;
		bf_err		e;

		if (end == start)		/* empty segment: skipped */
			goto next;
		if (out->npairs == BF_FORM_MAX_PAIRS)
		{
			out->err_pos = start;
			return BF_ERR_TOO_MANY;
		}
		eq = memchr(in + start, '=', end - start);
		klen = eq ? (size_t) (eq - (in + start)) : end - start;
		if (klen == 0)
		{
			out->err_pos = start;
			return BF_ERR_EMPTY_KEY;
		}
		p = &out->pairs[out->npairs];
		p->pos = start;
		/* each piece decodes into its own slot of buf: never longer */
		e = bf_form_unescape(in + start, klen, buf + start, &p->key_len, &pos);
		if (e != BF_OK)
		{
			out->err_pos = start + pos;
			return e;
		}
		p->key = buf + start;
		vstart = eq ? start + klen + 1 : end;
		e = bf_form_unescape(in + vstart, end - vstart, buf + vstart,
							 &p->val_len, &pos);
		if (e != BF_OK)
		{
			out->err_pos = vstart + pos;
			return e;
		}
		p->val = buf + vstart;
		out->npairs++;
next:
		if (!amp)
			break;
		start = end + 1;
	}

	/* RFC 6749 §3.1: no parameter may be included more than once. */
	for (i = 0; i < out->npairs; i++)
		out->sorted[i] = &out->pairs[i];
	if (out->npairs > 1)
		qsort(out->sorted, out->npairs, sizeof(out->sorted[0]), pair_cmp);
	for (i = 1; i < out->npairs; i++)
	{
		const bf_form_pair *a = out->sorted[i - 1];
		const bf_form_pair *b = out->sorted[i];

		if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0 &&
			(out->dup == NULL || b->pos < out->dup->pos))
			out->dup = b;
	}
	if (out->dup)
	{
		out->err_pos = out->dup->pos;
		return BF_ERR_DUP_KEY;
	}
	return BF_OK;
}

/* ---------- percent-encoding and HTML escaping ---------- */

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

size_t
bf_url_encoded_len(const char *in, size_t len)
{
	size_t		n = 0,
				i;

	for (i = 0; i < len; i++)
		n += is_unreserved((unsigned char) in[i]) ? 1 : 3;
	return n;
}

size_t
bf_url_encode(const char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		o = 0,
				i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) in[i];

		if (is_unreserved(c))
			out[o++] = (char) c;
		else
		{
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

static const char *
html_entity(unsigned char c)
{
	switch (c)
	{
		case '&':
			return "&amp;";
		case '<':
			return "&lt;";
		case '>':
			return "&gt;";
		case '"':
			return "&quot;";
		case '\'':
			return "&#39;";
	}
	return NULL;
}

size_t
bf_html_escaped_len(const char *in, size_t len)
{
	size_t		n = 0,
				i;

	for (i = 0; i < len; i++)
	{
		const char *ent = html_entity((unsigned char) in[i]);

		n += ent ? strlen(ent) : 1;
	}
	return n;
}

size_t
bf_html_escape(const char *in, size_t len, char *out)
{
	size_t		o = 0,
				i;

	for (i = 0; i < len; i++)
	{
		const char *ent = html_entity((unsigned char) in[i]);

		if (ent)
		{
			size_t		n = strlen(ent);

			memcpy(out + o, ent, n);
			o += n;
		}
		else
			out[o++] = in[i];
	}
	return o;
}

/* ---------- base64 and base64url (RFC 4648 §4 and §5) ---------- */

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
bf_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
bf_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t		i,
				o = 0;

	for (i = 0; i + 3 <= n; i += 3)
	{
		unsigned long v = (unsigned long) in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1)
	{
		out[o++] = b64url_alphabet[in[i] >> 2];
		out[o++] = b64url_alphabet[(in[i] & 3) << 4];
	}
	else if (n - i == 2)
	{
		out[o++] = b64url_alphabet[in[i] >> 2];
		out[o++] = b64url_alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = b64url_alphabet[(in[i + 1] & 15) << 2];
	}
	return o;
}

static int
b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decodes len alphabet characters without padding; len % 4 != 1. */
static bf_err
b64_decode_core(const char *in, size_t len, bool url, unsigned char *out,
				size_t *outlen, size_t *err_pos)
{
	unsigned long acc = 0;
	size_t		i,
				o = 0;
	int			bits = 0;

	for (i = 0; i < len; i++)
	{
		int			v = b64_value((unsigned char) in[i], url);

		if (v < 0)
		{
			*err_pos = i;
			return in[i] == '=' ? BF_ERR_B64_PADDING : BF_ERR_B64_CHAR;
		}
		acc = (acc << 6 | (unsigned long) v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (unsigned char) (acc >> bits);
		}
	}
	/*
	 * What is left over must be zero bits (canonical encoding, §3.5); six
	 * left-over bits (len % 4 == 1) are an impossible length, for the caller.
	 */
	if ((bits == 2 || bits == 4) && (acc & ((1UL << bits) - 1)) != 0)
	{
		*err_pos = len - 1;
		return BF_ERR_B64_BITS;
	}
	*outlen = o;
	return BF_OK;
}

bf_err
bf_b64url_decode(const char *in, size_t len, unsigned char *out,
				 size_t *outlen, size_t *err_pos)
{
	bf_err		e;

	*outlen = 0;
	*err_pos = 0;
	e = b64_decode_core(in, len, true, out, outlen, err_pos);
	/* '=' is reported by the core as BF_ERR_B64_PADDING: none is allowed */
	if (e == BF_OK && len % 4 == 1)
	{
		*outlen = 0;
		*err_pos = len - 1;
		return BF_ERR_B64_LENGTH;
	}
	return e;
}

bf_err
bf_b64_decode(const char *in, size_t len, unsigned char *out,
			  size_t *outlen, size_t *err_pos)
{
	size_t		pad = 0;
	size_t		dlen;
	bf_err		e;

	*outlen = 0;
	*err_pos = 0;
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	dlen = len - pad;
	/* '=' anywhere else is reported by the core as misplaced padding */
	e = b64_decode_core(in, dlen, false, out, outlen, err_pos);
	if (e != BF_OK)
		return e;
	if (dlen % 4 == 1)
	{
		*err_pos = dlen - 1;
		e = BF_ERR_B64_LENGTH;
	}
	else if (pad != (4 - dlen % 4) % 4)
	{
		*err_pos = dlen;
		e = BF_ERR_B64_PADDING;
	}
	if (e != BF_OK)
		*outlen = 0;
	return e;
}

/* ---------- HTTP Basic credentials (RFC 7617, RFC 6749 §2.3.1) ---------- */

/* ASCII-only case-insensitive match (strncasecmp follows the locale). */
static bool
ascii_caseeq(const char *s, const char *lower, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return true;
}

bf_err
bf_basic_parse(const char *in, size_t len, char *buf, bf_basic *out)
{
	size_t		start = 0,
				end = len,
				p,
				n,
				colon,
				pos;
	const char *c;
	bf_err		e;

	memset(out, 0, sizeof(*out));
	/* a field value carries no leading or trailing whitespace (OWS) */
	while (start < end && (in[start] == ' ' || in[start] == '\t'))
		start++;
	while (end > start && (in[end - 1] == ' ' || in[end - 1] == '\t'))
		end--;
	for (p = start; p < end && in[p] != ' ' && in[p] != '\t'; p++)
		;
	if (p - start != 5 || !ascii_caseeq(in + start, "basic", 5))
		return BF_OK;			/* another scheme: not ours */
	out->is_basic = true;
	if (p == end)
	{
		out->err_pos = p;
		return BF_ERR_BASIC_EMPTY;
	}
	/* auth-scheme 1*SP token68 */
	for (; p < end && (in[p] == ' ' || in[p] == '\t'); p++)
		if (in[p] == '\t')
		{
			out->err_pos = p;
			return BF_ERR_BASIC_SEPARATOR;
		}

	e = bf_b64_decode(in + p, end - p, (unsigned char *) buf, &n, &pos);
	if (e != BF_OK)
	{
		out->err_pos = p + pos;
		return e;
	}
	out->err_pos = p;
	/* RFC 7617 §2: user-id and password contain no control characters */
	for (pos = 0; pos < n; pos++)
		if ((unsigned char) buf[pos] < 0x20 || buf[pos] == 0x7F)
			return BF_ERR_BASIC_CTL;
	if (!bf_utf8_valid((const unsigned char *) buf, n))
		return BF_ERR_UTF8;
	c = memchr(buf, ':', n);
	if (c == NULL)
		return BF_ERR_BASIC_NO_COLON;
	colon = (size_t) (c - buf);

	/* client_id and secret were form-urlencoded before base64 (§2.3.1) */
	e = bf_form_unescape(buf, colon, buf, &out->id_len, &pos);
	if (e != BF_OK)
		return e;
	e = bf_form_unescape(buf + colon + 1, n - colon - 1, buf + colon + 1,
						 &out->secret_len, &pos);
	if (e != BF_OK)
		return e;
	if (out->id_len == 0)
		return BF_ERR_BASIC_EMPTY_ID;
	out->id = buf;
	out->secret = buf + colon + 1;
	out->err_pos = 0;
	return BF_OK;
}

/* ---------- PKCE (RFC 7636) ---------- */

bool
bf_pkce_verifier_valid(const char *v, size_t len)
{
	size_t		i;

	if (len < 43 || len > 128)
		return false;
	for (i = 0; i < len; i++)
		if (!is_unreserved((unsigned char) v[i]))
			return false;
	return true;
}

bf_pkce_result
bf_pkce_verify(const char *verifier, size_t vlen,
			   const char *challenge, size_t clen,
			   const char *method, size_t mlen,
			   bf_sha256_fn sha256)
{
	bool		s256 = (mlen == 4 && memcmp(method, "S256", 4) == 0);
	bool		plain = (mlen == 5 && memcmp(method, "plain", 5) == 0);
	unsigned char digest[BF_SHA256_LEN];
	char		expected[BF_S256_CHALLENGE_LEN];

	if (!s256 && !plain)
		return BF_PKCE_BAD_METHOD;
	if (!bf_pkce_verifier_valid(verifier, vlen))
		return BF_PKCE_MISMATCH;
	if (plain)
		return bf_ct_equal(verifier, vlen, challenge, clen) ?
			BF_PKCE_MATCH : BF_PKCE_MISMATCH;
	sha256(verifier, vlen, digest);
	bf_b64url_encode(digest, sizeof(digest), expected);
	return bf_ct_equal(expected, sizeof(expected), challenge, clen) ?
		BF_PKCE_MATCH : BF_PKCE_MISMATCH;
}
