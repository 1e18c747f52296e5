#!/usr/bin/env bash
# Deployment, part 4: scripts/backup_db.sh and scripts/restore_db.sh against
# the running test cluster (standard PG* variables, BACKUP_DIR in a temp dir).
# Three backups with BACKUP_KEEP=2 leave the newest two, in pg_dump's custom
# format; the newest restores into a new database with the same row counts in
# every table of the extension's schemas (tenancy.tenants first of all) and
# the application's; restore refuses a non-empty database and a non-dump;
# PG_DUMP/PG_RESTORE/PSQL as commands (how `make backup` reaches a container).
# Then a new server: a second throw-away cluster with no roles of ours (its
# own initdb, port PGPORT+9, password auth over TCP) gets an encrypted backup
# whose roles file was doctored to give backend_definer a login and members;
# after the restore the extension's roles are as CREATE EXTENSION makes them,
# the superuser keeps its password, and the real gateway logs in with the
# restored gateway login and serves tokens of the demo tenant. A failed
# restore leaves neither the database nor the roles it created.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
export PATH=$BINDIR:$PATH                 # the cluster's own pg_dump / pg_restore

tmp=$(mktemp -d /tmp/bf-deploy-backup.XXXXXX)
target=bf_deploy_restore_$$
src=bf_deploy_source_$$
fport=$((PGPORT + 9)); fgport=$((PGPORT + 1009))   # the new server and its gateway
fdir=$BUILD/backup-fresh-$fport
gw_pid=""
cleanup() {
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS $target" -c "DROP DATABASE IF EXISTS $src" >/dev/null 2>&1
  [ -n "$gw_pid" ] && { kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null; }
  [ -f "$fdir/data/postmaster.pid" ] && as_pg "$BINDIR/pg_ctl" -D "$fdir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp" "$fdir"
}
trap cleanup EXIT
q() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

# The harness's backend_db (demo data) is backed up as it is, read-only; a
# database of our own gets a tenant (and its owner) so that the counts
# compared are never all zero, without touching the data other suites use.
db=$PGDATABASE
q -d "$db" -c "SELECT 1" >/dev/null 2>&1 || { echo "FAIL database $db is not there (scripts/demo.sh)"; exit 1; }
q -d postgres -c "CREATE DATABASE $src" >/dev/null
q -d "$src" -c "CREATE EXTENSION backend_framework CASCADE" >/dev/null 2>&1
if ! q -d "$src" -c "SELECT tenancy.register_tenant('deploy-backup', 'Backup Test', 'owner@backup.test', 'backup-password-1', 'free')" >/dev/null 2>"$tmp/register.err"; then
  echo "     (tenancy.register_tenant failed: $(head -1 "$tmp/register.err"); inserting a tenant row directly)"
  q -d "$src" -c "SET session_replication_role = replica" \
    -c "INSERT INTO tenancy.tenants (slug, name) VALUES ('deploy-backup', 'Backup Test')" >/dev/null
fi

export BACKUP_DIR=$tmp/backups BACKUP_KEEP=2
files=()
for i in 1 2 3; do
  if f=$(scripts/backup_db.sh 2>>"$tmp/backup.err"); then files+=("$f"); else echo "     backup $i failed:"; cat "$tmp/backup.err"; fi
  [ "$i" -lt 3 ] && sleep 1.1            # one name per second
done
check "backup_db.sh ran three times" is "${#files[@]}" 3
mapfile -t left < <(ls -1 "$BACKUP_DIR")
b1=$(basename "${files[1]}" .dump); b2=$(basename "${files[2]}" .dump)
check "BACKUP_KEEP=2 keeps the newest two dumps, each with its roles file" is "${left[*]}" "$b1.dump $b1.roles.sql $b2.dump $b2.roles.sql"
roles2=${files[2]%.dump}.roles.sql
check "roles files are readable by their owner only" is "$(stat -c %a "$roles2")" 600
check "the roles file holds the gateway's login with its password hash (pg_dumpall --roles-only)" \
  grep -q "^ALTER ROLE backend_gateway_login WITH .*LOGIN.* PASSWORD 'SCRAM-SHA-256" "$roles2"
check "... and no tablespace (they are paths of the old server)" bash -c "! grep -q TABLESPACE '$roles2'"
check "dump names are <db>-<UTC time>.dump" bash -c "[[ '$(basename "${files[2]}")' =~ ^$db-[0-9]{8}T[0-9]{6}Z\.dump$ ]]"
check "dumps are readable by their owner only (umask 077)" is "$(stat -c %a "${files[2]}")" 600
check "dumps are pg_dump custom format (pg_restore --list)" pg_restore --list "${files[2]}" -f "$tmp/toc"
check "no partial file left" bash -c "! ls '$BACKUP_DIR' | grep -q partial"

# Row counts of every ordinary table, as a superuser (RLS does not apply).
# counts_at PSQL-FUNCTION DB: the same on another server.
counts() { counts_at q "$1"; }
counts_at() {
  "$1" -d "$2" <<'SQL'
SELECT string_agg(format('%s=%s', t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s', t), false, true, '')))[1]), ' ' ORDER BY t)
  FROM (SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')) s;
SQL
}
before=$(counts "$db")
if scripts/restore_db.sh "${files[2]}" "$target" >"$tmp/restore.out" 2>&1; then
  check "restore_db.sh restores the newest dump into a new database" true
else
  check "restore_db.sh restores the newest dump into a new database" false; tail -20 "$tmp/restore.out"
fi
after=$(counts "$target")
tenants_before=$(q -d "$db" -c "SELECT count(*) FROM tenancy.tenants")
tenants_after=$(q -d "$target" -c "SELECT count(*) FROM tenancy.tenants" 2>&1)
check "tenancy.tenants has the same row count after restore ($tenants_before)" is "$tenants_after" "$tenants_before"
check "on the same server every role exists already: none is created, none changed" grep -q 'created 0 role(s); kept' "$tmp/restore.out"
check "every table has the same row count after restore" is "$after" "$before"
[ "$after" = "$before" ] || diff <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | head -20
check "the restored database has the extension" \
  is "$(q -d "$target" -c "SELECT count(*) FROM pg_extension WHERE extname = 'backend_framework'")" 1
# Application routes (api.add_route; the demo loads examples/) are the
# database's own rows: restored, and routed by the restored database.
app_routes() { q -d "$1" -c "SELECT coalesce(string_agg(method || ' ' || pattern || ' ' || handler::text, ', ' ORDER BY pattern, method), 'none') FROM api.routes WHERE NOT builtin"; }
check "application routes survive pg_dump/restore ($(app_routes "$db" | cut -c1-60)...)" is "$(app_routes "$target")" "$(app_routes "$db")"
check "... and the restored database routes them (401 for no token, not 404)" is \
  "$(q -d "$target" -c "SELECT status FROM api.handle_request('GET', '/api/v1/notes', '', '{\"host\": \"localhost\", \"x-tenant\": \"demo\"}', NULL, '127.0.0.1')")" 401
if [ "$tenants_before" -gt 0 ]; then
  check "a tenant's data is the same after restore (slugs and owners' password hashes)" is \
    "$(q -d "$target" -c "SELECT md5(string_agg(t.slug || u.email || u.password_hash, ',' ORDER BY t.slug, u.email)) FROM tenancy.tenants t JOIN tenancy.users u ON u.tenant_id = t.id" 2>&1)" \
    "$(q -d "$db" -c "SELECT md5(string_agg(t.slug || u.email || u.password_hash, ',' ORDER BY t.slug, u.email)) FROM tenancy.tenants t JOIN tenancy.users u ON u.tenant_id = t.id" 2>&1)"
else
  skip "tenant data compared" "no tenant in $db (the demo data could not be created)"
fi

# Refusals.
scripts/restore_db.sh "${files[2]}" "$target" >"$tmp/refuse.out" 2>&1; rc=$?
check "restore_db.sh refuses a non-empty database (exit 3) and changes nothing" \
  bash -c "[ $rc -eq 3 ] && grep -q 'not empty' '$tmp/refuse.out' && [ '$(counts "$target")' = '$after' ]"
echo "not a dump" > "$tmp/bogus.dump"
scripts/restore_db.sh "$tmp/bogus.dump" bf_deploy_never_$$ >"$tmp/bogus.out" 2>&1; rc=$?
check "restore_db.sh refuses a file that is not a custom-format dump (exit 2, no database made)" \
  bash -c "[ $rc -eq 2 ] && [ '$(q -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'bf_deploy_never_$$'")' = 0 ]"
# RESTORE_CLEAN=1 replaces the contents of an existing database.
if RESTORE_CLEAN=1 scripts/restore_db.sh "${files[1]}" "$target" >"$tmp/clean.out" 2>&1; then
  check "RESTORE_CLEAN=1 restores over an existing database with the same counts" is "$(counts "$target")" "$before"
else
  check "RESTORE_CLEAN=1 restores over an existing database" false; tail -10 "$tmp/clean.out"
fi

# Commands instead of binaries (make backup runs them in the container):
# here wrapped with `env`, the dump read from stdout and fed to stdin.
q -d "$src" -c "CREATE TABLE notes_copy(id int, body text); INSERT INTO notes_copy SELECT g, 'note ' || g FROM generate_series(1, 500) g" >/dev/null
out=$(PG_DUMP="env TZ=UTC pg_dump" BACKUP_KEEP=0 PGDATABASE=$src scripts/backup_db.sh 2>/dev/null)
q -d postgres -c "DROP DATABASE $target" >/dev/null
PG_RESTORE="env TZ=UTC pg_restore" PSQL="env TZ=UTC psql" scripts/restore_db.sh "$out" "$target" >"$tmp/own.out" 2>&1 || tail -5 "$tmp/own.out"
check "PG_DUMP / PG_RESTORE / PSQL as commands (how make backup reaches the container)" \
  is "$(q -d "$target" -c "SELECT count(*) FROM notes_copy" 2>&1)" 500
check "a database with a tenant of its own comes back with the same row counts" is "$(counts "$target")" "$(counts "$src")"
check "... including its tenant ($(q -d "$src" -c "SELECT count(*) FROM tenancy.tenants") in the source)" \
  is "$(q -d "$target" -c "SELECT count(*) FROM tenancy.tenants")" "$(q -d "$src" -c "SELECT count(*) FROM tenancy.tenants")"
# pg_dump writes the rows of an extension's own tables only when the extension
# marked them with pg_extension_config_dump(); say so when it did not.
unmarked=$(q -d "$src" -c "SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY 1) FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'backend_framework' WHERE c.relkind = 'r' AND c.relname IN ('tenants', 'users', 'clients', 'tokens') AND NOT c.oid = ANY (coalesce(e.extconfig, '{}'))")
check "the extension marks its data tables for pg_dump (pg_extension_config_dump)" is "${unmarked:-none}" none
[ -z "$unmarked" ] || echo "     not marked: $unmarked -- pg_dump skips the rows of extension member tables unless the extension script calls pg_catalog.pg_extension_config_dump('<table>', '<filter>') for each"
check "BACKUP_KEEP=0 keeps every dump" is "$(ls -1 "$BACKUP_DIR" | grep -c '\.dump$')" 3

# ---- A new server: a second cluster with none of our roles -------------
# Its own initdb: the superuser connects over the socket without a password,
# everyone else over TCP with scram-sha-256 (so the gateway's login must come
# with its password hash). fq runs psql as its superuser.
fq() { psql -X -At -v ON_ERROR_STOP=1 -h "$fdir" -p "$fport" -U postgres "$@"; }
fresh_env() { PGHOST=$fdir PGPORT=$fport PGUSER=postgres "$@"; }
# refused RC PATTERN OUTPUT SQL: exit 2, PATTERN said, and SQL counts 0 on the new server.
refused() { [ "$1" -eq 2 ] && grep -q "$2" "$3" && is "$(fq -d postgres -c "$4")" 0 || { tail -3 "$3"; return 1; }; }
rm -rf "$fdir"; mkdir -p "$fdir"; [ "$(id -u)" -eq 0 ] && chown postgres "$fdir"
as_pg "$BINDIR/initdb" -D "$fdir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
cat >> "$fdir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'backend_framework'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$fdir'
fsync = off
backend_framework.base_domain = 'localhost'
CONF
as_pg "$BINDIR/pg_ctl" -D "$fdir/data" -o "-p $fport" -l "$fdir/postgres.log" -w start >/dev/null \
  || { echo "FAIL the second cluster did not start"; tail -5 "$fdir/postgres.log"; summary; exit 1; }
fq -d postgres -c "ALTER ROLE postgres PASSWORD 'new-server-superuser'" >/dev/null
su_hash=$(fq -d postgres -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")
check "the new server has none of the project's roles" \
  is "$(fq -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'backend%'")" 0

# A token issued by the old server before the backup (checked on the new one).
demo_env=$BUILD/demo-$PGPORT.env
DEMO_CLIENT_ID=""; DEMO_CLIENT_SECRET=""
[ -f "$demo_env" ] && source "$demo_env"
old_token=""
if [ -n "$DEMO_CLIENT_ID" ] && [ -n "${BF_URL:-}" ]; then
  old_token=$(curl -s -u "$DEMO_CLIENT_ID:$DEMO_CLIENT_SECRET" -d grant_type=client_credentials -d scope=read \
                "$BF_URL/t/demo/oauth/token" | sed -nE 's/.*"access_token": ?"([^"]+)".*/\1/p')
fi

# The backup, encrypted when age is there (make test's dependencies install it).
export BACKUP_DIR=$tmp/fresh BACKUP_KEEP=0
unset BACKUP_KEY
if command -v age-keygen >/dev/null; then
  age-keygen -o "$tmp/backup.key" 2>/dev/null; chmod 600 "$tmp/backup.key"
  export BACKUP_KEY=$tmp/backup.key
fi
dump=$(scripts/backup_db.sh 2>"$tmp/fresh-backup.err") || { echo "     backup failed:"; cat "$tmp/fresh-backup.err"; }
base=${dump%.age}; base=${base%.dump}
roles=$(ls "$base".roles.sql* 2>/dev/null)
plain() { if [ -n "${BACKUP_KEY:-}" ]; then age --decrypt --identity "$BACKUP_KEY" "$1"; else cat "$1"; fi; }
seal() { if [ -n "${BACKUP_KEY:-}" ]; then age --encrypt --identity "$BACKUP_KEY" -o "$1"; else cat > "$1"; fi; }
check "backup_db.sh verified its dump (pg_restore --list)" grep -q 'archive entries, verified' "$tmp/fresh-backup.err"
if [ -n "${BACKUP_KEY:-}" ]; then
  check "with BACKUP_KEY the dump and the roles file are encrypted (….age, mode 600)" \
    bash -c "[[ '$dump' == *.dump.age && '$roles' == *.roles.sql.age ]] && [ \$(stat -c %a '$dump' '$roles' | sort -u) = 600 ]"
  check "... no password hash nor role name readable in the roles file" bash -c "! grep -aq -e SCRAM -e backend_gateway_login '$roles'"
  check "... and they decrypt with the key to a dump and a complete roles file" \
    bash -c "age -d -i '$BACKUP_KEY' '$dump' | pg_restore --list >/dev/null && age -d -i '$BACKUP_KEY' '$roles' | grep -q 'cluster dump complete'"
  age-keygen -o "$tmp/wrong.key" 2>/dev/null
  BACKUP_KEY=$tmp/wrong.key fresh_env scripts/restore_db.sh "$dump" bf_never >"$tmp/wrongkey.out" 2>&1; rc=$?
  check "restore with a wrong key is refused (exit 2), no database made" \
    refused $rc 'cannot decrypt' "$tmp/wrongkey.out" "SELECT count(*) FROM pg_database WHERE datname = 'bf_never'"
  cp "$dump" "$tmp/flipped.dump.age"; cp "$roles" "$tmp/flipped.roles.sql.age"
  size=$(stat -c %s "$dump")
  printf '\x5a' | dd of="$tmp/flipped.dump.age" bs=1 seek=$((size - 40)) conv=notrunc status=none
  fresh_env scripts/restore_db.sh "$tmp/flipped.dump.age" bf_never >"$tmp/flipped.out" 2>&1; rc=$?
  check "a modified encrypted dump is refused before anything is done (age authenticates it)" \
    refused $rc 'cannot decrypt' "$tmp/flipped.out" "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'backend%'"
else
  skip "encrypted backups" "age is not installed (apt-get install age)"
fi

# A failed restore (a dump cut short in its data: the table of contents still
# reads) undoes the database and the roles it made.
plain "$dump" > "$tmp/plain.dump"; plain "$roles" > "$tmp/plain.roles.sql"
size=$(stat -c %s "$tmp/plain.dump")
head -c $((size - 64)) "$tmp/plain.dump" > "$tmp/cut-20250101T000000Z.dump"
cp "$tmp/plain.roles.sql" "$tmp/cut-20250101T000000Z.roles.sql"
fresh_env scripts/restore_db.sh "$tmp/cut-20250101T000000Z.dump" backend_db >"$tmp/cut.out" 2>&1; rc=$?
check "a restore that fails in pg_restore exits 1" bash -c "[ $rc -eq 1 ] && grep -q 'pg_restore failed' '$tmp/cut.out'"
check "... and drops the database it had created" \
  is "$(fq -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'backend_db'")" 0
check "... and the roles it had created" \
  is "$(fq -d postgres -c "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname NOT LIKE 'pg\_%' AND rolname <> 'postgres'")" ""
[ $rc -eq 1 ] || tail -5 "$tmp/cut.out"

# A roles file with a statement pg_dumpall does not write is refused whole.
{ sed '/^--$/q' "$tmp/plain.roles.sql"; echo "DROP ROLE postgres;"; sed '1,/^--$/d' "$tmp/plain.roles.sql"; } > "$tmp/evil-20250101T000000Z.roles.sql"
cp "$tmp/plain.dump" "$tmp/evil-20250101T000000Z.dump"
fresh_env scripts/restore_db.sh "$tmp/evil-20250101T000000Z.dump" backend_db >"$tmp/evil.out" 2>&1; rc=$?
check "a roles file with other statements (DROP ROLE) is refused (exit 2), nothing made" \
  refused $rc 'not a statement of pg_dumpall' "$tmp/evil.out" "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'backend%'"
{ echo '\! touch '"$tmp/pwned"; cat "$tmp/plain.roles.sql"; } > "$tmp/evil-20250101T000000Z.roles.sql"
fresh_env scripts/restore_db.sh "$tmp/evil-20250101T000000Z.dump" backend_db >"$tmp/evil2.out" 2>&1; rc=$?
check "... as is one with a psql shell escape (\\!), which never runs" bash -c "[ $rc -eq 2 ] && [ ! -e '$tmp/pwned' ]"

# The roles file says backend_definer logs in and has members, and the
# extension's other roles are logins or superusers; the restore takes none of it.
doctored=$(cat <<'SQL'
CREATE ROLE backend_definer;
ALTER ROLE backend_definer WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION BYPASSRLS PASSWORD 'definer-pw';
ALTER ROLE backend_gateway WITH SUPERUSER LOGIN PASSWORD 'gateway-group-pw';
ALTER ROLE backend_admin SET search_path TO 'evil';
ALTER ROLE postgres WITH PASSWORD 'from-the-old-server';
CREATE ROLE intruder;
ALTER ROLE intruder WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'intruder-pw';
GRANT backend_definer TO intruder GRANTED BY postgres;
GRANT backend_definer TO backend_gateway_login GRANTED BY postgres;
GRANT intruder TO backend_definer GRANTED BY postgres;
GRANT intruder TO postgres GRANTED BY postgres;
SQL
)
check "the backup has a roles file beside its dump" test -n "$roles"
[ -n "$roles" ] && awk -v extra="$doctored" '!done && (/^\\unrestrict / || /^-- PostgreSQL database cluster dump complete/) { print extra; done = 1 } { print }' "$tmp/plain.roles.sql" | seal "$tmp/doctored" \
  && mv "$tmp/doctored" "$roles"
if fresh_env scripts/restore_db.sh "$dump" backend_db >"$tmp/fresh.out" 2>&1; then
  check "restore_db.sh restores the backup onto the new server (roles first)" true
else
  check "restore_db.sh restores the backup onto the new server (roles first)" false; tail -20 "$tmp/fresh.out"
fi
check "the restored database has the same row counts" is "$(counts_at fq backend_db)" "$(counts "$db")"
check "the gateway's login is back, with its membership of backend_gateway" \
  is "$(fq -d postgres -c "SELECT rolcanlogin AND pg_has_role('backend_gateway_login', 'backend_gateway', 'MEMBER') FROM pg_roles WHERE rolname = 'backend_gateway_login'")" t
check "the superuser kept the new server's password (existing roles are not changed)" \
  is "$(fq -d postgres -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")" "$su_hash"
check "... nor given memberships" is "$(fq -d postgres -c "SELECT count(*) FROM pg_auth_members WHERE member = 'postgres'::regrole")" 0
check "backend_gateway, backend_app, backend_admin are as CREATE EXTENSION makes them (no login, no superuser, no settings)" \
  is "$(fq -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname IN ('backend_gateway', 'backend_app', 'backend_admin') AND NOT rolcanlogin AND NOT rolsuper AND rolconfig IS NULL")" 3
check "backend_definer has no members, no memberships and no login, whatever the roles file says" \
  is "$(fq -d postgres -c "SELECT count(*) FROM pg_auth_members a JOIN pg_roles r ON r.rolname = 'backend_definer' AND r.oid IN (a.roleid, a.member)")|$(fq -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = 'backend_definer' AND rolcanlogin")" "0|0"
check "the other roles of the file are created (intruder, from the doctored lines)" \
  is "$(fq -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = 'intruder' AND rolcanlogin")" 1
check "the report names what was created and what was kept" \
  bash -c "grep -q 'created [1-9][0-9]* role(s) (.*backend_gateway_login' '$tmp/fresh.out' && grep -q 'kept 1 existing role(s) as they are (postgres)' '$tmp/fresh.out'"

# The real gateway, on the new server, with the restored login and its
# password (GATEWAY_DSN names the test cluster's; the later port= and
# passfile= win; the password file names the port).
(umask 077; printf '127.0.0.1:%s:*:backend_gateway_login:%s\n' "$fport" "$(gateway_password)" > "$fdir/gateway.pgpass")
gateway/backend-gateway --listen 127.0.0.1:$fgport --pool 2 --threads 2 \
  --database "$GATEWAY_DSN port=$fport passfile=$fdir/gateway.pgpass" \
  >"$fdir/gateway.log" 2>"$fdir/gateway.err" &
gw_pid=$!
FURL=http://127.0.0.1:$fgport
wait_http "$FURL/health" 100
check "the gateway logs in to the new server with the restored login (/health 200)" \
  is "$(curl -s -o /dev/null -w '%{http_code}' "$FURL/health")" 200
check "... the new server checks that login's password (a wrong one is refused)" \
  bash -c "! PGPASSWORD=wrong psql -X -h 127.0.0.1 -p $fport -U backend_gateway_login -d backend_db -c 'SELECT 1' >/dev/null 2>&1"
if [ -n "$DEMO_CLIENT_ID" ]; then
  res=$(curl -s -u "$DEMO_CLIENT_ID:$DEMO_CLIENT_SECRET" -d grant_type=client_credentials -d scope=read "$FURL/t/demo/oauth/token")
  check "the demo client gets a token from the restored server (client credentials)" grep -q '"access_token"' <<<"$res"
  token=$(curl -s -u "$DEMO_CLIENT_ID:$DEMO_CLIENT_SECRET" -d grant_type=password -d username=owner@demo.test \
            -d password=demo-password -d 'scope=read profile' "$FURL/t/demo/oauth/token" | sed -nE 's/.*"access_token": ?"([^"]+)".*/\1/p')
  check "the demo owner signs in with the restored password (password grant) and /me answers" \
    grep -q 'owner@demo.test' <<<"$(curl -s -H "Authorization: Bearer $token" "$FURL/t/demo/api/v1/me")"
  if [ -n "$old_token" ]; then
    check "a token issued by the old server before the backup is still active on the new one" \
      grep -q '"active": *true' <<<"$(curl -s -u "$DEMO_CLIENT_ID:$DEMO_CLIENT_SECRET" -d "token=$old_token" "$FURL/t/demo/oauth/introspect")"
  else
    skip "old token on the new server" "no gateway of make test to issue one (BF_URL)"
  fi
else
  skip "tokens from the restored gateway" "no demo client ($demo_env; scripts/demo.sh)"
fi

# Roles again on a server that has them all: idempotent.
fresh_env scripts/restore_db.sh "$dump" backend_db_again >"$tmp/again.out" 2>&1; rc=$?
check "a second restore on the same server creates no role and succeeds" \
  bash -c "[ $rc -eq 0 ] && grep -q 'created 0 role(s)' '$tmp/again.out'"
summary
