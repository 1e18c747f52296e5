-- 11_tenancy_policies.sql — row-level security and grants of the tenancy
-- tables. Every policy reads the context through (SELECT tenancy.…()), which
-- is NULL when unset, so no row matches without a context (fail closed).

ALTER TABLE tenancy.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.users FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.api_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.api_usage FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.storage_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.storage_usage FORCE ROW LEVEL SECURITY;

-- "Admin or owner": the one statement of which roles administer a tenant
-- (every check of a role, in SQL, policies, triggers and the bearer check,
-- goes through it). In C (extension/src/context.c, bf_role_is_admin), like
-- the two rules below: policies ask them on every query.
CREATE FUNCTION tenancy.is_admin_role(p_role text) RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_is_admin_role';
COMMENT ON FUNCTION tenancy.is_admin_role(text) IS 'True for the roles that administer a tenant: admin and owner (false for user and NULL).';

-- True when the context's user is an admin or owner of the context's tenant.
CREATE FUNCTION tenancy.is_tenant_admin() RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_is_tenant_admin';
COMMENT ON FUNCTION tenancy.is_tenant_admin() IS 'True when the current context is an admin or owner of its tenant.';

-- The rule for administration (users' passwords, OAuth clients, settings
-- over HTTP): a tenant, an admin or owner, and a grant of the admin scope.
CREATE FUNCTION tenancy.acts_as_admin() RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_acts_as_admin';
COMMENT ON FUNCTION tenancy.acts_as_admin() IS 'True when the current context administers its tenant: an admin or owner (tenancy.is_tenant_admin) granted the admin scope.';

-- Tenants: anyone in the tenant's context reads its row; admins and owners
-- update it; only owners delete it. New tenants come from register_tenant.
CREATE POLICY tenant_read ON tenancy.tenants FOR SELECT
  USING (id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY tenant_update ON tenancy.tenants FOR UPDATE
  USING (id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY tenant_delete ON tenancy.tenants FOR DELETE
  USING (id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.current_user_role()) = 'owner');

-- Users: read your own row; admins and owners manage every user of the tenant.
CREATE POLICY user_read ON tenancy.users FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())));
CREATE POLICY user_insert ON tenancy.users FOR INSERT
  WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
CREATE POLICY user_update ON tenancy.users FOR UPDATE
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())))
  WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY user_delete ON tenancy.users FOR DELETE
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));

-- Usage: admins and owners read their tenant's counters; writes go through
-- tenancy.count_api_call / tenancy.measure_storage only.
CREATE POLICY usage_read ON tenancy.api_usage FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
CREATE POLICY storage_read ON tenancy.storage_usage FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));

-- Grants: the least that works. The password hash is never readable, and
-- neither it nor the e-mail address is updatable: they change only through
-- tenancy.change_credentials (the user, with the current password) and the
-- reset functions. Status and limit overrides of a tenant only change
-- through the backend_admin functions.
GRANT SELECT ON tenancy.plans, tenancy.tenant_tables TO backend_gateway, backend_app, backend_admin;
-- tenant_tables changes only through tenancy.enable_tenant_table.
GRANT SELECT ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (name, custom_domain, settings) ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (plan) ON tenancy.tenants TO backend_admin;
GRANT DELETE ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, id, email, display_name, role, status, created_at, updated_at) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT INSERT (tenant_id, id, email, password_hash, display_name, role, status) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (display_name, role, status) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT DELETE ON tenancy.users TO backend_gateway, backend_app, backend_admin;
GRANT SELECT ON tenancy.user_info TO backend_gateway, backend_app, backend_admin;
GRANT SELECT ON tenancy.api_usage, tenancy.storage_usage TO backend_gateway, backend_app, backend_admin;
