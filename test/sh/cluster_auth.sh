#!/usr/bin/env bash
# The throw-away cluster of `make run` / `make test` (scripts/cluster.sh) lets
# no other local account in: over TCP only scram-sha-256 passwords, so the
# superuser (which has none) is refused and the gateway's login needs its
# generated password (not the old literal 'gateway'), kept 0600 under
# .build/; the socket is mode 0700, so only the cluster's OS owner and root
# reach it. `make certs` writes its TLS private key 0600.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
tmp=$(mktemp -d /tmp/bf-cluster-auth.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# tcp USER [PASSWORD]: psql over TCP with exactly that password (none: no
# password at all, no ~/.pgpass either); prints current_user or the error.
tcp() {
  env -u PGPASSWORD PGPASSFILE="$tmp/no-passfile" ${2+PGPASSWORD="$2"} \
    psql -X -At -w "host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=$1 connect_timeout=5" -c 'SELECT current_user' 2>&1
}
refused() { case "$1" in *"password authentication failed"*|*"no password supplied"*|*"fe_sendauth"*) return 0 ;; esac; echo "     got: $1"; return 1; }

check "pg_hba.conf: TCP rules are scram-sha-256 only" \
  is "$(psql -XAt -c "SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules WHERE type <> 'local' OR error IS NOT NULL")" scram-sha-256
sock=$PGSOCK/.s.PGSQL.$PGPORT
check "the socket is mode 0700 (unix_socket_permissions)" is "$(stat -c %a "$sock" 2>&1)" 700
check "TCP as postgres without a password is refused" refused "$(tcp postgres)"
check "TCP as postgres with an empty password is refused" refused "$(tcp postgres '')"
check "TCP as postgres with password 'postgres' is refused" refused "$(tcp postgres postgres)"
check "TCP as the gateway's login with the old literal password 'gateway' is refused" refused "$(tcp backend_gateway_login gateway)"
check "TCP as the gateway's login without a password is refused" refused "$(tcp backend_gateway_login)"
if [ -n "${GATEWAY_PASSFILE:-}" ] && [ -f "$GATEWAY_PASSFILE" ]; then
  check "the gateway's password file is mode 0600 ($GATEWAY_PASSFILE)" is "$(stat -c %a "$GATEWAY_PASSFILE")" 600
  check "the gateway logs in over TCP with its generated password (GATEWAY_DSN)" \
    is "$(psql -X -At "$GATEWAY_DSN" -c 'SELECT current_user' 2>&1)" backend_gateway_login
else
  check "the gateway's password file exists (GATEWAY_PASSFILE)" false
fi
# The socket: another local account (nobody) may not be postgres.
if [ "$(id -u)" -eq 0 ]; then
  out=$(runuser -u nobody -- env PGPASSFILE="$tmp/no-passfile" psql -X -At -w -h "$PGSOCK" -p "$PGPORT" -U postgres -d "$PGDATABASE" -c 'SELECT 1' 2>&1)
  check "the socket refuses another OS user (nobody) as postgres" \
    bash -c "case \"\$1\" in *'Permission denied'*) exit 0;; esac; echo \"     got: \$1\"; exit 1" _ "$out"
else
  skip "the socket refuses another OS user" "needs root to run psql as nobody"
fi
check "the socket lets this OS user ($(id -un)) in as postgres" \
  is "$(psql -XAt -c 'SELECT current_user' 2>&1)" postgres

# make certs: the private key 0600 (a self-signed pair into a temp dir).
if ! grep -q 'CERTS_DIR' mk/docker.mk; then
  check "make certs CERTS_DIR=... (a test must not write docker/nginx/certs)" false
elif command -v openssl >/dev/null; then
  make -s --no-print-directory certs CERTS_DIR="$tmp/certs" >"$tmp/certs.log" 2>&1
  if [ -f "$tmp/certs/privkey.pem" ]; then
    check "make certs: privkey.pem is mode 0600" is "$(stat -c %a "$tmp/certs/privkey.pem")" 600
  else
    check "make certs CERTS_DIR=... writes privkey.pem" false; cat "$tmp/certs.log"
  fi
else
  skip "make certs" "openssl is not installed"
fi
summary
