#!/usr/bin/env bash
# Installs what `make run` / `make test` need and is missing: Debian packages
# (apt, only when something is absent) and the test suites' npm packages.
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential postgresql-15 postgresql-contrib postgresql-server-dev-15
      libpq-dev libssl-dev libmicrohttpd-dev nginx wrk chromium clang libclang-rt-14-dev valgrind nodejs npm curl openssl)
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
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ -f test/package-lock.json ] && { [ ! -d test/node_modules ] || [ test/package-lock.json -nt test/node_modules ]; }; then
  (cd test && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi
