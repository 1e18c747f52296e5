#!/usr/bin/env bash
# `make soak` (issue 7, item 6; not part of `make test`): the real gateway on a
# throw-away cluster (PGPORT, gateway PGPORT+1000), TENANTS tenants, a mix of
# reads and writes (test/soak/mixed.lua: 40% GET note, 30% GET /me, 15% POST
# note, 15% PATCH note). First the maximum rate is measured (wrk, unthrottled,
# MAX_SECONDS); then SOAK_SECONDS (default 600) at half of it, as wrk runs of
# one minute each with a fixed per-thread request schedule (the p99 of each
# minute comes from its own run). The gateway's RSS and open fds are sampled
# every 10 s. Pass criteria (the first WARMUP_SECONDS, default 60, excluded):
#   RSS     every sample within +-10% of the first sample after warm-up;
#   fds     fd count with no client connected is the same before and after the
#           soak, and no sample after warm-up exceeds the first one by more
#           than FD_SLACK (default 4: wrk reconnects between minutes);
#   p99     steady: every minute's p99 after warm-up is at most 2x the median
#           of those minutes' p99 (and no errors, no non-2xx answers).
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
SOAK_SECONDS=${SOAK_SECONDS:-600}; WARMUP=${WARMUP_SECONDS:-60}; MAX_SECONDS=${MAX_SECONDS:-8}
TENANTS=${TENANTS:-4}; CONN=${SOAK_CONNECTIONS:-16}; FD_SLACK=${FD_SLACK:-4}
OUT=$BUILD/soak-$PGPORT; rm -rf "$OUT"; mkdir -p "$OUT"
gw_pid=""; sampler=""
cleanup() { [ -n "$sampler" ] && kill "$sampler" 2>/dev/null; [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null; scripts/cluster.sh stop; }
trap cleanup EXIT
scripts/cluster.sh install >/dev/null
scripts/cluster.sh destroy
scripts/cluster.sh start >/dev/null
scripts/demo.sh >/dev/null
gateway/backend-gateway --listen 127.0.0.1:$GATEWAY_PORT --database "$GATEWAY_DSN" >"$OUT/gateway.log" 2>"$OUT/gateway.err" &
gw_pid=$!
U=http://127.0.0.1:$GATEWAY_PORT
for i in $(seq 50); do curl -fs "$U/health" >/dev/null && break; sleep 0.1; done

# Tenants, each with an owner token and one note to read and update.
spec=""
for i in $(seq "$TENANTS"); do
  slug=soak-$i-$RANDOM
  tok=$(curl -fsS -H 'Content-Type: application/json' -d "{\"slug\":\"$slug\",\"name\":\"Soak $i\",\"owner_email\":\"owner@$slug.test\",\"owner_password\":\"owner-password-1\",\"plan\":\"enterprise\"}" \
        "$U/api/v1/tenants" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token))')
  note=$(curl -fsS -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d '{"title":"soak","body":"x"}' \
        "$U/t/$slug/api/v1/notes" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
  curl -fsS -o /dev/null -H "Authorization: Bearer $tok" "$U/t/$slug/api/v1/me"
  spec="$spec${spec:+,}$slug:$tok:$note"
done
export SOAK_TENANTS=$spec

sample() { # seconds-since-start rss_kb fds
  echo "$(( $(date +%s) - t_start )) $(awk '/^VmRSS/ {print $2}' /proc/$gw_pid/status) $(ls /proc/$gw_pid/fd | wc -l)"
}
wrk_run() { # seconds rate-per-thread -> "rps p99_ms errors non2xx"
  local out; out=$(SOAK_RATE=$2 wrk -t2 -c"$CONN" -d"$1s" --timeout 10s --latency -s test/soak/mixed.lua "$U" 2>&1)
  echo "$out" >> "$OUT/wrk.log"
  awk '/Requests\/sec/ {rps=$2}
       $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
       /Socket errors/ {gsub(/,/,""); err=$4+$6+$8+$10}
       /Non-2xx/ {non=$5}
       END {printf "%s %.2f %d %d\n", rps, p99, err, non}' <<<"$out"
}

read -r max_rps max_p99 e n < <(wrk_run "$MAX_SECONDS" 0)
rate=$(awk -v m="$max_rps" 'BEGIN { printf "%d", m / 2 }')
per_thread=$(awk -v r="$rate" 'BEGIN { printf "%.1f", r / 2 }')
sleep 2
fds_idle_before=$(ls /proc/$gw_pid/fd | wc -l)
echo "maximum (wrk -t2 -c$CONN, ${MAX_SECONDS}s, unthrottled): $max_rps req/s, p99 $max_p99 ms, errors $e, non-2xx $n"
echo "soak: $SOAK_SECONDS s at $rate req/s (half), $TENANTS tenants, $CONN connections; idle fds before: $fds_idle_before"

t_start=$(date +%s)
( while :; do sample; sleep 10; done ) > "$OUT/samples.txt" &
sampler=$!
: > "$OUT/minutes.txt"
left=$SOAK_SECONDS; m=0
while [ "$left" -gt 0 ]; do
  d=$(( left < 60 ? left : 60 )); m=$((m + 1))
  echo "$m $d $(wrk_run "$d" "$per_thread")" >> "$OUT/minutes.txt"
  left=$((left - d))
done
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=""
sleep 2
fds_idle_after=$(ls /proc/$gw_pid/fd | wc -l)

echo
echo "minute  seconds   req/s    p99 ms  errors  non-2xx"
awk '{printf "%6d %8d %8s %9s %7d %8d\n", $1, $2, $3, $4, $5, $6}' "$OUT/minutes.txt"
echo
echo "  t(s)   RSS kB   fds"
awk '{printf "%6d %8d %5d\n", $1, $2, $3}' "$OUT/samples.txt"
echo
node - "$OUT" "$WARMUP" "$fds_idle_before" "$fds_idle_after" "$FD_SLACK" "$rate" <<'JS'
const fs = require('fs');
const [out, warm, fb, fa, slack, rate] = process.argv.slice(2).map((x, i) => i ? Number(x) : x);
const S = fs.readFileSync(`${out}/samples.txt`, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
const M = fs.readFileSync(`${out}/minutes.txt`, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
const after = S.filter(([t]) => t >= warm);
let fail = [];
if (after.length < 2) fail.push('too few samples after warm-up');
const base = after[0] || S[S.length - 1];
const dev = Math.max(...after.map(([, r]) => Math.abs(r - base[1]) / base[1] * 100));
console.log(`RSS after warm-up: first ${base[1]} kB, min ${Math.min(...after.map((s) => s[1]))}, max ${Math.max(...after.map((s) => s[1]))}, largest deviation ${dev.toFixed(1)}% (limit 10%)`);
if (dev > 10) fail.push('RSS outside +-10%');
const fmax = Math.max(...after.map((s) => s[2]));
console.log(`fds: idle before ${fb}, idle after ${fa}; under load after warm-up: first ${base[2]}, max ${fmax} (slack ${slack})`);
if (fa > fb) fail.push('fd growth at idle');
if (fmax > base[2] + slack) fail.push('fd growth under load');
const mins = M.filter(([m]) => (m - 1) * 60 >= warm);
const p = mins.map((x) => x[3]).sort((a, b) => a - b);
const med = p.length ? p[Math.floor((p.length - 1) / 2)] : 0;
console.log(`p99 per minute after warm-up: ${mins.map((x) => x[3]).join(', ')} ms; median ${med} ms, max ${p[p.length - 1]} ms (limit 2x median)`);
if (!mins.length) fail.push('no minute after warm-up');
if (p.some((v) => v > 2 * med)) fail.push('p99 not steady');
const rps = M.reduce((a, x) => a + x[2] * x[1], 0) / M.reduce((a, x) => a + x[1], 0);
console.log(`achieved ${rps.toFixed(0)} req/s on average (target ${rate})`);
if (rps < 0.9 * rate) fail.push('rate below 90% of the target');
const errs = M.reduce((a, x) => a + x[4] + x[5], 0);
if (errs) fail.push(`${errs} socket errors or non-2xx answers`);
console.log(fail.length ? `soak: FAILED: ${fail.join('; ')}` : 'soak: passed');
process.exit(fail.length ? 1 : 0);
JS
