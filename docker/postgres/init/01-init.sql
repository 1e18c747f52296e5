-- docker/postgres/init/01-init.sql: first start of an empty data volume.
-- The official entrypoint runs it once, as POSTGRES_USER in POSTGRES_DB, with
-- ON_ERROR_STOP=1 (any error aborts the initialisation). It creates the
-- extensions and the login role the gateway uses. Nothing secret is written
-- here: the password comes from the environment,
--   GATEWAY_DB_PASSWORD_FILE  a file holding it (a Docker secret), or
--   GATEWAY_DB_PASSWORD       the password itself (development .env),
-- and the role name from GATEWAY_DB_USER (default: gateway).
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

\unset gateway_password
\set QUIET off
\echo 01-init.sql: extensions ready, gateway role :gateway_user can log in
