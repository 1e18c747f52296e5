#!/usr/bin/env bash
# `make bench`: wrk against the real gateway and a throw-away cluster on this
# machine (load generator, gateway and PostgreSQL share the cores). Prints
# req/s and p99 per scenario, pgbench's rate for the SQL call the gateway
# makes for /api/v1/me and the ratio, and the gateway's RSS with 1,000 idle
# keep-alive connections. Targets: see test/bench/README.md.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
DUR=${BENCH_SECONDS:-10}
CONN=${BENCH_CONNECTIONS:-64}
gw_pid=""; ceiling_pid=""
cleanup() {
  for p in $gw_pid $ceiling_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  scripts/cluster.sh stop
}
trap cleanup EXIT
bf_reserve_ports "$PGPORT" "$GATEWAY_PORT" $((GATEWAY_PORT + 1))
scripts/cluster.sh install >/dev/null
scripts/cluster.sh destroy
scripts/cluster.sh start
scripts/demo.sh >/dev/null
# BENCH_GROWTH=1: 10,000 tenants, 1M users, 10M tokens around the demo tenant
# (times BENCH_GROWTH_SCALE, default 1), to compare /me and introspection
# with a run on the small database.
if [ -n "${BENCH_GROWTH:-}" ]; then
  echo "growth: generating tenants, users and tokens (scale ${BENCH_GROWTH_SCALE:-1})..."
  psql -qX -v scale="${BENCH_GROWTH_SCALE:-1}" -f test/bench/growth.sql
fi
source "$BUILD/demo-$PGPORT.env"
ulimit -n 65536 2>/dev/null || true
gateway/backend-gateway --listen 127.0.0.1:$GATEWAY_PORT --database "$GATEWAY_DSN" ${BENCH_GATEWAY_FLAGS:-} >/dev/null 2>"$BUILD/bench-gateway.err" &
gw_pid=$!
U=http://127.0.0.1:$GATEWAY_PORT
for i in $(seq 50); do curl -fs "$U/health" >/dev/null && break; sleep 0.1; done
BASIC="Basic $(printf '%s:%s' "$DEMO_CLIENT_ID" "$DEMO_CLIENT_SECRET" | base64 -w0)"
token() { curl -fs -H "Authorization: $BASIC" -d grant_type=client_credentials -d "scope=${1:-read}" "$U/t/demo/oauth/token" | sed -E 's/.*"access_token": ?"([^"]+)".*/\1/'; }
TOKEN=$(curl -fs -H "Authorization: $BASIC" -d grant_type=password -d username=owner@demo.test -d password=demo-password -d 'scope=read profile' "$U/t/demo/oauth/token" | sed -E 's/.*"access_token": ?"([^"]+)".*/\1/')
CC_TOKEN=$(token read)

run() { # name, wrk args...
  local name=$1; shift
  # As pgbench does before each run: vacuum (the scenario before may have
  # written tens of thousands of token rows) and write the dirty pages out,
  # so that autovacuum and a checkpoint do not land in the next scenario.
  psql -qX -d "${BENCH_DB:-$PGDATABASE}" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
  local out; out=$(wrk -t2 -c"$CONN" -d"${DUR}s" --latency "$@" 2>&1)
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-34s %10s req/s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p99" "${non2xx:-0}"
  echo "$rps" > "$BUILD/bench-$name.rps"
}
echo "wrk -t2 -c$CONN -d${DUR}s on $(nproc) cores (gateway, PostgreSQL and wrk together)"
# The ceiling: the same gateway binary against a database whose
# api.handle_request is a trivial SQL function (a constant answer), so every
# rate below can be read as a share of what the gateway, libpq, the
# PostgreSQL protocol and wrk leave on this machine.
psql -qX -d postgres -c "DROP DATABASE IF EXISTS bench_ceiling" -c "CREATE DATABASE bench_ceiling" >/dev/null
psql -qX -d bench_ceiling -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE SCHEMA api;
CREATE FUNCTION api.handle_request(text, text, text, jsonb, bytea, text)
RETURNS TABLE(status integer, headers jsonb, body text) LANGUAGE sql IMMUTABLE
AS $$ SELECT 200, '{"Content-Type": "application/json"}'::jsonb, '{"status": "ok"}'::text $$;
GRANT USAGE ON SCHEMA api TO backend_gateway;
SQL
CEILING_PORT=$((GATEWAY_PORT + 1))
gateway/backend-gateway --listen 127.0.0.1:$CEILING_PORT --database "${GATEWAY_DSN/dbname=$PGDATABASE/dbname=bench_ceiling}" >/dev/null 2>>"$BUILD/bench-gateway.err" &
ceiling_pid=$!
for i in $(seq 50); do curl -fs "http://127.0.0.1:$CEILING_PORT/health" >/dev/null && break; sleep 0.1; done
BENCH_DB=bench_ceiling run ceiling "http://127.0.0.1:$CEILING_PORT/health"
kill $ceiling_pid; wait $ceiling_pid 2>/dev/null; ceiling_pid=""
run health "$U/health"
BENCH_BODY="grant_type=client_credentials&scope=read" BENCH_AUTH="$BASIC" BENCH_TENANT=demo \
  run client_credentials -s test/bench/post.lua "$U/oauth/token"
BENCH_BODY="token=$CC_TOKEN" BENCH_AUTH="$BASIC" BENCH_TENANT=demo \
  run introspection -s test/bench/post.lua "$U/oauth/introspect"
run me -H "Authorization: Bearer $TOKEN" -H "X-Tenant: demo" "$U/api/v1/me"
# An application route (examples/notes, loaded by scripts/demo.sh): a page of 20 notes.
psql -qX -v ON_ERROR_STOP=1 -c "BEGIN; SELECT tenancy.enter_tenant('demo') IS NULL;
  INSERT INTO app.notes (author_id, title, body) SELECT u.id, 'note ' || g, 'body of note ' || g
    FROM tenancy.users u, generate_series(1, 20) g WHERE u.email = 'owner@demo.test'; COMMIT;" >/dev/null
run app_notes -H "Authorization: Bearer $TOKEN" -H "X-Tenant: demo" "$U/api/v1/notes?limit=20"
BENCH_BODY="grant_type=password&username=owner%40demo.test&password=demo-password&scope=read" BENCH_AUTH="$BASIC" BENCH_TENANT=demo \
  run password -s test/bench/post.lua "$U/oauth/token"

# pgbench: the same SQL call the gateway makes for GET /api/v1/me.
cat > "$BUILD/bench-me.sql" <<SQL
SELECT status, headers, body FROM api.handle_request('GET', '/api/v1/me', '', '{"host": "127.0.0.1", "x-tenant": "demo", "authorization": "Bearer $TOKEN"}', ''::bytea, '127.0.0.1');
SQL
# pgbench gets as many connections as cores x 2 (more backends than cores
# only thrash); the gateway pipelines over its own few connections.
PGB_CLIENTS=${BENCH_PGBENCH_CLIENTS:-$(( $(nproc) * 2 ))}
pg=$(PGPASSFILE=$GATEWAY_PASSFILE "$BINDIR/pgbench" -n -M prepared -c "$PGB_CLIENTS" -j 2 -T "$DUR" -f "$BUILD/bench-me.sql" -h 127.0.0.1 -U backend_gateway_login "$PGDATABASE" 2>&1 | awk '/^tps/ {print $3}')
me=$(cat "$BUILD/bench-me.rps")
printf '%-34s %10s tps (pgbench -c %s)\n' "pgbench api.handle_request(/me)" "$pg" "$PGB_CLIENTS"
awk -v a="$me" -v b="$pg" 'BEGIN { printf "%-34s %10.0f%%  (target >= 50%%)\n", "gateway /me vs pgbench", 100 * a / b }'
# Each rate as a share of /health's and of the ceiling's, in the same run.
h=$(cat "$BUILD/bench-health.rps"); c=$(cat "$BUILD/bench-ceiling.rps")
for n in health me introspection client_credentials app_notes password; do
  awk -v n="$n" -v a="$(cat "$BUILD/bench-$n.rps")" -v h="$h" -v c="$c" \
    'BEGIN { printf "%-34s %10.1f%% of /health  %6.1f%% of the ceiling\n", n, 100 * a / h, 100 * a / c }'
done
# One client, no gateway: the SQL call the gateway makes for each scenario,
# prepared, over TCP; its mean latency less SELECT 1's is what the request
# costs the backend (steadier than wrk on a shared machine).
pgb1() { # name, SQL
  echo "$2" > "$BUILD/bench-1-$1.sql"
  local st; st=$(PGPASSFILE=$GATEWAY_PASSFILE psql -qXAt -h 127.0.0.1 -U backend_gateway_login -d "$PGDATABASE" -f "$BUILD/bench-1-$1.sql" | cut -d'|' -f1)
  case $st in 1|2??) ;; *) echo "bench: $1 answered $st, not 2xx" >&2;; esac
  PGPASSFILE=$GATEWAY_PASSFILE "$BINDIR/pgbench" -n -M prepared -c 1 -j 1 -T "${BENCH_ONE_SECONDS:-3}" -f "$BUILD/bench-1-$1.sql" \
    -h 127.0.0.1 -U backend_gateway_login "$PGDATABASE" 2>&1 | awk '/latency average/ {print $4 * 1000}'
}
hr() { # method, path, query, extra headers (JSON members), body
  echo "SELECT status, headers, body FROM api.handle_request('$1', '$2', '$3', '{\"host\": \"127.0.0.1\", \"x-tenant\": \"demo\"$4}', convert_to('$5', 'UTF8'), '127.0.0.1');"
}
FORM=', "content-type": "application/x-www-form-urlencoded", "authorization": "'$BASIC'"'
base=$(pgb1 select1 "SELECT 1;")
printf '%-34s %8s µs per call (pgbench, one client)\n' "SELECT 1" "$base"
for sc in "health|$(hr GET /health '' '' '')" \
          "me|$(hr GET /api/v1/me '' ", \"authorization\": \"Bearer $TOKEN\"" '')" \
          "introspection|$(hr POST /oauth/introspect '' "$FORM" "token=$CC_TOKEN")" \
          "client_credentials|$(hr POST /oauth/token '' "$FORM" 'grant_type=client_credentials&scope=read')" \
          "app_notes|$(hr GET /api/v1/notes 'limit=20' ", \"authorization\": \"Bearer $TOKEN\"" '')"; do
  n=${sc%%|*}; t=$(pgb1 "$n" "${sc#*|}")
  awk -v n="$n" -v t="$t" -v b="$base" 'BEGIN { printf "%-34s %8.0f µs per call, %6.0f µs beyond SELECT 1\n", n, t, t - b }'
done
node test/bench/idle.mjs "$GATEWAY_PORT" 1000 "$gw_pid"
