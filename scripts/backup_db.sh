#!/usr/bin/env bash
# Dumps one database with pg_dump in custom format (compressed, restorable
# table by table with pg_restore) to BACKUP_DIR/<db>-<UTC timestamp>.dump,
# and the cluster's roles (pg_dumpall --roles-only: logins, their password
# hashes, memberships) beside it as <db>-<UTC timestamp>.roles.sql, so that
# scripts/restore_db.sh can rebuild both on a new server. Then it keeps only
# the newest BACKUP_KEEP backups of that database.
#
# Connection: the standard libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE,
# PGPASSWORD (or ~/.pgpass / PGPASSFILE), so it works against any cluster:
#   BACKUP_DIR=/srv/backups BACKUP_KEEP=14 PGHOST=db.internal PGUSER=postgres scripts/backup_db.sh
# Saving the roles reads pg_authid, so PGUSER must be a superuser (or set
# BACKUP_ROLES=0 to skip the roles file).
# PG_DUMP, PG_DUMPALL and PG_RESTORE are the commands to run (defaults
# pg_dump, pg_dumpall, pg_restore; split on spaces). Their output is read from
# standard output (pg_restore reads standard input), so they may run
# elsewhere, e.g. in the Compose database's container (as `make backup` does):
#   PG_DUMP="docker compose --env-file .env -f docker/docker-compose.yml exec -T postgres pg_dump -U postgres" scripts/backup_db.sh
# Settings: BACKUP_DIR (default ./backups), BACKUP_KEEP (default 7; 0 keeps
# all), PGDATABASE (default backend_db), BACKUP_ROLES (default 1),
# BACKUP_KEY: an age identity file (age-keygen -o FILE); when set, both files
# are encrypted to it and named ….dump.age / ….roles.sql.age (AGE names the
# age command, default age).
# Every file is verified before it counts: the dump with pg_restore --list
# (decrypted to a pipe when encrypted), the roles file by pg_dumpall's closing
# line. Prints the new dump's path on stdout.
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-./backups}
BACKUP_KEEP=${BACKUP_KEEP:-7}
BACKUP_ROLES=${BACKUP_ROLES:-1}
BACKUP_KEY=${BACKUP_KEY:-}
export PGDATABASE=${PGDATABASE:-backend_db}
read -r -a dump_cmd <<<"${PG_DUMP:-pg_dump}"
read -r -a dumpall_cmd <<<"${PG_DUMPALL:-pg_dumpall}"
read -r -a restore_cmd <<<"${PG_RESTORE:-pg_restore}"
read -r -a age_cmd <<<"${AGE:-age}"

die() { echo "backup_db: $*" >&2; exit 2; }
case $BACKUP_KEEP in ''|*[!0-9]*) die "BACKUP_KEEP must be a number, not '$BACKUP_KEEP'" ;; esac
case $BACKUP_ROLES in 0|1) ;; *) die "BACKUP_ROLES must be 0 or 1, not '$BACKUP_ROLES'" ;; esac
case $PGDATABASE in *[!A-Za-z0-9_.-]*) die "unusual database name '$PGDATABASE'" ;; esac
ext=""
if [ -n "$BACKUP_KEY" ]; then
  [ -r "$BACKUP_KEY" ] || die "cannot read the key file BACKUP_KEY=$BACKUP_KEY"
  command -v "${age_cmd[0]}" >/dev/null || die "BACKUP_KEY is set but '${age_cmd[0]}' is not installed (apt-get install age)"
  grep -q '^AGE-SECRET-KEY-' "$BACKUP_KEY" || die "$BACKUP_KEY is not an age identity file (make one with: age-keygen -o $BACKUP_KEY)"
  [ -z "$(find "$BACKUP_KEY" -perm /077)" ] || echo "backup_db: warning: $BACKUP_KEY is readable by others (chmod 600 it)" >&2
  ext=.age
fi
mkdir -p "$BACKUP_DIR"
umask 077                                   # dumps and roles hold password hashes: owner only

# One name per second; the names sort by time.
stamp() { echo "$BACKUP_DIR/$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ)"; }
base=$(stamp)
while compgen -G "$base.*" >/dev/null; do sleep 1; base=$(stamp); done
file=$base.dump$ext
roles=$base.roles.sql$ext
trap 'rm -f "$file.partial" "$roles.partial"' EXIT

# seal: standard input to FILE, encrypted when BACKUP_KEY is set.
seal() { if [ -n "$BACKUP_KEY" ]; then "${age_cmd[@]}" --encrypt --identity "$BACKUP_KEY" -o "$1"; else cat > "$1"; fi; }
# unseal FILE: its plain content on standard output. age authenticates the
# whole file: a wrong key, a truncated or modified file fails here.
unseal() { if [ -n "$BACKUP_KEY" ]; then "${age_cmd[@]}" --decrypt --identity "$BACKUP_KEY" "$1"; else cat "$1"; fi; }

# Written under temporary names and renamed when complete and verified, so a
# failed or interrupted run never counts as a backup (nor pushes a good one out).
"${dump_cmd[@]}" --format=custom --compress=6 --no-password "$PGDATABASE" | seal "$file.partial"
[ -s "$file.partial" ] || { echo "backup_db: pg_dump wrote nothing" >&2; exit 1; }
# Verify: the archive's table of contents reads back (pg_restore --list stops
# after it; the rest is drained so that age checks the file to its end).
if ! entries=$(unseal "$file.partial" | { "${restore_cmd[@]}" --list | grep -c '^[0-9]'; rc=("${PIPESTATUS[@]}"); cat >/dev/null; exit "${rc[0]}"; }) \
   || [ "${entries:-0}" -eq 0 ]; then
  echo "backup_db: verify failed: pg_restore --list cannot read the new dump" >&2; exit 1
fi
if [ "$BACKUP_ROLES" = 1 ]; then
  "${dumpall_cmd[@]}" --roles-only --no-password | seal "$roles.partial"
  unseal "$roles.partial" | tail -n 3 | grep -q '^-- PostgreSQL database cluster dump complete' \
    || { echo "backup_db: verify failed: the roles file is incomplete" >&2; exit 1; }
  mv "$roles.partial" "$roles"              # first: a dump is never there without its roles
fi
mv "$file.partial" "$file"
trap - EXIT
echo "backup_db: $(du -h "$file" | cut -f1) written to $file ($entries archive entries, verified)" >&2
[ "$BACKUP_ROLES" = 1 ] && echo "backup_db: roles written to $roles" >&2

# Keep the newest BACKUP_KEEP backups of this database (each dump with its roles file).
if [ "$BACKUP_KEEP" -gt 0 ]; then
  ls -1 "$BACKUP_DIR" | grep -E "^$PGDATABASE-[0-9]{8}T[0-9]{6}Z\.dump(\.age)?$" | sort -r | tail -n +"$((BACKUP_KEEP + 1))" \
  | while IFS= read -r f; do
      b=${f%.age}; b=${b%.dump}
      rm -f -- "$BACKUP_DIR/$f" "$BACKUP_DIR/$b.roles.sql" "$BACKUP_DIR/$b.roles.sql.age" \
        && echo "backup_db: removed old $BACKUP_DIR/$f (and its roles file)" >&2
    done
fi
echo "$file"
