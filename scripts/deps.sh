#!/usr/bin/env bash
# Installs what is missing, and says what it installs (or that nothing was
# missing). `make deps-run` / `make deps` are the only places packages come
# from; `make run`, `make test` and `make bench` run one of them first.
#   deps.sh run        what running needs: PostgreSQL server and headers,
#                      libmicrohttpd, libpq, OpenSSL headers, build tools, curl
#   deps.sh [test]     that, plus what the suites and benchmarks need: nginx,
#                      wrk, Chromium, clang (libFuzzer), valgrind, Node.js and
#                      the npm packages of test/package-lock.json, age
#   deps.sh --list MODE  prints the Debian packages of MODE and exits
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_PKGS=(build-essential postgresql-15 postgresql-contrib postgresql-server-dev-15
          libpq-dev libmicrohttpd-dev libssl-dev curl)
TEST_PKGS=(nginx wrk chromium clang libclang-rt-14-dev valgrind nodejs npm openssl
           age)                              # age: encrypted backups (scripts/backup_db.sh BACKUP_KEY)

mode=test
if [ "${1:-}" = --list ]; then
  case "${2:-test}" in run) printf '%s\n' "${RUN_PKGS[@]}" ;; *) printf '%s\n' "${RUN_PKGS[@]}" "${TEST_PKGS[@]}" ;; esac
  exit 0
fi
[ -n "${1:-}" ] && mode=$1
case "$mode" in
  run) PKGS=("${RUN_PKGS[@]}") ;;
  test) PKGS=("${RUN_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) echo "usage: deps.sh [run|test] | --list run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from outside Debian (e.g. nvm): then skip Debian's nodejs/npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps ($mode): installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "$mode" = test ] && [ -f test/package-lock.json ] \
   && { [ ! -d test/node_modules ] || [ test/package-lock.json -nt test/node_modules ]; }; then
  echo "deps: installing the npm packages of test/package-lock.json into test/node_modules:" \
    "$(node -e 'console.log(Object.keys(require("./test/package.json").dependencies).join(" "))' 2>/dev/null)"
  (cd test && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
  missing+=(npm-packages)
fi
[ "${#missing[@]}" -eq 0 ] && echo "deps ($mode): nothing to install (Debian packages: ${PKGS[*]}$([ "$mode" = test ] && echo '; npm: test/node_modules up to date'))"
true
