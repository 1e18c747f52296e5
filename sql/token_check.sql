-- The bearer token check of api.handle_request in C (token.c, issue 11 item 2)
-- against tenancy.authenticate, the one check of SQL callers: the same answer
-- for every case. pg_temp.both(token, tenant) shows the HTTP answer of
-- GET /api/v1/me and what tenancy.authenticate says of the same token.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.req(p_tenant text, p_authorization text, p_path text DEFAULT '/api/v1/me')
RETURNS TABLE(status integer, error text, description text, context text) LANGUAGE sql AS $$
  SELECT h.status, j ->> 'error', j ->> 'error_description',
         CASE WHEN h.status = 200 AND p_path = '/api/v1/me' THEN (j -> 'tenant' ->> 'slug') || ' ' || coalesce(j ->> 'role', '-') || ' / ' || (j ->> 'scope') END
    FROM api.handle_request('GET', p_path, '', jsonb_build_object('host', 'localhost', 'x-tenant', p_tenant, 'authorization', p_authorization),
                            NULL, '192.0.2.1') h,
         LATERAL (SELECT h.body::jsonb) x(j)
$$;
CREATE FUNCTION pg_temp.sql_check(p_token text, p_tenant text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF p_tenant IS NOT NULL THEN PERFORM tenancy.enter_tenant(p_tenant); END IF;
  PERFORM tenancy.authenticate(p_token);
  RETURN 'ok: ' || current_setting('backend_framework.user_role') || ' / ' || current_setting('backend_framework.scopes');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.issue(p_tenant text, p_email text, p_scope text, p_ttl int DEFAULT 3600) RETURNS text LANGUAGE sql AS $$
  SELECT oauth._issue(t.id, 'console', (SELECT u.id FROM tenancy.users u WHERE u.tenant_id = t.id AND u.email = p_email),
                      p_scope, gen_random_uuid(), p_ttl, NULL) ->> 'access_token'
    FROM tenancy.tenants t WHERE t.slug = p_tenant
$$;
SELECT tenant_id AS ta FROM tenancy.register_tenant('tok-a', 'Tok A', 'owner@tok-a.test', 'password123') \gset
SELECT tenant_id AS tb FROM tenancy.register_tenant('tok-b', 'Tok B', 'owner@tok-b.test', 'password123') \gset
BEGIN;
SELECT tenancy.enter_tenant('tok-a') IS NOT NULL;
SELECT count(*) FROM tenancy.create_user('user@tok-a.test', 'password123', 'user');
COMMIT;
SELECT pg_temp.issue('tok-a', 'owner@tok-a.test', 'admin profile read') AS owner_tok \gset
SELECT pg_temp.issue('tok-a', 'user@tok-a.test', 'admin profile read') AS user_tok \gset
SELECT pg_temp.issue('tok-b', 'owner@tok-b.test', 'profile read') AS b_tok \gset
-- 1. A valid token: 200, the context is the token's; a user's token loses
--    "admin" unless the user is an admin or owner (now).
SELECT * FROM pg_temp.req('tok-a', 'Bearer ' || :'owner_tok');
SELECT * FROM pg_temp.req('tok-a', 'bearer   ' || :'user_tok' || '  ');
SELECT pg_temp.sql_check(:'owner_tok', 'tok-a') AS owner, pg_temp.sql_check(:'user_tok', NULL) AS "user";
SELECT status, error FROM api.handle_request('POST', '/api/v1/users', '', jsonb_build_object('host', 'localhost', 'x-tenant', 'tok-a',
  'authorization', 'Bearer ' || :'user_tok', 'content-type', 'application/json'), convert_to('{}', 'UTF8'), '192.0.2.1') h,
  LATERAL (SELECT h.body::jsonb ->> 'error') x(error);
-- 2. Another tenant's token, an unknown one, a malformed one.
SELECT * FROM pg_temp.req('tok-a', 'Bearer ' || :'b_tok');
SELECT pg_temp.sql_check(:'b_tok', 'tok-a');
SELECT * FROM pg_temp.req('tok-a', 'Bearer bfat_' || repeat('x', 43));
SELECT pg_temp.sql_check('bfat_' || repeat('x', 43), 'tok-a');
SELECT * FROM pg_temp.req('tok-a', 'Bearer bfat_short');
SELECT * FROM pg_temp.req('tok-a', 'Basic ' || :'owner_tok');
SELECT * FROM pg_temp.req('tok-a', NULL);
-- 3. In the query string: refused, even when valid.
SELECT status, error, description FROM api.handle_request('GET', '/api/v1/me', 'access_token=' || :'owner_tok',
  jsonb_build_object('host', 'localhost', 'x-tenant', 'tok-a', 'authorization', 'Bearer ' || :'owner_tok'), NULL, '192.0.2.1') h,
  LATERAL (SELECT h.body::jsonb ->> 'error', h.body::jsonb ->> 'error_description') x(error, description);
-- 4. Expired, revoked: refused at once.
SELECT pg_temp.issue('tok-a', 'owner@tok-a.test', 'profile read', 1) AS short_tok \gset
UPDATE oauth.tokens SET expires_at = now() - interval '1 second' WHERE token_hash = oauth.token_digest(:'short_tok');
SELECT * FROM pg_temp.req('tok-a', 'Bearer ' || :'short_tok');
SELECT pg_temp.sql_check(:'short_tok', 'tok-a');
UPDATE oauth.tokens SET revoked_at = now() WHERE token_hash = oauth.token_digest(:'user_tok');
SELECT * FROM pg_temp.req('tok-a', 'Bearer ' || :'user_tok');
SELECT pg_temp.sql_check(:'user_tok', 'tok-a');
-- 5. A disabled user, a suspended tenant (the token's tenant, with no tenant in the request too).
SELECT pg_temp.issue('tok-a', 'user@tok-a.test', 'profile read') AS user_tok2 \gset
SET session_replication_role = replica;
UPDATE tenancy.users SET status = 'disabled' WHERE email = 'user@tok-a.test';
SET session_replication_role = DEFAULT;
SELECT * FROM pg_temp.req('tok-a', 'Bearer ' || :'user_tok2');
SELECT pg_temp.sql_check(:'user_tok2', 'tok-a');
SELECT tenancy.suspend_tenant(:'tb');
SELECT * FROM pg_temp.req('tok-b', 'Bearer ' || :'b_tok');
SELECT pg_temp.sql_check(:'b_tok', NULL);
SELECT tenancy.activate_tenant(:'tb');
SELECT status FROM pg_temp.req('tok-b', 'Bearer ' || :'b_tok');
SELECT tenancy.delete_tenant(:'ta'), tenancy.delete_tenant(:'tb');
