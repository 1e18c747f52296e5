#!/usr/bin/env bash
# test/fuzz/run.sh [seconds] — builds the libFuzzer harnesses of the C
# parsing cores (extension/src/form.c compiled alone, with ASan and UBSan)
# into test/fuzz/bin/ and runs every target for the given seconds (default
# 20), all in parallel. The committed seeds in corpus/<target>/ are read
# only; new inputs go to bin/corpus/<target>/, crashes to
# bin/crash-<target>-*. Exits non-zero when a target crashes or fails.
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-20}
TARGETS=(form_decode basic_credentials base64url_decode pkce_verify)
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$CC" ] || { echo "fuzz: clang with libFuzzer is required"; exit 1; }
CFLAGS=(-g -O1 -std=gnu11 -Wall -Wextra -Werror
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -I../../extension/src)
mkdir -p bin

status=0
for t in "${TARGETS[@]}"; do
  libs=(); [ "$t" = pkce_verify ] && libs=(-lcrypto)
  if ! "$CC" "${CFLAGS[@]}" -o "bin/fuzz_$t" "fuzz_$t.c" ../../extension/src/form.c "${libs[@]}"; then
    echo "fuzz: building $t failed"; exit 1
  fi
done

pids=()
for t in "${TARGETS[@]}"; do
  mkdir -p "bin/corpus/$t"
  # max_len: form bodies get room for many pairs, the others are short.
  maxlen=4096; [ "$t" = form_decode ] && maxlen=65536
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "bin/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -max_len="$maxlen" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="bin/crash-$t-" "bin/corpus/$t" "corpus/$t" \
    >"bin/$t.log" 2>&1 &
  pids+=($!)
done

for i in "${!TARGETS[@]}"; do
  t=${TARGETS[$i]}
  wait "${pids[$i]}"; rc=$?
  execs=$(awk '/stat::number_of_executed_units/{print $2}' "bin/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "bin/$t.log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ok, ${execs:-?} execs, $cov"
  else
    status=1
    echo "fuzz $t: FAILED (exit $rc), see test/fuzz/bin/$t.log"
    grep -E 'ERROR|oracle failed|runtime error|SUMMARY|Test unit written' "bin/$t.log" | head -20
  fi
done
exit "$status"
