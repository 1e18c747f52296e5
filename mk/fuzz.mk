# mk/fuzz.mk — `make fuzz`: long libFuzzer runs (ASan + UBSan) of the C
# parsing cores in extension/src/form.c, FUZZ_SECONDS per target, e.g.
# `make fuzz FUZZ_SECONDS=600`. `make test` runs a short pass (test/sh/fuzz.sh).
FUZZ_SECONDS ?= 300

.PHONY: fuzz
fuzz:
	test/fuzz/run.sh $(FUZZ_SECONDS)
