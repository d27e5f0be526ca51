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
CW_SAN_DEC   := $(OBJ)/cwsan/collector/serial/decode.o $(OBJ)/cwsan/collector/serial/coremeta.o \
                $(OBJ)/cwsan/collector/elfcore/elfnote.o
CW_TEST_SRCS := $(wildcard tests/unit/test_cw_*.c)
CW_TESTS     := $(CW_TEST_SRCS:tests/unit/%.c=$(TBIN)/%)
UNIT_TESTS   += $(CW_TESTS)

$(TBIN)/test_cw_%: $(OBJ)/cwsan/tests/unit/test_cw_%.o $(CW_SAN_OBJS) $(CW_SAN_DEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CW_SAN) $^ -o $@ $(LDFLAGS) -lcmocka

# Benchmark: throughput on the host, scratch RAM, and worst-case stack depth of a
# riscv64 freestanding build (GCC call-graph info; skipped without the cross compiler).
CW_RV_CC    ?= riscv64-unknown-elf-gcc
CW_RV_SRCS  := $(CW_SRCS) hal/riscv64/regset.c netdump/sha256.c
BENCHES     += bench-cw
.PHONY: bench-cw
$(BUILD)/bench/cw_bench: $(OBJ)/tests/bench/cw_bench.o $(CW_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)

bench-cw: $(BUILD)/bench/cw_bench
	@$(BUILD)/bench/cw_bench
	@if command -v $(CW_RV_CC) >/dev/null; then \
		d=$(BUILD)/bench/cwstack; mkdir -p $$d; \
		for f in $(CW_RV_SRCS); do \
			$(CW_RV_CC) -std=c11 -O2 -ffreestanding -march=rv64gc -mabi=lp64d -mcmodel=medany -I. \
				-fcallgraph-info=su -c $$f -o $$d/$$(basename $$f .c).o -dumpdir $$d/ || exit 1; \
		done; \
		/usr/bin/python3 tests/bench/cw_stack.py $$d/*.ci | sed 's/^/bench cw: riscv64 /'; \
	else echo "bench cw: $(CW_RV_CC) not installed, stack depth not measured"; fi
