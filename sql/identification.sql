-- Tenant identification: X-Tenant header (slug or id), /t/{slug}/ path,
-- subdomain of backend_framework.base_domain, custom domain; which
-- strategies are on and their order; unknown, suspended, conflicting.
\set VERBOSITY terse
SELECT tenant_id AS wayne FROM tenancy.register_tenant('wayne', 'Wayne Enterprises', 'bruce@wayne.test', 'password123') \gset
SELECT tenant_id AS stark FROM tenancy.register_tenant('stark', 'Stark Industries', 'tony@stark.test', 'password123') \gset
UPDATE tenancy.tenants SET custom_domain = 'login.stark.example' WHERE slug = 'stark';
-- A custom domain names its tenant only once a platform operator approved it (sql/hosts.sql).
SELECT tenant_id FROM tenancy.resolve_tenant('login.stark.example', '/', '{}');
SELECT custom_domain_status FROM tenancy.approve_custom_domain('stark', 'login.stark.example');
\c - bf_test_gw
\set VERBOSITY terse
-- Each strategy alone (default order: header, path, subdomain, domain).
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('localhost:8080', '/api/v1/me', '{"x-tenant": "wayne"}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('localhost', '/api/v1/me', jsonb_build_object('x-tenant', :'stark'));
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('localhost', '/t/wayne/api/v1/me', '{}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('localhost', '/t/wayne', '{}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('localhost', '/.well-known/oauth-authorization-server/t/stark', '{}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('WAYNE.localhost:8080', '/oauth/token', '{}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('login.stark.example', '/oauth/token', '{}');
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant(NULL, '/', '{"host": "stark.localhost"}');
-- Context is set to the tenant only (no user, no role, no scopes).
BEGIN;
SELECT slug FROM tenancy.resolve_tenant('wayne.localhost', '/', '{}');
SELECT tenancy.current_tenant_id() = :'wayne' AS tenant_set, tenancy.current_user_id(), tenancy.current_user_role(), tenancy.has_scope('read');
COMMIT;
-- No tenant named: NULL tenant, no context.
SELECT tenant_id, strategy, path FROM tenancy.resolve_tenant('localhost', '/api/v1/ping', '{}');
SELECT tenant_id FROM tenancy.resolve_tenant('127.0.0.1:8080', '/health', '{}');
SELECT tenant_id FROM tenancy.resolve_tenant('[::1]:8080', '/health', '{}');
SELECT tenant_id FROM tenancy.resolve_tenant('a.b.localhost', '/', '{}');
SELECT tenant_id FROM tenancy.resolve_tenant('unknown.example', '/', '{}');
-- Named but unknown: not found.
SELECT * FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "nobody"}');
SELECT * FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "00000000-0000-0000-0000-000000000000"}');
SELECT * FROM tenancy.resolve_tenant('localhost', '/t/nobody/api/v1/me', '{}');
SELECT * FROM tenancy.resolve_tenant('nobody.localhost', '/', '{}');
SELECT * FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "x''; DROP TABLE tenancy.tenants; --"}');
-- Several strategies naming the same tenant agree; different tenants conflict.
SELECT slug, strategy, prefix, path FROM tenancy.resolve_tenant('wayne.localhost', '/t/wayne/api/v1/me', '{"x-tenant": "wayne"}');
SELECT * FROM tenancy.resolve_tenant('localhost', '/t/wayne/api/v1/me', '{"x-tenant": "stark"}');
SELECT * FROM tenancy.resolve_tenant('stark.localhost', '/t/wayne/api/v1/me', '{}');
SELECT * FROM tenancy.resolve_tenant('login.stark.example', '/', '{"x-tenant": "wayne"}');
-- Only the configured strategies, in the configured order (superuser setting).
\c - postgres
\set VERBOSITY terse
SET backend_framework.tenant_strategies = 'subdomain';
SELECT tenant_id FROM tenancy.resolve_tenant('localhost', '/t/wayne/x', '{"x-tenant": "wayne"}');
SELECT slug, strategy FROM tenancy.resolve_tenant('wayne.localhost', '/t/stark/x', '{"x-tenant": "stark"}');
SET backend_framework.tenant_strategies = 'path,header';
SELECT slug, strategy, prefix FROM tenancy.resolve_tenant('localhost', '/t/wayne/x', '{"x-tenant": "wayne"}');
SELECT tenant_id FROM tenancy.resolve_tenant('wayne.localhost', '/x', '{}');
SET backend_framework.tenant_strategies = 'domain';
SELECT slug, strategy FROM tenancy.resolve_tenant('login.stark.example', '/x', '{}');
SET backend_framework.tenant_strategies = 'header,carrier-pigeon';
SELECT * FROM tenancy.resolve_tenant('localhost', '/x', '{}');
RESET backend_framework.tenant_strategies;
-- Another base domain.
SET backend_framework.base_domain = 'app.example.com';
SELECT slug, strategy FROM tenancy.resolve_tenant('wayne.app.example.com', '/', '{}');
SELECT tenant_id FROM tenancy.resolve_tenant('wayne.localhost', '/', '{}');
RESET backend_framework.base_domain;
-- Unprivileged roles cannot change the strategies.
\c - bf_test_gw
\set VERBOSITY terse
SET backend_framework.tenant_strategies = 'header';
SET backend_framework.base_domain = 'evil.test';
-- Suspended tenants resolve to a clear error by every strategy.
\c - postgres
\set VERBOSITY terse
SELECT tenancy.suspend_tenant(:'stark');
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "stark"}');
SELECT * FROM tenancy.resolve_tenant('localhost', '/t/stark/', '{}');
SELECT * FROM tenancy.resolve_tenant('stark.localhost', '/', '{}');
SELECT * FROM tenancy.resolve_tenant('login.stark.example', '/', '{}');
-- Applications cannot resolve tenants themselves (only the gateway and operators).
\c - bf_test_app
\set VERBOSITY terse
SELECT * FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "wayne"}');
