-- 20_oauth_primitives.sql — C security primitives of the OAuth server
-- (extension/src/crypto.c over the backend-free cores of form.c): random
-- tokens, SHA-256 digests, constant-time comparison, base64url, PKCE,
-- form-urlencoded bodies, HTTP Basic credentials, percent-encoding and
-- HTML escaping. Pure functions that reveal nothing: EXECUTE stays with
-- PUBLIC. Errors: 22023 malformed input (OAuth invalid_request), 28000
-- malformed Basic credentials (OAuth invalid_client), 54000 limits.

CREATE FUNCTION oauth.random_token(kind text) RETURNS text
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_random_token';
COMMENT ON FUNCTION oauth.random_token(text) IS
'New secret from pg_strong_random: 256 bits as unpadded base64url (43 characters) after a prefix naming its kind, so secret scanners can find leaked ones: access bfat_, refresh bfrt_, code bfac_, client_secret bfcs_, registration bfrg_, session bfss_, csrf bfcf_, sign-up invitation bfiv_, password reset bfpr_; client_id bfci_ with 128 bits (22 characters). Unknown kind: ERROR 22023. Store only oauth.token_digest() of it.';

CREATE FUNCTION oauth.token_digest(secret text) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_token_digest';
COMMENT ON FUNCTION oauth.token_digest(text) IS
'SHA-256 of the UTF-8 bytes of a secret (32 bytes): the only form in which tokens, codes, client secrets and session ids are stored.';

CREATE FUNCTION oauth.ct_equal(a bytea, b bytea) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_ct_equal';
COMMENT ON FUNCTION oauth.ct_equal(bytea, bytea) IS
'Constant-time equality: the time depends only on the lengths, never on where the contents differ; different lengths are unequal. Not STRICT: a NULL argument gives false, never NULL (fail closed).';

CREATE FUNCTION oauth.base64url_encode(data bytea) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_base64url_encode';
COMMENT ON FUNCTION oauth.base64url_encode(bytea) IS
'base64url (RFC 4648 section 5) without padding.';

CREATE FUNCTION oauth.base64url_decode(data text) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_base64url_decode';
COMMENT ON FUNCTION oauth.base64url_decode(text) IS
'Strict base64url decoder: only A-Z a-z 0-9 - _, no padding, no whitespace, no impossible length (4n+1), no non-zero unused bits (canonical form only). Anything else: ERROR 22023.';

CREATE FUNCTION oauth.pkce_s256(verifier text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_pkce_s256';
COMMENT ON FUNCTION oauth.pkce_s256(text) IS
'RFC 7636 S256 code_challenge of a code_verifier: base64url(SHA-256(ASCII verifier)), 43 characters. The verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~, else ERROR 22023. To check a verifier use oauth.pkce_verify.';

CREATE FUNCTION oauth.pkce_verify(verifier text, challenge text, method text) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_pkce_verify';
COMMENT ON FUNCTION oauth.pkce_verify(text, text, text) IS
'RFC 7636 section 4.6: true when the code_verifier matches the code_challenge, compared in constant time; method S256 or plain (case-sensitive; whether plain is allowed is decided by the caller). A verifier that is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~ gives false, as does a NULL verifier or challenge (never NULL). A NULL or other method: ERROR 22023.';

CREATE FUNCTION oauth.form_decode(body text) RETURNS jsonb
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_decode_text';
COMMENT ON FUNCTION oauth.form_decode(text) IS
'Strict application/x-www-form-urlencoded parser (HTML form encoding, RFC 6749 section 3.1) to a flat jsonb object of strings: pairs split at &, + is a space, %XX a byte; empty segments are skipped, a name without = has the value "". ERROR 22023, with a message fit for an invalid_request error_description, on a bad % escape, decoded bytes that are not UTF-8, a NUL byte, an empty name, or a parameter included more than once. More than 1000 pairs: ERROR 54000.';

CREATE FUNCTION oauth.form_decode(body bytea) RETURNS jsonb
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_decode_bytea';
COMMENT ON FUNCTION oauth.form_decode(bytea) IS
'oauth.form_decode of a raw HTTP body: the raw bytes must be UTF-8 without NUL as well (else ERROR 22023); same rules and errors as the text version.';

CREATE FUNCTION oauth.basic_credentials(authorization text)
  RETURNS TABLE (client_id text, client_secret text)
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE ROWS 1 AS 'MODULE_PATHNAME', 'oauth_basic_credentials';
COMMENT ON FUNCTION oauth.basic_credentials(text) IS
'Client credentials of an HTTP Authorization header value (RFC 7617, RFC 6749 section 2.3.1). No row when the scheme is not Basic (the caller tries other authentication). Basic (any case), one or more spaces, standard base64 with its padding; the decoded text is split at the first colon and each part form-urlencoded-decoded (+ is a space, %XX a byte). Malformed Basic credentials (bad base64, no colon, control characters, bad % escape, invalid UTF-8, NUL, empty client_id) raise ERROR 28000 (invalid_authorization_specification) rather than 22023, because the OAuth layer answers 28000 with invalid_client (401) as RFC 6749 section 5.2 requires for failed client authentication. The message never contains the credentials.';

CREATE FUNCTION oauth.form_encode(params jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_encode';
COMMENT ON FUNCTION oauth.form_encode(jsonb) IS
'Query string of a flat JSON object, for redirect URIs (code, state, iss, error...): name=value pairs joined by &, every byte of the UTF-8 text but A-Z a-z 0-9 - . _ ~ as upper-case %XX (space is %20). Null values are left out; numbers and booleans are written as text; arrays, objects or a non-object argument: ERROR 22023. Pairs come in jsonb key order.';

CREATE FUNCTION oauth.url_encode(value text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_url_encode';
COMMENT ON FUNCTION oauth.url_encode(text) IS
'Percent-encoding (RFC 3986) of the UTF-8 bytes of a value: A-Z a-z 0-9 - . _ ~ kept, everything else upper-case %XX, space as %20.';

CREATE FUNCTION oauth.html_escape(value text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_html_escape';
COMMENT ON FUNCTION oauth.html_escape(text) IS
'Text made safe for HTML element content and quoted attribute values of the server-rendered pages: & < > " and single quote become &amp; &lt; &gt; &quot; &#39;.';
