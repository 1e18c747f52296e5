#!/usr/bin/env bash
# Upgrades (invariant 9): a database of the first release (0.1.0) with a
# tenant, users, a client and tokens made through its own API is updated
# with ALTER EXTENSION backend_framework UPDATE along the chain of
# extension/upgrade/ steps. Afterwards:
#  - the version is VERSION's;
#  - the schema equals a fresh install of VERSION (pg_dump --schema-only),
#    and so do the route table and the plans;
#  - the data still works: the old access tokens are still valid (SQL and
#    the HTTP entry point), and the old refresh token still rotates.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
VERSION=$(cat VERSION)
old=bf_upgrade_old_$$ new=bf_upgrade_new_$$
tmp=$(mktemp -d /tmp/bf-upgrade.XXXXXX)
cleanup() {
  for d in $old $new ${old}_dump ${new}_dump; do psql -qX -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# call DB METHOD PATH HEADERS BODY: status and body of api.handle_request.
call() {
  q "$1" "SELECT status || ' ' || body FROM api.handle_request('$2', '$3', '', '$4'::jsonb, convert_to('$5', 'UTF8'), '192.0.2.1')"
}

psql -qX -d postgres -c "CREATE DATABASE $old" -c "CREATE DATABASE $new" >/dev/null
check "0.1.0 installs from extension/releases" q "$old" "CREATE EXTENSION backend_framework VERSION '0.1.0' CASCADE"

# Data made through 0.1.0's own entry point, as the gateway would.
H='{"host": "localhost", "content-type": "application/json"}'
reg=$(call "$old" POST /api/v1/tenants "$H" '{"slug": "upgrade-co", "name": "Upgrade Co", "owner_email": "owner@upgrade.test", "owner_password": "owner-password-1"}')
owner_token=$(echo "${reg#* }" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token||""))')
check "0.1.0: sign-up gives a token" test -n "$owner_token"
A="{\"host\": \"localhost\", \"x-tenant\": \"upgrade-co\", \"content-type\": \"application/json\", \"authorization\": \"Bearer $owner_token\"}"
check "0.1.0: a user is created" bash -c "[[ '$(call "$old" POST /api/v1/users "$A" '{"email": "ann@upgrade.test", "password": "ann-password-1", "role": "user"}')' == 201* ]]"
client=$(call "$old" POST /api/v1/clients "$A" '{"client_name": "Worker", "grant_types": ["client_credentials", "password", "refresh_token"], "scope": "read write profile", "token_endpoint_auth_method": "client_secret_post"}')
cid=$(echo "${client#* }" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).client_id||""))')
csec=$(echo "${client#* }" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).client_secret||""))')
check "0.1.0: a confidential client is created" test -n "$csec"
F='{"host": "localhost", "x-tenant": "upgrade-co", "content-type": "application/x-www-form-urlencoded"}'
cc=$(call "$old" POST /oauth/token "$F" "grant_type=client_credentials&client_id=$cid&client_secret=$csec&scope=read")
cc_token=$(echo "${cc#* }" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token||""))')
pw=$(call "$old" POST /oauth/token "$F" "grant_type=password&client_id=$cid&client_secret=$csec&username=ann%40upgrade.test&password=ann-password-1&scope=read%20profile")
refresh=$(echo "${pw#* }" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).refresh_token||""))')
check "0.1.0: client credentials and password grants issue tokens" test -n "$cc_token" -a -n "$refresh"

check "ALTER EXTENSION backend_framework UPDATE" q "$old" "ALTER EXTENSION backend_framework UPDATE"
check "the version is VERSION's ($VERSION)" test "$(q "$old" "SELECT extversion FROM pg_extension WHERE extname = 'backend_framework'")" = "$VERSION"

# The schema of the updated database equals a fresh install. pg_dump leaves
# an extension's objects out, so each database is dumped from a scratch copy
# in which they are detached from the extension (its pg_depend rows).
q "$new" "CREATE EXTENSION backend_framework CASCADE"
dump() {
  psql -qX -d postgres -c "CREATE DATABASE $1_dump TEMPLATE $1" >/dev/null &&
  q "$1_dump" "DELETE FROM pg_depend WHERE deptype = 'e' AND refclassid = 'pg_extension'::regclass
                 AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'backend_framework')" &&
  pg_dump --schema-only -d "$1_dump" | grep -vE '^(--.*)?$|^\\(un)?restrict '
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS $1_dump" >/dev/null
}
dump "$old" > "$tmp/updated.sql"; dump "$new" > "$tmp/fresh.sql"
check "the dumps hold the extension's objects" grep -q 'CREATE FUNCTION api.handle_request' "$tmp/fresh.sql"
if ! diff -u "$tmp/fresh.sql" "$tmp/updated.sql" > "$tmp/schema.diff"; then head -80 "$tmp/schema.diff"; fi
check "schema after the update = fresh install (pg_dump --schema-only)" test ! -s "$tmp/schema.diff"
for t in api.routes tenancy.plans; do
  check "$t after the update = fresh install" test \
    "$(q "$old" "SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM $t x")" = \
    "$(q "$new" "SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM $t x")"
done

# The data still works.
check "the owner's old token authenticates in SQL" \
  test "$(q "$old" "BEGIN; SELECT tenancy.authenticate('$owner_token') IS NOT NULL; COMMIT;" | head -1)" = t
me=$(call "$old" GET /api/v1/me "{\"host\": \"localhost\", \"x-tenant\": \"upgrade-co\", \"authorization\": \"Bearer $owner_token\"}" '')
check "the owner's old token reads /api/v1/me" bash -c "[[ '${me%% *}' == 200 ]]"
me=$(call "$old" GET /api/v1/me "{\"host\": \"localhost\", \"x-tenant\": \"upgrade-co\", \"authorization\": \"Bearer $cc_token\"}" '')
check "the old client credentials token still authenticates" bash -c "[[ '${me%% *}' == 200 || '${me%% *}' == 403 ]]"
rt=$(call "$old" POST /oauth/token "$F" "grant_type=refresh_token&client_id=$cid&client_secret=$csec&refresh_token=$refresh")
check "the old refresh token rotates" bash -c "[[ '${rt%% *}' == 200 ]]"
summary
