#!/usr/bin/env bash
# Restores a backup made by scripts/backup_db.sh into a database, on the same
# server or on a new one:
#   scripts/restore_db.sh FILE [DATABASE]
#   make restore FILE=backups/backend_db-....dump [DB=name]   (Compose database)
# DATABASE defaults to PGDATABASE (default backend_db) and is created when
# missing. An existing database must be empty, unless RESTORE_CLEAN=1: then
# the objects in the dump are dropped first (pg_restore --clean --if-exists).
#
# Roles first: the roles file beside the dump (<db>-<time>.roles.sql[.age],
# or ROLES_FILE=...; RESTORE_ROLES=0 skips it) is applied before the dump, so
# that owners, grants and the gateway's login exist on a new server. Only
# roles missing on the server are created; an existing role is never changed
# (the superuser keeps its password, a login made by the new server keeps
# its own). The extension's roles backend_gateway, backend_app,
# backend_admin and backend_definer are never taken from the file: CREATE
# EXTENSION makes them; a restored role gets its memberships of
# backend_gateway/app/admin back, and nobody becomes a member of, nor is
# made a member by, backend_definer, whatever the file says. Any statement of
# the file that is not one pg_dumpall --roles-only writes is refused.
#
# All or nothing: the dump is restored in one transaction; on any failure the
# database this run created and the roles it created are dropped again.
#
# Encrypted backups (….age) are decrypted to a pipe with BACKUP_KEY (the age
# identity file they were made with; AGE names the command, default age).
# Connection: PGHOST, PGPORT, PGUSER, PGPASSWORD as for backup_db.sh; the user
# must be a superuser (the dump creates the extensions). The server must
# preload backend_framework (shared_preload_libraries). PG_RESTORE and PSQL
# name the commands (split on spaces; the dump and the SQL go to their
# standard input), so they may run in the Compose container, as `make
# restore` does.
set -euo pipefail

file=${1:?usage: restore_db.sh FILE [DATABASE]}
db=${2:-${PGDATABASE:-backend_db}}
read -r -a restore_cmd <<<"${PG_RESTORE:-pg_restore}"
read -r -a psql_cmd <<<"${PSQL:-psql}"
read -r -a age_cmd <<<"${AGE:-age}"
BACKUP_KEY=${BACKUP_KEY:-}

[ -r "$file" ] || { echo "restore_db: cannot read $file" >&2; exit 2; }
base=${file%.age}; base=${base%.dump}
roles=${ROLES_FILE:-}
if [ "${RESTORE_ROLES:-1}" = 1 ] && [ -z "$roles" ]; then
  for r in "$base.roles.sql.age" "$base.roles.sql"; do [ -e "$r" ] && { roles=$r; break; }; done
fi
[ "${RESTORE_ROLES:-1}" = 1 ] || roles=""
if [ -n "$roles" ] && [ ! -r "$roles" ]; then echo "restore_db: cannot read the roles file $roles" >&2; exit 2; fi
case "$file $roles" in *.age*)
  [ -n "$BACKUP_KEY" ] || { echo "restore_db: $file is encrypted: set BACKUP_KEY to its age identity file" >&2; exit 2; }
  [ -r "$BACKUP_KEY" ] || { echo "restore_db: cannot read the key file BACKUP_KEY=$BACKUP_KEY" >&2; exit 2; }
esac

umask 077                                   # the role statements below hold password hashes
work=$(mktemp -d "${TMPDIR:-/tmp}/restore_db.XXXXXX")
created_db=0 roles_created=0 finished=0
q() { "${psql_cmd[@]}" -X -At --no-password -v ON_ERROR_STOP=1 "$@"; }
# Names go through psql variables and format(%I/%L), never spliced by the shell.
undo() {
  [ "$finished" = 1 ] && { rm -rf "$work"; return; }
  if [ "$created_db" = 1 ]; then
    echo "SELECT format('DROP DATABASE IF EXISTS %I', :'db') \gexec" | q -q -v db="$db" -d postgres >/dev/null 2>&1 \
      && echo "restore_db: dropped the database $db it had created" >&2 \
      || echo "restore_db: could not drop the database $db it had created; drop it by hand" >&2
  fi
  if [ "$roles_created" = 1 ]; then
    # One statement at a time: a role that cannot go (it owns something now) stays, and is named.
    while IFS= read -r -d '' stmt; do
      printf '%s\n' "$stmt" | q -q -d postgres >/dev/null 2>&1 || echo "restore_db: could not undo: $stmt" >&2
    done < "$work/undo"
    echo "restore_db: dropped the roles it had created" >&2
  fi
  rm -rf "$work"
}
trap undo EXIT
trap 'exit 130' INT TERM

# unseal FILE: its plain content on standard output; age checks the whole
# file (a wrong key, a truncated or modified file fails).
unseal() {
  case $1 in
    *.age) "${age_cmd[@]}" --decrypt --identity "$BACKUP_KEY" "$1" ;;
    *) cat "$1" ;;
  esac
}
# Verify before touching the server: the archive's table of contents reads
# (pg_restore --list; the rest is drained so age reads the file to its end).
if ! unseal "$file" 2>"$work/unseal.err" \
     | { "${restore_cmd[@]}" --list >/dev/null 2>&1; rc=$?; cat >/dev/null; exit $rc; }; then
  if [ -s "$work/unseal.err" ]; then
    echo "restore_db: cannot decrypt $file (wrong BACKUP_KEY, or the file is truncated or was modified): $(head -1 "$work/unseal.err")" >&2
  else
    echo "restore_db: $file is not a pg_dump custom-format archive (pg_restore --list cannot read it)" >&2
  fi
  exit 2
fi

# The roles file, parsed by a small lexer into the statements pg_dumpall
# writes, sorted into: roles to create now (missing on the server, not the
# extension's), memberships and parameter grants of those roles (after the
# dump, when CREATE EXTENSION has made the extension's roles), and DROP ROLE
# statements to undo the creations. Anything else is refused.
if [ -n "$roles" ]; then
  # Roles on the server, one per line, \ and newline escaped as the lexer does.
  echo "SELECT replace(replace(rolname, '\\', '\\\\'), chr(10), '\\n') FROM pg_catalog.pg_roles" \
    | q -d postgres > "$work/existing"
  unseal "$roles" 2>"$work/unseal.err" | awk -v existing="$work/existing" -v pre="$work/pre.sql" -v post="$work/post.sql" -v undo="$work/undo" \
      -v report="$work/report" -f <(cat <<'AWK'
function fail(msg) { printf "restore_db: roles file line %d: %s\n", NR, msg > "/dev/stderr"; bad = 1; exit 1 }
function name(i,   s) {                     # the role name a token stands for, escaped
  if (ty[i] == "w") s = tolower(tk[i])
  else if (ty[i] == "q") { s = substr(tk[i], 2, length(tk[i]) - 2); gsub(/""/, "\"", s) }
  else fail("a role name was expected, not " tk[i])
  return esc(s)
}
function esc(s,   i, c, o) {                  # \ and newline escaped, as the server's list is
  o = ""
  for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); o = o (c == "\\" ? "\\\\" : c == "\n" ? "\\n" : c) }
  return o
}
function K(i) { return ty[i] == "w" ? toupper(tk[i]) : "" }
function text(   i, s) { s = tk[1]; for (i = 2; i <= n; i++) s = s " " tk[i]; return s ";\n" }
function role_stmt(i,   r) {                # a statement about one role: create it or skip it
  r = name(i)
  if (r in builtin) { nbuiltin++; return }
  if (r in have && !(r in made)) { keep[r] = 1; return }
  if (K(1) == "CREATE") { made[r] = 1; nmade++; madelist = madelist (nmade > 1 ? ", " : "") r
                          printf "DROP ROLE IF EXISTS %s;%c", tk[i], 0 > undo }
  printf "%s", text() > pre
}
function statement(   i, j, r) {
  if (n == 0) return
  for (i = 1; i <= n; i++) if (ty[i] == "w" && tk[i] ~ /^[0-9]/) ty[i] = "n"
  if (K(1) == "SET" && n == 4 && (tk[3] == "=" || K(3) == "TO")) {
    if (tk[2] == "standard_conforming_strings" && tk[4] != "on" && tk[4] != "'on'") fail("standard_conforming_strings must stay on")
    if (tk[2] !~ /^(default_transaction_read_only|client_encoding|standard_conforming_strings)$/) fail("unexpected SET " tk[2])
    printf "%s", text() > pre; printf "%s", text() > post; return
  }
  if ((K(1) == "SET" || K(1) == "RESET") && K(2) == "SESSION" && K(3) == "AUTHORIZATION") return  # grantor only
  if (K(1) == "CREATE" && K(2) == "ROLE" && n == 3) { role_stmt(3); return }
  if (K(1) == "ALTER" && K(2) == "ROLE" && n >= 5 && (K(4) == "WITH" || K(4) == "SET")) {
    for (i = 5; i <= n; i++) if (ty[i] == "q" && K(4) == "WITH") fail("unexpected " tk[i])
    role_stmt(3); return
  }
  if (K(1) == "COMMENT" && K(2) == "ON" && K(3) == "ROLE" && K(5) == "IS" && n == 6) { role_stmt(4); return }
  if (K(1) == "SECURITY" && K(2) == "LABEL" && K(3) == "FOR" && K(5) == "ON" && K(6) == "ROLE" && K(8) == "IS" && n == 9) { role_stmt(7); return }
  if (K(1) == "GRANT" && K(3) == "ON" && K(4) == "PARAMETER") {     # GRANT privs ON PARAMETER p TO grantee
    for (j = 5; j <= n && K(j) != "TO"; j++) ;
    if (j + 1 > n || (j + 1 < n && !(K(j + 2) == "WITH" && K(j + 3) == "GRANT" && K(j + 4) == "OPTION" && n == j + 4)))
      fail("unexpected parameter grant")
    r = name(j + 1)
    if (r in made) printf "%s", text() > post; else nskipgrant++
    return
  }
  if (K(1) == "GRANT" && K(3) == "TO" && n >= 4) {                  # GRANT role TO member [WITH …] [GRANTED BY g]
    for (i = 5; i <= n; i++) {
      if (K(i) == "GRANTED" && K(i + 1) == "BY" && i + 2 == n) { name(n); break }
      if (ty[i] != "w" && tk[i] != ",") fail("unexpected " tk[i] " in a role grant")
    }
    r = name(4)
    if ((r in made) && name(2) != "backend_definer") printf "%s", text() > post; else nskipgrant++
    return
  }
  fail("not a statement of pg_dumpall --roles-only: " substr(text(), 1, 60))
}
BEGIN {
  while ((getline line < existing) > 0) have[line] = 1
  split("backend_gateway backend_app backend_admin backend_definer", b, " "); for (i in b) builtin[b[i]] = 1
  n = 0; st = 0; complete = 0
}
{
  if (st == 0 && n == 0 && $0 ~ /^\\/) {          # psql meta-commands: only pg_dumpall's \restrict pair
    if ($0 ~ /^\\(un)?restrict [A-Za-z0-9]+$/) next
    fail("unexpected psql command " $0)
  }
  if ($0 == "-- PostgreSQL database cluster dump complete") complete = 1
  line = $0; len = length(line)
  if (st != 0) tk[n] = tk[n] "\n"                 # a literal or quoted name goes on
  for (p = 1; p <= len; p++) {
    c = substr(line, p, 1)
    if (st == 1 || st == 2) {                      # inside '…' (1) or "…" (2); a doubled quote is one
      q = st == 1 ? "'" : "\""
      tk[n] = tk[n] c
      if (c == q) { if (substr(line, p + 1, 1) == q) { tk[n] = tk[n] q; p++ } else st = 0 }
      continue
    }
    if (c == " " || c == "\t" || c == "\r") { w = 0; continue }
    if (c == "-" && substr(line, p + 1, 1) == "-") break
    if (c ~ /[A-Za-z0-9_]/) { if (w) tk[n] = tk[n] c; else { n++; tk[n] = c; ty[n] = "w"; w = 1 }; continue }
    w = 0
    if (c == "'") { n++; tk[n] = c; ty[n] = "s"; st = 1; continue }
    if (c == "\"") { n++; tk[n] = c; ty[n] = "q"; st = 2; continue }
    if (c == "=" || c == "," || c == ".") { n++; tk[n] = c; ty[n] = "p"; continue }
    if (c == ";") { statement(); n = 0; continue }
    fail("unexpected character " c)
  }
  w = 0
}
END {
  if (bad) exit 1
  if (st != 0 || n != 0) fail("the file ends inside a statement")
  if (!complete) fail("the file is incomplete (no closing line of pg_dumpall)")
  for (r in keep) { nkeep++; keeplist = keeplist (nkeep > 1 ? ", " : "") r }
  printf "created %d role(s)%s; kept %d existing role(s) as they are%s; ignored %d statement(s) about the extension's own roles and %d grant(s) to roles not created here\n", \
    nmade, nmade ? " (" madelist ")" : "", nkeep, nkeep ? " (" keeplist ")" : "", nbuiltin, nskipgrant > report
}
AWK
) || { if [ -s "$work/unseal.err" ]; then echo "restore_db: cannot decrypt $roles: $(head -1 "$work/unseal.err")" >&2
         else echo "restore_db: the roles file $roles was refused; nothing was changed" >&2; fi; exit 2; }
fi

# Checks done: from here on, a failure undoes what this run made.
exists=$(echo "SELECT count(*) FROM pg_database WHERE datname = :'db'" | q -v db="$db" -d postgres)
if [ "$exists" = 0 ]; then
  echo "SELECT format('CREATE DATABASE %I', :'db') \gexec" | q -q -v db="$db" -d postgres >/dev/null
  created_db=1
  echo "restore_db: created database $db" >&2
elif [ "${RESTORE_CLEAN:-0}" != 1 ]; then
  tables=$(echo "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')" | q -d "$db")
  if [ "$tables" != 0 ]; then
    echo "restore_db: database $db is not empty ($tables tables); restore into a new name, or set RESTORE_CLEAN=1 to replace its contents" >&2
    exit 3
  fi
fi

if [ -n "$roles" ]; then
  [ -s "$work/undo" ] && roles_created=1
  q -q -d postgres --single-transaction -f - < "$work/pre.sql" >/dev/null \
    || { echo "restore_db: creating the roles of $roles failed" >&2; roles_created=0; exit 1; }
  echo "restore_db: roles from $roles: $(cat "$work/report")" >&2
else
  echo "restore_db: no roles file beside $file (…roles.sql): the roles the dump names must exist on this server" >&2
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
unseal "$file" | "${restore_cmd[@]}" "${opts[@]}" \
  || { echo "restore_db: pg_restore failed; nothing of $file was restored" >&2; exit 1; }

# Memberships of the restored roles, now that the extension's roles exist.
if [ -n "$roles" ]; then
  q -q -d postgres --single-transaction -f - < "$work/post.sql" >/dev/null \
    || { echo "restore_db: granting the memberships of $roles failed" >&2; exit 1; }
fi
finished=1
echo "restore_db: $file restored into $db" >&2

# backend_definer owns the SECURITY DEFINER functions: it must not log in nor
# have members. This run never makes it so; say so if the server already is.
odd=$(echo "SELECT string_agg(m.rolname || ' is a member of ' || r.rolname, ', ')
              FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
             WHERE 'backend_definer' IN (r.rolname, m.rolname)
            UNION ALL SELECT 'backend_definer can log in' FROM pg_roles WHERE rolname = 'backend_definer' AND rolcanlogin" \
      | q -d postgres | grep -v '^$' || true)
[ -z "$odd" ] || echo "restore_db: warning: $(echo "$odd" | paste -sd ';' -) -- backend_definer should have neither" >&2
