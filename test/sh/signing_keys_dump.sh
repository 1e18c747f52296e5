#!/usr/bin/env bash
# Signing keys at rest (issue 12, invariant 7): a pg_dump of the database
# holds the tenants' signing keys only sealed with the key-encryption key —
# no PEM, no private JWK member, no DER private key — and a database restored
# from it without the KEK cannot sign; with the KEK it can.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
db=bf_keys_$$ restored=bf_keys_restored_$$
tmp=$(mktemp -d /tmp/bf-keys.XXXXXX)
cleanup() { for d in $db $restored; do psql -qX -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done; rm -rf "$tmp"; }
trap cleanup EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

psql -qX -d postgres -c "CREATE DATABASE $db" >/dev/null
q $db "CREATE EXTENSION backend_framework CASCADE" 2>/dev/null
tid=$(q $db "SELECT tenant_id FROM tenancy.register_tenant('keys-co', 'Keys Co', 'owner@keys.test', 'owner-password-1')")
check "keys are made (active and next, RS256 and ES256)" \
  test "$(q $db "BEGIN; SELECT tenancy.enter_tenant('keys-co') IS NULL; SELECT jsonb_array_length(oauth.jwks_document('$tid')->'keys'); COMMIT;" | tail -1)" = 4
pg_dump -d $db -Fp > "$tmp/dump.sql"
check "the dump holds the sealed keys" bash -c "grep -c 'oauth.signing_keys' '$tmp/dump.sql' >/dev/null && grep -q '\\\\x42464b31' '$tmp/dump.sql'"
check "no PEM in the dump" bash -c "! grep -q 'PRIVATE KEY' '$tmp/dump.sql'"
check "no private JWK member in the dump" bash -c "! grep -Eq '\"(d|p|q|dp|dq|qi)\": ?\"' '$tmp/dump.sql'"
# A DER private key (RSA: 30 82 .. .. 02 01 00; EC: 30 77 02 01 01) appears nowhere in clear.
check "no DER private key in the dump" bash -c "! grep -Eq '\\\\x308204[0-9a-f]{2}020100|\\\\x3077020101' '$tmp/dump.sql'"

# Restored elsewhere without the key-encryption key: the keys are useless.
psql -qX -d postgres -c "CREATE DATABASE $restored" >/dev/null
psql -qX -v ON_ERROR_STOP=0 -d $restored -f "$tmp/dump.sql" >/dev/null 2>&1
out=$(psql -qXAt -d $restored -c "SET backend_framework.key_encryption_key = '$(openssl rand -hex 32)'" \
        -c "SELECT (oauth._sign_jwt('$tid', 'RS256', 'JWT', '{}')).kid" 2>&1)
check "another KEK cannot use the restored keys" bash -c "grep -q 'cannot be decrypted' <<< '$out'"
check "the right KEK signs with them" test -n "$(q $restored "SELECT (oauth._sign_jwt('$tid', 'RS256', 'JWT', '{}')).jwt" 2>/dev/null)"
summary
