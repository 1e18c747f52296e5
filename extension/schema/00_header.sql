-- 00_header.sql — install guard, schemas and the four roles.
-- The parts in extension/schema/ are concatenated in name order into
-- backend_framework--$(VERSION).sql by the Makefile.

\echo Use "CREATE EXTENSION backend_framework CASCADE" to load this file. \quit

-- Roles are cluster-wide: create them only when missing, NOLOGIN. Give the
-- gateway a login with: CREATE ROLE gw LOGIN PASSWORD '...' IN ROLE backend_gateway;
DO $roles$
DECLARE m text;
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
  -- The owner of every SECURITY DEFINER function (see 98_privileges.sql).
  -- Whatever a role of that name was before, it ends up with no login, no
  -- superuser or role powers and no members: a member could replace the
  -- definers' code. BYPASSRLS because definers work across tenants (they
  -- resolve a tenant before any context exists).
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_definer') THEN
    CREATE ROLE backend_definer NOLOGIN BYPASSRLS;
  END IF;
  ALTER ROLE backend_definer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS
    NOINHERIT PASSWORD NULL;
  FOR m IN SELECT r.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member
            WHERE a.roleid = 'backend_definer'::regrole LOOP
    EXECUTE format('REVOKE backend_definer FROM %I CASCADE', m);
  END LOOP;
  FOR m IN SELECT r.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
            WHERE a.member = 'backend_definer'::regrole LOOP
    EXECUTE format('REVOKE %I FROM backend_definer CASCADE', m);
  END LOOP;
END
$roles$;
COMMENT ON ROLE backend_gateway IS 'backend_framework: the HTTP gateway logs in as a member of this role; it may call api.handle_request and tenancy.resolve_tenant.';
COMMENT ON ROLE backend_app IS 'backend_framework: SQL clients of applications; they authenticate with tenancy.authenticate(access_token).';
COMMENT ON ROLE backend_definer IS 'backend_framework: NOLOGIN owner of the SECURITY DEFINER functions; never a superuser, no members, only the privileges those functions need.';
COMMENT ON ROLE backend_admin IS 'backend_framework: platform operators (pgAdmin); may enter any tenant with tenancy.enter_tenant().';

CREATE SCHEMA tenancy;
CREATE SCHEMA oauth;
CREATE SCHEMA api;
COMMENT ON SCHEMA tenancy IS 'backend_framework: plans, tenants, users, roles, usage and the request context.';
COMMENT ON SCHEMA oauth IS 'backend_framework: OAuth 2.0 authorization server — clients, codes, tokens, grants.';
COMMENT ON SCHEMA api IS 'backend_framework: HTTP routing, JSON in and out, HTML pages and error mapping for the gateway.';

GRANT USAGE ON SCHEMA tenancy, oauth, api TO backend_gateway, backend_app, backend_admin, backend_definer;
