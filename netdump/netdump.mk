# netdump/netdump.mk: the netdump protocol library and its unit tests.
#
# Other fragments link $(ND_LIB) (or list $(ND_OBJS)) and include "netdump/...h".
# Unit tests link a separately built copy of the sources compiled with ASan/UBSan,
# so decoder bugs show up as test failures rather than silent corruption.

ND_SRCS := $(wildcard netdump/*.c)
ND_OBJS := $(ND_SRCS:%.c=$(OBJ)/%.o)
ND_LIB  := $(BUILD)/lib/libnetdump.a

$(ND_LIB): $(ND_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

all: $(ND_LIB)

ND_SAN        := -DND_DEBUG -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ND_SAN_OBJS   := $(ND_SRCS:%.c=$(OBJ)/ndsan/%.o)
ND_TEST_SRCS  := $(wildcard tests/unit/test_netdump_*.c)
ND_TESTS      := $(ND_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS    += $(ND_TESTS)

$(OBJ)/ndsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ND_SAN) -c $< -o $@

$(TBIN)/test_netdump_%: $(OBJ)/ndsan/tests/unit/test_netdump_%.o $(ND_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ND_SAN) $^ -o $@ $(LDFLAGS) -lcmocka

# The sender test drives the real corecast-send binary and links its helpers.
ND_SEND_TEST_OBJS := $(OBJ)/ndsan/collector/corecast-send/endpoint.o \
                     $(OBJ)/ndsan/collector/corecast-send/buildid.o \
                     $(OBJ)/ndsan/collector/elfcore/elfnote.o
$(TBIN)/test_netdump_send: $(OBJ)/ndsan/tests/unit/test_netdump_send.o $(ND_SAN_OBJS) \
                           $(ND_SEND_TEST_OBJS) | $(BIN)/corecast-send
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ND_SAN) $(filter %.o,$^) -o $@ $(LDFLAGS) -lcmocka -lpthread
.PRECIOUS: $(OBJ)/ndsan/%.o

# libFuzzer target (clang); `make fuzz` builds it, run e.g.
#   build/tests/fuzz_netdump_parse -max_total_time=60
ND_FUZZ_CC := clang
FUZZERS    += $(TBIN)/fuzz_netdump_parse
$(TBIN)/fuzz_netdump_parse: tests/fuzz/fuzz_netdump_parse.c $(ND_SRCS) $(wildcard netdump/*.h)
	@mkdir -p $(dir $@)
	$(ND_FUZZ_CC) -O1 -g -std=c11 -D_GNU_SOURCE -DND_DEBUG -I. -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined $(filter %.c,$^) -o $@
