-- OpenID Connect (issue 12): signing keys encrypted at rest and rotated,
-- id_token claims per scope, at_hash, auth_time with max_age, prompt,
-- userinfo, RP-initiated logout, sessions and consents, JWT access tokens
-- (revocable), resource indicators, and the interop fixes: loopback ports,
-- private-use schemes, PKCE for every client, refresh family cap.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
CREATE OR REPLACE FUNCTION public.jwt_claims(jwt text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT convert_from(oauth.base64url_decode(split_part(jwt, '.', 2)), 'UTF8')::jsonb
$$;
CREATE OR REPLACE FUNCTION public.jwt_header(jwt text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT convert_from(oauth.base64url_decode(split_part(jwt, '.', 1)), 'UTF8')::jsonb
$$;
-- An authorization request's outcome in short (read from the answer itself).
CREATE OR REPLACE FUNCTION public.az(method text, params jsonb, cookies jsonb DEFAULT '{}',
  OUT status integer, OUT error text, OUT description text, OUT has_code boolean, OUT h1 text) LANGUAGE plpgsql AS $$
DECLARE a record;
BEGIN
  SELECT * INTO a FROM public.authz('oidc-a', method, params, cookies);
  status := a.status;
  error := public.query_param(a.headers->>'Location', 'error');
  description := public.query_param(a.headers->>'Location', 'error_description');
  has_code := public.query_param(a.headers->>'Location', 'code') IS NOT NULL;
  h1 := (regexp_match(a.body, '<h1>(.*?)</h1>'))[1];
END $$;
-- RP-initiated logout as the gateway calls it (tenant context first).
CREATE OR REPLACE FUNCTION public.logout(method text, params jsonb, cookies jsonb DEFAULT '{}',
  OUT status integer, OUT location text, OUT cookies_set text, OUT h1 text) LANGUAGE plpgsql AS $$
DECLARE a record;
BEGIN
  PERFORM public.enter('oidc-a');
  SELECT * INTO a FROM api.logout_answer(oauth.end_session_endpoint(method, params, cookies, 'http://localhost:8080/t/oidc-a'),
                                         'http://localhost:8080/t/oidc-a', false);
  status := a.status; location := a.headers->>'Location'; h1 := (regexp_match(a.body, '<h1>(.*?)</h1>'))[1];
  cookies_set := public.mask_text(a.headers->>'Set-Cookie');
END $$;
\set verifier 'oidc-test-verifier-0123456789-0123456789-0123456789'
SELECT oauth.pkce_s256(:'verifier') AS challenge \gset
SELECT tenant_id AS oa FROM tenancy.register_tenant('oidc-a', 'OIDC A', 'owner@oa.test', 'owner-password') \gset
BEGIN;
SELECT tenancy.enter_tenant('oidc-a') IS NOT NULL AS entered;
SELECT id AS una FROM tenancy.create_user('una@oa.test', 'una-password', 'user', 'Una Example') \gset
SELECT public.seen(oauth.create_client('{"client_id": "rp-app", "client_name": "Relying Party", "redirect_uris": ["https://rp.example/cb", "http://127.0.0.1/native", "http://[::1]:8000/native"], "post_logout_redirect_uris": ["https://rp.example/bye"], "grant_types": ["authorization_code", "refresh_token"], "scope": "openid email profile read"}')) ->> 'post_logout_redirect_uris' AS logout_uris;
SELECT public.seen_last('client_secret') AS rp_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "jwtapp", "client_name": "JWT app", "access_token_format": "jwt", "grant_types": ["client_credentials"], "scope": "read"}')) ->> 'access_token_format' AS format;
SELECT public.seen_last('client_secret') AS jwt_secret \gset
SELECT public.mask(oauth.create_client('{"client_id": "es-app", "client_name": "ES256 app", "redirect_uris": ["https://es.example/cb"], "id_token_signed_response_alg": "ES256", "scope": "openid"}')) ->> 'id_token_signed_response_alg' AS es_alg;
COMMIT;

-- Keys: made on first use, two per algorithm (active + next, published), private parts sealed.
\c - bf_test_gw
SET client_min_messages = warning;
BEGIN;
SELECT public.enter('oidc-a');
SELECT jsonb_array_length(oauth.jwks_document(:'oa') -> 'keys') AS published,
       (SELECT count(*) FROM jsonb_array_elements(oauth.jwks_document(:'oa') -> 'keys') k
         WHERE k ?| ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi']) AS private_members,
       (SELECT string_agg(DISTINCT k->>'kty' || '/' || (k->>'alg') || '/' || (k->>'use'), ' ' ORDER BY k->>'kty' || '/' || (k->>'alg') || '/' || (k->>'use'))
          FROM jsonb_array_elements(oauth.jwks_document(:'oa') -> 'keys') k) AS kinds;
COMMIT;
\c - postgres
SET client_min_messages = warning;
-- At rest: sealed blobs ("BFK1" | nonce | ciphertext | tag), never PEM, DER or a JWK with d.
SELECT alg, state, substring(private_key FROM 1 FOR 4) = '\x42464b31'::bytea AS sealed,
       position('\x3082'::bytea IN substring(private_key FROM 5 FOR 16)) = 0 AS not_der,
       position(convert_to('PRIVATE KEY', 'UTF8') IN private_key) = 0 AS not_pem,
       NOT public_jwk ? 'd' AS public_only
  FROM oauth.signing_keys WHERE tenant_id = :'oa' ORDER BY alg, state;
-- Applications see no key column at all.
SELECT has_table_privilege('backend_app', 'oauth.signing_keys', 'SELECT') AS app_reads_keys,
       has_function_privilege('backend_app', 'oauth._jws_sign(text,text,bytea,text,text)', 'EXECUTE') AS app_signs,
       has_function_privilege('backend_gateway', 'oauth._key_generate(text)', 'EXECUTE') AS gateway_generates;
-- The KEK is hidden from non-superusers.
SET ROLE bf_test_app;
SELECT current_setting('backend_framework.key_encryption_key_file');
RESET ROLE;
-- Without the right KEK the keys are useless: a wrong one does not decrypt, none refuses to make keys.
BEGIN;
SET LOCAL backend_framework.key_encryption_key = '0000000000000000000000000000000000000000000000000000000000000000';
SELECT (oauth._sign_jwt(:'oa', 'RS256', 'JWT', '{}')).kid;
ROLLBACK;
BEGIN;
SET LOCAL backend_framework.key_encryption_key_file = '';
SELECT oauth._new_signing_key(:'oa', 'RS256', 'next');
ROLLBACK;
SET backend_framework.key_encryption_key = 'not hex';

-- Code flow with openid: the id_token ---------------------------------------------------------
\c - bf_test_gw
SET client_min_messages = warning;
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb',
  'scope', 'openid email profile', 'nonce', 'n-0S6_WzA2Mj', 'state', 's1', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'),
  'una@oa.test', 'una-password') AS code \gset
SELECT status, body ? 'id_token' AS has_id_token, body->>'scope' AS scope
  FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT public.seen_last('id_token') AS idt, public.seen_last('access_token') AS at, public.seen_last('refresh_token') AS rt \gset
BEGIN;
SELECT public.enter('oidc-a');
SELECT public.jwt_header(:'idt') - 'kid' AS header, public.jwt_header(:'idt')->>'kid' IN (SELECT k->>'kid' FROM jsonb_array_elements(oauth.jwks_document(:'oa')->'keys') k) AS kid_published;
COMMIT;
SELECT c->>'iss' AS iss, c->>'sub' = :'una' AS sub_is_user, c->>'aud' AS aud, c->>'azp' AS azp, c->>'nonce' AS nonce,
       (c->>'exp')::bigint - (c->>'iat')::bigint AS lifetime, abs((c->>'auth_time')::bigint - extract(epoch FROM now())) < 60 AS auth_time_now,
       c->>'name' AS name, c->>'email' AS email, c->>'email_verified' AS email_verified, c ? 'sid' AS has_sid,
       -- at_hash: base64url of the left half of SHA-256 of the access token, computed here with pgcrypto.
       c->>'at_hash' = rtrim(translate(encode(substring(public.digest(:'at', 'sha256') FROM 1 FOR 16), 'base64'), '+/', '-_'), '=') AS at_hash_ok
  FROM public.jwt_claims(:'idt') c;
-- The signature verifies with the published key; a changed byte does not.
\c - postgres
SET client_min_messages = warning;
SELECT oauth._verify_jwt(:'oa', :'idt') IS NOT NULL AS verifies,
       oauth._verify_jwt(:'oa', :'idt' || 'A') IS NULL AS tampered_fails,
       oauth._verify_jwt(:'oa', regexp_replace(:'idt', '^[^.]*', oauth.base64url_encode(convert_to('{"alg":"none"}', 'UTF8')))) IS NULL AS alg_none_fails;
\c - bf_test_gw
SET client_min_messages = warning;

-- Claims per scope: openid alone gives sub only; email adds email; the userinfo sub is the id_token's.
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb',
  'scope', 'openid', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT public.jwt_claims(public.seen_last('id_token')) - 'iss' - 'iat' - 'exp' - 'auth_time' - 'at_hash' - 'sid' - 'sub' AS openid_only;
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb',
  'scope', 'openid email', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT public.jwt_claims(public.seen_last('id_token')) - 'iss' - 'iat' - 'exp' - 'auth_time' - 'at_hash' - 'sid' - 'sub' AS openid_email;
SELECT public.seen_last('access_token') AS at_email \gset
-- No openid, no id_token.
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb',
  'scope', 'read', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT body ? 'id_token' AS has_id_token FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
BEGIN;
SELECT tenancy.authenticate(:'at_email');
SELECT oauth.userinfo() - 'sub' AS userinfo, oauth.userinfo()->>'sub' = :'una' AS same_sub;
ROLLBACK;

-- Refresh: a new id_token, same sub and auth_time, no nonce.
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt'), public.basic('rp-app', :'rp_secret'));
SELECT c->>'sub' = :'una' AS same_sub, c->>'auth_time' = public.jwt_claims(:'idt')->>'auth_time' AS same_auth_time, c ? 'nonce' AS has_nonce,
       c->>'at_hash' = rtrim(translate(encode(substring(public.digest(public.seen_last('access_token'), 'sha256') FROM 1 FOR 16), 'base64'), '+/', '-_'), '=') AS at_hash_ok
  FROM public.jwt_claims(public.seen_last('id_token')) c;

-- prompt and max_age --------------------------------------------------------------------------
-- A signed-in session (cookie) gets the code without a page; prompt=none too; prompt=login shows the sign-in page.
SELECT status AS signed_in FROM public.authz('oidc-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256', 'csrf', public.test_csrf_field(), 'email', 'una@oa.test', 'password', 'una-password', 'action', 'allow'),
  jsonb_build_object('bf_csrf', public.test_csrf()));
SELECT public.last_cookie('bf_session') AS sess \gset
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'prompt', 'none', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'prompt', 'login', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
-- The same request by POST from the relying party (OpenID Connect Core 3.1.2.1).
SELECT * FROM public.az('POST', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
-- An id_token_hint of the signed-in user is honoured; a forged hint is invalid_request.
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'prompt', 'none',
  'id_token_hint', :'idt', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'prompt', 'none',
  'id_token_hint', :'idt' || 'x', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
-- The session signed in ten minutes ago: max_age=600 is fine, max_age=60 is not (login_required; else the sign-in page).
\c - postgres
UPDATE oauth.login_sessions SET created_at = now() - interval '10 minutes' WHERE tenant_id = :'oa' AND session_hash = oauth.token_digest(:'sess');
\c - bf_test_gw
SET client_min_messages = warning;
SELECT status AS asked FROM public.authz('oidc-a', 'GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'nonce', 'm1',
  'max_age', '900', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
SELECT public.last_location('code') AS code \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT extract(epoch FROM now())::bigint - (public.jwt_claims(public.seen_last('id_token'))->>'auth_time')::bigint BETWEEN 590 AND 660 AS auth_time_is_session_start,
       public.jwt_claims(public.seen_last('id_token'))->>'nonce' AS nonce;
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'prompt', 'none',
  'max_age', '60', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'max_age', '60', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
-- Signing in again: auth_time is now.
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'max_age', '60',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT extract(epoch FROM now())::bigint - (public.jwt_claims(public.seen_last('id_token'))->>'auth_time')::bigint < 5 AS auth_time_fresh;
-- Bad OpenID parameters go back to the client.
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'response_mode', 'fragment', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'));
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'prompt', 'none login', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'));
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid',
  'max_age', 'soon', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'));

-- Interop fixes ---------------------------------------------------------------------------------
-- PKCE is required of confidential clients too unless the tenant relaxes it.
SELECT * FROM public.az('GET', '{"response_type": "code", "client_id": "rp-app", "redirect_uri": "https://rp.example/cb"}');
-- Loopback redirect URIs: any port for 127.0.0.1 and [::1] (RFC 8252 section 7.3), never another path or host.
SELECT u, oauth._match_redirect_uri('{http://127.0.0.1/native,"http://[::1]:8000/native",https://rp.example/cb}', u) IS NOT NULL AS accepted
  FROM unnest(ARRAY['http://127.0.0.1:51234/native', 'http://127.0.0.1/native', 'http://[::1]/native', 'http://[::1]:9/native',
                    'http://127.0.0.1:51234/other', 'http://localhost:51234/native', 'https://rp.example:8443/cb', 'http://127.0.0.1.evil/native']) u;
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'http://127.0.0.1:49152/native', 'scope', 'openid',
  'prompt', 'none', 'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess'));
-- Private-use URI schemes for native (public) clients (RFC 8252 section 7.1); never for web clients.
\c - postgres
SET client_min_messages = warning;
BEGIN;
SELECT tenancy.enter_tenant('oidc-a') IS NOT NULL AS entered;
SELECT oauth.create_client('{"client_id": "native", "client_name": "Native", "token_endpoint_auth_method": "none", "application_type": "native", "redirect_uris": ["com.example.app:/oauth2redirect"]}') -> 'redirect_uris' AS native_uris;
SAVEPOINT s;
SELECT oauth.create_client('{"client_name": "Web", "redirect_uris": ["com.example.app:/cb"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "Native JS", "token_endpoint_auth_method": "none", "redirect_uris": ["javascript:alert(1)"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "Native data", "token_endpoint_auth_method": "none", "redirect_uris": ["data:text/html,x"]}');
ROLLBACK TO s;
-- Refresh families end: tenant setting refresh_token_max_lifetime caps every rotation.
SELECT tenancy.set_settings('{"refresh_token_max_lifetime": 120}') ->> 'refresh_token_max_lifetime' AS cap;
COMMIT;
\c - bf_test_gw
SET client_min_messages = warning;
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid read',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT public.seen_last('refresh_token') AS rt2 \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt2'), public.basic('rp-app', :'rp_secret'));
SELECT public.seen_last('refresh_token') AS rt3 \gset
\c - postgres
SELECT expires_at <= created_at + interval '121 seconds' AS capped, family_expires_at - created_at <= interval '121 seconds' AS family_capped
  FROM oauth.tokens WHERE tenant_id = :'oa' AND token_hash = oauth.token_digest(:'rt3');
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE tenant_id = :'oa' AND token_hash = oauth.token_digest(:'rt3');
\c - bf_test_gw
SET client_min_messages = warning;
SELECT status, body->>'error' AS error FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt3'), public.basic('rp-app', :'rp_secret'));

-- Resource indicators (RFC 8707): unknown → invalid_target; a known other resource becomes aud and is refused by this API.
SELECT status, body->>'error' AS error FROM public.tok('oidc-a', '{"grant_type": "client_credentials", "resource": "https://elsewhere.example/"}', public.basic('jwtapp', :'jwt_secret'));
\c - postgres
BEGIN;
SELECT tenancy.enter_tenant('oidc-a') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"resource_indicators": ["https://api.partner.example/"]}') -> 'resource_indicators' AS resources;
COMMIT;
\c - bf_test_gw
SET client_min_messages = warning;
SELECT status FROM public.tok('oidc-a', '{"grant_type": "client_credentials", "resource": "https://api.partner.example/"}', public.basic('jwtapp', :'jwt_secret'));
SELECT public.jwt_claims(public.seen_last('access_token'))->>'aud' AS aud;
SELECT public.seen_last('access_token') AS partner_at \gset
SELECT tenancy.authenticate(:'partner_at');

-- JWT access tokens (RFC 9068): signed at+jwt, accepted and revocable like opaque ones.
SELECT status FROM public.tok('oidc-a', '{"grant_type": "client_credentials"}', public.basic('jwtapp', :'jwt_secret'));
SELECT public.seen_last('access_token') AS jat \gset
SELECT public.jwt_header(:'jat')->>'typ' AS typ, public.jwt_header(:'jat')->>'alg' AS alg,
       (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(public.jwt_claims(:'jat')) k) AS claims,
       public.jwt_claims(:'jat')->>'aud' = public.jwt_claims(:'jat')->>'iss' AS aud_is_own_api;
BEGIN;
SELECT tenancy.authenticate(:'jat');
SELECT tenancy.current_client_id() AS client;
ROLLBACK;
SELECT (body->>'active')::boolean AS active FROM public.t_introspect('oidc-a', jsonb_build_object('token', :'jat'), public.basic('jwtapp', :'jwt_secret'));
SELECT status FROM public.t_revoke('oidc-a', jsonb_build_object('token', :'jat'), public.basic('jwtapp', :'jwt_secret'));
SELECT body FROM public.t_introspect('oidc-a', jsonb_build_object('token', :'jat'), public.basic('jwtapp', :'jwt_secret'));
SELECT tenancy.authenticate(:'jat');

-- Rotation: the next key (already published) signs; the old one stays in JWKS while its tokens live.
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS published_before FROM oauth.signing_keys WHERE tenant_id = :'oa' AND (state <> 'retired' OR published_until > now());
SELECT kid AS next_rs FROM oauth.signing_keys WHERE tenant_id = :'oa' AND alg = 'RS256' AND state = 'next' \gset
SELECT jsonb_array_length(r->'retired') AS retired, r->'activated' ? :'next_rs' AS next_now_active
  FROM oauth.rotate_signing_keys(:'oa') r;
SELECT oauth._verify_jwt(:'oa', :'idt') IS NOT NULL AS old_id_token_verifies,
       state, published_until > now() + interval '50 minutes' AS published_while_tokens_live
  FROM oauth.signing_keys WHERE tenant_id = :'oa' AND kid = public.jwt_header(:'idt')->>'kid';
-- After its publication ends, the scheduled job removes it; the token no longer verifies.
UPDATE oauth.signing_keys SET published_until = now() - interval '1 second' WHERE tenant_id = :'oa' AND state = 'retired';
SELECT oauth.rotate_keys_if_due() AS rotated;
SELECT oauth._verify_jwt(:'oa', :'idt') IS NULL AS old_id_token_unverifiable, count(*) AS keys FROM oauth.signing_keys WHERE tenant_id = :'oa';
-- Only platform operators rotate.
SET ROLE bf_test_app;
SELECT oauth.rotate_signing_keys(:'oa');
RESET ROLE;

-- Sessions, consents and RP-initiated logout ---------------------------------------------------
\c - bf_test_gw
SET client_min_messages = warning;
SELECT public.code_for('oidc-a', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid read',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256'), 'una@oa.test', 'una-password') AS code \gset
SELECT public.last_cookie('bf_session') AS sess2 \gset
SELECT status FROM public.tok('oidc-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'redirect_uri', 'https://rp.example/cb', 'code_verifier', :'verifier'), public.basic('rp-app', :'rp_secret'));
SELECT public.seen_last('id_token') AS idt2, public.seen_last('access_token') AS at2 \gset
BEGIN;
SELECT tenancy.authenticate(:'at2');
SELECT jsonb_array_length(oauth.my_sessions()) >= 1 AS has_sessions, (SELECT jsonb_agg(c - 'granted_at') FROM jsonb_array_elements(oauth.my_consents()) c) AS consents;
ROLLBACK;
-- Logout with the hint and a registered post_logout_redirect_uri: 303 with state; the session cookie is cleared.
SELECT * FROM public.logout('GET', jsonb_build_object('id_token_hint', :'idt2', 'post_logout_redirect_uri', 'https://rp.example/bye', 'state', 'bye-1'),
                             jsonb_build_object('bf_session', :'sess2'));
-- The session is gone: prompt=none answers login_required.
SELECT * FROM public.az('GET', jsonb_build_object('response_type', 'code', 'client_id', 'rp-app', 'redirect_uri', 'https://rp.example/cb', 'scope', 'openid', 'prompt', 'none',
  'code_challenge', :'challenge', 'code_challenge_method', 'S256'), jsonb_build_object('bf_session', :'sess2'));
-- Without state the way back is the registered URI as it is (it used to be the "signed out" page).
SELECT * FROM public.logout('GET', '{"client_id": "rp-app", "post_logout_redirect_uri": "https://rp.example/bye"}');
-- Unregistered post_logout_redirect_uri: an error page, never a redirect; without a hint the user confirms first.
SELECT * FROM public.logout('GET', jsonb_build_object('id_token_hint', :'idt2', 'post_logout_redirect_uri', 'https://evil.example/'));
SELECT * FROM public.logout('GET', '{}', jsonb_build_object('bf_session', :'sess'));
-- A forged hint is refused; an expired one of ours is fine (it is only a hint).
SELECT * FROM public.logout('GET', jsonb_build_object('id_token_hint', :'idt2' || 'x', 'post_logout_redirect_uri', 'https://rp.example/bye'));
-- Withdrawing consent revokes the client's tokens for the user.
BEGIN;
SELECT tenancy.authenticate(:'at2');
SELECT oauth.revoke_my_consent('rp-app') > 0 AS revoked_tokens;
COMMIT;
SELECT tenancy.authenticate(:'at2');
-- The password grant is never issued to a public client, even one registered so before 0.2.0.
\c - postgres
INSERT INTO oauth.clients (tenant_id, client_id, client_name, token_endpoint_auth_method, grant_types, response_types, scope)
VALUES (:'oa', 'legacy-public', 'Legacy public', 'none', '{password}', '{}', 'read');
\c - bf_test_gw
SET client_min_messages = warning;
SELECT status, body FROM public.tok('oidc-a', '{"grant_type": "password", "client_id": "legacy-public", "username": "una@oa.test", "password": "una-password"}');
