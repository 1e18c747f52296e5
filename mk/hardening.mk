# mk/hardening.mk — issue 7 items 4-6 (included by the Makefile).
#   make sanitize   gateway built with ASan + UBSan (out of tree, in
#                   .build/asan/; the extension stays a normal build, since a
#                   server cannot load an ASan .so without LD_PRELOAD), the
#                   HTTP suites against it, then its stderr must hold no
#                   "ERROR: AddressSanitizer" nor "runtime error:" line.
#   make valgrind   the normal gateway under valgrind memcheck during the HTTP
#                   suites, stopped with SIGTERM; 0 errors and 0 bytes
#                   definitely lost required.
#   make soak       test/soak/soak.sh: SOAK_SECONDS (default 600) at half the
#                   measured maximum rate; RSS, fds and p99 must stay steady.
# All use the throw-away cluster on PGPORT (gateway on PGPORT+1000).
# `make test` runs test/sh/faults.sh (kill -9 of PostgreSQL, SIGTERM) itself.

HARDEN_OUT  = .build/hardening-$(PGPORT)
ASAN_GW     = .build/asan/backend-gateway
SAN_FLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer
SOAK_SECONDS ?= 600

.PHONY: sanitize valgrind soak
$(ASAN_GW): $(GW_SRCS) $(wildcard gateway/src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=%,$(GW_CFLAGS)) $(SAN_FLAGS) -o $@ $(GW_SRCS) $(filter-out -fsanitize=%,$(GW_LIBS)) $(SAN_FLAGS)

sanitize: deps $(ASAN_GW)
	@nm $(ASAN_GW) | grep -q __asan_init && nm $(ASAN_GW) | grep -q __ubsan_handle || { echo "sanitize: $(ASAN_GW) is not instrumented"; exit 1; }
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1 \
	  test/soak/suites.sh $(HARDEN_OUT)/sanitize $(abspath $(ASAN_GW)) || \
	  echo "sanitize: WARNING: some HTTP tests failed (see $(HARDEN_OUT)/sanitize/node.tap; compare with make test)"
	@if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' $(HARDEN_OUT)/sanitize/gateway.err; then \
	  echo "sanitize: FAILED, reports in $(HARDEN_OUT)/sanitize/gateway.err"; exit 1; fi
	@echo "sanitize: no ASan / UBSan / LSan report over the HTTP suites ($(HARDEN_OUT)/sanitize/gateway.err), gateway exit status $$(cat $(HARDEN_OUT)/sanitize/gateway.rc)"
	@test "$$(cat $(HARDEN_OUT)/sanitize/gateway.rc)" = 0

valgrind: deps gateway
	test/soak/suites.sh $(HARDEN_OUT)/valgrind $(abspath gateway/backend-gateway) \
	  valgrind --leak-check=full --error-exitcode=99 --errors-for-leak-kinds=definite \
	    --num-callers=30 || \
	  echo "valgrind: WARNING: some HTTP tests failed (see $(HARDEN_OUT)/valgrind/node.tap; compare with make test)"
	@test/soak/valgrind-summary.sh $(HARDEN_OUT)/valgrind/gateway.err
	@test "$$(cat $(HARDEN_OUT)/valgrind/gateway.rc)" = 0 || { echo "valgrind: gateway exit status $$(cat $(HARDEN_OUT)/valgrind/gateway.rc) (99 = memcheck errors)"; exit 1; }

soak: deps
	SOAK_SECONDS=$(SOAK_SECONDS) test/soak/soak.sh
