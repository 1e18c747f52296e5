#!/usr/bin/env bash
# Creates the application database on a fresh throw-away cluster: the extension,
# the gateway's login role, and a demo tenant "demo" with an owner and one
# confidential OAuth client. Prints what it made as shell assignments into
# .build/demo-$PGPORT.env (read by scripts/run.sh and the test suites).
set -euo pipefail
source "$(dirname "$0")/env.sh"
DEMO_ENV=$BUILD/demo-$PGPORT.env
psql -qX -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PGDATABASE" 2>/dev/null || true
# The gateway's password: random, in a libpq password file only its owner
# reads. Any port: test/sh/deploy_backup.sh restores the roles onto a second
# local cluster and connects the gateway there with the same login.
if [ ! -s "$GATEWAY_PASSFILE" ]; then
  (umask 077; printf '127.0.0.1:*:*:backend_gateway_login:%s\n' \
     "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" > "$GATEWAY_PASSFILE")
fi
psql -qX -v ON_ERROR_STOP=1 -At <<SQL > "$DEMO_ENV.tmp"
CREATE EXTENSION IF NOT EXISTS backend_framework CASCADE;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'backend_gateway_login') THEN
    CREATE ROLE backend_gateway_login LOGIN IN ROLE backend_gateway;
  END IF;
END \$\$;
ALTER ROLE backend_gateway_login PASSWORD '$(gateway_password)';
-- A platform operator's login (not a superuser: row-level security applies),
-- reached over the cluster's private socket.
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_operator') THEN
    CREATE ROLE demo_operator LOGIN IN ROLE backend_admin;
  END IF;
END \$\$;
SELECT 'DEMO_OPERATOR=demo_operator';
SELECT format('DEMO_TENANT_ID=%s', tenant_id) FROM tenancy.register_tenant('demo', 'Demo Company', 'owner@demo.test', 'demo-password', 'premium');
SQL
# The example applications (examples/*/): built only on the public API.
for f in "$ROOT"/examples/*/*.sql; do psql -qX -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -f "$f" >/dev/null; done
psql -qX -v ON_ERROR_STOP=1 -At <<SQL >> "$DEMO_ENV.tmp"
BEGIN;
SELECT tenancy.enter_tenant('demo') IS NULL;
-- The console's redirect URIs come from backend_framework.console_redirect_uris
-- (scripts/cluster.sh sets it); its client_id is the same in every tenant.
SELECT 'CONSOLE_CLIENT_ID=console';
SELECT format(E'DEMO_CLIENT_ID=%s\nDEMO_CLIENT_SECRET=%s', c->>'client_id', c->>'client_secret')
  FROM oauth.create_client('{"client_name": "Demo service", "grant_types": ["client_credentials", "password", "refresh_token"],
                             "scope": "read write profile", "token_endpoint_auth_method": "client_secret_basic"}') c
 WHERE to_regprocedure('oauth.create_client(jsonb)') IS NOT NULL;
COMMIT;
SQL
grep '=' "$DEMO_ENV.tmp" > "$DEMO_ENV" || true
rm -f "$DEMO_ENV.tmp"
echo "demo: database $PGDATABASE ready; credentials in $DEMO_ENV"
