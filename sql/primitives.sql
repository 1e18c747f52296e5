-- The C security primitives of schema oauth: random tokens, digests,
-- constant-time comparison, base64url, PKCE (RFC 7636), form-urlencoded
-- bodies (RFC 6749 §3.1), Basic credentials (RFC 7617, RFC 6749 §2.3.1),
-- percent-encoding and HTML escaping; malformed input of every kind.
\set VERBOSITY terse
-- Helpers: run a query, give its value or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE q INTO r;
  RETURN coalesce(r, '(null)');
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.fd(body text) RETURNS text LANGUAGE sql AS
$$ SELECT pg_temp.try(format('SELECT oauth.form_decode(%L::text)', body)) $$;
CREATE FUNCTION pg_temp.fdb(body bytea) RETURNS text LANGUAGE sql AS
$$ SELECT pg_temp.try(format('SELECT oauth.form_decode(%L::bytea)', body)) $$;
CREATE FUNCTION pg_temp.b64(s text) RETURNS text LANGUAGE sql AS
$$ SELECT translate(encode(convert_to(s, 'UTF8'), 'base64'), E'\n', '') $$;
CREATE FUNCTION pg_temp.basic(h text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; n int := 0; res text := '(no row)';
BEGIN
  FOR r IN SELECT * FROM oauth.basic_credentials(h) LOOP
    n := n + 1;
    res := format('id=[%s] secret=[%s]', r.client_id, r.client_secret);
  END LOOP;
  RETURN CASE WHEN n > 1 THEN n || ' rows' ELSE res END;
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;

-- Declarations: volatility, strictness, parallel safety, comments.
SELECT p.oid::regprocedure AS function, provolatile, proisstrict, proparallel, proretset,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'oauth' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
ORDER BY p.oid::regprocedure::text;

-- random_token: kind prefix, 256 bits as 43 base64url characters.
SELECT kind, left(t, 5) AS prefix, length(t) AS len,
       t ~ '^bf[a-z]{2}_[A-Za-z0-9_-]+$' AS charset,
       length(oauth.base64url_decode(substr(t, 6))) AS random_bytes
FROM unnest(ARRAY['access', 'refresh', 'code', 'client_secret', 'registration',
                  'session', 'csrf', 'client_id']) AS kind,
     LATERAL oauth.random_token(kind) AS t;
-- 1000 tokens of each of two kinds are all distinct.
SELECT count(*) AS tokens, count(DISTINCT t) AS distinct_tokens
FROM (SELECT oauth.random_token('access') FROM generate_series(1, 1000)
      UNION ALL SELECT oauth.random_token('client_id') FROM generate_series(1, 1000)) s(t);
SELECT pg_temp.try($q$SELECT oauth.random_token('bearer')$q$) AS unknown,
       pg_temp.try($q$SELECT oauth.random_token('Access')$q$) AS case_matters,
       pg_temp.try($q$SELECT oauth.random_token('')$q$) AS empty,
       oauth.random_token(NULL) IS NULL AS strict;

-- token_digest: SHA-256 of the UTF-8 bytes (FIPS 180-2 vectors).
SELECT encode(oauth.token_digest(''), 'hex') AS empty,
       encode(oauth.token_digest('abc'), 'hex') AS abc;
SELECT oauth.token_digest('pässwörd') = sha256('\x70c3a4737377c3b67264'::bytea) AS utf8_bytes,
       length(oauth.token_digest(repeat('x', 100000))) AS len,
       oauth.token_digest(NULL) IS NULL AS strict;

-- ct_equal: true only for equal bytes; lengths differ: false; NULL: false.
SELECT oauth.ct_equal('\x00112233', '\x00112233') AS equal,
       oauth.ct_equal('', '') AS both_empty,
       oauth.ct_equal('\x00112233', '\x01112233') AS first_differs,
       oauth.ct_equal('\x00112233', '\x00112234') AS last_differs,
       oauth.ct_equal('\x001122', '\x00112233') AS prefix,
       oauth.ct_equal('\x00112233', '\x001122') AS longer,
       oauth.ct_equal('', '\x00') AS empty_vs_nul,
       oauth.ct_equal(NULL, '\x00') AS null_a,
       oauth.ct_equal('\x00', NULL) AS null_b,
       oauth.ct_equal(NULL, NULL) AS null_both;
SELECT oauth.ct_equal(oauth.token_digest('bfcs_x'), oauth.token_digest('bfcs_x')) AS same_digest,
       oauth.ct_equal(oauth.token_digest('bfcs_x'), oauth.token_digest('bfcs_y')) AS other_digest;

-- base64url: RFC 4648 §10 vectors, without padding; the two url characters.
SELECT s, oauth.base64url_encode(convert_to(s, 'UTF8')) AS encoded
FROM unnest(ARRAY['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) AS s;
SELECT oauth.base64url_encode('\xfbff') AS url_chars,
       oauth.base64url_encode('\x000102ff'),
       encode(oauth.base64url_decode('-_8'), 'hex') AS decoded;
-- Agrees with PostgreSQL's base64 (translated) and round-trips, lengths 0..200.
SELECT count(*) AS cases,
       bool_and(oauth.base64url_encode(b) =
                rtrim(translate(encode(b, 'base64'), E'+/\n', '-_'), '=')) AS same_as_base64,
       bool_and(oauth.base64url_decode(oauth.base64url_encode(b)) = b) AS round_trip
FROM (SELECT gen_random_bytes(1024) AS r) g, generate_series(0, 200) n,
     LATERAL (SELECT substr(g.r, 1, n) AS b) x;
SELECT s, pg_temp.try(format('SELECT encode(oauth.base64url_decode(%L), %L)', s, 'hex')) AS result
FROM unnest(ARRAY['', 'Zg', 'Zm8', 'Zm9v', 'Zm9vYmFy',
                  'Zg==', 'Zm8=', 'Zm 9v', ' Zm9v', E'Zm9v\n', 'Zm+v', 'Zm/v', 'Zm9vY',
                  'Z', 'Zh', 'Zm9', 'Zm-', 'Zm9=', 'é', 'Zm9v!']) AS s;
SELECT oauth.base64url_encode(NULL) IS NULL AND oauth.base64url_decode(NULL) IS NULL AS strict;

-- PKCE: the RFC 7636 Appendix B vector.
SELECT oauth.pkce_s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk') AS rfc7636_challenge;
SELECT oauth.pkce_verify('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
                         'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'S256') AS rfc7636,
       oauth.pkce_verify('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
                         'E9cCnyUSnwU5Mb1Xy2PYXtdiwdH3ch8Owc-nAL94xhY', 'S256') AS other_challenge,
       oauth.pkce_verify('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
                         'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=', 'S256') AS padded,
       oauth.pkce_verify('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl',
                         'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'S256') AS other_verifier,
       oauth.pkce_verify('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
                         'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'S256') AS plain_as_s256;
-- Verifier syntax: 43 to 128 of [A-Za-z0-9-._~]; otherwise never a match.
SELECT label, length(v) AS len,
       oauth.pkce_verify(v, oauth.base64url_encode(sha256(convert_to(v, 'UTF8'))), 'S256') AS s256,
       oauth.pkce_verify(v, v, 'plain') AS plain
FROM (VALUES ('42 chars', repeat('a', 42)), ('43 chars', repeat('a', 43)),
             ('128 chars', repeat('-._~', 32)), ('129 chars', repeat('a', 129)),
             ('space', repeat('a', 42) || ' '), ('plus', repeat('a', 42) || '+'),
             ('slash', repeat('a', 42) || '/'), ('equals', repeat('a', 42) || '='),
             ('non-ascii', repeat('a', 42) || 'é'), ('empty', '')) AS t(label, v);
SELECT oauth.pkce_verify(repeat('a', 43), repeat('a', 44), 'plain') AS plain_longer,
       oauth.pkce_verify(repeat('a', 43), repeat('b', 43), 'plain') AS plain_other,
       oauth.pkce_verify(NULL, 'x', 'S256') AS null_verifier,
       oauth.pkce_verify(repeat('a', 43), NULL, 'plain') AS null_challenge;
SELECT m, pg_temp.try(format('SELECT oauth.pkce_verify(%L, %L, %L)',
                             repeat('a', 43), repeat('a', 43), m)) AS result
FROM unnest(ARRAY['plain', 'S256', 's256', 'PLAIN', 'S512', '', NULL]) AS m;
SELECT pg_temp.try($q$SELECT oauth.pkce_s256('short')$q$) AS short,
       pg_temp.try($q$SELECT oauth.pkce_s256(repeat('a', 43) || '+')$q$) AS bad_char;

-- form_decode: well-formed bodies.
SELECT body, pg_temp.fd(body) AS decoded
FROM unnest(ARRAY[
  '',
  'grant_type=authorization_code&code=bfac_x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1%26b',
  'a=1&&b=2', '&a=1&', '&&&', 'flag', 'flag=', 'a=&b', 'a=b=c', 'a==',
  'scope=read+write', 'q=%2B+%2b', 'a+b=c', '%61=%7e',
  'name=J%C3%BCrgen+%E2%82%AC+%F0%9F%98%80', 'x=%C3%A9&y=é', 'semi=a;b', 'raw=a b',
  'A=1&a=2', 'a%20=1&a+=2&a=3']) AS body;
-- Malformed: bad escapes, NUL, invalid UTF-8, empty names, repeated names.
SELECT body, pg_temp.fd(body) AS result
FROM unnest(ARRAY[
  '%', 'a=%', 'a=%4', 'a=%4g', 'a=%zz', '%%41', 'a=1%', 'a=%%', 'a=%+1',
  'a=%00', '%00=1', 'a=x%00y',
  'a=%FF', 'a=%C3', 'a=%C3%28', 'a=%C0%AF', 'a=%E0%80%AF', 'a=%ED%A0%80', 'a=%F4%90%80%80', 'a=%F8%88%80%80%80',
  '=x', '=', 'a=1&=2', '&=', '=&a=1',
  'a=1&a=2', 'a=1&b=2&a=1', 'a&a', 'a=1&%61=2', 'a+b=1&a%20b=2',
  'client_id=x&client_id=x', 'x%22y=1&x%22y=2', 'name%3D=1&name%3D=2']) AS body;
-- The raw bytea body must be UTF-8 without NUL itself.
SELECT label, pg_temp.fdb(body) AS result
FROM (VALUES ('ascii', 'a=1&b=%C3%A9'::bytea),
             ('raw utf-8', convert_to('a=é', 'UTF8')),
             ('raw 0xff', '\x613dff'::bytea),
             ('raw NUL', '\x613d00'::bytea),
             ('raw lone lead', '\x613dc3'::bytea),
             ('lead raw, tail escaped', '\x613dc3254139'::bytea),
             ('raw overlong', '\x613dc0af'::bytea),
             ('empty', ''::bytea)) AS t(label, body);
-- Sizes: a 100000-character value; 1000 pairs pass, 1001 is a limit error.
SELECT length(oauth.form_decode('v=' || repeat('a', 100000)) ->> 'v') AS long_value,
       length(oauth.form_decode('v=' || repeat('%41', 100000)) ->> 'v') AS long_escaped,
       length(oauth.form_decode(repeat('k', 100000) || '=1')::text) AS long_key_json;
SELECT (SELECT count(*) FROM jsonb_object_keys(oauth.form_decode(
          (SELECT string_agg('p' || i || '=' || i, '&') FROM generate_series(1, 1000) i)))) AS pairs_1000,
       pg_temp.fd((SELECT string_agg('p' || i || '=' || i, '&') FROM generate_series(1, 1001) i)) AS pairs_1001,
       (SELECT count(*) FROM jsonb_object_keys(oauth.form_decode(
          (SELECT string_agg('p' || i, '&') FROM generate_series(1, 1000) i) || '&&&&'))) AS empty_not_counted,
       pg_temp.fd(repeat('a=1&', 1000)) AS repeated_1000;
-- An untyped literal picks the text version.
SELECT oauth.form_decode('a=%C3%A9') AS untyped_literal;
SELECT oauth.form_decode(NULL::text) IS NULL AND oauth.form_decode(NULL::bytea) IS NULL AS strict;

-- basic_credentials: RFC 7617 Basic with RFC 6749 §2.3.1 form-encoded parts.
SELECT label, pg_temp.basic(h) AS result
FROM (VALUES
  ('plain', 'Basic ' || pg_temp.b64('s6BhdRkqt3:7Fjfp0ZBr1KtDRbnfVdmIw')),
  ('lower-case scheme', 'basic ' || pg_temp.b64('client:secret')),
  ('upper-case scheme', 'BASIC ' || pg_temp.b64('client:secret')),
  ('several spaces', 'Basic    ' || pg_temp.b64('client:secret')),
  ('surrounding spaces', '  Basic ' || pg_temp.b64('client:secret') || ' '),
  ('url-encoded colon in id', 'Basic ' || pg_temp.b64('my%3Aclient:secret')),
  ('plus in secret', 'Basic ' || pg_temp.b64('client:a+b')),
  ('encoded plus in secret', 'Basic ' || pg_temp.b64('client:a%2Bb')),
  ('colons in secret', 'Basic ' || pg_temp.b64('client:a:b:c')),
  ('empty secret', 'Basic ' || pg_temp.b64('client:')),
  ('utf-8 secret', 'Basic ' || pg_temp.b64('client:pässwörd%E2%82%AC')),
  ('no padding needed', 'Basic ' || pg_temp.b64('client:secre')),
  ('one padding', 'Basic ' || pg_temp.b64('client:secrets')),
  ('two paddings', 'Basic ' || pg_temp.b64('client:secret')),
  ('long credentials', 'Basic ' || pg_temp.b64('c:' || repeat('s', 300))),
  ('bearer', 'Bearer bfat_abc'),
  ('other scheme', 'Digest username="x"'),
  ('scheme prefix', 'Basicx ' || pg_temp.b64('client:secret')),
  ('empty header', ''),
  ('spaces only', '   ')) AS t(label, h);
-- Malformed Basic credentials: 28000 (invalid_client), never the secret.
SELECT label, pg_temp.basic(h) AS result
FROM (VALUES
  ('missing colon', 'Basic ' || pg_temp.b64('clientsecret')),
  ('empty client_id', 'Basic ' || pg_temp.b64(':secret')),
  ('empty both', 'Basic ' || pg_temp.b64(':')),
  ('scheme only', 'Basic'),
  ('scheme and spaces', 'Basic   '),
  ('tab separator', E'Basic\t' || pg_temp.b64('client:secret')),
  ('garbage', 'Basic !!!!'),
  ('not base64', 'Basic client:secret'),
  ('missing padding', 'Basic ' || rtrim(pg_temp.b64('client:secret'), '=')),
  ('half padding', 'Basic ' || rtrim(pg_temp.b64('client:secret'), '=') || '='),
  ('padding only', 'Basic ===='),
  ('extra padding', 'Basic ' || pg_temp.b64('client:secret') || '='),
  ('padding inside', 'Basic Y2xp=ZW50OnNlY3JldA=='),
  ('base64url alphabet', 'Basic ' || translate(pg_temp.b64('client:s?>?'), '+/', '-_')),
  ('two tokens', 'Basic ' || pg_temp.b64('client:secret') || ' ' || pg_temp.b64('x:y')),
  ('non-canonical bits', 'Basic Y2xpZW50OnNlY3JldB=='),
  ('bad escape in id', 'Basic ' || pg_temp.b64('cl%zzient:secret')),
  ('bad escape in secret', 'Basic ' || pg_temp.b64('client:se%4')),
  ('escaped NUL', 'Basic ' || pg_temp.b64('client:a%00b')),
  ('escaped invalid utf-8', 'Basic ' || pg_temp.b64('client:%FF')),
  ('raw invalid utf-8', 'Basic ' || encode('\x613aff'::bytea, 'base64')),
  ('raw NUL', 'Basic ' || encode('\x613a00'::bytea, 'base64')),
  ('raw control character', 'Basic ' || encode('\x613a620a'::bytea, 'base64')),
  ('encoded space id', 'Basic ' || pg_temp.b64('+:x'))) AS t(label, h);
SELECT count(*) AS null_header_rows FROM oauth.basic_credentials(NULL);

-- form_encode / url_encode: unreserved kept, the rest %XX upper-case, space %20.
SELECT oauth.url_encode('AZaz09-._~') AS unreserved,
       oauth.url_encode('a b+c&d=e/f?g#h%i') AS reserved,
       oauth.url_encode('é€😀') AS utf8,
       oauth.url_encode('') AS empty,
       oauth.url_encode(E'\n\t"<>') AS controls;
SELECT oauth.form_encode('{"code": "bfac_a-b_c", "state": "x y/z?&=", "iss": "https://acme.example.com"}') AS redirect,
       oauth.form_encode('{"state": null, "code": "c"}') AS null_left_out,
       oauth.form_encode('{"n": 1.50, "t": true, "f": false, "z": -0}') AS scalars,
       oauth.form_encode('{"clé": "välue"}') AS utf8,
       oauth.form_encode('{}') AS empty;
SELECT j, pg_temp.try(format('SELECT oauth.form_encode(%L)', j)) AS result
FROM unnest(ARRAY['{"a": [1]}', '{"a": {"b": 1}}', '[1, 2]', '"s"', '1', 'null']) AS j;
-- form_decode(form_encode(x)) = x for any object of strings.
SELECT oauth.form_decode(oauth.form_encode(j)) = j AS round_trip
FROM (VALUES ('{"a": "1", "b c": "d&e=f", "€": "%+/ "}'::jsonb),
             (jsonb_build_object('k', repeat('é', 1000), 'v', '')),
             ('{}'::jsonb)) AS t(j);

-- html_escape: the five characters, nothing else.
SELECT oauth.html_escape($$<script>alert("x&'y")</script>$$) AS script,
       oauth.html_escape('a &amp; b') AS double_escape,
       oauth.html_escape('plain text é') AS untouched,
       oauth.html_escape('') AS empty,
       oauth.html_escape(NULL) IS NULL AS strict;

-- The scope rules (C, scopes.c): sorted and distinct, unknown or malformed
-- values refused, blank gives none; intersection in the first's order;
-- NULL elements left out of the text; what a request may get within a ceiling.
SELECT s AS given, oauth._scopes(s) AS scopes
  FROM unnest(ARRAY['write read read', 'admin openid', '', '   ', NULL, 'read	write', 'read bogus', 'READ', ' read  write ']) s;
SELECT oauth._scope_and('{read,write,admin}', '{admin,read}') AS both_, oauth._scope_and('{read}', NULL) AS none_,
       oauth._scope_and(NULL, '{read}') AS none2, oauth._scope_text('{read,NULL,write}') AS text_,
       oauth._scope_text('{}') AS empty_text, oauth._scope_text(NULL) AS null_text;
SELECT r AS requested, g.scopes, g.err
  FROM unnest(ARRAY[NULL, '  ', 'read', 'admin', 'read admin', 'bogus']) r,
       LATERAL oauth._grant_scope(r, '{profile,read}') g;
