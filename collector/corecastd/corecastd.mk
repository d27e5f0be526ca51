# collector/corecastd/corecastd.mk: the corecastd collector daemon and its unit tests.
#
# The daemon links the netdump library and the store; both fragments may come
# later in the include order, so their variables are only used in recipes or
# through fixed paths.

CCD_SRCS := $(wildcard collector/corecastd/*.c)

CCD_OBJS := $(CCD_SRCS:%.c=$(OBJ)/%.o)
PROGRAMS += $(BIN)/corecastd

# Library paths spelled out: groups.mk and store.mk are read after this
# fragment.  The symbolization pool uses the store, which uses netdump.
$(BIN)/corecastd: $(CCD_OBJS) $(BUILD)/lib/libccgroups.a $(BUILD)/lib/libccstore.a \
		$(BUILD)/lib/libcctls.a $(BUILD)/lib/libccks.a $(BUILD)/lib/libnetdump.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(shell pkg-config --libs libzstd sqlite3) \
		-lmbedtls -lmbedx509 -lmbedcrypto -lcrypto

# The pieces the unit tests exercise are free of netdump and store dependencies.
CCD_UNIT_SRCS := collector/corecastd/config.c collector/corecastd/listen.c \
                 collector/corecastd/ratelimit.c collector/corecastd/log.c \
                 collector/corecastd/session.c
CCD_SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CCD_SAN_OBJS  := $(CCD_UNIT_SRCS:%.c=$(OBJ)/ccdsan/%.o)
CCD_TEST_SRCS := $(wildcard tests/unit/test_ccd_*.c)
# test_ccd_daemon drives the real daemon binary with the netdump sender and
# reads the store back: it links those libraries and needs the daemon built.
CCD_TESTS     := $(CCD_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS    += $(CCD_TESTS)

$(OBJ)/ccdsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CCD_SAN) -c $< -o $@
.PRECIOUS: $(OBJ)/ccdsan/%.o

$(TBIN)/test_ccd_%: $(OBJ)/ccdsan/tests/unit/test_ccd_%.o $(CCD_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CCD_SAN) $^ -o $@ $(LDFLAGS) -lcmocka

$(TBIN)/test_ccd_daemon: $(OBJ)/ccdsan/tests/unit/test_ccd_daemon.o $(BUILD)/lib/libccstore.a \
		$(BUILD)/lib/libnetdump.a | $(BIN)/corecastd
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CCD_SAN) $(filter-out $(BIN)/corecastd,$^) -o $@ $(LDFLAGS) -lcmocka \
		$(shell pkg-config --libs libzstd sqlite3)

.PHONY: ccd-unit
ccd-unit: $(CCD_TESTS)
	@set -e; for t in $(CCD_TESTS); do $$t; done
