#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for `make run` / `make test`:
#   cluster.sh install   build and install the extension into .build/pgroot
#   cluster.sh start     initdb (if needed) and start it, library preloaded
#   cluster.sh stop      stop it (only the postmaster this script started)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

install() {
  # A relocated copy of the system PostgreSQL finds its share/ and lib/ dirs
  # relative to its own binary, so our extension is installed there and not
  # into the system (no root needed, no clash between checkouts).
  if [ ! -x "$BINDIR/postgres" ]; then
    mkdir -p "$PGROOT$(dirname "$SYS_BINDIR")" "$PGROOT$(dirname "$(pg_config --sharedir)")"
    cp -a "$(dirname "$SYS_BINDIR")/." "$PGROOT$(dirname "$SYS_BINDIR")/"
    cp -a "$(pg_config --sharedir)" "$PGROOT$(dirname "$(pg_config --sharedir)")/"
  fi
  make -s all ${SANITIZE:+SANITIZE=1}
  make -s install DESTDIR="$PGROOT" ${SANITIZE:+SANITIZE=1} >/dev/null
}

start() {
  mkdir -p "$CLUSTER"
  [ "$(id -u)" -eq 0 ] && chown postgres "$CLUSTER" && chmod 755 "$BUILD"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    bf_initdb "$PGDATA"
    cat >> "$PGDATA/postgresql.conf" <<CONF
shared_preload_libraries = 'backend_framework'
# TCP: scram-sha-256 passwords only (pg_hba.conf); the socket: its owner and root only.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGSOCK'
unix_socket_permissions = 0700
max_connections = 200
# Statements may be logged (slow ones, or all while debugging), never the
# values of their bind parameters: request headers and bodies with
# passwords, client secrets and tokens (see docs/DEPLOYMENT.md).
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
fsync = ${PG_FSYNC:-on}
backend_framework.base_domain = 'localhost'
# The console as the gateway serves it, and as a separate frontend origin
# (the cross-origin set-up Docker uses; port FRONTEND_PORT).
backend_framework.console_redirect_uris = 'http://localhost:$GATEWAY_PORT/console/callback.html,http://127.0.0.1:$GATEWAY_PORT/console/callback.html,http://localhost:$FRONTEND_PORT/console/callback.html,http://127.0.0.1:$FRONTEND_PORT/console/callback.html'
backend_framework.cors_origins = 'http://localhost:$FRONTEND_PORT,http://127.0.0.1:$FRONTEND_PORT'
# Every suite signs up from 127.0.0.1 (production default: 10 an hour).
backend_framework.signup_per_hour = 100000
CONF
  fi
  # The URLs the gateway is reached at: the issuer and every URL the API
  # builds come from here, and other hosts are refused (421). Added to
  # clusters made before the setting existed too.
  grep -q '^backend_framework.public_urls' "$PGDATA/postgresql.conf" || cat >> "$PGDATA/postgresql.conf" <<CONF
backend_framework.public_urls = 'http://localhost:$GATEWAY_PORT,http://127.0.0.1:$GATEWAY_PORT'
CONF
  # The key-encryption key of the tenants' signing keys: random, generated
  # once per cluster into a 0600 file of the server's user (never in git,
  # never in postgresql.conf itself).
  if [ ! -s "$CLUSTER/kek.hex" ]; then
    (umask 077; openssl rand -hex 32 > "$CLUSTER/kek.hex")
    [ "$(id -u)" -eq 0 ] && chown postgres "$CLUSTER/kek.hex"
  fi
  grep -q '^backend_framework.key_encryption_key_file' "$PGDATA/postgresql.conf" || cat >> "$PGDATA/postgresql.conf" <<CONF
backend_framework.key_encryption_key_file = '$CLUSTER/kek.hex'
CONF
  as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -o "-p $PGPORT" -l "$CLUSTER/postgres.log" -w start >/dev/null
  echo "cluster: PostgreSQL on 127.0.0.1:$PGPORT (passwords only) and socket $PGSOCK (its owner and root only), log $CLUSTER/postgres.log"
}

stop() {
  [ -f "$PGDATA/postmaster.pid" ] && as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
}

destroy() { stop; rm -rf "$CLUSTER"; }

"${1:?usage: cluster.sh install|start|stop|destroy}"
