-- make bench BENCH_GROWTH=1: the growth scenario of issue 11. Generates
-- 10,000 tenants, 1,000,000 users and 10,000,000 access tokens (times
-- :scale, e.g. BENCH_GROWTH_SCALE=0.01 for a quick run) around the demo
-- tenant, so /me and introspection are measured against a big database.
-- Rows are written directly as the superuser (no bcrypt, no triggers): one
-- password hash for every user, tokens with random digests that no client
-- holds. Run by scripts/bench.sh after scripts/demo.sh.
\set ON_ERROR_STOP 1
SET session_replication_role = replica;   -- generated rows are consistent; skip the triggers
SELECT greatest(1, (10000 * :scale)::int) AS nt, 100 AS upt, crypt('growth-password', gen_salt('bf', 4)) AS pw \gset
-- Tenants, each with its console client.
INSERT INTO tenancy.tenants (id, slug, name)
SELECT gen_random_uuid(), 'growth-' || g, 'Growth ' || g FROM generate_series(1, :nt) g;
INSERT INTO oauth.clients (tenant_id, client_id, client_name, scope, builtin, token_endpoint_auth_method)
SELECT t.id, 'console', 'Console', 'admin profile read write', true, 'none' FROM tenancy.tenants t WHERE t.slug LIKE 'growth-%';
-- 100 users per tenant (1,000,000 at scale 1), one bcrypt hash for all.
INSERT INTO tenancy.users (tenant_id, id, email, password_hash, role)
SELECT t.id, gen_random_uuid(), 'u' || g || '@' || t.slug || '.test',
       :'pw', 'user'
  FROM tenancy.tenants t, generate_series(1, :upt) g WHERE t.slug LIKE 'growth-%';
-- 10 access tokens per user (10,000,000 at scale 1), valid for a day.
INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, user_id, scope, expires_at)
SELECT u.tenant_id, sha256(convert_to(gen_random_uuid()::text || g, 'UTF8')), 'access', 'console', u.id, 'read',
       now() + interval '1 day'
  FROM tenancy.users u JOIN tenancy.tenants t ON t.id = u.tenant_id AND t.slug LIKE 'growth-%', generate_series(1, 10) g;
RESET session_replication_role;
ANALYZE;
SELECT (SELECT count(*) FROM tenancy.tenants) AS tenants, (SELECT count(*) FROM tenancy.users) AS users,
       (SELECT count(*) FROM oauth.tokens) AS tokens;
