#!/usr/bin/env bash
# test/fuzz/run.sh [seconds] — builds the libFuzzer harnesses of the C
# parsing cores (extension/src/form.c compiled alone, with ASan and UBSan)
# and runs every target for the given seconds (default 20), all in parallel.
# Each invocation builds and logs in its own bin/run.<pid>/ (several `make
# test` may share a checkout), removed when all went well. The committed
# seeds in corpus/<target>/ are only read; new inputs go to the shared
# bin/corpus/<target>/, crashes to bin/crash-<target>-*. Exits non-zero
# when a target crashes, fails an oracle or does not build.
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-20}
TARGETS=(form_decode basic_credentials base64url_decode pkce_verify)
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$CC" ] || { echo "fuzz: clang with libFuzzer is required"; exit 1; }
CFLAGS=(-g -O1 -std=gnu11 -Wall -Wextra -Werror
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -I../../extension/src)
RUN=bin/run.$$
mkdir -p "$RUN"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup INT TERM

for t in "${TARGETS[@]}"; do
  libs=(); [ "$t" = pkce_verify ] && libs=(-lcrypto)
  if ! "$CC" "${CFLAGS[@]}" -o "$RUN/fuzz_$t" "fuzz_$t.c" ../../extension/src/form.c "${libs[@]}"; then
    echo "fuzz: building $t failed"; exit 1
  fi
done

for t in "${TARGETS[@]}"; do
  mkdir -p "bin/corpus/$t"
  # max_len: form bodies get room for many pairs, the others are short.
  maxlen=4096; [ "$t" = form_decode ] && maxlen=65536
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$RUN/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -max_len="$maxlen" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="bin/crash-$t-" "bin/corpus/$t" "corpus/$t" \
    >"$RUN/$t.log" 2>&1 &
  pids+=($!)
done

status=0
for i in "${!TARGETS[@]}"; do
  t=${TARGETS[$i]}
  wait "${pids[$i]}"; rc=$?
  execs=$(grep -a 'stat::number_of_executed_units' "$RUN/$t.log" | awk '{print $2}' | tail -1)
  cov=$(grep -aoE 'cov: [0-9]+' "$RUN/$t.log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ok, ${execs:-?} execs in ${SECONDS_PER_TARGET} s, ${cov:-cov: ?}"
  else
    status=1
    echo "fuzz $t: FAILED (exit $rc), see test/fuzz/$RUN/$t.log"
    grep -aE 'ERROR|oracle failed|runtime error|SUMMARY|Test unit written' "$RUN/$t.log" | head -20
  fi
done
[ "$status" -eq 0 ] && rm -rf "$RUN"
exit "$status"
