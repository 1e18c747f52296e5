-- Hosts (issue 10, items 8 and 9): the deployment names its own hosts in
-- backend_framework.public_urls; api.handle_request answers 421 for any
-- other Host, 400 for two, and never builds the issuer or any URL from a
-- request header; metadata says Vary: Host. A tenant's custom domain is
-- pending until a platform operator approves it, and the platform's own
-- hosts are refused.
\set VERBOSITY terse
-- The setting: validated, superuser only.
SET backend_framework.public_urls = 'ftp://files.example.com';
SET backend_framework.public_urls = 'https://api.example.com/v1';
SET backend_framework.public_urls = 'https://user@api.example.com';
SET backend_framework.public_urls = 'http://localhost:0';
SET backend_framework.public_urls = 'http://localhost:65536';
SET backend_framework.public_urls = 'http://a b';
SET backend_framework.public_urls = '';
SET backend_framework.public_urls = ' HTTP://Localhost:8080/ , https://api.example.com:443,http://[::1]:8080';
SELECT * FROM tenancy.public_urls();
SELECT h, tenancy.is_platform_host(h) FROM unnest(ARRAY['localhost', 'acme.localhost', 'a.b.localhost', 'api.example.com',
  '[::1]', 'evil.example', 'example.com', 'localhost.evil.example']) h;
RESET backend_framework.public_urls;
-- New sessions get the deployment's URLs (as postgresql.conf would give them).
ALTER DATABASE :"DBNAME" SET backend_framework.public_urls = 'http://localhost:8080,https://api.example.com';
\c - bf_test_gw
\set VERBOSITY terse
SET backend_framework.public_urls = 'http://evil.example';
SHOW backend_framework.public_urls;
\c - postgres
\set VERBOSITY terse
\c - bf_test_app
\set VERBOSITY terse
SELECT tenant_id AS hostco FROM tenancy.register_tenant('hostco', 'Host Co', 'owner@hostco.test', 'password123') \gset
\c - postgres
\set VERBOSITY terse
-- One request through api.handle_request: status, error, issuer, Vary and
-- whether "evil" appears anywhere in the answer.
CREATE FUNCTION public.hosts_call(p_path text, p_headers jsonb,
  OUT status integer, OUT error text, OUT issuer text, OUT vary text, OUT evil boolean)
LANGUAGE sql AS $$
  SELECT h.status, h.body::jsonb->>'error', coalesce(h.body::jsonb->>'issuer', h.body::jsonb#>>'{servers,0,url}'),
         h.headers->>'Vary', (h.body || h.headers::text) ILIKE '%evil%'
    FROM api.handle_request('GET', p_path, '', p_headers, NULL, '127.0.0.1') h
$$;
GRANT EXECUTE ON FUNCTION public.hosts_call(text, jsonb) TO bf_test_gw;
\c - bf_test_gw
\set VERBOSITY terse
-- Configured hosts: the issuer is the configured URL (the one with the port
-- the client used, else the first of that host), plus /t/{slug}.
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server', '{"host": "localhost:8080"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server/t/hostco', '{"host": "LOCALHOST:9999"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "api.example.com", "x-tenant": "hostco"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "api.example.com:8443", "x-tenant": "hostco"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"x-tenant": "hostco"}');
SELECT * FROM hosts_call('/api/v1/openapi.json', '{"host": "api.example.com"}');
-- A subdomain of base_domain: its own host, the scheme and port of base_domain's URL.
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "hostco.localhost:8080"}');
-- The attack: a forged Host gets 421 and no evil URL, on every kind of route.
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server', '{"host": "evil.example"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "evil.example:8080", "x-tenant": "hostco"}');
SELECT * FROM hosts_call('/api/v1/openapi.json', '{"host": "evil.example"}');
SELECT * FROM hosts_call('/api/v1/ping', '{"host": "evil.example"}');
SELECT * FROM hosts_call('/t/hostco/api/v1/me', '{"host": "evil.example"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "a.b.localhost", "x-tenant": "hostco"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "localhost.evil.example", "x-tenant": "hostco"}');
-- X-Forwarded-Host/Proto never reach the issuer (even from a trusted proxy).
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server',
  '{"host": "localhost:8080", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https"}');
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server',
  '{"host": "evil.example", "x-forwarded-host": "localhost:8080"}');
-- Two Host fields (joined by the gateway) and malformed ones: 400.
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server', '{"host": "localhost:8080, evil.example"}');
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server', '{"host": "localhost:99999"}');
SELECT * FROM hosts_call('/t/hostco/.well-known/oauth-authorization-server', '{"host": "evil.example/x"}');
-- /health answers on any host (container health checks); it builds no URL.
SELECT status, error, evil FROM hosts_call('/health', '{"host": "evil.example"}');

-- Custom domains. An owner asks for one (any path: the API's
-- tenancy.update_tenant or a plain UPDATE): it is pending, names no tenant.
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenant_id AS domainco FROM tenancy.register_tenant('domainco', 'Domain Co', 'owner@domainco.test', 'password123') \gset
SELECT custom_domain, custom_domain_status FROM tenancy.update_tenant(:'domainco', NULL, 'Login.Domainco.Example');
COMMIT;
-- The attack of item 8: another tenant claims domainco's domain and the
-- platform's own hosts. The claim stays pending and blocks nobody; platform
-- hosts are refused whatever the path.
BEGIN;
SELECT tenant_id AS squatco FROM tenancy.register_tenant('squatco', 'Squat Co', 'owner@squatco.test', 'password123') \gset
SAVEPOINT s;
SELECT custom_domain FROM tenancy.update_tenant(:'squatco', NULL, 'api.example.com');
ROLLBACK TO s;
SELECT custom_domain FROM tenancy.update_tenant(:'squatco', NULL, 'domainco.localhost');
ROLLBACK TO s;
UPDATE tenancy.tenants SET custom_domain = 'www.localhost' WHERE id = :'squatco';
ROLLBACK TO s;
SELECT custom_domain FROM tenancy.update_tenant(:'squatco', NULL, 'localhost');
ROLLBACK TO s;
-- An owner cannot approve itself.
UPDATE tenancy.tenants SET custom_domain_status = 'approved' WHERE id = :'squatco';
ROLLBACK TO s;
UPDATE tenancy.tenants SET custom_domain = 'login.domainco.example' WHERE id = :'squatco' RETURNING custom_domain, custom_domain_status;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT tenant_id FROM tenancy.resolve_tenant('login.domainco.example', '/', '{}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "login.domainco.example"}');
-- Only platform operators approve.
SELECT custom_domain_status FROM tenancy.approve_custom_domain('domainco', 'login.domainco.example');
\c - bf_test_app
\set VERBOSITY terse
SELECT custom_domain_status FROM tenancy.approve_custom_domain('domainco', 'login.domainco.example');
\c - bf_test_admin
\set VERBOSITY terse
SELECT custom_domain_status FROM tenancy.approve_custom_domain('nobody', 'login.domainco.example');
SELECT custom_domain_status FROM tenancy.approve_custom_domain('domainco', 'other.domainco.example');
SELECT slug, custom_domain, custom_domain_status FROM tenancy.approve_custom_domain('domainco', ' Login.Domainco.Example ');
SELECT slug, custom_domain, custom_domain_status FROM tenancy.approve_custom_domain(:'domainco', 'login.domainco.example');
-- One domain, one approved tenant: the squatter's claim cannot be approved.
SELECT custom_domain_status FROM tenancy.approve_custom_domain('squatco', 'login.domainco.example');
-- Approved, the domain names its tenant: issuer on the domain with the
-- scheme and port of base_domain's URL.
\c - bf_test_gw
\set VERBOSITY terse
SELECT slug, strategy, by_host FROM tenancy.resolve_tenant('login.domainco.example', '/', '{}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "login.domainco.example"}');
SELECT * FROM hosts_call('/.well-known/oauth-authorization-server', '{"host": "login.domainco.example", "x-tenant": "squatco"}');
-- A domain that became a platform host (the configuration changed) names no tenant.
\c - postgres
\set VERBOSITY terse
SET backend_framework.public_urls = 'http://localhost:8080,https://login.domainco.example';
SELECT tenant_id FROM tenancy.resolve_tenant('login.domainco.example', '/', '{}');
RESET backend_framework.public_urls;
-- Changing the domain makes it pending again; the operator can withdraw it.
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('domainco') = :'domainco' AS entered;
SELECT custom_domain, custom_domain_status FROM tenancy.update_tenant(:'domainco', NULL, 'id.domainco.example');
COMMIT;
SELECT tenant_id FROM tenancy.resolve_tenant('id.domainco.example', '/', '{}');
SELECT slug, custom_domain, custom_domain_status FROM tenancy.reject_custom_domain('domainco', 'id.domainco.example');
SELECT custom_domain_status FROM tenancy.reject_custom_domain('squatco', 'other.example');
-- The squatter's claim is free to approve now that domainco gave it up.
SELECT slug, custom_domain_status FROM tenancy.approve_custom_domain('squatco', 'login.domainco.example');
SELECT slug, custom_domain_status FROM tenancy.reject_custom_domain('squatco', 'login.domainco.example');
-- Clean up.
\c - postgres
\set VERBOSITY terse
ALTER DATABASE :"DBNAME" RESET backend_framework.public_urls;
DROP FUNCTION public.hosts_call(text, jsonb);
