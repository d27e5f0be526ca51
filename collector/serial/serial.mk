# collector/serial/serial.mk: serial core-dump decoder library (used by `corecastctl import-serial`).
#
# Included before kernel/coredump/coredump.mk (fragments are sorted), so object
# paths are spelled out here rather than taken from CW_* variables.

SER_SRCS := collector/serial/decode.c collector/serial/coremeta.c
SER_OBJS := $(SER_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/kernel/coredump/crc32.o
SER_LIB  := $(BUILD)/lib/libccserial.a

$(SER_LIB): $(SER_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

all: $(SER_LIB)

# corecastctl's import-serial command links the decoder.
$(BIN)/corecastctl: $(SER_LIB)
