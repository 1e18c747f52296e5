-- Catalog checks (invariants 1, 5 and 6): every table of the tenancy and
-- oauth schemas and every enabled application table has RLS enabled and
-- forced and keys led by tenant_id; every SQL and PL/pgSQL function pins its
-- search_path; no function of ours is executable by PUBLIC; every SECURITY
-- DEFINER function belongs to backend_definer, which is no superuser.
\set VERBOSITY terse
-- An application table enabled here too, so the check covers one for sure.
CREATE TABLE public.catalog_example (tenant_id uuid NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.catalog_example');
-- Tables without forced RLS (reference tables plans, tenant_tables and api.routes hold no tenant data).
SELECT c.oid::regclass AS table_without_forced_rls
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND (n.nspname IN ('tenancy', 'oauth', 'api') OR c.oid IN (SELECT table_name FROM tenancy.tenant_tables))
   AND c.oid NOT IN ('tenancy.plans'::regclass, 'tenancy.tenant_tables'::regclass, 'api.routes'::regclass)
   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
 ORDER BY 1;
-- Tables with a tenant_id column that are not registered as tenant tables.
SELECT c.oid::regclass AS unregistered_tenant_table
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('tenancy', 'oauth', 'api') AND a.attname = 'tenant_id'
   AND c.oid NOT IN (SELECT table_name FROM tenancy.tenant_tables)
 ORDER BY 1;
-- Keys not led by tenant_id, foreign keys to tenant tables without it.
SELECT t.table_name, v.* FROM tenancy.tenant_tables t, tenancy.key_violations(t.table_name) v ORDER BY 1, 2;
-- The check itself finds violations (so an empty answer above means something).
CREATE TABLE public.catalog_bad (tenant_id uuid NOT NULL, id bigint PRIMARY KEY);
SELECT * FROM tenancy.key_violations('public.catalog_bad');
-- Functions of the extension (SQL and PL/pgSQL) whose search_path is not
-- pinned with pg_catalog first and pg_temp last (invariant 6): PL/pgSQL binds
-- DECLAREd type names with the search_path of its first call, and pg_temp
-- comes first for types unless listed.
SELECT p.oid::regprocedure AS function_without_pinned_search_path
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app') AND l.lanname IN ('sql', 'plpgsql')
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                    WHERE c ~ '^search_path=pg_catalog(, [a-z_]+)*, pg_temp$')
 ORDER BY 1;
-- Functions PUBLIC may execute: none (open ones are granted to the
-- extension's roles only).
SELECT p.oid::regprocedure AS function_open_to_public
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app')
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
-- SECURITY DEFINER functions owned by a superuser, or by anyone but
-- backend_definer.
SELECT p.oid::regprocedure AS definer_not_owned_by_backend_definer, r.rolname, r.rolsuper
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app') AND p.prosecdef
   AND (r.rolsuper OR r.rolname <> 'backend_definer')
 ORDER BY 1;
-- backend_definer: no superuser, no login, no role powers, no members, and
-- a member of nothing; it owns no table (so it cannot turn RLS off).
SELECT rolname, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
       (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid) AS members,
       (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) AS member_of,
       (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owned_relations
  FROM pg_roles r WHERE rolname = 'backend_definer';
-- Every schema, table and function of the extension has a comment.
SELECT c.oid::regclass AS table_without_comment FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app') AND c.relkind IN ('r', 'v', 'p') AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT p.oid::regprocedure AS function_without_comment FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app') AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT nspname AS schema_without_comment FROM pg_namespace
 WHERE nspname IN ('tenancy', 'oauth', 'api', 'app') AND obj_description(oid, 'pg_namespace') IS NULL;
-- The three roles exist and cannot log in.
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles
 WHERE rolname IN ('backend_gateway', 'backend_app', 'backend_admin') ORDER BY 1;
DROP TABLE public.catalog_bad;
