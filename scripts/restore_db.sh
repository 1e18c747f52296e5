#!/usr/bin/env bash
# Restores a dump made by scripts/backup_db.sh into a database.
#   scripts/restore_db.sh FILE [DATABASE]
#   make restore FILE=backups/backend_db-....dump [DB=name]   (Compose database)
# DATABASE defaults to PGDATABASE (default backend_db) and is created when
# missing. An existing database must be empty, unless RESTORE_CLEAN=1: then
# the objects in the dump are dropped first (pg_restore --clean --if-exists).
# Everything happens in one transaction: on any error nothing is restored.
#
# Connection: PGHOST, PGPORT, PGUSER, PGPASSWORD as for backup_db.sh; the user
# must be a superuser (the dump creates the extensions). The server must
# preload backend_framework (shared_preload_libraries). PG_RESTORE and PSQL
# name the commands (split on spaces; the dump goes to pg_restore's standard
# input), so they may run in the Compose container, as `make restore` does.
set -euo pipefail

file=${1:?usage: restore_db.sh FILE [DATABASE]}
db=${2:-${PGDATABASE:-backend_db}}
read -r -a restore_cmd <<<"${PG_RESTORE:-pg_restore}"
read -r -a psql_cmd <<<"${PSQL:-psql}"

[ -r "$file" ] || { echo "restore_db: cannot read $file" >&2; exit 2; }
"${restore_cmd[@]}" --list < "$file" >/dev/null \
  || { echo "restore_db: $file is not a pg_dump custom-format archive" >&2; exit 2; }

q() { "${psql_cmd[@]}" -X -At --no-password -v ON_ERROR_STOP=1 "$@"; }
# Names go through psql variables and format(%I/%L), never spliced by the shell.
exists=$(echo "SELECT count(*) FROM pg_database WHERE datname = :'db'" | q -v db="$db" -d postgres)
if [ "$exists" = 0 ]; then
  echo "SELECT format('CREATE DATABASE %I', :'db') \gexec" | q -q -v db="$db" -d postgres >/dev/null
  echo "restore_db: created database $db" >&2
elif [ "${RESTORE_CLEAN:-0}" != 1 ]; then
  tables=$(echo "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')" | q -d "$db")
  if [ "$tables" != 0 ]; then
    echo "restore_db: database $db is not empty ($tables tables); restore into a new name, or set RESTORE_CLEAN=1 to replace its contents" >&2
    exit 3
  fi
fi

# session_replication_role=replica: rows come back exactly as dumped, without
# firing the extension's triggers again (which would, for instance, create a
# second console client for every tenant restored) or re-checking foreign
# keys mid-load, as pg_restore --disable-triggers does for data-only restores.
# Given in the connection string, so it also reaches a pg_restore in a container.
dbq=${db//\\/\\\\}; dbq=${dbq//\'/\\\'}       # conninfo quoting: \ and ' escaped
opts=(--dbname="dbname='$dbq' options='-c session_replication_role=replica'"
      --no-password --exit-on-error --single-transaction)
[ "${RESTORE_CLEAN:-0}" = 1 ] && opts+=(--clean --if-exists)
"${restore_cmd[@]}" "${opts[@]}" < "$file"
echo "restore_db: $file restored into $db" >&2
