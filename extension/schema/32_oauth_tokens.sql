-- 32_oauth_tokens.sql — the token endpoint (RFC 6749 sections 4.1.3, 4.3,
-- 4.4, 6): client authentication, the four grants, issuance, refresh
-- rotation with reuse detection, and throttling of password attempts.
--
-- The endpoint never raises for a client's mistake: it returns the RFC 6749
-- section 5.1 body (200) or the section 5.2 error body with its status
-- (400, or 401 for invalid_client), so every outcome, including a failed
-- password recorded for throttling or a family revoked after a replay, is
-- committed. An exception means a bug.
--
-- Internal helpers (oauth._*) that only the SECURITY DEFINER entry points
-- call are plain functions with EXECUTE revoked from PUBLIC: only the
-- extension's owner may run them, and they run under the entry point's
-- pinned search_path. They carry no SET clause of their own: a SET clause
-- costs a settings save and restore on every call (and prevents inlining),
-- which the token path, run thousands of times a second, cannot afford.

-- Lifetimes: the client's, else the tenant's setting, else the default
-- (oauth.lifetimes()).
CREATE FUNCTION oauth._ttl(kind text, client_ttl integer, settings jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(client_ttl, (settings->>(kind || '_ttl'))::integer,
                  CASE kind WHEN 'access_token' THEN (oauth.lifetimes()).access_token
                            WHEN 'refresh_token' THEN (oauth.lifetimes()).refresh_token
                            WHEN 'code' THEN (oauth.lifetimes()).code END)
$$;
COMMENT ON FUNCTION oauth._ttl(text, integer, jsonb) IS 'Internal: lifetime in seconds of an access_token, refresh_token or code: the client''s, else the tenant setting <kind>_ttl, else the default of oauth.lifetimes().';

CREATE FUNCTION oauth._error(http_status integer, error text, description text, OUT status integer, OUT body jsonb)
LANGUAGE sql IMMUTABLE AS $$
  SELECT http_status, jsonb_build_object('error', error, 'error_description', description)
$$;
COMMENT ON FUNCTION oauth._error(integer, text, text) IS 'Internal: an OAuth error answer (status, {"error", "error_description"}).';

-- The checks every form endpoint starts with: a tenant in the context and a
-- form (an object of strings, what oauth.form_decode makes). NULLs when fine.
CREATE FUNCTION oauth._form_precheck(params jsonb, OUT status integer, OUT body jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF tenancy.current_tenant_id() IS NULL THEN
    SELECT * INTO status, body FROM oauth._error(404, 'invalid_request', 'unknown tenant');
  ELSIF params IS NULL OR jsonb_typeof(params) <> 'object'
        OR EXISTS (SELECT 1 FROM jsonb_each(params) e WHERE jsonb_typeof(e.value) <> 'string') THEN
    SELECT * INTO status, body FROM oauth._error(400, 'invalid_request',
      'the request must be application/x-www-form-urlencoded parameters');
  END IF;
END $$;
COMMENT ON FUNCTION oauth._form_precheck(jsonb) IS 'Internal: the error answer of a form endpoint called without a tenant or without form parameters; NULLs when fine.';

-- Client authentication (RFC 6749 section 2.3.1): HTTP Basic
-- (client_secret_basic), client_id and client_secret in the body
-- (client_secret_post), or client_id alone for public clients (none). The
-- method must be the one the client registered; the secret is compared as
-- SHA-256 digests in constant time. err is NULL on success.
CREATE FUNCTION oauth._client_auth(p_tenant uuid, params jsonb, authorization text,
  OUT err text, OUT err_description text, OUT client_id text, OUT auth_method text, OUT grant_types text[],
  OUT scope text, OUT access_ttl integer, OUT refresh_ttl integer, OUT code_ttl integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  basic_id text;
  basic_secret text;
  body_id text := params->>'client_id';
  body_secret text := params->>'client_secret';
  presented text;
  used text;
  c record;
BEGIN
  IF nullif(btrim(_client_auth.authorization), '') IS NOT NULL THEN
    BEGIN
      SELECT b.client_id, b.client_secret INTO basic_id, basic_secret FROM oauth.basic_credentials(_client_auth.authorization) b;
    EXCEPTION WHEN invalid_authorization_specification THEN
      err := 'invalid_client'; err_description := SQLERRM;
      RETURN;
    END;
    IF basic_id IS NULL THEN
      err := 'invalid_client';
      err_description := 'unsupported authentication scheme: use HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)';
      RETURN;
    END IF;
  END IF;
  IF basic_id IS NOT NULL THEN
    IF body_secret IS NOT NULL THEN
      err := 'invalid_request';
      err_description := 'client credentials were sent both in the Authorization header and in the body; use one method only';
      RETURN;
    END IF;
    IF body_id IS NOT NULL AND body_id <> basic_id THEN
      err := 'invalid_request';
      err_description := 'the client_id in the body differs from the one in the Authorization header';
      RETURN;
    END IF;
    client_id := basic_id; presented := basic_secret; used := 'client_secret_basic';
  ELSIF body_secret IS NOT NULL THEN
    client_id := body_id; presented := body_secret; used := 'client_secret_post';
  ELSE
    client_id := body_id; used := 'none';
  END IF;
  IF client_id IS NULL THEN
    err := 'invalid_client';
    err_description := 'client authentication is required: send HTTP Basic credentials, or client_id (and client_secret)';
    RETURN;
  END IF;
  SELECT k.token_endpoint_auth_method, k.secret_hash, k.grant_types, k.scope,
         k.access_token_ttl, k.refresh_token_ttl, t.settings
    INTO c
    FROM oauth.clients k JOIN tenancy.tenants t ON t.id = k.tenant_id
   WHERE k.tenant_id = p_tenant AND k.client_id = _client_auth.client_id;
  IF NOT FOUND THEN
    err := 'invalid_client'; err_description := 'unknown client';
    client_id := NULL;
    RETURN;
  END IF;
  -- Public clients: client_id alone (an empty Basic password is accepted too).
  IF c.token_endpoint_auth_method = 'none' THEN
    IF used = 'client_secret_post' OR (used = 'client_secret_basic' AND presented <> '') THEN
      err := 'invalid_client'; err_description := 'this is a public client: send client_id only, without a secret';
      client_id := NULL;
      RETURN;
    END IF;
  ELSE
    IF used = 'none' THEN
      err := 'invalid_client'; err_description := 'client authentication is required for this client';
      client_id := NULL;
      RETURN;
    END IF;
    IF used <> c.token_endpoint_auth_method THEN
      err := 'invalid_client';
      err_description := format('this client authenticates with %s', c.token_endpoint_auth_method);
      client_id := NULL;
      RETURN;
    END IF;
    IF NOT oauth.ct_equal(oauth.token_digest(presented), c.secret_hash) THEN
      err := 'invalid_client'; err_description := 'client authentication failed';
      client_id := NULL;
      RETURN;
    END IF;
  END IF;
  auth_method := c.token_endpoint_auth_method;
  grant_types := c.grant_types;
  scope := c.scope;
  access_ttl := oauth._ttl('access_token', c.access_token_ttl, c.settings);
  refresh_ttl := oauth._ttl('refresh_token', c.refresh_token_ttl, c.settings);
  code_ttl := oauth._ttl('code', NULL, c.settings);
END $$;
COMMENT ON FUNCTION oauth._client_auth(uuid, jsonb, text) IS 'Internal: authenticates the client of a token, revocation or introspection request (client_secret_basic, client_secret_post or none, as registered); err/err_description are set on failure.';
REVOKE ALL ON FUNCTION oauth._client_auth(uuid, jsonb, text) FROM PUBLIC;

-- Granted scope: the requested scopes (default: all of the ceiling)
-- intersected with the ceiling (client's ∩ what the user's role allows).
-- err is invalid_scope when a value is unknown or nothing remains.
CREATE FUNCTION oauth._grant_scope(requested text, ceiling text[], OUT scopes text[], OUT err text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE r text[];
BEGIN
  IF requested IS NULL OR btrim(requested) = '' THEN
    scopes := ceiling;
  ELSE
    r := oauth._scopes(requested);
    IF r IS NULL THEN
      err := oauth._unknown_scope();
      RETURN;
    END IF;
    scopes := oauth._scope_and(r, ceiling);
  END IF;
  IF cardinality(scopes) = 0 THEN
    err := 'none of the requested scopes can be granted';
  END IF;
END $$;
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

-- Issues an access token and, when refresh_ttl is not NULL, a refresh token
-- of the same family, in one INSERT. Returns the RFC 6749 section 5.1 body.
-- The access token is opaque (bfat_...) or, when the client asks for it
-- (access_token_format jwt), an RFC 9068 JWT signed with the tenant's RS256
-- key; both are stored as digests, so both are revocable. p_audience: the
-- resource indicator (RFC 8707), NULL for the tenant's own API. The refresh
-- token never outlives p_family_expires (the grant's absolute lifetime).
CREATE FUNCTION oauth._issue(p_tenant uuid, p_client text, p_user uuid, p_scope text, p_family uuid,
                             access_ttl integer, refresh_ttl integer, refresh_scope text DEFAULT NULL,
                             p_issuer text DEFAULT NULL, p_audience text DEFAULT NULL,
                             p_auth_time timestamptz DEFAULT NULL, p_family_expires timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  at text;
  kid text;
  iss text;
  rt text := CASE WHEN refresh_ttl IS NOT NULL THEN oauth.random_token('refresh') END;
BEGIN
  IF (SELECT c.access_token_format FROM oauth.clients c WHERE c.tenant_id = p_tenant AND c.client_id = p_client) = 'jwt' THEN
    iss := coalesce(p_issuer, oauth._default_issuer(p_tenant));
    SELECT j.jwt, j.kid INTO at, kid FROM oauth._sign_jwt(p_tenant, (oauth.signing_algs())[1], 'at+jwt', jsonb_strip_nulls(jsonb_build_object(
      'iss', iss,
      'sub', coalesce(p_user::text, p_client),
      'aud', coalesce(p_audience, iss),
      'client_id', p_client,
      'scope', p_scope,
      'iat', floor(extract(epoch FROM now()))::bigint,
      'exp', floor(extract(epoch FROM now()))::bigint + access_ttl,
      'jti', gen_random_uuid(),
      'auth_time', floor(extract(epoch FROM p_auth_time))::bigint))) j;
  ELSE
    at := oauth.random_token('access');
  END IF;
  INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, user_id, scope, family_id, expires_at,
                            auth_time, audience, family_expires_at, kid)
  SELECT p_tenant, oauth.token_digest(v.tok), v.kind, p_client, p_user, v.scope, p_family,
         least(now() + make_interval(secs => v.ttl), CASE WHEN v.kind = 'refresh' THEN p_family_expires END),
         p_auth_time, p_audience, p_family_expires, v.kid
    FROM (VALUES (at, 'access', p_scope, access_ttl, kid),
                 (rt, 'refresh', coalesce(refresh_scope, p_scope), refresh_ttl, NULL)) v(tok, kind, scope, ttl, kid)
   WHERE v.tok IS NOT NULL;
  RETURN jsonb_strip_nulls(jsonb_build_object('access_token', at, 'token_type', 'Bearer', 'expires_in', access_ttl,
                                              'scope', p_scope, 'refresh_token', rt));
END $$;
COMMENT ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz) IS 'Internal: stores the digests of a new access token (opaque, or an RFC 9068 JWT when the client''s access_token_format is jwt) and of a refresh token when refresh_ttl is given (its scope is refresh_scope, default the same; it never outlives p_family_expires), and returns the RFC 6749 section 5.1 body.';
REVOKE ALL ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz) FROM PUBLIC;

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
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_resource IS NULL OR p_resource IN (p_issuer, p_issuer || '/') THEN NULL ELSE p_resource END
$$;
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

-- The token endpoint --------------------------------------------------------

CREATE FUNCTION oauth.token_endpoint(params jsonb, authorization text, client_addr text, issuer text DEFAULT NULL,
                                     OUT status integer, OUT body jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c record;
  gt text;
  g record;
  sc text;
  at text;
  ttl integer;
  bid text;
  bsecret text;
  u record;
  k record;
  tok record;
  uid uuid;
  wait integer;
  fam uuid;
  ceiling text[];
  iss text;
  aud text;
BEGIN
  SELECT * INTO status, body FROM oauth._form_precheck(params);
  IF status IS NOT NULL THEN RETURN; END IF;
  iss := coalesce(token_endpoint.issuer, oauth._default_issuer(t));
  -- Fast path: client credentials with HTTP Basic and the registered scope
  -- (what services do, thousands of times a second). One statement checks
  -- the client (method, grant, secret digest in constant time) and stores
  -- the token. When it stores nothing, the general path below runs the
  -- same checks one by one and answers precisely why.
  IF params->>'grant_type' = 'client_credentials' AND params->>'scope' IS NULL AND params->>'client_secret' IS NULL
     AND params->>'resource' IS NULL AND lower(left(token_endpoint.authorization, 6)) = 'basic ' THEN
    -- Decoding may raise (malformed Basic): catch that in a block that
    -- writes nothing, so the INSERT below needs no subtransaction.
    BEGIN
      SELECT x.client_id, x.client_secret INTO bid, bsecret FROM oauth.basic_credentials(token_endpoint.authorization) x;
    EXCEPTION WHEN invalid_authorization_specification THEN
      bid := NULL;
    END;
    IF bid IS NOT NULL AND coalesce(params->>'client_id', bid) = bid THEN
      at := oauth.random_token('access');
      INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, scope, expires_at)
      SELECT t, oauth.token_digest(at), 'access', cl.client_id, cl.scope,
             now() + make_interval(secs => coalesce(cl.access_token_ttl, (tn.settings->>'access_token_ttl')::integer,
                                                    (oauth.lifetimes()).access_token))
        FROM oauth.clients cl JOIN tenancy.tenants tn ON tn.id = cl.tenant_id
       WHERE cl.tenant_id = t AND cl.client_id = bid
         AND cl.token_endpoint_auth_method = 'client_secret_basic' AND 'client_credentials' = ANY (cl.grant_types)
         AND cl.access_token_format = 'opaque'
         AND oauth.ct_equal(oauth.token_digest(bsecret), cl.secret_hash)
      RETURNING tokens.scope, extract(epoch FROM tokens.expires_at - tokens.created_at)::integer INTO sc, ttl;
    END IF;
    IF sc IS NOT NULL THEN
      SET LOCAL synchronous_commit = off;  -- see the general path's comment
      status := 200;
      body := jsonb_build_object('access_token', at, 'token_type', 'Bearer', 'expires_in', ttl, 'scope', sc);
      RETURN;
    END IF;
  END IF;

  SELECT * INTO c FROM oauth._client_auth(t, params, token_endpoint.authorization);
  IF c.err IS NOT NULL THEN
    SELECT * INTO status, body FROM oauth._error(CASE WHEN c.err = 'invalid_client' THEN 401 ELSE 400 END, c.err, c.err_description);
    RETURN;
  END IF;
  gt := params->>'grant_type';
  IF gt IS NULL OR gt = '' THEN
    SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'grant_type is missing');
    RETURN;
  END IF;
  IF gt NOT IN ('authorization_code', 'refresh_token', 'client_credentials', 'password') THEN
    SELECT * INTO status, body FROM oauth._error(400, 'unsupported_grant_type',
      'grant_type must be authorization_code, refresh_token, client_credentials or password');
    RETURN;
  END IF;
  IF NOT gt = ANY (c.grant_types) THEN
    SELECT * INTO status, body FROM oauth._error(400, 'unauthorized_client',
      format('this client is not allowed to use the %s grant', gt));
    RETURN;
  END IF;
  -- RFC 8707: a resource must be one of the tenant's.
  -- (Checked only when given: these helpers are not inlined, and most requests have none.)
  IF params ? 'resource' THEN
    IF NOT oauth._resource_known(t, iss, params->>'resource') THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_target', 'the resource is not known to this authorization server');
      RETURN;
    END IF;
    aud := oauth._audience(iss, params->>'resource');
  END IF;

  CASE gt
  -- RFC 6749 section 4.4: confidential clients only, no refresh token, no user.
  WHEN 'client_credentials' THEN
    IF c.auth_method = 'none' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'unauthorized_client', 'public clients cannot use the client_credentials grant');
      RETURN;
    END IF;
    IF params->>'scope' IS NULL THEN
      sc := c.scope;  -- the client's registered scope, stored canonical
    ELSE
      SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scopes(c.scope));
      IF g.err IS NOT NULL THEN
        SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
        RETURN;
      END IF;
      sc := oauth._scope_text(g.scopes);
    END IF;
    -- Speed: this path writes one token row and nothing else that matters
    -- (the HTTP layer's API call counter at most), so its commit does not
    -- wait for the WAL flush. Trade-off: after a crash of PostgreSQL (not
    -- of a client), tokens issued in the last few hundred milliseconds
    -- (3 x wal_writer_delay at most) may be gone; their clients get 401 and
    -- ask again. Nothing else is affected: never used for tenants, users,
    -- clients, codes or refresh rotation.
    SET LOCAL synchronous_commit = off;
    status := 200;
    body := oauth._issue(t, c.client_id, NULL, sc, NULL, c.access_ttl, NULL, NULL, iss, aud);

  -- RFC 6749 section 4.3: only for clients registered with it; throttled.
  WHEN 'password' THEN
    -- Never for a public client (clients registered so before 0.2.0 included).
    IF c.auth_method = 'none' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'unauthorized_client', 'public clients cannot use the password grant');
      RETURN;
    END IF;
    IF params->>'username' IS NULL OR params->>'password' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'username and password are required');
      RETURN;
    END IF;
    IF params->>'scope' IS NOT NULL AND oauth._scopes(params->>'scope') IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', oauth._unknown_scope());
      RETURN;
    END IF;
    SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'username', params->>'password', client_addr);
    IF wait > 0 THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        format('Too many attempts, try again in %s', oauth._seconds(wait)));
      RETURN;
    END IF;
    IF uid IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid username or password');
      RETURN;
    END IF;
    SELECT x.role INTO u FROM tenancy.users x WHERE x.tenant_id = t AND x.id = uid;
    SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(u.role)));
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
      RETURN;
    END IF;
    status := 200;
    body := oauth._issue(t, c.client_id, uid, oauth._scope_text(g.scopes), gen_random_uuid(), c.access_ttl,
                         CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN c.refresh_ttl END, NULL,
                         iss, aud, now(), oauth._family_expires(t));

  -- RFC 6749 section 4.1.3 with RFC 7636 section 4.6.
  WHEN 'authorization_code' THEN
    IF params->>'code' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'code is missing');
      RETURN;
    END IF;
    SELECT a.client_id, a.user_id, a.redirect_uri, a.redirect_uri_given, a.scope, a.code_challenge,
           a.code_challenge_method, a.family_id, a.expires_at, a.used_at, x.role, x.status AS user_status,
           a.nonce, a.auth_time, a.session_id, a.resource
      INTO k
      FROM oauth.authorization_codes a JOIN tenancy.users x ON x.tenant_id = a.tenant_id AND x.id = a.user_id
     WHERE a.tenant_id = t AND a.code_hash = oauth.token_digest(params->>'code');
    IF NOT FOUND OR k.client_id <> c.client_id THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid authorization code');
      RETURN;
    END IF;
    -- Mark it used first: of two concurrent redemptions exactly one wins.
    UPDATE oauth.authorization_codes SET used_at = now()
     WHERE tenant_id = t AND code_hash = oauth.token_digest(params->>'code') AND used_at IS NULL;
    IF NOT FOUND THEN
      PERFORM oauth._revoke_family(t, k.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'authorization code already used; the tokens issued for it have been revoked');
      RETURN;
    END IF;
    IF k.expires_at <= now() THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'authorization code expired');
      RETURN;
    END IF;
    IF k.redirect_uri_given AND params->>'redirect_uri' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'redirect_uri is required: it was part of the authorization request');
      RETURN;
    END IF;
    IF params->>'redirect_uri' IS DISTINCT FROM k.redirect_uri AND params->>'redirect_uri' IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'redirect_uri does not match the one of the authorization request');
      RETURN;
    END IF;
    IF k.code_challenge IS NOT NULL AND params->>'code_verifier' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'code_verifier is required (PKCE)');
      RETURN;
    END IF;
    IF k.code_challenge IS NULL AND params->>'code_verifier' IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'code_verifier sent, but the authorization request had no code_challenge');
      RETURN;
    END IF;
    IF k.code_challenge IS NOT NULL AND NOT oauth.pkce_verify(params->>'code_verifier', k.code_challenge, k.code_challenge_method) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
      RETURN;
    END IF;
    IF k.user_status <> 'active' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user is disabled');
      RETURN;
    END IF;
    -- The user's role may have changed since: intersect again.
    SELECT * INTO g FROM oauth._grant_scope(NULL, oauth._scope_and(oauth._scopes(k.scope), oauth._role_scopes(k.role)));
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user may no longer be granted these scopes');
      RETURN;
    END IF;
    -- RFC 8707 section 2.2: the token request may only narrow to the authorized resource.
    IF params->>'resource' IS NOT NULL AND k.resource IS NOT NULL AND params->>'resource' <> k.resource THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_target', 'the resource differs from the one authorized');
      RETURN;
    END IF;
    aud := coalesce(aud, oauth._audience(iss, k.resource));
    status := 200;
    body := oauth._issue(t, c.client_id, k.user_id, oauth._scope_text(g.scopes), k.family_id, c.access_ttl,
                         CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN c.refresh_ttl END, NULL,
                         iss, aud, k.auth_time, oauth._family_expires(t));
    -- OpenID Connect: the id_token of this sign-in.
    IF 'openid' = ANY (g.scopes) THEN
      body := body || jsonb_build_object('id_token', oauth._id_token(t, iss, c.client_id, k.user_id, g.scopes, k.nonce,
                                                                     coalesce(k.auth_time, now()), body->>'access_token', k.session_id));
    END IF;

  -- RFC 6749 section 6, rotated on every use (RFC 9700 section 4.14.2).
  WHEN 'refresh_token' THEN
    IF params->>'refresh_token' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'refresh_token is missing');
      RETURN;
    END IF;
    SELECT r.client_id, r.user_id, r.scope, r.family_id, r.expires_at, r.rotated_at, r.revoked_at, x.role,
           x.status AS user_status, r.auth_time, r.audience, r.family_expires_at
      INTO tok
      FROM oauth.tokens r LEFT JOIN tenancy.users x ON x.tenant_id = r.tenant_id AND x.id = r.user_id
     WHERE r.tenant_id = t AND r.token_hash = oauth.token_digest(params->>'refresh_token') AND r.kind = 'refresh';
    IF NOT FOUND OR tok.client_id <> c.client_id THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid refresh token');
      RETURN;
    END IF;
    IF tok.revoked_at IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'refresh token revoked');
      RETURN;
    END IF;
    -- A rotated token used again has leaked (or its client lost track):
    -- the whole grant ends (RFC 9700 section 4.14.2).
    IF tok.rotated_at IS NOT NULL THEN
      PERFORM oauth._revoke_family(t, tok.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'refresh token already used; all tokens of this grant have been revoked');
      RETURN;
    END IF;
    IF tok.expires_at <= now() THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'refresh token expired');
      RETURN;
    END IF;
    IF tok.user_id IS NOT NULL AND tok.user_status IS DISTINCT FROM 'active' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user is disabled');
      RETURN;
    END IF;
    -- May only narrow (RFC 6749 section 6), within what client and role allow now.
    ceiling := oauth._scope_and(oauth._scope_and(oauth._scopes(tok.scope), oauth._scopes(c.scope)),
                                CASE WHEN tok.user_id IS NULL THEN oauth._all_scopes() ELSE oauth._role_scopes(tok.role) END);
    IF params->>'scope' IS NOT NULL AND btrim(params->>'scope') <> ''
       AND NOT coalesce(oauth._scopes(params->>'scope') <@ oauth._scopes(tok.scope), false) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope',
        'the requested scope exceeds the scope originally granted');
      RETURN;
    END IF;
    SELECT * INTO g FROM oauth._grant_scope(params->>'scope', ceiling);
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
      RETURN;
    END IF;
    -- Rotate: of two concurrent uses exactly one wins; the other is a reuse.
    UPDATE oauth.tokens SET rotated_at = now()
     WHERE tenant_id = t AND token_hash = oauth.token_digest(params->>'refresh_token') AND rotated_at IS NULL
       AND revoked_at IS NULL;
    IF NOT FOUND THEN
      PERFORM oauth._revoke_family(t, tok.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'refresh token already used; all tokens of this grant have been revoked');
      RETURN;
    END IF;
    IF params->>'resource' IS NOT NULL AND aud IS DISTINCT FROM tok.audience THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_target', 'the resource differs from the one of this grant');
      RETURN;
    END IF;
    status := 200;
    -- The new refresh token ends with the grant (family_expires_at), however often it rotates.
    body := oauth._issue(t, c.client_id, tok.user_id, oauth._scope_text(g.scopes), tok.family_id, c.access_ttl,
                         c.refresh_ttl, oauth._scope_text(ceiling), iss, tok.audience, tok.auth_time,
                         coalesce(tok.family_expires_at, oauth._family_expires(t)));
    IF 'openid' = ANY (g.scopes) AND tok.user_id IS NOT NULL THEN
      body := body || jsonb_build_object('id_token', oauth._id_token(t, iss, c.client_id, tok.user_id, g.scopes, NULL,
                                                                     tok.auth_time, body->>'access_token', NULL));
    END IF;
  END CASE;
END $$;
COMMENT ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) IS 'POST /oauth/token of the current tenant (RFC 6749): params = the decoded form body, authorization = the Authorization header (or NULL), client_addr for throttling, issuer = the tenant''s issuer URL (default: by configuration). OpenID Connect: an id_token when the scope has openid (code and refresh grants); resource (RFC 8707) sets the audience, unknown: invalid_target; refresh families end after the tenant''s refresh_token_max_lifetime. Grants authorization_code (PKCE, RFC 7636), refresh_token (rotation, reuse revokes the family), client_credentials, password (throttled). Returns status 200 and the section 5.1 body, or 400/401 and the section 5.2 error body; never raises for a client error. The caller adds Cache-Control: no-store, and WWW-Authenticate: Basic on 401.';
REVOKE ALL ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) TO backend_gateway, backend_admin;
