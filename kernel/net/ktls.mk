# kernel/net/ktls.mk: dtls:// and tls:// for the kernel — mbedtls cross-built from Debian's source package with kernel/net/tls/mbedtls_config.h, virtio-rng, the DTLS sender.
#
# mbedtls 2.28 comes from `apt-get source mbedtls` (scripts/deps --sources) into
# third_party/, like lwIP; only the 17 files the DTLS/TLS PSK client needs are built.

K_TLS_MBED := third_party/mbedtls-2.28.3
K_TLS_MBED_SRCS := $(addprefix $(K_TLS_MBED)/library/, aes.c cipher.c cipher_wrap.c \
                     constant_time.c ctr_drbg.c entropy.c entropy_poll.c gcm.c md.c \
                     memory_buffer_alloc.c platform.c platform_util.c sha256.c \
                     ssl_ciphersuites.c ssl_cli.c ssl_msg.c ssl_tls.c)
K_TLS_SRCS := kernel/net/tls/ktls.c kernel/net/tls/ktls_tcp.c kernel/net/tls/virtio_rng.c
K_TLS_OBJS := $(patsubst %.c,$(K_OBJ)/%.o,$(K_TLS_SRCS) $(K_TLS_MBED_SRCS))
K_TLS_INC  := -I$(K_TLS_MBED)/include -Ikernel/net/tls/libc \
              -DMBEDTLS_CONFIG_FILE='"kernel/net/tls/mbedtls_config.h"'

K_OBJS += $(K_TLS_OBJS)
$(K_ELF): $(K_TLS_OBJS)

$(K_OBJ)/kernel/net/tls/%.o: K_CFLAGS += $(K_TLS_INC)
# mbedtls's own style: our warnings minus the ones it trips; still -Werror.
$(K_OBJ)/$(K_TLS_MBED)/%.o: K_CFLAGS += $(K_TLS_INC) -Wno-shadow -Wno-missing-prototypes \
	-Wno-unused-function
$(K_TLS_OBJS): | $(K_TLS_MBED)/include/mbedtls/ssl.h
$(K_TLS_MBED)/include/mbedtls/ssl.h:
	scripts/deps --sources || test -f $@
	@touch $@
$(K_TLS_MBED_SRCS): $(K_TLS_MBED)/include/mbedtls/ssl.h ;

# Real device builds take the key from a file named at build time, not from the
# boot arguments (which anyone who can read /proc-like state or the boot loader's
# configuration sees): `make kernel K_TLS_KEYFILE=path` with one line of hex.  The
# key is compiled in through a generated header (never on a command line) and used
# when no corecast.psk= is given.
ifneq ($(K_TLS_KEYFILE),)
$(K_OUT)/ktls_key.h: $(K_TLS_KEYFILE) kernel/net/ktls.mk
	@mkdir -p $(dir $@)
	@umask 077; { printf '/* generated from the build key file: do not commit */\n#define K_TLS_BUILD_PSK "'; \
	  tr -d ' \t\r\n' < $<; printf '"\n'; } > $@
$(K_OBJ)/kernel/net/tls/ktls.o: $(K_OUT)/ktls_key.h
$(K_OBJ)/kernel/net/tls/ktls.o: K_CFLAGS += -DK_TLS_KEY_HEADER='"$(K_OUT)/ktls_key.h"'
endif
