#!/usr/bin/env bash
# No secret reaches the PostgreSQL log, even with every statement logged.
# The gateway passes each request's headers and body as bind parameters of
# api.handle_request; the clusters the project configures set
# log_parameter_max_length(_on_error) = 0, so a logged statement never
# carries them. Here the test cluster logs everything (log_statement = all,
# log_min_duration_statement = 0, by ALTER SYSTEM + reload, reset at the
# end), a sign-up, password, client-credentials and refresh grants, a
# bearer call and an introspection run through the real gateway, and the
# log written meanwhile must hold none of the passwords, the client secret
# or the tokens: raw, hex (bytea), base64 (Basic) or URL-encoded.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"
: "${BF_URL:?BF_URL is not set (run through make test)}"
LOG=$CLUSTER/postgres.log
tmp=$(mktemp -d /tmp/bf-log-secrets.XXXXXX)
restore() {
  psql -qXAt -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_min_duration_statement" \
       -c "SELECT pg_reload_conf()" >/dev/null
  rm -rf "$tmp"
}
trap restore EXIT
rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

# Set-up before logging starts: a tenant with an owner and a confidential client.
slug=logsec-$(rnd | cut -c1-8)
OWNER_PW=owner-pw-$(rnd)
psql -qXAt -v ON_ERROR_STOP=1 >"$tmp/setup" <<SQL || { echo "FAIL set-up"; exit 1; }
SELECT 1 FROM tenancy.register_tenant('$slug', 'Log secrets', 'owner@$slug.test', '$OWNER_PW', 'premium');
BEGIN;
SELECT tenancy.enter_tenant('$slug') IS NULL;
SELECT c->>'client_id', c->>'client_secret'
  FROM oauth.create_client('{"client_name": "log test", "grant_types": ["client_credentials", "password", "refresh_token"],
                             "scope": "read profile", "token_endpoint_auth_method": "client_secret_basic"}') c;
COMMIT;
SQL
IFS='|' read -r CID CSECRET < <(grep '|' "$tmp/setup")
[ -n "$CSECRET" ] || { echo "FAIL no client created"; cat "$tmp/setup"; exit 1; }

psql -qXAt -c "ALTER SYSTEM SET log_statement = 'all'" -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
     -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
offset=$(stat -c %s "$LOG")

# The requests, through the gateway.
SIGNUP_PW=signup-pw-$(rnd)
U=$BF_URL/t/$slug
curl -s -o "$tmp/signup" -H 'Content-Type: application/json' \
  -d "{\"slug\":\"$slug-b\",\"name\":\"B\",\"owner_email\":\"o@$slug-b.test\",\"owner_password\":\"$SIGNUP_PW\"}" "$BF_URL/api/v1/tenants"
curl -s -o "$tmp/pw" -u "$CID:$CSECRET" --data-urlencode grant_type=password \
  --data-urlencode "username=owner@$slug.test" --data-urlencode "password=$OWNER_PW" -d 'scope=read profile' "$U/oauth/token"
curl -s -o "$tmp/cc" -u "$CID:$CSECRET" -d grant_type=client_credentials -d scope=read "$U/oauth/token"
# client_secret_post too (refused for a basic client, but the secret is sent)
curl -s -o /dev/null -d grant_type=client_credentials -d "client_id=$CID" --data-urlencode "client_secret=$CSECRET" "$U/oauth/token"
json() { node -e 'try { const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(o[process.argv[2]] ?? "") } catch { console.log("") }' "$@"; }
A1=$(json "$tmp/pw" access_token); R1=$(json "$tmp/pw" refresh_token); A2=$(json "$tmp/cc" access_token)
S1=$(json "$tmp/signup" access_token)
check "the password grant issued tokens" test -n "$A1" -a -n "$R1"
check "the client-credentials grant issued a token" test -n "$A2"
check "the sign-up answered a token" test -n "$S1"
curl -s -o /dev/null -H "Authorization: Bearer $A1" "$U/api/v1/me"
curl -s -o /dev/null -H "Authorization: Bearer $S1" "$BF_URL/t/$slug-b/api/v1/me"
curl -s -o "$tmp/rt" -u "$CID:$CSECRET" -d grant_type=refresh_token --data-urlencode "refresh_token=$R1" "$U/oauth/token"
A3=$(json "$tmp/rt" access_token); R3=$(json "$tmp/rt" refresh_token)
check "the refresh grant issued tokens" test -n "$A3" -a -n "$R3"
curl -s -o /dev/null -u "$CID:$CSECRET" --data-urlencode "token=$A2" "$U/oauth/introspect"
# a failing password check too (the error path)
curl -s -o /dev/null -u "$CID:$CSECRET" -d grant_type=password --data-urlencode "username=owner@$slug.test" \
  --data-urlencode "password=${OWNER_PW}x" "$U/oauth/token"
sleep 1
tail -c +"$((offset + 1))" "$LOG" > "$tmp/log"

n=$(grep -c 'handle_request' "$tmp/log")
check "statements were logged meanwhile ($n lines name api.handle_request)" test "$n" -ge 8
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
leaks=0
for pair in "owner password:$OWNER_PW" "sign-up password:$SIGNUP_PW" "client secret:$CSECRET" \
            "Basic credentials:$(printf '%s:%s' "$CID" "$CSECRET" | base64 -w0)" \
            "access token (password grant):$A1" "refresh token:$R1" "access token (client credentials):$A2" \
            "access token (sign-up):$S1" "access token (refresh):$A3" "refresh token (rotated):$R3"; do
  what=${pair%%:*}; secret=${pair#*:}
  [ -n "$secret" ] || continue
  found=""
  for form in "$secret" "$(hex "$secret")" "$(node -e 'console.log(encodeURIComponent(process.argv[1]))' "$secret")"; do
    grep -qF -- "$form" "$tmp/log" && found=yes
  done
  check "the log holds no $what" test -z "$found"
  [ -z "$found" ] || leaks=$((leaks + 1))
done
[ "$leaks" -eq 0 ] || grep -m3 -F 'parameters:' "$tmp/log" | cut -c1-300
summary
