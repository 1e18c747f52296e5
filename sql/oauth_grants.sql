-- The token endpoint (RFC 6749): the four grants, each success path and
-- every section 5.2 error it can give, client authentication, PKCE (RFC
-- 7636, Appendix B vector), code replay, refresh rotation and reuse
-- detection, scope intersection rules, lifetimes, throttling.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS ga FROM tenancy.register_tenant('grants-a', 'Grants A', 'owner@ga.test', 'owner-password') \gset
SELECT tenant_id AS gb FROM tenancy.register_tenant('grants-b', 'Grants B', 'owner@gb.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'ga', :'gb');
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT email, role FROM tenancy.create_user('alice@ga.test', 'alice-password', 'user', 'Alice');
SELECT email, role FROM tenancy.create_user('adam@ga.test', 'adam-password', 'admin', 'Adam');
SELECT email, role FROM tenancy.create_user('dora@ga.test', 'dora-password', 'user', 'Dora');
SELECT public.seen(oauth.create_client('{"client_id": "svc", "client_name": "Service", "grant_types": ["client_credentials", "password", "refresh_token"], "scope": "read write profile admin"}'));
SELECT public.seen_last('client_secret') AS svc_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "poster", "client_name": "Poster", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_post"}'));
SELECT public.seen_last('client_secret') AS poster_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "web", "client_name": "Web App", "redirect_uris": ["https://web.example/cb", "https://web.example/other?x=1"], "grant_types": ["authorization_code", "refresh_token"], "scope": "read write profile"}'));
SELECT public.seen_last('client_secret') AS web_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "spa", "client_name": "Single Page", "redirect_uris": ["http://127.0.0.1:3000/cb"], "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none", "scope": "read write profile admin"}'));
SELECT public.seen(oauth.create_client('{"client_id": "pwonly", "client_name": "Password only", "grant_types": ["password"], "scope": "read"}'));
SELECT public.seen_last('client_secret') AS pwonly_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "native", "client_name": "Native", "grant_types": ["refresh_token"], "token_endpoint_auth_method": "none", "scope": "read"}'));
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('grants-b') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "svc", "client_name": "Service B", "grant_types": ["client_credentials"], "scope": "read"}'));
SELECT public.seen_last('client_secret') AS svc_b_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "web", "client_name": "Web B", "redirect_uris": ["https://web.example/cb"], "grant_types": ["authorization_code"]}'));
SELECT public.seen_last('client_secret') AS web_b_secret \gset
COMMIT;

\c - bf_test_gw
\set VERBOSITY terse
-- client_credentials ---------------------------------------------------------
-- Success with client_secret_basic: default scope = the client's; no refresh token (RFC 6749 section 4.4.3).
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('svc', :'svc_secret'));
SELECT public.seen_last('access_token') AS cc_at \gset
-- Success with client_secret_post; scope narrowed on request.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'poster', 'client_secret', :'poster_secret', 'scope', 'read'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "scope": "write read"}', public.basic('svc', :'svc_secret'));
-- Scopes: requested ∩ client's; unknown or nothing left is invalid_scope.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'poster', 'client_secret', :'poster_secret', 'scope', 'read write'));
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'poster', 'client_secret', :'poster_secret', 'scope', 'write'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "scope": "read delete"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "scope": "read\twrite"}', public.basic('svc', :'svc_secret'));
-- invalid_client (401): wrong secret, unknown client, no authentication, malformed Basic,
-- the other method than registered, a secret sent by a public client, another tenant's client.
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('svc', 'bfcs_wrong'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('nobody', 'x'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}');
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', 'Basic !!!');
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', 'Basic ' || translate(encode('no-colon', 'base64'), E'\n', ''));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', 'Bearer abc');
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'svc', 'client_secret', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('poster', :'poster_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "client_id": "native", "client_secret": "x", "username": "alice@ga.test", "password": "alice-password"}');
SELECT * FROM public.tok('grants-b', '{"grant_type": "client_credentials"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('svc', :'svc_b_secret'));
-- invalid_request: credentials in both places, differing client ids, no grant_type, non-text parameters.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'client_credentials', 'client_secret', :'svc_secret'), public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "client_id": "poster"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "client_id": "svc"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": ["client_credentials"]}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', NULL, public.basic('svc', :'svc_secret'));
-- unsupported_grant_type, unauthorized_client.
SELECT * FROM public.tok('grants-a', '{"grant_type": "implicit"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials"}', public.basic('web', :'web_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "client_credentials", "client_id": "spa"}');
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('web', :'web_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "refresh_token", "refresh_token": "x"}', public.basic('pwonly', :'pwonly_secret'));
-- No tenant in the context (the gateway never calls so): P0002, nothing else looked at.
SELECT * FROM oauth.token_endpoint('{"grant_type": "client_credentials"}', public.basic('svc', :'svc_secret'), NULL);

-- password ----------------------------------------------------------------------
-- Success; default scope = client's ∩ the user's role (no admin for a user); refresh token because the client has that grant.
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'));
-- Email is case-insensitive. A public client never gets the password grant (issue 12; it cannot register it either).
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "ALICE@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "client_id": "native", "username": "alice@ga.test", "password": "alice-password"}');
-- Scope intersection: a user asking for admin gets what remains; only admin is invalid_scope; an admin gets admin.
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password", "scope": "read admin"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password", "scope": "admin"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password", "scope": "admin profile"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password", "scope": "write"}', public.basic('pwonly', :'pwonly_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password", "scope": "bogus"}', public.basic('svc', :'svc_secret'));
-- Errors: wrong password and unknown user look the same; missing fields; another tenant's user.
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "dora@ga.test", "password": "wrong"}', public.basic('svc', :'svc_secret'), '203.0.113.1');
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "nobody@ga.test", "password": "wrong"}', public.basic('svc', :'svc_secret'), '203.0.113.1');
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "dora@ga.test"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "password": "x"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "owner@gb.test", "password": "owner-password"}', public.basic('svc', :'svc_secret'), '203.0.113.1');
\c - postgres
\set VERBOSITY terse
-- A disabled user cannot sign in.
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT email, status FROM tenancy.update_user((SELECT id FROM tenancy.users WHERE email = 'dora@ga.test'), p_status => 'disabled');
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "dora@ga.test", "password": "dora-password"}', public.basic('svc', :'svc_secret'), '203.0.113.2');

-- Throttling ----------------------------------------------------------------------------
-- Five failures from one address (alice's counter starts at 0: her sign-ins above succeeded)...
SELECT status, body->>'error_description' AS description
  FROM generate_series(1, 5) i, public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "guess"}', public.basic('svc', :'svc_secret'), '198.51.100.' || (7 + 0 * i));
-- ...then even the right password from that address is not checked:
SELECT status, body->>'error' AS error, regexp_replace(body->>'error_description', '[0-9]+', 'N') AS description
  FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'), '198.51.100.7');
-- ...and no other user from that address either (per-address back-off):
SELECT status, body->>'error' AS error, regexp_replace(body->>'error_description', '[0-9]+', 'N') AS description
  FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password"}', public.basic('svc', :'svc_secret'), '198.51.100.7');
\c - postgres
\set VERBOSITY terse
-- Throttled attempts were not counted; the e-mail counter is below its own threshold (20).
SELECT kind, key, failures FROM oauth.login_attempts WHERE tenant_id = :'ga' AND key IN ('alice@ga.test', '198.51.100.7') ORDER BY kind;
\c - bf_test_gw
\set VERBOSITY terse
-- The real user signs in from another address at the same time: no lock-out.
SELECT status, body->>'scope' AS scope FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'), '198.51.100.8');
\c - postgres
\set VERBOSITY terse
-- Her success cleared her e-mail counter; the guessing address stays throttled.
SELECT kind, key, failures FROM oauth.login_attempts WHERE tenant_id = :'ga' AND key IN ('alice@ga.test', '198.51.100.7') ORDER BY kind;
-- Back-off doubles per failure (2^(n-5) s): 10 failures wait 32 s, 30 wait the 15 minute cap.
UPDATE oauth.login_attempts SET failures = 10, last_failure_at = now() WHERE tenant_id = :'ga' AND key = '198.51.100.7';
SELECT oauth._throttle_wait(:'ga', 'x@ga.test', '198.51.100.7') BETWEEN 31 AND 32 AS waits_32_s;
UPDATE oauth.login_attempts SET failures = 30, last_failure_at = now() WHERE tenant_id = :'ga' AND key = '198.51.100.7';
SELECT oauth._throttle_wait(:'ga', 'x@ga.test', '198.51.100.7') BETWEEN 899 AND 900 AS waits_15_min;
-- Once the wait is over, the address may try again.
UPDATE oauth.login_attempts SET last_failure_at = now() - interval '901 seconds' WHERE tenant_id = :'ga' AND key = '198.51.100.7';
\c - bf_test_gw
\set VERBOSITY terse
SELECT status, body->>'scope' AS scope FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'), '198.51.100.7');
-- An attack spread over 20 addresses trips the per-e-mail back-off (then the user waits too, at most 15 minutes).
SELECT count(*) AS failures FROM generate_series(1, 20) i,
  public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "guess"}', public.basic('svc', :'svc_secret'), '192.0.2.' || (100 + i)) t
 WHERE t.body->>'error_description' = 'invalid username or password';
SELECT status, body->>'error' AS error, regexp_replace(body->>'error_description', '[0-9]+', 'N') AS description
  FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password"}', public.basic('svc', :'svc_secret'), '192.0.2.200');
\c - postgres
\set VERBOSITY terse
DELETE FROM oauth.login_attempts WHERE tenant_id = :'ga';
\c - bf_test_gw
\set VERBOSITY terse

-- authorization_code with PKCE -------------------------------------------------------------
-- RFC 7636 Appendix B: verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk, challenge E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM.
SELECT oauth.pkce_s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk') = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' AS appendix_b;
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1:3000/cb", "scope": "read profile", "state": "s1", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}', 'alice@ga.test', 'alice-password') AS code1 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code1', 'redirect_uri', 'http://127.0.0.1:3000/cb', 'code_verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'));
SELECT public.seen_last('access_token') AS code1_at, public.seen_last('refresh_token') AS code1_rt \gset
-- The code again: invalid_grant, and everything it issued is revoked (RFC 6749 section 4.1.2).
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code1', 'redirect_uri', 'http://127.0.0.1:3000/cb', 'code_verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'));
\c - postgres
\set VERBOSITY terse
SELECT kind, revoked_at IS NOT NULL AS revoked FROM oauth.tokens
 WHERE tenant_id = :'ga' AND token_hash IN (oauth.token_digest(:'code1_at'), oauth.token_digest(:'code1_rt')) ORDER BY kind;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'client_id', 'spa', 'refresh_token', :'code1_rt'));
-- A confidential client; the redirect URI keeps its query; the token request must repeat redirect_uri exactly.
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/other?x=1", "state": "s2"}', 'alice@ga.test', 'alice-password') AS code2 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code2'), public.basic('web', :'web_secret'));
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/other?x=1", "state": "s2"}', 'alice@ga.test', 'alice-password') AS code2 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code2', 'redirect_uri', 'https://web.example/cb'), public.basic('web', :'web_secret'));
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/other?x=1", "state": "s2"}', 'alice@ga.test', 'alice-password') AS code2 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code2', 'redirect_uri', 'https://web.example/other?x=1'), public.basic('web', :'web_secret'));
-- Expired code (60 s by default): simulated by moving its expiry.
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/cb"}', 'alice@ga.test', 'alice-password') AS code3 \gset
\c - postgres
\set VERBOSITY terse
SELECT extract(epoch FROM expires_at - created_at) AS code_lifetime FROM oauth.authorization_codes WHERE tenant_id = :'ga' AND code_hash = oauth.token_digest(:'code3');
UPDATE oauth.authorization_codes SET expires_at = now() - interval '1 second' WHERE tenant_id = :'ga' AND code_hash = oauth.token_digest(:'code3');
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code3', 'redirect_uri', 'https://web.example/cb'), public.basic('web', :'web_secret'));
-- PKCE downgrade, both ways: a challenge was sent but no verifier comes; no challenge was sent but a verifier comes.
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1:3000/cb", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}', 'alice@ga.test', 'alice-password') AS code4 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code4', 'redirect_uri', 'http://127.0.0.1:3000/cb'));
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/cb"}', 'alice@ga.test', 'alice-password') AS code5 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code5', 'redirect_uri', 'https://web.example/cb', 'code_verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), public.basic('web', :'web_secret'));
-- Wrong verifier; the challenge itself as verifier (a plain downgrade of an S256 challenge).
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1:3000/cb", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}', 'alice@ga.test', 'alice-password') AS code6 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code6', 'redirect_uri', 'http://127.0.0.1:3000/cb', 'code_verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX'));
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1:3000/cb", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}', 'alice@ga.test', 'alice-password') AS code7 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code7', 'redirect_uri', 'http://127.0.0.1:3000/cb', 'code_verifier', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'));
-- A code is bound to its client; a missing or unknown code.
SELECT public.code_for('grants-a', '{"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/cb"}', 'alice@ga.test', 'alice-password') AS code8 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'spa', 'code', :'code8', 'redirect_uri', 'https://web.example/cb'));
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code8', 'redirect_uri', 'https://web.example/cb'), public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "authorization_code", "redirect_uri": "https://web.example/cb"}', public.basic('web', :'web_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "authorization_code", "code": "bfac_unknown", "redirect_uri": "https://web.example/cb"}', public.basic('web', :'web_secret'));
-- Another tenant's code is unknown here.
SELECT * FROM public.tok('grants-b', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code8', 'redirect_uri', 'https://web.example/cb'), public.basic('web', :'web_b_secret'));
-- The right client gets it; scope defaults to the client's ∩ the user's role.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code8', 'redirect_uri', 'https://web.example/cb'), public.basic('web', :'web_secret'));

-- refresh_token: rotation and reuse detection -------------------------------------------------
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password"}', public.basic('svc', :'svc_secret'));
SELECT public.seen_last('access_token') AS at1, public.seen_last('refresh_token') AS rt1 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt1'), public.basic('svc', :'svc_secret'));
SELECT public.seen_last('access_token') AS at2, public.seen_last('refresh_token') AS rt2 \gset
-- Narrowing: the access token gets less, the new refresh token keeps the grant's scope.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt2', 'scope', 'read'), public.basic('svc', :'svc_secret'));
SELECT public.seen_last('access_token') AS at3, public.seen_last('refresh_token') AS rt3 \gset
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt3'), public.basic('svc', :'svc_secret'));
SELECT public.seen_last('access_token') AS at4, public.seen_last('refresh_token') AS rt4 \gset
-- Widening or unknown scopes are invalid_scope, and do not spend the token; a blank scope means "as before".
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT public.mask(oauth.update_client('svc', '{"scope": "read write profile"}')) ->> 'scope' AS svc_scope_now;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt4', 'scope', 'read bogus'), public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt4', 'scope', 'admin'), public.basic('svc', :'svc_secret'));
-- (The client lost admin meanwhile: the grant narrows to what the client may still have.)
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt4', 'scope', ''), public.basic('svc', :'svc_secret'));
SELECT public.seen_last('refresh_token') AS rt4b \gset
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT public.mask(oauth.update_client('svc', '{"scope": "read write profile admin"}')) ->> 'scope' AS svc_scope_now;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
-- Another client's refresh token; a missing one; an unknown one.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt4b', 'client_id', 'spa'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "refresh_token"}', public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', '{"grant_type": "refresh_token", "refresh_token": "bfrt_nope"}', public.basic('svc', :'svc_secret'));
-- Reuse of an already rotated token: invalid_grant, and the whole family is revoked.
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt1'), public.basic('svc', :'svc_secret'));
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt4b'), public.basic('svc', :'svc_secret'));
\c - postgres
\set VERBOSITY terse
SELECT count(*) AS family_tokens, count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked,
       count(*) FILTER (WHERE rotated_at IS NOT NULL) AS rotated
  FROM oauth.tokens WHERE tenant_id = :'ga'
   AND family_id = (SELECT family_id FROM oauth.tokens WHERE tenant_id = :'ga' AND token_hash = oauth.token_digest(:'rt1'));
\c - bf_test_gw
\set VERBOSITY terse
-- Expired refresh token.
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password"}', public.basic('svc', :'svc_secret'));
SELECT public.seen_last('refresh_token') AS rt5 \gset
\c - postgres
\set VERBOSITY terse
SELECT extract(epoch FROM expires_at - created_at) / 86400 AS refresh_days FROM oauth.tokens WHERE tenant_id = :'ga' AND token_hash = oauth.token_digest(:'rt5');
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE tenant_id = :'ga' AND token_hash = oauth.token_digest(:'rt5');
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt5'), public.basic('svc', :'svc_secret'));
-- A role change reaches refreshed tokens: adam, demoted to user, loses admin at the next refresh.
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "adam@ga.test", "password": "adam-password"}', public.basic('svc', :'svc_secret'));
SELECT public.seen_last('refresh_token') AS rt6 \gset
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT email, role FROM tenancy.update_user((SELECT id FROM tenancy.users WHERE email = 'adam@ga.test'), p_role => 'user');
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt6'), public.basic('svc', :'svc_secret'));

-- Lifetimes: tenant settings, then the client's own, override the defaults -----------------------
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('grants-a') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"access_token_ttl": 600, "refresh_token_ttl": 86400}') ->> 'access_token_ttl' AS access_token_ttl;
SELECT public.mask(oauth.update_client('pwonly', '{"access_token_ttl": 120}')) ->> 'access_token_ttl' AS client_ttl;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'));
SELECT public.seen_last('refresh_token') AS rt7 \gset
SELECT * FROM public.tok('grants-a', '{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('pwonly', :'pwonly_secret'));
\c - postgres
\set VERBOSITY terse
SELECT extract(epoch FROM expires_at - created_at) AS refresh_lifetime FROM oauth.tokens WHERE tenant_id = :'ga' AND token_hash = oauth.token_digest(:'rt7');
-- Only token rows are written without waiting for the WAL flush, and only for client credentials.
BEGIN;
SELECT public.enter('grants-a');
SELECT oauth.token_endpoint('{"grant_type": "password", "username": "alice@ga.test", "password": "alice-password"}', public.basic('svc', :'svc_secret'), NULL) ? 'access_token' AS issued;
SHOW synchronous_commit;
SELECT oauth.token_endpoint('{"grant_type": "client_credentials"}', public.basic('svc', :'svc_secret'), NULL) ? 'access_token' AS issued;
SHOW synchronous_commit;
ROLLBACK;
SHOW synchronous_commit;
