# Helpers of the deployment tests (test/sh/deploy_*.sh); sourced.
# check NAME CMD...: runs CMD, prints "ok   NAME" or "FAIL NAME" and counts.
# skip NAME WHY: prints "skip NAME: WHY".
# summary: prints "N passed, N failed, N skipped" and returns 1 on a failure.
DEPLOY_PASSED=0 DEPLOY_FAILED=0 DEPLOY_SKIPPED=0
check() {
  local name=$1; shift
  if "$@"; then DEPLOY_PASSED=$((DEPLOY_PASSED + 1)); echo "ok   $name"
  else DEPLOY_FAILED=$((DEPLOY_FAILED + 1)); echo "FAIL $name"; fi
}
# is ACTUAL EXPECTED: equal, or says what it got.
is() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
skip() { DEPLOY_SKIPPED=$((DEPLOY_SKIPPED + 1)); echo "skip $1: $2"; }
summary() {
  echo "$DEPLOY_PASSED passed, $DEPLOY_FAILED failed, $DEPLOY_SKIPPED skipped"
  [ "$DEPLOY_FAILED" -eq 0 ] && [ "$DEPLOY_PASSED" -gt 0 ]
}
# free_port: a TCP port nobody listens on now (asked from the kernel).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# wait_http URL [TRIES]: until URL answers at all (any status), 100 ms apart.
wait_http() {
  local i
  for i in $(seq "${2:-100}"); do curl -s -k -o /dev/null "$1" && return 0; sleep 0.1; done
  return 1
}
# header FILE NAME: the value of header NAME (case-insensitive) in a curl -D dump.
header() { tr -d '\r' < "$1" | awk -v n="$(echo "$2" | tr A-Z a-z)" -F': ' 'tolower($1)==n {sub(/^[^:]*: /,""); print; exit}'; }
# header_count FILE NAME: how many times header NAME occurs.
header_count() { tr -d '\r' < "$1" | awk -v n="$(echo "$2" | tr A-Z a-z)" -F': ' 'tolower($1)==n {c++} END {print c+0}'; }
# status FILE: the status code of the last response in a curl -D dump.
status() { tr -d '\r' < "$1" | awk '/^HTTP\// {s=$2} END {print s}'; }
