-- docker/postgres/init/01-init.sql: first start of an empty data volume.
-- The official entrypoint runs it once, as POSTGRES_USER in POSTGRES_DB, with
-- ON_ERROR_STOP=1 (any error aborts the initialisation). It creates the
-- extensions, the login role the gateway uses and the operators' login
-- role pgAdmin registers. Nothing secret is written here: the passwords come
-- from the environment,
--   GATEWAY_DB_PASSWORD_FILE  a file holding it (a Docker secret), or
--   GATEWAY_DB_PASSWORD       the password itself (development .env),
-- and the role name from GATEWAY_DB_USER (default: gateway); likewise
--   PGADMIN_DB_PASSWORD_FILE / PGADMIN_DB_PASSWORD and PGADMIN_DB_USER
--   (default: backend_operator), a member of backend_admin and no
--   superuser: created only when one of the two passwords is set.
-- psql 15 features only (\getenv), so it also runs by hand:
--   GATEWAY_DB_PASSWORD=... psql -v ON_ERROR_STOP=1 -d backend_db -f 01-init.sql

\set QUIET on
\getenv gateway_user GATEWAY_DB_USER
\if :{?gateway_user}
\else
  \set gateway_user gateway
\endif
\getenv gateway_password_file GATEWAY_DB_PASSWORD_FILE
\if :{?gateway_password_file}
  -- psql drops the trailing newline of a backtick command's output.
  \set gateway_password `cat "$GATEWAY_DB_PASSWORD_FILE"`
\else
  \getenv gateway_password GATEWAY_DB_PASSWORD
\endif
\if :{?gateway_password}
\else
  \set gateway_password ''
\endif
SELECT :'gateway_password' = '' AS gateway_password_missing,
       :'gateway_user' = '' AS gateway_user_missing \gset
\if :gateway_password_missing
  DO $$ BEGIN RAISE EXCEPTION 'no password for the gateway role'
    USING HINT = 'Set GATEWAY_DB_PASSWORD or GATEWAY_DB_PASSWORD_FILE in the postgres service.'; END $$;
\endif
\if :gateway_user_missing
  DO $$ BEGIN RAISE EXCEPTION 'GATEWAY_DB_USER is empty'; END $$;
\endif

-- Extensions. backend_framework needs pgcrypto (CASCADE) and refuses to be
-- created unless preloaded (shared_preload_libraries, set by the image).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS backend_framework CASCADE;

-- The gateway's login role: a member of backend_gateway (created by the
-- extension), which may call api.handle_request and nothing else of note.
-- Created, or its password reset when it already exists (a second database
-- in the same cluster).
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE backend_gateway', :'gateway_user', :'gateway_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'gateway_user')
UNION ALL
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'gateway_user', :'gateway_password')
 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'gateway_user')
UNION ALL
SELECT format('GRANT backend_gateway TO %I', :'gateway_user')
 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'gateway_user')
\gexec
-- Its connections only ever run the one prepared call per request.
SELECT format('ALTER ROLE %I SET statement_timeout = %L', :'gateway_user', '30s') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'gateway_user') \gexec


-- The operators' login (pgAdmin's registered server logs in as it): a member
-- of backend_admin, which may enter any tenant (tenancy.enter_tenant) and
-- approve custom domains, but is not a superuser, so row-level security and
-- the extension's own checks still apply to it.
\getenv operator_user PGADMIN_DB_USER
\if :{?operator_user}
\else
  \set operator_user backend_operator
\endif
\getenv operator_password_file PGADMIN_DB_PASSWORD_FILE
\if :{?operator_password_file}
  \set operator_password `cat "$PGADMIN_DB_PASSWORD_FILE"`
\else
  \getenv operator_password PGADMIN_DB_PASSWORD
\endif
\if :{?operator_password}
\else
  \set operator_password ''
\endif
SELECT :'operator_password' <> '' AS operator_wanted \gset
\if :operator_wanted
  -- Never turn an existing superuser (POSTGRES_USER, say) or the gateway's
  -- role into the operators' login.
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'operator_user' AND rolsuper)
         OR :'operator_user' = :'gateway_user' OR :'operator_user' = '' AS operator_bad \gset
  \if :operator_bad
    DO $$ BEGIN RAISE EXCEPTION 'PGADMIN_DB_USER must name a role of its own, not a superuser nor the gateway''s role'; END $$;
  \endif
  SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L IN ROLE backend_admin',
                :'operator_user', :'operator_password')
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'operator_user')
  UNION ALL
  SELECT format('ALTER ROLE %I LOGIN NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'operator_user', :'operator_password')
   WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'operator_user')
  UNION ALL
  SELECT format('GRANT backend_admin TO %I', :'operator_user')
   WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'operator_user')
  \gexec
  SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'operator_user') \gexec
\else
  \set operator_user '(none: PGADMIN_DB_PASSWORD(_FILE) not set)'
\endif

\unset gateway_password
\unset operator_password
\set QUIET off
\echo 01-init.sql: extensions ready, gateway role :gateway_user can log in, operator role :operator_user
