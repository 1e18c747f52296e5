-- Tenants: registration with its first owner, validation, update, settings,
-- suspension, deletion with cascade, statistics.
\set VERBOSITY terse
-- Registration (any application role) sets the new owner's context for the
-- rest of the transaction; RLS then shows that tenant only.
\c - bf_test_app
\set VERBOSITY terse
-- The plan is the deployment's default: choosing one is for platform operators.
SELECT * FROM tenancy.register_tenant('globex', 'Globex Corp', 'boss@globex.test', 'correct horse battery', 'basic');
BEGIN;
SELECT tenant_id IS NOT NULL AS has_id, owner_id IS NOT NULL AS has_owner
  FROM tenancy.register_tenant('Globex', 'Globex Corp', 'boss@globex.test', 'correct horse battery');
SELECT slug, name, plan, status, settings FROM tenancy.tenants;
SELECT email, role, status FROM tenancy.user_info;
SELECT tenancy.current_user_role(), tenancy.has_scope('admin');
COMMIT;
SELECT count(*) AS tenants_visible_without_context FROM tenancy.tenants;
-- Password stored as bcrypt only, and never readable by applications.
SELECT password_hash FROM tenancy.users;
\c - postgres
\set VERBOSITY terse
SELECT password_hash LIKE '$2a$10$%' AS bcrypt, password_hash <> 'correct horse battery' AS not_clear FROM tenancy.users u
  JOIN tenancy.tenants t ON t.id = u.tenant_id WHERE t.slug = 'globex';
-- Validation, each with a clear error; nothing half-written.
SELECT * FROM tenancy.register_tenant('ab', 'Too short', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('-acme', 'Hyphen', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('acme_co', 'Underscore', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant(repeat('a', 64), 'Too long', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('api', 'Reserved', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('www', 'Reserved', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('admin', 'Reserved', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('globex', 'Duplicate', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('initech', '', 'a@b.test', 'password123');
SELECT * FROM tenancy.register_tenant('initech', 'Initech', 'a@b.test', 'password123', 'gold');
SELECT * FROM tenancy.register_tenant('initech', 'Initech', 'not-an-email', 'password123');
SELECT * FROM tenancy.register_tenant('initech', 'Initech', 'a@b.test', 'short');
SELECT * FROM tenancy.register_tenant('initech', 'Initech', 'a@b.test', repeat('é', 37));
SELECT count(*) AS tenants_named_initech FROM tenancy.tenants WHERE slug = 'initech';
-- Update (an operator inside the tenant acts as its owner).
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT name, custom_domain, plan FROM tenancy.update_tenant(tenancy.current_tenant_id(), 'Globex Corporation', 'Globex.Example.com', 'premium');
SELECT name, custom_domain FROM tenancy.update_tenant(tenancy.current_tenant_id(), NULL, '');
SELECT tenancy.update_tenant(tenancy.current_tenant_id(), NULL, 'not a domain');
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.update_tenant(tenancy.current_tenant_id(), NULL, NULL, 'platinum');
COMMIT;
-- Settings: known keys only, merged, null removes.
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.set_settings('{"brand_color": "#3355ff", "allowed_origins": ["https://app.globex.test"], "open_registration": true}');
SELECT tenancy.set_settings('{"open_registration": null}');
SELECT tenancy.get_settings();
SELECT tenancy.set_settings('{"brand_colour": "#3355ff"}');
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.set_settings('{"brand_color": "red"}');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.set_settings('{"allowed_origins": ["javascript:alert(1)"]}');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.set_settings('{"access_token_ttl": 5}');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT tenancy.set_settings('[1,2]');
ROLLBACK;
-- Stats: users, API calls, storage, each with its limit.
BEGIN;
SELECT tenancy.enter_tenant('globex') IS NOT NULL;
SELECT s->'plan' AS plan, s->'users' AS users, s->'api_calls' AS api_calls,
       (s->'storage_bytes'->>'used')::bigint > 0 AS storage_measured, s->'storage_bytes'->'limit' AS storage_limit
  FROM tenancy.tenant_stats() s;
COMMIT;
-- Suspension (backend_admin only): resolution then fails with a clear error.
\c - bf_test_gw
\set VERBOSITY terse
SELECT tenancy.suspend_tenant(tenant_id) FROM tenancy.resolve_tenant('localhost', '/', '{"x-tenant": "globex"}');
\c - postgres
\set VERBOSITY terse
SELECT tenancy.suspend_tenant(id) FROM tenancy.tenants WHERE slug = 'globex';
SELECT status FROM tenancy.tenants WHERE slug = 'globex';
SELECT * FROM tenancy.resolve_tenant('localhost', '/api/v1/me', '{"x-tenant": "globex"}');
SELECT tenancy.activate_tenant(id) FROM tenancy.tenants WHERE slug = 'globex';
SELECT slug, strategy FROM tenancy.resolve_tenant('localhost', '/api/v1/me', '{"x-tenant": "globex"}');
SELECT tenancy.set_tenant_status(id, 'deleted') FROM tenancy.tenants WHERE slug = 'globex';
-- Deletion cascades to all tenant data.
\c - bf_test_admin
\set VERBOSITY terse
SELECT * FROM tenancy.register_tenant('umbrella', 'Umbrella', 'alice@umbrella.test', 'password123') \gset
BEGIN;
SELECT tenancy.enter_tenant('umbrella') IS NOT NULL;
SELECT count(*) FROM tenancy.create_user('carol@umbrella.test', 'password123');
SELECT tenancy.count_api_call(tenancy.current_tenant_id());
SELECT tenancy.delete_tenant(tenancy.current_tenant_id());
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT (SELECT count(*) FROM tenancy.tenants WHERE id = :'tenant_id') AS tenants,
       (SELECT count(*) FROM tenancy.users WHERE tenant_id = :'tenant_id') AS users,
       (SELECT count(*) FROM tenancy.api_usage WHERE tenant_id = :'tenant_id') AS usage;
-- Deleting a tenant one is not in: not found.
\c - bf_test_admin
\set VERBOSITY terse
SELECT tenancy.delete_tenant('00000000-0000-0000-0000-000000000000');
