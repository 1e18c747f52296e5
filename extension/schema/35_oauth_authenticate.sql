-- 35_oauth_authenticate.sql — bearer authentication: tenancy.authenticate
-- sets the request context from an access token (SQL clients, and the HTTP
-- layer for Authorization: Bearer), and the first token of a newly
-- registered tenant's owner.

CREATE FUNCTION tenancy.authenticate(access_token text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ctx uuid := tenancy.current_tenant_id();
  h bytea;
  k record;
BEGIN
  -- Opaque (bfat_...) or JWT (RFC 9068) access tokens: both are stored as
  -- digests, so one lookup finds either and sees its revocation.
  IF access_token IS NULL OR (access_token !~ '^bfat_[A-Za-z0-9_-]{43}$'
     AND (length(access_token) > 8192 OR access_token !~ '^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$')) THEN
    RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000',
      DETAIL = 'An access token looks like bfat_ followed by 43 characters, or is a JWT; get one from the token endpoint.';
  END IF;
  h := oauth.token_digest(access_token);
  IF ctx IS NOT NULL THEN
    -- A tenant is already chosen (e.g. by the request's host): the token must be one of its own.
    SELECT x.tenant_id, x.client_id, x.user_id, x.scope, x.expires_at, x.revoked_at, u.role, u.status AS user_status,
           n.status AS tenant_status, x.audience
      INTO k
      FROM oauth.tokens x
      JOIN tenancy.tenants n ON n.id = x.tenant_id
      LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.tenant_id = ctx AND x.token_hash = h AND x.kind = 'access';
    IF NOT FOUND THEN
      IF EXISTS (SELECT 1 FROM oauth.tokens x WHERE x.token_hash = h AND x.kind = 'access') THEN
        RAISE EXCEPTION 'access token belongs to another tenant' USING ERRCODE = '28000',
          DETAIL = 'Use a token issued by this tenant''s authorization server.';
      END IF;
      RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000', DETAIL = 'The token is unknown.';
    END IF;
  ELSE
    SELECT x.tenant_id, x.client_id, x.user_id, x.scope, x.expires_at, x.revoked_at, u.role, u.status AS user_status,
           n.status AS tenant_status, x.audience
      INTO k
      FROM oauth.tokens x
      JOIN tenancy.tenants n ON n.id = x.tenant_id
      LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.token_hash = h AND x.kind = 'access';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000', DETAIL = 'The token is unknown.';
    END IF;
  END IF;
  IF k.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'access token revoked' USING ERRCODE = '28000', DETAIL = 'Sign in again to get a new one.';
  END IF;
  IF k.expires_at <= now() THEN
    RAISE EXCEPTION 'access token expired' USING ERRCODE = '28000', DETAIL = 'Use the refresh token, or sign in again.';
  END IF;
  -- RFC 8707: a token for another resource server is not for this API.
  IF k.audience IS NOT NULL THEN
    RAISE EXCEPTION 'access token is for another resource' USING ERRCODE = '28000',
      DETAIL = 'Its audience is not this tenant''s API; ask for a token without resource, or with the issuer as resource.';
  END IF;
  IF k.tenant_status <> 'active' THEN
    RAISE EXCEPTION 'tenant suspended' USING ERRCODE = 'TB003',
      DETAIL = 'This tenant is suspended; contact the platform operator.';
  END IF;
  IF k.user_id IS NOT NULL AND k.user_status IS DISTINCT FROM 'active' THEN
    RAISE EXCEPTION 'the user of this access token is disabled' USING ERRCODE = '28000';
  END IF;
  -- Scopes as granted, within what the user's role allows now (a demoted
  -- admin loses admin at once). Client credentials tokens: no user, no role.
  PERFORM tenancy._set_context(k.tenant_id, k.user_id, k.role,
    CASE WHEN k.user_id IS NULL OR tenancy.is_admin_role(k.role) THEN k.scope
         ELSE array_to_string(array_remove(string_to_array(k.scope, ' '), 'admin'), ' ') END,
    k.client_id);
END $$;
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
