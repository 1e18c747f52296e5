#!/usr/bin/env bash
# Faults (issue 7, item 5), on a private second cluster and gateway so the
# shared ones of `make test` are never touched:
#  1. write load (tenants, users, clients, notes through the gateway, several
#     clients) and `kill -9` of the postmaster in the middle of it: during the
#     outage the gateway answers 503 with Retry-After within its --timeout and
#     stays alive; after `pg_ctl start` (crash recovery) it serves again within
#     5 s; every write that got a 2xx is in the database (lost must be 0).
#  2. SIGTERM of the gateway under load: every request fully sent before the
#     signal gets its answer (no reset), and the gateway exits 0.
# Prints the figures. Stops what it started by PID.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
port=$((PGPORT + 5)); gport=$((PGPORT + 1005)); TIMEOUT=3; WORKERS=4
dir=$BUILD/faults-$port; data=$dir/data
URL=http://127.0.0.1:$gport
LOAD=$ROOT/test/soak/faults-load.mjs
gw_pid=""; load_pid=""
pg() { as_pg "$BINDIR/pg_ctl" -D "$data" -o "-p $port" -l "$dir/postgres.log" "$@"; }
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null; [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null
  [ -n "$gw_pid" ] && wait "$gw_pid" 2>/dev/null
  [ -f "$data/postmaster.pid" ] && pg -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
now() { date +%s%3N; }
fail() { echo "FAIL: $*"; exit 1; }
psqlf() { psql -X -h "$dir" -p "$port" -U postgres -d faults -v ON_ERROR_STOP=1 "$@"; }

# ---- own cluster + database + gateway ----------------------------------
rm -rf "$dir"; mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
as_pg "$BINDIR/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
cat >> "$data/postgresql.conf" <<CONF
shared_preload_libraries = 'backend_framework'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
backend_framework.base_domain = 'localhost'
backend_framework.signup_per_hour = 100000
# The load signs up tenants on the enterprise plan (no limits get in the way);
# only the default plan may be chosen at sign-up.
backend_framework.default_plan = 'enterprise'
CONF
pg -w start >/dev/null
psql -qX -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE faults"
psqlf -q <<'SQL'
CREATE EXTENSION backend_framework CASCADE;
CREATE ROLE faults_gateway LOGIN PASSWORD 'gateway' IN ROLE backend_gateway;
SQL
gateway/backend-gateway --listen 127.0.0.1:$gport --timeout $TIMEOUT --pool 2 --threads 2 \
  --database "host=127.0.0.1 port=$port dbname=faults user=faults_gateway password=gateway" \
  >"$dir/gateway.log" 2>"$dir/gateway.err" &
gw_pid=$!
for i in $(seq 50); do curl -fs "$URL/health" >/dev/null && break; sleep 0.1; done
curl -fs "$URL/health" >/dev/null || fail "gateway did not come up"
echo "faults: PostgreSQL :$port ($dir), gateway :$gport pid $gw_pid (--timeout $TIMEOUT)"

# ---- 1. kill -9 of the postmaster under write load ---------------------
node "$LOAD" write "$URL" "$dir" $WORKERS >"$dir/load.out" 2>&1 &
load_pid=$!
for i in $(seq 200); do [ -f "$dir/ready" ] && break; sleep 0.1; done
[ -f "$dir/ready" ] || { cat "$dir/load.out"; fail "load generator did not start"; }
sleep 4
pm=$(head -1 "$data/postmaster.pid")
kids=$(pgrep -P "$pm" || true)          # its backends and workers, by PID
t_kill=$(now); kill -9 "$pm"
echo "killed postmaster $pm (kill -9) under load"
# Busy backends only notice the postmaster's death when they next wait, and
# keep answering a pipelining client meanwhile (and hold the shared memory, so
# no new postmaster can start): give them 3 s, then kill -9 the survivors too,
# as a crash of the whole server would.
for i in $(seq 30); do alive=0; for k in $kids; do kill -0 "$k" 2>/dev/null && alive=$((alive + 1)); done
  [ "$alive" -eq 0 ] && break; sleep 0.1; done
orphans=0; for k in $kids; do kill -0 "$k" 2>/dev/null && { kill -9 "$k" 2>/dev/null; orphans=$((orphans + 1)); }; done
echo "children of the postmaster still running 3 s after its kill -9: $orphans (killed with -9 too)"
t_kill=$(now)
# During the outage: 503 + Retry-After, answered within --timeout, gateway alive.
probes=0; probe_bad=0; worst=0
for i in 1 2 3 4 5 6; do
  sleep 0.5
  res=$(curl -s -o /dev/null -D "$dir/probe.h" -m $((TIMEOUT + 5)) -w '%{http_code} %{time_total}' \
        -H 'Content-Type: application/json' -d '{"slug":"x"}' "$URL/api/v1/tenants" || echo "000 99")
  code=${res% *}; secs=${res#* }; probes=$((probes + 1))
  ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }'); [ "$ms" -gt "$worst" ] && worst=$ms
  if [ "$code" != 503 ] || ! grep -qi '^retry-after: *[0-9]' "$dir/probe.h" || [ "$ms" -gt $(( (TIMEOUT + 1) * 1000 )) ]; then
    probe_bad=$((probe_bad + 1)); echo "outage probe $i: HTTP $code in ${ms} ms, headers: $(tr -d '\r' < "$dir/probe.h" | tr '\n' ' ')"
  fi
done
kill -0 "$gw_pid" 2>/dev/null || fail "gateway died during the outage"
# Old backends notice the postmaster's death and exit; then restart (crash recovery).
for i in $(seq 50); do pg -w start >/dev/null 2>&1 && break; sleep 0.2; done
t_up=$(now)
psqlf -qAt -c 'SELECT 1' >/dev/null || fail "PostgreSQL did not come back"
t_serve=""
while [ $(( $(now) - t_up )) -lt 15000 ]; do
  code=$(curl -s -o "$dir/ping.out" -m 2 -w "%{http_code}" "$URL/api/v1/ping" || true)
  [ "$code" = 200 ] && { t_serve=$(now); break; }
  sleep 0.05
done
[ -n "$t_serve" ] || { echo "last answer: HTTP $code $(cat "$dir/ping.out")"; tail -5 "$dir/gateway.err"; fail "gateway does not serve 15 s after PostgreSQL is back"; }
recover_ms=$((t_serve - t_up))
sleep 3                       # load continues against the recovered database
touch "$dir/stop"; wait "$load_pid" || { cat "$dir/load.out"; fail "load generator failed"; }; load_pid=""
kill -0 "$gw_pid" 2>/dev/null || fail "gateway died"

read -r total ok5xx503 other5xx neterr during_hang < <(node -e '
  const fs = require("fs"); const [f, tk, to] = process.argv.slice(1);
  const L = fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse);
  let s503 = 0, o5 = 0, ne = 0, hang = 0;
  for (const r of L) { if (r.status === 503) s503++; else if (r.status >= 500) o5++; if (r.err) ne++;
    if (r.t1 > +tk && r.t1 - r.t0 > (+to + 1) * 1000) hang++; }
  console.log(L.length, s503, o5, ne, hang);' "$dir/write.jsonl" "$t_kill" "$TIMEOUT")
echo
echo "== kill -9 of the postmaster =="
echo "requests during the write load:            $total"
echo "  503 answers (outage):                      $ok5xx503"
echo "  other 5xx:                                 $other5xx"
echo "  connection errors:                         $neterr"
echo "  answers slower than timeout+1 s (hangs):   $during_hang"
echo "outage probes: $probes, bad: $probe_bad, slowest ${worst} ms (limit $(( (TIMEOUT + 1) * 1000 )) ms)"
echo "gateway serving again ${recover_ms} ms after PostgreSQL accepted connections (limit 5000 ms)"
echo "acknowledged (2xx) durable writes and lost ones after crash recovery:"
lost_total=0; acked_total=0
while IFS='|' read -r kind acked lost; do
  printf '  %-8s acknowledged %5d   lost %d\n' "$kind" "$acked" "$lost"
  acked_total=$((acked_total + acked)); lost_total=$((lost_total + lost))
done < <(psqlf -qAt -f "$dir/verify.sql")
echo "  total    acknowledged $acked_total   lost $lost_total"
rc=0
[ "$lost_total" -eq 0 ] || { echo "FAIL: $lost_total acknowledged writes lost"; rc=1; }
[ "$acked_total" -gt 0 ] || { echo "FAIL: no write was acknowledged"; rc=1; }
[ "$ok5xx503" -gt 0 ] || { echo "FAIL: the load saw no 503 during the outage"; rc=1; }
[ "$probe_bad" -eq 0 ] || { echo "FAIL: $probe_bad outage probes without a prompt 503 + Retry-After"; rc=1; }
[ "$other5xx" -eq 0 ] || { echo "FAIL: 5xx other than 503"; rc=1; }
[ "$during_hang" -eq 0 ] || { echo "FAIL: answers slower than the timeout"; rc=1; }
[ "$recover_ms" -le 5000 ] || { echo "FAIL: recovery took ${recover_ms} ms"; rc=1; }

# ---- 2. SIGTERM of the gateway under load ------------------------------
rm -f "$dir/stop"
node "$LOAD" signup "$URL" "$dir" 1
node "$LOAD" term "$URL" "$dir" 6 >"$dir/term.out" 2>&1 &
load_pid=$!
sleep 2
t_term=$(now); kill -TERM "$gw_pid"
set +e; wait "$gw_pid"; gw_rc=$?; set -e; gw_pid=""
t_exit=$(now)
touch "$dir/stop"; wait "$load_pid"; load_pid=""
read -r sent_before answered_before broken_before after_total after_ans < <(node -e '
  const fs = require("fs"); const [f, tt] = process.argv.slice(1);
  const L = fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse);
  let sb = 0, ab = 0, bb = 0, at = 0, aa = 0;
  for (const r of L) { const before = r.sent !== null && r.sent < +tt;
    if (before) { sb++; if (r.status !== null) ab++; else bb++; } else { at++; if (r.status !== null) aa++; } }
  console.log(sb, ab, bb, at, aa);' "$dir/term.jsonl" "$t_term")
echo
echo "== SIGTERM of the gateway under load (6 keep-alive clients) =="
echo "requests fully sent before SIGTERM:        $sent_before (answered $answered_before, reset/no answer $broken_before)"
echo "requests attempted after SIGTERM:          $after_total (answered $after_ans; refused or closed otherwise)"
echo "gateway exit status $gw_rc, $((t_exit - t_term)) ms after SIGTERM"
[ "$broken_before" -eq 0 ] || { echo "FAIL: $broken_before in-flight requests were not answered"; grep -v '"status":[0-9]' "$dir/term.jsonl" | head -5; rc=1; }
[ "$gw_rc" -eq 0 ] || { echo "FAIL: gateway exited with $gw_rc"; rc=1; }
[ "$sent_before" -gt 0 ] || { echo "FAIL: no load before SIGTERM"; rc=1; }
grep -E 'ERROR: AddressSanitizer|runtime error:' "$dir/gateway.err" && { echo "FAIL: sanitizer report"; rc=1; }
echo
[ "$rc" -eq 0 ] && echo "faults: all checks passed" || tail -20 "$dir/gateway.err"
exit $rc
