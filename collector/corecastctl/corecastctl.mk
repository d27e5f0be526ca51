# collector/corecastctl/corecastctl.mk: the corecastctl command-line tool.
#
# Every collector/corecastctl/*.c is linked in, so a new command is its cmd_<name>.c
# plus one line in main.c's table.  A command needing more libraries appends them
# to CTL_LDLIBS and its archive as a prerequisite of $(BIN)/corecastctl; archives are
# linked as one group, so their order does not matter.

CTL_SRCS   := $(wildcard collector/corecastctl/*.c)
CTL_OBJS   := $(CTL_SRCS:%.c=$(OBJ)/%.o)
CTL_LDLIBS += $(shell pkg-config --libs libzstd sqlite3)

PROGRAMS += $(BIN)/corecastctl

$(OBJ)/collector/corecastctl/%.o: CFLAGS += $(shell pkg-config --cflags libzstd sqlite3)

# devices: the key store and certificate fingerprints (mbedtls).
CTL_LDLIBS += -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto

$(BIN)/corecastctl: $(CTL_OBJS) $(BUILD)/lib/libccstore.a $(BUILD)/lib/libnetdump.a \
		$(BUILD)/lib/libccks.a $(BUILD)/lib/libcctls.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o,$^) -Wl,--start-group $(filter %.a,$^) -Wl,--end-group \
		-o $@ $(LDFLAGS) $(CTL_LDLIBS)
