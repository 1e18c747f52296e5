-- Revocation (RFC 7009), introspection (RFC 7662), dynamic registration
-- (RFC 7591) and management (RFC 7592), userinfo, server metadata (RFC 8414).
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS ea FROM tenancy.register_tenant('endpoints-a', 'Endpoints A', 'owner@ea.test', 'owner-password') \gset
SELECT tenant_id AS eb FROM tenancy.register_tenant('endpoints-b', 'Endpoints B', 'owner@eb.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'ea', :'eb');
BEGIN;
SELECT tenancy.enter_tenant('endpoints-a') IS NOT NULL AS entered;
SELECT email FROM tenancy.create_user('eve@ea.test', 'eve-password', 'user', 'Eve Example');
SELECT public.seen(oauth.create_client('{"client_id": "api", "client_name": "Resource Server", "resource_server": true, "grant_types": ["client_credentials"], "scope": "read"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS api_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "app", "client_name": "App", "grant_types": ["password", "refresh_token", "client_credentials"], "scope": "read write profile admin"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS app_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "poster", "client_name": "Poster", "token_endpoint_auth_method": "client_secret_post", "grant_types": ["client_credentials"], "scope": "read"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS poster_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "pub", "client_name": "Public", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "scope": "read profile"}')) ->> 'client_id' AS client;
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('endpoints-b') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "api", "client_name": "Resource Server B", "resource_server": true, "grant_types": ["client_credentials"], "scope": "read"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS api_b_secret \gset
COMMIT;

\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "eve@ea.test", "password": "eve-password"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_at, public.seen_last('refresh_token') AS eve_rt \gset
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "client_credentials"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS cc_at \gset
SELECT status FROM public.tok('endpoints-b', '{"grant_type": "client_credentials"}', public.basic('api', :'api_b_secret'));
SELECT public.seen_last('access_token') AS b_at \gset

-- Introspection ------------------------------------------------------------------------------
-- An active user token: every RFC 7662 member plus the tenant (times and ids masked; exp - iat checked below).
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at'), public.basic('api', :'api_secret'));
SELECT (body->>'exp')::bigint - (body->>'iat')::bigint AS lifetime, body->>'tenant_id' = :'ea' AS tenant_id_ok,
       (body->>'iat')::bigint BETWEEN extract(epoch FROM now()) - 60 AND extract(epoch FROM now()) AS iat_now
  FROM public.oauth_seen ORDER BY id DESC LIMIT 1;
-- A client credentials token has no user; a refresh token says so; hints do not matter.
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'cc_at', 'token_type_hint', 'refresh_token'), public.basic('api', :'api_secret'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_rt'), public.basic('api', :'api_secret'));
-- Inactive: unknown, another tenant's, and (below) expired, revoked, rotated, disabled user.
SELECT * FROM public.t_introspect('endpoints-a', '{"token": "bfat_unknown"}', public.basic('api', :'api_secret'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'b_at'), public.basic('api', :'api_secret'));
SELECT * FROM public.t_introspect('endpoints-b', jsonb_build_object('token', :'eve_at'), public.basic('api', :'api_b_secret'));
SELECT status, body->>'active' AS active FROM public.t_introspect('endpoints-b', jsonb_build_object('token', :'b_at'), public.basic('api', :'api_b_secret'));
-- Only resource servers learn about other clients' tokens (issue 10 item 13):
-- app and poster are confidential clients but no resource servers. Their
-- own tokens: active; others' (eve's token of app, api's token): inactive,
-- with HTTP Basic (client_secret_basic) and with client_secret_post.
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "client_credentials"}', public.basic('api', :'api_secret'));
SELECT public.seen_last('access_token') AS api_at \gset
SELECT status FROM public.tok('endpoints-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'poster', 'client_secret', :'poster_secret'));
SELECT public.seen_last('access_token') AS poster_at \gset
SELECT body->>'active' AS own_active, body->>'client_id' AS client FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at'), public.basic('app', :'app_secret'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'api_at'), public.basic('app', :'app_secret'));
SELECT body->>'active' AS own_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'poster_at', 'client_id', 'poster', 'client_secret', :'poster_secret'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at', 'client_id', 'poster', 'client_secret', :'poster_secret'));
SELECT body->>'active' AS rs_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'poster_at'), public.basic('api', :'api_secret'));
-- Errors: no or wrong client authentication, a public client, no token.
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at'), public.basic('api', 'wrong'));
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at', 'client_id', 'pub'));
SELECT * FROM public.t_introspect('endpoints-a', '{}', public.basic('api', :'api_secret'));
SELECT * FROM oauth.introspect_endpoint(jsonb_build_object('token', :'eve_at'), public.basic('api', :'api_secret'), 'http://x');
-- Rotation makes the old refresh token inactive.
SELECT status FROM public.tok('endpoints-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'eve_rt'), public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_at2, public.seen_last('refresh_token') AS eve_rt2 \gset
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_rt'), public.basic('api', :'api_secret'));
\c - postgres
\set VERBOSITY terse
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE tenant_id = :'ea' AND token_hash = oauth.token_digest(:'cc_at');
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'cc_at'), public.basic('api', :'api_secret'));

-- Revocation -----------------------------------------------------------------------------------
-- Another client's token: 200, and nothing happens.
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'eve_at2'), public.basic('api', :'api_secret'));
SELECT body->>'active' AS still_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at2'), public.basic('api', :'api_secret'));
-- Its own access token: revoked, the refresh token of the grant stays.
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'eve_at2', 'token_type_hint', 'access_token'), public.basic('app', :'app_secret'));
SELECT body->>'active' AS at_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at2'), public.basic('api', :'api_secret'));
SELECT body->>'active' AS rt_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_rt2'), public.basic('api', :'api_secret'));
-- Its refresh token, with a wrong hint: the whole grant ends (its access tokens too).
SELECT status FROM public.tok('endpoints-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'eve_rt2'), public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_at3, public.seen_last('refresh_token') AS eve_rt3 \gset
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'eve_rt3', 'token_type_hint', 'access_token'), public.basic('app', :'app_secret'));
SELECT body->>'active' AS at_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at3'), public.basic('api', :'api_secret'));
SELECT * FROM public.tok('endpoints-a', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'eve_rt3'), public.basic('app', :'app_secret'));
-- Unknown, already revoked, another tenant's, an unknown hint: all 200 {}.
SELECT * FROM public.t_revoke('endpoints-a', '{"token": "bfat_unknown"}', public.basic('app', :'app_secret'));
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'eve_rt3'), public.basic('app', :'app_secret'));
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'b_at', 'token_type_hint', 'id_token'), public.basic('app', :'app_secret'));
SELECT body->>'active' AS b_still_active FROM public.t_introspect('endpoints-b', jsonb_build_object('token', :'b_at'), public.basic('api', :'api_b_secret'));
-- A public client revokes its own token with its client_id.
SELECT public.code_for('endpoints-a', jsonb_build_object('response_type', 'code', 'client_id', 'pub', 'redirect_uri', 'http://127.0.0.1/cb',
  'code_challenge', oauth.pkce_s256(repeat('v', 43)), 'code_challenge_method', 'S256'), 'eve@ea.test', 'eve-password') AS pub_code \gset
SELECT status FROM public.tok('endpoints-a', jsonb_build_object('grant_type', 'authorization_code', 'client_id', 'pub', 'code', :'pub_code',
  'redirect_uri', 'http://127.0.0.1/cb', 'code_verifier', repeat('v', 43)));
SELECT public.seen_last('access_token') AS pub_at \gset
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', :'pub_at', 'client_id', 'pub'));
SELECT body->>'active' AS pub_at_active FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'pub_at'), public.basic('api', :'api_secret'));
-- Errors: no token, failed client authentication, credentials twice, no tenant.
SELECT * FROM public.t_revoke('endpoints-a', '{}', public.basic('app', :'app_secret'));
SELECT * FROM public.t_revoke('endpoints-a', '{"token": "x"}', public.basic('app', 'wrong'));
SELECT * FROM public.t_revoke('endpoints-a', jsonb_build_object('token', 'x', 'client_secret', :'app_secret'), public.basic('app', :'app_secret'));
SELECT * FROM oauth.revoke_endpoint('{"token": "x"}', public.basic('app', :'app_secret'));
-- A disabled user's tokens are inactive.
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "eve@ea.test", "password": "eve-password"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_at4 \gset
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('endpoints-a') IS NOT NULL AS entered;
SELECT status FROM tenancy.update_user((SELECT id FROM tenancy.users WHERE email = 'eve@ea.test'), p_status => 'disabled');
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'eve_at4'), public.basic('api', :'api_secret'));
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('endpoints-a') IS NOT NULL AS entered;
SELECT status FROM tenancy.update_user((SELECT id FROM tenancy.users WHERE email = 'eve@ea.test'), p_status => 'active');
COMMIT;

-- Dynamic registration (RFC 7591) -------------------------------------------------------------------
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "owner@ea.test", "password": "owner-password", "scope": "admin"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS owner_admin \gset
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "owner@ea.test", "password": "owner-password", "scope": "read"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS owner_read \gset
-- Without a token (open registration is off), with a token lacking admin, with a bad token, another tenant's token.
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Anon", "redirect_uris": ["https://anon.example/cb"]}', NULL);
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Anon", "redirect_uris": ["https://anon.example/cb"]}', :'owner_read');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Anon", "redirect_uris": ["https://anon.example/cb"]}', 'bfat_forged');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Anon", "redirect_uris": ["https://anon.example/cb"]}', :'b_at');
-- With an admin's token: 201 and the whole client information.
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Dyn App", "redirect_uris": ["https://dyn.example/cb"], "grant_types": ["authorization_code", "refresh_token"], "scope": "read profile", "logo_uri": "https://dyn.example/logo.png", "software_id": "dyn-1", "frobnicate": true}', :'owner_admin');
SELECT public.seen_last('client_id') AS dyn, public.seen_last('client_secret') AS dyn_secret, public.seen_last('registration_access_token') AS dyn_reg,
       public.seen_last('registration_client_uri') AS dyn_uri \gset
SELECT :'dyn_uri' = 'http://localhost:8080/t/endpoints-a/oauth/register/' || :'dyn' AS uri_ok;
-- Its secret authenticates it at the token endpoint (the grant is not one of its own).
SELECT * FROM public.tok('endpoints-a', '{"grant_type": "client_credentials"}', public.basic(:'dyn', :'dyn_secret'));
-- A dynamically registered client is no resource server: it learns nothing
-- of the owner's token (before the fix: active, with the owner's e-mail),
-- and it cannot declare itself one.
SELECT * FROM public.t_introspect('endpoints-a', jsonb_build_object('token', :'owner_admin'), public.basic(:'dyn', :'dyn_secret'));
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "Wannabe RS", "redirect_uris": ["https://rs.example/cb"], "resource_server": true}', :'owner_admin');
-- Metadata errors (RFC 7591 section 3.2.2); names may repeat (two installs of one app register alike, issue 12); choosing a client_id.
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "X", "redirect_uris": ["http://x.example/cb"]}', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "X", "redirect_uris": ["https://x.example/cb"], "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"]}', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": "console", "redirect_uris": ["https://x.example/cb"]}', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_name": " Resource server ", "redirect_uris": ["https://x.example/cb"]}', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '{"client_id": "chosen", "client_name": "X", "redirect_uris": ["https://x.example/cb"]}', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, '"not an object"', :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'POST', NULL, NULL, :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'GET', NULL, NULL, :'owner_admin');
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('endpoints-b') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"open_registration": true}') ->> 'open_registration' AS open_registration;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
-- Open registration (tenant setting): no token needed; the same name as a client of another tenant is fine.
SELECT status, body->>'client_name' AS client_name, body->>'registration_client_uri' IS NOT NULL AS has_uri
  FROM public.t_register('endpoints-b', 'POST', NULL, '{"client_name": "Dyn App", "redirect_uris": ["https://dyn.example/cb"], "token_endpoint_auth_method": "none"}', NULL);
SELECT public.seen_last('client_id') AS open_client, public.seen_last('registration_access_token') AS open_reg \gset
-- Open registration cannot ask for client credentials, the password grant or the admin scope.
SELECT * FROM public.t_register('endpoints-b', 'POST', NULL, '{"client_name": "Sneaky", "grant_types": ["client_credentials"], "scope": "read"}', NULL);
SELECT * FROM public.t_register('endpoints-b', 'POST', NULL, '{"client_name": "Sneaky", "grant_types": ["password"]}', NULL);
SELECT * FROM public.t_register('endpoints-b', 'POST', NULL, '{"client_name": "Sneaky", "redirect_uris": ["https://s.example/cb"], "scope": "read admin"}', NULL);

-- Client management (RFC 7592) ------------------------------------------------------------------------
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, :'dyn_reg');
SELECT body->>'registration_client_uri' = :'dyn_uri' AS same_uri FROM public.oauth_seen ORDER BY id DESC LIMIT 1;
-- Wrong, missing or another client's registration token; an access token; an unknown client; another tenant.
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, 'bfrg_wrong');
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, NULL);
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, :'open_reg');
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, :'owner_admin');
SELECT * FROM public.t_register('endpoints-a', 'GET', 'nobody', NULL, :'dyn_reg');
SELECT * FROM public.t_register('endpoints-b', 'GET', :'dyn', NULL, :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'GET', 'console', NULL, :'dyn_reg');
-- PUT replaces the metadata: omitted fields are gone (logo_uri, software_id), grant types and scope may only narrow.
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', jsonb_build_object('client_id', :'dyn', 'client_name', 'Dyn App 2', 'redirect_uris', '["https://dyn.example/cb2"]'::jsonb, 'registration_access_token', 'ignored'), :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"redirect_uris": ["https://dyn.example/cb"], "scope": "read profile admin"}', :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"redirect_uris": ["https://dyn.example/cb"], "grant_types": ["authorization_code", "client_credentials"]}', :'dyn_reg');
SELECT status, body->>'scope' AS scope, body->'grant_types' AS grant_types FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"client_name": "Dyn App 2", "redirect_uris": ["https://dyn.example/cb"], "scope": "read", "grant_types": ["authorization_code"]}', :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"client_id": "someone-else", "redirect_uris": ["https://dyn.example/cb"]}', :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"client_secret": "bfcs_wrong", "redirect_uris": ["https://dyn.example/cb"]}', :'dyn_reg');
SELECT status, body->>'client_name' AS client_name FROM public.t_register('endpoints-a', 'PUT', :'dyn', jsonb_build_object('client_secret', :'dyn_secret', 'client_name', 'Dyn App 3', 'redirect_uris', '["https://dyn.example/cb"]'::jsonb), :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"client_name": "App", "redirect_uris": ["https://dyn.example/cb"]}', :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"redirect_uris": ["https://dyn.example/cb#x"]}', :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'PUT', :'dyn', '[1]', :'dyn_reg');
-- Becoming public drops the secret; an open-registered client cannot widen itself.
SELECT status, body ? 'client_secret' AS has_secret, body->>'token_endpoint_auth_method' AS method
  FROM public.t_register('endpoints-a', 'PUT', :'dyn', '{"client_name": "Dyn App 3", "redirect_uris": ["https://dyn.example/cb"], "token_endpoint_auth_method": "none"}', :'dyn_reg');
SELECT * FROM public.tok('endpoints-a', '{"grant_type": "client_credentials"}', public.basic(:'dyn', :'dyn_secret'));
SELECT * FROM public.t_register('endpoints-b', 'PUT', :'open_client', '{"client_name": "Dyn App", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}', :'open_reg');
SELECT status, body ? 'client_secret' AS new_secret_shown FROM public.t_register('endpoints-b', 'PUT', :'open_client', '{"client_name": "Dyn App", "redirect_uris": ["https://dyn.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}', :'open_reg');
SELECT * FROM public.t_register('endpoints-a', 'PATCH', :'dyn', '{}', :'dyn_reg');
-- DELETE: 204, then the registration token is worthless.
SELECT * FROM public.t_register('endpoints-a', 'DELETE', :'dyn', NULL, :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'GET', :'dyn', NULL, :'dyn_reg');
SELECT * FROM public.t_register('endpoints-a', 'DELETE', :'dyn', NULL, :'dyn_reg');
\c - postgres
\set VERBOSITY terse
SELECT count(*) AS dyn_rows FROM oauth.clients WHERE tenant_id = :'ea' AND client_id = :'dyn';
SELECT client_name, registered_via FROM oauth.clients WHERE tenant_id IN (:'ea', :'eb') AND registered_via <> 'admin' ORDER BY 1, 2;

-- Userinfo --------------------------------------------------------------------------------------------
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "eve@ea.test", "password": "eve-password", "scope": "profile read"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_profile \gset
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "password", "username": "eve@ea.test", "password": "eve-password", "scope": "read"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS eve_read \gset
SELECT status FROM public.tok('endpoints-a', '{"grant_type": "client_credentials", "scope": "profile"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS cc_profile \gset
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'eve_profile');
SELECT public.mask(oauth.userinfo());
SELECT oauth.userinfo() ->> 'tenant_id' = :'ea' AS tenant_id_ok;
COMMIT;
BEGIN;
SELECT tenancy.authenticate(:'eve_read');
SELECT oauth.userinfo();
ROLLBACK;
BEGIN;
SELECT tenancy.authenticate(:'cc_profile');
SELECT oauth.userinfo();
ROLLBACK;
SELECT oauth.userinfo();
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT public.enter('endpoints-a');
SELECT oauth.userinfo();
ROLLBACK;

-- Metadata (RFC 8414) -----------------------------------------------------------------------------------
BEGIN;
SELECT public.enter('endpoints-a');
SELECT jsonb_pretty(oauth.metadata_document('http://localhost:8080/t/endpoints-a'));
ROLLBACK;
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('endpoints-a') IS NOT NULL AS entered;
SELECT tenancy.set_settings('{"allow_plain_pkce": true}') ->> 'allow_plain_pkce' AS allow_plain_pkce;
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT public.enter('endpoints-a');
SELECT oauth.metadata_document('https://endpoints-a.example.com') -> 'code_challenge_methods_supported' AS methods,
       oauth.metadata_document('https://endpoints-a.example.com') ->> 'token_endpoint' AS token_endpoint;
ROLLBACK;
