-- Credentials (issue 10 item 5): nobody sets another user's password or
-- e-mail; users change their own with the current password (throttled);
-- admins only reset (the secret goes to the mail sender, never to them)
-- or disable, and never an owner; a change or reset ends every sign-in.
\i sql/oauth_helpers.psql
SET backend_framework.bcrypt_cost = 4;
SELECT tenant_id AS ct, owner_id AS owner FROM tenancy.register_tenant('creds', 'Creds', 'owner@cr.test', 'owner-password') \gset
BEGIN;
SELECT tenancy.enter_tenant('creds') IS NOT NULL AS entered;
SELECT id AS admin FROM tenancy.create_user('admin@cr.test', 'admin-password', 'admin') \gset
SELECT id AS usr FROM tenancy.create_user('user@cr.test', 'user-password') \gset
SELECT public.seen(oauth.create_client('{"client_id": "app", "client_name": "App", "grant_types": ["password", "refresh_token"], "scope": "read write profile admin"}')) ->> 'client_id' AS client;
SELECT public.seen_last('client_secret') AS app_secret \gset
COMMIT;
CREATE FUNCTION pg_temp.act_as(p_email text) RETURNS text LANGUAGE sql AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'admin read write profile', 'app')::text || u.role
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id
   WHERE t.slug = 'creds' AND u.email = p_email $$;
-- The attack: an admin sets the owner's password. Not through update_user
-- (no password parameter any more), not by plain SQL (no privilege).
BEGIN;
SELECT pg_temp.act_as('admin@cr.test');
SET LOCAL ROLE backend_app;
SAVEPOINT a;
SELECT tenancy.update_user(:'owner', p_password => 'taken-over!');
ROLLBACK TO a;
UPDATE tenancy.users SET password_hash = (SELECT password_hash FROM tenancy.users WHERE id = :'admin') WHERE id = :'owner';
ROLLBACK TO a;
UPDATE tenancy.users SET email = 'admin-owns@cr.test' WHERE id = :'owner';
ROLLBACK TO a;
-- Nor reset or disable the owner: only owners act on owners.
SELECT tenancy.reset_password(:'owner');
ROLLBACK TO a;
SELECT tenancy.update_user(:'owner', p_status => 'disabled');
ROLLBACK TO a;
-- change_credentials acts on the caller only (there is no user parameter).
SELECT * FROM tenancy.change_credentials('wrong', 'taken-over!');
ROLLBACK;
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT public.enter('creds');
SELECT tenancy.verify_password('owner@cr.test', 'owner-password') = :'owner' AS owner_password_still_works;
COMMIT;

-- Sign-ins of the user, to be ended by a password change: a refresh-token
-- family (password grant) and a login session.
SELECT status FROM public.tok('creds', '{"grant_type": "password", "username": "user@cr.test", "password": "user-password"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS u_at, public.seen_last('refresh_token') AS u_rt \gset
\c - postgres
\set VERBOSITY terse
INSERT INTO oauth.login_sessions (tenant_id, session_hash, user_id, expires_at)
VALUES (:'ct', oauth.token_digest('bfss_' || repeat('U', 43)), :'usr', now() + interval '1 hour');
\c - bf_test_app
\set VERBOSITY terse
-- The user changes their own password: wrong current password → not changed
-- (not an error, so the failure is counted); right one → changed.
BEGIN;
SELECT tenancy.authenticate(:'u_at');
SELECT * FROM tenancy.change_credentials('not-my-password', 'user-password-2', NULL, '198.51.100.7');
SAVEPOINT a;
SELECT * FROM tenancy.change_credentials(NULL, 'user-password-2');
ROLLBACK TO a;
SELECT * FROM tenancy.change_credentials('user-password', 'short');
ROLLBACK TO a;
SELECT * FROM tenancy.change_credentials('user-password', NULL, 'not-an-email');
ROLLBACK TO a;
SELECT * FROM tenancy.change_credentials('user-password', NULL, 'ADMIN@cr.test');
ROLLBACK TO a;
SELECT * FROM tenancy.change_credentials('user-password', 'user-password-2', 'user2@cr.test', '198.51.100.7');
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT kind, key FROM oauth.login_attempts WHERE tenant_id = :'ct' ORDER BY 1, 2;
SELECT email FROM tenancy.users WHERE id = :'usr';
-- Everything of the old sign-in is gone: tokens revoked, session deleted.
SELECT kind, revoked_at IS NOT NULL AS revoked FROM oauth.tokens WHERE tenant_id = :'ct' AND user_id = :'usr' ORDER BY kind;
SELECT count(*) AS sessions FROM oauth.login_sessions WHERE tenant_id = :'ct' AND user_id = :'usr';
\c - bf_test_gw
\set VERBOSITY terse
SELECT status, body->>'error' AS error FROM public.tok('creds', jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'u_rt'), public.basic('app', :'app_secret'));
SELECT tenancy.authenticate(:'u_at');
BEGIN;
SELECT public.enter('creds');
SELECT tenancy.verify_password('user2@cr.test', 'user-password-2') = :'usr' AS new_password_works;
COMMIT;

-- Throttling: five wrong current passwords from one address, then the
-- sixth attempt is not even checked (retry_after > 0), the right password included.
SELECT status FROM public.tok('creds', '{"grant_type": "password", "username": "user2@cr.test", "password": "user-password-2"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS u_at2 \gset
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'u_at2');
SELECT i, changed, retry_after FROM generate_series(1, 5) i, LATERAL tenancy.change_credentials('wrong-' || i, 'user-password-3', NULL, '203.0.113.9') c;
SELECT changed, retry_after > 0 AS throttled FROM tenancy.change_credentials('user-password-2', 'user-password-3', NULL, '203.0.113.9');
COMMIT;
\c - postgres
\set VERBOSITY terse
SELECT kind, failures FROM oauth.login_attempts WHERE tenant_id = :'ct' ORDER BY kind;
DELETE FROM oauth.login_attempts WHERE tenant_id = :'ct';

-- Resets: an admin resets a user; the admin gets no secret, the old
-- password stops working and every sign-in ends.
\c - bf_test_gw
\set VERBOSITY terse
SELECT status FROM public.tok('creds', '{"grant_type": "password", "username": "user2@cr.test", "password": "user-password-2"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS u_at3, public.seen_last('refresh_token') AS u_rt3 \gset
\c - bf_test_app
\set VERBOSITY terse
BEGIN;
SELECT tenancy.authenticate(:'u_at3');
SAVEPOINT a;
SELECT tenancy.reset_password(:'usr');                     -- a user cannot
ROLLBACK;
\c - postgres
\set VERBOSITY terse
CREATE FUNCTION pg_temp.act_as(p_email text) RETURNS text LANGUAGE sql AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'admin read write profile', 'app')::text || u.role
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id
   WHERE t.slug = 'creds' AND u.email = p_email $$;
BEGIN;
SELECT pg_temp.act_as('admin@cr.test');
SET LOCAL ROLE backend_app;
SELECT tenancy.reset_password(:'usr') IS NOT NULL AS reset_queued;
SAVEPOINT a;
SELECT count(*) AS admin_reads_resets FROM tenancy.password_resets;
ROLLBACK TO a;
COMMIT;
SELECT requested_by = :'admin' AS by_admin, token_hash IS NULL AS pending FROM tenancy.password_resets WHERE user_id = :'usr';
SELECT kind, revoked_at IS NOT NULL AS revoked FROM oauth.tokens WHERE tenant_id = :'ct' AND user_id = :'usr' AND token_hash = oauth.token_digest(:'u_rt3');
BEGIN;
SELECT public.enter('creds');
SELECT tenancy.verify_password('user2@cr.test', 'user-password-2') IS NULL AS old_password_dead;
COMMIT;
-- Only platform operators (the mail sender) take the secret.
\c - bf_test_app
\set VERBOSITY terse
SELECT * FROM tenancy.take_password_reset_mail();
\c - bf_test_admin
\set VERBOSITY terse
SELECT tenant_slug, email, public.seen(jsonb_build_object('reset_token', reset_token))->>'reset_token' AS token
  FROM tenancy.take_password_reset_mail();
SELECT public.seen_last('reset_token') AS reset_token \gset
SELECT count(*) AS taken_once FROM tenancy.take_password_reset_mail();
-- The user redeems it (anonymously, tenant from the request), once.
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT public.enter('creds');
SAVEPOINT a;
SELECT tenancy.redeem_password_reset(:'reset_token', 'short');
ROLLBACK TO a;
SELECT tenancy.redeem_password_reset('bfpr_' || repeat('x', 43), 'user-password-4');
ROLLBACK TO a;
SELECT tenancy.redeem_password_reset('not a secret', 'user-password-4');
ROLLBACK TO a;
SELECT tenancy.redeem_password_reset(NULL, 'user-password-4');
ROLLBACK TO a;
SELECT tenancy.redeem_password_reset(:'reset_token', 'user-password-4');
SELECT tenancy.verify_password('user2@cr.test', 'user-password-4') = :'usr' AS redeemed;
SAVEPOINT b;
SELECT tenancy.redeem_password_reset(:'reset_token', 'user-password-5');
ROLLBACK TO b;
COMMIT;

-- Owners may reset an owner; disabling a user ends their sign-ins too.
\c - postgres
\set VERBOSITY terse
SELECT status FROM public.tok('creds', '{"grant_type": "password", "username": "admin@cr.test", "password": "admin-password"}', public.basic('app', :'app_secret'));
SELECT public.seen_last('access_token') AS a_at \gset
CREATE FUNCTION pg_temp.act_as(p_email text) RETURNS text LANGUAGE sql AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'admin read write profile', 'app')::text || u.role
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id
   WHERE t.slug = 'creds' AND u.email = p_email $$;
BEGIN;
SELECT pg_temp.act_as('owner@cr.test');
SET LOCAL ROLE backend_app;
SELECT status FROM tenancy.update_user(:'admin', p_status => 'disabled');
SELECT status FROM tenancy.update_user(:'admin', p_status => 'active');
COMMIT;
BEGIN;
SELECT pg_temp.act_as('owner@cr.test');
SET LOCAL ROLE backend_app;
SELECT tenancy.reset_password(:'owner') IS NOT NULL AS owner_resets_owner;
ROLLBACK;
SELECT revoked_at IS NOT NULL AS admin_token_revoked_by_disable FROM oauth.tokens WHERE token_hash = oauth.token_digest(:'a_at');
