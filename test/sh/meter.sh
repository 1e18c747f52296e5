#!/usr/bin/env bash
# Metering and housekeeping by the extension's worker (issue 11, item 3), on
# a private cluster so the shared one of `make test` is never touched:
#  1. counts are written to tenancy.api_usage within a second;
#  2. kill -9 of the postmaster loses at most the last flush interval's
#     counts (everything counted before the last flush is kept) and never
#     writes a count twice; counting goes on after crash recovery;
#  3. a fast shutdown writes the counts first (SIGTERM of the worker);
#  4. the worker runs oauth.purge_expired() every
#     backend_framework.purge_interval seconds, and not more often; 0 = never.
# Stops what it started by PID.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
source "$ROOT/test/deploy/lib.sh"
port=$(free_port)
dir=$BUILD/meter-$port; data=$dir/data
pg() { as_pg "$BINDIR/pg_ctl" -D "$data" -o "-p $port" -l "$dir/postgres.log" "$@"; }
cleanup() { [ -f "$data/postmaster.pid" ] && pg -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
q() { psql -X -At -h "$dir" -p "$port" -U postgres -d meter -v ON_ERROR_STOP=1 "$@"; }

rm -rf "$dir"; mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
bf_initdb "$data"
cat >> "$data/postgresql.conf" <<CONF
shared_preload_libraries = 'backend_framework'
listen_addresses = ''
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
backend_framework.purge_interval = 2
CONF
pg -w start >/dev/null
psql -qX -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE meter"
q -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION backend_framework CASCADE"
T=$(q -c "SELECT tenant_id FROM tenancy.register_tenant('meter', 'Meter', 'owner@meter.test', 'owner-password')")
calls() { q -c "SELECT count(tenancy.count_api_call('$T')) FROM generate_series(1, $1)" >/dev/null; }
written() { q -c "SELECT coalesce(sum(calls), 0) FROM tenancy.api_usage WHERE tenant_id = '$T'"; }
counted() { q -c "SELECT tenancy.api_calls_this_month('$T')"; }
wait_written() { # N: until N calls are written (at most 10 s)
  local i; for i in $(seq 100); do [ "$(written)" = "$1" ] && return 0; sleep 0.1; done; return 1
}
worker() { q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'backend_framework worker' AND datname = 'meter'"; }

# ---- 1. the flush -----------------------------------------------------------
calls 1                                   # the first metered call starts the worker
for i in $(seq 100); do [ "$(worker)" = 1 ] && break; sleep 0.1; done
check "the first metered call starts the database's worker" test "$(worker)" = 1
calls 200
check "counted at once (201)" test "$(counted)" = 201
check "written to tenancy.api_usage within a second or so" wait_written 201
echo "written: $(written)"

# ---- 2. kill -9 of the postmaster ---------------------------------------------
calls 300
check "a second later the 300 are written too (501)" wait_written 501
sleep 1.2                                 # one more interval: nothing pending
calls 250                                 # counted within the last interval: may be lost
pm=$(head -1 "$data/postmaster.pid"); kids=$(pgrep -P "$pm" || true)
kill -9 "$pm"
for i in $(seq 30); do alive=0; for k in $kids; do kill -0 "$k" 2>/dev/null && alive=$((alive + 1)); done
  [ "$alive" -eq 0 ] && break; sleep 0.1; done
for k in $kids; do kill -9 "$k" 2>/dev/null || true; done
for i in $(seq 50); do pg -w start >/dev/null 2>&1 && break; sleep 0.2; done
after=$(written)
echo "after kill -9 and crash recovery: $after written (501 before the last interval, 751 counted)"
check "kill -9 loses at most the last interval (>= 501 written)" test "$after" -ge 501
check "and never writes a count twice (<= 751)" test "$after" -le 751
calls 10
check "counting goes on after recovery (+10, written)" wait_written $((after + 10))

# ---- 3. a fast shutdown writes the counts first ----------------------------
before=$(written)
calls 40
pg -m fast -w stop >/dev/null
pg -w start >/dev/null
check "a fast shutdown writes what was counted (+40)" test "$(written)" = $((before + 40))

# ---- 4. housekeeping: oauth.purge_expired() every purge_interval seconds -----
calls 1                                   # start this incarnation's worker
for i in $(seq 100); do [ "$(worker)" = 1 ] && break; sleep 0.1; done
expired() { # inserts an access token that expired a minute ago
  q -q -c "INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, scope, expires_at)
           VALUES ('$T', oauth.token_digest(oauth.random_token('access')), 'access', 'console', 'read', now() - interval '1 minute')"
}
left() { q -c "SELECT count(*) FROM oauth.tokens WHERE tenant_id = '$T' AND expires_at < now()"; }
gone() { local i; for i in $(seq 60); do [ "$(left)" = 0 ] && return 0; sleep 0.1; done; return 1; }
expired; expired
check "purge_interval = 2: expired tokens are purged within the interval" gone
q -q -c "ALTER SYSTEM SET backend_framework.purge_interval = 60" -c "SELECT pg_reload_conf()" >/dev/null
sleep 3                                   # the worker reloads; its last purge is at most 2 s old
expired
sleep 4
check "purge_interval = 60: not purged 4 s later (the interval is respected)" test "$(left)" = 1
q -q -c "ALTER SYSTEM SET backend_framework.purge_interval = 1" -c "SELECT pg_reload_conf()" >/dev/null
check "purge_interval = 1: purged at the next run" gone
q -q -c "ALTER SYSTEM SET backend_framework.purge_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
expired
sleep 3
check "purge_interval = 0: never purged" test "$(left)" = 1
summary
