#!/usr/bin/env bash
# `make run`, the first-hour path (issue 13 item 2):
#  - it installs only what running needs: no browser, nginx, wrk, valgrind,
#    clang or Node.js, and no npm packages (scripts/deps.sh run);
#  - PORT is its one port knob, and a port already taken is said, with a
#    non-zero exit, instead of "Backend Framework is running";
#  - it prints a platform operator's (backend_admin) psql login besides the
#    superuser's, and that login works and is no superuser;
#  - Ctrl-C stops the gateway and the cluster.
# scripts/run.sh is what `make run` runs after `make deps-run`.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
tmp=$(mktemp -d /tmp/bf-make-run.XXXXXX)
run_pid=""
cleanup() {
  [ -n "$run_pid" ] && kill -TERM "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

pkgs=$(scripts/deps.sh --list run)
for p in chromium nginx wrk valgrind clang nodejs npm; do
  check "make run installs no $p" bash -c "! grep -qx '$p' <<< '$pkgs'"
done
check "make run's deps install no npm packages (npm ci only in test mode)" \
  grep -q '^if \[ "\$mode" = test \] && \[ -f test/package-lock.json \]' scripts/deps.sh
check "make run depends on deps-run, make test on deps" \
  bash -c "grep -qE '^run: deps-run$' Makefile && grep -qE '^test: deps$' Makefile"

# A port already taken: the gateway's (this suite's gateway listens there).
port=$(free_port); pgport=$(free_port)
PORT=$GATEWAY_PORT PGPORT=$pgport timeout 60 scripts/run.sh >"$tmp/taken.out" 2>&1; rc=$?
check "a taken PORT stops make run with a non-zero status" test "$rc" -ne 0
check "... and says so" grep -q "port $GATEWAY_PORT (for the gateway) is already in use" "$tmp/taken.out"
check "... and never claims to be running" bash -c "! grep -q 'is running' '$tmp/taken.out'"

# A real run on free ports.
PORT=$port PGPORT=$pgport scripts/run.sh >"$tmp/run.out" 2>&1 &
run_pid=$!
for i in $(seq 600); do grep -q 'Backend Framework is running' "$tmp/run.out" && break; kill -0 $run_pid 2>/dev/null || break; sleep 0.1; done
check "make run PORT=$port comes up" grep -q 'Backend Framework is running' "$tmp/run.out"
check "the gateway answers on PORT" is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" 200
check "it prints the superuser's psql line" grep -q 'user=postgres"' "$tmp/run.out"
op=$(sed -n 's/.*psql "\(host=[^"]*user=demo_operator\)".*/\1/p' "$tmp/run.out" | head -1)
check "it prints a platform operator's psql line" test -n "$op"
check "... whose login is a platform operator and no superuser" is \
  "$(psql -XAtq "$op" -c "SELECT tenancy.is_platform_admin() AND NOT rolsuper FROM pg_roles WHERE rolname = current_user")" t
check "... and sees a tenant's rows only inside it (RLS applies)" is \
  "$(psql -XAtq "$op" -c "SELECT count(*) FROM tenancy.user_info")" 0
# (TERM: a background job of a script ignores SIGINT; run.sh traps both alike.)
kill -TERM "$run_pid"; wait "$run_pid" 2>/dev/null; run_pid=""
check "stopping it (Ctrl-C, or TERM) stops the gateway" bash -c "! curl -s -o /dev/null 'http://127.0.0.1:$port/health'"
check "... and the cluster" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$pgport) 2>/dev/null && [ ! -f '$BUILD/cluster-$pgport/data/postmaster.pid' ]"
rm -rf "$BUILD/cluster-$pgport" "$BUILD/demo-$pgport.env"
summary
