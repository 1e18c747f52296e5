-- Bearer authentication of SQL clients: tenancy.authenticate(access_token)
-- with good, malformed, unknown, expired, revoked and foreign tokens, then
-- row-level security doing the right thing with the context it set; the
-- first token of a newly registered tenant's owner.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS na, owner_id AS na_owner FROM tenancy.register_tenant('authn-a', 'Authn A', 'owner@na.test', 'owner-password') \gset
SELECT tenant_id AS nb FROM tenancy.register_tenant('authn-b', 'Authn B', 'owner@nb.test', 'owner-password') \gset
BEGIN;
SELECT tenancy.enter_tenant('authn-a') IS NOT NULL AS entered;
SELECT id AS na_user FROM tenancy.create_user('ursula@na.test', 'ursula-password', 'user', 'Ursula') \gset
SELECT id AS na_admin FROM tenancy.create_user('arno@na.test', 'arno-password', 'admin', 'Arno') \gset
SELECT public.seen(oauth.create_client('{"client_id": "cli", "client_name": "CLI", "grant_types": ["password", "refresh_token"], "token_endpoint_auth_method": "client_secret_post", "scope": "read write profile admin"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS cli_a_secret \gset
SELECT public.seen(oauth.create_client('{"client_id": "job", "client_name": "Nightly job", "grant_types": ["client_credentials"], "scope": "read"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS job_secret \gset
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('authn-b') IS NOT NULL AS entered;
SELECT public.seen(oauth.create_client('{"client_id": "cli", "client_name": "CLI", "grant_types": ["password"], "token_endpoint_auth_method": "client_secret_post", "scope": "read write profile admin"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS cli_b_secret \gset
COMMIT;
-- An application table, as a user of the framework makes one.
CREATE TABLE public.authn_notes (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, owner uuid, body text NOT NULL,
                                 PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.authn_notes');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.authn_notes TO backend_app;
INSERT INTO public.authn_notes (tenant_id, owner, body) VALUES
  (:'na', :'na_user', 'a: ursula''s note'), (:'na', :'na_admin', 'a: arno''s note'), (:'nb', NULL, 'b: secret plans');

\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('authn-a', '{"grant_type": "password", "client_id": "cli", "username": "ursula@na.test", "password": "ursula-password"}'::jsonb || jsonb_build_object('client_secret', :'cli_a_secret'));
SELECT public.seen_last('access_token') AS ursula, public.seen_last('refresh_token') AS ursula_rt \gset
SELECT status FROM public.tok('authn-a', '{"grant_type": "password", "client_id": "cli", "username": "arno@na.test", "password": "arno-password"}'::jsonb || jsonb_build_object('client_secret', :'cli_a_secret'));
SELECT public.seen_last('access_token') AS arno \gset
SELECT status FROM public.tok('authn-a', '{"grant_type": "password", "client_id": "cli", "username": "arno@na.test", "password": "arno-password"}'::jsonb || jsonb_build_object('client_secret', :'cli_a_secret'));
SELECT public.seen_last('access_token') AS arno2 \gset
SELECT status FROM public.tok('authn-a', '{"grant_type": "client_credentials"}', public.basic('job', :'job_secret'));
SELECT public.seen_last('access_token') AS job \gset
SELECT status FROM public.tok('authn-b', '{"grant_type": "password", "client_id": "cli", "username": "owner@nb.test", "password": "owner-password"}'::jsonb || jsonb_build_object('client_secret', :'cli_b_secret'));
SELECT public.seen_last('access_token') AS b_owner \gset

\c - bf_test_app
\set VERBOSITY terse
-- A good token: the context for the rest of the transaction, and RLS follows it.
BEGIN;
SELECT tenancy.authenticate(:'ursula');
SELECT tenancy.current_tenant_id() = :'na' AS tenant_ok, tenancy.current_user_id() = :'na_user' AS user_ok,
       tenancy.current_user_role() AS role, current_setting('backend_framework.scopes') AS scopes, tenancy.current_client_id() AS client;
SELECT body FROM public.authn_notes ORDER BY id;
SELECT email FROM tenancy.user_info ORDER BY email;
SELECT count(*) AS b_rows_by_id FROM public.authn_notes WHERE tenant_id = :'nb';
INSERT INTO public.authn_notes (owner, body) VALUES (tenancy.current_user_id(), 'a: written by ursula') RETURNING tenant_id = :'na' AS lands_in_a;
SAVEPOINT s;
INSERT INTO public.authn_notes (tenant_id, body) VALUES (:'nb', 'forged into b');
ROLLBACK TO s;
COMMIT;
-- Gone after the transaction.
SELECT tenancy.current_tenant_id() AS tenant_after_commit, count(*) AS notes_visible FROM public.authn_notes;
-- An admin sees every user of the tenant; a client credentials token has no user and no role.
BEGIN;
SELECT tenancy.authenticate(:'arno');
SELECT email FROM tenancy.user_info ORDER BY email;
COMMIT;
BEGIN;
SELECT tenancy.authenticate(:'job');
SELECT tenancy.current_user_id() IS NULL AS no_user, tenancy.current_user_role() IS NULL AS no_role,
       current_setting('backend_framework.scopes') AS scopes, tenancy.current_client_id() AS client;
SELECT count(*) AS notes FROM public.authn_notes;
SELECT count(*) AS users FROM tenancy.user_info;
COMMIT;
-- Malformed, unknown and non-access tokens: 28000, and nothing is visible afterwards.
SELECT tenancy.authenticate(NULL);
SELECT tenancy.authenticate('');
SELECT tenancy.authenticate('Bearer ' || :'ursula');
SELECT tenancy.authenticate(:'ursula_rt');
SELECT tenancy.authenticate('bfat_' || repeat('A', 43));
SELECT tenancy.authenticate(:'job_secret');
BEGIN;
SELECT tenancy.authenticate('bfat_' || repeat('A', 43));
ROLLBACK;
SELECT count(*) AS notes_visible FROM public.authn_notes;
-- Another tenant's token: alone it is that tenant's context (only its rows)...
BEGIN;
SELECT tenancy.authenticate(:'b_owner');
SELECT body FROM public.authn_notes ORDER BY id;
-- ...but once a tenant is chosen, a token of another tenant is refused.
SELECT tenancy.authenticate(:'ursula');
ROLLBACK;
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT public.enter('authn-b');
SELECT tenancy.authenticate(:'ursula');
ROLLBACK;
BEGIN;
SELECT public.enter('authn-a');
SELECT tenancy.authenticate(:'ursula');
SELECT tenancy.current_user_id() = :'na_user' AS same_tenant_ok;
ROLLBACK;
-- Revoked (by the client, RFC 7009) and expired tokens.
SELECT * FROM public.t_revoke('authn-a', jsonb_build_object('token', :'arno2', 'client_id', 'cli', 'client_secret', :'cli_a_secret'));
\c - postgres
\set VERBOSITY terse
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE token_hash = oauth.token_digest(:'job');
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.authenticate(:'arno2');
SELECT tenancy.authenticate(:'job');
BEGIN;
SELECT tenancy.authenticate(:'job');
ROLLBACK;
SELECT count(*) AS notes_visible FROM public.authn_notes;
-- A demoted admin loses admin at once (the role is read at each authentication).
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('authn-a') IS NOT NULL AS entered;
SELECT role FROM tenancy.update_user(:'na_admin', p_role => 'user');
COMMIT;
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'arno');
SELECT tenancy.current_user_role() AS role, current_setting('backend_framework.scopes') AS scopes, tenancy.has_scope('admin') AS has_admin;
SELECT email FROM tenancy.user_info ORDER BY email;
COMMIT;
-- A disabled user, a suspended tenant.
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('authn-a') IS NOT NULL AS entered;
SELECT status FROM tenancy.update_user(:'na_user', p_status => 'disabled');
COMMIT;
SELECT tenancy.suspend_tenant(:'nb');
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.authenticate(:'ursula');
SELECT tenancy.authenticate(:'b_owner');
\c - postgres
\set VERBOSITY terse
SELECT tenancy.activate_tenant(:'nb');
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'b_owner');
SELECT tenancy.current_tenant_id() = :'nb' AS b_again;
COMMIT;
-- Nothing of the context can be forged around authenticate.
BEGIN;
SELECT tenancy.authenticate(:'b_owner');
SAVEPOINT s;
SET LOCAL backend_framework.tenant_id = :'na';
ROLLBACK TO s;
SELECT set_config('backend_framework.user_role', 'owner', true);
ROLLBACK TO s;
SELECT tenancy.current_tenant_id() = :'nb' AS still_b, tenancy.current_user_role() AS role;
ROLLBACK;

-- The first token of a tenant's owner, in the transaction that registers the tenant.
BEGIN;
SELECT tenant_id AS nc FROM tenancy.register_tenant('authn-c', 'Authn C', 'owner@nc.test', 'owner-password') \gset
SELECT public.seen(oauth.issue_first_token());
SELECT public.seen_last('access_token') AS nc_first \gset
COMMIT;
BEGIN;
SELECT tenancy.authenticate(:'nc_first');
SELECT tenancy.current_tenant_id() = :'nc' AS tenant_ok, tenancy.current_user_role() AS role, tenancy.current_client_id() AS client,
       current_setting('backend_framework.scopes') AS scopes;
-- Never for a user who already existed: no way to mint or prolong tokens.
SELECT oauth.issue_first_token();
ROLLBACK;
SELECT oauth.issue_first_token();
