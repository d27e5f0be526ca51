# collector/keystore/keystore.mk: the device key store library (corecastd, corecastctl) and its unit test.

KS_SRCS := $(wildcard collector/keystore/*.c)
KS_OBJS := $(KS_SRCS:%.c=$(OBJ)/%.o)
KS_LIB  := $(BUILD)/lib/libccks.a

$(KS_LIB): $(KS_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^
