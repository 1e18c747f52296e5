#!/usr/bin/env bash
# The extension refuses to work unless preloaded: a second throw-away
# cluster without shared_preload_libraries must fail CREATE EXTENSION with
# the hint, and must not let a placeholder setting stand in for the context.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
port=$((PGPORT + 7))
dir=$BUILD/preload-$port
cleanup() { as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
rm -rf "$dir"; mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
bf_initdb "$dir/data"
as_pg "$BINDIR/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses='' -c unix_socket_permissions=0700" -l "$dir/log" -w start >/dev/null
out=$(psql -X -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE EXTENSION backend_framework CASCADE" 2>&1 || true)
echo "$out"
grep -q 'must be loaded via shared_preload_libraries' <<<"$out"
grep -q "HINT:  Add backend_framework to shared_preload_libraries" <<<"$out"
echo "preload check: refused with a hint, as expected"
