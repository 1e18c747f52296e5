# Backend Framework: PGXS build of the extension, the gateway build, and the
# run / test / bench targets. `make` builds, `make install` installs both into
# the system; `make run` and `make test` use a private copy of PostgreSQL under
# .build/ so they never collide with a system server.

# One version, from VERSION: the control file, the install script's name and
# backend-gateway --version. Released versions keep their install script in
# extension/releases/; extension/upgrade/ holds one step per release.
EXTVERSION := $(shell cat VERSION)

MODULE_big = backend_framework
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard extension/src/*.c)))
MODULEDIR  = extension
DATA       = $(wildcard extension/releases/*.sql) $(wildcard extension/upgrade/*.sql)
DATA_built = extension/backend_framework--$(EXTVERSION).sql extension/backend_framework.control
EXTRA_CLEAN = gateway/backend-gateway gateway/src/*.o

# pg_regress suites: every sql/*.sql file, in name order.
REGRESS      = $(sort $(notdir $(basename $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=pgcrypto --load-extension=backend_framework
# Isolation suites (pg_isolation_regress, run by `make installcheck` after
# pg_regress): every specs/*.spec, expected output in expected/*.out.
ISOLATION      = $(sort $(notdir $(basename $(wildcard specs/*.spec))))
ISOLATION_OPTS = --load-extension=pgcrypto --load-extension=backend_framework

PG_CPPFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# libcrypto (OpenSSL) for the signing keys (extension/src/keys.c).
SHLIB_LINK += -lcrypto
# SANITIZE=1 instruments the gateway (gateway/gateway.mk), not the extension:
# a PostgreSQL server cannot load an AddressSanitizer-built module.
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The install script is the schema parts concatenated in name order.
SCHEMA_PARTS = $(sort $(wildcard extension/schema/*.sql))
extension/backend_framework--$(EXTVERSION).sql: $(SCHEMA_PARTS)
	cat $^ > $@
extension/backend_framework.control: extension/backend_framework.control.in VERSION
	sed 's/@VERSION@/$(EXTVERSION)/' $< > $@

all: gateway
install: install-gateway

include gateway/gateway.mk
-include mk/*.mk

PGPORT ?= 54329
export PGPORT

.PHONY: deps run test bench fuzz
deps:
	scripts/deps.sh
run: deps
	scripts/run.sh
test: deps
	scripts/test.sh
bench: deps
	scripts/bench.sh
