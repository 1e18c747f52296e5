-- Users and roles: create within the tenant, email unique per tenant
-- (case-insensitive), role rules (user < admin < owner), one active owner
-- always, password policy, verification, paging.
\set VERBOSITY terse
-- A platform operator registers hooli on a larger plan (sign-up gets the default).
SELECT * FROM tenancy.register_tenant('hooli', 'Hooli', 'gavin@hooli.test', 'password123', 'premium') \gset
\c - bf_test_app
\set VERBOSITY terse
SELECT * FROM tenancy.register_tenant('piedpiper', 'Pied Piper', 'richard@piedpiper.test', 'password123') \gset pp_
-- Acting as the owner of hooli (what tenancy.authenticate(token) does later).
BEGIN;
SELECT tenancy._set_context(:'tenant_id', :'owner_id', 'owner', 'read write', NULL);
ROLLBACK;
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('hooli') IS NOT NULL;
SELECT email, role, status, display_name FROM tenancy.create_user('Jared@Hooli.test', 'password123', 'admin', ' Jared ');
SELECT email, role FROM tenancy.create_user('dinesh@hooli.test', 'password123');
SELECT email, role FROM tenancy.create_user('gilfoyle@hooli.test', 'password123', 'user', 'Gilfoyle');
COMMIT;
-- Email unique per tenant, case-insensitive; the same email in another tenant is fine.
BEGIN;
SELECT tenancy.enter_tenant('hooli') IS NOT NULL;
SELECT tenancy.create_user('JARED@hooli.TEST', 'password123');
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('piedpiper') IS NOT NULL;
SELECT email FROM tenancy.create_user('jared@hooli.test', 'password123');
COMMIT;
-- Bad input, each with a clear message.
BEGIN;
SELECT tenancy.enter_tenant('hooli') IS NOT NULL;
SAVEPOINT a;
SELECT tenancy.create_user('no-at-sign', 'password123');
ROLLBACK TO a;
SELECT tenancy.create_user('x@hooli.test', 'short');
ROLLBACK TO a;
SELECT tenancy.create_user('x@hooli.test', repeat('x', 73));
ROLLBACK TO a;
SELECT tenancy.create_user('x@hooli.test', repeat('ü', 37));
ROLLBACK TO a;
SELECT tenancy.create_user('x@hooli.test', 'password123', 'superuser');
ROLLBACK TO a;
SELECT count(*) AS exactly_72_bytes_ok FROM tenancy.create_user('x@hooli.test', repeat('x', 72));
ROLLBACK;
-- Paging in email order.
BEGIN;
SELECT tenancy.enter_tenant('hooli') IS NOT NULL;
SELECT email FROM tenancy.list_users(2);
SELECT email FROM tenancy.list_users(2, 'gavin@hooli.test');
SELECT email FROM tenancy.list_users(2, 'jared@hooli.test');
COMMIT;
-- The largest page (page_max = 200) still says whether another follows:
-- GET /api/v1/users asks for one more row than its page.
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('hooli') IS NOT NULL;
INSERT INTO tenancy.users (tenant_id, email, password_hash)
SELECT tenancy.current_tenant_id(), format('bulk%s@hooli.test', lpad(g::text, 3, '0')),
       (SELECT password_hash FROM tenancy.users WHERE tenant_id = tenancy.current_tenant_id() LIMIT 1)
  FROM generate_series(1, 200) g;
SELECT count(*) AS capped FROM tenancy.list_users(500);
SELECT jsonb_array_length(b->'users') AS page, b->>'next_cursor' IS NOT NULL AS has_next,
       jsonb_array_length(b2->'users') AS rest, b2->>'next_cursor' IS NULL AS last
  FROM (SELECT (api.h_users_list(ROW('GET', '/api/v1/users', '{"limit": "200"}', '{}', NULL, NULL, tenancy.current_tenant_id(),
                                    'hooli', NULL, NULL, NULL)::api.request)).body::jsonb AS b) p,
       LATERAL (SELECT (api.h_users_list(ROW('GET', '/api/v1/users', jsonb_build_object('limit', '200', 'cursor', p.b->>'next_cursor'), '{}',
                                             NULL, NULL, tenancy.current_tenant_id(), 'hooli', NULL, NULL, NULL)::api.request)).body::jsonb AS b2) q;
ROLLBACK;
-- Password verification: the right password, a wrong one, an unknown email,
-- another tenant's user; case-insensitive email.
\c - bf_test_gw
\set VERBOSITY terse
BEGIN;
SELECT tenant_id IS NOT NULL FROM tenancy.resolve_tenant('hooli.localhost', '/', '{}');
SELECT tenancy.verify_password('DINESH@hooli.test', 'password123') IS NOT NULL AS good;
SELECT tenancy.verify_password('dinesh@hooli.test', 'password124') IS NULL AS wrong;
SELECT tenancy.verify_password('nobody@hooli.test', 'password123') IS NULL AS unknown;
SELECT tenancy.verify_password('richard@piedpiper.test', 'password123') IS NULL AS other_tenant;
COMMIT;
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.verify_password('dinesh@hooli.test', 'password123');
-- Role rules, as the users themselves (context as tenancy.authenticate sets it).
\c - postgres
\set VERBOSITY terse
CREATE FUNCTION pg_temp.act_as(p_email text) RETURNS text LANGUAGE sql AS $$
  SELECT tenancy._set_context(u.tenant_id, u.id, u.role, 'read write profile', NULL)::text || u.role
    FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id
   WHERE t.slug = 'hooli' AND u.email = p_email $$;
SELECT id AS dinesh FROM tenancy.users WHERE email = 'dinesh@hooli.test' \gset
SELECT id AS gilfoyle FROM tenancy.users WHERE email = 'gilfoyle@hooli.test' \gset
SELECT id AS jared FROM tenancy.users WHERE email = 'Jared@Hooli.test' \gset
SELECT id AS gavin FROM tenancy.users WHERE email = 'gavin@hooli.test' \gset
-- The role switch below keeps the superuser's session, so run the checks as backend_app.
BEGIN;
SELECT pg_temp.act_as('dinesh@hooli.test');
SET LOCAL ROLE backend_app;
SELECT email FROM tenancy.user_info ORDER BY email;                       -- a user sees only themself
SELECT display_name FROM tenancy.update_user(:'dinesh', 'Dinesh C');      -- and edits their own name
SAVEPOINT a;
SELECT tenancy.update_user(:'dinesh', NULL, 'admin');               -- but not their role
ROLLBACK TO a;
SELECT tenancy.update_user(:'gilfoyle', 'Hacked');                        -- nor another user
ROLLBACK TO a;
SELECT tenancy.create_user('new@hooli.test', 'password123');              -- nor create users
ROLLBACK TO a;
UPDATE tenancy.users SET role = 'owner' WHERE id = :'dinesh';             -- not by plain SQL either
ROLLBACK;
BEGIN;
SELECT pg_temp.act_as('Jared@Hooli.test');
SET LOCAL ROLE backend_app;
SELECT count(*) AS admin_sees_all FROM tenancy.user_info;
SELECT role FROM tenancy.update_user(:'dinesh', NULL, 'admin');     -- admins grant admin
SELECT status FROM tenancy.update_user(:'gilfoyle', NULL, NULL, 'disabled');
SAVEPOINT a;
SELECT tenancy.update_user(:'dinesh', NULL, 'owner');               -- not owner
ROLLBACK TO a;
SELECT tenancy.update_user(:'gavin', NULL, 'user');                 -- nor demote an owner
ROLLBACK TO a;
SELECT tenancy.delete_user(:'gavin');                                     -- nor delete one
ROLLBACK TO a;
SELECT tenancy.delete_user(:'jared');                                     -- nor themself
ROLLBACK TO a;
SELECT tenancy.create_user('boss2@hooli.test', 'password123', 'owner');   -- nor create an owner
ROLLBACK TO a;
SELECT tenancy.delete_user(:'gilfoyle');
COMMIT;
BEGIN;
SELECT pg_temp.act_as('gavin@hooli.test');
SET LOCAL ROLE backend_app;
SAVEPOINT a;
SELECT tenancy.update_user(:'gavin', NULL, 'admin');                -- the last owner stays
ROLLBACK TO a;
SELECT tenancy.update_user(:'gavin', NULL, NULL, 'disabled');       -- and stays active
ROLLBACK TO a;
SELECT role FROM tenancy.update_user(:'jared', NULL, 'owner');      -- owners grant owner
SELECT role FROM tenancy.update_user(:'gavin', NULL, 'admin');      -- now gavin may step down
COMMIT;
SELECT email, role, status FROM tenancy.users WHERE tenant_id = :'tenant_id' ORDER BY email;
-- A new password (the user's own, with the current one: see also
-- credentials.sql) is hashed and checked against the policy; the hash is
-- never written by plain SQL.
BEGIN;
SELECT pg_temp.act_as('dinesh@hooli.test');
SET LOCAL ROLE backend_app;
SELECT changed FROM tenancy.change_credentials('password123', 'a much better password');
SAVEPOINT a;
SELECT tenancy.change_credentials('a much better password', 'short');
ROLLBACK TO a;
UPDATE tenancy.users SET password_hash = 'plain text' WHERE id = :'dinesh';
ROLLBACK TO a;
COMMIT;
BEGIN;
SELECT tenancy.resolve_tenant('hooli.localhost', '/', '{}') IS NOT NULL;
SELECT tenancy.verify_password('dinesh@hooli.test', 'a much better password') = :'dinesh' AS new_password_works;
COMMIT;
