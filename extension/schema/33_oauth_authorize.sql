-- 33_oauth_authorize.sql — the authorization endpoint (RFC 6749 section
-- 4.1.1/4.1.2, RFC 7636, RFC 9207): validation of the request, sign-in
-- (throttled), login sessions, consent and the authorization code. It
-- decides; api.authorize_answer (53_api_pages.sql) renders the decision as
-- the server-rendered sign-in and consent pages, error pages and 303
-- redirects to the client's registered redirect URI with code, state and iss.

-- A requested redirect URI against the registered ones: exact string
-- match, except that for http loopback IP literals (127.0.0.1, [::1]) the
-- port is ignored (RFC 8252 section 7.3: native apps listen on any free
-- port). Returns the requested URI when it matches, else NULL.
CREATE FUNCTION oauth._match_redirect_uri(registered text[], given text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT given WHERE given = ANY (registered)
      OR (given ~ '^http://(127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?([/?].*)?$'
          AND regexp_replace(given, '^(http://(127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?', '\1')
              = ANY (SELECT regexp_replace(u, '^(http://(127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?', '\1') FROM unnest(registered) u
                      WHERE u ~ '^http://(127\.0\.0\.1|\[::1\])'))
$$;
COMMENT ON FUNCTION oauth._match_redirect_uri(text[], text) IS 'Internal: the requested redirect URI when it is registered (exact match; for http://127.0.0.1 and http://[::1] the port may differ, RFC 8252 section 7.3), else NULL.';

-- Validates an authorization request of the current tenant. fatal: a
-- message for an error page (unknown client, bad redirect URI: never
-- redirect then); else err/err_description for a redirect to redirect_uri.
-- OpenID Connect parameters: prompt (none, login, consent; none alone),
-- max_age, nonce, id_token_hint (its sub must be the signed-in user),
-- response_mode (query only); resource (RFC 8707).
CREATE FUNCTION oauth._authorize_request(p_tenant uuid, params jsonb, p_issuer text,
  OUT fatal text, OUT err text, OUT err_description text,
  OUT client_id text, OUT client_name text, OUT builtin boolean, OUT redirect_uri text, OUT redirect_uri_given boolean,
  OUT scopes text[], OUT code_challenge text, OUT code_challenge_method text, OUT state text,
  OUT prompt_none boolean, OUT prompt_login boolean, OUT prompt_consent boolean, OUT max_age integer,
  OUT nonce text, OUT hint_sub text, OUT resource text, OUT registered_via text, OUT code_ttl integer)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  c record;
  req text[];
  uris text[];
  prompts text[];
  hint jsonb;
BEGIN
  IF params IS NULL OR jsonb_typeof(params) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(params) e WHERE jsonb_typeof(e.value) <> 'string') THEN
    fatal := 'The request parameters are malformed.';
    RETURN;
  END IF;
  IF params->>'client_id' IS NULL THEN
    fatal := 'The request does not say which application it is for (client_id is missing).';
    RETURN;
  END IF;
  SELECT k.client_id, k.client_name, k.builtin, k.redirect_uris, k.grant_types, k.scope, k.token_endpoint_auth_method,
         k.registered_via, t.settings
    INTO c
    FROM oauth.clients k JOIN tenancy.tenants t ON t.id = k.tenant_id
   WHERE k.tenant_id = p_tenant AND k.client_id = params->>'client_id';
  IF NOT FOUND THEN
    fatal := 'The application that sent you here is not registered (unknown client_id).';
    RETURN;
  END IF;
  client_id := c.client_id; client_name := c.client_name; builtin := c.builtin; registered_via := c.registered_via;
  uris := c.redirect_uris;
  IF c.builtin THEN
    uris := uris || oauth.console_redirect_uris();
  END IF;
  redirect_uri_given := params ? 'redirect_uri';
  IF cardinality(uris) = 0 THEN
    fatal := 'This application is not set up for signing in here (it has no registered redirect URI).';
    RETURN;
  ELSIF redirect_uri_given THEN
    redirect_uri := oauth._match_redirect_uri(uris, params->>'redirect_uri');
    IF redirect_uri IS NULL THEN
      fatal := 'The address to return to (redirect_uri) is not registered for this application.';
      RETURN;
    END IF;
  ELSIF cardinality(uris) = 1 THEN
    redirect_uri := uris[1];
  ELSE
    fatal := 'The request does not say where to return to (redirect_uri is missing).';
    RETURN;
  END IF;
  -- From here on errors go back to the client.
  state := params->>'state';
  code_ttl := oauth._ttl('code', NULL, c.settings);
  prompts := array_remove(string_to_array(coalesce(params->>'prompt', ''), ' '), '');
  prompt_none := 'none' = ANY (prompts);
  prompt_login := 'login' = ANY (prompts) OR 'select_account' = ANY (prompts);
  prompt_consent := 'consent' = ANY (prompts);
  IF params->>'response_type' IS NULL THEN
    err := 'invalid_request'; err_description := 'response_type is missing';
  ELSIF params->>'response_type' <> 'code' THEN
    err := 'unsupported_response_type'; err_description := 'the only supported response_type is code';
  ELSIF params->>'response_mode' IS NOT NULL AND params->>'response_mode' <> 'query' THEN
    err := 'invalid_request'; err_description := 'the only supported response_mode is query';
  ELSIF NOT 'authorization_code' = ANY (c.grant_types) THEN
    err := 'unauthorized_client'; err_description := 'this client is not allowed to use the authorization code grant';
  ELSIF NOT prompts <@ '{none,login,consent,select_account}'::text[] THEN
    err := 'invalid_request'; err_description := 'prompt must be none, login, consent or select_account';
  ELSIF prompt_none AND cardinality(prompts) > 1 THEN
    err := 'invalid_request'; err_description := 'prompt=none cannot be combined with other values';
  ELSIF params->>'max_age' IS NOT NULL AND params->>'max_age' !~ '^[0-9]{1,9}$' THEN
    err := 'invalid_request'; err_description := 'max_age must be a number of seconds';
  ELSIF length(params->>'nonce') > (tenancy.bounds()).nonce_max THEN
    err := 'invalid_request'; err_description := format('nonce is too long (at most %s characters)', (tenancy.bounds()).nonce_max);
  ELSIF params->>'request' IS NOT NULL THEN
    err := 'request_not_supported'; err_description := 'request objects are not supported';
  ELSIF params->>'request_uri' IS NOT NULL THEN
    err := 'request_uri_not_supported'; err_description := 'request_uri is not supported';
  ELSIF params ? 'code_challenge_method' AND NOT params ? 'code_challenge' THEN
    err := 'invalid_request'; err_description := 'code_challenge_method without code_challenge';
  ELSIF params ? 'code_challenge' AND (params->>'code_challenge') !~ '^[A-Za-z0-9._~-]{43,128}$' THEN
    err := 'invalid_request'; err_description := 'code_challenge must have 43 to 128 characters of A-Z a-z 0-9 - . _ ~';
  ELSIF params ? 'code_challenge' AND coalesce(params->>'code_challenge_method', 'plain') NOT IN ('S256', 'plain') THEN
    err := 'invalid_request'; err_description := 'code_challenge_method must be S256';
  ELSIF params ? 'code_challenge' AND coalesce(params->>'code_challenge_method', 'plain') = 'plain'
        AND NOT coalesce((c.settings->>'allow_plain_pkce')::boolean, false) THEN
    err := 'invalid_request'; err_description := 'PKCE method plain is not allowed: use code_challenge_method S256';
  ELSIF c.token_endpoint_auth_method = 'none' AND NOT params ? 'code_challenge' THEN
    err := 'invalid_request'; err_description := 'PKCE is required for public clients: send code_challenge and code_challenge_method S256';
  -- OAuth 2.1: PKCE for every client, unless the tenant relaxes it for confidential clients.
  ELSIF NOT params ? 'code_challenge' AND NOT coalesce((c.settings->>'pkce_optional_for_confidential_clients')::boolean, false) THEN
    err := 'invalid_request'; err_description := 'PKCE is required: send code_challenge and code_challenge_method S256';
  ELSIF NOT oauth._resource_known(p_tenant, p_issuer, params->>'resource') THEN
    err := 'invalid_target'; err_description := 'the resource is not known to this authorization server';
  END IF;
  IF err IS NOT NULL THEN RETURN; END IF;
  IF params ? 'code_challenge' THEN
    code_challenge := params->>'code_challenge';
    code_challenge_method := coalesce(params->>'code_challenge_method', 'plain');
  END IF;
  max_age := (params->>'max_age')::integer;
  nonce := params->>'nonce';
  resource := params->>'resource';
  IF params->>'id_token_hint' IS NOT NULL THEN
    -- Ours, for this client (it may have expired: it is only a hint).
    hint := oauth._verify_jwt(p_tenant, params->>'id_token_hint');
    IF hint IS NULL OR hint->>'iss' IS DISTINCT FROM p_issuer OR hint->>'sub' IS NULL THEN
      err := 'invalid_request'; err_description := 'id_token_hint is not an ID token of this issuer';
      RETURN;
    END IF;
    hint_sub := hint->>'sub';
  END IF;
  IF nullif(btrim(params->>'scope'), '') IS NULL THEN
    scopes := oauth._scopes(c.scope);
  ELSE
    req := oauth._scopes(params->>'scope');
    IF req IS NULL THEN
      err := 'invalid_scope'; err_description := oauth._unknown_scope();
      RETURN;
    END IF;
    scopes := oauth._scope_and(req, oauth._scopes(c.scope));
    IF cardinality(scopes) = 0 THEN
      err := 'invalid_scope'; err_description := 'none of the requested scopes is allowed for this client';
    END IF;
  END IF;
END $$;
COMMENT ON FUNCTION oauth._authorize_request(uuid, jsonb, text) IS 'Internal: validates an authorization request (client, redirect URI exact or loopback with any port, response_type, response_mode, PKCE, prompt, max_age, nonce, id_token_hint, resource, scope ∩ client''s).';
REVOKE ALL ON FUNCTION oauth._authorize_request(uuid, jsonb, text) FROM PUBLIC;

-- Browser state -------------------------------------------------------------------
-- Cookies bf_csrf (a random token; the form carries the base64url SHA-256
-- of it, a double submit that never puts the cookie itself in the page)
-- and bf_session (the login session; only its SHA-256 is stored), shared by
-- the authorize and logout endpoints. api.decision_cookies sets them.

-- The two cookies of a request when they have their shapes, else NULL.
CREATE FUNCTION oauth._browser_cookies(cookies jsonb, OUT csrf text, OUT session text)
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c->>'bf_csrf' ~ '^bfcf_[A-Za-z0-9_-]{43}$' THEN c->>'bf_csrf' END,
         CASE WHEN c->>'bf_session' ~ '^bfss_[A-Za-z0-9_-]{43}$' THEN c->>'bf_session' END
    FROM (SELECT CASE WHEN jsonb_typeof(cookies) = 'object' THEN cookies END AS c) x
$$;
COMMENT ON FUNCTION oauth._browser_cookies(jsonb) IS 'Internal: the bf_csrf and bf_session cookies of a request (name → value), each NULL unless of its shape.';

-- The form field that goes with a CSRF cookie.
CREATE FUNCTION oauth._csrf_field(csrf text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT oauth.base64url_encode(oauth.token_digest(csrf))
$$;
COMMENT ON FUNCTION oauth._csrf_field(text) IS 'Internal: the csrf form field of a CSRF cookie (base64url of its SHA-256).';

-- The double submit check, in constant time.
CREATE FUNCTION oauth._csrf_ok(csrf text, field text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT csrf IS NOT NULL AND field IS NOT NULL
         AND oauth.ct_equal(convert_to(oauth._csrf_field(csrf), 'UTF8'), convert_to(field, 'UTF8'))
$$;
COMMENT ON FUNCTION oauth._csrf_ok(text, text) IS 'Internal: whether a form''s csrf field belongs to the CSRF cookie (constant-time comparison); false when either is missing.';

-- The endpoint ---------------------------------------------------------------------
-- Decisions (jsonb), rendered by api.authorize_answer:
--   {"error": "not_found"}                         no tenant
--   {"error": "method_not_allowed", "tenant"}      neither GET nor POST
--   {"error": "invalid_request", "tenant", "message"}  unknown client or redirect URI: never a redirect
--   {"error": "forbidden", "tenant", "request"}    failed CSRF check (the form expired)
--   {"show": "login", "tenant", "client_name", "scopes", "notice", "csrf", "request", "email", "retry_after", "cookies"}
--   {"show": "consent", "tenant", "client_name", "scopes", "returns_to", "csrf", "request", "user", "cookies"}
--   {"redirect": uri, "params": {code | error, error_description, state, iss}, "cookies"}
-- tenant: {"name", "brand"}; request: the authorization request's
-- parameters, which the pages carry; cookies: [{"name", "value", "max_age"}].
CREATE FUNCTION oauth.authorize_endpoint(method text, params jsonb, cookies jsonb, issuer text, client_addr text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  ten jsonb;
  r record;
  b record;
  set_cookies jsonb := '[]';
  csrf text;
  sess text;
  uid uuid;
  urole text;
  uemail text;
  wait integer;
  granted text[];
  prior text;
  code text;
  notice text;
  is_request boolean;
  auth_time timestamptz;
  sid uuid;
  sess_started timestamptz;
  request jsonb;
BEGIN
  SELECT jsonb_build_object('name', x.name, 'brand', x.settings->>'brand_color') INTO ten FROM tenancy.tenants x WHERE x.id = t;
  IF t IS NULL OR NOT FOUND THEN
    RETURN '{"error": "not_found"}';
  END IF;
  IF upper(method) NOT IN ('GET', 'POST') THEN
    RETURN jsonb_build_object('error', 'method_not_allowed', 'tenant', ten);
  END IF;

  SELECT * INTO r FROM oauth._authorize_request(t, params, issuer);
  -- An authorization request comes by GET or, from a relying party, by
  -- POST (OpenID Connect Core 3.1.2.1); our own forms carry csrf and action.
  is_request := upper(method) = 'GET'
                OR NOT (params ? 'csrf' OR params ? 'action' OR params ? 'email' OR params ? 'password');
  IF r.fatal IS NOT NULL THEN
    RETURN jsonb_build_object('error', 'invalid_request', 'tenant', ten, 'message', r.fatal);
  END IF;
  request := (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
               WHERE key = ANY (ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                                      'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource', 'login_hint']));

  -- Cookies of another shape are ignored (a form page makes a new CSRF cookie).
  SELECT * INTO b FROM oauth._browser_cookies(cookies);
  csrf := b.csrf;
  sess := b.session;
  IF NOT is_request AND NOT oauth._csrf_ok(csrf, params->>'csrf') THEN
    RETURN jsonb_build_object('error', 'forbidden', 'tenant', ten, 'request', request);
  END IF;

  IF r.err IS NULL AND NOT is_request AND params->>'action' = 'deny' THEN
    r.err := 'access_denied'; r.err_description := 'the user denied the request';
  ELSIF r.err IS NULL AND NOT is_request AND params->>'action' IS DISTINCT FROM 'allow' THEN
    r.err := 'invalid_request'; r.err_description := 'the form was sent without a valid action';
  END IF;
  IF r.err IS NOT NULL THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', r.err,
      'error_description', r.err_description, 'state', r.state, 'iss', issuer));
  END IF;

  -- Who is signing in: a password just sent, else the session cookie.
  IF NOT is_request AND params ? 'email' THEN
    IF coalesce(btrim(params->>'email'), '') = '' OR coalesce(params->>'password', '') = '' THEN
      notice := 'Enter your email address and your password.';
    ELSE
      SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'email', params->>'password', client_addr);
      IF wait > 0 THEN
        notice := format('Too many attempts, try again in %s.', oauth._seconds(wait));
      ELSIF uid IS NULL THEN
        notice := 'The email address or password is incorrect.';
      ELSE
        -- A new session id at every sign-in (no fixation); the old one ends.
        IF sess IS NOT NULL THEN
          DELETE FROM oauth.login_sessions WHERE tenant_id = t AND session_hash = oauth.token_digest(sess);
        END IF;
        sess := oauth.random_token('session');
        INSERT INTO oauth.login_sessions (tenant_id, session_hash, user_id, client_addr, expires_at)
        VALUES (t, oauth.token_digest(sess), uid, client_addr, now() + make_interval(secs => (oauth.lifetimes()).session))
        RETURNING id INTO sid;
        auth_time := now();
        set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_session', 'value', sess, 'max_age', (oauth.lifetimes()).session));
      END IF;
    END IF;
  ELSIF sess IS NOT NULL AND NOT (is_request AND r.prompt_login) THEN
    SELECT l.user_id, l.id, l.created_at INTO uid, sid, sess_started FROM oauth.login_sessions l
     WHERE l.tenant_id = t AND l.session_hash = oauth.token_digest(sess) AND l.expires_at > now();
    auth_time := sess_started;
    -- max_age: a sign-in older than that does not count (OpenID Connect Core 3.1.2.1).
    IF uid IS NOT NULL AND r.max_age IS NOT NULL AND sess_started < now() - make_interval(secs => r.max_age) THEN
      uid := NULL;
      IF NOT is_request THEN notice := 'Please sign in again.'; END IF;
    -- id_token_hint names another user than the one signed in here.
    ELSIF uid IS NOT NULL AND is_request AND r.hint_sub IS NOT NULL AND uid::text <> r.hint_sub THEN
      uid := NULL;
    ELSIF uid IS NULL AND NOT is_request THEN
      notice := 'Your session has ended. Sign in again.';
    END IF;
  ELSIF NOT is_request THEN
    notice := 'Your session has ended. Sign in again.';
  END IF;
  IF uid IS NOT NULL THEN
    SELECT x.role, x.email INTO urole, uemail FROM tenancy.users x WHERE x.tenant_id = t AND x.id = uid AND x.status = 'active';
    IF urole IS NULL THEN uid := NULL; END IF;
  END IF;

  IF uid IS NULL AND is_request AND r.prompt_none THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'login_required',
      'error_description', 'the user is not signed in', 'state', r.state, 'iss', issuer), 'cookies', set_cookies);
  END IF;

  -- Not signed in: the sign-in page (with the scopes asked for).
  IF uid IS NULL THEN
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_csrf', 'value', csrf));
    END IF;
    RETURN jsonb_build_object('show', 'login', 'tenant', ten, 'client_name', r.client_name, 'scopes', to_jsonb(r.scopes),
      'notice', notice, 'csrf', oauth._csrf_field(csrf), 'request', request,
      'email', coalesce(params->>'email', params->>'login_hint', ''),
      'retry_after', CASE WHEN wait > 0 THEN wait END, 'cookies', set_cookies);
  END IF;

  -- Signed in: what this user may be granted.
  granted := oauth._scope_and(r.scopes, oauth._role_scopes(urole));
  IF cardinality(granted) = 0 THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'invalid_scope',
      'error_description', 'none of the requested scopes can be granted to this user', 'state', r.state, 'iss', issuer),
      'cookies', set_cookies);
  END IF;
  SELECT x.scope INTO prior FROM oauth.consents x WHERE x.tenant_id = t AND x.user_id = uid AND x.client_id = r.client_id;

  -- GET: ask for consent unless given before for these scopes (the
  -- console at the deployment's own console URLs needs none) or
  -- prompt=consent.
  IF is_request
     AND (r.prompt_consent
          OR NOT ((r.builtin AND r.redirect_uri = ANY (oauth.console_redirect_uris()))
                  OR coalesce(granted <@ oauth._scopes(prior), false))) THEN
    IF r.prompt_none THEN
      RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'consent_required',
        'error_description', 'the user has not allowed this application yet', 'state', r.state, 'iss', issuer),
        'cookies', set_cookies);
    END IF;
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_csrf', 'value', csrf));
    END IF;
    -- A self-registered client: the page says where it returns to.
    RETURN jsonb_build_object('show', 'consent', 'tenant', ten, 'client_name', r.client_name, 'scopes', to_jsonb(granted),
      'returns_to', CASE WHEN r.registered_via <> 'admin' THEN r.redirect_uri END,
      'csrf', oauth._csrf_field(csrf), 'request', request, 'user', uemail, 'cookies', set_cookies);
  END IF;

  -- Allowed (form) or allowed before: remember, issue the code, go back.
  IF NOT is_request THEN
    INSERT INTO oauth.consents AS x (tenant_id, user_id, client_id, scope)
    VALUES (t, uid, r.client_id, oauth._scope_text(granted))
    ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE
      SET scope = oauth._scope_text(oauth._scopes(x.scope || ' ' || excluded.scope)), granted_at = now();
  END IF;
  code := oauth.random_token('code');
  INSERT INTO oauth.authorization_codes (tenant_id, code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope,
                                         code_challenge, code_challenge_method, expires_at, nonce, auth_time, session_id, resource)
  VALUES (t, oauth.token_digest(code), r.client_id, uid, r.redirect_uri, r.redirect_uri_given, oauth._scope_text(granted),
          r.code_challenge, r.code_challenge_method, now() + make_interval(secs => r.code_ttl), r.nonce,
          coalesce(auth_time, now()), sid, r.resource);
  RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('code', code, 'state', r.state, 'iss', issuer),
                            'cookies', set_cookies);
END $$;
COMMENT ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) IS 'GET/POST /oauth/authorize of the current tenant, as a decision (jsonb; api.authorize_answer renders it). params: the query (GET) or the form (POST: the request parameters, csrf, email, password, action=allow|deny); cookies: name → value. Decisions: the sign-in page (a wrong password: with a notice; throttled: with retry_after), the consent page, a redirect to the redirect URI with code, state and iss (RFC 9207) or with error; unknown client or unregistered redirect URI: invalid_request, never a redirect; failed CSRF check: forbidden. prompt=none|login|consent, max_age, login_hint, id_token_hint, nonce, response_mode=query and resource honoured; an authorization request may also come by POST (no csrf/action fields); the console client needs no consent.';
REVOKE ALL ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) TO backend_gateway, backend_admin;
