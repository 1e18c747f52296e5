-- Plan limits: users, API calls per month, storage; overrides per tenant.
\set VERBOSITY terse
SELECT name, max_users, max_api_calls_per_month, max_storage_bytes FROM tenancy.plans ORDER BY sort_order;
SELECT tenant_id AS cyber FROM tenancy.register_tenant('cyberdyne', 'Cyberdyne', 'miles@cyberdyne.test', 'password123') \gset
-- max_users of the free plan is 5 (the owner counts).
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
SELECT count(*) FROM generate_series(1, 4) g, tenancy.create_user('u' || g || '@cyberdyne.test', 'password123');
SELECT tenancy.create_user('u5@cyberdyne.test', 'password123');
ROLLBACK;
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_users": 2}');
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
SELECT count(*) FROM tenancy.create_user('u1@cyberdyne.test', 'password123');
SELECT tenancy.create_user('u2@cyberdyne.test', 'password123');
ROLLBACK;
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_users": null}');
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
SELECT * FROM tenancy.tenant_limits(:'cyber');
COMMIT;
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_users": -1}');
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_cats": 1}');
-- Applications may not change their own limits.
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.set_limit_overrides(:'cyber', '{}');
-- API calls: counted per month over shards; refused (TB002) at the limit.
\c - bf_test_admin
\set VERBOSITY terse
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_api_calls_per_month": 3}');
\c - bf_test_gw
\set VERBOSITY terse
SELECT tenancy.count_api_call(:'cyber');
SELECT tenancy.count_api_call(:'cyber');
SELECT tenancy.count_api_call(:'cyber');
SELECT tenancy.count_api_call(:'cyber');
SELECT tenancy.count_api_call(NULL);
\c - postgres
\set VERBOSITY terse
SELECT tenancy.api_calls_this_month(:'cyber') AS counted;
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.count_api_call(:'cyber');
-- Storage: measured over every tenant table; new rows of enabled tables are
-- refused (TB001) once the limit is reached.
\c - postgres
\set VERBOSITY terse
CREATE TABLE public.limit_docs (tenant_id uuid NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, body text,
                                PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.limit_docs');
GRANT SELECT, INSERT ON public.limit_docs TO backend_app, backend_admin;
SELECT tenancy.set_limit_overrides(:'cyber', '{"max_storage_bytes": 5000}');
\c - bf_test_admin
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
INSERT INTO public.limit_docs (body) SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g;
INSERT INTO public.limit_docs (body) SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g;
ROLLBACK;
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
INSERT INTO public.limit_docs (body) SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g;
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('cyberdyne') IS NOT NULL;
SELECT (s->'storage_bytes'->>'used')::bigint BETWEEN 3000 AND 5000 AS measured, s->'storage_bytes'->'limit' AS lim
  FROM tenancy.tenant_stats() s;
COMMIT;
