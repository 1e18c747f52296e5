#!/usr/bin/env bash
# Deployment, part 2: the four nginx configs of docker/nginx in front of the
# REAL gateway, natively (no Docker). Each config is copied to a temp dir and
# only what Docker provides is rewritten: the upstream host gateway:8080 ->
# a gateway started here exactly as its container starts it (through
# docker/gateway/entrypoint.sh, BACKEND_* variables, --trust-proxy on), the
# listen ports -> free local ports, the static root -> a copy of
# gateway/www, log/pid paths -> the temp dir, TLS certificates -> a
# self-signed pair made here, the `user` line (the image's nginx user). Then
# `nginx -t` on all four, the servers run as child processes and curl checks
# proxying, X-Forwarded-*, gzip, security headers, static caching, TLS,
# HTTP->HTTPS redirects and HSTS. The HTTP API suites (test/http, except the
# gateway's own raw-HTTP suite) run once more through the API nginx.
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
source "$ROOT/test/deploy/lib.sh"
cd "$ROOT"

command -v nginx >/dev/null || { echo "FAIL nginx is not installed (scripts/deps.sh installs it)"; exit 1; }
command -v openssl >/dev/null || { echo "FAIL openssl is not installed"; exit 1; }
[ -x gateway/backend-gateway ] || { echo "FAIL gateway/backend-gateway is not built"; exit 1; }

tmp=$(mktemp -d /tmp/bf-deploy-nginx.XXXXXX)
chmod 755 "$tmp"                      # nginx workers run as nobody
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the gateway, started like its container ---------------------------------
GW_PORT=$(free_port)
DSN_NO_PASSWORD="host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=backend_gateway_login connect_timeout=5 application_name=backend-gateway"
env BACKEND_LISTEN=127.0.0.1:$GW_PORT BACKEND_DATABASE_URL="$DSN_NO_PASSWORD" GATEWAY_DB_PASSWORD=gateway \
    BACKEND_TRUST_PROXY=1 BACKEND_POOL=2 BACKEND_THREADS=2 BACKEND_TIMEOUT=10 DEBUG=true \
    GATEWAY_BIN="$ROOT/gateway/backend-gateway" \
    sh docker/gateway/entrypoint.sh >"$tmp/gateway.log" 2>"$tmp/gateway.err" &
GW_PID=$!; pids+=($GW_PID)
if ! wait_http "http://127.0.0.1:$GW_PORT/health" 100; then
  echo "FAIL the gateway did not start through docker/gateway/entrypoint.sh"; cat "$tmp/gateway.err"; exit 1
fi
check "gateway starts through docker/gateway/entrypoint.sh (password from GATEWAY_DB_PASSWORD, not in the DSN)" \
  grep -q 'password=set' "$tmp/gateway.err"

# --- a self-signed certificate and the static root ------------------------------
mkdir -p "$tmp/certs" "$tmp/www"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,DNS:api.example.test,DNS:app.example.test,IP:127.0.0.1" \
  -keyout "$tmp/certs/privkey.pem" -out "$tmp/certs/fullchain.pem" 2>/dev/null
chmod 644 "$tmp/certs/"*.pem
cp -a gateway/www/. "$tmp/www/"
# Fixtures beside the console, to check each caching class deterministically.
mkdir -p "$tmp/www/__deploy_test__"
fx=$tmp/www/__deploy_test__
for i in $(seq 40); do echo ".deploy-test-$i { color: #123456; margin: ${i}px; }"; done > "$fx/style.css"
cp "$fx/style.css" "$fx/app.0123456789abcdef.css"
printf '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>\n' > "$fx/logo.svg"
echo 'secret' > "$fx/.hidden"
echo '<!doctype html><title>t</title><p>deploy test</p>' > "$fx/page.html"
chmod -R a+rX "$tmp/www"

# --- the configs, rewritten for this machine ----------------------------------------
# prepare NAME NGINX_CONF SERVER_CONF "LISTEN_FROM=PORT ..."
prepare() {
  local name=$1 main=$2 server=$3 map=$4 d=$tmp/$1 sedargs=() pair from to
  mkdir -p "$d/conf.d" "$d/logs"
  for pair in $map; do
    from=${pair%%=*}; to=${pair#*=}
    sedargs+=(-e "s/listen $from /listen 127.0.0.1:$to /")
    # The public TLS port in the API's redirect is the one Docker publishes.
    sedargs+=(-e "s/https:\/\/\$host:$from\$request_uri/https:\/\/\$host:$to\$request_uri/")
  done
  sed -e '/^user /d' -e "s/worker_rlimit_nofile .*;/worker_rlimit_nofile $NOFILE;/" \
      -e "s|/var/run/nginx.pid|$d/nginx.pid|" \
      -e "s|/var/log/nginx/|$d/logs/|g" \
      -e "s|include /etc/nginx/conf.d/\*.conf;|include $d/conf.d/*.conf;|" \
      "$main" > "$d/nginx.conf"
  sed "${sedargs[@]}" \
      -e "s|server gateway:8080|server 127.0.0.1:$GW_PORT|" \
      -e "s|root /usr/share/nginx/html;|root $tmp/www;|" \
      -e "s|/etc/nginx/certs/|$tmp/certs/|g" \
      -e "s|/etc/nginx/common/|$ROOT/docker/nginx/common/|g" \
      -e "s|root /var/www/acme;|root $tmp/acme;|" \
      "$server" > "$d/conf.d/$(basename "$server")"
}
start() {
  local d=$tmp/$1
  nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/startup.log" -g 'daemon off;' >"$d/stdout" 2>"$d/stderr" &
  pids+=($!)
}

# Docker gives the containers the nofile limit the compose files ask for; here
# the limit is what this shell may have.
NOFILE=$(ulimit -Hn); [ "$NOFILE" = unlimited ] && NOFILE=65535; [ "$NOFILE" -gt 65535 ] && NOFILE=65535
API=$(free_port); FE=$(free_port); APIP_HTTP=$(free_port); APIP_TLS=$(free_port); FEP_HTTP=$(free_port); FEP_TLS=$(free_port)
prepare api       docker/nginx/api/nginx.conf           docker/nginx/api/conf.d/api.conf                "8080=$API"
prepare frontend  docker/nginx/frontend/nginx.conf      docker/nginx/frontend/conf.d/frontend.conf      "8000=$FE"
prepare api_prod  docker/nginx/api/nginx.prod.conf      docker/nginx/api/conf.d/api.prod.conf           "8080=$APIP_HTTP 8443=$APIP_TLS"
prepare fe_prod   docker/nginx/frontend/nginx.prod.conf docker/nginx/frontend/conf.d/frontend.prod.conf "80=$FEP_HTTP 443=$FEP_TLS"

for n in api frontend api_prod fe_prod; do
  d=$tmp/$n
  if nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/logs/test.log" 2>"$d/nginx-t.err"; then
    check "nginx -t: $n" true
  else
    check "nginx -t: $n" false; cat "$d/nginx-t.err"
  fi
done
grep -vh 'listen \.\.\. http2. directive is deprecated' "$tmp"/*/nginx-t.err | grep -i warn && echo "(warnings above)"
for n in api frontend api_prod fe_prod; do start "$n"; done
for u in "http://127.0.0.1:$API/nginx-health" "http://127.0.0.1:$FE/nginx-health" \
         "http://127.0.0.1:$APIP_HTTP/nginx-health" "https://127.0.0.1:$APIP_TLS/nginx-health" \
         "http://127.0.0.1:$FEP_HTTP/nginx-health" "https://127.0.0.1:$FEP_TLS/nginx-health"; do
  wait_http "$u" 50 || { echo "FAIL nginx did not answer on $u"; cat "$tmp"/*/stderr "$tmp"/*/logs/startup.log 2>/dev/null; exit 1; }
done

# get NAME URL [curl args]: response headers to $tmp/NAME.h, body to $tmp/NAME.b
get() { local n=$1 u=$2; shift 2; curl -s -k -D "$tmp/$n.h" -o "$tmp/$n.b" "$@" "$u"; }
is() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
starts_with() { case "$1" in "$2"*) return 0 ;; esac; echo "     '$1' does not start with '$2'"; return 1; }
has() { case "$1" in *"$2"*) return 0 ;; esac; echo "     '$1' lacks '$2'"; return 1; }

# --- API nginx (development) -------------------------------------------------------
A=http://127.0.0.1:$API
get api_health "$A/health"
check "api: /health through nginx is 200" is "$(status "$tmp/api_health.h")" 200
check "api: /health body is the gateway's JSON" node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$tmp/api_health.b"
check "api: X-Content-Type-Options nosniff, exactly once" is "$(header "$tmp/api_health.h" X-Content-Type-Options)/$(header_count "$tmp/api_health.h" X-Content-Type-Options)" "nosniff/1"
check "api: X-Frame-Options present once" is "$(header_count "$tmp/api_health.h" X-Frame-Options)" 1
check "api: Referrer-Policy present once" is "$(header_count "$tmp/api_health.h" Referrer-Policy)" 1
check "api: Server header without version (server_tokens off)" is "$(header "$tmp/api_health.h" Server)" nginx
get api_rid "$A/health" -H 'X-Request-Id: deploy-test-42'
check "api: X-Request-Id passed to the gateway and returned once" is "$(header "$tmp/api_rid.h" X-Request-Id)/$(header_count "$tmp/api_rid.h" X-Request-Id)" "deploy-test-42/1"

# gzip: the largest of a few gateway answers.
gz_ok=false
for p in /api/v1/openapi.json /metrics /api/v1/status /health; do
  get api_plain "$A$p"; get api_gz "$A$p" -H 'Accept-Encoding: gzip'
  [ "$(status "$tmp/api_plain.h")" = 200 ] && [ "$(stat -c %s "$tmp/api_plain.b")" -ge 256 ] || continue
  if [ "$(header "$tmp/api_gz.h" Content-Encoding)" = gzip ] && gzip -dc "$tmp/api_gz.b" | cmp -s - "$tmp/api_plain.b" \
     && [ "$(header "$tmp/api_gz.h" Vary)" != "" ]; then gz_ok=true; fi
  echo "     gzip checked on $p ($(stat -c %s "$tmp/api_plain.b") -> $(stat -c %s "$tmp/api_gz.b") bytes)"
  break
done
check "api: gzip on proxied answers (Content-Encoding: gzip, Vary, same bytes after gunzip)" $gz_ok
get api_metrics "$A/metrics"
check "api: /metrics reachable from 127.0.0.1 (private addresses only)" is "$(status "$tmp/api_metrics.h")" 200

# X-Forwarded-Host/Proto reach the database: the issuer URL follows the client's host.
issuer_check() {   # issuer_check LABEL BASEURL EXPECTED_PREFIX [curl args]
  local label=$1 base=$2 want=$3; shift 3
  local found=""
  for p in /t/demo/.well-known/oauth-authorization-server /.well-known/oauth-authorization-server/t/demo; do
    get iss "$base$p" "$@"
    if [ "$(status "$tmp/iss.h")" = 200 ]; then found=$p; break; fi
  done
  if [ -z "$found" ]; then
    skip "$label" "the metadata route of tenant demo answers $(status "$tmp/iss.h") (API or demo tenant not there yet); /health was checked instead"
    return
  fi
  local iss
  iss=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).issuer)' "$tmp/iss.b")
  check "$label (issuer $iss via $found)" starts_with "$iss" "$want"
}
issuer_check "api: X-Forwarded-Host/Proto reach the gateway (Host api.example.test)" "$A" "http://api.example.test/t/demo" -H 'Host: api.example.test'
issuer_check "api: the client's port is kept in X-Forwarded-Host" "$A" "http://api.example.test:8080/t/demo" -H 'Host: api.example.test:8080'

# --- frontend nginx (development) ---------------------------------------------------
F=http://127.0.0.1:$FE
get fe_health "$F/health"
check "frontend: /health proxied to the gateway (200)" is "$(status "$tmp/fe_health.h")" 200
check "frontend: proxied answers keep the gateway's caching (no static Cache-Control added)" \
  bash -c "! grep -qi '^Cache-Control: no-cache' '$tmp/fe_health.h'"
get fe_ping "$F/api/v1/ping"
check "frontend: /api/ proxied (JSON from the gateway, not a static 404 page)" \
  has "$(header "$tmp/fe_ping.h" Content-Type)" "application/json"
get fe_wk "$F/t/demo/.well-known/oauth-authorization-server"
check "frontend: /t/.../.well-known/ proxied, not hidden as a dot path" \
  has "$(header "$tmp/fe_wk.h" Content-Type)" "application/json"
issuer_check "frontend: same-origin issuer follows the frontend's host" "$F" "http://app.example.test/t/demo" -H 'Host: app.example.test'

get fe_css "$F/__deploy_test__/style.css" -H 'Accept-Encoding: gzip'
check "frontend: static CSS gzip-compressed" is "$(header "$tmp/fe_css.h" Content-Encoding)" gzip
# Encoded ".." that nginx itself refuses: a JSON 4xx, never its HTML 500, never a file.
for trav in "/console/%2e%2e/%2e%2e/etc/passwd" "/..%2f..%2fetc/passwd" "/%2e%2e/%2e%2e/etc/passwd"; do
  code=$(curl -s -o "$tmp/trav.b" -w '%{http_code}|%{content_type}' --path-as-is "$F$trav")
  check "frontend: $trav refused with a JSON 4xx, no file" is "${code:0:1}|${code#*|}|$(grep -c root: "$tmp/trav.b")" "4|application/json|0"
done
check "frontend: unhashed CSS/JS always revalidated (no-cache: modules never half old, half new)" is "$(header "$tmp/fe_css.h" Cache-Control)" "no-cache"
get fe_svg "$F/__deploy_test__/logo.svg"
check "frontend: images cached a week" is "$(header "$tmp/fe_svg.h" Cache-Control)" "public, max-age=604800"
check "frontend: static files carry an ETag" test -n "$(header "$tmp/fe_css.h" ETag)"
check "frontend: static files carry Last-Modified" test -n "$(header "$tmp/fe_css.h" Last-Modified)"
get fe_css_plain "$F/__deploy_test__/style.css"
etag=$(header "$tmp/fe_css_plain.h" ETag)
get fe_304 "$F/__deploy_test__/style.css" -H "If-None-Match: $etag"
check "frontend: revalidation with the ETag answers 304" is "$(status "$tmp/fe_304.h")" 304
get fe_hashed "$F/__deploy_test__/app.0123456789abcdef.css"
check "frontend: hashed file names cached a year, immutable" is "$(header "$tmp/fe_hashed.h" Cache-Control)" "public, max-age=31536000, immutable"
get fe_html "$F/__deploy_test__/page.html"
check "frontend: HTML always revalidated (Cache-Control: no-cache)" is "$(header "$tmp/fe_html.h" Cache-Control)" "no-cache"
check "frontend: HTML has a Content-Security-Policy" has "$(header "$tmp/fe_html.h" Content-Security-Policy)" "frame-ancestors 'none'"
check "frontend: security headers on static files" \
  is "$(header "$tmp/fe_html.h" X-Content-Type-Options)|$(header "$tmp/fe_html.h" X-Frame-Options)|$(header "$tmp/fe_html.h" Referrer-Policy)" "nosniff|DENY|no-referrer"
get fe_clean "$F/__deploy_test__/page"
check "frontend: clean URLs (/page serves page.html)" is "$(status "$tmp/fe_clean.h")" 200
get fe_dot "$F/__deploy_test__/.hidden"
check "frontend: dot files are not served" is "$(status "$tmp/fe_dot.h")" 404

# The console itself: every file of gateway/www is served with a type.
n_files=$(cd gateway/www && find . -type f ! -name '.*' | wc -l)
check "frontend: gateway/www holds the console" test "$n_files" -gt 0
bad=0
while IFS= read -r f; do
  f=${f#./}
  code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$F/$f")
  case "$code" in 200\ ?*) ;; *) echo "     /$f -> $code"; bad=$((bad + 1)) ;; esac
done < <(cd gateway/www && find . -type f ! -name '.*')
check "frontend: all $n_files files of gateway/www served with a content type" is "$bad" 0
if [ -f gateway/www/index.html ]; then
  get fe_index "$F/" -H 'Accept-Encoding: gzip'
  check "frontend: / is the console's index.html" is "$(status "$tmp/fe_index.h")/$(header "$tmp/fe_index.h" Cache-Control)" "200/no-cache"
fi
# The CSP of the static pages allows scripts from files only.
inline=$(grep -rlE '<script>|<script( [a-z-]+(="[^"]*")?)*>[^<]|\son[a-z]+="' --include='*.html' gateway/www || true)
check "frontend: no inline scripts or on* handlers (the CSP allows script-src 'self' only)" is "${inline:-none}" none

# --- API nginx (production: TLS, redirect, HSTS) ---------------------------------------
get apip_redirect "http://127.0.0.1:$APIP_HTTP/health?x=1"
check "api prod: HTTP redirects with 308 (keeps POST a POST)" is "$(status "$tmp/apip_redirect.h")" 308
check "api prod: redirect target is HTTPS on the TLS port, path and query kept" \
  is "$(header "$tmp/apip_redirect.h" Location)" "https://127.0.0.1:$APIP_TLS/health?x=1"
get apip_follow "http://127.0.0.1:$APIP_HTTP/health" -L
check "api prod: following the redirect reaches /health over TLS (200)" is "$(status "$tmp/apip_follow.h")" 200
get apip_health "https://127.0.0.1:$APIP_TLS/health"
check "api prod: HSTS on HTTPS" has "$(header "$tmp/apip_health.h" Strict-Transport-Security)" "max-age=63072000"
check "api prod: HTTP/2 offered" is "$(curl -s -k -o /dev/null --http2 -w '%{http_version}' "https://127.0.0.1:$APIP_TLS/health")" 2
check "api prod: TLS 1.1 refused" bash -c "! curl -s -k -o /dev/null --tls-max 1.1 https://127.0.0.1:$APIP_TLS/health"
issuer_check "api prod: X-Forwarded-Proto https reaches the gateway" "https://api.example.test:$APIP_TLS" \
  "https://api.example.test:$APIP_TLS/t/demo" --resolve "api.example.test:$APIP_TLS:127.0.0.1"

# --- frontend nginx (production) --------------------------------------------------------
get fep_redirect "http://127.0.0.1:$FEP_HTTP/console/?a=b" -H 'Host: app.example.test'
check "frontend prod: HTTP redirects (301) to https on the default port" \
  is "$(status "$tmp/fep_redirect.h") $(header "$tmp/fep_redirect.h" Location)" "301 https://app.example.test/console/?a=b"
get fep_health "https://127.0.0.1:$FEP_TLS/health"
check "frontend prod: /health over TLS (200) with HSTS" \
  is "$(status "$tmp/fep_health.h")/$(header_count "$tmp/fep_health.h" Strict-Transport-Security)" "200/1"
get fep_css "https://127.0.0.1:$FEP_TLS/__deploy_test__/style.css" -H 'Accept-Encoding: gzip'
check "frontend prod: static files over TLS, gzip, cached, HSTS" \
  is "$(header "$tmp/fep_css.h" Content-Encoding)|$(header "$tmp/fep_css.h" Cache-Control)|$(header_count "$tmp/fep_css.h" Strict-Transport-Security)" "gzip|no-cache|1"

# --- the HTTP API suites once more, through the API nginx ----------------------------------
# nginx must be transparent: every test that passes against the gateway
# directly (the same trust-proxy gateway) must pass through nginx too. Tests
# failing either way belong to work in progress elsewhere and are listed only.
# gateway*.test.mjs and fuzz.test.mjs probe the gateway's own handling of
# malformed HTTP, which a proxy in front changes by design.
mapfile -t suites < <(ls test/http/*.test.mjs 2>/dev/null | grep -vE '/(gateway|fuzz)[^/]*\.test\.mjs$' || true)
if [ -n "${DEPLOY_HTTP_SUITES:-}" ]; then mapfile -t suites < <(ls $DEPLOY_HTTP_SUITES); fi
passing() { grep -E '^ *ok [0-9]+ - ' "$1" | grep -v '# SKIP' | sed -E 's/^ *ok [0-9]+ - //' | sort -u; }
check "HTTP suites through nginx: test/http has API suites" test "${#suites[@]}" -gt 0
if [ "${#suites[@]}" -gt 0 ]; then
  BF_URL=http://127.0.0.1:$GW_PORT node --test --test-concurrency=1 --test-reporter=tap "${suites[@]}" >"$tmp/direct.tap" 2>&1
  BF_URL=$A BF_VIA_NGINX=1 node --test --test-concurrency=1 --test-reporter=tap "${suites[@]}" >"$tmp/nginx.tap" 2>&1
  n_direct=$(passing "$tmp/direct.tap" | wc -l); n_nginx=$(passing "$tmp/nginx.tap" | wc -l)
  lost=$(comm -23 <(passing "$tmp/direct.tap") <(passing "$tmp/nginx.tap"))
  echo "     HTTP suites (${suites[*]}): $n_direct tests pass directly, $n_nginx through nginx"
  echo "     failing directly too (not nginx's doing): $(grep -cE '^ *not ok [0-9]+ - ' "$tmp/direct.tap")"
  check "HTTP suites against the gateway directly: some tests pass" test "$n_direct" -gt 0
  check "HTTP suites through the API nginx: all $n_direct tests that pass directly pass through nginx" test -z "$lost"
  if [ -n "$lost" ]; then
    echo "$lost" | sed 's/^/     lost through nginx: /'
    grep -A25 -E '^ *not ok [0-9]+ - ' "$tmp/nginx.tap" | head -80
  fi
fi

# --- gateway down: nginx answers JSON 503 with Retry-After ---------------------------------
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
get api_down "$A/health"
check "api: gateway down -> JSON 503 with Retry-After" \
  is "$(status "$tmp/api_down.h")|$(header "$tmp/api_down.h" Retry-After)|$(header "$tmp/api_down.h" Content-Type)" "503|5|application/json"
get fe_down "$F/api/v1/ping"
check "frontend: gateway down -> JSON 503" is "$(status "$tmp/fe_down.h")" 503

# --- logs: JSON access lines without query strings; no critical errors ---------------------
for p in "${pids[@]:1}"; do kill -QUIT "$p" 2>/dev/null; done     # graceful: flushes buffered logs
for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null; done
pids=()
check "access log is JSON lines with request ids, paths without query strings" node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  let n = 0;
  for (const l of lines) { const o = JSON.parse(l); if (!o.request_id || !o.path || o.path.includes("?")) process.exit(1); n++; }
  if (n < 3) process.exit(1);' "$tmp/api/logs/access.json"
crit=$(cat "$tmp"/*/logs/error.log 2>/dev/null | grep -c '\[emerg\]\|\[alert\]\|\[crit\]')
check "no emerg/alert/crit entries in the nginx error logs" is "$crit" 0
[ "$crit" -eq 0 ] || grep -h '\[emerg\]\|\[alert\]\|\[crit\]' "$tmp"/*/logs/error.log | head
summary
