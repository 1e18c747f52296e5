#!/usr/bin/env bash
# `make run`: build, install into the private tree, start a fresh throw-away
# cluster and the gateway on http://localhost:$PORT (8080 unless `make run
# PORT=...`), create the demo tenant, print how to use it, and stay in the
# foreground: Ctrl-C stops everything. A port already taken is said, and the
# run stops with a non-zero status.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
GATEWAY_PORT=${PORT:-8080}
export GATEWAY_PORT
# taken PORT: something already accepts connections on 127.0.0.1:PORT.
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$GATEWAY_PORT" "$PGPORT"; do
  if taken "$p"; then
    what=gateway; [ "$p" = "$PGPORT" ] && what=PostgreSQL
    echo "make run: port $p (for the $what) is already in use on 127.0.0.1." >&2
    echo "  Stop what uses it, or choose another: make run PORT=9090 (gateway) or PGPORT=55000 (PostgreSQL)." >&2
    exit 1
  fi
done
gw_pid=""
stop() {
  trap - INT TERM EXIT
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  scripts/cluster.sh stop
  echo "stopped."
}
trap stop INT TERM EXIT

scripts/cluster.sh install
scripts/cluster.sh destroy
scripts/cluster.sh start
BASE_URL=http://localhost:$GATEWAY_PORT scripts/demo.sh
source "$BUILD/demo-$PGPORT.env"
gateway/backend-gateway --listen "127.0.0.1:$GATEWAY_PORT" --database "$GATEWAY_DSN" --www gateway/www &
gw_pid=$!
for i in $(seq 50); do curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null 2>&1; then
  echo "make run: the gateway did not come up on 127.0.0.1:$GATEWAY_PORT (see its messages above)." >&2
  exit 1
fi

U=http://localhost:$GATEWAY_PORT
cat <<MSG

Backend Framework is running.
  Web:        $U/            (console: $U/console/ — tenant "demo", owner@demo.test / demo-password)
  API:        $U/api/v1/openapi.json
  PostgreSQL: psql "host=$PGSOCK port=$PGPORT dbname=$PGDATABASE user=postgres"       (superuser: bypasses RLS)
              psql "host=$PGSOCK port=$PGPORT dbname=$PGDATABASE user=$DEMO_OPERATOR"   (platform operator, backend_admin)

Try it (the demo client is confidential; its secret is shown only here):
  TOKEN=\$(curl -s -u '${DEMO_CLIENT_ID:-<client_id>}:${DEMO_CLIENT_SECRET:-<secret>}' -d grant_type=client_credentials -d scope=read \\
          $U/t/demo/oauth/token | sed -E 's/.*"access_token": ?"([^"]+)".*/\1/')
  curl -s -H "Authorization: Bearer \$TOKEN" $U/t/demo/api/v1/me
  curl -s -u '${DEMO_CLIENT_ID:-<client_id>}:${DEMO_CLIENT_SECRET:-<secret>}' -d "token=\$TOKEN" $U/t/demo/oauth/introspect

In psql, as the platform operator:  BEGIN; SELECT tenancy.enter_tenant('demo'); SELECT email, role FROM tenancy.user_info; COMMIT;
Ctrl-C stops the gateway and the cluster.
MSG
wait "$gw_pid"
