# kernel/coredump/coredump.mk: the core writer (host build), its test tool, unit tests and bench.
#
# The kernel build compiles kernel/coredump/{writer,serial,crc32}.c and
# hal/<arch>/regset.c with its own cross flags; this fragment builds them for the
# host, where the tests and benches run.  CW_SRCS lists the freestanding sources.

CW_SRCS   := kernel/coredump/writer.c kernel/coredump/serial.c kernel/coredump/crc32.c
CW_OBJS   := $(CW_SRCS:%.c=$(OBJ)/%.o) $(CW_REGSET_OBJS) $(OBJ)/netdump/sha256.o

# Sanitizer build of writer + decoder for the unit tests.
CW_SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CW_SAN_SRCS := $(CW_SRCS) $(CW_REGSET_OBJS:$(OBJ)/%.o=%.c) netdump/sha256.c
CW_SAN_OBJS := $(CW_SAN_SRCS:%.c=$(OBJ)/cwsan/%.o)

$(OBJ)/cwsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CW_SAN) -c $< -o $@

TEST_TOOLS += $(TBIN)/cw_mkcore
$(TBIN)/cw_mkcore: $(OBJ)/tests/coredump/cw_mkcore.o $(CW_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lpthread

# Unit tests (cmocka) of writer, serial encoder and decoder, all under ASan/UBSan.
CW_SAN_DEC   := $(OBJ)/cwsan/collector/serial/decode.o $(OBJ)/cwsan/collector/serial/coremeta.o
CW_TEST_SRCS := $(wildcard tests/unit/test_cw_*.c)
CW_TESTS     := $(CW_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS   += $(CW_TESTS)

$(TBIN)/test_cw_%: $(OBJ)/cwsan/tests/unit/test_cw_%.o $(CW_SAN_OBJS) $(CW_SAN_DEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CW_SAN) $^ -o $@ $(LDFLAGS) -lcmocka
