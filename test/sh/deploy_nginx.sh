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
# proxying, Host (421 for hosts not configured), gzip, security headers, static caching, TLS,
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
urls_set=false
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if $urls_set; then
    psql -XAtq -c "ALTER SYSTEM RESET backend_framework.public_urls" -c "SELECT pg_reload_conf()" >/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the gateway, started like its container ---------------------------------
GW_PORT=$(free_port)
DSN_NO_PASSWORD="host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=backend_gateway_login connect_timeout=5 application_name=backend-gateway"
METRICS_TOKEN=metrics-$$-$(openssl rand -hex 12)
env BACKEND_LISTEN=127.0.0.1:$GW_PORT BACKEND_DATABASE_URL="$DSN_NO_PASSWORD" GATEWAY_DB_PASSWORD="$(gateway_password)" \
    BACKEND_METRICS_TOKEN="$METRICS_TOKEN" BACKEND_TRUST_PROXY=1 BACKEND_POOL=2 BACKEND_THREADS=2 BACKEND_TIMEOUT=10 DEBUG=true \
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
      -e "s|/etc/nginx/common/|$ROOT/docker/nginx/common/|g" \
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
# The HTTP suites sign up tenants and take tokens far faster than a client
# should: they replay through a copy of the API nginx with its rate limits
# lifted (the limits themselves are checked below, on the four above).
API_SUITES=$(free_port)
prepare api_suites docker/nginx/api/nginx.conf          docker/nginx/api/conf.d/api.conf                "8080=$API_SUITES"
sed 's/rate=[0-9]*r\/[sm]/rate=100000r\/s/' docker/nginx/common/rate_limits.conf > "$tmp/api_suites/rate_limits.conf"
sed -i "s|$ROOT/docker/nginx/common/rate_limits.conf|$tmp/api_suites/rate_limits.conf|" "$tmp/api_suites/nginx.conf"
# Bursts too: the suites sign up tenants in parallel, many within a few
# microseconds, which even 100,000 requests/s with a burst of 5 refuses.
sed -i 's/burst=[0-9]*/burst=100000/' "$tmp/api_suites/conf.d/api.conf"

# The deployment names its own hosts: the URLs clients use here join the
# cluster's backend_framework.public_urls for the length of this test (the
# issuer and every URL the API builds come from that list; other hosts 421).
urls="$(psql -XAtq -c 'SHOW backend_framework.public_urls')"
for u in http://127.0.0.1:$GW_PORT http://localhost:$GW_PORT http://127.0.0.1:$API http://localhost:$API http://127.0.0.1:$API_SUITES http://localhost:$API_SUITES \
         http://api.example.test http://127.0.0.1:$FE http://localhost:$FE http://app.example.test \
         https://api.example.test:$APIP_TLS https://127.0.0.1:$APIP_TLS https://127.0.0.1:$FEP_TLS; do urls+=",$u"; done
psql -XAtq -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET backend_framework.public_urls = '$urls'" -c "SELECT pg_reload_conf()" >/dev/null \
  && urls_set=true
sleep 0.5
check "backend_framework.public_urls lists the URLs of this test" $urls_set

for n in api frontend api_prod fe_prod api_suites; do
  d=$tmp/$n
  if nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/logs/test.log" 2>"$d/nginx-t.err"; then
    check "nginx -t: $n" true
  else
    check "nginx -t: $n" false; cat "$d/nginx-t.err"
  fi
done
grep -vh 'listen \.\.\. http2. directive is deprecated' "$tmp"/*/nginx-t.err | grep -i warn && echo "(warnings above)"
for n in api frontend api_prod fe_prod api_suites; do start "$n"; done
for u in "http://127.0.0.1:$API/nginx-health" "http://127.0.0.1:$FE/nginx-health" \
         "http://127.0.0.1:$APIP_HTTP/nginx-health" "https://127.0.0.1:$APIP_TLS/nginx-health" \
         "http://127.0.0.1:$FEP_HTTP/nginx-health" "https://127.0.0.1:$FEP_TLS/nginx-health" \
         "http://127.0.0.1:$API_SUITES/nginx-health"; do
  wait_http "$u" 50 || { echo "FAIL nginx did not answer on $u"; cat "$tmp"/*/stderr "$tmp"/*/logs/startup.log 2>/dev/null; exit 1; }
done

# get NAME URL [curl args]: response headers to $tmp/NAME.h, body to $tmp/NAME.b
get() { local n=$1 u=$2; shift 2; curl -s -k -D "$tmp/$n.h" -o "$tmp/$n.b" "$@" "$u"; }
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
for p in /api/v1/openapi.json /api/v1/status /health; do
  get api_plain "$A$p"; get api_gz "$A$p" -H 'Accept-Encoding: gzip'
  [ "$(status "$tmp/api_plain.h")" = 200 ] && [ "$(stat -c %s "$tmp/api_plain.b")" -ge 256 ] || continue
  if [ "$(header "$tmp/api_gz.h" Content-Encoding)" = gzip ] && gzip -dc "$tmp/api_gz.b" | cmp -s - "$tmp/api_plain.b" \
     && [ "$(header "$tmp/api_gz.h" Vary)" != "" ]; then gz_ok=true; fi
  echo "     gzip checked on $p ($(stat -c %s "$tmp/api_plain.b") -> $(stat -c %s "$tmp/api_gz.b") bytes)"
  break
done
check "api: gzip on proxied answers (Content-Encoding: gzip, Vary, same bytes after gunzip)" $gz_ok

# The issuer is the configured public URL of the Host nginx passes on (port
# included); X-Forwarded-Host/Proto, whoever sends them, build nothing.
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
issuer_check "api: the issuer is the configured URL of the Host (api.example.test)" "$A" "http://api.example.test/t/demo" -H 'Host: api.example.test'
issuer_check "api: the port nginx passes on picks the configured URL (127.0.0.1:$API)" "$A" "http://127.0.0.1:$API/t/demo"
issuer_check "api: a port not configured for the host gets its configured URL, not the header's" "$A" "http://api.example.test/t/demo" -H 'Host: api.example.test:8080'
issuer_check "api: a client's X-Forwarded-Host/Proto change nothing (trust-proxy gateway)" "$A" "http://127.0.0.1:$API/t/demo" \
  -H 'X-Forwarded-Host: evil.example' -H 'X-Forwarded-Proto: https'
get api_evil "$A/t/demo/.well-known/oauth-authorization-server" -H 'Host: evil.example'
check "api: Host evil.example -> 421 JSON, no evil URL" \
  is "$(status "$tmp/api_evil.h")|$(header "$tmp/api_evil.h" Content-Type)|$(grep -c evil "$tmp/api_evil.b")" "421|application/json|0"
get api_evil_xfh "$A/t/demo/.well-known/oauth-authorization-server" -H 'Host: evil.example' -H "X-Forwarded-Host: 127.0.0.1:$API"
check "api: Host evil.example with a good X-Forwarded-Host -> still 421" is "$(status "$tmp/api_evil_xfh.h")" 421
code=$(printf 'GET /t/demo/.well-known/oauth-authorization-server HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n' \
  | node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1");process.stdin.pipe(s);let b="";s.on("data",c=>b+=c);s.on("end",()=>{const i=b.indexOf("\r\n\r\n");console.log(b.split(" ")[1]+"|"+/content-type: application\/json/i.test(b.slice(0,i))+"|"+JSON.parse(b.slice(i+4)).error)})' "$API" 2>&1)
check "api: two Host headers -> 400 JSON (nginx refuses them)" is "$code" "400|true|invalid_request"

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
issuer_check "frontend: same-origin issuer is the frontend's configured URL" "$F" "http://app.example.test/t/demo" -H 'Host: app.example.test'

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
get fe_404 "$F/console/no-such-page"
ct=$(header "$tmp/fe_404.h" Content-Type)
check "frontend: a mistyped page -> 404 with the console's 404 page, not nginx's" \
  is "$(status "$tmp/fe_404.h")|${ct%%;*}|$(grep -q 'Page not found' "$tmp/fe_404.b" && echo ours)|$(grep -qi '<center>nginx' "$tmp/fe_404.b" && echo nginx)" "404|text/html|ours|"
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
issuer_check "api prod: the https URL configured for the host is the issuer" "https://api.example.test:$APIP_TLS" \
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

# --- /metrics: never through a proxy ----------------------------------------------------------
# An address allowlist at the proxy turns public behind a load balancer
# (every client then comes from a private address), so all four configs
# refuse /metrics outright with a JSON 404, from 127.0.0.1 too, whatever the
# spelling of the path; Prometheus scrapes the gateway itself on the internal
# network (its port is not published).
metrics_refused() {   # metrics_refused LABEL BASE
  local label=$1 base=$2 p bad="" code
  for p in /metrics "/metrics?format=prometheus" //metrics /./metrics /%6detrics /api/../metrics; do
    code=$(curl -s -k --path-as-is -o "$tmp/mx.b" -w '%{http_code}|%{content_type}' "$base$p")
    if [ "$code" != "404|application/json" ] || grep -q 'backend_gateway_' "$tmp/mx.b" \
       || [ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).error)' "$tmp/mx.b" 2>/dev/null)" != not_found ]; then
      bad="$bad $p=$code"
    fi
  done
  code=$(curl -s -k -I -o /dev/null -w '%{http_code}' "$base/metrics")
  [ "$code" = 404 ] || bad="$bad HEAD=$code"
  check "$label: /metrics refused (JSON 404 not_found, no metrics) in every spelling, also from 127.0.0.1${bad:+ (got$bad)}" test -z "$bad"
}
metrics_refused "api" "$A"
metrics_refused "frontend" "$F"
metrics_refused "api prod" "https://127.0.0.1:$APIP_TLS"
metrics_refused "frontend prod" "https://127.0.0.1:$FEP_TLS"
# Directly, as Prometheus scrapes it; this gateway runs with
# BACKEND_METRICS_TOKEN, so only "Authorization: Bearer <token>" reads it.
get gw_metrics "http://127.0.0.1:$GW_PORT/metrics" -H "Authorization: Bearer $METRICS_TOKEN"
check "gateway: /metrics answered directly with the metrics token (how Prometheus scrapes it on the internal network)" \
  is "$(status "$tmp/gw_metrics.h")|$(grep -q '^backend_gateway_requests_total' "$tmp/gw_metrics.b" && echo counters)" "200|counters"
get gw_metrics_lc "http://127.0.0.1:$GW_PORT/metrics" -H "Authorization: bearer $METRICS_TOKEN"
check "gateway: the Bearer scheme is case-insensitive" is "$(status "$tmp/gw_metrics_lc.h")" 200
bad=""
for auth in "" "Bearer " "Bearer ${METRICS_TOKEN%?}" "Bearer ${METRICS_TOKEN}x" "Bearer ${METRICS_TOKEN%?}X" "Bearer  $METRICS_TOKEN" \
            "Basic $(printf 'x:%s' "$METRICS_TOKEN" | base64 -w0)" "$METRICS_TOKEN"; do
  code=$(curl -s -o "$tmp/mx.b" -w '%{http_code}|%{content_type}' ${auth:+-H "Authorization: $auth"} "http://127.0.0.1:$GW_PORT/metrics")
  err=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).error)' "$tmp/mx.b" 2>/dev/null)
  [ "$code|$err" = "401|application/json|invalid_token" ] || bad="$bad [${auth:-none}]=$code|$err"
done
check "gateway: /metrics without the token, with a wrong, shorter, longer or non-Bearer one -> JSON 401 invalid_token${bad:+ (got$bad)}" test -z "$bad"
check "gateway: the metrics token appears in none of its output" bash -c "! grep -qF -- '$METRICS_TOKEN' '$tmp/gateway.log' '$tmp/gateway.err'"

# --- a forged X-Forwarded-For changes nothing ------------------------------------------------
# nginx sends the gateway only the address it saw ($remote_addr), and the
# gateway takes the right-most X-Forwarded-For entry. The per-address
# password throttle of the database (oauth._throttle_wait: 5 failures per
# address) must follow the real client: rotating forged addresses does not
# escape it, and naming a victim's address (here a second local address,
# 127.0.0.2, which really connects from there) does not throttle the victim.
xff_tenant() {   # xff_tenant SLUG: owner owner@SLUG.test / right-password-1; prints client_id:secret
  psql -qXAt -v ON_ERROR_STOP=1 <<SQL | grep ':'
SELECT 1 FROM tenancy.register_tenant('$1', 'XFF test', 'owner@$1.test', 'right-password-1', 'premium');
BEGIN;
SELECT tenancy.enter_tenant('$1') IS NULL;
SELECT (c->>'client_id') || ':' || (c->>'client_secret')
  FROM oauth.create_client('{"client_name": "xff", "grant_types": ["password"], "scope": "read",
                             "token_endpoint_auth_method": "client_secret_basic"}') c;
COMMIT;
SQL
}
pw_grant() {     # pw_grant BASE SLUG CREDS USER PASSWORD [curl args]: body|status
  local base=$1 slug=$2 creds=$3 user=$4 pw=$5; shift 5
  curl -s -k -u "$creds" --data-urlencode grant_type=password --data-urlencode "username=$user" \
       --data-urlencode "password=$pw" -w '|%{http_code}' "$@" "$base/t/$slug/oauth/token"
}
addr_failures() {   # addr_failures SLUG: "address=failures,..." of the tenant's per-address counters
  psql -XAt -c "SELECT coalesce(string_agg(a.key || '=' || a.failures, ',' ORDER BY a.key), 'none')
                  FROM oauth.login_attempts a JOIN tenancy.tenants t ON t.id = a.tenant_id
                 WHERE t.slug = '$1' AND a.kind = 'addr'"
}
xff_suite() {    # xff_suite LABEL TAG BASE (TAG: part of the tenants' slugs)
  local label=$1 tag=$2 base=$3 slug creds i out round
  # The first back-off lasts one second: on a loaded machine the sixth
  # attempt may come later, so up to three rounds (a fresh tenant each);
  # a forged address that escaped the throttle would escape it in every one.
  for round in 1 2 3; do
    slug=xffa-$tag-$round-$$
    creds=$(xff_tenant "$slug")
    for i in 1 2 3 4 5; do
      pw_grant "$base" "$slug" "$creds" "nobody$i@$slug.test" wrong -H "X-Forwarded-For: 203.0.113.$i" >/dev/null
    done
    out=$(pw_grant "$base" "$slug" "$creds" "nobody6@$slug.test" wrong -H "X-Forwarded-For: 198.51.100.$i, 203.0.113.99")
    grep -q "Too many attempts" <<<"$out" && break
  done
  check "$label: rotating a forged X-Forwarded-For does not escape the per-address password throttle" has "$out" "Too many attempts"
  check "$label: the failures count for the real client address only" is "$(addr_failures "$slug")" "127.0.0.1=5"

  slug=xffb-$tag-$$
  creds=$(xff_tenant "$slug")
  for i in 1 2 3 4 5 6; do
    pw_grant "$base" "$slug" "$creds" "attacker@$slug.test" "wrong-$i" -H "X-Forwarded-For: 127.0.0.2" >/dev/null
  done
  out=$(pw_grant "$base" "$slug" "$creds" "owner@$slug.test" right-password-1 --interface 127.0.0.2)
  check "$label: naming a victim's address (127.0.0.2) in X-Forwarded-For does not throttle the victim" is "${out##*|}/$(grep -c '"access_token"' <<<"$out")" "200/1"
  check "$label: no failure was counted for the victim's address" is "$(addr_failures "$slug")" "127.0.0.1=5"
}
check "no shipped nginx config forwards a client's X-Forwarded-For (\$proxy_add_x_forwarded_for)" \
  bash -c "! grep -rn 'proxy_add_x_forwarded_for' docker/nginx"
# The gateway's own rule, for any proxy that appends (as nginx's
# $proxy_add_x_forwarded_for does): the right-most entry of the last field.
slug=xffg-$$; creds=$(xff_tenant "$slug")
pw_grant "http://127.0.0.1:$GW_PORT" "$slug" "$creds" a@x.test wrong -H "X-Forwarded-For: 203.0.113.7, 192.0.2.44" >/dev/null
pw_grant "http://127.0.0.1:$GW_PORT" "$slug" "$creds" b@x.test wrong -H "X-Forwarded-For: 203.0.113.8" -H "X-Forwarded-For: 192.0.2.45" >/dev/null
pw_grant "http://127.0.0.1:$GW_PORT" "$slug" "$creds" c@x.test wrong -H "X-Forwarded-For: 192.0.2.46, not-an-address" >/dev/null
check "gateway --trust-proxy: the client address is the right-most X-Forwarded-For entry (else the peer)" \
  is "$(addr_failures "$slug")" "127.0.0.1=1,192.0.2.44=1,192.0.2.45=1"
xff_suite api api "$A"
xff_suite frontend fe "$F"
xff_suite "api prod" apip "https://127.0.0.1:$APIP_TLS"

# --- rate limits: a burst gets JSON 429 ------------------------------------------------------
# common/rate_limits.conf: sign-up 10/min (bursts of 5), token, authorize
# and registration 10/s (bursts of 20), per client address. Each burst comes
# from its own local address (curl --interface), so buckets do not mix.
burst() {   # burst LABEL SRC N URL [curl args]: N requests at once on one connection
  local label=$1 src=$2 n=$3 url=$4 sep='?'; shift 4
  case "$url" in *\?*) sep='&' ;; esac
  rm -rf "$tmp/burst"; mkdir -p "$tmp/burst"
  # URL globbing numbers the requests (a query parameter nobody reads) and their bodies.
  curl -s -k --interface "$src" -o "$tmp/burst/#1" -w '%{http_code}|%{content_type}|%header{retry-after}\n' \
       "$@" "$url${sep}burst=[1-$n]" > "$tmp/burst.codes"
  local n429 first i429
  n429=$(grep -c '^429|' "$tmp/burst.codes"); first=$(head -1 "$tmp/burst.codes" | cut -d'|' -f1)
  check "$label: a burst of $n gets 429s ($n429, the first answer $first)" test "$n429" -gt 0 -a "$first" != 429
  i429=$(grep -n '^429|' "$tmp/burst.codes" | tail -1 | cut -d: -f1)
  check "$label: the 429 is JSON too_many_requests with Retry-After" \
    is "$(sed -n "${i429:-1}p" "$tmp/burst.codes")|$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).error)' "$tmp/burst/${i429:-1}" 2>/dev/null)" \
       "429|application/json|10|too_many_requests"
}
TOKEN_ARGS=(-X POST -u bogus:bogus -d grant_type=client_credentials)
SIGNUP_ARGS=(-X POST -H 'Content-Type: application/json' -d '{}')
burst "api: POST /t/demo/oauth/token"          127.0.0.10 40 "$A/t/demo/oauth/token" "${TOKEN_ARGS[@]}"
burst "api: POST /oauth/token (X-Tenant)"      127.0.0.11 40 "$A/oauth/token" -H 'X-Tenant: demo' "${TOKEN_ARGS[@]}"
burst "api: GET /t/demo/oauth/authorize"       127.0.0.12 40 "$A/t/demo/oauth/authorize?client_id=x"
burst "api: POST /t/demo/oauth/register"       127.0.0.13 40 "$A/t/demo/oauth/register" -X POST -H 'Content-Type: application/json' -d '{}'
burst "api: POST /api/v1/tenants (sign-up)"    127.0.0.14 12 "$A/api/v1/tenants" "${SIGNUP_ARGS[@]}"
burst "api: POST //api//v1/tenants/ (normalised path)" 127.0.0.15 12 "$A//api//v1/tenants/" --path-as-is "${SIGNUP_ARGS[@]}"
burst "frontend: POST /t/demo/oauth/token"     127.0.0.20 40 "$F/t/demo/oauth/token" "${TOKEN_ARGS[@]}"
burst "frontend: POST /oauth/token"            127.0.0.21 40 "$F/oauth/token" -H 'X-Tenant: demo' "${TOKEN_ARGS[@]}"
burst "frontend: POST /api/v1/tenants"         127.0.0.22 12 "$F/api/v1/tenants" "${SIGNUP_ARGS[@]}"
burst "frontend: POST /t/demo/api/v1/tenants"  127.0.0.23 12 "$F/t/demo/api/v1/tenants" "${SIGNUP_ARGS[@]}"
burst "api prod: POST /t/demo/oauth/token"     127.0.0.30 40 "https://127.0.0.1:$APIP_TLS/t/demo/oauth/token" "${TOKEN_ARGS[@]}"
burst "api prod: POST /api/v1/tenants"         127.0.0.31 12 "https://127.0.0.1:$APIP_TLS/api/v1/tenants" "${SIGNUP_ARGS[@]}"
burst "frontend prod: POST /t/demo/oauth/token" 127.0.0.40 40 "https://127.0.0.1:$FEP_TLS/t/demo/oauth/token" "${TOKEN_ARGS[@]}"
burst "frontend prod: POST /api/v1/tenants"    127.0.0.41 12 "https://127.0.0.1:$FEP_TLS/api/v1/tenants" "${SIGNUP_ARGS[@]}"
# Other routes and other methods are not limited.
curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.50 $(for i in $(seq 40); do echo "$A/api/v1/ping"; done) > "$tmp/burst.codes"
check "api: 40 requests to /api/v1/ping at once are not limited" is "$(grep -c '^429$' "$tmp/burst.codes")" 0
curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.51 $(for i in $(seq 12); do echo "$A/api/v1/tenants"; done) > "$tmp/burst.codes"
check "api: 12 GETs of /api/v1/tenants are not counted as sign-ups" is "$(grep -c '^429$' "$tmp/burst.codes")" 0

# --- the HTTP API suites once more, through the API nginx (limits lifted) ----------------------------------
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
  BF_URL=http://127.0.0.1:$API_SUITES BF_VIA_NGINX=1 node --test --test-concurrency=1 --test-reporter=tap "${suites[@]}" >"$tmp/nginx.tap" 2>&1
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
