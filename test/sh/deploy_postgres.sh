#!/usr/bin/env bash
# Deployment, part 3: the PostgreSQL side of the Docker image, natively.
#  A. docker/postgres/init/01-init.sql in a fresh database of the running
#     test cluster, with the environment Docker gives it (GATEWAY_DB_USER,
#     GATEWAY_DB_PASSWORD_FILE): extensions there, the gateway role a member
#     of backend_gateway that logs in and calls api.handle_request; runs twice
#     (idempotent); refuses to run without a password. The operators' login
#     (PGADMIN_DB_USER, pgAdmin's) is a member of backend_admin, no superuser;
#     a superuser's name there is refused.
#  B. A second throw-away cluster set up like the image: initdb with
#     scram-sha-256 for TCP and a superuser password, docker/postgres/
#     postgresql.conf included as is (only paths and the port overridden),
#     then POSTGRES_DB and 01-init.sql as the entrypoint runs them. Checks that
#     the file parses, preloads backend_framework, that the gateway role's
#     password is the secret's (and only it), and that the real gateway,
#     started through docker/gateway/entrypoint.sh with the secret file,
#     answers /health with 200 on that database.
#  C. docker/postgres/entrypoint.sh adds statement logging when DEBUG=true.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
INIT=$ROOT/docker/postgres/init/01-init.sql

tmp=$(mktemp -d /tmp/bf-deploy-pg.XXXXXX); chmod 755 "$tmp"
port2=$((PGPORT + 8))
dir2=$BUILD/deploy-pg-$port2
db1=bf_deploy_init_$$
role1=bf_deploy_gateway_$$
op1=bf_deploy_operator_$$
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && { kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null; }
  as_pg "$BINDIR/pg_ctl" -D "$dir2/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir2" "$tmp"
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db1" -c "DROP ROLE IF EXISTS $role1" -c "DROP ROLE IF EXISTS $op1" >/dev/null 2>&1 || true
}
trap cleanup EXIT
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
is() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
has() { case "$1" in *"$2"*) return 0 ;; esac; echo "     '$1' lacks '$2'"; return 1; }

# --- A. init script on the running cluster ------------------------------------------
printf 'pw-%s-secret\n' "$$" > "$tmp/gateway_db_password"     # a secret file ends with a newline
printf 'op-%s-secret\n' "$$" > "$tmp/pgadmin_db_password"
q -d postgres -c "CREATE DATABASE $db1" >/dev/null
run_init() { env GATEWAY_DB_USER=$role1 GATEWAY_DB_PASSWORD_FILE="$tmp/gateway_db_password" \
                 PGADMIN_DB_USER=$op1 PGADMIN_DB_PASSWORD_FILE="$tmp/pgadmin_db_password" \
               psql -X -v ON_ERROR_STOP=1 -d "$db1" -f "$INIT" >"$tmp/init.out" 2>&1; }
if run_init; then check "A: 01-init.sql runs in a fresh database (ON_ERROR_STOP, as the entrypoint runs it)" true
else check "A: 01-init.sql runs in a fresh database" false; cat "$tmp/init.out"; fi
exts=$(q -d "$db1" -c "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'")
check "A: extensions backend_framework, pg_stat_statements, pg_trgm, pgcrypto, uuid-ossp" \
  is "$exts" "backend_framework,pg_stat_statements,pg_trgm,pgcrypto,uuid-ossp"
check "A: the gateway role can log in and is a member of backend_gateway" \
  is "$(q -d "$db1" -c "SELECT r.rolcanlogin AND pg_has_role(r.oid, 'backend_gateway', 'MEMBER') AND NOT r.rolsuper FROM pg_roles r WHERE rolname = '$role1'")" t
check "A: the operators' login (PGADMIN_DB_USER) can log in, is a member of backend_admin, and is no superuser" \
  is "$(q -d "$db1" -c "SELECT r.rolcanlogin AND pg_has_role(r.oid, 'backend_admin', 'MEMBER') AND NOT r.rolsuper AND NOT r.rolcreaterole
                                AND NOT r.rolcreatedb AND NOT r.rolbypassrls AND NOT pg_has_role(r.oid, 'backend_gateway', 'MEMBER')
                           FROM pg_roles r WHERE rolname = '$op1'")" t
check "A: no password was written to the log or the output" bash -c "! grep -q 'pw-$$-secret\|op-$$-secret' '$tmp/init.out'"
if run_init; then check "A: 01-init.sql runs again on the same database (idempotent)" true
else check "A: 01-init.sql runs again" false; cat "$tmp/init.out"; fi
out=$(env -u GATEWAY_DB_PASSWORD -u GATEWAY_DB_PASSWORD_FILE GATEWAY_DB_USER=$role1 \
        psql -X -v ON_ERROR_STOP=1 -d "$db1" -f "$INIT" 2>&1); rc=$?
check "A: without GATEWAY_DB_PASSWORD(_FILE) it stops with an error naming them" \
  bash -c "[ $rc -ne 0 ] && grep -q 'GATEWAY_DB_PASSWORD' <<<'$out'"
out=$(env GATEWAY_DB_USER=$role1 GATEWAY_DB_PASSWORD_FILE="$tmp/gateway_db_password" PGADMIN_DB_USER=postgres PGADMIN_DB_PASSWORD=x \
        psql -X -v ON_ERROR_STOP=1 -d "$db1" -f "$INIT" 2>&1); rc=$?
named=$(grep -c 'PGADMIN_DB_USER must name a role of its own' <<<"$out")
check "A: PGADMIN_DB_USER naming a superuser (postgres) is refused, and postgres stays a superuser" \
  is "$rc $named $(q -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")" "3 1 t"
GW_CONN="host=127.0.0.1 port=$PGPORT dbname=$db1 user=$role1"
st=$(PGPASSWORD="pw-$$-secret" q "$GW_CONN" -c "SELECT status FROM api.handle_request('GET','/health','', '{}'::jsonb, ''::bytea, '127.0.0.1')")
check "A: as the gateway role, api.handle_request('GET','/health',...) answers 200" is "$st" 200
OP_CONN="host=127.0.0.1 port=$PGPORT dbname=$db1 user=$op1"
check "A: the operators' login connects over TCP with its secret's password (as pgAdmin does)" \
  is "$(PGPASSWORD="op-$$-secret" q "$OP_CONN" -c "SELECT current_user, pg_has_role('backend_admin', 'USAGE')" 2>&1)" "$op1|t"
denied=$(PGPASSWORD="pw-$$-secret" psql -X -At "$GW_CONN" -c "SELECT count(*) FROM tenancy.tenants" 2>&1 || true)
check "A: the gateway role sees no tenant rows without a context (RLS)" bash -c "grep -qE '^0$|permission denied' <<<'$denied'"

# --- B. a cluster configured like the image -------------------------------------------
rm -rf "$dir2"; mkdir -p "$dir2/log"; [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir2"
cp docker/postgres/postgresql.conf "$dir2/docker-postgresql.conf"
cat > "$dir2/test.conf" <<CONF
# docker/postgres/postgresql.conf as the image uses it; below it only what
# the container provides differently (paths, port, the socket).
include '$dir2/docker-postgresql.conf'
port = $port2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir2'
CONF
printf 'superpw-%s\n' "$$" > "$tmp/postgres_password"; chmod 644 "$tmp/postgres_password" "$tmp/gateway_db_password"
# As docker-entrypoint.sh: initdb with the superuser's password, scram for TCP.
as_pg "$BINDIR/initdb" -D "$dir2/data" -U postgres --pwfile="$tmp/postgres_password" \
  --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$tmp/initdb.out" 2>&1 \
  || { echo "FAIL initdb"; cat "$tmp/initdb.out"; exit 1; }
if as_pg "$BINDIR/pg_ctl" -D "$dir2/data" -o "-c config_file=$dir2/test.conf" -l "$dir2/startup.log" -w -t 60 start >/dev/null; then
  check "B: a cluster starts with docker/postgres/postgresql.conf" true
else
  check "B: a cluster starts with docker/postgres/postgresql.conf" false
  cat "$dir2/startup.log" "$dir2"/log/* 2>/dev/null | tail -30; summary; exit 1
fi
q2() { psql -X -At -v ON_ERROR_STOP=1 -h "$dir2" -p "$port2" -U postgres "$@"; }
check "B: shared_preload_libraries contains backend_framework" has "$(q2 -d postgres -c 'SHOW shared_preload_libraries')" backend_framework
check "B: the file's settings are in force (shared_buffers 1GB, base_domain, scram)" \
  is "$(q2 -d postgres -c "SELECT current_setting('shared_buffers') || ' ' || current_setting('backend_framework.base_domain') || ' ' || current_setting('password_encryption')")" \
  "1GB localhost scram-sha-256"
check "B: bind parameter values are never logged (log_parameter_max_length, _on_error = 0)" \
  is "$(q2 -d postgres -c "SELECT current_setting('log_parameter_max_length') || ' ' || current_setting('log_parameter_max_length_on_error')")" "0 0"
check "B: no setting of the file was rejected" \
  is "$(q2 -d postgres -c "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL")" 0
check "B: the server logs to stderr, as docker logs shows it (logging_collector off, log_destination stderr)" \
  is "$(q2 -d postgres -c "SELECT current_setting('logging_collector') || ' ' || current_setting('log_destination')")" "off stderr"
q2 -d postgres -c "SELECT 1/0 AS bf_deploy_stderr_probe" >/dev/null 2>&1
sleep 0.2
check "B: an error reaches the server's stderr (pg_ctl -l, standing in for the container's log), with the statement" \
  bash -c "grep -q 'ERROR:  division by zero' '$dir2/startup.log' && grep -q 'bf_deploy_stderr_probe' '$dir2/startup.log'"
check "B: no log file is written (no collector, no log directory)" bash -c "[ -z \"\$(ls -A '$dir2/log')\" ] && [ ! -d '$dir2/data/log' ]"
# POSTGRES_DB, then the init script, as the entrypoint does (socket, superuser).
q2 -d postgres -c "CREATE DATABASE backend_db" >/dev/null
if env GATEWAY_DB_PASSWORD_FILE="$tmp/gateway_db_password" PGADMIN_DB_PASSWORD_FILE="$tmp/pgadmin_db_password" \
     psql -X -v ON_ERROR_STOP=1 -h "$dir2" -p "$port2" -U postgres -d backend_db -f "$INIT" >"$tmp/init2.out" 2>&1; then
  check "B: 01-init.sql runs in POSTGRES_DB with the secret files (default role names gateway, backend_operator)" true
else
  check "B: 01-init.sql runs in POSTGRES_DB" false; cat "$tmp/init2.out"
fi
check "B: the superuser logs in over TCP with POSTGRES_PASSWORD only" \
  bash -c "PGPASSWORD='superpw-$$' psql -X -At -h 127.0.0.1 -p $port2 -U postgres -d backend_db -c 'SELECT 1' >/dev/null &&
           ! PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p $port2 -U postgres -d backend_db -c 'SELECT 1' >/dev/null 2>&1"
check "B: role gateway logs in over TCP (scram) with the secret's password" \
  is "$(PGPASSWORD="pw-$$-secret" psql -X -At -h 127.0.0.1 -p "$port2" -U gateway -d backend_db -c 'SELECT current_user' 2>&1)" gateway
check "B: role backend_operator (pgAdmin's login, docker/pgadmin/servers.json) logs in over TCP with its secret, a backend_admin and no superuser" \
  is "$(PGPASSWORD="op-$$-secret" psql -X -At -h 127.0.0.1 -p "$port2" -U "$(node -e 'console.log(Object.values(JSON.parse(require("fs").readFileSync("docker/pgadmin/servers.json","utf8")).Servers)[0].Username)')" -d backend_db \
         -c "SELECT current_user, pg_has_role('backend_admin', 'MEMBER'), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)" 2>&1)" "backend_operator|t|f"
check "B: role gateway is refused with another password" \
  bash -c "! PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p $port2 -U gateway -d backend_db -c 'SELECT 1' >/dev/null 2>&1"
if [ -x gateway/backend-gateway ]; then
  gw_port=$(free_port)
  env -u PGPASSWORD -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
      BACKEND_LISTEN=127.0.0.1:$gw_port GATEWAY_DB_PASSWORD_FILE="$tmp/gateway_db_password" \
      BACKEND_DATABASE_URL="host=127.0.0.1 port=$port2 dbname=backend_db user=gateway connect_timeout=5 application_name=backend-gateway" \
      BACKEND_TRUST_PROXY=1 GATEWAY_BIN="$ROOT/gateway/backend-gateway" \
      sh docker/gateway/entrypoint.sh >"$tmp/gw.log" 2>"$tmp/gw.err" &
  gw_pid=$!
  code=000
  for i in $(seq 50); do code=$(curl -s -o "$tmp/health.json" -w '%{http_code}' "http://127.0.0.1:$gw_port/health"); [ "$code" = 200 ] && break; sleep 0.1; done
  check "B: the real gateway (entrypoint + secret file) connects as gateway: /health 200" is "$code" 200
  [ "$code" = 200 ] || { cat "$tmp/gw.err" | tail -5; }
  check "B: the gateway's connections are role gateway" \
    is "$(q2 -d backend_db -c "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'gateway' AND application_name = 'backend-gateway'")" t
  kill "$gw_pid"; wait "$gw_pid" 2>/dev/null; gw_pid=""
else
  skip "B: the gateway on the image-like cluster" "gateway/backend-gateway is not built"
fi
check "B: no password in the server log (its stderr)" bash -c "! grep -q 'pw-$$-secret\|op-$$-secret\|superpw-$$' '$dir2/startup.log'"
as_pg "$BINDIR/pg_ctl" -D "$dir2/data" -m fast -w stop >/dev/null

# --- C. the image's entry point: DEBUG adds statement logging -----------------------------
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "$@"\n' > "$tmp/bin/docker-entrypoint.sh"; chmod +x "$tmp/bin/docker-entrypoint.sh"
check "C: DEBUG=true adds log_statement=all to the server's command line" \
  has "$(PATH=$tmp/bin:$PATH DEBUG=true sh docker/postgres/entrypoint.sh postgres -c config_file=/x)" "-c log_statement=all"
check "C: DEBUG=true still logs no bind parameter values" \
  has "$(PATH=$tmp/bin:$PATH DEBUG=true sh docker/postgres/entrypoint.sh postgres -c config_file=/x)" "-c log_parameter_max_length=0 -c log_parameter_max_length_on_error=0"
check "C: DEBUG=false leaves the command line as it is" \
  is "$(PATH=$tmp/bin:$PATH DEBUG=false sh docker/postgres/entrypoint.sh postgres -c config_file=/x)" "postgres -c config_file=/x"
summary
