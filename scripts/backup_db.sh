#!/usr/bin/env bash
# Dumps one database with pg_dump in custom format (compressed, restorable
# table by table with pg_restore) to BACKUP_DIR/<db>-<UTC timestamp>.dump,
# then keeps only the newest BACKUP_KEEP dumps of that database.
#
# Connection: the standard libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE,
# PGPASSWORD (or ~/.pgpass / PGPASSFILE), so it works against any cluster:
#   BACKUP_DIR=/srv/backups BACKUP_KEEP=14 PGHOST=db.internal PGUSER=postgres scripts/backup_db.sh
# PG_DUMP is the command to run (default pg_dump, split on spaces); the dump
# is read from its standard output, so it may run elsewhere, e.g. in the
# Compose database's container (this is what `make backup` does):
#   PG_DUMP="docker compose --env-file .env -f docker/docker-compose.yml exec -T postgres pg_dump -U postgres" scripts/backup_db.sh
# Settings: BACKUP_DIR (default ./backups), BACKUP_KEEP (default 7; 0 keeps
# all), PGDATABASE (default backend_db). Prints the new dump's path on stdout.
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-./backups}
BACKUP_KEEP=${BACKUP_KEEP:-7}
export PGDATABASE=${PGDATABASE:-backend_db}
read -r -a dump_cmd <<<"${PG_DUMP:-pg_dump}"

case $BACKUP_KEEP in ''|*[!0-9]*) echo "backup_db: BACKUP_KEEP must be a number, not '$BACKUP_KEEP'" >&2; exit 2 ;; esac
case $PGDATABASE in *[!A-Za-z0-9_.-]*) echo "backup_db: unusual database name '$PGDATABASE'" >&2; exit 2 ;; esac
mkdir -p "$BACKUP_DIR"
umask 077                                   # dumps hold password hashes: owner only

# One name per second; the names sort by time.
file=$BACKUP_DIR/$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump
while [ -e "$file" ] || [ -e "$file.partial" ]; do
  sleep 1; file=$BACKUP_DIR/$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump
done
tmp=$file.partial
trap 'rm -f "$tmp"' EXIT

# Written under a temporary name and renamed when complete, so a failed or
# interrupted dump never counts as a backup (nor pushes a good one out).
"${dump_cmd[@]}" --format=custom --compress=6 --no-password "$PGDATABASE" > "$tmp"
[ -s "$tmp" ] || { echo "backup_db: pg_dump wrote nothing" >&2; exit 1; }
mv "$tmp" "$file"
trap - EXIT
echo "backup_db: $(du -h "$file" | cut -f1) written to $file" >&2

# Keep the newest BACKUP_KEEP dumps of this database.
if [ "$BACKUP_KEEP" -gt 0 ]; then
  ls -1 "$BACKUP_DIR" | grep -E "^$PGDATABASE-[0-9]{8}T[0-9]{6}Z\.dump$" | sort -r | tail -n +"$((BACKUP_KEEP + 1))" \
  | while IFS= read -r f; do
      rm -f -- "$BACKUP_DIR/$f" && echo "backup_db: removed old $BACKUP_DIR/$f" >&2
    done
fi
echo "$file"
