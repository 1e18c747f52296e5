/*
 * crypto.c — the SQL-callable security primitives of schema oauth:
 * random_token, token_digest, ct_equal, base64url_encode/decode, pkce_s256,
 * pkce_verify, form_decode, form_encode, url_encode, basic_credentials and
 * html_escape (declared in extension/schema/20_oauth_primitives.sql).
 *
 * Parsing and encoding happen in the backend-free cores of form.c (fuzzed
 * alone by test/fuzz/); this file is the thin PostgreSQL layer around them:
 * argument and encoding conversion, what needs the backend (pg_strong_random,
 * SHA-256 through pg_cryptohash, jsonb, set-returning functions) and the
 * mapping of core errors to ereport with SQLSTATEs:
 *   22023 invalid_parameter_value   malformed input (OAuth invalid_request)
 *   28000 invalid_authorization_specification  malformed Basic credentials
 *                                   (OAuth invalid_client, 401)
 *   54000 program_limit_exceeded    too many form parameters, too large result
 * Messages never quote the input (a secret may be in it) and keep to the
 * characters RFC 6749 allows in error_description (no '"' nor '\').
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "backend_framework.h"
#include "primitives.h"

StaticAssertDecl(BF_SHA256_LEN == PG_SHA256_DIGEST_LENGTH, "SHA-256 length");

/* ---------- helpers ---------- */

/* The bytes of a text value in UTF-8 (converted if the database is not). */
const char *
bf_text_utf8(text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	char	   *u;

	if (n == 0 || GetDatabaseEncoding() == PG_UTF8)
	{
		*len = n;
		return s;
	}
	u = pg_server_to_any(s, n, PG_UTF8);
	*len = (u == s) ? (size_t) n : strlen(u);
	return u;
}

/* UTF-8 bytes (already validated) to the server encoding. */
static const char *
utf8_server(const char *s, size_t len, size_t *outlen)
{
	char	   *c;

	if (len == 0 || GetDatabaseEncoding() == PG_UTF8)
	{
		*outlen = len;
		return s;
	}
	c = pg_any_to_server(s, len, PG_UTF8);
	*outlen = (c == s) ? len : strlen(c);
	return c;
}

text *
bf_utf8_text(const char *s, size_t len)
{
	size_t		n;
	const char *c = utf8_server(s, len, &n);

	return cstring_to_text_with_len(c, n);
}

static void
check_result_size(size_t n, const char *what)
{
	if (n > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("result of %s is too large", what)));
}

/* SHA-256 through PostgreSQL's cryptohash (OpenSSL when built with it). */
void
bf_sha256(const void *data, size_t len, unsigned char out[BF_SHA256_LEN])
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, BF_SHA256_LEN) < 0)
	{
		const char *reason = pstrdup(pg_cryptohash_error(ctx));

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256 digest: %s", reason)));
	}
	pg_cryptohash_free(ctx);
}

/* ---------- random_token ---------- */

typedef struct token_kind
{
	const char *kind;
	const char *prefix;
	int			bytes;
} token_kind;

/* Prefixes let secret scanners recognise a leaked credential. */
static const token_kind token_kinds[] = {
	{"access", "bfat_", 32},
	{"refresh", "bfrt_", 32},
	{"code", "bfac_", 32},
	{"client_secret", "bfcs_", 32},
	{"registration", "bfrg_", 32},
	{"session", "bfss_", 32},
	{"csrf", "bfcf_", 32},
	{"invitation", "bfiv_", 32},
	{"reset", "bfpr_", 32},		/* password reset secrets */
	{"client_id", "bfci_", 16},	/* public identifier: 128 bits */
};

PG_FUNCTION_INFO_V1(oauth_random_token);
Datum
oauth_random_token(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const token_kind *k = NULL;
	unsigned char rnd[32];
	size_t		plen,
				elen;
	text	   *result;
	size_t		i;

	for (i = 0; i < lengthof(token_kinds); i++)
		if (strcmp(kind, token_kinds[i].kind) == 0)
			k = &token_kinds[i];
	if (k == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown token kind"),
				 errhint("Use access, refresh, code, client_secret, registration, session, csrf, reset or client_id.")));

	if (!pg_strong_random(rnd, k->bytes))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	plen = strlen(k->prefix);
	elen = bf_b64url_encoded_len(k->bytes);
	result = (text *) palloc(VARHDRSZ + plen + elen);
	SET_VARSIZE(result, VARHDRSZ + plen + elen);
	memcpy(VARDATA(result), k->prefix, plen);
	bf_b64url_encode(rnd, k->bytes, VARDATA(result) + plen);
	explicit_bzero(rnd, sizeof(rnd));
	PG_RETURN_TEXT_P(result);
}

/* ---------- token_digest, ct_equal ---------- */

PG_FUNCTION_INFO_V1(oauth_token_digest);
Datum
oauth_token_digest(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *s = bf_text_utf8(PG_GETARG_TEXT_PP(0), &len);
	bytea	   *result = (bytea *) palloc(VARHDRSZ + BF_SHA256_LEN);

	SET_VARSIZE(result, VARHDRSZ + BF_SHA256_LEN);
	bf_sha256(s, len, (unsigned char *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

/* Not STRICT: a NULL argument compares unequal (false, never NULL). */
PG_FUNCTION_INFO_V1(oauth_ct_equal);
Datum
oauth_ct_equal(PG_FUNCTION_ARGS)
{
	bytea	   *a,
			   *b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	a = PG_GETARG_BYTEA_PP(0);
	b = PG_GETARG_BYTEA_PP(1);
	PG_RETURN_BOOL(bf_ct_equal(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
							   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

/* ---------- base64url ---------- */

PG_FUNCTION_INFO_V1(oauth_base64url_encode);
Datum
oauth_base64url_encode(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	size_t		n = VARSIZE_ANY_EXHDR(in);
	size_t		elen = bf_b64url_encoded_len(n);
	text	   *result;

	check_result_size(elen, "base64url encoding");
	result = (text *) palloc(VARHDRSZ + elen);
	SET_VARSIZE(result, VARHDRSZ + elen);
	bf_b64url_encode((const unsigned char *) VARDATA_ANY(in), n, VARDATA(result));
	PG_RETURN_TEXT_P(result);
}

static const char *
b64url_message(bf_err e)
{
	switch (e)
	{
		case BF_ERR_B64_CHAR:
			return "character outside A-Z a-z 0-9 - _";
		case BF_ERR_B64_PADDING:
			return "padding (=) is not allowed";
		case BF_ERR_B64_LENGTH:
			return "impossible length";
		case BF_ERR_B64_BITS:
			return "non-canonical encoding (non-zero unused bits)";
		default:
			return bf_err_message(e);
	}
}

PG_FUNCTION_INFO_V1(oauth_base64url_decode);
Datum
oauth_base64url_decode(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	bytea	   *result = (bytea *) palloc(VARHDRSZ + len + 1);
	size_t		n,
				pos;
	bf_err		e;

	e = bf_b64url_decode(VARDATA_ANY(in), len,
						 (unsigned char *) VARDATA(result), &n, &pos);
	if (e != BF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid base64url data: %s", b64url_message(e)),
				 errdetail("Error at byte offset %zu.", pos)));
	SET_VARSIZE(result, VARHDRSZ + n);
	PG_RETURN_BYTEA_P(result);
}

/* ---------- PKCE (RFC 7636) ---------- */

PG_FUNCTION_INFO_V1(oauth_pkce_s256);
Datum
oauth_pkce_s256(PG_FUNCTION_ARGS)
{
	text	   *v = PG_GETARG_TEXT_PP(0);
	unsigned char digest[BF_SHA256_LEN];
	char		challenge[BF_S256_CHALLENGE_LEN];

	if (!bf_pkce_verifier_valid(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid code_verifier: must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")));
	bf_sha256(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), digest);
	bf_b64url_encode(digest, sizeof(digest), challenge);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(challenge, sizeof(challenge)));
}

static pg_attribute_noreturn() void
bad_method(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unsupported code_challenge_method: S256 or plain expected")));
}

/*
 * Not STRICT: a NULL verifier or challenge is a mismatch (false, never
 * NULL, so `IF NOT oauth.pkce_verify(...)` cannot be skipped by a NULL);
 * a NULL or unknown method is an error.
 */
PG_FUNCTION_INFO_V1(oauth_pkce_verify);
Datum
oauth_pkce_verify(PG_FUNCTION_ARGS)
{
	text	   *m;
	const char *v = "",
			   *c = "";
	size_t		vlen = 0,
				clen = 0;
	bf_pkce_result r;

	if (PG_ARGISNULL(2))
		bad_method();
	m = PG_GETARG_TEXT_PP(2);
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
	{
		text	   *vt = PG_GETARG_TEXT_PP(0);
		text	   *ct = PG_GETARG_TEXT_PP(1);

		v = VARDATA_ANY(vt);
		vlen = VARSIZE_ANY_EXHDR(vt);
		c = VARDATA_ANY(ct);
		clen = VARSIZE_ANY_EXHDR(ct);
	}
	/* with a NULL argument the empty verifier is invalid: never a match */
	r = bf_pkce_verify(v, vlen, c, clen, VARDATA_ANY(m), VARSIZE_ANY_EXHDR(m),
					   bf_sha256);
	if (r == BF_PKCE_BAD_METHOD)
		bad_method();
	PG_RETURN_BOOL(r == BF_PKCE_MATCH);
}

/* ---------- form_decode ---------- */

/* A parameter name is echoed in a message only when plainly harmless. */
static bool
safe_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > 64)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			  (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
			  s[i] == '.'))
			return false;
	return true;
}

static Datum
form_decode(const char *in, size_t len)
{
	char	   *buf = palloc(len + 1);
	bf_form    *form = palloc(sizeof(bf_form));
	JsonbParseState *state = NULL;
	JsonbValue *res;
	bf_err		e;
	int			i;

	e = bf_form_decode(in, len, buf, form);
	if (e == BF_ERR_TOO_MANY)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid request body: more than %d parameters",
						BF_FORM_MAX_PAIRS)));
	if (e == BF_ERR_DUP_KEY && safe_name(form->dup->key, form->dup->key_len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid request body: parameter included more than once: %.*s",
						(int) form->dup->key_len, form->dup->key),
				 errdetail("Error at byte offset %zu.", form->err_pos)));
	if (e != BF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid request body: %s", bf_err_message(e)),
				 errdetail("Error at byte offset %zu.", form->err_pos)));

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < form->npairs; i++)
	{
		const bf_form_pair *p = &form->pairs[i];
		JsonbValue	k,
					v;
		size_t		n;

		k.type = jbvString;
		k.val.string.val = (char *) utf8_server(p->key, p->key_len, &n);
		k.val.string.len = n;
		pushJsonbValue(&state, WJB_KEY, &k);
		v.type = jbvString;
		v.val.string.val = (char *) utf8_server(p->val, p->val_len, &n);
		v.val.string.len = n;
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

PG_FUNCTION_INFO_V1(oauth_form_decode_text);
Datum
oauth_form_decode_text(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *s = bf_text_utf8(PG_GETARG_TEXT_PP(0), &len);

	return form_decode(s, len);
}

/* The raw HTTP body: its bytes must be UTF-8 themselves (checked by the core). */
PG_FUNCTION_INFO_V1(oauth_form_decode_bytea);
Datum
oauth_form_decode_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);

	return form_decode(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

/* ---------- form_encode, url_encode, html_escape ---------- */

static void
append_url_encoded(StringInfo buf, const char *s, size_t len)
{
	size_t		n;
	const char *u = s;
	size_t		elen;

	if (len > 0 && GetDatabaseEncoding() != PG_UTF8)
	{
		u = pg_server_to_any(s, len, PG_UTF8);
		if (u != s)
			len = strlen(u);
	}
	elen = bf_url_encoded_len(u, len);
	check_result_size(elen, "percent-encoding");
	enlargeStringInfo(buf, (int) elen);
	n = bf_url_encode(u, len, buf->data + buf->len);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

PG_FUNCTION_INFO_V1(oauth_form_encode);
Datum
oauth_form_encode(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbIteratorToken r;
	JsonbValue	v;
	StringInfoData buf;
	const char *key = NULL;
	int			klen = 0;
	bool		first = true;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("form_encode expects a JSON object")));
	initStringInfo(&buf);
	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *s;
		size_t		slen;

		if (r == WJB_KEY)
		{
			key = v.val.string.val;
			klen = v.val.string.len;
			continue;
		}
		if (r != WJB_VALUE)
			continue;
		switch (v.type)
		{
			case jbvNull:
				continue;		/* absent parameter */
			case jbvString:
				s = v.val.string.val;
				slen = v.val.string.len;
				break;
			case jbvNumeric:
				s = DatumGetCString(DirectFunctionCall1(numeric_out,
														NumericGetDatum(v.val.numeric)));
				slen = strlen(s);
				break;
			case jbvBool:
				s = v.val.boolean ? "true" : "false";
				slen = strlen(s);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("form_encode expects string, number, boolean or null values, not arrays or objects")));
				s = NULL;		/* keep the compiler quiet */
				slen = 0;
		}
		if (!first)
			appendStringInfoChar(&buf, '&');
		first = false;
		append_url_encoded(&buf, key, klen);
		appendStringInfoChar(&buf, '=');
		append_url_encoded(&buf, s, slen);
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

PG_FUNCTION_INFO_V1(oauth_url_encode);
Datum
oauth_url_encode(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *s = bf_text_utf8(PG_GETARG_TEXT_PP(0), &len);
	size_t		elen = bf_url_encoded_len(s, len);
	text	   *result;

	check_result_size(elen, "percent-encoding");
	result = (text *) palloc(VARHDRSZ + elen);
	SET_VARSIZE(result, VARHDRSZ + elen);
	bf_url_encode(s, len, VARDATA(result));
	PG_RETURN_TEXT_P(result);
}

/* Server encodings are ASCII-safe: escaping works on the raw bytes. */
PG_FUNCTION_INFO_V1(oauth_html_escape);
Datum
oauth_html_escape(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	size_t		elen = bf_html_escaped_len(VARDATA_ANY(in), len);
	text	   *result;

	check_result_size(elen, "HTML escaping");
	result = (text *) palloc(VARHDRSZ + elen);
	SET_VARSIZE(result, VARHDRSZ + elen);
	bf_html_escape(VARDATA_ANY(in), len, VARDATA(result));
	PG_RETURN_TEXT_P(result);
}

/* ---------- basic_credentials ---------- */

/*
 * Zero rows for another scheme; one row (client_id, client_secret) for
 * well-formed Basic credentials; ERROR 28000 for malformed ones, which the
 * OAuth layer answers with invalid_client (401).
 */
PG_FUNCTION_INFO_V1(oauth_basic_credentials);
Datum
oauth_basic_credentials(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t		len;
	const char *s = bf_text_utf8(PG_GETARG_TEXT_PP(0), &len);
	char	   *buf = palloc(len + 1);
	bf_basic	basic;
	bf_err		e;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);
	e = bf_basic_parse(s, len, buf, &basic);
	if (e != BF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("invalid Basic credentials: %s", bf_err_message(e))));
	if (basic.is_basic)
	{
		values[0] = PointerGetDatum(bf_utf8_text(basic.id, basic.id_len));
		values[1] = PointerGetDatum(bf_utf8_text(basic.secret, basic.secret_len));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	explicit_bzero(buf, len + 1);
	return (Datum) 0;
}
