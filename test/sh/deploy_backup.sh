#!/usr/bin/env bash
# Deployment, part 4: scripts/backup_db.sh and scripts/restore_db.sh against
# the running test cluster (standard PG* variables, BACKUP_DIR in a temp dir).
# Three backups with BACKUP_KEEP=2 leave the newest two, in pg_dump's custom
# format; the newest restores into a new database with the same row counts in
# every table of the extension's schemas (tenancy.tenants first of all) and
# the application's; restore refuses a non-empty database and a non-dump;
# PG_DUMP/PG_RESTORE/PSQL as commands (how `make backup` reaches a container).
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
export PATH=$BINDIR:$PATH                 # the cluster's own pg_dump / pg_restore

tmp=$(mktemp -d /tmp/bf-deploy-backup.XXXXXX)
target=bf_deploy_restore_$$
src=bf_deploy_source_$$
cleanup() {
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS $target" -c "DROP DATABASE IF EXISTS $src" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
is() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
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
check "BACKUP_KEEP=2 keeps the newest two dumps" is "${left[*]}" "$(basename "${files[1]}") $(basename "${files[2]}")"
check "dump names are <db>-<UTC time>.dump" bash -c "[[ '$(basename "${files[2]}")' =~ ^$db-[0-9]{8}T[0-9]{6}Z\.dump$ ]]"
check "dumps are readable by their owner only (umask 077)" is "$(stat -c %a "${files[2]}")" 600
check "dumps are pg_dump custom format (pg_restore --list)" pg_restore --list "${files[2]}" -f "$tmp/toc"
check "no partial file left" bash -c "! ls '$BACKUP_DIR' | grep -q partial"

# Row counts of every ordinary table, as a superuser (RLS does not apply).
counts() {
  q -d "$1" <<'SQL'
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
check "BACKUP_KEEP=0 keeps every dump" is "$(ls -1 "$BACKUP_DIR" | wc -l)" 3
summary
