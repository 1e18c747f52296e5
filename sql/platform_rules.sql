-- Platform rules of the outside review (issue 10, items 3, 4, 10, 11, 15),
-- through api.handle_request as the gateway calls it:
--  3. only authenticated /api calls count against the monthly quota: bogus
--     tokens, anonymous routes, OAuth endpoints and sign-in pages never do;
--  4. sign-up gets the default plan, follows the sign-up mode (open,
--     invite, closed) and is throttled per client address; plans change
--     only by platform operators;
-- 10. the console client changes only in an admin context;
-- 11. the console's redirect URIs come from the deployment setting alone,
--     also for tenants that already exist; only those skip consent;
-- 15. /api/v1/status shows no server version and no platform figures.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.req(p_method text, p_path text, p_headers jsonb, p_body text DEFAULT NULL, p_addr text DEFAULT '192.0.2.1')
RETURNS TABLE(status integer, error text, body jsonb) LANGUAGE sql AS $$
  SELECT h.status, j ->> 'error', j
    FROM api.handle_request(p_method, p_path, '', '{"host": "localhost"}'::jsonb || p_headers,
                            convert_to(p_body, 'UTF8'), p_addr) h,
         LATERAL (SELECT CASE WHEN h.headers->>'Content-Type' LIKE 'application/json%' THEN h.body::jsonb END) x(j)
$$;
SELECT tenant_id AS q FROM tenancy.register_tenant('quota', 'Quota', 'owner@quota.test', 'password123') \gset
SELECT tenancy.set_limit_overrides(:'q', '{"max_api_calls_per_month": 3}');
SELECT format('{"x-tenant": "quota", "authorization": "Bearer %s"}', t->>'access_token') AS auth, t->>'access_token' AS tok
  FROM (SELECT oauth._issue(:'q', 'console', (SELECT id FROM tenancy.users WHERE tenant_id = :'q'),
                            'admin profile read write', gen_random_uuid(), 3600, NULL) t) x \gset
-- Calls of this month: written to tenancy.api_usage or still in the counters.
CREATE FUNCTION pg_temp.used(t uuid) RETURNS bigint LANGUAGE sql AS
  'SELECT tenancy.api_calls_this_month(t)';
-- Waits (at most 10 s) until the worker has written every counted call.
CREATE FUNCTION pg_temp.written(t uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF tenancy.api_calls_this_month(t) = (SELECT coalesce(sum(calls), 0) FROM tenancy.api_usage WHERE tenant_id = t) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;

-- 3. Thirty anonymous requests: bogus bearer, no bearer, OAuth endpoints,
--    metadata and the sign-in page. None is charged.
SELECT status, error, count(*) FROM (
  SELECT (pg_temp.req('GET', '/api/v1/me', '{"x-tenant": "quota", "authorization": "Bearer bfat_bogus"}')).* FROM generate_series(1, 10)
  UNION ALL SELECT (pg_temp.req('GET', '/api/v1/users', '{"x-tenant": "quota"}')).* FROM generate_series(1, 5)
  UNION ALL SELECT (pg_temp.req('POST', '/oauth/token', '{"x-tenant": "quota", "content-type": "application/x-www-form-urlencoded"}', 'grant_type=client_credentials')).* FROM generate_series(1, 5)
  UNION ALL SELECT (pg_temp.req('GET', '/.well-known/oauth-authorization-server', '{"x-tenant": "quota"}')).* FROM generate_series(1, 5)
  UNION ALL SELECT (pg_temp.req('GET', '/oauth/authorize', '{"x-tenant": "quota"}')).* FROM generate_series(1, 5)
) x GROUP BY 1, 2 ORDER BY 1, 2;
SELECT pg_temp.used(:'q') AS charged_after_anonymous;
-- Authenticated API calls are charged, up to the limit; then 429, while the
-- token endpoint and the sign-in page still answer.
SELECT (pg_temp.req('GET', '/api/v1/me', :'auth')).status FROM generate_series(1, 4);
SELECT pg_temp.used(:'q') AS charged;
SELECT status, error FROM pg_temp.req('POST', '/oauth/token', '{"x-tenant": "quota", "content-type": "application/x-www-form-urlencoded"}', 'grant_type=client_credentials');
SELECT status FROM pg_temp.req('GET', '/oauth/authorize', '{"x-tenant": "quota"}');

-- 4. Sign-up: the default plan only, open / invite / closed, per address,
--    as the gateway's login calls it (a superuser login is a platform
--    operator, who may register on any plan in any mode). The settings are
--    superuser-only: set, then act as the gateway.
CREATE ROLE pr_gateway LOGIN IN ROLE backend_gateway;
CREATE FUNCTION pg_temp.signup(slug text, extra jsonb DEFAULT '{}', addr text DEFAULT '192.0.2.9')
RETURNS TABLE(status integer, error text, plan text) LANGUAGE sql AS $$
  SELECT r.status, r.error, r.body #>> '{tenant,plan}' FROM pg_temp.req('POST', '/api/v1/tenants', '{"content-type": "application/json"}',
    (jsonb_build_object('slug', slug, 'name', slug, 'owner_email', 'o@' || slug || '.test', 'owner_password', 'password123') || extra)::text, addr) r
$$;
SET backend_framework.signup_per_hour = 100;
SET SESSION AUTHORIZATION pr_gateway;
SELECT * FROM pg_temp.signup('plan-enterprise', '{"plan": "enterprise"}');
SELECT * FROM pg_temp.signup('plan-free', '{"plan": "free"}');
SELECT * FROM pg_temp.signup('plan-default');
RESET SESSION AUTHORIZATION;
SET backend_framework.default_plan = 'basic';
SET SESSION AUTHORIZATION pr_gateway;
SELECT * FROM pg_temp.signup('plan-basic');
SELECT body FROM pg_temp.req('GET', '/api/v1/signup', '{}');
RESET SESSION AUTHORIZATION;
RESET backend_framework.default_plan;
SET backend_framework.signup = 'closed';
SET SESSION AUTHORIZATION pr_gateway;
SELECT * FROM pg_temp.signup('closed-one');
SELECT body FROM pg_temp.req('GET', '/api/v1/signup', '{}');
RESET SESSION AUTHORIZATION;
SET backend_framework.signup = 'invite';
SELECT tenancy.create_invitation('for Initech') AS code \gset
SELECT left(:'code', 5) AS prefix, count(*) AS stored, bool_and(code_hash <> convert_to(:'code', 'UTF8')) AS hashed
  FROM tenancy.invitations GROUP BY 1;
SET SESSION AUTHORIZATION pr_gateway;
SELECT * FROM pg_temp.signup('invite-none');
SELECT * FROM pg_temp.signup('invite-forged', '{"invitation": "bfiv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}');
SELECT * FROM pg_temp.signup('invite-used', jsonb_build_object('invitation', :'code'));
SELECT * FROM pg_temp.signup('invite-again', jsonb_build_object('invitation', :'code'));
SELECT tenancy.create_invitation('by the gateway');
RESET SESSION AUTHORIZATION;
-- Platform operators register in any mode, on any plan.
SELECT tenant_id AS op FROM tenancy.register_tenant('by-operator', 'Op', 'o@op.test', 'password123', 'enterprise') \gset
SELECT plan FROM tenancy.tenants WHERE id = :'op';
RESET backend_framework.signup;
-- Sign-ups per client address and hour, failed ones included.
SET backend_framework.signup_per_hour = 2;
SET SESSION AUTHORIZATION pr_gateway;
SELECT status, error FROM pg_temp.signup('rate-1', '{}', '198.51.100.7');
SELECT status, error FROM pg_temp.signup('rate-2', '{"owner_password": "short"}', '198.51.100.7');
SELECT status, error FROM pg_temp.signup('rate-3', '{}', '198.51.100.7');
SELECT status, error FROM pg_temp.signup('rate-4', '{}', '198.51.100.8');
RESET SESSION AUTHORIZATION;
RESET backend_framework.signup_per_hour;
-- Owners and admins cannot change the plan, over HTTP or in SQL.
SELECT pg_temp.written(:'q');
DELETE FROM tenancy.api_usage WHERE tenant_id = :'q';
SELECT status, error FROM pg_temp.req('PATCH', '/api/v1/tenants/' || :'q', :'auth'::jsonb || '{"content-type": "application/json"}', '{"plan": "enterprise"}');
SET ROLE bf_test_app;
BEGIN;
SELECT tenancy.authenticate(:'tok') IS NOT NULL AS signed_in;
SELECT plan FROM tenancy.update_tenant(:'q', p_plan => 'enterprise');
ROLLBACK;
BEGIN;
SELECT tenancy.authenticate(:'tok') IS NOT NULL AS signed_in;
UPDATE tenancy.tenants SET plan = 'enterprise' WHERE id = :'q';
ROLLBACK;
RESET ROLE;
SELECT plan FROM tenancy.tenants WHERE id = :'q';

-- 10. The console client: not by the gateway, nor by a plain user.
BEGIN;
SELECT tenancy.enter_tenant('quota') IS NOT NULL AS entered;
SELECT email FROM tenancy.create_user('plain@quota.test', 'password123', 'user');
COMMIT;
SELECT t->>'access_token' AS plain_tok FROM oauth._issue(:'q', 'console',
  (SELECT id FROM tenancy.users WHERE tenant_id = :'q' AND email = 'plain@quota.test'), 'profile read write', gen_random_uuid(), 3600, NULL) t \gset
SET ROLE bf_test_app;
BEGIN;
SELECT tenancy.authenticate(:'plain_tok') IS NOT NULL AS signed_in_as_user;
SELECT oauth.ensure_console_client('["https://evil.example/cb"]');
ROLLBACK;
RESET ROLE;
SET ROLE pr_gateway;
SELECT oauth.ensure_console_client('["https://evil.example/cb"]');
RESET ROLE;
SELECT redirect_uris FROM oauth.clients WHERE tenant_id = :'q' AND builtin;

-- 11. Console redirect URIs: none of its own, the setting's only, read at
--     each request (tenants made before a change see it). Only those URIs
--     sign in without a consent page.
SET backend_framework.console_redirect_uris = '';
SELECT h.status, h.body ~ 'registered' AS refused FROM api.handle_request('GET', '/oauth/authorize',
  'response_type=code&client_id=console&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fconsole%2Fcallback.html&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256',
  '{"host": "localhost", "x-tenant": "quota"}', NULL, '192.0.2.1') h;
SET backend_framework.console_redirect_uris = 'https://console.example/console/callback.html';
SELECT h.status, h.body ~ 'registered' AS refused FROM api.handle_request('GET', '/oauth/authorize',
  'response_type=code&client_id=console&redirect_uri=https%3A%2F%2Fconsole.example%2Fconsole%2Fcallback.html&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256',
  '{"host": "localhost", "x-tenant": "quota"}', NULL, '192.0.2.1') h;
RESET backend_framework.console_redirect_uris;

-- 15. Status: no server version, no tenant count, whoever asks.
SELECT body - 'version' AS body, body->>'version' = (SELECT extversion FROM pg_extension WHERE extname = 'backend_framework') AS version
  FROM pg_temp.req('GET', '/api/v1/status', '{}');
SELECT body ? 'tenant_count' AS admin_sees_count, body::text ~ current_setting('server_version') AS admin_sees_server
  FROM pg_temp.req('GET', '/api/v1/status', :'auth');
SELECT (tenancy.platform_status() ->> 'tenant_count')::int > 0 AS operator_sees_count;
SET ROLE bf_test_app;
SELECT tenancy.platform_status();
RESET ROLE;

DELETE FROM tenancy.tenants WHERE slug IN ('quota', 'plan-free', 'plan-default', 'plan-basic', 'invite-used', 'by-operator', 'rate-1', 'rate-4', 'closed-one', 'invite-none', 'invite-forged', 'invite-again', 'rate-3');
DELETE FROM tenancy.invitations;
DELETE FROM tenancy.signup_attempts;
DROP OWNED BY pr_gateway;
DROP ROLE pr_gateway;
