-- 53_api_pages.sql — the HTML side of the sign-in and sign-out endpoints
-- (/oauth/authorize, /oauth/logout): oauth.authorize_endpoint and
-- oauth.end_session_endpoint decide (a page to show, a redirect, cookies to
-- set, as jsonb) and the functions here render the decision as an HTTP
-- answer — status, headers, Set-Cookie, Location, the server-rendered page.
--
-- Browser state: cookie bf_csrf (a random token; the form carries the
-- base64url SHA-256 of it, a double submit that never puts the cookie value
-- itself in the page) and cookie bf_session (the login session; only its
-- SHA-256 is stored). Both HttpOnly, SameSite=Lax, scoped to the path of
-- the OAuth endpoints, Secure behind https. The pages have no JavaScript;
-- every value in them goes through oauth.html_escape.

-- Path of the issuer URL (e.g. /t/acme for http://localhost:8080/t/acme),
-- '' when it has none or anything unusual: the prefix of the pages' form
-- actions and of the cookies' Path.
CREATE FUNCTION api.issuer_path(issuer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p ~ '^(/[A-Za-z0-9._~-]+)*$' THEN p ELSE '' END
    FROM (SELECT rtrim(regexp_replace(coalesce(issuer, ''), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), '/') AS p) x
$$;
COMMENT ON FUNCTION api.issuer_path(text) IS 'The path part of an issuer URL without trailing slash (/t/acme), or '''' — the prefix of the authorize endpoint''s path.';

CREATE FUNCTION api.cookie(name text, value text, path text, secure boolean, max_age integer DEFAULT NULL) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT name || '=' || value || '; Path=' || path
         || CASE WHEN max_age IS NOT NULL THEN '; Max-Age=' || max_age ELSE '' END
         || '; HttpOnly; SameSite=Lax' || CASE WHEN secure THEN '; Secure' ELSE '' END
$$;
COMMENT ON FUNCTION api.cookie(text, text, text, boolean, integer) IS 'A Set-Cookie value (HttpOnly, SameSite=Lax, Secure when secure).';

-- Set-Cookie header(s): one value as a string, several as an array.
CREATE FUNCTION api.set_cookie_header(cookies text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(cookies) = 1 THEN jsonb_build_object('Set-Cookie', cookies[1])
              WHEN cardinality(cookies) > 1 THEN jsonb_build_object('Set-Cookie', to_jsonb(cookies))
              ELSE '{}' END
$$;
COMMENT ON FUNCTION api.set_cookie_header(text[]) IS '{"Set-Cookie": value} for one cookie, {"Set-Cookie": [values]} for several, {} for none.';

-- A redirect URI with the parameters of a decision added to its query
-- (RFC 6749 section 3.1.2 keeps an existing query), in the order of the
-- OAuth responses: code or error, error_description, state, iss (RFC 9207);
-- NULL values are left out, and without any the URI stays as it is.
CREATE FUNCTION api.redirect_with(uri text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT uri || coalesce(CASE WHEN strpos(uri, '?') > 0 THEN CASE WHEN uri ~ '[?&]$' THEN '' ELSE '&' END ELSE '?' END
                         || string_agg(n || '=' || oauth.url_encode(params->>n), '&' ORDER BY i), '')
    FROM unnest(ARRAY['code', 'error', 'error_description', 'state', 'iss']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION api.redirect_with(text, jsonb) IS 'The redirect URI with the decision''s code, error, error_description, state and iss (in that order, percent-encoded, NULLs left out) appended to its query.';

-- The console's own page (the deployment's first console URL without its
-- callback), the way back from a sign-in error page; NULL when none is set.
CREATE FUNCTION api.console_home() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT regexp_replace(u, '[^/]*$', '') FROM unnest(oauth.console_redirect_uris()) u LIMIT 1
$$;
COMMENT ON FUNCTION api.console_home() IS 'The console''s address (first backend_framework.console_redirect_uris entry, without its file name), or NULL.';

-- Words for scopes on the consent page.
CREATE FUNCTION api.scope_words(scope text, tenant_name text) RETURNS text
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
COMMENT ON FUNCTION api.scope_words(text, text) IS 'What a scope allows, in words for the consent page.';

-- Text colour that reads on the brand colour (#rrggbb).
CREATE FUNCTION api.on_color(brand text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN 0.299 * ('x' || substr(brand, 2, 2))::bit(8)::int + 0.587 * ('x' || substr(brand, 4, 2))::bit(8)::int
                 + 0.114 * ('x' || substr(brand, 6, 2))::bit(8)::int > 160 THEN '#111827' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION api.on_color(text) IS 'Black or white text, whichever reads better on a #rrggbb background.';

-- A whole page: head, inline style, a centred card in <main>.
CREATE FUNCTION api.html_page(title text, tenant_name text, brand text, content text) RETURNS text
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
:root{--brand:' || oauth.html_escape(b) || ';--on-brand:' || api.on_color(b) || ';--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;--line:#d1d5db;--danger:#b42318;--danger-bg:#fef3f2;--radius:14px;color-scheme:light dark}
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
COMMENT ON FUNCTION api.html_page(text, text, text, text) IS 'An HTML page of the sign-in and sign-out endpoints (tenant name and brand colour, centred card, responsive, light and dark; no JavaScript). content is HTML already escaped by the caller.';

-- The OAuth parameters a form carries along, as hidden fields.
CREATE FUNCTION api.hidden_fields(params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(params->>n) || '">', E'\n' ORDER BY i), '')
    FROM unnest(ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                      'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION api.hidden_fields(jsonb) IS 'Hidden inputs for the authorization request parameters (HTML-escaped).';

CREATE FUNCTION api.scope_list(scopes text[], tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<ul class="scopes">' || string_agg('<li>' || oauth.html_escape(api.scope_words(s, tenant_name)) || '</li>', ''
           ORDER BY array_position(oauth.scopes_supported(), s)) || '</ul>'
    FROM unnest(scopes) s
$$;
COMMENT ON FUNCTION api.scope_list(text[], text) IS 'The scopes asked for, in words, as an HTML list.';


-- The cookies of a decision ([{"name", "value", "max_age", "path"}], path
-- below the OAuth endpoints' path) as Set-Cookie header(s), in order.
CREATE FUNCTION api.decision_cookies(cookies jsonb, issuer text, secure boolean) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT api.set_cookie_header(ARRAY(
    SELECT api.cookie(c->>'name', c->>'value', api.issuer_path(issuer) || '/oauth' || coalesce(c->>'path', ''), secure,
                      (c->>'max_age')::integer)
      FROM jsonb_array_elements(coalesce(cookies, '[]')) WITH ORDINALITY AS x(c, i) ORDER BY i))
$$;
COMMENT ON FUNCTION api.decision_cookies(jsonb, text, boolean) IS 'The Set-Cookie header(s) of a decision''s cookies (name, value, max_age, path below issuer path || /oauth): HttpOnly, SameSite=Lax, Secure when secure.';

-- An HTML page answer: never cached; the tenant's name and brand colour.
CREATE FUNCTION api.html_answer(p_status integer, p_tenant jsonb, p_title text, p_content text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN ROW(p_status, '{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}'::jsonb || p_headers,
             api.html_page(p_title, p_tenant->>'name', p_tenant->>'brand', p_content))::api.response;
END $$;
COMMENT ON FUNCTION api.html_answer(integer, jsonb, text, text, jsonb) IS 'An HTML answer: api.html_page of the tenant ({"name", "brand"}) with Content-Type text/html, Cache-Control no-store and p_headers.';

-- A decision's redirect: 303 to the URI with its parameters, never cached.
CREATE FUNCTION api.decision_redirect(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN ROW(303, jsonb_build_object('Cache-Control', 'no-store', 'Location', api.redirect_with(d->>'redirect', d->'params'))
                  || api.decision_cookies(d->'cookies', issuer, secure), '')::api.response;
END $$;
COMMENT ON FUNCTION api.decision_redirect(jsonb, text, boolean) IS 'The 303 answer of a redirect decision {"redirect": uri, "params": {...}, "cookies": [...]}: Location = api.redirect_with, Cache-Control no-store, Set-Cookie.';

-- The authorization endpoint's answer (oauth.authorize_endpoint decides):
-- the sign-in and consent pages, the error pages (status from the one
-- table: unknown tenant 404, other method 405, invalid request 400 —
-- never a redirect —, failed CSRF check 403), and 303 redirects.
CREATE FUNCTION api.authorize_answer(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  action_url text := api.issuer_path(issuer) || '/oauth/authorize';
  ten jsonb := d->'tenant';
  tname text := d->'tenant'->>'name';
  cookies jsonb := api.decision_cookies(d->'cookies', issuer, secure);
  scopes text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'scopes', '[]')));
  content text;
BEGIN
  IF d ? 'redirect' THEN
    RETURN api.decision_redirect(d, issuer, secure);
  END IF;
  CASE coalesce(d->>'error', d->>'show')
  WHEN 'not_found' THEN
    RETURN api.html_answer(api.error_status('not_found'), '{"name": "Sign in"}', 'Not found',
      '<h1>Not found</h1><p>There is no sign-in page at this address.</p>');
  WHEN 'method_not_allowed' THEN
    RETURN api.html_answer(api.error_status('method_not_allowed'), ten, 'Method not allowed',
      '<h1>Method not allowed</h1><p>Use GET or POST.</p>', '{"Allow": "GET, POST"}');
  WHEN 'invalid_request' THEN
    RETURN api.html_answer(api.error_status('invalid_request'), ten, 'Cannot sign in',
      '<h1>This sign-in link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(d->>'message') || '</p>'
      || '<p>Go back to the application and try again. If it keeps happening, tell its developers.</p>'
      || coalesce('<p><a class="button" href="' || oauth.html_escape(api.console_home()) || '">Open the '
                  || oauth.html_escape(tname) || ' console instead</a></p>', ''));
  WHEN 'forbidden' THEN
    RETURN api.html_answer(api.error_status('forbidden'), ten, 'Form expired',
      '<h1>This form has expired</h1><p class="notice" role="alert">The form was not sent from this page, or it is too old, so it was not accepted (CSRF check).</p>'
      || '<p><a class="button primary" href="' || oauth.html_escape(action_url || '?' || oauth.form_encode(d->'request'))
      || '">Start again</a></p>');
  WHEN 'login' THEN
    content := '<h1>Sign in</h1>
<p><strong>' || oauth.html_escape(d->>'client_name') || '</strong> wants to access your ' || oauth.html_escape(tname) || ' account.</p>
' || CASE WHEN d->>'notice' IS NOT NULL THEN '<p class="notice" role="alert">' || oauth.html_escape(d->>'notice') || '</p>
' ELSE '' END || '<h2>It will be able to</h2>
' || api.scope_list(scopes, tname) || '
<form method="post" action="' || oauth.html_escape(action_url) || '">
' || api.hidden_fields(d->'request') || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" inputmode="email" required'
      || CASE WHEN d->>'email' = '' THEN ' autofocus' ELSE '' END || ' value="'
      || oauth.html_escape(d->>'email') || '">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required'
      || CASE WHEN d->>'email' = '' THEN '' ELSE ' autofocus' END || '>
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Sign in and allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</div>
</form>';
    -- Throttled: the page says how long to wait, with its status (429) and Retry-After.
    RETURN api.html_answer(CASE WHEN d->>'retry_after' IS NOT NULL THEN api.error_status('too_many_requests') ELSE 200 END,
                           ten, 'Sign in', content, jsonb_strip_nulls(jsonb_build_object('Retry-After', d->>'retry_after')) || cookies);
  WHEN 'consent' THEN
    content := '<h1>Allow access?</h1>
<p><strong>' || oauth.html_escape(d->>'client_name') || '</strong> wants to access your ' || oauth.html_escape(tname) || ' account.</p>
<h2>It will be able to</h2>
' || api.scope_list(scopes, tname) || '
' || CASE WHEN d->>'returns_to' IS NOT NULL THEN '<p class="small">This application registered itself; it will return you to <strong>'
             || oauth.html_escape(coalesce(substring(d->>'returns_to' FROM '^[A-Za-z][A-Za-z0-9+.-]*:/*[^/?#]*'), d->>'returns_to'))
             || '</strong>.</p>
' ELSE '' END || '<form method="post" action="' || oauth.html_escape(action_url) || '">
' || api.hidden_fields(d->'request') || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>
<p class="small">Signed in as <strong>' || oauth.html_escape(d->>'user') || '</strong>. <a href="'
      || oauth.html_escape(action_url || '?' || oauth.form_encode((d->'request') || '{"prompt": "login"}'))
      || '">Not you? Sign in as someone else</a></p>';
    RETURN api.html_answer(200, ten, 'Allow access', content, cookies);
  END CASE;
END $$;
COMMENT ON FUNCTION api.authorize_answer(jsonb, text, boolean) IS 'Renders a decision of oauth.authorize_endpoint for the tenant''s issuer URL (form actions and cookie paths below its path; secure: cookies Secure): the sign-in page (200, or 429 with Retry-After when throttled), the consent page (200), the error pages (404 unknown tenant, 405 with Allow, 400 invalid request, 403 failed CSRF check) or a 303 redirect; Set-Cookie for the decision''s cookies; HTML pages no-store.';

-- RP-initiated logout's answer (oauth.end_session_endpoint decides): the
-- confirmation page, the signed-out page, the error pages, or the 303 back
-- to the client's post-logout redirect URI.
CREATE FUNCTION api.logout_answer(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  ten jsonb := d->'tenant';
  cookies jsonb := api.decision_cookies(d->'cookies', issuer, secure);
BEGIN
  IF d ? 'redirect' THEN
    RETURN api.decision_redirect(d, issuer, secure);
  END IF;
  CASE coalesce(d->>'error', d->>'show')
  WHEN 'not_found' THEN
    RETURN api.html_answer(api.error_status('not_found'), '{"name": "Sign out"}', 'Not found',
                           '<h1>Not found</h1><p>There is nothing here.</p>');
  WHEN 'invalid_request' THEN
    RETURN api.html_answer(api.error_status('invalid_request'), ten, 'Cannot sign out',
      '<h1>This sign-out link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(d->>'message') || '</p>');
  WHEN 'confirm' THEN
    RETURN api.html_answer(200, ten, 'Sign out', '<h1>Sign out?</h1><p>Do you want to sign out of '
        || oauth.html_escape(ten->>'name') || '?</p><form method="post" action="'
        || oauth.html_escape(api.issuer_path(issuer) || '/oauth/logout') || '">'
        || coalesce((SELECT string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(d->'request'->>n) || '">', '' ORDER BY i)
                       FROM unnest(ARRAY['client_id', 'post_logout_redirect_uri', 'state']) WITH ORDINALITY AS x(n, i)
                      WHERE d->'request'->>n IS NOT NULL), '')
        || '<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">'
        || '<div class="actions"><button type="submit" name="action" value="logout" class="primary">Sign out</button></div></form>',
      cookies);
  WHEN 'signed_out' THEN
    RETURN api.html_answer(200, ten, 'Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>', cookies);
  END CASE;
END $$;
COMMENT ON FUNCTION api.logout_answer(jsonb, text, boolean) IS 'Renders a decision of oauth.end_session_endpoint: the confirmation page (200, with the bf_csrf cookie), the signed-out page (200), the error pages (404 unknown tenant, 400 invalid link) or a 303 to the post-logout redirect URI; Set-Cookie for the decision''s cookies (the cleared session).';
