-- oauth.purge_expired: removes expired tokens, old codes, ended sessions and
-- stale failure counters in bounded batches, and nothing that is still needed.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
-- Start from a clean slate (earlier suites leave expired rows behind).
DO $$ BEGIN WHILE oauth.purge_expired() > 0 LOOP END LOOP; END $$;
SELECT tenant_id AS pa FROM tenancy.register_tenant('purge-a', 'Purge A', 'owner@pa.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'pa');
BEGIN;
SELECT tenancy.enter_tenant('purge-a') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "cli", "client_name": "C", "redirect_uris": ["https://c.example/cb"], "grant_types": ["authorization_code", "refresh_token", "client_credentials", "password"]}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS c_secret \gset
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT count(*) AS issued FROM generate_series(1, 5) i, public.tok('purge-a', '{"grant_type": "client_credentials"}', public.basic('cli', :'c_secret') || repeat(' ', 0 * i)) t WHERE t.status = 200;
SELECT status FROM public.tok('purge-a', '{"grant_type": "password", "username": "owner@pa.test", "password": "owner-password"}', public.basic('cli', :'c_secret'));
SELECT public.seen_last('refresh_token') AS rt \gset
SELECT public.code_for('purge-a', '{"response_type": "code", "client_id": "cli"}', 'owner@pa.test', 'owner-password') AS code1 \gset
SELECT public.code_for('purge-a', '{"response_type": "code", "client_id": "cli"}', 'owner@pa.test', 'owner-password') AS code2 \gset
SELECT status FROM public.tok('purge-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code2'), public.basic('cli', :'c_secret'));
SELECT status FROM public.tok('purge-a', '{"grant_type": "password", "username": "owner@pa.test", "password": "wrong"}', public.basic('cli', :'c_secret'), '203.0.113.9');
\c - postgres
\set VERBOSITY terse
SELECT (SELECT count(*) FROM oauth.tokens WHERE tenant_id = :'pa') AS tokens, (SELECT count(*) FROM oauth.authorization_codes WHERE tenant_id = :'pa') AS codes,
       (SELECT count(*) FROM oauth.login_sessions WHERE tenant_id = :'pa') AS sessions, (SELECT count(*) FROM oauth.login_attempts WHERE tenant_id = :'pa') AS attempts;
-- Nothing is expired yet: nothing goes.
SELECT oauth.purge_expired();
-- The client credentials tokens expire; the code that was never used expired an hour ago (it goes a day
-- after expiry); the redeemed one two days ago; the sessions ended; the failures are a day old.
UPDATE oauth.tokens SET expires_at = now() - interval '1 minute' WHERE tenant_id = :'pa' AND user_id IS NULL;
UPDATE oauth.authorization_codes SET expires_at = now() - interval '1 hour' WHERE tenant_id = :'pa' AND code_hash = oauth.token_digest(:'code1');
UPDATE oauth.authorization_codes SET expires_at = now() - interval '2 days' WHERE tenant_id = :'pa' AND code_hash = oauth.token_digest(:'code2');
UPDATE oauth.login_sessions SET expires_at = now() - interval '1 minute' WHERE tenant_id = :'pa';
UPDATE oauth.login_attempts SET last_failure_at = now() - interval '25 hours' WHERE tenant_id = :'pa';
-- Bounded: at most 2 rows of each table per call; call again until nothing is left.
SELECT oauth.purge_expired(2) AS first_call;
SELECT oauth.purge_expired(2) AS second_call;
SELECT oauth.purge_expired(2) AS third_call;
SELECT oauth.purge_expired(2) AS fourth_call;
SELECT (SELECT count(*) FROM oauth.tokens WHERE tenant_id = :'pa') AS tokens, (SELECT count(*) FROM oauth.authorization_codes WHERE tenant_id = :'pa') AS codes,
       (SELECT count(*) FROM oauth.login_sessions WHERE tenant_id = :'pa') AS sessions, (SELECT count(*) FROM oauth.login_attempts WHERE tenant_id = :'pa') AS attempts;
-- What stays: the code expired an hour ago is still recognised (a replay would still revoke); the refresh token works.
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('purge-a', jsonb_build_object('grant_type', 'authorization_code', 'code', :'code1'), public.basic('cli', :'c_secret'));
SELECT status, body->>'token_type' AS token_type FROM public.tok('purge-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'rt'), public.basic('cli', :'c_secret'));
-- Who may run it: operators (pg_cron runs it as its job's owner), not applications or the gateway.
SELECT oauth.purge_expired();
\c - bf_test_app
\set VERBOSITY terse
SELECT oauth.purge_expired();
\c - bf_test_admin
\set VERBOSITY terse
SELECT oauth.purge_expired() >= 0 AS ran;
-- The lookups use the expiry indexes.
\c - postgres
\set VERBOSITY terse
-- (With a handful of rows the planner may also pick a bitmap scan and a
-- sort: both off, so the plan shown does not depend on the row estimate.)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT ctid FROM oauth.tokens WHERE expires_at < now() ORDER BY expires_at LIMIT 10;
RESET enable_seqscan;
RESET enable_bitmapscan;
