-- Isolation attack suite (invariants 1 and 2): connected as backend_app and
-- as backend_gateway, no statement reads or writes another tenant's rows,
-- or any tenant row without a context, and nothing but the extension's own
-- entry points sets the context. Every attempt below fails or sees nothing.
\set VERBOSITY terse
SELECT tenant_id AS a FROM tenancy.register_tenant('alpha', 'Alpha', 'owner@alpha.test', 'password123') \gset
SELECT tenant_id AS b, owner_id AS b_owner FROM tenancy.register_tenant('beta', 'Beta', 'owner@beta.test', 'password123') \gset
CREATE TABLE public.secrets (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, body text NOT NULL,
                             PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.secrets');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.secrets TO backend_app, backend_gateway;
INSERT INTO public.secrets (tenant_id, body) VALUES (:'a', '42'), (:'b', 'beta-secret-value');
-- Stand-in for tenancy.authenticate(access_token) (OAuth suite): signs in as
-- the owner of a tenant. Created by the superuser for this test only.
CREATE FUNCTION public.test_sign_in(p_slug text) RETURNS void LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'read write profile admin', NULL)
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id WHERE t.slug = p_slug AND u.role = 'owner' $$;
GRANT EXECUTE ON FUNCTION public.test_sign_in(text) TO bf_test_app;

\c - bf_test_app
\set VERBOSITY terse
-- 1-3. No context: nothing visible.
SELECT count(*) AS "1_tenants" FROM tenancy.tenants;
SELECT count(*) AS "2_users" FROM tenancy.user_info;
SELECT count(*) AS "3_secrets" FROM public.secrets;
-- 4-11. Setting the context by hand.
SET backend_framework.tenant_id = :'b';
SET LOCAL backend_framework.tenant_id = :'b';
SELECT set_config('backend_framework.tenant_id', :'b', false);
SELECT set_config('backend_framework.user_role', 'owner', true);
RESET backend_framework.tenant_id;
ALTER ROLE bf_test_app SET backend_framework.tenant_id = '00000000-0000-0000-0000-000000000000';
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET backend_framework.user_role = 'owner';
SET backend_framework.tenant_id_ = 'x';
-- 12-16. Calling the extension's internal or privileged entry points.
SELECT tenancy._set_context(:'b', :'b_owner', 'owner', 'admin', NULL);
SELECT tenancy.enter_tenant('beta');
SELECT * FROM tenancy.resolve_tenant('beta.localhost', '/', '{}');
SELECT * FROM tenancy._find_tenant('beta', true);
SELECT tenancy.count_api_call(:'b');
SELECT tenancy.measure_storage(:'b');
SELECT tenancy.suspend_tenant(:'b');
SELECT tenancy.verify_password('owner@beta.test', 'password123');
-- 17-18. Shadowing functions and operators the extension uses.
CREATE FUNCTION public.current_tenant_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid';
CREATE FUNCTION pg_temp.current_tenant_id() RETURNS uuid LANGUAGE sql AS $$ SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid $$;
CREATE FUNCTION pg_temp.always(uuid, uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR pg_temp.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = pg_temp.always);
SET search_path = pg_temp, tenancy, public;
SELECT count(*) AS "17_secrets_with_shadows" FROM public.secrets;
SELECT count(*) AS "18_users_with_shadows" FROM tenancy.user_info;
RESET search_path;
-- 19-33. With tenant alpha's context (signed in as its owner).
BEGIN;
SELECT public.test_sign_in('alpha');
SELECT body AS "19_only_alpha" FROM public.secrets;
SELECT count(*) AS "20_where_b" FROM public.secrets WHERE tenant_id = :'b';
SAVEPOINT s;
INSERT INTO public.secrets (tenant_id, body) VALUES (:'b', 'forged');                  -- 21
ROLLBACK TO s;
UPDATE public.secrets SET tenant_id = :'b';                                            -- 22
ROLLBACK TO s;
WITH moved AS (UPDATE public.secrets SET tenant_id = :'b' RETURNING 1) SELECT count(*) FROM moved;  -- 23
ROLLBACK TO s;
INSERT INTO public.secrets (tenant_id, id, body) OVERRIDING SYSTEM VALUE VALUES (:'b', 2, 'x')
  ON CONFLICT (tenant_id, id) DO UPDATE SET body = 'overwritten';                       -- 24
ROLLBACK TO s;
UPDATE public.secrets SET body = 'defaced' WHERE tenant_id = :'b';                     -- 25: 0 rows
DELETE FROM public.secrets WHERE tenant_id = :'b';                                     -- 26: 0 rows
SELECT count(*) AS "27_join" FROM public.secrets s JOIN tenancy.tenants t ON t.id = s.tenant_id WHERE t.slug = 'beta';
CREATE TEMP VIEW all_secrets AS SELECT * FROM public.secrets;
SELECT count(*) AS "28_view" FROM all_secrets;
CREATE FUNCTION pg_temp.peek() RETURNS SETOF text LANGUAGE sql AS 'SELECT body FROM public.secrets';
SELECT pg_temp.peek() AS "29_function";
SELECT count(*) AS "30_error_channel" FROM public.secrets WHERE body::int > 0;  -- beta's text never reaches the cast
INSERT INTO tenancy.users (tenant_id, email, password_hash) VALUES (:'b', 'mole@beta.test', '$2a$10$abcdefghijklmnopqrstuu5wrzkqbSrMWRBDXOEVwjvAcE3xIWdAe');  -- 31
ROLLBACK TO s;
SELECT count(*) AS "32_tenants_visible" FROM tenancy.tenants;
SELECT tenancy.tenant_stats(:'b');                                                     -- 33
ROLLBACK TO s;
SELECT tenancy.update_tenant(:'b', 'Pwned');                                           -- 34
ROLLBACK TO s;
SELECT tenancy.delete_tenant(:'b');                                                    -- 35
ROLLBACK TO s;
SELECT tenancy.delete_user(:'b_owner');                                                -- 36
ROLLBACK TO s;
SELECT tenancy.reset_password(:'b_owner');                                            -- 37
ROLLBACK TO s;
SELECT count(*) AS "38_list_users_alpha_only" FROM tenancy.list_users(200) WHERE tenant_id <> :'a';
COPY public.secrets (tenant_id, body) FROM '/dev/null';                                -- 39
ROLLBACK TO s;
COPY (SELECT body FROM public.secrets) TO stdout;                                      -- 40
SELECT password_hash FROM tenancy.users;                                               -- 41
ROLLBACK TO s;
TRUNCATE public.secrets;                                                               -- 42
ROLLBACK TO s;
ALTER TABLE public.secrets DISABLE ROW LEVEL SECURITY;                                 -- 43
ROLLBACK TO s;
SAVEPOINT t;
SELECT public.test_sign_in('beta');
ROLLBACK TO SAVEPOINT t;                                                               -- 44: beta's context undone
SELECT tenancy.current_tenant_id() = :'a' AS "44_back_to_alpha";
RESET ALL;                                                                             -- 45: may only clear it (fail closed)
SELECT tenancy.current_tenant_id() IS NULL AS "45_cleared", count(*) AS "45_secrets_visible" FROM public.secrets;
COMMIT;
-- 46-48. The context does not outlive the transaction.
SELECT count(*) AS "46_after_commit" FROM public.secrets;
BEGIN;
SELECT public.test_sign_in('alpha');
ROLLBACK;
SELECT count(*) AS "47_after_rollback" FROM public.secrets;
DISCARD ALL;
SELECT tenancy.current_tenant_id() AS "48_after_discard";
-- 49-52. Changing who we are.
SET ROLE backend_admin;
SET ROLE backend_gateway;
SET SESSION AUTHORIZATION postgres;
SET ROLE postgres;
RESET ROLE;
SELECT current_user AS "52_still";
-- 53-55. Server-side escapes.
SELECT pg_read_file('postgresql.conf');
COPY public.secrets TO PROGRAM 'cat';
CREATE EXTENSION dblink;

\c - bf_test_gw
\set VERBOSITY terse
-- 56-63. The gateway: a resolved request sets the tenant only.
SELECT count(*) AS "56_no_context" FROM public.secrets;
SELECT tenancy._set_context(:'b', NULL, 'owner', NULL, NULL);
SELECT set_config('backend_framework.tenant_id', :'b', true);
BEGIN;
SELECT slug FROM tenancy.resolve_tenant('alpha.localhost', '/', '{}');
SELECT body AS "59_alpha_only" FROM public.secrets;
SELECT count(*) AS "60_users_need_a_user" FROM tenancy.user_info;
SELECT tenancy.tenant_stats(:'a');                                                     -- 61: not an admin
ROLLBACK;
SELECT * FROM tenancy.resolve_tenant('alpha.localhost', '/t/beta/', '{}');             -- 62: mixed strategies
SELECT tenancy.enter_tenant('beta');                                                   -- 63

-- 64-80. Signed in with real access tokens (tenancy.authenticate), as an
-- application does, instead of the stand-in test_sign_in.
\c - postgres
\i sql/oauth_helpers.psql
BEGIN;
SELECT tenancy.enter_tenant('alpha') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "iso-cli", "client_name": "Isolation CLI", "grant_types": ["password", "refresh_token"], "token_endpoint_auth_method": "client_secret_post", "scope": "read write profile admin"}')) ->> 'client_id' AS alpha_client;
SELECT public.seen_last('client_secret') AS alpha_secret \gset
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('beta') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "iso-cli", "client_name": "Isolation CLI", "grant_types": ["password"], "token_endpoint_auth_method": "client_secret_post", "scope": "read write profile admin"}')) ->> 'client_id' AS beta_client;
SELECT public.seen_last('client_secret') AS beta_secret \gset
COMMIT;
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('alpha', '{"grant_type": "password", "client_id": "iso-cli", "username": "owner@alpha.test", "password": "password123"}'::jsonb || jsonb_build_object('client_secret', :'alpha_secret'));
SELECT public.seen_last('access_token') AS alpha_token, public.seen_last('refresh_token') AS alpha_refresh \gset
SELECT status FROM public.tok('alpha', '{"grant_type": "password", "client_id": "iso-cli", "username": "owner@alpha.test", "password": "password123"}'::jsonb || jsonb_build_object('client_secret', :'alpha_secret'));
SELECT public.seen_last('access_token') AS alpha_token2 \gset
SELECT status FROM public.tok('beta', '{"grant_type": "password", "client_id": "iso-cli", "username": "owner@beta.test", "password": "password123"}'::jsonb || jsonb_build_object('client_secret', :'beta_secret'));
SELECT public.seen_last('access_token') AS beta_token \gset
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'alpha_token');                                           -- 64
SELECT body AS "65_only_alpha" FROM public.secrets;
SELECT count(*) AS "66_where_b" FROM public.secrets WHERE tenant_id = :'b';
SAVEPOINT s;
INSERT INTO public.secrets (tenant_id, body) VALUES (:'b', 'forged');                  -- 67
ROLLBACK TO s;
UPDATE public.secrets SET body = 'defaced' WHERE tenant_id = :'b';                     -- 68: 0 rows
DELETE FROM public.secrets WHERE tenant_id = :'b';                                     -- 69: 0 rows
SELECT tenancy.authenticate(:'beta_token');                                            -- 70: another tenant's token
ROLLBACK TO s;
SAVEPOINT t;
SELECT tenancy.authenticate(:'alpha_token2');                                          -- 71: same tenant, fine
ROLLBACK TO SAVEPOINT t;
SELECT tenancy.current_tenant_id() = :'a' AS "72_still_alpha";
COMMIT;
SELECT count(*) AS "73_after_commit" FROM public.secrets;
BEGIN;
SELECT tenancy.authenticate(:'beta_token');
SELECT body AS "74_only_beta" FROM public.secrets;
ROLLBACK;
SELECT tenancy.authenticate(left(:'alpha_token', 47) || CASE WHEN right(:'alpha_token', 1) = 'A' THEN 'B' ELSE 'A' END);  -- 75: tampered
SELECT tenancy.authenticate(:'alpha_refresh');                                         -- 76: a refresh token
SELECT tenancy.authenticate(NULL);                                                     -- 77
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.t_revoke('alpha', jsonb_build_object('token', :'alpha_token', 'client_id', 'iso-cli', 'client_secret', :'alpha_secret'));
\c - postgres
\set VERBOSITY terse
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE token_hash = oauth.token_digest(:'alpha_token2');
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.authenticate(:'alpha_token');                                           -- 78: revoked
SELECT tenancy.authenticate(:'alpha_token2');                                          -- 79: expired
SELECT count(*) AS "80_nothing_visible" FROM public.secrets;
