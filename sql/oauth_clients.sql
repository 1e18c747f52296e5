-- OAuth clients: RFC 7591 metadata rules, management by admins (create,
-- list, get, update, rotate secret, delete), the built-in console client,
-- privileges and row-level security on oauth.clients.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS ca FROM tenancy.register_tenant('clients-a', 'Clients A', 'owner@ca.test', 'owner-password') \gset
SELECT tenant_id AS cb FROM tenancy.register_tenant('clients-b', 'Clients B', 'owner@cb.test', 'owner-password') \gset
-- These suites test flows without PKCE too: relaxed for confidential clients (OAuth 2.1 default: required).
UPDATE tenancy.tenants SET settings = settings || '{"pkce_optional_for_confidential_clients": true}' WHERE id IN (:'ca', :'cb');
-- Every new tenant has its console client: public, code + refresh, all scopes, development redirect URIs.
SELECT t.slug, c.client_id, c.client_name, c.token_endpoint_auth_method, c.grant_types, c.scope, c.redirect_uris, c.builtin,
       c.secret_hash IS NULL AS no_secret
  FROM oauth.clients c JOIN tenancy.tenants t ON t.id = c.tenant_id WHERE t.slug IN ('clients-a', 'clients-b') ORDER BY 1;

\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
-- Create: a confidential client (secret and registration token shown once), a public one, defaults.
SELECT public.seen(oauth.create_client('{"client_name": "Billing", "redirect_uris": ["https://billing.example/cb"], "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "scope": "read write", "client_uri": "https://billing.example", "contacts": ["ops@billing.example"], "jwks_uri": "https://ignored.example"}'));
SELECT public.seen_last('client_id') AS billing \gset
SELECT public.seen_last('client_secret') AS billing_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "mobile", "client_name": "Mobile", "redirect_uris": ["http://127.0.0.1/cb", "http://[::1]:8765/cb", "http://localhost/cb", "https://app.example/cb?x=1"], "token_endpoint_auth_method": "none"}'));
SELECT public.seen(oauth.create_client('{"redirect_uris": ["https://minimal.example/cb"]}'));
SELECT public.seen_last('client_id') AS minimal \gset
SELECT :'minimal' ~ '^bfci_[A-Za-z0-9_-]{22}$' AS random_client_id, public.seen_last('client_name') = :'minimal' AS named_after_its_id;
SELECT oauth.delete_client(:'minimal');
SELECT public.seen(oauth.create_client('{"client_id": "worker", "client_name": "Worker", "grant_types": ["client_credentials"], "scope": "read", "access_token_ttl": 300, "token_endpoint_auth_method": "client_secret_post"}'));
SELECT public.seen_last('client_secret') AS worker_secret \gset
-- Invalid metadata: 22023 with a clear message each.
SAVEPOINT s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["http://app.example/cb"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["https://app.example/cb#frag"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["/cb"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["javascript:alert(1)//"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["https://user@app.example/cb"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["http://localhost.evil.example/cb"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["https://app.example/a b"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": "https://app.example/cb"}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X"}');
ROLLBACK TO s;
SELECT oauth.create_client(jsonb_build_object('redirect_uris', (SELECT jsonb_agg('https://app.example/' || i) FROM generate_series(1, 21) i)));
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["implicit"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": []}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "response_types": ["code"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "scope": "read photos"}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "scope": ""}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "  ", "grant_types": ["client_credentials"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": 42, "grant_types": ["client_credentials"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "access_token_ttl": 5}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_id": "a b", "grant_types": ["client_credentials"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_id": "mobile", "grant_types": ["client_credentials"]}');
ROLLBACK TO s;
SELECT oauth.create_client('{"client_name": "X", "grant_types": ["client_credentials"], "logo_uri": "data:image/png;base64,xyz"}');
ROLLBACK TO s;
SELECT oauth.create_client('[]');
ROLLBACK TO s;
COMMIT;

-- List (console first, never a secret), get.
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.mask(c) FROM oauth.list_clients() c;
SELECT count(*) AS keys_with_secret FROM oauth.list_clients() c, jsonb_object_keys(c) k WHERE k ~ 'secret_hash|token_hash|registration_access|client_secret$';
SELECT public.mask(oauth.get_client('mobile'));
SELECT oauth.get_client('nope');
ROLLBACK;

-- Update: present fields replace, absent ones stay; null removes an optional field.
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.mask(oauth.update_client(:'billing', '{"client_name": "Billing 2", "scope": "read", "client_uri": null}'));
SELECT public.mask(oauth.update_client(:'billing', '{"redirect_uris": ["ftp://x"]}'));
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.mask(oauth.update_client(:'billing', '{"client_id": "other"}'));
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.mask(oauth.update_client('nope', '{}'));
ROLLBACK;
-- Switching to a public client drops the secret; switching back issues a new one (shown once).
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.seen(oauth.update_client('mobile', '{"token_endpoint_auth_method": "client_secret_basic"}')) ->> 'client_secret' AS new_secret;
SELECT public.seen(oauth.update_client('mobile', '{"token_endpoint_auth_method": "none"}')) ? 'client_secret' AS shows_secret;
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT client_id, token_endpoint_auth_method, secret_hash IS NULL AS no_secret FROM oauth.clients WHERE tenant_id = :'ca' AND client_id = 'mobile';
\c - bf_test_admin
\set VERBOSITY terse

-- Rotate the secret: the old one stops working at once, the new one works; tokens already issued stay valid.
\c - bf_test_gw
\set VERBOSITY terse
SELECT status, body->>'scope' AS scope FROM public.tok('clients-a', '{"grant_type": "client_credentials"}', public.basic(:'billing', :'billing_secret'));
SELECT public.seen_last('access_token') AS billing_at \gset
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT public.seen(oauth.rotate_client_secret(:'billing'));
SELECT public.seen_last('client_secret') AS billing_secret2 \gset
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT oauth.rotate_client_secret('mobile');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT oauth.rotate_client_secret('nope');
ROLLBACK;
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('clients-a', '{"grant_type": "client_credentials"}', public.basic(:'billing', :'billing_secret'));
SELECT status, body->>'scope' AS scope FROM public.tok('clients-a', '{"grant_type": "client_credentials"}', public.basic(:'billing', :'billing_secret2'));
SELECT status, body->>'active' AS active FROM public.t_introspect('clients-a', jsonb_build_object('token', :'billing_at'), public.basic(:'billing', :'billing_secret2'));
-- The client's own lifetime applies (access_token_ttl 300).
SELECT * FROM public.tok('clients-a', jsonb_build_object('grant_type', 'client_credentials', 'client_id', 'worker', 'client_secret', :'worker_secret'));

-- Delete: its tokens go with it; unknown ids are 404; the console client stays.
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT oauth.delete_client(:'billing');
SELECT oauth.delete_client(:'billing');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT oauth.delete_client(:'billing');
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT count(*) AS tokens_left FROM oauth.tokens WHERE tenant_id = :'ca' AND client_id = :'billing';
\c - bf_test_gw
\set VERBOSITY terse
SELECT * FROM public.tok('clients-a', '{"grant_type": "client_credentials"}', public.basic(:'billing', :'billing_secret2'));

-- The console client: cannot be deleted; only its name and redirect URIs change.
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SAVEPOINT s;
SELECT oauth.delete_client('console');
ROLLBACK TO s;
SELECT oauth.update_client('console', '{"scope": "read"}');
ROLLBACK TO s;
SELECT oauth.update_client('console', '{"token_endpoint_auth_method": "client_secret_basic"}');
ROLLBACK TO s;
DELETE FROM oauth.clients WHERE client_id = 'console';
ROLLBACK TO s;
SELECT public.mask(oauth.update_client('console', '{"redirect_uris": ["https://console.clients-a.example/callback.html"]}')) -> 'redirect_uris' AS redirect_uris;
ROLLBACK;
\c - bf_test_gw
\set VERBOSITY terse
-- The gateway may not change the console client, even inside a tenant.
BEGIN;
SELECT public.enter('clients-a');
SELECT oauth.ensure_console_client('["https://evil.example/cb"]');
ROLLBACK;
\c - bf_test_admin
\set VERBOSITY terse
-- ensure_console_client (a tenant's admin or a platform operator sets an
-- address of the tenant's own): idempotent, validated.
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL;
SELECT oauth.ensure_console_client('["https://admin.example/console/callback.html"]');
SELECT oauth.ensure_console_client('["https://admin.example/console/callback.html"]');
SAVEPOINT s;
SELECT oauth.ensure_console_client('["http://admin.example/console/callback.html"]');
ROLLBACK TO s;
COMMIT;
SELECT oauth.ensure_console_client('["https://admin.example/console/callback.html"]');
\c - bf_test_app
\set VERBOSITY terse
SELECT oauth.ensure_console_client('["https://admin.example/console/callback.html"]');
\c - postgres
\set VERBOSITY terse
SELECT client_id, redirect_uris, (SELECT count(*) FROM oauth.clients x WHERE x.tenant_id = :'ca' AND x.builtin) AS console_clients
  FROM oauth.clients WHERE tenant_id = :'ca' AND builtin;

-- Who may manage clients: admins and owners with the admin scope, of their own tenant only.
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
SELECT email FROM tenancy.create_user('ann@ca.test', 'ann-password', 'admin');
SELECT email FROM tenancy.create_user('uwe@ca.test', 'uwe-password', 'user');
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
-- A resolved request without a signed-in admin cannot create clients.
BEGIN;
SELECT public.enter('clients-a');
SELECT public.seen(oauth.create_client('{"client_id": "pwd", "client_name": "Password client", "grant_types": ["password"], "token_endpoint_auth_method": "none", "scope": "read write profile admin"}')) ->> 'client_id' AS client;
ROLLBACK;
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('clients-a') IS NOT NULL AS entered;
-- The password grant is never for a public client (issue 12).
SAVEPOINT s;
SELECT oauth.create_client('{"client_name": "Public password client", "grant_types": ["password"], "token_endpoint_auth_method": "none"}');
ROLLBACK TO s;
SELECT public.seen(oauth.create_client('{"client_id": "pwd", "client_name": "Password client", "grant_types": ["password"], "token_endpoint_auth_method": "client_secret_post", "scope": "read write profile admin"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS pwd_secret \gset
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('clients-a', '{"grant_type": "password", "client_id": "pwd", "username": "ann@ca.test", "password": "ann-password", "scope": "admin read"}'::jsonb || jsonb_build_object('client_secret', :'pwd_secret'));
SELECT public.seen_last('access_token') AS ann_admin \gset
SELECT status FROM public.tok('clients-a', '{"grant_type": "password", "client_id": "pwd", "username": "ann@ca.test", "password": "ann-password", "scope": "read"}'::jsonb || jsonb_build_object('client_secret', :'pwd_secret'));
SELECT public.seen_last('access_token') AS ann_read \gset
SELECT status FROM public.tok('clients-a', '{"grant_type": "password", "client_id": "pwd", "username": "uwe@ca.test", "password": "uwe-password"}'::jsonb || jsonb_build_object('client_secret', :'pwd_secret'));
SELECT public.seen_last('access_token') AS uwe \gset
\c - bf_test_app
\set VERBOSITY terse
-- No context.
SELECT oauth.list_clients();
SELECT count(*) AS visible_clients FROM oauth.clients;
-- An admin with the admin scope: manages, and sees only her tenant's rows (RLS), never the digests.
BEGIN;
SELECT tenancy.authenticate(:'ann_admin');
SELECT public.mask_text(c->>'client_id') AS client_id FROM oauth.list_clients() c;
SELECT public.mask_text(client_id) AS client_id FROM oauth.clients ORDER BY builtin DESC, created_at, client_id;
SELECT count(*) AS other_tenants_rows FROM oauth.clients WHERE tenant_id <> :'ca';
SAVEPOINT s;
SELECT secret_hash FROM oauth.clients;
ROLLBACK TO s;
SELECT registration_token_hash FROM oauth.clients;
ROLLBACK TO s;
UPDATE oauth.clients SET builtin = false WHERE client_id = 'console';
ROLLBACK TO s;
INSERT INTO oauth.clients (tenant_id, client_id, client_name, grant_types, scope, token_endpoint_auth_method)
  VALUES (:'cb', 'planted', 'Planted', '{client_credentials}', 'read', 'none');
ROLLBACK TO s;
UPDATE oauth.clients SET client_name = 'Renamed' WHERE tenant_id = :'cb';
DELETE FROM oauth.clients WHERE tenant_id = :'cb';
SELECT oauth.get_client('console') ->> 'client_name' AS own_console;
COMMIT;
-- The same admin with a token without the admin scope; a plain user.
BEGIN;
SELECT tenancy.authenticate(:'ann_read');
SELECT oauth.list_clients();
ROLLBACK;
BEGIN;
SELECT tenancy.authenticate(:'uwe');
SELECT oauth.create_client('{"client_name": "Mine", "grant_types": ["client_credentials"]}');
ROLLBACK;
BEGIN;
SELECT tenancy.authenticate(:'uwe');
SELECT count(*) AS visible_clients FROM oauth.clients;
DELETE FROM oauth.clients;
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT count(*) AS clients_b_intact FROM oauth.clients WHERE tenant_id = :'cb';
-- A tenant's deletion takes its clients, the console one included.
SELECT tenant_id AS cz FROM tenancy.register_tenant('clients-z', 'Clients Z', 'owner@cz.test', 'owner-password') \gset
BEGIN;
SELECT tenancy.enter_tenant('clients-z') IS NOT NULL AS entered;
SELECT tenancy.delete_tenant(:'cz');
COMMIT;
SELECT count(*) AS clients_of_deleted_tenant FROM oauth.clients WHERE tenant_id = :'cz';
