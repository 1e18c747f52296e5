-- tenancy.enable_tenant_table on an example application table, the way an
-- application built on the framework defines its own data.
\set VERBOSITY terse
CREATE TABLE public.projects (
  tenant_id uuid NOT NULL,
  id        bigint GENERATED ALWAYS AS IDENTITY,
  name      text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, name)
);
SELECT tenancy.enable_tenant_table('public.projects');
SELECT tenancy.enable_tenant_table('public.projects');   -- idempotent
GRANT SELECT, INSERT, UPDATE, DELETE ON public.projects TO backend_app, backend_admin;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.projects'::regclass;
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'public.projects'::regclass;
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'public.projects'::regclass ORDER BY polname;
SELECT table_name FROM tenancy.tenant_tables WHERE table_name = 'public.projects'::regclass;
-- Refused: keys not led by tenant_id, no tenant_id, wrong type, not a table.
CREATE TABLE public.bad_pk (tenant_id uuid NOT NULL, id bigint PRIMARY KEY);
SELECT tenancy.enable_tenant_table('public.bad_pk');
CREATE TABLE public.bad_unique (tenant_id uuid NOT NULL, id bigint, code text UNIQUE, PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.bad_unique');
CREATE TABLE public.no_tenant (id bigint PRIMARY KEY);
SELECT tenancy.enable_tenant_table('public.no_tenant');
CREATE TABLE public.text_tenant (tenant_id text NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.text_tenant');
CREATE TABLE public.bad_fk (tenant_id uuid NOT NULL, id bigint, other_tenant uuid, project_id bigint,
                            PRIMARY KEY (tenant_id, id),
                            CONSTRAINT bad_fk_project FOREIGN KEY (other_tenant, project_id) REFERENCES public.projects (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.bad_fk');
CREATE VIEW public.a_view AS SELECT 1 AS x;
SELECT tenancy.enable_tenant_table('public.a_view');
SELECT count(*) AS refused_tables_registered FROM tenancy.tenant_tables
 WHERE table_name::text IN ('bad_pk', 'bad_unique', 'no_tenant', 'text_tenant', 'bad_fk');
-- Applications cannot enable tables (that is the table owner's / operator's job).
\c - bf_test_app
\set VERBOSITY terse
SELECT tenancy.enable_tenant_table('public.projects');
-- In use: rows get the context's tenant; each tenant sees its own.
\c - bf_test_admin
\set VERBOSITY terse
SELECT tenant_id AS ta FROM tenancy.register_tenant('tyrell', 'Tyrell', 'eldon@tyrell.test', 'password123') \gset
SELECT tenant_id AS tb FROM tenancy.register_tenant('weyland', 'Weyland', 'peter@weyland.test', 'password123') \gset
BEGIN;
SELECT tenancy.enter_tenant('tyrell') IS NOT NULL;
INSERT INTO public.projects (name) VALUES ('Nexus 6'), ('Owl');
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('weyland') IS NOT NULL;
INSERT INTO public.projects (name) VALUES ('Nostromo'), ('Owl');   -- same name, other tenant: fine
SELECT name, tenant_id = :'tb' AS own FROM public.projects ORDER BY name;
UPDATE public.projects SET name = name || '!' ;                      -- touches only weyland's rows
COMMIT;
BEGIN;
SELECT tenancy.enter_tenant('tyrell') IS NOT NULL;
SELECT name FROM public.projects ORDER BY name;
-- A forged tenant_id is refused on insert and on update.
SAVEPOINT a;
INSERT INTO public.projects (tenant_id, name) VALUES (:'tb', 'Forged');
ROLLBACK TO a;
UPDATE public.projects SET tenant_id = :'tb' WHERE name = 'Owl';
ROLLBACK TO a;
DELETE FROM public.projects WHERE tenant_id = :'tb';
COMMIT;
-- Without a context nothing is visible and nothing can be written.
SELECT count(*) FROM public.projects;
INSERT INTO public.projects (name) VALUES ('Orphan');
-- Deleting a tenant removes its application rows too.
\c - postgres
\set VERBOSITY terse
BEGIN;
SELECT tenancy.enter_tenant('weyland') IS NOT NULL;
SELECT tenancy.delete_tenant(:'tb');
COMMIT;
SELECT count(*) AS weyland_rows_left FROM public.projects WHERE tenant_id = :'tb';
SELECT count(*) AS tyrell_rows FROM public.projects WHERE tenant_id = :'ta';
