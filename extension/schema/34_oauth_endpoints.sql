-- 34_oauth_endpoints.sql — revocation (RFC 7009), introspection (RFC
-- 7662), dynamic client registration and management (RFC 7591, RFC 7592),
-- userinfo, and the authorization server metadata (RFC 8414). Like the
-- token endpoint, the endpoint functions return a decision (the answer's
-- body, or an error {"error", "error_description"}) and never raise for a
-- client's mistake; api.oauth_answer makes it an HTTP answer.

-- Revocation ------------------------------------------------------------------

CREATE FUNCTION oauth.revoke_endpoint(params jsonb, authorization text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c oauth.client_authentication := oauth._form_client(params, revoke_endpoint.authorization);
  k record;
  h bytea;
BEGIN
  IF c.error IS NOT NULL THEN
    RETURN oauth._error(c.error, c.error_description);
  END IF;
  IF params->>'token' IS NULL THEN
    RETURN oauth._error('invalid_request', 'token is missing');
  END IF;
  -- Access and refresh tokens share one table and one digest key, so the
  -- hint (access_token, refresh_token, or anything) needs no second search;
  -- what kind the token is comes from the row, never from the hint.
  h := oauth.token_digest(params->>'token');
  SELECT x.kind, x.client_id, x.family_id INTO k FROM oauth.tokens x WHERE x.tenant_id = t AND x.token_hash = h;
  IF FOUND AND k.client_id = c.client_id THEN
    IF k.kind = 'refresh' AND k.family_id IS NOT NULL THEN
      -- The grant ends: its access tokens and refresh tokens go with it.
      PERFORM oauth._revoke_family(t, k.family_id);
    END IF;
    UPDATE oauth.tokens SET revoked_at = now() WHERE tenant_id = t AND token_hash = h AND revoked_at IS NULL;
  END IF;
  -- RFC 7009 section 2.2: success also for unknown, invalid or other clients' tokens.
  RETURN '{}';
END $$;
COMMENT ON FUNCTION oauth.revoke_endpoint(jsonb, text) IS 'POST /oauth/revoke of the current tenant (RFC 7009), as a decision: the client (oauth.authenticate_client) revokes one of its own tokens; a refresh token takes its whole family (all access and refresh tokens of the grant) with it. {} also for unknown tokens and tokens of other clients (then nothing happens); errors as at the token endpoint.';
REVOKE ALL ON FUNCTION oauth.revoke_endpoint(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.revoke_endpoint(jsonb, text) TO backend_gateway, backend_admin;

-- Introspection -----------------------------------------------------------------
-- Who may learn about a token: a resource server (a client an admin marked
-- resource_server) about any token of its tenant; any other confidential
-- client only about its own. Otherwise the answer is {"active": false}, as
-- for an unknown token (RFC 7662 section 2.2 allows it; a 403 would tell a
-- token scanner that the token exists).

-- In C (extension/src/introspect.c): resource servers call it on every request.
CREATE FUNCTION oauth.introspect_endpoint(params jsonb, authorization text, issuer text) RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_introspect_endpoint';
COMMENT ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) IS 'POST /oauth/introspect of the current tenant (RFC 7662), as a decision, for confidential clients (oauth.authenticate_client): a resource server (oauth.clients.resource_server) learns about every token of the tenant, any other client only about its own. {"active": false} for unknown, expired, revoked, rotated or other tenants'' tokens, disabled users, and tokens of other clients when the caller is no resource server; else active, scope, client_id, username (email), sub (user id), token_type (Bearer, or refresh_token), exp, iat, iss (= issuer), tenant (slug), tenant_id.';
REVOKE ALL ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) TO backend_gateway, backend_admin;

-- Dynamic client registration -------------------------------------------------------

-- Non-secret columns of a client of a tenant, as jsonb (definer: no RLS).
CREATE FUNCTION oauth._client_row_of(p_tenant uuid, p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(x) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.created_at, c.updated_at,
           c.access_token_format, c.id_token_signed_response_alg, c.post_logout_redirect_uris, c.application_type
      FROM oauth.clients c
     WHERE c.tenant_id = p_tenant AND c.client_id = p_client_id) x
$$;
COMMENT ON FUNCTION oauth._client_row_of(uuid, text) IS 'Internal: non-secret columns of a client of the given tenant as jsonb.';
REVOKE ALL ON FUNCTION oauth._client_row_of(uuid, text) FROM PUBLIC;

-- Whether another client of the tenant has this name. Names are not unique
-- (two installs of one app register alike, issue 12): the consent page
-- shows where a dynamically registered client returns to instead.
CREATE FUNCTION oauth._client_name_taken(p_tenant uuid, p_name text, p_except text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_name IS NOT NULL AND EXISTS (
    SELECT 1 FROM oauth.clients c
     WHERE c.tenant_id = p_tenant AND lower(btrim(c.client_name)) = lower(btrim(p_name))
       AND c.client_id IS DISTINCT FROM p_except)
$$;
COMMENT ON FUNCTION oauth._client_name_taken(uuid, text, text) IS 'Internal: true when another client of the tenant has this name (case-insensitive).';
REVOKE ALL ON FUNCTION oauth._client_name_taken(uuid, text, text) FROM PUBLIC;

CREATE FUNCTION oauth.register_endpoint(method text, client_id text, metadata jsonb, bearer text, base_url text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  m text := upper(method);
  settings jsonb;
  k record;
  c record;
  mode text;
  v jsonb;
  cid text;
  secret text;
  reg text;
  uri text;
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'unknown tenant' USING ERRCODE = 'P0002',
      DETAIL = 'The OAuth endpoints answer for the tenant of the context (tenancy.resolve_tenant).';
  END IF;
  SELECT n.settings INTO settings FROM tenancy.tenants n WHERE n.id = t;

  -- RFC 7591: POST /oauth/register.
  IF client_id IS NULL THEN
    IF m IS DISTINCT FROM 'POST' THEN
      RETURN oauth._error('method_not_allowed', 'register a client with POST');
    END IF;
    IF bearer IS NOT NULL THEN
      SELECT x.scope, x.user_id, u.role INTO k
        FROM oauth.tokens x LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
       WHERE x.tenant_id = t AND x.token_hash = oauth.token_digest(bearer) AND x.kind = 'access'
         AND x.revoked_at IS NULL AND x.expires_at > now() AND (x.user_id IS NULL OR u.status = 'active');
      IF NOT FOUND THEN
        RETURN oauth._error('invalid_token', 'the access token is invalid, expired or revoked');
      END IF;
      IF NOT 'admin' = ANY (oauth._scopes(k.scope)) OR (k.user_id IS NOT NULL AND NOT tenancy.is_admin_role(k.role)) THEN
        RETURN oauth._error('insufficient_scope', 'registering clients needs an access token of an admin with the admin scope');
      END IF;
      mode := 'dynamic';
    ELSIF coalesce((settings->>'open_registration')::boolean, false) THEN
      mode := 'open';
    ELSE
      RETURN oauth._error('invalid_token', 'registering clients needs an access token with the admin scope');
    END IF;
    v := oauth._client_metadata(metadata, mode);
    IF v ? 'error' THEN
      RETURN v;
    END IF;
    cid := oauth.random_token('client_id');
    reg := oauth.random_token('registration');
    IF v->>'token_endpoint_auth_method' <> 'none' THEN secret := oauth.random_token('client_secret'); END IF;
    INSERT INTO oauth.clients (tenant_id, client_id, client_name, secret_hash, registration_token_hash,
                               token_endpoint_auth_method, redirect_uris, grant_types, response_types, scope, extra,
                               registered_via, access_token_format, id_token_signed_response_alg,
                               post_logout_redirect_uris, application_type)
    VALUES (t, cid, coalesce(v->>'client_name', cid), oauth.token_digest(secret), oauth.token_digest(reg),
            v->>'token_endpoint_auth_method',
            ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
            ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
            ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
            v->>'scope', v->'extra', mode, coalesce(v->>'access_token_format', 'opaque'),
            coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
            coalesce(v->>'application_type', 'web'));
    RETURN oauth._client_json(oauth._client_row_of(t, cid))
           || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', reg,
                'registration_client_uri', coalesce(base_url, '') || '/oauth/register/' || cid));
  END IF;

  -- RFC 7592: GET/PUT/DELETE /oauth/register/{client_id} with the registration access token.
  SELECT x.registration_token_hash, x.token_endpoint_auth_method, x.registered_via, x.builtin, x.grant_types, x.scope
    INTO c FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
  IF NOT FOUND OR bearer IS NULL OR c.registration_token_hash IS NULL
     OR NOT oauth.ct_equal(oauth.token_digest(bearer), c.registration_token_hash) THEN
    RETURN oauth._error('invalid_token', 'invalid registration access token');
  END IF;
  uri := coalesce(base_url, '') || '/oauth/register/' || register_endpoint.client_id;
  IF m = 'GET' THEN
    RETURN oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
           || jsonb_build_object('registration_access_token', bearer, 'registration_client_uri', uri);
  ELSIF m = 'PUT' THEN
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
      RETURN oauth._error('invalid_client_metadata', 'client metadata must be a JSON object');
    END IF;
    IF metadata ? 'client_id' AND metadata->>'client_id' IS DISTINCT FROM register_endpoint.client_id THEN
      RETURN oauth._error('invalid_client_metadata', 'client_id does not match');
    END IF;
    -- RFC 7592 section 2.2: a client_secret sent along must be the current
    -- one; checked by the one client authentication, with the method the
    -- client registered.
    IF metadata ? 'client_secret' AND (oauth.authenticate_client(t,
         CASE WHEN c.token_endpoint_auth_method = 'client_secret_basic' THEN '{}'::jsonb
              ELSE jsonb_build_object('client_id', register_endpoint.client_id, 'client_secret', metadata->>'client_secret') END,
         CASE WHEN c.token_endpoint_auth_method = 'client_secret_basic' THEN oauth._basic_authorization(
              register_endpoint.client_id, metadata->>'client_secret') END)).error IS NOT NULL THEN
      RETURN oauth._error('invalid_client_metadata', 'client_secret does not match the current secret');
    END IF;
    -- The whole metadata is replaced (RFC 7592 section 2.2: omitted fields
    -- are removed, i.e. take the server's default). A client may narrow but
    -- never widen its own grant types and scope (that takes an admin), so
    -- the defaults for those two are its current values.
    v := oauth._client_metadata(
           jsonb_build_object('grant_types', to_jsonb(c.grant_types), 'scope', c.scope)
           || (metadata - 'client_id' - 'client_secret' - 'registration_access_token'
                        - 'registration_client_uri' - 'client_secret_expires_at' - 'client_id_issued_at'),
           CASE WHEN c.registered_via = 'open' THEN 'open' ELSE 'dynamic' END);
    IF v ? 'error' THEN
      RETURN v;
    END IF;
    IF NOT ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')) <@ c.grant_types
       OR NOT oauth._scopes(v->>'scope') <@ oauth._scopes(c.scope) THEN
      RETURN oauth._error('invalid_client_metadata', 'a client cannot widen its own grant types or scope; an admin of the tenant can');
    END IF;
    IF v->>'token_endpoint_auth_method' <> 'none' AND c.token_endpoint_auth_method = 'none' THEN
      secret := oauth.random_token('client_secret');
    END IF;
    UPDATE oauth.clients x SET
      client_name = coalesce(v->>'client_name', x.client_id),
      token_endpoint_auth_method = v->>'token_endpoint_auth_method',
      secret_hash = CASE WHEN v->>'token_endpoint_auth_method' = 'none' THEN NULL
                         WHEN secret IS NOT NULL THEN oauth.token_digest(secret) ELSE x.secret_hash END,
      redirect_uris = ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
      grant_types = ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
      response_types = ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
      scope = v->>'scope', extra = v->'extra',
      access_token_format = coalesce(v->>'access_token_format', 'opaque'),
      id_token_signed_response_alg = coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
      post_logout_redirect_uris = ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
      application_type = coalesce(v->>'application_type', 'web')
    WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    RETURN oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
           || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', bearer,
                                                   'registration_client_uri', uri));
  ELSIF m = 'DELETE' THEN
    -- Its tokens, codes and consents go with it (foreign keys, cascade).
    DELETE FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    RETURN '{}';
  END IF;
  RETURN oauth._error('method_not_allowed', 'use GET, PUT or DELETE');
END $$;
COMMENT ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) IS 'Dynamic client registration of the current tenant, as a decision (api.register_answer makes the HTTP answer: 201 for a registration, 204 for a deletion, else 200). POST with client_id NULL (RFC 7591): bearer = an access token of an admin with scope admin, or none when the tenant setting open_registration is true (then only authorization_code/refresh_token, no admin scope); client_id, client_secret (confidential), client_id_issued_at, client_secret_expires_at 0, registration_access_token, registration_client_uri (base_url || /oauth/register/{id}) and the metadata. GET/PUT/DELETE with client_id (RFC 7592): bearer = the registration access token, else invalid_token; PUT replaces the metadata (a client_secret sent along must be the current one); DELETE {} (tokens revoked). Errors: invalid_redirect_uri / invalid_client_metadata (also for a client_name another client has), invalid_token, insufficient_scope, method_not_allowed.';
REVOKE ALL ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) TO backend_gateway, backend_admin;

-- Userinfo and metadata -----------------------------------------------------------

CREATE FUNCTION oauth.userinfo() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  sc text[] := coalesce(oauth._scopes(current_setting('backend_framework.scopes', true)), '{}');
  r jsonb;
BEGIN
  IF t IS NULL OR (uid IS NULL AND tenancy.current_client_id() IS NULL) THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
      DETAIL = 'Send an access token (Authorization: Bearer ...).';
  END IF;
  -- A client credentials token has no user to describe: it is not a token for this endpoint.
  IF uid IS NULL THEN
    RAISE EXCEPTION 'the access token was issued to a client, not to a user' USING ERRCODE = '28000';
  END IF;
  IF NOT (sc && '{openid,profile}'::text[]) THEN
    RAISE EXCEPTION 'the access token lacks the openid scope' USING ERRCODE = 'TB004', HINT = 'openid';
  END IF;
  -- OpenID Connect claims by scope; profile also keeps the fields this
  -- endpoint always had (email, tenant, tenant_id, role).
  SELECT oauth._user_claims(t, uid, sc)
         || CASE WHEN 'profile' = ANY (sc) THEN jsonb_strip_nulls(jsonb_build_object('email', u.email,
                   'tenant', n.slug, 'tenant_id', n.id, 'role', u.role)) ELSE '{}' END
    INTO r
    FROM tenancy.users u JOIN tenancy.tenants n ON n.id = u.tenant_id
   WHERE u.tenant_id = t AND u.id = uid;
  IF r IS NULL THEN
    RAISE EXCEPTION 'the user of this access token no longer exists' USING ERRCODE = '28000';
  END IF;
  RETURN r;
END $$;
COMMENT ON FUNCTION oauth.userinfo() IS 'OpenID Connect userinfo of the signed-in user of the current context: sub (the id_token''s), and as the scopes allow: profile → name, updated_at, email, tenant (slug), tenant_id, role; email → email, email_verified. 28000 (401 invalid_token) without an authenticated context or for a token without a user (client credentials); TB004 (403 insufficient_scope) without scope openid or profile.';
REVOKE ALL ON FUNCTION oauth.userinfo() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.userinfo() TO backend_gateway, backend_app, backend_admin;

-- One source for both discovery documents: RFC 8414 authorization server
-- metadata and OpenID Connect Discovery 1.0 (a superset of fields).
CREATE FUNCTION oauth.metadata_document(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'issuer', issuer,
    'authorization_endpoint', issuer || '/oauth/authorize',
    'token_endpoint', issuer || '/oauth/token',
    'revocation_endpoint', issuer || '/oauth/revoke',
    'introspection_endpoint', issuer || '/oauth/introspect',
    'registration_endpoint', issuer || '/oauth/register',
    'userinfo_endpoint', issuer || '/oauth/userinfo',
    'jwks_uri', issuer || '/oauth/jwks',
    'end_session_endpoint', issuer || '/oauth/logout',
    'response_types_supported', '["code"]'::jsonb,
    'response_modes_supported', '["query"]'::jsonb,
    'grant_types_supported', '["authorization_code", "refresh_token", "client_credentials"]'::jsonb
      || CASE WHEN coalesce((s.settings->>'password_grant')::boolean, false) THEN '["password"]'::jsonb ELSE '[]' END,
    'token_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'revocation_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'introspection_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post"]'::jsonb,
    'scopes_supported', to_jsonb(oauth.scopes_supported()),
    'subject_types_supported', '["public"]'::jsonb,
    'id_token_signing_alg_values_supported', to_jsonb(oauth.signing_algs()),
    'claims_supported', '["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "name", "updated_at", "email", "email_verified"]'::jsonb,
    'prompt_values_supported', '["none", "login", "consent", "select_account"]'::jsonb,
    'claims_parameter_supported', false,
    'request_parameter_supported', false,
    'request_uri_parameter_supported', false,
    'code_challenge_methods_supported',
      CASE WHEN coalesce((s.settings->>'allow_plain_pkce')::boolean, false)
           THEN '["S256", "plain"]'::jsonb ELSE '["S256"]'::jsonb END,
    'authorization_response_iss_parameter_supported', true,
    'service_documentation', issuer || '/api/v1/openapi.json')
    FROM (SELECT coalesce((SELECT t.settings FROM tenancy.tenants t WHERE t.id = tenancy.current_tenant_id()), '{}') AS settings) s
$$;
COMMENT ON FUNCTION oauth.metadata_document(text) IS 'Authorization server metadata (RFC 8414) and OpenID Provider configuration (OpenID Connect Discovery 1.0) of the current tenant for its issuer URL: every endpoint is issuer || path, jwks_uri and end_session_endpoint included; password appears in grant_types_supported only when the tenant setting password_grant is true; code_challenge_methods_supported adds plain only when allow_plain_pkce is true.';

-- RFC 9728 protected resource metadata of the tenant's API (its resource
-- identifier is the issuer URL).
CREATE FUNCTION oauth.protected_resource_document(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'resource', issuer,
    'authorization_servers', jsonb_build_array(issuer),
    'jwks_uri', issuer || '/oauth/jwks',
    'scopes_supported', to_jsonb(oauth.scopes_supported()),
    'bearer_methods_supported', '["header"]'::jsonb,
    'resource_documentation', issuer || '/api/v1/openapi.json')
$$;
COMMENT ON FUNCTION oauth.protected_resource_document(text) IS 'RFC 9728 protected resource metadata of the tenant''s API: resource (= the issuer URL), authorization_servers, jwks_uri, scopes_supported, bearer_methods_supported (header).';
