#!/bin/sh
# Entry point of the Backend Framework PostgreSQL image: the official
# docker-entrypoint.sh, plus statement logging when DEBUG is on: statements
# only, never the values of their bind parameters (request headers and
# bodies with passwords, secrets and tokens).
set -e
case "${DEBUG:-false}" in
  1|true|TRUE|True|yes|on)
    if [ "${1:-}" = postgres ]; then
      set -- "$@" -c log_statement=all -c log_min_duration_statement=0 \
                -c log_parameter_max_length=0 -c log_parameter_max_length_on_error=0
    fi ;;
esac
exec docker-entrypoint.sh "$@"
