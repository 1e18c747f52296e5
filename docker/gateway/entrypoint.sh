#!/bin/sh
# Entry point of the gateway image. The database password never sits in the
# image or the compose file: it is read from GATEWAY_DB_PASSWORD_FILE (a Docker
# secret) or GATEWAY_DB_PASSWORD and handed to libpq as PGPASSWORD, while
# BACKEND_DATABASE_URL carries host, database and user only. Then the gateway
# replaces this shell (PID 1 gets SIGTERM and drains in-flight requests).
set -eu
if [ -n "${GATEWAY_DB_PASSWORD_FILE:-}" ]; then
  if [ ! -r "$GATEWAY_DB_PASSWORD_FILE" ]; then
    echo "gateway-entrypoint: cannot read GATEWAY_DB_PASSWORD_FILE=$GATEWAY_DB_PASSWORD_FILE" >&2
    exit 1
  fi
  PGPASSWORD=$(cat "$GATEWAY_DB_PASSWORD_FILE")
  export PGPASSWORD
elif [ -n "${GATEWAY_DB_PASSWORD:-}" ]; then
  PGPASSWORD=$GATEWAY_DB_PASSWORD
  export PGPASSWORD
fi
unset GATEWAY_DB_PASSWORD
if [ -z "${BACKEND_DATABASE_URL:-}" ]; then
  echo "gateway-entrypoint: BACKEND_DATABASE_URL is not set" >&2
  exit 1
fi
case "${DEBUG:-false}" in
  1|true|TRUE|True|yes|on)
    echo "gateway-entrypoint: listen=${BACKEND_LISTEN:-} database=${BACKEND_DATABASE_URL}" \
         "pool=${BACKEND_POOL:-auto} threads=${BACKEND_THREADS:-auto} trust_proxy=${BACKEND_TRUST_PROXY:-0}" \
         "password=$([ -n "${PGPASSWORD:-}" ] && echo set || echo unset)" >&2 ;;
esac
exec "${GATEWAY_BIN:-backend-gateway}" "$@"
