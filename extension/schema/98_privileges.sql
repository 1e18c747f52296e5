-- 98_privileges.sql — the last word on function privileges (invariant 6),
-- applied to everything the parts above created, so no part can forget it:
--  * every SQL and PL/pgSQL function pins search_path (pg_catalog first,
--    pg_temp last): PL/pgSQL resolves type names with the search_path in
--    force at its first call, and pg_temp comes first for types unless it
--    is listed, so an unpinned function could be made to run a caller's
--    temporary domain inside a definer;
--  * every SECURITY DEFINER function belongs to backend_definer, a NOLOGIN
--    role that is not a superuser, so the next mistake of that kind cannot
--    reach superuser;
--  * nothing of ours is executable by PUBLIC: what was open becomes open to
--    the extension's roles only.
-- A catalog test (sql/security_catalog.sql) fails if any of this is undone.

DO $privileges$
DECLARE f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig, p.prosecdef, l.lanname,
           coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), false) AS pinned,
           pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                 AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'backend_framework'
  LOOP
    IF f.lanname IN ('sql', 'plpgsql') AND NOT f.pinned THEN
      EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f.sig);
    END IF;
    IF f.prosecdef THEN
      EXECUTE format('ALTER FUNCTION %s OWNER TO backend_definer', f.sig);
    END IF;
    IF f.public_exec THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.sig);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO backend_gateway, backend_app, backend_admin', f.sig);
    END IF;
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO backend_definer', f.sig);
  END LOOP;
END
$privileges$;

-- What the definers read and write: the rows of the extension's tables
-- (RLS does not bind them: backend_definer has BYPASSRLS), never their
-- definition (they own no table). The context settings are superuser-only;
-- PostgreSQL 15 lets the definers set them without being superusers.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tenancy, oauth, api TO backend_definer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA tenancy, oauth, api TO backend_definer;
GRANT SET ON PARAMETER backend_framework.tenant_id, backend_framework.user_id, backend_framework.user_role,
  backend_framework.scopes, backend_framework.client_id TO backend_definer;
