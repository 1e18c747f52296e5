#!/usr/bin/env bash
# Parses a valgrind memcheck log (the gateway's stderr): prints the error
# count and the leak figures; exit 1 unless 0 errors and 0 bytes definitely lost.
set -euo pipefail
log=$1
errors=$( (grep -E "== ERROR SUMMARY:" "$log" || true) | tail -1 | sed -E 's/.*ERROR SUMMARY: ([0-9,]+) errors.*/\1/' | tr -d ,)
def=$( (grep -E "==   *definitely lost:" "$log" || true) | tail -1 | sed -E 's/.*definitely lost: ([0-9,]+) bytes.*/\1/' | tr -d ,)
[ -z "$def" ] && grep -q 'All heap blocks were freed' "$log" && def=0
echo "valgrind memcheck of backend-gateway ($log):"
grep -E '== (ERROR SUMMARY|   (definitely|indirectly|possibly) lost|     still reachable|  total heap usage|All heap blocks)' "$log" | sed -E 's/^==[0-9]+== */  /'
if [ -z "$errors" ]; then echo "valgrind: no summary found (did the gateway exit?)"; exit 1; fi
echo "valgrind: $errors errors, ${def:-?} bytes definitely lost"
[ "$errors" -eq 0 ] && [ "${def:-1}" -eq 0 ]
