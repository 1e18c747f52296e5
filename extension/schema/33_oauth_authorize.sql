-- 33_oauth_authorize.sql — the authorization endpoint (RFC 6749 section
-- 4.1.1/4.1.2, RFC 7636, RFC 9207) as one function returning a whole HTTP
-- answer: the server-rendered sign-in and consent pages, and 303 redirects
-- to the client's registered redirect URI with code, state and iss.
--
-- Browser state: cookie bf_csrf (a random token; the form carries the
-- base64url SHA-256 of it, a double submit that never puts the cookie value
-- itself in the page) and cookie bf_session (the login session; only its
-- SHA-256 is stored). Both HttpOnly, SameSite=Lax, scoped to the path of
-- the authorize endpoint, Secure behind https. The pages have no
-- JavaScript; every value in them goes through oauth.html_escape.

-- Path of the issuer URL (e.g. /t/acme for http://localhost:8080/t/acme),
-- '' when it has none or anything unusual.
CREATE FUNCTION oauth._issuer_path(issuer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p ~ '^(/[A-Za-z0-9._~-]+)*$' THEN p ELSE '' END
    FROM (SELECT rtrim(regexp_replace(coalesce(issuer, ''), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), '/') AS p) x
$$;
COMMENT ON FUNCTION oauth._issuer_path(text) IS 'Internal: the path part of an issuer URL without trailing slash (/t/acme), or '''' — the prefix of the authorize endpoint''s path.';

CREATE FUNCTION oauth._cookie(name text, value text, path text, secure boolean, max_age integer DEFAULT NULL) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT name || '=' || value || '; Path=' || path
         || CASE WHEN max_age IS NOT NULL THEN '; Max-Age=' || max_age ELSE '' END
         || '; HttpOnly; SameSite=Lax' || CASE WHEN secure THEN '; Secure' ELSE '' END
$$;
COMMENT ON FUNCTION oauth._cookie(text, text, text, boolean, integer) IS 'Internal: a Set-Cookie value (HttpOnly, SameSite=Lax, Secure when secure).';

-- Set-Cookie header(s): one value as a string, several as an array.
CREATE FUNCTION oauth._set_cookie_header(cookies text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(cookies) = 1 THEN jsonb_build_object('Set-Cookie', cookies[1])
              WHEN cardinality(cookies) > 1 THEN jsonb_build_object('Set-Cookie', to_jsonb(cookies))
              ELSE '{}' END
$$;
COMMENT ON FUNCTION oauth._set_cookie_header(text[]) IS 'Internal: {"Set-Cookie": value} for one cookie, {"Set-Cookie": [values]} for several, {} for none.';

-- A redirect URI with parameters added to its query (RFC 6749 section
-- 3.1.2 keeps an existing query); NULL values are left out.
CREATE FUNCTION oauth._redirect_to(uri text, names text[], vals text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT uri || CASE WHEN strpos(uri, '?') > 0 THEN CASE WHEN uri ~ '[?&]$' THEN '' ELSE '&' END ELSE '?' END
         || string_agg(n || '=' || oauth.url_encode(v), '&' ORDER BY i)
    FROM unnest(names, vals) WITH ORDINALITY AS x(n, v, i) WHERE v IS NOT NULL
$$;
COMMENT ON FUNCTION oauth._redirect_to(text, text[], text[]) IS 'Internal: uri with name=value pairs (percent-encoded) appended to its query, in the given order.';

-- The console's own page (the deployment's first console URL without its
-- callback), the way back from a sign-in error page; NULL when none is set.
CREATE FUNCTION oauth._console_home() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT regexp_replace(u, '[^/]*$', '') FROM unnest(oauth.console_redirect_uris()) u LIMIT 1
$$;
COMMENT ON FUNCTION oauth._console_home() IS 'Internal: the console''s address (first backend_framework.console_redirect_uris entry, without its file name), or NULL.';

-- Words for scopes on the consent page.
CREATE FUNCTION oauth._scope_words(scope text, tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE scope
    WHEN 'read' THEN 'Read your data'
    WHEN 'write' THEN 'Create, change and delete your data'
    WHEN 'profile' THEN 'See your name and email address'
    WHEN 'email' THEN 'See your email address'
    WHEN 'openid' THEN 'Sign you in with your ' || tenant_name || ' account'
    -- Shown before anyone signed in too: only admins are ever granted it.
    WHEN 'admin' THEN 'If you are an admin of ' || tenant_name || ': manage its users, applications and settings'
    ELSE scope END
$$;
COMMENT ON FUNCTION oauth._scope_words(text, text) IS 'Internal: what a scope allows, in words for the consent page.';

-- Text colour that reads on the brand colour (#rrggbb).
CREATE FUNCTION oauth._on_color(brand text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN 0.299 * ('x' || substr(brand, 2, 2))::bit(8)::int + 0.587 * ('x' || substr(brand, 4, 2))::bit(8)::int
                 + 0.114 * ('x' || substr(brand, 6, 2))::bit(8)::int > 160 THEN '#111827' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION oauth._on_color(text) IS 'Internal: black or white text, whichever reads better on a #rrggbb background.';

-- A whole page: head, inline style, a centred card in <main>.
CREATE FUNCTION oauth._page(title text, tenant_name text, brand text, content text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>' || oauth.html_escape(title) || ' · ' || oauth.html_escape(tenant_name) || '</title>
<style>
:root{--brand:' || oauth.html_escape(b) || ';--on-brand:' || oauth._on_color(b) || ';--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;--line:#d1d5db;--danger:#b42318;--danger-bg:#fef3f2;--radius:14px;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0b0d12;--card:#161a22;--text:#f3f4f6;--muted:#9ca3af;--line:#2d3440;--danger:#fda29b;--danger-bg:#3a1614}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px 16px;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:420px;background:var(--card);border:1px solid var(--line);border-top:4px solid var(--brand);border-radius:var(--radius);padding:32px 28px;box-shadow:0 10px 30px rgba(17,24,39,.08)}
.tenant{display:flex;align-items:center;gap:10px;margin:0 0 24px;font-weight:600;color:var(--muted)}
.mark{flex:none;width:28px;height:28px;border-radius:8px;background:var(--brand)}
h1{font-size:1.375rem;line-height:1.3;margin:0 0 8px}
h2{font-size:1rem;margin:20px 0 8px}
p{margin:0 0 16px;color:var(--muted)}
strong{color:var(--text)}
label{display:block;font-weight:600;margin:16px 0 6px}
input[type=email],input[type=password]{display:block;width:100%;padding:10px 12px;font:inherit;color:inherit;background:transparent;border:1px solid var(--line);border-radius:8px}
input:focus-visible,button:focus-visible,a:focus-visible{outline:2px solid var(--brand);outline-offset:2px}
ul.scopes{list-style:none;margin:0 0 8px;padding:0;border:1px solid var(--line);border-radius:8px}
ul.scopes li{padding:10px 12px 10px 36px;position:relative}
ul.scopes li+li{border-top:1px solid var(--line)}
ul.scopes li::before{content:"";position:absolute;left:14px;top:18px;width:8px;height:8px;border-radius:50%;background:var(--brand)}
.notice{padding:10px 12px;border:1px solid var(--danger);border-radius:8px;background:var(--danger-bg);color:var(--danger)}
.actions{display:flex;flex-direction:row-reverse;gap:12px;margin-top:24px}
button,.button{flex:1 1 auto;white-space:nowrap;display:inline-block;text-align:center;text-decoration:none;padding:11px 16px;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--line);background:transparent;color:var(--text);cursor:pointer}
button.primary,.button.primary{background:var(--brand);border-color:var(--brand);color:var(--on-brand)}
button:hover{filter:brightness(1.05)}
.small{font-size:.875rem;margin:20px 0 0}
a{color:inherit}
@media (max-width:480px){main{padding:24px 18px}.actions{flex-direction:column}}
</style>
</head>
<body>
<main>
<div class="tenant"><span class="mark" aria-hidden="true"></span>' || oauth.html_escape(tenant_name) || '</div>
' || content || '
</main>
</body>
</html>
'
    FROM (SELECT CASE WHEN brand ~ '^#[0-9a-fA-F]{6}$' THEN brand ELSE '#3355ff' END AS b) x
$$;
COMMENT ON FUNCTION oauth._page(text, text, text, text) IS 'Internal: an HTML page of the authorize endpoint (tenant name and brand colour, centred card, responsive, light and dark; no JavaScript). content is HTML already escaped by the caller.';

-- The OAuth parameters a form carries along, as hidden fields.
CREATE FUNCTION oauth._hidden_fields(params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(params->>n) || '">', E'\n' ORDER BY i), '')
    FROM unnest(ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                      'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION oauth._hidden_fields(jsonb) IS 'Internal: hidden inputs for the authorization request parameters (HTML-escaped).';

CREATE FUNCTION oauth._scope_list(scopes text[], tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<ul class="scopes">' || string_agg('<li>' || oauth.html_escape(oauth._scope_words(s, tenant_name)) || '</li>', ''
           ORDER BY array_position(oauth.scopes_supported(), s)) || '</ul>'
    FROM unnest(scopes) s
$$;
COMMENT ON FUNCTION oauth._scope_list(text[], text) IS 'Internal: the scopes asked for, in words, as an HTML list.';

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

CREATE FUNCTION oauth.authorize_endpoint(method text, params jsonb, cookies jsonb, issuer text, client_addr text,
                                         secure boolean, OUT status integer, OUT headers jsonb, OUT body text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  ten record;
  r record;
  base text := oauth._issuer_path(issuer);
  cpath text;
  action_url text;
  set_cookies text[] := '{}';
  csrf text := cookies->>'bf_csrf';
  csrf_field text;
  sess text := cookies->>'bf_session';
  s record;
  uid uuid;
  urole text;
  uemail text;
  wait integer;
  granted text[];
  prior text;
  code text;
  notice text;
  page_status integer := 200;
  content text;
  is_request boolean;
  auth_time timestamptz;
  sid uuid;
  sess_started timestamptz;
  restart_keys text[] := ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                               'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource', 'login_hint'];
  location text;
  html_headers jsonb := '{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}';
BEGIN
  -- Cookies are scoped to the OAuth endpoints (authorize and logout).
  cpath := base || '/oauth';
  action_url := base || '/oauth/authorize';
  IF jsonb_typeof(cookies) IS DISTINCT FROM 'object' THEN cookies := '{}'; csrf := NULL; sess := NULL; END IF;
  SELECT x.name, x.settings->>'brand_color' AS brand INTO ten FROM tenancy.tenants x WHERE x.id = t;
  IF t IS NULL OR NOT FOUND THEN
    status := 404; headers := html_headers;
    body := oauth._page('Not found', 'Sign in', NULL,
      '<h1>Not found</h1><p>There is no sign-in page at this address.</p>');
    RETURN;
  END IF;
  IF upper(method) NOT IN ('GET', 'POST') THEN
    status := 405; headers := html_headers || '{"Allow": "GET, POST"}';
    body := oauth._page('Method not allowed', ten.name, ten.brand,
      '<h1>Method not allowed</h1><p>Use GET or POST.</p>');
    RETURN;
  END IF;

  SELECT * INTO r FROM oauth._authorize_request(t, params, issuer);
  -- An authorization request comes by GET or, from a relying party, by
  -- POST (OpenID Connect Core 3.1.2.1); our own forms carry csrf and action.
  is_request := upper(method) = 'GET'
                OR NOT (params ? 'csrf' OR params ? 'action' OR params ? 'email' OR params ? 'password');
  IF r.fatal IS NOT NULL THEN
    status := 400; headers := html_headers;
    body := oauth._page('Cannot sign in', ten.name, ten.brand,
      '<h1>This sign-in link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(r.fatal) || '</p>'
      || '<p>Go back to the application and try again. If it keeps happening, tell its developers.</p>'
      || coalesce('<p><a class="button" href="' || oauth.html_escape(oauth._console_home()) || '">Open the '
                  || oauth.html_escape(ten.name) || ' console instead</a></p>', ''));
    RETURN;
  END IF;

  -- Cookies of another shape are ignored (a form page makes a new CSRF cookie).
  IF csrf !~ '^bfcf_[A-Za-z0-9_-]{43}$' THEN csrf := NULL; END IF;
  IF sess !~ '^bfss_[A-Za-z0-9_-]{43}$' THEN sess := NULL; END IF;

  IF NOT is_request THEN
    IF csrf IS NULL OR params->>'csrf' IS NULL
       OR NOT oauth.ct_equal(convert_to(oauth.base64url_encode(oauth.token_digest(csrf)), 'UTF8'),
                             convert_to(params->>'csrf', 'UTF8')) THEN
      status := 403; headers := html_headers;
      body := oauth._page('Form expired', ten.name, ten.brand,
        '<h1>This form has expired</h1><p class="notice" role="alert">The form was not sent from this page, or it is too old, so it was not accepted (CSRF check).</p>'
        || '<p><a class="button primary" href="' || oauth.html_escape(action_url || '?' || oauth.form_encode(
             (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
               WHERE key = ANY (restart_keys))))
        || '">Start again</a></p>');
      RETURN;
    END IF;
  END IF;

  IF r.err IS NULL AND NOT is_request AND params->>'action' = 'deny' THEN
    r.err := 'access_denied'; r.err_description := 'the user denied the request';
  ELSIF r.err IS NULL AND NOT is_request AND params->>'action' IS DISTINCT FROM 'allow' THEN
    r.err := 'invalid_request'; r.err_description := 'the form was sent without a valid action';
  END IF;
  IF r.err IS NOT NULL THEN
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'], ARRAY[r.err, r.err_description, r.state, issuer]));
    body := '';
    RETURN;
  END IF;

  -- Who is signing in: a password just sent, else the session cookie.
  IF NOT is_request AND params ? 'email' THEN
    IF coalesce(btrim(params->>'email'), '') = '' OR coalesce(params->>'password', '') = '' THEN
      notice := 'Enter your email address and your password.';
    ELSE
      SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'email', params->>'password', client_addr);
      IF wait > 0 THEN
        notice := format('Too many attempts, try again in %s.', oauth._seconds(wait));
        page_status := 429;
        html_headers := html_headers || jsonb_build_object('Retry-After', wait::text);
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
        set_cookies := set_cookies || oauth._cookie('bf_session', sess, cpath, secure, (oauth.lifetimes()).session);
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
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'], ARRAY['login_required', 'the user is not signed in', r.state, issuer]));
    body := '';
    RETURN;
  END IF;

  -- Not signed in: the sign-in page (with the scopes asked for).
  IF uid IS NULL THEN
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || oauth._cookie('bf_csrf', csrf, cpath, secure);
    END IF;
    csrf_field := oauth.base64url_encode(oauth.token_digest(csrf));
    content := '<h1>Sign in</h1>
<p><strong>' || oauth.html_escape(r.client_name) || '</strong> wants to access your ' || oauth.html_escape(ten.name) || ' account.</p>
' || CASE WHEN notice IS NOT NULL THEN '<p class="notice" role="alert">' || oauth.html_escape(notice) || '</p>
' ELSE '' END || '<h2>It will be able to</h2>
' || oauth._scope_list(r.scopes, ten.name) || '
<form method="post" action="' || oauth.html_escape(action_url) || '">
' || oauth._hidden_fields(params) || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(csrf_field) || '">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" inputmode="email" required'
      || CASE WHEN coalesce(params->>'email', params->>'login_hint', '') = '' THEN ' autofocus' ELSE '' END || ' value="'
      || oauth.html_escape(coalesce(params->>'email', params->>'login_hint', '')) || '">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required'
      || CASE WHEN coalesce(params->>'email', params->>'login_hint', '') = '' THEN '' ELSE ' autofocus' END || '>
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Sign in and allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</div>
</form>';
    status := page_status;
    headers := html_headers;
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := oauth._page('Sign in', ten.name, ten.brand, content);
    RETURN;
  END IF;

  -- Signed in: what this user may be granted.
  granted := oauth._scope_and(r.scopes, oauth._role_scopes(urole));
  IF cardinality(granted) = 0 THEN
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'],
      ARRAY['invalid_scope', 'none of the requested scopes can be granted to this user', r.state, issuer]));
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := '';
    RETURN;
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
      status := 303;
      headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
        ARRAY['error', 'error_description', 'state', 'iss'], ARRAY['consent_required', 'the user has not allowed this application yet', r.state, issuer]));
      body := '';
      RETURN;
    END IF;
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || oauth._cookie('bf_csrf', csrf, cpath, secure);
    END IF;
    csrf_field := oauth.base64url_encode(oauth.token_digest(csrf));
    content := '<h1>Allow access?</h1>
<p><strong>' || oauth.html_escape(r.client_name) || '</strong> wants to access your ' || oauth.html_escape(ten.name) || ' account.</p>
<h2>It will be able to</h2>
' || oauth._scope_list(granted, ten.name) || '
' || CASE WHEN r.registered_via <> 'admin' THEN '<p class="small">This application registered itself; it will return you to <strong>'
             || oauth.html_escape(coalesce(substring(r.redirect_uri FROM '^[A-Za-z][A-Za-z0-9+.-]*:/*[^/?#]*'), r.redirect_uri))
             || '</strong>.</p>
' ELSE '' END || '<form method="post" action="' || oauth.html_escape(action_url) || '">
' || oauth._hidden_fields(params) || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(csrf_field) || '">
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>
<p class="small">Signed in as <strong>' || oauth.html_escape(uemail) || '</strong>. <a href="'
      || oauth.html_escape(action_url || '?' || oauth.form_encode(
           (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
             WHERE key = ANY (restart_keys))
           || '{"prompt": "login"}'))
      || '">Not you? Sign in as someone else</a></p>';
    status := 200;
    headers := html_headers;
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := oauth._page('Allow access', ten.name, ten.brand, content);
    RETURN;
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
  status := 303;
  headers := jsonb_build_object('Cache-Control', 'no-store', 'Location',
    oauth._redirect_to(r.redirect_uri, ARRAY['code', 'state', 'iss'], ARRAY[code, r.state, issuer]));
  headers := headers || oauth._set_cookie_header(set_cookies);
  body := '';
END $$;
COMMENT ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) IS 'GET/POST /oauth/authorize of the current tenant as a whole HTTP answer (status, headers, HTML body). params: the query (GET) or the form (POST: the request parameters, csrf, email, password, action=allow|deny); cookies: name → value. Sign-in page (200; wrong password: 200 with a notice; throttled: 429 with Retry-After), consent page, 303 to the redirect URI with code, state and iss (RFC 9207) or with error; unknown client or unregistered redirect URI: 400 error page, never a redirect; failed CSRF check: 403 page. prompt=none|login|consent, max_age, login_hint, id_token_hint, nonce, response_mode=query and resource honoured; an authorization request may also come by POST (no csrf/action fields); the console client needs no consent.';
REVOKE ALL ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) TO backend_gateway, backend_admin;
