#!/usr/bin/env bash
# Runs the HTTP suites (test/http/*.test.mjs) against a given gateway binary,
# optionally under a wrapper (valgrind), on a private throw-away cluster
# (PGPORT) with the demo data; used by `make sanitize` and `make valgrind`
# (mk/hardening.mk). The gateway is stopped with SIGTERM at the end.
#   test/soak/suites.sh OUTDIR BINARY [WRAPPER ARGS...]
# Writes OUTDIR/gateway.err (sanitizer / valgrind reports), OUTDIR/node.tap,
# OUTDIR/gateway.rc (exit status). Exit status: non-zero if a suite failed.
set -uo pipefail
unset SANITIZE
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
OUT=$1; BIN=$2; shift 2
mkdir -p "$OUT"; rm -f "$OUT"/*
gw_pid=""
cleanup() { [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null; scripts/cluster.sh stop; }
trap cleanup EXIT
scripts/cluster.sh install >/dev/null || { echo "build failed"; exit 1; }
scripts/cluster.sh destroy
scripts/cluster.sh start >/dev/null || { echo "cluster failed to start"; exit 1; }
scripts/demo.sh >"$OUT/demo.log" 2>&1 || { cat "$OUT/demo.log"; exit 1; }
"$@" "$BIN" --listen 127.0.0.1:$GATEWAY_PORT --database "$GATEWAY_DSN" --www gateway/www \
  >"$OUT/gateway.log" 2>"$OUT/gateway.err" &
gw_pid=$!
for i in $(seq 600); do curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null && break; sleep 0.1; done
export BF_URL="http://127.0.0.1:$GATEWAY_PORT" BF_OUT="$OUT" GATEWAY_PORT FRONTEND_PORT
t0=$(date +%s)
node --test --test-concurrency=1 --test-reporter=tap test/http/*.test.mjs >"$OUT/node.tap" 2>&1
grep -E '^# (pass|fail)' "$OUT/node.tap"
grep -B2 -A30 '^not ok' "$OUT/node.tap" | head -80
echo "HTTP suites took $(( $(date +%s) - t0 )) s"
f=$(awk '/^# fail /{print $3}' "$OUT/node.tap" | tail -1); p=$(awk '/^# pass /{print $3}' "$OUT/node.tap" | tail -1)
kill -TERM "$gw_pid"; wait "$gw_pid"; echo $? > "$OUT/gateway.rc"; gw_pid=""
echo "gateway exited with status $(cat "$OUT/gateway.rc") after SIGTERM"
[ "${f:-1}" -eq 0 ] && [ "${p:-0}" -gt 0 ]
