# collector/corecast-send/send.mk: the host sender, corecast-send(1).

SEND_SRCS := $(wildcard collector/corecast-send/*.c)
SEND_OBJS := $(SEND_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/collector/serial/coremeta.o \
             $(OBJ)/collector/elfcore/elfnote.o
PROGRAMS  += $(BIN)/corecast-send

# netdump.mk and tls.mk are read after this fragment (sorted order): name the
# library paths.  dtls:// and tls:// endpoints use collector/tls (mbedtls).
$(BIN)/corecast-send: $(SEND_OBJS) $(BUILD)/lib/libcctls.a $(BUILD)/lib/libnetdump.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto
