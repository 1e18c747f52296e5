-- 35_oauth_authenticate.sql — bearer authentication: tenancy.authenticate
-- sets the request context from an access token (SQL clients, and the HTTP
-- layer for Authorization: Bearer), and the first token of a newly
-- registered tenant's owner.

-- In C (extension/src/token.c), the one token check: the request path and
-- api.authenticate use the same code. Opaque (bfat_...) or JWT (RFC 9068)
-- access tokens are both stored as digests, so one lookup finds either and
-- sees its revocation; the lookup reads only oauth.tokens, the user and the
-- tenant, by index, whatever the caller's row-level security.
CREATE FUNCTION tenancy.authenticate(access_token text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_authenticate';
COMMENT ON FUNCTION tenancy.authenticate(text) IS 'Checks an access token (opaque bfat_..., or an RFC 9068 JWT this server issued; revocation applies to both) and sets the context (tenant, user, role, scopes, client) for the rest of the transaction. When a tenant context is already set, the token must belong to that tenant. 28000 for an invalid, unknown, expired, revoked or other tenant''s token, a token for another resource (RFC 8707) or a disabled user; TB003 when the tenant is suspended.';
REVOKE ALL ON FUNCTION tenancy.authenticate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.authenticate(text) TO backend_gateway, backend_app, backend_admin;

-- The first access token of a user created in this same transaction — the
-- owner that tenancy.register_tenant just created — issued to the tenant's
-- console client, so a script registering a tenant can go on at once
-- (POST /api/v1/tenants). For any other user it refuses: it never extends
-- or copies an existing sign-in. Applications can neither insert nor update
-- users.created_at, so created_at = now() means "inserted by a transaction
-- that started at this very instant".
CREATE FUNCTION oauth.issue_first_token() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  u record;
  c record;
  scopes text[];
BEGIN
  SELECT x.role INTO u FROM tenancy.users x
   -- created_at defaults to now(), the transaction's start: true for rows this
   -- transaction made, also inside subtransactions (where xmin is another xid).
   WHERE x.tenant_id = t AND x.id = uid AND x.status = 'active' AND x.created_at = now();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'a first token is issued only for a user created in this transaction' USING ERRCODE = '42501',
      HINT = 'Call it right after tenancy.register_tenant; otherwise use the token endpoint.';
  END IF;
  SELECT k.client_id, k.scope, k.access_token_ttl, n.settings INTO c
    FROM oauth.clients k JOIN tenancy.tenants n ON n.id = k.tenant_id WHERE k.tenant_id = t AND k.builtin;
  scopes := oauth._scope_and(oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(u.role)),
                             coalesce(oauth._scopes(current_setting('backend_framework.scopes', true)), '{}'));
  IF cardinality(scopes) = 0 THEN
    RAISE EXCEPTION 'no scope can be granted' USING ERRCODE = '42501';
  END IF;
  RETURN oauth._issue(t, c.client_id, uid, oauth._scope_text(scopes), gen_random_uuid(),
                      oauth._ttl('access_token', c.access_token_ttl, c.settings), NULL);
END $$;
COMMENT ON FUNCTION oauth.issue_first_token() IS 'Access token (RFC 6749 section 5.1 body, no refresh token) for the context''s user when that user was created in this same transaction (the owner of a tenant just registered), issued to the console client with the context''s scopes; 42501 otherwise.';
REVOKE ALL ON FUNCTION oauth.issue_first_token() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.issue_first_token() TO backend_gateway, backend_app, backend_admin;
