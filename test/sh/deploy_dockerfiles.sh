#!/usr/bin/env bash
# Deployment, part 5: the Dockerfiles, statically (no Docker engine, no
# hadolint here): the gateway image is multi-stage, runs as a non-root user
# and has a health check; the PostgreSQL image is FROM postgres:15-alpine3.N
# (a pinned, still built Alpine release, the gateway's too), builds the extension with PGXS in a build stage and preloads it. Every file
# they COPY exists and is not excluded by .dockerignore; the entrypoint
# scripts are valid POSIX sh; the top Makefile's targets they call exist.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
GW=docker/gateway/Dockerfile
PG=docker/postgres/Dockerfile
# Instructions with their continuation lines joined, comments dropped.
instr() { sed -e '/^[[:space:]]*#/d' "$1" | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta'; }
grepi() { instr "$1" | grep -Eq "$2"; }
count() { instr "$1" | grep -Ec "$2"; }

# Gateway image.
check "gateway: multi-stage (a named build stage and a runtime stage)" \
  bash -c "[ \$(grep -Ec '^FROM ' $GW) -ge 2 ] && grep -Eq '^FROM .+ AS build' $GW"
check "gateway: the binary is copied from the build stage" grepi $GW '^COPY --from=build .*backend-gateway'
check "gateway: runtime stage is Alpine" bash -c "grep -E '^FROM ' $GW | tail -1 | grep -q alpine"
user=$(instr $GW | awk '/^USER /{u=$2} END{print u}')
check "gateway: runs as a non-root user (USER $user, created with adduser)" \
  bash -c "[ -n '$user' ] && [ '${user%%:*}' != root ] && [ '${user%%:*}' != 0 ] && grep -q 'adduser .*${user%%:*}' $GW"
check "gateway: USER comes after the last RUN (nothing runs as root after it)" \
  bash -c "[ \$(grep -nE '^USER ' $GW | tail -1 | cut -d: -f1) -gt \$(grep -nE '^RUN ' $GW | tail -1 | cut -d: -f1) ]"
check "gateway: HEALTHCHECK on /health" grepi $GW '^HEALTHCHECK .*CMD .*/health'
check "gateway: listens on 0.0.0.0:8080 and trusts the proxy in front" \
  bash -c "grep -q 'BACKEND_LISTEN=0.0.0.0:8080' $GW && grep -q 'BACKEND_TRUST_PROXY=1' $GW"
check "gateway: EXPOSE 8080" grepi $GW '^EXPOSE 8080'
check "gateway: builds with the top Makefile's gateway target" grepi $GW 'make gateway'

# PostgreSQL image.
check "postgres: every stage is FROM \${PG_IMAGE} (ARG default postgres:15-alpine...)" \
  bash -c "grep -q '^ARG PG_IMAGE=postgres:15-alpine' $PG && [ \$(grep -Ec '^FROM \\\$\\{PG_IMAGE\\}' $PG) -eq \$(grep -Ec '^FROM ' $PG) ]"

# Base image versions: a pinned Alpine release of postgres:15 that the
# official image is still built on (3.22 or later; 3.21 and older are no
# longer built), the same in both Dockerfiles.
pg_alpine=$(sed -n 's/^ARG PG_IMAGE=postgres:15-alpine\([0-9.]*\)$/\1/p' $PG)
gw_alpine=$(sed -n 's/^ARG ALPINE_VERSION=\([0-9.]*\)$/\1/p' $GW)
supported_alpine() { [ -n "$1" ] && [ "$(printf '%s\n' 3.22 "$1" | sort -V | head -1)" = 3.22 ]; }
check "postgres: PG_IMAGE pins an Alpine release of postgres:15 (postgres:15-alpine${pg_alpine:-?}), 3.22 or later" \
  supported_alpine "$pg_alpine"
check "gateway: ALPINE_VERSION ($gw_alpine) is the postgres image's Alpine release ($pg_alpine)" \
  test -n "$gw_alpine" -a "$gw_alpine" = "$pg_alpine"
check "gateway: build stage FROM postgres:15-alpine\${ALPINE_VERSION}, runtime FROM alpine:\${ALPINE_VERSION}" \
  bash -c "grep -q '^FROM postgres:15-alpine\\\${ALPINE_VERSION} AS build' $GW && grep -q '^FROM alpine:\\\${ALPINE_VERSION}\$' $GW"
check "postgres: a build stage builds the extension with PGXS (make + make install DESTDIR)" \
  bash -c "grep -Eq '^FROM .+ AS build' $PG && grep -q 'make with_llvm=no' $PG && grep -q 'make install .*DESTDIR=' $PG"
check "postgres: the top Makefile is a PGXS build (what the build stage runs)" grep -q 'include \$(PGXS)' Makefile
check "postgres: only the extension's files reach the runtime stage" \
  bash -c "[ \$(grep -c '^COPY --from=build' $PG) -eq 2 ] && ! grep -q 'backend-gateway' <(grep '^COPY --from=build' $PG)"
check "postgres: shared_preload_libraries set to backend_framework (sample and config file)" \
  bash -c "grep -q \"shared_preload_libraries = 'backend_framework'\" $PG && grep -Eq \"^shared_preload_libraries = '[^']*backend_framework\" docker/postgres/postgresql.conf"
check "postgres: runs with docker/postgres/postgresql.conf" grepi $PG 'config_file=/etc/postgresql/postgresql.conf'
check "postgres: init scripts go to /docker-entrypoint-initdb.d" grepi $PG '^COPY docker/postgres/init/ /docker-entrypoint-initdb.d/'
check "postgres: HEALTHCHECK with pg_isready" grepi $PG '^HEALTHCHECK .*pg_isready'
check "postgres: logs to stderr (logging_collector off, log_destination stderr), no log directory in the image" \
  bash -c "grep -Eq '^logging_collector = off' docker/postgres/postgresql.conf && grep -Eq \"^log_destination = 'stderr'\" docker/postgres/postgresql.conf && ! grep -q '/var/log/postgresql' $PG"

# Both: every COPY source exists and survives .dockerignore.
ignored() {  # ignored PATH: does .dockerignore exclude PATH (last match wins, like Docker)?
  node -e '
    const fs = require("fs"), p = process.argv[1];
    const rules = fs.readFileSync(".dockerignore", "utf8").split("\n").map(l => l.trim()).filter(l => l && !l.startsWith("#"));
    const re = g => new RegExp("^" + g.replace(/\/$/, "").replace(/[.+^${}()|[\]\\]/g, "\\$&")
                      .replace(/\*\*\//g, "\u0001").replace(/\*\*/g, "\u0002").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")
                      .replace(/\u0001/g, "(?:.*/)?").replace(/\u0002/g, ".*") + "(?:/.*)?$");
    let out = false;
    for (const r of rules) { const neg = r.startsWith("!"); if (re(neg ? r.slice(1) : r).test(p)) out = !neg; }
    process.exit(out ? 0 : 1);' "$1"
}
for df in $GW $PG; do
  bad=""
  while read -r src; do
    [ -e "$src" ] || { bad="$bad $src(missing)"; continue; }
    ignored "${src%/}" && bad="$bad $src(ignored)"
  done < <(instr "$df" | awk '$1=="COPY" && $2 !~ /^--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }')
  check "$df: every COPY source exists and is not in .dockerignore${bad:+ ($bad)}" test -z "$bad"
done
kept=""; for f in Makefile mk/docker.mk gateway/gateway.mk gateway/src/buf.c extension/backend_framework.control extension/schema/00_header.sql docker/postgres/postgresql.conf; do
  ignored "$f" && kept="$kept $f"
done
check ".dockerignore keeps the sources in the build context${kept:+ (excluded:$kept)}" test -z "$kept"
leaks=""; for f in .git .env .build gateway/backend-gateway gateway/src/x.o backend_framework.so test/http docs docker/secrets/x.txt docker/nginx/certs/privkey.pem; do
  ignored "$f" || leaks="$leaks $f"
done
check ".dockerignore excludes .git, .env, .build, build outputs, tests, docs, secrets, certificates${leaks:+ (not excluded:$leaks)}" test -z "$leaks"

# Entry points: POSIX sh (Alpine's busybox sh), executable.
for f in docker/gateway/entrypoint.sh docker/postgres/entrypoint.sh; do
  check "$f: valid POSIX sh (dash -n), executable" bash -c "dash -n $f && [ -x $f ]"
done
check "docker/postgres/init/01-init.sql has no password in it" bash -c "! grep -Eiq \"password '[^']+'\" docker/postgres/init/01-init.sql"
summary
