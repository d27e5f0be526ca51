# collector/serial/serial.mk: serial core-dump decoder library (used by `corecastctl import-serial`).
#
# Included before kernel/coredump/coredump.mk (fragments are sorted), so object
# paths are spelled out here rather than taken from CW_* variables.

SER_SRCS := collector/serial/decode.c collector/serial/coremeta.c collector/elfcore/elfnote.c
SER_OBJS := $(SER_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/kernel/coredump/crc32.o
SER_LIB  := $(BUILD)/lib/libccserial.a

$(SER_LIB): $(SER_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

all: $(SER_LIB)

# corecastctl's import-serial command links the decoder.
$(BIN)/corecastctl: $(SER_LIB)

# libFuzzer target for the decoder (clang; `make fuzz`, then run it with a time limit).
SER_FUZZ_SRCS := tests/fuzz/fuzz_serial_decode.c $(SER_SRCS) kernel/coredump/crc32.c
FUZZERS += $(TBIN)/fuzz_serial_decode
$(TBIN)/fuzz_serial_decode: $(SER_FUZZ_SRCS) $(wildcard collector/serial/*.h collector/elfcore/*.h kernel/coredump/*.h)
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -I. -O1 -g -fsanitize=fuzzer,address,undefined $(SER_FUZZ_SRCS) -o $@
# `make test` builds it so the pytest suite can give it a short run on seeded input.
TEST_BUILD += $(TBIN)/fuzz_serial_decode
