-- The authorization endpoint as the browser sees it: sign-in and consent
-- pages, CSRF, login session cookie, 303 redirects with code, state and
-- iss (RFC 9207), errors that never redirect to an unregistered URI, HTML
-- escaping of hostile values, prompt, PKCE rules, throttling of the form.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
-- The deployment's console URL (every connection of this database).
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET backend_framework.console_redirect_uris = 'http://localhost:8080/console/callback.html';
SET backend_framework.console_redirect_uris = 'http://localhost:8080/console/callback.html';
SELECT tenant_id AS za FROM tenancy.register_tenant('authz-a', 'Authz & Co <A>', 'owner@za.test', 'owner-password') \gset
SELECT tenant_id AS zb FROM tenancy.register_tenant('authz-b', 'Authz B', 'owner@zb.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'za', :'zb');
BEGIN;
SELECT tenancy.enter_tenant('authz-a') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"brand_color": "#ffcc00"}') ->> 'brand_color' AS brand_color;
SELECT email FROM tenancy.create_user('una@za.test', 'una-password', 'user', 'Una');
SELECT public.seen(oauth.create_client('{"client_id": "app", "client_name": "Photo App", "redirect_uris": ["https://photos.example/cb", "https://photos.example/cb2?tab=1"], "grant_types": ["authorization_code", "refresh_token"], "scope": "read write profile"}')) ->> 'client_id' AS client;
SELECT public.seen(oauth.create_client('{"client_id": "one", "client_name": "One URI", "redirect_uris": ["https://one.example/cb"], "scope": "read admin"}')) ->> 'client_id' AS client;
SELECT public.seen(oauth.create_client('{"client_id": "pub", "client_name": "Public", "redirect_uris": ["http://localhost:5173/cb"], "token_endpoint_auth_method": "none"}')) ->> 'client_id' AS client;
SELECT public.seen(oauth.create_client('{"client_id": "evil", "client_name": "<script>alert(1)</script> & \"Co\"", "redirect_uris": ["https://evil.example/cb"]}')) ->> 'client_id' AS client;
SELECT public.seen(oauth.create_client('{"client_id": "svc", "client_name": "Service", "grant_types": ["client_credentials"]}')) ->> 'client_id' AS client;
COMMIT;

\c - bf_test_gw
\set VERBOSITY terse
-- GET of a valid request: the sign-in page, whole (the CSRF cookie value is masked; the form carries its digest).
SELECT status, public.mask_text((headers)::text) AS headers
  FROM public.authz('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "read profile", "state": "st-1"}');
SELECT public.last_page() AS page;
SELECT public.last_cookie('bf_csrf') AS csrf_cookie, public.csrf_field(public.last_html()) AS csrf \gset
SELECT :'csrf' = oauth.base64url_encode(oauth.token_digest(:'csrf_cookie')) AS field_is_digest_of_cookie,
       strpos(public.last_html(), :'csrf_cookie') = 0 AS cookie_value_not_in_page;

-- POST without or with a wrong CSRF token: 403, nothing checked.
SELECT * FROM public.authz_show('authz-a', 'POST', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "state": "st-1", "email": "una@za.test", "password": "una-password", "action": "allow"}',
  jsonb_build_object('bf_csrf', :'csrf_cookie'));
SELECT * FROM public.authz_show('authz-a', 'POST', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "state": "st-1", "email": "una@za.test", "password": "una-password", "action": "allow", "csrf": "forged"}',
  jsonb_build_object('bf_csrf', :'csrf_cookie'));
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'));
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', public.test_csrf()));
SELECT (regexp_match(public.last_html(), '<a class="button primary" href="([^"]*)"'))[1] AS start_again_link;

-- Wrong password: the form again (200) with a notice, the e-mail kept, no session.
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'scope', 'read profile', 'state', 'st-1', 'email', 'una@za.test', 'password', 'wrong', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', :'csrf_cookie'));
SELECT (regexp_match(public.last_html(), '<input id="email"[^>]*>'))[1] AS email_field;
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', '', 'password', '', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', :'csrf_cookie'));

-- The right password: 303 to the redirect URI with code, state and iss; the session cookie.
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'scope', 'read profile', 'state', 'st-1', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', :'csrf_cookie'));
SELECT public.last_location('state') AS state, public.last_location('iss') AS iss, public.last_location('code') ~ '^bfac_' AS has_code;
SELECT public.last_cookie('bf_session') AS session \gset
\c - postgres
\set VERBOSITY terse
SELECT u.email, l.client_addr, l.expires_at - l.created_at AS lifetime FROM oauth.login_sessions l JOIN tenancy.users u ON u.tenant_id = l.tenant_id AND u.id = l.user_id
 WHERE l.tenant_id = :'za' AND l.session_hash = oauth.token_digest(:'session');
SELECT c.client_id, c.scope FROM oauth.consents c WHERE c.tenant_id = :'za';
\c - bf_test_gw
\set VERBOSITY terse
-- Signed in and consent given: a GET goes straight back with a new code.
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "profile", "state": "st-2"}',
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
-- More scopes than allowed before: the consent page (whole), then Allow through its form.
SELECT status, public.mask_text((headers)::text) AS headers
  FROM public.authz('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb2?tab=1", "scope": "read write", "state": "st-3"}',
                    jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
SELECT public.last_page() AS page;
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb2?tab=1', 'scope', 'read write', 'state', 'st-3', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
\c - postgres
\set VERBOSITY terse
SELECT c.client_id, c.scope FROM oauth.consents c WHERE c.tenant_id = :'za';
\c - bf_test_gw
\set VERBOSITY terse
-- prompt=consent asks again; Deny sends access_denied back.
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "read", "prompt": "consent"}',
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
SELECT * FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'scope', 'read', 'state', 'st 4/ü', 'action', 'deny', 'csrf', :'csrf'),
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
SELECT public.last_location('error') AS error, public.last_location('error_description') AS description, public.last_location('state') AS state;
-- Denying needs no password, but the CSRF check still applies.
SELECT status, h1 FROM public.authz_show('authz-a', 'POST', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "action": "deny"}');
-- prompt=login shows the sign-in page although signed in; prompt=none never shows a page.
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "prompt": "login"}',
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "prompt": "none", "state": "n"}');
SELECT status, public.last_location('error') AS error FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "one", "prompt": "none"}',
  jsonb_build_object('bf_session', :'session'));
SELECT status, public.last_location('code') ~ '^bfac_' AS has_code FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "read", "prompt": "none"}',
  jsonb_build_object('bf_session', :'session'));
-- A user asking only for what her role cannot have: invalid_scope, after signing in.
SELECT status, public.last_location('error') AS error, public.last_location('error_description') AS description
  FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "one", "scope": "admin"}', jsonb_build_object('bf_session', :'session'));
-- The console (the tenant's own client) needs no consent.
SELECT status, public.last_location('code') ~ '^bfac_' AS has_code FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "console", "redirect_uri": "http://localhost:8080/console/callback.html", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}',
  jsonb_build_object('bf_session', :'session'));

-- Errors that never redirect: 400 page, no Location -------------------------------------------------
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "nobody", "redirect_uri": "https://photos.example/cb"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://attacker.example/cb", "state": "x"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb/", "state": "x"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://PHOTOS.example/cb"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "redirect_uri": "https://photos.example/cb"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": ["app"]}');
SELECT * FROM public.authz_show('authz-b', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb"}');
SELECT status, h1 FROM public.authz_show('authz-a', 'PUT', '{}');
SELECT status, (regexp_match(body, '<h1>(.*?)</h1>'))[1] AS h1 FROM api.authorize_answer(oauth.authorize_endpoint('GET', '{}', '{}', NULL, NULL), NULL, false);

-- Errors sent back to the (registered) redirect URI, with state and iss ------------------------------
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "token", "client_id": "app", "redirect_uri": "https://photos.example/cb", "state": "e1"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"client_id": "app", "redirect_uri": "https://photos.example/cb2?tab=1", "state": "e2"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "read photos"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "admin"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "svc"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "prompt": "popup"}');
-- PKCE: required for public clients, S256 only unless the tenant allows plain; a malformed challenge.
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "state": "p1"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "plain"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S512"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge": "short", "code_challenge_method": "S256"}');
SELECT * FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge_method": "S256"}');
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "pub", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}');
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('authz-a') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"allow_plain_pkce": true}') ->> 'allow_plain_pkce' AS allow_plain_pkce;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
-- Allowed now: a plain challenge (method omitted means plain, RFC 7636 section 4.3) goes through a real exchange.
SELECT public.code_for('authz-a', '{"response_type": "code", "client_id": "pub", "code_challenge": "plain-verifier-plain-verifier-plain-verifier-1"}', 'una@za.test', 'una-password') AS plain_code \gset
SELECT * FROM public.tok('authz-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'pub', 'code', :'plain_code', 'code_verifier', 'plain-verifier-plain-verifier-plain-verifier-1'));

-- Hostile values are escaped: a client named <script>..., a state that closes the attribute.
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "evil", "state": "\"><script>alert(2)</script>", "login_hint": "x\" onfocus=\"alert(3)"}');
SELECT strpos(public.last_html(), '<script') = 0 AS no_script_tag, strpos(public.last_html(), '" onfocus') = 0 AS no_injected_attribute;
SELECT line FROM regexp_split_to_table(public.last_html(), E'\n') line
 WHERE line ~ 'wants to access|name="state"|id="email"|<title>|class="tenant"';
-- The state comes back in the redirect exactly (percent-encoded).
SELECT headers FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'evil', 'state', '"><script>alert(2)</script>', 'action', 'deny', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', :'csrf_cookie'));
SELECT public.last_location('state') AS state;

-- Cookies: Secure behind https; a malformed or foreign session is no session.
SELECT headers FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb"}', '{}', '192.0.2.1', true);
SELECT headers FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_csrf', :'csrf_cookie'), '192.0.2.1', true);
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb"}',
  jsonb_build_object('bf_session', 'bfss_forged', 'bf_csrf', 'garbage'));
SELECT status, h1 FROM public.authz_show('authz-b', 'GET', '{"response_type": "code", "client_id": "console", "redirect_uri": "http://localhost:8080/console/callback.html", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}',
  jsonb_build_object('bf_session', :'session'));
-- An expired session: sign in again (also when posting the consent form).
\c - postgres
\set VERBOSITY terse
UPDATE oauth.login_sessions SET expires_at = now() - interval '1 second' WHERE tenant_id = :'za' AND session_hash = oauth.token_digest(:'session');
\c - bf_test_gw
\set VERBOSITY terse
SELECT status, h1 FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://photos.example/cb", "scope": "read"}',
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));
SELECT status, h1, notice FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'action', 'allow', 'csrf', :'csrf'),
  jsonb_build_object('bf_session', :'session', 'bf_csrf', :'csrf_cookie'));

-- Throttling of the form: after 5 failures from an address, 429 with Retry-After and the password is not checked.
SELECT count(*) AS failures FROM generate_series(1, 5) i, public.authz('authz-a', 'POST',
    jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', 'una@za.test', 'password', 'guess' || i, 'action', 'allow', 'csrf', :'csrf'),
    jsonb_build_object('bf_csrf', :'csrf_cookie'), '198.51.100.50') a
 WHERE a.status = 200 AND a.body LIKE '%The email address or password is incorrect.%';
SELECT status, regexp_replace(headers, '[0-9]+', 'N', 'g') AS headers, h1, regexp_replace(notice, '[0-9]+', 'N') AS notice
  FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'),
    jsonb_build_object('bf_csrf', :'csrf_cookie'), '198.51.100.50');
-- The same user from another address signs in.
SELECT status, public.last_location('code') ~ '^bfac_' AS has_code
  FROM public.authz_show('authz-a', 'POST', jsonb_build_object('response_type', 'code', 'client_id', 'app', 'redirect_uri', 'https://photos.example/cb', 'scope', 'read', 'email', 'una@za.test', 'password', 'una-password', 'action', 'allow', 'csrf', :'csrf'),
    jsonb_build_object('bf_csrf', :'csrf_cookie'), '198.51.100.51');
-- The error page and the brand colour: dark text on a light brand colour.
SELECT line FROM regexp_split_to_table((SELECT body FROM public.authz('authz-a', 'GET', '{"client_id": "nobody"}')), E'\n') line
 WHERE line ~ '^:root|<h1>|<title>';
-- The console client also accepts the platform's console URLs (superuser setting backend_framework.console_redirect_uris).
\c - postgres
\set VERBOSITY terse
SET backend_framework.console_redirect_uris = 'https://console.example.com/console/callback.html, not a uri, http://evil.example/cb';
SELECT oauth.console_redirect_uris();
SELECT status, h1, notice FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "console", "redirect_uri": "https://console.example.com/console/callback.html", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}');
SELECT status, h1, notice FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "console", "redirect_uri": "http://evil.example/cb", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}');
SELECT status, h1, notice FROM public.authz_show('authz-a', 'GET', '{"response_type": "code", "client_id": "app", "redirect_uri": "https://console.example.com/console/callback.html"}');
RESET backend_framework.console_redirect_uris;
ALTER DATABASE :"db" RESET backend_framework.console_redirect_uris;
