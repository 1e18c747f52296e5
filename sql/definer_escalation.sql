-- Superuser escalations of the outside review (issue 10, items 1 and 2),
-- replayed as each role. A login plants pg_temp.jsonb and pg_temp.text
-- domains whose CHECK tries ALTER ROLE ... SUPERUSER, primes the
-- extension's functions so PL/pgSQL would bind their DECLAREd types to the
-- domains, then reaches them through SECURITY DEFINER entry points (direct
-- calls, oauth.issue_first_token, the storage trigger of a tenant table).
-- Pinned search_paths keep the domains out; definers owned by the NOLOGIN,
-- non-superuser backend_definer keep any such mistake from reaching
-- superuser. A NOTICE below means a domain check ran inside our code.
\set VERBOSITY terse
SELECT tenant_id AS esc FROM tenancy.register_tenant('escalate', 'Escalate', 'owner@esc.test', 'password123') \gset
CREATE TABLE public.esc_docs (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, body text,
                              PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.esc_docs');
GRANT SELECT, INSERT ON public.esc_docs TO backend_app;
CREATE FUNCTION public.esc_sign_in() RETURNS void LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'read write profile admin', NULL)
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id WHERE t.slug = 'escalate' AND u.role = 'owner' $$;
CREATE ROLE esc_app LOGIN IN ROLE backend_app;
CREATE ROLE esc_gateway LOGIN IN ROLE backend_gateway;
CREATE ROLE esc_admin LOGIN IN ROLE backend_admin;
GRANT EXECUTE ON FUNCTION public.esc_sign_in() TO esc_app;
-- A confidential client of the tenant, for the token endpoint (C, run as backend_definer).
BEGIN;
SELECT public.esc_sign_in();
SELECT oauth.create_client('{"client_id": "esc-svc", "client_name": "Esc", "grant_types": ["client_credentials"], "scope": "read"}')->>'client_secret' AS esc_secret \gset
COMMIT;
CREATE FUNCTION public.esc_token(p_secret text) RETURNS integer LANGUAGE sql AS $$
  SELECT h.status FROM api.handle_request('POST', '/oauth/token', '',
    jsonb_build_object('host', 'localhost:8080', 'x-tenant', 'escalate', 'content-type', 'application/x-www-form-urlencoded',
                       'authorization', 'Basic ' || encode(convert_to('esc-svc:' || p_secret, 'UTF8'), 'base64')),
    convert_to('grant_type=client_credentials&scope=read', 'UTF8'), '192.0.2.1') h $$;
GRANT EXECUTE ON FUNCTION public.esc_token(text) TO esc_gateway;

-- The attacker's kit, planted in its own temporary schema.
CREATE FUNCTION public.esc_plant() RETURNS void LANGUAGE plpgsql AS $plant$
BEGIN
  EXECUTE $f$CREATE FUNCTION pg_temp.grab(v anyelement) RETURNS boolean LANGUAGE plpgsql AS $b$
    BEGIN
      RAISE NOTICE 'domain check ran as %', current_user;
      EXECUTE format('ALTER ROLE %I SUPERUSER', session_user);
      RETURN true;
    EXCEPTION WHEN insufficient_privilege THEN RETURN true;
    END $b$$f$;
  EXECUTE 'CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.grab(VALUE))';
  EXECUTE 'CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.grab(VALUE))';
END $plant$;
GRANT EXECUTE ON FUNCTION public.esc_plant() TO PUBLIC;

-- 1. An application login, through tenant_limits and the storage trigger.
\c
SET SESSION AUTHORIZATION esc_app;
\set VERBOSITY terse
SELECT public.esc_plant();
SELECT max_users FROM tenancy.tenant_limits(:'esc');
SELECT oauth._scopes('read write') AS primed;
BEGIN;
SELECT public.esc_sign_in();
INSERT INTO public.esc_docs (body) VALUES ('x');
SELECT (tenancy.tenant_stats() ->> 'plan') AS plan;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'esc_app';

-- 2. A gateway login, through register_tenant and issue_first_token.
\c
SET SESSION AUTHORIZATION esc_gateway;
\set VERBOSITY terse
SELECT public.esc_plant();
SELECT oauth._scopes('read write') AS primed;
SELECT max_users FROM tenancy.tenant_limits(:'esc');
BEGIN;
SELECT owner_id IS NOT NULL AS registered FROM tenancy.register_tenant('escalate-gw', 'Gw', 'o@gw.test', 'password123');
SELECT oauth.issue_first_token() ? 'access_token' AS issued;
ROLLBACK;
-- The token endpoint (C) with the kit planted and pg_temp searched first.
SELECT public.esc_token(:'esc_secret') AS token_status;
SET search_path = pg_temp, public, pg_catalog;
SELECT public.esc_token(:'esc_secret') AS token_status;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'esc_gateway';

-- 3. A platform operator, through tenant_stats, and through
--    tenancy.tenant_tables: registering a view or a temporary table that the
--    definers would read is refused, and so is a direct INSERT.
\c
SET SESSION AUTHORIZATION esc_admin;
\set VERBOSITY terse
SELECT public.esc_plant();
SELECT max_users FROM tenancy.tenant_limits(:'esc');
SELECT (tenancy.tenant_stats(:'esc') ->> 'plan') AS plan;
CREATE TEMP TABLE esc_tmp (tenant_id uuid NOT NULL, id int, PRIMARY KEY (tenant_id, id));
CREATE TEMP VIEW esc_view AS SELECT tenant_id, pg_temp.grab(id) AS x FROM esc_tmp;
INSERT INTO tenancy.tenant_tables (table_name) VALUES ('esc_view'::regclass);
SELECT tenancy.enable_tenant_table('esc_view');
SELECT tenancy.enable_tenant_table('esc_tmp');
SELECT tenancy._register_tenant_table('esc_tmp');
SELECT count(*) AS temp_entries FROM tenancy.tenant_tables t JOIN pg_class c ON c.oid = t.table_name
 WHERE c.relname IN ('esc_tmp', 'esc_view');
SELECT (tenancy.tenant_stats(:'esc') ->> 'plan') AS plan;
RESET SESSION AUTHORIZATION;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'esc_admin';

-- 4. A registered table that disappears is skipped and forgotten, not an
--    error for every tenant.
\c
\set VERBOSITY terse
CREATE TABLE public.esc_gone (tenant_id uuid NOT NULL, id int, PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.esc_gone');
SELECT oid AS gone_oid FROM pg_class WHERE relname = 'esc_gone' \gset
DROP TABLE public.esc_gone;
SELECT count(*) AS dangling_before FROM tenancy.tenant_tables WHERE table_name = :gone_oid;
SELECT tenancy.measure_storage(:'esc') >= 0 AS measured;
SELECT count(*) AS dangling_after FROM tenancy.tenant_tables WHERE table_name = :gone_oid;

-- 5. Who owns the definers, and what that role may do.
SELECT DISTINCT pg_get_userbyid(p.proowner) AS definer_owner, r.rolsuper, r.rolcanlogin, r.rolcreaterole,
       (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid) AS members
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
 WHERE n.nspname IN ('tenancy', 'oauth', 'api', 'app') AND p.prosecdef;

DROP TABLE public.esc_docs;
DROP FUNCTION public.esc_sign_in(), public.esc_plant(), public.esc_token(text);
DELETE FROM tenancy.tenants WHERE slug = 'escalate';
DROP ROLE esc_app, esc_gateway, esc_admin;
