#!/usr/bin/env bash
# `make test`: build, install into the private tree, start a throw-away
# cluster (and the gateway when built), run every suite, list every skipped
# test with its reason and their number, and end with one line
# "N passed, N failed". Exit status is non-zero if anything failed or nothing ran.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
OUT=$ROOT/test/output; rm -rf "$OUT"; mkdir -p "$OUT"
passed=0; failed=0
skips=()   # "where: reason" of every skipped test, printed at the end
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  scripts/cluster.sh stop
}
trap cleanup EXIT
bf_reserve_ports "$PGPORT" "$GATEWAY_PORT" "$FRONTEND_PORT" $((PGPORT + 7)) $((PGPORT + 8)) $((PGPORT + 9)) $((PGPORT + 1009))

scripts/cluster.sh install || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
scripts/cluster.sh destroy
scripts/cluster.sh start || { echo "cluster failed to start"; echo "0 passed, 1 failed"; exit 1; }

# 1. pg_regress (sql/ + expected/), then pg_isolation_regress (specs/ +
#    expected/: concurrent sessions), against the throw-away cluster. Two
#    runs, so a pg_regress failure does not skip the isolation suites; both
#    print "test NAME ... ok|FAILED" lines, counted here.
rm -rf results regression.diffs regression.out output_iso
for suite in pg_regress isolation; do
  if [ $suite = pg_regress ]; then sel=(ISOLATION=); else sel=(REGRESS=); fi
  make -s installcheck PGHOST="$PGSOCK" PGUSER=postgres "${sel[@]}" 2>&1 | tee "$OUT/$suite.log"
  rc=${PIPESTATUS[0]}
  p=$(grep -cE '\.\.\. ok( |$)' "$OUT/$suite.log" || true)
  f=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$OUT/$suite.log" || true)
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # the driver itself broke
  passed=$((passed + p)); failed=$((failed + f))
  echo "$suite: $p passed, $f failed"
done
[ -f regression.diffs ] && cp regression.diffs "$OUT/"
[ -f output_iso/regression.diffs ] && cp output_iso/regression.diffs "$OUT/isolation.diffs"

# 2. Start the real gateway (when built) on the demo data, for the suites below.
if [ -x gateway/backend-gateway ]; then
  scripts/demo.sh >"$OUT/demo.log" 2>&1 || { cat "$OUT/demo.log"; failed=$((failed+1)); }
  gateway/backend-gateway --listen 127.0.0.1:$GATEWAY_PORT --database "$GATEWAY_DSN" \
    --www gateway/www >"$OUT/gateway.log" 2>"$OUT/gateway.err" &
  pids+=($!)
  for i in $(seq 50); do curl -fs "http://127.0.0.1:$GATEWAY_PORT/health" >/dev/null && break; sleep 0.1; done
fi
export BF_URL="http://127.0.0.1:$GATEWAY_PORT" BF_OUT="$OUT" GATEWAY_PORT FRONTEND_PORT

# 3. Shell-level suites, one test each (preload refusal, fuzzing, deployment parts...).
for t in test/sh/*.sh; do
  [ -f "$t" ] || continue
  if bash "$t" >"$OUT/$(basename "$t").log" 2>&1; then passed=$((passed+1)); echo "ok   $t"
  else failed=$((failed+1)); echo "FAIL $t (see $OUT/$(basename "$t").log)"; tail -20 "$OUT/$(basename "$t").log"; fi
  # a check a suite skips prints "skip LABEL: REASON" (test/deploy/lib.sh)
  while IFS= read -r line; do skips+=("$t: ${line#skip }"); done < <(grep -E '^skip ' "$OUT/$(basename "$t").log" || true)
done

# 4. HTTP and browser suites (Node's test runner) against the real gateway.
suites=()
compgen -G "test/http/*.test.mjs" >/dev/null && suites+=(test/http/*.test.mjs)
compgen -G "test/browser/*.test.mjs" >/dev/null && suites+=(test/browser/*.test.mjs)
if [ -x gateway/backend-gateway ] && [ ${#suites[@]} -gt 0 ]; then
  node --test --test-concurrency=1 --test-reporter=tap "${suites[@]}" >"$OUT/node.tap" 2>&1
  grep -E '^# (pass|fail)' "$OUT/node.tap"
  awk '/^not ok/ && !/# TODO/ {n = 31} n > 0 {print; n--}' "$OUT/node.tap" | head -150   # todo: listed below
  p=$(awk '/^# pass /{print $3}' "$OUT/node.tap" | tail -1); f=$(awk '/^# fail /{print $3}' "$OUT/node.tap" | tail -1)
  [ -z "$p$f" ] && { f=1; tail -30 "$OUT/node.tap"; }
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  # node's TAP: "ok N - name # SKIP reason" (and "# TODO reason" for known
  # failures, which count as neither passed nor failed)
  while IFS= read -r line; do skips+=("$line"); done < <(
    sed -nE 's/^ *ok [0-9]+ - (.*) # SKIP ?(.*)$/\1: \2/p' "$OUT/node.tap")
  todo=$(awk '/^# todo /{print $3}' "$OUT/node.tap" | tail -1)
  if [ "${todo:-0}" -gt 0 ]; then
    echo "todo (known failures, reasons in $OUT/node.tap):"
    sed -nE 's/^ *not ok [0-9]+ - (.*) # TODO.*$/  \1/p' "$OUT/node.tap"
  fi
fi

# 5. With SANITIZE=1 the gateway is built with AddressSanitizer and UBSan:
#    stop it (leaks are reported at exit) and count its reports as one test.
if [ -n "${SANITIZE:-}" ] && [ ${#pids[@]} -gt 0 ]; then
  kill -TERM "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null; pids=("${pids[@]:1}")
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$OUT/gateway.err"; then
    failed=$((failed+1)); echo "FAIL gateway sanitizer reports (see $OUT/gateway.err)"
  else
    passed=$((passed+1)); echo "ok   gateway under AddressSanitizer/UBSan: no reports"
  fi
fi

for s in "${skips[@]}"; do echo "skip $s"; done
echo "${#skips[@]} skipped${todo:+, ${todo} todo}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
