-- 00_header.sql — install guard, schemas and the three roles.
-- The parts in extension/schema/ are concatenated in name order into
-- backend_framework--0.1.0.sql by the Makefile.

\echo Use "CREATE EXTENSION backend_framework CASCADE" to load this file. \quit

-- Roles are cluster-wide: create them only when missing, NOLOGIN. Give the
-- gateway a login with: CREATE ROLE gw LOGIN PASSWORD '...' IN ROLE backend_gateway;
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_gateway') THEN
    CREATE ROLE backend_gateway NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_app') THEN
    CREATE ROLE backend_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_admin') THEN
    CREATE ROLE backend_admin NOLOGIN;
  END IF;
END
$roles$;
COMMENT ON ROLE backend_gateway IS 'backend_framework: the HTTP gateway logs in as a member of this role; it may call api.handle_request and tenancy.resolve_tenant.';
COMMENT ON ROLE backend_app IS 'backend_framework: SQL clients of applications; they authenticate with tenancy.authenticate(access_token).';
COMMENT ON ROLE backend_admin IS 'backend_framework: platform operators (pgAdmin); may enter any tenant with tenancy.enter_tenant().';

CREATE SCHEMA tenancy;
CREATE SCHEMA oauth;
CREATE SCHEMA api;
COMMENT ON SCHEMA tenancy IS 'backend_framework: plans, tenants, users, roles, usage and the request context.';
COMMENT ON SCHEMA oauth IS 'backend_framework: OAuth 2.0 authorization server — clients, codes, tokens, grants.';
COMMENT ON SCHEMA api IS 'backend_framework: HTTP routing, JSON in and out, HTML pages and error mapping for the gateway.';

GRANT USAGE ON SCHEMA tenancy, oauth, api TO backend_gateway, backend_app, backend_admin;
