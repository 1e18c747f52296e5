-- 32_oauth_tokens.sql — the token endpoint (RFC 6749 sections 4.1.3, 4.3,
-- 4.4, 6): client authentication (the one function), one function per
-- grant and their dispatcher, issuance, refresh rotation with reuse
-- detection, and throttling of password attempts.
--
-- The oauth schema decides, the api schema speaks HTTP: the endpoint
-- returns a decision — the RFC 6749 section 5.1 body, or the section 5.2
-- error {"error", "error_description"} — and api.oauth_answer gives it its
-- status (api.error_status), headers and challenge. It never raises for a
-- client's mistake, so every outcome, including a failed password recorded
-- for throttling or a family revoked after a replay, is committed. An
-- exception means a bug.
--
-- Internal helpers (oauth._*) that only the SECURITY DEFINER entry points
-- call are plain functions with EXECUTE revoked from PUBLIC: only the
-- extension's owner may run them, and they run under the entry point's
-- pinned search_path. They carry no SET clause of their own: a SET clause
-- costs a settings save and restore on every call (and prevents inlining),
-- which the token path, run thousands of times a second, cannot afford.

-- Lifetimes: the client's, else the tenant's setting, else the default
-- (oauth.lifetimes()). The small helpers of the token path are PL/pgSQL,
-- not SQL: every function gets a pinned search_path (98_privileges.sql),
-- so none can be inlined, and PostgreSQL plans a SQL function again on
-- every call where PL/pgSQL keeps its plans.
CREATE FUNCTION oauth._ttl(kind text, client_ttl integer, settings jsonb) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN coalesce(client_ttl, (settings->>(kind || '_ttl'))::integer,
                  CASE kind WHEN 'access_token' THEN (oauth.lifetimes()).access_token
                            WHEN 'refresh_token' THEN (oauth.lifetimes()).refresh_token
                            WHEN 'code' THEN (oauth.lifetimes()).code END);
END $$;
COMMENT ON FUNCTION oauth._ttl(text, integer, jsonb) IS 'Internal: lifetime in seconds of an access_token, refresh_token or code: the client''s, else the tenant setting <kind>_ttl, else the default of oauth.lifetimes().';

-- A decision of an OAuth endpoint that refuses: the RFC 6749 section 5.2
-- error body. Its HTTP status is api.error_status's (the one table).
CREATE FUNCTION oauth._error(error text, description text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN jsonb_build_object('error', error, 'error_description', description);
END $$;
COMMENT ON FUNCTION oauth._error(text, text) IS 'Internal: an OAuth error decision {"error", "error_description"} (RFC 6749 section 5.2); api.error_status gives its HTTP status.';

-- Client authentication ---------------------------------------------------------
-- The one function that authenticates a client, for every endpoint that
-- takes client credentials (token, revocation, introspection) and for the
-- client_secret check of RFC 7592: nothing else reads
-- oauth.clients.secret_hash to compare it (sql/oauth_client_auth.sql checks
-- the catalog). RFC 6749 section 2.3.1: HTTP Basic (client_secret_basic),
-- client_id and client_secret in the body (client_secret_post), or client_id
-- alone for public clients (none); the method must be the one the client
-- registered; the secret is compared as SHA-256 digests in constant time.
-- One index lookup, no side effect.

CREATE TYPE oauth.client_authentication AS (
  error               text,      -- NULL when authenticated, else invalid_client or invalid_request (RFC 6749 section 5.2)
  error_description   text,
  client_id           text,
  auth_method         text,      -- the registered method: client_secret_basic, client_secret_post or none
  grant_types         text[],
  scope               text,      -- the client's registered scope (canonical)
  access_token_ttl    integer,   -- the client's own token lifetimes (NULL: the tenant's; oauth._ttl)
  refresh_token_ttl   integer,
  resource_server     boolean,   -- may introspect every token of the tenant
  access_token_format text,      -- opaque or jwt
  tenant_settings     jsonb      -- the tenant's settings (lifetimes: oauth._ttl)
);
COMMENT ON TYPE oauth.client_authentication IS 'The decision of oauth.authenticate_client: error and error_description (RFC 6749 section 5.2) when refused, else the authenticated client''s id, method, grant types, scope, own token lifetimes, resource_server, access_token_format, and its tenant''s settings.';

-- In C (extension/src/client_auth.c).
CREATE FUNCTION oauth.authenticate_client(p_tenant uuid, params jsonb, authorization text)
RETURNS oauth.client_authentication
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_authenticate_client_sql';
COMMENT ON FUNCTION oauth.authenticate_client(uuid, jsonb, text) IS 'The one client authentication (RFC 6749 section 2.3.1) of the tenant p_tenant: params = the form (client_id, client_secret), authorization = the Authorization header or NULL. client_secret_basic, client_secret_post or none, as the client registered; the secret compared as SHA-256 digests in constant time. Returns error invalid_client (HTTP 401; with a Basic challenge when Basic was tried) or invalid_request and error_description, else the client (lifetimes as registered: the grants apply oauth._ttl when they issue). Reads only.';
REVOKE ALL ON FUNCTION oauth.authenticate_client(uuid, jsonb, text) FROM PUBLIC;

-- How the token, revocation and introspection endpoints start: a tenant in
-- the context (the gateway never calls without one: a caller's bug,
-- P0002), form parameters (an object of strings, what oauth.form_decode
-- makes), then the one client authentication.
CREATE FUNCTION oauth._form_client(params jsonb, authorization text) RETURNS oauth.client_authentication
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_form_client_sql';
COMMENT ON FUNCTION oauth._form_client(jsonb, text) IS 'Internal: the client of a form request to the current tenant (oauth.authenticate_client), or the error invalid_request when the parameters are no form; P0002 without a tenant in the context.';
REVOKE ALL ON FUNCTION oauth._form_client(jsonb, text) FROM PUBLIC;

-- HTTP Basic client credentials as a client sends them (RFC 6749 section
-- 2.3.1: each part form-encoded, then base64), for checks that go through
-- oauth.authenticate_client with a secret given otherwise (RFC 7592).
CREATE FUNCTION oauth._basic_authorization(p_client_id text, p_secret text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'Basic ' || translate(encode(convert_to(oauth.url_encode(p_client_id) || ':' || oauth.url_encode(p_secret), 'UTF8'),
                                      'base64'), E'\n', '')
$$;
COMMENT ON FUNCTION oauth._basic_authorization(text, text) IS 'Internal: the Authorization header value of HTTP Basic client credentials (RFC 6749 section 2.3.1).';

-- Granted scope: the requested scopes (default: all of the ceiling)
-- intersected with the ceiling (client's ∩ what the user's role allows).
-- err is invalid_scope when a value is unknown or nothing remains.
CREATE FUNCTION oauth._grant_scope(requested text, ceiling text[], OUT scopes text[], OUT err text)
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_grant_scope_sql';
COMMENT ON FUNCTION oauth._grant_scope(text, text[]) IS 'Internal: requested scope (default: the ceiling) intersected with the ceiling; err when unknown or empty.';

-- "1 second", "2 seconds": a wait in words.
CREATE FUNCTION oauth._seconds(n integer) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT n || CASE WHEN n = 1 THEN ' second' ELSE ' seconds' END
$$;
COMMENT ON FUNCTION oauth._seconds(integer) IS 'Internal: a number of seconds in words ("1 second", "2 seconds").';

-- Throttling of password checks (the numbers: tenancy.throttling()).
-- Failures are counted per (tenant, e-mail) and per (tenant, client
-- address). A key with n failures at or above its threshold waits
-- 2^(n - threshold) seconds after its last failure, at most login_max_wait
-- (15 minutes); never a lock-out. The threshold per address (5) is far below
-- the one per e-mail (20), so one address guessing at an account is held by
-- its own back-off long before the account's counter matters, and the real
-- user signs in from elsewhere; the e-mail counter slows attacks spread over
-- many addresses (then the real user waits too, at most login_max_wait: the
-- price of that protection). Throttled attempts are not checked, so they do
-- not count; counters are cleared by a success and forgotten login_memory
-- (a day) after the last failure.
CREATE FUNCTION oauth._throttle_wait(p_tenant uuid, p_email text, p_addr text) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- The exponent stops at 30: 2^30 s is past any cap, and the power stays in range.
  SELECT coalesce(max(greatest(0, ceil(extract(epoch FROM
           a.last_failure_at + make_interval(secs => least(w.login_max_wait, 2 ^ least(a.failures - th.n, 30))) - now())))),
           0)::integer
    FROM tenancy.throttling() w
    CROSS JOIN LATERAL (VALUES ('email', lower(btrim(p_email)), w.login_per_email),
                               ('addr', p_addr, w.login_per_address)) th(kind, key, n)
    JOIN oauth.login_attempts a ON a.kind = th.kind AND a.key = th.key
   WHERE a.tenant_id = p_tenant AND a.failures >= th.n
     AND a.last_failure_at > now() - make_interval(secs => w.login_memory)
$$;
COMMENT ON FUNCTION oauth._throttle_wait(uuid, text, text) IS 'Internal: seconds to wait before the next password check for this e-mail or client address (0: go ahead). Back-off 2^(n-threshold) s from the thresholds of tenancy.throttling(), at most its login_max_wait.';
REVOKE ALL ON FUNCTION oauth._throttle_wait(uuid, text, text) FROM PUBLIC;

CREATE FUNCTION oauth._record_login(p_tenant uuid, p_email text, p_addr text, p_success boolean) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF p_success THEN
    DELETE FROM oauth.login_attempts
     WHERE tenant_id = p_tenant AND ((kind = 'email' AND key = lower(btrim(p_email))) OR (kind = 'addr' AND key = p_addr));
    RETURN;
  END IF;
  INSERT INTO oauth.login_attempts AS a (tenant_id, kind, key, failures)
  SELECT p_tenant, k.kind, k.key, 1
    FROM (VALUES ('email', lower(btrim(p_email))), ('addr', p_addr)) k(kind, key) WHERE k.key IS NOT NULL
  ON CONFLICT (tenant_id, kind, key) DO UPDATE
    SET failures = CASE WHEN a.last_failure_at < now() - make_interval(secs => (tenancy.throttling()).login_memory)
                        THEN 1 ELSE a.failures + 1 END,
        first_failure_at = CASE WHEN a.last_failure_at < now() - make_interval(secs => (tenancy.throttling()).login_memory)
                                THEN now() ELSE a.first_failure_at END,
        last_failure_at = now();
END $$;
COMMENT ON FUNCTION oauth._record_login(uuid, text, text, boolean) IS 'Internal: counts a failed password check for the e-mail and the client address, or clears both counters after a success.';
REVOKE ALL ON FUNCTION oauth._record_login(uuid, text, text, boolean) FROM PUBLIC;

-- Checks a password with throttling. Returns the user id, or NULL with
-- wait_seconds > 0 (throttled, password not checked) or 0 (wrong).
CREATE FUNCTION oauth._check_password(p_tenant uuid, p_email text, p_password text, p_addr text,
                                      OUT user_id uuid, OUT wait_seconds integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  wait_seconds := oauth._throttle_wait(p_tenant, p_email, p_addr);
  IF wait_seconds > 0 THEN RETURN; END IF;
  user_id := tenancy.verify_password(p_email, p_password);
  PERFORM oauth._record_login(p_tenant, p_email, p_addr, user_id IS NOT NULL);
END $$;
COMMENT ON FUNCTION oauth._check_password(uuid, text, text, text) IS 'Internal: throttled password check of a user of the current tenant (tenancy.verify_password); records the outcome.';
REVOKE ALL ON FUNCTION oauth._check_password(uuid, text, text, text) FROM PUBLIC;

-- An RFC 9068 access token signed with the tenant's key (the client asked
-- for access_token_format jwt) and the key's id; oauth._issue stores its
-- digest like an opaque token's, so it is revocable.
CREATE FUNCTION oauth._access_jwt(p_tenant uuid, p_client text, p_user uuid, p_scope text, access_ttl integer,
                                  p_issuer text, p_audience text, p_auth_time timestamptz,
                                  OUT jwt text, OUT kid text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  iss text := coalesce(p_issuer, oauth._default_issuer(p_tenant));
BEGIN
  SELECT j.jwt, j.kid INTO jwt, kid FROM oauth._sign_jwt(p_tenant, (oauth.signing_algs())[1], 'at+jwt', jsonb_strip_nulls(jsonb_build_object(
    'iss', iss,
    'sub', coalesce(p_user::text, p_client),
    'aud', coalesce(p_audience, iss),
    'client_id', p_client,
    'scope', p_scope,
    'iat', floor(extract(epoch FROM now()))::bigint,
    'exp', floor(extract(epoch FROM now()))::bigint + access_ttl,
    'jti', gen_random_uuid(),
    'auth_time', floor(extract(epoch FROM p_auth_time))::bigint))) j;
END $$;
COMMENT ON FUNCTION oauth._access_jwt(uuid, text, uuid, text, integer, text, text, timestamptz) IS 'Internal: an RFC 9068 access token (typ at+jwt, the first of oauth.signing_algs()) for a client (and user), with its key id; iss is p_issuer or the tenant''s default issuer, aud the resource indicator or iss.';
REVOKE ALL ON FUNCTION oauth._access_jwt(uuid, text, uuid, text, integer, text, text, timestamptz) FROM PUBLIC;

-- Issues an access token and, when refresh_ttl is not NULL, a refresh token
-- of the same family, and returns the RFC 6749 section 5.1 body: the one
-- place that stores what the grants issue, in C (token_endpoint.c). The
-- access token is opaque (bfat_...) or, when the client asks for it
-- (access_token_format jwt), an RFC 9068 JWT (oauth._access_jwt); both are
-- stored as digests, so both are revocable. p_audience: the resource
-- indicator (RFC 8707), NULL for the tenant's own API. The refresh token
-- never outlives p_family_expires (the grant's absolute lifetime).
-- p_format: the client's access_token_format when the caller knows it.
-- Runs as its caller (the grants run as backend_definer).
CREATE FUNCTION oauth._issue(p_tenant uuid, p_client text, p_user uuid, p_scope text, p_family uuid,
                             access_ttl integer, refresh_ttl integer, refresh_scope text DEFAULT NULL,
                             p_issuer text DEFAULT NULL, p_audience text DEFAULT NULL,
                             p_auth_time timestamptz DEFAULT NULL, p_family_expires timestamptz DEFAULT NULL,
                             p_format text DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_issue';
COMMENT ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz, text) IS 'Internal: stores the digests of a new access token (opaque, or an RFC 9068 JWT when the client''s access_token_format is jwt) and of a refresh token when refresh_ttl is given (its scope is refresh_scope, default the same; it never outlives p_family_expires), and returns the RFC 6749 section 5.1 body.';
REVOKE ALL ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz, text) FROM PUBLIC;

-- Absolute end of a new grant (refresh token family): the tenant setting
-- refresh_token_max_lifetime, default oauth.lifetimes().refresh_family.
CREATE FUNCTION oauth._family_expires(p_tenant uuid) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT now() + make_interval(secs => coalesce((SELECT (n.settings->>'refresh_token_max_lifetime')::integer
                                                   FROM tenancy.tenants n WHERE n.id = p_tenant),
                                                (oauth.lifetimes()).refresh_family))
$$;
COMMENT ON FUNCTION oauth._family_expires(uuid) IS 'Internal: when a grant started now ends at the latest (tenant setting refresh_token_max_lifetime, default oauth.lifetimes().refresh_family); refresh rotation never goes beyond.';
REVOKE ALL ON FUNCTION oauth._family_expires(uuid) FROM PUBLIC;

-- The audience a resource indicator names (RFC 8707): NULL for the
-- tenant's own API (no resource, or the issuer URL), else the resource.
CREATE FUNCTION oauth._audience(p_issuer text, p_resource text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN CASE WHEN p_resource IS NULL OR p_resource IN (p_issuer, p_issuer || '/') THEN NULL ELSE p_resource END;
END $$;
COMMENT ON FUNCTION oauth._audience(text, text) IS 'Internal: NULL when a resource indicator is absent or names the tenant''s own API (its issuer), else the resource URI.';

-- Revokes every live token of a family (code replay, refresh token reuse,
-- revocation of a refresh token).
CREATE FUNCTION oauth._revoke_family(p_tenant uuid, p_family uuid) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  WITH r AS (UPDATE oauth.tokens SET revoked_at = now()
              WHERE tenant_id = p_tenant AND family_id = p_family AND revoked_at IS NULL RETURNING 1)
  SELECT count(*) FROM r
$$;
COMMENT ON FUNCTION oauth._revoke_family(uuid, uuid) IS 'Internal: revokes all tokens of a family; returns how many.';
REVOKE ALL ON FUNCTION oauth._revoke_family(uuid, uuid) FROM PUBLIC;

-- The token endpoint: one function per grant ----------------------------------
-- Each decides for an authenticated client (oauth.authenticate_client)
-- whose registration allows the grant, in the tenant p_tenant, and returns
-- the RFC 6749 section 5.1 body or an error decision (oauth._error).
-- p_audience: the resource indicator already checked (RFC 8707), or NULL.

-- RFC 6749 section 4.4: confidential clients only, no refresh token, no
-- user; in C (token_endpoint.c), the busiest grant. Its commit does not wait
-- for the WAL flush: after a crash of PostgreSQL, tokens issued in the last
-- few hundred milliseconds may be gone (their clients get 401 and ask
-- again); never used for tenants, users, clients, codes or refresh rotation.
CREATE FUNCTION oauth._token_client_credentials(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                                p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_token_client_credentials';
COMMENT ON FUNCTION oauth._token_client_credentials(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the client_credentials grant (RFC 6749 section 4.4) for an authenticated confidential client: an access token of the requested scope (default: the client''s), no refresh token; commits without waiting for the WAL flush.';
REVOKE ALL ON FUNCTION oauth._token_client_credentials(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

-- RFC 6749 section 4.3: only for clients registered with it; throttled.
CREATE FUNCTION oauth._token_password(p_tenant uuid, c oauth.client_authentication, params jsonb, p_client_addr text,
                                      p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  g record;
  uid uuid;
  wait integer;
  urole text;
BEGIN
  -- Never for a public client (clients registered so before 0.2.0 included).
  IF c.auth_method = 'none' THEN
    RETURN oauth._error('unauthorized_client', 'public clients cannot use the password grant');
  END IF;
  IF params->>'username' IS NULL OR params->>'password' IS NULL THEN
    RETURN oauth._error('invalid_request', 'username and password are required');
  END IF;
  IF params->>'scope' IS NOT NULL AND oauth._scopes(params->>'scope') IS NULL THEN
    RETURN oauth._error('invalid_scope', oauth._unknown_scope());
  END IF;
  SELECT * INTO uid, wait FROM oauth._check_password(p_tenant, params->>'username', params->>'password', p_client_addr);
  IF wait > 0 THEN
    RETURN oauth._error('invalid_grant', format('Too many attempts, try again in %s', oauth._seconds(wait)));
  END IF;
  IF uid IS NULL THEN
    RETURN oauth._error('invalid_grant', 'invalid username or password');
  END IF;
  SELECT x.role INTO urole FROM tenancy.users x WHERE x.tenant_id = p_tenant AND x.id = uid;
  SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(urole)));
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_scope', g.err);
  END IF;
  RETURN oauth._issue(p_tenant, c.client_id, uid, oauth._scope_text(g.scopes), gen_random_uuid(),
                      oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                      CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings) END, NULL,
                      p_issuer, p_audience, now(), oauth._family_expires(p_tenant), c.access_token_format);
END $$;
COMMENT ON FUNCTION oauth._token_password(uuid, oauth.client_authentication, jsonb, text, text, text) IS 'Internal: the password grant (RFC 6749 section 4.3) for an authenticated confidential client: a throttled password check (per e-mail and client address), scope within the client''s and the user''s role; a refresh token when the client has that grant.';
REVOKE ALL ON FUNCTION oauth._token_password(uuid, oauth.client_authentication, jsonb, text, text, text) FROM PUBLIC;

-- RFC 6749 section 4.1.3 with RFC 7636 section 4.6.
CREATE FUNCTION oauth._token_authorization_code(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                                p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k record;
  g record;
  aud text := p_audience;
  body jsonb;
BEGIN
  IF params->>'code' IS NULL THEN
    RETURN oauth._error('invalid_request', 'code is missing');
  END IF;
  SELECT a.client_id, a.user_id, a.redirect_uri, a.redirect_uri_given, a.scope, a.code_challenge,
         a.code_challenge_method, a.family_id, a.expires_at, a.used_at, x.role, x.status AS user_status,
         a.nonce, a.auth_time, a.session_id, a.resource
    INTO k
    FROM oauth.authorization_codes a JOIN tenancy.users x ON x.tenant_id = a.tenant_id AND x.id = a.user_id
   WHERE a.tenant_id = p_tenant AND a.code_hash = oauth.token_digest(params->>'code');
  IF NOT FOUND OR k.client_id <> c.client_id THEN
    RETURN oauth._error('invalid_grant', 'invalid authorization code');
  END IF;
  -- Mark it used first: of two concurrent redemptions exactly one wins.
  UPDATE oauth.authorization_codes SET used_at = now()
   WHERE tenant_id = p_tenant AND code_hash = oauth.token_digest(params->>'code') AND used_at IS NULL;
  IF NOT FOUND THEN
    PERFORM oauth._revoke_family(p_tenant, k.family_id);
    RETURN oauth._error('invalid_grant', 'authorization code already used; the tokens issued for it have been revoked');
  END IF;
  IF k.expires_at <= now() THEN
    RETURN oauth._error('invalid_grant', 'authorization code expired');
  END IF;
  IF k.redirect_uri_given AND params->>'redirect_uri' IS NULL THEN
    RETURN oauth._error('invalid_grant', 'redirect_uri is required: it was part of the authorization request');
  END IF;
  IF params->>'redirect_uri' IS DISTINCT FROM k.redirect_uri AND params->>'redirect_uri' IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'redirect_uri does not match the one of the authorization request');
  END IF;
  IF k.code_challenge IS NOT NULL AND params->>'code_verifier' IS NULL THEN
    RETURN oauth._error('invalid_grant', 'code_verifier is required (PKCE)');
  END IF;
  IF k.code_challenge IS NULL AND params->>'code_verifier' IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'code_verifier sent, but the authorization request had no code_challenge');
  END IF;
  IF k.code_challenge IS NOT NULL AND NOT oauth.pkce_verify(params->>'code_verifier', k.code_challenge, k.code_challenge_method) THEN
    RETURN oauth._error('invalid_grant', 'code_verifier does not match the code_challenge');
  END IF;
  IF k.user_status <> 'active' THEN
    RETURN oauth._error('invalid_grant', 'the user is disabled');
  END IF;
  -- The user's role may have changed since: intersect again.
  SELECT * INTO g FROM oauth._grant_scope(NULL, oauth._scope_and(oauth._scopes(k.scope), oauth._role_scopes(k.role)));
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'the user may no longer be granted these scopes');
  END IF;
  -- RFC 8707 section 2.2: the token request may only narrow to the authorized resource.
  IF params->>'resource' IS NOT NULL AND k.resource IS NOT NULL AND params->>'resource' <> k.resource THEN
    RETURN oauth._error('invalid_target', 'the resource differs from the one authorized');
  END IF;
  aud := coalesce(aud, oauth._audience(p_issuer, k.resource));
  body := oauth._issue(p_tenant, c.client_id, k.user_id, oauth._scope_text(g.scopes), k.family_id,
                       oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                       CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings) END, NULL,
                       p_issuer, aud, k.auth_time, oauth._family_expires(p_tenant), c.access_token_format);
  -- OpenID Connect: the id_token of this sign-in.
  IF 'openid' = ANY (g.scopes) THEN
    body := body || jsonb_build_object('id_token', oauth._id_token(p_tenant, p_issuer, c.client_id, k.user_id, g.scopes, k.nonce,
                                                                   coalesce(k.auth_time, now()), body->>'access_token', k.session_id));
  END IF;
  RETURN body;
END $$;
COMMENT ON FUNCTION oauth._token_authorization_code(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the authorization_code grant (RFC 6749 section 4.1.3, RFC 7636 section 4.6): the code is single use (a replay revokes what it gave), bound to its client, redirect URI, PKCE challenge and resource; scope within the user''s role now; an id_token with openid.';
REVOKE ALL ON FUNCTION oauth._token_authorization_code(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

-- RFC 6749 section 6, rotated on every use (RFC 9700 section 4.14.2).
CREATE FUNCTION oauth._token_refresh_token(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                           p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tok record;
  g record;
  ceiling text[];
  body jsonb;
BEGIN
  IF params->>'refresh_token' IS NULL THEN
    RETURN oauth._error('invalid_request', 'refresh_token is missing');
  END IF;
  SELECT r.client_id, r.user_id, r.scope, r.family_id, r.expires_at, r.rotated_at, r.revoked_at, x.role,
         x.status AS user_status, r.auth_time, r.audience, r.family_expires_at
    INTO tok
    FROM oauth.tokens r LEFT JOIN tenancy.users x ON x.tenant_id = r.tenant_id AND x.id = r.user_id
   WHERE r.tenant_id = p_tenant AND r.token_hash = oauth.token_digest(params->>'refresh_token') AND r.kind = 'refresh';
  IF NOT FOUND OR tok.client_id <> c.client_id THEN
    RETURN oauth._error('invalid_grant', 'invalid refresh token');
  END IF;
  IF tok.revoked_at IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'refresh token revoked');
  END IF;
  -- A rotated token used again has leaked (or its client lost track):
  -- the whole grant ends (RFC 9700 section 4.14.2).
  IF tok.rotated_at IS NOT NULL THEN
    PERFORM oauth._revoke_family(p_tenant, tok.family_id);
    RETURN oauth._error('invalid_grant', 'refresh token already used; all tokens of this grant have been revoked');
  END IF;
  IF tok.expires_at <= now() THEN
    RETURN oauth._error('invalid_grant', 'refresh token expired');
  END IF;
  IF tok.user_id IS NOT NULL AND tok.user_status IS DISTINCT FROM 'active' THEN
    RETURN oauth._error('invalid_grant', 'the user is disabled');
  END IF;
  -- May only narrow (RFC 6749 section 6), within what client and role allow now.
  ceiling := oauth._scope_and(oauth._scope_and(oauth._scopes(tok.scope), oauth._scopes(c.scope)),
                              CASE WHEN tok.user_id IS NULL THEN oauth._all_scopes() ELSE oauth._role_scopes(tok.role) END);
  IF params->>'scope' IS NOT NULL AND btrim(params->>'scope') <> ''
     AND NOT coalesce(oauth._scopes(params->>'scope') <@ oauth._scopes(tok.scope), false) THEN
    RETURN oauth._error('invalid_scope', 'the requested scope exceeds the scope originally granted');
  END IF;
  SELECT * INTO g FROM oauth._grant_scope(params->>'scope', ceiling);
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_scope', g.err);
  END IF;
  -- Rotate: of two concurrent uses exactly one wins; the other is a reuse.
  UPDATE oauth.tokens SET rotated_at = now()
   WHERE tenant_id = p_tenant AND token_hash = oauth.token_digest(params->>'refresh_token') AND rotated_at IS NULL
     AND revoked_at IS NULL;
  IF NOT FOUND THEN
    PERFORM oauth._revoke_family(p_tenant, tok.family_id);
    RETURN oauth._error('invalid_grant', 'refresh token already used; all tokens of this grant have been revoked');
  END IF;
  IF params->>'resource' IS NOT NULL AND p_audience IS DISTINCT FROM tok.audience THEN
    RETURN oauth._error('invalid_target', 'the resource differs from the one of this grant');
  END IF;
  -- The new refresh token ends with the grant (family_expires_at), however often it rotates.
  body := oauth._issue(p_tenant, c.client_id, tok.user_id, oauth._scope_text(g.scopes), tok.family_id,
                       oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                       oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings), oauth._scope_text(ceiling), p_issuer, tok.audience, tok.auth_time,
                       coalesce(tok.family_expires_at, oauth._family_expires(p_tenant)), c.access_token_format);
  IF 'openid' = ANY (g.scopes) AND tok.user_id IS NOT NULL THEN
    body := body || jsonb_build_object('id_token', oauth._id_token(p_tenant, p_issuer, c.client_id, tok.user_id, g.scopes, NULL,
                                                                   tok.auth_time, body->>'access_token', NULL));
  END IF;
  RETURN body;
END $$;
COMMENT ON FUNCTION oauth._token_refresh_token(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the refresh_token grant (RFC 6749 section 6): rotation on every use, reuse of a rotated token revokes the family (RFC 9700 section 4.14.2); scope may only narrow, within client and role now; the family never outlives its absolute lifetime; an id_token with openid.';
REVOKE ALL ON FUNCTION oauth._token_refresh_token(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

-- The dispatcher: form, client, grant type, resource; then the grant's
-- function. In C (token_endpoint.c); it runs as backend_definer, as a
-- SECURITY DEFINER function would, and names every schema and operator.
CREATE FUNCTION oauth.token_endpoint(params jsonb, authorization text, client_addr text, issuer text DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_token_endpoint_sql';
COMMENT ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) IS 'POST /oauth/token of the current tenant (RFC 6749), as a decision: params = the decoded form body, authorization = the Authorization header (or NULL), client_addr for throttling, issuer = the tenant''s issuer URL (default: by configuration). Authenticates the client (oauth.authenticate_client), checks the grant type and resource (RFC 8707: unknown is invalid_target), then decides with the grant''s function: oauth._token_authorization_code (PKCE, RFC 7636; id_token with openid), _token_refresh_token (rotation, reuse revokes the family, which ends after the tenant''s refresh_token_max_lifetime), _token_client_credentials, _token_password (throttled). Returns the RFC 6749 section 5.1 body, or the section 5.2 error {"error", "error_description"}; never raises for a client error (so a failed password count or a revoked family is committed). api.oauth_answer makes the HTTP answer (status from api.error_status, no-store, the Basic challenge).';
REVOKE ALL ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) TO backend_gateway, backend_admin;
