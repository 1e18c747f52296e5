#!/usr/bin/env bash
# The gateway uses libmicrohttpd through its public API only (issue 14,
# item 2): the binary defines no MHD_* symbol of its own (no function
# shadowing the library's, as mhd_errors.c once did with
# MHD_queue_response), and it links libmicrohttpd dynamically.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$ROOT"
bin=gateway/backend-gateway
[ -x "$bin" ] || { echo "no $bin (build it first)"; exit 1; }
defined=$(nm -D --defined-only "$bin" | grep -E ' MHD_' || true)
if [ -n "$defined" ]; then echo "$bin defines libmicrohttpd symbols:"; echo "$defined"; exit 1; fi
defined=$(nm --defined-only "$bin" 2>/dev/null | grep -E ' [TtDdBb] MHD_' || true)
if [ -n "$defined" ]; then echo "$bin contains libmicrohttpd symbols:"; echo "$defined"; exit 1; fi
undefined=$(nm -D --undefined-only "$bin")
grep -q ' MHD_queue_response$' <<<"$undefined" || { echo "$bin does not call libmicrohttpd's MHD_queue_response"; exit 1; }
echo "ok: $bin defines no MHD_* symbol and calls libmicrohttpd's own"
