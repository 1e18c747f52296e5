-- One statement of each rule (issue 11 item 2, issue 14 item 5): which
-- roles administer a tenant (tenancy.is_admin_role) and who acts as an
-- admin (tenancy.acts_as_admin), used by every check, policy and trigger;
-- one table of error codes and HTTP statuses (api.error_status) for the
-- API's errors and the OAuth endpoints' alike; none of these IMMUTABLE.
\set VERBOSITY terse
-- The roles.
SELECT r AS role, tenancy.is_admin_role(r) AS administers
  FROM unnest(ARRAY['user', 'admin', 'owner', 'Admin', NULL]) r;
-- The context: an admin or owner with the admin scope, in a tenant.
INSERT INTO tenancy.tenants (id, slug, name) VALUES ('00000000-0000-4000-8000-0000000c0000', 'one-rule', 'One Rule');
-- 'ok', or the SQLSTATE a statement raises.
CREATE FUNCTION pg_temp.outcome(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
CREATE FUNCTION pg_temp.ctx(p_tenant uuid, p_role text, p_scopes text,
  OUT tenant_admin boolean, OUT acts_as_admin boolean, OUT require_admin text, OUT client_admin text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tenancy._set_context(p_tenant, CASE WHEN p_role IS NOT NULL THEN gen_random_uuid() END, p_role, p_scopes, NULL);
  tenant_admin := tenancy.is_tenant_admin();
  acts_as_admin := tenancy.acts_as_admin();
  require_admin := pg_temp.outcome('SELECT api.require_admin()');
  client_admin := pg_temp.outcome('SELECT oauth.list_clients()');
END $$;
SELECT v.role, v.scopes, v.tenant IS NOT NULL AS in_tenant, c.*
  FROM (VALUES (1, '00000000-0000-4000-8000-0000000c0000'::uuid, 'owner', 'read admin'),
               (2, '00000000-0000-4000-8000-0000000c0000', 'admin', 'admin'),
               (3, '00000000-0000-4000-8000-0000000c0000', 'admin', 'read write'),
               (4, '00000000-0000-4000-8000-0000000c0000', 'user', 'read admin'),
               (5, '00000000-0000-4000-8000-0000000c0000', NULL, 'admin'),
               (6, NULL, 'owner', 'admin')) v(i, tenant, role, scopes),
       LATERAL pg_temp.ctx(v.tenant, v.role, v.scopes) c
 ORDER BY v.i;

-- The catalog: no SQL function and no policy spells the list of
-- administering roles or compares a role with 'admin': the rule is C
-- (extension/src/context.c, bf_role_is_admin), and so are the two
-- functions that state it.
SELECT p.oid::regprocedure AS the_rule, l.lanname
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.oid IN ('tenancy.is_admin_role(text)'::regprocedure, 'tenancy.is_tenant_admin()'::regprocedure,
                 'tenancy.acts_as_admin()'::regprocedure)
 ORDER BY 1;
SELECT p.oid::regprocedure AS spells_the_admin_roles
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('tenancy', 'oauth', 'api')
   AND (regexp_replace(p.prosrc, '''user'',\s*''admin'',\s*''owner''', '', 'g') ~ '''(admin|owner)'',\s*''(admin|owner)'''
        OR p.prosrc ~* 'role\w*\s*(=|<>|!=|IS\s+(NOT\s+)?DISTINCT\s+FROM)\s*''admin''')
 ORDER BY 1;
SELECT c.relname, p.polname
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE coalesce(pg_get_expr(p.polqual, p.polrelid), '') || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') ~ '''admin'''
 ORDER BY 1, 2;

-- Errors: every code an OAuth endpoint decides has its status in the one
-- table (codes that only travel in a redirect URI, RFC 6749 section
-- 4.1.2.1, take none).
-- The codes the C decisions make (client_auth.c, introspect.c, token_endpoint.c) are listed here.
SELECT DISTINCT e AS error, api.error_status(e) AS status
  FROM (SELECT coalesce(m[1], m[2], m[3])
          FROM pg_proc p, regexp_matches(p.prosrc, '(?:_error\(|''error'', )''([a-z_]+)''|"error": "([a-z_]+)"|_metadata_error\([^;]*?, ''(invalid_[a-z_]+)''\)', 'g') m
         WHERE p.pronamespace = 'oauth'::regnamespace
        UNION ALL VALUES ('invalid_client'), ('invalid_request'), ('unsupported_grant_type'), ('unauthorized_client'),
                         ('invalid_scope'), ('invalid_target')) x(e)
 WHERE e NOT IN ('access_denied', 'login_required', 'consent_required')
 ORDER BY 2, 1;
-- An SQLSTATE's answer takes the status of its error code from the same table.
SELECT s AS sqlstate, (e).status, (e).body::jsonb->>'error' AS error, (e).status = api.error_status((e).body::jsonb->>'error') AS from_the_table
  FROM unnest(ARRAY['22023', '23502', '28000', 'TB401', '42501', 'TB004', 'TB001', 'TB002', 'TB429', 'TB003', 'TB415',
                    'TB421', 'P0002', '23505', '40001', 'XX000']) s,
       LATERAL (SELECT api.error_from_sqlstate(s, 'm', NULL, '7')) x(e);
-- Not IMMUTABLE: the error mapping, the challenge and the route lookups (they read settings and tables).
SELECT p.oid::regprocedure AS function, p.provolatile AS volatility
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace
   AND (p.proname LIKE 'error%' OR p.proname LIKE '%route%' OR p.proname IN ('www_authenticate', 'oauth_answer'))
 ORDER BY p.oid::regprocedure::text COLLATE "C";
DELETE FROM tenancy.tenants WHERE id = '00000000-0000-4000-8000-0000000c0000';
