-- 01_context.sql — the request context: C readers and the one narrow setter.
-- Policies read the context through these STABLE functions wrapped as
-- (SELECT ...), so it is evaluated once per statement.

CREATE FUNCTION tenancy._assert_loaded() RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_assert_loaded';
COMMENT ON FUNCTION tenancy._assert_loaded() IS 'Fails with a hint unless backend_framework is in shared_preload_libraries.';
REVOKE ALL ON FUNCTION tenancy._assert_loaded() FROM PUBLIC;

CREATE FUNCTION tenancy.current_tenant_id() RETURNS uuid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_tenant_id';
COMMENT ON FUNCTION tenancy.current_tenant_id() IS 'Tenant of the current transaction, or NULL when no context is set.';

CREATE FUNCTION tenancy.current_user_id() RETURNS uuid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_user_id';
COMMENT ON FUNCTION tenancy.current_user_id() IS 'Authenticated user of the current transaction, or NULL.';

CREATE FUNCTION tenancy.current_user_role() RETURNS text
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_user_role';
COMMENT ON FUNCTION tenancy.current_user_role() IS 'Role (user, admin, owner) of the authenticated user, or NULL.';

CREATE FUNCTION tenancy.current_client_id() RETURNS text
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_client_id';
COMMENT ON FUNCTION tenancy.current_client_id() IS 'OAuth client_id of the access token that set the context, or NULL.';

CREATE FUNCTION tenancy.has_scope(scope text) RETURNS boolean
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_has_scope';
COMMENT ON FUNCTION tenancy.has_scope(text) IS 'True when the current context was granted this OAuth scope; false when unset.';

-- The only writer of the context. SECURITY DEFINER (owned by the superuser
-- that created the extension) so it may SET LOCAL the superuser-only
-- settings; EXECUTE is revoked from everyone, so only the extension's own
-- checked entry points reach it. SET LOCAL: gone at commit or abort, and
-- propagated by Citus. An empty string clears a setting.
CREATE FUNCTION tenancy._set_context(p_tenant uuid, p_user uuid, p_role text, p_scopes text, p_client text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE stmt text;
BEGIN
  PERFORM tenancy._assert_loaded();
  -- One EXECUTE of the SET LOCAL statements for what changes (a
  -- transaction starts with everything empty).
  SELECT string_agg(format('SET LOCAL backend_framework.%s = %L', k, v), '; ') INTO stmt
    FROM (VALUES ('tenant_id', coalesce(p_tenant::text, '')), ('user_id', coalesce(p_user::text, '')),
                 ('user_role', coalesce(p_role, '')), ('scopes', coalesce(p_scopes, '')),
                 ('client_id', coalesce(p_client, ''))) AS s(k, v)
   WHERE current_setting('backend_framework.' || k) IS DISTINCT FROM v;
  IF stmt IS NOT NULL THEN EXECUTE stmt; END IF;
END $$;
COMMENT ON FUNCTION tenancy._set_context(uuid, uuid, text, text, text) IS 'Internal: sets the whole request context with SET LOCAL. Not callable by applications.';
REVOKE ALL ON FUNCTION tenancy._set_context(uuid, uuid, text, text, text) FROM PUBLIC;
