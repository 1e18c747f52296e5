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

# Warnings are compiler flags (PG_CFLAGS, not the preprocessor's PG_CPPFLAGS).
# -Werror is on by default (CI); `make WERROR=` turns it off, e.g. for a newer
# compiler with new warnings. The gateway build (gateway/gateway.mk) uses it too.
WERROR ?= -Werror
PG_CFLAGS = -Wall -Wextra $(WERROR) -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
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

# Every object depends on the shared headers (PGXS tracks no header dependencies).
$(OBJS): $(wildcard extension/src/*.h)

all: gateway
install: install-gateway

include gateway/gateway.mk
-include mk/*.mk

PGPORT ?= 54329
export PGPORT

.PHONY: deps deps-run run test bench fuzz
# The only places packages are installed (apt and npm); they print what they
# install. `make run` needs only what running needs (deps-run: no browser, no
# nginx, no test tools); test / bench install everything (deps).
deps:
	scripts/deps.sh test
deps-run:
	scripts/deps.sh run
# make run PORT=9090: the gateway's port (default 8080).
run: deps-run
	scripts/run.sh
test: deps
	scripts/test.sh
bench: deps
	scripts/bench.sh
