/*
 * keys.c — the tenants' signing keys, with OpenSSL's libcrypto (the library
 * PostgreSQL itself is built on; nothing here is hand-rolled crypto):
 *   oauth._key_generate(alg)   a new RS256 (RSA 2048) or ES256 (P-256) key
 *                              pair: kid (RFC 7638 thumbprint), public JWK,
 *                              public key (DER SubjectPublicKeyInfo) and the
 *                              private key encrypted with the KEK
 *   oauth._jws_sign(...)       a JWS compact serialization (RFC 7515) signed
 *                              with an encrypted private key
 *   oauth._jws_verify(...)     checks a JWS signature with a public key (DER)
 *
 * Private keys never leave this file in clear: they are generated, encrypted
 * (AES-256-GCM, the kid as associated data so a blob cannot be moved to
 * another key's row) and decrypted here only. The key-encryption key (KEK,
 * 32 bytes as 64 hex digits) comes from the superuser-only setting
 * backend_framework.key_encryption_key, or from the file named by
 * backend_framework.key_encryption_key_file; without one, no key is made.
 * Blob layout: "BFK1" | 12-byte nonce | ciphertext | 16-byte tag.
 *
 * SQLSTATEs: 22023 bad argument, 55000 no KEK configured (with a hint),
 * 39000-class never; 58030 KEK file unreadable; XX000 for a libcrypto
 * failure or a blob that does not decrypt (wrong KEK: the hint says so).
 */
#include "postgres.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "fmgr.h"
#include "funcapi.h"
#include "access/htup_details.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "backend_framework.h"
#include "primitives.h"

#define KEK_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16
#define BLOB_MAGIC "BFK1"
#define BLOB_MAGIC_LEN 4

typedef enum
{
	ALG_RS256,
	ALG_ES256
} jws_alg;

static jws_alg
parse_alg(text *t)
{
	char	   *s = text_to_cstring(t);

	if (strcmp(s, "RS256") == 0)
		return ALG_RS256;
	if (strcmp(s, "ES256") == 0)
		return ALG_ES256;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unsupported signing algorithm"),
			 errhint("The algorithms are RS256 and ES256.")));
	return ALG_RS256;			/* not reached */
}

/* The last libcrypto error as text (for messages; never key material). */
static const char *
ossl_reason(void)
{
	unsigned long e = ERR_get_error();
	char		buf[256];

	ERR_clear_error();
	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return pstrdup(buf);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits (surrounding white space allowed) into 32 bytes. */
static bool
parse_kek(const char *s, unsigned char out[KEK_LEN])
{
	int			i;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	for (i = 0; i < KEK_LEN; i++)
	{
		int			hi = hexval(s[2 * i]),
					lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char) (hi << 4 | lo);
	}
	s += 2 * KEK_LEN;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return *s == '\0';
}

/* Check hook of backend_framework.key_encryption_key: empty or 64 hex digits. */
bool
bf_check_kek(char **newval, void **extra, GucSource source)
{
	unsigned char k[KEK_LEN];
	bool		ok;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	ok = parse_kek(*newval, k);
	explicit_bzero(k, sizeof(k));
	if (!ok)
		GUC_check_errdetail("The key-encryption key is 64 hexadecimal digits (32 random bytes), e.g. from: openssl rand -hex 32");
	return ok;
}

/* The KEK from the setting, else from the file the other setting names. */
static void
load_kek(unsigned char out[KEK_LEN])
{
	if (bf_kek != NULL && bf_kek[0] != '\0')
	{
		if (!parse_kek(bf_kek, out))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backend_framework.key_encryption_key is malformed")));
		return;
	}
	if (bf_kek_file != NULL && bf_kek_file[0] != '\0')
	{
		char		buf[256];
		size_t		n;
		FILE	   *f = AllocateFile(bf_kek_file, "r");
		bool		ok;

		if (f == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open the key-encryption key file named by backend_framework.key_encryption_key_file: %m")));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		FreeFile(f);
		buf[n] = '\0';
		ok = parse_kek(buf, out);
		explicit_bzero(buf, sizeof(buf));
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the key-encryption key file does not hold 64 hexadecimal digits")));
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no key-encryption key is configured, so no signing key can be created or used"),
			 errhint("Set backend_framework.key_encryption_key_file to a file (mode 0600, owned by the server's user) "
					 "holding 64 hex digits, e.g. from: openssl rand -hex 32; then reload PostgreSQL.")));
}

/* AES-256-GCM of a private key (DER) with the kid as associated data. */
static bytea *
seal(const unsigned char *plain, int plen, const char *kid)
{
	unsigned char kek[KEK_LEN];
	EVP_CIPHER_CTX *ctx;
	bytea	   *out = (bytea *) palloc(VARHDRSZ + BLOB_MAGIC_LEN + GCM_NONCE_LEN + plen + GCM_TAG_LEN);
	unsigned char *p = (unsigned char *) VARDATA(out);
	unsigned char *nonce = p + BLOB_MAGIC_LEN;
	unsigned char *ct = nonce + GCM_NONCE_LEN;
	int			n1 = 0,
				n2 = 0;
	bool		ok;

	load_kek(kek);
	memcpy(p, BLOB_MAGIC, BLOB_MAGIC_LEN);
	if (!pg_strong_random(nonce, GCM_NONCE_LEN))
	{
		explicit_bzero(kek, sizeof(kek));
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate random bytes")));
	}
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, kek, nonce) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n1, (const unsigned char *) kid, strlen(kid)) == 1 &&
		EVP_EncryptUpdate(ctx, ct, &n1, plain, plen) == 1 &&
		EVP_EncryptFinal_ex(ctx, ct + n1, &n2) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, ct + n1 + n2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	explicit_bzero(kek, sizeof(kek));
	if (!ok)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encrypt a signing key: %s", ossl_reason())));
	SET_VARSIZE(out, VARHDRSZ + BLOB_MAGIC_LEN + GCM_NONCE_LEN + n1 + n2 + GCM_TAG_LEN);
	return out;
}

/* Decrypts a sealed private key into a libcrypto key (caller frees it). */
static EVP_PKEY *
unseal(bytea *blob, const char *kid)
{
	unsigned char kek[KEK_LEN];
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(blob);
	int			len = VARSIZE_ANY_EXHDR(blob);
	int			ctlen = len - BLOB_MAGIC_LEN - GCM_NONCE_LEN - GCM_TAG_LEN;
	unsigned char *plain;
	const unsigned char *q;
	EVP_CIPHER_CTX *ctx;
	EVP_PKEY   *key = NULL;
	int			n1 = 0,
				n2 = 0;
	bool		ok;

	if (ctlen <= 0 || memcmp(p, BLOB_MAGIC, BLOB_MAGIC_LEN) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("a stored signing key is malformed")));
	load_kek(kek);
	plain = palloc(ctlen);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, kek, p + BLOB_MAGIC_LEN) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n1, (const unsigned char *) kid, strlen(kid)) == 1 &&
		EVP_DecryptUpdate(ctx, plain, &n1, p + BLOB_MAGIC_LEN + GCM_NONCE_LEN, ctlen) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
							(void *) (p + len - GCM_TAG_LEN)) == 1 &&
		EVP_DecryptFinal_ex(ctx, plain + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	explicit_bzero(kek, sizeof(kek));
	if (ok)
	{
		q = plain;
		key = d2i_AutoPrivateKey(NULL, &q, n1 + n2);
	}
	explicit_bzero(plain, ctlen);
	pfree(plain);
	ERR_clear_error();
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("a signing key cannot be decrypted"),
				 errhint("The key-encryption key is not the one the keys were made with; restore it, "
						 "or rotate with oauth.rotate_signing_keys(tenant, compromised => true) to replace them.")));
	return key;
}

static char *
b64url(const unsigned char *in, size_t n)
{
	char	   *out = palloc(bf_b64url_encoded_len(n) + 1);
	size_t		m = bf_b64url_encode(in, n, out);

	out[m] = '\0';
	return out;
}

/* A BIGNUM as base64url of its big-endian bytes, left-padded to pad bytes (0: minimal). */
static char *
bn_b64url(const BIGNUM *bn, int pad)
{
	int			n = pad > 0 ? pad : BN_num_bytes(bn);
	unsigned char *buf = palloc(n > 0 ? n : 1);
	char	   *s;

	if (BN_bn2binpad(bn, buf, n) < 0)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encode a key parameter")));
	s = b64url(buf, n);
	pfree(buf);
	return s;
}

static void
sha256_raw(const void *data, size_t len, unsigned char out[32])
{
	if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("SHA-256 failed: %s", ossl_reason())));
}

/*
 * oauth._key_generate(alg text, OUT kid text, OUT public_jwk text,
 *                     OUT public_der bytea, OUT private_key bytea)
 */
PG_FUNCTION_INFO_V1(oauth_key_generate);
Datum
oauth_key_generate(PG_FUNCTION_ARGS)
{
	jws_alg		alg = parse_alg(PG_GETARG_TEXT_PP(0));
	EVP_PKEY   *key;
	BIGNUM	   *a = NULL,
			   *b = NULL;
	char	   *pa = NULL,
			   *pb = NULL;
	StringInfoData thumb,
				jwk;
	unsigned char digest[32];
	char	   *kid;
	unsigned char *der = NULL;
	int			derlen;
	bytea	   *pub;
	bytea	   *volatile sealed = NULL;
	unsigned char *plain;
	unsigned char kek_probe[KEK_LEN];
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("a record result is expected")));
	tupdesc = BlessTupleDesc(tupdesc);
	/* No KEK, no key: refuse before generating anything. */
	load_kek(kek_probe);
	explicit_bzero(kek_probe, sizeof(kek_probe));

	key = alg == ALG_RS256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048)
		: EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a key pair: %s", ossl_reason())));

	/* Public parameters: RSA n, e; EC x, y (32 bytes each). */
	if (alg == ALG_RS256)
	{
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a) != 1 ||
			EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b) != 1)
			goto fail;
		pa = bn_b64url(a, 0);
		pb = bn_b64url(b, 0);
	}
	else
	{
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a) != 1 ||
			EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b) != 1)
			goto fail;
		pa = bn_b64url(a, 32);
		pb = bn_b64url(b, 32);
	}
	BN_free(a);
	BN_free(b);
	a = b = NULL;

	/* kid: RFC 7638 thumbprint (required members, lexicographic order, no spaces). */
	initStringInfo(&thumb);
	initStringInfo(&jwk);
	if (alg == ALG_RS256)
		appendStringInfo(&thumb, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", pb, pa);
	else
		appendStringInfo(&thumb, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", pa, pb);
	sha256_raw(thumb.data, thumb.len, digest);
	kid = b64url(digest, sizeof(digest));
	if (alg == ALG_RS256)
		appendStringInfo(&jwk, "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
						 kid, pa, pb);
	else
		appendStringInfo(&jwk, "{\"kty\":\"EC\",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"%s\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
						 kid, pa, pb);

	/* Public key as DER SubjectPublicKeyInfo (verification needs no secret). */
	derlen = i2d_PUBKEY(key, &der);
	if (derlen <= 0)
		goto fail;
	pub = (bytea *) palloc(VARHDRSZ + derlen);
	SET_VARSIZE(pub, VARHDRSZ + derlen);
	memcpy(VARDATA(pub), der, derlen);
	OPENSSL_free(der);
	der = NULL;

	/* Private key as DER, sealed at once, the clear copy wiped. */
	derlen = i2d_PrivateKey(key, &der);
	if (derlen <= 0)
		goto fail;
	plain = palloc(derlen);
	memcpy(plain, der, derlen);
	OPENSSL_clear_free(der, derlen);
	EVP_PKEY_free(key);
	PG_TRY();
	{
		sealed = seal(plain, derlen, kid);
	}
	PG_CATCH();
	{
		explicit_bzero(plain, derlen);
		PG_RE_THROW();
	}
	PG_END_TRY();
	explicit_bzero(plain, derlen);
	pfree(plain);

	values[0] = CStringGetTextDatum(kid);
	values[1] = CStringGetTextDatum(jwk.data);
	values[2] = PointerGetDatum(pub);
	values[3] = PointerGetDatum((bytea *) sealed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));

fail:
	BN_free(a);
	BN_free(b);
	if (der)
		OPENSSL_free(der);
	EVP_PKEY_free(key);
	ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not export a key: %s", ossl_reason())));
	PG_RETURN_NULL();			/* not reached */
}

/* Only these typ values are written: JWT (id_token), at+jwt (RFC 9068). */
static const char *
parse_typ(text *t)
{
	char	   *s = text_to_cstring(t);

	if (strcmp(s, "JWT") == 0 || strcmp(s, "at+jwt") == 0 || strcmp(s, "logout+jwt") == 0)
		return s;
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unsupported JWT typ")));
	return NULL;				/* not reached */
}

/*
 * oauth._jws_sign(alg text, kid text, private_key bytea, typ text, payload text) RETURNS text
 * payload: the JSON claims (any valid JSON text; the caller builds it as jsonb).
 */
PG_FUNCTION_INFO_V1(oauth_jws_sign);
Datum
oauth_jws_sign(PG_FUNCTION_ARGS)
{
	jws_alg		alg = parse_alg(PG_GETARG_TEXT_PP(0));
	char	   *kid = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bytea	   *blob = PG_GETARG_BYTEA_PP(2);
	const char *typ = parse_typ(PG_GETARG_TEXT_PP(3));
	text	   *payload = PG_GETARG_TEXT_PP(4);
	StringInfoData header,
				out;
	char	   *h64,
			   *p64;
	const char *k;
	EVP_PKEY   *key;
	EVP_MD_CTX *md;
	unsigned char *sig = NULL;
	size_t		siglen = 0;
	unsigned char raw[64];
	bool		ok;

	for (k = kid; *k; k++)
		if (!(isalnum((unsigned char) *k) || *k == '-' || *k == '_'))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a kid is base64url")));
	initStringInfo(&header);
	appendStringInfo(&header, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"%s\"}",
					 alg == ALG_RS256 ? "RS256" : "ES256", kid, typ);
	h64 = b64url((unsigned char *) header.data, header.len);
	p64 = b64url((unsigned char *) VARDATA_ANY(payload), VARSIZE_ANY_EXHDR(payload));
	initStringInfo(&out);
	appendStringInfo(&out, "%s.%s", h64, p64);

	key = unseal(blob, kid);
	if ((alg == ALG_RS256) != (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA))
	{
		EVP_PKEY_free(key);
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the key does not match the algorithm")));
	}
	md = EVP_MD_CTX_new();
	ok = md != NULL &&
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		EVP_DigestSign(md, NULL, &siglen, (unsigned char *) out.data, out.len) == 1 &&
		(sig = OPENSSL_malloc(siglen)) != NULL &&
		EVP_DigestSign(md, sig, &siglen, (unsigned char *) out.data, out.len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	if (ok && alg == ALG_ES256)
	{
		/* JWS wants R || S (32 bytes each), libcrypto gives DER. */
		const unsigned char *q = sig;
		ECDSA_SIG  *es = d2i_ECDSA_SIG(NULL, &q, siglen);
		const BIGNUM *r,
				   *s;

		ok = es != NULL;
		if (ok)
		{
			ECDSA_SIG_get0(es, &r, &s);
			ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
			ECDSA_SIG_free(es);
		}
		if (ok)
		{
			OPENSSL_free(sig);
			sig = OPENSSL_malloc(64);
			ok = sig != NULL;
			if (ok)
			{
				memcpy(sig, raw, 64);
				siglen = 64;
			}
		}
	}
	if (!ok)
	{
		if (sig)
			OPENSSL_free(sig);
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not sign: %s", ossl_reason())));
	}
	appendStringInfo(&out, ".%s", b64url(sig, siglen));
	OPENSSL_free(sig);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * oauth._jws_verify(token text, public_der bytea, alg text) RETURNS boolean:
 * whether the signature of a compact JWS is valid for this public key and
 * algorithm (the caller has chosen the key by the header's kid and checks
 * that the header's alg is this alg). Malformed input is simply false.
 */
PG_FUNCTION_INFO_V1(oauth_jws_verify);
Datum
oauth_jws_verify(PG_FUNCTION_ARGS)
{
	text	   *tok = PG_GETARG_TEXT_PP(0);
	bytea	   *pub = PG_GETARG_BYTEA_PP(1);
	jws_alg		alg = parse_alg(PG_GETARG_TEXT_PP(2));
	const char *s = VARDATA_ANY(tok);
	int			len = VARSIZE_ANY_EXHDR(tok);
	const char *dot1,
			   *dot2;
	int			slen;
	unsigned char *sig;
	size_t		siglen;
	size_t		errpos;
	const unsigned char *q;
	EVP_PKEY   *key;
	EVP_MD_CTX *md;
	unsigned char *der = NULL;
	int			derlen = 0;
	bool		ok = false;

	dot1 = memchr(s, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (dot1 + 1 - s)) : NULL;
	if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (dot2 + 1 - s)) != NULL)
		PG_RETURN_BOOL(false);
	slen = len - (dot2 + 1 - s);
	if (slen <= 0 || slen > 1024)
		PG_RETURN_BOOL(false);
	sig = palloc(slen);
	if (bf_b64url_decode(dot2 + 1, slen, sig, &siglen, &errpos) != BF_OK)
		PG_RETURN_BOOL(false);

	q = (const unsigned char *) VARDATA_ANY(pub);
	key = d2i_PUBKEY(NULL, &q, VARSIZE_ANY_EXHDR(pub));
	if (key == NULL)
	{
		ERR_clear_error();
		PG_RETURN_BOOL(false);
	}
	if ((alg == ALG_RS256) != (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA))
	{
		EVP_PKEY_free(key);
		PG_RETURN_BOOL(false);
	}
	if (alg == ALG_ES256)
	{
		ECDSA_SIG  *es;
		BIGNUM	   *r,
				   *sv;

		if (siglen != 64)
		{
			EVP_PKEY_free(key);
			PG_RETURN_BOOL(false);
		}
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		sv = BN_bin2bn(sig + 32, 32, NULL);
		if (es == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(es, r, sv) != 1)
		{
			BN_free(r);
			BN_free(sv);
			ECDSA_SIG_free(es);
			EVP_PKEY_free(key);
			ERR_clear_error();
			PG_RETURN_BOOL(false);
		}
		derlen = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (derlen <= 0)
		{
			EVP_PKEY_free(key);
			ERR_clear_error();
			PG_RETURN_BOOL(false);
		}
	}
	md = EVP_MD_CTX_new();
	ok = md != NULL &&
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		EVP_DigestVerify(md, der ? der : sig, der ? (size_t) derlen : siglen,
						 (const unsigned char *) s, dot2 - s) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	if (der)
		OPENSSL_free(der);
	ERR_clear_error();
	PG_RETURN_BOOL(ok);
}
