#!/bin/sh
# Entry point of the Backend Framework PostgreSQL image: the official
# docker-entrypoint.sh, plus statement logging when DEBUG is on.
set -e
case "${DEBUG:-false}" in
  1|true|TRUE|True|yes|on)
    if [ "${1:-}" = postgres ]; then
      set -- "$@" -c log_statement=all -c log_min_duration_statement=0
    fi ;;
esac
exec docker-entrypoint.sh "$@"
