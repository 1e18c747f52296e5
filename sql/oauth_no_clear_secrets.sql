-- Secrets never at rest in clear (invariant 3). Every answer the OAuth
-- suites received was recorded in public.oauth_seen (see
-- oauth_helpers.psql); this suite, which runs after them, collects every
-- client secret, registration token, authorization code, access and refresh
-- token, session id and CSRF cookie handed out, and looks for each of them
-- in every text, bytea, json and array column of every table of the oauth
-- and tenancy schemas — also without its prefix, and bytea columns also as
-- raw bytes (all oauth bytea columns are CHECKed to 32 bytes anyway). It
-- must find none; it must find their SHA-256 digests.
\i sql/oauth_helpers.psql
-- A few of each kind, so the scan has something to look for even when run alone.
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS sa FROM tenancy.register_tenant('secrets-a', 'Secrets A', 'owner@sa.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'sa');
BEGIN;
SELECT tenancy.enter_tenant('secrets-a') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "cli", "client_name": "C", "redirect_uris": ["https://c.example/cb"], "grant_types": ["authorization_code", "refresh_token", "client_credentials", "password"]}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS c_secret \gset
SELECT tenancy.set_settings('{"open_registration": true}') ->> 'open_registration' AS open_registration;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('secrets-a', '{"grant_type": "password", "username": "owner@sa.test", "password": "owner-password"}', public.basic('cli', :'c_secret'));
SELECT status FROM public.tok('secrets-a', '{"grant_type": "client_credentials"}', public.basic('cli', :'c_secret'));
SELECT status FROM public.authz('secrets-a', 'GET', '{"response_type": "code", "client_id": "cli"}');
SELECT status FROM public.authz('secrets-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'cli', 'email', 'owner@sa.test', 'password', 'owner-password', 'action', 'allow', 'csrf', public.test_csrf_field()),
                                jsonb_build_object('bf_csrf', public.test_csrf()));
SELECT public.last_location('code') AS code \gset
SELECT status FROM public.tok('secrets-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code'), public.basic('cli', :'c_secret'));
SELECT status FROM public.t_register('secrets-a', 'POST', NULL, '{"client_name": "R", "redirect_uris": ["https://r.example/cb"]}', NULL);
\c - postgres
BEGIN;
SELECT tenancy.enter_tenant('secrets-a') IS NOT NULL AS entered;
SELECT tenancy.reset_password(id) IS NOT NULL AS reset FROM tenancy.create_user('reset@sa.test', 'reset-password');
COMMIT;
SELECT count(public.seen(jsonb_build_object('reset_token', reset_token))) > 0 AS reset_mail FROM tenancy.take_password_reset_mail();
\set VERBOSITY terse

-- Everything handed out (secret-shaped strings in any recorded answer: bodies, Location and Set-Cookie headers).
CREATE TEMP TABLE handed_out AS
  SELECT DISTINCT m[1] AS secret, substr(m[1], 6) AS random_part
    FROM public.oauth_seen, regexp_matches(body::text, '(bf(?:at|rt|ac|cs|rg|ss|cf|pr)_[A-Za-z0-9_-]{43})', 'g') m;
SELECT left(secret, 5) AS kind, count(*) > 0 AS handed_out FROM handed_out GROUP BY 1 ORDER BY 1;

-- The columns scanned: every text-like, bytea, json and array column of every table of both schemas.
CREATE TEMP TABLE scanned AS
  SELECT c.oid::regclass AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS typ
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
   WHERE n.nspname IN ('oauth', 'tenancy') AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
     AND (a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype, 'bytea'::regtype,
                         'json'::regtype, 'jsonb'::regtype, 'regclass'::regtype)
          OR format_type(a.atttypid, NULL) LIKE '%[]');
SELECT tbl, string_agg(col || ' ' || typ, ', ' ORDER BY col) AS columns FROM scanned WHERE tbl::text LIKE 'oauth.%' GROUP BY tbl ORDER BY tbl::text;

-- Hits: a handed-out value (or its random part) inside a stored value; bytea also compared as raw bytes.
CREATE FUNCTION pg_temp.scan() RETURNS TABLE (tbl regclass, col name, hits bigint) LANGUAGE plpgsql AS $$
DECLARE s record;
BEGIN
  FOR s IN SELECT * FROM scanned LOOP
    tbl := s.tbl; col := s.col;
    EXECUTE format($q$
      SELECT count(*) FROM (SELECT DISTINCT %1$s AS v FROM %2$s WHERE %3$I IS NOT NULL) x
        JOIN handed_out h ON strpos(x.v, h.random_part) > 0$q$,
      CASE WHEN s.typ = 'bytea' THEN format('%I::text || encode(%I, ''escape'')', s.col, s.col)
           ELSE format('%I::text', s.col) END,
      s.tbl, s.col) INTO hits;
    RETURN NEXT;
  END LOOP;
END $$;
SELECT count(*) > 30 AS columns_scanned, sum(hits) AS secrets_found_in_clear FROM pg_temp.scan();
SELECT * FROM pg_temp.scan() WHERE hits > 0;
-- The scan does find a secret stored in clear (so an empty answer above means something).
BEGIN;
INSERT INTO oauth.login_attempts (tenant_id, kind, key) VALUES (:'sa', 'email', 'x' || (SELECT max(secret) FROM handed_out WHERE secret LIKE 'bfat_%'));
SELECT * FROM pg_temp.scan() WHERE hits > 0;
ROLLBACK;

-- What is stored instead: their SHA-256 digests (so the scan above looked in the right places).
SELECT left(h.secret, 5) AS kind,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM oauth.tokens t WHERE t.token_hash = oauth.token_digest(h.secret))
                           OR EXISTS (SELECT 1 FROM oauth.clients c WHERE c.secret_hash = oauth.token_digest(h.secret)
                                                                       OR c.registration_token_hash = oauth.token_digest(h.secret))
                           OR EXISTS (SELECT 1 FROM oauth.authorization_codes a WHERE a.code_hash = oauth.token_digest(h.secret))
                           OR EXISTS (SELECT 1 FROM oauth.login_sessions l WHERE l.session_hash = oauth.token_digest(h.secret))
                           OR EXISTS (SELECT 1 FROM tenancy.password_resets p WHERE p.token_hash = oauth.token_digest(h.secret))) > 0
         AS digest_stored
  FROM handed_out h WHERE left(h.secret, 5) <> 'bfcf_' GROUP BY 1 ORDER BY 1;
-- The CSRF cookie is not stored at all: the form carries its digest, compared with the cookie's.
SELECT count(*) AS csrf_values_stored FROM handed_out h
 WHERE left(h.secret, 5) = 'bfcf_' AND EXISTS (SELECT 1 FROM oauth.login_sessions l WHERE l.session_hash = oauth.token_digest(h.secret));
