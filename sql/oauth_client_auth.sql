-- One copy of each rule (issue 11 item 2, issue 14 item 5): one client
-- authentication (oauth.authenticate_client) that every endpoint goes
-- through, one function per grant, one error table (api.error_status) and
-- one WWW-Authenticate builder with one realm (api.www_authenticate).
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS ca FROM tenancy.register_tenant('clientauth-a', 'Client Auth A', 'owner@ca.test', 'owner-password') \gset
BEGIN;
SELECT tenancy.enter_tenant('clientauth-a') IS NOT NULL AS entered;
SELECT email, role FROM tenancy.create_user('cal@ca.test', 'cal-password', 'user', 'Cal');
SELECT public.seen(oauth.create_client('{"client_id": "basic", "client_name": "Basic", "grant_types": ["client_credentials", "password", "refresh_token"], "scope": "read write profile"}')) ->> 'token_endpoint_auth_method' AS method;
SELECT public.seen_last('client_secret') AS basic_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "post", "client_name": "Post", "token_endpoint_auth_method": "client_secret_post", "grant_types": ["client_credentials"], "scope": "read", "resource_server": true}')) ->> 'token_endpoint_auth_method' AS method;
SELECT public.seen_last('client_secret') AS post_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "pub", "client_name": "Public", "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://pub.example/cb"], "scope": "read"}')) ->> 'token_endpoint_auth_method' AS method;
COMMIT;

-- The catalog: no SQL function parses client credentials
-- (oauth.basic_credentials) or compares a client secret's digest
-- (oauth.ct_equal with secret_hash): oauth.authenticate_client, the one
-- that does, is C (extension/src/client_auth.c), and so is _form_client,
-- which the endpoints start with.
SELECT p.oid::regprocedure AS one_client_authentication, l.lanname
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.oid IN ('oauth.authenticate_client(uuid,jsonb,text)'::regprocedure, 'oauth._form_client(jsonb,text)'::regprocedure)
 ORDER BY 1;
SELECT p.oid::regprocedure AS parses_or_compares_client_secrets
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('oauth', 'api', 'tenancy') AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND (p.prosrc ~ 'basic_credentials\s*\(' OR p.prosrc ~ 'ct_equal\s*\([^;]*secret_hash')
 ORDER BY 1;

-- The one function's decisions, case by case.
CREATE TABLE public.ca_cases (label text PRIMARY KEY, params jsonb, auth text);
INSERT INTO public.ca_cases VALUES
  ('basic', '{}', public.basic('basic', :'basic_secret')),
  ('basic, wrong secret', '{}', public.basic('basic', 'wrong')),
  ('basic, sent in the body', jsonb_build_object('client_id', 'basic', 'client_secret', :'basic_secret'), NULL),
  ('basic, no secret', '{"client_id": "basic"}', NULL),
  ('post', jsonb_build_object('client_id', 'post', 'client_secret', :'post_secret'), NULL),
  ('post, wrong secret', '{"client_id": "post", "client_secret": "wrong"}', NULL),
  ('post, sent with Basic', '{}', public.basic('post', :'post_secret')),
  ('public', '{"client_id": "pub"}', NULL),
  ('public, empty Basic password', '{}', public.basic('pub', '')),
  ('public with a secret', '{"client_id": "pub", "client_secret": "x"}', NULL),
  ('unknown client', '{"client_id": "nobody"}', NULL),
  ('nothing', '{}', NULL),
  ('both methods', jsonb_build_object('client_secret', :'basic_secret'), public.basic('basic', :'basic_secret')),
  ('two client ids', '{"client_id": "post"}', public.basic('basic', :'basic_secret')),
  ('Bearer instead', '{}', 'Bearer abc'),
  ('malformed Basic', '{}', 'Basic !!!');
CREATE TABLE public.ca_decisions AS
  SELECT c.label, a.* FROM public.ca_cases c, LATERAL oauth.authenticate_client(:'ca', c.params, c.auth) a;
GRANT SELECT ON public.ca_cases, public.ca_decisions TO PUBLIC;
SELECT label, error, error_description, client_id, auth_method, resource_server, access_token_format
  FROM public.ca_decisions ORDER BY label;
-- No side effect: it only reads (STABLE), whatever it decides.
SELECT provolatile FROM pg_proc WHERE oid = 'oauth.authenticate_client(uuid, jsonb, text)'::regprocedure;

\c - bf_test_gw
\set VERBOSITY terse
-- Every endpoint refuses as the one function does: its error and
-- description, the status of the one table, the Basic challenge with the
-- one realm after HTTP Basic, none after client_secret_post.
BEGIN;
SELECT public.enter('clientauth-a');
SELECT c.label, e.endpoint, a.status, a.headers->>'WWW-Authenticate' AS challenge,
       a.body::jsonb = jsonb_build_object('error', x.error, 'error_description', x.error_description) AS as_the_one_function
  FROM public.ca_cases c JOIN public.ca_decisions x USING (label)
  CROSS JOIN LATERAL (VALUES
    ('token', oauth.token_endpoint(c.params || '{"grant_type": "client_credentials", "token": "x"}', c.auth, '192.0.2.1')),
    ('revoke', oauth.revoke_endpoint(c.params || '{"token": "x"}', c.auth)),
    ('introspect', oauth.introspect_endpoint(c.params || '{"token": "x"}', c.auth, 'http://x'))) e(endpoint, d)
  CROSS JOIN LATERAL api.oauth_answer(e.d, c.auth) a
 WHERE x.error IS NOT NULL
 ORDER BY c.label, e.endpoint;
-- Accepted credentials pass at each endpoint (introspection: confidential clients only).
SELECT c.label, a.status AS token, a.body::jsonb->>'error' AS token_error, b.status AS revoke, d.status AS introspect,
       d.body::jsonb->>'error_description' AS introspect_error
  FROM public.ca_cases c JOIN public.ca_decisions x USING (label)
  CROSS JOIN LATERAL api.oauth_answer(oauth.token_endpoint(c.params || '{"grant_type": "refresh_token", "refresh_token": "x"}', c.auth, '192.0.2.1'), c.auth) a
  CROSS JOIN LATERAL api.oauth_answer(oauth.revoke_endpoint(c.params || '{"token": "x"}', c.auth), c.auth) b
  CROSS JOIN LATERAL api.oauth_answer(oauth.introspect_endpoint(c.params || '{"token": "x"}', c.auth, 'http://x'), c.auth) d
 WHERE x.error IS NULL
 ORDER BY c.label;
COMMIT;
-- RFC 7592: a client_secret sent with a registration update is checked by the one function too.
\c - postgres
\set VERBOSITY terse
UPDATE oauth.clients SET registration_token_hash = oauth.token_digest('bfrg_' || repeat('R', 43))
 WHERE tenant_id = :'ca' AND client_id IN ('basic', 'post');
\c - bf_test_gw
\set VERBOSITY terse
SELECT status, body->>'error_description' AS error FROM public.t_register('clientauth-a', 'PUT', 'post',
  '{"client_secret": "wrong", "client_name": "Post", "token_endpoint_auth_method": "client_secret_post", "grant_types": ["client_credentials"]}', 'bfrg_' || repeat('R', 43));
SELECT status, body->>'client_name' AS name FROM public.t_register('clientauth-a', 'PUT', 'post',
  jsonb_build_object('client_secret', :'post_secret', 'client_name', 'Post 2', 'token_endpoint_auth_method', 'client_secret_post', 'grant_types', '["client_credentials"]'::jsonb), 'bfrg_' || repeat('R', 43));
SELECT status, body->>'error_description' AS error FROM public.t_register('clientauth-a', 'PUT', 'basic',
  '{"client_secret": "wrong", "client_name": "Basic", "grant_types": ["client_credentials"]}', 'bfrg_' || repeat('R', 43));
SELECT status, body->>'client_name' AS name FROM public.t_register('clientauth-a', 'PUT', 'basic',
  jsonb_build_object('client_secret', :'basic_secret', 'client_name', 'Basic 2', 'grant_types', '["client_credentials", "password", "refresh_token"]'::jsonb), 'bfrg_' || repeat('R', 43));

-- One function per grant, each deciding alone (as the dispatcher calls it,
-- for a client the one function authenticated).
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT public.enter('clientauth-a');
CREATE TEMP TABLE basic_client AS SELECT oauth.authenticate_client(:'ca', '{}', public.basic('basic', :'basic_secret')) AS c;
CREATE TEMP TABLE pub_client AS SELECT oauth.authenticate_client(:'ca', '{"client_id": "pub"}', NULL) AS c;
-- client_credentials: the client's scope by default, a narrower one on request, never wider; never for a public client.
SELECT public.mask(public.seen(oauth._token_client_credentials(:'ca', c, '{}', 'http://x', NULL))) FROM basic_client;
SELECT public.mask(public.seen(oauth._token_client_credentials(:'ca', c, '{"scope": "read"}', 'http://x', NULL))) FROM basic_client;
SELECT oauth._token_client_credentials(:'ca', c, '{"scope": "admin"}', 'http://x', NULL) FROM basic_client;
SELECT oauth._token_client_credentials(:'ca', c, '{}', 'http://x', NULL) FROM pub_client;
-- The audience of a resource indicator the dispatcher checked lands on the token.
SELECT public.seen(oauth._token_client_credentials(:'ca', c, '{}', 'http://x', 'https://api.example/')) ? 'access_token' AS issued FROM basic_client;
SELECT audience FROM oauth.tokens WHERE tenant_id = :'ca' AND token_hash = oauth.token_digest(public.seen_last('access_token'));
-- password: a user's token and a refresh token (the client has that grant); wrong password, missing fields.
SELECT public.mask(public.seen(oauth._token_password(:'ca', c, '{"username": "cal@ca.test", "password": "cal-password"}', '192.0.2.7', 'http://x', NULL))) FROM basic_client;
SELECT public.seen_last('refresh_token') AS cal_rt \gset
SELECT oauth._token_password(:'ca', c, '{"username": "cal@ca.test", "password": "nope"}', '192.0.2.7', 'http://x', NULL) FROM basic_client;
SELECT oauth._token_password(:'ca', c, '{"username": "cal@ca.test"}', '192.0.2.7', 'http://x', NULL) FROM basic_client;
SELECT oauth._token_password(:'ca', c, '{"username": "cal@ca.test", "password": "cal-password"}', '192.0.2.7', 'http://x', NULL) FROM pub_client;
-- refresh_token: another client's token is unknown to it; rotation, narrowing; then the old one is a reuse.
SELECT oauth._token_refresh_token(:'ca', c, jsonb_build_object('refresh_token', :'cal_rt'), 'http://x', NULL) FROM pub_client;
SELECT public.mask(public.seen(oauth._token_refresh_token(:'ca', c, jsonb_build_object('refresh_token', :'cal_rt', 'scope', 'read'), 'http://x', NULL))) FROM basic_client;
SELECT oauth._token_refresh_token(:'ca', c, jsonb_build_object('refresh_token', :'cal_rt'), 'http://x', NULL) FROM basic_client;
SELECT oauth._token_refresh_token(:'ca', c, '{}', 'http://x', NULL) FROM basic_client;
-- authorization_code: an unknown code, a missing code.
SELECT oauth._token_authorization_code(:'ca', c, '{"code": "bfac_unknown"}', 'http://x', NULL) FROM pub_client;
SELECT oauth._token_authorization_code(:'ca', c, '{}', 'http://x', NULL) FROM pub_client;
-- The dispatcher: the grant type is checked before any grant decides.
SELECT oauth.token_endpoint('{"grant_type": "authorization_code", "code": "x"}', public.basic('basic', :'basic_secret'), '192.0.2.1');
SELECT oauth.token_endpoint('{"grant_type": "implicit"}', public.basic('basic', :'basic_secret'), '192.0.2.1');
SELECT oauth.token_endpoint('{"client_id": "basic"}', public.basic('basic', :'basic_secret'), '192.0.2.1');
-- The grant functions are internal: only the extension's definers run them.
SELECT p.oid::regprocedure AS grant_function, has_function_privilege('backend_gateway', p.oid, 'EXECUTE') AS gateway_may
  FROM pg_proc p WHERE p.proname LIKE '\_token\_%' AND p.pronamespace = 'oauth'::regnamespace ORDER BY 1;
COMMIT;

-- The one realm, in every challenge: /api without or with a bad token,
-- /oauth/token and /oauth/introspect after a failed Basic authentication
-- (none after client_secret_post), registration without a token, userinfo.
CREATE FUNCTION public.ca_call(m text, p text, headers jsonb, body text DEFAULT NULL)
RETURNS TABLE(status integer, error text, challenge text) LANGUAGE sql AS $$
  SELECT h.status, h.body::jsonb->>'error', h.headers->>'WWW-Authenticate'
    FROM api.handle_request(m, p, '', jsonb_build_object('host', 'localhost:8080', 'x-tenant', 'clientauth-a') || headers,
                            convert_to(body, 'UTF8'), '192.0.2.9') h
$$;
SELECT * FROM public.ca_call('GET', '/api/v1/me', '{}');
SELECT * FROM public.ca_call('GET', '/api/v1/me', '{"authorization": "Bearer bfat_nope"}');
SELECT * FROM public.ca_call('POST', '/oauth/token', jsonb_build_object('authorization', public.basic('basic', 'wrong'),
  'content-type', 'application/x-www-form-urlencoded'), 'grant_type=client_credentials');
SELECT * FROM public.ca_call('POST', '/oauth/token', '{"content-type": "application/x-www-form-urlencoded"}',
  'grant_type=client_credentials&client_id=post&client_secret=wrong');
SELECT * FROM public.ca_call('POST', '/oauth/introspect', jsonb_build_object('authorization', public.basic('basic', 'wrong'),
  'content-type', 'application/x-www-form-urlencoded'), 'token=x');
SELECT * FROM public.ca_call('POST', '/oauth/register', '{"content-type": "application/json"}', '{"redirect_uris": ["https://x.example/cb"]}');
SELECT * FROM public.ca_call('GET', '/oauth/userinfo', '{"authorization": "Bearer bfat_nope"}');
-- Every challenge the extension writes names that realm and no other.
SELECT DISTINCT (regexp_match(h->>'WWW-Authenticate', 'realm="([^"]*)"'))[1] AS realm
  FROM (VALUES (api.www_authenticate('Basic')), (api.www_authenticate('Bearer', 'invalid_token', 'x')),
               ((api.error_from_sqlstate('28000', 'x')).headers), ((api.error_from_sqlstate('TB401', 'x')).headers),
               ((api.error_from_sqlstate('TB004', 'x', NULL, 'admin')).headers),
               ((api.oauth_answer('{"error": "invalid_token"}', NULL)).headers),
               ((api.oauth_answer('{"error": "invalid_client"}', 'Basic x')).headers),
               ((api.register_answer('POST', '{"error": "insufficient_scope"}', 'Bearer x')).headers)) v(h);
-- Quoted values keep to the characters RFC 6750 allows there.
SELECT api.www_authenticate('Bearer', 'invalid_token', 'a "quoted" \ message, é', 'read') AS challenge;
DROP FUNCTION public.ca_call(text, text, jsonb, text);
DROP TABLE public.ca_decisions, public.ca_cases;
