# Build of backend-gateway (C, libmicrohttpd + libpq); included by ../Makefile.
GW_SRCS   = $(sort $(wildcard gateway/src/*.c))
GW_OBJS   = $(GW_SRCS:.c=.o)
GW_CFLAGS = -O2 -g -std=gnu11 -Wall -Wextra $(WERROR) -I$(shell $(PG_CONFIG) --includedir) -DGATEWAY_VERSION='"$(EXTVERSION)"'
GW_LIBS   = -lmicrohttpd -L$(shell $(PG_CONFIG) --libdir) -lpq -lpthread
ifdef SANITIZE
GW_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
GW_LIBS   += -fsanitize=address,undefined
endif

.PHONY: gateway install-gateway FORCE
gateway: gateway/backend-gateway

# The flags a build used: switching SANITIZE on or off rebuilds everything.
GW_STAMP = gateway/src/.build-flags
$(GW_STAMP): FORCE
	@echo '$(GW_CFLAGS) $(GW_LIBS)' | cmp -s - $@ || echo '$(GW_CFLAGS) $(GW_LIBS)' > $@
FORCE:

gateway/src/%.o: gateway/src/%.c $(wildcard gateway/src/*.h) $(GW_STAMP)
	$(CC) $(GW_CFLAGS) -c -o $@ $<

gateway/backend-gateway: $(GW_OBJS) $(GW_STAMP)
	@if [ -n "$(GW_OBJS)" ]; then $(CC) -o $@ $(GW_OBJS) $(GW_LIBS); else echo "gateway: no sources yet"; fi

install-gateway: gateway
	@if [ -f gateway/backend-gateway ]; then install -D -m 755 gateway/backend-gateway $(DESTDIR)/usr/local/bin/backend-gateway; fi
